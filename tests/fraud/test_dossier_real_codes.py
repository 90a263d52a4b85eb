"""Dossiers of real stamps issued through the range API, scanned or not."""

from __future__ import annotations

from scanapp.serials.stamps import stamp_uri

BASE = "https://scan.example.vn"


def _issue(brand, product, quantity=3) -> tuple[int, list[str]]:
    created = brand.post("/api/v1/ranges", json={"gtin": product["gtin"], "quantity": quantity})
    assert created.status_code == 201, created.get_json()
    range_id = created.get_json()["id"]
    for action in ("print", "activate"):
        assert brand.post(f"/api/v1/ranges/{range_id}/{action}", json={}).status_code == 200
    codes = brand.get(f"/api/v1/ranges/{range_id}/codes.csv")
    serials = [line.split(",")[0] for line in codes.get_data(as_text=True).splitlines()[1:]]
    codes.close()
    return range_id, serials


def test_an_unscanned_genuine_code_has_a_dossier(inspector, brand, other_brand, product):
    range_id, serials = _issue(brand, product)
    response = inspector.get(f"/api/v1/codes/{serials[1]}")
    assert response.status_code == 200, response.get_json()
    d = response.get_json()
    assert d["genuine"] is True and d["code_status"] == "activated"
    assert d["gtin"] == product["gtin"] and d["product"]["name"] == product["name"]
    assert d["range"]["id"] == range_id and d["range"]["status"] == "activated"
    assert [step["action"] for step in d["lifecycle"]][-2:] == ["print", "activate"]
    assert d["scan_count"] == 0 and d["scans"] == [] and d["case"] is None
    assert brand.get(f"/api/v1/codes/{serials[1]}").status_code == 200
    assert other_brand.get(f"/api/v1/codes/{serials[1]}").status_code == 404


def test_a_scanned_code_shows_its_scans_and_its_own_status(inspector, brand, product,
                                                           anonymous):
    range_id, serials = _issue(brand, product)
    uri = stamp_uri(BASE, product["gtin"], serials[0], None, None)
    assert anonymous.post("/api/v1/scans", json={"code": uri, "lat": 21.03,
                                                 "lon": 105.85}).status_code == 200
    voided = brand.post(f"/api/v1/ranges/{range_id}/void",
                        json={"serials": [serials[0]], "reason": "torn label"})
    assert voided.status_code == 200, voided.get_json()
    d = inspector.get(f"/api/v1/codes/{serials[0]}").get_json()
    assert d["genuine"] is True and d["code_status"] == "voided"
    assert d["scan_count"] == 1 and d["scans"][0]["province"] == "01"
    assert d["lifecycle"][-1]["action"] == "void"


def test_a_forged_serial_is_not_a_code(inspector, product, anonymous):
    forged = "0" + "A" * 19
    assert inspector.get(f"/api/v1/codes/{forged}").status_code == 404
    anonymous.post("/api/v1/scans", json={"code": stamp_uri(BASE, product["gtin"], forged,
                                                            None, None)})
    d = inspector.get(f"/api/v1/codes/{forged}").get_json()
    assert d["genuine"] is False and d["code_status"] is None
    assert d["scans"][0]["verdict"] == "counterfeit"
    signals = {s["id"]: s for s in d["signals"]}
    assert "counterfeit" in signals
    reason = d["scans"][0]["reasons"][0]  # why the scan path refused it
    assert signals[reason]["title_vi"] and signals[reason]["explanation_en"]


def test_a_forged_serial_dossier_stays_with_the_gtins_of_each_scan(inspector, brand,
                                                                   other_brand, product,
                                                                   anonymous):
    """Issue 15 item 4: the dossier of a forged serial followed whichever brand's GTIN it
    was last scanned under, handing brand A's inspection notes and coordinates to brand B."""
    from tests.conftest import gtin14

    theirs = other_brand.post("/api/v1/products", json={
        "gtin": gtin14("0893456789029"), "name": "Nước mắm khác"}).get_json()
    forged = "0" + "B" * 19
    ours_uri = stamp_uri(BASE, product["gtin"], forged, None, None)
    assert anonymous.post("/api/v1/scans", json={"code": ours_uri, "lat": 21.03,
                                                 "lon": 105.85}).status_code == 200
    recorded = inspector.post("/api/v1/inspections", json={
        "serial": forged, "gtin": product["gtin"], "finding": "counterfeit",
        "lat": 21.0345678, "lon": 105.8512345, "place": "Chợ Đồng Xuân, sạp 12",
        "note": "ghi chú mật của thanh tra"})
    assert recorded.status_code == 201, recorded.get_json()
    # The forger now prints the same serial under the other brand's GTIN.
    theirs_uri = stamp_uri(BASE, theirs["gtin"], forged, None, None)
    assert anonymous.post("/api/v1/scans", json={"code": theirs_uri, "lat": 10.77,
                                                 "lon": 106.70}).status_code == 200

    seen_by_b = other_brand.get(f"/api/v1/codes/{forged}")
    assert seen_by_b.status_code == 200
    b = seen_by_b.get_json()
    text = seen_by_b.get_data(as_text=True)
    assert "ghi chú mật" not in text and "Đồng Xuân" not in text and "21.03" not in text
    assert b["gtin"] == theirs["gtin"] and b["inspections"] == []
    assert [s["gtin"] for s in b["scans"]] == [theirs["gtin"]]

    a = brand.get(f"/api/v1/codes/{forged}").get_json()
    assert a["gtin"] == product["gtin"]
    assert [s["gtin"] for s in a["scans"]] == [product["gtin"]]
    assert a["inspections"][0]["note"] == "ghi chú mật của thanh tra"

    # The authorities see every scan, each with its GTIN.
    every = inspector.get(f"/api/v1/codes/{forged}").get_json()
    assert sorted(s["gtin"] for s in every["scans"]) == sorted([product["gtin"], theirs["gtin"]])
