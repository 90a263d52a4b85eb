"""The Redis state store: one server-side script call per scan, rebuilt from the database.

Keys (all under ``REDIS_PREFIX``) carry the hash tag of the code's *bucket*, one of 1024,
so a script touches one Cluster slot::

    {prefix}:{b<bucket>}:ready:v2       sentinel: the bucket is loaded from the database
    {prefix}:{b<bucket>}:c:<serial>     hash  n, e, first, last, pc, pf
    {prefix}:{b<bucket>}:d:<serial>     hash  device hash -> last counted scan (ms)
    {prefix}:{b<bucket>}:r:<serial>     list  recent places, newest first (capped)
    {prefix}:{b<bucket>}:w:<serial>     hash  network -> counted scans from it
    {prefix}:{b<bucket>}:p:<serial>     set   PIN claimers, "device|network"

The sentinel's name carries the layout's version: after an upgrade that changes what a code
holds, every bucket is cold once and reloaded from the database in the new layout.

Redis runs without persistence. After a flush the sentinel is gone, the script answers
"cold" and the store reloads the whole bucket from ``scan_events`` before answering; a
missing code key under a present sentinel therefore really means "never scanned", which
keeps a first scan at one round trip. One process rebuilds a bucket at a time (a lock key);
others answer from the database meanwhile.

Failures (connection refused, timeout, cluster errors) surface as ``redis.RedisError``; the
scan service then answers from the database (degraded). Buckets touched while degraded are
marked stale and reloaded once Redis answers again, so counters converge to the database.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
import zlib
from collections import defaultdict, deque
from collections.abc import Sequence
from pathlib import Path

import redis
from redis.exceptions import NoScriptError, RedisClusterException
from sqlalchemy import bindparam, or_, select
from sqlalchemy.engine import Engine

from ..risk.facts import MAX_SCANS_PER_NETWORK, CodeHistory, ScanPlace
from ..serials.codec import ALPHABET
from .models import PinCheck, ScanEvent
from .store import COUNTERFEIT, RECENT_CAP, Observation, ScanStateStore, network_key

BUCKETS = 1024
CROCKFORD = ALPHABET  # the serial alphabet (serials/codec.py)
_CROCKFORD_VALUE = {ch: i for i, ch in enumerate(CROCKFORD)}
REBUILD_LOCK_MS = 30_000
# The bucket sentinel's key suffix; its version changes with what a code's keys hold.
SENTINEL = "ready:v2"
MAX_STALE = 100_000  # serials remembered while Redis is away; then whole buckets
SCRIPT = (Path(__file__).with_name("scan_state.lua")).read_text()
# A fixed-window counter (the semantics of the limits library's fixed window: the window
# starts at the first hit) that also answers how long its window has left.
COUNTER_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
"""


class BucketRebuilding(Exception):
    """Another process is reloading this bucket; answer from the database for now."""


def bucket_of(serial: str) -> int:
    """Characters 2-3 of a genuine serial are uniformly random bits of the permuted sequence
    number, so they spread codes evenly over 32*32 = 1024 buckets and let the rebuild find a
    bucket's rows with index range scans on ``serial``. Anything else falls back to CRC32."""
    if len(serial) == 20 and serial[1] in _CROCKFORD_VALUE and serial[2] in _CROCKFORD_VALUE:
        return _CROCKFORD_VALUE[serial[1]] * 32 + _CROCKFORD_VALUE[serial[2]]
    return zlib.crc32(serial.encode()) % BUCKETS


def encode_place(place: ScanPlace) -> str:
    ms = int(place.at.timestamp() * 1000)
    parts = (str(ms), "" if place.lat is None else repr(place.lat),
             "" if place.lon is None else repr(place.lon), place.province or "",
             place.device_hash or "",
             "" if place.accuracy_m is None else str(round(place.accuracy_m)),
             place.network or "")
    return "|".join(parts)


def decode_place(text: str | bytes) -> ScanPlace:
    if isinstance(text, bytes):
        text = text.decode()
    ms, lat, lon, province, device, accuracy, network = (text.split("|") + [""] * 2)[:7]
    return ScanPlace(at=dt.datetime.fromtimestamp(int(ms) / 1000, dt.UTC),
                     lat=float(lat) if lat else None, lon=float(lon) if lon else None,
                     province=province or None, device_hash=device or None,
                     accuracy_m=float(accuracy) if accuracy else None,
                     network=network or None)


class RedisScanStateStore(ScanStateStore):
    def __init__(self, client, prefix: str, engine: Engine, on_rebuild=None, key_ids=None):
        self._client = client
        self._prefix = prefix
        self._engine = engine
        self._script = client.register_script(SCRIPT)
        self._counter = client.register_script(COUNTER_SCRIPT)
        # Source by hash, to load a script again when Redis answers NOSCRIPT.
        self._sources = {script.sha: script.script for script in (self._script, self._counter)}
        self._stale: set[str] = set()
        self._stale_buckets: set[int] = set()
        self._stale_lock = threading.Lock()
        self._on_rebuild = on_rebuild or (lambda: None)
        # The signing key ids in use (from the serial codec); None means all 32.
        self._key_ids = key_ids or (lambda: range(32))

    # -- keys -----------------------------------------------------------------------------
    def _tag(self, bucket: int) -> str:
        return f"{self._prefix}:{{b{bucket}}}"

    def keys_for(self, serial: str) -> list[str]:
        tag = self._tag(bucket_of(serial))
        return [f"{tag}:{SENTINEL}", f"{tag}:c:{serial}", f"{tag}:d:{serial}",
                f"{tag}:r:{serial}", f"{tag}:w:{serial}", f"{tag}:p:{serial}"]

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
        """A scan of this code was answered without Redis (an outage, or while its bucket was
        being rebuilt), or Redis counted a scan whose row was never committed: reload the
        code from the database once Redis answers. Call it after the scan's row is stored."""
        with self._stale_lock:
            if len(self._stale) < MAX_STALE:
                self._stale.add(serial)
            else:  # a long outage: the bucket reload below still fixes every scanned code
                self._stale_buckets.add(bucket_of(serial))

    def _drop_stale(self) -> None:
        with self._stale_lock:
            serials, self._stale = self._stale, set()
            buckets, self._stale_buckets = self._stale_buckets, set()
        try:
            if serials:
                self._reseed(serials)
            for bucket in buckets:
                self._client.delete(f"{self._tag(bucket)}:{SENTINEL}")
        except Exception:
            with self._stale_lock:
                self._stale |= serials
                self._stale_buckets |= buckets
            raise

    # -- internals --------------------------------------------------------------------------
    def _call(self, serial: str, mode: str, place: ScanPlace | None, window_s: float,
              counters: Sequence[tuple[str, int]] = (), claimer: str = ""):
        if self._stale or self._stale_buckets:
            self._drop_stale()
        keys = self.keys_for(serial)
        now = place.at if place else dt.datetime.now(dt.UTC)
        args = [mode, int(now.timestamp() * 1000), (place.device_hash or "") if place else "",
                int(window_s * 1000), encode_place(place) if place else "", RECENT_CAP,
                (network_key(place.network, place.device_hash) or "") if place else "",
                MAX_SCANS_PER_NETWORK, claimer]
        state = (self._script.sha, len(keys), *keys, *args)
        *counts, reply = self._run([*(self._counter_call(k, s) for k, s in counters), state])
        if reply[0] in (b"cold", "cold"):
            self.rebuild_bucket(bucket_of(serial))
            (reply,) = self._run([state])
            if reply[0] in (b"cold", "cold"):  # flushed again mid-rebuild: give up this once
                raise BucketRebuilding(serial)
        return reply, tuple(counts)

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

    def rebuild_bucket(self, bucket: int) -> None:
        """Reload every code of one bucket from the database, then set the sentinel."""
        tag = self._tag(bucket)
        lock = f"{tag}:rebuilding"
        if not self._client.set(lock, "1", nx=True, px=REBUILD_LOCK_MS):
            raise BucketRebuilding(str(bucket))
        try:
            codes = self._load_bucket(bucket)
            pipe = self._client.pipeline(transaction=False)
            self._write_codes(pipe, codes)
            pipe.set(f"{tag}:{SENTINEL}", "1")
            pipe.execute()
            self._on_rebuild()
        finally:
            self._client.delete(lock)

    def _reseed(self, serials: set[str]) -> None:
        """Rewrite some codes from the database, leaving their buckets' sentinels alone."""
        ordered = sorted(serials)
        for start in range(0, len(ordered), 500):
            chunk = ordered[start:start + 500]
            with self._engine.connect() as conn:
                codes = _load_codes(conn, _events_of(chunk), _pins_of(chunk), {})
            for serial in chunk:  # a code without rows is reset to zero, not left stale
                codes.setdefault(serial, _empty_code())
            pipe = self._client.pipeline(transaction=False)
            self._write_codes(pipe, codes)
            pipe.execute()

    def _write_codes(self, pipe, codes: dict[str, dict]) -> None:
        for serial, state in codes.items():
            _sentinel, c, d, r, w, p = self.keys_for(serial)
            for key in (c, d, r, w, p):  # one key per DEL: Cluster pipelines refuse multi-key DEL
                pipe.delete(key)
            fields = {"n": state["n"], "e": state["e"], "pc": state["pc"], "pf": state["pf"]}
            if state["first"] is not None:
                fields["first"] = encode_place(state["first"])
                fields["last"] = encode_place(state["recent"][-1])
                pipe.rpush(r, *[encode_place(p) for p in reversed(state["recent"])])
            pipe.hset(c, mapping=fields)
            if state["devices"]:
                pipe.hset(d, mapping={k: int(v.timestamp() * 1000)
                                      for k, v in state["devices"].items()})
            if state["networks"]:
                pipe.hset(w, mapping=state["networks"])
            if state["claimers"]:
                pipe.sadd(p, *sorted("|".join(pair) for pair in state["claimers"]))

    def _load_bucket(self, bucket: int) -> dict[str, dict]:
        key_chars = self._key_chars()
        params = _range_params(bucket, key_chars)
        with self._engine.connect() as conn:
            codes = _load_codes(conn, _events_query(len(key_chars)),
                                _pins_query(len(key_chars)), params)
        return {serial: state for serial, state in codes.items() if bucket_of(serial) == bucket}

    def _key_chars(self) -> str:
        """First characters of genuine serials: the signing keys that exist (usually one or
        two), so a rebuild makes that many index range scans rather than 32."""
        try:
            ids = sorted(self._key_ids())
        except Exception:  # keys unreadable: cover every possible key id
            ids = []
        return "".join(CROCKFORD[i] for i in ids if 0 <= i < 32) or CROCKFORD


def _empty_code() -> dict:
    return {"n": 0, "e": 0, "pc": 0, "pf": 0, "first": None,
            "recent": deque(maxlen=RECENT_CAP), "devices": {}, "networks": {},
            "claimers": set()}


def decode_claimers(members) -> tuple[tuple[str, str], ...]:
    pairs = []
    for member in members:
        text = member.decode() if isinstance(member, bytes) else member
        device, _sep, network = text.partition("|")
        pairs.append((device, network))
    return tuple(sorted(pairs))


def _load_codes(conn, events, pins, params) -> dict[str, dict]:
    """Per-code state from event rows (ordered by serial, time) and PIN check rows."""
    codes: dict[str, dict] = defaultdict(_empty_code)
    for row in conn.execute(events, params):
        state = codes[row.serial]
        place = ScanPlace(at=row.scanned_at, lat=row.lat, lon=row.lon, province=row.province,
                          device_hash=row.device_hash, accuracy_m=row.accuracy_m,
                          network=row.client_hash)
        state["n"] += 1
        key = network_key(row.client_hash, row.device_hash)
        share = 1
        if key:
            share = state["networks"][key] = state["networks"].get(key, 0) + 1
        if share <= MAX_SCANS_PER_NETWORK:
            state["e"] += 1
        state["first"] = state["first"] or place
        state["recent"].append(place)
        if row.device_hash:
            state["devices"][row.device_hash] = row.scanned_at
    for serial, ok, device, network in conn.execute(pins, params):
        codes[serial]["pc" if ok else "pf"] += 1
        if ok and device:
            codes[serial]["claimers"].add((device, network or ""))
    return codes


_EVENT_COLUMNS = (ScanEvent.serial, ScanEvent.scanned_at, ScanEvent.lat, ScanEvent.lon,
                  ScanEvent.province, ScanEvent.device_hash, ScanEvent.accuracy_m,
                  ScanEvent.client_hash)


_PIN_COLUMNS = (PinCheck.serial, PinCheck.ok, PinCheck.device_hash, PinCheck.client_hash)


def _events_of(serials: list[str]):
    return (select(*_EVENT_COLUMNS)
            .where(ScanEvent.serial.in_(serials), ScanEvent.verdict != COUNTERFEIT)
            .order_by(ScanEvent.serial, ScanEvent.scanned_at, ScanEvent.id))


def _pins_of(serials: list[str]):
    return select(*_PIN_COLUMNS).where(PinCheck.serial.in_(serials))


def _range_params(bucket: int, key_chars: str) -> dict[str, str]:
    pair = CROCKFORD[bucket // 32] + CROCKFORD[bucket % 32]
    params = {}
    for i, k in enumerate(key_chars):
        # Alphanumeric bounds only, so they hold under C and locale collations alike.
        params[f"lo{i}"], params[f"hi{i}"] = k + pair, k + pair + "Z" * 17
    return params


def _ranges(column, count: int):
    return or_(*[column.between(bindparam(f"lo{i}"), bindparam(f"hi{i}"))
                 for i in range(count)])


@functools.lru_cache(maxsize=64)
def _events_query(count: int):
    """Built once per number of key ids: constant SQL, compiled once, cached by SQLAlchemy."""
    return (select(*_EVENT_COLUMNS)
            .where(_ranges(ScanEvent.serial, count), ScanEvent.verdict != COUNTERFEIT)
            .order_by(ScanEvent.serial, ScanEvent.scanned_at, ScanEvent.id))


@functools.lru_cache(maxsize=64)
def _pins_query(count: int):
    return select(*_PIN_COLUMNS).where(_ranges(PinCheck.serial, count))


__all__ = ["RedisScanStateStore", "BucketRebuilding", "bucket_of", "SENTINEL"]
