"""In-process domain events, published inside the publisher's transaction.

Packages announce what happened (a range was issued, a flag raised) without knowing who
listens; listeners (the EPCIS recorder, the webhook outbox) write their own rows in the same
session, so an event is stored exactly when the change that caused it commits.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

Handler = Callable[[Session, object], None]
_handlers: dict[type, list[Handler]] = defaultdict(list)


def subscribe(event_type: type, handler: Handler) -> None:
    if handler not in _handlers[event_type]:
        _handlers[event_type].append(handler)


def publish(session: Session, event: object) -> None:
    for handler in _handlers.get(type(event), ()):
        handler(session, event)


@dataclass(frozen=True)
class RangeIssued:
    """A range of serials was commissioned (one event for the whole range)."""

    range_id: int
    at: dt.datetime
    actor_org_id: int


@dataclass(frozen=True)
class RangeTransitioned:
    """A lifecycle step for a whole range, or for some of its serials when given."""

    range_id: int
    action: str  # "print", "activate", "void", "recall"
    at: dt.datetime
    actor_org_id: int
    serials: tuple[str, ...] | None = None
    reason: str | None = None


@dataclass(frozen=True)
class FieldInspectionRecorded:
    inspection_id: int
    serial: str
    gtin: str
    at: dt.datetime
    inspector_org_id: int
    finding: str
    province: str | None = None
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class FlagRaised:
    """A code crossed the flag threshold, or its flag escalated."""

    flag_id: int
    serial: str
    gtin: str
    risk: int
    reasons: tuple[str, ...]
    brand_org_id: int
    escalated: bool
    at: dt.datetime
    # The range the scan that raised or escalated the flag was found in (its serial verified
    # under that range's GTIN and lot), so listeners need not search for the lot.
    range_id: int | None = None


@dataclass(frozen=True)
class CaseDecided:
    """An inspector moved a case to a new status (confirmed counterfeit, false alarm, ...)."""

    case_id: int
    serial: str
    gtin: str
    status: str
    at: dt.datetime
    actor_org_id: int
    note: str | None = None
    extra: dict = field(default_factory=dict)
