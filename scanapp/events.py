"""In-process domain events, published inside the publisher's transaction.

Packages announce what happened (a range was issued, a flag raised) without knowing who
listens; listeners (the EPCIS recorder, the webhook outbox) write their own rows in the same
session, so an event is stored exactly when the change that caused it commits.

Subscriptions belong to one app: ``create_app`` builds an ``EventBus`` and subscribes the
listeners explicitly (scanapp/bootstrap.py); the app's sessionmaker puts the bus in every
session's ``info``, so ``publish(session, event)`` reaches that app's listeners and no
other's. Importing a module subscribes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

Handler = Callable[[Session, object], None]
SESSION_KEY = "scanapp.events"


class EventBus:
    """One app's listeners, by event type."""

    def __init__(self) -> None:
        self._handlers: dict[type, list[Handler]] = defaultdict(list)

    def subscribe(self, event_type: type, handler: Handler) -> None:
        if handler not in self._handlers[event_type]:
            self._handlers[event_type].append(handler)

    def unsubscribe(self, event_type: type, handler: Handler) -> None:
        if handler in self._handlers[event_type]:
            self._handlers[event_type].remove(handler)

    def publish(self, session: Session, event: object) -> None:
        for handler in tuple(self._handlers.get(type(event), ())):
            handler(session, event)


def publish(session: Session, event: object) -> None:
    """Deliver ``event`` to the listeners of the app whose sessionmaker made ``session``."""
    bus = session.info.get(SESSION_KEY)
    if bus is None:
        # Silently dropping it would lose EPCIS events and webhooks without a trace.
        raise RuntimeError("this session carries no event bus: make it with the app's "
                           "sessionmaker (scanapp.db.session_scope or get_session)")
    bus.publish(session, event)


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
