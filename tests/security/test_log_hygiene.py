"""Secrets, API keys, PINs and raw device ids never reach a log line."""

from __future__ import annotations

import logging
import urllib.request

import pytest

from scanapp.security import REDACTED, redact

RAW_KEY = "sa_0123456789_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcdefg"


@pytest.mark.parametrize("line", [
    f"Authorization: Bearer {RAW_KEY}",
    f"presented key {RAW_KEY} was revoked",
    "{'device_id': 'a1b2c3d4-e5f6-device-secret', 'lat': 10.7}",
    '{"device_id": "a1b2c3d4-e5f6-device-secret", "pin": "48213597"}',
    "GET /01/08934567890120/21/ABC?pin=48213597&device_id=a1b2c3d4-e5f6-device-secret",
    "X-Device-Id: a1b2c3d4-e5f6-device-secret",
    "webhook_secret=whsec-very-secret-value",
])
def test_redact_removes_every_sensitive_value(line):
    cleaned = redact(line)
    for secret in (RAW_KEY[14:], "a1b2c3d4-e5f6-device-secret", "48213597",
                   "whsec-very-secret-value"):
        assert secret not in cleaned
    assert REDACTED in cleaned


def test_redact_keeps_what_an_operator_needs():
    # The visible key prefix identifies the key in an incident; the rest is gone.
    assert redact(f"key {RAW_KEY} revoked") == f"key sa_0123456789_{REDACTED} revoked"
    assert redact("scan of 08934567890120 in province 79: verdict authentic") == \
        "scan of 08934567890120 in province 79: verdict authentic"


@pytest.mark.no_storage
def test_every_logger_is_redacted_even_ones_added_later(app, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("some.library.added.later").warning("connecting with %s", RAW_KEY)
    logging.getLogger("scanapp.anything").error("config: %s", app.config["SERIAL_KEY"])
    try:
        raise ValueError(f"bad pin=48213597 for key {RAW_KEY}")
    except ValueError:
        logging.getLogger("scanapp.x").exception("failed")
    text = caplog.text
    assert RAW_KEY[14:] not in text and app.config["SERIAL_KEY"] not in text
    assert "48213597" not in text
    assert "connecting with sa_0123456789_" in text


def test_a_keyed_flow_over_http_leaves_no_key_pin_or_device_in_the_logs(
        app, admin, live_server, caplog):
    """Real requests through a real server, whose access log prints every URL."""
    caplog.set_level(logging.DEBUG)
    created = admin.post("/api/v1/keys", json={"org": "Brand L", "role": "brand"}).get_json()
    brand_key = created["key"]
    revoked = admin.post(f"/api/v1/keys/{created['id']}/revoke")
    assert revoked.status_code == 200
    pin, device = "73920481", "3f1d5c2e-device-under-test-9a7b"

    def call(path, data=None, headers=None):
        request = urllib.request.Request(live_server + path, data=data, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            exc.close()
            return exc.code

    # A careless client puts its key, PIN and device id in the URL: the access log has it.
    assert call(f"/api/v1/me?api_key={brand_key}&pin={pin}&device_id={device}") == 401
    assert call("/api/v1/me", headers={"Authorization": f"Bearer {brand_key}",
                                       "X-Device-Id": device}) == 401
    assert call("/api/v1/products", data=f'{{"pin": "{pin}", "device_id": "{device}"}}'.encode(),
                headers={"Authorization": f"Bearer {admin.key}",
                         "Content-Type": "application/json"}) == 422
    text = caplog.text
    assert "/api/v1/me?api_key=" in text  # the access log did record the request
    for secret in (brand_key, brand_key[14:], admin.key[14:], pin, device,
                   app.config["SECRET_KEY"], app.config["PIN_KEY"]):
        assert secret not in text


def test_scans_and_pin_checks_leave_no_device_id_or_pin_in_the_logs(
        app, brand, product, live_server, caplog):
    """The scan path with logging at DEBUG: a PIN range, scans, wrong and right PINs."""
    import json

    from scanapp.serials.stamps import stamp_uri

    from .conftest import issue_range

    caplog.set_level(logging.DEBUG)
    rng = issue_range(brand, product["gtin"], quantity=2, pin=True)
    with brand.get(f"/api/v1/ranges/{rng['id']}/codes.csv") as response:
        rows = [line.split(",") for line in response.get_data(as_text=True).splitlines()[1:]]
    serial, pin = rows[0][0], rows[0][2]
    uri = stamp_uri("https://scan.example.vn", product["gtin"], serial)
    device = "c0ffee00-1234-raw-device-id-5678"

    def post(path, body):
        request = urllib.request.Request(live_server + path, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json",
                                                  "X-Device-Id": device})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            exc.close()
            return exc.code

    assert post("/api/v1/scans", {"code": uri, "device_id": device, "lat": 21.0,
                                  "lon": 105.8}) == 200
    assert post("/api/v1/scans/pin", {"code": uri, "pin": "999999999", "device_id": device}) \
        in (200, 422)
    assert post("/api/v1/scans/pin", {"code": uri, "pin": pin, "device_id": device}) == 200
    assert post("/api/v1/scans", {"code": uri, "device_id": device, "pin": pin,
                                  "extra": "x"}) == 422
    text = caplog.text
    assert "/api/v1/scans" in text  # the requests were logged
    assert device not in text and pin not in text
