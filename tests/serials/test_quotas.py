"""Printers and brands cannot load the server (issue 15, item 8).

Before: unlimited 10-million-code ranges, a checksum of a million codes computed inside
each request (4 concurrent: 14 to 17 s each, /healthz p90 from 4.5 to 88 ms), and no rate
limit on any keyed endpoint.
"""

from __future__ import annotations

from scanapp.auth import service as auth_service
from scanapp.auth.models import Role
from scanapp.db import session_scope
from scanapp.serials import downloads


def _actor_on(application, role, org):
    with application.app_context(), session_scope(application) as session:
        _key, raw = auth_service.issue_key(session, org, Role(role), "test")
    client = application.test_client()
    headers = {"Authorization": f"Bearer {raw}"}

    class Caller:
        def get(self, url, **kw):
            return client.get(url, headers=headers, **kw)

        def post(self, url, **kw):
            return client.post(url, headers=headers, **kw)

    return Caller()


def test_range_size_is_capped_by_setting(app_factory, product, brand):
    app = app_factory(RANGE_MAX_QUANTITY=1000)
    caller = _actor_on(app, "brand", "Brand A")  # the product's brand
    too_big = caller.post("/api/v1/ranges", json={"gtin": product["gtin"], "quantity": 1001})
    assert too_big.status_code == 422 and too_big.get_json()["code"] == "range_too_large"
    assert caller.post("/api/v1/ranges", json={"gtin": product["gtin"],
                                               "quantity": 1000}).status_code == 201


def test_codes_issued_per_day_are_capped_per_organisation(app_factory, product, brand):
    app = app_factory(ISSUE_CODES_PER_DAY=100)
    caller = _actor_on(app, "brand", "Brand A")
    assert caller.post("/api/v1/ranges", json={"gtin": product["gtin"],
                                               "quantity": 60}).status_code == 201
    refused = caller.post("/api/v1/ranges", json={"gtin": product["gtin"], "quantity": 60})
    assert refused.status_code == 429
    assert refused.get_json()["code"] == "issue_quota_exceeded"
    assert int(refused.headers["Retry-After"]) > 3600  # the first range leaves in ~24 h
    # The refused request took no sequence numbers: the next range starts where 60 ended.
    ok = caller.post("/api/v1/ranges", json={"gtin": product["gtin"], "quantity": 40})
    assert ok.status_code == 201


def test_downloads_are_capped_per_organisation(app_factory, product, brand):
    app = app_factory(RATELIMIT_ENABLED=True, DOWNLOAD_CODES_PER_DAY=100)
    caller = _actor_on(app, "brand", "Brand A")
    range_id = caller.post("/api/v1/ranges", json={"gtin": product["gtin"],
                                                   "quantity": 60}).get_json()["id"]
    with caller.get(f"/api/v1/ranges/{range_id}/codes.txt") as first:
        assert first.status_code == 200
    with caller.get(f"/api/v1/ranges/{range_id}/codes.csv") as second:
        assert second.status_code == 429
        assert second.get_json()["code"] == "quota_exceeded"


def test_keyed_endpoints_are_rate_limited_per_key(app_factory, brand):
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_API="5/minute")
    caller = _actor_on(app, "brand", "Brand A")
    codes = [caller.get("/api/v1/products").status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]
    other = _actor_on(app, "brand", "Brand A")  # another key of the same brand
    assert other.get("/api/v1/products").status_code == 200


def test_a_checksum_is_computed_once_and_stored(app_factory, product, brand, monkeypatch):
    generated = []
    real = downloads.chunks

    def counting(target, fmt, *args, **kwargs):
        generated.append(target.id)
        return real(target, fmt, *args, **kwargs)

    monkeypatch.setattr(downloads, "chunks", counting)
    range_id = brand.post("/api/v1/ranges", json={"gtin": product["gtin"],
                                                  "quantity": 5000}).get_json()["id"]
    first = brand.get(f"/api/v1/ranges/{range_id}/codes.csv.sha256").get_data(as_text=True)
    # A second process (another app on the same database) finds it stored.
    other = _actor_on(app_factory(), "brand", "Brand A")
    again = other.get(f"/api/v1/ranges/{range_id}/codes.csv.sha256").get_data(as_text=True)
    assert again == first and len(generated) == 1
    # A complete download stores its file's checksum on the way: no second generation.
    with brand.get(f"/api/v1/ranges/{range_id}/codes.txt") as response:
        body = response.get_data()
    import hashlib

    line = brand.get(f"/api/v1/ranges/{range_id}/codes.txt.sha256").get_data(as_text=True)
    assert line.split()[0] == hashlib.sha256(body).hexdigest()
    assert len(generated) == 2  # the download itself, nothing more
