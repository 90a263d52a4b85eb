"""The authority's queue of data-quality findings, and turning one into a violation case.

A case is a row of the inspectors' case workflow (``fraud_flags`` with its audit trail,
scanapp/fraud): from then on inspectors and admins work it with the same statuses,
assignment and notes as a counterfeit case. Its ``serial`` is ``TXNG-<finding id>`` (the
column is the case's unique handle; a data case has no one stamp) and its reason
``trace:<rule>``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.service import Principal
from ..db import utcnow
from ..errors import Conflict, NotFound
from ..fraud.models import CaseEvent, CaseStatus, Flag
from ..products.models import Product
from .models import Finding
from .scope import scope_of

CASE_RISK = 100


def findings_query(session: Session, principal: Principal):
    scope = scope_of(session, principal)
    query = select(Finding).order_by(Finding.found_at.desc(), Finding.id.desc())
    return query if scope.province is None else query.where(Finding.province == scope.province)


def list_findings(session: Session, principal: Principal, state: str | None = None,
                  rule: str | None = None, limit: int = 500) -> list[Finding]:
    query = findings_query(session, principal)
    if state:
        query = query.where(Finding.state == state)
    if rule:
        query = query.where(Finding.rule == rule)
    return list(session.scalars(query.limit(limit)))


def get_finding(session: Session, principal: Principal, finding_id: int) -> Finding:
    found = session.scalar(findings_query(session, principal).where(Finding.id == finding_id))
    if found is None:
        raise NotFound(f"no finding with id {finding_id}")
    return found


def _open(session: Session, principal: Principal, finding_id: int) -> Finding:
    finding = get_finding(session, principal, finding_id)
    if finding.state != "open":
        raise Conflict(f"this finding is already {finding.state}", code="finding_closed")
    return finding


def dismiss(session: Session, principal: Principal, finding_id: int,
            note: str | None = None) -> Finding:
    finding = _open(session, principal, finding_id)
    finding.state, finding.closed_at = "dismissed", utcnow()
    finding.details = {**finding.details, "dismissed_by_org_id": principal.org_id,
                       "dismiss_note": (note or "").strip() or None}
    session.commit()
    return finding


def open_case(session: Session, principal: Principal, finding_id: int,
              note: str | None = None) -> Finding:
    """Make the finding a violation case in the inspectors' case workflow."""
    finding = _open(session, principal, finding_id)
    product = session.scalar(select(Product).where(Product.gtin == finding.gtin)) \
        if finding.gtin else None
    now = utcnow()
    flag = Flag(serial=f"TXNG-{finding.id}", gtin=finding.gtin or "00000000000000",
                product_id=product.id if product else None,
                brand_org_id=product.brand_org_id if product else finding.org_id,
                risk=CASE_RISK, reasons=[f"trace:{finding.rule}"], province=finding.province,
                status=CaseStatus.OPEN.value, raised_at=now, updated_at=now)
    session.add(flag)
    session.flush()
    text = finding.message_vi + (f"\n{note.strip()}" if note and note.strip() else "")
    session.add(CaseEvent(flag_id=flag.id, at=now, action="raised", risk=CASE_RISK,
                          actor_org_id=principal.org_id, actor_key_id=principal.key_id,
                          to_status=CaseStatus.OPEN.value, note=text))
    finding.state, finding.case_id, finding.closed_at = "case", flag.id, now
    session.commit()
    return finding
