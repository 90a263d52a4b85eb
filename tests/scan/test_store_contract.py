"""One contract, two implementations: the Redis store and the database store must answer
every sequence of scans identically. Each case observes a scan, then writes its event the
way the scan service does (the database store derives state from those rows)."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import delete

from scanapp.db import get_engine
from scanapp.redis_client import get_redis
from scanapp.risk.facts import ScanPlace
from scanapp.scan import membership, summary
from scanapp.scan.models import CodeSummary, PinCheck, ScanEvent
from scanapp.scan.redis_store import RedisScanStateStore, bucket_of
from scanapp.scan.sink import DirectSink
from scanapp.scan.store import RECENT_CAP, SqlScanStateStore

T0 = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)
WINDOW = 60.0
SERIAL = "0AB3456789ABCDEFGHJK"


class Harness:
    """A store plus the event writes the scan service would do after ``observe``."""

    def __init__(self, app, store):
        self.app, self.store = app, store
        hook = store.note_stored if isinstance(store, RedisScanStateStore) else None
        self.sink = DirectSink(get_engine(app), before_commit=hook)

    def scan(self, serial=SERIAL, seconds=0.0, device="d1", lat=None, lon=None,
             province=None, network=None):
        place = ScanPlace(at=T0 + dt.timedelta(seconds=seconds), lat=lat, lon=lon,
                          province=province, device_hash=device, network=network)
        with self.store.serialised():
            obs = self.store.observe(serial, place, WINDOW)
            if not obs.is_repeat:
                self.sink.record({"scanned_at": place.at, "serial": serial,
                                  "gtin": "08934567890120", "verdict": "authentic",
                                  "reasons": [], "risk": 0, "scan_no": obs.scan_no,
                                  "province": province, "lat": lat, "lon": lon,
                                  "device_hash": device, "client_hash": network,
                                  "source": "api",
                                  "degraded": False})
        return obs

    def pin(self, ok: bool, serial=SERIAL, device="d1", network=None):
        # As the scan service does: counted first, then its row is written.
        with self.store.serialised():
            history = self.store.note_pin(serial, ok, (device, network or ""))
            self.sink.record_pin({"checked_at": T0, "serial": serial, "ok": ok,
                                  "device_hash": device, "client_hash": network})
        return history


@pytest.fixture(params=["sql", "redis", "redis-filter"])
def harness(request, app):
    if request.param == "sql":
        return Harness(app, SqlScanStateStore(get_engine(app)))
    client = get_redis(app)
    if client is None:
        pytest.skip("the Redis store runs on the services stack")
    if request.param == "redis":  # no membership filter: every missing code reads its row
        return Harness(app, RedisScanStateStore(client, app.config["REDIS_PREFIX"],
                                                get_engine(app)))
    # Complete membership filters from the start (scan/membership.py): new codes start in
    # the script, codes seen before read their summary; the answers must not change.
    store = RedisScanStateStore(client, app.config["REDIS_PREFIX"], get_engine(app),
                                filter_bits=1 << 12, filter_hashes=4)
    assert membership.rebuild(get_engine(app), store)["completed"] == 1024
    return Harness(app, store)


def test_first_scan_counts_one_with_its_place_as_first(harness):
    obs = harness.scan(lat=21.029, lon=105.854, province="01")
    assert not obs.is_repeat
    h = obs.history
    assert (h.scan_count, h.device_count) == (1, 1)
    assert h.first_scan.province == "01" and h.first_scan.lat == 21.029
    assert h.first_scan.at == T0
    assert h.recent == ()  # the scan being judged is not in ``recent``


def test_reload_inside_window_is_a_repeat_and_counts_nothing(harness):
    harness.scan(device="d1")
    obs = harness.scan(device="d1", seconds=WINDOW - 1)
    assert obs.is_repeat and obs.history.scan_count == 1 and obs.history.device_count == 1
    assert harness.store.history(SERIAL).scan_count == 1


def test_same_device_after_the_window_counts_again_without_a_new_device(harness):
    harness.scan(device="d1")
    obs = harness.scan(device="d1", seconds=WINDOW + 1)
    assert not obs.is_repeat
    assert (obs.history.scan_count, obs.history.device_count) == (2, 1)


def test_other_devices_count_as_new_devices_at_once(harness):
    harness.scan(device="d1")
    obs = harness.scan(device="d2", seconds=1)
    assert (obs.history.scan_count, obs.history.device_count) == (2, 2)
    assert obs.history.recent[0].device_hash == "d1"


def test_recent_places_are_newest_first_and_capped(harness):
    for i in range(RECENT_CAP + 5):
        harness.scan(device=f"d{i}", seconds=i * 100, province=f"{i % 90 + 10}")
    obs = harness.scan(device="last", seconds=99_999)
    recent = obs.history.recent
    assert len(recent) == RECENT_CAP
    assert recent[0].device_hash == f"d{RECENT_CAP + 4}"
    assert [p.at for p in recent] == sorted((p.at for p in recent), reverse=True)
    assert obs.history.first_scan.device_hash == "d0"
    assert obs.history.scan_count == RECENT_CAP + 6


def test_codes_are_independent(harness):
    harness.scan(serial=SERIAL)
    other = harness.scan(serial="0ZZ3456789ABCDEFGHJK", device="d1", seconds=1)
    assert other.history.scan_count == 1 and not other.is_repeat


def test_history_of_an_unscanned_code_is_empty(harness):
    h = harness.store.history("0QQ3456789ABCDEFGHJK")
    assert (h.scan_count, h.device_count, h.first_scan, h.recent) == (0, 0, None, ())


def test_pin_claims_and_failures(harness):
    harness.scan()
    assert harness.pin(False).pin_failures == 1
    first = harness.pin(True)
    assert (first.pin_claims, first.pin_failures) == (1, 1)
    second = harness.pin(True)
    assert second.pin_claims == 2
    assert harness.scan(device="d9", seconds=5).history.pin_claims == 2


def test_redis_state_rebuilds_from_the_database_after_a_flush(app, harness):
    if not isinstance(harness.store, RedisScanStateStore):
        pytest.skip("only Redis can be flushed")
    harness.scan(device="d1", province="01")
    harness.scan(device="d2", seconds=10, province="79")
    harness.pin(True)
    before = harness.store.history(SERIAL)
    client = get_redis(app)
    # Flush of this test's keys only (never FLUSHDB on a shared Redis).
    for key in list(client.scan_iter(match=app.config["REDIS_PREFIX"] + ":*")):
        client.delete(key)
    after = harness.store.history(SERIAL)
    assert after == before
    # ... and the reload window still holds for the device seen last.
    assert harness.scan(device="d2", seconds=20).is_repeat
    assert harness.scan(device="d3", seconds=30).history.scan_count == 3


def test_a_missing_code_under_a_present_sentinel_is_a_new_code(app, harness):
    if not isinstance(harness.store, RedisScanStateStore):
        pytest.skip("Redis only")
    harness.scan(serial=SERIAL)  # loads the code and sets its bucket's epoch
    # Rows (and their summaries) changed behind Redis' back are not seen until the code is
    # reloaded ...
    with get_engine(app).begin() as conn:
        conn.execute(delete(ScanEvent))
        conn.execute(delete(PinCheck))
        conn.execute(delete(CodeSummary))
    assert harness.store.history(SERIAL).scan_count == 1
    # ... which mark_stale asks for (the service does so after answering without Redis).
    harness.store.mark_stale(SERIAL)
    assert harness.store.history(SERIAL).scan_count == 0


def test_bucket_is_taken_from_the_random_characters_of_a_serial():
    assert bucket_of("0AB3456789ABCDEFGHJK") == bucket_of("ZAB0000000000000000Z")
    assert bucket_of("0AB3456789ABCDEFGHJK") != bucket_of("0AC3456789ABCDEFGHJK")
    assert 0 <= bucket_of("not-a-serial") < 1024


def test_accuracy_of_past_places_is_kept(harness):
    first = ScanPlace(at=T0, lat=21.0, lon=105.8, device_hash="d1", accuracy_m=1500.0)
    with harness.store.serialised():
        harness.store.observe(SERIAL, first, WINDOW)
        harness.sink.record({"scanned_at": T0, "serial": SERIAL, "gtin": "08934567890120",
                             "verdict": "authentic", "reasons": [], "risk": 0, "scan_no": 1,
                             "lat": 21.0, "lon": 105.8, "accuracy_m": 1500.0,
                             "device_hash": "d1", "source": "api", "degraded": False})
    obs = harness.scan(device="d2", seconds=10)
    assert obs.history.recent[0].accuracy_m == 1500.0
    assert obs.history.first_scan.accuracy_m == 1500.0


def test_a_reload_after_another_devices_scan_keeps_that_scan_in_recent(harness):
    harness.scan(device="a", province="01")
    harness.scan(device="b", seconds=10, province="79")
    obs = harness.scan(device="a", seconds=20, province="01")
    assert obs.is_repeat
    # The history excludes the scan being repeated (a's), not the newest one (b's).
    assert [p.device_hash for p in obs.history.recent] == ["b"]
    assert obs.history.recent[0].province == "79"
    assert (obs.history.scan_count, obs.history.device_count) == (2, 2)


def test_a_reload_keeps_recent_full_when_the_list_is_at_its_cap(harness):
    for i in range(RECENT_CAP):
        harness.scan(device=f"d{i}", seconds=i)
    reload = harness.scan(device=f"d{RECENT_CAP - 3}", seconds=RECENT_CAP + 1)
    assert reload.is_repeat
    devices = [p.device_hash for p in reload.history.recent]
    # The reload's own scan is dropped from the middle of the newest RECENT_CAP scans.
    assert len(devices) == RECENT_CAP - 1
    assert f"d{RECENT_CAP - 3}" not in devices and devices[0] == f"d{RECENT_CAP - 1}"
    for i in range(3):
        harness.scan(device=f"e{i}", seconds=100 + i)
    again = harness.scan(device="e1", seconds=110)
    assert again.is_repeat
    assert [p.device_hash for p in again.history.recent[:2]] == ["e2", "e0"]
    assert "e1" not in [p.device_hash for p in again.history.recent]


def test_networks_are_counted_and_one_networks_share_is_capped(app, harness):
    """Sybil resistance in the counters: made-up device ids from one network add devices
    but one network, and that network's share of the capped count stops at the cap."""
    from scanapp.risk.facts import MAX_SCANS_PER_NETWORK

    for i in range(MAX_SCANS_PER_NETWORK + 4):
        obs = harness.scan(device=f"fake-{i}", seconds=i, network="net-attacker")
    h = obs.history
    assert h.device_count == MAX_SCANS_PER_NETWORK + 4
    assert h.network_count == 1
    assert h.capped_scan_count == MAX_SCANS_PER_NETWORK
    assert h.recent[0].network == "net-attacker"
    # Scans without a network count as their device's own network.
    h = harness.scan(device="phone-a", seconds=100).history
    h = harness.scan(device="phone-b", seconds=101, network="net-b").history
    assert (h.network_count, h.capped_scan_count) == (3, MAX_SCANS_PER_NETWORK + 2)
    if isinstance(harness.store, RedisScanStateStore):  # and the rebuild agrees
        before = harness.store.history(SERIAL)
        client = get_redis(app)
        for key in list(client.scan_iter(match=app.config["REDIS_PREFIX"] + ":*")):
            client.delete(key)
        assert harness.store.history(SERIAL) == before


def test_pin_claimers_are_remembered_once_each(app, harness):
    harness.pin(True, device="buyer", network="home")
    harness.pin(False, device="guesser", network="x")
    harness.pin(True, device="buyer", network="home")
    h = harness.pin(True, device="spouse", network="home")
    assert h.pin_claims == 3
    assert h.pin_claimers == (("buyer", "home"), ("spouse", "home"))
    assert harness.scan(device="d9").history.pin_claimers == h.pin_claimers
    if isinstance(harness.store, RedisScanStateStore):
        client = get_redis(app)
        for key in list(client.scan_iter(match=app.config["REDIS_PREFIX"] + ":*")):
            client.delete(key)
        assert harness.store.history(SERIAL).pin_claimers == h.pin_claimers


def _flush(app) -> None:
    client = get_redis(app)
    for key in list(client.scan_iter(match=app.config["REDIS_PREFIX"] + ":*")):
        client.delete(key)  # this test's keys only (never FLUSHDB on a shared Redis)


def test_a_reload_after_another_phones_scan_shows_that_scan_after_a_flush(app, harness):
    harness.scan(device="a", province="01")
    harness.scan(device="b", seconds=10, province="79", network="net-b")
    if isinstance(harness.store, RedisScanStateStore):
        _flush(app)  # the state comes back from the summary row, not from scan_events
    obs = harness.scan(device="a", seconds=20, province="01")
    assert obs.is_repeat
    assert [p.device_hash for p in obs.history.recent] == ["b"]
    assert obs.history.recent[0].province == "79" and obs.history.recent[0].network == "net-b"
    assert (obs.history.scan_count, obs.history.device_count) == (2, 2)


def test_state_comes_back_from_the_summary_without_reading_scan_history(app, harness):
    harness.scan(device="d1", province="01", network="n1")
    harness.scan(device="d2", seconds=100, province="79", network="n1")
    harness.pin(True, device="d2", network="n1")
    before = harness.store.history(SERIAL)
    # The raw history is gone (retention dropped its month); the summary remains.
    with get_engine(app).begin() as conn:
        conn.execute(delete(ScanEvent))
        conn.execute(delete(PinCheck))
    if isinstance(harness.store, RedisScanStateStore):
        _flush(app)
    assert harness.store.history(SERIAL) == before
    third = harness.scan(device="d3", seconds=200, network="n2").history
    assert (third.scan_count, third.device_count, third.network_count) == (3, 3, 2)
    assert third.first_scan.province == "01" and third.pin_claims == 1


def test_an_idle_codes_state_expires_and_comes_back_with_its_counts(app):
    client = get_redis(app)
    if client is None:
        pytest.skip("the Redis store runs on the services stack")
    store = RedisScanStateStore(client, app.config["REDIS_PREFIX"], get_engine(app),
                                ttl_s=0.3)
    harness = Harness(app, store)
    harness.scan(device="d1", province="01")
    harness.scan(device="d2", seconds=100, province="79")
    harness.pin(False, device="d2")
    code_key = store.keys_for(SERIAL)[1]
    assert 0 < client.pttl(code_key) <= 300
    deadline = time.monotonic() + 5
    while client.exists(*store.keys_for(SERIAL)[1:]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not client.exists(*store.keys_for(SERIAL)[1:])  # memory follows active codes
    h = store.history(SERIAL)
    assert (h.scan_count, h.device_count, h.pin_failures) == (2, 2, 1)
    assert h.first_scan.province == "01" and h.recent[0].province == "79"
    # ... and counting goes on from there, the device seen last still recognised.
    assert harness.scan(device="d2", seconds=130).is_repeat
    assert harness.scan(device="d3", seconds=200).history.scan_count == 3


def test_backfill_rebuilds_the_summaries_from_the_rows(app, harness):
    harness.scan(device="d1", province="01", network="n1")
    harness.scan(device="d2", seconds=100, province="79")
    harness.scan(serial="0ZZ3456789ABCDEFGHJK", device="d1", seconds=5)
    harness.pin(True, device="d2", network="n9")
    harness.pin(True, serial="0QQ3456789ABCDEFGHJK", device="d7")  # PIN without a scan
    before = SqlScanStateStore(get_engine(app)).history(SERIAL)
    with get_engine(app).begin() as conn:
        conn.execute(delete(CodeSummary))
    with get_engine(app).begin() as conn:
        assert summary.backfill(conn, chunk=1) == 3
    sql = SqlScanStateStore(get_engine(app))
    assert sql.history(SERIAL) == before
    assert sql.history("0ZZ3456789ABCDEFGHJK").scan_count == 1
    assert sql.history("0QQ3456789ABCDEFGHJK").pin_claims == 1


def test_summary_keeps_exact_counts_beyond_the_device_cap():
    state = summary.empty()
    for i in range(summary.DEVICE_CAP + 10):
        summary.add_scan(state, {"scanned_at": T0 + dt.timedelta(seconds=i),
                                 "device_hash": f"d{i}", "client_hash": f"n{i}"})
    summary._capped(state)
    history, last_seen, shares = summary.history_of(state)
    assert (history.scan_count, history.device_count) == (summary.DEVICE_CAP + 10,) * 2
    assert history.network_count == summary.DEVICE_CAP + 10
    assert len(last_seen) == summary.DEVICE_CAP and f"d{summary.DEVICE_CAP + 9}" in last_seen
    assert "d0" not in last_seen  # the oldest devices leave the map, the newest stay
