"""Rate limiting of the public endpoints (Flask-Limiter), per client address and per device.

Storage is the service's Redis when configured (limits shared by every worker), otherwise
one SQLite file in the instance folder (scanapp/ratelimit_store.py), shared by every process
of the machine. Keys are keyed hashes, never raw addresses or device ids. When Redis is down the
limiter fails open (``RATELIMIT_SWALLOW_ERRORS``): refusing every consumer because a
counter store is gone would be worse than a few extra scans. Limits come from the
``RATELIMIT_SCAN`` (per address, shared by the stamp page, resolver and scan API) and
``RATELIMIT_DEVICE`` (per device id) settings; PIN checks have a stricter per-device limit
so that 8-digit PINs cannot be guessed by brute force, and a per-address limit
(``RATELIMIT_PIN_ADDRESS``) that ignores device ids.

Flask-Limiter checks every limit with a Redis call of its own before the view runs, plus
about 0.3 ms of Python per request (docs/PERFORMANCE.md). On ``POST /api/v1/scans``, the
hot path, ``ScanLimits`` below counts the same windows under the same Redis keys, inside the
scan's own pipelined round trip, so a scan costs one round trip in all. The stamp page, the
resolver and the verification endpoint keep Flask-Limiter and share the per-address
budget with the scan API, because the keys are the ones Flask-Limiter uses.

A request refused before it becomes a scan (a body the schema rejects, one too large) is
counted too (``count_refused``), so invalid bodies spend the same budget; an address over
its window is refused in process before its body is read (the scans blueprint's
``before_request``).

Counting in the same round trip means the scan is counted in Redis before its limit is
known. A refused scan is then re-read from the database (``mark_stale``: it has no row, so
the count goes back), and the address is refused in process, with no Redis work at all,
until its window ends. So each worker lets through at most one such scan per address and
window, and a flood from one address costs nothing but the 429s.

The per-device limit on scans (``RATELIMIT_DEVICE_ON_SCANS``, off by default) adds no
protection against anyone who means harm, since the client chooses its device id; PIN
checks keep their per-device limit, where it bounds guessing from one app install.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from flask import Flask, current_app, request
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse_many

from ..errors import RateLimited, domain_error_response
from ..extensions import limiter
from ..services import services

# Endpoints that count their own limits (ScanLimits, check_pin_limits): Flask-Limiter leaves
# them alone, which also spares them its per-request bookkeeping (~5 % of a scan's CPU, even
# with no limit).
PIN_ENDPOINT = "scans.PinCheck"
SELF_LIMITED_ENDPOINTS = frozenset({"scans.Scans", PIN_ENDPOINT})

# Addresses refused in process, per worker; beyond this the oldest are forgotten (and cost
# one more Redis round trip each if they come back within their window).
MAX_BLOCKED = 10_000

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
    # ScanLimits may count in the scan store's pipeline only when the limiter keeps its
    # counters in that same Redis, under the same prefix.
    app.extensions["scanapp.limits_share_scan_redis"] = bool(
        url and "RATELIMIT_STORAGE_URI" not in config
        and "RATELIMIT_STORAGE_OPTIONS" not in config)
    if not url and "RATELIMIT_STORAGE_URI" not in config:
        # No Redis: one SQLite file counts for every process of the machine (memory would
        # count per worker). Registered by importing the module.
        from .. import ratelimit_store  # noqa: F401

        os.makedirs(app.instance_path, exist_ok=True)
        config["RATELIMIT_STORAGE_URI"] = (
            "scanapp+sqlite:///" + os.path.join(app.instance_path, "ratelimits.db"))
        config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"key_prefix": config["REDIS_PREFIX"]})
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


@limiter.request_filter
def _self_limited() -> bool:
    return request.endpoint in SELF_LIMITED_ENDPOINTS


def _cluster_reachable(app: Flask) -> bool:
    import redis

    from ..redis_client import get_redis

    try:
        get_redis(app).ping()
        return True
    except redis.RedisError:
        return False


def _hasher():
    # Built by create_app with the other services: the key function builds nothing.
    return services().hasher


def address_key() -> str:
    return "a:" + _hasher().client(get_remote_address() or "")


def device_id() -> str | None:
    body = request.get_json(silent=True) if request.is_json else None
    value = body.get("device_id") if isinstance(body, dict) else None
    return value if isinstance(value, str) and value else None


def _scan_limit() -> str:
    return current_app.config["RATELIMIT_SCAN"]


ADDRESS_SCOPE = "public-scan"
DEVICE_SCOPE = "public-device"
per_address = limiter.shared_limit(_scan_limit, scope=ADDRESS_SCOPE, key_func=address_key)


def refusal(limit: RateLimitItem | str, retry_after_s: float) -> RateLimited:
    """A request over its limit: the one 429 of the scan API and of Flask-Limiter (``too_many``)."""
    return RateLimited(f"Too many requests ({limit}); try again later.",
                       retry_after_s=retry_after_s)


def pin_windows(app: Flask, address: str | None, device: str | None) -> list[Window]:
    """The windows a PIN check counts against, under the keys Flask-Limiter's decorators on
    the PIN view used (so counts carry over): the address's scan budget (shared with scans,
    the stamp page and the resolver), the address's PIN budget and the device's (the
    address's without a device id), in Flask-Limiter's order (shortest window first).

    The client chooses its device id, so the per-device limit alone is reset by changing
    it: PIN checks are also counted per address, device ids ignored (issue 15, item 3). The
    scan service adds a per-code lockout on top, which no choice of address or id escapes.
    """
    config = app.config
    if not limiter.enabled or not config.get("RATELIMIT_ENABLED", True):
        return []
    hasher = services(app).hasher
    by_address = "a:" + hasher.client(address or "")
    by_device = "d:" + hasher.device(device) if device else by_address
    prefix = config.get("RATELIMIT_KEY_PREFIX")
    found = []
    for client, scope, text in (
            (by_address, ADDRESS_SCOPE, config["RATELIMIT_SCAN"]),
            (by_address, f"{PIN_ENDPOINT}:public-pin-address", config["RATELIMIT_PIN_ADDRESS"]),
            (by_device, PIN_ENDPOINT, PIN_LIMIT)):
        identifiers = (prefix, client, scope) if prefix else (client, scope)
        found += [Window(item, identifiers, item.key_for(*identifiers))
                  for item in _parsed(text)]
    return sorted(found, key=lambda window: window.limit)


def check_pin_limits(app: Flask, address: str | None, device: str | None) -> None:
    """Count a PIN check (before its body is validated, so invalid bodies count too) and
    refuse it (429) at the first full window; fails open when the storage is down. The
    PIN view's hook and the lean route (scan/lean.py) both call this."""
    windows = pin_windows(app, address, device)
    if not windows:
        return  # limiting is off (and the limiter then has no strategy to ask)
    strategy = limiter.limiter
    for window in windows:
        try:
            allowed = strategy.hit(window.limit, *window.identifiers)
        except Exception:  # noqa: BLE001 - RATELIMIT_SWALLOW_ERRORS: fail open
            app.logger.warning("rate limit storage unreachable; not limiting")
            return
        if not allowed:
            raise refusal(window.limit, window.seconds)


@dataclass(frozen=True)
class Window:
    """One rate-limit window of one client: its Redis key (as Flask-Limiter names it) and
    the identifiers the limits library's strategies take."""

    limit: RateLimitItem
    identifiers: tuple[str, ...]
    key: str

    @property
    def seconds(self) -> int:
        return self.limit.get_expiry()


@functools.lru_cache(maxsize=32)
def _parsed(text: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(text))


class ScanLimits:
    """The scan API's per-address (and optional per-device) limits; see the module doc."""

    def __init__(self, app: Flask):
        self._app = app
        self._blocked: OrderedDict[str, tuple[float, RateLimitItem]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def pipelined(self) -> bool:
        return bool(self._app.extensions.get("scanapp.limits_share_scan_redis"))

    def windows(self, client_hash: str | None, device_hash: str | None) -> list[Window]:
        """The windows a scan counts against (empty when limiting is off), from the keyed
        hashes of its address and device id that the scan computes anyway."""
        config = self._app.config
        if not limiter.enabled or not config.get("RATELIMIT_ENABLED", True):
            return []
        clients = [(ADDRESS_SCOPE, "a:" + (client_hash or _hasher().client("")),
                    config["RATELIMIT_SCAN"])]
        if device_hash and config.get("RATELIMIT_DEVICE_ON_SCANS"):
            clients.append((DEVICE_SCOPE, "d:" + device_hash, config["RATELIMIT_DEVICE"]))
        prefix = config.get("RATELIMIT_KEY_PREFIX")
        storage = limiter.storage
        found = []
        for scope, client, text in clients:
            # Flask-Limiter's order of identifiers: [key prefix,] key, scope.
            identifiers = (prefix, client, scope) if prefix else (client, scope)
            for item in _parsed(text):
                key = item.key_for(*identifiers)
                if hasattr(storage, "prefixed_key"):
                    key = storage.prefixed_key(key)
                found.append(Window(item, identifiers, key))
        return found

    @property
    def blocking(self) -> bool:
        """Whether this process refuses any client at all right now (usually not)."""
        return bool(self._blocked)

    def refuse_if_blocked(self, windows: list[Window]) -> None:
        """Refuse at once, without Redis, a client already over a window in this process."""
        if not self._blocked:
            return
        now = time.monotonic()
        with self._lock:
            for window in windows:
                entry = self._blocked.get(window.key)
                if entry is None:
                    continue
                until, limit = entry
                if until > now:
                    raise refusal(limit, until - now)
                del self._blocked[window.key]

    def hit(self, windows: list[Window]) -> None:
        """Count through the limits library (memory storage, or a limiter Redis other than
        the scan store's); fails open when that storage is down, like Flask-Limiter here."""
        strategy = limiter.limiter
        for window in windows:
            try:
                allowed = strategy.hit(window.limit, *window.identifiers)
            except Exception:  # noqa: BLE001 - RATELIMIT_SWALLOW_ERRORS: fail open
                self._app.logger.warning("rate limit storage unreachable; not limiting")
                return
            if not allowed:
                raise refusal(window.limit, window.seconds)

    def count_refused(self, windows: list[Window]) -> None:
        """Count a request that was refused before it became a scan (an invalid body):
        it cost the server too, and from now on a client over its window is refused in
        process before its body is read (``refuse_if_blocked``)."""
        strategy = limiter.limiter
        for window in windows:
            try:
                # Blocked once the window is full, not only once it overflows: the next
                # request from this address is then refused unread.
                full = (not strategy.hit(window.limit, *window.identifiers)
                        or not strategy.test(window.limit, *window.identifiers))
            except Exception:  # noqa: BLE001 - RATELIMIT_SWALLOW_ERRORS: fail open
                return
            if full:
                self._block(window, window.seconds)

    def breached(self, windows: list[Window], counts) -> RateLimited | None:
        """The refusal for counts taken in the scan's pipeline, remembering the client as
        blocked until its window ends; None when every window has room."""
        for window, (count, ms_left) in zip(windows, counts, strict=False):
            if int(count) > window.limit.amount:
                left = int(ms_left) / 1000 if int(ms_left) > 0 else window.seconds
                self._block(window, left)
                return refusal(window.limit, left)
        return None

    def _block(self, window: Window, seconds: float) -> None:
        with self._lock:
            self._blocked[window.key] = (time.monotonic() + seconds, window.limit)
            self._blocked.move_to_end(window.key)
            while len(self._blocked) > MAX_BLOCKED:
                self._blocked.popitem(last=False)


def too_many(exc: RateLimitExceeded):
    """Flask-Limiter's refusals in the same shape as ``refusal``: 429 with a Retry-After of the
    breached limit's window (an upper bound: no extra Redis call to learn the reset time)."""
    try:
        retry = int(exc.limit.limit.get_expiry())
    except Exception:
        retry = 60
    return domain_error_response(refusal(exc.description, retry))
