"""Alembic migrations, run through ``flask --app scanapp db ...``.

Each feature package keeps its schema changes on its own Alembic branch (branch label =
package name) that depends on the core branch; ``db upgrade`` applies all heads, so
features can evolve their tables without stepping on each other's revision chains.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from flask import Flask

from ..db import get_engine

HERE = Path(__file__).parent


def alembic_config(app: Flask) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(HERE / "versions"))
    cfg.attributes["engine"] = get_engine(app)
    return cfg


def upgrade(app: Flask, revision: str = "heads") -> None:
    command.upgrade(alembic_config(app), revision)


def downgrade(app: Flask, revision: str) -> None:
    command.downgrade(alembic_config(app), revision)


def current(app: Flask) -> None:
    command.current(alembic_config(app), verbose=True)


def revision(app: Flask, message: str, head: str, autogenerate: bool = True) -> None:
    command.revision(alembic_config(app), message=message, autogenerate=autogenerate, head=head)


def include_name(name, type_, parent_names) -> bool:
    """Autogenerate's filter: the monthly partitions of scan_events (scan/partitions.py)
    are made at run time, not by the models."""
    return not (type_ == "table" and name is not None
                and (name.startswith("scan_events_y") or name == "scan_events_default"))
