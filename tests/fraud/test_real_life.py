"""Issue 19 end to end through the API, on both stacks: the per-product settings and the
market the scan actually uses, PIN claims judged at the PIN check, sybil resistance, both
kinds of hotspot, and brand settings within their bounds."""

from __future__ import annotations

import datetime as dt

STALL = (21.0380, 105.8490)  # Chợ Đồng Xuân, Hà Nội


def _scan(client, stamp, device, address, point=None, accuracy=None):
    body = {"code": stamp.uri, "device_id": device, "source": "consumer"}
    if point:
        body["lat"], body["lon"] = point
    if accuracy:
        body["accuracy_m"] = accuracy
    response = client.post("/api/v1/scans", json=body, environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _pin(client, stamp, device, address):
    response = client.post("/api/v1/scans/pin", json={
        "code": stamp.uri, "pin": stamp.pin, "device_id": device},
        environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _flag(inspector, serial):
    items = inspector.get("/api/v1/flags?per_page=200").get_json()["items"]
    return next((f for f in items if f["serial"] == serial), None)


def test_brand_settings_outside_their_bounds_are_a_422_naming_them(brand, product):
    url = f"/api/v1/products/{product['id']}"
    for settings, field in (({"max_scans": 1e308}, "max_scans"),
                            ({"flag_at": 90}, "flag_at"),
                            ({"no_such_rule": 3}, "no_such_rule")):
        response = brand.patch(url, json={"fraud_settings": settings})
        assert response.status_code == 422, response.get_json()
        body = response.get_json()
        assert field in str(body["errors"]), body
    assert brand.get(url).get_json()["fraud_settings"] == {}
    ok = brand.patch(url, json={"fraud_settings": {"flag_at": 45, "max_scans": 50}})
    assert ok.status_code == 200 and ok.get_json()["fraud_settings"]["flag_at"] == 45


def test_the_scan_uses_the_products_own_settings(client, brand, product, issue_stamps, clock):
    # Issue 22 item 1: a product's fraud_settings are used by the scan, not only stored.
    stamp = issue_stamps(1)[0]
    assert brand.patch(f"/api/v1/products/{product['id']}",
                       json={"fraud_settings": {"max_device_scans_day": 2}}).status_code == 200
    reasons = []
    for _ in range(3):
        clock.advance(3600)
        reasons = _scan(client, stamp, "stall", "198.51.100.20", STALL)["reasons"]
    assert "repeat_scanner" in reasons  # the default (4 a day) would not fire at 3


def test_the_scan_uses_the_market_of_the_product(client, issue_stamps):
    # Issue 22 item 2: the product's market_regions (01, 79) reach the rules.
    stamp = issue_stamps(1)[0]
    body = _scan(client, stamp, "phone", "198.51.100.21", (16.0544, 108.2022))  # Đà Nẵng
    assert body["reasons"] == ["out_of_market"] and body["verdict"] == "authentic"
    assert _scan(client, issue_stamps(1)[0], "p2", "198.51.100.22", STALL)["reasons"] == []


def test_the_household_re_entering_its_pin_is_not_a_second_claim(client, issue_stamps, clock):
    stamp = issue_stamps(1, pin=True)[0]
    _scan(client, stamp, "buyer", "100.64.0.1", STALL)
    assert _pin(client, stamp, "buyer", "100.64.0.1")["result"] == "valid"
    clock.advance(6 * 3600)
    home = (STALL[0] + 0.05, STALL[1])  # ~5.5 km away, the home Wi-Fi
    _scan(client, stamp, "spouse", "203.0.113.80", home)
    spouse = _pin(client, stamp, "spouse", "203.0.113.80")
    assert spouse["result"] == "valid" and spouse["pin_claims"] == 2
    clock.advance(86400)
    again = _pin(client, stamp, "buyer", "203.0.113.80")
    assert again["result"] == "valid" and "pin_reused" not in again["reasons"]
    body = _scan(client, stamp, "buyer", "203.0.113.80", home)
    assert body["verdict"] == "authentic" and "pin_reused" not in body["reasons"]


def test_two_unrelated_claims_are_flagged_at_the_pin_check(client, inspector, issue_stamps,
                                                           clock):
    stamp = issue_stamps(1, pin=True)[0]
    assert _pin(client, stamp, "first", "100.64.1.1")["result"] == "valid"
    clock.advance(3 * 86400)
    second = _pin(client, stamp, "second", "100.64.2.2")
    assert second["result"] == "already_claimed"
    assert second["reasons"][0] == "pin_reused" and second["risk"] >= 80
    # Flagged now, though nobody scans the code again.
    flag = _flag(inspector, stamp.serial)
    assert flag is not None and "pin_reused" in flag["reasons"]


def test_one_address_cannot_make_a_genuine_code_look_cloned(client, inspector, issue_stamps,
                                                           clock):
    stamp = issue_stamps(1)[0]
    _scan(client, stamp, "owner", "100.64.3.3", STALL)
    clock.advance(3 * 86400)
    places = [(16.05, 108.20), (10.04, 105.75), (20.96, 107.04), (18.68, 105.68),
              (12.67, 108.05), (12.24, 109.19), (20.84, 106.69), (19.81, 105.79),
              (10.01, 105.08), (10.78, 106.70), (11.94, 108.46), (13.78, 109.22)]
    for i, point in enumerate(places):
        clock.advance(240)
        body = _scan(client, stamp, f"made-up-{i}", "198.51.100.66", point)
        assert body["verdict"] == "authentic", body
    assert _flag(inspector, stamp.serial) is None
    # The same scans from twelve real networks are a clone.
    other = issue_stamps(1)[0]
    _scan(client, other, "owner", "100.64.3.4", STALL)
    clock.advance(3 * 86400)
    verdicts = []
    for i, point in enumerate(places):
        clock.advance(240)
        verdicts.append(_scan(client, other, f"victim-{i}", f"100.65.{i}.1", point)["verdict"])
    assert "suspicious" in verdicts and _flag(inspector, other.serial) is not None


def test_copied_and_forged_hotspots_need_several_networks(client, inspector, issue_stamps,
                                                          clock):
    from scanapp.regions import cell_of

    start = clock.now
    # Three genuine codes, each copied and sold at one stall to five buyers on five days,
    # each of whom also scans at home (a second household carrying "the" item home).
    for stamp in issue_stamps(3):
        for day in range(5):
            clock.now = start + dt.timedelta(days=day, hours=1)
            phone, net = f"{stamp.serial}-v{day}", f"100.66.{day}.{len(stamp.serial)}"
            _scan(client, stamp, phone, f"100.67.{day}.{ord(stamp.serial[-1])}", STALL)
            clock.advance(3600)
            _scan(client, stamp, phone, net, (STALL[0] - 0.06, STALL[1] + 0.02))
    # Forged serials: six from six networks at one Cần Thơ market, and thirty invented
    # from one address in Đà Lạt.
    forged = "https://scan.example.vn/01/08934567890120/21/1ABCDEFGHJKMNPQRST{:02d}"
    for i in range(6):
        client.post("/api/v1/scans", json={"code": forged.format(i), "lat": 10.034,
                                           "lon": 105.788, "device_id": f"f{i}"},
                    environ_base={"REMOTE_ADDR": f"100.70.0.{i + 1}"})
    for i in range(30):
        client.post("/api/v1/scans", json={"code": forged.format(40 + i), "lat": 11.94,
                                           "lon": 108.458, "device_id": f"sybil{i}"},
                    environ_base={"REMOTE_ADDR": "198.51.100.99"})
    since = (start - dt.timedelta(days=1)).isoformat().replace("+00:00", "Z")
    until = (start + dt.timedelta(days=8)).isoformat().replace("+00:00", "Z")
    spots = inspector.get(f"/api/v1/hotspots?since={since}&until={until}").get_json()
    provinces = {p["province"]: p for p in spots["provinces"]}
    cells = {c["cell"]: c for c in spots["cells"]}
    assert provinces["01"]["copied_hotspot"] and provinces["01"]["copied_codes"] == 3
    assert cells[cell_of(*STALL)]["copied_hotspot"]
    assert provinces["92"]["hotspot"] and cells[cell_of(10.034, 105.788)]["hotspot"]
    assert provinces["68"]["forged"] == 30 and not provinces["68"]["hotspot"]
    assert provinces["68"]["networks"] == 1
