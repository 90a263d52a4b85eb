"""What a brand's receiver and its delivery log see of one delivery attempt (docs/FRAUD.md,
"Webhooks"), found untested by mutation testing of scanapp/fraud/webhooks.py
(docs/RELIABILITY.md, "Mutation testing"): the documented body and headers, which answers
count as delivered, what the log says about the others, a webhook removed while an event
waited, the timeout, and one crashing row not stopping the pass.

Each test drives one pass with ``deliver_due`` (no relay thread to wait for), so a broken
delivery fails at once instead of after a polling timeout."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from scanapp import outbound
from scanapp.db import session_scope, utcnow
from scanapp.fraud import webhooks
from scanapp.fraud.models import WebhookDelivery

from .test_webhooks import SERIAL, set_webhook

PORTS = range(8900, 8950)  # this file's share of engineer h22's range


class Answering:
    """A receiver answering each POST with the next status of ``statuses`` (the last one
    repeats), after ``delay`` seconds."""

    def __init__(self, statuses=(200,), delay: float = 0.0):
        self.statuses, self.delay = list(statuses), delay
        self.requests: list[dict] = []
        self.released = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if outer.delay:
                    outer.released.wait(outer.delay)
                status = outer.statuses[min(len(outer.requests), len(outer.statuses) - 1)]
                outer.requests.append({"headers": dict(self.headers), "body": body})
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "https://elsewhere.example/")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        for port in PORTS:
            try:
                self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
                break
            except OSError:
                continue
        else:
            raise RuntimeError("no free port in 8900-8949")
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def answering():
    made = []

    def make(**kwargs) -> Answering:
        made.append(Answering(**kwargs))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


def _rows(app) -> list[WebhookDelivery]:
    with session_scope(app) as session:
        rows = list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))
        session.expunge_all()
        return rows


def test_the_receiver_gets_the_documented_body_and_headers(app, brand, product, scans,
                                                           answering):
    hook = answering()
    set_webhook(brand, hook.url)
    scans.flagged(SERIAL, product["gtin"], risk=72, reasons=("many_devices", "many_networks"))
    assert webhooks.deliver_due(app) == 1
    (got,) = hook.requests
    headers = got["headers"]
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Scanapp-Event"] == "flag.raised"
    body = json.loads(got["body"].decode("utf-8"))
    assert set(body) == {"id", "type", "created_at", "data"}
    assert body["id"] == headers["X-Scanapp-Event-Id"] and body["type"] == "flag.raised"
    created = dt.datetime.fromisoformat(body["created_at"])
    assert abs((created.replace(tzinfo=None) - utcnow().replace(tzinfo=None))
               .total_seconds()) < 300
    data = body["data"]
    assert set(data) == {"flag_id", "serial", "gtin", "risk", "reasons", "escalated"}
    flags = brand.get("/api/v1/flags").get_json()
    items = flags["items"] if isinstance(flags, dict) else flags
    flag_id = items[0]["id"]
    assert data == {"flag_id": flag_id, "serial": SERIAL, "gtin": product["gtin"], "risk": 72,
                    "reasons": ["many_devices", "many_networks"], "escalated": False}


@pytest.mark.parametrize("status", [200, 204, 299])
def test_any_2xx_answer_is_a_delivery(app, brand, product, scans, answering, status):
    hook = answering(statuses=[status])
    set_webhook(brand, hook.url)
    scans.flagged(SERIAL, product["gtin"])
    assert webhooks.deliver_due(app) == 1
    (row,) = _rows(app)
    assert row.delivered_at is not None and row.last_status == status
    assert row.last_error is None and row.attempts == 1


@pytest.mark.parametrize("status", [300, 302, 404, 500])
def test_any_other_answer_is_retried_and_logged_with_its_status(app, brand, product, scans,
                                                                 answering, status):
    app.config.update(WEBHOOK_BACKOFF_BASE_S=60, WEBHOOK_MAX_ATTEMPTS=5)
    hook = answering(statuses=[status])
    set_webhook(brand, hook.url)
    scans.flagged(SERIAL, product["gtin"])
    before = utcnow()
    assert webhooks.deliver_due(app) == 0
    (row,) = _rows(app)
    assert row.delivered_at is None and row.failed_at is None
    assert row.attempts == 1 and row.last_status == status
    if status >= 400:
        assert row.last_error == f"HTTP {status}"
    else:  # a redirect is never followed (the signature would go with it)
        assert row.last_error and str(status) in row.last_error
    wait = (row.next_attempt_at.replace(tzinfo=None) - before.replace(tzinfo=None))
    assert 55 < wait.total_seconds() < 65
    assert len(hook.requests) == 1


def test_the_last_attempt_fails_the_row_and_tells_the_operator(app, brand, product, scans,
                                                                answering, caplog):
    app.config.update(WEBHOOK_MAX_ATTEMPTS=1)
    hook = answering(statuses=[503])
    set_webhook(brand, hook.url)
    scans.flagged(SERIAL, product["gtin"])
    with caplog.at_level(logging.WARNING, logger="scanapp.fraud.webhooks"):
        assert webhooks.deliver_due(app) == 0
    (row,) = _rows(app)
    assert row.failed_at is not None and row.attempts == 1 and row.last_error == "HTTP 503"
    said = [r.getMessage() for r in caplog.records if r.name == "scanapp.fraud.webhooks"]
    assert any(row.event_id in m and "HTTP 503" in m and "1 attempts" in m for m in said), said
    with session_scope(app) as session:  # even once due again, a failed row is not sent
        session.get(WebhookDelivery, row.id).next_attempt_at = utcnow() - dt.timedelta(1)
        session.commit()
    webhooks.deliver_due(app)
    assert len(hook.requests) == 1


def test_a_webhook_removed_while_the_event_waited_is_not_called(app, brand, product, scans,
                                                                 answering):
    hook = answering()
    set_webhook(brand, hook.url)
    scans.flagged(SERIAL, product["gtin"])
    assert brand.put("/api/v1/webhook", json={"url": None}).status_code == 200
    assert webhooks.deliver_due(app) == 0
    assert hook.requests == []
    (row,) = _rows(app)
    assert row.failed_at is not None and row.last_error == "webhook removed"
    assert row.locked_until is None and row.delivered_at is None


def test_an_internal_address_fails_once_and_is_never_tried_again(app, brand, product, scans,
                                                                  answering):
    hook = answering()
    set_webhook(brand, hook.url)
    scans.flagged(SERIAL, product["gtin"])
    app.config.update(WEBHOOK_ALLOW_PRIVATE=False)
    assert webhooks.deliver_due(app) == 0
    (row,) = _rows(app)
    assert row.attempts == 1 and row.failed_at is not None and row.locked_until is None
    assert row.last_error == outbound.NOT_PUBLIC
    with session_scope(app) as session:
        session.get(WebhookDelivery, row.id).next_attempt_at = utcnow() - dt.timedelta(1)
        session.commit()
    app.config.update(WEBHOOK_ALLOW_PRIVATE=True)
    webhooks.deliver_due(app)
    assert hook.requests == []


def test_a_receiver_slower_than_the_timeout_is_cut_off(app, brand, product, scans, answering):
    app.config.update(WEBHOOK_TIMEOUT_S=0.5)
    hook = answering(delay=8)
    set_webhook(brand, hook.url)
    scans.flagged(SERIAL, product["gtin"])
    started = time.monotonic()
    assert webhooks.deliver_due(app) == 0
    assert time.monotonic() - started < 5
    (row,) = _rows(app)
    assert row.delivered_at is None and row.last_error == outbound.UNREACHABLE


@pytest.mark.committed  # a crashed row is rolled back on its own connection
def test_one_crashing_delivery_does_not_stop_the_pass(app, brand, product, scans, answering,
                                                      monkeypatch, caplog):
    hook = answering()
    set_webhook(brand, hook.url)
    scans.flagged(SERIAL, product["gtin"])
    scans.flagged("1WWWWWWWWWWWWWWWWWW2", product["gtin"])
    real_post, calls = outbound.post, []

    def first_one_crashes(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 1:
            raise RuntimeError("a bug in one delivery")
        return real_post(*args, **kwargs)

    monkeypatch.setattr(outbound, "post", first_one_crashes)
    with caplog.at_level(logging.ERROR, logger="scanapp.fraud.webhooks"):
        assert webhooks.deliver_due(app) == 1
    assert len(hook.requests) == 1
    crashed, delivered = _rows(app)
    assert delivered.delivered_at is not None
    # The crashed row keeps its claim and is tried again after it, not lost or failed.
    assert crashed.delivered_at is None and crashed.failed_at is None
    assert crashed.locked_until is not None
    assert any(str(crashed.id) in r.getMessage() and r.exc_info for r in caplog.records)


def test_an_address_turned_internal_after_a_failure_counts_every_attempt(
        app, brand, product, scans, answering):
    """The delivery log's attempts stay a true count when the host is re-pointed to an
    internal address between two attempts."""
    hook = answering(statuses=[500])
    set_webhook(brand, hook.url)
    scans.flagged(SERIAL, product["gtin"])
    assert webhooks.deliver_due(app) == 0
    with session_scope(app) as session:
        session.scalar(select(WebhookDelivery)).next_attempt_at = utcnow() - dt.timedelta(1)
        session.commit()
    app.config.update(WEBHOOK_ALLOW_PRIVATE=False)
    assert webhooks.deliver_due(app) == 0
    (row,) = _rows(app)
    assert row.attempts == 2 and row.failed_at is not None
    assert row.last_error == outbound.NOT_PUBLIC and len(hook.requests) == 1
