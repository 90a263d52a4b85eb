"""Redis state after faults: counters must converge to the database (the system of record).

These reproduce, deterministically, the races the Redis restart drills exercise
(loadtests/faults/drill.py): a code loaded from its summary row by one worker while another
worker loads it and counts a scan.
"""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from scanapp.db import get_engine
from scanapp.scan.models import ScanEvent
from scanapp.scan.redis_store import RedisScanStateStore
from scanapp.serials.stamps import stamp_uri
from scanapp.services import services

from ..security.conftest import issue_range, serials_of

# A rebuild thread reads what the scan committed on its own connection.
pytestmark = pytest.mark.committed

BASE = "https://scan.example.vn"

services_only = pytest.mark.parametrize("stack", ["services"], indirect=True)


def db_count(app, serial: str) -> int:
    with get_engine(app).connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(ScanEvent)
                           .where(ScanEvent.serial == serial))


def api_count(client, gtin: str, serial: str) -> int:
    response = client.get(f"/api/v1/verification/01/{gtin}/21/{serial}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["scan_count"]


@services_only
def test_a_scan_counted_while_another_process_loads_the_code_is_not_lost(
        app, client, brand, product):
    rng = issue_range(brand, product["gtin"], quantity=1)
    serial = serials_of(brand, rng["id"])[0]
    uri = stamp_uri(BASE, product["gtin"], serial)
    assert client.post("/api/v1/scans", json={"code": uri, "device_id": "a"}).status_code == 200
    with app.app_context():
        store = services(app).scan.store
    assert isinstance(store, RedisScanStateStore)

    # Redis lost its data (a restart); another worker starts loading this code from its
    # summary row and has read it (1 scan) when our scan arrives.
    for key in store.keys_for(serial):
        store._client.delete(key)
    other = RedisScanStateStore(store._client, app.config["REDIS_PREFIX"], get_engine(app))
    read_done, release = threading.Event(), threading.Event()
    summary_json = other.summary_json

    def slow_summary(code):
        snapshot = summary_json(code)
        read_done.set()
        release.wait(10)
        return snapshot

    other.summary_json = slow_summary
    loader = threading.Thread(target=other.history, args=(serial,))
    loader.start()
    try:
        assert read_done.wait(10)
        second = client.post("/api/v1/scans", json={"code": uri, "device_id": "b"})
        assert second.status_code == 200
        assert second.get_json()["scan_count"] == 2
    finally:
        release.set()
        loader.join(10)

    # The late loader must not overwrite the newer state with its old snapshot.
    assert db_count(app, serial) == 2
    assert api_count(client, product["gtin"], serial) == 2
    third = client.post("/api/v1/scans", json={"code": uri, "device_id": "c"}).get_json()
    assert third["scan_count"] == 3
