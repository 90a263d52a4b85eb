"""Fault drills under scan load, short versions for CI (loadtests/faults/drill.py).

Each starts gunicorn (production settings) on a private port with a private Redis, and for
the PostgreSQL drill a private PostgreSQL, breaks one of them mid-load and audits: no
acknowledged scan or range lost or duplicated, counters equal to the database afterwards,
fast 503s while the database is down and recovery without a restart. The longer runs and
their figures are in docs/RELIABILITY.md.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from tests.conftest import PG_URL, missing_service

DURATION = float(os.environ.get("SCANAPP_FAULT_DURATION", "12"))

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def drills():
    if not PG_URL:
        missing_service("PostgreSQL (SCANAPP_TEST_DATABASE_URL) for the fault drills")
    if shutil.which("redis-server") is None:
        missing_service("redis-server")
    os.environ.setdefault("SCANAPP_FAULT_DATABASE_URL", PG_URL)
    from loadtests.faults import drill

    drill.SHARED_PG = os.environ["SCANAPP_FAULT_DATABASE_URL"]
    return drill


def assert_nothing_lost(report: dict) -> None:
    print("\n" + json.dumps(report, indent=1, default=str))
    assert report["acknowledged"] > 100, report
    assert report["lost"] == 0 and report["duplicated"] == 0, report
    assert report["ranges lost"] == 0 and report["ranges duplicated"] == 0, report
    assert report["range overlaps"] == 0, report
    assert report["counter mismatches"] == 0, report


@pytest.mark.parametrize("kill", [False, True], ids=["graceful", "sigkill"])
def test_redis_restart_under_load_loses_no_scan(drills, kill):
    report = drills.redis_drill(kill=kill, duration=DURATION)
    assert_nothing_lost(report)
    during = report["during outage"]
    # Scans go on while Redis is away: answered from the database, flagged degraded.
    assert during["answered"] > 0 and during["ok"] == during["answered"], report
    assert during["degraded"] > 0, report


def test_killing_gunicorn_workers_loses_no_scan_or_range(drills):
    report = drills.worker_drill(duration=DURATION)
    assert_nothing_lost(report)
    assert report["ranges acknowledged"] > 10, report
    assert report["workers after"] == 2, report


def test_postgres_stop_answers_fast_503s_and_recovers_by_itself(drills):
    report = drills.postgres_drill(duration=DURATION)
    assert_nothing_lost(report)
    during = report["during outage"]
    assert during["503"] > 0, report
    assert set(during["codes"]) == {"database_unavailable"}, report
    # Fast: the pool's pre-ping and connect timeout fail in milliseconds, not the 30 s
    # a hanging connect would take.
    assert during["p99_ms"] < 2000, report
    assert report["recovered after s"] is not None and report["recovered after s"] < 10, report
    assert set(report["after recovery"]) == {"200"}, report
