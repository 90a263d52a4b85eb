"""Domain errors and the one table that maps them to HTTP statuses.

Services raise the exceptions below and know nothing of HTTP. ``HTTP_STATUS`` gives each
kind of error its one status; a subclass (``InvalidSerial``, ``LinkTypeNotFound``) is
answered like the kind it extends. There is no fallback: raising ``DomainError`` itself, or
a class outside the table's kinds, is a programming error (500, logged), and
tests/test_errors.py checks every subclass in the package. JSON answers and HTML pages
(the inspectors' dashboard) take their status from the same table (``status_for``).

Every JSON error has the same shape: ``{"status": 404, "code": "not_found", "message":
"..."}`` with an optional ``errors`` object for field-level validation detail.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from flask import Flask, jsonify, request
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details


class InvalidInput(DomainError):
    """Well-formed but unacceptable input (a field's value): 422."""

    code = "invalid_input"


class MalformedRequest(DomainError):
    """The request itself cannot be read (bad encoding, NUL bytes, too deep, a Digital Link
    URI that is not one): 400."""

    code = "bad_request"


class PayloadTooLarge(DomainError):
    code = "payload_too_large"


class NotFound(DomainError):
    code = "not_found"


class AuthenticationRequired(DomainError):
    code = "authentication_required"


class PermissionDenied(DomainError):
    code = "forbidden"


class Conflict(DomainError):
    code = "conflict"


class Unavailable(DomainError):
    code = "unavailable"


class RateLimited(DomainError):
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after_s: float, code: str | None = None):
        super().__init__(message, code=code)
        self.headers = {"Retry-After": str(max(math.ceil(retry_after_s), 1))}


HTTP_STATUS: dict[type[DomainError], int] = {
    MalformedRequest: 400,
    AuthenticationRequired: 401,
    PermissionDenied: 403,
    NotFound: 404,
    Conflict: 409,
    PayloadTooLarge: 413,
    InvalidInput: 422,
    RateLimited: 429,
    Unavailable: 503,
}


def status_for(exc: DomainError | type[DomainError]) -> int:
    """The one HTTP status of a domain error (by its kind: the nearest class in the table)."""
    cls = exc if isinstance(exc, type) else type(exc)
    for kind in cls.__mro__:
        if kind in HTTP_STATUS:
            return HTTP_STATUS[kind]
    raise TypeError(f"{cls.__name__} is not a kind of error in errors.HTTP_STATUS; "
                    "derive it from one of them")


def domain_error_response(exc: DomainError):
    """The JSON answer for a domain error: its status from the table, its code and message."""
    return error_response(status_for(exc), exc.code, exc.message, exc.details,
                          headers=getattr(exc, "headers", None))


def error_body(status: int, code: str, message: str, errors: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"status": status, "code": code, "message": message}
    if errors:
        body["errors"] = errors
    return body


def error_headers(status: int, headers=None) -> dict[str, str]:
    """The headers an error answer adds to its JSON body (the lean scan route's too)."""
    extra = {"WWW-Authenticate": 'Bearer realm="scanapp"'} if status == 401 else {}
    if headers:
        extra.update(headers)
    return extra


def domain_error_parts(exc: DomainError) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, JSON body and headers of a domain error's answer, without Flask: the one
    definition behind ``domain_error_response`` and the lean scan route (scan/lean.py)."""
    status = status_for(exc)
    return (status, error_body(status, exc.code, exc.message, exc.details),
            error_headers(status, getattr(exc, "headers", None)))


DATABASE_UNAVAILABLE = (503, "database_unavailable",
                        "The database is not reachable right now; try again shortly.",
                        {"Retry-After": "5"})
INTERNAL_ERROR = (500, "internal_error", "Something went wrong on our side.")


def error_response(status: int, code: str, message: str, errors: Any = None, headers=None):
    response = jsonify(error_body(status, code, message, errors))
    response.status_code = status
    extra = error_headers(status, headers)
    if extra:
        response.headers.update(extra)
    return response


def _http_code(exc: HTTPException) -> str:
    name = (exc.name or "error").lower()
    return "".join(ch if ch.isalnum() else "_" for ch in name).strip("_")


# A body with 80,000 unknown keys must not earn an 80,000-entry answer (2.2 MB, issue 15
# item 6): the first few say what is wrong, a count says how much more.
MAX_LISTED_ERRORS = 20


def cap_errors(errors: Any, limit: int = MAX_LISTED_ERRORS) -> Any:
    """``errors`` with at most ``limit`` entries per level, plus how many were left out."""
    if isinstance(errors, dict):
        items = list(errors.items())
        capped = {key: cap_errors(value, limit) for key, value in items[:limit]}
        if len(items) > limit:
            capped["_more"] = f"{len(items) - limit} more fields have errors"
        return capped
    if isinstance(errors, list):
        capped_list = [cap_errors(value, limit) for value in errors[:limit]]
        if len(errors) > limit:
            capped_list.append(f"{len(errors) - limit} more errors")
        return capped_list
    return errors


def http_exception_response(exc: HTTPException):
    """JSON for werkzeug's HTTP errors, including webargs' 422 with field messages."""
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages") if isinstance(data, dict) else None
    status = exc.code or 500
    if status == 422 and messages:
        # Flatten {"json": {...}} / {"query": {...}} to the field map a client can show.
        errors = messages
        if isinstance(messages, dict) and len(messages) == 1:
            errors = next(iter(messages.values()))
        return error_response(422, "validation_error", "The request body or query is invalid.",
                              cap_errors(errors))
    headers = None
    if status in (405, 429):
        headers = {k: v for k, v in exc.get_response().headers.items()
                   if k in ("Allow", "Retry-After") or k.startswith("X-RateLimit")}
    return error_response(status, _http_code(exc), exc.description or exc.name, headers=headers)


def register_errorhandlers(app: Flask) -> None:
    app.register_error_handler(DomainError, domain_error_response)

    app.register_error_handler(HTTPException, http_exception_response)

    @app.errorhandler(OperationalError)
    @app.errorhandler(PoolTimeout)
    def _database_down(exc: Exception):
        from .services import services

        services().metrics.inc("scanapp_database_errors_total")
        log.error("database unavailable on %s %s: %s", request.method, request.path,
                  type(exc).__name__)
        status, code, message, headers = DATABASE_UNAVAILABLE
        return error_response(status, code, message, headers=headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(*INTERNAL_ERROR)
