"""The capture hook: what scanapp checks in, and derives from, every captured EPCIS event.

``check`` lists every problem of one event (access, unknown lot/location/party, time in the
future, bad quantities, a transformation feeding itself or closing a cycle); ``apply``
writes the derived rows (lots, lot events, lineage edges) in the capture's transaction.
Both follow the contract in scanapp/epcis/capture.py; this module is registered on the app
by ``scanapp.trace.init_app`` (the epcis package never imports trace).

Events about GTINs that no product of scanapp carries are another system's goods (scanapp
acting as an EPCIS repository): they are stored as sent and nothing is derived from them,
but they may not name another organisation's registered locations.

Per document (``prepare`` / ``finish``, see the CaptureHook contract): ``prepare`` parses
every event and loads the products, lots, locations and parties the whole document names in
one query per kind; ``check`` then reads those maps (a lot made by an earlier event of the
document is in them too), and ``apply`` only builds rows: new lots are added to the session,
lot events and lineage edges wait until ``finish`` (or until a check needs what the database
says about them: a cycle, goods received, a recall), which writes them with one COPY per
table on PostgreSQL, queues the touched lots for the portal once and bumps the trace version
once. Without ``prepare`` (a caller outside ``capture_events``) every event is checked
against the database and written at once, as before.
"""

from __future__ import annotations

import datetime as dt
import json
import operator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from sqlalchemy import String, or_, select
from sqlalchemy.orm import Session, joinedload

from ..auth.models import Role
from ..db import any_of, utcnow
from ..epcis import mapping
from ..epcis.capture import Problem, document_state, write_stored_events
from ..products.models import Product
from . import codes, lineage, portal
from .access import (
    bump_version,
    lot_visibility,
    manages_location,
    may_write_gtin,
    org_party,
    reads_all,
)
from .models import LineageEdge, Location, Lot, LotEvent, Party
from .recall import is_recall, mark_recalled, may_recall

# Steps that may still touch a recalled lot (holding it, destroying it, looking at it).
RECALL_SAFE_STEPS = frozenset({"holding", "destroying", "inspecting", "sampling", "storing",
                               "receiving", "accepting", "arriving", "unloading"})
PARTY_TYPES = ("owning_party", "possessing_party")


@dataclass
class LotRef:
    gtin: str
    lot: str
    role: str            # object | child | input | output
    quantity: Decimal | None
    uom: str | None
    field: str


@dataclass
class Parsed:
    """The parts of one event the trace domain cares about."""

    event_type: str
    action: str | None
    biz_step: str | None
    time: dt.datetime | None
    lots: list[LotRef] = field(default_factory=list)
    gtins: set[str] = field(default_factory=set)
    location: tuple[str, str] | None = None
    location_field: str | None = None
    raw_location: str | None = None
    sources: list[tuple[str, str, str]] = field(default_factory=list)  # (type, id, field)
    destinations: list[tuple[str, str, str]] = field(default_factory=list)
    document: str | None = None
    bad_quantities: list[tuple[str, str]] = field(default_factory=list)
    # (gtin, lot) -> Lot found by check, reused by apply (None: not looked up yet)
    existing: dict | None = None

    def creates(self, ref: LotRef) -> bool:
        return ref.role == "output" or (ref.role == "object" and self.action == "ADD")


@dataclass
class _Document:
    """What ``prepare`` loaded for one document, and the rows ``apply`` deferred."""

    parsed: dict[int, Parsed] = field(default_factory=dict)          # id(event) -> Parsed
    products: dict[str, Product] = field(default_factory=dict)
    lots: dict[tuple[str, str], Lot] = field(default_factory=dict)  # found or made here
    locations: dict[tuple[str, str], Location | None] = field(default_factory=dict)
    parties: dict[str, Party | None] = field(default_factory=dict)  # gln -> party
    makers: dict[int, Party] = field(default_factory=dict)          # org id -> its party
    received: set[tuple[str, str]] | None = None
    lot_events: list[tuple[dict, Lot, object]] = field(default_factory=list)
    edges: list[tuple[dict, Lot, Lot, object]] = field(default_factory=list)
    touched: dict[int, Lot] = field(default_factory=dict)           # id(lot) -> lot
    changed: bool = False


def _document(session: Session) -> _Document | None:
    state = document_state(session)
    return state.get("trace") if state is not None else None


def _any(session: Session, column, values):
    """``column = ANY(:array)`` on PostgreSQL (one parameter), an IN list elsewhere."""
    values = sorted(values)
    if session.get_bind().dialect.name == "postgresql":
        return any_of(column, values, String)
    return column.in_(values)


def _short_step(value: str | None) -> str | None:
    if not value:
        return None
    for prefix in ("urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-",
                   "cbv:BizStep-"):
        if value.startswith(prefix):
            return value[len(prefix):]
    return value


def parse_time(value) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _quantity(value) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal(-1)


def parse_event(event: dict, index: int) -> Parsed:
    base = f"/epcisBody/eventList/{index}"
    kind = event.get("type", "")
    parsed = Parsed(kind, event.get("action"), _short_step(event.get("bizStep")),
                    parse_time(event.get("eventTime")))
    lists = {
        "ObjectEvent": (("epcList", "quantityList", "object"),),
        "TransactionEvent": (("epcList", "quantityList", "object"),),
        "AggregationEvent": (("childEPCs", "childQuantityList", "child"),),
        "TransformationEvent": (("inputEPCList", "inputQuantityList", "input"),
                                ("outputEPCList", "outputQuantityList", "output")),
    }.get(kind, ())
    for epc_key, qty_key, role in lists:
        for i, epc in enumerate(event.get(epc_key) or []):
            found = codes.parse_lot(epc)
            gtin = found[0] if found else codes.parse_item_gtin(epc)
            if gtin:
                parsed.gtins.add(gtin)
            if found:
                parsed.lots.append(LotRef(found[0], found[1], role, None, None,
                                          f"{base}/{epc_key}/{i}"))
        for i, element in enumerate(event.get(qty_key) or []):
            if not isinstance(element, dict):
                continue
            where = f"{base}/{qty_key}/{i}"
            quantity = _quantity(element.get("quantity"))
            if quantity is not None and quantity <= 0:
                parsed.bad_quantities.append((where + "/quantity", str(element.get("quantity"))))
            found = codes.parse_lot(element.get("epcClass", ""))
            if found:
                parsed.gtins.add(found[0])
                parsed.lots.append(LotRef(found[0], found[1], role, quantity,
                                          element.get("uom"), where))
            else:
                gtin = codes.parse_class_gtin(element.get("epcClass", ""))
                if gtin:
                    parsed.gtins.add(gtin)
    for key in ("bizLocation", "readPoint"):
        value = (event.get(key) or {}).get("id") if isinstance(event.get(key), dict) else None
        if value:
            parsed.raw_location, parsed.location_field = value, f"{base}/{key}/id"
            parsed.location = codes.parse_location(value)
            break
    for key, target, out in (("sourceList", "source", parsed.sources),
                             ("destinationList", "destination", parsed.destinations)):
        for i, entry in enumerate(event.get(key) or []):
            if isinstance(entry, dict) and entry.get(target):
                out.append((_short_type(entry.get("type")), entry[target],
                            f"{base}/{key}/{i}/{target}"))
    for entry in event.get("bizTransactionList") or []:
        if isinstance(entry, dict) and entry.get("bizTransaction"):
            parsed.document = str(entry["bizTransaction"])[:200]
            break
    return parsed


def _short_type(value: str | None) -> str:
    value = value or ""
    for prefix in ("urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-", "cbv:SDT-"):
        if value.startswith(prefix):
            return value[len(prefix):]
    return value


class TraceCaptureHook:
    """Registered in ``app.extensions["scanapp.epcis.capture_hooks"]``."""

    # -- per document ---------------------------------------------------------------------
    def prepare(self, session: Session, principal, events) -> None:
        """Parse the document's events and load what they name, one query per kind."""
        session.info.pop("trace.hook_cache", None)
        state = document_state(session)
        if state is None:  # not a per-document capture: check and apply event by event
            return
        doc = state["trace"] = _Document()
        state[LOT_IDS] = set()
        gtins: set[str] = set()
        keys: set[tuple[str, str]] = set()
        places: set[tuple[str, str]] = set()
        glns: set[str] = set()
        for index, event in events:
            parsed = parse_event(event, index)
            doc.parsed[id(event)] = parsed
            gtins |= parsed.gtins
            keys |= {(r.gtin, r.lot) for r in parsed.lots}
            if parsed.location is not None:
                places.add(parsed.location)
            for kind, ident, _where in parsed.sources + parsed.destinations:
                if kind in PARTY_TYPES:
                    gln = codes.parse_party(ident)
                    if gln is not None:
                        glns.add(gln)
                elif kind == "location":
                    sgln = codes.parse_location(ident)
                    if sgln is not None:
                        places.add(sgln)
        if gtins:
            doc.products = {p.gtin: p for p in session.scalars(
                select(Product).where(_any(session, Product.gtin, gtins)))}
        if keys:
            for lot in session.scalars(select(Lot).where(
                    _any(session, Lot.gtin, {g for g, _ in keys}),
                    _any(session, Lot.lot, {lo for _, lo in keys}))):
                if (lot.gtin, lot.lot) in keys:
                    doc.lots[(lot.gtin, lot.lot)] = lot
        if places:
            doc.locations = dict.fromkeys(places)
            for location in session.scalars(
                    select(Location).options(joinedload(Location.party))
                    .where(_any(session, Location.gln, {g for g, _ in places}))):
                if (location.gln, location.extension) in places:
                    doc.locations[(location.gln, location.extension)] = location
        if glns:
            doc.parties = dict.fromkeys(glns)
            for party in session.scalars(select(Party).where(_any(session, Party.gln, glns))):
                doc.parties[party.gln] = party

    def finish(self, session: Session, principal) -> None:
        """Write what the document's events deferred; queue its lots; bump the version."""
        state = document_state(session)
        doc = state.pop("trace", None) if state is not None else None
        if doc is None:
            return
        _write_pending(session, doc)
        if doc.touched:
            portal.enqueue(session, [lot.id for lot in doc.touched.values()])
        if doc.changed:
            bump_version(session)
        session.flush()

    # -- check ----------------------------------------------------------------------------
    def check(self, session: Session, principal, event: dict, index: int) -> list[Problem]:
        doc = _document(session)
        parsed = doc.parsed.get(id(event)) if doc is not None else None
        if parsed is None:
            if index == 0:  # a new document: answers cached for the previous one may be stale
                session.info.pop("trace.hook_cache", None)
            parsed = parse_event(event, index)
            # Kept for apply (same event object, right after a clean check): a recall names
            # a thousand lots, parsed and looked up once.
            _cache(session)[("parsed", id(event))] = parsed
        problems: list[Problem] = []
        event_id = event.get("eventID")
        base = f"/epcisBody/eventList/{index}"

        def problem(code: str, message: str, where: str | None) -> None:
            problems.append(Problem(index=index, event_id=event_id, field=where, code=code,
                                    message=message))

        if principal.role is Role.PRINTER:
            problem("forbidden", "a printer key cannot record supply-chain events", None)
            return problems
        inspector = principal.role is Role.INSPECTOR
        recall = is_recall(event)
        if inspector and parsed.biz_step not in ("inspecting", "sampling") and not recall:
            problem("forbidden", "an inspector records inspecting, sampling and recall "
                    "events only", f"{base}/bizStep")
        products = _products(session, parsed.gtins)
        if not products:
            # No product registered here: another system's goods (the EPCIS repository
            # role). Stored as sent, nothing derived; it may not borrow others' places.
            self._check_foreign_places(session, principal, parsed, problem)
            return problems
        for where, value in parsed.bad_quantities:
            problem("invalid_quantity", f"quantity {value} must be more than zero", where)
        received: set[tuple[str, str]] | None = None
        for gtin in sorted(parsed.gtins):
            product = products.get(gtin)
            if product is None:
                problem("unknown_gtin", f"GTIN {gtin} is not a product registered here",
                        base)
                continue
            if inspector or _may_write(session, principal, product):
                continue
            # Goods shipped to you are yours to receive, store and pass on.
            if received is None:
                received = _received(session, principal)
            refs = [r for r in parsed.lots if r.gtin == gtin]
            if not refs or any((r.gtin, r.lot) not in received for r in refs):
                problem("forbidden", f"GTIN {gtin} is not a product you own, were "
                        "authorised for by its brand, or received", base)
        self._check_lots(session, parsed, products, problem)
        if recall:
            self._check_recall(session, principal, parsed, products, problem)
        else:
            self._check_location(session, principal, parsed, inspector, problem)
        self._check_parties(session, parsed, problem)
        return problems

    def _check_lots(self, session, parsed: Parsed, products, problem) -> None:
        existing = self._existing_lots(session, parsed)
        parsed.existing = existing
        for ref in parsed.lots:
            if ref.gtin not in products:
                continue
            lot = existing.get((ref.gtin, ref.lot))
            try:
                codes.check_ai82(ref.lot, "lot (AI 10)")
            except Exception as exc:  # InvalidInput: report it as this event's problem
                problem("invalid_lot", str(getattr(exc, "message", exc)), ref.field)
                continue
            if lot is None and not parsed.creates(ref):
                problem("unknown_lot", f"lot {ref.lot} of GTIN {ref.gtin} is not known: record "
                        "its harvest or production first", ref.field)
            if (lot is not None and lot.status == "recalled" and not parsed.creates(ref)
                    and parsed.biz_step not in RECALL_SAFE_STEPS):
                problem("lot_recalled", f"lot {ref.lot} of GTIN {ref.gtin} is recalled "
                        f"({lot.recall_reason}); it cannot be {parsed.biz_step or 'used'}",
                        ref.field)
        if parsed.event_type == "TransformationEvent":
            inputs = {(r.gtin, r.lot) for r in parsed.lots if r.role == "input"}
            outputs = {(r.gtin, r.lot) for r in parsed.lots if r.role == "output"}
            same = inputs & outputs
            for gtin, lot in sorted(same):
                problem("output_is_input", f"lot {lot} of GTIN {gtin} is both an input and "
                        "an output of this transformation", None)
            if not same and any(k in existing for k in inputs) \
                    and any(k in existing for k in outputs):
                # The edges of earlier events of this document count: written first.
                doc = _document(session)
                if doc is not None:
                    _write_pending(session, doc)
                in_ids = [existing[k].id for k in inputs if k in existing]
                out_ids = [existing[k].id for k in outputs if k in existing]
                if lineage.would_cycle(session, in_ids, out_ids):
                    problem("lineage_cycle", "an output of this transformation is already "
                            "upstream of one of its inputs: the lineage would go round in a "
                            "circle", None)
            if not inputs or not outputs:
                problem("incomplete_transformation", "a transformation needs at least one "
                        "input lot and one output lot", None)

    @staticmethod
    def _existing_lots(session, parsed: Parsed) -> dict[tuple[str, str], Lot]:
        keys = {(r.gtin, r.lot) for r in parsed.lots}
        doc = _document(session)
        if doc is not None:
            return {key: doc.lots[key] for key in keys if key in doc.lots}
        found: dict[tuple[str, str], Lot] = {}
        gtins = {g for g, _ in keys}
        if keys:
            for lot in session.scalars(select(Lot).where(Lot.gtin.in_(gtins),
                                                         Lot.lot.in_({lo for _, lo in keys}))):
                if (lot.gtin, lot.lot) in keys:
                    found[(lot.gtin, lot.lot)] = lot
        return found

    def _check_foreign_places(self, session, principal, parsed: Parsed, problem) -> None:
        if principal.is_admin:
            return
        named = [(parsed.location, parsed.raw_location, parsed.location_field)]
        named += [(codes.parse_location(ident), ident, where)
                  for kind, ident, where in parsed.sources + parsed.destinations
                  if kind == "location"]
        for sgln, raw, where in named:
            location = find_location(session, sgln)
            if location is not None and not manages_location(principal, location):
                problem("forbidden", f"{raw} is {location.party.name}'s registered location; "
                        "you record events only at your own", where)

    def _check_recall(self, session, principal, parsed: Parsed, products, problem) -> None:
        existing = parsed.existing if parsed.existing is not None else \
            self._existing_lots(session, parsed)
        # The brand from the document's products: a recall names a thousand lots, and
        # lot.product is a lazy load for each.
        brands = {p.id: p.brand_org_id for p in products.values()}
        for ref in parsed.lots:
            lot = existing.get((ref.gtin, ref.lot))
            if lot is not None and not may_recall(principal, lot,
                                                  brands.get(lot.product_id)):
                problem("forbidden", f"only the brand, the lot's maker, an inspector or an "
                        f"admin may recall lot {ref.lot} of GTIN {ref.gtin}", ref.field)
        if parsed.raw_location is not None:
            if find_location(session, parsed.location) is None:
                problem("unknown_location", f"location {parsed.raw_location} is not "
                        "registered", parsed.location_field)

    def _check_location(self, session, principal, parsed: Parsed, inspector: bool,
                        problem) -> None:
        if parsed.raw_location is None:
            # A lot's stage must say where it happened; an event about single items only
            # (no lot, nothing derived) may leave the place out, as EPCIS allows.
            if not principal.is_admin and parsed.lots:
                problem("missing_location", "name the place of the event (bizLocation, an "
                        "/414/{gln} identifier of a location you registered)", None)
            return
        location = find_location(session, parsed.location)
        if location is None:
            problem("unknown_location", f"location {parsed.raw_location} is not registered "
                    "(POST /api/v1/trace/locations)", parsed.location_field)
        elif not inspector and not manages_location(principal, location):
            what = "receive goods" if parsed.biz_step == "receiving" else "record events"
            problem("forbidden", f"you can {what} only at your own locations; "
                    f"{parsed.raw_location} belongs to {location.party.name}",
                    parsed.location_field)

    def _check_parties(self, session, parsed: Parsed, problem) -> None:
        for kind, ident, where in parsed.sources + parsed.destinations:
            if kind in PARTY_TYPES:
                gln = codes.parse_party(ident)
                if gln is None or find_party(session, gln) is None:
                    problem("unknown_party", f"party {ident} is not registered (a party "
                            "with that GLN, AI 417)", where)
            elif kind == "location":
                if find_location(session, codes.parse_location(ident)) is None:
                    problem("unknown_location", f"location {ident} is not registered", where)

    # -- reading (the EPCIS query binding) --------------------------------------------------
    def visible_event_filter(self, session: Session, principal):
        """Events a caller may read besides its own and its brands': those about lots it may
        see (made, shipped or received them: one step back and forward), all of them for the
        brand of a product in the event."""
        if reads_all(principal):
            return None
        from ..epcis.models import EpcisEvent

        visible = select(LotEvent.event_id).join(Lot, Lot.id == LotEvent.lot_id).where(
            lot_visibility(principal))
        return EpcisEvent.event_id.in_(visible)

    # -- apply ----------------------------------------------------------------------------
    def apply(self, session: Session, principal, event: dict, stored) -> None:
        doc = _document(session)
        parsed = (doc.parsed.get(id(event)) if doc is not None else None) \
            or _cache(session).pop(("parsed", id(event)), None) or parse_event(event, 0)
        if not parsed.lots:
            return
        products = _products(session, parsed.gtins)
        if not products:
            return
        recall = is_recall(event)
        if doc is None or recall:
            # At once: a recall's bulk updates need every row before them in the database.
            doc = _Document() if doc is None else doc
            _write_pending(session, doc)
            self._derive(session, principal, event, stored, parsed, products, doc)
            _write_pending(session, doc)
            portal.enqueue(session, [lot.id for lot in doc.touched.values()])
            doc.touched.clear()
            if recall:
                lots = {(lot.gtin, lot.lot): lot for lot in
                        (doc.lots[(r.gtin, r.lot)] for r in parsed.lots
                         if (r.gtin, r.lot) in doc.lots)}
                summary = mark_recalled(
                    session, principal, sorted(lots), [lot.id for lot in lots.values()],
                    str(event.get(mapping.ext("recallReason")) or "recall")[:500],
                    session.info.get("trace.recall_root"))
                session.info["trace.recall_summary"] = summary
            bump_version(session)
            session.flush()
            return
        self._derive(session, principal, event, stored, parsed, products, doc)

    def _derive(self, session: Session, principal, event: dict, stored, parsed: Parsed,
                products: dict[str, Product], doc: _Document) -> None:
        """The lots an event makes (added to the session), its lot events and lineage edges
        (kept in ``doc`` until ``_write_pending``)."""
        location = find_location(session, parsed.location)
        if location is not None:
            maker = location.party
        else:
            maker = doc.makers.get(principal.org_id)
            if maker is None:
                maker = doc.makers[principal.org_id] = org_party(session, principal.org_id)
        when = parsed.time or utcnow()
        ilmd = event.get("ilmd") or {}
        existing = parsed.existing if parsed.existing is not None else \
            self._existing_lots(session, parsed)
        source_party, source_loc = self._ends(session, parsed.sources)
        dest_party, dest_loc = self._ends(session, parsed.destinations)
        lots: dict[tuple[str, str], Lot] = {}
        now = utcnow()
        for ref in parsed.lots:
            product = products.get(ref.gtin)
            if product is None:
                continue
            key = (ref.gtin, ref.lot)
            lot = existing.get(key) or lots.get(key) or doc.lots.get(key)
            if lot is None:
                lot = Lot(product_id=product.id, gtin=ref.gtin, lot=ref.lot,
                          location_id=location.id if location else None,
                          party_id=maker.id, created_by_org_id=principal.org_id,
                          status="active", quantity=ref.quantity, unit=ref.uom,
                          created_at=now, updated_at=now)
                session.add(lot)
            if parsed.creates(ref):
                _ilmd_dates(lot, ilmd)
                if lot.location_id is None and location is not None:
                    lot.location_id, lot.party_id = location.id, location.party_id
            lots[key] = doc.lots[key] = lot
            doc.touched[id(lot)] = lot
        doc.changed = True
        details = {k: v for k, v in {
            "parentID": event.get("parentID"), "disposition": event.get("disposition"),
            "transformationID": event.get("transformationID"),
            "result": event.get("scanapp:inspectionResult"),
            "note": event.get("scanapp:note"),
            "harvest": any("harvest" in key for key in ilmd) or None}.items() if v}
        shared = {
            "event_id": stored.event_id, "event_type": parsed.event_type,
            "biz_step": parsed.biz_step, "event_time": when,
            "location_id": location.id if location else None, "org_id": principal.org_id,
            "source_party_id": source_party.id if source_party else None,
            "source_location_id": source_loc.id if source_loc else None,
            "dest_party_id": dest_party.id if dest_party else None,
            "dest_location_id": dest_loc.id if dest_loc else None,
            "document": parsed.document, "details": details}
        for ref in _unique_refs(parsed.lots):
            if (ref.gtin, ref.lot) in lots:
                doc.lot_events.append(({**shared, "role": ref.role, "quantity": ref.quantity,
                                        "unit": ref.uom}, lots[(ref.gtin, ref.lot)], stored))
        if parsed.biz_step == "shipping":
            doc.received = None  # goods may have been shipped to the one who captures
        if parsed.event_type == "TransformationEvent":
            outputs = [r for r in _unique_refs(parsed.lots)
                       if r.role == "output" and (r.gtin, r.lot) in lots]
            for ref in _unique_refs(parsed.lots):
                if ref.role != "input" or (ref.gtin, ref.lot) not in lots:
                    continue
                for out in outputs:
                    doc.edges.append(({"quantity": ref.quantity, "unit": ref.uom,
                                       "event_id": stored.event_id, "event_time": when,
                                       "created_at": now},
                                      lots[(ref.gtin, ref.lot)], lots[(out.gtin, out.lot)],
                                      stored))

    @staticmethod
    def _ends(session, entries) -> tuple[Party | None, Location | None]:
        party = location = None
        for kind, ident, _where in entries:
            if kind in PARTY_TYPES and party is None:
                gln = codes.parse_party(ident)
                party = find_party(session, gln) if gln else None
            elif kind == "location" and location is None:
                location = find_location(session, codes.parse_location(ident))
        if party is None and location is not None:
            party = location.party
        return party, location


_LOT_EVENT_COLUMNS = ("lot_id", "event_id", "event_pk", "event_type", "biz_step", "role",
                      "event_time", "location_id", "org_id", "source_party_id",
                      "source_location_id", "dest_party_id", "dest_location_id", "quantity",
                      "unit", "document", "details")
_EDGE_COLUMNS = ("input_lot_id", "output_lot_id", "quantity", "unit", "event_id", "event_pk",
                 "event_time", "created_at")


# In the capture's document state: the ids of the lots this hook wrote lot events for, in
# the document being captured (scanapp.authority's rules run on them).
LOT_IDS = "trace.lot_ids"


def document_lot_ids(session: Session) -> set[int] | None:
    """The lots the document being captured gave lot events to, when this hook works per
    document (None otherwise: the caller asks the database)."""
    state = document_state(session)
    return state.get(LOT_IDS) if state is not None else None


def _write_pending(session: Session, doc: _Document) -> None:
    """The deferred lot events and lineage edges, one COPY (PostgreSQL) or executemany
    per table; new lots are flushed first for their ids (and, on SQLite, the events), and
    the events of the bulk path are written first (the rows point at them)."""
    session.flush()
    write_stored_events(session)
    if not doc.lot_events and not doc.edges:
        return
    events = [{**row, "lot_id": lot.id, "event_pk": stored.id}
              for row, lot, stored in doc.lot_events]
    written = document_lot_ids(session)
    if written is not None:
        written.update(row["lot_id"] for row in events)
    edges = [{**row, "input_lot_id": src.id, "output_lot_id": dst.id, "event_pk": stored.id}
             for row, src, dst, stored in doc.edges]
    doc.lot_events, doc.edges = [], []
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        if events:
            connection.execute(LotEvent.__table__.insert(), events)
        if edges:
            connection.execute(LineageEdge.__table__.insert(), edges)
        return
    cursor = connection.connection.driver_connection.cursor()
    details = _LOT_EVENT_COLUMNS.index("details")
    for table, columns, rows in (("trace_lot_events", _LOT_EVENT_COLUMNS, events),
                                 ("trace_lineage", _EDGE_COLUMNS, edges)):
        if not rows:
            continue
        values = operator.itemgetter(*columns)
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                row_values = values(row)
                if table == "trace_lot_events":
                    row_values = list(row_values)
                    row_values[details] = json.dumps(row_values[details], ensure_ascii=False)
                copy.write_row(row_values)


def _products(session: Session, gtins: set[str]) -> dict[str, Product]:
    if not gtins:
        return {}
    doc = _document(session)
    if doc is not None:
        return {g: doc.products[g] for g in gtins if g in doc.products}
    return {p.gtin: p for p in session.scalars(
        select(Product).where(Product.gtin.in_(gtins)))}


def _received(session: Session, principal) -> set[tuple[str, str]]:
    doc = _document(session)
    if doc is None:
        return received_lots(session, principal)
    if doc.received is None:
        _write_pending(session, doc)  # shipments of earlier events of this document
        doc.received = received_lots(session, principal)
    return doc.received


def _unique_refs(refs: list[LotRef]) -> list[LotRef]:
    """One row per (lot, role): a lot named twice in one list is one stage."""
    seen: set[tuple[str, str, str]] = set()
    out = []
    for ref in refs:
        key = (ref.gtin, ref.lot, ref.role)
        if key not in seen:
            seen.add(key)
            out.append(ref)
    return out


def received_lots(session: Session, principal) -> set[tuple[str, str]]:
    """(gtin, lot) of the lots shipped to ``principal``'s organisation (to one of its
    parties or locations)."""
    own_parties = select(Party.id).where(Party.org_id == principal.org_id)
    own_places = select(Location.id).where(Location.party_id.in_(own_parties))
    rows = session.execute(
        select(Lot.gtin, Lot.lot).join(LotEvent, LotEvent.lot_id == Lot.id)
        .where(LotEvent.biz_step == "shipping",
               or_(LotEvent.dest_party_id.in_(own_parties),
                   LotEvent.dest_location_id.in_(own_places)))).all()
    return {(gtin, lot) for gtin, lot in rows}


def _cache(session: Session) -> dict:
    # Positive answers only, for one document (dropped when the next document starts): a
    # document of a thousand events at the same place asks once. A "no" is asked again,
    # since the place or the authorisation may be registered a moment later.
    return session.info.setdefault("trace.hook_cache", {})


def _may_write(session: Session, principal, product: Product) -> bool:
    key = ("write", principal.org_id, product.id)
    cache = _cache(session)
    if key in cache:
        return True
    allowed = may_write_gtin(session, principal, product)
    if allowed:
        cache[key] = True
    return allowed


def find_party(session: Session, gln: str) -> Party | None:
    doc = _document(session)
    if doc is not None and gln in doc.parties:
        return doc.parties[gln]
    return session.scalar(select(Party).where(Party.gln == gln))


def find_location(session: Session, sgln: tuple[str, str] | None) -> Location | None:
    if sgln is None:
        return None
    doc = _document(session)
    if doc is not None and sgln in doc.locations:
        return doc.locations[sgln]
    cache = _cache(session)
    found = cache.get(("location", sgln))
    if found is not None:
        return found
    found = session.scalar(select(Location).where(Location.gln == sgln[0],
                                                  Location.extension == sgln[1]))
    if found is not None:
        cache[("location", sgln)] = found
    return found


_ILMD_DATES = {
    "harvestStartDate": "harvest_start", "harvestEndDate": "harvest_end",
    "bestBeforeDate": "best_before", "itemExpirationDate": "expiry_date",
    "productionDate": "production_date",
}


def _ilmd_dates(lot: Lot, ilmd: dict) -> None:
    for key, value in ilmd.items():
        name = _ILMD_DATES.get(key.split(":")[-1].split("#")[-1])
        if name and isinstance(value, str) and getattr(lot, name) is None:
            try:
                setattr(lot, name, dt.date.fromisoformat(value[:10]))
            except ValueError:
                continue


__all__ = ["TraceCaptureHook", "document_lot_ids", "parse_event", "find_location",
           "manages_location"]
