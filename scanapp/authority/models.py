"""Tables of the authorities' side: who supervises which province, what waits for review
(and what was decided, never deleted), each province's review policy and targets, and the
data-quality findings of its queue."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow

REVIEW_STATES = ("pending", "approved", "rejected")
FINDING_STATES = ("open", "dismissed", "case")


class AuthorityScope(Base):
    """The province an authority organisation supervises; NULL province: nationwide."""

    __tablename__ = "authority_scopes"

    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True,
                                        autoincrement=False)
    province: Mapped[str | None] = mapped_column(String(2))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProvincePolicy(Base):
    """Whether a province reviews data before publication, which product categories it
    trusts (no review), and its plan's targets (percentages)."""

    __tablename__ = "authority_policies"

    province: Mapped[str] = mapped_column(String(2), primary_key=True)
    review_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    trusted_categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    # {"firms_with_trace_pct": 30, "traced_products_on_portal_pct": 100}
    targets: Mapped[dict] = mapped_column(JSON, default=dict)
    plan: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReviewItem(Base):
    """The review state of one subject (party, product, certificate); one row each."""

    __tablename__ = "authority_review_items"
    __table_args__ = (UniqueConstraint("subject_type", "subject_id",
                                       name="uq_authority_review_subject"),
                      Index("ix_authority_review_province_state", "province", "state"))

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(12))
    subject_id: Mapped[int] = mapped_column(Integer)
    province: Mapped[str] = mapped_column(String(2))
    # The firm that answers for it (sees the reason, may answer).
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(10), default="pending")
    round: Mapped[int] = mapped_column(Integer, default=1)
    reason: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_by_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))


class ReviewLog(Base):
    """One line of the review audit trail (never updated or deleted)."""

    __tablename__ = "authority_review_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("authority_review_items.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # submitted | changed | approved | rejected | answered
    action: Mapped[str] = mapped_column(String(12))
    actor_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    actor_key_id: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)


class Finding(Base):
    """A data-quality rule fired on some subject; at most one open row per fingerprint."""

    __tablename__ = "authority_findings"
    __table_args__ = (UniqueConstraint("fingerprint", name="uq_authority_findings_fp"),
                      Index("ix_authority_findings_province_state", "province", "state"))

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(String(40))
    fingerprint: Mapped[str] = mapped_column(String(200))
    province: Mapped[str | None] = mapped_column(String(2))
    subject_type: Mapped[str] = mapped_column(String(12))
    subject_id: Mapped[int | None] = mapped_column(Integer)
    gtin: Mapped[str | None] = mapped_column(String(14))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    message_vi: Mapped[str] = mapped_column(Text)
    message_en: Mapped[str] = mapped_column(Text)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(10), default="open")
    case_id: Mapped[int | None] = mapped_column(ForeignKey("fraud_flags.id"))
    found_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    found_by: Mapped[str] = mapped_column(String(10), default="capture")  # capture | nightly
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
