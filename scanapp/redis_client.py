"""The optional Redis connection (single server or Redis Cluster).

Timeouts are short on purpose: when Redis is slow or gone, the scan path must fall back
to the database within milliseconds, not hang the request.
"""

from __future__ import annotations

import threading
import time

import redis
from flask import Flask, current_app
from redis.client import Pipeline
from redis.cluster import RedisCluster
from redis.commands.core import Script
from redis.connection import Encoder
from redis.exceptions import RedisClusterException, ResponseError

try:
    import hiredis
except ImportError:  # pragma: no cover - a dependency (redis[hiredis]); the fast path needs it
    hiredis = None

SOCKET_TIMEOUT_S = 0.25
CLUSTER_RETRY_S = 1.0


class LazyRedisCluster:
    """A RedisCluster client built on first use instead of in the constructor.

    redis-py's RedisCluster reads the slot map from the nodes when it is constructed, so a
    cluster that is down while a worker boots would stop the worker from starting at all.
    Built lazily, a worker starts and serves degraded (database-only) until the cluster is
    back; a failed build is retried at most once a second and surfaces as a
    ``redis.ConnectionError`` like any other outage.
    """

    def __init__(self, url: str, **options):
        self._url, self._options = url, options
        self._client: RedisCluster | None = None
        self._failed_at = 0.0
        self._lock = threading.Lock()

    def _get(self) -> RedisCluster:
        client = self._client
        if client is not None:
            return client
        with self._lock:
            if self._client is None:
                if time.monotonic() - self._failed_at < CLUSTER_RETRY_S:
                    raise redis.ConnectionError("Redis Cluster unreachable (retrying shortly)")
                try:
                    self._client = RedisCluster.from_url(self._url, **self._options)
                except (RedisClusterException, redis.RedisError) as exc:
                    self._failed_at = time.monotonic()
                    raise redis.ConnectionError(f"Redis Cluster unreachable: {exc}") from exc
            return self._client

    def resolve(self) -> RedisCluster:
        """The underlying client (built now if need be)."""
        return self._get()

    def register_script(self, script):
        # A script object needs the client's encoder, not a connection: registering one at
        # start (the composition root builds the scan store) must not need the cluster up.
        return Script(self, script)

    def get_encoder(self) -> Encoder:
        # RedisCluster's defaults: make_redis sets no encoding options.
        return Encoder(encoding="utf-8", encoding_errors="strict", decode_responses=False)

    def __getattr__(self, name: str):
        return getattr(self._get(), name)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


class ScriptPipeline(Pipeline):
    """A pipeline that sends a batch of plain ``EVALSHA`` calls with less Python per call.

    The scan's one round trip (its rate-limit windows and its state script,
    scan/redis_store.py) went through redis-py's general pipeline: per call the generic
    packer, the HIMPORT preflight, observability bookkeeping and response callbacks, about
    30 us of the request thread for two commands (docs/PERFORMANCE.md). EVALSHA has no
    response callback and no preflight, so a batch made only of EVALSHA calls without
    options is packed by hiredis in one buffer, sent with one write and read back reply by
    reply on a pooled connection, with redis-py's own retry policy and error objects
    (``NoScriptError`` in place, for the caller to reload the script). Every other batch
    (transactions, WATCH, other commands, options) is redis-py's as before.
    """

    def execute(self, raise_on_error: bool = True) -> list:
        stack = self.command_stack
        if (hiredis is None or not stack or self.transaction or self.explicit_transaction
                or self.watching or self.scripts or self.connection is not None
                or any(args[0] != "EVALSHA" or options for args, options in stack)):
            return super().execute(raise_on_error)
        try:
            packed = b"".join([hiredis.pack_command(args) for args, _options in stack])
        except TypeError:  # an argument type hiredis does not pack: redis-py's way
            return super().execute(raise_on_error)
        pool = self.connection_pool
        conn = pool.get_connection()
        try:
            replies = conn.retry.call_with_retry(
                lambda: self._send_and_read(conn, packed, len(stack)),
                lambda _error: conn.disconnect())
        except BaseException:
            conn.disconnect()  # a reply may be left unread: never reuse that socket
            raise
        finally:
            pool.release(conn)
            self.reset()
        if raise_on_error:
            self.raise_first_error(stack, replies)
        return replies

    @staticmethod
    def _send_and_read(conn, packed: bytes, count: int) -> list:
        conn.send_packed_command([packed])
        replies: list = []
        for _ in range(count):
            try:
                replies.append(conn.read_response())
            except ResponseError as exc:  # this call's error; the others' replies follow
                replies.append(exc)
        return replies


class ScanRedis(redis.Redis):
    """redis.Redis whose non-transactional pipelines are ``ScriptPipeline``s."""

    def pipeline(self, transaction=True, shard_hint=None) -> Pipeline:
        if transaction:
            return super().pipeline(transaction, shard_hint)
        return ScriptPipeline(self.connection_pool, self.response_callbacks, False, shard_hint)


def make_redis(url: str, cluster: bool = False):
    options = dict(socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=SOCKET_TIMEOUT_S,
                   health_check_interval=0)
    if cluster:
        # The Cluster client routes each call by its keys: its own pipeline stays.
        return LazyRedisCluster(url, **options)
    return ScanRedis.from_url(url, **options)


def init_app(app: Flask) -> None:
    url = app.config.get("REDIS_URL")
    app.extensions["scanapp.redis"] = make_redis(url, app.config["REDIS_CLUSTER"]) if url else None


def get_redis(app: Flask | None = None):
    """The Redis client, or None on the embedded default."""
    return (app or current_app).extensions.get("scanapp.redis")


def key(app_prefix: str, *parts: str) -> str:
    return ":".join((app_prefix, *parts))
