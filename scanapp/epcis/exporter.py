"""Push stored events to the portal's EPCIS capture endpoint, from the durable outbox.

Delivery is at least once with a lease, which in practice means once: a batch is claimed
(``claimed_until``) before it is sent, so two pushers (the worker process and a
``flask epcis push`` run by hand, or two worker processes during a deploy) never send the
same rows at the same time; a row is marked sent only after the endpoint accepted it (2xx).
A failed batch is retried with exponential backoff, for as long as it takes: an outage
delays events but loses none. Should a pusher die between the endpoint's 2xx and marking
the rows, the events go again with the same ``eventID``, which an EPCIS repository
recognises.

The HTTP client is the standard library's: one POST per batch needs nothing more.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from .. import outbox
from ..background import PollingWorker
from ..db import session_scope, utcnow
from . import mapping
from .models import EpcisEvent, EpcisOutbox
from .settings import capture_endpoint, setting

log = logging.getLogger(__name__)

# A claim outlives the longest possible send (HTTP timeout) by a wide margin, so a slow
# but alive pusher never loses its rows to another one mid-send.
LEASE_MARGIN = dt.timedelta(seconds=60)


class CaptureFailed(Exception):
    """The capture endpoint did not accept a document (unreachable, timeout, non-2xx)."""


@dataclass
class PushResult:
    sent: int = 0
    failed: int = 0
    batches: int = 0
    last_error: str | None = None


def post_document(app: Flask, document: dict) -> None:
    """POST one EPCISDocument to the capture endpoint; raise ``CaptureFailed`` unless 2xx."""
    url = capture_endpoint(app)
    if url is None:
        raise CaptureFailed("no EPCIS capture URL configured (SCANAPP_EPCIS_CAPTURE_URL)")
    headers = {
        "Content-Type": "application/ld+json",
        "Accept": "application/json",
        # EPCIS 2.0 REST binding: the versions the document follows.
        "GS1-EPCIS-Version": "2.0.0",
        "GS1-CBV-Version": "2.0.0",
    }
    auth = setting(app, "EPCIS_CAPTURE_AUTHORIZATION")
    if auth:
        headers["Authorization"] = auth
    data = json.dumps(document, ensure_ascii=False).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=setting(app, "EPCIS_PUSH_TIMEOUT")) as resp:
            resp.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read(300).decode("utf-8", "replace")
        exc.close()
        raise CaptureFailed(f"HTTP {exc.code} from {url}: {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise CaptureFailed(f"{url} unreachable: {exc}") from None


def backoff(app: Flask, attempts: int) -> dt.timedelta:
    base = float(setting(app, "EPCIS_RETRY_BASE"))
    top = float(setting(app, "EPCIS_RETRY_MAX"))
    # Deterministic doubling plus up to 10% jitter so that many processes do not retry in step.
    delay = min(top, base * 2 ** max(0, attempts - 1))
    return dt.timedelta(seconds=delay * (1 + secrets.randbelow(100) / 1000))


def _within_size(session: Session, rows: list, token: str, max_bytes: int) -> list:
    """Keep the leading rows whose events fit in ``max_bytes`` (at least one) and give the
    others back at once, for the next document: capture endpoints limit request sizes, and
    one partial step may name up to 10,000 stamps."""
    size, keep = 0, 0
    for _row_id, _attempts, body in rows:
        size += len(json.dumps(body, ensure_ascii=False).encode())
        if keep and size > max_bytes:
            break
        keep += 1
    rest = [row_id for row_id, _attempts, _body in rows[keep:]]
    if rest:
        session.execute(update(EpcisOutbox).where(
            EpcisOutbox.id.in_(rest), EpcisOutbox.claim_token == token)
            .values(claim_token=None, claimed_until=None))
    return rows[:keep]


def push_once(app: Flask, now: dt.datetime | None = None) -> PushResult:
    """Send one batch of due events; the unit of work of every pusher."""
    result = PushResult()
    batch = int(setting(app, "EPCIS_PUSH_BATCH"))
    lease = dt.timedelta(seconds=float(setting(app, "EPCIS_PUSH_TIMEOUT"))) + LEASE_MARGIN
    with session_scope(app) as session:
        token, ids = outbox.claim(session, EpcisOutbox, batch, now or utcnow(), lease)
        if not ids:
            return result
        rows = session.execute(
            select(EpcisOutbox.id, EpcisOutbox.attempts, EpcisEvent.body)
            .join(EpcisEvent, EpcisEvent.id == EpcisOutbox.event_pk)
            .where(EpcisOutbox.id.in_(ids), EpcisOutbox.claim_token == token)
            .order_by(EpcisOutbox.id)).all()
        rows = _within_size(session, rows, token, int(setting(app, "EPCIS_PUSH_MAX_BYTES")))
        # End the read transaction: nothing is held open while the portal answers.
        session.commit()
        document = mapping.document([body for _id, _attempts, body in rows],
                                    setting(app, "EPCIS_NAMESPACE"), utcnow())
        result.batches = 1
        error = None
        try:
            post_document(app, document)
        except CaptureFailed as exc:
            error = str(exc)[:500]
            log.warning("EPCIS capture failed for %d events: %s", len(rows), error)
            result.failed, result.last_error = len(rows), error
        else:
            result.sent = len(rows)
        failed_at = utcnow()
        outbox.settle(session, EpcisOutbox, token,
                      [(row_id, attempts) for row_id, attempts, _body in rows], error,
                      lambda attempts: failed_at + backoff(app, attempts))
        session.commit()
    return result


def _anything_due(app: Flask) -> bool:
    with session_scope(app) as session:
        return session.scalar(select(EpcisOutbox.id).where(
            outbox.due(EpcisOutbox, utcnow())).limit(1)) is not None


def push_pending(app: Flask, max_batches: int | None = None) -> PushResult:
    """Send due batches until none is left, one fails, or ``max_batches`` went out."""
    total = PushResult()
    while max_batches is None or total.batches < max_batches:
        one = push_once(app)
        total.sent += one.sent
        total.failed += one.failed
        total.batches += one.batches
        if one.failed:
            total.last_error = one.last_error
            break
        # An empty claim can also mean another pusher took the same rows a moment earlier;
        # stop only when nothing is left for us.
        if one.batches == 0 and not _anything_due(app):
            break
    return total


def aggregate_then_push(app: Flask, max_batches: int | None = None) -> PushResult:
    from .recorder import aggregate_scans

    with app.app_context(), session_scope(app) as session:
        try:
            aggregate_scans(session, app=app)
        except Exception:  # a scan table problem must not stop lifecycle events going out
            log.exception("EPCIS scan aggregation failed; pushing the other events")
    return push_pending(app, max_batches)


def outbox_status(session: Session) -> dict:
    from sqlalchemy import func

    pending = EpcisOutbox.sent_at.is_(None)
    counts = session.execute(select(
        func.count().filter(pending), func.count().filter(EpcisOutbox.sent_at.is_not(None)),
        func.count().filter(and_(pending, EpcisOutbox.attempts > 0)),
        func.min(EpcisOutbox.created_at).filter(pending))).one()
    last_error = session.scalar(select(EpcisOutbox.last_error).where(
        pending, EpcisOutbox.last_error.is_not(None)).order_by(EpcisOutbox.id.desc()).limit(1))
    return {"pending": counts[0], "sent": counts[1], "retrying": counts[2],
            "oldest_pending": counts[3], "last_error": last_error}


# -- the pusher (runs in the worker process: ``flask --app scanapp worker``) -----------------


class EpcisPusher(PollingWorker):
    """Every ``EPCIS_PUSH_INTERVAL`` seconds: record the closed days' scan counts, then push
    due batches. Idle (a pass that does nothing) while no capture URL is configured."""

    name = "scanapp-epcis-pusher"

    def __init__(self, app: Flask):
        super().__init__()
        self.app = app

    def interval(self) -> float:
        return float(setting(self.app, "EPCIS_PUSH_INTERVAL"))

    def max_backoff(self) -> float:
        return float(setting(self.app, "EPCIS_RETRY_MAX"))

    @property
    def configured(self) -> bool:
        return capture_endpoint(self.app) is not None

    def run_once(self) -> bool:
        if self.configured:
            aggregate_then_push(self.app)
        return False
