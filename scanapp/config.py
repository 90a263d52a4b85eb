"""Settings: every ``SCANAPP_*`` environment variable is read here, once, at start.

Each variable is parsed into its type by one of the ``_env_*`` readers below; a value that
does not parse stops the app with a ``ConfigError`` naming the variable. Nothing else in
``scanapp`` reads ``os.environ``: packages read ``app.config`` (tests/test_settings.py
greps for both, and for README's table listing every variable read here).

With nothing set the service runs on its embedded default: a SQLite file in the instance
folder, no Redis, and development secrets generated once and kept in the instance folder
(so stamps issued yesterday still verify today). In production mode every secret must come
from the environment and the app refuses to start without it.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

PREFIX = "SCANAPP_"

# Secrets that production must provide; each protects something different, so they are
# separate keys (a leaked session key must not let anyone forge stamps).
SECRET_SETTINGS = {
    "SECRET_KEY": "signs session cookies and CSRF tokens; keys the privacy hashes",
    "SERIAL_KEY": "master key from which the serial-signing keys are derived",
    "PIN_KEY": "derives the scratch-off PINs",
}


# Production start checks (issue 15, items 13 and 14). A secret is text of at least this many
# characters: secrets.token_urlsafe(32), 32 random bytes, is 43 characters long.
MIN_SECRET_CHARS = 43
GENERATE_SECRET = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'
_LOOPBACK_HOSTS = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


class ConfigError(RuntimeError):
    """The service cannot start with the configuration it was given."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_bool(value: str | bool, name: str = "value") -> bool:
    """The one true/false parser: 1/true/yes/on and 0/false/no/off; anything else is an
    error rather than a silent False (a typo in ``SCANAPP_RATELIMIT_ENABLED`` must not turn
    rate limiting off)."""
    if isinstance(value, bool):
        return value
    folded = value.strip().lower()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise ConfigError(f"{name} must be one of 1/true/yes/on or 0/false/no/off, not {value!r}")


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(PREFIX + name)
    return value if value not in (None, "") else default


def _env_bool(name: str, default: bool) -> bool:
    raw = _env(name)
    return default if raw is None else parse_bool(raw, PREFIX + name)


def _env_number(name: str, kind: type, default, minimum=None):
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name} must be {'an integer' if kind is int else 'a number'}"
                          f", not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{PREFIX}{name} must be at least {minimum}, not {raw!r}")
    return value


def _env_int(name: str, default: int, minimum: int | None = 0) -> int:
    return _env_number(name, int, default, minimum)


def _env_float(name: str, default: float, minimum: float | None = 0.0) -> float:
    return _env_number(name, float, default, minimum)


def _env_rate(name: str, default: str) -> str:
    """A Flask-Limiter rate string such as ``120/minute``, checked now, not on first use."""
    raw = _env(name, default)
    from limits import parse_many

    try:
        parse_many(raw)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name} must be a rate like 120/minute, not {raw!r}") from None
    return raw


def _dev_secrets(instance_path: Path) -> dict[str, str]:
    path = instance_path / "dev-secrets.json"
    if path.exists():
        stored = json.loads(path.read_text())
    else:
        stored = {}
    missing = [name for name in SECRET_SETTINGS if name not in stored]
    if missing:
        for name in missing:
            stored[name] = secrets.token_urlsafe(32)
        instance_path.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
    return stored


def load_settings(instance_path: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the Flask config mapping from the environment, then apply ``overrides``."""
    overrides = dict(overrides or {})
    instance = Path(instance_path)
    env = overrides.get("ENV") or _env("ENV", "development")
    if env not in ("development", "testing", "production"):
        raise ConfigError(f"{PREFIX}ENV must be development, testing or production, "
                          f"not {env!r}")
    production = env == "production"

    settings: dict[str, Any] = {
        "ENV": env,
        "PRODUCTION": production,
        "DATABASE_URL": _env("DATABASE_URL", f"sqlite:///{instance / 'scanapp.db'}"),
        # A PostgreSQL schema to live in; lets tests and several deployments share a database.
        "DATABASE_SCHEMA": _env("DATABASE_SCHEMA"),
        "DATABASE_POOL_SIZE": _env_int("DATABASE_POOL_SIZE", 10, minimum=1),
        "REDIS_URL": _env("REDIS_URL"),
        "REDIS_CLUSTER": _env_bool("REDIS_CLUSTER", False),
        "REDIS_PREFIX": _env("REDIS_PREFIX", "scanapp"),
        # Printed into every stamp. Production has no default: a stamp pointing at a
        # development address is waste paper (check_production).
        "PUBLIC_BASE_URL": (_env("PUBLIC_BASE_URL", "" if production
                                 else "http://127.0.0.1:5000")).rstrip("/"),
        # Tables are created automatically only for the embedded first run; production
        # runs migrations explicitly with `flask --app scanapp db upgrade`.
        "AUTO_MIGRATE": _env_bool("AUTO_MIGRATE", not production),
        # One window per address: each limit costs the scan a Redis round trip, and 120 a
        # minute already caps one address at 7,200 an hour (docs/SCAN.md, "Rate limiting").
        "RATELIMIT_SCAN": _env_rate("RATELIMIT_SCAN", "120/minute"),
        "RATELIMIT_DEVICE": _env_rate("RATELIMIT_DEVICE", "60/minute"),
        "RATELIMIT_DEVICE_ON_SCANS": _env_bool("RATELIMIT_DEVICE_ON_SCANS", False),
        # PIN checks per client address, whatever device id the client declares (a PIN
        # is checked once per purchase; this still leaves room for a shop or a carrier NAT).
        "RATELIMIT_PIN_ADDRESS": _env_rate("RATELIMIT_PIN_ADDRESS", "20/minute;200/day"),
        # Per-code lockout: this many wrong PINs on one code within PIN_LOCKOUT_S refuse
        # every further check of that code until the oldest of them is PIN_LOCKOUT_S old.
        "PIN_LOCKOUT_FAILURES": _env_int("PIN_LOCKOUT_FAILURES", 10, minimum=1),
        "PIN_LOCKOUT_S": _env_int("PIN_LOCKOUT_S", 3600, minimum=1),
        # The lots' Circular 02/2024 documents pushed to the national portal
        # (scanapp/trace/portal.py); none: they wait in their outbox.
        "TRACE_PORTAL_URL": _env("TRACE_PORTAL_URL"),
        "TRACE_PORTAL_AUTHORIZATION": _env("TRACE_PORTAL_AUTHORIZATION"),
        "TRACE_PORTAL_BATCH": _env_int("TRACE_PORTAL_BATCH", 100, minimum=1),
        # A .ttf with Vietnamese glyphs for the authorities' PDF report; none: DejaVu Sans.
        "AUTHORITY_PDF_FONT": _env("AUTHORITY_PDF_FONT"),
        # Consumer reports filed per address (the stamp page's form and the public API).
        "RATELIMIT_REPORT": _env_rate("RATELIMIT_REPORT", "10/hour;30/day"),
        # Write fraud flags after the answer (production) or inside the request.
        "SCAN_FLAGS_IN_BACKGROUND": _env_bool("SCAN_FLAGS_IN_BACKGROUND", production),
        # A page reload (or a second tap) by the same device this soon is the same scan.
        "SCAN_RELOAD_WINDOW_S": _env_float("SCAN_RELOAD_WINDOW_S", 60.0),
        # Redis keeps a code's state this long after its last scan, then loads it again
        # from its summary row on demand (0: never expires). docs/SCAN.md "Recovery".
        "SCAN_STATE_TTL_S": _env_int("SCAN_STATE_TTL_S", 14 * 86400),
        # Each Redis bucket's membership filter (scan/membership.py): bits per bucket (0:
        # off; every code missing in Redis then reads its summary) and positions per code.
        # 2^20 bits x 1024 buckets = 128 MiB, 0.8 % false positives at 105,000 codes a
        # bucket (~110 million codes); docs/SCALING.md sizes it.
        "SCAN_FILTER_BITS": _env_int("SCAN_FILTER_BITS", 1 << 20, minimum=0),
        "SCAN_FILTER_HASHES": _env_int("SCAN_FILTER_HASHES", 7, minimum=1),
        # Raw scan_events kept this many whole months on PostgreSQL (0: forever); older
        # monthly partitions are dropped by the worker. Summaries and daily counts stay.
        "SCAN_RETENTION_MONTHS": _env_int("SCAN_RETENTION_MONTHS", 0),
        # Monthly scan_events partitions created ahead of time by the worker.
        "SCAN_PARTITIONS_AHEAD": _env_int("SCAN_PARTITIONS_AHEAD", 3, minimum=1),
        # Share commits between concurrent scans; unset: on for PostgreSQL (scan/sink.py).
        "SCAN_GROUP_COMMIT": (None if _env("SCAN_GROUP_COMMIT") is None
                              else _env_bool("SCAN_GROUP_COMMIT", False)),
        "RATELIMIT_ENABLED": _env_bool("RATELIMIT_ENABLED", True),
        "MAX_CONTENT_LENGTH": _env_int("MAX_CONTENT_LENGTH", 1024 * 1024, minimum=1),
        # Province boundary polygons (regions/geo.py); none: the embedded anchor lookup.
        "PROVINCES_GEOJSON": _env("PROVINCES_GEOJSON"),
        # EPCIS push to the portal (docs/EPCIS.md): none means events stay in the outbox.
        "EPCIS_CAPTURE_URL": _env("EPCIS_CAPTURE_URL"),
        "EPCIS_CAPTURE_AUTHORIZATION": _env("EPCIS_CAPTURE_AUTHORIZATION"),
        "EPCIS_PUSH_INTERVAL": _env_float("EPCIS_PUSH_INTERVAL", 5.0),
        "EPCIS_PUSH_BATCH": _env_int("EPCIS_PUSH_BATCH", 500, minimum=1),
        "EPCIS_PUSH_MAX_BYTES": _env_int("EPCIS_PUSH_MAX_BYTES", 4_000_000, minimum=1),
        "EPCIS_PUSH_TIMEOUT": _env_float("EPCIS_PUSH_TIMEOUT", 20.0),
        "EPCIS_RETRY_BASE": _env_float("EPCIS_RETRY_BASE", 5.0),
        "EPCIS_RETRY_MAX": _env_float("EPCIS_RETRY_MAX", 3600.0),
        "EPCIS_NAMESPACE": _env("EPCIS_NAMESPACE"),  # none: {PUBLIC_BASE_URL}/ns/epcis#
        # Capture binding limits (/epcis/capture: 413 beyond them; docs/EPCIS.md).
        "EPCIS_CAPTURE_MAX_EVENTS": _env_int("EPCIS_CAPTURE_MAX_EVENTS", 10_000, minimum=1),
        "EPCIS_CAPTURE_MAX_BYTES": _env_int("EPCIS_CAPTURE_MAX_BYTES", 8_000_000, minimum=1),
        # Brand webhooks (fraud/webhooks.py).
        "WEBHOOK_BACKOFF_BASE_S": _env_float("WEBHOOK_BACKOFF_BASE_S", 2.0),
        "WEBHOOK_BACKOFF_MAX_S": _env_float("WEBHOOK_BACKOFF_MAX_S", 3600.0),
        "WEBHOOK_MAX_ATTEMPTS": _env_int("WEBHOOK_MAX_ATTEMPTS", 12, minimum=1),
        "WEBHOOK_TIMEOUT_S": _env_float("WEBHOOK_TIMEOUT_S", 5.0),
        "WEBHOOK_POLL_S": _env_float("WEBHOOK_POLL_S", 1.0),
        # Brands must not make this service call into its own network (SSRF); tests and the
        # embedded demo deliver to 127.0.0.1, so only production forbids it by default.
        "WEBHOOK_ALLOW_PRIVATE": _env_bool("WEBHOOK_ALLOW_PRIVATE", not production),
        # prometheus_client's own variable (set by gunicorn.conf.py): metrics of every worker
        # are summed from files in this directory (scanapp/metrics.py).
        "PROMETHEUS_MULTIPROC_DIR": os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None,
        # Reverse proxies in front of the app whose X-Forwarded-For/-Proto entries are
        # believed (werkzeug ProxyFix). 0 trusts none: the client address is the socket's.
        # Behind the documented nginx it is 1; more only when a CDN or load balancer adds
        # its own hop, since every trusted hop is an address a client could otherwise forge.
        "PROXY_HOPS": _env_int("PROXY_HOPS", 0),
        # Anonymous endpoints marked with security.body_limit (scan, PIN check): a scan body
        # is a code, a device id and three numbers, far below this.
        "PUBLIC_MAX_CONTENT_LENGTH": _env_int("PUBLIC_MAX_CONTENT_LENGTH", 4096, minimum=1),
        # Budgets per API key and organisation (scanapp/quotas.py, serials/service.py): far
        # above a real printer's day, low enough that one key cannot load the server.
        "RATELIMIT_API": _env_rate("RATELIMIT_API", "1200/minute"),
        "RANGE_MAX_QUANTITY": _env_int("RANGE_MAX_QUANTITY", 10_000_000, minimum=1),
        "ISSUE_CODES_PER_DAY": _env_int("ISSUE_CODES_PER_DAY", 50_000_000),
        "DOWNLOAD_CODES_PER_DAY": _env_int("DOWNLOAD_CODES_PER_DAY", 100_000_000),
        # Brands without a declared GS1 company prefix register no product (products/
        # service.py); the demo and tests run without prefixes.
        "REQUIRE_GS1_PREFIX": _env_bool("REQUIRE_GS1_PREFIX", production),
        # Who may read /metrics (security.metrics_guard): these networks, or this token.
        "METRICS_ALLOW_CIDRS": _env("METRICS_ALLOW_CIDRS", "127.0.0.0/8,::1/128"),
        "METRICS_TOKEN": _env("METRICS_TOKEN"),
        # Inspectors' dashboard sessions (server-side, fraud/dashboard.py).
        "DASHBOARD_IDLE_TIMEOUT_S": _env_int("DASHBOARD_IDLE_TIMEOUT_S", 1800, minimum=1),
        "DASHBOARD_MAX_AGE_S": _env_int("DASHBOARD_MAX_AGE_S", 12 * 3600, minimum=1),
        "API_TITLE": "scanapp",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_SWAGGER_UI_PATH": "/docs",
        "OPENAPI_SWAGGER_UI_URL": "/api/docs/static/",
        "JSON_SORT_KEYS": False,
    }

    for name in SECRET_SETTINGS:
        settings[name] = _env(name)

    settings.update(overrides)
    if not settings.get("EPCIS_NAMESPACE"):
        settings["EPCIS_NAMESPACE"] = f"{settings['PUBLIC_BASE_URL']}/ns/epcis#"

    if production:
        check_production(settings)
    missing = [name for name in SECRET_SETTINGS if not settings.get(name)]
    if missing:
        generated = _dev_secrets(instance)
        for name in missing:
            settings[name] = generated[name]
    return settings


def check_production(settings: dict[str, Any]) -> None:
    """Refuse to start production with a base URL or secrets that would hurt later.

    Every problem is listed at once, each naming its variable, so one failed start is
    enough to fix the environment.
    """
    problems = [p for p in (_base_url_problem(settings.get("PUBLIC_BASE_URL") or ""),)
                if p]
    seen: dict[str, str] = {}
    for name, purpose in SECRET_SETTINGS.items():
        value = settings.get(name) or ""
        problem = secret_problem(value)
        if problem is None and value in seen:
            problem = (f"is the same value as {PREFIX}{seen[value]}; each secret protects "
                       "something different and must be generated separately")
        seen.setdefault(value, name)
        if problem:
            problems.append(f"{PREFIX}{name} ({purpose}) {problem}; generate one with: "
                            f"{GENERATE_SECRET}")
    if problems:
        raise ConfigError("production mode cannot start:\n  - " + "\n  - ".join(problems))


def _base_url_problem(url: str) -> str | None:
    from urllib.parse import urlsplit

    name = f"{PREFIX}PUBLIC_BASE_URL"
    example = f"set it to the https address phones will open, e.g. {name}=https://scan.example.vn"
    if not url:
        return f"{name} is not set: every stamp printed would point nowhere; {example}"
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return f"{name}={url!r} is not an https URL; {example}"
    if parts.query or parts.fragment or (parts.path not in ("", "/")):
        return f"{name}={url!r} must be a scheme and host only (no path or query); {example}"
    if _is_loopback(parts.hostname):
        return (f"{name}={url!r} names this machine ({parts.hostname}); a phone cannot reach "
                f"it; {example}")
    return None


def _is_loopback(host: str) -> bool:
    import ipaddress

    host = host.strip("[]").lower().rstrip(".")
    if host in _LOOPBACK_HOSTS or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (address.is_loopback or address.is_unspecified
            or bool(mapped and (mapped.is_loopback or mapped.is_unspecified)))


def secret_problem(value: str) -> str | None:
    """Why ``value`` is not a secret of 32 random bytes, or None when it may be one.

    Randomness cannot be proven from one sample, so this refuses what is clearly not
    random: too short, few distinct characters, or text made of repeated pieces (a
    word typed several times, a keyboard run). A generated token always passes.
    """
    if not value:
        return "is not set"
    if len(value) < MIN_SECRET_CHARS:
        return (f"is {len(value)} characters long; it needs at least {MIN_SECRET_CHARS} "
                "characters of random text (32 random bytes)")
    bits = len(value) * _bits_per_char(value)
    if bits < 256:
        return (f"holds at most {bits:.0f} bits of randomness in its {len(value)} characters; "
                "it needs 256 (32 random bytes)")
    if len(set(value)) < 12:
        return f"uses only {len(set(value))} different characters; it is not random"
    # In random text of this length almost every three-character piece is new; in a
    # repeated word or a run like 'abcabc...' most are repeats.
    trigrams = [value[i:i + 3] for i in range(len(value) - 2)]
    if len(set(trigrams)) < 0.9 * len(trigrams):
        return "repeats the same pieces of text; it is not random"
    steps = sum(1 for a, b in zip(value, value[1:], strict=False) if abs(ord(a) - ord(b)) == 1)
    if steps > len(value) // 2:
        return "runs through neighbouring characters (like 'abcdef'); it is not random"
    return None


def _bits_per_char(value: str) -> float:
    """The most randomness one character of ``value``'s alphabet can carry."""
    import string

    chars = set(value)
    if chars <= set(string.hexdigits):
        return 4.0
    if chars <= set(string.ascii_letters + string.digits + "-_+/="):
        return 6.0
    return 6.5  # printable ASCII and beyond: generous, the other checks still apply


def instance_path() -> str | None:
    """``SCANAPP_INSTANCE_PATH``: where the instance folder lives (embedded database,
    development secrets); None keeps Flask's default, ``instance/`` beside the package. Read
    before the app exists, since the other settings' defaults are built from it."""
    return _env("INSTANCE_PATH")
