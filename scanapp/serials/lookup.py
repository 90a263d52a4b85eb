"""From a sequence number to its range, in process.

Each app keeps a sorted index of ranges by ``start_seq`` (binary search, O(log ranges))
plus the override intervals of the ranges that have any. It never holds anything per
code. Freshness:

- a sequence number past every known range (a range issued a moment ago, maybe by another
  worker) costs one indexed database query, and the range found joins the index;
- at most every ``REFRESH_SECONDS`` one query fetches the ranges whose ``updated_at``
  moved (status changes, new overrides), through the index on that column. It looks back
  ``OVERLAP`` before the newest change it has seen, so a transaction that committed late
  with an older timestamp (or a worker with a slightly slow clock) is still picked up.
"""

from __future__ import annotations

import bisect
import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ..concurrency import cooperate
from ..db import get_engine
from ..services import services
from .lifecycle import effective_status
from .models import SerialOverride, SerialRange

log = logging.getLogger(__name__)

REFRESH_SECONDS = 1.0
OVERLAP = dt.timedelta(seconds=30)


@dataclass(frozen=True)
class RangeInfo:
    id: int
    product_id: int
    gtin: str
    lot: str | None
    expiry: dt.date | None
    start_seq: int
    quantity: int
    status: str
    market_regions: tuple[str, ...]
    pin_enabled: bool
    brand_org_id: int
    printer_org_id: int | None
    # The key that signed the range's serials (a genuine serial of this range names it).
    key_id: int = 0

    @property
    def end_seq(self) -> int:
        return self.start_seq + self.quantity

    def covers(self, seq: int) -> bool:
        return self.start_seq <= seq < self.start_seq + self.quantity


_COLUMNS = (SerialRange.id, SerialRange.product_id, SerialRange.gtin, SerialRange.lot,
            SerialRange.expiry, SerialRange.start_seq, SerialRange.quantity,
            SerialRange.status, SerialRange.market_regions, SerialRange.pin_enabled,
            SerialRange.brand_org_id, SerialRange.printer_org_id, SerialRange.key_id,
            SerialRange.updated_at)


def _info(row) -> RangeInfo:
    return RangeInfo(id=row.id, product_id=row.product_id, gtin=row.gtin, lot=row.lot,
                     expiry=row.expiry, start_seq=row.start_seq, quantity=row.quantity,
                     status=row.status, market_regions=tuple(row.market_regions or ()),
                     pin_enabled=bool(row.pin_enabled), brand_org_id=row.brand_org_id,
                     printer_org_id=row.printer_org_id, key_id=row.key_id)


class RangeIndex:
    def __init__(self, app: Flask):
        self._app = app
        self._lock = threading.Lock()
        self._starts: list[int] = []
        self._infos: list[RangeInfo] = []
        self._by_id: dict[int, RangeInfo] = {}
        # range id -> ((start, end, status), ...) in creation order
        self._overrides: dict[int, tuple[tuple[int, int, str], ...]] = {}
        self._watermark: dt.datetime | None = None
        self._checked_at = -1e9
        self._loaded = False

    # -- reads --------------------------------------------------------------------------
    def find(self, seq: int) -> RangeInfo | None:
        self._maybe_refresh()
        info = self._search(seq)
        if info is None:
            info = self._fetch_one(seq)
        return info

    def _search(self, seq: int) -> RangeInfo | None:
        starts, infos = self._starts, self._infos  # one consistent snapshot
        i = bisect.bisect_right(starts, seq) - 1
        if i >= 0 and infos[i].covers(seq):
            return infos[i]
        return None

    def status(self, info: RangeInfo, seq: int) -> str:
        self._maybe_refresh()
        current = self._by_id.get(info.id, info)
        overrides = self._overrides.get(info.id, ())
        return effective_status(current.status, (status for start, end, status in overrides
                                                 if start <= seq < end))

    def get(self, range_id: int) -> RangeInfo | None:
        self._maybe_refresh()
        return self._by_id.get(range_id)

    # -- refresh ------------------------------------------------------------------------
    def invalidate(self) -> None:
        """Make the next read look for changes (called after a local transition)."""
        self._checked_at = -1e9

    def _maybe_refresh(self) -> None:
        if time.monotonic() - self._checked_at < REFRESH_SECONDS:
            return
        if not self._lock.acquire(blocking=not self._loaded):
            return  # another thread is refreshing; serve from the current snapshot
        try:
            if time.monotonic() - self._checked_at < REFRESH_SECONDS:
                return
            self._refresh()
        except SQLAlchemyError as exc:
            if not self._loaded:
                raise
            log.warning("range index not refreshed (%s); serving the cached one",
                        type(exc).__name__)
        finally:
            self._checked_at = time.monotonic()
            self._lock.release()

    def _refresh(self) -> None:
        query = select(*_COLUMNS)
        if self._watermark is not None:
            query = query.where(SerialRange.updated_at > self._watermark - OVERLAP)
        with get_engine(self._app).connect() as conn:
            rows = conn.execute(query).all()
            ids = [row.id for row in rows]
            overrides = self._read_overrides(conn, ids) if ids else {}
        self._merge(rows, overrides)
        self._loaded = True

    @staticmethod
    def _read_overrides(conn, ids: list[int]) -> dict[int, list[tuple[int, int, str]]]:
        found: dict[int, list[tuple[int, int, str]]] = {}
        for chunk in range(0, len(ids), 500):
            part = ids[chunk:chunk + 500]
            for row in conn.execute(
                    select(SerialOverride.range_id, SerialOverride.start_seq,
                           SerialOverride.end_seq, SerialOverride.status)
                    .where(SerialOverride.range_id.in_(part))
                    .order_by(SerialOverride.id)):
                found.setdefault(row.range_id, []).append(
                    (row.start_seq, row.end_seq, row.status))
        return found

    def _merge(self, rows, overrides) -> None:
        if not rows:
            return
        starts, infos = list(self._starts), list(self._infos)
        by_id = dict(self._by_id)
        all_overrides = dict(self._overrides)
        for n, row in enumerate(rows, 1):
            if n % 1000 == 0:
                # A worker's first load reads every range (100,000 at national scale): under
                # gevent, yield now and then so the worker's other requests are not stalled.
                cooperate()
            info = _info(row)
            if info.id in by_id:
                i = bisect.bisect_left(starts, info.start_seq)
                infos[i] = info
            else:
                i = bisect.bisect_left(starts, info.start_seq)
                starts.insert(i, info.start_seq)
                infos.insert(i, info)
            by_id[info.id] = info
            if info.id in overrides:
                all_overrides[info.id] = tuple(overrides[info.id])
            else:
                all_overrides.pop(info.id, None)
            if self._watermark is None or row.updated_at > self._watermark:
                self._watermark = row.updated_at
        # Swap whole objects: readers never see a half-updated index.
        self._overrides = all_overrides
        self._by_id = by_id
        self._starts, self._infos = starts, infos

    def _fetch_one(self, seq: int) -> RangeInfo | None:
        with get_engine(self._app).connect() as conn:
            row = conn.execute(select(*_COLUMNS).where(SerialRange.start_seq <= seq)
                               .order_by(SerialRange.start_seq.desc()).limit(1)).first()
            if row is None or not row.start_seq <= seq < row.start_seq + row.quantity:
                return None
            overrides = self._read_overrides(conn, [row.id])
        with self._lock:
            watermark = self._watermark
            self._merge([row], overrides)
            # A range fetched on its own says nothing about other ranges' changes.
            self._watermark = watermark
        return self._by_id.get(row.id)


def find_range(seq: int, app: Flask | None = None) -> RangeInfo | None:
    """The range holding sequence number ``seq``, or None."""
    return services(app).ranges.find(seq)


def code_status(info: RangeInfo, seq: int, app: Flask | None = None) -> str:
    """``issued`` | ``printed`` | ``activated`` | ``voided`` | ``recalled`` for one code,
    honouring sub-range and single-serial overrides."""
    return services(app).ranges.status(info, seq)
