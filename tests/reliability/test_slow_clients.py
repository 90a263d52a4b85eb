"""Slow clients cannot starve the service (issue 15, item 7).

The attack: 20 connections each sending one byte of a request every 2 s. Before, with the
documented gunicorn (gthread, 8 threads a worker) exposed without the proxy, they held every
thread and /healthz stopped answering. The defence in production is the reverse proxy
(README, "Production": nginx reads whole requests, with header and body timeouts, before
gunicorn sees them). Where gunicorn must face clients itself, its gevent workers
(``SCANAPP_GUNICORN_WORKER_CLASS=gevent``) hold a slow connection in a greenlet, not a
thread; this test runs that configuration and measures /healthz under the drip.
``SCANAPP_TEST_SLOW_WORKER_CLASS=gthread`` runs the same attack on the default worker
(it fails: that is the reproduction).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PORT = 18432  # engineer i15's range
DRIPPERS = 20


def _drip(stop: threading.Event) -> None:
    """Open a request and send it one byte every 2 s, never finishing."""
    request = (b"POST /api/v1/scans HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: 100000\r\n\r\n" + b"{" * 200)
    try:
        with socket.create_connection(("127.0.0.1", PORT), timeout=5) as sock:
            for byte in request:
                if stop.is_set():
                    return
                sock.sendall(bytes([byte]))
                stop.wait(2)
    except OSError:
        return  # the server dropped us: fine


def _healthz_seconds() -> float | None:
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", PORT), timeout=5) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            if not sock.recv(64).startswith(b"HTTP/1.1 200"):
                return None
    except OSError:
        return None
    return time.monotonic() - started


@pytest.mark.skipif(sys.platform != "linux", reason="needs gunicorn")
def test_healthz_answers_through_twenty_slow_drip_connections(tmp_path):
    worker_class = os.environ.get("SCANAPP_TEST_SLOW_WORKER_CLASS", "gevent")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCANAPP_")}
    env.update({
        "PYTHONPATH": str(ROOT), "SCANAPP_DATABASE_URL": f"sqlite:///{tmp_path}/e.db",
        "SCANAPP_GUNICORN_BIND": f"127.0.0.1:{PORT}", "SCANAPP_GUNICORN_WORKERS": "2",
        "SCANAPP_GUNICORN_WORKER_CLASS": worker_class, "SCANAPP_GUNICORN_LOGLEVEL": "warning",
        **{f"SCANAPP_{n}": secrets.token_urlsafe(48)
           for n in ("SECRET_KEY", "SERIAL_KEY", "PIN_KEY")}})
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True)
    stop = threading.Event()
    drippers = []
    try:
        deadline = time.monotonic() + 60
        while _healthz_seconds() is None:
            assert server.poll() is None, server.communicate()[0]
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.3)
        for _ in range(DRIPPERS):
            thread = threading.Thread(target=_drip, args=(stop,), daemon=True)
            thread.start()
            drippers.append(thread)
        time.sleep(3)  # every dripper connected and mid-request
        timings = []
        for _ in range(20):
            timings.append(_healthz_seconds())
            time.sleep(0.25)
    finally:
        stop.set()
        os.killpg(server.pid, signal.SIGTERM)
        server.communicate(timeout=30)
        for thread in drippers:
            thread.join(5)
    answered = [t for t in timings if t is not None]
    assert len(answered) == len(timings), timings
    assert max(answered) < 1.0, timings
