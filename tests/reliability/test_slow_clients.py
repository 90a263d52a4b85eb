"""Slow clients cannot starve the service (issue 15, item 7).

The attack: 20 connections each sending one byte of a request every 2 s. Before, with the
documented gunicorn (gthread, 8 threads a worker) exposed without the proxy, they held every
thread and /healthz stopped answering. The defence in production is the reverse proxy
(README, "Production": nginx reads whole requests, with header and body timeouts, before
gunicorn sees them). Where gunicorn must face clients itself, its gevent workers
(``SCANAPP_GUNICORN_WORKER_CLASS=gevent``) hold a slow connection in a greenlet, not a
thread. The first test runs README's own nginx block (with a self-signed certificate)
in front of the default gthread gunicorn; the second runs gevent gunicorn alone.
``SCANAPP_TEST_SLOW_WORKER_CLASS=gthread`` runs the second on the default worker without a
proxy (it fails: that is the reproduction).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PORT = 18432  # engineer i15's range: gunicorn
TLS_PORT = 18433  # nginx, in front
PLAIN_PORT = 18434
DRIPPERS = 20
_INSECURE = ssl.create_default_context()
_INSECURE.check_hostname = False
_INSECURE.verify_mode = ssl.CERT_NONE


def _connect(port: int, tls: bool) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    return _INSECURE.wrap_socket(sock, server_hostname="scan.example.vn") if tls else sock


def _drip(stop: threading.Event, port: int = PORT, tls: bool = False) -> None:
    """Open a request and send it one byte every 2 s, never finishing."""
    request = (b"POST /api/v1/scans HTTP/1.1\r\nHost: scan.example.vn\r\n"
               b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
               + b"{" * 200)
    try:
        with _connect(port, tls) as sock:
            for byte in request:
                if stop.is_set():
                    return
                sock.sendall(bytes([byte]))
                stop.wait(2)
    except OSError:
        return  # the server dropped us: fine


def _healthz_seconds(port: int = PORT, tls: bool = False) -> float | None:
    started = time.monotonic()
    try:
        with _connect(port, tls) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: scan.example.vn\r\n"
                         b"Connection: close\r\n\r\n")
            if not sock.recv(64).startswith(b"HTTP/1.1 200"):
                return None
    except OSError:
        return None
    return time.monotonic() - started


def _gunicorn(tmp_path, worker_class: str, **extra: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCANAPP_")}
    env.update({
        "PYTHONPATH": str(ROOT), "SCANAPP_DATABASE_URL": f"sqlite:///{tmp_path}/e.db",
        "SCANAPP_GUNICORN_BIND": f"127.0.0.1:{PORT}", "SCANAPP_GUNICORN_WORKERS": "2",
        "SCANAPP_GUNICORN_WORKER_CLASS": worker_class, "SCANAPP_GUNICORN_LOGLEVEL": "warning",
        **{f"SCANAPP_{n}": secrets.token_urlsafe(48)
           for n in ("SECRET_KEY", "SERIAL_KEY", "PIN_KEY")}, **extra})
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True)


def _wait_healthy(server: subprocess.Popen, port: int = PORT, tls: bool = False) -> None:
    deadline = time.monotonic() + 60
    while _healthz_seconds(port, tls) is None:
        assert server.poll() is None, server.communicate()[0]
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.3)


def _under_drip(port: int, tls: bool) -> list:
    """/healthz timings (None: no answer) while DRIPPERS connections drip."""
    stop = threading.Event()
    drippers = [threading.Thread(target=_drip, args=(stop, port, tls), daemon=True)
                for _ in range(DRIPPERS)]
    for thread in drippers:
        thread.start()
    try:
        time.sleep(3)  # every dripper connected and mid-request
        timings = []
        for _ in range(20):
            timings.append(_healthz_seconds(port, tls))
            time.sleep(0.25)
        return timings
    finally:
        stop.set()
        for thread in drippers:
            thread.join(5)


def _stop(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    server.communicate(timeout=30)


def readme_nginx_config(tmp_path: Path) -> Path:
    """README's nginx block, with test ports, a self-signed certificate and temp paths."""
    readme = (ROOT / "README.md").read_text()
    (block,) = re.findall(r"```nginx\n(.*?)```", readme, re.DOTALL)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=scan.example.vn", "-keyout", str(tmp_path / "key.pem"),
                    "-out", str(tmp_path / "cert.pem")], check=True, capture_output=True)
    block = (block.replace("listen 80;", f"listen 127.0.0.1:{PLAIN_PORT};")
             .replace("listen 443 ", f"listen 127.0.0.1:{TLS_PORT} ")
             .replace("/etc/letsencrypt/live/scan.example.vn/fullchain.pem",
                      str(tmp_path / "cert.pem"))
             .replace("/etc/letsencrypt/live/scan.example.vn/privkey.pem",
                      str(tmp_path / "key.pem"))
             .replace("127.0.0.1:8000", f"127.0.0.1:{PORT}"))
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"""
user root;
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
{block}
}}
""")
    return conf


@pytest.mark.skipif(shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
                    reason="nginx is not installed")
def test_behind_the_readme_proxy_healthz_answers_through_the_drip(tmp_path):
    """As documented: gthread gunicorn (the default) behind README's nginx block."""
    conf = readme_nginx_config(tmp_path)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    checked = subprocess.run([nginx, "-t", "-c", str(conf)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    server = _gunicorn(tmp_path, "gthread", SCANAPP_PROXY_HOPS="1")
    proxy = subprocess.Popen([nginx, "-c", str(conf), "-g", "daemon off;"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             start_new_session=True)
    try:
        _wait_healthy(server)
        _wait_healthy(proxy, TLS_PORT, tls=True)
        timings = _under_drip(TLS_PORT, tls=True)
        direct = _healthz_seconds()
    finally:
        _stop(proxy)
        _stop(server)
    answered = [t for t in timings if t is not None]
    assert len(answered) == len(timings), timings
    assert max(answered) < 1.0, timings
    assert direct is not None  # gunicorn itself never saw the drippers


def test_gevent_gunicorn_alone_answers_through_the_drip(tmp_path):
    """Without a proxy: gevent workers."""
    server = _gunicorn(tmp_path, os.environ.get("SCANAPP_TEST_SLOW_WORKER_CLASS", "gevent"))
    try:
        _wait_healthy(server)
        timings = _under_drip(PORT, tls=False)
    finally:
        _stop(server)
    answered = [t for t in timings if t is not None]
    assert len(answered) == len(timings), timings
    assert max(answered) < 1.0, timings
