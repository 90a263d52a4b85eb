"""Parties, locations, certificates, lots and partners: the master-data API and its rules."""

from __future__ import annotations

import datetime as dt

from tests.trace.conftest import gln


def test_an_organisation_is_a_party_and_tax_codes_are_checked(brand):
    own = brand.get("/api/v1/trace/parties").get_json()
    assert [p["name"] for p in own] == ["Brand A"]
    good = brand.post("/api/v1/trace/parties", json={
        "name": "HTX Nhãn lồng Tiên Lữ", "tax_code": "0314409058-002",
        "gln": gln("893000000005"), "province": "33", "address": "Tiên Lữ, Hưng Yên"})
    assert good.status_code == 201, good.get_json()
    assert good.get_json()["province_name"] == "Hưng Yên"
    wrong_digit = brand.post("/api/v1/trace/parties", json={"name": "X",
                                                           "tax_code": "0314409059"})
    assert wrong_digit.status_code == 422
    assert wrong_digit.get_json()["code"] == "invalid_tax_code"
    bad_format = brand.post("/api/v1/trace/parties", json={"name": "X", "tax_code": "12345"})
    assert bad_format.status_code == 422
    bad_gln = brand.post("/api/v1/trace/parties", json={"name": "X", "gln": "8930000000011"})
    assert bad_gln.get_json()["code"] == "invalid_gln"
    duplicate = brand.post("/api/v1/trace/parties", json={"name": "Y",
                                                         "tax_code": "0314409058-002"})
    assert duplicate.status_code == 409
    unknown_field = brand.post("/api/v1/trace/parties", json={"name": "Z", "colour": "red"})
    assert unknown_field.status_code == 422


def test_locations_validate_gln_kind_province_and_belong_to_their_owner(brand, other_brand,
                                                                        inspector):
    made = brand.post("/api/v1/trace/locations", json={
        "gln": gln("893000000001"), "extension": "LO-3", "name": "Lô 3", "kind": "farm",
        "province": "33", "lat": 20.6, "lon": 106.1, "planting_area_code": "VN-HY-001"})
    assert made.status_code == 201, made.get_json()
    location = made.get_json()
    assert location["owner"] == "Brand A" and location["extension"] == "LO-3"
    assert brand.post("/api/v1/trace/locations", json={
        "gln": gln("893000000001"), "extension": "LO-3", "name": "again",
        "kind": "farm"}).status_code == 409
    for bad in ({"kind": "spaceport"}, {"gln": "8930000000012"}, {"province": "99"},
                {"lat": 20.0}):
        body = {"gln": gln("893000000004"), "name": "x", "kind": "farm", **bad}
        assert brand.post("/api/v1/trace/locations", json=body).status_code == 422, bad
    # Another brand does not see it and cannot change it; an inspector reads it.
    url = f"/api/v1/trace/locations/{location['id']}"
    assert other_brand.get(url).status_code == 404
    assert other_brand.patch(url, json={"name": "mine"}).status_code == 404
    assert inspector.get(url).status_code == 200
    assert inspector.post("/api/v1/trace/locations", json={
        "gln": gln("893000000004"), "name": "x", "kind": "farm"}).status_code == 403
    # ... but anyone may look a trading partner's place up by its GLN.
    assert [x["id"] for x in other_brand.get(
        f"/api/v1/trace/locations?gln={gln('893000000001')}").get_json()] == [location["id"]]


def test_certificates_show_today_state_never_expired_as_valid(brand, other_brand, longan,
                                                              places):
    farm = places["farm"]
    today = dt.date.today()
    base = {"issuer": "Sở NN&MT Hưng Yên", "subject_type": "location", "subject_id": farm["id"]}
    valid = brand.post("/api/v1/trace/certificates", json={
        **base, "scheme": "vietgap", "number": "VG-33-0012",
        "valid_from": str(today - dt.timedelta(days=30)),
        "valid_to": str(today + dt.timedelta(days=300))})
    expired = brand.post("/api/v1/trace/certificates", json={
        **base, "scheme": "globalgap", "number": "GG-1",
        "valid_from": str(today - dt.timedelta(days=800)),
        "valid_to": str(today - dt.timedelta(days=1))})
    assert valid.status_code == 201 and expired.status_code == 201
    assert valid.get_json()["status"] == "valid"
    assert expired.get_json()["status"] == "expired"
    revoked = brand.post(f"/api/v1/trace/certificates/{valid.get_json()['id']}/revoke",
                         json={"reason": "kiểm tra lại không đạt"})
    assert revoked.get_json()["status"] == "revoked"
    # OCOP stars, subject ownership, date order
    assert brand.post("/api/v1/trace/certificates", json={
        **base, "scheme": "ocop", "number": "OCOP-1", "valid_from": str(today)}
    ).status_code == 422
    assert brand.post("/api/v1/trace/certificates", json={
        **base, "scheme": "ocop", "stars": 4, "number": "OCOP-1", "valid_from": str(today)}
    ).status_code == 201
    assert other_brand.post("/api/v1/trace/certificates", json={
        **base, "scheme": "haccp", "number": "H-1", "valid_from": str(today)}
    ).status_code == 422
    assert brand.post("/api/v1/trace/certificates", json={
        **base, "scheme": "haccp", "number": "H-1", "valid_from": str(today),
        "valid_to": str(today - dt.timedelta(days=2))}).status_code == 422


def test_lots_need_an_owned_or_authorised_gtin(brand, other_brand, longan, places, admin):
    fresh = longan["fresh"]
    lot = brand.post("/api/v1/trace/lots", json={
        "gtin": fresh, "lot": "NH2407A", "harvest_start": "2026-07-20",
        "harvest_end": "2026-07-25", "quantity": 1200, "unit": "KGM",
        "location_id": places["farm"]["id"]})
    assert lot.status_code == 201, lot.get_json()
    assert lot.get_json()["status"] == "active"
    assert brand.post("/api/v1/trace/lots", json={"gtin": fresh, "lot": "NH2407A"}
                      ).status_code == 409
    assert brand.post("/api/v1/trace/lots", json={"gtin": fresh, "lot": "BAD LOT"}
                      ).status_code == 422
    assert brand.post("/api/v1/trace/lots", json={"gtin": fresh, "lot": "Q0",
                                                  "quantity": 0}).status_code == 422
    assert brand.post("/api/v1/trace/lots", json={
        "gtin": fresh, "lot": "D1", "harvest_start": "2026-07-25",
        "harvest_end": "2026-07-20"}).status_code == 422
    # Another brand may not register lots of this GTIN until authorised.
    refused = other_brand.post("/api/v1/trace/lots", json={"gtin": fresh, "lot": "X1"})
    assert refused.status_code == 422 and refused.get_json()["code"] == "unknown_gtin"
    assert brand.post("/api/v1/trace/partners", json={
        "partner_org_id": other_brand.org_id, "gtin": fresh}).status_code == 201
    assert other_brand.post("/api/v1/trace/lots", json={"gtin": fresh, "lot": "X1"}
                            ).status_code == 201
    # Hold and release; recall is not a PATCH.
    lot_id = lot.get_json()["id"]
    assert brand.patch(f"/api/v1/trace/lots/{lot_id}", json={"status": "on_hold"}
                       ).get_json()["status"] == "on_hold"
    assert brand.patch(f"/api/v1/trace/lots/{lot_id}", json={"status": "recalled"}
                       ).status_code == 422
    assert len(admin.get("/api/v1/trace/lots").get_json()) == 2


def test_products_carry_standards_category_origin_unit_shelf_life_and_hotline(brand, longan):
    product = next(p for p in brand.get("/api/v1/products").get_json()
                   if p["gtin"] == longan["dried"])
    changed = brand.patch(f"/api/v1/products/{product['id']}", json={
        "standards": ["TCVN 12850:2019", "HACCP"], "category": "Nông sản chế biến",
        "country_of_origin": "VN", "unit": "hộp", "shelf_life_days": 365,
        "consumer_hotline": "1800 6868"})
    assert changed.status_code == 200, changed.get_json()
    body = changed.get_json()
    assert (body["standards"], body["shelf_life_days"], body["country_of_origin"]) == (
        ["TCVN 12850:2019", "HACCP"], 365, "VN")
    assert brand.patch(f"/api/v1/products/{product['id']}", json={
        "country_of_origin": "Vietnam"}).status_code == 422
