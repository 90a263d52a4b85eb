"""Offline maps for the inspectors' workspace: inline SVG drawn on the server.

No tiles, no CDN, no script: the 34 province-level units' borders come from the GeoJSON
that ``scanapp.regions`` ships (``regions/data/vn-34-provinces.geojson``), simplified
(about 2 km, finer than a pixel at this size) and projected once per process; the path
strings are cached. On top of them:

- ``scan_map``: a code's scans as numbered points joined in time order, so an inspector sees
  at a glance a stamp that is in Hà Nội and Cà Mau on the same day;
- ``hotspot_map``: provinces shaded by their forged and flagged codes, one bubble per map cell
  (area ~ scans), each a link to the scans behind it.

Province names are placed greedily, most important first (provinces with findings, then the
largest): each name tries a few spots around its province's inner point (further out when a
bubble covers it) and takes the first that overlaps no name, bubble or scan point already
placed; a name with no free spot is left out (its province keeps a tooltip, and the tables
list every place). Names are drawn after the bubbles, with a white halo, so a bubble never
hides its own province's name.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

from ..regions import PROVINCES
from .workspace_text import t, vn_time, word

# Mainland Vietnam with a margin; the map is taller than wide, like the country. The scales
# (about 40 px per degree of longitude, 42 per degree of latitude) keep the shape true at
# 16°N (cos 16° = 0.96).
LAT_MIN, LAT_MAX = 8.3, 23.5
LON_MIN, LON_MAX = 102.0, 110.9
WIDTH, HEIGHT = 360, 640
SIMPLIFY_DEG = 0.02
MIN_PART_DEG2 = 0.003  # islands smaller than this (~30 km²) are not drawn
FONT = 10.0
CHAR_W = 0.56  # average glyph width of the sans-serif face, in font sizes


def project(lat: float, lon: float) -> tuple[float, float]:
    x = (lon - LON_MIN) / (LON_MAX - LON_MIN) * WIDTH
    y = (LAT_MAX - lat) / (LAT_MAX - LAT_MIN) * HEIGHT
    return round(min(max(x, 0), WIDTH), 1), round(min(max(y, 0), HEIGHT), 1)


@dataclass(frozen=True)
class Outline:
    code: str
    name: str
    path: str
    x: float  # the inner point where the name goes
    y: float
    area: float  # square degrees: bigger units get their names placed first


@functools.lru_cache(maxsize=1)
def outlines() -> tuple[Outline, ...]:
    """The 34 units' borders as SVG path strings (computed once per process)."""
    from shapely.geometry import shape
    from shapely.ops import polylabel

    from ..regions.geo import SHIPPED, province_code_of

    data = json.loads(SHIPPED.read_text(encoding="utf-8"))
    out = []
    for feature in data["features"]:
        code = province_code_of(feature.get("properties") or {})
        if code is None or code not in PROVINCES:
            continue
        geometry = shape(feature["geometry"]).simplify(SIMPLIFY_DEG, preserve_topology=True)
        parts = list(getattr(geometry, "geoms", [geometry]))
        largest = max(parts, key=lambda p: p.area)
        pieces = []
        for part in parts:
            if part.area < MIN_PART_DEG2 and part is not largest:
                continue
            for ring in (part.exterior, *part.interiors):
                points = [project(lat, lon) for lon, lat in ring.coords]
                pieces.append("M" + "L".join(f"{x:g},{y:g}" for x, y in points[:-1]) + "Z")
        inner = polylabel(largest, tolerance=0.02)
        x, y = project(inner.y, inner.x)
        out.append(Outline(code, PROVINCES[code].name, "".join(pieces), x, y,
                           round(geometry.area, 4)))
    return tuple(sorted(out, key=lambda o: o.code))


# -- label placement --------------------------------------------------------------------------

@dataclass(frozen=True)
class Label:
    x: float
    y: float  # baseline
    text: str
    anchor: str  # SVG text-anchor


Box = tuple[float, float, float, float]  # x0, y0, x1, y1


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _label_box(x: float, y: float, text: str, anchor: str, font: float) -> Box:
    w = len(text) * font * CHAR_W
    x0 = x - w / 2 if anchor == "middle" else x if anchor == "start" else x - w
    return (x0 - 1, y - font * 0.8, x0 + w + 1, y + font * 0.25)


def place_labels(items: list[tuple[str, float, float]], obstacles: list[Box],
                 font: float = FONT, gap: float = 4.0) -> tuple[list[Label], list[str]]:
    """Greedy placement in the order given: (text, x, y) each tries centred on its point,
    then above, below, right and left of it (and, when a bubble or scan point covers the
    point, the same a little and a lot further out); the first spot clear of every placed
    box and inside the map wins. Returns the labels placed and the texts left out."""
    placed: list[Box] = list(obstacles)
    labels, hidden = [], []
    for text, x, y in items:
        candidates = [(x, y + font * 0.35, "middle")]
        # Further out only when a bubble or scan point sits on the province's own point: a
        # name far from its point would read as its neighbour's.
        centred = _label_box(x, y + font * 0.35, text, "middle", font)
        covered = any(_overlaps(centred, o) for o in obstacles)
        for step in (gap, gap + 8, gap + 16) if covered else (gap,):
            candidates += [(x, y - step, "middle"), (x, y + step + font * 0.8, "middle"),
                           (x + step, y + font * 0.35, "start"),
                           (x - step, y + font * 0.35, "end")]
        for cx, cy, anchor in candidates:
            box = _label_box(cx, cy, text, anchor, font)
            if box[0] < 0 or box[2] > WIDTH or box[1] < 0 or box[3] > HEIGHT:
                continue
            if any(_overlaps(box, other) for other in placed):
                continue
            placed.append(box)
            labels.append(Label(round(cx, 1), round(cy, 1), text, anchor))
            break
        else:
            hidden.append(text)
    return labels, hidden


def _circle_box(x: float, y: float, r: float) -> Box:
    return (x - r, y - r, x + r, y + r)


# -- a code's scans ---------------------------------------------------------------------------

@dataclass(frozen=True)
class MapPoint:
    x: float
    y: float
    label: str
    title: str
    kind: str  # "scan" | "forged"


@dataclass(frozen=True)
class Shape:
    code: str
    path: str
    title: str
    level: str  # "" | "flagged" | "forged" | "hot": how strongly it is shaded


@dataclass(frozen=True)
class ScanMap:
    width: int
    height: int
    shapes: list[Shape]
    labels: list[Label]
    scans: list[MapPoint]
    path: str  # SVG polyline points joining the scans in time order
    without_place: int


def scan_map(scans: list[dict]) -> ScanMap:
    points = []
    without = 0
    for n, s in enumerate(scans, start=1):
        if s["lat"] is None or s["lon"] is None:
            without += 1
            continue
        x, y = project(s["lat"], s["lon"])
        where = s["province_name"] or t("none")
        kind = "forged" if s["verdict"] == "counterfeit" else "scan"
        points.append(MapPoint(x, y, str(n), f"#{n} {vn_time(s['at'])} ({t('tz')}) — {where}"
                                             f" — {word('verdict', s['verdict'])}", kind))
    path = " ".join(f"{p.x},{p.y}" for p in points)
    shapes = [Shape(o.code, o.path, o.name, "") for o in outlines()]
    # The provinces where the code was scanned are named first.
    seen = {s.get("province") for s in scans}
    order = sorted(outlines(), key=lambda o: (o.code not in seen, -o.area))
    labels, _hidden = place_labels([(o.name, o.x, o.y) for o in order],
                                   [_circle_box(p.x, p.y, 8) for p in points])
    return ScanMap(WIDTH, HEIGHT, shapes, labels, points, path, without)


# -- hotspots ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Bubble:
    x: float
    y: float
    r: float
    title: str
    hot: bool
    cell: str


@dataclass(frozen=True)
class HotspotMap:
    width: int
    height: int
    shapes: list[Shape]
    labels: list[Label]
    bubbles: list[Bubble]
    hidden: list[str]  # province names left out for lack of room


def _level(row: dict | None) -> str:
    if not row:
        return ""
    if row.get("hotspot") or row.get("copied_hotspot"):
        return "hot"
    return "forged" if row.get("forged") else "flagged"


def hotspot_map(provinces: list[dict], cells: list[dict]) -> HotspotMap:
    """Provinces shaded by what was found there; one bubble per map cell, its area
    proportional to its forged and flagged scans."""
    by_code = {p["province"]: p for p in provinces}
    shapes = []
    for o in outlines():
        row = by_code.get(o.code)
        title = o.name if row is None else t(
            "hotspots.province_title", name=o.name,
            forged_codes=row.get("forged_codes", 0), flagged_codes=row.get("flagged_codes", 0))
        shapes.append(Shape(o.code, o.path, title, _level(row)))
    top = max((c["forged"] + c["flagged"] for c in cells), default=0) or 1
    bubbles = []
    for c in cells:
        total = c["forged"] + c["flagged"]
        if not total:
            continue
        x, y = project(c["lat"], c["lon"])
        name = PROVINCES[c["province"]].name if c.get("province") in PROVINCES else t("none")
        bubbles.append(Bubble(
            x, y, round(3 + 11 * (total / top) ** 0.5, 1),
            t("hotspots.bubble", place=name, forged_codes=c.get("forged_codes", 0),
              forged_scans=c["forged"], flagged_codes=c.get("flagged_codes", 0),
              flagged_scans=c["flagged"]),
            bool(c["hotspot"] or c.get("copied_hotspot")), c["cell"]))
    # Names of provinces with findings first, then the largest units.
    order = sorted(outlines(), key=lambda o: (o.code not in by_code, -o.area))
    labels, hidden = place_labels([(o.name, o.x, o.y) for o in order],
                                  [_circle_box(b.x, b.y, b.r) for b in bubbles])
    return HotspotMap(WIDTH, HEIGHT, shapes, labels, bubbles, hidden)
