"""Fixtures for serial tests: an authorised printer and a helper to issue ranges."""

from __future__ import annotations

import pytest


@pytest.fixture
def authorised_printer(brand, printer, product):
    """``printer`` authorised by ``brand`` for all its products."""
    response = brand.post("/api/v1/printer-authorisations",
                          json={"printer_org_id": printer.org_id})
    assert response.status_code == 201, response.get_json()
    return printer


@pytest.fixture
def issue(product):
    """Issue a range as ``actor``; returns the JSON body (asserting 201)."""

    def make(actor, quantity=10, **fields):
        body = {"gtin": product["gtin"], "quantity": quantity, **fields}
        headers = fields.pop("headers", None)
        body.pop("headers", None)
        response = actor.post("/api/v1/ranges", json=body, headers=headers)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return make


def codes_of(actor, range_id: int) -> list[list[str]]:
    """The rows of a range's codes.csv (header excluded)."""
    response = actor.get(f"/api/v1/ranges/{range_id}/codes.csv")
    assert response.status_code == 200, response.data[:300]
    text = response.get_data(as_text=True)
    response.close()
    lines = text.splitlines()
    return [line.split(",") for line in lines[1:]]
