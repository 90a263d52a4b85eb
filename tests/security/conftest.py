"""Fixtures for the security tests: ranges and stamps issued through the API."""

from __future__ import annotations

import pytest


def issue_range(actor, gtin: str, quantity: int = 5, steps=("print", "activate"), **fields):
    """Issue a range as ``actor`` and walk it through ``steps``; returns its JSON."""
    response = actor.post("/api/v1/ranges", json={"gtin": gtin, "quantity": quantity, **fields})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    for action in steps:
        done = actor.post(f"/api/v1/ranges/{body['id']}/{action}", json={})
        assert done.status_code == 200, done.get_json()
    return body


def serials_of(actor, range_id: int) -> list[str]:
    with actor.get(f"/api/v1/ranges/{range_id}/codes.csv") as response:
        assert response.status_code == 200, response.data[:300]
        lines = response.get_data(as_text=True).splitlines()[1:]
    return [line.split(",")[0] for line in lines]


@pytest.fixture
def authorise(brand):
    def make(printer, by=None):
        response = (by or brand).post("/api/v1/printer-authorisations",
                                      json={"printer_org_id": printer.org_id})
        assert response.status_code == 201, response.get_json()
        return printer

    return make
