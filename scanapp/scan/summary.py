"""Per-code summaries (``scan_code_summaries``): a code's state without its history.

The scan sink folds every batch of scan rows (and every PIN check) into its codes' summary
rows in the same transaction as the rows themselves, so a summary is exactly as durable as
the scans it counts. Redis loads a code from its summary (one primary-key read) when the
code's keys are missing (a flush, an expiry of an idle code, an outage), and the database
state store (embedded default, degraded path) answers from it too: no state read ever scans
``scan_events``, whose size grows with history and whose old months the retention policy
drops (docs/SCAN.md "Recovery and retention").

Exact: scans, capped scans, device and network counts, first scan, the RECENT_CAP most
recent places, PIN counters and claimers. Capped: the device map (device -> last counted
scan, the DEVICE_CAP most recent: enough for the reload window, which only ever asks about
the last minute) and the network map (the DEVICE_CAP largest shares). A device or network
that fell out of its map and comes back after a reload into Redis counts as new once more;
only codes with more than DEVICE_CAP devices (copied codes, flagged long before) notice.
"""

from __future__ import annotations

import datetime as dt
import heapq
import json
import logging
import os
import threading

from sqlalchemy import bindparam, event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from ..risk.facts import MAX_SCANS_PER_NETWORK, CodeHistory, ScanPlace
from .models import CodeSummary, PinCheck, ScanEvent

log = logging.getLogger(__name__)

RECENT_CAP = 20
DEVICE_CAP = 64
CLAIMER_CAP = 32
COUNTERFEIT = "counterfeit"
_COLUMNS = ("scans", "capped_scans", "device_count", "network_count", "first_scan",
            "last_scan_at", "recent", "devices", "networks", "pin_claims", "pin_failures",
            "pin_claimers")


# -- places as text (the same text Redis holds) ------------------------------------------------
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


def decode_claimers(members) -> tuple[tuple[str, str], ...]:
    pairs = []
    for member in members:
        text = member.decode() if isinstance(member, bytes) else member
        device, _sep, network = text.partition("|")
        pairs.append((device, network))
    return tuple(sorted(pairs))


def network_key(network: str | None, device: str | None) -> str | None:
    """What a scan counts as for the per-network counters: its client network, or, when the
    address said nothing (loopback, none), its device as a network of its own."""
    if network:
        return network
    return f"d:{device}" if device else None


# -- the state of one code ----------------------------------------------------------------------
def empty() -> dict:
    return {"scans": 0, "capped_scans": 0, "device_count": 0, "network_count": 0,
            "first_scan": None, "last_scan_at": None, "recent": [], "devices": {},
            "networks": {}, "pin_claims": 0, "pin_failures": 0, "pin_claimers": []}


def _ms(at: dt.datetime) -> int:
    return int(at.timestamp() * 1000)


def add_scan(state: dict, row: dict) -> None:
    """Fold one counted scan row (not a forgery) into ``state``, as scan_state.lua does."""
    at = row["scanned_at"]
    device = row.get("device_hash")
    network = row.get("client_hash")
    place = ScanPlace(at=at, lat=row.get("lat"), lon=row.get("lon"),
                      province=row.get("province"), device_hash=device,
                      accuracy_m=row.get("accuracy_m"), network=network)
    text = encode_place(place)
    state["scans"] += 1
    key = network_key(network, device)
    share = 1
    if key:
        share = state["networks"][key] = state["networks"].get(key, 0) + 1
        if share == 1:
            state["network_count"] += 1
    if share <= MAX_SCANS_PER_NETWORK:
        state["capped_scans"] += 1
    if state["first_scan"] is None:
        state["first_scan"] = text
    recent = [text, *state["recent"]]
    if state["recent"] and _ms(at) < int(state["recent"][0].split("|", 1)[0]):
        recent.sort(key=lambda p: int(p.split("|", 1)[0]), reverse=True)  # late row: by time
    state["recent"] = recent[:RECENT_CAP]
    if device:
        if device not in state["devices"]:
            state["device_count"] += 1
        state["devices"][device] = _ms(at)
    if state["last_scan_at"] is None or at > state["last_scan_at"]:
        state["last_scan_at"] = at


def add_pin(state: dict, ok: bool, device: str | None, network: str | None) -> None:
    if ok:
        state["pin_claims"] += 1
        member = f"{device}|{network or ''}"
        if device and member not in state["pin_claimers"]:
            state["pin_claimers"] = sorted([*state["pin_claimers"], member])[:CLAIMER_CAP]
    else:
        state["pin_failures"] += 1


def _capped(state: dict) -> dict:
    if len(state["devices"]) > DEVICE_CAP:
        state["devices"] = dict(heapq.nlargest(DEVICE_CAP, state["devices"].items(),
                                               key=lambda kv: kv[1]))
    if len(state["networks"]) > DEVICE_CAP:
        state["networks"] = dict(heapq.nlargest(DEVICE_CAP, state["networks"].items(),
                                                key=lambda kv: kv[1]))
    return state


def history_of(state: dict) -> tuple[CodeHistory, dict[str, dt.datetime], dict[str, int]]:
    """CodeHistory plus each device's last counted scan and each network's counted scans."""
    first = state["first_scan"]
    history = CodeHistory(
        scan_count=state["scans"], device_count=state["device_count"],
        first_scan=decode_place(first) if first else None,
        recent=tuple(decode_place(p) for p in state["recent"][:RECENT_CAP]),
        pin_claims=state["pin_claims"], pin_failures=state["pin_failures"],
        network_count=state["network_count"], capped_scan_count=state["capped_scans"],
        pin_claimers=decode_claimers(state["pin_claimers"]))
    last_seen = {d: dt.datetime.fromtimestamp(int(ms) / 1000, dt.UTC)
                 for d, ms in state["devices"].items()}
    return history, last_seen, dict(state["networks"])


# -- reading and writing rows ---------------------------------------------------------------------
def _state_of(row) -> dict:
    state = {name: getattr(row, name) for name in _COLUMNS}
    state["recent"] = list(state["recent"] or [])
    state["devices"] = dict(state["devices"] or {})
    state["networks"] = dict(state["networks"] or {})
    state["pin_claimers"] = list(state["pin_claimers"] or [])
    at = state["last_scan_at"]
    if at is not None and at.tzinfo is None:
        state["last_scan_at"] = at.replace(tzinfo=dt.UTC)
    return state


def load(conn: Connection, serials, *, lock: bool = False) -> dict[str, dict]:
    """Summaries of these codes (missing ones are absent), by primary key."""
    query = select(CodeSummary).where(CodeSummary.serial.in_(list(serials)))
    if lock:
        query = query.order_by(CodeSummary.serial).with_for_update()
    return {row.serial: _state_of(row) for row in conn.execute(query)}


def load_one(conn: Connection, serial: str) -> dict:
    return load(conn, (serial,)).get(serial) or empty()


def _dialect_insert(conn: Connection):
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(
        CodeSummary)


_UPDATE = (update(CodeSummary).where(CodeSummary.serial == bindparam("key"))
           .values({name: bindparam(name) for name in _COLUMNS}))


def _store(conn: Connection, states: dict[str, dict]) -> None:
    """Placeholders first (ON CONFLICT DO NOTHING), then the rows locked in serial order and
    updated: two committers folding scans of one new code never overwrite each other."""
    params = [{"key": serial, **_capped(state)} for serial, state in sorted(states.items())]
    conn.execute(_UPDATE, params)


def _lock(conn: Connection, serials: list[str]) -> dict[str, dict]:
    conn.execute(_dialect_insert(conn).values([{"serial": s, **empty()} for s in serials])
                 .on_conflict_do_nothing(index_elements=["serial"]))
    return load(conn, serials, lock=True)


# PostgreSQL: three fixed statements (prepared once by psycopg, whatever the batch size),
# the batch going in as one array and one JSON text, as the scan rows do (sink.py).
_PG_PLACEHOLDERS = (
    "INSERT INTO scan_code_summaries (serial, recent, devices, networks, pin_claimers) "
    "SELECT s, '[]', '{}', '{}', '[]' FROM unnest(%s::text[]) AS s ORDER BY s "
    "ON CONFLICT (serial) DO NOTHING")
_PG_LOCK = (
    f"SELECT serial, {', '.join(_COLUMNS)} FROM scan_code_summaries "
    "WHERE serial = ANY(%s::text[]) ORDER BY serial FOR UPDATE")
_PG_TYPES = {"scans": "int4", "capped_scans": "int4", "device_count": "int4",
             "network_count": "int4", "first_scan": "text", "last_scan_at": "timestamptz",
             "recent": "json", "devices": "json", "networks": "json", "pin_claims": "int4",
             "pin_failures": "int4", "pin_claimers": "json"}
_PG_UPDATE = (
    "UPDATE scan_code_summaries AS t SET "
    + ", ".join(f"{name} = r.{name}" for name in _COLUMNS)
    + " FROM json_to_recordset(%s::json) AS r(serial text, "
    + ", ".join(f"{name} {_PG_TYPES[name]}" for name in _COLUMNS)
    + ") WHERE t.serial = r.serial")


def _pg_fold(conn: Connection, serials: list[str], fold) -> None:
    conn.exec_driver_sql(_PG_PLACEHOLDERS, (serials,))
    states = {}
    for row in conn.exec_driver_sql(_PG_LOCK, (serials,)):
        states[row[0]] = state = dict(zip(_COLUMNS, row[1:], strict=True))
        state["recent"] = list(state["recent"] or [])
        state["devices"] = dict(state["devices"] or {})
        state["networks"] = dict(state["networks"] or {})
        state["pin_claimers"] = list(state["pin_claimers"] or [])
    fold(states)
    records = []
    for serial, state in states.items():
        record = {"serial": serial, **_capped(state)}
        at = record["last_scan_at"]
        record["last_scan_at"] = at.isoformat() if at is not None else None
        records.append(record)
    conn.exec_driver_sql(_PG_UPDATE, (json.dumps(records),))


def apply_scans(conn: Connection, rows: list[dict]) -> None:
    """Fold a batch of scan rows into their summaries, inside the caller's transaction."""
    now = dt.datetime.now(dt.UTC)
    counted = [{**row, "scanned_at": row.get("scanned_at") or now} for row in rows
               if row.get("verdict") != COUNTERFEIT]
    if not counted:
        return
    counted.sort(key=lambda r: r["scanned_at"])
    serials = sorted({row["serial"] for row in counted})

    def fold(states: dict[str, dict]) -> None:
        for row in counted:
            add_scan(states[row["serial"]], row)

    if conn.dialect.name == "postgresql":
        _pg_fold(conn, serials, fold)
        return
    states = _lock(conn, serials)
    fold(states)
    _store(conn, states)


def apply_pin(conn: Connection, row: dict) -> None:
    states = _lock(conn, [row["serial"]])
    add_pin(states[row["serial"]], bool(row["ok"]), row.get("device_hash"),
            row.get("client_hash"))
    _store(conn, states)


def backfill(conn: Connection, chunk: int = 2000, progress=None) -> int:
    """Rebuild every summary from ``scan_events`` and ``scan_pin_checks``, in the caller's
    transaction (existing data at the upgrade that added summaries; after a restore). Reads
    the rows once, in serial order (streamed on PostgreSQL); returns the codes written.
    Scans must be stopped meanwhile; running it again replaces the summaries, adds nothing."""
    pins: dict[str, list] = {}
    for serial, ok, device, network in conn.execute(
            select(PinCheck.serial, PinCheck.ok, PinCheck.device_hash, PinCheck.client_hash)
            .order_by(PinCheck.checked_at, PinCheck.id)):
        pins.setdefault(serial, []).append((ok, device, network))
    columns = (ScanEvent.serial, ScanEvent.scanned_at, ScanEvent.lat, ScanEvent.lon,
               ScanEvent.province, ScanEvent.device_hash, ScanEvent.accuracy_m,
               ScanEvent.client_hash)
    query = (select(*columns).where(ScanEvent.verdict != COUNTERFEIT)
             .order_by(ScanEvent.serial, ScanEvent.scanned_at, ScanEvent.id))
    if conn.dialect.name == "postgresql":
        rows = conn.execute(query, execution_options={"stream_results": True,
                                                      "yield_per": 20_000})
    else:
        rows = conn.execute(query).all()
    written = 0
    states: dict[str, dict] = {}

    def flush() -> None:
        nonlocal written
        for serial, state in states.items():
            for ok, device, network in pins.pop(serial, ()):
                add_pin(state, ok, device, network)
        if states:
            _lock(conn, sorted(states))
            _store(conn, states)
            written += len(states)
            states.clear()
            if progress:
                progress(written)

    for row in rows:
        state = states.get(row.serial)
        if state is None:
            if len(states) >= chunk:
                flush()
            state = states[row.serial] = empty()
        at = row.scanned_at if row.scanned_at.tzinfo else row.scanned_at.replace(tzinfo=dt.UTC)
        add_scan(state, {**row._mapping, "scanned_at": at})
    flush()
    for serial in list(pins):  # PIN checks of codes never scanned
        states[serial] = empty()
    flush()
    return written


# PostgreSQL builds the loader's JSON itself: one prepared primary-key read, and the text
# goes to Redis untouched (no JSON decoding and encoding in the scan's thread).
_PG_REDIS_JSON = (
    "SELECT json_build_object('n', scans, 'e', capped_scans, 'dn', device_count, "
    "'wn', network_count, 'pc', pin_claims, 'pf', pin_failures, "
    "'first', coalesce(first_scan, ''), 'last', coalesce(recent->>0, ''), "
    "'recent', recent, 'devices', devices, 'networks', networks, "
    "'claimers', pin_claimers)::text FROM scan_code_summaries WHERE serial = %s")
_EMPTY_REDIS_JSON = None  # filled below, once to_redis exists


class SummaryReader:
    """The scan path's summary reads (a code missing in Redis) on PostgreSQL, on a few
    connections of their own taken out of the engine's pool: autocommit (no BEGIN, no
    ROLLBACK), no ping before each use, the statement prepared once per connection. That
    is one database round trip per load, where a pooled SQLAlchemy connection cost three
    (ping, query, reset) and most of the load's CPU. A failed read drops its connection
    and is done again once through the engine's pool, whose errors the app already maps
    (503 database_unavailable)."""

    IDLE_CAP = 8

    def __init__(self, engine):
        self._engine = engine
        self._idle: list = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        # Closed with the engine (app shutdown, tests), which knows nothing of them.
        event.listen(engine, "engine_disposed", lambda _engine: self.close())

    def read(self, serial: str) -> str:
        try:
            conn = self._take()
            with conn.cursor() as cur:
                cur.execute(_PG_REDIS_JSON, (serial,), prepare=True)
                row = cur.fetchone()
        except Exception:  # noqa: BLE001 - the pooled path below raises the app's errors
            log.info("summary read on a dedicated connection failed; using the pool",
                     exc_info=True)
            with self._engine.connect() as pooled:
                return redis_json(pooled, serial)
        self._give(conn)
        return row[0] if row is not None else _EMPTY_REDIS_JSON

    def _take(self):
        with self._lock:
            if self._pid != os.getpid():  # forked (gunicorn): the parent's, never close them
                self._idle, self._pid = [], os.getpid()
            if self._idle:
                return self._idle.pop()
        raw = self._engine.raw_connection()
        conn = raw.driver_connection
        raw.detach()  # ours from now on; the pool opens another when it needs one
        conn.rollback()  # the checkout's ping may have opened a transaction
        conn.autocommit = True
        return conn

    def _give(self, conn) -> None:
        with self._lock:
            if len(self._idle) < self.IDLE_CAP and self._pid == os.getpid():
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def redis_json(conn: Connection, serial: str) -> str:
    """The code's summary as load_code.lua takes it (an empty state when it has none)."""
    if conn.dialect.name == "postgresql":
        text = conn.exec_driver_sql(_PG_REDIS_JSON, (serial,)).scalar()
        return text if text is not None else _EMPTY_REDIS_JSON
    return to_redis(load_one(conn, serial))


def to_redis(state: dict) -> str:
    """The state as the JSON text scan_state.lua's loader takes."""
    return json.dumps({
        "n": state["scans"], "e": state["capped_scans"], "dn": state["device_count"],
        "wn": state["network_count"], "pc": state["pin_claims"], "pf": state["pin_failures"],
        "first": state["first_scan"] or "",
        "last": state["recent"][0] if state["recent"] else "",
        "recent": state["recent"][:RECENT_CAP],
        "devices": {d: str(ms) for d, ms in state["devices"].items()},
        "networks": {k: str(n) for k, n in state["networks"].items()},
        "claimers": state["pin_claimers"]})


_EMPTY_REDIS_JSON = to_redis(empty())
