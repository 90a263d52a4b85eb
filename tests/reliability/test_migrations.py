"""Every Alembic branch against the models: after ``db upgrade`` (all heads), autogenerate
finds no difference at all, on SQLite and on PostgreSQL. A column, index, constraint or
type changed in a model without its migration (or the reverse) fails here, whichever
package's branch it belongs to."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from scanapp import migrations as scanapp_migrations
from scanapp.db import Base, get_engine


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
