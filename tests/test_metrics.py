"""/metrics under gunicorn: one scrape sums every worker (prometheus_client multiprocess)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GTIN = "08930000000019"
PORTS = range(18100, 18200)  # this suite's share of the shared machine (TEAM.md)


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18100-18199")


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def _scan(base: str, n: int) -> int:
    code = f"{base}/01/{GTIN}/21/0AAAAAAAAAAAAAAAA{n:03d}"
    request = urllib.request.Request(
        base + "/api/v1/scans", method="POST", data=json.dumps({"code": code}).encode(),
        headers={"Content-Type": "application/json", "Connection": "close"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def _sample(text: str, pattern: str) -> float:
    found = re.search(pattern + r" ([0-9.e+]+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


@pytest.fixture
def gunicorn(tmp_path):
    port = _free_port()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
           "SCANAPP_DATABASE_URL": f"sqlite:///{tmp_path}/scanapp.db",
           "SCANAPP_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
           "SCANAPP_SECRET_KEY": "s" * 32, "SCANAPP_SERIAL_KEY": "k" * 32,
           "SCANAPP_PIN_KEY": "p" * 32, "SCANAPP_RATELIMIT_ENABLED": "0",
           "PYTHONPATH": str(ROOT)}
    for name in ("SCANAPP_REDIS_URL", "SCANAPP_ENV", "SCANAPP_DATABASE_SCHEMA"):
        env.pop(name, None)
    log = open(tmp_path / "gunicorn.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "-c", str(ROOT / "gunicorn.conf.py"),
         "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "2", "wsgi:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            _get(base + "/healthz")
            break
        except (urllib.error.URLError, OSError):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.close()
                raise RuntimeError((tmp_path / "gunicorn.log").read_text()[-3000:]) from None
            time.sleep(0.2)
    try:
        yield base, metrics_dir
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def test_one_scrape_sums_both_workers(gunicorn):
    base, metrics_dir = gunicorn
    scans = 40
    for n in range(scans):
        assert _scan(base, n) == 200  # forged codes: answered "counterfeit", no setup needed
    # Each worker keeps its values in files of its own pid; both served scans.
    writers = {path.name.rsplit("_", 1)[1] for path in metrics_dir.glob("counter_*.db")}
    assert len(writers) >= 2, sorted(metrics_dir.iterdir())

    for _ in range(4):  # whichever worker answers the scrape, the sum is the same
        text = _get(base + "/metrics")
        assert _sample(text, r'scanapp_scans_total\{verdict="counterfeit"\}') == scans
        route = r'scanapp_request_duration_seconds_count\{method="POST",route="/api/v1/scans"\}'
        assert _sample(text, route) == scans
    buckets = [line for line in text.splitlines()
               if line.startswith("scanapp_request_duration_seconds_bucket{")
               and 'route="/api/v1/scans"' in line]
    assert any('le="0.05"' in line for line in buckets) and len(buckets) > 10
    assert _sample(text, r'scanapp_outbox_depth\{outbox="epcis"\}') >= 0
    assert "scanapp_outbox_oldest_age_seconds" in text
