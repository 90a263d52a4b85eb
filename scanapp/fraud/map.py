"""An offline map of a code's scan places: inline SVG over the province centres.

No tiles and no CDN: the 34 province-level centres are drawn as reference dots with their
names, the scans as numbered points joined in time order, so an inspector sees at a glance
a stamp that is in Hà Nội and Cà Mau on the same day.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..regions import PROVINCES

# Mainland Vietnam with a margin; the map is taller than wide, like the country.
LAT_MIN, LAT_MAX = 8.4, 23.5
LON_MIN, LON_MAX = 102.0, 110.9  # room for the eastern labels
WIDTH, HEIGHT = 320, 600


def project(lat: float, lon: float) -> tuple[float, float]:
    x = (lon - LON_MIN) / (LON_MAX - LON_MIN) * WIDTH
    y = (LAT_MAX - lat) / (LAT_MAX - LAT_MIN) * HEIGHT
    return round(min(max(x, 0), WIDTH), 1), round(min(max(y, 0), HEIGHT), 1)


@dataclass(frozen=True)
class MapPoint:
    x: float
    y: float
    label: str
    title: str
    kind: str  # "province" | "scan" | "forged"


@dataclass(frozen=True)
class ScanMap:
    width: int
    height: int
    provinces: list[MapPoint]
    scans: list[MapPoint]
    path: str  # SVG polyline points joining the scans in time order
    without_place: int


def scan_map(scans: list[dict]) -> ScanMap:
    provinces = []
    for p in PROVINCES.values():
        x, y = project(p.lat, p.lon)
        provinces.append(MapPoint(x, y, p.name, f"{p.name} ({p.code})", "province"))
    points = []
    without = 0
    for n, s in enumerate(scans, start=1):
        if s["lat"] is None or s["lon"] is None:
            without += 1
            continue
        x, y = project(s["lat"], s["lon"])
        when = s["at"].strftime("%Y-%m-%d %H:%M UTC")
        where = s["province_name"] or "?"
        kind = "forged" if s["verdict"] == "counterfeit" else "scan"
        points.append(MapPoint(x, y, str(n), f"#{n} {when} — {where} ({s['verdict']})", kind))
    path = " ".join(f"{p.x},{p.y}" for p in points)
    return ScanMap(WIDTH, HEIGHT, provinces, points, path, without)


@dataclass(frozen=True)
class Bubble:
    x: float
    y: float
    r: float
    title: str
    hot: bool


def hotspot_map(provinces: list[dict], cells: list[dict]) -> tuple[ScanMap, list[Bubble]]:
    """Province dots as reference, and one bubble per map cell sized by its forged count."""
    base = scan_map([])
    top = max((c["forged"] + c["flagged"] for c in cells), default=0) or 1
    bubbles = []
    for c in cells:
        total = c["forged"] + c["flagged"]
        if not total:
            continue
        x, y = project(c["lat"], c["lon"])
        name = PROVINCES[c["province"]].name if c.get("province") in PROVINCES else "?"
        bubbles.append(Bubble(x, y, round(3 + 12 * (total / top) ** 0.5, 1),
                              f"{name}: {c['forged']} forged, {c['flagged']} flagged, "
                              f"{c.get('copied_codes', 0)} copied codes (cell {c['cell']})",
                              c["hotspot"] or c.get("copied_hotspot", False)))
    return base, bubbles
