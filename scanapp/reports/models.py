"""A consumer's report, stored with the scan it follows (place and time) under the same
privacy rules as scans: client address and device only as keyed hashes, coordinates as the
scan rounded them. The phone number is for inspectors only; the photo is a re-encoded JPEG
without metadata (no EXIF GPS)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Float, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")

PROBLEMS = ("fake", "stamp", "different", "recalled_on_sale", "price", "other")
STATUSES = ("new", "reviewing", "closed")


class ConsumerReport(Base):
    __tablename__ = "consumer_reports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The scanned code as given (a malformed one too, truncated), and what it parsed to.
    code: Mapped[str] = mapped_column(String(512))
    gtin: Mapped[str | None] = mapped_column(String(14))
    lot: Mapped[str | None] = mapped_column(String(20))
    serial: Mapped[str | None] = mapped_column(String(20))
    # The page's outcome when the report was filed (genuine, counterfeit, malformed, ...).
    outcome: Mapped[str] = mapped_column(String(20))
    problem: Mapped[str] = mapped_column(String(20))
    details: Mapped[str | None] = mapped_column(Text)
    where_bought: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(20))
    # The scan the report follows (this device's latest scan of the code), when there is one.
    scan_id: Mapped[int | None] = mapped_column(BigId)
    scanned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    province: Mapped[str | None] = mapped_column(String(2))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    verdict: Mapped[str | None] = mapped_column(String(16))
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    device_hash: Mapped[str | None] = mapped_column(String(32))
    client_hash: Mapped[str | None] = mapped_column(String(32))
    photo: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    photo_type: Mapped[str | None] = mapped_column(String(32))
    photo_width: Mapped[int | None] = mapped_column(Integer)
    photo_height: Mapped[int | None] = mapped_column(Integer)
    lang: Mapped[str] = mapped_column(String(2), default="vi")
    status: Mapped[str] = mapped_column(String(12), default="new")

    __table_args__ = (
        Index("ix_consumer_reports_created_at", "created_at"),
        Index("ix_consumer_reports_province_created_at", "province", "created_at"),
        Index("ix_consumer_reports_serial", "serial"),
    )
