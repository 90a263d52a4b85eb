"""Issuing ranges: who may, idempotency, uniqueness, and clear errors for bad input."""

from __future__ import annotations

import threading

import pytest

from scanapp.db import session_scope
from scanapp.serials.models import SerialRange
from tests.conftest import gtin14
from tests.serials.conftest import codes_of


def test_authorised_printer_issues_a_range_as_one_row(app, authorised_printer, product):
    response = authorised_printer.post("/api/v1/ranges", json={
        "gtin": product["gtin"], "quantity": 1_000_000, "lot": "L2026A",
        "expiry": "2027-06-30", "market_regions": ["79"], "pin": True})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert {"id", "gtin", "quantity", "status"} <= body.keys()
    assert body["gtin"] == product["gtin"] and body["quantity"] == 1_000_000
    assert body["status"] == "issued" and body["pin"] is True
    assert body["market_regions"] == ["79"] and body["lot"] == "L2026A"
    assert body["printer_org_id"] == authorised_printer.org_id
    with app.app_context(), session_scope(app) as session:
        assert session.query(SerialRange).count() == 1


def test_market_regions_default_to_the_products(issue, brand):
    assert issue(brand)["market_regions"] == ["01", "79"]


def test_unauthorised_printer_is_refused(printer, product):
    response = printer.post("/api/v1/ranges", json={"gtin": product["gtin"], "quantity": 5})
    assert response.status_code == 403
    assert response.get_json()["code"] == "printer_not_authorised"


def test_revoked_authorisation_stops_new_ranges(brand, authorised_printer, product):
    grant = brand.get("/api/v1/printer-authorisations").get_json()[0]
    assert brand.post(f"/api/v1/printer-authorisations/{grant['id']}/revoke").status_code == 200
    response = authorised_printer.post("/api/v1/ranges",
                                       json={"gtin": product["gtin"], "quantity": 5})
    assert response.status_code == 403


def test_brand_cannot_issue_for_another_brands_product(other_brand, product):
    response = other_brand.post("/api/v1/ranges", json={"gtin": product["gtin"],
                                                        "quantity": 5})
    assert response.status_code == 404
    assert response.get_json()["code"] == "unknown_product"


def test_inspector_cannot_issue(inspector, product):
    response = inspector.post("/api/v1/ranges", json={"gtin": product["gtin"], "quantity": 5})
    assert response.status_code == 403


def test_idempotent_retry_returns_the_same_range(authorised_printer, product):
    body = {"gtin": product["gtin"], "quantity": 25, "lot": "B1"}
    headers = {"Idempotency-Key": "order-7781"}
    first = authorised_printer.post("/api/v1/ranges", json=body, headers=headers)
    again = authorised_printer.post("/api/v1/ranges", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(authorised_printer.get("/api/v1/ranges").get_json()) == 1
    changed = authorised_printer.post("/api/v1/ranges", json={**body, "quantity": 26},
                                      headers=headers)
    assert changed.status_code == 409
    assert changed.get_json()["code"] == "idempotency_key_reused"
    fresh = authorised_printer.post("/api/v1/ranges", json=body,
                                    headers={"Idempotency-Key": "order-7782"})
    assert fresh.get_json()["id"] != first.get_json()["id"]


def test_serials_are_unique_across_many_ranges(issue, brand, authorised_printer):
    ranges = [issue(brand if i % 2 else authorised_printer, quantity=50 + i,
                    lot=None if i % 3 else f"L{i}") for i in range(12)]
    serials = [row[0] for r in ranges for row in codes_of(brand, r["id"])]
    assert len(serials) == sum(r["quantity"] for r in ranges)
    assert len(set(serials)) == len(serials)


@pytest.mark.committed  # threads race on their own connections
def test_concurrent_requests_never_overlap(app, brand, product):
    client_errors = []
    created = []

    def worker(n):
        with app.test_client() as client:
            for _ in range(4):
                response = client.post("/api/v1/ranges", json={
                    "gtin": product["gtin"], "quantity": 1000 + n},
                    headers={"Authorization": f"Bearer {brand.key}"})
                if response.status_code != 201:
                    client_errors.append(response.get_json())
                else:
                    created.append(response.get_json()["id"])

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert client_errors == []
    assert len(created) == 24
    with app.app_context(), session_scope(app) as session:
        blocks = sorted((r.start_seq, r.start_seq + r.quantity)
                        for r in session.query(SerialRange))
    assert len(blocks) == 24
    for (_s1, end), (start, _e2) in zip(blocks, blocks[1:], strict=False):
        assert end <= start


@pytest.mark.committed  # threads race on their own connections
def test_concurrent_retries_with_one_idempotency_key_make_one_range(app, brand, product):
    ids = []

    def worker():
        with app.test_client() as client:
            response = client.post("/api/v1/ranges", json={"gtin": product["gtin"],
                                                           "quantity": 10},
                                   headers={"Authorization": f"Bearer {brand.key}",
                                            "Idempotency-Key": "same"})
            ids.append((response.status_code, response.get_json().get("id")))

    threads = [threading.Thread(target=worker) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {status for status, _id in ids} == {201}
    assert len({range_id for _status, range_id in ids}) == 1


@pytest.mark.parametrize("body,field", [
    ({"quantity": 5}, "gtin"),
    ({"gtin": "08934567890120"}, "quantity"),
    ({"quantity": 0}, "quantity"),
    ({"quantity": 10_000_001}, "quantity"),
    ({"quantity": "5"}, "quantity"),
    ({"quantity": 5.5}, "quantity"),
    ({"quantity": 5, "lot": ""}, "lot"),
    ({"quantity": 5, "lot": "L" * 21}, "lot"),
    ({"quantity": 5, "lot": "LÔ1"}, "lot"),
    ({"quantity": 5, "lot": "A B"}, "lot"),
    ({"quantity": 5, "lot": "A/B"}, "lot"),   # in GS1's set, but %2F is decoded by servers
    ({"quantity": 5, "lot": "100%"}, "lot"),
    ({"quantity": 5, "lot": "A?B"}, "lot"),
    ({"quantity": 5, "expiry": "2027-13-01"}, "expiry"),
    ({"quantity": 5, "expiry": "31/12/2027"}, "expiry"),
    ({"quantity": 5, "market_regions": ["99"]}, "market_regions"),
    ({"quantity": 5, "pin": "maybe"}, "pin"),
    ({"quantity": 5, "colour": "red"}, "colour"),
])
def test_bad_range_requests_are_422_naming_the_field(brand, product, body, field):
    body = {"gtin": product["gtin"], **body} if "gtin" not in body and field != "gtin" \
        else body
    response = brand.post("/api/v1/ranges", json=body)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]


@pytest.mark.parametrize("gtin,status,code", [
    ("8934567890127", 422, "invalid_gtin"),
    (gtin14("0893999999999"), 404, "unknown_product"),
])
def test_bad_gtin_is_a_clear_4xx(brand, gtin, status, code):
    response = brand.post("/api/v1/ranges", json={"gtin": gtin, "quantity": 5})
    assert response.status_code == status
    assert response.get_json()["code"] == code


def test_expiry_outside_gs1_years_is_422(brand, product):
    response = brand.post("/api/v1/ranges", json={"gtin": product["gtin"], "quantity": 5,
                                                  "expiry": "2150-01-01"})
    assert response.status_code == 422
    assert response.get_json()["code"] == "invalid_expiry"


def test_bad_idempotency_key_is_422(brand, product):
    response = brand.post("/api/v1/ranges", json={"gtin": product["gtin"], "quantity": 5},
                          headers={"Idempotency-Key": "x" * 201})
    assert response.status_code == 422
    assert response.get_json()["code"] == "invalid_idempotency_key"


def test_visibility_by_role(issue, brand, other_brand, authorised_printer, make_actor,
                            inspector, admin):
    mine = issue(authorised_printer)
    brands = issue(brand)
    other_printer = make_actor("printer", "Printer Q")
    assert [r["id"] for r in authorised_printer.get("/api/v1/ranges").get_json()] == \
        [mine["id"]]
    assert other_printer.get("/api/v1/ranges").get_json() == []
    assert other_printer.get(f"/api/v1/ranges/{mine['id']}").status_code == 404
    assert other_printer.get(f"/api/v1/ranges/{mine['id']}/codes.csv").status_code == 404
    assert {r["id"] for r in brand.get("/api/v1/ranges").get_json()} == \
        {mine["id"], brands["id"]}
    assert other_brand.get("/api/v1/ranges").get_json() == []
    assert other_brand.get(f"/api/v1/ranges/{mine['id']}").status_code == 404
    for reader in (inspector, admin):
        assert len(reader.get("/api/v1/ranges").get_json()) == 2
    assert authorised_printer.get(f"/api/v1/ranges/{brands['id']}").status_code == 404
