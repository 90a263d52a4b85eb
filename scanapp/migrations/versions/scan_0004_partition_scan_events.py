"""scan: scan_events partitioned by month on PostgreSQL (a plain table on SQLite)

Revision ID: scan_0004
Revises: scan_0003
Create Date: 2026-11-29 21:45:00

Declarative range partitioning on scanned_at, one partition per calendar month (UTC) plus
a default partition (scan/partitions.py). Old months can then be dropped whole by the
retention policy (SCAN_RETENTION_MONTHS) instead of DELETEd row by row, and every query
bounded in time (hotspots, daily counts, statistics) reads only its months.

The upgrade converts the existing table: renames it aside, creates the partitioned table
with the same columns (LIKE ... INCLUDING DEFAULTS: the id keeps its sequence), one
partition per month present in the data up to three months ahead, copies the rows, drops
the old table and builds the indexes on the partitioned table (one per partition). The
primary key becomes (id, scanned_at): PostgreSQL requires the partition key in every
unique constraint. No foreign key, unique constraint or ON CONFLICT refers to scan_events
(fraud's *_scan_event_id and consumer_reports.scan_id are plain columns). The copy holds
an exclusive lock on scan_events: stop the scan path during the upgrade.
"""

import datetime as dt

from alembic import op

revision = "scan_0004"
down_revision = "scan_0003"
branch_labels = None
depends_on = None

INDEXES = (("ix_scan_events_serial_scanned_at", "serial, scanned_at"),
           ("ix_scan_events_scanned_at", "scanned_at"),
           ("ix_scan_events_province_scanned_at", "province, scanned_at"))


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    from scanapp.scan import partitions

    op.execute("ALTER TABLE scan_events RENAME TO scan_events_unpartitioned")
    op.execute("ALTER TABLE scan_events_unpartitioned RENAME CONSTRAINT pk_scan_events "
               "TO pk_scan_events_unpartitioned")
    for name, _columns in INDEXES:
        op.execute(f"ALTER INDEX {name} RENAME TO {name}_unpartitioned")
    op.execute("CREATE TABLE scan_events (LIKE scan_events_unpartitioned INCLUDING DEFAULTS) "
               "PARTITION BY RANGE (scanned_at)")
    op.execute("ALTER TABLE scan_events ADD CONSTRAINT pk_scan_events "
               "PRIMARY KEY (id, scanned_at)")
    op.execute("CREATE TABLE scan_events_default PARTITION OF scan_events DEFAULT")
    oldest = bind.exec_driver_sql(
        "SELECT min(scanned_at) FROM scan_events_unpartitioned").scalar()
    now = dt.datetime.now(dt.UTC)
    month = partitions.month_start(oldest or now)
    last = partitions.add_months(partitions.month_start(now), 3)
    while month <= last:
        partitions.create_partition(bind, month)
        month = partitions.add_months(month, 1)
    op.execute("INSERT INTO scan_events SELECT * FROM scan_events_unpartitioned")
    seq = bind.exec_driver_sql(
        "SELECT pg_get_serial_sequence('scan_events_unpartitioned', 'id')").scalar()
    if seq:
        op.execute(f"ALTER SEQUENCE {seq} OWNED BY scan_events.id")
    op.execute("DROP TABLE scan_events_unpartitioned")
    for name, columns in INDEXES:
        op.execute(f"CREATE INDEX {name} ON scan_events ({columns})")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE scan_events RENAME TO scan_events_partitioned")
    op.execute("ALTER TABLE scan_events_partitioned RENAME CONSTRAINT pk_scan_events "
               "TO pk_scan_events_partitioned")
    for name, _columns in INDEXES:
        op.execute(f"ALTER INDEX {name} RENAME TO {name}_partitioned")
    op.execute("CREATE TABLE scan_events (LIKE scan_events_partitioned INCLUDING DEFAULTS)")
    op.execute("ALTER TABLE scan_events ADD CONSTRAINT pk_scan_events PRIMARY KEY (id)")
    op.execute("INSERT INTO scan_events SELECT * FROM scan_events_partitioned")
    seq = bind.exec_driver_sql(
        "SELECT pg_get_serial_sequence('scan_events_partitioned', 'id')").scalar()
    if seq:
        op.execute(f"ALTER SEQUENCE {seq} OWNED BY scan_events.id")
    op.execute("DROP TABLE scan_events_partitioned")
    for name, columns in INDEXES:
        op.execute(f"CREATE INDEX {name} ON scan_events ({columns})")
