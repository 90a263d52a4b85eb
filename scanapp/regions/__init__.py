"""Vietnam's 34 province-level units (since the 2025 reorganisation) and an offline lookup
from coordinates to a unit.

The codes are the two-digit administrative codes: each merged unit keeps the code of the
former province that holds its administrative centre (Decision 19/2025/QĐ-TTg's rule).
The lookup uses the units' borders shipped with the project (``data/``, loaded at import like
the table below; an operator may load more precise ones: see ``geo``): a point outside every
border (and off the coast) is in no province. The nearest-anchor search over the 63 former
provincial capitals, each labelled with the unit it now belongs to, remains for a locator
built without polygons.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Province:
    code: str
    name: str
    name_en: str
    lat: float
    lon: float


PROVINCES: dict[str, Province] = {p.code: p for p in [
    Province("01", "Hà Nội", "Hanoi", 21.0285, 105.8542),
    Province("04", "Cao Bằng", "Cao Bang", 22.6657, 106.2570),
    Province("08", "Tuyên Quang", "Tuyen Quang", 21.8236, 105.2140),
    Province("11", "Điện Biên", "Dien Bien", 21.3860, 103.0230),
    Province("12", "Lai Châu", "Lai Chau", 22.3964, 103.4582),
    Province("14", "Sơn La", "Son La", 21.3270, 103.9141),
    Province("15", "Lào Cai", "Lao Cai", 21.7229, 104.9113),
    Province("19", "Thái Nguyên", "Thai Nguyen", 21.5942, 105.8482),
    Province("20", "Lạng Sơn", "Lang Son", 21.8537, 106.7615),
    Province("22", "Quảng Ninh", "Quang Ninh", 20.9599, 107.0425),
    Province("24", "Bắc Ninh", "Bac Ninh", 21.2731, 106.1946),
    Province("25", "Phú Thọ", "Phu Tho", 21.3227, 105.4020),
    Province("31", "Hải Phòng", "Hai Phong", 20.8449, 106.6881),
    Province("33", "Hưng Yên", "Hung Yen", 20.6464, 106.0511),
    Province("37", "Ninh Bình", "Ninh Binh", 20.2506, 105.9745),
    Province("38", "Thanh Hóa", "Thanh Hoa", 19.8067, 105.7852),
    Province("40", "Nghệ An", "Nghe An", 18.6796, 105.6813),
    Province("42", "Hà Tĩnh", "Ha Tinh", 18.3428, 105.9057),
    Province("44", "Quảng Trị", "Quang Tri", 17.4689, 106.6223),
    Province("46", "Huế", "Hue", 16.4637, 107.5909),
    Province("48", "Đà Nẵng", "Da Nang", 16.0544, 108.2022),
    Province("51", "Quảng Ngãi", "Quang Ngai", 15.1214, 108.8044),
    Province("52", "Gia Lai", "Gia Lai", 13.7830, 109.2197),
    Province("56", "Khánh Hòa", "Khanh Hoa", 12.2388, 109.1967),
    Province("66", "Đắk Lắk", "Dak Lak", 12.6667, 108.0500),
    Province("68", "Lâm Đồng", "Lam Dong", 11.9404, 108.4583),
    Province("75", "Đồng Nai", "Dong Nai", 10.9574, 106.8426),
    Province("79", "Hồ Chí Minh", "Ho Chi Minh City", 10.7769, 106.7009),
    Province("80", "Tây Ninh", "Tay Ninh", 10.5359, 106.4137),
    Province("82", "Đồng Tháp", "Dong Thap", 10.3600, 106.3600),
    Province("86", "Vĩnh Long", "Vinh Long", 10.2537, 105.9722),
    Province("91", "An Giang", "An Giang", 10.0125, 105.0809),
    Province("92", "Cần Thơ", "Can Tho", 10.0452, 105.7469),
    Province("96", "Cà Mau", "Ca Mau", 9.1769, 105.1524),
]}

# The 63 former province-level units (codes and names before 1 July 2025) and the unit of
# the 34 each became part of (Resolution 202/2025/QH15): scans, flags and market regions
# stored with a former code are read through ``unit_of_former``.
FORMER_PROVINCES: dict[str, tuple[str, str]] = {
    "01": ("Hà Nội", "01"), "02": ("Hà Giang", "08"), "04": ("Cao Bằng", "04"),
    "06": ("Bắc Kạn", "19"), "08": ("Tuyên Quang", "08"), "10": ("Lào Cai", "15"),
    "11": ("Điện Biên", "11"), "12": ("Lai Châu", "12"), "14": ("Sơn La", "14"),
    "15": ("Yên Bái", "15"), "17": ("Hòa Bình", "25"), "19": ("Thái Nguyên", "19"),
    "20": ("Lạng Sơn", "20"), "22": ("Quảng Ninh", "22"), "24": ("Bắc Giang", "24"),
    "25": ("Phú Thọ", "25"), "26": ("Vĩnh Phúc", "25"), "27": ("Bắc Ninh", "24"),
    "30": ("Hải Dương", "31"), "31": ("Hải Phòng", "31"), "33": ("Hưng Yên", "33"),
    "34": ("Thái Bình", "33"), "35": ("Hà Nam", "37"), "36": ("Nam Định", "37"),
    "37": ("Ninh Bình", "37"), "38": ("Thanh Hóa", "38"), "40": ("Nghệ An", "40"),
    "42": ("Hà Tĩnh", "42"), "44": ("Quảng Bình", "44"), "45": ("Quảng Trị", "44"),
    "46": ("Thừa Thiên Huế", "46"), "48": ("Đà Nẵng", "48"), "49": ("Quảng Nam", "48"),
    "51": ("Quảng Ngãi", "51"), "52": ("Bình Định", "52"), "54": ("Phú Yên", "66"),
    "56": ("Khánh Hòa", "56"), "58": ("Ninh Thuận", "56"), "60": ("Bình Thuận", "68"),
    "62": ("Kon Tum", "51"), "64": ("Gia Lai", "52"), "66": ("Đắk Lắk", "66"),
    "67": ("Đắk Nông", "68"), "68": ("Lâm Đồng", "68"), "70": ("Bình Phước", "75"),
    "72": ("Tây Ninh", "80"), "74": ("Bình Dương", "79"), "75": ("Đồng Nai", "75"),
    "77": ("Bà Rịa - Vũng Tàu", "79"), "79": ("Hồ Chí Minh", "79"), "80": ("Long An", "80"),
    "82": ("Tiền Giang", "82"), "83": ("Bến Tre", "86"), "84": ("Trà Vinh", "86"),
    "86": ("Vĩnh Long", "86"), "87": ("Đồng Tháp", "82"), "89": ("An Giang", "91"),
    "91": ("Kiên Giang", "91"), "92": ("Cần Thơ", "92"), "93": ("Hậu Giang", "92"),
    "94": ("Sóc Trăng", "92"), "95": ("Bạc Liêu", "96"), "96": ("Cà Mau", "96"),
}


def unit_of_former(code: str) -> str | None:
    """The current unit (of the 34) that a former province code (of the 63) is part of."""
    found = FORMER_PROVINCES.get(code)
    return found[1] if found else None


# Former provincial capitals (before July 2025) and the unit each now belongs to.
_ANCHORS: list[tuple[float, float, str]] = [
    (21.0285, 105.8542, "01"), (22.8233, 104.9836, "08"), (22.6657, 106.2570, "04"),
    (22.1470, 105.8348, "19"), (21.8236, 105.2140, "08"), (22.4856, 103.9707, "15"),
    (21.3860, 103.0230, "11"), (22.3964, 103.4582, "12"), (21.3270, 103.9141, "14"),
    (21.7229, 104.9113, "15"), (20.8133, 105.3383, "25"), (21.5942, 105.8482, "19"),
    (21.8537, 106.7615, "20"), (20.9599, 107.0425, "22"), (21.2731, 106.1946, "24"),
    (21.3227, 105.4020, "25"), (21.3089, 105.6049, "25"), (21.1861, 106.0763, "24"),
    (20.9373, 106.3146, "31"), (20.8449, 106.6881, "31"), (20.6464, 106.0511, "33"),
    (20.4463, 106.3366, "33"), (20.5835, 105.9230, "37"), (20.4388, 106.1621, "37"),
    (20.2506, 105.9745, "37"), (19.8067, 105.7852, "38"), (18.6796, 105.6813, "40"),
    (18.3428, 105.9057, "42"), (17.4689, 106.6223, "44"), (16.8163, 107.1003, "44"),
    (16.4637, 107.5909, "46"), (16.0544, 108.2022, "48"), (15.5736, 108.4740, "48"),
    (15.1214, 108.8044, "51"), (13.7830, 109.2197, "52"), (13.0882, 109.0929, "66"),
    (12.2388, 109.1967, "56"), (11.5649, 108.9886, "56"), (10.9289, 108.1021, "68"),
    (14.3545, 108.0076, "51"), (13.9833, 108.0000, "52"), (12.6667, 108.0500, "66"),
    (12.0046, 107.6907, "68"), (11.9404, 108.4583, "68"), (11.5353, 106.8831, "75"),
    (11.3101, 106.0983, "80"), (10.9805, 106.6519, "79"), (10.9574, 106.8426, "75"),
    (10.3460, 107.0843, "79"), (10.7769, 106.7009, "79"), (10.5359, 106.4137, "80"),
    (10.3600, 106.3600, "82"), (10.2434, 106.3756, "86"), (9.9347, 106.3455, "86"),
    (10.2537, 105.9722, "86"), (10.4938, 105.6882, "82"), (10.3864, 105.4352, "91"),
    (10.0125, 105.0809, "91"), (10.0452, 105.7469, "92"), (9.7845, 105.4701, "92"),
    (9.6025, 105.9739, "92"), (9.2941, 105.7278, "96"), (9.1769, 105.1524, "96"),
]

# Beyond this distance from any anchor a point is not in Vietnam (or at sea): no province.
_MAX_ANCHOR_KM = 250.0

EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def is_province_code(code: str) -> bool:
    return code in PROVINCES


def nearest_anchor_province(lat: float, lon: float) -> str | None:
    """The unit of the nearest anchor within ``_MAX_ANCHOR_KM``; the same answer as comparing
    all 63 anchors, from the few that can be nearest anywhere in the point's grid cell."""
    best_code, best_km = None, _MAX_ANCHOR_KM
    for alat, alon, code in _candidates(math.floor(lat * _CELLS_PER_DEGREE),
                                        math.floor(lon * _CELLS_PER_DEGREE)):
        km = haversine_km(lat, lon, alat, alon)
        if km < best_km:
            best_code, best_km = code, km
    return best_code


# Every scan asks for its province, and comparing 63 anchors took ~5 % of a scan's CPU.
# Coordinates are cut into cells of 1/10 degree (~11 km); for each cell, once, we keep the
# anchors that can be the nearest for *some* point in it: by the triangle inequality, an
# anchor farther from the cell's centre than the closest anchor plus twice the cell's radius
# cannot be, nor can one beyond the cut-off from every point. Usually 1-3 remain.
_CELLS_PER_DEGREE = 10
_MAX_CELLS = 200_000  # Vietnam is ~15,000 cells; far-off cells are cached empty
_cells: dict[tuple[int, int], tuple[tuple[float, float, str], ...]] = {}


def _candidates(row: int, col: int) -> tuple[tuple[float, float, str], ...]:
    found = _cells.get((row, col))
    if found is None:
        found = _cell_candidates(row, col)
        if len(_cells) >= _MAX_CELLS:
            _cells.clear()
        _cells[(row, col)] = found
    return found


def _cell_candidates(row: int, col: int) -> tuple[tuple[float, float, str], ...]:
    size = 1 / _CELLS_PER_DEGREE
    south, west = row * size, col * size
    clat, clon = south + size / 2, west + size / 2
    corners = ((south, west), (south, west + size), (south + size, west),
               (south + size, west + size))
    # The corners are the farthest points from the centre of so small a cell; the margin
    # covers rounding, so the candidate set can only be too large, never too small.
    radius = max(haversine_km(clat, clon, a, b) for a, b in corners) * 1.01 + 0.01
    distances = [(haversine_km(clat, clon, alat, alon), (alat, alon, code))
                 for alat, alon, code in _ANCHORS]
    closest = min(km for km, _anchor in distances)
    bound = min(closest + 2 * radius, _MAX_ANCHOR_KM + radius)
    # In _ANCHORS order, so ties resolve exactly as a scan over all anchors would.
    return tuple(anchor for km, anchor in distances if km <= bound)


def anchor_provinces_near(lat: float, lon: float, radius_km: float) -> frozenset[str]:
    """The units a fix with this accuracy radius may lie in, by the anchors' borders: the
    nearest anchor's unit, and each unit with an anchor whose Voronoi border (the bisector
    with the nearest anchor) is within ``radius_km`` of the point. Planar geometry in a
    local projection: good to well under a kilometre at these distances."""
    nearest = nearest_anchor_province(lat, lon)
    if nearest is None:
        return frozenset()
    kx = 111.32 * math.cos(math.radians(lat))  # km per degree of longitude here

    def xy(alat: float, alon: float) -> tuple[float, float]:
        return ((alon - lon) * kx, (alat - lat) * 110.57)

    ranked = sorted(_ANCHORS, key=lambda a: math.hypot(*xy(a[0], a[1])))
    ax, ay = xy(ranked[0][0], ranked[0][1])
    da2 = ax * ax + ay * ay
    found = {nearest}
    for alat, alon, code in ranked[1:]:
        if code in found:
            continue
        bx, by = xy(alat, alon)
        gap = math.hypot(bx - ax, by - ay)
        if gap == 0:
            continue
        # Distance from the point (the origin) to the bisector of the two anchors.
        if (bx * bx + by * by - da2) / (2 * gap) <= radius_km:
            found.add(code)
    return frozenset(found)


class ProvinceLocator:
    """Maps coordinates to a province code; polygons when loaded, anchors otherwise."""

    def __init__(self, polygons=None):
        self.use_polygons(polygons)

    def use_polygons(self, polygons) -> None:
        """Switch to boundary polygons (``geo.ProvincePolygons``), or back with None."""
        self._polygons = polygons
        # Borders of all 34 units are the whole answer; a partial file leaves gaps that the
        # anchors still cover.
        self._complete = polygons is not None and polygons.codes >= set(PROVINCES)

    @property
    def uses_polygons(self) -> bool:
        return self._polygons is not None

    def provinces_near(self, lat: float, lon: float, radius_km: float) -> frozenset[str]:
        """Every unit a fix whose accuracy circle has this radius may lie in (its own
        first among equals): one unit away from borders, two or more near one."""
        own = self.province_at(lat, lon)
        if self._polygons is not None:
            found = self._polygons.provinces_near(lat, lon, radius_km)
            if found or self._complete:
                return frozenset(found | ({own} if own else set()))
        near = anchor_provinces_near(lat, lon, radius_km)
        return near | {own} if own else near

    def province_at(self, lat: float | None, lon: float | None) -> str | None:
        if lat is None or lon is None:
            return None
        if self._polygons is not None:
            code = self._polygons.province_at(lat, lon)
            # Complete borders are the answer, None included: a scan in Laos is in no
            # province, however near a former capital it is.
            if code is not None or self._complete:
                return code
        return nearest_anchor_province(lat, lon)


default_locator = ProvinceLocator()


# Map cells for hotspot counts: a fixed 0.05-degree grid (about 5.5 km north-south), small
# enough to point an inspector at a market district, large enough to gather a cluster.
CELL_DEG = 0.05


def cell_of(lat: float | None, lon: float | None) -> str | None:
    """The grid cell id of a point, e.g. ``"420:2117"`` (row:column); None without a point."""
    if lat is None or lon is None:
        return None
    return f"{math.floor(lat / CELL_DEG)}:{math.floor(lon / CELL_DEG)}"


def cell_centre(cell: str) -> tuple[float, float]:
    row, col = (int(part) for part in cell.split(":"))
    return ((row + 0.5) * CELL_DEG, (col + 0.5) * CELL_DEG)


def _load_shipped_borders() -> None:
    from .geo import SHIPPED, ProvincePolygons

    default_locator.use_polygons(ProvincePolygons.from_file(SHIPPED))


_load_shipped_borders()
