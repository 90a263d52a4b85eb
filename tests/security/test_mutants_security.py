"""Request-hygiene promises that mutation testing found untested (docs/RELIABILITY.md,
"Mutation testing", scanapp/security.py): the JSON depth limit at its boundary, which media
types count as JSON, the page's script nonce, and the answer and log line for a value the
database refuses."""

from __future__ import annotations

import logging
import re

import pytest

from scanapp.security import MAX_JSON_DEPTH, json_depth_exceeds
from tests.conftest import gtin14

from .conftest import issue_range, serials_of
from .test_headers import csp_directives


def _code(response):
    return (response.get_json(silent=True) or {}).get("code")


def test_the_depth_scanner_at_its_boundary():
    assert not json_depth_exceeds("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
    assert json_depth_exceeds("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1))
    assert json_depth_exceeds("{" * (MAX_JSON_DEPTH + 1))
    # Many brackets, never deep: closing ones count down.
    assert not json_depth_exceeds("[]" * (MAX_JSON_DEPTH * 3))
    assert not json_depth_exceeds("{}" * (MAX_JSON_DEPTH * 3))
    assert not json_depth_exceeds('[{"a": 1}, {"b": [2]}]' * 40)
    # A bracket closed counts down by one: depth 3, back to 2, then 3 and 4 again.
    assert json_depth_exceeds("[[[][[]]]]", limit=3)
    # The limit is the caller's.
    assert json_depth_exceeds("[[[]]]", limit=2) and not json_depth_exceeds("[[[]]]", limit=3)
    # Inside a string brackets are text, escaped quotes included; after it they count again.
    assert not json_depth_exceeds('["' + "[" * 40 + '"]', limit=2)
    assert not json_depth_exceeds('["\\\\", "' + "{" * 40 + '"]', limit=2)
    assert json_depth_exceeds('["a\\"b"' + ", [[[1]]]]", limit=3)
    assert not json_depth_exceeds('["a\\"b"' + ", [[1]]]", limit=3)


def test_a_json_body_exactly_at_the_depth_limit_reaches_the_parser(brand):
    at = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    response = brand.post("/api/v1/products", data=at, content_type="application/json")
    assert response.status_code in (400, 422) and _code(response) != "json_too_deep"
    over = "[" + at + "]"
    response = brand.post("/api/v1/products", data=over, content_type="application/json")
    assert response.status_code == 400 and _code(response) == "json_too_deep"


@pytest.mark.parametrize("mimetype", ["application/merge-patch+json",
                                      "application/vnd.api+json"])
def test_vendor_json_media_types_are_checked_as_json(brand, mimetype):
    deep = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)
    response = brand.post("/api/v1/products", data=deep, content_type=mimetype)
    assert response.status_code == 400 and _code(response) == "json_too_deep"
    response = brand.post("/api/v1/products", data='{"name": "a\\u0000b"}',
                          content_type=mimetype)
    assert response.status_code == 400 and _code(response) == "nul_character"


@pytest.mark.parametrize("mimetype", ["text/plain", "application/octet-stream",
                                      "application/jsonl"])
def test_other_media_types_are_not_judged_as_json(brand, mimetype):
    deep = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)
    response = brand.post("/api/v1/products", data=deep, content_type=mimetype)
    assert _code(response) != "json_too_deep", response.get_json()
    response = brand.post("/api/v1/products", data='{"name": "a\\u0000b"}',
                          content_type=mimetype)
    assert _code(response) != "nul_character", response.get_json()


def test_the_page_scripts_carry_the_nonce_its_csp_names(client, brand):
    product = brand.post("/api/v1/products", json={"gtin": gtin14("0893456789036"),
                                                   "name": "Trà nonce"}).get_json()
    made = issue_range(brand, product["gtin"], quantity=1, lot="L01", expiry="2027-06-30")
    serial = serials_of(brand, made["id"])[0]
    path = f"/v/01/{product['gtin']}/10/L01/21/{serial}"
    nonces = []
    for _ in range(2):
        response = client.get(path)
        assert response.status_code == 200
        allowed = [s[len("'nonce-"):-1] for s in csp_directives(response)["script-src"]
                   if s.startswith("'nonce-")]
        in_page = set(re.findall(r'nonce="([^"]+)"', response.get_data(as_text=True)))
        # One nonce per response, the same in every tag and in the header.
        assert len(allowed) == 1 and in_page == {allowed[0]}
        assert len(allowed[0]) >= 22  # 128 random bits, URL-safe base64
        nonces.append(allowed[0])
    assert nonces[0] != nonces[1]  # never reused across responses


def test_a_value_the_database_refuses_is_a_clear_422_logged_without_the_value(admin,
                                                                             caplog):
    with caplog.at_level(logging.WARNING, logger="scanapp.security"):
        response = admin.post("/api/v1/products", json={
            "gtin": gtin14("0893456789043"), "name": "x", "brand_org_id": 10**30})
    body = response.get_json()
    assert response.status_code == 422 and body["code"] == "value_out_of_range"
    assert "cannot be stored" in body["message"]
    lines = [r.getMessage() for r in caplog.records if r.name == "scanapp.security"]
    assert any("POST /api/v1/products" in line and ("DataError" in line
                                                   or "OverflowError" in line)
               for line in lines), lines
    assert not any(str(10**30) in line for line in lines)
