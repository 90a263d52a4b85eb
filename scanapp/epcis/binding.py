"""The EPCIS 2.0 REST binding's services: capture jobs, single events, queries, visibility.

The views (``rest``) parse HTTP and call these; everything here takes a session and raises
``scanapp.errors`` exceptions (the view turns them into RFC 7807 problems with GS1's
exception types).

Capture runs inside the request that posts the document (see docs/EPCIS.md): the document is
checked and stored, the job row is written with its outcome, and only then is the answer
sent. The job is durable (``epcis_capture_jobs``) and ``GET /epcis/capture/{id}`` reports it
like an asynchronous one that has finished. With 1,000-event documents at several thousand
events a second the wait is a fraction of a second, and a client never polls for a result
that is not there yet.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from ..auth.models import Role
from ..auth.service import Principal
from ..db import utcnow
from ..errors import Conflict, InvalidInput, NotFound
from . import eventhash, identifiers, mapping, validation
from .capture import CaptureHook, CaptureResult, capture_events, vocabulary_term
from .models import EpcisCaptureJob, EpcisEvent, EpcisEventIdentifier
from .problems import Problem
from .query import decode_token, encode_token, seen_by

EPCIS_VERSION = "2.0.0"
CBV_VERSION = "2.0.0"
DEFAULT_PER_PAGE = 30  # the binding's default
MAX_PER_PAGE = 1000
HOOKS_KEY = "scanapp.epcis.capture_hooks"

# Capture limits: the app config first (tests, overrides, a settings module that defines
# them), then SCANAPP_EPCIS_CAPTURE_MAX_EVENTS / _MAX_BYTES, then these defaults.
CAPTURE_LIMIT_DEFAULTS = {"EPCIS_CAPTURE_MAX_EVENTS": 10_000,
                          "EPCIS_CAPTURE_MAX_BYTES": 8_000_000}


def capture_limit(config: dict, name: str) -> int:
    value = config.get(name)
    if value is None:
        raw = os.environ.get("SCANAPP_" + name, "").strip()
        value = int(raw) if raw else CAPTURE_LIMIT_DEFAULTS[name]
    return int(value)


# -- errors (mapped to problem+json by the views) -------------------------------------------


class EpcisValidation(InvalidInput):
    """The document or event is not acceptable; ``details`` lists every problem."""

    code = "epcis_validation"

    def __init__(self, message: str, problems: list[Problem], capture_id: str | None = None):
        super().__init__(message, details=[p.as_dict() for p in problems])
        self.problems = problems
        self.capture_id = capture_id


class QueryParameterInvalid(InvalidInput):
    code = "query_parameter"


class CaptureLimitExceeded(InvalidInput):
    code = "capture_limit_exceeded"


class EventAlreadyExists(Conflict):
    code = "resource_already_exists"


# -- capture ---------------------------------------------------------------------------------


def parse_json(raw: bytes) -> object:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise EpcisValidation("the body is not valid JSON", [Problem(
            None, None, "/", "malformed_json", f"the body is not valid JSON: {exc}")]) from None


def document_events(document: dict) -> list:
    """The eventList of an EPCISDocument or of an EPCISQueryDocument's results."""
    body = document.get("epcisBody") or {}
    if document.get("type") == "EPCISQueryDocument":
        body = ((body.get("queryResults") or {}).get("resultsBody") or {})
    events = body.get("eventList")
    return events if isinstance(events, list) else []


def _check_document(document, max_events: int) -> list:
    if not isinstance(document, dict):
        raise EpcisValidation("an EPCISDocument is a JSON object", [Problem(
            None, None, "/", "schema", "the body must be a JSON object (an EPCISDocument)")])
    kind = document.get("type")
    if kind not in ("EPCISDocument", "EPCISQueryDocument"):
        raise EpcisValidation("not an EPCISDocument", [Problem(
            None, None, "/type", "schema",
            "type must be EPCISDocument or EPCISQueryDocument")])
    if "@context" not in document:
        raise EpcisValidation("the document has no @context", [Problem(
            None, None, "/@context", "schema", "an EPCIS 2.0 JSON-LD document needs an "
            "@context naming https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld")])
    events = document_events(document)
    if len(events) > max_events:
        raise CaptureLimitExceeded(
            f"the document holds {len(events)} events; the limit is {max_events} "
            "(GS1-EPCIS-Capture-Limit): split it into several documents")
    if kind == "EPCISDocument":
        problems = validation.envelope_problems(document)
    else:
        shell = json.loads(json.dumps({**document, "epcisBody": {}}))
        shell["epcisBody"] = {"queryResults": {
            **(document.get("epcisBody") or {}).get("queryResults", {}),
            "resultsBody": {"eventList": []}}}
        problems = validation.root_problems(shell)
    if problems:
        raise EpcisValidation("the document does not follow the EPCIS 2.0 JSON Schema",
                              problems)
    if not events:
        raise EpcisValidation("the document has no events", [Problem(
            None, None, "/epcisBody/eventList", "empty_document", "eventList is empty")])
    return events


def new_capture_id() -> str:
    return "cap_" + secrets.token_hex(10)


def capture_document(session: Session, principal: Principal, document, *,
                     hooks: Sequence[CaptureHook], proceed: bool,
                     max_events: int) -> tuple[EpcisCaptureJob, CaptureResult]:
    """Check and store a document; write its job; commit. Rollback + problems raises
    ``EpcisValidation`` (with the job's id) after the job was recorded."""
    events = _check_document(document, max_events)
    started = utcnow()
    result = capture_events(session, principal, events, hooks=hooks, proceed=proceed,
                            namespaces=eventhash.namespaces_of(document.get("@context")))
    job = EpcisCaptureJob(
        capture_id=new_capture_id(), org_id=principal.org_id, created_at=started,
        finished_at=utcnow(), running=False, success=result.success,
        error_behaviour="proceed" if proceed else "rollback",
        events_received=len(events), events_stored=len(result.stored_ids),
        events_already_stored=len(result.already_stored),
        errors=[p.as_dict() for p in result.problems])
    session.add(job)
    session.commit()
    if result.problems and not proceed:
        raise EpcisValidation(
            f"{len(result.problems)} problem(s) in the document; nothing was stored "
            "(GS1-Capture-Error-Behaviour: rollback)", result.problems, job.capture_id)
    return job, result


def capture_single(session: Session, principal: Principal, event,
                   hooks: Sequence[CaptureHook]) -> EpcisEvent:
    """POST /events: one event, with its own @context; 409 when its eventID is stored."""
    problems = validation.standalone_event_problems(event)
    if problems:
        raise EpcisValidation("the event does not follow the EPCIS 2.0 JSON Schema", problems)
    result = capture_events(session, principal, [event], hooks=hooks,
                            namespaces=eventhash.namespaces_of(event.get("@context")))
    if result.already_stored or any(p.code == "duplicate_event_id" for p in result.problems):
        session.rollback()
        event_id = (result.already_stored or [event.get("eventID")])[0]
        raise EventAlreadyExists(f"an event with eventID {event_id} is already stored")
    if result.problems:
        session.rollback()
        raise EpcisValidation(f"{len(result.problems)} problem(s) in the event",
                              result.problems)
    session.commit()
    return session.scalars(select(EpcisEvent)
                           .where(EpcisEvent.event_id == result.stored_ids[0])).one()


def job_document(job: EpcisCaptureJob) -> dict:
    return {
        "captureID": job.capture_id,
        "createdAt": mapping.format_time(job.created_at),
        **({"finishedAt": mapping.format_time(job.finished_at)} if job.finished_at else {}),
        "running": job.running,
        "success": job.success,
        "captureErrorBehaviour": job.error_behaviour,
        "eventsReceived": job.events_received,
        "eventsStored": job.events_stored,
        "eventsAlreadyStored": job.events_already_stored,
        "errors": list(job.errors or []),
    }


def _jobs_of(principal: Principal) -> Select:
    query = select(EpcisCaptureJob)
    if principal.role is not Role.ADMIN:
        query = query.where(EpcisCaptureJob.org_id == principal.org_id)
    return query


def get_job(session: Session, principal: Principal, capture_id: str) -> EpcisCaptureJob:
    job = session.scalar(_jobs_of(principal).where(EpcisCaptureJob.capture_id == capture_id))
    if job is None:
        raise NotFound(f"no capture job {capture_id}")
    return job


def list_jobs(session: Session, principal: Principal, per_page: int,
              token: str | None) -> tuple[list[EpcisCaptureJob], str | None]:
    """Newest first; the token continues below the last id seen."""
    query = _jobs_of(principal)
    if token:
        query = query.where(EpcisCaptureJob.id < decode_token(token))
    rows = list(session.scalars(query.order_by(EpcisCaptureJob.id.desc()).limit(per_page + 1)))
    more = len(rows) > per_page
    rows = rows[:per_page]
    return rows, encode_token(rows[-1].id) if more else None


# -- visibility -------------------------------------------------------------------------------


def visibility(session: Session, principal: Principal, hooks: Sequence[object] = ()):
    """The clause on EpcisEvent a principal may read (None: everything).

    Admins and inspectors (the authorities) read everything; a brand the events about its
    GTINs (any GTIN the event names, through the identifier index) and scanapp's events of
    its products; a printer the lifecycle of its ranges; every organisation the events it
    captured; hooks (scanapp.trace) may widen this, e.g. to one step back and forward.
    """
    from ..products.models import Product

    if principal.role in (Role.ADMIN, Role.INSPECTOR):
        return None
    org = principal.org_id
    clauses = [EpcisEvent.captured_by_org_id == org]
    if principal.role is Role.BRAND:
        own_gtins = select(Product.gtin).where(Product.brand_org_id == org)
        clauses += [
            EpcisEvent.brand_org_id == org,
            EpcisEvent.id.in_(select(EpcisEventIdentifier.event_pk)
                              .where(EpcisEventIdentifier.gtin.in_(own_gtins))),
        ]
    if principal.role is Role.PRINTER:
        clauses.append(and_(EpcisEvent.printer_org_id == org,
                            EpcisEvent.kind.in_(mapping.LIFECYCLE_KINDS)))
    for hook in hooks:
        widen = getattr(hook, "visible_event_filter", None)
        if widen is not None:
            clause = widen(session, principal)
            if clause is not None:
                clauses.append(clause)
    return or_(*clauses)


# -- queries ------------------------------------------------------------------------------------

# MATCH_ parameter -> the index roles it looks in (EPCIS 2.0, section 8.2.7.1).
MATCH_ROLES: dict[str, tuple[str, ...]] = {
    "MATCH_epc": ("epc", "child"),
    "MATCH_parentID": ("parent",),
    "MATCH_inputEPC": ("input",),
    "MATCH_outputEPC": ("output",),
    "MATCH_anyEPC": ("epc", "parent", "child", "input", "output"),
    "MATCH_epcClass": ("epcClass", "childEPCClass"),
    "MATCH_inputEPCClass": ("inputEPCClass",),
    "MATCH_outputEPCClass": ("outputEPCClass",),
    "MATCH_anyEPCClass": ("epcClass", "childEPCClass", "inputEPCClass", "outputEPCClass"),
}
EQ_PLACES = {"EQ_bizLocation": "bizLocation", "EQ_readPoint": "readPoint"}
ACTIONS = ("ADD", "OBSERVE", "DELETE")


@dataclass
class EventQuery:
    """The parsed parameters of GET /events (each list: any of its values matches)."""

    event_types: list[str] = field(default_factory=list)
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    recorded_since: dt.datetime | None = None
    recorded_until: dt.datetime | None = None
    actions: list[str] = field(default_factory=list)
    biz_steps: list[str] = field(default_factory=list)
    dispositions: list[str] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    # role tuple -> (canonical identifiers, GTINs from idpat patterns)
    matches: list[tuple[tuple[str, ...], list[str], list[str]]] = field(default_factory=list)


def split_values(raw: str | None) -> list[str]:
    """A pipe-delimited parameter (the binding's style) as its values."""
    if raw is None:
        return []
    return [v.strip() for v in raw.split("|") if v.strip()]


def _identifier_values(name: str, raw: str) -> tuple[list[str], list[str]]:
    exact, gtins = [], []
    for value in split_values(raw):
        try:
            found = identifiers.parse(value)
        except identifiers.InvalidIdentifier as exc:
            raise QueryParameterInvalid(f"{name}: {exc}") from None
        if found is not None and found.kind == "gtin" and value.lower().startswith("urn:"):
            gtins.append(found.gtin)  # urn:epc:idpat:sgtin:...*: every item of the GTIN
        else:
            exact.append(found.uri if found is not None else value)
    if not exact and not gtins:
        raise QueryParameterInvalid(f"{name} needs at least one value")
    return exact, gtins


def build_query(args: dict) -> EventQuery:
    q = EventQuery()
    for value in split_values(args.get("eventType")):
        if value not in mapping.EVENT_TYPES:
            raise QueryParameterInvalid(f"eventType {value!r} is not one of "
                                        f"{', '.join(mapping.EVENT_TYPES)}")
        q.event_types.append(value)
    q.since, q.until = args.get("GE_eventTime"), args.get("LT_eventTime")
    q.recorded_since, q.recorded_until = args.get("GE_recordTime"), args.get("LT_recordTime")
    for lo, hi, what in ((q.since, q.until, "eventTime"),
                         (q.recorded_since, q.recorded_until, "recordTime")):
        if lo and hi and lo >= hi:
            raise QueryParameterInvalid(f"GE_{what} must be before LT_{what}")
    for value in split_values(args.get("EQ_action")):
        if value not in ACTIONS:
            raise QueryParameterInvalid(f"EQ_action {value!r} is not ADD, OBSERVE or DELETE")
        q.actions.append(value)
    q.biz_steps = [vocabulary_term(v, mapping.CBV_BIZSTEPS, "BizStep-",
                                   "urn:epcglobal:cbv:bizstep:")
                   for v in split_values(args.get("EQ_bizStep"))]
    q.dispositions = [vocabulary_term(v, mapping.CBV_DISPOSITIONS, "Disp-",
                                      "urn:epcglobal:cbv:disp:")
                      for v in split_values(args.get("EQ_disposition"))]
    q.event_ids = split_values(args.get("EQ_eventID"))
    for name, role in EQ_PLACES.items():
        if args.get(name) is not None:
            exact, _gtins = _identifier_values(name, args[name])
            q.matches.append(((role,), exact, []))
    for name, roles in MATCH_ROLES.items():
        if args.get(name) is not None:
            exact, gtins = _identifier_values(name, args[name])
            q.matches.append((roles, exact, gtins))
    return q


def _apply(query: Select, q: EventQuery) -> Select:
    if q.event_types:
        query = query.where(EpcisEvent.event_type.in_(q.event_types))
    if q.since:
        query = query.where(EpcisEvent.event_time >= q.since)
    if q.until:
        query = query.where(EpcisEvent.event_time < q.until)
    if q.recorded_since:
        query = query.where(EpcisEvent.record_time >= q.recorded_since)
    if q.recorded_until:
        query = query.where(EpcisEvent.record_time < q.recorded_until)
    if q.actions:
        query = query.where(EpcisEvent.action.in_(q.actions))
    if q.biz_steps:
        query = query.where(EpcisEvent.biz_step.in_(q.biz_steps))
    if q.dispositions:
        query = query.where(EpcisEvent.disposition.in_(q.dispositions))
    if q.event_ids:
        query = query.where(EpcisEvent.event_id.in_(q.event_ids))
    for roles, exact, gtins in q.matches:
        ident = EpcisEventIdentifier
        found = or_(ident.identifier.in_(exact), ident.gtin.in_(gtins)) if gtins \
            else ident.identifier.in_(exact)
        query = query.where(EpcisEvent.id.in_(
            select(ident.event_pk).where(ident.role.in_(roles), found)))
    return query


@dataclass
class EventPage:
    events: list[dict]
    next_token: str | None


def query_events(session: Session, principal: Principal, q: EventQuery, *,
                 hooks: Sequence[object] = (), per_page: int = DEFAULT_PER_PAGE,
                 token: str | None = None) -> EventPage:
    """One page in recording order; paging by the last id seen (an index range per page,
    nothing skipped or repeated when events arrive between pages)."""
    query = _apply(select(EpcisEvent.id, EpcisEvent.kind, EpcisEvent.body), q)
    visible = visibility(session, principal, hooks)
    if visible is not None:
        query = query.where(visible)
    if token:
        query = query.where(EpcisEvent.id > decode_token(token))
    rows = session.execute(query.order_by(EpcisEvent.id).limit(per_page + 1)).all()
    more = len(rows) > per_page
    rows = rows[:per_page]
    return EventPage([seen_by(principal, kind, body) for _id, kind, body in rows],
                     encode_token(rows[-1][0]) if more else None)


def get_event(session: Session, principal: Principal, event_id: str,
              hooks: Sequence[object] = ()) -> dict:
    query = select(EpcisEvent.kind, EpcisEvent.body).where(EpcisEvent.event_id == event_id)
    visible = visibility(session, principal, hooks)
    if visible is not None:
        query = query.where(visible)
    row = session.execute(query).first()
    if row is None:
        # Someone else's event is reported as absent, like every other object.
        raise NotFound(f"no event {event_id}")
    return seen_by(principal, row.kind, row.body)


def query_document(events: list[dict], namespace: str, query_name: str = "SimpleEventQuery"
                   ) -> dict:
    """An EPCISQueryDocument holding one page of events."""
    return {
        "@context": [mapping.EPCIS_CONTEXT, {"scanapp": namespace}],
        "type": "EPCISQueryDocument",
        "schemaVersion": mapping.SCHEMA_VERSION,
        "creationDate": mapping.format_time(utcnow()),
        "epcisBody": {"queryResults": {"queryName": query_name,
                                       "resultsBody": {"eventList": events}}},
    }
