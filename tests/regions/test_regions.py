"""Coordinates to provinces: the embedded anchors and operator-loaded GeoJSON polygons."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanapp.regions import (
    PROVINCES,
    ProvinceLocator,
    cell_centre,
    cell_of,
    default_locator,
    haversine_km,
    nearest_anchor_province,
)
from scanapp.regions.geo import GeoJSONError, ProvincePolygons, load_configured


def square(lat, lon, half=0.2):
    return {"type": "Polygon", "coordinates": [[
        [lon - half, lat - half], [lon + half, lat - half], [lon + half, lat + half],
        [lon - half, lat + half], [lon - half, lat - half]]]}


def feature(props, geometry):
    return {"type": "Feature", "properties": props, "geometry": geometry}


def test_there_are_34_units():
    assert len(PROVINCES) == 34


def test_anchor_lookup_finds_big_cities_and_refuses_the_open_sea():
    locator = ProvinceLocator()
    assert locator.province_at(21.03, 105.85) == "01"      # Hà Nội
    assert locator.province_at(10.78, 106.70) == "79"      # TP Hồ Chí Minh
    assert locator.province_at(21.0, 112.0) is None         # the South China Sea
    assert locator.province_at(None, 105.0) is None


def test_haversine_hanoi_to_saigon_is_about_1140_km():
    assert 1130 < haversine_km(21.0285, 105.8542, 10.7769, 106.7009) < 1150


def test_cells_round_trip():
    cell = cell_of(21.0285, 105.8542)
    lat, lon = cell_centre(cell)
    assert abs(lat - 21.0285) < 0.05 and abs(lon - 105.8542) < 0.05
    assert cell_of(None, 1.0) is None


def test_polygons_win_over_anchors_and_anchors_cover_the_gaps():
    # A deliberately "wrong" polygon proves the lookup uses it: Hà Nội's centre labelled 79.
    data = {"type": "FeatureCollection", "features": [
        feature({"code": "79"}, square(21.03, 105.85)),
        feature({"name": "Thành phố Đà Nẵng"}, square(16.05, 108.2)),
    ]}
    locator = ProvinceLocator(ProvincePolygons.from_geojson(data))
    assert locator.province_at(21.03, 105.85) == "79"
    assert locator.province_at(16.05, 108.2) == "48"
    assert locator.province_at(10.0452, 105.7469) == "92"  # no polygon: nearest anchor


@pytest.mark.parametrize("props,code", [
    ({"ma_tinh": 1}, "01"), ({"MA_TINH": "04"}, "04"), ({"name": "Hồ Chí Minh"}, "79"),
    ({"NAME_1": "Ho Chi Minh City"}, "79"), ({"ten_tinh": "Tỉnh Đắk Lắk"}, "66"),
    ({"name_en": "Hue"}, "46"),
])
def test_features_are_matched_by_code_or_name(props, code):
    data = {"type": "FeatureCollection", "features": [feature(props, square(12, 108))]}
    assert ProvincePolygons.from_geojson(data).codes == {code}


def test_a_multipolygon_province_with_an_island():
    multi = {"type": "MultiPolygon", "coordinates": [
        square(10.0, 105.0)["coordinates"], square(10.2, 104.0, 0.1)["coordinates"]]}
    polygons = ProvincePolygons.from_geojson(
        {"type": "FeatureCollection", "features": [feature({"code": "91"}, multi)]})
    assert polygons.province_at(10.2, 104.0) == "91"
    assert polygons.province_at(10.6, 104.5) is None


@pytest.mark.parametrize("data,message", [
    ({"type": "Feature"}, "FeatureCollection"),
    ({"type": "FeatureCollection", "features": []}, "no features"),
    ({"type": "FeatureCollection", "features": [feature({"name": "Atlantis"}, square(1, 1))]},
     "matches none"),
    ({"type": "FeatureCollection",
      "features": [feature({"code": "01"}, {"type": "Point", "coordinates": [105, 21]})]},
     "not a (Multi)Polygon"),
])
def test_bad_files_are_refused_with_a_reason(data, message):
    with pytest.raises(GeoJSONError, match=re.escape(message)):
        ProvincePolygons.from_geojson(data)


def test_unreadable_file_is_refused(tmp_path):
    path = tmp_path / "broken.geojson"
    path.write_text("{not json")
    with pytest.raises(GeoJSONError, match="cannot read"):
        ProvincePolygons.from_file(path)


def test_operator_setting_switches_the_shared_locator(tmp_path, monkeypatch):
    path = tmp_path / "vn.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        feature({"code": "79"}, square(21.03, 105.85))]}))
    monkeypatch.setenv("SCANAPP_PROVINCES_GEOJSON", str(path))
    try:
        assert load_configured() is not None
        assert default_locator.province_at(21.03, 105.85) == "79"
    finally:
        monkeypatch.delenv("SCANAPP_PROVINCES_GEOJSON")
        load_configured()
    assert default_locator.province_at(21.03, 105.85) == "01"


def test_no_setting_loads_the_shipped_borders_of_all_34_units(monkeypatch):
    monkeypatch.delenv("SCANAPP_PROVINCES_GEOJSON", raising=False)
    polygons = load_configured()
    assert polygons.codes == set(PROVINCES)
    assert default_locator.uses_polygons
    assert default_locator.province_at(11.56, 104.92) is None  # Phnom Penh: not Vietnam


@pytest.fixture(scope="module")
def shipped():
    from scanapp.regions.geo import SHIPPED

    return ProvincePolygons.from_file(SHIPPED)


@pytest.mark.parametrize("place, lat, lon, code", [
    # Places the nearest-former-capital lookup put in a neighbour (issue 19).
    ("Sóc Sơn, Hà Nội", 21.257, 105.849, "01"),
    ("Hoài Đức, Hà Nội", 21.02, 105.70, "01"),
    ("Văn Giang, Hưng Yên", 20.93, 105.93, "33"),
    ("Củ Chi, TP HCM", 11.0, 106.49, "79"),
    ("Dĩ An (Bình Dương until 2025), TP HCM", 10.90, 106.77, "79"),
    ("Vũng Tàu (Bà Rịa - Vũng Tàu until 2025), TP HCM", 10.346, 107.084, "79"),
    ("Biên Hòa, Đồng Nai", 10.95, 106.82, "75"),
    ("Phú Quốc island, An Giang", 10.227, 103.967, "91"),
    ("Thái Bình (merged into Hưng Yên)", 20.4463, 106.3366, "33"),
    # On the shore, just outside the 1:10 million coastline.
    ("Hạ Long, Quảng Ninh", 20.9599, 107.0425, "22"),
])
def test_shipped_borders_put_real_places_in_their_unit(shipped, place, lat, lon, code):
    assert shipped.province_at(lat, lon) == code, place


def test_shipped_borders_hold_every_former_capital_in_its_new_unit(shipped):
    from scanapp.regions import _ANCHORS

    wrong = [(lat, lon, code, shipped.province_at(lat, lon)) for lat, lon, code in _ANCHORS
             if shipped.province_at(lat, lon) != code]
    assert wrong == []


def test_shipped_borders_leave_open_sea_and_neighbours_outside(shipped):
    assert shipped.province_at(16.0, 112.0) is None  # the East Sea, far from any shore
    assert shipped.province_at(17.97, 102.60) is None  # Vientiane, Laos
    assert shipped.province_at(11.56, 104.92) is None  # Phnom Penh, Cambodia


def test_a_fix_near_a_shipped_border_reaches_both_units(shipped):
    # Between Hà Nội (Long Biên) and Bắc Ninh (Từ Sơn), about 3 km from the border.
    assert {"01", "24"} <= shipped.provinces_near(21.10, 105.94, 5.0)
    assert shipped.provinces_near(21.03, 105.85, 0.5) == {"01"}  # Hoàn Kiếm, far from it


def _nearest_by_comparing_every_anchor(lat, lon):
    from scanapp.regions import _ANCHORS, _MAX_ANCHOR_KM, haversine_km

    best_code, best_km = None, _MAX_ANCHOR_KM
    for alat, alon, code in _ANCHORS:
        km = haversine_km(lat, lon, alat, alon)
        if km < best_km:
            best_code, best_km = code, km
    return best_code


@settings(max_examples=3000, deadline=None)
@given(lat=st.floats(min_value=4.0, max_value=26.0), lon=st.floats(min_value=98.0,
                                                                   max_value=114.0))
def test_grid_lookup_names_the_same_province_as_comparing_every_anchor(lat, lon):
    # The per-cell candidate lists are a shortcut: any point, near a border, on a cell edge
    # or out at sea, must get the answer a comparison with all 63 anchors gives.
    assert nearest_anchor_province(lat, lon) == _nearest_by_comparing_every_anchor(lat, lon)


def test_grid_lookup_on_cell_edges_and_far_away():
    points = [(21.0, 105.8), (10.8, 106.7), (16.0, 108.2), (15.9999999, 107.9999999),
              (-33.9, 151.2), (51.5, -0.1), (89.9, 179.9), (0.0, 0.0), (9.0, 104.0)]
    points += [(lat / 10, lon / 10) for lat in range(80, 240, 7) for lon in range(1020, 1100, 9)]
    for lat, lon in points:
        assert nearest_anchor_province(lat, lon) == _nearest_by_comparing_every_anchor(lat, lon)


# -- the accuracy radius near a border (issue 19) ---------------------------------------------

def test_a_coarse_fix_near_a_border_may_be_in_either_unit():
    from scanapp.regions import ProvinceLocator

    anchors = ProvinceLocator()
    # Between Hà Nội (Đông Anh) and Bắc Ninh (Từ Sơn): a 3 km circle crosses the border.
    assert anchors.provinces_near(21.13, 105.98, 3.0) == {"01", "24"}
    # Hoàn Kiếm, the centre of Hà Nội: even 5 km stays inside.
    assert anchors.provinces_near(21.0285, 105.8542, 5.0) == {"01"}
    # Thủ Đức (TP HCM) next to Biên Hòa (Đồng Nai) with an 8 km cell-tower fix.
    assert anchors.provinces_near(10.90, 106.80, 8.0) == {"75", "79"}
    # A precise fix is in one unit only.
    assert anchors.provinces_near(21.13, 105.98, 0.05) == {anchors.province_at(21.13, 105.98)}


def test_the_63_former_provinces_map_onto_the_34_units():
    from scanapp.regions import FORMER_PROVINCES, PROVINCES, unit_of_former

    assert len(FORMER_PROVINCES) == 63
    assert {unit for _name, unit in FORMER_PROVINCES.values()} == set(PROVINCES)
    # Each unit keeps the code of the former province holding its administrative centre.
    for code in PROVINCES:
        assert unit_of_former(code) == code
    assert unit_of_former("26") == "25"  # Vĩnh Phúc -> Phú Thọ
    assert unit_of_former("27") == "24"  # Bắc Ninh (old) -> Bắc Ninh (Bắc Giang's code)
    assert unit_of_former("74") == "79" and unit_of_former("77") == "79"
    assert unit_of_former("45") == "44"  # Quảng Trị (old) -> Quảng Trị (Quảng Bình's code)
    assert unit_of_former("99") is None
