"""The optional Redis connection (single server or Redis Cluster).

Timeouts are short on purpose: when Redis is slow or gone, the scan path must fall back
to the database within milliseconds, not hang the request.
"""

from __future__ import annotations

import redis
from flask import Flask, current_app
from redis.cluster import RedisCluster

SOCKET_TIMEOUT_S = 0.25


def make_redis(url: str, cluster: bool = False):
    options = dict(socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=SOCKET_TIMEOUT_S,
                   health_check_interval=0)
    if cluster:
        return RedisCluster.from_url(url, **options)
    return redis.Redis.from_url(url, **options)


def init_app(app: Flask) -> None:
    url = app.config.get("REDIS_URL")
    app.extensions["scanapp.redis"] = make_redis(url, app.config["REDIS_CLUSTER"]) if url else None


def get_redis(app: Flask | None = None):
    """The Redis client, or None on the embedded default."""
    return (app or current_app).extensions.get("scanapp.redis")


def key(app_prefix: str, *parts: str) -> str:
    return ":".join((app_prefix, *parts))
