"""Settings read from ``SCANAPP_*`` environment variables.

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


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(PREFIX + name)
    return value if value not in (None, "") else default


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
    production = env == "production"

    settings: dict[str, Any] = {
        "ENV": env,
        "PRODUCTION": production,
        "DATABASE_URL": _env("DATABASE_URL", f"sqlite:///{instance / 'scanapp.db'}"),
        # A PostgreSQL schema to live in; lets tests and several deployments share a database.
        "DATABASE_SCHEMA": _env("DATABASE_SCHEMA"),
        "DATABASE_POOL_SIZE": int(_env("DATABASE_POOL_SIZE", "10")),
        "REDIS_URL": _env("REDIS_URL"),
        "REDIS_CLUSTER": _bool(_env("REDIS_CLUSTER", "0")),
        "REDIS_PREFIX": _env("REDIS_PREFIX", "scanapp"),
        "PUBLIC_BASE_URL": (_env("PUBLIC_BASE_URL", "http://127.0.0.1:5000")).rstrip("/"),
        # Tables are created automatically only for the embedded first run; production
        # runs migrations explicitly with `flask --app scanapp db upgrade`.
        "AUTO_MIGRATE": _bool(_env("AUTO_MIGRATE", "0" if production else "1")),
        # One window per address: each limit costs the scan a Redis round trip, and 120 a
        # minute already caps one address at 7,200 an hour (docs/SCAN.md, "Rate limiting").
        "RATELIMIT_SCAN": _env("RATELIMIT_SCAN", "120/minute"),
        "RATELIMIT_DEVICE": _env("RATELIMIT_DEVICE", "60/minute"),
        "RATELIMIT_DEVICE_ON_SCANS": _bool(_env("RATELIMIT_DEVICE_ON_SCANS", "0")),
        # PIN checks per client address, whatever device id the client declares (a PIN
        # is checked once per purchase; this still leaves room for a shop or a carrier NAT).
        "RATELIMIT_PIN_ADDRESS": _env("RATELIMIT_PIN_ADDRESS", "20/minute;200/day"),
        # Per-code lockout: this many wrong PINs on one code within PIN_LOCKOUT_S refuse
        # every further check of that code until the oldest of them is PIN_LOCKOUT_S old.
        "PIN_LOCKOUT_FAILURES": int(_env("PIN_LOCKOUT_FAILURES", "10")),
        "PIN_LOCKOUT_S": int(_env("PIN_LOCKOUT_S", "3600")),
        # Write fraud flags after the answer (production) or inside the request.
        "SCAN_FLAGS_IN_BACKGROUND": _bool(_env("SCAN_FLAGS_IN_BACKGROUND",
                                               "1" if production else "0")),
        "RATELIMIT_ENABLED": _bool(_env("RATELIMIT_ENABLED", "1")),
        "MAX_CONTENT_LENGTH": int(_env("MAX_CONTENT_LENGTH", str(1024 * 1024))),
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

    missing = [name for name in SECRET_SETTINGS if not settings.get(name)]
    if missing and production:
        detail = "; ".join(f"{PREFIX}{name} ({SECRET_SETTINGS[name]})" for name in missing)
        raise ConfigError(f"production mode needs these secrets set in the environment: {detail}")
    if missing:
        generated = _dev_secrets(instance)
        for name in missing:
            settings[name] = generated[name]
    return settings
