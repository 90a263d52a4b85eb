"""Counterfeit hotspots: forged and copied codes counted per province and per map cell.

Aggregated on request from ``scan_events`` (indexed by time and by province and time), so
the scan path pays nothing for it. Two kinds, side by side:

- forged: scans whose verdict is counterfeit (a forged signature or an unknown range). A
  place with at least ``min_forged`` of them is a forged-code hotspot (``hotspot``);
- copied: scans of flagged genuine codes that carried a fraud signal themselves (risk > 0:
  the copies, not the owner's own quiet scans). A place where at least ``min_copied``
  distinct flagged codes were scanned so is a copied-code hotspot (``copied_hotspot``):
  copies of a batch of genuine codes being sold there.

Either kind needs scans from at least ``min_networks`` distinct client networks (a scan
without one counts its device as its own network): one client inventing scans with made-up
device ids and coordinates cannot make a hotspot (sybil resistance). ``flagged`` still
counts every scan of a flagged code, as before.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from ..auth.models import Role
from ..auth.service import Principal
from ..db import utcnow
from ..errors import InvalidInput
from ..gs1 import normalize_gtin
from ..products.models import Product
from ..regions import PROVINCES, cell_centre, default_locator
from ..risk.rules import (
    HOTSPOT_DEFAULT_MIN_COPIED,
    HOTSPOT_DEFAULT_MIN_FORGED,
    HOTSPOT_DEFAULT_MIN_NETWORKS,
    hotspot_places,
)
from ..scan.models import ScanEvent
from .models import Flag

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


def _conditions(principal: Principal, since: dt.datetime, until: dt.datetime,
                province: str | None, gtin: str | None) -> list:
    """The scans a caller may count: in the window, the place and GTIN asked for, and for a
    brand only those carrying its own GTINs."""
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
    return conditions


def hotspots(session: Session, principal: Principal, *, since=None, until=None,
             province: str | None = None, gtin: str | None = None,
             min_forged: int = HOTSPOT_DEFAULT_MIN_FORGED,
             min_copied: int = HOTSPOT_DEFAULT_MIN_COPIED,
             min_networks: int = HOTSPOT_DEFAULT_MIN_NETWORKS) -> dict:
    since, until = _window(since, until)
    conditions = _conditions(principal, since, until, province, gtin)

    forged = ScanEvent.verdict == COUNTERFEIT
    flagged = ScanEvent.serial.in_(select(Flag.serial))
    copied = ~forged & flagged & (ScanEvent.risk > 0)
    # A scan's network; without one its device, without that the scan alone.
    network = func.coalesce(ScanEvent.client_hash, ScanEvent.device_hash,
                            cast(ScanEvent.id, String))
    kinds = ("forged", "forged_codes", "forged_networks", "flagged", "flagged_codes",
             "copied", "copied_codes", "copied_networks")
    counts: dict[str, dict[str, Counter]] = {
        level: {kind: Counter() for kind in kinds} for level in ("province", "cell")}
    for level, column in (("province", ScanEvent.province), ("cell", ScanEvent.cell)):
        found = counts[level]
        codes = func.count(ScanEvent.serial.distinct())
        for place, n, n_codes, networks in session.execute(
                select(column, func.count(), codes, func.count(network.distinct()))
                .where(*conditions, forged, column.is_not(None)).group_by(column)):
            found["forged"][place], found["forged_networks"][place] = n, networks
            found["forged_codes"][place] = n_codes
        for place, n, n_codes in session.execute(
                select(column, func.count(), codes)
                .where(*conditions, ~forged & flagged, column.is_not(None)).group_by(column)):
            found["flagged"][place], found["flagged_codes"][place] = n, n_codes
        for place, n, codes, networks in session.execute(
                select(column, func.count(), func.count(ScanEvent.serial.distinct()),
                       func.count(network.distinct()))
                .where(*conditions, copied, column.is_not(None)).group_by(column)):
            found["copied"][place], found["copied_codes"][place] = n, codes
            found["copied_networks"][place] = networks

    def listing(level: str) -> list[dict]:
        c = counts[level]
        forged_c, flagged_c = c["forged"], c["flagged"]
        hot = {p for p in hotspot_places(forged_c, min_forged)
               if c["forged_networks"][p] >= min_networks}
        copied_hot = {p for p in hotspot_places(c["copied_codes"], min_copied)
                      if c["copied_networks"][p] >= min_networks}
        places = sorted(set(forged_c) | set(flagged_c),
                        key=lambda p: (-forged_c[p], -c["copied_codes"][p], -flagged_c[p], p))
        out = []
        for place in places:
            # forged / flagged count scans; *_codes count the distinct codes behind them.
            row = {"forged": forged_c[place], "flagged": flagged_c[place],
                   "forged_codes": c["forged_codes"][place],
                   "flagged_codes": c["flagged_codes"][place],
                   "copied": c["copied"][place], "copied_codes": c["copied_codes"][place],
                   "networks": max(c["forged_networks"][place], c["copied_networks"][place]),
                   "hotspot": place in hot, "copied_hotspot": place in copied_hot}
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
            "min_copied": min_copied, "min_networks": min_networks,
            "provinces": listing("province"), "cells": listing("cell")[:MAX_CELLS]}


MAX_SPOT_SCANS = 500


def hotspot_scans(session: Session, principal: Principal, *, since=None, until=None,
                  province: str | None = None, cell: str | None = None,
                  limit: int = MAX_SPOT_SCANS) -> dict:
    """The forged and flagged scans behind one hotspot row or bubble (a province or a map
    cell), newest first, with the counts of codes and of scans of each kind. The same
    scoping as ``hotspots``: a brand sees only scans carrying its own GTINs."""
    since, until = _window(since, until)
    if (province is None) == (cell is None):
        raise InvalidInput("give a province or a map cell", code="hotspot_place")
    if cell is not None:
        try:
            lat, lon = cell_centre(cell)
        except ValueError:
            raise InvalidInput(f"not a map cell: {cell!r}", code="unknown_cell") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise InvalidInput(f"not a map cell: {cell!r}", code="unknown_cell")
    conditions = _conditions(principal, since, until, province, None)
    if cell is not None:
        conditions.append(ScanEvent.cell == cell)
    forged = ScanEvent.verdict == COUNTERFEIT
    flagged = ScanEvent.serial.in_(select(Flag.serial))
    wanted = forged | flagged
    counts = {}
    for kind, condition in (("forged", forged), ("flagged", ~forged & flagged)):
        n, codes = session.execute(select(func.count(), func.count(
            ScanEvent.serial.distinct())).where(*conditions, condition)).one()
        counts[f"{kind}_scans"], counts[f"{kind}_codes"] = n, codes
    rows = session.execute(
        select(ScanEvent, Product.name, Product.name_en, Product.brand_org_id)
        .outerjoin(Product, Product.gtin == ScanEvent.gtin)
        .where(*conditions, wanted)
        .order_by(ScanEvent.scanned_at.desc(), ScanEvent.id.desc()).limit(limit)).all()
    scans = [{"id": e.id, "at": e.scanned_at, "serial": e.serial, "gtin": e.gtin,
              "verdict": e.verdict, "risk": e.risk, "reasons": list(e.reasons or []),
              "province": e.province, "lat": e.lat, "lon": e.lon, "cell": e.cell,
              "forged": e.verdict == COUNTERFEIT, "product": name, "product_en": name_en,
              "brand_org_id": brand_org_id}
             for e, name, name_en, brand_org_id in rows]
    total = counts["forged_scans"] + counts["flagged_scans"]
    return {"since": since, "until": until, "province": province, "cell": cell,
            **counts, "total": total, "scans": scans, "truncated": total > len(scans)}
