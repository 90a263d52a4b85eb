"""Redis state after faults: counters must converge to the database (the system of record).

These reproduce, deterministically, the counter mismatches the Redis restart drills show
(loadtests/faults/drill.py): a scan answered from the database while another worker is
rebuilding the code's bucket from the database is never counted in Redis.
"""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from scanapp.db import get_engine
from scanapp.scan.models import ScanEvent
from scanapp.scan.redis_store import RedisScanStateStore, bucket_of
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
def test_scan_answered_from_the_database_during_a_bucket_rebuild_is_counted_afterwards(
        app, client, brand, product):
    rng = issue_range(brand, product["gtin"], quantity=1)
    serial = serials_of(brand, rng["id"])[0]
    uri = stamp_uri(BASE, product["gtin"], serial)
    assert client.post("/api/v1/scans", json={"code": uri, "device_id": "a"}).status_code == 200
    with app.app_context():
        store = services(app).scan.store
    assert isinstance(store, RedisScanStateStore)

    # Redis lost its data (a restart); another worker starts reloading this code's bucket
    # and has read the database when our scan arrives.
    store._client.delete(store.keys_for(serial)[0])
    read_done, release = threading.Event(), threading.Event()
    load_bucket = store._load_bucket

    def slow_load(bucket):
        snapshot = load_bucket(bucket)
        read_done.set()
        release.wait(10)
        return snapshot

    store._load_bucket = slow_load
    rebuilder = threading.Thread(target=store.rebuild_bucket, args=(bucket_of(serial),))
    rebuilder.start()
    try:
        assert read_done.wait(10)
        store._load_bucket = load_bucket
        # Our scan finds the bucket cold and being rebuilt: answered from the database.
        second = client.post("/api/v1/scans", json={"code": uri, "device_id": "b"})
        assert second.status_code == 200
        assert second.get_json()["scan_count"] == 2
    finally:
        release.set()
        rebuilder.join(10)

    # Redis is back and the rebuild finished: the count must be the database's.
    assert db_count(app, serial) == 2
    assert api_count(client, product["gtin"], serial) == 2
    third = client.post("/api/v1/scans", json={"code": uri, "device_id": "c"}).get_json()
    assert third["scan_count"] == 3
