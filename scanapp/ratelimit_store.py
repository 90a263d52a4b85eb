"""A rate-limit storage in one SQLite file: the counting place of the embedded stack.

Without Redis, Flask-Limiter's default (``memory://``) keeps counters per process, so each
gunicorn worker allowed the full limit: 227 of 260 scans went through against 120/minute
with two workers (issue 15, item 12). This storage (``scanapp+sqlite:///<path>``) keeps
them in one file in the instance folder, so every process of the machine counts in the
same place; each increment is one short write transaction (``BEGIN IMMEDIATE``, WAL
journal). It serves the fixed-window strategy Flask-Limiter uses here. Several machines
without Redis would each count alone: production runs Redis (README, "Production").
"""

from __future__ import annotations

import sqlite3
import threading
import time

from limits.storage import Storage


class SqliteFileStorage(Storage):
    STORAGE_SCHEME = ["scanapp+sqlite"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False,
                 key_prefix: str = "", **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._path = (uri or "").split("://", 1)[1] or ":memory:"
        self._prefix = f"{key_prefix}:" if key_prefix else ""
        self._local = threading.local()
        with self._connection() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS counters ("
                         "key TEXT PRIMARY KEY, value INTEGER NOT NULL, expires REAL NOT NULL)")

    @property
    def base_exceptions(self):
        return sqlite3.Error

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # One connection per thread (sqlite3 connections are not shared across threads).
            conn = sqlite3.connect(self._path, timeout=5, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # counters survive a crash, mostly
            self._local.conn = conn
        return conn

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        key, now = self._prefix + key, time.time()
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT value, expires FROM counters WHERE key = ?",
                               (key,)).fetchone()
            if row is None or row[1] <= now:
                value, expires = amount, now + expiry
            else:
                value, expires = row[0] + amount, row[1]
            conn.execute("INSERT OR REPLACE INTO counters (key, value, expires) VALUES (?, ?, ?)",
                         (key, value, expires))
            if value == amount:
                # A new window: drop other finished windows now and then, in the same write.
                conn.execute("DELETE FROM counters WHERE expires <= ? AND key IN "
                             "(SELECT key FROM counters WHERE expires <= ? LIMIT 100)",
                             (now, now))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return value

    def get(self, key: str) -> int:
        row = self._connection().execute(
            "SELECT value FROM counters WHERE key = ? AND expires > ?",
            (self._prefix + key, time.time())).fetchone()
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        now = time.time()
        row = self._connection().execute(
            "SELECT expires FROM counters WHERE key = ? AND expires > ?",
            (self._prefix + key, now)).fetchone()
        return row[0] if row else now

    def check(self) -> bool:
        try:
            self._connection().execute("SELECT 1")
            return True
        except sqlite3.Error:
            return False

    def reset(self) -> int | None:
        cursor = self._connection().execute("DELETE FROM counters WHERE key LIKE ?",
                                            (self._prefix + "%",))
        return cursor.rowcount

    def clear(self, key: str) -> None:
        self._connection().execute("DELETE FROM counters WHERE key = ?", (self._prefix + key,))
