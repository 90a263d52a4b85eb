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
        "PUBLIC_BASE_URL": (_env("PUBLIC_BASE_URL", "http://127.0.0.1:5000")).rstrip("/"),
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
        # Write fraud flags after the answer (production) or inside the request.
        "SCAN_FLAGS_IN_BACKGROUND": _env_bool("SCAN_FLAGS_IN_BACKGROUND", production),
        # A page reload (or a second tap) by the same device this soon is the same scan.
        "SCAN_RELOAD_WINDOW_S": _env_float("SCAN_RELOAD_WINDOW_S", 60.0),
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

    missing = [name for name in SECRET_SETTINGS if not settings.get(name)]
    if missing and production:
        detail = "; ".join(f"{PREFIX}{name} ({SECRET_SETTINGS[name]})" for name in missing)
        raise ConfigError(f"production mode needs these secrets set in the environment: {detail}")
    if missing:
        generated = _dev_secrets(instance)
        for name in missing:
            settings[name] = generated[name]
    return settings
