"""The composition root's product: one typed object holding every service of an app.

``create_app`` builds it once (scanapp/bootstrap.py) and stores it in
``app.extensions["scanapp.services"]``; views, CLI commands and workers look services up
here (``services().codec``) instead of building them on first use. Nothing is constructed
lazily per request, so two first requests cannot build two of anything.

This module imports no feature package at run time (the types are for readers and type
checkers), so any package may look services up without an import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import Flask, current_app

if TYPE_CHECKING:
    from .background import BackgroundThread
    from .epcis.exporter import EpcisPusher
    from .events import EventBus
    from .fraud.webhooks import WebhookRelay
    from .metrics import Metrics
    from .scan.privacy import Hasher
    from .scan.service import ScanComponents
    from .serials.codec import SerialCodec
    from .serials.lookup import RangeIndex
    from .serials.pins import PinDeriver

EXTENSION_KEY = "scanapp.services"


@dataclass
class Services:
    events: EventBus  # this app's domain-event listeners (EPCIS recorder, webhook outbox)
    metrics: Metrics  # Prometheus metrics (scanapp/metrics.py), summed across workers
    codec: SerialCodec  # serial signing keys, encode/verify
    ranges: RangeIndex  # sequence number -> range, in process
    pins: PinDeriver  # scratch-off PINs
    hasher: Hasher  # keyed hashes of addresses and device ids (rate-limit keys too)
    scan: ScanComponents  # the scan path: state stores, sink, catalog, limits, flag writer
    # The outbox relays: built here, started only by the worker process
    # (``flask --app scanapp worker``, scanapp/worker.py), never by a web worker.
    webhook_relay: WebhookRelay
    epcis_pusher: EpcisPusher
    # Checksums of generated code files (serials/downloads.py), by range identity.
    code_checksums: dict = field(default_factory=dict)
    # Threads this process runs, in the order they are stopped (scanapp/background.py).
    threads: list[BackgroundThread] = field(default_factory=list)

    def shutdown(self) -> None:
        from .background import stop_all

        stop_all(self.threads)


def services(app: Flask | None = None) -> Services:
    """The app's services (the current app's by default)."""
    return (app or current_app).extensions[EXTENSION_KEY]
