"""Precise province lookup from boundary polygons (GeoJSON), with shapely and an STRtree.

The project ships the 34 units' borders (``data/vn-34-provinces.geojson``: Natural Earth's
public-domain provinces dissolved into the 2025 units; source, licence and precision in
``data/SOURCE.md``) and uses them by default. An operator with a more precise licensed file
points ``SCANAPP_PROVINCES_GEOJSON`` (read by scanapp/config.py) at a GeoJSON
FeatureCollection of the 34 province-level units (Polygon or MultiPolygon features, WGS 84
lon/lat). Each feature is
matched to a unit by a code property (``code``, ``province_code``, ``ma_tinh``, ``MA_TINH``,
``ma``: the two-digit code) or else by a name property (``name``, ``ten_tinh``,
``NAME_1``, ``name_en``; Vietnamese or English, accents and "Tỉnh"/"Thành phố" prefixes
ignored). A feature that matches no unit is an error at start-up, not a silent gap.

A lookup asks the STRtree for the polygons whose bounding boxes hold the point (a few at
most) and tests only those, so it costs microseconds. A point in no polygon but within
``COAST_KM`` of one (a harbour or beach just outside a 1:10 million coastline) belongs to the
nearest; farther out it is in no province.
"""

from __future__ import annotations

import json
import math
import unicodedata
from pathlib import Path

import shapely
from shapely.geometry import Point, shape
from shapely.strtree import STRtree

from . import PROVINCES, default_locator

SHIPPED = Path(__file__).with_name("data") / "vn-34-provinces.geojson"
_CELL_DEG = 0.05  # about 5.5 km: most of the country lies in cells inside one unit
# The shipped coastline is drawn at 1:10 million: Hạ Long's centre lies 2.3 km outside it.
COAST_KM = 5.0
CODE_PROPERTIES = ("code", "province_code", "ma_tinh", "MA_TINH", "ma")
NAME_PROPERTIES = ("name", "ten_tinh", "NAME_1", "name_vi", "name_en", "NAME")
_PREFIXES = ("tinh ", "thanh pho ", "tp. ", "tp ", "province of ", "city of ")


class GeoJSONError(ValueError):
    """The boundary file cannot be used; the message says which feature and why."""


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFD", str(text).strip().lower()).replace("đ", "d")
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    for prefix in _PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix):]
    return " ".join(text.replace("-", " ").split())


_BY_NAME: dict[str, str] = {}
for _code, _p in PROVINCES.items():
    for _name in (_p.name, _p.name_en):
        _BY_NAME[_fold(_name)] = _code
_BY_NAME[_fold("TP Hồ Chí Minh")] = "79"
_BY_NAME[_fold("Thừa Thiên Huế")] = "46"


def province_code_of(properties: dict) -> str | None:
    for key in CODE_PROPERTIES:
        value = properties.get(key)
        if value is not None:
            code = str(value).strip().zfill(2)
            if code in PROVINCES:
                return code
    for key in NAME_PROPERTIES:
        value = properties.get(key)
        if value:
            code = _BY_NAME.get(_fold(value))
            if code:
                return code
    return None


class ProvincePolygons:
    """Province boundaries in an STRtree; ``province_at`` is what ProvinceLocator calls."""

    def __init__(self, geometries: list, codes: list[str]):
        self._geometries = geometries
        self._codes = codes
        # Grid cell -> the unit that holds the whole cell (or None: the cell straddles a
        # border or the coast). Filled on first use; most scans fall in cells far from any
        # border and then cost a dictionary lookup instead of a polygon test.
        self._whole_cells: dict[tuple[int, int], str | None] = {}
        for geometry in geometries:
            shapely.prepare(geometry)
        self._tree = STRtree(geometries)

    @property
    def codes(self) -> set[str]:
        return set(self._codes)

    @classmethod
    def from_geojson(cls, data: dict) -> ProvincePolygons:
        if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
            raise GeoJSONError("expected a GeoJSON FeatureCollection")
        geometries, codes = [], []
        for index, feature in enumerate(data.get("features") or []):
            properties = feature.get("properties") or {}
            code = province_code_of(properties)
            if code is None:
                raise GeoJSONError(f"feature {index} ({properties}) matches none of the 34 "
                                   f"province-level units by code or name")
            try:
                geometry = shape(feature["geometry"])
            except Exception as exc:  # shapely raises several types for bad geometry
                raise GeoJSONError(f"feature {index} ({code}) has no usable geometry: "
                                   f"{exc}") from exc
            if geometry.geom_type not in ("Polygon", "MultiPolygon") or geometry.is_empty:
                raise GeoJSONError(f"feature {index} ({code}) is a {geometry.geom_type}, "
                                   "not a (Multi)Polygon")
            geometries.append(geometry)
            codes.append(code)
        if not geometries:
            raise GeoJSONError("the file holds no features")
        return cls(geometries, codes)

    @classmethod
    def from_file(cls, path: str | Path) -> ProvincePolygons:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise GeoJSONError(f"cannot read {path}: {exc}") from exc
        return cls.from_geojson(data)

    def provinces_near(self, lat: float, lon: float, radius_km: float) -> set[str]:
        """Units whose boundary comes within ``radius_km`` of the point (degrees taken as
        111 km north-south and 111 km x cos(latitude) east-west, enough at this scale)."""
        degrees = radius_km / (111.0 * max(0.2, math.cos(math.radians(lat))))
        area = Point(lon, lat).buffer(degrees)
        return {self._codes[int(i)] for i in self._tree.query(area, predicate="intersects")}

    def province_at(self, lat: float, lon: float) -> str | None:
        cell = (math.floor(lat / _CELL_DEG), math.floor(lon / _CELL_DEG))
        try:
            whole = self._whole_cells[cell]
        except KeyError:
            whole = self._whole_cells[cell] = self._unit_holding(cell)
        if whole is not None:
            return whole
        point = Point(lon, lat)  # GeoJSON order: x = longitude
        for index in self._tree.query(point, predicate="intersects"):
            return self._codes[int(index)]
        # Off the drawn coastline: the nearest unit, if it is close enough to be the shore.
        reach = COAST_KM / (111.0 * max(0.2, math.cos(math.radians(lat))))
        near = self._tree.query_nearest(point, max_distance=reach)
        return self._codes[int(near[0])] if len(near) else None


    def _unit_holding(self, cell: tuple[int, int]) -> str | None:
        box = shapely.box(cell[1] * _CELL_DEG, cell[0] * _CELL_DEG,
                          (cell[1] + 1) * _CELL_DEG, (cell[0] + 1) * _CELL_DEG)
        for index in self._tree.query(box, predicate="within"):
            return self._codes[int(index)]
        return None


# Parsed boundary files by (path, modification time, size): an app built again in the same
# process (the test suite builds one per test) does not parse and index the file again.
_loaded: dict[tuple[str, int, int], ProvincePolygons] = {}


def load_configured(path: str | None) -> ProvincePolygons:
    """Load the operator's boundaries (``PROVINCES_GEOJSON``, read by scanapp/config.py),
    else the shipped ones, into the shared locator."""
    source = Path(path or SHIPPED)
    try:
        stat = source.stat()
        key: tuple[str, int, int] | None = (str(source.resolve()), stat.st_mtime_ns,
                                            stat.st_size)
    except OSError:
        key = None  # from_file reports the unreadable file
    polygons = _loaded.get(key) if key else None
    if polygons is None:
        polygons = ProvincePolygons.from_file(source)
        if key:
            _loaded[key] = polygons
    default_locator.use_polygons(polygons)
    return polygons
