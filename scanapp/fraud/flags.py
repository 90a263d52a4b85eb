"""Flags and cases: raising and escalating flags, listing them, the case workflow, field
inspections.

A flag is the case: one row per suspect code carries the risk, the reasons, the case status
and the assignee, and ``fraud_case_events`` keeps the full audit trail (who, what, when).
Inspectors and admins see every flag and act on cases; a brand sees the flags of its own
products and may add notes (its answer to an alert) but not decide a case.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import events
from ..auth.models import Organisation, Role
from ..auth.service import Principal
from ..db import session_scope, utcnow
from ..errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ..products.models import Product
from ..regions import PROVINCES, default_locator
from ..scan.models import ScanEvent
from . import webhooks
from .engine import Assessment
from .facts import RangeFacts, ScanFacts
from .models import CaseEvent, CaseStatus, FieldInspection, Flag

# A flag escalates (and its brand is told again) when its risk rises by at least this much
# or a new kind of signal fires: one more scan of a known clone is not news.
ESCALATION_STEP = 10

# Which status may follow which. Closing states can be reopened: new evidence arrives.
TRANSITIONS: dict[str, frozenset[str]] = {
    CaseStatus.OPEN: frozenset({CaseStatus.INVESTIGATING, CaseStatus.CONFIRMED_COUNTERFEIT,
                                CaseStatus.FALSE_ALARM}),
    CaseStatus.INVESTIGATING: frozenset({CaseStatus.OPEN, CaseStatus.CONFIRMED_COUNTERFEIT,
                                         CaseStatus.FALSE_ALARM}),
    CaseStatus.CONFIRMED_COUNTERFEIT: frozenset({CaseStatus.RESOLVED}),
    CaseStatus.FALSE_ALARM: frozenset({CaseStatus.OPEN, CaseStatus.RESOLVED}),
    CaseStatus.RESOLVED: frozenset({CaseStatus.OPEN}),
}
STATUSES = tuple(s.value for s in CaseStatus)
# A dismissed case comes back to the queue when the code escalates afterwards.
REOPEN_ON_ESCALATION = frozenset({CaseStatus.FALSE_ALARM, CaseStatus.RESOLVED})

FINDINGS = ("genuine", "counterfeit", "suspect", "product_absent", "other")

DECIDERS = (Role.INSPECTOR, Role.ADMIN)


# -- raising flags (called after a scan is stored) ------------------------------------------


def record_flag(app: Flask, scan_event_id: int | None, scan: ScanFacts, rng: RangeFacts,
                assessment: Assessment) -> Flag | None:
    """Create the code's flag, or escalate it; publish ``FlagRaised`` in the same commit."""
    with app.app_context(), session_scope(app) as session:
        product = session.scalar(select(Product).where(Product.gtin == scan.gtin))
        flag = session.scalar(select(Flag).where(Flag.serial == scan.serial))
        result = None
        if flag is None:
            result = _raise(session, scan_event_id, scan, rng, assessment, product)
            if result is None:
                # Another scan of the same code raised it a moment ago: escalate that one.
                flag = session.scalar(select(Flag).where(Flag.serial == scan.serial))
        if flag is not None:
            result = _escalate(session, flag, scan_event_id, scan, assessment)
        webhooks.kick(app, session)
        return result


def _raise(session: Session, scan_event_id, scan: ScanFacts, rng: RangeFacts,
           assessment: Assessment, product: Product | None) -> Flag | None:
    now = utcnow()
    flag = Flag(serial=scan.serial, gtin=scan.gtin, product_id=product.id if product else None,
                brand_org_id=product.brand_org_id if product else None, range_id=rng.range_id,
                risk=assessment.risk, reasons=list(assessment.reasons),
                province=scan.place.province, status=CaseStatus.OPEN.value, escalations=0,
                first_scan_event_id=scan_event_id, last_scan_event_id=scan_event_id,
                raised_at=now, updated_at=now)
    session.add(flag)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        return None
    session.add(CaseEvent(flag_id=flag.id, at=now, action="raised", to_status=flag.status,
                          risk=flag.risk, note=", ".join(flag.reasons)))
    _publish_raised(session, flag, escalated=False)
    session.commit()
    return flag


def _escalate(session: Session, flag: Flag, scan_event_id, scan: ScanFacts,
              assessment: Assessment) -> Flag | None:
    new_reasons = [r for r in assessment.reasons if r not in flag.reasons]
    if assessment.risk < flag.risk + ESCALATION_STEP and not new_reasons:
        return None
    now = utcnow()
    risk = max(flag.risk, assessment.risk)
    reasons = [*assessment.reasons, *[r for r in flag.reasons if r not in assessment.reasons]]
    status = flag.status
    reopened = status in REOPEN_ON_ESCALATION
    if reopened:
        status = CaseStatus.OPEN.value
    # Conditional on the version we read: of two concurrent escalations only one wins.
    result = session.execute(
        update(Flag).where(Flag.id == flag.id, Flag.escalations == flag.escalations)
        .values(risk=risk, reasons=reasons, status=status, province=scan.place.province
                or flag.province, escalations=Flag.escalations + 1,
                last_scan_event_id=scan_event_id, updated_at=now)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        session.rollback()
        return None
    session.add(CaseEvent(flag_id=flag.id, at=now, action="escalated", risk=risk,
                          from_status=flag.status if reopened else None,
                          to_status=status if reopened else None,
                          note=", ".join(new_reasons) or None))
    session.flush()
    session.refresh(flag)
    _publish_raised(session, flag, escalated=True)
    session.commit()
    return flag


def _publish_raised(session: Session, flag: Flag, escalated: bool) -> None:
    events.publish(session, events.FlagRaised(
        flag_id=flag.id, serial=flag.serial, gtin=flag.gtin, risk=flag.risk,
        reasons=tuple(flag.reasons),
        # Every genuine code has a product; 0 only if the catalogue lost it meanwhile.
        brand_org_id=flag.brand_org_id or 0, escalated=escalated, at=flag.updated_at))


# -- reading flags ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FlagFilter:
    province: str | None = None
    gtin: str | None = None
    min_risk: int | None = None
    status: tuple[str, ...] = ()
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    brand_org_id: int | None = None
    product_id: int | None = None


def visible_flags(principal: Principal):
    query = select(Flag)
    if principal.role is Role.BRAND:
        query = query.where(Flag.brand_org_id == principal.org_id)
    elif principal.role not in (Role.ADMIN, Role.INSPECTOR):
        query = query.where(False)
    return query


def _filtered(principal: Principal, flt: FlagFilter):
    query = visible_flags(principal)
    for status in flt.status:
        if status not in STATUSES:
            raise InvalidInput(f"unknown status {status!r}; choose from {', '.join(STATUSES)}",
                               code="unknown_status")
    if flt.province:
        if flt.province not in PROVINCES:
            raise InvalidInput(f"unknown province code {flt.province!r}",
                               code="unknown_province")
        query = query.where(Flag.province == flt.province)
    if flt.gtin:
        from ..gs1 import normalize_gtin

        query = query.where(Flag.gtin == normalize_gtin(flt.gtin))
    if flt.min_risk is not None:
        query = query.where(Flag.risk >= flt.min_risk)
    if flt.status:
        query = query.where(Flag.status.in_(flt.status))
    if flt.since is not None:
        query = query.where(Flag.raised_at >= flt.since)
    if flt.until is not None:
        query = query.where(Flag.raised_at < flt.until)
    if flt.since and flt.until and flt.until <= flt.since:
        raise InvalidInput("'until' must be later than 'since'", code="invalid_window")
    if flt.brand_org_id is not None:
        query = query.where(Flag.brand_org_id == flt.brand_org_id)
    if flt.product_id is not None:
        query = query.where(Flag.product_id == flt.product_id)
    return query


def list_flags(session: Session, principal: Principal, flt: FlagFilter, page: int = 1,
               per_page: int = 50) -> dict:
    query = _filtered(principal, flt)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    items = list(session.scalars(
        query.order_by(Flag.risk.desc(), Flag.raised_at.desc(), Flag.id.desc())
        .offset((page - 1) * per_page).limit(per_page)))
    return {"items": items, "total": total, "page": page, "per_page": per_page}


def iter_flags(session: Session, principal: Principal, flt: FlagFilter, limit: int = 10000):
    """Every flag matching the filter, for CSV export (capped: a spreadsheet, not a dump)."""
    query = _filtered(principal, flt).order_by(Flag.risk.desc(), Flag.raised_at.desc(),
                                               Flag.id.desc()).limit(limit)
    return list(session.scalars(query))


def get_flag(session: Session, principal: Principal, flag_id: int) -> Flag:
    flag = session.scalar(visible_flags(principal).where(Flag.id == flag_id))
    if flag is None:
        raise NotFound(f"no flag with id {flag_id}")
    return flag


def flag_for_serial(session: Session, principal: Principal, serial: str) -> Flag | None:
    return session.scalar(visible_flags(principal).where(Flag.serial == serial))


def org_names(session: Session, ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(session.execute(select(Organisation.id, Organisation.name)
                                .where(Organisation.id.in_(ids))).all())


# -- the case workflow -----------------------------------------------------------------------


def act_on_case(session: Session, principal: Principal, flag_id: int, *,
                status: str | None = None, note: str | None = None,
                assignee: str | None = None, unassign: bool = False) -> Flag:
    """Change status, add a note and/or (re)assign, one audit line per change."""
    flag = get_flag(session, principal, flag_id)
    note = (note or "").strip() or None
    if status is None and note is None and assignee is None and not unassign:
        raise InvalidInput("give a status, a note or an assignee", code="empty_case_action")
    if (status is not None or assignee is not None or unassign) \
            and principal.role not in DECIDERS:
        raise PermissionDenied("only inspectors decide or assign cases; a brand may add notes")
    now = utcnow()
    base = dict(flag_id=flag.id, at=now, actor_org_id=principal.org_id,
                actor_key_id=principal.key_id)
    if status is not None:
        if status not in STATUSES:
            raise InvalidInput(f"unknown status {status!r}; choose from {', '.join(STATUSES)}",
                               code="unknown_status")
        if status not in TRANSITIONS[CaseStatus(flag.status)]:
            allowed = ", ".join(sorted(TRANSITIONS[CaseStatus(flag.status)]))
            raise Conflict(f"a case that is {flag.status} cannot become {status}; "
                           f"it can become: {allowed}", code="invalid_transition")
        session.add(CaseEvent(**base, action="status", from_status=flag.status,
                              to_status=status, note=note))
        old = flag.status
        flag.status = status
        events.publish(session, events.CaseDecided(
            case_id=flag.id, serial=flag.serial, gtin=flag.gtin, status=status, at=now,
            actor_org_id=principal.org_id, note=note, extra={"from_status": old}))
    elif note is not None:
        session.add(CaseEvent(**base, action="note", note=note))
    if assignee is not None or unassign:
        assignee = (assignee or "").strip() or None
        session.add(CaseEvent(**base, action="assigned", assignee=assignee))
        flag.assignee = assignee
    flag.updated_at = now
    session.commit()
    return flag


# -- field inspections -----------------------------------------------------------------------


def record_inspection(session: Session, principal: Principal, data: dict) -> FieldInspection:
    serial = data["serial"].strip().upper()
    finding = data["finding"]
    if finding not in FINDINGS:
        raise InvalidInput(f"unknown finding {finding!r}; choose from {', '.join(FINDINGS)}",
                           code="unknown_finding")
    flag = session.scalar(select(Flag).where(Flag.serial == serial))
    gtin = data.get("gtin")
    if gtin:
        from ..gs1 import normalize_gtin

        gtin = normalize_gtin(gtin)
    else:
        gtin = flag.gtin if flag else session.scalar(
            select(ScanEvent.gtin).where(ScanEvent.serial == serial).limit(1))
    if not gtin:
        raise InvalidInput("this code was never scanned; give its gtin", code="gtin_required")
    lat, lon = data.get("lat"), data.get("lon")
    if (lat is None) != (lon is None):
        raise InvalidInput("give both lat and lon, or neither", code="incomplete_position")
    province = data.get("province") or default_locator.province_at(lat, lon)
    if province is not None and province not in PROVINCES:
        raise InvalidInput(f"unknown province code {province!r}", code="unknown_province")
    now = utcnow()
    inspection = FieldInspection(
        serial=serial, gtin=gtin, flag_id=flag.id if flag else None,
        inspector_org_id=principal.org_id, inspector_key_id=principal.key_id, at=now,
        finding=finding, province=province, lat=lat, lon=lon, place=data.get("place"),
        note=data.get("note"))
    session.add(inspection)
    session.flush()
    if flag is not None:
        session.add(CaseEvent(flag_id=flag.id, at=now, action="inspection",
                              actor_org_id=principal.org_id, actor_key_id=principal.key_id,
                              note=f"{finding}: {data.get('note') or ''}".strip(": ")))
    events.publish(session, events.FieldInspectionRecorded(
        inspection_id=inspection.id, serial=serial, gtin=gtin, at=now,
        inspector_org_id=principal.org_id, finding=finding, province=province, lat=lat,
        lon=lon))
    session.commit()
    return inspection


def inspections_for(session: Session, serial: str) -> list[FieldInspection]:
    return list(session.scalars(select(FieldInspection).where(FieldInspection.serial == serial)
                                .order_by(FieldInspection.at)))


def brand_may_see_gtin(session: Session, principal: Principal, gtin: str | None) -> bool:
    if principal.role is not Role.BRAND:
        return True
    if not gtin:
        return False
    return session.scalar(select(Product.id).where(
        Product.gtin == gtin, Product.brand_org_id == principal.org_id)) is not None

