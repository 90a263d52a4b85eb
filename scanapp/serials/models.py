"""Tables of the serials package.

Storage grows with the number of ranges, never with the number of codes: a range is one
row covering ``[start_seq, start_seq + quantity)`` of the global sequence, and only codes
that are acted on individually (voided, recalled, ...) get override rows, one per run of
consecutive sequence numbers.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow

KEY_STATUSES = ("active", "retired", "compromised")
RANGE_STATUSES = ("issued", "printed", "activated", "voided", "recalled")


class SigningKey(Base):
    """One serial-signing key. Only the salt is stored: the key itself is derived from
    ``SCANAPP_SERIAL_KEY`` and the salt, so a database dump alone cannot forge stamps."""

    __tablename__ = "signing_keys"

    # The id is the first character of every serial it signs (0..31).
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(16), default="active")
    salt: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    compromised_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(String(500))


class SerialCounter(Base):
    """The single row from which every range takes its block of sequence numbers."""

    __tablename__ = "serial_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    next_seq: Mapped[int] = mapped_column(BigInteger)


class SerialRange(Base):
    __tablename__ = "serial_ranges"
    __table_args__ = (
        # Idempotency keys are scoped to the organisation that sent them.
        UniqueConstraint("requested_by_org_id", "idempotency_key",
                         name="uq_serial_ranges_idempotency"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    gtin: Mapped[str] = mapped_column(String(14))
    lot: Mapped[str | None] = mapped_column(String(20))
    expiry: Mapped[dt.date | None] = mapped_column(Date)
    start_seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    quantity: Mapped[int] = mapped_column(Integer)
    key_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="issued")
    market_regions: Mapped[list[str]] = mapped_column(JSON, default=list)
    pin_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    brand_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    printer_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"),
                                                       index=True)
    requested_by_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    requested_by_key_id: Mapped[int | None] = mapped_column(Integer)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Bumped on every change (status or overrides): the in-process lookup index polls
    # for rows changed since its last look through this index.
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    @property
    def end_seq(self) -> int:
        return self.start_seq + self.quantity


class SerialOverride(Base):
    """A status for part of a range: ``[start_seq, end_seq)`` (one code when end = start+1)."""

    __tablename__ = "serial_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    range_id: Mapped[int] = mapped_column(ForeignKey("serial_ranges.id"), index=True)
    start_seq: Mapped[int] = mapped_column(BigInteger)
    end_seq: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    transition_id: Mapped[int | None] = mapped_column(ForeignKey("range_transitions.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class RangeTransition(Base):
    """The audit trail: every lifecycle step, who did it and when."""

    __tablename__ = "range_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    range_id: Mapped[int] = mapped_column(ForeignKey("serial_ranges.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))  # issue, print, activate, void, recall
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    # None for the whole range; otherwise how many codes the step covered.
    code_count: Mapped[int | None] = mapped_column(BigInteger)
    serials: Mapped[list[str] | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(String(500))
    actor_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    actor_key_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CodeChecksum(Base):
    """The SHA-256 of a range's code file, computed once and kept (a million codes take
    seconds to generate). ``identity`` is the file's ETag: a hash of everything the file
    depends on (format, base URL, key, GTIN, lot, expiry, sequence span), so a change of
    any of them names another file."""

    __tablename__ = "code_checksums"

    range_id: Mapped[int] = mapped_column(ForeignKey("serial_ranges.id"), primary_key=True)
    identity: Mapped[str] = mapped_column(String(32), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
