"""Defences every response and request gets, whatever blueprint serves it.

- Security headers on every response; HTML gets a strict Content-Security-Policy.
- Request limits checked before any view runs: an oversized body is a 413 (public
  endpoints marked with ``body_limit`` take far less than the API's limit), a JSON body
  nested deeper than ``MAX_JSON_DEPTH``, a text body that is not UTF-8 or any NUL character
  is a 400, a path id no table can hold is a 404, all in the service's JSON error shape.
- Values the database itself refuses (a number out of a column's range) are a 422, not a
  500: a last line behind the schemas, which cannot know every column's width.
- The client address: the socket's, or the one the trusted proxies (``PROXY_HOPS``)
  report; IPv6 clients are counted by their /64 (``client_network``).
- ``metrics_guard``: /metrics only for the scrape network (``METRICS_ALLOW_CIDRS``) or
  the scrape token (``METRICS_TOKEN``), never readable cross-origin.
- A log record factory that keeps API keys, secrets, PINs and raw device ids out of every
  log line, whichever logger or handler writes it.

Decisions (see docs/RELIABILITY.md):
- ``script-src`` is strict: same-origin files, plus a per-request nonce for pages that
  render ``<script nonce="{{ csp_nonce() }}">``. No ``unsafe-inline``, no ``unsafe-eval``.
- ``style-src`` allows inline CSS: the scan page inlines its CSS so one round trip on 3G
  draws it, and pages draw inline SVG with style attributes. Injected CSS cannot run code;
  every template escapes its output anyway; scripts are where XSS lives.
- ``img-src`` allows ``https:`` because products carry an image URL on the brand's host.
- Geolocation is allowed for the page's own origin only (the scan page asks for it);
  camera, microphone, payment and USB are off.
- The Swagger UI page (a third-party template with one fixed inline script and no
  user data in it) gets that script's hash, not a blanket exception.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import ipaddress
import logging
import re
import secrets
import threading
from itertools import accumulate

from flask import Flask, Response, current_app, g, request
from sqlalchemy.exc import DataError

from .errors import (
    InvalidInput,
    MalformedRequest,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    domain_error_response,
)

# Deeper JSON than this is refused before parsing: no real payload of this API nests more
# than a few levels, and Python's parser and marshmallow recurse per level.
MAX_JSON_DEPTH = 32

# Every table's id is an INTEGER (32-bit in PostgreSQL): a larger id in a path names nothing,
# and would make the database raise instead of answering "not found".
MAX_PATH_ID = 2**31 - 1

# Bodies whose bytes are text: they must decode as UTF-8 (multipart may carry binary files).
_TEXT_MIMETYPES = ("application/x-www-form-urlencoded", "text/")

# Endpoints that render a vendored template whose inline script is trusted (no user data).
TRUSTED_INLINE_SCRIPT_ENDPOINTS = frozenset({"api-docs.openapi_swagger_ui"})

PERMISSIONS_POLICY = ", ".join((
    "geolocation=(self)", "camera=()", "microphone=()", "payment=()", "usb=()",
    "magnetometer=()", "gyroscope=()", "accelerometer=()",
))

# For JSON and everything else that is not a page: nothing may load, nothing may frame it.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"


def page_csp(script_sources: list[str]) -> str:
    scripts = " ".join(["'self'", *script_sources])
    return "; ".join((
        "default-src 'none'",
        f"script-src {scripts}",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: https:",
        "font-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ))


def csp_nonce() -> str:
    """The request's script nonce; templates use ``<script nonce="{{ csp_nonce() }}">``."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def _inline_script_hashes(body: bytes) -> list[str]:
    digests = (hashlib.sha256(m.group(1)).digest() for m in _INLINE_SCRIPT.finditer(body))
    return [f"'sha256-{base64.b64encode(d).decode()}'" for d in digests]


# Sent on every response unless a view set its own value.
_DEFAULT_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    # Stamp URIs carry the serial in the path: do not hand it to other sites on a click.
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Permissions-Policy", PERMISSIONS_POLICY),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    if g.get("scanapp_same_origin_only"):
        _strip_cors(response)
    # One pass over the response's headers instead of a lookup per header: werkzeug's
    # Headers is a list, and this runs on every response (~4 % of a scan, profiled).
    present = {key.lower() for key, _value in headers.items()}
    csp = None
    if "content-security-policy" not in present and response.mimetype == "text/html":
        sources = []
        if "csp_nonce" in g:
            sources.append(f"'nonce-{g.csp_nonce}'")
        if (request.endpoint in TRUSTED_INLINE_SCRIPT_ENDPOINTS
                and not response.direct_passthrough):
            sources.extend(_inline_script_hashes(response.get_data()))
        csp = page_csp(sources)
    headers.extend(missing_security_headers(current_app.config, present, request.environ, csp))
    return response


def missing_security_headers(config, present: set[str], environ: dict,
                             csp: str | None = None) -> list[tuple[str, str]]:
    """The security headers a response whose (lower-case) header names are ``present``
    still needs; ``csp`` is a page's policy (None: the API's). The lean scan route
    (scan/lean.py) sends exactly these too."""
    missing = [(k, v) for k, v in _DEFAULT_HEADERS if k.lower() not in present]
    if "content-security-policy" not in present:
        missing.append(("Content-Security-Policy", csp or API_CSP))
    # A response to a keyed request may hold a freshly issued key or another org's data:
    # no shared cache, no browser cache.
    if "cache-control" not in present and "HTTP_AUTHORIZATION" in environ:
        missing.append(("Cache-Control", "no-store"))
    if ("strict-transport-security" not in present and config.get("PRODUCTION")
            and config.get("PUBLIC_BASE_URL", "").startswith("https://")):
        missing.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    return missing


# A \uD800-\uDFFF escape (an odd number of backslashes before the u: not an escaped
# backslash followed by the letter u).
_SURROGATE_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u([dD][89a-fA-F][0-9a-fA-F]{2})")
# A \u0000 escape, by the same rule: "\\u0000" is a backslash and the text "u0000".
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def lone_surrogate_escape(text: str) -> bool:
    """True when the JSON text escapes a UTF-16 surrogate that is not half of a pair
    (a high one directly followed by a low one), which json.loads would keep as a lone
    surrogate."""
    low_due_at = -1  # where a high surrogate's low half must start
    for match in _SURROGATE_ESCAPE.finditer(text):
        at = match.start(1) - 2
        if int(match.group(1), 16) >= 0xDC00:
            if at != low_due_at:
                return True
            low_due_at = -1
        elif low_due_at != -1:
            return True
        else:
            low_due_at = match.end()
    return low_due_at != -1


# A JSON string, escapes included, or an unterminated one running to the end of the text:
# possessive, so a body of a million characters is matched in C without backtracking.
_JSON_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]++")
_BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_depth_exceeds(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when brackets nest deeper than ``limit`` outside strings (without parsing)."""
    # Fast path: a body with fewer brackets than the limit cannot nest that deep.
    if text.count("[") + text.count("{") <= limit:
        return False
    # Strings out, then everything but brackets: what is left is a few percent of a large
    # document, whose running depth is summed in C (a character loop in Python cost 22 us
    # for each event of a 900 KB EPCIS document). Without a backslash no quote is escaped,
    # and every other piece between quotes is outside the strings.
    outside = "".join(text.split('"')[::2]) if "\\" not in text \
        else _JSON_STRING.sub("", text)
    brackets = _NOT_BRACKET.sub("", outside)
    return max(accumulate(map(_BRACKET_STEP.__getitem__, brackets)), default=0) > limit


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json"))


def check_request():
    """Refuse hostile requests before a view parses them."""
    for value in (request.view_args or {}).values():
        if isinstance(value, int) and not -MAX_PATH_ID <= value <= MAX_PATH_ID:
            raise NotFound(f"nothing has the id {value}")
    # NUL is never part of a name, note or code, and PostgreSQL text cannot hold it.
    if b"%00" in request.query_string or "\x00" in request.path:
        raise MalformedRequest("the URL contains a NUL character", code="nul_character")
    return check_request_body()


def body_limit(setting: str = "PUBLIC_MAX_CONTENT_LENGTH"):
    """Mark a view (function or MethodView class) as taking bodies of at most the size in
    config ``setting``: the anonymous endpoints, whose bodies are small by nature and whose
    callers nobody vouches for."""
    def mark(view):
        view.scanapp_body_limit = setting
        return view
    return mark


def body_limit_for(app: Flask, endpoint: str) -> int | None:
    """The largest body ``endpoint`` takes: the API's limit, the smaller one of a
    ``body_limit`` view, or the endpoint's own in ``BODY_LIMITS`` (the lean scan route asks
    the same question, scan/lean.py)."""
    config = app.config
    # An endpoint may allow more (a report's photo): BODY_LIMITS maps endpoint -> bytes.
    own = config.get("BODY_LIMITS", {}).get(endpoint)
    if own:
        return own
    limit = config.get("MAX_CONTENT_LENGTH")
    view = app.view_functions.get(endpoint)
    setting = getattr(getattr(view, "view_class", view), "scanapp_body_limit", None)
    if setting:
        smaller = config.get(setting)
        limit = min(limit, smaller) if limit and smaller else (smaller or limit)
    return limit


def check_request_body():
    """Refuse bodies that are too big, too deep or not text."""
    limit = body_limit_for(current_app, request.endpoint or "")
    if limit:
        # werkzeug then stops reading a chunked body at this size too.
        request.max_content_length = limit
    length = request.content_length
    if limit and length is not None and length > limit:
        raise PayloadTooLarge(f"the request body is {length} bytes; the limit is {limit}")
    mimetype = request.mimetype or ""
    is_json = _is_json(mimetype)
    is_text = is_json or mimetype.startswith(_TEXT_MIMETYPES)
    if not is_text and length is not None:
        return None
    # Cached: the view's parser (webargs, request.form) reads the same bytes again.
    data = request.get_data(cache=True)
    if limit and length is None and len(data) >= limit:
        # A chunked body: werkzeug stops reading at the limit and would hand the view a
        # silently truncated body; the limit is a maximum, so say so.
        raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes")
    if not data or not is_text:
        return None
    check_body_text(data, is_json)
    return None


def check_body_text(data: bytes, is_json: bool) -> str:
    """The text of a body that must be text: refused when it is not UTF-8, holds a NUL
    character or (JSON) nests deeper than ``MAX_JSON_DEPTH``. Flask's requests and the
    lean scan route (scan/lean.py) both go through here."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedRequest(f"the request body is not valid UTF-8 (byte {exc.start})",
                               code="invalid_encoding") from None
    if "\x00" in text or (is_json and "\\u0000" in text and _NUL_ESCAPE.search(text)):
        raise MalformedRequest("the request body contains a NUL character",
                               code="nul_character")
    if is_json and "\\u" in text and lone_surrogate_escape(text):
        # JSON's \ud800 decodes to a str no UTF-8 encoder takes: the answer echoing it, a
        # keyed hash of it or the database would fail with a 500 (issue 20, found by the
        # lean route's tests).
        raise MalformedRequest("the request body escapes an unpaired UTF-16 surrogate",
                               code="invalid_encoding")
    if is_json and json_depth_exceeds(text):
        raise MalformedRequest(f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels",
                               code="json_too_deep")
    return text


# --- log hygiene -------------------------------------------------------------------------

REDACTED = "[redacted]"

_KEY_LIKE = re.compile(r"\b(sa_[0-9a-f]{10})_[A-Za-z0-9_\-]{8,}")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s'\",;}]+")
# name=value, name: value, "name": "value" for names whose values must never be logged.
_SENSITIVE_FIELD = re.compile(
    r"""(?ix)
    (?<![a-z0-9])
    (pin|pin_code|device_?id|device|x-device-id|secret|[a-z_]*_secret|secret_key|
     serial_key|pin_key|api_?key|password|token|authorization|webhook_secret)
    (["']?\s*[:=]\s*["']?)
    ([^\s"'&,;}\]]+)
    """)
# Known secret values (every app's configured keys), replaced wherever they appear.
_secret_values: set[str] = set()
_secret_lock = threading.Lock()


def remember_secrets(values) -> None:
    with _secret_lock:
        for value in values:
            if isinstance(value, str) and len(value) >= 8:
                _secret_values.add(value)


def redact(text: str) -> str:
    """Remove API keys, bearer tokens, secret values, PINs and device ids from ``text``."""
    if not text:
        return text
    for value in tuple(_secret_values):
        if value in text:
            text = text.replace(value, REDACTED)
    text = _KEY_LIKE.sub(r"\1_" + REDACTED, text)
    text = _BEARER.sub(r"\1" + REDACTED, text)
    return _SENSITIVE_FIELD.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)


def install_log_redaction() -> None:
    """Redact every log record at creation, so no handler or formatter can leak."""
    with _secret_lock:
        current = logging.getLogRecordFactory()
        if getattr(current, "_scanapp_redacting", False):
            return
        previous = current

        def factory(*args, **kwargs):
            record = previous(*args, **kwargs)
            try:
                message = record.getMessage()
            except Exception:  # a broken format string: leave it for the handler to report
                return record
            record.msg, record.args = redact(message), None
            if record.exc_info and not record.exc_text:
                record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            return record

        factory._scanapp_redacting = True  # type: ignore[attr-defined]
        logging.setLogRecordFactory(factory)


# --- client addresses ----------------------------------------------------------------------

def trust_proxies(app: Flask) -> None:
    """Take the client address from the ``PROXY_HOPS`` proxies in front of the app.

    Only X-Forwarded-For and -Proto: the Host header is never believed (links are built
    from PUBLIC_BASE_URL), nor -Port or -Prefix, which nothing here needs.
    """
    hops = app.config.get("PROXY_HOPS", 0)
    if hops < 0:
        from .config import ConfigError

        raise ConfigError(f"SCANAPP_PROXY_HOPS must be 0 or more, not {hops}")
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops,  # type: ignore[method-assign]
                                x_host=0, x_port=0, x_prefix=0)


@functools.lru_cache(maxsize=8192)
def client_network(address: str) -> str:
    """The unit one client controls: an IPv4 address, or an IPv6 address's /64.

    An ISP hands each IPv6 subscriber at least a /64 (RFC 6177), so counting single
    addresses would give one phone 2^64 rate-limit buckets and device identities.
    IPv4-mapped IPv6 addresses count as the IPv4 address they carry.
    """
    if ":" not in address:
        return address
    try:
        ip = ipaddress.IPv6Address(address.split("%", 1)[0])
    except ValueError:
        return address
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))


# --- /metrics ------------------------------------------------------------------------------

def metrics_access_refused() -> Response | None:
    """None when the request may read the metrics, else the refusal.

    Allowed: a client address inside ``METRICS_ALLOW_CIDRS`` (comma-separated; loopback by
    default, where a Prometheus on the same host scrapes gunicorn directly), or
    ``Authorization: Bearer <METRICS_TOKEN>`` when a token is set. The address is the one
    ProxyFix settled on, so a client behind the proxy cannot claim the proxy's loopback.
    """
    config = current_app.config
    token = config.get("METRICS_TOKEN") or ""
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and secrets.compare_digest(
            header[len("Bearer "):].strip().encode(), token.encode()):
        return None
    try:
        address = ipaddress.ip_address((request.remote_addr or "").split("%", 1)[0])
    except ValueError:
        address = None
    if address is not None and any(address in network
                                   for network in _networks(config.get("METRICS_ALLOW_CIDRS", ""))):
        return None
    return domain_error_response(PermissionDenied(
        "the metrics are for the configured scrape network or token only",
        code="metrics_forbidden"))


@functools.lru_cache(maxsize=8)
def _networks(text: str) -> tuple:
    return tuple(ipaddress.ip_network(part.strip(), strict=False)
                 for part in text.split(",") if part.strip())


def metrics_guard(view):
    """Apply to the /metrics route: refuses whoever ``metrics_access_refused`` refuses, and
    the answer carries no CORS headers, whatever the route's blueprint adds."""
    @functools.wraps(view)
    def guarded(*args, **kwargs):
        g.scanapp_same_origin_only = True
        refused = metrics_access_refused()
        if refused is not None:
            return refused
        return view(*args, **kwargs)
    return guarded


def _strip_cors(response: Response) -> None:
    for name in [k for k in response.headers.keys() if k.lower().startswith("access-control-")]:
        del response.headers[name]


def register_security(app: Flask) -> None:
    trust_proxies(app)
    remember_secrets(app.config.get(name) for name in ("SECRET_KEY", "SERIAL_KEY", "PIN_KEY"))
    install_log_redaction()
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.before_request(check_request)
    app.after_request(add_security_headers)
    app.register_error_handler(DataError, _value_refused)
    # SQLite's driver raises this for an integer wider than 64 bits, before any SQL runs.
    app.register_error_handler(OverflowError, _value_refused)


# Values the database itself refuses (the lean scan route maps them the same way).
VALUE_REFUSED = (DataError, OverflowError)


def value_refused(method: str, path: str, exc: Exception) -> InvalidInput:
    logging.getLogger(__name__).warning("database refused a value on %s %s: %s",
                                        method, path, type(exc).__name__)
    return InvalidInput(
        "a value in the request cannot be stored (a number too large, or characters the "
        "database does not accept)", code="value_out_of_range")


def _value_refused(exc: Exception):
    return domain_error_response(value_refused(request.method, request.path, exc))
