"""Per-organisation budgets on the keyed API, so no printer or brand can load the server.

- ``RATELIMIT_API``: requests per API key (every keyed endpoint, through ``requires``).
- ``DOWNLOAD_CODES_PER_DAY``: codes an organisation may download per day, all formats
  together (a code file, a label sheet or a QR costs its number of codes).

Both count in the rate limiter's storage (Redis when configured, shared by every worker;
memory otherwise) under keys of their own, and fail open when that storage is down, like
the public limits (scan/limits.py). Issuing quotas (range size, codes per day) live with
the ranges, where the database holds the exact figures (serials/service.py).
"""

from __future__ import annotations

import functools

from flask import current_app
from limits import RateLimitItem, parse

from .errors import RateLimited
from .extensions import limiter


@functools.lru_cache(maxsize=16)
def _item(text: str) -> RateLimitItem:
    return parse(text)


def _limiting() -> bool:
    return bool(limiter.enabled and current_app.config.get("RATELIMIT_ENABLED", True))


def _spend(text: str, key: str, scope: str, cost: int, what: str) -> None:
    if not _limiting() or not text:
        return
    item = _item(text)
    try:
        allowed = limiter.limiter.hit(item, key, scope, cost=cost)
    except Exception:  # noqa: BLE001 - the limiter's storage is down: fail open
        current_app.logger.warning("quota storage unreachable; %s not counted", scope)
        return
    if not allowed:
        raise RateLimited(f"{what} ({text}); try again later", code="quota_exceeded",
                          retry_after_s=item.get_expiry())


def count_api_request(key_id: int) -> None:
    """One request of one API key."""
    _spend(current_app.config.get("RATELIMIT_API", ""), f"key:{key_id}", "api", 1,
           "too many requests for this API key")


def spend_downloads(org_id: int, codes: int) -> None:
    """``codes`` codes downloaded by ``org_id`` (refused when over the day's quota)."""
    quota = int(current_app.config.get("DOWNLOAD_CODES_PER_DAY") or 0)
    if quota:
        _spend(f"{quota}/day", f"org:{org_id}", "downloads", max(1, codes),
               "this organisation has downloaded its quota of codes for today")
