"""Reading events back: who may see which, filters, cursor paging, EPCISDocuments.

Visibility: an admin and an inspector (the authorities) see every event (inspectors without
the serials of lifecycle steps: ``_as_seen_by``); a brand sees the
events of its own products; a printer sees the lifecycle events (issued, printed, activated,
voided, recalled) of the ranges it holds, and nothing of inspections, flags or scan counts,
which belong to the brand and the authorities.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ..auth.models import Role
from ..auth.service import Principal
from ..db import utcnow
from ..errors import InvalidInput
from ..gs1 import normalize_gtin
from . import mapping
from .models import EpcisEvent

CBV_BIZSTEP_PREFIXES = ("https://ref.gs1.org/cbv/BizStep-", "urn:epcglobal:cbv:bizstep:")
CBV_DISPOSITION_PREFIXES = ("https://ref.gs1.org/cbv/Disp-", "urn:epcglobal:cbv:disp:")
DEFAULT_PAGE = 100
MAX_PAGE = 1000


@dataclass(frozen=True)
class EventFilter:
    since: dt.datetime | None = None  # eventTime >= since
    until: dt.datetime | None = None  # eventTime < until
    gtin: str | None = None
    event_type: str | None = None
    biz_step: str | None = None
    disposition: str | None = None
    kind: str | None = None


def _vocabulary(value: str, prefixes: tuple[str, ...], terms: frozenset[str],
                what: str) -> str:
    """The bare CBV term of ``value``, given bare or as either of its CBV URI forms."""
    term = value.strip()
    for prefix in prefixes:
        if term.startswith(prefix):
            term = term[len(prefix):]
            break
    if term not in terms:
        raise InvalidInput(f"{value!r} is not a CBV 2.0 {what}", code=f"unknown_{what}")
    return term


def make_filter(args: dict) -> EventFilter:
    """Check the query arguments (already typed by the schema) and build the filter."""
    def one_of(*names: str):
        given = [n for n in names if args.get(n) is not None]
        if len(given) > 1:
            raise InvalidInput(f"give only one of {' and '.join(given)}: they mean the same",
                               code="duplicate_filter")
        return args.get(given[0]) if given else None

    since = one_of("GE_eventTime", "since")
    until = one_of("LT_eventTime", "until")
    if since and until and since >= until:
        raise InvalidInput("the time window is empty: since must be before until",
                           code="empty_window")
    event_type = one_of("eventType", "EQ_eventType")
    if event_type is not None and event_type not in mapping.EVENT_TYPES:
        raise InvalidInput(f"unknown eventType {event_type!r}; one of "
                           f"{', '.join(mapping.EVENT_TYPES)}", code="unknown_event_type")
    biz_step = one_of("bizStep", "EQ_bizStep")
    disposition = one_of("disposition", "EQ_disposition")
    gtin = args.get("gtin")
    return EventFilter(
        since=since, until=until, gtin=normalize_gtin(gtin) if gtin is not None else None,
        event_type=event_type,
        biz_step=_vocabulary(biz_step, CBV_BIZSTEP_PREFIXES, mapping.CBV_BIZSTEPS, "bizstep")
        if biz_step is not None else None,
        disposition=_vocabulary(disposition, CBV_DISPOSITION_PREFIXES,
                                mapping.CBV_DISPOSITIONS, "disposition")
        if disposition is not None else None,
        kind=args.get("kind"))


def visible_events(principal: Principal) -> Select:
    # scanapp's own events only: captured ones are served by the EPCIS binding (/epcis),
    # with its own visibility rules.
    query = select(EpcisEvent).where(EpcisEvent.source == "scanapp")
    if principal.role is Role.BRAND:
        return query.where(EpcisEvent.brand_org_id == principal.org_id)
    if principal.role is Role.PRINTER:
        return query.where(EpcisEvent.printer_org_id == principal.org_id,
                           EpcisEvent.kind.in_(mapping.LIFECYCLE_KINDS))
    return query  # admin, inspector


def apply_filter(query: Select, flt: EventFilter) -> Select:
    if flt.since is not None:
        query = query.where(EpcisEvent.event_time >= flt.since)
    if flt.until is not None:
        query = query.where(EpcisEvent.event_time < flt.until)
    if flt.gtin is not None:
        query = query.where(EpcisEvent.gtin == flt.gtin)
    if flt.event_type is not None:
        query = query.where(EpcisEvent.event_type == flt.event_type)
    if flt.biz_step is not None:
        query = query.where(EpcisEvent.biz_step == flt.biz_step)
    if flt.disposition is not None:
        query = query.where(EpcisEvent.disposition == flt.disposition)
    if flt.kind is not None:
        query = query.where(EpcisEvent.kind == flt.kind)
    return query


def encode_token(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode()).decode().rstrip("=")


def decode_token(token: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        after = json.loads(raw)["after"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        after = None
    if not isinstance(after, int) or isinstance(after, bool) or after < 0:
        raise InvalidInput("nextPageToken is not one this service handed out",
                           code="invalid_page_token")
    return after


@dataclass
class Page:
    events: list[dict]
    next_token: str | None


def query_events(session: Session, principal: Principal, flt: EventFilter,
                 per_page: int = DEFAULT_PAGE, token: str | None = None) -> Page:
    """One page of events in recording order; ``next_token`` continues after it.

    Paging by the last id seen (not by offset) keeps every page one index range scan and
    never skips or repeats an event when new ones arrive between pages.
    """
    query = apply_filter(visible_events(principal), flt)
    if token is not None:
        query = query.where(EpcisEvent.id > decode_token(token))
    rows = list(session.scalars(query.order_by(EpcisEvent.id).limit(per_page + 1)))
    more = len(rows) > per_page
    rows = rows[:per_page]
    return Page([_as_seen_by(principal, row) for row in rows],
                encode_token(rows[-1].id) if more else None)


def _as_seen_by(principal: Principal, row: EpcisEvent) -> dict:
    return seen_by(principal, row.kind, row.body)


def seen_by(principal: Principal, kind: str, body: dict) -> dict:
    """Inspectors see how many codes a lifecycle step touched, not which: they may not
    download codes either. Events about a flagged or inspected code keep its EPC, which
    is the inspector's work. Every query surface (this export and the REST binding)
    passes its events through here."""
    if (principal.role is Role.INSPECTOR and kind in mapping.LIFECYCLE_KINDS
            and "epcList" in body):
        return mapping.without_serials(body)
    return body


def events_document(events: list[dict], namespace: str) -> dict:
    return mapping.document(events, namespace, utcnow())


def iter_for_export(session: Session, flt: EventFilter, chunk: int = 1000) -> Iterator[dict]:
    """Every matching event, in event-time order, fetched ``chunk`` rows at a time."""
    query = apply_filter(select(EpcisEvent.event_time, EpcisEvent.id, EpcisEvent.body), flt)
    last: tuple[dt.datetime, int] | None = None
    while True:
        page = query
        if last is not None:
            # The first condition alone is an index range; the second drops what was sent.
            page = page.where(EpcisEvent.event_time >= last[0],
                              (EpcisEvent.event_time > last[0]) | (EpcisEvent.id > last[1]))
        rows = session.execute(page.order_by(EpcisEvent.event_time, EpcisEvent.id)
                               .limit(chunk)).all()
        for _time, _id, body in rows:
            yield body
        if len(rows) < chunk:
            return
        last = (rows[-1][0], rows[-1][1])
