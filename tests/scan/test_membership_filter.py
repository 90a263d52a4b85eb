"""The per-bucket membership filter (scan/membership.py): a code's first scan reads no
summary and takes one Redis round trip once its bucket's filter is complete; codes seen
before, incomplete filters and false positives read the summary, as before; the filter
survives the codes' idle expiry; a flush makes it incomplete until the worker rebuilds it;
and the rebuild cannot miss a summary committed after it read (issue 20, issue 14)."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time

import pytest
import redis

from scanapp.db import get_engine
from scanapp.redis_client import get_redis
from scanapp.risk.facts import ScanPlace
from scanapp.scan import membership, summary
from scanapp.scan.redis_store import BUCKETS, RedisScanStateStore, bucket_of
from scanapp.scan.sink import DirectSink
from scanapp.services import services
from scanapp.worker import FilterKeeper, rebuild_filters

T0 = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)
GTIN = "08934567890120"


def serial_of(n: int) -> str:
    """Distinct 20-character serials spread over the buckets (characters 2-3)."""
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    return (alphabet[n % 32] + alphabet[(n // 32) % 32] + alphabet[(n // 1024) % 32]
            + f"{n:017d}")


class Reads:
    """Counts the store's summary reads."""

    def __init__(self, store, monkeypatch):
        self.serials: list[str] = []
        original = store.summary_json

        def counted(serial):
            self.serials.append(serial)
            return original(serial)

        monkeypatch.setattr(store, "summary_json", counted)


class Harness:
    def __init__(self, app, store, sink=None):
        self.store = store
        self.sink = sink or DirectSink(get_engine(app), before_commit=store.note_stored)

    def scan(self, serial: str, device: str = "d1", seconds: float = 0.0):
        place = ScanPlace(at=T0 + dt.timedelta(seconds=seconds), device_hash=device)
        obs = self.store.observe(serial, place, 60.0)
        if not obs.is_repeat:
            self.sink.record(row(serial, place, obs.scan_no))
        return obs


def row(serial: str, place: ScanPlace, scan_no: int) -> dict:
    return {"scanned_at": place.at, "serial": serial, "gtin": GTIN, "verdict": "authentic",
            "reasons": [], "risk": 0, "scan_no": scan_no, "device_hash": place.device_hash,
            "client_hash": None, "source": "api", "degraded": False}


def flush(app) -> None:
    client = get_redis(app)
    for key in list(client.scan_iter(match=app.config["REDIS_PREFIX"] + ":*")):
        client.delete(key)  # this test's keys only (never FLUSHDB on a shared Redis)


@pytest.fixture
def redis_client(app):
    client = get_redis(app)
    if client is None:
        pytest.skip("the membership filter lives in Redis: services stack")
    return client


@pytest.fixture
def store(app, redis_client, monkeypatch):
    made = RedisScanStateStore(redis_client, app.config["REDIS_PREFIX"], get_engine(app),
                               filter_bits=1 << 12, filter_hashes=4)
    return made


def test_a_new_codes_first_scan_reads_no_summary_once_the_filter_is_complete(
        app, store, monkeypatch):
    reads = Reads(store, monkeypatch)
    harness = Harness(app, store)
    # Before any rebuild the filters are incomplete: a first scan reads its (missing) row.
    assert harness.scan(serial_of(1)).scan_no == 1
    assert reads.serials == [serial_of(1)]
    assert len(store.incomplete_buckets()) == BUCKETS
    done = membership.rebuild(get_engine(app), store)
    assert (done["completed"], done["summaries"]) == (BUCKETS, 1)
    assert store.incomplete_buckets() == []
    reads.serials.clear()
    for n in range(2, 40):
        assert harness.scan(serial_of(n)).history.scan_count == 1
    assert reads.serials == []
    # A code seen before, whose keys are gone (expired, invalidated), reads its summary and
    # counts on: its bits are set.
    redis_client = store.client
    redis_client.delete(*store.keys_for(serial_of(5))[1:])
    second = harness.scan(serial_of(5), device="d2", seconds=100)
    assert second.history.scan_count == 2 and second.history.device_count == 2
    assert reads.serials == [serial_of(5)]


def test_first_scan_through_the_api_is_one_round_trip_and_no_database_read(
        app, client, issue_stamps, monkeypatch, redis_client):
    store = services(app).scan.store
    assert isinstance(store, RedisScanStateStore) and store.filter_bits
    stamps = issue_stamps(4)
    client.post("/api/v1/scans", json={"code": stamps[0].uri, "device_id": "warm-up"})
    assert rebuild_filters(app)["completed"] == BUCKETS
    reads = Reads(store, monkeypatch)
    target = redis_client.resolve() if hasattr(redis_client, "resolve") else redis_client
    calls: list[str] = []
    original = target.execute_command

    def counted(*args, **kwargs):
        calls.append(str(args[0]))
        return original(*args, **kwargs)

    monkeypatch.setattr(target, "execute_command", counted)
    for stamp in stamps[1:]:
        body = client.post("/api/v1/scans", json={"code": stamp.uri, "device_id": "p1"}
                           ).get_json()
        assert (body["scan_count"], body["last_scan"]) == (1, None)
    assert calls == ["EVALSHA"] * 3  # the request path: one script call each
    assert reads.serials == []
    body = client.post("/api/v1/scans", json={"code": stamps[0].uri, "device_id": "p2"}
                       ).get_json()
    assert body["scan_count"] == 2  # in Redis since its first scan: no read either
    assert reads.serials == []
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "scanapp_scan_summary_reads_total" in metrics


def test_a_flush_makes_filters_incomplete_until_the_worker_rebuilds_them(
        app, redis_client, monkeypatch):
    store = services(app).scan.store  # the app's, as the worker process has it
    harness = Harness(app, store)
    membership.rebuild(get_engine(app), store)
    for n in range(10):
        harness.scan(serial_of(n))
    flush(app)
    reads = Reads(store, monkeypatch)
    # Before the rebuild: every missing code reads its summary, and counts are right.
    assert [harness.scan(serial_of(n), device="d2", seconds=100).scan_no
            for n in range(5)] == [2] * 5
    assert harness.scan(serial_of(100)).scan_no == 1
    assert len(reads.serials) == 6
    assert len(store.incomplete_buckets()) == BUCKETS
    assert FilterKeeper(app).run_once() is False
    assert store.incomplete_buckets() == []
    reads.serials.clear()
    # After it: codes seen before (loaded or not since the flush) still read and count on,
    # new codes read nothing.
    assert [harness.scan(serial_of(n), device="d3", seconds=200).scan_no
            for n in range(5, 10)] == [2] * 5
    assert len(reads.serials) == 5
    reads.serials.clear()
    assert harness.scan(serial_of(200)).scan_no == 1
    assert reads.serials == []


def test_the_filter_outlives_the_codes_idle_expiry(app, redis_client, monkeypatch):
    store = RedisScanStateStore(redis_client, app.config["REDIS_PREFIX"], get_engine(app),
                                ttl_s=0.3, filter_bits=1 << 12, filter_hashes=4)
    membership.rebuild(get_engine(app), store)
    harness = Harness(app, store)
    serial = serial_of(7)
    harness.scan(serial)
    filter_key = store.filter_key(bucket_of(serial))
    assert redis_client.pttl(filter_key) == -1  # no time to live
    deadline = time.monotonic() + 5
    while redis_client.exists(*store.keys_for(serial)[1:]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not redis_client.exists(*store.keys_for(serial)[1:])
    reads = Reads(store, monkeypatch)
    assert harness.scan(serial, device="d2", seconds=100).scan_no == 2
    assert reads.serials == [serial]


def test_false_positives_read_the_summary_and_stay_right(app, redis_client, monkeypatch):
    # 8 bits, one position: after a few codes most new codes look seen.
    store = RedisScanStateStore(redis_client, app.config["REDIS_PREFIX"], get_engine(app),
                                filter_bits=8, filter_hashes=1)
    membership.rebuild(get_engine(app), store)
    reads = Reads(store, monkeypatch)
    harness = Harness(app, store)
    serials = [f"0AB{c}" + "1" * 16 for c in "0123456789ABCDEFGHJK"]  # one bucket
    assert len({bucket_of(s) for s in serials}) == 1
    assert [harness.scan(s).scan_no for s in serials] == [1] * len(serials)
    assert 0 < len(reads.serials) < len(serials)  # some new, some false positives
    assert [harness.scan(s, device="d2", seconds=100).scan_no for s in serials] == \
        [2] * len(serials)


def test_every_key_of_a_call_shares_the_buckets_hash_tag(app, store, monkeypatch):
    """Redis Cluster runs a script only if all its keys hash to one slot."""
    sent: list[tuple] = []
    original = store._send

    def spy(calls):
        sent.extend(calls)
        return original(calls)

    monkeypatch.setattr(store, "_send", spy)
    harness = Harness(app, store)
    membership.rebuild(get_engine(app), store)
    harness.scan(serial_of(3))  # new: in the script
    store.client.delete(store.keys_for(serial_of(3))[1])
    harness.scan(serial_of(3), device="d2", seconds=100)  # seen: loader + script
    assert len(sent) == 4  # new: 1 call; seen: the miss, then loader + script
    for call in sent:
        keys = call[2:2 + int(call[1])]
        assert len(keys) == 7 and keys[-1] == store.filter_key(bucket_of(serial_of(3)))
        assert {re.search(r"\{[^}]*\}", key).group(0) for key in keys} == \
            {f"{{b{bucket_of(serial_of(3))}}}"}


def test_a_failed_bit_write_marks_the_bucket_incomplete_once_redis_answers(
        app, store, monkeypatch):
    membership.rebuild(get_engine(app), store)
    serial = serial_of(9)

    class Broken:
        def pipeline(self, transaction=False):
            raise redis.ConnectionError("down")

    real = store._client
    monkeypatch.setattr(store, "_client", Broken())
    store.note_stored([{"serial": serial, "verdict": "authentic"}])
    monkeypatch.setattr(store, "_client", real)
    store.history(serial_of(10))  # any call: the repair runs first
    assert store.incomplete_buckets() == [bucket_of(serial)]


def test_a_stale_code_gets_its_bits(app, store, monkeypatch):
    """A scan answered from the database (Redis away) never set bits in Redis; marking it
    stale sets them, so its next scan reads the summary."""
    membership.rebuild(get_engine(app), store)
    serial = serial_of(11)
    sink = DirectSink(get_engine(app))  # as if Redis had been away for the commit too
    sink.record(row(serial, ScanPlace(at=T0, device_hash="d1"), 1))
    store.mark_stale(serial)
    reads = Reads(store, monkeypatch)
    assert Harness(app, store).scan(serial, device="d2", seconds=100).scan_no == 2
    assert reads.serials == [serial]


@pytest.mark.committed
@pytest.mark.parametrize("wait", [True, False])
def test_the_rebuild_waits_for_a_commit_counted_before_the_flush(
        app, redis_client, monkeypatch, wait):
    """The race: a code counted by Redis just before a flush, its row still uncommitted
    when the rebuild reads the summaries. The sink set its bits before the flush (so they
    are gone) and before committing; the rebuild, starting after the flush, waits for that
    transaction, so it reads the summary. Without the wait (``wait=False``, to show the race
    is real) the bits are missing and the code's next scan would count as a first."""
    engine = get_engine(app)
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's snapshot wait")
    store = RedisScanStateStore(redis_client, app.config["REDIS_PREFIX"], engine,
                                filter_bits=1 << 12, filter_hashes=4)
    membership.rebuild(engine, store)
    serial = serial_of(12)
    place = ScanPlace(at=T0, device_hash="d1")
    assert store.observe(serial, place, 60.0).scan_no == 1  # new: bits set by the script
    if not wait:
        monkeypatch.setattr(membership, "wait_for_writers", lambda *_a, **_k: True)
    result: dict = {}
    rebuilder = threading.Thread(
        target=lambda: result.update(membership.rebuild(engine, store, wait_s=10)))
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            conn.execute(summary.ScanEvent.__table__.insert(), row(serial, place, 1))
            summary.apply_scans(conn, [row(serial, place, 1)])
            store.note_stored([row(serial, place, 1)])  # the sink's order: pre-commit
            flush(app)  # ... and the flush takes every bit with it
            rebuilder.start()
            time.sleep(0.5)
            waited = rebuilder.is_alive()  # waiting for the transaction above
        finally:
            trans.commit()
    rebuilder.join(10)
    assert waited is wait
    assert result["completed"] == BUCKETS
    second = Harness(app, store).scan(serial, device="d2", seconds=100)
    assert second.scan_no == (2 if wait else 1)


def test_the_embedded_default_has_no_filter(app):
    parts = services(app).scan
    if get_redis(app) is not None:
        pytest.skip("embedded stack")
    assert not isinstance(parts.store, RedisScanStateStore)
    assert rebuild_filters(app) is None


@pytest.mark.committed
@pytest.mark.parametrize("group", [True, False])
def test_the_sinks_hand_over_rows_after_inserting_them_and_before_committing(app, group):
    """The order the rebuild's proof needs (membership.rebuild): the hook runs inside the
    transaction that holds the summary, before anyone else can see it."""
    from sqlalchemy import text

    from scanapp.scan.sink import GroupCommitSink

    engine = get_engine(app)
    seen: list[int] = []

    def hook(rows):
        with engine.connect() as other:
            seen.append(other.execute(text(
                "SELECT count(*) FROM scan_code_summaries WHERE serial = :s"),
                {"s": rows[0]["serial"]}).scalar_one())

    sink = (GroupCommitSink(engine, before_commit=hook) if group
            else DirectSink(engine, before_commit=hook))
    try:
        sink.record(row(serial_of(13), ScanPlace(at=T0, device_hash="d1"), 1))
    finally:
        sink.close()
    assert seen == [0]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM scan_code_summaries")).scalar_one() == 1
