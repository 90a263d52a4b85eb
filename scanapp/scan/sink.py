"""Durable scan events: a scan is acknowledged only after its row is committed.

- ``DirectSink``: one INSERT + COMMIT per scan. The embedded default (SQLite serialises
  writers anyway) and the simplest thing that is obviously durable.
- ``GroupCommitSink``: production on PostgreSQL. A background thread per process owns one
  connection; request threads hand it their row and wait on a future. The thread takes
  everything queued (up to ``max_batch``), inserts it in one statement and commits once, then
  resolves each future with its row id. Concurrent scans thus share one commit (and its
  fsync) instead of paying one each, which is what lets the scan path approach the
  framework's own throughput with every acknowledged scan on disk. A failed commit fails
  every request of that batch (503): nothing is acknowledged that is not stored.

On PostgreSQL the batch goes in as one fixed statement, ``INSERT ... SELECT FROM
json_to_recordset(<the batch as one JSON text>)``: the same SQL text for every batch size,
so psycopg parses it once and prepares it on the server (a multi-row ``VALUES`` list would
be a new statement for every batch size). One JSON text, encoded by the json module's C
encoder, replaced one array parameter per column: psycopg adapted each of those arrays
element by element in Python, which was most of the committer thread's CPU.

Both sinks fold the rows into their codes' summaries (summary.py, ``scan_code_summaries``)
in the same transaction, so a code's state never has to be read back from its history.

The committer is a ``scanapp.background.BackgroundThread``: started by the first scan (after
gunicorn forks), stopped with the app's other threads, its queue drained before it exits.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from sqlalchemy import insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from ..background import BackgroundThread
from ..errors import Unavailable
from . import summary
from .models import PinCheck, ScanEvent

log = logging.getLogger(__name__)

WAIT_S = 10.0
# Built once: ids come back in the order of the rows, so each future gets its own id.
_BATCH_INSERT = insert(ScanEvent).returning(ScanEvent.id, sort_by_parameter_order=True)
_INSERT = insert(ScanEvent).returning(ScanEvent.id)

# (column, PostgreSQL array type) in the order of the unnest arguments.
_PG_COLUMNS = (
    ("scanned_at", "timestamptz"), ("serial", "text"), ("gtin", "text"), ("lot", "text"),
    ("range_id", "int4"), ("verdict", "text"), ("reasons", "json"), ("risk", "int2"),
    ("scan_no", "int4"), ("province", "text"), ("lat", "float8"), ("lon", "float8"),
    ("accuracy_m", "float8"), ("cell", "text"), ("device_hash", "text"),
    ("client_hash", "text"), ("source", "text"), ("degraded", "bool"))
_NAMES = tuple(name for name, _type in _PG_COLUMNS)
_PG_NAMES = ", ".join(_NAMES)
# ORDER BY the ordinality: the id sequence is drawn in that order, so the i-th smallest id
# returned belongs to the i-th row (RETURNING itself promises no order).
_PG_BATCH_INSERT = (
    f"INSERT INTO scan_events ({_PG_NAMES}) SELECT {_PG_NAMES} FROM ROWS FROM ("
    "json_to_recordset(%s::json) AS ("
    + ", ".join(f"{name} {kind}" for name, kind in _PG_COLUMNS)
    + f")) WITH ORDINALITY AS t({_PG_NAMES}, ord) ORDER BY ord RETURNING id")
_DEFAULTS = {"reasons": [], "risk": 0, "source": "consumer", "degraded": False}


def _pg_batch(rows: list[dict]) -> tuple[str]:
    """The rows as one JSON array of objects; what SQLAlchemy's column types would do on the
    way in. Non-finite floats are refused (JSON has none; the schemas never let one in)."""
    records = []
    for row in rows:
        record = {name: row.get(name, _DEFAULTS.get(name)) for name in _NAMES}
        record["scanned_at"] = _utc(record["scanned_at"]).isoformat()
        records.append(record)
    return (json.dumps(records, allow_nan=False),)


def _utc(value: dt.datetime | None) -> dt.datetime:
    if value is None:
        return dt.datetime.now(dt.UTC)
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value


class DirectSink:
    def __init__(self, engine: Engine, before_commit=None):
        self._engine = engine
        # Called with the rows after they are inserted, before the commit (the Redis
        # store's membership filter: RedisScanStateStore.note_stored says why then).
        self._before_commit = before_commit or (lambda rows: None)

    def record(self, row: dict) -> int:
        with self._engine.begin() as conn:
            row_id = conn.execute(_INSERT, row).scalar_one()
            summary.apply_scans(conn, [row])
            self._before_commit([row])
            return row_id

    def record_pin(self, row: dict) -> None:
        with self._engine.begin() as conn:
            conn.execute(insert(PinCheck), row)
            summary.apply_pin(conn, row)
            self._before_commit([row])

    def close(self) -> None:
        return None


class GroupCommitSink(DirectSink, BackgroundThread):
    name = "scan-group-commit"

    def __init__(self, engine: Engine, max_batch: int = 500, before_commit=None):
        DirectSink.__init__(self, engine, before_commit)
        BackgroundThread.__init__(self)
        self._max_batch = max_batch
        self._postgresql = engine.dialect.name == "postgresql"
        self._conn: Connection | None = None  # owned by the committer thread
        self._queue: queue.SimpleQueue = queue.SimpleQueue()

    def record(self, row: dict) -> int:
        future: Future = Future()
        if not self.start():
            raise Unavailable("the service is shutting down", code="shutting_down")
        self._queue.put((row, future))
        try:
            return future.result(timeout=WAIT_S)
        except FutureTimeout:
            raise Unavailable("the scan could not be stored in time; please scan again",
                              code="scan_not_stored") from None

    def signal_stop(self) -> None:
        self._queue.put(None)  # after everything already queued: the queue drains

    def run(self) -> None:
        try:
            self._loop()
        finally:
            self._drop_connection()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < self._max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._commit(batch)
                    return
                batch.append(nxt)
            self._commit(batch)

    def _commit(self, batch: list) -> None:
        rows = [row for row, _f in batch]
        try:
            ids = self._insert(rows)
        except Exception as exc:  # every waiting request learns its scan was not stored
            self._drop_connection()
            log.error("group commit of %d scans failed: %s", len(batch), type(exc).__name__)
            for _row, future in batch:
                future.set_exception(exc)
            return
        for (_row, future), row_id in zip(batch, ids, strict=True):
            future.set_result(row_id)

    def _insert(self, rows: list[dict]) -> list[int]:
        """Insert and commit on the thread's own connection, kept between batches: a pool
        checkout per batch cost a pre-ping round trip to PostgreSQL each time. A connection
        found dead by the INSERT (PostgreSQL restarted) is replaced once and the batch sent
        again: nothing was committed on it. A failed COMMIT is not retried (it may have
        committed); its batch fails as a whole."""
        for attempt in (1, 2):
            conn = self._connection()
            trans = conn.begin()
            try:
                if self._postgresql:
                    ids = sorted(conn.exec_driver_sql(_PG_BATCH_INSERT,
                                                      _pg_batch(rows)).scalars())
                else:
                    ids = list(conn.execute(_BATCH_INSERT, rows).scalars())
                # The codes' summaries, in the same transaction: as durable as the rows.
                summary.apply_scans(conn, rows)
                self._before_commit(rows)
            except DBAPIError as exc:
                self._drop_connection()
                if attempt == 1 and exc.connection_invalidated:
                    continue
                raise
            except Exception:
                self._drop_connection()
                raise
            trans.commit()
            return ids
        raise AssertionError("unreachable")

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self._engine.connect()
        return self._conn

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - already broken; the pool discards it
                log.debug("closing a failed group-commit connection failed", exc_info=True)

    def close(self) -> None:
        self.stop()
