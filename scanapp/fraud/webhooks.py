"""Brand webhooks: a durable outbox and the worker that delivers it.

- New and escalated flags become ``webhook_outbox`` rows in the transaction that raises
  them (a ``FlagRaised`` listener), for brands that set a webhook URL. Nothing is sent
  from the scan request.
- A worker claims due rows (a conditional UPDATE, so several workers or processes never
  send one row at the same time), POSTs the JSON body and marks it delivered on any 2xx.
  Failures retry with exponential backoff (base * 2^attempt, capped) up to a maximum
  number of attempts, then the row is marked failed for an operator to look at.
- Each request carries ``X-Scanapp-Event-Id`` (stable across retries: receivers drop a
  repeat), ``X-Scanapp-Event``, ``X-Scanapp-Timestamp`` and ``X-Scanapp-Signature:
  sha256=<hex>``, an HMAC-SHA256 with the brand's secret over ``"<timestamp>.<body>"``
  (the timestamp is signed so a captured delivery cannot be replayed later as new).

Deliveries go through ``scanapp.outbound``: every address the host resolves to must be
public (unless ``WEBHOOK_ALLOW_PRIVATE``, on by default outside production only), the
connection goes to the address that was checked, redirects are not followed, and the brand
reads a generic reason for a failure while the details go to the server log.

Delivery is at least once: a receiver that answers 2xx after the worker's timeout may see
the same event id again, which is what the id header is for.

The worker runs as a daemon thread started lazily when a row is written (registered in
``app.extensions["scanapp.shutdown_hooks"]``) and, in production, as ``flask --app scanapp
worker``. Settings (app config, with environment defaults): ``WEBHOOK_THREAD`` (start the
in-process thread; default on), ``WEBHOOK_BACKOFF_BASE_S`` (2), ``WEBHOOK_BACKOFF_MAX_S``
(3600), ``WEBHOOK_MAX_ATTEMPTS`` (12), ``WEBHOOK_TIMEOUT_S`` (5), ``WEBHOOK_POLL_S`` (1).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import secrets
import signal
import threading
import time
import uuid

import click
from flask import Blueprint, Flask, current_app
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from .. import events, outbound
from ..auth.models import Organisation
from ..auth.service import Principal
from ..db import session_scope, utcnow
from ..errors import InvalidInput
from .models import WebhookDelivery

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Scanapp-Signature"
EVENT_ID_HEADER = "X-Scanapp-Event-Id"
EVENT_TYPE_HEADER = "X-Scanapp-Event"
TIMESTAMP_HEADER = "X-Scanapp-Timestamp"

DEFAULTS = {
    "WEBHOOK_THREAD": True,
    "WEBHOOK_BACKOFF_BASE_S": 2.0,
    "WEBHOOK_BACKOFF_MAX_S": 3600.0,
    "WEBHOOK_MAX_ATTEMPTS": 12,
    "WEBHOOK_TIMEOUT_S": 5.0,
    "WEBHOOK_POLL_S": 1.0,
}
CLAIM_S = 60  # a claimed row is left alone this long; longer than any delivery takes
BATCH = 20


def setting(app: Flask, name: str):
    if name in app.config:
        return app.config[name]
    raw = os.environ.get("SCANAPP_" + name)
    default = DEFAULTS[name]
    if raw in (None, ""):
        return default
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    return type(default)(raw)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver does (documented in docs/FRAUD.md; used by the tests)."""
    return hmac.compare_digest(sign(secret, timestamp, body), header or "")


# -- brand settings --------------------------------------------------------------------------


def _allow_private(app: Flask) -> bool:
    # Brands must not make this service call into its own network (SSRF); tests and the
    # embedded demo deliver to 127.0.0.1, so only production forbids it by default.
    if "WEBHOOK_ALLOW_PRIVATE" in app.config:
        return bool(app.config["WEBHOOK_ALLOW_PRIVATE"])
    raw = os.environ.get("SCANAPP_WEBHOOK_ALLOW_PRIVATE", "")
    if raw:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    return not app.config.get("PRODUCTION", False)


def set_webhook(session: Session, principal: Principal, url: str | None,
                rotate_secret: bool = False, app: Flask | None = None
                ) -> tuple[Organisation, str | None]:
    """Set or clear the caller's webhook; returns the new secret when one was made."""
    org = session.get(Organisation, principal.org_id)
    new_secret = None
    if url is None:
        org.webhook_url = None
        org.webhook_secret = None
    else:
        allow_private = _allow_private(app) if app is not None else True
        problem = outbound.check_url(url, allow_private=allow_private)
        if problem:
            raise InvalidInput(problem, code="invalid_webhook_url")
        org.webhook_url = url
        if rotate_secret or not org.webhook_secret:
            new_secret = "whsec_" + secrets.token_urlsafe(32)
            org.webhook_secret = new_secret
    session.commit()
    return org, new_secret


def recent_deliveries(session: Session, principal: Principal, limit: int = 50):
    return list(session.scalars(select(WebhookDelivery)
                                .where(WebhookDelivery.org_id == principal.org_id)
                                .order_by(WebhookDelivery.id.desc()).limit(limit)))


# -- the outbox ------------------------------------------------------------------------------


def _enqueue_flag(session: Session, event: events.FlagRaised) -> None:
    if not event.brand_org_id or not _has_webhook(session, event.brand_org_id):
        return
    kind = "flag.escalated" if event.escalated else "flag.raised"
    event_id = str(uuid.uuid4())
    payload = {"id": event_id, "type": kind, "created_at": event.at.isoformat(),
               "data": {"flag_id": event.flag_id, "serial": event.serial, "gtin": event.gtin,
                        "risk": event.risk, "reasons": list(event.reasons),
                        "escalated": event.escalated}}
    session.add(WebhookDelivery(event_id=event_id, event_type=kind, org_id=event.brand_org_id,
                                payload=payload, attempts=0, next_attempt_at=utcnow()))
    session.info["scanapp.webhook_enqueued"] = True


events.subscribe(events.FlagRaised, _enqueue_flag)

_WEBHOOK_ORGS = "scanapp.webhook_orgs"


def _has_webhook(session: Session, org_id: int) -> bool:
    """Whether the brand has a webhook URL, read once per transaction (a batch of flags
    publishes many events for few brands)."""
    transaction = session.get_transaction()
    cached = session.info.get(_WEBHOOK_ORGS)
    if cached is None or cached[0] is not transaction:
        cached = session.info[_WEBHOOK_ORGS] = (transaction, {})
    known = cached[1]
    if org_id not in known:
        known[org_id] = bool(session.scalar(select(Organisation.webhook_url)
                                            .where(Organisation.id == org_id)))
    return known[org_id]


def _backoff(app: Flask, attempts: int) -> dt.timedelta:
    base = float(setting(app, "WEBHOOK_BACKOFF_BASE_S"))
    cap = float(setting(app, "WEBHOOK_BACKOFF_MAX_S"))
    return dt.timedelta(seconds=min(cap, base * (2 ** max(0, attempts - 1))))


def _claim(session: Session, now: dt.datetime) -> list[int]:
    due = list(session.scalars(
        select(WebhookDelivery.id).where(
            WebhookDelivery.delivered_at.is_(None), WebhookDelivery.failed_at.is_(None),
            WebhookDelivery.next_attempt_at <= now,
            or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < now))
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(BATCH)))
    claimed = []
    for row_id in due:
        # The same condition again in the UPDATE: only one claimant's rowcount is 1.
        result = session.execute(
            update(WebhookDelivery).where(
                WebhookDelivery.id == row_id, WebhookDelivery.delivered_at.is_(None),
                or_(WebhookDelivery.locked_until.is_(None),
                    WebhookDelivery.locked_until < now))
            .values(locked_until=now + dt.timedelta(seconds=CLAIM_S))
            .execution_options(synchronize_session=False))
        if result.rowcount == 1:
            claimed.append(row_id)
    session.commit()
    return claimed


def deliver_one(app: Flask, session: Session, row_id: int) -> bool:
    row = session.get(WebhookDelivery, row_id)
    org = session.get(Organisation, row.org_id)
    now = utcnow()
    if org is None or not org.webhook_url or not org.webhook_secret:
        row.failed_at, row.last_error, row.locked_until = now, "webhook removed", None
        session.commit()
        return False
    body = json.dumps(row.payload, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "User-Agent": "scanapp-webhooks/1",
               EVENT_ID_HEADER: row.event_id, EVENT_TYPE_HEADER: row.event_type,
               TIMESTAMP_HEADER: timestamp,
               SIGNATURE_HEADER: sign(org.webhook_secret, timestamp, body)}
    # The address is checked again at each delivery (the name may have been re-pointed since
    # it was set) and the connection goes to the address checked; see scanapp/outbound.py.
    try:
        status, error = outbound.post(
            org.webhook_url, body, headers, timeout=float(setting(app, "WEBHOOK_TIMEOUT_S")),
            allow_private=_allow_private(app)), None
    except outbound.DeliveryError as exc:
        status, error = exc.status, exc.reason
    if error == outbound.NOT_PUBLIC:
        row.attempts += 1
        row.failed_at, row.last_error, row.locked_until = now, error, None
        session.commit()
        return False
    if status is not None and not 200 <= status < 300 and error is None:
        error = f"HTTP {status}"
    row.attempts += 1
    row.last_status = status
    row.locked_until = None
    if status is not None and 200 <= status < 300:
        row.delivered_at, row.last_error = utcnow(), None
        session.commit()
        return True
    row.last_error = error
    if row.attempts >= int(setting(app, "WEBHOOK_MAX_ATTEMPTS")):
        row.failed_at = utcnow()
        log.warning("webhook %s to org %s failed for good after %s attempts: %s",
                    row.event_id, row.org_id, row.attempts, error)
    else:
        row.next_attempt_at = utcnow() + _backoff(app, row.attempts)
    session.commit()
    return False


def deliver_due(app: Flask) -> int:
    """One pass: claim what is due and try each once. Returns how many were delivered."""
    delivered = 0
    with app.app_context(), session_scope(app) as session:
        for row_id in _claim(session, utcnow()):
            try:
                delivered += deliver_one(app, session, row_id)
            except Exception:  # noqa: BLE001 - one bad row must not stop the others
                session.rollback()
                log.exception("webhook delivery of outbox row %s crashed", row_id)
    return delivered


# -- the worker ------------------------------------------------------------------------------


class WebhookWorker:
    def __init__(self, app: Flask):
        self.app = app
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="scanapp-webhooks", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def run(self) -> None:
        poll = float(setting(self.app, "WEBHOOK_POLL_S"))
        while not self._stop.is_set():
            try:
                deliver_due(self.app)
            except Exception:  # noqa: BLE001 - the database may be briefly away: keep going
                log.exception("webhook worker pass failed")
            self._wake.wait(poll)
            self._wake.clear()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


_start_lock = threading.Lock()


def ensure_worker(app: Flask) -> WebhookWorker | None:
    """Start the in-process worker once per app (lazily: first outbox row or first wake)."""
    if not setting(app, "WEBHOOK_THREAD"):
        return None
    worker = app.extensions.get("scanapp.webhook_worker")
    if worker is not None:
        return worker
    with _start_lock:
        worker = app.extensions.get("scanapp.webhook_worker")
        if worker is None:
            worker = WebhookWorker(app)
            app.extensions["scanapp.webhook_worker"] = worker
            app.extensions.setdefault("scanapp.shutdown_hooks", []).append(worker.stop)
            worker.start()
    return worker


def kick(app: Flask, session: Session) -> None:
    """After a commit that may have written outbox rows: make sure a worker will see them."""
    if session.info.pop("scanapp.webhook_enqueued", False):
        worker = ensure_worker(app)
        if worker is not None:
            worker.wake()


# -- the production worker: ``flask --app scanapp worker`` ----------------------------------

worker_cli = Blueprint("fraud_worker", __name__, cli_group=None)


@worker_cli.cli.command("worker")
@click.option("--once", is_flag=True, help="one delivery pass, then exit (cron, tests)")
def worker_command(once: bool) -> None:
    """Deliver brand webhooks from the outbox until stopped (SIGTERM/Ctrl-C)."""
    app = current_app._get_current_object()
    if once:
        click.echo(f"delivered {deliver_due(app)}")
        return
    worker = WebhookWorker(app)
    stop = threading.Event()

    def _stop(*_args) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    worker.start()
    click.echo("webhook worker running; Ctrl-C to stop")
    stop.wait()
    worker.stop()


def resume_pending(app: Flask) -> None:
    """Once per process: start the worker if earlier processes left undelivered rows."""
    if app.extensions.get("scanapp.webhook_resumed") or not setting(app, "WEBHOOK_THREAD"):
        return
    app.extensions["scanapp.webhook_resumed"] = True
    with session_scope(app) as session:
        pending = session.scalar(select(WebhookDelivery.id).where(
            WebhookDelivery.delivered_at.is_(None), WebhookDelivery.failed_at.is_(None))
            .limit(1))
    if pending is not None:
        ensure_worker(app)
