"""Tables of origin traceability: who (parties), where (locations), what (lots), proof
(certificates), how lots became other lots (lineage) and what happened to each lot where
(lot events, the derived one-step-back/one-step-forward index of the EPCIS events).

The EPCIS event itself stays in ``epcis_events`` (the one event store); the rows here are
derived from it in the same transaction by the capture hook, so they never disagree.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import Organisation
from ..db import Base, UTCDateTime, utcnow
from ..products.models import Product
from ..serials.models import SerialRange

LOCATION_KINDS = ("growing_area", "farm", "pond", "barn", "factory", "packing_house",
                  "warehouse", "store")
CERT_SCHEMES = {
    "vietgap": "VietGAP",
    "globalgap": "GLOBALG.A.P.",
    "organic": "Hữu cơ (Organic)",
    "ocop": "OCOP",
    "haccp": "HACCP",
    "iso22000": "ISO 22000",
    "food_safety_facility": "Giấy chứng nhận cơ sở đủ điều kiện ATTP",
    "lab_test": "Phiếu kết quả kiểm nghiệm",
}
CERT_SUBJECTS = ("party", "location", "product", "lot")
LOT_STATUSES = ("active", "on_hold", "recalled")
Qty = Numeric(18, 3)

# The stamp ranges of a lot are found by (gtin, lot): recall walks it for every lot.
Index("ix_serial_ranges_gtin_lot", SerialRange.gtin, SerialRange.lot)


class Party(Base):
    """A legal person in the chain: producer, cooperative, processor, distributor, shop."""

    __tablename__ = "trace_parties"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The organisation that manages this party in scanapp (its keys may write for it).
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    tax_code: Mapped[str | None] = mapped_column(String(14), unique=True)
    gln: Mapped[str | None] = mapped_column(String(13), unique=True)
    address: Mapped[str | None] = mapped_column(String(500))
    province: Mapped[str | None] = mapped_column(String(2))
    contact_name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(30))
    email: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation: Mapped[Organisation | None] = relationship()


class Location(Base):
    """A place identified by GLN (AI 414) and optional extension (AI 254; '' when none)."""

    __tablename__ = "trace_locations"
    __table_args__ = (UniqueConstraint("gln", "extension", name="uq_trace_locations_sgln"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("trace_parties.id"), index=True)
    gln: Mapped[str] = mapped_column(String(13))
    extension: Mapped[str] = mapped_column(String(20), default="")
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20))
    planting_area_code: Mapped[str | None] = mapped_column(String(50), index=True)
    address: Mapped[str | None] = mapped_column(String(500))
    province: Mapped[str | None] = mapped_column(String(2))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    party: Mapped[Party] = relationship()


class Certificate(Base):
    __tablename__ = "trace_certificates"
    __table_args__ = (Index("ix_trace_certificates_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The organisation that registered it (manages it).
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    scheme: Mapped[str] = mapped_column(String(30))
    stars: Mapped[int | None] = mapped_column(Integer)  # OCOP only: 3, 4 or 5
    number: Mapped[str] = mapped_column(String(100))
    issuer: Mapped[str] = mapped_column(String(300))
    subject_type: Mapped[str] = mapped_column(String(10))
    subject_id: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    document_url: Mapped[str | None] = mapped_column(String(500))
    # What was declared: valid or revoked. Expiry is computed against today, never stored.
    status: Mapped[str] = mapped_column(String(10), default="valid")
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    def state_on(self, day: dt.date) -> str:
        """valid | revoked | expired | not_yet_valid on ``day``."""
        if self.status == "revoked":
            return "revoked"
        if day < self.valid_from:
            return "not_yet_valid"
        if self.valid_to is not None and day > self.valid_to:
            return "expired"
        return "valid"


class Lot(Base):
    """A batch: GTIN + lot (AI 10), the unit every traceability event talks about."""

    __tablename__ = "trace_lots"
    __table_args__ = (UniqueConstraint("gtin", "lot", name="uq_trace_lots_gtin_lot"),
                      CheckConstraint("quantity IS NULL OR quantity >= 0",
                                      name="quantity_not_negative"))

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    gtin: Mapped[str] = mapped_column(String(14))
    lot: Mapped[str] = mapped_column(String(20))
    production_date: Mapped[dt.date | None] = mapped_column(Date)      # AI 11
    harvest_start: Mapped[dt.date | None] = mapped_column(Date)
    harvest_end: Mapped[dt.date | None] = mapped_column(Date)
    expiry_date: Mapped[dt.date | None] = mapped_column(Date)          # AI 17
    best_before: Mapped[dt.date | None] = mapped_column(Date)          # AI 15
    quantity: Mapped[float | None] = mapped_column(Qty)
    unit: Mapped[str | None] = mapped_column(String(10))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("trace_locations.id"),
                                                    index=True)
    # The party that made (harvested, produced) the lot.
    party_id: Mapped[int | None] = mapped_column(ForeignKey("trace_parties.id"), index=True)
    created_by_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="active")
    recall_reason: Mapped[str | None] = mapped_column(String(500))
    recalled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    recalled_by_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    # The input lot whose recall reached this one (itself for the root).
    recall_root_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    product: Mapped[Product] = relationship()
    location: Mapped[Location | None] = relationship()
    party: Mapped[Party | None] = relationship()
    recalled_by: Mapped[Organisation | None] = relationship(foreign_keys=[recalled_by_org_id])


class LineageEdge(Base):
    """Input lot -> output lot, with how much of the input went in, from which event."""

    __tablename__ = "trace_lineage"
    __table_args__ = (
        UniqueConstraint("input_lot_id", "output_lot_id", "event_id",
                         name="uq_trace_lineage_edge"),
        Index("ix_trace_lineage_output", "output_lot_id", "input_lot_id"),
        Index("ix_trace_lineage_input", "input_lot_id", "output_lot_id"),
        CheckConstraint("input_lot_id <> output_lot_id", name="not_self"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    input_lot_id: Mapped[int] = mapped_column(ForeignKey("trace_lots.id"))
    output_lot_id: Mapped[int] = mapped_column(ForeignKey("trace_lots.id"))
    quantity: Mapped[float | None] = mapped_column(Qty)
    unit: Mapped[str | None] = mapped_column(String(10))
    event_id: Mapped[str] = mapped_column(String(100))
    event_pk: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("epcis_events.id"))
    event_time: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LotEvent(Base):
    """One stage of one lot, derived from an EPCIS event: what, when, where, who, how much,
    from whom to whom. It answers one step back / one step forward without parsing JSON."""

    __tablename__ = "trace_lot_events"
    __table_args__ = (Index("ix_trace_lot_events_lot_time", "lot_id", "event_time"),
                      UniqueConstraint("lot_id", "event_id", "role",
                                       name="uq_trace_lot_events_once"))

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("trace_lots.id"))
    event_id: Mapped[str] = mapped_column(String(100), index=True)
    event_pk: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("epcis_events.id"))
    event_type: Mapped[str] = mapped_column(String(40))
    biz_step: Mapped[str | None] = mapped_column(String(40))
    # input | output | object | child (how the lot appears in the event)
    role: Mapped[str] = mapped_column(String(10), default="object")
    event_time: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("trace_locations.id"))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    source_party_id: Mapped[int | None] = mapped_column(ForeignKey("trace_parties.id"))
    source_location_id: Mapped[int | None] = mapped_column(ForeignKey("trace_locations.id"))
    dest_party_id: Mapped[int | None] = mapped_column(ForeignKey("trace_parties.id"),
                                                      index=True)
    dest_location_id: Mapped[int | None] = mapped_column(ForeignKey("trace_locations.id"))
    quantity: Mapped[float | None] = mapped_column(Qty)
    unit: Mapped[str | None] = mapped_column(String(10))
    document: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict] = mapped_column(JSON, default=dict)

    location: Mapped[Location | None] = relationship(foreign_keys=[location_id])
    source_party: Mapped[Party | None] = relationship(foreign_keys=[source_party_id])
    dest_party: Mapped[Party | None] = relationship(foreign_keys=[dest_party_id])
    source_location: Mapped[Location | None] = relationship(foreign_keys=[source_location_id])
    dest_location: Mapped[Location | None] = relationship(foreign_keys=[dest_location_id])


class TracePartner(Base):
    """A brand lets another organisation (processor, packer, distributor) record events
    about its products: all of them, or one when product_id is set."""

    __tablename__ = "trace_partners"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    partner_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class TraceState(Base):
    """One row whose version moves whenever trace data a scan shows changes: every worker's
    summary cache polls it (at most once a second) instead of reading per scan."""

    __tablename__ = "trace_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)




class PortalOutbox(Base):
    """A lot whose Circular 02/2024 document must be (re)sent to the National Traceability
    Portal: at most one unsent row per lot (a change while one waits adds nothing); the
    document is built when it is sent, so the portal always gets the lot's latest state."""

    __tablename__ = "trace_portal_outbox"
    __table_args__ = (Index("ix_trace_portal_outbox_unsent", "id",
                            postgresql_where=text("sent_at IS NULL"),
                            sqlite_where=text("sent_at IS NULL")),
                      Index("uq_trace_portal_outbox_pending_lot", "lot_id", unique=True,
                            postgresql_where=text("sent_at IS NULL"),
                            sqlite_where=text("sent_at IS NULL")))

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("trace_lots.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
