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
from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import Session

from ..auth.models import Role
from ..auth.service import Principal
from ..db import utcnow
from ..epcis import mapping
from ..errors import Conflict, NotFound
from ..serials.lookup import get_index
from ..serials.models import RangeTransition, SerialRange
from . import codes, events, lineage, service
from .access import bump_version
from .models import Lot
from .summary import get_cache

RECALLABLE_RANGE_STATUSES = ("issued", "printed", "activated")
_CHUNK = 400


def may_recall(principal: Principal, lot: Lot) -> bool:
    return (principal.role in (Role.ADMIN, Role.INSPECTOR)
            or lot.product.brand_org_id == principal.org_id
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
    downstream = lineage.descendants(session, [root.id])
    targets = [root] + sorted(_lots(session, downstream), key=lambda x: x.id)
    session.info["trace.recall_root"] = root.id
    result = events.capture(session, principal, [build_recall_event(targets, reason)])
    summary = session.info.pop("trace.recall_summary", {})
    session.commit()
    get_index(current_app).invalidate()
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
    ids = list(ids)
    found: list[Lot] = []
    for chunk in range(0, len(ids), _CHUNK):
        found.extend(session.scalars(select(Lot).where(Lot.id.in_(ids[chunk:chunk + _CHUNK]))))
    return found


def mark_recalled(session: Session, principal: Principal, keys: list[tuple[str, str]],
                  lot_ids: list[int], reason: str, root_id: int | None) -> dict[str, int]:
    """Lots (their ids and (gtin, lot) keys) and their stamp ranges -> recalled, in bulk,
    in this transaction."""
    now = utcnow()
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
    bump_version(session)
    # The bulk updates bypassed the ORM: loaded lots and ranges must be read again.
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Lot | SerialRange):
            session.expire(obj)
    return {"lots": lots, "ranges": ranges, "stamps": stamps}
