"""Prometheus metrics (prometheus_client), correct across gunicorn's worker processes.

Each app has its own registry (tests build many apps in one process). Under gunicorn,
gunicorn.conf.py points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before the workers
fork; prometheus_client then keeps every worker's values in memory-mapped files there, and
``/metrics`` answers the sum over all workers (``MultiProcessCollector``), whichever worker
the scrape reaches. A worker's files are marked dead when it exits (``child_exit``).

What is measured: scans by verdict, page reloads, degraded answers, Redis errors and bucket
rebuilds, database errors, PIN checks by result, request latency per route (a histogram),
and, read from the database at scrape time, each outbox's depth and the age of its oldest
waiting row.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from .concurrency import offload

COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "scanapp_scans_total": ("Scans answered, by verdict.", ("verdict",)),
    "scanapp_scan_reloads_total": (
        "Page reloads inside the reload window (not counted as scans).", ()),
    "scanapp_scan_degraded_total": ("Scans answered from the database because Redis failed.",
                                    ()),
    "scanapp_redis_errors_total": ("Redis calls of the scan path that failed.", ()),
    "scanapp_redis_bucket_rebuilds_total": (
        "Codes whose Redis state was loaded from their database summary (after a flush, an "
        "idle expiry or an outage).", ()),
    "scanapp_scan_summary_reads_total": (
        "Scans that read their code's summary row because Redis did not hold the code and "
        "its bucket's membership filter could not say it was new (incomplete filter, a "
        "code seen before, a false positive).", ()),
    "scanapp_database_errors_total": (
        "Requests or scan batches that failed because the database was unreachable.", ()),
    "scanapp_pin_checks_total": ("Scratch-off PIN checks, by result.", ("result",)),
}
# A scan answers in milliseconds; admin pages and downloads take longer.
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST

# (outbox name, callable returning (depth, age of the oldest waiting row in seconds or None))
OutboxProbe = Callable[[], Iterable[tuple[str, int, float | None]]]


class Metrics:
    """One app's metrics: ``inc`` on the hot path, ``render`` for ``/metrics``."""

    def __init__(self, multiprocess_dir: str | None = None) -> None:
        # Set (gunicorn.conf.py): values live in files per worker; a scrape sums them.
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry(auto_describe=True)
        self._counters = {
            name: Counter(name, text, labels, registry=self.registry)
            for name, (text, labels) in COUNTERS.items()}
        self.latency = Histogram(
            "scanapp_request_duration_seconds", "Time to answer a request, by route.",
            ("method", "route"), buckets=LATENCY_BUCKETS, registry=self.registry)
        self._outbox_probe: OutboxProbe | None = None

    def inc(self, name: str, **labels: str) -> None:
        counter = self._counters[name]
        (counter.labels(**labels) if labels else counter).inc()

    def value(self, name: str, **labels: str) -> float:
        """This process's count (tests; a scrape sums the processes)."""
        return self.registry.get_sample_value(name, labels) or 0.0

    def observe_request(self, method: str, route: str, started: float) -> None:
        self.latency.labels(method, route).observe(time.perf_counter() - started)

    def _collect(self) -> bytes:
        if self.multiprocess_dir:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=self.multiprocess_dir)
        else:
            registry = self.registry
        return generate_latest(registry)

    def watch_outboxes(self, probe: OutboxProbe) -> None:
        self._outbox_probe = probe

    def render(self) -> bytes:
        # Summing every worker's files is tens of milliseconds of pure Python with many
        # series: off the gevent hub, so a scrape does not stall the worker's scans. The
        # outbox probe reads the database (I/O that yields by itself) on the hub.
        text = offload(self._collect)
        if self._outbox_probe is not None:
            text += generate_latest(_Snapshot(self._outbox_probe))
        return text


class _Snapshot:
    """Collector of the outbox gauges, read from the database at scrape time (the same for
    every worker, so they are not per-process values)."""

    def __init__(self, probe: OutboxProbe):
        self._probe = probe

    def collect(self):
        depth = GaugeMetricFamily("scanapp_outbox_depth", "Rows waiting in an outbox.",
                                  labels=("outbox",))
        age = GaugeMetricFamily("scanapp_outbox_oldest_age_seconds",
                                "Age of the oldest row waiting in an outbox.",
                                labels=("outbox",))
        for name, count, oldest_s in self._probe():
            depth.add_metric((name,), count)
            age.add_metric((name,), oldest_s or 0.0)
        yield depth
        yield age
