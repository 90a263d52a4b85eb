"""POST /api/v1/scans through HTTP: every verdict and reason, counting, the reload window,
PINs, bad input and what is stored (privacy)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from scanapp.db import get_engine
from scanapp.scan import service as scan_service
from scanapp.scan.models import ScanEvent
from scanapp.serials.codec import get_codec
from scanapp.serials.models import SerialRange
from scanapp.serials.stamps import stamp_uri

from ..conftest import gtin14
from .conftest import BASE

HANOI = (21.02851, 105.85423)
SAIGON = (10.77689, 106.70093)
DA_NANG = (16.05441, 108.20221)


def events(app) -> list:
    with get_engine(app).connect() as conn:
        return conn.execute(sa.select(ScanEvent).order_by(ScanEvent.id)).all()


# -- verdicts ---------------------------------------------------------------------------------

def test_first_scan_of_a_genuine_code_is_authentic_scan_one(issue_stamps, scan, product):
    stamp = issue_stamps(2)[0]
    status, body = scan(stamp.uri, lat=HANOI[0], lon=HANOI[1], device_id="phone-1")
    assert status == 200
    assert body["verdict"] == "authentic"
    assert body["reasons"] == []
    assert body["scan_count"] == 1
    assert body["first_scan"]["province"] == "01"
    assert body["first_scan"]["province_name"] == "Hà Nội"
    assert body["product"]["name"] == product["name"]
    assert body["product"]["brand"] == "Brand A"
    assert body["serial"] == stamp.serial and body["degraded"] is False


def test_lot_and_expiry_come_back(issue_stamps, scan):
    stamp = issue_stamps(1, lot="L2026A", expiry="2027-06-30")[0]
    status, body = scan(stamp.uri)
    assert status == 200 and body["verdict"] == "authentic"
    assert body["lot"] == "L2026A" and body["expiry"] == "2027-06-30"
    assert body["expired"] is False


@pytest.mark.parametrize("status", ["issued", "printed"])
def test_a_code_never_released_is_not_activated(issue_stamps, scan, status):
    stamp = issue_stamps(1, status=status)[0]
    code, body = scan(stamp.uri)
    assert code == 200
    assert body["verdict"] == "not_activated"
    assert "not_activated" in body["reasons"]


@pytest.mark.parametrize("action,verdict", [("void", "voided"), ("recall", "recalled")])
def test_voided_and_recalled_codes(issue_stamps, scan, brand, action, verdict):
    stamps = issue_stamps(3)
    response = brand.post(f"/api/v1/ranges/{stamps[0].range_id}/{action}",
                          json={"serials": [stamps[1].serial], "reason": "test"})
    assert response.status_code == 200, response.get_json()
    _, body = scan(stamps[1].uri)
    assert body["verdict"] == verdict and verdict in body["reasons"]
    _, untouched = scan(stamps[2].uri)
    assert untouched["verdict"] == "authentic"


def _mutate(serial: str, position: int) -> str:
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    swapped = alphabet[(alphabet.index(serial[position]) + 1) % 32]
    return serial[:position] + swapped + serial[position + 1:]


def test_forged_serial_is_counterfeit_bad_signature_and_recorded(app, issue_stamps, scan,
                                                                product):
    stamp = issue_stamps(1)[0]
    forged = stamp_uri(BASE, product["gtin"], _mutate(stamp.serial, 15))
    status, body = scan(forged, lat=SAIGON[0], lon=SAIGON[1])
    assert status == 200
    assert body["verdict"] == "counterfeit" and body["reasons"] == ["bad_signature"]
    assert body["scan_count"] is None and body["product"] is None
    rows = events(app)
    assert len(rows) == 1
    assert rows[0].verdict == "counterfeit" and rows[0].reasons == ["bad_signature"]
    assert rows[0].province == "79" and rows[0].scan_no is None


def test_real_serial_under_another_lot_is_counterfeit(issue_stamps, scan, product):
    stamp = issue_stamps(1, lot="A1")[0]
    _, body = scan(stamp_uri(BASE, product["gtin"], stamp.serial, "B2"))
    assert body["verdict"] == "counterfeit" and body["reasons"] == ["bad_signature"]


def test_serial_of_the_wrong_shape_is_counterfeit_bad_format(issue_stamps, scan, product):
    issue_stamps(1)
    _, body = scan(stamp_uri(BASE, product["gtin"], "ABC123"))
    assert body["verdict"] == "counterfeit" and body["reasons"] == ["bad_format"]


def test_serial_of_a_compromised_key_is_counterfeit(issue_stamps, scan, admin):
    stamp = issue_stamps(1)[0]
    key_id = "0123456789ABCDEFGHJKMNPQRSTVWXYZ".index(stamp.serial[0])
    response = admin.post(f"/api/v1/signing-keys/{key_id}/compromise", json={"note": "leak"})
    assert response.status_code == 200, response.get_json()
    _, body = scan(stamp.uri)
    assert body["verdict"] == "counterfeit" and body["reasons"] == ["compromised_key"]


def test_signed_serial_outside_every_range_is_counterfeit_unknown_range(app, issue_stamps,
                                                                       scan, product):
    stamps = issue_stamps(2)
    with app.app_context():
        serial = get_codec(app).encode(10**9, product["gtin"], None)
    _, body = scan(stamp_uri(BASE, product["gtin"], serial))
    assert body["verdict"] == "counterfeit" and body["reasons"] == ["unknown_range"]
    assert stamps  # the ranges exist; the sequence number is simply in none of them


def test_signed_serial_of_a_range_for_another_gtin_is_unknown_serial(app, issue_stamps, scan,
                                                                    brand):
    stamp = issue_stamps(1)[0]
    other = brand.post("/api/v1/products", json={"gtin": gtin14("0893456789099"),
                                                 "name": "Khác"}).get_json()
    with get_engine(app).connect() as conn:
        seq = conn.execute(sa.select(SerialRange.start_seq)
                           .where(SerialRange.id == stamp.range_id)).scalar_one()
    with app.app_context():
        serial = get_codec(app).encode(seq, other["gtin"], None)
    _, body = scan(stamp_uri(BASE, other["gtin"], serial))
    assert body["verdict"] == "counterfeit" and body["reasons"] == ["unknown_serial"]


def test_a_clone_scanned_across_the_country_turns_suspicious(issue_stamps, scan, clock):
    stamp = issue_stamps(1)[0]
    places = [HANOI, SAIGON, DA_NANG, HANOI, SAIGON, DA_NANG, HANOI]
    bodies = []
    for i, (lat, lon) in enumerate(places):
        clock.advance(120)
        bodies.append(scan(stamp.uri, lat=lat, lon=lon, device_id=f"phone-{i}")[1])
    assert bodies[0]["verdict"] == "authentic"
    last = bodies[-1]
    assert last["verdict"] == "suspicious"
    assert "impossible_travel" in last["reasons"]
    assert last["scan_count"] == 7 and last["device_count"] == 7


# -- counting and the reload window -------------------------------------------------------------

def test_counts_scans_devices_and_keeps_the_first_place(issue_stamps, scan, clock):
    stamp = issue_stamps(1)[0]
    _, first = scan(stamp.uri, lat=HANOI[0], lon=HANOI[1], device_id="a")
    clock.advance(3600)
    _, second = scan(stamp.uri, device_id="b")
    clock.advance(3600)
    _, third = scan(stamp.uri, lat=HANOI[0], lon=HANOI[1], device_id="a")
    assert [first["scan_count"], second["scan_count"], third["scan_count"]] == [1, 2, 3]
    assert [first["device_count"], second["device_count"], third["device_count"]] == [1, 2, 2]
    assert third["first_scan"] == first["first_scan"]
    assert first["last_scan"] is None
    assert third["last_scan"]["at"] == "2026-11-25T09:00:00+00:00"  # the second scan
    assert third["first_scan"]["at"] == "2026-11-25T08:00:00+00:00"


def test_a_reload_by_the_same_device_inside_the_window_is_not_a_new_scan(app, issue_stamps,
                                                                        scan, clock):
    stamp = issue_stamps(1)[0]
    _, first = scan(stamp.uri, device_id="a")
    clock.advance(5)
    _, reload = scan(stamp.uri, device_id="a")
    assert reload["repeat"] is True and reload["scan_count"] == 1
    clock.advance(5)
    _, other_phone = scan(stamp.uri, device_id="b")
    assert other_phone["repeat"] is False and other_phone["scan_count"] == 2
    clock.advance(scan_service.DEFAULT_RELOAD_WINDOW_S + 1)
    _, later = scan(stamp.uri, device_id="a")
    assert later["repeat"] is False and later["scan_count"] == 3
    rows = events(app)
    assert [r.scan_no for r in rows] == [1, 2, 3]  # the reload wrote nothing


def test_without_a_device_id_the_browser_is_recognised_by_address_and_agent(issue_stamps,
                                                                            scan, clock):
    stamp = issue_stamps(1)[0]
    scan(stamp.uri, headers={"User-Agent": "Phone A"})
    clock.advance(2)
    _, again = scan(stamp.uri, headers={"User-Agent": "Phone A"})
    _, other = scan(stamp.uri, headers={"User-Agent": "Phone B"})
    assert again["repeat"] is True
    assert other["repeat"] is False and other["scan_count"] == 2


def test_the_reload_window_is_configurable(app_factory, brand, product, issue_stamps, clock):
    stamp = issue_stamps(1)[0]
    short = app_factory(SCAN_RELOAD_WINDOW_S=1).test_client()
    assert short.post("/api/v1/scans", json={"code": stamp.uri, "device_id": "a"}
                      ).get_json()["scan_count"] == 1
    clock.advance(2)
    body = short.post("/api/v1/scans", json={"code": stamp.uri, "device_id": "a"}).get_json()
    assert body["repeat"] is False and body["scan_count"] == 2


# -- what is stored ----------------------------------------------------------------------------

def test_only_keyed_hashes_and_rounded_coordinates_are_stored(app, issue_stamps, scan):
    stamp = issue_stamps(1)[0]
    app.test_client().post("/api/v1/scans", json={
        "code": stamp.uri, "lat": 21.0285123, "lon": 105.8542987,
        "device_id": "my-phone-id-123", "source": "consumer"},
        environ_base={"REMOTE_ADDR": "203.0.113.45"})
    row = events(app)[0]
    assert (row.lat, row.lon) == (21.029, 105.854)
    assert row.device_hash and "my-phone-id-123" not in row.device_hash
    assert len(row.device_hash) == 32 and len(row.client_hash) == 32
    assert "203.0.113" not in row.client_hash
    assert row.cell == "420:2117" and row.source == "consumer" and row.scan_no == 1
    # A loopback address (a local proxy that passes no client address on) says nothing
    # about the client's network: nothing is stored for it (docs/FRAUD.md, sybil).
    scan(stamp.uri, device_id="another-phone", source="consumer")
    assert events(app)[1].client_hash is None


def test_same_device_gets_the_same_hash_under_the_same_secret(app, issue_stamps, scan, clock):
    stamps = issue_stamps(2)
    scan(stamps[0].uri, device_id="x")
    scan(stamps[1].uri, device_id="x")
    rows = events(app)
    assert rows[0].device_hash == rows[1].device_hash


# -- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("body,field", [
    ({"code": "not a uri"}, None),
    ({"code": "https://scan.example.vn/01/08934567890121/21/ABC"}, None),  # check digit
    ({"code": "https://scan.example.vn/01/08934567890120/21/AB^C"}, None),  # bad character
    ({"code": "https://scan.example.vn/01/08934567890120/21/S/10/L"}, None),  # order
    ({"code": "ftp://scan.example.vn/01/08934567890120/21/S"}, None),
    ({"code": "https://x/01/08934567890120/21/" + "A" * 3000}, "code"),  # past 2048, under 4 KB
    ({"code": "https://x/01/08934567890120/21/A", "lat": 91, "lon": 0}, "lat"),
    ({"code": "https://x/01/08934567890120/21/A", "lat": 10, "lon": 181}, "lon"),
    ({"code": "https://x/01/08934567890120/21/A", "lat": 10}, "lat"),
    ({"code": "https://x/01/08934567890120/21/A", "lat": "north", "lon": 1}, "lat"),
    ({"code": "https://x/01/08934567890120/21/A", "device_id": "d" * 500}, "device_id"),
    ({"code": "https://x/01/08934567890120/21/A", "colour": "red"}, "colour"),
    ({"code": 42}, "code"),
    ({}, "code"),
])
def test_bad_input_is_a_clear_4xx(anonymous, body, field):
    response = anonymous.post("/api/v1/scans", json=body)
    assert 400 <= response.status_code < 500, response.get_json()
    error = response.get_json()
    assert error["code"] in ("validation_error", "invalid_digital_link")
    if field:
        assert field in error.get("errors", {})


def test_a_body_that_is_not_json_is_refused(anonymous):
    response = anonymous.post("/api/v1/scans", data=b"\xff\xfe not json",
                              headers={"Content-Type": "application/json"})
    assert 400 <= response.status_code < 500
    assert response.get_json()["status"] == response.status_code


# -- PINs ---------------------------------------------------------------------------------------

def test_pin_claim_then_second_claim_and_wrong_pins(issue_stamps, anonymous, scan):
    stamp = issue_stamps(2, pin=True)[0]
    assert stamp.pin
    _, body = scan(stamp.uri)
    assert body["pin_enabled"] is True

    def check(pin, device="a"):
        response = anonymous.post("/api/v1/scans/pin",
                                  json={"code": stamp.uri, "pin": pin, "device_id": device})
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    wrong = "0" * 8 if stamp.pin != "0" * 8 else "1" * 8
    assert check(wrong)["result"] == "wrong_pin"
    first = check(stamp.pin)
    assert first["result"] == "valid" and first["pin_claims"] == 1
    second = check(stamp.pin, device="b")
    assert second["result"] == "already_claimed" and second["pin_claims"] == 2
    assert second["pin_failures"] == 1


def test_pin_on_a_range_without_pins_is_refused(issue_stamps, anonymous):
    stamp = issue_stamps(1)[0]
    response = anonymous.post("/api/v1/scans/pin", json={"code": stamp.uri, "pin": "12345678"})
    assert response.status_code == 422 and response.get_json()["code"] == "pin_not_enabled"


def test_pin_must_be_digits(anonymous):
    response = anonymous.post("/api/v1/scans/pin", json={
        "code": "https://x/01/08934567890120/21/A", "pin": "<script>"})
    assert response.status_code == 422 and "pin" in response.get_json()["errors"]


# -- read-only verification and metrics -----------------------------------------------------

def test_verification_service_reads_without_counting(issue_stamps, anonymous, scan):
    stamp = issue_stamps(1)[0]
    scan(stamp.uri, device_id="a")
    response = anonymous.get("/api/v1/verification" + stamp.path)
    body = response.get_json()
    assert response.status_code == 200 and body["verdict"] == "authentic"
    assert body["scan_count"] == 1
    assert anonymous.get("/api/v1/verification" + stamp.path).get_json()["scan_count"] == 1


def test_metrics_count_verdicts(issue_stamps, scan, anonymous, product):
    stamp = issue_stamps(1)[0]
    scan(stamp.uri)
    scan(stamp_uri(BASE, product["gtin"], _mutate(stamp.serial, 19)))
    response = anonymous.get("/metrics")
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert 'scanapp_scans_total{verdict="authentic"} 1' in text
    assert 'scanapp_scans_total{verdict="counterfeit"} 1' in text
