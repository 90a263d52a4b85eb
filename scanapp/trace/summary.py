"""The scan answer's trace summary, from an in-process cache.

A scan must not read PostgreSQL for it. Each worker keeps the summaries it has built, keyed
by (GTIN, lot). Every change a consumer could see (capture, recall, a certificate, a lot
edit) bumps the one-row ``trace_state`` version in its own transaction; each worker polls
that version at most every ``POLL_SECONDS`` (one indexed primary-key read per second per
worker, not per scan) and drops its cache when it moved. A cold (GTIN, lot) costs one build;
entries also expire after ``TTL_SECONDS`` so a certificate that runs out at midnight stops
being shown as valid without any write.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ..db import get_engine, session_scope
from .models import TraceState
from .public import scan_summary

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
TTL_SECONDS = 600.0
MAX_ENTRIES = 50_000


class SummaryCache:
    def __init__(self, app: Flask):
        self._app = app
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], tuple[float, dict[str, Any] | None]] = {}
        self._version: int | None = None
        self._checked_at = -1e9

    def get(self, gtin14: str, lot: str | None) -> dict[str, Any] | None:
        if not lot:
            return None
        self._maybe_poll()
        now = time.monotonic()
        hit = self._entries.get((gtin14, lot))
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            with session_scope(self._app) as session:
                summary = scan_summary(session, gtin14, lot,
                                       self._app.config["PUBLIC_BASE_URL"])
        except SQLAlchemyError as exc:
            # The scan answer must not fail for want of its origin story.
            log.warning("trace summary unavailable (%s)", type(exc).__name__)
            return hit[1] if hit else None
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries = {}
            self._entries[(gtin14, lot)] = (now + TTL_SECONDS, summary)
        return summary

    def invalidate(self) -> None:
        """Drop everything now (this worker just changed trace data)."""
        with self._lock:
            self._entries = {}
            self._checked_at = -1e9

    def _maybe_poll(self) -> None:
        if time.monotonic() - self._checked_at < POLL_SECONDS:
            return
        if not self._lock.acquire(blocking=False):
            return  # another thread polls; serve what we have
        try:
            if time.monotonic() - self._checked_at < POLL_SECONDS:
                return
            with get_engine(self._app).connect() as conn:
                version = conn.scalar(select(TraceState.version).where(TraceState.id == 1))
            if version != self._version:
                self._entries = {}
                self._version = version
        except SQLAlchemyError as exc:
            log.warning("trace version not polled (%s)", type(exc).__name__)
        finally:
            self._checked_at = time.monotonic()
            self._lock.release()


def get_cache(app: Flask) -> SummaryCache | None:
    return app.extensions.get("scanapp.trace.summary")
