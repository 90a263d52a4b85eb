"""Origin traceability: parties, locations, certificates, lots, lineage, recall.

``init_app`` wires the package into one app explicitly (nothing happens on import): it
registers the capture hook that checks and applies supply-chain events, and the provider
of the trace summary that the scan answer carries.
"""

from __future__ import annotations

from flask import Flask

from .public import public_lot_view

__all__ = ["init_app", "public_lot_view"]


def init_app(app: Flask) -> None:
    from .hook import TraceCaptureHook
    from .summary import SummaryCache

    app.extensions.setdefault("scanapp.epcis.capture_hooks", []).append(TraceCaptureHook())
    cache = SummaryCache(app)
    app.extensions["scanapp.trace.summary"] = cache
