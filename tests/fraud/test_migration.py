"""The hand-written fraud migration matches the models, and downgrades cleanly."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from scanapp import create_app
from scanapp import migrations as scanapp_migrations
from scanapp.db import Base, get_engine
from tests.conftest import TEST_SECRETS

FRAUD_TABLES = {"fraud_flags", "fraud_case_events", "fraud_inspections", "webhook_outbox",
                "fraud_inspection_photos", "fraud_evidence_issues"}


def _ours(diff) -> bool:
    item = diff[0] if isinstance(diff, list) else diff
    for part in item:
        if isinstance(part, str) and part in FRAUD_TABLES:  # ("modify_type", schema, table..)
            return True
        name = getattr(part, "name", None)
        table = getattr(part, "table", None)
        if name in FRAUD_TABLES or getattr(table, "name", None) in FRAUD_TABLES:
            return True
    return False


def test_models_and_migration_agree(app):
    with get_engine(app).connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = [d for d in compare_metadata(context, Base.metadata) if _ours(d)]
    assert diffs == []


def test_fraud_branch_downgrades_and_upgrades_again(tmp_path):
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/m.db", "AUTO_MIGRATE": False,
                      "ENV": "testing", **TEST_SECRETS})
    try:
        scanapp_migrations.upgrade(app)
        assert FRAUD_TABLES <= set(sa.inspect(get_engine(app)).get_table_names())
        scanapp_migrations.downgrade(app, "fraud@base")
        tables = set(sa.inspect(get_engine(app)).get_table_names())
        assert not FRAUD_TABLES & tables and "products" in tables
        scanapp_migrations.upgrade(app)
        assert FRAUD_TABLES <= set(sa.inspect(get_engine(app)).get_table_names())
    finally:
        get_engine(app).dispose()
