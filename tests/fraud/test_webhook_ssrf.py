"""Webhook SSRF (issue 15, item 5).

Before: the delivery followed redirects (to 127.0.0.1 ports, signature header included),
stored the connection error text for the brand to read (a port-scan oracle), checked the
configured host only (a second DNS lookup at connection time could answer differently), and
accepted NAT64 and other encodings of internal addresses.
"""

from __future__ import annotations

import secrets
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import update

from scanapp.auth import service as auth_service
from scanapp.auth.models import Organisation, Role
from scanapp.db import session_scope
from scanapp.fraud import webhooks

from .test_webhooks import SERIAL, Receiver, set_webhook


class Redirector:
    """Answers every POST with a redirect to ``location``; counts what it got."""

    def __init__(self, location: str, status: int = 307):
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                outer.hits += 1
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(status)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Listener:
    """A bare TCP socket that counts connections: did anything reach this address?"""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self._stop.set()
        self.thread.join(2)
        self.sock.close()


def test_redirects_are_not_followed(app, brand, product, scans):
    inside = Receiver()
    hop = Redirector(inside.url)
    try:
        set_webhook(brand, hop.url)
        app.config.update(WEBHOOK_THREAD=False)
        scans.flagged(SERIAL, product["gtin"])
        assert webhooks.deliver_due(app) == 0
        assert hop.hits == 1
        assert inside.requests == []  # the signed body never reached the redirect target
        deliveries = brand.get("/api/v1/webhook/deliveries").get_json()
        assert "redirect (HTTP 307)" in deliveries[0]["last_error"]
        assert deliveries[0]["delivered_at"] is None
    finally:
        hop.close()
        inside.close()


@pytest.mark.parametrize("kind", ["closed", "timeout"])
def test_brands_read_a_generic_error_not_the_socket_text(app, brand, product, scans, kind,
                                                         caplog):
    app.config.update(WEBHOOK_THREAD=False, WEBHOOK_TIMEOUT_S=0.5)
    silent = None
    if kind == "closed":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    else:  # accepts the connection and never answers
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
    try:
        set_webhook(brand, f"http://127.0.0.1:{port}/hook")
        scans.flagged(SERIAL, product["gtin"])
        webhooks.deliver_due(app)
    finally:
        if silent is not None:
            silent.close()
    error = brand.get("/api/v1/webhook/deliveries").get_json()[0]["last_error"]
    # Closed and silent ports read the same: no oracle for which ports are open.
    assert error == "the receiver could not be reached"
    assert any("webhook to 127.0.0.1" in r.getMessage() for r in caplog.records)


BLOCKED = [
    "https://[64:ff9b::7f00:1]/h",          # NAT64 of 127.0.0.1
    "https://[64:ff9b::a00:8]/h",           # NAT64 of 10.0.0.8
    "https://[64:ff9b::a9fe:a9fe]/h",       # NAT64 of 169.254.169.254
    "https://[64:ff9b:1::a00:8]/h",         # local-use NAT64
    "https://[::ffff:7f00:1]/h",            # IPv4-mapped loopback
    "https://[::ffff:10.0.0.8]/h",
    "https://[::7f00:1]/h",                 # IPv4-compatible
    "https://[2002:7f00:1::1]/h",           # 6to4 of 127.0.0.1
    "https://[2002:c0a8:101::1]/h",         # 6to4 of 192.168.1.1
    "https://2130706433/h",                 # 127.0.0.1 as one number
    "https://0x7f000001/h",
    "https://0177.0.0.1/h",
    "https://127.1/h",
    "https://[fd00::1]/h",
    "https://[fe80::1]/h",
    "https://metadata.internal/h",
    "https://app.localhost/h",
]


@pytest.mark.parametrize("url", BLOCKED)
def test_encodings_of_internal_addresses_are_refused(app, brand, url):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    response = brand.put("/api/v1/webhook", json={"url": url})
    assert response.status_code == 422, url
    # Some forms are not even URLs to the schema; the others reach the address policy.
    assert response.get_json()["code"] in ("invalid_webhook_url", "validation_error")


def test_public_encodings_stay_allowed():
    from scanapp.outbound import blocked_ip, literal_ip

    for host in ("64:ff9b::808:808", "2606:4700:4700::1111", "8.8.8.8", "[2002:808:808::1]"):
        assert not blocked_ip(literal_ip(host)), host


@pytest.fixture
def production_app(app, app_factory, monkeypatch):
    """The production configuration, with nothing about private addresses set."""
    monkeypatch.delenv("SCANAPP_WEBHOOK_ALLOW_PRIVATE", raising=False)
    strong = {name: secrets.token_urlsafe(48) for name in ("SECRET_KEY", "SERIAL_KEY", "PIN_KEY")}
    application = app_factory(ENV="production", PRODUCTION=True, WEBHOOK_TIMEOUT_S=0.5,
                              **strong)
    # Production's own default, as config.py reads it from an environment that sets nothing.
    assert application.config["WEBHOOK_ALLOW_PRIVATE"] is False
    return application


def _brand_key(application) -> tuple[str, int]:
    with application.app_context(), session_scope(application) as session:
        key, raw = auth_service.issue_key(session, "Brand B", Role.BRAND, "test")
        return raw, key.org_id


def test_production_default_blocks_internal_addresses(production_app):
    raw, _org = _brand_key(production_app)
    client = production_app.test_client()
    headers = {"Authorization": f"Bearer {raw}"}
    for url in ("https://127.0.0.1/h", "https://[64:ff9b::7f00:1]/h", "http://example.com/h",
                "https://localhost:8443/h"):
        response = client.put("/api/v1/webhook", json={"url": url}, headers=headers)
        assert response.status_code == 422, url


def test_delivery_connects_to_the_address_it_checked(production_app, product, scans,
                                                     monkeypatch):
    """DNS rebinding: the name answers a public address when checked and 127.0.0.1 when
    connected to. The delivery must use the address it checked, once."""
    raw, org_id = _brand_key(production_app)
    listener = Listener()
    host = "hooks.brand.example"
    answers = iter(["93.184.216.34"] + ["127.0.0.1"] * 20)
    real = socket.getaddrinfo

    def rebinding(name, port, *args, **kwargs):
        if name == host:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]
        return real(name, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    try:
        with production_app.app_context(), session_scope(production_app) as session:
            session.execute(update(Organisation).where(Organisation.id == org_id).values(
                webhook_url=f"https://{host}:{listener.port}/h", webhook_secret="whsec_x"))
            session.commit()
        # A flag of a product owned by this brand, so the outbox row is for it.
        with production_app.app_context(), session_scope(production_app) as session:
            from scanapp.products.models import Product

            session.execute(update(Product).where(Product.id == product["id"])
                            .values(brand_org_id=org_id))
            session.commit()
        scans.flagged(SERIAL, product["gtin"])
        webhooks.deliver_due(production_app)
        assert listener.connections == 0  # 127.0.0.1 was never contacted
    finally:
        listener.close()
    client = production_app.test_client()
    (delivery,) = client.get("/api/v1/webhook/deliveries",
                             headers={"Authorization": f"Bearer {raw}"}).get_json()
    assert delivery["last_error"] == "the receiver could not be reached"


def test_delivery_refuses_a_name_now_resolving_inside(production_app, product, scans,
                                                      monkeypatch):
    raw, org_id = _brand_key(production_app)
    listener = Listener()
    host = "hooks.brand.example"
    real = socket.getaddrinfo

    def inside(name, port, *args, **kwargs):
        if name == host:
            return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("64:ff9b::7f00:1", port, 0, 0))]
        return real(name, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", inside)
    try:
        with production_app.app_context(), session_scope(production_app) as session:
            from scanapp.products.models import Product

            session.execute(update(Organisation).where(Organisation.id == org_id).values(
                webhook_url=f"https://{host}:{listener.port}/h", webhook_secret="whsec_x"))
            session.execute(update(Product).where(Product.id == product["id"])
                            .values(brand_org_id=org_id))
            session.commit()
        scans.flagged(SERIAL, product["gtin"])
        webhooks.deliver_due(production_app)
        assert listener.connections == 0
    finally:
        listener.close()
    client = production_app.test_client()
    (delivery,) = client.get("/api/v1/webhook/deliveries",
                             headers={"Authorization": f"Bearer {raw}"}).get_json()
    assert delivery["failed_at"] and "not a public address" in delivery["last_error"]
