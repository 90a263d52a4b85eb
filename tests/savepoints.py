"""Tests roll back instead of wiping: one database connection per test, in one transaction.

The SQLAlchemy 2.0 recipe for this ("Joining a Session into an External Transaction",
``join_transaction_mode="create_savepoint"``) binds a Session to one Connection. scanapp
reads and writes through Sessions *and* through engine Connections (the scan store, the
catalog, the range lookup, the sinks), so the recipe is applied one level lower, under
SQLAlchemy, at the driver connection that every engine checkout of the test gets:

- the test's engines (the app's, and those of apps built by ``app_factory``) have no pool
  of their own; every checkout is a light proxy over the one driver connection, which sits
  inside one outer transaction that is rolled back when the test ends;
- a checkout opens a SAVEPOINT before its first statement; its ``commit()`` keeps the work
  (the savepoint is released), its ``rollback()`` (or a close with work pending) rolls back
  to it, so a failed unit of work is undone as on a real connection, and a statement error
  on PostgreSQL does not abort the outer transaction.

What this cannot give is isolation between two connections: everything the test does is
visible to every checkout at once, and another *process* sees nothing. Tests whose point
is concurrency, or that hand data to threads, subprocesses, gunicorn or a real HTTP server,
run in ``committed`` mode instead (tests/README.md says which and how to mark them).
"""

from __future__ import annotations

import itertools
import threading

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

# Statements that change nothing: a rollback after only these has nothing to undo, so it
# does not roll back over what another checkout committed in between.
_READS = ("SELECT", "SHOW", "PRAGMA", "SAVEPOINT", "RELEASE", "ROLLBACK TO")


class _Savepoint:
    __slots__ = ("name", "open", "live")

    def __init__(self, name: str):
        self.name, self.open, self.live = name, True, True


class SharedConnection:
    """One driver connection of the stack's engine, inside an outer transaction."""

    def __init__(self, engine: sa.Engine, url: str):
        self.url = url
        self._fairy = engine.raw_connection()
        self.dbapi = self._fairy.driver_connection
        self.sqlite = engine.dialect.name == "sqlite"
        self.lock = threading.RLock()
        self._stack: list[_Savepoint] = []
        self._names = itertools.count()
        self._threads: set[int] = set()
        self.statements = 0  # run by the code under test (conftest's no_storage check)
        if self.sqlite:
            # The sqlite3 module's own implicit transactions would commit behind our back.
            self._saved_isolation = self.dbapi.isolation_level
            self.dbapi.isolation_level = None
            self.execute("BEGIN")
        # psycopg opens the outer transaction with the first statement (autocommit is off).

    def execute(self, sql: str) -> None:
        cursor = self.dbapi.cursor()
        try:
            cursor.execute(sql)
        finally:
            cursor.close()

    @property
    def threads(self) -> int:
        """How many threads ran statements on the connection."""
        return len(self._threads)

    def savepoint(self) -> _Savepoint:
        self._threads.add(threading.get_ident())
        point = _Savepoint(f"scanapp_test_{next(self._names)}")
        self.execute(f"SAVEPOINT {point.name}")
        self._stack.append(point)
        return point

    def forget(self, point: _Savepoint) -> None:
        """The owner is done with ``point`` (committed or rolled back): release the
        savepoints on top of the stack that nobody holds any more."""
        point.open = False
        keep = len(self._stack)
        while keep and not self._stack[keep - 1].open:
            keep -= 1
        if keep < len(self._stack):
            self.execute(f"RELEASE SAVEPOINT {self._stack[keep].name}")
            for gone in self._stack[keep:]:
                gone.live = False
            del self._stack[keep:]

    def rollback_to(self, point: _Savepoint) -> None:
        if not point.live:
            return  # an earlier savepoint was rolled back to: this work is already undone
        index = next(i for i, p in enumerate(self._stack) if p is point)
        self.execute(f"ROLLBACK TO SAVEPOINT {point.name}")
        for gone in self._stack[index + 1:]:
            gone.live = False
        del self._stack[index + 1:]

    def checkout(self) -> TestConnection:
        return TestConnection(self)

    def end(self) -> None:
        """Roll everything back and hand the driver connection back to its pool."""
        with self.lock:
            try:
                if self.sqlite:
                    self.execute("ROLLBACK")
                    self.dbapi.isolation_level = self._saved_isolation
                else:
                    self.dbapi.rollback()
            finally:
                self._fairy.close()


class TestConnection:
    """What an engine checkout gets: the shared driver connection, with its own savepoint."""

    __test__ = False  # not a pytest test class
    _own = frozenset({"_shared", "_point", "_dirty"})

    def __init__(self, shared: SharedConnection):
        object.__setattr__(self, "_shared", shared)
        object.__setattr__(self, "_point", None)
        object.__setattr__(self, "_dirty", False)

    def __getattr__(self, name):
        return getattr(self._shared.dbapi, name)

    def __setattr__(self, name, value):
        if name in self._own:
            object.__setattr__(self, name, value)
        else:
            setattr(self._shared.dbapi, name, value)

    def cursor(self, *args, **kwargs):
        return _Cursor(self, self._shared.dbapi.cursor(*args, **kwargs))

    def before(self, statement) -> None:
        if self._point is None or not self._point.live:
            self._point = self._shared.savepoint()
        if not str(statement).lstrip().upper().startswith(_READS):
            self._dirty = True

    def failed(self) -> None:
        self._dirty = True  # PostgreSQL needs the rollback to leave the aborted state

    def commit(self) -> None:
        with self._shared.lock:
            if self._point is not None:
                self._shared.forget(self._point)
            self._point, self._dirty = None, False

    def rollback(self) -> None:
        with self._shared.lock:
            if self._point is not None:
                if self._dirty:
                    self._shared.rollback_to(self._point)
                self._shared.forget(self._point)
            self._point, self._dirty = None, False

    def close(self) -> None:
        self.rollback()  # closing a connection drops what it did not commit


class _Cursor:
    __slots__ = ("_conn", "_cursor")

    def __init__(self, conn: TestConnection, cursor):
        self._conn, self._cursor = conn, cursor

    def __getattr__(self, name):
        return getattr(self._cursor, name)

    def __iter__(self):
        return iter(self._cursor)

    def _run(self, method, statement, *args, **kwargs):
        with self._conn._shared.lock:
            self._conn._shared.statements += 1
            self._conn.before(statement)
            try:
                return method(statement, *args, **kwargs)
            except Exception:
                self._conn.failed()
                raise

    def execute(self, statement, *args, **kwargs):
        return self._run(self._cursor.execute, statement, *args, **kwargs)

    def executemany(self, statement, *args, **kwargs):
        return self._run(self._cursor.executemany, statement, *args, **kwargs)


def engine_factory(shared: SharedConnection, original):
    """A stand-in for scanapp.db.make_engine: the stack's URL gets a pool-less engine over
    the shared connection; any other URL (a test's own database) a normal one."""
    url = shared.url

    def make_engine(database_url: str, schema: str | None = None, pool_size: int = 10):
        if database_url != url:
            return original(database_url, schema, pool_size)
        # psycopg's hstore lookup wants its own Connection class; scanapp uses no hstore.
        extra = {} if shared.sqlite else {"use_native_hstore": False}
        return sa.create_engine(database_url, poolclass=NullPool, creator=shared.checkout,
                                **extra)

    return make_engine
