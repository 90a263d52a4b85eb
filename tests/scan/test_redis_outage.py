"""Redis failing mid-test: scans keep being verified and recorded (degraded), and the
counters agree with the database again once Redis is back.

Uses a private redis-server on a port of this package's range (never the shared one),
killed and restarted by the test.
"""

from __future__ import annotations

import shutil
import socket

import pytest
import sqlalchemy as sa

from loadtests.stack import PrivateRedis
from scanapp.db import get_engine
from scanapp.scan.models import ScanEvent

REDIS_SERVER = shutil.which("redis-server")
PORTS = range(5210, 5230)


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError("no free port in 5210-5229")


@pytest.fixture
def private_redis():
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(_free_port())
    server.start()
    yield server
    server.stop()


def _scan(client, uri, device):
    response = client.post("/api/v1/scans", json={"code": uri, "device_id": device})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _stored(app, serial) -> int:
    with get_engine(app).connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(ScanEvent)
                            .where(ScanEvent.serial == serial)).scalar_one()


def test_scans_go_on_when_redis_dies_and_counts_resume_after_restart(
        app_factory, private_redis, issue_stamps):
    stamp = issue_stamps(1)[0]
    app = app_factory(REDIS_URL=private_redis.url, REDIS_CLUSTER=False)
    client = app.test_client()
    assert _scan(client, stamp.uri, "a")["degraded"] is False
    assert _scan(client, stamp.uri, "b")["scan_count"] == 2

    private_redis.kill()
    down = _scan(client, stamp.uri, "c")
    assert down["degraded"] is True and down["verdict"] == "authentic"
    assert down["scan_count"] == 3
    assert _stored(app, stamp.serial) == 3  # acknowledged while degraded: in the database
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "scanapp_scan_degraded_total 1" in metrics
    assert "scanapp_redis_errors_total 1" in metrics

    private_redis.start()  # a fresh, empty Redis: rebuilt from the database
    back = _scan(client, stamp.uri, "d")
    assert back["degraded"] is False
    assert back["scan_count"] == 4 and back["device_count"] == 4
    assert _stored(app, stamp.serial) == 4


def test_a_redis_that_stalls_and_comes_back_with_old_data_is_corrected(
        app_factory, private_redis, issue_stamps):
    stamp = issue_stamps(1)[0]
    app = app_factory(REDIS_URL=private_redis.url, REDIS_CLUSTER=False)
    client = app.test_client()
    _scan(client, stamp.uri, "a")
    private_redis.pause()  # timeouts, not refusals
    try:
        stalled = _scan(client, stamp.uri, "b")
    finally:
        private_redis.resume()
    assert stalled["degraded"] is True and stalled["scan_count"] == 2
    # Redis still holds count 1; the store drops that code and reloads it from the database.
    again = _scan(client, stamp.uri, "c")
    assert again["degraded"] is False and again["scan_count"] == 3


def test_no_redis_at_all_still_answers_every_verdict(app_factory, issue_stamps):
    stamp = issue_stamps(1)[0]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]  # nothing listens once closed
    app = app_factory(REDIS_URL=f"redis://127.0.0.1:{dead}/0", REDIS_CLUSTER=False)
    client = app.test_client()
    first = _scan(client, stamp.uri, "a")
    second = _scan(client, stamp.uri, "b")
    assert first["degraded"] and second["degraded"]
    assert (first["scan_count"], second["scan_count"]) == (1, 2)
    assert _stored(app, stamp.serial) == 2


def test_scans_and_their_rate_limit_survive_redis_losing_its_scripts(
        app_factory, private_redis, issue_stamps):
    # A Redis restarted with data kept, or a SCRIPT FLUSH, forgets the scripts the scan's
    # pipeline calls by hash: the scan must load them again, not fail or skip the limit.
    import redis

    stamp = issue_stamps(1)[0]
    app = app_factory(REDIS_URL=private_redis.url, REDIS_CLUSTER=False,
                      RATELIMIT_ENABLED=True, RATELIMIT_SCAN="3/minute")
    client = app.test_client()
    assert _scan(client, stamp.uri, "a")["scan_count"] == 1
    redis.Redis.from_url(private_redis.url).script_flush()
    again = _scan(client, stamp.uri, "b")
    assert again["degraded"] is False and again["scan_count"] == 2
    redis.Redis.from_url(private_redis.url).script_flush()
    assert _scan(client, stamp.uri, "c")["scan_count"] == 3
    refused = client.post("/api/v1/scans", json={"code": stamp.uri, "device_id": "d"})
    assert refused.status_code == 429
