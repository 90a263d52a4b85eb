"""EPCIS settings, read from the app config (scanapp/config.py reads the environment).

- EPCIS_CAPTURE_URL (none: no pushing): the portal's EPCIS base URL; documents are POSTed
  to ``{url}/capture`` (a URL already ending in /capture is used as it is).
- EPCIS_CAPTURE_AUTHORIZATION (none): the Authorization header value sent with each POST.
- EPCIS_PUSH_INTERVAL (5 s): how often the pusher looks for work.
- EPCIS_PUSH_BATCH (500): events per capture document at most.
- EPCIS_PUSH_MAX_BYTES (4,000,000): a document's size at most (one event always goes, even
  when larger).
- EPCIS_PUSH_TIMEOUT (20 s): HTTP timeout of one capture request.
- EPCIS_RETRY_BASE (5 s) and EPCIS_RETRY_MAX (3600 s): first retry delay, doubling per
  failure up to the maximum.
- EPCIS_NAMESPACE ({PUBLIC_BASE_URL}/ns/epcis#): the IRI of the ``scanapp:`` extensions.
"""

from __future__ import annotations

from typing import Any

from flask import Flask


def setting(app: Flask, name: str) -> Any:
    return app.config[name]


def capture_endpoint(app: Flask) -> str | None:
    """Where documents are POSTed: the configured URL, with ``/capture`` added when absent."""
    url = setting(app, "EPCIS_CAPTURE_URL")
    if not url:
        return None
    url = url.rstrip("/")
    return url if url.endswith("/capture") else url + "/capture"
