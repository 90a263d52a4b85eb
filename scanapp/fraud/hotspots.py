"""Counterfeit hotspots: forged and flagged scans counted per province and per map cell.

Aggregated on request from ``scan_events`` (indexed by time and by province and time), so
the scan path pays nothing for it. Forged = scans whose verdict is counterfeit (a forged
signature or an unknown range); flagged = scans of genuine codes that carry a flag.
A place with at least ``min_forged`` forged scans in the window is marked a hotspot.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..auth.models import Role
from ..auth.service import Principal
from ..db import utcnow
from ..errors import InvalidInput
from ..gs1 import normalize_gtin
from ..products.models import Product
from ..regions import PROVINCES, cell_centre, default_locator
from ..scan.models import ScanEvent
from .models import Flag
from .rules import HOTSPOT_DEFAULT_MIN_FORGED, hotspot_places

DEFAULT_WINDOW = dt.timedelta(days=7)
MAX_WINDOW = dt.timedelta(days=366)
MAX_CELLS = 500
COUNTERFEIT = "counterfeit"


def _window(since: dt.datetime | None, until: dt.datetime | None
            ) -> tuple[dt.datetime, dt.datetime]:
    until = until or utcnow()
    since = since or until - DEFAULT_WINDOW
    if until <= since:
        raise InvalidInput("'until' must be later than 'since'", code="invalid_window")
    if until - since > MAX_WINDOW:
        raise InvalidInput("the window may span at most 366 days", code="window_too_long")
    return since, until


def hotspots(session: Session, principal: Principal, *, since=None, until=None,
             province: str | None = None, gtin: str | None = None,
             min_forged: int = HOTSPOT_DEFAULT_MIN_FORGED) -> dict:
    since, until = _window(since, until)
    if province is not None and province not in PROVINCES:
        raise InvalidInput(f"unknown province code {province!r}", code="unknown_province")
    conditions = [ScanEvent.scanned_at >= since, ScanEvent.scanned_at < until]
    if province:
        conditions.append(ScanEvent.province == province)
    if gtin:
        conditions.append(ScanEvent.gtin == normalize_gtin(gtin))
    if principal.role is Role.BRAND:
        # A brand sees forgeries carrying its own GTINs, and the flags of its products.
        conditions.append(ScanEvent.gtin.in_(
            select(Product.gtin).where(Product.brand_org_id == principal.org_id)))

    forged = ScanEvent.verdict == COUNTERFEIT
    flagged = ScanEvent.serial.in_(select(Flag.serial))
    counts: dict[str, dict[str, Counter]] = {
        "province": {"forged": Counter(), "flagged": Counter()},
        "cell": {"forged": Counter(), "flagged": Counter()},
    }
    for level, column in (("province", ScanEvent.province), ("cell", ScanEvent.cell)):
        for kind, condition in (("forged", forged), ("flagged", ~forged & flagged)):
            rows = session.execute(
                select(column, func.count()).where(*conditions, condition, column.is_not(None))
                .group_by(column))
            counts[level][kind].update({place: n for place, n in rows})

    def listing(level: str) -> list[dict]:
        forged_c, flagged_c = counts[level]["forged"], counts[level]["flagged"]
        hot = hotspot_places(forged_c, min_forged)
        places = sorted(set(forged_c) | set(flagged_c),
                        key=lambda p: (-forged_c[p], -flagged_c[p], p))
        out = []
        for place in places:
            row = {"forged": forged_c[place], "flagged": flagged_c[place],
                   "hotspot": place in hot}
            if level == "province":
                info = PROVINCES.get(place)
                row = {"province": place, "name": info.name if info else None,
                       "name_en": info.name_en if info else None, **row}
            else:
                lat, lon = cell_centre(place)
                row = {"cell": place, "lat": round(lat, 4), "lon": round(lon, 4),
                       "province": default_locator.province_at(lat, lon), **row}
            out.append(row)
        return out

    return {"since": since, "until": until, "min_forged": min_forged,
            "provinces": listing("province"), "cells": listing("cell")[:MAX_CELLS]}
