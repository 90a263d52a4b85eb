"""Scan events (the system of record for every scan) and scratch-off PIN checks.

Every scan the service acknowledges is one ``scan_events`` row, genuine or forged: the
counters in Redis are only a cache rebuilt from these rows. A page reload by the same device
within the reload window is not a new scan and writes no row.

Privacy: device ids and client addresses are stored only as keyed hashes
(``device_hash``/``client_hash``), consumer coordinates rounded to about 100 m.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, Float, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit id.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class ScanEvent(Base):
    __tablename__ = "scan_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    scanned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # As given in the scanned URI, also for forged codes (hotspots of forgeries).
    serial: Mapped[str] = mapped_column(String(20))
    gtin: Mapped[str] = mapped_column(String(14))
    lot: Mapped[str | None] = mapped_column(String(20))
    # No foreign key: the range table belongs to the serials package and a forged code has
    # no range; the id is copied from the in-process range index.
    range_id: Mapped[int | None] = mapped_column(Integer)
    # authentic | suspicious | not_activated | voided | recalled | counterfeit
    verdict: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    risk: Mapped[int] = mapped_column(SmallInteger, default=0)
    # Which scan of this code this was (1 = first); None for counterfeit codes.
    scan_no: Mapped[int | None] = mapped_column(Integer)
    province: Mapped[str | None] = mapped_column(String(2))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    # The phone's reported accuracy radius (m), when it gave one.
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    cell: Mapped[str | None] = mapped_column(String(16))
    device_hash: Mapped[str | None] = mapped_column(String(32))
    client_hash: Mapped[str | None] = mapped_column(String(32))
    # consumer | api | inspector
    source: Mapped[str] = mapped_column(String(12), default="consumer")
    # True when Redis was unreachable and the state came from the database.
    degraded: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        Index("ix_scan_events_serial_scanned_at", "serial", "scanned_at"),
        Index("ix_scan_events_scanned_at", "scanned_at"),
        Index("ix_scan_events_province_scanned_at", "province", "scanned_at"),
    )


class PinCheck(Base):
    """One scratch-off PIN check: a correct one claims the code, wrong ones are signals."""

    __tablename__ = "scan_pin_checks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    checked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    serial: Mapped[str] = mapped_column(String(20))
    ok: Mapped[bool] = mapped_column(Boolean)
    device_hash: Mapped[str | None] = mapped_column(String(32))
    client_hash: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (Index("ix_scan_pin_checks_serial_checked_at", "serial", "checked_at"),)


class CodeSummary(Base):
    """Per-code scan state, kept by the scan sink in the transaction of the scan rows.

    What Redis holds for a code, in one row: after a flush, an expiry or an outage a code's
    state is loaded from here by its primary key, never from ``scan_events`` (whose size
    grows with history, and whose old months are dropped by the retention policy).
    Places are encoded as in Redis (``summary.encode_place``). ``devices`` and
    ``networks`` are capped (``summary.DEVICE_CAP``); the counts beside them are exact.
    """

    __tablename__ = "scan_code_summaries"

    serial: Mapped[str] = mapped_column(String(20), primary_key=True)
    scans: Mapped[int] = mapped_column(Integer, default=0)
    # Scans with each network's share capped at MAX_SCANS_PER_NETWORK (risk.facts).
    capped_scans: Mapped[int] = mapped_column(Integer, default=0)
    device_count: Mapped[int] = mapped_column(Integer, default=0)
    network_count: Mapped[int] = mapped_column(Integer, default=0)
    first_scan: Mapped[str | None] = mapped_column(String(200))
    last_scan_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Encoded places, newest first, at most RECENT_CAP.
    recent: Mapped[list[str]] = mapped_column(JSON, default=list)
    # device hash -> last counted scan (epoch ms), the most recent DEVICE_CAP devices.
    devices: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    # network -> counted scans from it, the DEVICE_CAP largest.
    networks: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    pin_claims: Mapped[int] = mapped_column(Integer, default=0)
    pin_failures: Mapped[int] = mapped_column(Integer, default=0)
    # "device|network" of successful PIN claims.
    pin_claimers: Mapped[list[str]] = mapped_column(JSON, default=list)
