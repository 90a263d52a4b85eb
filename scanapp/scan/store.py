"""Per-code scan state behind one interface, and its database implementation.

``ScanStateStore.observe`` is the heart of counting: given a scan of a genuine code it says
whether it is a page reload by the same device inside the reload window (not a new scan),
and returns the code's ``CodeHistory`` including this scan (count, distinct devices, first
scan, recent places, PIN claims). The caller then writes the scan event.

Two implementations share the contract tests in tests/scan/test_store_contract.py:
- ``RedisScanStateStore`` (redis_store.py): one Lua script call per scan; the hot path.
- ``SqlScanStateStore`` (here): reads the same answer from the code's summary row
  (``scan_code_summaries``, summary.py), which the scan sink keeps in the transaction of
  the scan rows. It serves the embedded default and the degraded path when Redis fails;
  Redis loads a code from the same row, so there is exactly one definition of "the state
  of a code". One primary-key read, whatever the code's history or the table's size.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from ..risk.facts import MAX_SCANS_PER_NETWORK, CodeHistory, ScanPlace
from . import summary
from .models import PinCheck
from .summary import COUNTERFEIT, RECENT_CAP, network_key

__all__ = ["COUNTERFEIT", "RECENT_CAP", "network_key", "Observation", "ScanStateStore",
           "SqlScanStateStore", "load_history", "pin_counts"]


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
    def note_pin(self, serial: str, ok: bool, claimer: tuple[str, str] | None = None
                 ) -> CodeHistory:
        """Count a PIN check and return the history including it. Called *before* the
        check's ``scan_pin_checks`` row is written (inside ``serialised()``), as ``observe``
        is before the scan's row: a rebuild from the rows must never see it twice.
        ``claimer`` is ``(device hash, network hash or "")`` of a successful claim."""

    def serialised(self):
        """Held from ``observe`` until the scan event is written (see SqlScanStateStore)."""
        return contextlib.nullcontext()


def _utc(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes through plain Core selects; keep them aware.
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def load_history(conn: Connection, serial: str
                 ) -> tuple[CodeHistory, dict[str, dt.datetime], dict[str, int]]:
    """The code's state from its summary row (one primary-key read, however long its
    history), plus each device's last counted scan time and each network's counted scans."""
    return summary.history_of(summary.load_one(conn, serial))


def pin_counts(conn: Connection, serial: str) -> tuple[int, int]:
    state = summary.load_one(conn, serial)
    return state["pin_claims"], state["pin_failures"]


def with_new_scan(history: CodeHistory, place: ScanPlace, new_device: bool,
                  network_share: int | None) -> CodeHistory:
    """The history after one more counted scan at ``place`` (``recent`` excludes it);
    ``network_share`` is its network's counted scans before it (None: no network)."""
    return dataclasses.replace(
        history, scan_count=history.scan_count + 1,
        device_count=history.device_count + (1 if new_device else 0),
        first_scan=history.first_scan or place,
        recent=history.recent[:RECENT_CAP],
        network_count=(history.network_count or 0) + (1 if network_share == 0 else 0),
        capped_scan_count=(history.capped_scan_count or 0) + (
            1 if network_share is None or network_share < MAX_SCANS_PER_NETWORK else 0))


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
            history, last_seen, shares = load_history(conn, serial)
        device = place.device_hash
        if device and is_reload(last_seen.get(device), place.at, window_s):
            recent = _without_newest_of(history.recent, device)
            return Observation(dataclasses.replace(history, recent=recent), is_repeat=True,
                               degraded=self.degraded)
        new_device = bool(device) and device not in last_seen
        key = network_key(place.network, device)
        share = None if key is None else shares.get(key, 0)
        return Observation(with_new_scan(history, place, new_device, share), is_repeat=False,
                           degraded=self.degraded)

    def history(self, serial: str) -> CodeHistory:
        with self._engine.connect() as conn:
            return load_history(conn, serial)[0]

    def note_pin(self, serial: str, ok: bool, claimer: tuple[str, str] | None = None
                 ) -> CodeHistory:
        history = self.history(serial)  # the rows so far; this check's row comes next
        claimers = history.pin_claimers
        if ok and claimer and claimer not in claimers:
            claimers = tuple(sorted((*claimers, claimer)))
        return dataclasses.replace(history, pin_claims=history.pin_claims + (1 if ok else 0),
                                   pin_failures=history.pin_failures + (0 if ok else 1),
                                   pin_claimers=claimers)

    def pin_failures_since(self, serial: str, since: dt.datetime,
                           limit: int) -> list[dt.datetime]:
        """Times of the code's latest wrong PINs after ``since``, newest first, at most
        ``limit`` (the per-code lockout; one indexed read, PIN checks are rare)."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(PinCheck.checked_at)
                .where(PinCheck.serial == serial, PinCheck.ok.is_(False),
                       PinCheck.checked_at > since)
                .order_by(PinCheck.checked_at.desc()).limit(limit)).scalars().all()
        return [_utc(t) for t in rows]
