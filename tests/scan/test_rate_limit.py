"""Rate limits on the public scan endpoints: per client address and per device, 429 with
Retry-After, failing open when the limiter's Redis is gone."""

from __future__ import annotations

import socket


def _scan(client, uri, device=None, address="10.0.0.1"):
    body = {"code": uri}
    if device:
        body["device_id"] = device
    return client.post("/api/v1/scans", json=body, environ_base={"REMOTE_ADDR": address})


def test_per_address_limit_answers_429_with_retry_after(app_factory, issue_stamps):
    stamp = issue_stamps(1)[0]
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_SCAN="3/minute",
                      RATELIMIT_DEVICE="100/minute")
    # Each app has its own key prefix (memory storage or Redis keys that expire in a
    # minute), so nothing needs resetting afterwards.
    client = app.test_client()
    codes = [_scan(client, stamp.uri, device=f"d{i}").status_code for i in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = _scan(client, stamp.uri, device="d9")
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert limited.get_json()["status"] == 429
    # The stamp page shares the address budget; another address does not.
    page = client.get(stamp.path, headers={"Accept": "text/html"},
                      environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert page.status_code == 429
    assert _scan(client, stamp.uri, device="d10", address="10.0.0.2").status_code == 200


def test_per_device_limit_when_turned_on_for_scans(app_factory, issue_stamps):
    stamp = issue_stamps(1)[0]
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_SCAN="100/minute",
                      RATELIMIT_DEVICE="2/minute", RATELIMIT_DEVICE_ON_SCANS=True)
    client = app.test_client()
    codes = [_scan(client, stamp.uri, device="same", address=f"10.0.1.{i}").status_code
             for i in range(3)]
    assert codes == [200, 200, 429]
    assert _scan(client, stamp.uri, device="other", address="10.0.1.9").status_code == 200


def test_scans_are_limited_per_address_only_by_default(app_factory, issue_stamps):
    # The per-device limit costs a Redis round trip per scan and a client picks its own
    # device id: off on scans unless RATELIMIT_DEVICE_ON_SCANS (docs/SCAN.md).
    stamp = issue_stamps(1)[0]
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_SCAN="100/minute",
                      RATELIMIT_DEVICE="2/minute")
    client = app.test_client()
    codes = [_scan(client, stamp.uri, device="same", address=f"10.0.2.{i}").status_code
             for i in range(3)]
    assert codes == [200, 200, 200]


def test_pin_checks_stay_limited_per_device(app_factory, issue_stamps):
    stamp = issue_stamps(1, pin=True)[0]
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_SCAN="1000/minute")
    client = app.test_client()
    codes = [client.post("/api/v1/scans/pin", json={"code": stamp.uri, "pin": "0000-0000",
                                                   "device_id": "guesser"},
                         environ_base={"REMOTE_ADDR": f"10.0.3.{i}"}).status_code
             for i in range(11)]
    assert codes[:10] == [200] * 10
    assert codes[10] == 429


def test_limiter_fails_open_when_its_redis_is_down(app_factory, issue_stamps):
    stamp = issue_stamps(1)[0]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_SCAN="1/minute",
                      RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{dead}/0")
    client = app.test_client()
    codes = [_scan(client, stamp.uri, device=f"d{i}").status_code for i in range(3)]
    assert codes == [200, 200, 200]


def test_stamp_page_visits_use_up_the_scan_api_budget(app_factory, issue_stamps):
    # The scan API counts its limit in the scan's own Redis round trip, the page through
    # Flask-Limiter: both must draw on the same per-address counter.
    stamp = issue_stamps(1)[0]
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_SCAN="3/minute")
    client = app.test_client()
    pages = [client.get(stamp.path, headers={"Accept": "text/html"},
                        environ_base={"REMOTE_ADDR": "10.0.4.1"}).status_code
             for _ in range(3)]
    assert pages == [200, 200, 200]
    refused = _scan(client, stamp.uri, device="d1", address="10.0.4.1")
    assert refused.status_code == 429
    assert refused.get_json()["code"] == "too_many_requests"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_a_refused_scan_is_not_counted(app_factory, issue_stamps):
    stamp = issue_stamps(1)[0]
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_SCAN="2/minute")
    client = app.test_client()
    answers = [_scan(client, stamp.uri, device=f"d{i}", address="10.0.5.1") for i in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 429, 429]
    assert answers[1].get_json()["scan_count"] == 2
    # The next consumer, from another address, is the third scan of this code, not the
    # fifth: the refused scans left no trace in the counters.
    other = _scan(client, stamp.uri, device="d9", address="10.0.5.2")
    assert other.status_code == 200
    assert other.get_json()["scan_count"] == 3
    assert other.get_json()["device_count"] == 3


def test_forged_codes_count_against_the_address_limit(app_factory, issue_stamps):
    stamp = issue_stamps(1)[0]
    forged = stamp.uri[:-1] + ("0" if stamp.uri[-1] != "0" else "1")
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_SCAN="2/minute")
    client = app.test_client()
    answers = [_scan(client, forged, device=f"d{i}", address="10.0.6.1") for i in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].get_json()["verdict"] == "counterfeit"
    assert _scan(client, stamp.uri, address="10.0.6.1").status_code == 429

