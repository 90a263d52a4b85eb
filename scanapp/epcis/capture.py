"""The capture pipeline: EPCIS 2.0 events in, checked, stored once, indexed, handed to hooks.

One path for every event that enters the repository from outside scanapp's own lifecycle:
the EPCIS REST binding (``POST /epcis/capture``, ``POST /epcis/events``) and scanapp.trace's
plain JSON API both call ``capture_events``.

Per event, in document order:

1. schema: the official EPCIS 2.0 JSON Schema (``validation``), plus what the schema cannot
   say: an eventTime in the future beyond ``MAX_CLOCK_SKEW``, GS1 keys that are not valid
   (check digits, lengths), identifiers longer than the index holds;
2. eventID: the one given, or the EPCIS event hash (``eventhash``) of the event's content;
3. duplicates: an eventID already stored is never stored again. When the stored event has
   the same content (same event hash) it is reported in ``already_stored``, which is not an
   error (a re-sent document); a different event under a stored eventID is a problem;
4. ``hook.check`` for every hook (access and referential checks of scanapp.trace);
5. store the row (``source`` 'capture', the capturing organisation) and ``hook.apply``.

The identifier index rows and the outbox rows of a document are written together after the
last event, in one executemany each: hooks that need their own derived rows see them (they
wrote them), but must not rely on ``epcis_event_identifiers`` rows of the same document.

Transactions: nothing here commits. With ``proceed=False`` (the binding's ``rollback``, the
default) the document runs inside a savepoint that is rolled back when any problem is found,
after every event was checked, so that every problem is listed and nothing is stored. With
``proceed=True`` each event with hooks runs in its own savepoint, and a failing event leaves
no trace while the good ones stay. The caller commits (``capture_service`` for the binding).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
import json
import operator
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from psycopg import errors as psycopg_errors
from sqlalchemy import String, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db import any_of, utcnow
from . import eventhash, identifiers, mapping, validation
from .models import EpcisEvent, EpcisEventIdentifier, EpcisOutbox
from .problems import Problem, event_pointer

if TYPE_CHECKING:
    from ..auth.service import Principal

__all__ = ["CaptureHook", "CaptureResult", "Problem", "StoredEvent", "capture_events",
           "document_state", "index_entries", "paused_gc", "write_stored_events",
           "ROLES", "MAX_CLOCK_SKEW"]

# A device clock a little ahead of ours is normal; an event hours ahead is a mistake.
MAX_CLOCK_SKEW = dt.timedelta(minutes=5)
MAX_IDENTIFIER = 255
_DB_CHUNK = 500

# Identifier roles in the index (see models.EpcisEventIdentifier).
EPC_LIST_ROLES = {"epcList": "epc", "childEPCs": "child", "inputEPCList": "input",
                  "outputEPCList": "output"}
QUANTITY_ROLES = {"quantityList": "epcClass", "childQuantityList": "childEPCClass",
                  "inputQuantityList": "inputEPCClass", "outputQuantityList": "outputEPCClass"}
ROLES = ("epc", "parent", "child", "input", "output", "epcClass", "childEPCClass",
         "inputEPCClass", "outputEPCClass", "bizLocation", "readPoint", "source", "destination")


_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_was_enabled = False
_gc_paused_since = 0.0
# Captures that overlap without a gap (many clients on one gthread worker) would otherwise
# keep collection off for good and let cyclic garbage grow: after this long paused, the
# capture that ends collects once while the others go on.
GC_MAX_PAUSE_S = 5.0


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while a document is parsed and captured.

    A 1,000-event document allocates some 100,000 containers (its parsed JSON, rows, index
    entries), almost none of them in cycles (reference counting frees them). Each 70,000
    allocations CPython walks every tracked object of the process, the app's own hundreds
    of thousands included: measured, a third of the app's CPU per captured event (96 of
    311 us). Collection resumes when the last capture of the process ends (other threads'
    cycles wait that long, a fraction of a second)."""
    global _gc_pausers, _gc_was_enabled, _gc_paused_since
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            _gc_paused_since = time.monotonic()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        collect = False
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()
            elif _gc_was_enabled and time.monotonic() - _gc_paused_since > GC_MAX_PAUSE_S:
                _gc_paused_since = time.monotonic()
                collect = True
        if collect:
            gc.collect()


class CaptureHook(Protocol):
    """What another package (scanapp.trace) plugs into capture, per app.

    ``check`` returns the problems of one event (access, unknown lots or places); it may read
    rows that ``apply`` flushed for earlier events of the same document. ``apply`` writes the
    rows derived from a stored event in the same transaction. On PostgreSQL ``stored.id`` is
    already set when ``apply`` runs (ids are taken from the sequence for the whole document),
    so a hook needs no flush of its own to point rows at the event; on SQLite it is set by
    the next flush. An optional third method, ``visible_event_filter(session, principal)``,
    returns an SQLAlchemy clause on ``EpcisEvent`` widening what a principal may read.

    Two more optional methods let a hook work per document instead of per event:
    ``prepare(session, principal, events)`` is called once before the first ``check`` with
    the (index, event) pairs that will be checked (to load what they name in one query per
    kind), and ``finish(session, principal)`` once after the last ``apply``, when the
    document's events, index and outbox rows are in the transaction and the document is kept
    (a hook may defer its derived rows to it). ``finish`` is not called when a rollback
    document is refused. Both are called only in ``rollback`` mode (with ``proceed`` each
    event has its own savepoint, and hooks work per event); a hook keeps its per-document
    state in ``document_state(session)``, which the capture drops at the end. On
    PostgreSQL, when every hook has ``finish``, events are not ORM objects: ``stored`` is a
    ``StoredEvent`` (id, event_id, body) and the events are written by COPY after the last
    one; a hook that writes rows pointing at them before ``finish`` calls
    ``write_stored_events(session)`` first.
    """

    def check(self, session: Session, principal: Principal, event: dict,
              index: int) -> list[Problem]: ...

    def apply(self, session: Session, principal: Principal, event: dict,
              stored: EpcisEvent) -> None: ...


@dataclass
class StoredEvent:
    """An event stored on the bulk path (COPY, no ORM object): what hooks and callers read."""

    id: int
    event_id: str
    body: dict


_BULK = "epcis.capture.bulk"
_DOCUMENT = "epcis.capture.document"


def document_state(session: Session) -> dict | None:
    """Scratch space for hooks, for one document: present from ``prepare`` to ``finish``
    of a capture that works per document (``rollback``, the default), None otherwise (with
    ``proceed`` every event is checked and applied on its own, in its own savepoint). The
    capture drops it at the end, whether the document is kept or refused."""
    return session.info.get(_DOCUMENT)


def write_stored_events(session: Session) -> None:
    """Write (COPY) the events of the document being captured that are not in the database
    yet. On the bulk path the events go in after the last one; a hook that must write rows
    pointing at them earlier (a foreign key to ``epcis_events``) calls this first. Nothing
    happens outside a bulk capture."""
    pending = session.info.get(_BULK)
    if not pending or pending["written"] == len(pending["rows"]):
        return
    rows = pending["rows"][pending["written"]:]
    pending["written"] = len(pending["rows"])
    cursor = session.connection().connection.driver_connection.cursor()
    body = _EVENT_COLUMNS.index("body")
    values = [list(_EVENT_VALUES(row)) for row in rows]
    for row in values:
        row[body] = json.dumps(row[body], ensure_ascii=False)
    _copy_tuples(cursor, "epcis_events", _EVENT_COLUMNS, values)


@dataclass
class CaptureResult:
    stored_ids: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # eventIDs whose identical event was stored before: not stored twice, not an error.
    already_stored: list[str] = field(default_factory=list)
    # The rows stored, in document order: ORM objects (SQLite, or a hook without
    # ``finish``), else ``StoredEvent``s (PostgreSQL's bulk path: id, event_id, body).
    stored: list = field(default_factory=list)

    @property
    def success(self) -> bool:
        return not self.problems


# -- what an event names -------------------------------------------------------------------


def _ids_in(event: dict):
    """(role, raw identifier, where) of every identifier the event names; ``where`` makes
    its JSON path (only a problem needs it: ``_path(where)``)."""
    for name, role in EPC_LIST_ROLES.items():
        values = event.get(name)
        if isinstance(values, list):
            for i, value in enumerate(values):
                yield role, value, (name, i, None)
    if "parentID" in event:
        yield "parent", event["parentID"], ("parentID", None, None)
    for name, role in QUANTITY_ROLES.items():
        values = event.get(name)
        if isinstance(values, list):
            for i, element in enumerate(values):
                if isinstance(element, dict) and "epcClass" in element:
                    yield role, element["epcClass"], (name, i, "epcClass")
    for name in ("readPoint", "bizLocation"):
        place = event.get(name)
        if isinstance(place, dict) and "id" in place:
            yield name, place["id"], (name, None, "id")
    for name, role in (("sourceList", "source"), ("destinationList", "destination")):
        values = event.get(name)
        if isinstance(values, list):
            for i, element in enumerate(values):
                if isinstance(element, dict) and role in element:
                    yield role, element[role], (name, i, role)


def _path(where: tuple) -> str:
    return "".join(f"/{part}" for part in where if part is not None)


def index_entries(event: dict, index: int | None = None, strict: bool = True
                  ) -> tuple[list[tuple[str, str, str | None]], list[Problem]]:
    """The (role, canonical identifier, GTIN-14) index entries of an event, deduplicated.

    With ``strict``, an invalid GS1 key or an over-long identifier is a problem; without it
    (scanapp's own events) it is left out of the index."""
    entries: dict[tuple[str, str], str | None] = {}
    problems: list[Problem] = []
    for role, raw, where in _ids_in(event):
        if not isinstance(raw, str):
            continue
        try:
            found = identifiers.parse(raw)
        except identifiers.InvalidIdentifier as exc:
            if strict:
                problems.append(Problem(index, event.get("eventID"),
                                        event_pointer(index, _path(where)),
                                        "invalid_identifier", str(exc)))
            continue
        value = found.uri if found is not None else raw.strip()
        if len(value) > MAX_IDENTIFIER:
            if strict:
                problems.append(Problem(index, event.get("eventID"),
                                        event_pointer(index, _path(where)),
                                        "identifier_too_long",
                                        f"identifiers are at most {MAX_IDENTIFIER} characters"))
            continue
        entries.setdefault((role, value), found.gtin if found is not None else None)
    return [(role, value, gtin) for (role, value), gtin in entries.items()], problems


def vocabulary_term(value, terms: frozenset[str], web_prefix: str,
                    urn_prefix: str) -> str | None:
    """A CBV term bare (as scanapp stores its own), any other vocabulary as given."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    for prefix in (eventhash.CBV + web_prefix, urn_prefix):
        if text.startswith(prefix) and text[len(prefix):] in terms:
            return text[len(prefix):]
    return text


def parse_event_time(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value.strip().replace("z", "Z"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


# -- the pipeline --------------------------------------------------------------------------


@dataclass
class _Prepared:
    index: int
    body: dict
    event_id: str
    entries: list[tuple[str, str, str | None]]
    event_time: dt.datetime


def _prepare(event, index: int, namespaces: dict[str, str], now: dt.datetime,
             validate: bool) -> tuple[_Prepared | None, list[Problem]]:
    problems = validation.event_problems(event, index) if validate else []
    if problems or not isinstance(event, dict):
        return None, problems or [Problem(index, None, event_pointer(index), "schema",
                                          "an event is a JSON object")]
    body = dict(event)
    body.pop("recordTime", None)  # the repository sets it
    if namespaces and "@context" not in body:
        # The document's prefixes travel with the event, so its extension fields keep
        # their meaning when it is served alone or in another document.
        body["@context"] = [dict(namespaces)]
    event_id = body.get("eventID")
    if not event_id:
        event_id = body["eventID"] = eventhash.event_hash_id(body, namespaces)
    if len(event_id) > MAX_IDENTIFIER:
        problems.append(Problem(index, event_id, event_pointer(index, "/eventID"),
                                "identifier_too_long",
                                f"an eventID is at most {MAX_IDENTIFIER} characters"))
    try:
        event_time = parse_event_time(body["eventTime"])
    except (KeyError, TypeError, ValueError):
        problems.append(Problem(index, event_id, event_pointer(index, "/eventTime"), "schema",
                                "eventTime must be an ISO 8601 date-time with an offset"))
        return None, problems
    if event_time > now + MAX_CLOCK_SKEW:
        problems.append(Problem(
            index, event_id, event_pointer(index, "/eventTime"), "future_event_time",
            f"eventTime {body['eventTime']} is in the future (more than "
            f"{int(MAX_CLOCK_SKEW.total_seconds() // 60)} minutes ahead of the server)"))
    if body.get("type") not in mapping.EVENT_TYPES:
        # The schema lets extension event types through; nothing here could index or query
        # them, so they are refused rather than stored half understood.
        problems.append(Problem(index, event_id, event_pointer(index, "/type"),
                                "unsupported_event_type",
                                f"type {body.get('type')!r} is not one of the EPCIS 2.0 event "
                                f"types this repository stores ({', '.join(mapping.EVENT_TYPES)})"))
    for name in ("bizStep", "disposition"):
        if isinstance(body.get(name), str) and len(body[name]) > MAX_IDENTIFIER:
            problems.append(Problem(index, event_id, event_pointer(index, f"/{name}"),
                                    "identifier_too_long",
                                    f"{name} is at most {MAX_IDENTIFIER} characters"))
    entries, id_problems = index_entries(body, index)
    problems += id_problems
    if problems:
        return None, problems
    return _Prepared(index, body, event_id, entries, event_time), []


def _stored_hashes(session: Session, event_ids: list[str],
                   namespaces: dict[str, str]) -> dict[str, str]:
    """eventID -> content hash of the events already stored under these eventIDs."""
    found: dict[str, str] = {}
    postgres = session.get_bind().dialect.name == "postgresql"
    for start in range(0, len(event_ids), _DB_CHUNK):
        chunk = event_ids[start:start + _DB_CHUNK]
        # One array parameter on PostgreSQL: an IN list of 500 placeholders costs the driver
        # more to parse than the query costs the server.
        match = any_of(EpcisEvent.event_id, chunk, String) if postgres \
            else EpcisEvent.event_id.in_(chunk)
        for event_id, body in session.execute(
                select(EpcisEvent.event_id, EpcisEvent.body).where(match)):
            found[event_id] = eventhash.event_hash_id(body, namespaces)
    return found


def _brands(session: Session, gtins: set[str]) -> dict[str, int]:
    from ..products.models import Product

    if not gtins:
        return {}
    return dict(session.execute(select(Product.gtin, Product.brand_org_id)
                                .where(Product.gtin.in_(sorted(gtins)))).all())


def _allocate_ids(session: Session, count: int) -> list[int | None]:
    """Primary keys for ``count`` events, taken from the sequence in one query (PostgreSQL).

    With their ids known, the ORM inserts a document's events as one pipelined executemany
    instead of a multi-row INSERT ... RETURNING, whose 14,000 placeholders the driver parses
    in Python (measured: most of a 1,000-event document's client time). SQLite assigns ids
    itself."""
    if count == 0 or session.get_bind().dialect.name != "postgresql":
        return [None] * count
    return list(session.scalars(text(
        "SELECT nextval(pg_get_serial_sequence('epcis_events', 'id')) "
        "FROM generate_series(1, :n)"), {"n": count}))


def _row(item: _Prepared, principal: Principal | None, brands: dict[str, int],
         now: dt.datetime, pk: int | None = None) -> EpcisEvent:
    # The values go straight into the new object's __dict__: the ORM inserts a pending
    # object from that dict, and EpcisEvent has no attribute events or backrefs to fire.
    # Measured: 7 us against 80 us through the keyword constructor's instrumented setattr,
    # once per captured event when hooks are registered.
    row = EpcisEvent()
    row.__dict__.update(_row_values(item, principal, brands, now, pk))
    return row


@functools.lru_cache(maxsize=4)
def _record_time(now: dt.datetime) -> str:
    return mapping.format_time(now)  # the same for every event of a document


def _row_values(item: _Prepared, principal: Principal | None, brands: dict[str, int],
                now: dt.datetime, pk: int | None = None) -> dict:
    body = item.body
    body["recordTime"] = _record_time(now)
    gtins = {gtin for _role, _value, gtin in item.entries if gtin}
    brand_ids = {brands[g] for g in gtins if g in brands}
    return dict(
        id=pk, event_id=item.event_id, kind="captured", event_type=body["type"],
        action=body.get("action"),
        biz_step=vocabulary_term(body.get("bizStep"), mapping.CBV_BIZSTEPS, "BizStep-",
                                 "urn:epcglobal:cbv:bizstep:"),
        disposition=vocabulary_term(body.get("disposition"), mapping.CBV_DISPOSITIONS,
                                    "Disp-", "urn:epcglobal:cbv:disp:"),
        gtin=next(iter(gtins)) if len(gtins) == 1 else None,
        brand_org_id=next(iter(brand_ids)) if len(brand_ids) == 1 else None,
        source="capture",
        captured_by_org_id=principal.org_id if principal is not None else None,
        event_time=item.event_time, record_time=now, body=body,
        printer_org_id=None, range_id=None)


_EVENT_COLUMNS = ("id", "event_id", "kind", "event_type", "action", "biz_step", "disposition",
                  "gtin", "brand_org_id", "printer_org_id", "range_id", "event_time",
                  "record_time", "body", "source", "captured_by_org_id")
_EVENT_VALUES = operator.itemgetter(*_EVENT_COLUMNS)


def _write_index_and_outbox(session: Session, stored: list, now: dt.datetime) -> None:
    """Bulk rows after the last event: the events themselves on the bulk path (dicts), the
    index and outbox rows always."""
    if not stored:
        return
    bulk = isinstance(stored[0][0], dict)
    if not bulk:
        session.flush()  # the events' ids, for the rows that point at them
    pks = [row["id"] if bulk else row.id for row, _item in stored]
    # Tuples in column order (the COPY's rows), no dict per row.
    index_rows = [(pk, role, value, gtin)
                  for pk, (_row, item) in zip(pks, stored, strict=True)
                  for role, value, gtin in item.entries]
    outbox_rows = [(pk, now, 0, now) for pk in pks]
    index_columns = ("event_pk", "role", "identifier", "gtin")
    outbox_columns = ("event_pk", "created_at", "attempts", "next_attempt_at")
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # COPY: one stream for thousands of rows, where executemany sent a statement a row
        # (measured: 0.4 s against a few ms for a 1,000-event document's 9,000 rows).
        cursor = connection.connection.driver_connection.cursor()
        if bulk:
            write_stored_events(session)
        _copy_tuples(cursor, "epcis_event_identifiers", index_columns, index_rows)
        _copy_tuples(cursor, "epcis_outbox", outbox_columns, outbox_rows)
        return
    if index_rows:
        connection.execute(insert(EpcisEventIdentifier.__table__),
                           [dict(zip(index_columns, row, strict=True)) for row in index_rows])
    connection.execute(insert(EpcisOutbox.__table__),
                       [dict(zip(outbox_columns, row, strict=True)) for row in outbox_rows])


def _copy_tuples(cursor, table: str, columns: tuple[str, ...], rows: list) -> None:
    if not rows:
        return
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        write = copy.write_row
        for row in rows:
            write(row)


def capture_events(session: Session, principal: Principal | None, events: list[dict], *,
                   hooks: Sequence[CaptureHook] = (), proceed: bool = False,
                   namespaces: dict[str, str] | None = None,
                   validate: bool = True) -> CaptureResult:
    """Check and store ``events`` (a document's eventList) in ``session``; never commits.

    ``namespaces`` are the document's @context prefixes (for the event hash of extension
    fields); ``validate=False`` is for callers that validated the events already.
    """
    now = utcnow()
    namespaces = namespaces or {}
    result = CaptureResult()
    prepared: list[_Prepared] = []
    for index, event in enumerate(events):
        item, problems = _prepare(event, index, namespaces, now, validate)
        result.problems += problems
        if item is not None:
            prepared.append(item)

    stored_hashes = _stored_hashes(session, list(dict.fromkeys(p.event_id for p in prepared)),
                                   namespaces)
    fresh: list[_Prepared] = []
    # Remembered, so that the same event twice in one document is stored once; its hash is
    # only computed when its eventID comes again.
    seen: dict[str, _Prepared] = {}
    for item in prepared:
        known = stored_hashes.get(item.event_id)
        if known is None and item.event_id in seen:
            known = eventhash.event_hash_id(seen[item.event_id].body, namespaces)
        if known is None:
            seen[item.event_id] = item
            fresh.append(item)
            continue
        if known == eventhash.event_hash_id(item.body, namespaces):
            result.already_stored.append(item.event_id)
        else:
            result.problems.append(Problem(
                item.index, item.event_id, event_pointer(item.index, "/eventID"),
                "duplicate_event_id",
                f"eventID {item.event_id} is already stored with a different event; "
                "an eventID names one event only"))

    brands = _brands(session, {g for item in fresh for _r, _v, g in item.entries if g})
    document_savepoint = None if proceed else session.begin_nested()
    stored: list = []
    pks = _allocate_ids(session, len(fresh))
    # Without ORM objects on PostgreSQL: the events go by COPY with the index rows (about
    # 60 us an event less than building and flushing ORM objects), when every hook works
    # per document (has ``finish``, so writes nothing that points at an event before it,
    # or calls ``write_stored_events`` first).
    # ``proceed`` keeps every event apart (its own savepoint): hooks then work per event.
    per_document = not proceed
    bulk = pks[:1] != [None] and (not hooks or (per_document and all(
        getattr(h, "finish", None) is not None for h in hooks)))
    if bulk:
        session.info[_BULK] = {"rows": [], "written": 0}
    if per_document and hooks:
        session.info[_DOCUMENT] = {}
    try:
        for hook in hooks if per_document else ():
            prepare = getattr(hook, "prepare", None)
            if prepare is not None:
                prepare(session, principal, [(item.index, item.body) for item in fresh])
        for item, pk in zip(fresh, pks, strict=True):
            if bulk and not hooks:
                values = _row_values(item, principal, brands, now, pk)
                session.info[_BULK]["rows"].append(values)
                stored.append((values, item))
                continue
            stored_one = _run_one(session, principal, item, pk, hooks, brands, now, proceed,
                                  result, bulk)
            if stored_one is not None:
                stored.append((stored_one, item))
        if proceed or not result.problems:
            _write_index_and_outbox(session, stored, now)
            for hook in hooks if per_document else ():
                finish = getattr(hook, "finish", None)
                if finish is not None:
                    finish(session, principal)
    # COPY goes around SQLAlchemy: a duplicate eventID surfaces as the driver's own error.
    except (IntegrityError, psycopg_errors.UniqueViolation):
        # Another request stored one of these eventIDs between our check and our insert.
        if document_savepoint is not None:
            document_savepoint.rollback()
        else:
            session.rollback()
        result.problems.append(Problem(None, None, None, "concurrent_capture",
                                       "an event of this document was stored by another "
                                       "request at the same moment; send the document again"))
        result.stored, result.stored_ids = [], []
        return result
    finally:
        session.info.pop(_BULK, None)
        session.info.pop(_DOCUMENT, None)
    if document_savepoint is not None:
        if result.problems:
            document_savepoint.rollback()
            return CaptureResult(problems=result.problems,
                                 already_stored=result.already_stored)
        document_savepoint.commit()
    result.stored = [StoredEvent(row["id"], row["event_id"], row["body"])
                     if isinstance(row, dict) else row for row, _item in stored]
    result.stored_ids = [item.event_id for _row, item in stored]
    return result


def _run_one(session: Session, principal, item: _Prepared, pk: int | None,
             hooks: Sequence[CaptureHook],
             brands: dict[str, int], now: dt.datetime, proceed: bool,
             result: CaptureResult, bulk: bool = False) -> EpcisEvent | dict | None:
    """check -> store -> apply for one event; None when it is not stored. On the bulk path
    the event is a row for COPY (hooks get a ``StoredEvent``), else an ORM object."""
    savepoint = session.begin_nested() if proceed and hooks else None
    problems: list[Problem] = []
    for hook in hooks:
        problems += hook.check(session, principal, item.body, item.index) or []
    if problems:
        result.problems += problems
        if savepoint is not None:
            savepoint.rollback()
        return None
    if bulk:
        values = _row_values(item, principal, brands, now, pk)
        session.info[_BULK]["rows"].append(values)
        row = StoredEvent(pk, item.event_id, values["body"])
    else:
        row = _row(item, principal, brands, now, pk)
        session.add(row)
    for hook in hooks:
        hook.apply(session, principal, item.body, row)
    if savepoint is not None:
        savepoint.commit()
    return values if bulk else row
