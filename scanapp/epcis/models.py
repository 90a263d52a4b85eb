"""The stored EPCIS events, their delivery outbox and the scan-aggregation ledger."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, UTCDateTime, utcnow

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a bigint, because the
# event log only grows.
BigId = BigInteger().with_variant(Integer, "sqlite")


class EpcisEvent(Base):
    """One EPCIS event, kept exactly as it is exported (``body``) plus the columns to filter on.

    The body is built once, when the domain change commits, so every export and every
    delivery of an event carries the same eventID and content.
    """

    __tablename__ = "epcis_events"
    __table_args__ = (
        Index("ix_epcis_events_brand_org_id_id", "brand_org_id", "id"),
        Index("ix_epcis_events_gtin_event_time", "gtin", "event_time"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(100), unique=True)
    # What happened in scanapp's terms (issued, printed, ... see mapping.KINDS).
    kind: Mapped[str] = mapped_column(String(32))
    event_type: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(8))
    biz_step: Mapped[str | None] = mapped_column(String(40))
    disposition: Mapped[str | None] = mapped_column(String(40))
    gtin: Mapped[str] = mapped_column(String(14))
    brand_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    printer_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"),
                                                       index=True)
    range_id: Mapped[int | None] = mapped_column(BigInteger)
    event_time: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    record_time: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    body: Mapped[dict] = mapped_column(JSON)


class EpcisOutbox(Base):
    """A pending (or delivered) push of one event to the capture endpoint.

    Written in the same transaction as the event, so a crash or a portal outage can delay a
    delivery but never lose it. ``claimed_until`` is a lease: a pusher that dies mid-send
    lets another take the rows over once it expires.
    """

    __tablename__ = "epcis_outbox"
    # Only unsent rows are ever looked for, in id order: a partial index keeps that lookup as
    # small as the backlog, however many rows have been delivered.
    __table_args__ = (Index("ix_epcis_outbox_unsent", "id",
                            postgresql_where=text("sent_at IS NULL"),
                            sqlite_where=text("sent_at IS NULL")),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_pk: Mapped[int] = mapped_column(BigInteger, ForeignKey("epcis_events.id"), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))

    event: Mapped[EpcisEvent] = relationship()


class EpcisScanDay(Base):
    """A (Vietnam-local) day whose consumer scans have been exported in aggregate."""

    __tablename__ = "epcis_scan_days"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    events: Mapped[int] = mapped_column(Integer, default=0)
    aggregated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
