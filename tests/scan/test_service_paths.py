"""Scan-service behaviour that mutation testing of scanapp/scan/service.py found untested
(docs/RELIABILITY.md, "Mutation testing"): what an operator reads in /metrics when PIN
checks are refused, and the scan path's counters and degraded answers."""

from __future__ import annotations

import re


def _metric(client, name: str, **labels) -> float:
    text = client.get("/metrics").get_data(as_text=True)
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = re.escape(name) + (r"\{" + re.escape(inner) + r"\}" if labels else "") + r" (\S+)"
    found = re.search("^" + pattern + "$", text, flags=re.M)
    return float(found.group(1)) if found else 0.0


def _pin(client, stamp, pin, device):
    return client.post("/api/v1/scans/pin",
                       json={"code": stamp.uri, "pin": pin, "device_id": device})


def test_pin_checks_refused_by_the_lockout_are_counted_as_locked(app, client, issue_stamps):
    """An operator tells a guessing campaign from wrong PINs by ``result="locked"``."""
    stamp = issue_stamps(1, pin=True)[0]
    wrong = "0" * 8 if stamp.pin != "0" * 8 else "1" * 8
    limit = app.config["PIN_LOCKOUT_FAILURES"]
    for i in range(limit):
        assert _pin(client, stamp, wrong, f"g{i}").get_json()["result"] == "wrong_pin"
    for device in ("owner", "other"):
        assert _pin(client, stamp, stamp.pin, device).status_code == 429
    assert _metric(client, "scanapp_pin_checks_total", result="wrong_pin") == limit
    assert _metric(client, "scanapp_pin_checks_total", result="locked") == 2
    assert _metric(client, "scanapp_pin_checks_total", result="valid") == 0


def test_a_scan_the_database_refused_is_not_left_counted(app, client, issue_stamps,
                                                          monkeypatch):
    """The store counts a scan before its row is written (in Redis on the services stack).
    When the write fails the scan was never acknowledged, so the code's next answer must
    not count it: the code is reloaded from the database."""
    from scanapp.services import services

    stamp = issue_stamps(1)[0]
    post = lambda device: client.post("/api/v1/scans",  # noqa: E731
                                      json={"code": stamp.uri, "device_id": device})
    assert post("a").get_json()["scan_count"] == 1
    sink = services(app).scan.sink
    real_record = sink.record

    def refuse(row):
        raise RuntimeError("the database refused the row")

    monkeypatch.setattr(sink, "record", refuse)
    try:
        refused = post("b")
    except RuntimeError:
        refused = None
    assert refused is None or refused.status_code >= 500
    monkeypatch.setattr(sink, "record", real_record)
    again = post("c").get_json()
    assert again["scan_count"] == 2 and again["device_count"] == 2


def test_a_scan_answered_without_redis_tells_the_operator_why(app_factory, issue_stamps,
                                                              caplog):
    """The degraded answer is logged with the Redis error's type: the one line an operator
    has to tell a dead Redis from a slow one."""
    import logging
    import socket

    stamp = issue_stamps(1)[0]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]  # nothing listens once closed
    app = app_factory(REDIS_URL=f"redis://127.0.0.1:{dead}/0", REDIS_CLUSTER=False)
    with caplog.at_level(logging.WARNING, logger="scanapp.scan.service"):
        answer = app.test_client().post("/api/v1/scans",
                                        json={"code": stamp.uri, "device_id": "a"})
    assert answer.status_code == 200 and answer.get_json()["degraded"] is True
    said = [r.getMessage() for r in caplog.records if r.name == "scanapp.scan.service"]
    assert any("redis failed on the scan path (ConnectionError)" in m
               and "answering from the database" in m for m in said), said


def test_a_reload_while_redis_is_down_is_still_a_reload(app_factory, issue_stamps):
    """The database fallback keeps the reload window: the same phone opening the page
    again during an outage is not counted again (docs/SCAN.md, reloads)."""
    import socket

    stamp = issue_stamps(1)[0]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    client = app_factory(REDIS_URL=f"redis://127.0.0.1:{dead}/0",
                         REDIS_CLUSTER=False).test_client()
    post = lambda device: client.post("/api/v1/scans",  # noqa: E731
                                      json={"code": stamp.uri, "device_id": device})
    first, reload = post("a"), post("a")
    assert first.status_code == reload.status_code == 200
    assert reload.get_json()["degraded"] is True
    assert reload.get_json()["scan_count"] == first.get_json()["scan_count"] == 1
    assert post("b").get_json()["scan_count"] == 2
