"""Hostile request shapes get a clean JSON 4xx before any view runs: never a 500."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from scanapp.db import get_engine
from scanapp.security import MAX_JSON_DEPTH, json_depth_exceeds
from tests.conftest import gtin14


def assert_error(response, status: int, code: str | None = None):
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert body["status"] == status and body["message"]
    if code:
        assert body["code"] == code
    return body


def test_oversized_body_is_413_json(brand):
    response = brand.post("/api/v1/products", data=b"x" * (1024 * 1024 + 1),
                          content_type="application/json")
    body = assert_error(response, 413, "payload_too_large")
    assert "1048576" in body["message"]


@pytest.mark.no_storage
def test_oversized_body_is_refused_even_where_no_view_reads_it(anonymous):
    response = anonymous.post("/healthz", data=b"x" * (2 * 1024 * 1024))
    assert_error(response, 413, "payload_too_large")


def test_oversized_chunked_body_without_length_is_413(brand, live_server):
    """No Content-Length over real HTTP: the size is only known while reading; it must stop."""
    import http.client
    import json
    from urllib.parse import urlsplit

    def chunks():
        yield b'{"name": "'
        for _ in range(40):
            yield b"x" * 32768
        yield b'"}'

    url = urlsplit(live_server)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request("POST", "/api/v1/products", body=chunks(), encode_chunked=True,
                     headers={"Authorization": f"Bearer {brand.key}",
                              "Content-Type": "application/json"})
        response = conn.getresponse()
        body = json.loads(response.read())
    finally:
        conn.close()
    assert response.status == 413
    assert body["status"] == 413 and body["code"] == "payload_too_large"


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 5_000, 200_000])
def test_deeply_nested_json_is_400(brand, depth):
    body = "[" * depth + "]" * depth
    response = brand.post("/api/v1/products", data=body, content_type="application/json")
    assert_error(response, 400, "json_too_deep")


def test_nested_objects_count_like_arrays(brand):
    body = '{"a":' * 100 + "1" + "}" * 100
    assert_error(brand.patch("/api/v1/products/1", data=body, content_type="application/json"),
                 400, "json_too_deep")


def test_brackets_inside_strings_are_just_text(brand):
    name = "[{" * 200
    response = brand.post("/api/v1/products",
                          json={"gtin": gtin14("0893456789012"), "name": name[:200]})
    assert response.status_code == 201
    assert response.get_json()["name"] == name[:200]


def test_depth_scanner_matches_the_parser():
    assert not json_depth_exceeds('{"a": [1, {"b": [2]}]}', limit=4)
    assert json_depth_exceeds('{"a": [1, {"b": [[2]]}]}', limit=4)
    assert not json_depth_exceeds('["\\"[[[[[[["]', limit=1)  # escaped quote stays in string


def _depth_exceeds_by_character(text: str, limit: int) -> bool:
    """The scanner as it was (a character loop): what the faster one must answer."""
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def test_depth_scanner_agrees_with_a_character_by_character_scan():
    import random

    rng = random.Random(14)
    alphabet = '[]{}"\\ a,:'
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        for limit in (0, 1, 2, 3):
            assert json_depth_exceeds(text, limit) == _depth_exceeds_by_character(
                text, limit), (text, limit)


def test_non_utf8_json_is_400(brand):
    response = brand.post("/api/v1/products", data=b'{"gtin": "1", "name": "caf\xe9"}',
                          content_type="application/json")
    assert_error(response, 400, "invalid_encoding")


@pytest.mark.no_storage
def test_non_utf8_form_body_is_400(anonymous):
    response = anonymous.post("/healthz", data=b"name=caf\xe9",
                              content_type="application/x-www-form-urlencoded")
    assert_error(response, 400, "invalid_encoding")


@pytest.mark.parametrize("raw", [b'{"gtin": "08934567890120", "name": "a\\u0000b"}',
                                 b'{"gtin": "08934567890120", "name": "a\x00b"}'])
def test_nul_characters_are_400(brand, raw):
    response = brand.post("/api/v1/products", data=raw, content_type="application/json")
    assert_error(response, 400, "nul_character")
    assert brand.get("/api/v1/products").get_json() == []


def test_nul_in_query_string_is_400(brand):
    assert_error(brand.get("/api/v1/products?x=%00"), 400, "nul_character")


def test_malformed_json_is_400_not_500(brand):
    for raw in (b"{", b'{"name": }', b"\xef\xbb\xbf{}", b"NaN", b"[1,]"):
        response = brand.post("/api/v1/products", data=raw, content_type="application/json")
        assert 400 <= response.status_code < 500, raw
        assert response.get_json()["status"] == response.status_code


@pytest.mark.parametrize("product_id", ["2147483648", "99999999999999999999999"])
def test_path_ids_beyond_any_column_are_404(brand, product_id):
    assert_error(brand.get(f"/api/v1/products/{product_id}"), 404, "not_found")
    assert_error(brand.patch(f"/api/v1/products/{product_id}", json={"name": "x"}), 404)


def test_body_numbers_the_database_cannot_hold_are_4xx(admin, brand):
    response = admin.post("/api/v1/products", json={
        "gtin": gtin14("0893456789012"), "name": "x", "brand_org_id": 10**30})
    assert 400 <= response.status_code < 500
    assert response.get_json()["status"] == response.status_code


def test_sql_in_text_is_stored_verbatim_and_runs_nowhere(app, brand):
    hostile = "'); DROP TABLE products; --"
    response = brand.post("/api/v1/products", json={
        "gtin": gtin14("0893456789012"), "name": hostile, "description_vi": "1' OR '1'='1"})
    assert response.status_code == 201
    listed = brand.get("/api/v1/products").get_json()
    assert [p["name"] for p in listed] == [hostile]
    assert listed[0]["description_vi"] == "1' OR '1'='1"
    assert "products" in sa.inspect(get_engine(app)).get_table_names()


def test_malformed_bearer_headers_are_401(anonymous):
    for header in ("Bearer", "Bearer ", "Basic abc", "Bearer sa_", "Bearer " + "a" * 10000,
                   "Bearer sa_0123456789_' OR 1=1 --", "Bearer \u00e9\u00e9"):
        response = anonymous.get("/api/v1/me", headers={"Authorization": header})
        assert_error(response, 401)
