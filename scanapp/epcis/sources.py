"""What the EPCIS events read from the other packages' tables (serials, products, scans).

Kept in one place so the mapping stays pure and the coupling to other packages' models is
visible at a glance. Everything here runs in the caller's session.
"""

from __future__ import annotations

import datetime as dt
import logging

from flask import Flask
from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from ..errors import DomainError
from ..products.models import Product
from ..services import services
from .mapping import RangeFacts

log = logging.getLogger(__name__)

# A GTIN rarely has more lots than this; beyond it the item is named without its lot.
MAX_LOT_CANDIDATES = 50


def range_facts(session: Session, range_id: int) -> RangeFacts:
    from ..serials.models import SerialRange

    rng = session.get(SerialRange, range_id)
    if rng is None:
        # The publisher announces a range in its own transaction: it must be visible here.
        raise LookupError(f"range {range_id} announced but not found")
    return RangeFacts(range_id=rng.id, gtin=rng.gtin, lot=rng.lot or None, expiry=rng.expiry,
                      quantity=rng.quantity, brand_org_id=rng.brand_org_id,
                      printer_org_id=rng.printer_org_id)


def brand_of(session: Session, gtin: str) -> int | None:
    return session.scalar(select(Product.brand_org_id).where(Product.gtin == gtin))


def lot_of(session: Session, app: Flask, gtin: str, serial: str) -> str | None:
    """The lot a genuine serial was issued under, so it is named as on its stamp.

    The serial's signature binds its lot, so the lot is the one among the GTIN's ranges for
    which the serial verifies. A forged serial verifies under none and is named without a lot.
    """
    from ..serials.models import SerialRange

    lots = session.scalars(select(SerialRange.lot).where(SerialRange.gtin == gtin).distinct()
                           .limit(MAX_LOT_CANDIDATES)).all()
    codec = services(app).codec
    for lot in lots:
        try:
            codec.verify(serial, gtin, lot or None)
        except DomainError:
            continue
        return lot or None
    return None


def lot_of_range(session: Session, app: Flask, gtin: str, serial: str,
                 range_id: int | None) -> str | None:
    """``lot_of`` when the range the serial was scanned under is known.

    The scan path found the range by the serial and checked the serial's signature against
    that range's GTIN and lot, so the lot is the range's: no search over the GTIN's lots and
    no signature checks. Ranges are read once per session (a batch of flags shares them).
    Without a range (or with one of another GTIN) this is ``lot_of``.
    """
    if range_id is None:
        return lot_of(session, app, gtin, serial)
    from ..serials.models import SerialRange

    known = session.info.setdefault(_RANGE_LOTS, {})
    found = known.get(range_id)
    if found is None:
        row = session.execute(select(SerialRange.gtin, SerialRange.lot)
                              .where(SerialRange.id == range_id)).first()
        # A range's GTIN and lot never change once issued: safe to keep for the session.
        found = known[range_id] = (row.gtin, row.lot or None) if row else ("", None)
    range_gtin, lot = found
    if range_gtin != gtin:
        return lot_of(session, app, gtin, serial)
    return lot


_RANGE_LOTS = "epcis.range_lots"


def consumer_scan_counts(session: Session, start: dt.datetime, end: dt.datetime
                         ) -> list[tuple[str, str | None, int, int]]:
    """(gtin, province, scans, distinct codes) of genuine-code scans by the public in
    ``[start, end)``. Inspectors' scans are field inspections, exported on their own;
    forged codes name no real item, so they are not observations of one."""
    from ..scan.models import ScanEvent

    rows = session.execute(
        select(ScanEvent.gtin, ScanEvent.province, func.count(),
               func.count(distinct(ScanEvent.serial)))
        .where(ScanEvent.scanned_at >= start, ScanEvent.scanned_at < end,
               ScanEvent.source != "inspector", ScanEvent.verdict != "counterfeit")
        .group_by(ScanEvent.gtin, ScanEvent.province)
        .order_by(ScanEvent.gtin, ScanEvent.province))
    return [(gtin, province, int(scans), int(codes)) for gtin, province, scans, codes in rows]


def first_scan_time(session: Session) -> dt.datetime | None:
    from ..scan.models import ScanEvent

    return session.scalar(select(func.min(ScanEvent.scanned_at)))
