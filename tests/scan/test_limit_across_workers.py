"""The embedded stack's rate limit holds across gunicorn workers (issue 15, item 12).

Before: without Redis, Flask-Limiter counted in each worker's memory, so two workers let
227 of 260 scans through a 120/minute limit. Real worker processes are needed to show it:
apps in one process share the limiter object and cannot tell.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    # A port nobody listens on now: a fixed one met other runs' servers on a shared machine
    # (connection resets, timeouts).
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PORT = _free_port()


def _post(uri: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORT}/api/v1/scans", data=json.dumps({"code": uri}).encode(),
        headers={"Content-Type": "application/json", "Connection": "close"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_two_workers_share_one_limit(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCANAPP_")}
    env.update({
        "PYTHONPATH": str(ROOT), "SCANAPP_DATABASE_URL": f"sqlite:///{tmp_path}/e.db",
        "SCANAPP_REDIS_PREFIX": f"workers-{secrets.token_hex(4)}",
        "SCANAPP_RATELIMIT_SCAN": "20/minute",
        "SCANAPP_GUNICORN_BIND": f"127.0.0.1:{PORT}", "SCANAPP_GUNICORN_WORKERS": "2",
        "SCANAPP_GUNICORN_THREADS": "2", "SCANAPP_GUNICORN_LOGLEVEL": "warning",
        **{f"SCANAPP_{n}": secrets.token_urlsafe(48)
           for n in ("SECRET_KEY", "SERIAL_KEY", "PIN_KEY")}})
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", PORT)) == 0:
                    break
            assert server.poll() is None, server.communicate()[0]
            time.sleep(0.2)
        time.sleep(1.5)  # both workers booted
        forged = "https://scan.example.vn/01/08934567890120/21/0" + "D" * 19
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda _i: _post(forged), range(60)))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.communicate(timeout=30)
    assert codes.count(200) == 20, codes
    assert codes.count(429) == 40
