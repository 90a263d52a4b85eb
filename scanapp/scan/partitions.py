"""Monthly partitions of ``scan_events`` on PostgreSQL, and the raw-scan retention policy.

On PostgreSQL ``scan_events`` is partitioned by range of ``scanned_at``, one partition per
calendar month (UTC), named ``scan_events_yYYYYmMM``, plus ``scan_events_default`` for rows
outside every month created (it should stay empty: a scan is never refused for want of a
partition). The primary key is ``(id, scanned_at)``: PostgreSQL wants the partition key in
every unique constraint; ``id`` alone still comes from one sequence, and nothing refers to
it with a foreign key. On SQLite it is a plain table and everything here does nothing.

- ``ensure_partitions``: the current month and ``SCAN_PARTITIONS_AHEAD`` months ahead
  (the worker process every hour, ``flask --app scanapp scan partitions``).
- ``expired_partitions`` / ``drop_partition``: months wholly older than
  ``SCAN_RETENTION_MONTHS`` whole months before the current one; the caller drops one only
  once its days are aggregated (the daily scan counts, epcis/recorder.py). Code summaries
  (summary.py) and the daily counts are kept: a code's state never needs its raw scans.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

from sqlalchemy import text
from sqlalchemy.engine import Connection

log = logging.getLogger(__name__)

PARENT = "scan_events"
DEFAULT = "scan_events_default"
_NAME = re.compile(r"^scan_events_y(\d{4})m(\d{2})$")


def month_start(day: dt.date | dt.datetime) -> dt.date:
    return dt.date(day.year, day.month, 1)


def add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def partition_name(month: dt.date) -> str:
    return f"scan_events_y{month.year:04d}m{month.month:02d}"


def is_partitioned(conn: Connection) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    return bool(conn.scalar(text(
        "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "WHERE c.relname = :name AND c.relnamespace = current_schema()::regnamespace"),
        {"name": PARENT}))


def partitions(conn: Connection) -> list[dt.date]:
    """The months that have a partition, oldest first."""
    names = conn.scalars(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :name "
        "AND p.relnamespace = current_schema()::regnamespace"), {"name": PARENT})
    months = []
    for name in names:
        match = _NAME.match(name)
        if match:
            months.append(dt.date(int(match[1]), int(match[2]), 1))
    return sorted(months)


def create_partition(conn: Connection, month: dt.date) -> bool:
    """One month's partition; False when it exists. Rows of that month already in the
    default partition make PostgreSQL refuse: they are moved into the new month first."""
    if month in partitions(conn):
        return False
    start, end = month, add_months(month, 1)
    name = partition_name(month)
    bounds = {"start": start.isoformat(), "end": end.isoformat()}
    moved = conn.scalar(text(
        f"SELECT count(*) FROM {DEFAULT} WHERE scanned_at >= CAST(:start AS timestamptz) "
        "AND scanned_at < CAST(:end AS timestamptz)"), bounds) if _has_default(conn) else 0
    if moved:
        conn.execute(text(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS)"))
        conn.execute(text(
            f"WITH gone AS (DELETE FROM {DEFAULT} WHERE scanned_at >= CAST(:start AS "
            "timestamptz) AND scanned_at < CAST(:end AS timestamptz) RETURNING *) "
            f"INSERT INTO {name} SELECT * FROM gone"), bounds)
        conn.execute(text(
            f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM "
            f"('{start.isoformat()}') TO ('{end.isoformat()}')"))
    else:
        conn.execute(text(
            f"CREATE TABLE {name} PARTITION OF {PARENT} FOR VALUES FROM "
            f"('{start.isoformat()}') TO ('{end.isoformat()}')"))
    log.info("scan_events partition %s created (%d rows moved from the default)", name, moved)
    return True


def _has_default(conn: Connection) -> bool:
    return bool(conn.scalar(text("SELECT to_regclass(:name) IS NOT NULL"), {"name": DEFAULT}))


def ensure_partitions(conn: Connection, now: dt.datetime, ahead: int) -> list[str]:
    """The current month's partition and ``ahead`` more; returns the ones created."""
    if not is_partitioned(conn):
        return []
    first = month_start(now)
    created = []
    for n in range(ahead + 1):
        month = add_months(first, n)
        if create_partition(conn, month):
            created.append(partition_name(month))
    return created


def retention_cutoff(now: dt.datetime, months: int) -> dt.date:
    """Raw scans before this day may go: ``months`` whole months before the current one."""
    return add_months(month_start(now), -months)


def expired_partitions(conn: Connection, now: dt.datetime, months: int) -> list[dt.date]:
    """Months whose partition lies wholly before the retention cutoff (none if months=0)."""
    if months <= 0 or not is_partitioned(conn):
        return []
    cutoff = retention_cutoff(now, months)
    return [m for m in partitions(conn) if add_months(m, 1) <= cutoff]


def drop_partition(conn: Connection, month: dt.date) -> None:
    name = partition_name(month)
    conn.execute(text(f"ALTER TABLE {PARENT} DETACH PARTITION {name}"))
    conn.execute(text(f"DROP TABLE {name}"))
    log.info("scan_events partition %s dropped (retention)", name)
