"""EPCIS test helpers: ranges and domain events published the way their owners publish them."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from scanapp import events
from scanapp.db import session_scope, utcnow
from scanapp.serials.models import SerialRange

_seq = itertools.count(1_000)


class Publisher:
    """Publishes domain events inside a committed transaction, like the owning packages."""

    def __init__(self, app):
        self.app = app

    def publish(self, *domain_events, rollback: bool = False) -> None:
        with self.app.app_context(), session_scope(self.app) as session:
            for event in domain_events:
                events.publish(session, event)
            if rollback:
                session.rollback()
            else:
                session.commit()

    def issue(self, product: dict, quantity: int = 1000, lot: str | None = "L1",
              expiry: dt.date | None = dt.date(2027, 6, 30), printer_org_id: int | None = None,
              at: dt.datetime | None = None, rollback: bool = False) -> int:
        """A range row plus its RangeIssued event in one transaction; returns the range id."""
        at = at or utcnow()
        with self.app.app_context(), session_scope(self.app) as session:
            start = next(_seq) * 100_000
            rng = SerialRange(product_id=product["id"], gtin=product["gtin"], lot=lot,
                              expiry=expiry, start_seq=start, quantity=quantity, key_id=0,
                              brand_org_id=product["brand_org_id"],
                              printer_org_id=printer_org_id,
                              requested_by_org_id=product["brand_org_id"], created_at=at,
                              updated_at=at)
            session.add(rng)
            session.flush()
            events.publish(session, events.RangeIssued(range_id=rng.id, at=at,
                                                       actor_org_id=product["brand_org_id"]))
            range_id = rng.id
            if rollback:
                session.rollback()
            else:
                session.commit()
        return range_id

    def step(self, range_id: int, action: str, serials=None, at=None, reason=None) -> None:
        self.publish(events.RangeTransitioned(range_id=range_id, action=action,
                                              at=at or utcnow(), actor_org_id=1,
                                              serials=tuple(serials) if serials else None,
                                              reason=reason))


@pytest.fixture
def publisher(app) -> Publisher:
    return Publisher(app)


@pytest.fixture
def brand_product(brand, product) -> dict:
    return {**product, "brand_org_id": brand.org_id}


@pytest.fixture
def other_product(other_brand) -> dict:
    from tests.conftest import gtin14

    response = other_brand.post("/api/v1/products", json={"gtin": gtin14("0893999999001"),
                                                           "name": "Cà phê"})
    assert response.status_code == 201
    return {**response.get_json(), "brand_org_id": other_brand.org_id}


def events_of(actor, **params) -> list[dict]:
    """Every event the actor may see with these filters, following the pages."""
    from tests.epcis.schema import assert_valid

    found = []
    url = "/api/v1/epcis/events"
    response = actor.get(url, query_string=params)
    while True:
        assert response.status_code == 200, response.get_json()
        document = response.get_json()
        assert_valid(document)
        found += document["epcisBody"]["eventList"]
        link = response.headers.get("Link")
        if not link:
            return found
        next_url = link[1:link.index(">")]
        response = actor.get(next_url)


@pytest.fixture
def binding_alone(app):
    """The capture pipeline and binding without other packages' capture hooks.

    scanapp.trace registers a hook that decides who may write about which GTIN and place;
    these tests are about the binding's own behaviour (schema, duplicates, rollback, paging,
    problems) with documents about any GTIN, so the app's hooks are set aside for them.
    Trace's tests cover the binding with its hook."""
    hooks = app.extensions.setdefault("scanapp.epcis.capture_hooks", [])
    kept = list(hooks)
    hooks.clear()
    yield
    hooks[:] = kept
