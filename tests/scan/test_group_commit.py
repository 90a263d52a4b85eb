"""The group committer stores each scan exactly as handed over and gives each its own id,
however many share a commit."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select

from scanapp.db import get_engine
from scanapp.scan.models import ScanEvent
from scanapp.scan.sink import GroupCommitSink

# Scans from many threads share real commits.
pytestmark = pytest.mark.committed


def _row(i: int) -> dict:
    return {
        "scanned_at": dt.datetime(2026, 11, 25, 6, 0, i % 60, 123456, tzinfo=dt.UTC),
        "serial": f"SERIAL{i:014d}", "gtin": "08934567000017",
        "lot": None if i % 2 else f"Lô-{i}", "range_id": None if i % 3 == 0 else i,
        "verdict": "suspicious" if i % 5 == 0 else "authentic",
        "reasons": ["geo_spread", "device_spread"] if i % 5 == 0 else [],
        "risk": i % 100, "scan_no": i, "province": None if i % 7 == 0 else "79",
        "lat": None if i % 4 == 0 else 10.77 + i / 1000, "lon": None if i % 4 == 0 else 106.7,
        "accuracy_m": None if i % 2 else 12.5, "cell": None, "device_hash": f"d{i}",
        "client_hash": None, "source": "inspector" if i % 9 == 0 else "consumer",
        "degraded": i % 11 == 0,
    }


def test_concurrent_scans_share_commits_and_come_back_as_sent(app):
    sink = GroupCommitSink(get_engine(app))
    rows = [_row(i) for i in range(60)]
    ids: dict[int, int] = {}

    def record(i: int) -> None:
        ids[i] = sink.record(rows[i])

    threads = [threading.Thread(target=record, args=(i,)) for i in range(len(rows))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sink.close()

    assert len(set(ids.values())) == len(rows)
    with get_engine(app).connect() as conn:
        stored = {r.id: r for r in conn.execute(select(ScanEvent.__table__).where(
            ScanEvent.id.in_(list(ids.values()))))}
    for i, row in enumerate(rows):
        got = stored[ids[i]]
        for name, value in row.items():
            assert getattr(got, name) == value, (i, name)
