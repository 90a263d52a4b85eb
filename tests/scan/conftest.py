"""Fixtures for scan tests: real stamps issued and activated through the API."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from scanapp.scan import service as scan_service
from scanapp.serials.stamps import stamp_uri

BASE = "https://scan.example.vn"  # PUBLIC_BASE_URL of the test stacks


@dataclass
class Stamp:
    serial: str
    uri: str
    pin: str | None
    range_id: int

    @property
    def path(self) -> str:
        return "/" + self.uri.split("://", 1)[1].split("/", 1)[1]


@pytest.fixture
def issue_stamps(brand, product):
    """Issue a range as ``brand`` and take it to ``status``; returns its stamps."""

    def make(quantity: int = 3, status: str = "activated", **fields) -> list[Stamp]:
        response = brand.post("/api/v1/ranges", json={"gtin": product["gtin"],
                                                      "quantity": quantity, **fields})
        assert response.status_code == 201, response.get_json()
        range_id = response.get_json()["id"]
        steps = {"issued": [], "printed": ["print"], "activated": ["print", "activate"]}
        for action in steps[status]:
            done = brand.post(f"/api/v1/ranges/{range_id}/{action}", json={})
            assert done.status_code == 200, done.get_json()
        csv = brand.get(f"/api/v1/ranges/{range_id}/codes.csv")
        assert csv.status_code == 200
        lines = csv.get_data(as_text=True).splitlines()[1:]
        csv.close()
        stamps = []
        for line in lines:
            cells = line.split(",")
            # Built here from the serial rather than read from the file's uri column, so a
            # change in the download format cannot hide a scan-path bug or vice versa.
            expiry = dt.date.fromisoformat(fields["expiry"]) if fields.get("expiry") else None
            uri = stamp_uri(BASE, product["gtin"], cells[0], fields.get("lot"), expiry)
            stamps.append(Stamp(cells[0], uri, cells[2] if len(cells) > 2 else None, range_id))
        return stamps

    return make


@pytest.fixture
def scan(anonymous):
    """POST a scan; returns (status, body)."""

    def post(code: str, headers: dict | None = None, **fields):
        response = anonymous.post("/api/v1/scans", json={"code": code, **fields},
                                  headers=headers)
        return response.status_code, response.get_json()

    return post


class Clock:
    """Stands in for the scan service's clock, so the reload window needs no sleeping."""

    def __init__(self):
        self.now = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(scan_service, "utcnow", fake)
    return fake
