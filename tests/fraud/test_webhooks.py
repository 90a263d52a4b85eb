"""Brand webhooks: outbox, signature, retries with backoff, exactly one delivery per event."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from scanapp.db import session_scope
from scanapp.fraud import webhooks
from scanapp.fraud.models import WebhookDelivery

SERIAL = "1WWWWWWWWWWWWWWWWWWW"
PORTS = range(5300, 5400)  # this package's port range on the shared machine


class Receiver:
    """A local webhook endpoint that fails the first ``fail_first`` requests with 500."""

    def __init__(self, fail_first=0, gate: threading.Event | None = None):
        self.fail_first = fail_first
        self.gate = gate
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.gate is not None:
                    receiver.gate.wait(10)
                with receiver.lock:
                    n = len(receiver.requests)
                    ok = n >= receiver.fail_first
                    receiver.requests.append({"headers": dict(self.headers), "body": body,
                                              "ok": ok})
                self.send_response(200 if ok else 500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = self._bind(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/scanapp"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def _bind(handler):
        for port in PORTS:
            try:
                return ThreadingHTTPServer(("127.0.0.1", port), handler)
            except OSError:
                continue
        raise RuntimeError("no free port in 5300-5399")

    def delivered(self) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["ok"]]

    def close(self):
        if self.gate is not None:
            self.gate.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def receiver():
    made = []

    def make(**kwargs) -> Receiver:
        made.append(Receiver(**kwargs))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def fast_webhooks(app, run_worker):
    """Short delays, and the worker process's relays running (in this process)."""
    app.config.update(WEBHOOK_BACKOFF_BASE_S=0.05, WEBHOOK_BACKOFF_MAX_S=0.2,
                      WEBHOOK_POLL_S=0.05, WEBHOOK_TIMEOUT_S=2)
    run_worker(app)
    return app


def wait_for(condition, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def set_webhook(brand, url) -> str:
    response = brand.put("/api/v1/webhook", json={"url": url})
    assert response.status_code == 200, response.get_json()
    secret = response.get_json()["secret"]
    assert secret
    return secret


def test_delivered_once_after_the_receiver_recovers_with_a_valid_signature(
        fast_webhooks, brand, product, scans, receiver):
    hook = receiver(fail_first=2)
    secret = set_webhook(brand, hook.url)
    scans.flagged(SERIAL, product["gtin"], risk=70)

    assert wait_for(lambda: len(hook.delivered()) == 1)
    time.sleep(0.5)  # any duplicate would arrive within a few poll intervals
    assert len(hook.requests) == 3 and len(hook.delivered()) == 1
    ids = {r["headers"]["X-Scanapp-Event-Id"] for r in hook.requests}
    assert len(ids) == 1  # the retries carried the same event id

    got = hook.delivered()[0]
    headers = got["headers"]
    assert webhooks.verify_signature(secret, headers["X-Scanapp-Timestamp"], got["body"],
                                     headers["X-Scanapp-Signature"])
    assert not webhooks.verify_signature("wrong", headers["X-Scanapp-Timestamp"], got["body"],
                                         headers["X-Scanapp-Signature"])
    payload = json.loads(got["body"])
    assert payload["type"] == "flag.raised" and headers["X-Scanapp-Event"] == "flag.raised"
    assert payload["data"]["serial"] == SERIAL and payload["data"]["risk"] == 70
    assert payload["id"] == headers["X-Scanapp-Event-Id"]

    deliveries = brand.get("/api/v1/webhook/deliveries").get_json()
    assert deliveries[0]["attempts"] == 3 and deliveries[0]["delivered_at"]
    assert deliveries[0]["last_error"] is None


def test_an_escalation_is_a_new_event(fast_webhooks, brand, product, scans, receiver):
    hook = receiver()
    set_webhook(brand, hook.url)
    scans.flagged(SERIAL, product["gtin"], risk=60)
    scans.flagged(SERIAL, product["gtin"], risk=95, reasons=("impossible_travel",))
    assert wait_for(lambda: len(hook.delivered()) == 2)
    kinds = [json.loads(r["body"])["type"] for r in hook.delivered()]
    assert sorted(kinds) == ["flag.escalated", "flag.raised"]
    assert len({r["headers"]["X-Scanapp-Event-Id"] for r in hook.delivered()}) == 2


def test_the_scan_never_waits_for_the_receiver(fast_webhooks, brand, product, scans, receiver):
    gate = threading.Event()
    hook = receiver(gate=gate)  # holds every request until the gate opens
    set_webhook(brand, hook.url)
    scans.flagged(SERIAL, product["gtin"])  # returns although the receiver is stuck
    assert hook.delivered() == []
    gate.set()
    assert wait_for(lambda: len(hook.delivered()) == 1)


@pytest.mark.committed  # threads race on their own connections
def test_concurrent_workers_send_each_event_once(app, brand, product, scans, receiver):
    hook = receiver()
    set_webhook(brand, hook.url)
    for i in range(8):
        scans.flagged(f"1WWWWWWWWWWWWWWWWW{i:02d}", product["gtin"])
    threads = [threading.Thread(target=webhooks.deliver_due, args=(app,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    ids = [r["headers"]["X-Scanapp-Event-Id"] for r in hook.requests]
    assert len(ids) == 8 and len(set(ids)) == 8


def test_retries_back_off_and_stop(app, brand, product, scans, receiver):
    app.config.update(WEBHOOK_MAX_ATTEMPTS=3, WEBHOOK_BACKOFF_BASE_S=60)
    hook = receiver(fail_first=100)
    set_webhook(brand, hook.url)
    scans.flagged(SERIAL, product["gtin"])
    webhooks.deliver_due(app)
    webhooks.deliver_due(app)  # not due yet: the backoff holds it back
    assert len(hook.requests) == 1
    with session_scope(app) as session:
        row = session.scalar(select(WebhookDelivery))
        assert row.attempts == 1 and row.last_status == 500
        first_wait = (row.next_attempt_at - row.created_at).total_seconds()
        assert 55 < first_wait < 65
        for _ in range(2):  # make it due again twice
            row.next_attempt_at = row.created_at
            session.commit()
            webhooks.deliver_due(app)
            session.refresh(row)
        assert row.attempts == 3 and row.failed_at is not None
    webhooks.deliver_due(app)
    assert len(hook.requests) == 3


def test_unreachable_receiver_is_retried_not_crashed(app, brand, product, scans):
    app.config.update(WEBHOOK_TIMEOUT_S=1)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    set_webhook(brand, f"http://127.0.0.1:{port}/hook")
    scans.flagged(SERIAL, product["gtin"])
    assert webhooks.deliver_due(app) == 0
    deliveries = brand.get("/api/v1/webhook/deliveries").get_json()
    assert deliveries[0]["attempts"] == 1
    assert deliveries[0]["last_error"] == "the receiver could not be reached"


def test_no_webhook_no_outbox_row(app, product, scans):
    scans.flagged(SERIAL, product["gtin"])
    with session_scope(app) as session:
        assert session.scalar(select(WebhookDelivery)) is None


def test_webhook_settings(brand, inspector):
    assert brand.get("/api/v1/webhook").get_json() == {"url": None, "secret": None,
                                                      "has_secret": False}
    first = brand.put("/api/v1/webhook", json={"url": "https://brand.example.vn/h"}).get_json()
    assert first["secret"].startswith("whsec_")
    again = brand.put("/api/v1/webhook", json={"url": "https://brand.example.vn/h2"}).get_json()
    assert again["secret"] is None and again["has_secret"]  # kept, not shown again
    rotated = brand.put("/api/v1/webhook", json={"url": "https://brand.example.vn/h2",
                                                 "rotate_secret": True}).get_json()
    assert rotated["secret"] and rotated["secret"] != first["secret"]
    assert brand.put("/api/v1/webhook", json={"url": "ftp://x"}).status_code == 422
    assert brand.put("/api/v1/webhook", json={}).status_code == 422
    assert inspector.put("/api/v1/webhook",
                         json={"url": "https://x.example.vn"}).status_code == 403
    removed = brand.put("/api/v1/webhook", json={"url": None}).get_json()
    assert removed == {"url": None, "secret": None, "has_secret": False}


def test_production_refuses_internal_webhook_addresses(app, brand):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    for url in ("http://brand.example.vn/h", "https://127.0.0.1/h", "https://localhost/h",
                "https://10.0.0.8/h", "https://[::1]/h", "https://169.254.169.254/latest"):
        response = brand.put("/api/v1/webhook", json={"url": url})
        assert response.status_code == 422, url
        assert response.get_json()["code"] == "invalid_webhook_url"
    assert brand.put("/api/v1/webhook",
                     json={"url": "https://hooks.brand.example.vn/scanapp"}).status_code == 200


def test_a_name_resolving_to_an_internal_address_is_not_called(app, brand, product, scans,
                                                               receiver):
    hook = receiver()
    set_webhook(brand, hook.url)
    app.config.update(WEBHOOK_ALLOW_PRIVATE=False)
    scans.flagged(SERIAL, product["gtin"])
    webhooks.deliver_due(app)
    assert hook.requests == []
    deliveries = brand.get("/api/v1/webhook/deliveries").get_json()
    assert deliveries[0]["failed_at"] and "not a public address" in deliveries[0]["last_error"]


def test_rows_left_by_an_earlier_process_are_delivered(app, brand, product, scans, receiver,
                                                        run_worker):
    hook = receiver()
    set_webhook(brand, hook.url)
    scans.flagged(SERIAL, product["gtin"])  # no worker runs: the row waits in the outbox
    time.sleep(0.3)
    assert hook.requests == []
    app.config.update(WEBHOOK_POLL_S=0.05)
    run_worker(app)  # a worker process starting later finds it
    assert wait_for(lambda: len(hook.delivered()) == 1)


def test_web_requests_start_no_relay(app, brand, product, scans, receiver):
    """Outbox relays belong to the worker process: nothing a web request does starts one."""
    hook = receiver()
    set_webhook(brand, hook.url)
    scans.flagged(SERIAL, product["gtin"])
    brand.get("/api/v1/webhook")
    time.sleep(0.3)
    assert hook.requests == []
    relays = {"scanapp-webhooks", "scanapp-epcis-pusher"}
    assert not relays & {thread.name for thread in threading.enumerate()}


def test_signature_follows_the_documented_format(fast_webhooks, brand, product, scans,
                                                  receiver):
    """docs/FRAUD.md: HMAC-SHA256 with the brand's secret over ``"<timestamp>.<raw body>"``,
    sent as ``sha256=<hex>``. Checked the way a receiver written from the docs would check
    it, not with the service's own verify_signature."""
    hook = receiver()
    secret = set_webhook(brand, hook.url)
    scans.flagged(SERIAL, product["gtin"])
    assert wait_for(lambda: len(hook.delivered()) == 1)
    got = hook.delivered()[0]
    timestamp = got["headers"]["X-Scanapp-Timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + got["body"],
                        hashlib.sha256).hexdigest()
    assert got["headers"]["X-Scanapp-Signature"] == f"sha256={expected}"
    assert abs(int(timestamp) - time.time()) < 300  # seconds since the epoch, now


def _production(app_factory, monkeypatch):
    """An app with production's own settings: nothing about webhooks forced either way."""
    monkeypatch.delenv("SCANAPP_WEBHOOK_ALLOW_PRIVATE", raising=False)
    import secrets as _secrets

    strong = {n: _secrets.token_urlsafe(48) for n in ("SECRET_KEY", "SERIAL_KEY", "PIN_KEY")}
    prod = app_factory(ENV="production", **strong)
    # Production's own default, read by config.py from an environment that sets nothing.
    assert prod.config["WEBHOOK_ALLOW_PRIVATE"] is False and prod.config["PRODUCTION"]
    return prod


def test_production_refuses_internal_webhook_addresses_by_default(app_factory, brand,
                                                                  monkeypatch):
    prod = _production(app_factory, monkeypatch).test_client()
    headers = {"Authorization": f"Bearer {brand.key}"}
    for url in ("http://brand.example.vn/h", "https://127.0.0.1/h", "https://localhost/h",
                "https://10.0.0.8/h", "https://[::1]/h", "https://169.254.169.254/latest"):
        response = prod.put("/api/v1/webhook", json={"url": url}, headers=headers)
        assert response.status_code == 422, url
        assert response.get_json()["code"] == "invalid_webhook_url"
    response = prod.put("/api/v1/webhook", json={"url": "https://hooks.brand.example.vn/h"},
                        headers=headers)
    assert response.status_code == 200


def test_production_does_not_deliver_to_an_internal_address_by_default(
        app, app_factory, brand, product, scans, receiver, monkeypatch):
    hook = receiver()
    set_webhook(brand, hook.url)  # stored by a development app, as before an upgrade
    scans.flagged(SERIAL, product["gtin"])
    prod = _production(app_factory, monkeypatch)
    webhooks.deliver_due(prod)
    assert hook.requests == []
    deliveries = brand.get("/api/v1/webhook/deliveries").get_json()
    assert deliveries[0]["failed_at"] and "public address" in deliveries[0]["last_error"]
