"""Alembic environment: runs on the app's own engine, SQLite or PostgreSQL."""

from alembic import context

from scanapp import models  # noqa: F401  (fills Base.metadata)
from scanapp.db import Base
from scanapp.migrations import include_name

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
