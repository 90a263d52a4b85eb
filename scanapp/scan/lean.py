"""``POST /api/v1/scans`` and ``POST /api/v1/scans/pin`` below Flask's request machinery
(issue 20, item 1).

Flask's share of a scan (request context, URL matching, hooks, webargs, the response object)
cost more CPU than the whole do-nothing baseline request (docs/PERFORMANCE.md). This WSGI
middleware, installed by ``create_app`` inside ProxyFix (so the client address is the one the
trusted proxies report), answers that one method and path itself, for requests it fully
accepts, and hands every other request to Flask untouched (``OPERATIONS``).

One code path, not a copy of the Flask one:

- the body is checked by ``security.check_body_text`` under ``security.body_limit_for`` and
  parsed by ``extensions.load_json``, as Flask's hooks and the view's parser do;
- it is validated by the documented view's own marshmallow schema (``views.ScanIn``,
  ``views.PinIn``) compiled into a plain function (``fastload.compile_loader``: the schema's
  own fields, validators and hooks, without ``Schema.load``'s bookkeeping; a body it does not
  plainly accept is handed on, below), and answered by the function the view calls
  (``views.scan_request`` + ``service.verify_scan``, ``views.pin_check``);
- rate limits are counted in the limiter's store under its keys by the functions the
  views' hooks call (the scan's own Redis round trip, ``limits.check_pin_limits``);
- a request this route does not accept as a valid scan body (another content type, no
  Content-Length, a query string, a body over the limit, not UTF-8, too deep, malformed
  JSON, a field the schema refuses) and an address this worker already refuses
  (``refuse_if_flooding``) are handed to Flask with the body bytes put back, so the
  documented view answers it: every such error answer has exactly one definition, the
  Flask one, and the refused body is counted against the address by the view's hook;
- errors the scan itself raises (a stamp URI that is not one, a rate limit counted in the
  scan's Redis round trip, the database down) are answered through
  ``errors.domain_error_parts`` and the tables of scanapp/errors.py, with the CORS and
  security headers the Flask route sends (``views.CORS``, ``security.missing_security_headers``),
  and a refused body spends the address's budget like the Flask hook has it spend;
- the request is timed into the same latency histogram, under the route's template.

The OpenAPI document still describes the operation from the view (tests/scan/test_lean_route.py
checks that both answer alike, field by field and header by header).
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flask import Flask
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.http import HTTP_STATUS_CODES

from ..errors import (
    DATABASE_UNAVAILABLE,
    INTERNAL_ERROR,
    DomainError,
    MalformedRequest,
    RateLimited,
    domain_error_parts,
    error_body,
    error_headers,
)
from ..extensions import load_json
from ..fastload import Loader, compile_loader
from ..security import (
    VALUE_REFUSED,
    body_limit_for,
    check_body_text,
    missing_security_headers,
    value_refused,
)
from ..services import services
from . import service, views
from .limits import PIN_ENDPOINT, check_pin_limits

log = logging.getLogger(__name__)

SCAN_PATH = "/api/v1/scans"
PIN_PATH = "/api/v1/scans/pin"
METHOD = "POST"

# Answers the Flask view's hook counts against the address's budget (views._REFUSED_BODY).
_REFUSED_BODY = views._REFUSED_BODY

StartResponse = Callable[..., object]


class _HandOn(Exception):
    """This request is Flask's to answer."""


@dataclass(frozen=True)
class Operation:
    """One documented operation the lean route serves."""

    endpoint: str  # the Flask view's endpoint: its body limit, its error answers
    load: Loader  # the view's own schema, compiled: the valid body, or None (Flask answers)
    # Before the answer, once the body is valid: refuses (RateLimited) or counts the request.
    admit: Callable[[Flask, str, dict], None]
    answer: Callable[[Flask, dict, str, str], dict]
    # Refused bodies spend the address's budget (the scan view's hook does the same).
    count_refused: bool


def _admit_scan(_app: Flask, _address: str, _data: dict) -> None:
    # Nothing to do: the address was checked before the body was read (``_accepted_body``)
    # and the scan itself checks and counts its windows (service._limit_windows); a third
    # check here cost a keyed hash and the windows' keys again, per scan.
    return None


def _count_pin_check(app: Flask, address: str, data: dict) -> None:
    # The PIN view's hook counts before the body is parsed, from the body's device id.
    device = data.get("device_id")
    check_pin_limits(app, address, device if isinstance(device, str) and device else None)


def _scan(app: Flask, data: dict, address: str, user_agent: str) -> dict:
    return service.verify_scan(app, views.scan_request(data, address, user_agent)).to_json()


OPERATIONS = {
    SCAN_PATH: Operation("scans.Scans", compile_loader(views.ScanIn()), _admit_scan, _scan,
                         True),
    PIN_PATH: Operation(PIN_ENDPOINT, compile_loader(views.PinIn()), _count_pin_check,
                        views.pin_check, False),
}


class LeanScanRoute:
    """WSGI middleware: ``POST`` of a valid body to an operation of ``OPERATIONS`` is
    answered here; every other request goes to Flask."""

    def __init__(self, app: Flask, flask_wsgi: Callable[[dict, StartResponse], Iterable[bytes]]):
        self.app = app
        self.flask_wsgi = flask_wsgi
        self._cors = list(views.CORS.items())

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        operation = OPERATIONS.get(environ.get("PATH_INFO", ""))
        if (operation is None or environ.get("REQUEST_METHOD") != METHOD
                or environ.get("QUERY_STRING")):
            return self.flask_wsgi(environ, start_response)
        started = time.perf_counter()
        address = environ.get("REMOTE_ADDR")
        try:
            if not address:
                raise _HandOn
            data = self._accepted_body(environ, operation, address)
        except _HandOn:
            return self.flask_wsgi(environ, start_response)
        path = environ["PATH_INFO"]
        try:
            operation.admit(self.app, address, data)
            status, headers = 200, {}
            body = operation.answer(self.app, data, address, environ.get("HTTP_USER_AGENT", ""))
        except Exception as exc:  # noqa: BLE001 - mapped like Flask's error handlers map it
            status, body, headers = self._error(exc, path)
            if operation.count_refused and status in _REFUSED_BODY:
                service.count_refused_request(self.app, address)
        response_headers = self._headers(environ, headers)
        payload = self._json(body)
        response_headers.append(("Content-Length", str(len(payload))))
        start_response(_STATUS_LINES.get(status) or _status_line(status), response_headers)
        services(self.app).metrics.observe_request(METHOD, path, started)
        return [payload]

    # -- the request ------------------------------------------------------------------------

    def _accepted_body(self, environ: dict, operation: Operation, address: str) -> dict:
        """The validated body, or ``_HandOn`` (with the body bytes put back for Flask)."""
        mimetype = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
        if mimetype != "application/json":
            raise _HandOn
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            raise _HandOn from None
        limit = body_limit_for(self.app, operation.endpoint)
        if length <= 0 or (limit and length > limit):
            raise _HandOn
        if operation.count_refused:
            # An address this worker already refuses: Flask's hook answers it, unread.
            try:
                service.refuse_if_flooding(self.app, address)
            except RateLimited:
                raise _HandOn from None
        raw = environ["wsgi.input"].read(length)
        try:
            if len(raw) != length:
                raise _HandOn
            data = operation.load(load_json(check_body_text(raw, is_json=True)))
            if data is None:
                raise _HandOn
            return data
        except (_HandOn, MalformedRequest, ValueError):
            environ["wsgi.input"] = io.BytesIO(raw)
            raise _HandOn from None

    # -- the answer -------------------------------------------------------------------------

    def _error(self, exc: Exception, path: str) -> tuple[int, dict, dict]:
        if isinstance(exc, DomainError):
            return domain_error_parts(exc)
        if isinstance(exc, VALUE_REFUSED):
            return domain_error_parts(value_refused(METHOD, path, exc))
        if isinstance(exc, (OperationalError, PoolTimeout)):
            services(self.app).metrics.inc("scanapp_database_errors_total")
            log.error("database unavailable on %s %s: %s", METHOD, path, type(exc).__name__)
            status, code, message, headers = DATABASE_UNAVAILABLE
            return status, error_body(status, code, message), error_headers(status, headers)
        log.exception("unhandled error on %s %s", METHOD, path, exc_info=exc)
        status, code, message = INTERNAL_ERROR
        return status, error_body(status, code, message), error_headers(status)

    def _headers(self, environ: dict, extra: dict) -> list[tuple[str, str]]:
        headers = [("Content-Type", "application/json"), *extra.items(), *self._cors]
        present = {name.lower() for name, _value in headers}
        headers.extend(missing_security_headers(self.app.config, present, environ))
        return headers

    def _json(self, body: dict) -> bytes:
        """The bytes Flask's ``jsonify`` sends for ``body`` with this app's JSON settings."""
        provider = self.app.json
        if (provider.compact is None and self.app.debug) or provider.compact is False:
            text = provider.dumps(body, indent=2)
        else:
            text = provider.dumps(body, separators=(",", ":"))
        return (text + "\n").encode()


def _status_line(status: int) -> str:
    return f"{status} {HTTP_STATUS_CODES.get(status, 'unknown').upper()}"


# werkzeug's status lines (upper-case phrases), for the statuses this route answers.
_STATUS_LINES = {status: _status_line(status)
                 for status in (200, 400, 401, 403, 404, 409, 413, 422, 429, 500, 503)}


def install(app: Flask) -> None:
    """Put the lean route in front of Flask (call before ProxyFix wraps ``app.wsgi_app``)."""
    app.wsgi_app = LeanScanRoute(app, app.wsgi_app)  # type: ignore[method-assign]
