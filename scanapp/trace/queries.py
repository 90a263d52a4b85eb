"""Trace queries for authorities and brands: one step back / one step forward of a lot,
and its full lineage backward (to every farm lot, place and certificate) and forward (to
every downstream lot, its stamps, its shipments and where its stamps were scanned).

Who sees what: admins and inspectors everything; the brand of the lot's product the whole
chain; any other organisation that handled the lot (made it, shipped or received it) one
step back and one step forward of it, as Circular 02/2024 art. 6 asks of every actor.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, String, func, select
from sqlalchemy.orm import Session

from ..auth.service import Principal
from ..db import any_of
from ..errors import PermissionDenied
from ..products.models import Product
from ..regions import PROVINCES
from ..scan.models import ScanEvent
from ..serials.models import SerialRange
from . import codes, lineage, service
from .access import sees_whole_chain
from .models import Certificate, LineageEdge, Location, Lot, LotEvent, Party
from .public import ORIGIN_KINDS

VN = dt.timezone(dt.timedelta(hours=7))
# A lineage document touches hundreds of lots and events: they are read as Core rows (no ORM
# objects to build), a kind of row per query, every id list as one array parameter
# (PostgreSQL's ``= ANY(:ids)``; chunked IN lists elsewhere). Measured on a 290-lot lineage:
# the ORM objects and IN lists of hundreds of placeholders were most of the document's time.
_CHUNK = 500


def _when(value: dt.datetime | None) -> str | None:
    return value.astimezone(VN).isoformat(timespec="minutes") if value else None


def _num(value) -> float | None:
    return float(value) if value is not None else None


def _party(party: Party | None) -> dict[str, Any] | None:
    if party is None:
        return None
    return {"id": party.id, "name": party.name, "gln": party.gln, "tax_code": party.tax_code,
            "province": party.province}


def _place(location: Location | None) -> dict[str, Any] | None:
    if location is None:
        return None
    province = PROVINCES.get(location.province or "")
    return {"id": location.id, "name": location.name, "kind": location.kind,
            "gln": location.gln, "extension": location.extension or None,
            "planting_area_code": location.planting_area_code,
            "province": location.province,
            "province_name": province.name if province else None}


def lot_brief(lot: Lot) -> dict[str, Any]:
    return {"id": lot.id, "gtin": lot.gtin, "lot": lot.lot, "product": lot.product.name,
            "uri": codes.lot_uri(lot.gtin, lot.lot), "status": lot.status,
            "quantity": _num(lot.quantity), "unit": lot.unit,
            "production_date": lot.production_date.isoformat() if lot.production_date else None,
            "harvest_start": lot.harvest_start.isoformat() if lot.harvest_start else None,
            "harvest_end": lot.harvest_end.isoformat() if lot.harvest_end else None,
            "expiry_date": lot.expiry_date.isoformat() if lot.expiry_date else None,
            "maker": _party(lot.party), "place": _place(lot.location)}


def _movement(event: LotEvent) -> dict[str, Any]:
    return {"step": event.biz_step, "time": _when(event.event_time),
            "quantity": _num(event.quantity), "unit": event.unit, "document": event.document,
            "at": _place(event.location),
            "from": _party(event.source_party) or _party(
                event.source_location.party if event.source_location else None),
            "to": _party(event.dest_party), "to_place": _place(event.dest_location),
            "event_id": event.event_id}


def one_step(session: Session, principal: Principal, lot_id: int) -> dict[str, Any]:
    """Suppliers (input lots, who shipped it to whom) and customers (output lots, shipments
    out), with when and how much."""
    lot = service.get_lot(session, principal, lot_id)
    inputs = session.execute(select(LineageEdge, Lot).join(
        Lot, Lot.id == LineageEdge.input_lot_id).where(
        LineageEdge.output_lot_id == lot.id).order_by(LineageEdge.event_time)).all()
    outputs = session.execute(select(LineageEdge, Lot).join(
        Lot, Lot.id == LineageEdge.output_lot_id).where(
        LineageEdge.input_lot_id == lot.id).order_by(LineageEdge.event_time)).all()
    moves = session.scalars(select(LotEvent).where(
        LotEvent.lot_id == lot.id, LotEvent.biz_step.in_(("shipping", "receiving")))
        .order_by(LotEvent.event_time)).all()
    return {
        "lot": lot_brief(lot),
        "back": {
            "input_lots": [{**lot_brief(src), "quantity_used": _num(edge.quantity),
                            "unit_used": edge.unit, "when": _when(edge.event_time),
                            "event_id": edge.event_id} for edge, src in inputs],
            "received": [_movement(m) for m in moves if m.biz_step == "receiving"],
            "made_by": _party(lot.party), "made_at": _place(lot.location),
        },
        "forward": {
            "output_lots": [{**lot_brief(dst), "quantity_used": _num(edge.quantity),
                             "unit_used": edge.unit, "when": _when(edge.event_time),
                             "event_id": edge.event_id} for edge, dst in outputs],
            "shipped": [_movement(m) for m in moves if m.biz_step == "shipping"],
        },
    }


def _require_chain(session: Session, principal: Principal, lot: Lot) -> None:
    if not sees_whole_chain(session, principal, lot):
        raise PermissionDenied("the full lineage is for the product's brand, inspectors and "
                               "admins; you see one step back and one step forward "
                               f"(GET /api/v1/trace/lots/{lot.id}/one-step)",
                               code="lineage_not_visible")


def _rows(session: Session, statement, column, ids, key_type=BigInteger) -> list:
    """Rows of ``statement`` whose ``column`` is one of ``ids``: one query with an array
    parameter on PostgreSQL, chunks of IN lists elsewhere."""
    ids = sorted({i for i in ids if i is not None})
    if not ids:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return list(session.execute(statement.where(any_of(column, ids, key_type))))
    out: list = []
    for start in range(0, len(ids), _CHUNK):
        out += session.execute(statement.where(column.in_(ids[start:start + _CHUNK]))).all()
    return out


_LOT_COLUMNS = (Lot.id, Lot.gtin, Lot.lot, Lot.product_id, Lot.status, Lot.quantity, Lot.unit,
                Lot.production_date, Lot.harvest_start, Lot.harvest_end, Lot.expiry_date,
                Lot.party_id, Lot.location_id)


def _lots(session: Session, ids) -> dict[int, Any]:
    """Lot rows (with ``product_name``) by id."""
    statement = select(*_LOT_COLUMNS, Product.name.label("product_name")).join(
        Product, Product.id == Lot.product_id)
    return {row.id: row for row in _rows(session, statement, Lot.id, ids)}


def _events_of(session: Session, lot_ids, steps: tuple[str, ...] | None = None
               ) -> dict[int, list[Any]]:
    """Lot-event rows per lot, in time order (only ``steps`` when given)."""
    statement = select(LotEvent.__table__).order_by(LotEvent.event_time, LotEvent.id)
    if steps is not None:
        statement = statement.where(LotEvent.biz_step.in_(steps))
    out: dict[int, list[Any]] = {}
    for row in _rows(session, statement, LotEvent.lot_id, lot_ids):
        out.setdefault(row.lot_id, []).append(row)
    if session.get_bind().dialect.name != "postgresql":  # chunks: order each lot again
        for rows in out.values():
            rows.sort(key=lambda r: (r.event_time, r.id))
    return out


class _Refs:
    """The places and parties that lots and lot events name, loaded once (two queries)."""

    def __init__(self, session: Session, lots, events) -> None:
        place_ids = {lot.location_id for lot in lots}
        for event in events:
            place_ids |= {event.location_id, event.source_location_id, event.dest_location_id}
        self.places = {row.id: row for row in _rows(
            session, select(Location.__table__), Location.id, place_ids)}
        party_ids = {lot.party_id for lot in lots} | {
            p.party_id for p in self.places.values()}
        for event in events:
            party_ids |= {event.source_party_id, event.dest_party_id}
        self.parties = {row.id: row for row in _rows(
            session, select(Party.__table__), Party.id, party_ids)}

    def brief(self, lot) -> dict[str, Any]:
        """``lot_brief`` of a lot row."""
        return {"id": lot.id, "gtin": lot.gtin, "lot": lot.lot, "product": lot.product_name,
                "uri": codes.lot_uri(lot.gtin, lot.lot), "status": lot.status,
                "quantity": _num(lot.quantity), "unit": lot.unit,
                "production_date": _day(lot.production_date),
                "harvest_start": _day(lot.harvest_start),
                "harvest_end": _day(lot.harvest_end), "expiry_date": _day(lot.expiry_date),
                "maker": _party(self.parties.get(lot.party_id)),
                "place": _place(self.places.get(lot.location_id))}

    def movement(self, event) -> dict[str, Any]:
        """``_movement`` of a lot-event row."""
        source_place = self.places.get(event.source_location_id)
        return {"step": event.biz_step, "time": _when(event.event_time),
                "quantity": _num(event.quantity), "unit": event.unit,
                "document": event.document, "at": _place(self.places.get(event.location_id)),
                "from": _party(self.parties.get(event.source_party_id)) or _party(
                    self.parties.get(source_place.party_id) if source_place else None),
                "to": _party(self.parties.get(event.dest_party_id)),
                "to_place": _place(self.places.get(event.dest_location_id)),
                "event_id": event.event_id}


def _day(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _edges_among(session: Session, lot_ids) -> list[Any]:
    """Lineage edge rows with both ends among ``lot_ids``, in id order."""
    keep = set(lot_ids)
    rows = _rows(session, select(LineageEdge.__table__), LineageEdge.input_lot_id, keep)
    return sorted((row for row in rows if row.output_lot_id in keep), key=lambda r: r.id)


def _certificates(session: Session, lots) -> list[dict[str, Any]]:
    lots = list(lots)
    subjects = {"lot": {lot.id for lot in lots},
                "product": {lot.product_id for lot in lots},
                "party": {lot.party_id for lot in lots if lot.party_id},
                "location": {lot.location_id for lot in lots if lot.location_id}}
    today = dt.date.today()
    found: list[Certificate] = []
    for kind, ids in subjects.items():
        found += [row[0] for row in _rows(
            session, select(Certificate).where(Certificate.subject_type == kind),
            Certificate.subject_id, ids)]
    found.sort(key=lambda cert: (list(subjects).index(cert.subject_type), cert.id))
    return [service.certificate_json(cert, today) for cert in found]


def lineage_backward(session: Session, principal: Principal, lot_id: int) -> dict[str, Any]:
    lot = service.get_lot(session, principal, lot_id)
    _require_chain(session, principal, lot)
    depths = lineage.ancestors(session, [lot.id])
    lots = _lots(session, depths)
    events = _events_of(session, depths)
    edges = _edges_among(session, list(depths) + [lot.id])
    refs = _Refs(session, lots.values(), [e for rows in events.values() for e in rows])
    upstream = sorted(lots.values(), key=lambda x: (depths[x.id], x.id))
    made_from_something = {edge.output_lot_id for edge in edges}

    def origin(row) -> bool:
        place = refs.places.get(row.location_id)
        return (place is not None and place.kind in ORIGIN_KINDS) \
            or row.id not in made_from_something

    return {
        "lot": lot_brief(lot),
        "upstream": [{**refs.brief(x), "depth": depths[x.id],
                      "stages": [refs.movement(e) for e in events.get(x.id, [])]}
                     for x in upstream],
        # Lots grown at a farm-like place, and any lot nothing was made into (a root).
        "farm_lots": [refs.brief(x) for x in upstream if origin(x)],
        "places": _unique([_place(lot.location)] + [
            _place(refs.places.get(x.location_id)) for x in upstream]),
        "certificates": _certificates(session, [lot, *lots.values()]),
        "edges": [{"input": e.input_lot_id, "output": e.output_lot_id,
                   "quantity": _num(e.quantity), "unit": e.unit, "when": _when(e.event_time),
                   "event_id": e.event_id} for e in edges],
    }


def _unique(items: list[dict | None]) -> list[dict]:
    seen, out = set(), []
    for item in items:
        if item and item["id"] not in seen:
            seen.add(item["id"])
            out.append(item)
    return out


MOVES = ("shipping", "receiving")


def lineage_forward(session: Session, principal: Principal, lot_id: int) -> dict[str, Any]:
    lot = service.get_lot(session, principal, lot_id)
    _require_chain(session, principal, lot)
    depths = lineage.descendants(session, [lot.id])
    lots = _lots(session, depths)
    everything = [lot, *lots.values()]
    events = _events_of(session, [x.id for x in everything], MOVES)
    refs = _Refs(session, lots.values(), [e for rows in events.values() for e in rows])
    ranges = stamp_ranges(session, everything)
    scans = scan_provinces(session, [r["id"] for rs in ranges.values() for r in rs])
    downstream = sorted(lots.values(), key=lambda x: (depths[x.id], x.id))
    provinces: dict[str, int] = {}
    for lot_ranges in ranges.values():
        for rng in lot_ranges:
            rng["scans_by_province"] = scans.get(rng["id"], {})
            for code, count in rng["scans_by_province"].items():
                provinces[code] = provinces.get(code, 0) + count
    return {
        "lot": {**lot_brief(lot), "stamp_ranges": ranges.get(lot.id, []),
                "shipments": [refs.movement(e) for e in events.get(lot.id, [])]},
        "downstream": [{**refs.brief(x), "depth": depths[x.id],
                        "stamp_ranges": ranges.get(x.id, []),
                        "shipments": [refs.movement(e) for e in events.get(x.id, [])]}
                       for x in downstream],
        "scanned_in": [{"province": code,
                        "province_name": PROVINCES[code].name if code in PROVINCES else None,
                        "scans": count}
                       for code, count in sorted(provinces.items(), key=lambda kv: -kv[1])],
        "stamps": sum(r["quantity"] for rs in ranges.values() for r in rs),
    }


def stamp_ranges(session: Session, lots) -> dict[int, list[dict[str, Any]]]:
    by_key = {(lot.gtin, lot.lot): lot.id for lot in lots}
    out: dict[int, list[dict[str, Any]]] = {}
    if not by_key:
        return out
    statement = select(SerialRange.id, SerialRange.gtin, SerialRange.lot,
                       SerialRange.quantity, SerialRange.status).where(
        SerialRange.gtin.in_({g for g, _ in by_key}))
    for row in sorted(_rows(session, statement, SerialRange.lot, {c for _, c in by_key},
                            String), key=lambda r: r.id):
        lot_id = by_key.get((row.gtin, row.lot))
        if lot_id is not None:
            out.setdefault(lot_id, []).append({"id": row.id, "quantity": row.quantity,
                                               "status": row.status})
    return out


def scan_provinces(session: Session, range_ids: list[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {}
    statement = (select(ScanEvent.range_id, ScanEvent.province, func.count())
                 .where(ScanEvent.province.is_not(None))
                 .group_by(ScanEvent.range_id, ScanEvent.province))
    for range_id, province, count in _rows(session, statement, ScanEvent.range_id, range_ids):
        out.setdefault(range_id, {})[province] = count
    return out
