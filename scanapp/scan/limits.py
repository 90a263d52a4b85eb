"""Rate limiting of the public endpoints (Flask-Limiter), per client address and per device.

Storage is the service's Redis when configured (limits shared by every worker), memory
otherwise. Keys are keyed hashes, never raw addresses or device ids. When Redis is down the
limiter fails open (``RATELIMIT_SWALLOW_ERRORS``): refusing every consumer because a
counter store is gone would be worse than a few extra scans. Limits come from the
``RATELIMIT_SCAN`` (per address, shared by the stamp page, resolver and scan API) and
``RATELIMIT_DEVICE`` (per device id) settings; PIN checks have a stricter per-device limit
so that 8-digit PINs cannot be guessed by brute force.

Every limit is one more Redis round trip on every request it covers (Flask-Limiter checks
each with its own script call), so the scan endpoints carry only the per-address limits by
default. The per-device limit on scans (``RATELIMIT_DEVICE_ON_SCANS``, off by default)
adds no protection against anyone who means harm, since the client chooses its device id;
PIN checks keep their per-device limit, where it bounds guessing from one app install.
"""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_remote_address

from ..errors import error_response
from ..extensions import limiter

PIN_LIMIT = "10/minute;50/day"


def init_app(app: Flask) -> None:
    config = app.config
    url = config.get("REDIS_URL")
    if url and config.get("REDIS_CLUSTER"):
        url = "redis+cluster://" + url.split("://", 1)[1]
        if not _cluster_reachable(app):
            # The limits library reads the slot map in its constructor; with the cluster down
            # at boot the worker would not start at all. Per-process limits until a restart
            # are the lesser evil.
            app.logger.warning("Redis Cluster unreachable at start-up: rate limits are "
                               "kept in process memory until the next restart")
            url = None
    config.setdefault("RATELIMIT_STORAGE_URI", url or "memory://")
    if url:
        # Keys under the service's prefix like every other key (``<prefix>:LIMITER/rl/...``).
        config.setdefault("RATELIMIT_STORAGE_OPTIONS",
                          {"socket_timeout": 0.25, "socket_connect_timeout": 0.25,
                           "key_prefix": config["REDIS_PREFIX"]})
    config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    config.setdefault("RATELIMIT_KEY_PREFIX", "rl")
    # X-RateLimit-* headers on every response cost two more Redis round trips per scan
    # (remaining count and reset time); 429s get their Retry-After from ``too_many`` below.
    config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    limiter.init_app(app)


def _cluster_reachable(app: Flask) -> bool:
    import redis

    from ..redis_client import get_redis

    try:
        get_redis(app).ping()
        return True
    except redis.RedisError:
        return False


def _hasher():
    from .service import components

    return components().hasher


def address_key() -> str:
    return "a:" + _hasher().client(get_remote_address() or "")


def device_id() -> str | None:
    body = request.get_json(silent=True) if request.is_json else None
    value = body.get("device_id") if isinstance(body, dict) else None
    return value if isinstance(value, str) and value else None


def device_key() -> str:
    return "d:" + _hasher().device(device_id() or "")


def _scan_limit() -> str:
    return current_app.config["RATELIMIT_SCAN"]


def _device_limit() -> str:
    return current_app.config["RATELIMIT_DEVICE"]


per_address = limiter.shared_limit(_scan_limit, scope="public-scan", key_func=address_key)
def _device_exempt() -> bool:
    # The setting first: when it is off no body is parsed for the limiter.
    return not current_app.config.get("RATELIMIT_DEVICE_ON_SCANS") or device_id() is None


per_device = limiter.shared_limit(_device_limit, scope="public-device", key_func=device_key,
                                  exempt_when=_device_exempt)
pin_per_device = limiter.limit(PIN_LIMIT, key_func=lambda: (
    device_key() if device_id() else address_key()))


def too_many(exc: RateLimitExceeded):
    """429 with a Retry-After of the breached limit's window (an upper bound: no extra
    Redis call to learn the exact reset time)."""
    try:
        retry = int(exc.limit.limit.get_expiry())
    except Exception:
        retry = 60
    return error_response(429, "too_many_requests",
                          f"Too many requests ({exc.description}); try again later.",
                          headers={"Retry-After": str(max(retry, 1))})
