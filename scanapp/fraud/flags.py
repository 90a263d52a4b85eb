"""Flags and cases: raising and escalating flags, listing them, the case workflow, field
inspections.

A flag is the case: one row per suspect code carries the risk, the reasons, the case status
and the assignee, and ``fraud_case_events`` keeps the full audit trail (who, what, when).
Inspectors and admins see every flag and act on cases; a brand sees the flags of its own
products and may add notes (its answer to an alert) but not decide a case.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from .. import events
from ..auth.models import Organisation, Role
from ..auth.service import Principal
from ..db import session_scope, utcnow
from ..errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ..photos import Photo
from ..products.models import Product
from ..regions import PROVINCES, default_locator
from ..risk.engine import Assessment
from ..risk.facts import CodeHistory, RangeFacts, ScanFacts
from ..scan.models import ScanEvent
from .models import CaseEvent, CaseStatus, FieldInspection, Flag, InspectionPhoto

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class FlagItem:
    """One scan whose assessment says ``flag``: what ``record_flags`` is given."""

    scan_event_id: int | None
    scan: ScanFacts
    rng: RangeFacts
    assessment: Assessment


def record_flags(app: Flask, items: Sequence[FlagItem]) -> list[int | None]:
    """Raise or escalate the flags of several scans in one transaction.

    The outcome is the one of recording the items one by one, in order: several scans of one
    code in the batch become one raise and/or escalations, each with its case event and its
    ``FlagRaised`` (EPCIS event, webhook outbox row), exactly as if each had committed on its
    own. Another process raising or escalating the same code meanwhile is handled per code
    (``INSERT ... ON CONFLICT DO NOTHING``, conditional escalation UPDATE), so it never costs
    the batch's other codes. Returns, per item, the flag id when that item raised or
    escalated the flag, else None. Raises on database trouble: nothing is written then.
    """
    if not items:
        return []
    with app.app_context(), session_scope(app) as session:
        results = _FlagBatch(session, items).write()
        session.commit()
    return results


# Columns of a flag that raising and escalating read.
_STATE_COLUMNS = (Flag.id, Flag.serial, Flag.gtin, Flag.product_id, Flag.brand_org_id,
                  Flag.range_id, Flag.risk, Flag.reasons, Flag.province, Flag.status,
                  Flag.escalations, Flag.first_scan_event_id, Flag.last_scan_event_id,
                  Flag.raised_at, Flag.updated_at)
# Attempts at escalating one code while other processes keep escalating it too.
_ESCALATION_ATTEMPTS = 3


@dataclass
class _FlagState:
    """A flag row as this batch sees it (read, or about to be inserted)."""

    id: int | None
    serial: str
    gtin: str
    product_id: int | None
    brand_org_id: int | None
    range_id: int | None
    risk: int
    reasons: list[str]
    province: str | None
    status: str
    escalations: int
    first_scan_event_id: int | None
    last_scan_event_id: int | None
    raised_at: dt.datetime
    updated_at: dt.datetime

    def row(self) -> dict:
        return {c.key: getattr(self, c.key) for c in _STATE_COLUMNS if c.key != "id"}


@dataclass(frozen=True)
class _Step:
    """One raise or escalation: its case event and its ``FlagRaised``."""

    index: int  # of the item that caused it
    escalated: bool
    at: dt.datetime
    risk: int
    reasons: tuple[str, ...]
    from_status: str | None
    to_status: str | None
    note: str | None
    range_id: int | None


def _plan(state: _FlagState | None, items: list[tuple[int, FlagItem]],
          product: tuple[int, int] | None) -> tuple[_FlagState | None, list[_Step]]:
    """Apply one code's items in order to its flag (None: no flag yet), in memory.

    Returns the flag as it stands after them and the steps that changed it; each item is
    judged against the flag as the previous ones left it, as one-by-one commits would.
    """
    state = None if state is None else _FlagState(**vars(state))
    steps: list[_Step] = []
    for index, item in items:
        scan, assessment = item.scan, item.assessment
        now = utcnow()
        if state is None:
            state = _FlagState(
                id=None, serial=scan.serial, gtin=scan.gtin,
                product_id=product[0] if product else None,
                brand_org_id=product[1] if product else None, range_id=item.rng.range_id,
                risk=assessment.risk, reasons=list(assessment.reasons),
                province=scan.place.province, status=CaseStatus.OPEN.value, escalations=0,
                first_scan_event_id=item.scan_event_id,
                last_scan_event_id=item.scan_event_id, raised_at=now, updated_at=now)
            steps.append(_Step(index, False, now, state.risk, tuple(state.reasons), None,
                               state.status, ", ".join(state.reasons), item.rng.range_id))
            continue
        new_reasons = [r for r in assessment.reasons if r not in state.reasons]
        if assessment.risk < state.risk + ESCALATION_STEP and not new_reasons:
            continue
        reasons = [*assessment.reasons,
                   *[r for r in state.reasons if r not in assessment.reasons]]
        reopened = state.status in REOPEN_ON_ESCALATION
        from_status = state.status
        state.risk = max(state.risk, assessment.risk)
        state.reasons = reasons
        if reopened:
            state.status = CaseStatus.OPEN.value
        state.province = scan.place.province or state.province
        state.escalations += 1
        state.last_scan_event_id = item.scan_event_id
        state.updated_at = now
        steps.append(_Step(index, True, now, state.risk, tuple(reasons),
                           from_status if reopened else None,
                           state.status if reopened else None,
                           ", ".join(new_reasons) or None, item.rng.range_id))
    return state, steps


class _FlagBatch:
    """``record_flags``' unit of work, in the caller's session (the caller commits)."""

    def __init__(self, session: Session, items: Sequence[FlagItem]):
        self.session = session
        self.items = items
        # serial -> its items in order: one code's scans are applied together.
        self.by_serial: dict[str, list[tuple[int, FlagItem]]] = {}
        for index, item in enumerate(items):
            self.by_serial.setdefault(item.scan.serial, []).append((index, item))
        self.done: list[tuple[_FlagState, list[_Step]]] = []

    def write(self) -> list[int | None]:
        session = self.session
        existing = self._read(Flag.serial.in_(list(self.by_serial)))
        new = sorted(s for s in self.by_serial if s not in existing)
        if new:
            gtins = {self.by_serial[s][0][1].scan.gtin for s in new}
            products = {gtin: (pid, brand) for gtin, pid, brand in session.execute(
                select(Product.gtin, Product.id, Product.brand_org_id)
                .where(Product.gtin.in_(gtins)))}
            taken = self._insert(new, products)
            if taken:
                # Raised by another process since we looked: escalate theirs instead.
                existing.update(self._read(Flag.serial.in_(taken)))
        for serial in sorted(existing):
            self._escalate(existing[serial], self.by_serial[serial])
        return self._record()

    def _read(self, where) -> dict[str, _FlagState]:
        rows = self.session.execute(select(*_STATE_COLUMNS).where(where))
        return {row.serial: _FlagState(**row._asdict()) for row in rows}

    def _insert(self, serials: list[str], products: dict) -> list[str]:
        """Insert the flags of codes that have none (in serial order, so that two batches
        wait on each other's rows in one order, never in a cycle); returns the serials that
        another process flagged first."""
        planned = {}
        for serial in serials:
            items = self.by_serial[serial]
            planned[serial] = _plan(None, items, products.get(items[0][1].scan.gtin))
        dialect = self.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = (insert(Flag.__table__).on_conflict_do_nothing(index_elements=["serial"])
                .returning(Flag.__table__.c.id, Flag.__table__.c.serial))
        # Given as many parameter sets: one cached statement, sent as multi-row INSERTs.
        rows = self.session.execute(stmt, [planned[s][0].row() for s in serials])
        inserted = {serial: flag_id for flag_id, serial in rows}
        for serial, flag_id in inserted.items():
            state, steps = planned[serial]
            state.id = flag_id
            self.done.append((state, steps))
        return [s for s in serials if s not in inserted]

    def _escalate(self, state: _FlagState, items: list[tuple[int, FlagItem]]) -> None:
        flags = Flag.__table__.c
        for _attempt in range(_ESCALATION_ATTEMPTS):
            after, steps = _plan(state, items, None)
            if not steps:
                return
            # Conditional on the version we read: of two concurrent escalations only one
            # wins; the loser reads the winner's flag and judges its scans against it.
            result = self.session.execute(
                update(Flag.__table__)
                .where(flags.id == state.id, flags.escalations == state.escalations)
                .values(risk=after.risk, reasons=after.reasons, status=after.status,
                        province=after.province, escalations=after.escalations,
                        last_scan_event_id=after.last_scan_event_id,
                        updated_at=after.updated_at))
            if result.rowcount == 1:
                self.done.append((after, steps))
                return
            state = self._read(flags.id == state.id).get(state.serial)
            if state is None:
                return

    def _record(self) -> list[int | None]:
        """The case events and ``FlagRaised`` of every step, in the items' order."""
        steps = sorted(((step, state) for state, steps in self.done for step in steps),
                       key=lambda pair: pair[0].index)
        results: list[int | None] = [None] * len(self.items)
        if not steps:
            return results
        self.session.execute(insert(CaseEvent.__table__), [
            {"flag_id": state.id, "at": step.at,
             "action": "escalated" if step.escalated else "raised",
             "from_status": step.from_status, "to_status": step.to_status, "risk": step.risk,
             "note": step.note} for step, state in steps])
        for step, state in steps:
            results[step.index] = state.id
            events.publish(self.session, events.FlagRaised(
                flag_id=state.id, serial=state.serial, gtin=state.gtin, risk=step.risk,
                reasons=step.reasons,
                # Every genuine code has a product; 0 only if the catalogue lost it meanwhile.
                brand_org_id=state.brand_org_id or 0, escalated=step.escalated, at=step.at,
                range_id=step.range_id))
        return results


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


def record_inspection(session: Session, principal: Principal, data: dict,
                      photos: Sequence[Photo] = ()) -> FieldInspection:
    """Store a field inspection, with its photos (already cleaned: ``scanapp.photos``), in
    one transaction: nothing of it is stored if any part fails."""
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
    for photo in photos:
        session.add(InspectionPhoto(
            inspection_id=inspection.id, data=photo.data, content_type=photo.content_type,
            width=photo.width, height=photo.height,
            sha256=hashlib.sha256(photo.data).hexdigest(), created_at=now))
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


def inspection_photos(session: Session, inspection_ids) -> dict[int, list[InspectionPhoto]]:
    """The photos of these inspections (without their bytes), per inspection, in order."""
    found: dict[int, list[InspectionPhoto]] = {}
    ids = list(inspection_ids)
    if not ids:
        return found
    for photo in session.scalars(select(InspectionPhoto)
                                 .where(InspectionPhoto.inspection_id.in_(ids))
                                 .order_by(InspectionPhoto.id)):
        found.setdefault(photo.inspection_id, []).append(photo)
    return found


def brand_may_see_gtin(session: Session, principal: Principal, gtin: str | None) -> bool:
    if principal.role is not Role.BRAND:
        return True
    if not gtin:
        return False
    return session.scalar(select(Product.id).where(
        Product.gtin == gtin, Product.brand_org_id == principal.org_id)) is not None


# -- the scan path's hook (scanapp/bootstrap.py hands it over) -------------------------------


def on_scan_recorded(app: Flask, scan_event_id: int | None, scan: ScanFacts,
                     history: CodeHistory, rng: RangeFacts, assessment: Assessment) -> None:
    on_scans_recorded(app, [(scan_event_id, scan, history, rng, assessment)])


def on_scans_recorded(app: Flask, calls: Sequence[tuple]) -> None:
    """``on_scan_recorded`` for several stored scans at once, each given as its arguments
    ``(scan_event_id, scan, history, rng, assessment)`` in the order they were recorded.

    Their flags are written in one transaction (``flags.record_flags``), with the same
    outcome as one call each. Never raises: if the batch fails, each flag is tried on its
    own, so one bad item costs only itself.
    """
    items = [FlagItem(scan_event_id, scan, rng, assessment)
             for scan_event_id, scan, _history, rng, assessment in calls if assessment.flag]
    if not items:
        return None
    if len(items) > 1:
        try:
            record_flags(app, items)
            return None
        except Exception:  # noqa: BLE001
            log.exception("could not record a batch of %d flags; writing them one by one",
                          len(items))
    for item in items:
        try:
            record_flags(app, [item])
        except Exception:  # noqa: BLE001
            # The scan itself is already stored and answered; a lost flag write is raised
            # again by the code's next scan (its risk only grows), so log rather than fail
            # the scan.
            log.exception("could not record the flag for serial %s", item.scan.serial)
    return None
