"""The demo's EPCIS step: say where the events of the demo range can be read."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from ..db import session_scope
from .models import EpcisEvent
from .settings import capture_endpoint


def show_epcis(app: Flask, info: dict) -> dict:
    with session_scope(app) as session:
        count = session.scalar(select(func.count()).select_from(EpcisEvent))
    base = app.config["PUBLIC_BASE_URL"]
    brand_key = info.get("keys", {}).get("brand", "<brand key>")
    target = capture_endpoint(app) or "none (set SCANAPP_EPCIS_CAPTURE_URL to push)"
    return {"lines": list(info.get("lines", [])) + [
        "",
        f"  EPCIS 2.0:  {count} events so far; read them as an EPCISDocument:",
        f"    curl -H 'Authorization: Bearer {brand_key}' {base}/api/v1/epcis/events",
        "  EPCIS 2.0 repository (GS1 REST binding): capture documents, query any event:",
        f"    curl -H 'Authorization: Bearer {brand_key}' '{base}/epcis/events?EQ_bizStep="
        "commissioning'",
        f"    curl -H 'Authorization: Bearer {brand_key}' -H 'Content-Type: "
        f"application/ld+json' --data @document.jsonld {base}/epcis/capture",
        f"  Push target: {target}; file export: flask --app scanapp epcis export "
        "--since YYYY-MM-DD --until YYYY-MM-DD -o events.jsonld",
    ]}
