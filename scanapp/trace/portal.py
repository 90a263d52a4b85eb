"""The National Traceability Portal: each lot's ten Circular 02/2024 items as one JSON
document, delivered from a durable outbox.

The portal speaks its own JSON REST API, not EPCIS, so the supply-chain events go to it
through the EPCIS outbox (every captured event has its outbox row, scanapp/epcis/exporter)
and the lot documents through this one, on the same relay (scanapp/outbox.py: claim with
a lease, send, settle): a row per pending lot written in the transaction that changed the
lot, claimed before sending, marked sent only after a 2xx, retried with the exporter's
backoff. The document is built when it is sent, so a lot changed three times before the
push goes once, in its latest state. The mapping from Circular items to fields is in
docs/TRACEABILITY.md.

Settings (app config or environment): ``TRACE_PORTAL_URL`` (none: nothing is pushed),
``TRACE_PORTAL_AUTHORIZATION``, batch size ``TRACE_PORTAL_BATCH`` (100).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import outbox
from ..background import PollingWorker
from ..db import session_scope, utcnow
from ..epcis.exporter import backoff
from .models import Lot, PortalOutbox
from .public import public_lot_view

log = logging.getLogger(__name__)

SCHEMA = "scanapp-portal-lot/1"
LEASE = dt.timedelta(seconds=90)
TIMEOUT_S = 20.0


def _setting(app: Flask, name: str, default: Any = None) -> Any:
    value = app.config.get(name)  # read once by scanapp/config.py
    return default if value in (None, "") else value


def _certification(cert: dict[str, Any]) -> dict[str, Any]:
    return {"scheme": cert["scheme"], "name": cert["scheme_name"], "number": cert["number"],
            "issuer": cert["issuer"], "validFrom": cert["valid_from"],
            "validTo": cert["valid_to"], "documentUrl": cert["document_url"]}


def portal_document(session: Session, lot: Lot) -> dict[str, Any]:
    """The ten items of Circular 02/2024/TT-BKHCN for one lot (portal field names)."""
    view = public_lot_view(session, lot.gtin, lot.lot)
    assert view is not None
    producer = view["producer"] or {}
    items = {
        "1_name": view["name"],
        "2_images": view["images"],
        "3_producer": producer.get("name"),
        "4_address": {"address": producer.get("address"),
                      "provinceCode": producer.get("province"),
                      "provinceName": producer.get("province_name")},
        "5_stages": [{"step": s["step"], "stepName": s["step_name"], "time": s["time"],
                      "productTraceCode": s["product_code"],
                      "locationTraceCode": s["location_code"],
                      "locationName": (s["place"] or {}).get("name"),
                      "provinceCode": (s["place"] or {}).get("province"),
                      "actor": s["actor"], "quantity": s["quantity"], "unit": s["unit"]}
                     for s in view["stages"]],
        "6_productionTime": {"productionDate": view["production_time"]["production_date"],
                             "harvestStart": view["production_time"]["harvest_start"],
                             "harvestEnd": view["production_time"]["harvest_end"]},
        "7_traceCodes": {"gtin": view["gtin"], "lot": view["lot"],
                         "lotTraceCode": view["trace_codes"]["lot_uri"],
                         "inputLotTraceCodes": view["trace_codes"]["upstream"]},
        "8_brand": {"brand": view["brand"]["name"], "trademark": view["name"],
                    "productCode": view["gtin"], "serialised": view["brand"]["serialised"]},
        "9_shelfLife": {"expiryDate": view["shelf_life"]["expiry_date"],
                        "bestBefore": view["shelf_life"]["best_before"],
                        "shelfLifeDays": view["shelf_life"]["shelf_life_days"]},
        "10_standards": view["standards"],
    }
    return {
        "schema": SCHEMA,
        "organization": {"name": producer.get("name"), "taxCode": producer.get("tax_code"),
                         "gln": producer.get("gln")},
        "items": items,
        "growingArea": ({"name": view["origin"]["name"], "kind": view["origin"]["kind"],
                         "gln": view["origin"]["gln"],
                         "plantingAreaCode": view["origin"]["planting_area_code"],
                         "provinceCode": view["origin"]["province"],
                         "lat": view["origin"]["lat"], "lon": view["origin"]["lon"]}
                        if view["origin"] else None),
        # Valid today only: a portal that lists certifications must not show a lapsed one
        # as current. Those that expired go apart, so the portal can say so.
        "certifications": [_certification(c) for c in view["certificates"]
                           if c["status"] == "valid"],
        "expiredCertifications": [_certification(c) for c in view["certificates"]
                                  if c["status"] == "expired"],
        "status": view["status"],
        "recall": view["recall"],
    }


def enqueue(session: Session, lot_ids: Iterable[int]) -> None:
    """Mark lots for a (re)send, in the caller's transaction; one pending row per lot."""
    ids = sorted(set(lot_ids))
    if not ids:
        return
    now = utcnow()
    if session.get_bind().dialect.name == "postgresql":
        # One statement, no savepoint: the pending-lot unique index skips lots already
        # queued, by this transaction or (once it commits) a concurrent one.
        session.execute(text(
            "INSERT INTO trace_portal_outbox (lot_id, created_at, attempts, next_attempt_at) "
            "SELECT unnest(CAST(:ids AS integer[])), :now, 0, :now "
            "ON CONFLICT (lot_id) WHERE sent_at IS NULL DO NOTHING"), {"ids": ids, "now": now})
        return
    pending = set(session.scalars(select(PortalOutbox.lot_id).where(
        PortalOutbox.lot_id.in_(ids), PortalOutbox.sent_at.is_(None))))
    missing = [i for i in ids if i not in pending]
    if not missing:
        return
    try:
        with session.begin_nested():
            session.execute(PortalOutbox.__table__.insert(), [
                {"lot_id": i, "created_at": now, "attempts": 0, "next_attempt_at": now}
                for i in missing])
    except IntegrityError:
        # Another transaction queued some of these lots a moment ago: theirs will do.
        log.debug("portal outbox: lots already queued by a concurrent transaction")


@dataclass
class PushResult:
    sent: int = 0
    failed: int = 0
    last_error: str | None = None


def _post(app: Flask, url: str, documents: list[dict]) -> None:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    auth = _setting(app, "TRACE_PORTAL_AUTHORIZATION")
    if auth:
        headers["Authorization"] = auth
    body = json.dumps({"schema": SCHEMA, "documents": documents}, ensure_ascii=False).encode()
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as resp:
        resp.read()


def push_once(app: Flask) -> PushResult:
    """Send one batch of due lot documents; mark them sent or schedule a retry."""
    result = PushResult()
    url = _setting(app, "TRACE_PORTAL_URL")
    if not url:
        return result
    batch = int(_setting(app, "TRACE_PORTAL_BATCH", 100))
    with session_scope(app) as session:
        token, ids = outbox.claim(session, PortalOutbox, batch, utcnow(), LEASE)
        if not ids:
            return result
        rows = session.execute(select(PortalOutbox.id, PortalOutbox.attempts, Lot).join(
            Lot, Lot.id == PortalOutbox.lot_id).where(PortalOutbox.claim_token == token)
            .order_by(PortalOutbox.id)).all()
        documents = [portal_document(session, lot) for _id, _attempts, lot in rows]
        session.commit()
        error = None
        try:
            _post(app, url, documents)
        except (urllib.error.URLError, OSError) as exc:
            error = str(exc)[:500]
            log.warning("portal push failed for %d lots: %s", len(rows), error)
            result.failed, result.last_error = len(rows), error
        else:
            result.sent = len(rows)
        outbox.settle(session, PortalOutbox, token,
                      [(row_id, attempts) for row_id, attempts, _lot in rows], error,
                      lambda attempts: utcnow() + backoff(app, attempts))
        session.commit()
    return result


def push_pending(app: Flask, max_batches: int = 1000) -> PushResult:
    total = PushResult()
    for _ in range(max_batches):
        one = push_once(app)
        total.sent += one.sent
        total.failed += one.failed
        if one.failed:
            total.last_error = one.last_error
            break
        if one.sent == 0:
            break
    return total


class PortalPusher(PollingWorker):
    """The worker process's relay for this outbox: every ``EPCIS_PUSH_INTERVAL`` seconds the
    lots' documents that are due (idle while no ``TRACE_PORTAL_URL`` is configured), backing
    off like the EPCIS pusher while the portal is down."""

    name = "scanapp-portal-pusher"

    def __init__(self, app: Flask):
        super().__init__()
        self.app = app

    def interval(self) -> float:
        return float(self.app.config["EPCIS_PUSH_INTERVAL"])

    def max_backoff(self) -> float:
        return float(self.app.config["EPCIS_RETRY_MAX"])

    def run_once(self) -> bool:
        result = push_once(self.app)
        if result.failed:
            raise RuntimeError(f"portal push failed: {result.last_error}")
        return result.sent > 0  # a full batch went: there may be more right away
