"""Flags (one per suspect code, doubling as its case), the case audit trail, field
inspections and the webhook outbox."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, UTCDateTime, utcnow


class CaseStatus(enum.StrEnum):
    OPEN = "open"
    INVESTIGATING = "investigating"
    CONFIRMED_COUNTERFEIT = "confirmed_counterfeit"
    FALSE_ALARM = "false_alarm"
    RESOLVED = "resolved"


class Flag(Base):
    """A code whose risk crossed the flag threshold; its case fields live on the same row.

    One row per serial (flag once per code); ``risk`` only rises (escalation).
    """

    __tablename__ = "fraud_flags"
    __table_args__ = (Index("ix_fraud_flags_status_risk", "status", "risk"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(String(20), unique=True)
    gtin: Mapped[str] = mapped_column(String(14), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    brand_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    range_id: Mapped[int | None] = mapped_column(Integer)
    risk: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Where the scan that raised or last escalated the flag was made.
    province: Mapped[str | None] = mapped_column(String(2), index=True)
    status: Mapped[str] = mapped_column(String(32), default=CaseStatus.OPEN.value)
    assignee: Mapped[str | None] = mapped_column(String(200))
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    first_scan_event_id: Mapped[int | None] = mapped_column(Integer)
    last_scan_event_id: Mapped[int | None] = mapped_column(Integer)
    raised_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    trail: Mapped[list[CaseEvent]] = relationship(
        back_populates="flag", order_by="CaseEvent.id", cascade="all, delete-orphan")


class CaseEvent(Base):
    """One line of a case's audit trail: who did what, when (never updated or deleted)."""

    __tablename__ = "fraud_case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("fraud_flags.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # "raised", "escalated", "status", "note", "assigned", "inspection", "reopened"
    action: Mapped[str] = mapped_column(String(32))
    actor_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    actor_key_id: Mapped[int | None] = mapped_column(Integer)
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str | None] = mapped_column(String(32))
    assignee: Mapped[str | None] = mapped_column(String(200))
    risk: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)

    flag: Mapped[Flag] = relationship(back_populates="trail")


class FieldInspection(Base):
    """An inspector checked a stamp in the field: where, and what they found."""

    __tablename__ = "fraud_inspections"

    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(String(20), index=True)
    gtin: Mapped[str] = mapped_column(String(14))
    flag_id: Mapped[int | None] = mapped_column(ForeignKey("fraud_flags.id"))
    inspector_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    inspector_key_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finding: Mapped[str] = mapped_column(String(32))
    province: Mapped[str | None] = mapped_column(String(2))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    place: Mapped[str | None] = mapped_column(String(300))
    note: Mapped[str | None] = mapped_column(Text)


class InspectionPhoto(Base):
    """A photo taken at a field inspection: re-encoded JPEG without metadata (no EXIF GPS),
    stored like a consumer report's photo; its SHA-256 enters the evidence hash."""

    __tablename__ = "fraud_inspection_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("fraud_inspections.id"), index=True)
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class EvidenceIssue(Base):
    """One printed copy of a code's dossier (the evidence PDF): the SHA-256 of the dossier's
    canonical content printed on it, the SHA-256 of the PDF file handed out, and that
    content itself, so that a copy can be checked later and its changes since shown."""

    __tablename__ = "fraud_evidence_issues"

    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(String(20), index=True)
    flag_id: Mapped[int | None] = mapped_column(ForeignKey("fraud_flags.id"))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    pdf_sha256: Mapped[str] = mapped_column(String(64), index=True)
    content: Mapped[str] = mapped_column(Text, deferred=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    issued_by_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    issued_by_key_id: Mapped[int | None] = mapped_column(Integer)


class WebhookDelivery(Base):
    """The durable outbox: one row per event per brand, delivered by the webhook worker."""

    __tablename__ = "webhook_outbox"
    __table_args__ = (Index("ix_webhook_outbox_due", "delivered_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Sent as a header: receivers use it to drop a repeated delivery.
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    event_type: Mapped[str] = mapped_column(String(40))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A worker claims a row until this time, so two workers never send the same row at once.
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Set when the retries are exhausted; an operator can reset it to retry.
    failed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))


class DashboardSession(Base):
    """A signed-in dashboard session, kept on the server so that logging out, idling and
    revoking end it for every copy of its cookie. The cookie holds a random token; only its
    SHA-256 is stored here."""

    __tablename__ = "dashboard_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
