"""Fixtures for scan tests: real stamps issued and activated through the serials service."""

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
def issue_stamps(app, brand, product):
    """Issue a range as ``brand`` and take it to ``status``; returns its stamps.

    Made through the serials service, as the API would (the same body schema, the same
    service calls, the codec's serials and PINs), not over HTTP: issuing and downloading
    are not what the scan tests are about (tests/serials tests them over HTTP)."""
    from scanapp.auth.models import Role
    from scanapp.auth.service import Principal
    from scanapp.db import session_scope
    from scanapp.serials import service as serials_service
    from scanapp.serials.schemas import RangeCreateSchema
    from scanapp.services import services

    who = Principal(key_id=brand.key_id, org_id=brand.org_id, org_name=brand.org_name,
                    role=Role.BRAND)
    steps = {"issued": [], "printed": ["print"], "activated": ["print", "activate"]}

    def make(quantity: int = 3, status: str = "activated", **fields) -> list[Stamp]:
        data = RangeCreateSchema().load({"gtin": product["gtin"], "quantity": quantity,
                                         **fields})
        with app.app_context(), session_scope(app) as session:
            issued, created = serials_service.issue_range(session, who, data)
            assert created
            for action in steps[status]:
                serials_service.transition(session, who, issued.id, action, {})
            range_id, start, key_id = issued.id, issued.start_seq, issued.key_id
            pinned = issued.pin_enabled
        parts = services(app)
        serials = parts.codec.range_encoder(product["gtin"], fields.get("lot"),
                                            key_id).serial_list(start, start + quantity)
        expiry = dt.date.fromisoformat(fields["expiry"]) if fields.get("expiry") else None
        return [Stamp(serial, stamp_uri(BASE, product["gtin"], serial, fields.get("lot"), expiry),
                      parts.pins.pin(start + n) if pinned else None, range_id)
                for n, serial in enumerate(serials)]

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
