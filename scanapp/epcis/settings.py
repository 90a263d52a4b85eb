"""EPCIS settings: the app config first (tests, overrides), then ``SCANAPP_EPCIS_*``.

- EPCIS_CAPTURE_URL (none: no pushing): the portal's EPCIS base URL; documents are POSTed
  to ``{url}/capture`` (a URL already ending in /capture is used as it is).
- EPCIS_CAPTURE_AUTHORIZATION (none): the Authorization header value sent with each POST.
- EPCIS_PUSH_THREAD (1): push from a background thread in the web process; 0 leaves it to
  ``flask epcis push --loop``.
- EPCIS_PUSH_INTERVAL (5 s): how often the thread looks for work (it is also woken when
  events commit in its process).
- EPCIS_PUSH_BATCH (500): events per capture document at most.
- EPCIS_PUSH_MAX_BYTES (4,000,000): a document's size at most (one event always goes, even
  when larger).
- EPCIS_PUSH_TIMEOUT (20 s): HTTP timeout of one capture request.
- EPCIS_RETRY_BASE (5 s) and EPCIS_RETRY_MAX (3600 s): first retry delay, doubling per
  failure up to the maximum.
- EPCIS_NAMESPACE ({PUBLIC_BASE_URL}/ns/epcis#): the IRI of the ``scanapp:`` extensions.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

DEFAULTS: dict[str, Any] = {
    "EPCIS_CAPTURE_URL": None,
    "EPCIS_CAPTURE_AUTHORIZATION": None,
    "EPCIS_PUSH_THREAD": True,
    "EPCIS_PUSH_INTERVAL": 5.0,
    "EPCIS_PUSH_BATCH": 500,
    "EPCIS_PUSH_MAX_BYTES": 4_000_000,
    "EPCIS_PUSH_TIMEOUT": 20.0,
    "EPCIS_RETRY_BASE": 5.0,
    "EPCIS_RETRY_MAX": 3600.0,
    "EPCIS_NAMESPACE": None,
}


def setting(app: Flask, name: str) -> Any:
    if name in app.config:
        return app.config[name]
    default = DEFAULTS[name]
    raw = os.environ.get("SCANAPP_" + name)
    if raw in (None, ""):
        if name == "EPCIS_NAMESPACE":
            return f"{app.config['PUBLIC_BASE_URL']}/ns/epcis#"
        return default
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


def capture_endpoint(app: Flask) -> str | None:
    """Where documents are POSTed: the configured URL, with ``/capture`` added when absent."""
    url = setting(app, "EPCIS_CAPTURE_URL")
    if not url:
        return None
    url = url.rstrip("/")
    return url if url.endswith("/capture") else url + "/capture"
