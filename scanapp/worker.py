"""The worker process: ``flask --app scanapp worker`` runs the outbox relays.

Web workers answer requests; everything that talks to the outside world afterwards runs
here, in one process of its own, on the polling-worker base (scanapp/background.py):

- ``WebhookRelay`` (fraud/webhooks.py): brand webhooks from ``webhook_outbox``;
- ``EpcisPusher`` (epcis/exporter.py): the closed days' scan counts, then the EPCIS
  outbox, to the portal's capture endpoint (idle while no capture URL is configured);
- ``PortalPusher`` (trace/portal.py): each changed lot's Circular 02/2024 document to the
  National Traceability Portal (idle while no ``TRACE_PORTAL_URL`` is configured);
- ``PartitionKeeper`` (here, scan/partitions.py): every hour, the monthly ``scan_events``
  partitions ahead (``SCAN_PARTITIONS_AHEAD``) and the retention policy
  (``SCAN_RETENTION_MONTHS``): a month past it is dropped once its days' scan counts are
  aggregated (PostgreSQL only; nothing to do on SQLite);
- ``FilterKeeper`` (here, scan/membership.py): every 10 s, the Redis buckets whose
  membership filter is not complete (a fresh deployment, a flush, a lost key) are filled
  from ``scan_code_summaries`` and marked complete; until then their codes' first scans
  read their summaries, as they did before the filters.

Both claim rows with a lease, so a second worker process (a rolling deploy) sends nothing
twice, and both start with whatever earlier processes left in their outboxes. The group
committer and the flag writer stay in the web process: a scan's answer waits on the first,
and the second needs the scan's in-memory facts.

Why no task library (Celery, RQ, dramatiq): each needs a broker, and the embedded default
has none (SQLite, no Redis); the work is already durable in outbox tables that the
database commits together with the change that caused it, which a broker message sent
after the commit would not be. Polling an indexed outbox every second costs one query.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading

import click
from flask import Flask, current_app

from .background import JOIN_BUDGET_S, PollingWorker, stop_all
from .db import get_engine, session_scope, utcnow
from .epcis import mapping as epcis_mapping
from .epcis.recorder import aggregate_scans
from .scan import membership, partitions
from .scan.redis_store import RedisScanStateStore
from .services import services
from .trace.portal import PortalPusher

log = logging.getLogger(__name__)


def keep_partitions(app: Flask, now: dt.datetime | None = None
                    ) -> tuple[list[str], list[str]]:
    """Create the monthly scan_events partitions ahead and apply the retention policy.
    Returns (created, dropped) partition names. A month is dropped only after every
    (Vietnam-local) day it holds has its daily scan counts (epcis/recorder.py): the
    aggregates outlive the raw scans."""
    now = now or utcnow()
    engine = get_engine(app)
    with engine.begin() as conn:
        created = partitions.ensure_partitions(conn, now, app.config["SCAN_PARTITIONS_AHEAD"])
        expired = partitions.expired_partitions(conn, now, app.config["SCAN_RETENTION_MONTHS"])
    dropped = []
    for month in expired:
        start = dt.datetime.combine(month, dt.time(), dt.UTC)
        end = dt.datetime.combine(partitions.add_months(month, 1), dt.time(), dt.UTC)
        day = start.astimezone(epcis_mapping.VN_TZ).date()
        last = (end - dt.timedelta(seconds=1)).astimezone(epcis_mapping.VN_TZ).date()
        with session_scope(app) as session:
            while day <= last:
                aggregate_scans(session, now=now, day=day, app=app)
                day += dt.timedelta(days=1)
        with engine.begin() as conn:
            partitions.drop_partition(conn, month)
        dropped.append(partitions.partition_name(month))
    return created, dropped


class PartitionKeeper(PollingWorker):
    name = "scan-partitions"

    def __init__(self, app: Flask):
        super().__init__()
        self.app = app

    def interval(self) -> float:
        return 3600.0

    def run_once(self) -> bool:
        keep_partitions(self.app)
        return False


def rebuild_filters(app: Flask) -> dict | None:
    """Fill and complete the Redis membership filters that are not complete (none without
    Redis or with ``SCAN_FILTER_BITS = 0``). Returns membership.rebuild's figures."""
    store = services(app).scan.store
    if not isinstance(store, RedisScanStateStore) or not store.filter_bits:
        return None
    result = membership.rebuild(get_engine(app), store)
    if result["buckets"]:
        log.info("membership filters: %(completed)d of %(buckets)d buckets completed from "
                 "%(summaries)d summaries in %(seconds).1f s", result)
    return result


class FilterKeeper(PollingWorker):
    name = "scan-filters"

    def __init__(self, app: Flask):
        super().__init__()
        self.app = app

    def interval(self) -> float:
        # How long after a flush first scans read summaries again before the rebuild
        # starts; checking costs one pipelined GETBIT per bucket.
        return 10.0

    def run_once(self) -> bool:
        result = rebuild_filters(self.app)
        # Some buckets left incomplete (writers still running, a flush in between): again.
        return bool(result and result["completed"] < result["buckets"])


class Worker:
    """The relays of one app, started and stopped together."""

    def __init__(self, app: Flask):
        found = services(app)
        # The portal pusher last: with --once a failed push ends the command (exit 1) after
        # the other relays have had their pass.
        self.relays: list[PollingWorker] = [found.webhook_relay, found.epcis_pusher,
                                            PartitionKeeper(app), FilterKeeper(app),
                                            PortalPusher(app)]

    def start(self) -> None:
        for relay in self.relays:
            relay.start()

    def wake(self) -> None:
        for relay in self.relays:
            relay.wake()

    def stop(self, budget: float = JOIN_BUDGET_S) -> None:
        stop_all(self.relays, budget)


@click.command("worker")
@click.option("--once", is_flag=True, help="one pass of each relay, then exit (cron, tests)")
def worker_command(once: bool) -> None:
    """Run the outbox relays (webhooks, EPCIS push, daily scan counts) and the scan_events
    partition keeper until SIGTERM/Ctrl-C."""
    app = current_app._get_current_object()
    worker = Worker(app)
    if once:
        for relay in worker.relays:
            relay.run_once()
        click.echo("one pass done")
        return
    stop = threading.Event()

    def _stop(*_args) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    worker.start()
    names = ", ".join(relay.name for relay in worker.relays)
    click.echo(f"worker running ({names}); SIGTERM or Ctrl-C stops it")
    stop.wait()
    worker.stop()
    click.echo("worker stopped")


def init_app(app: Flask) -> None:
    app.cli.add_command(worker_command)
