"""Expensive invalid bodies (issue 15, item 6).

Before: 80,000 unknown keys cost 0.5 s of CPU and a 2.2 MB error body per request and were
still served to an address already refused; invalid bodies never counted against the
address's limit; a 5,000-digit number in ``lat`` or in a range request answered 500.
"""

from __future__ import annotations

import json

import pytest

from scanapp.serials.stamps import stamp_uri

BASE = "https://scan.example.vn"
FORGED = "0" + "C" * 19


def _raw_post(client, path, text, address="10.7.0.1", headers=None):
    return client.post(path, data=text, content_type="application/json",
                       headers=headers or {}, environ_base={"REMOTE_ADDR": address})


@pytest.mark.parametrize("field", ["lat", "lon", "accuracy_m"])
@pytest.mark.parametrize("number", ["1" * 5000, "0." + "1" * 5000, "1e999", "-1" + "0" * 400])
def test_absurd_numbers_in_a_scan_are_4xx(client, product, field, number):
    uri = stamp_uri(BASE, product["gtin"], FORGED, None, None)
    text = f'{{"code": "{uri}", "{field}": {number}}}'
    response = _raw_post(client, "/api/v1/scans", text)
    assert 400 <= response.status_code < 500, response.data[:200]
    assert response.get_json()["status"] == response.status_code


@pytest.mark.parametrize("number", ["9" * 5000, "1e400", "1" + "0" * 30])
def test_absurd_quantities_are_4xx(brand, product, number):
    text = f'{{"gtin": "{product["gtin"]}", "quantity": {number}}}'
    response = brand.post("/api/v1/ranges", data=text, content_type="application/json")
    assert 400 <= response.status_code < 500, response.data[:200]


def test_public_endpoints_take_small_bodies_only(client, product):
    uri = stamp_uri(BASE, product["gtin"], FORGED, None, None)
    body = {"code": uri, **{f"k{i}": i for i in range(40_000)}}  # under the 1 MB API limit
    for path in ("/api/v1/scans", "/api/v1/scans/pin"):
        response = _raw_post(client, path, json.dumps(body))
        assert response.status_code == 413, path
        assert response.get_json()["code"] == "payload_too_large"
        assert len(response.data) < 500


def test_error_lists_are_capped(brand, product):
    body = {"gtin": product["gtin"], "quantity": 1, **{f"unknown{i}": i for i in range(5000)}}
    response = brand.post("/api/v1/ranges", json=body)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    listed = [key for key in errors if key.startswith("unknown")]
    assert len(listed) == 20
    assert "4980 more" in json.dumps(errors, ensure_ascii=False)
    assert len(response.data) < 5000


def test_invalid_bodies_count_against_the_address_and_are_refused_unparsed(app_factory,
                                                                             product):
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_SCAN="3/minute")
    client = app.test_client()
    uri = stamp_uri(BASE, product["gtin"], FORGED, None, None)
    bad = json.dumps({"code": uri, "nonsense": 1})
    codes = [_raw_post(client, "/api/v1/scans", bad).status_code for _ in range(4)]
    assert codes[:3] == [422, 422, 422]
    assert codes[3] == 429
    # Refused before its body is read: even text that is not JSON gets the 429.
    refused = _raw_post(client, "/api/v1/scans", "{not json")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    # Another address is untouched.
    assert _raw_post(client, "/api/v1/scans", json.dumps({"code": uri}),
                     address="10.7.0.2").status_code == 200
