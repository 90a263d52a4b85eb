"""Per-code scan state behind one interface, and its database implementation.

``ScanStateStore.observe`` is the heart of counting: given a scan of a genuine code it says
whether it is a page reload by the same device inside the reload window (not a new scan),
and returns the code's ``CodeHistory`` including this scan (count, distinct devices, first
scan, recent places, PIN claims). The caller then writes the scan event.

Two implementations share the contract tests in tests/scan/test_store_contract.py:
- ``RedisScanStateStore`` (redis_store.py): one Lua script call per scan; the hot path.
- ``SqlScanStateStore`` (here): derives the same answer from ``scan_events`` and
  ``scan_pin_checks``, the system of record. It serves the embedded default, the degraded
  path when Redis fails, and the rebuild of Redis after a flush, so there is exactly one
  definition of "the state of a code". Its cost grows with the scans of that one code
  (index on serial, scanned_at), never with the number of issued codes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from ..fraud.facts import CodeHistory, ScanPlace
from .models import PinCheck, ScanEvent

RECENT_CAP = 20
COUNTERFEIT = "counterfeit"


@dataclass(frozen=True)
class Observation:
    history: CodeHistory  # includes the scan being observed (unless it is a reload)
    is_repeat: bool  # same device inside the reload window: not a new scan
    degraded: bool = False
    # Rate-limit windows counted in the same round trip: (count, ms left) per window asked.
    counts: tuple[tuple[int, int], ...] = ()

    @property
    def scan_no(self) -> int:
        return self.history.scan_count


class ScanStateStore(ABC):
    """Hot per-code state. Implementations must give identical answers (contract tests)."""

    degraded = False

    @abstractmethod
    def observe(self, serial: str, place: ScanPlace, window_s: float) -> Observation:
        """Count a scan of a genuine code (or recognise a reload) and return the history."""

    @abstractmethod
    def history(self, serial: str) -> CodeHistory:
        """The code's current state, counting nothing."""

    @abstractmethod
    def note_pin(self, serial: str, ok: bool) -> CodeHistory:
        """Count a PIN check whose ``scan_pin_checks`` row is already committed."""

    def serialised(self):
        """Held from ``observe`` until the scan event is written (see SqlScanStateStore)."""
        return contextlib.nullcontext()


def _place(row) -> ScanPlace:
    return ScanPlace(at=row.scanned_at, lat=row.lat, lon=row.lon, province=row.province,
                     device_hash=row.device_hash, accuracy_m=row.accuracy_m)


def _utc(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes through plain Core selects of UTCDateTime columns
    # only when the type is lost; keep every timestamp aware.
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def counted_events(serial: str):
    """Scan events that count towards a genuine code's state (forgeries never do)."""
    return (ScanEvent.serial == serial, ScanEvent.verdict != COUNTERFEIT)


def load_history(conn: Connection, serial: str) -> tuple[CodeHistory, dict[str, dt.datetime]]:
    """The code's state from the database, plus each device's last counted scan time."""
    where = counted_events(serial)
    count, devices = conn.execute(
        select(func.count(), func.count(ScanEvent.device_hash.distinct())).where(*where)).one()
    columns = (ScanEvent.scanned_at, ScanEvent.lat, ScanEvent.lon, ScanEvent.province,
               ScanEvent.device_hash, ScanEvent.accuracy_m)
    first = None
    recent: tuple[ScanPlace, ...] = ()
    if count:
        first_row = conn.execute(select(*columns).where(*where)
                                 .order_by(ScanEvent.scanned_at, ScanEvent.id).limit(1)).one()
        first = _place(first_row)
        recent = tuple(_place(r) for r in conn.execute(
            select(*columns).where(*where)
            .order_by(ScanEvent.scanned_at.desc(), ScanEvent.id.desc()).limit(RECENT_CAP)))
    last_seen = dict(conn.execute(
        select(ScanEvent.device_hash, func.max(ScanEvent.scanned_at))
        .where(*where, ScanEvent.device_hash.is_not(None))
        .group_by(ScanEvent.device_hash)).all())
    claims, failures = pin_counts(conn, serial)
    history = CodeHistory(scan_count=count, device_count=devices, first_scan=first,
                          recent=recent, pin_claims=claims, pin_failures=failures)
    return history, {d: _utc(t) for d, t in last_seen.items()}


def pin_counts(conn: Connection, serial: str) -> tuple[int, int]:
    rows = dict(conn.execute(select(PinCheck.ok, func.count()).where(PinCheck.serial == serial)
                             .group_by(PinCheck.ok)).all())
    return rows.get(True, 0), rows.get(False, 0)


def with_new_scan(history: CodeHistory, place: ScanPlace, new_device: bool) -> CodeHistory:
    """The history after one more counted scan at ``place`` (``recent`` excludes it)."""
    return CodeHistory(
        scan_count=history.scan_count + 1,
        device_count=history.device_count + (1 if new_device else 0),
        first_scan=history.first_scan or place,
        recent=history.recent[:RECENT_CAP],
        pin_claims=history.pin_claims, pin_failures=history.pin_failures)


def _without_newest_of(recent: tuple[ScanPlace, ...], device: str) -> tuple[ScanPlace, ...]:
    """``recent`` without the device's newest scan: the one a reload repeats. Other phones
    may have scanned since (a, then b, then a's reload), so it is not always the first."""
    for i, place in enumerate(recent):
        if place.device_hash == device:
            return recent[:i] + recent[i + 1:]
    return recent


def is_reload(last_seen: dt.datetime | None, at: dt.datetime, window_s: float) -> bool:
    return last_seen is not None and (at - last_seen).total_seconds() < window_s


class SqlScanStateStore(ScanStateStore):
    """State computed from the system of record; the embedded default's store.

    Two concurrent scans of one code could both read count N before either writes its
    event; ``serialised()`` hands out a process-wide lock that the scan service holds from
    ``observe`` until the event row is committed, which is exact for the embedded default
    (one process, SQLite writes serialised anyway). Several processes on the degraded path
    may rarely give two scans the same number; the events themselves are all kept.
    """

    def __init__(self, engine: Engine, degraded: bool = False):
        self._engine = engine
        self._lock = threading.Lock()
        self.degraded = degraded

    def serialised(self):
        return self._lock

    def observe(self, serial: str, place: ScanPlace, window_s: float) -> Observation:
        with self._engine.connect() as conn:
            history, last_seen = load_history(conn, serial)
        device = place.device_hash
        if device and is_reload(last_seen.get(device), place.at, window_s):
            recent = _without_newest_of(history.recent, device)
            return Observation(CodeHistory(
                scan_count=history.scan_count, device_count=history.device_count,
                first_scan=history.first_scan, recent=recent, pin_claims=history.pin_claims,
                pin_failures=history.pin_failures), is_repeat=True, degraded=self.degraded)
        new_device = bool(device) and device not in last_seen
        return Observation(with_new_scan(history, place, new_device), is_repeat=False,
                           degraded=self.degraded)

    def history(self, serial: str) -> CodeHistory:
        with self._engine.connect() as conn:
            return load_history(conn, serial)[0]

    def note_pin(self, serial: str, ok: bool) -> CodeHistory:
        return self.history(serial)
