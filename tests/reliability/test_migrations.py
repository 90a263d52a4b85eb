"""Every Alembic branch against the models: after ``db upgrade`` (all heads), autogenerate
finds no difference at all, on SQLite and on PostgreSQL. A column, index, constraint or
type changed in a model without its migration (or the reverse) fails here, whichever
package's branch it belongs to."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from scanapp import create_app
from scanapp import migrations as scanapp_migrations
from scanapp.db import Base, get_engine

# Migrations run on their own connections, DDL included.
pytestmark = pytest.mark.committed


def _differences(app) -> list:
    engine = get_engine(app)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "compare_type": True, "compare_server_default": False,
            "include_name": scanapp_migrations.include_name})
        return compare_metadata(context, Base.metadata)


def test_autogenerate_finds_no_difference_on_any_branch(app):
    assert _differences(app) == []


def test_every_branch_is_applied_by_db_upgrade(app):
    script = ScriptDirectory.from_config(scanapp_migrations.alembic_config(app))
    branches = {label for rev in script.walk_revisions() for label in rev.branch_labels}
    assert {"core", "serials", "scan", "fraud", "epcis"} <= branches
    with get_engine(app).connect() as conn:
        applied = MigrationContext.configure(conn).get_current_heads()
    done = {rev.revision for rev in script.iterate_revisions(applied, "base")}
    assert done == {rev.revision for rev in script.walk_revisions()}


@pytest.mark.parametrize("stack", ["services"], indirect=True)
def test_upgrade_summarises_and_partitions_existing_scans(stack):
    """scan_0003 fills the summaries from existing rows and scan_0004 moves the rows into
    monthly partitions, ids kept; the downgrade gives the plain table back."""
    schema = f"{stack.schema}_upgrade"
    admin = sa.create_engine(stack.database_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    app = create_app({**stack.overrides(), "DATABASE_SCHEMA": schema})
    try:
        scanapp_migrations.upgrade(app, "scan_0002")
        engine = get_engine(app)
        insert = sa.text(
            "INSERT INTO scan_events (scanned_at, serial, gtin, verdict, reasons, risk, "
            "scan_no, device_hash, client_hash, source, degraded, province) VALUES (:at, "
            ":serial, '08934567890120', :verdict, '[]', 0, 1, :device, 'n1', 'consumer', "
            "false, '01')")
        with engine.begin() as conn:
            for serial, device, at, verdict in (
                    ("0AB3456789ABCDEFGHJK", "d1", "2026-03-05T08:00:00Z", "authentic"),
                    ("0AB3456789ABCDEFGHJK", "d2", "2026-09-05T08:00:00Z", "suspicious"),
                    ("0ZZ3456789ABCDEFGHJK", "d1", "2026-11-01T08:00:00Z", "authentic"),
                    ("0ZZ3456789ABCDEFGHJK", "d1", "2026-11-02T08:00:00Z", "authentic"),
                    ("0ZZ3456789ABCDEFGHJQ", None, "2026-10-01T08:00:00Z", "counterfeit")):
                conn.execute(insert, {"serial": serial, "device": device, "at": at,
                                      "verdict": verdict})
            conn.execute(sa.text(
                "INSERT INTO scan_pin_checks (checked_at, serial, ok, device_hash, client_hash) "
                "VALUES ('2026-09-06T08:00:00Z', '0AB3456789ABCDEFGHJK', true, 'd2', 'n1')"))
        scanapp_migrations.upgrade(app)
        with engine.connect() as conn:
            where = conn.execute(sa.text(
                "SELECT tableoid::regclass::text, id FROM scan_events ORDER BY id")).all()
            sums = {row.serial: row for row in conn.execute(sa.text(
                "SELECT * FROM scan_code_summaries"))}
        assert [(table.split(".")[-1], i) for table, i in where] == [
            ("scan_events_y2026m03", 1), ("scan_events_y2026m09", 2),
            ("scan_events_y2026m11", 3), ("scan_events_y2026m11", 4),
            ("scan_events_y2026m10", 5)]
        assert set(sums) == {"0AB3456789ABCDEFGHJK", "0ZZ3456789ABCDEFGHJK"}  # no forgery
        ab = sums["0AB3456789ABCDEFGHJK"]
        assert (ab.scans, ab.device_count, ab.pin_claims, ab.pin_claimers) == (
            2, 2, 1, ["d2|n1"])
        assert (sums["0ZZ3456789ABCDEFGHJK"].scans,
                sums["0ZZ3456789ABCDEFGHJK"].device_count) == (2, 1)
        with engine.begin() as conn:  # the id sequence goes on after the copied rows
            new_id = conn.execute(insert, {"serial": "X", "device": None, "verdict": "authentic",
                                           "at": "2026-11-20T08:00:00Z"}) and conn.scalar(
                sa.text("SELECT max(id) FROM scan_events"))
        assert new_id == 6
        scanapp_migrations.downgrade(app, "scan_0003")
        with engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT count(*) FROM scan_events")) == 6
            assert conn.scalar(sa.text(
                "SELECT relkind FROM pg_class WHERE oid = 'scan_events'::regclass")) == "r"
        engine.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
