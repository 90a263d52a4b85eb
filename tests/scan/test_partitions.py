"""scan_events by month on PostgreSQL, retention of raw scans, summaries that outlive them.

PostgreSQL only where it must be (partitions); on SQLite scan_events stays a plain table and
the partition keeper has nothing to do."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from scanapp.db import get_engine
from scanapp.epcis.models import EpcisScanDay
from scanapp.scan import partitions
from scanapp.scan.models import ScanEvent
from scanapp.worker import keep_partitions

NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)


def _row(at: dt.datetime, serial: str = "0AB3456789ABCDEFGHJK") -> dict:
    return {"scanned_at": at, "serial": serial, "gtin": "08934567890120",
            "verdict": "authentic", "reasons": [], "risk": 0, "scan_no": 1,
            "source": "consumer", "degraded": False}


def _where(conn, event_id: int) -> str:
    return conn.scalar(sa.text("SELECT tableoid::regclass::text FROM scan_events "
                               "WHERE id = :id"), {"id": event_id})


def test_scan_events_is_partitioned_by_month_on_postgresql_only(app, stack, scan,
                                                                 issue_stamps):
    stamp = issue_stamps(1)[0]
    status, _body = scan(stamp.uri, device_id="a")
    assert status == 200
    with get_engine(app).connect() as conn:
        if stack.name == "embedded":
            assert not partitions.is_partitioned(conn)
            assert keep_partitions(app) == ([], [])
            return
        assert partitions.is_partitioned(conn)
        this_month = partitions.partition_name(dt.datetime.now(dt.UTC))
        event_id = conn.scalar(sa.select(ScanEvent.id).where(ScanEvent.serial == stamp.serial))
        assert _where(conn, event_id).split(".")[-1] == this_month
        months = partitions.partitions(conn)
    # The migration made the current month and three ahead; the keeper adds what is missing.
    assert partitions.month_start(dt.datetime.now(dt.UTC)) in months
    assert len(months) >= 4


@pytest.mark.parametrize("stack", ["services"], indirect=True)
def test_partitions_ahead_and_a_late_row_moved_out_of_the_default(app):
    engine = get_engine(app)
    far = dt.datetime(2031, 5, 10, tzinfo=dt.UTC)
    with engine.begin() as conn:
        event_id = conn.execute(sa.insert(ScanEvent).returning(ScanEvent.id),
                                _row(far)).scalar_one()
        assert _where(conn, event_id).endswith("scan_events_default")  # never refused
    app.config["SCAN_PARTITIONS_AHEAD"] = 2
    created, dropped = keep_partitions(app, now=dt.datetime(2031, 4, 2, tzinfo=dt.UTC))
    assert created == ["scan_events_y2031m04", "scan_events_y2031m05", "scan_events_y2031m06"]
    assert dropped == []
    with engine.connect() as conn:
        assert _where(conn, event_id).endswith("scan_events_y2031m05")
        assert conn.scalar(sa.text("SELECT count(*) FROM scan_events_default")) == 0
    assert keep_partitions(app, now=dt.datetime(2031, 4, 2, tzinfo=dt.UTC)) == ([], [])


@pytest.mark.parametrize("stack", ["services"], indirect=True)
def test_retention_drops_whole_old_months_after_counting_their_days(app, stack):
    engine = get_engine(app)
    old = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
    with engine.begin() as conn:
        for month in (6, 7, 8):
            partitions.create_partition(conn, dt.date(2026, month, 1))
        conn.execute(sa.insert(ScanEvent), [_row(old), _row(old + dt.timedelta(days=40)),
                                            _row(old + dt.timedelta(days=70))])
    app.config["SCAN_RETENTION_MONTHS"] = 0  # the default keeps everything
    assert keep_partitions(app, now=NOW)[1] == []
    app.config["SCAN_RETENTION_MONTHS"] = 3  # keep Aug-Oct 2026 whole, and November
    created, dropped = keep_partitions(app, now=NOW)
    assert dropped == ["scan_events_y2026m06", "scan_events_y2026m07"]
    with engine.connect() as conn:
        left = conn.scalars(sa.select(ScanEvent.scanned_at)).all()
        days = set(conn.scalars(sa.select(EpcisScanDay.day)))
    assert [at.month for at in left] == [8]
    # The dropped months' days were aggregated first (the daily counts are kept).
    assert dt.date(2026, 6, 15) in days and dt.date(2026, 7, 25) in days
