"""The worker process: ``flask --app scanapp worker`` runs the outbox relays.

Web workers answer requests; everything that talks to the outside world afterwards runs
here, in one process of its own, on the polling-worker base (scanapp/background.py):

- ``WebhookRelay`` (fraud/webhooks.py): brand webhooks from ``webhook_outbox``;
- ``EpcisPusher`` (epcis/exporter.py): the closed days' scan counts, then the EPCIS
  outbox, to the portal's capture endpoint (idle while no capture URL is configured);
- ``PortalPusher`` (trace/portal.py): each changed lot's Circular 02/2024 document to the
  National Traceability Portal (idle while no ``TRACE_PORTAL_URL`` is configured).

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

import signal
import threading

import click
from flask import Flask, current_app

from .background import JOIN_BUDGET_S, PollingWorker, stop_all
from .services import services
from .trace.portal import PortalPusher


class Worker:
    """The relays of one app, started and stopped together."""

    def __init__(self, app: Flask):
        found = services(app)
        # The portal pusher last: with --once a failed push ends the command (exit 1) after
        # the other relays have had their pass.
        self.relays: list[PollingWorker] = [found.webhook_relay, found.epcis_pusher,
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
    """Run the outbox relays (webhooks, EPCIS push, daily scan counts) until SIGTERM/Ctrl-C."""
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
