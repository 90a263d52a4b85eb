"""Listens to scanapp's domain events and stores their EPCIS form in the same transaction.

Each handler writes the ``epcis_events`` row and its outbox row in the publisher's session,
so the EPCIS event exists exactly when the change that caused it commits, and a rolled-back
change leaves no event behind.
"""

from __future__ import annotations

import datetime as dt
import logging

from flask import current_app
from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import events
from ..db import utcnow
from . import mapping, sources
from .capture import index_entries
from .mapping import MappedEvent
from .models import EpcisEvent, EpcisEventIdentifier, EpcisOutbox, EpcisScanDay

log = logging.getLogger(__name__)


def store(session: Session, mapped: MappedEvent) -> EpcisEvent:
    """Add one mapped event and its pending delivery to ``session`` (the caller commits)."""
    now = utcnow()
    body = dict(mapped.body)
    body["recordTime"] = mapping.format_time(now)
    row = EpcisEvent(
        event_id=mapped.event_id, kind=mapped.kind, event_type=body["type"],
        action=body["action"], biz_step=body.get("bizStep"),
        disposition=body.get("disposition"), gtin=mapped.gtin,
        brand_org_id=mapped.brand_org_id, printer_org_id=mapped.printer_org_id,
        range_id=mapped.range_id, event_time=mapped.event_time, record_time=now, body=body)
    session.add(row)
    # Indexed like captured events, so the EPCIS binding's MATCH_ queries find them too.
    entries, _problems = index_entries(body, strict=False)
    session.add_all(EpcisEventIdentifier(event=row, role=role, identifier=value, gtin=gtin)
                    for role, value, gtin in entries)
    # Linked by relationship, not by id: both rows go in with the publisher's own flush,
    # without an extra round trip here.
    session.add(EpcisOutbox(event=row, created_at=now, next_attempt_at=now))
    _wake_pusher_after_commit(session)
    return row


def _wake_pusher_after_commit(session: Session) -> None:
    """Ask for this process's push thread to be woken once the transaction commits."""
    session.info[_WAKE] = current_app._get_current_object()


_WAKE = "epcis.wake_app"


def _after_commit(session: Session) -> None:
    # One class-level listener for every session: a dictionary lookup on commits that
    # recorded nothing, instead of a listener attached to each session that records.
    app = session.info.pop(_WAKE, None)
    if app is not None:
        from .exporter import wake

        wake(app)


def _base() -> str:
    return current_app.config["PUBLIC_BASE_URL"]


# -- handlers -------------------------------------------------------------------------------


def on_range_issued(session: Session, event: events.RangeIssued) -> None:
    rng = sources.range_facts(session, event.range_id)
    store(session, mapping.range_issued(_base(), rng, event.at))


def on_range_transitioned(session: Session, event: events.RangeTransitioned) -> None:
    rng = sources.range_facts(session, event.range_id)
    store(session, mapping.range_transitioned(_base(), rng, event.action, event.at,
                                              event.serials, event.reason))


def on_field_inspection(session: Session, event: events.FieldInspectionRecorded) -> None:
    app = current_app._get_current_object()
    store(session, mapping.field_inspection(
        _base(), inspection_id=event.inspection_id, gtin=event.gtin, serial=event.serial,
        lot=sources.lot_of(session, app, event.gtin, event.serial), at=event.at,
        finding=event.finding, province=event.province, lat=event.lat, lon=event.lon,
        brand_org_id=sources.brand_of(session, event.gtin)))


def on_flag_raised(session: Session, event: events.FlagRaised) -> None:
    app = current_app._get_current_object()
    store(session, mapping.flag_raised(
        _base(), flag_id=event.flag_id, gtin=event.gtin, serial=event.serial,
        lot=sources.lot_of_range(session, app, event.gtin, event.serial, event.range_id),
        at=event.at, risk=event.risk, reasons=event.reasons, escalated=event.escalated,
        brand_org_id=event.brand_org_id))


def on_case_decided(session: Session, event: events.CaseDecided) -> None:
    app = current_app._get_current_object()
    store(session, mapping.case_decided(
        _base(), case_id=event.case_id, gtin=event.gtin, serial=event.serial,
        lot=sources.lot_of(session, app, event.gtin, event.serial), at=event.at,
        status=event.status, brand_org_id=sources.brand_of(session, event.gtin)))


def register() -> None:
    """Subscribe the handlers (idempotent: ``events.subscribe`` ignores repeats)."""
    events.subscribe(events.RangeIssued, on_range_issued)
    events.subscribe(events.RangeTransitioned, on_range_transitioned)
    events.subscribe(events.FieldInspectionRecorded, on_field_inspection)
    events.subscribe(events.FlagRaised, on_flag_raised)
    events.subscribe(events.CaseDecided, on_case_decided)
    if not sa_event.contains(Session, "after_commit", _after_commit):
        sa_event.listen(Session, "after_commit", _after_commit)


# -- consumer scans, in aggregate -----------------------------------------------------------

# A day is exported once it is over plus this margin, so scans still being committed
# (group commit, a slow request) are in it.
DAY_CLOSE_MARGIN = dt.timedelta(minutes=30)
MAX_DAYS_PER_RUN = 31


def aggregate_scans(session: Session, now: dt.datetime | None = None,
                    day: dt.date | None = None) -> list[dt.date]:
    """Write the daily scan-count events of closed days not yet exported; commit.

    Days are Vietnam-local. Returns the days done. ``day`` forces one (closed) day.
    """
    now = now or utcnow()
    last_closed = (now - DAY_CLOSE_MARGIN).astimezone(mapping.VN_TZ).date() - dt.timedelta(1)
    if day is not None:
        if day > last_closed:
            return []
        todo = [day]
    else:
        done_until = session.scalar(select(EpcisScanDay.day).order_by(EpcisScanDay.day.desc())
                                    .limit(1))
        if done_until is None:
            first = sources.first_scan_time(session)
            if first is None:
                return []
            start = first.astimezone(mapping.VN_TZ).date()
        else:
            start = done_until + dt.timedelta(1)
        todo = []
        while start <= last_closed and len(todo) < MAX_DAYS_PER_RUN:
            todo.append(start)
            start += dt.timedelta(1)
    app = current_app._get_current_object()
    done = []
    for each in todo:
        if session.get(EpcisScanDay, each) is not None:
            continue
        begin = dt.datetime.combine(each, dt.time(), mapping.VN_TZ)
        count = 0
        for gtin, province, scans, codes in sources.consumer_scan_counts(
                session, begin, begin + dt.timedelta(days=1)):
            store(session, mapping.scans_observed(
                app.config["PUBLIC_BASE_URL"], day=each, gtin=gtin, province=province,
                scans=scans, codes=codes, brand_org_id=sources.brand_of(session, gtin)))
            count += 1
        session.add(EpcisScanDay(day=each, events=count, aggregated_at=now))
        # One commit per day: two pushers aggregating at once collide on the day's primary
        # key, and the loser's rollback drops only its copy of that day.
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            continue
        done.append(each)
    return done
