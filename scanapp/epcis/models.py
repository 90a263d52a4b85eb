"""The stored EPCIS events, their identifier index, capture jobs, the delivery outbox and the
scan-aggregation ledger."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, UTCDateTime, utcnow

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a bigint, because the
# event log only grows.
BigId = BigInteger().with_variant(Integer, "sqlite")


class EpcisEvent(Base):
    """One EPCIS event, kept exactly as it is exported (``body``) plus the columns to filter on.

    The body is built once, when the domain change commits (``source`` 'scanapp'), or is the
    event as captured through the EPCIS binding (``source`` 'capture'), so every export and
    every delivery of an event carries the same eventID and content.
    """

    __tablename__ = "epcis_events"
    __table_args__ = (
        Index("ix_epcis_events_brand_org_id_id", "brand_org_id", "id"),
        Index("ix_epcis_events_gtin_event_time", "gtin", "event_time"),
        Index("ix_epcis_events_captured_by_org_id_id", "captured_by_org_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    # What happened in scanapp's terms (issued, printed, ... see mapping.KINDS; 'captured').
    kind: Mapped[str] = mapped_column(String(32))
    event_type: Mapped[str] = mapped_column(String(40))
    # TransformationEvents have no action.
    action: Mapped[str | None] = mapped_column(String(8))
    # A CBV term bare (shipping), any other vocabulary as its full URI.
    biz_step: Mapped[str | None] = mapped_column(String(255))
    disposition: Mapped[str | None] = mapped_column(String(255))
    # The one GTIN the event is about; None when it names several or none (the identifier
    # index holds every GTIN of a captured event).
    gtin: Mapped[str | None] = mapped_column(String(14))
    # 'scanapp' (lifecycle, inspections, flags: written by the recorder) or 'capture'.
    source: Mapped[str] = mapped_column(String(16), default="scanapp",
                                        server_default="scanapp")
    captured_by_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    brand_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    printer_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"),
                                                       index=True)
    range_id: Mapped[int | None] = mapped_column(BigInteger)
    event_time: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    record_time: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    body: Mapped[dict] = mapped_column(JSON)


class EpcisEventIdentifier(Base):
    """One identifier an event names, in one role: the index behind the MATCH_ queries,
    EQ_bizLocation, and the lineage that scanapp.trace builds on.

    Identifiers are canonical (``identifiers.canonical``: GS1 keys as Digital Links on
    id.gs1.org), so a URN and a Digital Link of the same key find the same events. Roles:
    epc (epcList), parent (parentID), child (childEPCs), input (inputEPCList), output
    (outputEPCList), epcClass (quantityList), childEPCClass, inputEPCClass, outputEPCClass
    (the classes of the quantity lists), bizLocation, readPoint, source, destination (the
    values of sourceList / destinationList). ``gtin`` is the GTIN-14 an item or class
    identifier names, for the brand's visibility.
    """

    __tablename__ = "epcis_event_identifiers"
    __table_args__ = (
        PrimaryKeyConstraint("identifier", "role", "event_pk",
                             name="pk_epcis_event_identifiers"),
        Index("ix_epcis_event_identifiers_event_pk", "event_pk"),
        Index("ix_epcis_event_identifiers_gtin_event_pk", "gtin", "event_pk"),
    )

    identifier: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    # No foreign key (migration epcis_0004): a derived index written only in its event's
    # own transaction, right after it; the per-row check cost PostgreSQL a fifth of its CPU
    # per captured event.
    event_pk: Mapped[int] = mapped_column(BigInteger)
    gtin: Mapped[str | None] = mapped_column(String(14))

    # Used by the recorder (a few rows per event); capture writes rows in bulk, by id.
    event: Mapped[EpcisEvent] = relationship(
        primaryjoin="foreign(EpcisEventIdentifier.event_pk) == EpcisEvent.id")


class EpcisCaptureJob(Base):
    """One POST /epcis/capture: its outcome, kept so GET /epcis/capture/{id} can report it.

    The document is processed inside the request that posted it (see docs/EPCIS.md), so a job
    is written once, finished; ``running`` exists for the binding's shape and for a future
    queue. ``errors`` is the list of problems (RFC 7807 style, one per event problem).
    """

    __tablename__ = "epcis_capture_jobs"
    __table_args__ = (Index("ix_epcis_capture_jobs_org_id_created_at", "org_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    capture_id: Mapped[str] = mapped_column(String(40), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    running: Mapped[bool] = mapped_column(Boolean, default=False)
    success: Mapped[bool] = mapped_column(Boolean, default=True)
    error_behaviour: Mapped[str] = mapped_column(String(8))
    events_received: Mapped[int] = mapped_column(Integer, default=0)
    events_stored: Mapped[int] = mapped_column(Integer, default=0)
    events_already_stored: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list] = mapped_column(JSON, default=list)


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
