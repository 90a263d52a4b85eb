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

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from ..auth.service import Principal
from ..errors import PermissionDenied
from ..regions import PROVINCES
from ..scan.models import ScanEvent
from ..serials.models import SerialRange
from . import codes, lineage, service
from .access import sees_whole_chain
from .models import Certificate, LineageEdge, Location, Lot, LotEvent, Party
from .public import ORIGIN_KINDS

VN = dt.timezone(dt.timedelta(hours=7))
# A lineage document touches hundreds of lots and events: their related rows come in one
# query per relationship, not one per row.
LOT_LOADS = (selectinload(Lot.product), selectinload(Lot.party),
             selectinload(Lot.location))
EVENT_LOADS = (selectinload(LotEvent.location), selectinload(LotEvent.source_party),
               selectinload(LotEvent.dest_party), selectinload(LotEvent.dest_location),
               selectinload(LotEvent.source_location).selectinload(Location.party))


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


def _lots(session: Session, ids) -> dict[int, Lot]:
    found: dict[int, Lot] = {}
    ids = list(ids)
    for chunk in range(0, len(ids), 500):
        for lot in session.scalars(select(Lot).where(Lot.id.in_(ids[chunk:chunk + 500]))
                                   .options(*LOT_LOADS)):
            found[lot.id] = lot
    return found


def _events_of(session: Session, lot_ids: list[int]) -> dict[int, list[LotEvent]]:
    out: dict[int, list[LotEvent]] = {}
    for chunk in range(0, len(lot_ids), 500):
        for event in session.scalars(select(LotEvent).where(
                LotEvent.lot_id.in_(lot_ids[chunk:chunk + 500]))
                .options(*EVENT_LOADS).order_by(LotEvent.event_time, LotEvent.id)):
            out.setdefault(event.lot_id, []).append(event)
    return out


def _certificates(session: Session, lots: dict[int, Lot]) -> list[dict[str, Any]]:
    subjects = {"lot": set(lots), "product": {lot.product_id for lot in lots.values()},
                "party": {lot.party_id for lot in lots.values() if lot.party_id},
                "location": {lot.location_id for lot in lots.values() if lot.location_id}}
    today = dt.date.today()
    found: list[dict[str, Any]] = []
    for kind, ids in subjects.items():
        if not ids:
            continue
        for cert in session.scalars(select(Certificate).where(
                Certificate.subject_type == kind, Certificate.subject_id.in_(ids))
                .order_by(Certificate.id)):
            found.append(service.certificate_json(cert, today))
    return found


def lineage_backward(session: Session, principal: Principal, lot_id: int) -> dict[str, Any]:
    lot = service.get_lot(session, principal, lot_id)
    _require_chain(session, principal, lot)
    depths = lineage.ancestors(session, [lot.id])
    lots = _lots(session, depths)
    events = _events_of(session, list(depths))
    edges = lineage.edges_among(session, list(depths) + [lot.id])
    upstream = sorted(lots.values(), key=lambda x: (depths[x.id], x.id))
    made_from_something = {edge.output_lot_id for edge in edges}
    return {
        "lot": lot_brief(lot),
        "upstream": [{**lot_brief(x), "depth": depths[x.id],
                      "stages": [_movement(e) for e in events.get(x.id, [])]}
                     for x in upstream],
        # Lots grown at a farm-like place, and any lot nothing was made into (a root).
        "farm_lots": [lot_brief(x) for x in upstream
                      if (x.location is not None and x.location.kind in ORIGIN_KINDS)
                      or x.id not in made_from_something],
        "places": _unique([_place(x.location) for x in [lot, *upstream] if x.location]),
        "certificates": _certificates(session, {lot.id: lot, **lots}),
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


def lineage_forward(session: Session, principal: Principal, lot_id: int) -> dict[str, Any]:
    lot = service.get_lot(session, principal, lot_id)
    _require_chain(session, principal, lot)
    depths = lineage.descendants(session, [lot.id])
    lots = _lots(session, depths)
    everything = {lot.id: lot, **lots}
    events = _events_of(session, list(everything))
    ranges = stamp_ranges(session, everything.values())
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
                "shipments": [_movement(e) for e in events.get(lot.id, [])
                              if e.biz_step in ("shipping", "receiving")]},
        "downstream": [{**lot_brief(x), "depth": depths[x.id],
                        "stamp_ranges": ranges.get(x.id, []),
                        "shipments": [_movement(e) for e in events.get(x.id, [])
                                      if e.biz_step in ("shipping", "receiving")]}
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
    gtins = {g for g, _ in by_key}
    codes_ = {c for _, c in by_key}
    if not by_key:
        return out
    for row in session.execute(select(SerialRange.id, SerialRange.gtin, SerialRange.lot,
                                      SerialRange.quantity, SerialRange.status)
                               .where(SerialRange.gtin.in_(gtins), SerialRange.lot.in_(codes_))
                               .order_by(SerialRange.id)):
        lot_id = by_key.get((row.gtin, row.lot))
        if lot_id is not None:
            out.setdefault(lot_id, []).append({"id": row.id, "quantity": row.quantity,
                                               "status": row.status})
    return out


def scan_provinces(session: Session, range_ids: list[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {}
    for chunk in range(0, len(range_ids), 500):
        for range_id, province, count in session.execute(
                select(ScanEvent.range_id, ScanEvent.province, func.count())
                .where(ScanEvent.range_id.in_(range_ids[chunk:chunk + 500]),
                       ScanEvent.province.is_not(None))
                .group_by(ScanEvent.range_id, ScanEvent.province)):
            out.setdefault(range_id, {})[province] = count
    return out
