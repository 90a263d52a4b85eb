"""Implementation statistics of the provincial plans, for a period.

Per province (the authority's, or every province with traceability data for a nationwide
one) and per sector (the product category): firms using barcodes and those running a
traceability system, products and lots traced, the share of traced products connected to
the national portal, stamps issued and scanned, counterfeit flags, cases opened and closed,
data-quality findings and review decisions; with the province plan's targets beside them.

Definitions (written down so a report can be checked against its data):
- a firm using barcodes: an organisation with a party in the province that owns a product;
- running a traceability system: one of its products has a lot with a recorded event (by
  the end of the period);
- a traced product: a product with such a lot; connected to the portal: one of its lots'
  documents was delivered to the National Traceability Portal (by the end of the period);
- lots traced: lots with an event in the period;
- stamps issued: codes of ranges created in the period; scanned: distinct codes scanned
  in the period (and the number of scans);
- counterfeit flags: counterfeit suspicions raised in the period whose scan was in the
  province (data cases, serial ``TXNG-``, not included); confirmed: of those, confirmed;
- cases opened: every case (both kinds) raised in the period in the province; closed:
  cases whose status became confirmed, false alarm or resolved within the period.
Dates are Vietnam dates: the period runs from 00:00 of ``start`` to 24:00 of ``end``, +07.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..fraud.models import CaseEvent, Flag
from ..products.models import Product
from ..regions import PROVINCES
from ..scan.models import ScanEvent
from ..serials.models import SerialRange
from ..trace.models import Lot, LotEvent, Party, PortalOutbox
from .models import Finding, ProvincePolicy, ReviewItem, ReviewLog
from .scope import DEFAULT_TARGETS, Scope

VN = dt.timezone(dt.timedelta(hours=7))
CLOSED = ("confirmed_counterfeit", "false_alarm", "resolved")
NO_SECTOR = "Chưa phân loại"


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date

    @property
    def since(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time(), VN).astimezone(dt.UTC)

    @property
    def until(self) -> dt.datetime:
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(),
                                   VN).astimezone(dt.UTC)

    @classmethod
    def of(cls, start: dt.date | None, end: dt.date | None) -> Period:
        today = dt.datetime.now(VN).date()
        start = start or dt.date(today.year, 1, 1)
        end = end or today
        if end < start:
            raise InvalidInput("the period ends before it starts", code="bad_period")
        if (end - start).days > 3660:
            raise InvalidInput("a period is at most ten years", code="bad_period")
        return cls(start, end)


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def provinces_in(session: Session, scope: Scope) -> list[str]:
    if scope.province is not None:
        return [scope.province]
    found = set(session.scalars(select(Party.province).where(Party.province.is_not(None))
                                .distinct()))
    return sorted(p for p in found if p in PROVINCES)


def province_figures(session: Session, province: str, period: Period) -> dict[str, Any]:
    since, until = period.since, period.until
    orgs = set(session.scalars(select(Party.org_id).where(Party.province == province,
                                                          Party.org_id.is_not(None))))
    products = session.scalars(select(Product).where(Product.brand_org_id.in_(orgs))
                               .order_by(Product.id)).all() if orgs else []
    product_ids = [p.id for p in products]
    traced_ids = set(session.scalars(
        select(Lot.product_id).join(LotEvent, LotEvent.lot_id == Lot.id)
        .where(Lot.product_id.in_(product_ids), LotEvent.event_time < until).distinct())
    ) if product_ids else set()
    connected_ids = set(session.scalars(
        select(Lot.product_id).join(PortalOutbox, PortalOutbox.lot_id == Lot.id)
        .where(Lot.product_id.in_(product_ids), PortalOutbox.sent_at.is_not(None),
               PortalOutbox.sent_at < until).distinct())) & traced_ids if product_ids else set()
    lots_in_period = dict(session.execute(
        select(Lot.product_id, func.count(func.distinct(Lot.id)))
        .join(LotEvent, LotEvent.lot_id == Lot.id)
        .where(Lot.product_id.in_(product_ids), LotEvent.event_time >= since,
               LotEvent.event_time < until).group_by(Lot.product_id)).all()) \
        if product_ids else {}
    sectors: dict[str, dict[str, int]] = defaultdict(lambda: {
        "products": 0, "traced_products": 0, "connected_products": 0, "lots_traced": 0,
        "firms": set()})
    for product in products:
        row = sectors[product.category or NO_SECTOR]
        row["products"] += 1
        row["traced_products"] += product.id in traced_ids
        row["connected_products"] += product.id in connected_ids
        row["lots_traced"] += lots_in_period.get(product.id, 0)
        row["firms"].add(product.brand_org_id)
    brand_orgs = {p.brand_org_id for p in products}
    traced_orgs = {p.brand_org_id for p in products if p.id in traced_ids}
    gtins = [p.gtin for p in products]
    issued = session.scalar(select(func.coalesce(func.sum(SerialRange.quantity), 0)).where(
        SerialRange.product_id.in_(product_ids), SerialRange.created_at >= since,
        SerialRange.created_at < until)) if product_ids else 0
    scanned = session.execute(select(
        func.count(func.distinct(ScanEvent.serial)), func.count()).where(
        ScanEvent.gtin.in_(gtins), ScanEvent.scanned_at >= since,
        ScanEvent.scanned_at < until)).one() if gtins else (0, 0)
    flags = select(Flag).where(Flag.province == province, Flag.raised_at >= since,
                               Flag.raised_at < until)
    counterfeit = [f for f in session.scalars(flags) if not f.serial.startswith("TXNG-")]
    opened = session.scalar(select(func.count()).select_from(flags.subquery()))
    closed = session.scalar(select(func.count(func.distinct(CaseEvent.flag_id)))
                            .join(Flag, Flag.id == CaseEvent.flag_id).where(
        Flag.province == province, CaseEvent.action == "status",
        CaseEvent.to_status.in_(CLOSED), CaseEvent.at >= since, CaseEvent.at < until))
    findings = dict(session.execute(
        select(Finding.rule, func.count()).where(
            Finding.province == province, Finding.found_at >= since,
            Finding.found_at < until).group_by(Finding.rule)).all())
    decisions = dict(session.execute(
        select(ReviewLog.action, func.count()).join(ReviewItem, ReviewItem.id == ReviewLog.item_id)
        .where(ReviewItem.province == province, ReviewLog.at >= since, ReviewLog.at < until,
               ReviewLog.action.in_(("approved", "rejected"))).group_by(ReviewLog.action)
    ).all())
    policy = session.get(ProvincePolicy, province)
    targets = {**DEFAULT_TARGETS, **((policy.targets or {}) if policy else {})}
    firms_pct = _pct(len(traced_orgs), len(brand_orgs))
    portal_pct = _pct(len(connected_ids), len(traced_ids))
    return {
        "province": province, "province_name": PROVINCES[province].name,
        "plan": policy.plan if policy else None,
        "firms": {"using_barcodes": len(brand_orgs), "with_traceability": len(traced_orgs),
                  "pct": firms_pct, "target_pct": targets["firms_with_trace_pct"],
                  "met": firms_pct is not None
                  and firms_pct >= targets["firms_with_trace_pct"]},
        "portal": {"traced_products": len(traced_ids), "connected": len(connected_ids),
                   "pct": portal_pct, "target_pct": targets["traced_products_on_portal_pct"],
                   "met": portal_pct is not None
                   and portal_pct >= targets["traced_products_on_portal_pct"]},
        "products": len(products), "traced_products": len(traced_ids),
        "lots_traced": sum(lots_in_period.values()),
        "sectors": [{"sector": name, **{k: v for k, v in row.items() if k != "firms"},
                     "firms": len(row["firms"])} for name, row in sorted(sectors.items())],
        "stamps": {"issued": int(issued or 0), "scanned_codes": int(scanned[0]),
                   "scans": int(scanned[1])},
        "counterfeit": {"flags": len(counterfeit),
                        "confirmed": sum(f.status == "confirmed_counterfeit"
                                         for f in counterfeit)},
        "cases": {"opened": int(opened or 0), "closed": int(closed or 0)},
        "findings": {"total": sum(findings.values()), "by_rule": findings},
        "reviews": {"approved": decisions.get("approved", 0),
                    "rejected": decisions.get("rejected", 0)},
    }


def statistics(session: Session, scope: Scope, period: Period) -> dict[str, Any]:
    return {"scope": scope.label, "period": {"from": period.start.isoformat(),
                                             "to": period.end.isoformat()},
            "generated_at": dt.datetime.now(VN).isoformat(timespec="minutes"),
            "provinces": [province_figures(session, p, period)
                          for p in provinces_in(session, scope)]}
