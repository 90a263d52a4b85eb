"""The hand-written epcis migration creates exactly what the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from scanapp.db import Base, get_engine

TABLES = {"epcis_events", "epcis_outbox", "epcis_scan_days", "epcis_event_identifiers",
          "epcis_capture_jobs"}


def _table_of(diff) -> str | None:
    # Alembic reports ("add_table", Table), ("add_index", Index), ... and lists of
    # ("modify_type", schema, table_name, column_name, ...) tuples.
    for part in diff if isinstance(diff, (tuple, list)) else (diff,):
        if isinstance(part, (tuple, list)):
            found = _table_of(part)
            if found:
                return found
        table = getattr(part, "table", None)
        name = getattr(table, "name", None) or getattr(part, "name", None)
        if isinstance(name, str) and name.startswith("epcis_"):
            return name
        if isinstance(part, str) and part.startswith("epcis_"):
            return part
    return None


def test_migrated_schema_matches_the_models(app):
    with get_engine(app).connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)
        assert TABLES <= set(conn.dialect.get_table_names(conn, schema=None))
    mine = [d for d in diffs if _table_of(d) in TABLES]
    assert mine == []
