"""Recall by input lot: one call, every downstream lot and every stamp of them.

``recall_lot`` finds every lot made from the given one (lineage, any depth), and records
ONE EPCIS recall event naming all of them (ObjectEvent OBSERVE, bizStep holding,
disposition recalled, persistentDisposition set recalled, the reason in
``scanapp:recallReason``) through ``capture_events``. The capture hook's ``apply`` calls
``mark_recalled`` for a recall event, so a recall captured through the EPCIS binding has the
same effect as one made here, in the same transaction:

- the lots become ``recalled`` (reason, time, who, and the root lot);
- their stamp ranges become ``recalled`` in bulk, with an audit row each, and their
  ``updated_at`` moves: every worker's range index picks that up on its next refresh
  (at most ``serials.lookup.REFRESH_SECONDS`` later), so scans answer "recalled";
- the trace version moves, so scan summaries show the recall.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import Integer, select, text, tuple_, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..auth.models import Role
from ..auth.service import Principal
from ..db import any_of, utcnow
from ..epcis import mapping
from ..epcis.capture import paused_gc
from ..errors import Conflict, NotFound
from ..serials.models import RangeTransition, SerialRange
from ..services import services
from . import codes, events, lineage, service
from .access import bump_version
from .models import Lot
from .summary import get_cache

RECALLABLE_RANGE_STATUSES = ("issued", "printed", "activated")
_CHUNK = 400


def may_recall(principal: Principal, lot: Lot, brand_org_id: int | None = None) -> bool:
    """``brand_org_id``: the lot's product's brand when the caller has it at hand."""
    if brand_org_id is None:
        brand_org_id = lot.product.brand_org_id
    return (principal.role in (Role.ADMIN, Role.INSPECTOR)
            or brand_org_id == principal.org_id
            or lot.created_by_org_id == principal.org_id)


def build_recall_event(lots: list[Lot], reason: str) -> dict[str, Any]:
    return {
        "type": "ObjectEvent", "eventTime": mapping.format_time(utcnow()),
        "eventTimeZoneOffset": events.VN_OFFSET, "action": "OBSERVE",
        "bizStep": "holding", "disposition": "recalled",
        "persistentDisposition": {"set": ["recalled"]},
        "quantityList": [{"epcClass": codes.lot_uri(lot.gtin, lot.lot)} for lot in lots],
        mapping.ext("recallReason"): reason,
    }


def is_recall(event: dict) -> bool:
    persistent = event.get("persistentDisposition") or {}
    return any(str(value).endswith("recalled") for value in persistent.get("set") or [])


def recall_lot(session: Session, principal: Principal, lot_id: int, reason: str
               ) -> dict[str, Any]:
    root = service.get_lot(session, principal, lot_id)
    if not may_recall(principal, root):
        raise NotFound(f"no lot with id {lot_id} that you may recall")
    if root.status == "recalled":
        raise Conflict(f"lot {root.lot} is already recalled ({root.recall_reason})",
                       code="already_recalled")
    # A recall names thousands of lots: no cyclic collection over the whole heap while
    # their rows and the event are built (see ``paused_gc``).
    with paused_gc():
        downstream = lineage.descendants(session, [root.id])
        targets = [root] + sorted(_lots(session, downstream), key=lambda x: x.id)
        session.info["trace.recall_root"] = root.id
        result = events.capture(session, principal, [build_recall_event(targets, reason)])
        summary = session.info.pop("trace.recall_summary", {})
        session.commit()
    services(current_app).ranges.invalidate()
    cache = get_cache(current_app)
    if cache is not None:
        cache.invalidate()
    return {"lot": {"id": root.id, "gtin": root.gtin, "lot": root.lot},
            "reason": reason, "lots_recalled": summary.get("lots", 0),
            "lots_already_recalled": len(targets) - summary.get("lots", 0),
            "stamp_ranges_recalled": summary.get("ranges", 0),
            "stamps_recalled": summary.get("stamps", 0),
            "event_id": result.stored_ids[0] if result.stored_ids else None}


def _lots(session: Session, ids) -> list[Lot]:
    ids = sorted(ids)
    if session.get_bind().dialect.name == "postgresql":
        return list(session.scalars(select(Lot).where(any_of(Lot.id, ids, Integer))))
    found: list[Lot] = []
    for chunk in range(0, len(ids), _CHUNK):
        found.extend(session.scalars(select(Lot).where(Lot.id.in_(ids[chunk:chunk + _CHUNK]))))
    return found


def mark_recalled(session: Session, principal: Principal, keys: list[tuple[str, str]],
                  lot_ids: list[int], reason: str, root_id: int | None) -> dict[str, int]:
    """Lots (their ids and (gtin, lot) keys) and their stamp ranges -> recalled, in bulk,
    in this transaction."""
    now = utcnow()
    if session.get_bind().dialect.name == "postgresql":
        lots, ranges, stamps = _mark_postgres(session, principal, keys, lot_ids, reason,
                                              root_id, now)
    else:
        lots, ranges, stamps = _mark_chunked(session, principal, keys, lot_ids, reason,
                                             root_id, now)
    bump_version(session)
    # The bulk updates bypassed the ORM: loaded lots get the values they now have in the
    # database (a fraction of the cost of expiring a thousand objects, and a later event
    # of the same document reads them without one query per lot); loaded ranges are read
    # again.
    recalled = set(lot_ids)
    values = {"status": "recalled", "recall_reason": reason, "recalled_at": now,
              "recalled_by_org_id": principal.org_id, "recall_root_id": root_id,
              "updated_at": now}
    for identity, obj in list(session.identity_map.items()):
        if isinstance(obj, Lot) and identity[1][0] in recalled:
            status = obj.__dict__.get("status")
            if status is None:
                session.expire(obj)
            elif status != "recalled":
                for name, value in values.items():
                    set_committed_value(obj, name, value)
        elif isinstance(obj, SerialRange):
            session.expire(obj)
    return {"lots": lots, "ranges": ranges, "stamps": stamps}


def _mark_postgres(session: Session, principal: Principal, keys: list[tuple[str, str]],
                   lot_ids: list[int], reason: str, root_id: int | None, now
                   ) -> tuple[int, int, int]:
    """Two statements whatever the number of lots, each id list ONE array parameter (an IN
    list of a thousand placeholders, or a thousand (gtin, lot) pairs, was parsed by the
    driver in Python and planned afresh): the lots, then the ranges with their audit rows
    in one data-modifying statement."""
    lots = session.execute(text(
        "UPDATE trace_lots SET status = 'recalled', recall_reason = :reason, "
        "recalled_at = :now, recalled_by_org_id = :org, recall_root_id = :root, "
        "updated_at = :now WHERE id = ANY(CAST(:ids AS integer[])) "
        "AND status <> 'recalled'"),
        {"reason": reason, "now": now, "org": principal.org_id, "root": root_id,
         "ids": sorted(set(lot_ids))}).rowcount
    if not keys:
        return lots, 0, 0
    ranges, stamps = session.execute(text(
        "WITH hit AS ("
        "  SELECT r.id, r.status, r.quantity FROM serial_ranges r"
        "  JOIN unnest(CAST(:gtins AS varchar[]), CAST(:lots AS varchar[])) AS k(gtin, lot)"
        "    ON r.gtin = k.gtin AND r.lot = k.lot"
        "  WHERE r.status = ANY(CAST(:statuses AS varchar[])) FOR UPDATE OF r), "
        "marked AS (UPDATE serial_ranges SET status = 'recalled', updated_at = :now"
        "  WHERE id IN (SELECT id FROM hit) RETURNING id), "
        "audit AS (INSERT INTO range_transitions"
        "  (range_id, action, from_status, to_status, reason, actor_org_id, actor_key_id, at)"
        "  SELECT id, 'recall', status, 'recalled', :audit_reason, :org, :key, :now FROM hit"
        "  RETURNING range_id) "
        # A data-modifying WITH runs whether or not it is read; audit is read all the same.
        "SELECT (SELECT count(*) FROM marked), (SELECT coalesce(sum(quantity), 0) FROM hit),"
        "  (SELECT count(*) FROM audit)"),
        {"gtins": [g for g, _lot in keys], "lots": [lot for _g, lot in keys],
         "statuses": list(RECALLABLE_RANGE_STATUSES), "now": now,
         "audit_reason": f"lot recall: {reason}"[:500], "org": principal.org_id,
         "key": principal.key_id}).one()[:2]
    return lots, ranges, int(stamps)


def _mark_chunked(session: Session, principal: Principal, keys: list[tuple[str, str]],
                  lot_ids: list[int], reason: str, root_id: int | None, now
                  ) -> tuple[int, int, int]:
    lots = stamps = ranges = 0
    for chunk in range(0, len(lot_ids), _CHUNK):
        lots += session.execute(
            update(Lot).where(Lot.id.in_(lot_ids[chunk:chunk + _CHUNK]),
                              Lot.status != "recalled")
            .values(status="recalled", recall_reason=reason, recalled_at=now,
                    recalled_by_org_id=principal.org_id, recall_root_id=root_id,
                    updated_at=now)
            .execution_options(synchronize_session=False)).rowcount
    for chunk in range(0, len(keys), _CHUNK):
        part = keys[chunk:chunk + _CHUNK]
        hit = session.execute(
            select(SerialRange.id, SerialRange.status, SerialRange.quantity)
            .where(tuple_(SerialRange.gtin, SerialRange.lot).in_(part),
                   SerialRange.status.in_(RECALLABLE_RANGE_STATUSES))).all()
        if not hit:
            continue
        session.execute(RangeTransition.__table__.insert(), [
            {"range_id": rid, "action": "recall", "from_status": status,
             "to_status": "recalled", "reason": f"lot recall: {reason}"[:500],
             "actor_org_id": principal.org_id, "actor_key_id": principal.key_id, "at": now}
            for rid, status, _qty in hit])
        session.execute(update(SerialRange).where(SerialRange.id.in_([h[0] for h in hit]))
                        .values(status="recalled", updated_at=now)
                        .execution_options(synchronize_session=False))
        ranges += len(hit)
        stamps += sum(qty for _rid, _status, qty in hit)
    return lots, ranges, stamps
