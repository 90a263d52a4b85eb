"""Origin traceability: parties, locations, certificates, lots, lineage, recall.

``init_app`` wires the package into one app explicitly (nothing happens on import): it
registers the capture hook that checks and applies supply-chain events, and the provider
of the trace summary that the scan answer carries and of the lot document the stamp page
shows.
"""

from __future__ import annotations

from flask import Flask

from .public import public_lot_view

__all__ = ["init_app", "public_lot_view"]


def init_app(app: Flask) -> None:
    from . import export, queries
    from .hook import TraceCaptureHook
    from .summary import SummaryCache

    app.extensions["scanapp.epcis.capture_hooks"].append(TraceCaptureHook())
    cache = SummaryCache(app)
    app.extensions["scanapp.trace.summary"] = cache
    # The stamp page (scanapp.scan, a lower layer) renders the lot's document through this.
    app.extensions["scanapp.trace.lot_view"] = public_lot_view
    # The inspectors' workspace (scanapp.fraud, also below trace) shows a lot's lineage as a
    # page and offers its spreadsheet to a signed-in inspector, through these.
    app.extensions["scanapp.trace.lineage"] = {"backward": queries.lineage_backward,
                                               "forward": queries.lineage_forward}
    app.extensions["scanapp.trace.export"] = export.export_file
