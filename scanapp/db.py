"""Database plumbing: the declarative base, one engine per app, one session per request.

Services receive a session and commit at the end of their unit of work; views never
commit. The session is closed when the app context tears down.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, g
from sqlalchemy import ARRAY, DateTime, MetaData, any_, create_engine, event, literal
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

# Deterministic constraint names so that Alembic migrations can alter them on SQLite
# (batch mode) and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


def any_of(column, values, item_type):
    """``column = ANY(:values)`` with the values as ONE array parameter (PostgreSQL only).

    Not ``sqlalchemy.dialects.postgresql.array(values)``: that renders ``ARRAY[:p1, :p2,
    ...]``, a placeholder per value, compiled afresh for every length (measured: most of a
    290-lot lineage document's CPU). One parameter keeps the compiled statement cached."""
    return column == any_(literal(list(values), ARRAY(item_type)))


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_engine(url: str, schema: str | None = None, pool_size: int = 10) -> Engine:
    kwargs: dict = {"future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True,
                      pool_timeout=5)
        if schema:
            kwargs["connect_args"] = {"options": f"-csearch_path={schema}"}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            # WAL lets the scan page read while a range is being written.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()
    return engine


def init_app(app: Flask) -> None:
    engine = make_engine(
        app.config["DATABASE_URL"],
        app.config.get("DATABASE_SCHEMA"),
        app.config["DATABASE_POOL_SIZE"],
    )
    app.extensions["scanapp.engine"] = engine
    app.extensions["scanapp.sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def configure_sessions(app: Flask, info: dict) -> None:
    """Put ``info`` (the app's event bus) into every session the app makes."""
    app.extensions["scanapp.sessionmaker"].configure(info=info)


def get_engine(app: Flask | None = None) -> Engine:
    return (app or current_app).extensions["scanapp.engine"]


def get_session() -> Session:
    """The request's session, opened on first use."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["scanapp.sessionmaker"]()
    return g.db_session


@contextmanager
def session_scope(app: Flask | None = None) -> Iterator[Session]:
    """A session outside a request (CLI commands, background workers)."""
    session = (app or current_app).extensions["scanapp.sessionmaker"]()
    try:
        yield session
    finally:
        session.close()


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
