"""The Redis state store: one server-side script call per scan, loaded per code from its
summary row.

Keys (all under ``REDIS_PREFIX``) carry the hash tag of the code's *bucket*, one of 1024,
so a script touches one Cluster slot::

    {prefix}:{b<bucket>}:epoch:v3       the bucket's epoch (see below)
    {prefix}:{b<bucket>}:c:<serial>     hash  n, e, dn, wn, first, last, pc, pf, g (epoch)
    {prefix}:{b<bucket>}:d:<serial>     hash  device hash -> last counted scan (ms)
    {prefix}:{b<bucket>}:r:<serial>     list  recent places, newest first (capped)
    {prefix}:{b<bucket>}:w:<serial>     hash  network -> counted scans from it
    {prefix}:{b<bucket>}:p:<serial>     set   PIN claimers, "device|network"
    {prefix}:{b<bucket>}:bloom:<m>x<k>  string  the bucket's membership filter
                                        (membership.py; no time to live)

Redis runs without persistence and holds only the codes scanned lately: every call
refreshes the code's keys' time to live (``SCAN_STATE_TTL_S``), so an idle code's keys
expire and memory follows the active codes. A code whose hash is missing, or holds another
epoch than its bucket's, is not loaded. If its bucket's membership filter is complete and
says the code was never seen, the script starts it empty in the same call (a code's first
scan: no summary read, one round trip). Otherwise the script answers "miss", the store
reads the code's summary row (``scan_code_summaries``, one primary-key read, kept by the
scan sink in the transaction of the scan rows) and sends the loader script and the scan
again in one pipelined round trip. Recovery after a flush is therefore per code, on its
next scan, and reads no scan history: a flushed Redis answers every code right at once
(the epoch key, gone with the flush, is set afresh by the first script that needs it;
the filters, gone too, are incomplete until the worker rebuilds them). Bumping a bucket's
epoch invalidates every code of it at once (long outages, below).

Failures (connection refused, timeout, cluster errors) surface as ``redis.RedisError``; the
scan service then answers from the database (degraded). Codes touched while degraded are
marked stale and invalidated once Redis answers again, so counters converge to the database.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import zlib
from collections.abc import Sequence
from pathlib import Path

import redis
from redis.exceptions import NoScriptError, RedisClusterException
from sqlalchemy.engine import Engine

from ..risk.facts import MAX_SCANS_PER_NETWORK, CodeHistory, ScanPlace
from ..serials.codec import ALPHABET
from . import membership, summary
from .store import RECENT_CAP, Observation, ScanStateStore, network_key
from .summary import decode_claimers, decode_place, encode_place

log = logging.getLogger(__name__)

BUCKETS = 1024
CROCKFORD = ALPHABET  # the serial alphabet (serials/codec.py)
_CROCKFORD_VALUE = {ch: i for i, ch in enumerate(CROCKFORD)}
# The bucket epoch's key suffix; its version changes with what a code's keys hold (v2 was
# the whole-bucket sentinel), so codes in an older layout are never read as current.
SENTINEL = "epoch:v3"
MAX_STALE = 100_000  # serials remembered while Redis is away; then whole buckets
SCRIPT = (Path(__file__).with_name("scan_state.lua")).read_text()
LOAD_SCRIPT = (Path(__file__).with_name("load_code.lua")).read_text()
# A fixed-window counter (the semantics of the limits library's fixed window: the window
# starts at the first hit) that also answers how long its window has left.
COUNTER_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
"""


class BucketRebuilding(Exception):
    """The code could not be loaded (Redis flushed again in between); answer from the
    database this once."""


def bucket_of(serial: str) -> int:
    """Characters 2-3 of a genuine serial are uniformly random bits of the permuted sequence
    number, so they spread codes evenly over 32*32 = 1024 buckets (Cluster slots). Anything
    else falls back to CRC32."""
    if len(serial) == 20 and serial[1] in _CROCKFORD_VALUE and serial[2] in _CROCKFORD_VALUE:
        return _CROCKFORD_VALUE[serial[1]] * 32 + _CROCKFORD_VALUE[serial[2]]
    return zlib.crc32(serial.encode()) % BUCKETS


class RedisScanStateStore(ScanStateStore):
    def __init__(self, client, prefix: str, engine: Engine, on_rebuild=None,
                 ttl_s: float = 0, filter_bits: int = 0, filter_hashes: int = 7,
                 on_summary_read=None):
        self._client = client
        # The membership filter (membership.py): bits per bucket, positions per code; 0 bits
        # turns it off (every code missing in Redis reads its summary, as before).
        self.filter_bits = int(filter_bits)
        self.filter_hashes = int(filter_hashes) if self.filter_bits else 0
        self._prefix = prefix
        self._engine = engine
        # PostgreSQL: summary reads on connections of their own (one round trip each).
        self._reader = (summary.SummaryReader(engine)
                        if engine.dialect.name == "postgresql" else None)
        self._ttl_ms = int(ttl_s * 1000)
        self._script = client.register_script(SCRIPT)
        self._loader = client.register_script(LOAD_SCRIPT)
        self._counter = client.register_script(COUNTER_SCRIPT)
        # Source by hash, to load a script again when Redis answers NOSCRIPT.
        self._sources = {script.sha: script.script
                         for script in (self._script, self._loader, self._counter)}
        self._stale: set[str] = set()
        self._stale_buckets: set[int] = set()
        self._poisoned: set[int] = set()  # filters to mark incomplete once Redis answers
        self._stale_lock = threading.Lock()
        # Called once per code loaded from its summary (the rebuild metric), and once per
        # summary read (every miss).
        self._on_rebuild = on_rebuild or (lambda: None)
        self._on_summary_read = on_summary_read or (lambda: None)

    # -- keys -----------------------------------------------------------------------------
    def _tag(self, bucket: int) -> str:
        return f"{self._prefix}:{{b{bucket}}}"

    def keys_for(self, serial: str) -> list[str]:
        tag = self._tag(bucket_of(serial))
        return [f"{tag}:{SENTINEL}", f"{tag}:c:{serial}", f"{tag}:d:{serial}",
                f"{tag}:r:{serial}", f"{tag}:w:{serial}", f"{tag}:p:{serial}"]

    # -- the membership filter (membership.py) -------------------------------------------
    @property
    def client(self):
        return self._client

    bucket_of = staticmethod(bucket_of)

    def filter_key(self, bucket: int) -> str:
        return f"{self._tag(bucket)}:bloom:{self.filter_bits}x{self.filter_hashes}"

    def filter_offsets(self, serial: str) -> list[int]:
        if not self.filter_bits:
            return []
        return membership.offsets(serial, self.filter_bits, self.filter_hashes)

    def incomplete_buckets(self) -> list[int]:
        """Buckets whose filter is not complete (none when filters are off)."""
        if not self.filter_bits:
            return []
        pipe = self._client.pipeline(transaction=False)
        for bucket in range(BUCKETS):
            pipe.getbit(self.filter_key(bucket), 0)
        return [b for b, bit in enumerate(self._pipe_execute(pipe)) if not int(bit)]

    def note_stored(self, rows: Sequence[dict]) -> None:
        """The sinks call this after inserting scan or PIN rows and before committing them:
        the codes' bits go into their filters, so a filter rebuilt after a flush that came
        before this call cannot miss them (membership.rebuild says why this order is the
        one that is right). Redis failing here does not fail the commit: the buckets are
        marked incomplete once Redis answers, and their next rebuild reads these rows."""
        if not self.filter_bits:
            return
        by_bucket: dict[int, list[int]] = {}
        for row in rows:
            if row.get("verdict") == summary.COUNTERFEIT:
                continue
            serial = row["serial"]
            by_bucket.setdefault(bucket_of(serial), []).extend(self.filter_offsets(serial))
        if not by_bucket:
            return
        try:
            pipe = self._client.pipeline(transaction=False)
            for bucket, positions in by_bucket.items():
                pipe.execute_command("BITFIELD", self.filter_key(bucket),
                                     *membership.set_args(positions, self.filter_bits))
            self._pipe_execute(pipe)
        except Exception as exc:  # noqa: BLE001 - never fail a commit for the filter's sake
            log.warning("membership filter bits not set (%s); buckets marked incomplete "
                        "once Redis answers", type(exc).__name__)
            with self._stale_lock:
                self._poisoned |= set(by_bucket)

    def _pipe_execute(self, pipe) -> list:
        try:
            return pipe.execute()
        except RedisClusterException as exc:
            raise redis.RedisError(f"Redis Cluster: {exc}") from exc

    # -- contract -------------------------------------------------------------------------
    def observe(self, serial: str, place: ScanPlace, window_s: float,
                counters: Sequence[tuple[str, int]] = ()) -> Observation:
        """``counters`` are rate-limit windows, ``(key, seconds)``, counted in the same
        round trip as the scan; their ``(count, ms left)`` come back in ``counts``."""
        reply, counts = self._call(serial, "scan", place, window_s, counters)
        return Observation(self._history(reply), is_repeat=bool(int(reply[1])), counts=counts)

    def count(self, counters: Sequence[tuple[str, int]]) -> tuple[tuple[int, int], ...]:
        """Rate-limit windows alone, for scans that touch no code state (forgeries)."""
        return self._run([self._counter_call(key, seconds) for key, seconds in counters])

    def history(self, serial: str) -> CodeHistory:
        return self._history(self._call(serial, "peek", None, 0)[0])

    def note_pin(self, serial: str, ok: bool, claimer: tuple[str, str] | None = None
                 ) -> CodeHistory:
        member = "|".join(claimer) if ok and claimer else ""
        return self._history(self._call(serial, "pin_ok" if ok else "pin_fail", None, 0,
                                        claimer=member)[0])

    # -- stale buckets after an outage ------------------------------------------------------
    def mark_stale(self, serial: str) -> None:
        """A scan of this code was answered without Redis (an outage, or a load that lost a
        race with a flush), or Redis counted a scan whose row was never committed: reload
        the code from its summary once Redis answers. Call it after the scan's row (and so
        its summary) is stored."""
        with self._stale_lock:
            if len(self._stale) < MAX_STALE:
                self._stale.add(serial)
            else:  # a long outage: the bucket reload below still fixes every scanned code
                self._stale_buckets.add(bucket_of(serial))

    def _drop_stale(self) -> None:
        with self._stale_lock:
            serials, self._stale = self._stale, set()
            buckets, self._stale_buckets = self._stale_buckets, set()
            poisoned, self._poisoned = self._poisoned, set()
        try:
            pipe = self._client.pipeline(transaction=False)
            for serial in serials:  # the next call misses and loads the summary
                pipe.delete(self.keys_for(serial)[1])
                if self.filter_bits:  # its summary exists now (or it is a harmless extra)
                    pipe.execute_command("BITFIELD", self.filter_key(bucket_of(serial)),
                                         *membership.set_args(self.filter_offsets(serial),
                                                              self.filter_bits))
            for bucket in buckets:  # every code of the bucket is reloaded on its next call
                pipe.incr(f"{self._tag(bucket)}:{SENTINEL}")
            if self.filter_bits:
                # Codes answered without Redis there have no bits: the worker's next rebuild
                # of these buckets reads their summaries.
                for bucket in buckets | poisoned:
                    pipe.execute_command("BITFIELD", self.filter_key(bucket),
                                         *membership.poison_args(self.filter_bits))
            pipe.execute()
        except Exception:
            with self._stale_lock:
                self._stale |= serials
                self._stale_buckets |= buckets
                self._poisoned |= poisoned
            raise

    # -- internals --------------------------------------------------------------------------
    def _call(self, serial: str, mode: str, place: ScanPlace | None, window_s: float,
              counters: Sequence[tuple[str, int]] = (), claimer: str = ""):
        if self._stale or self._stale_buckets or self._poisoned:
            self._drop_stale()
        keys = self.keys_for(serial)
        positions = self.filter_offsets(serial)
        if positions:
            keys.append(self.filter_key(bucket_of(serial)))
        now = place.at if place else dt.datetime.now(dt.UTC)
        args = [mode, int(now.timestamp() * 1000), (place.device_hash or "") if place else "",
                int(window_s * 1000), encode_place(place) if place else "", RECENT_CAP,
                (network_key(place.network, place.device_hash) or "") if place else "",
                MAX_SCANS_PER_NETWORK, claimer, self._ttl_ms, len(positions), *positions]
        state = (self._script.sha, len(keys), *keys, *args)
        *counts, reply = self._run([*(self._counter_call(k, s) for k, s in counters), state])
        if reply[0] in (b"miss", "miss"):
            self._on_summary_read()
            if positions:  # the last bit first: a filter key the loader creates is full-size
                positions = [membership.last_bit(self.filter_bits), *positions]
            load = (self._loader.sha, len(keys), *keys, self.summary_json(serial),
                    int(now.timestamp() * 1000), self._ttl_ms, len(positions), *positions)
            for _attempt in (1, 2):  # twice: a loader Redis had lost (NOSCRIPT) runs late
                loaded, reply = self._run([load, state])
                if int(loaded):
                    self._on_rebuild()
                if reply[0] not in (b"miss", "miss"):
                    break
            else:  # flushed again in between, twice: answer from the database this once
                raise BucketRebuilding(serial)
        return reply, tuple(counts)

    def summary_json(self, serial: str) -> str:
        """The code's summary row as the loader takes it (an empty state if none)."""
        if self._reader is not None:
            return self._reader.read(serial)
        with self._engine.connect() as conn:
            return summary.redis_json(conn, serial)

    def _counter_call(self, key: str, seconds: int) -> tuple:
        return (self._counter.sha, 1, key, seconds)

    def _run(self, calls: list[tuple]) -> list:
        try:
            return self._send(calls)
        except RedisClusterException as exc:
            # The store's contract: every Redis failure is a RedisError (the scan then
            # answers from the database); the Cluster client raises its own family too.
            raise redis.RedisError(f"Redis Cluster: {exc}") from exc

    def _send(self, calls: list[tuple]) -> list:
        """EVALSHA calls in one pipelined round trip (no MULTI: in a Cluster the keys may live
        on different nodes, each gets its share at once). redis-py's own pipelined scripts
        would first ask SCRIPT EXISTS, a round trip of its own, every time; instead a script
        Redis has lost (restart, SCRIPT FLUSH) is loaded when NOSCRIPT says so, and only the
        calls that did not run are sent again."""
        if len(calls) == 1:
            return [self._evalsha(calls[0])]
        pipe = self._client.pipeline(transaction=False)
        for call in calls:
            # Not pipe.evalsha(): redis-py's Cluster pipeline blocks that method, while the
            # command itself routes by its keys like any other.
            pipe.execute_command("EVALSHA", *call)
        results = pipe.execute(raise_on_error=False)
        for i, result in enumerate(results):
            if isinstance(result, NoScriptError):
                results[i] = self._evalsha(calls[i])
            elif isinstance(result, Exception):
                raise result
        return results

    def _evalsha(self, call: tuple):
        try:
            return self._client.evalsha(*call)
        except NoScriptError:
            self._client.script_load(self._sources[call[0]])
            return self._client.evalsha(*call)

    @staticmethod
    def _history(reply) -> CodeHistory:
        first = reply[4]
        claimers = int(reply[9])
        return CodeHistory(
            scan_count=int(reply[2]), device_count=int(reply[3]),
            first_scan=decode_place(first) if first else None,
            recent=tuple(decode_place(p) for p in reply[10 + claimers:]),
            pin_claims=int(reply[5]), pin_failures=int(reply[6]),
            capped_scan_count=int(reply[7]), network_count=int(reply[8]),
            pin_claimers=decode_claimers(reply[10:10 + claimers]))


__all__ = ["RedisScanStateStore", "BucketRebuilding", "bucket_of", "SENTINEL", "encode_place",
           "decode_place", "decode_claimers"]
