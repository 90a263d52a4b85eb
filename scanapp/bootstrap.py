"""The composition root: builds every service of an app once, in ``create_app``.

Read top to bottom, this is the list of what the service is made of. Each object is built
here and nowhere else; the result (``scanapp.services.Services``) is stored on the app and
looked up from there. Event listeners are subscribed here, explicitly, to this app's bus.
"""

from __future__ import annotations

import functools
import logging
import time

from flask import Flask, g, request
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from .background import BackgroundThread
from .db import configure_sessions, session_scope, utcnow
from .epcis.exporter import EpcisPusher
from .epcis.models import EpcisOutbox
from .epcis.recorder import Recorder
from .events import SESSION_KEY, EventBus
from .fraud import flags, webhooks
from .fraud.models import WebhookDelivery
from .metrics import Metrics
from .scan.privacy import Hasher
from .scan.service import build_components
from .serials.codec import SerialCodec
from .serials.lookup import RangeIndex
from .serials.pins import PinDeriver
from .services import EXTENSION_KEY, Services

log = logging.getLogger(__name__)


def init_app(app: Flask) -> Services:
    # The lists that optional packages (trace, authority) add their capture checks and demo
    # steps to in their own init_app, made here so that adding is explicit, never implicit.
    app.extensions["scanapp.epcis.capture_hooks"] = []
    app.extensions["scanapp.demo_hooks"] = []
    bus = EventBus()
    configure_sessions(app, {SESSION_KEY: bus})
    codec = SerialCodec(app)
    hasher = Hasher(app.config["SECRET_KEY"])
    metrics = Metrics(app.config["PROMETHEUS_MULTIPROC_DIR"])
    scan = build_components(app, codec=codec, hasher=hasher, metrics=metrics,
                            record_flags=functools.partial(flags.on_scans_recorded, app))
    built = Services(
        events=bus, metrics=metrics, codec=codec, ranges=RangeIndex(app),
        pins=PinDeriver(app.config["PIN_KEY"]), hasher=hasher, scan=scan,
        webhook_relay=webhooks.WebhookRelay(app), epcis_pusher=EpcisPusher(app))
    # Stopped in this order: the flag writer first (its flags may still need the database),
    # then the committer, which drains the scans already queued.
    built.threads = [thread for thread in (scan.flag_writer, scan.sink)
                     if isinstance(thread, BackgroundThread)]

    Recorder(app).subscribe(bus)
    webhooks.subscribe(bus)

    metrics.watch_outboxes(functools.partial(outbox_depths, app, metrics))
    _time_requests(app, metrics)

    app.extensions[EXTENSION_KEY] = built
    app.extensions.setdefault("scanapp.shutdown_hooks", []).append(built.shutdown)
    return built


def _time_requests(app: Flask, metrics: Metrics) -> None:
    """Request latency per route template (bounded labels: never the raw path)."""

    @app.before_request
    def _start_clock() -> None:
        g.scanapp_started = time.perf_counter()

    @app.after_request
    def _stop_clock(response):
        started = g.get("scanapp_started")
        if started is not None:
            rule = request.url_rule
            metrics.observe_request(request.method, rule.rule if rule else "unmatched", started)
        return response


def outbox_depths(app: Flask, metrics: Metrics) -> list[tuple[str, int, float | None]]:
    """Rows waiting in each outbox and the age of the oldest, for ``/metrics``."""
    now = utcnow()
    waiting = (
        ("webhooks", WebhookDelivery.created_at,
         (WebhookDelivery.delivered_at.is_(None), WebhookDelivery.failed_at.is_(None))),
        ("epcis", EpcisOutbox.created_at, (EpcisOutbox.sent_at.is_(None),)),
    )
    found = []
    try:
        with session_scope(app) as session:
            for name, created, pending in waiting:
                count, oldest = session.execute(
                    select(func.count(), func.min(created)).where(*pending)).one()
                found.append((name, count, (now - oldest).total_seconds() if oldest else None))
    except SQLAlchemyError as exc:
        metrics.inc("scanapp_database_errors_total")
        log.warning("outbox depths not read for /metrics: %s", type(exc).__name__)
    return found
