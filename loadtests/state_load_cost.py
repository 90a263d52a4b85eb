"""What loading a code from its summary costs the scan path: ``RedisScanStateStore.observe``
on codes already in Redis, on codes never scanned (miss, no summary), on codes never
scanned whose bucket's membership filter is complete (no miss, no read: scan/membership.py)
and on codes whose keys are gone (miss, summary loaded), interleaved in one run; then a
code's whole first scan (state + durable write, the sink setting the filter's bits) with and
without filters, interleaved too; and Redis memory per code.

    nice -n 10 env PYTHONPATH=$PWD /work/venv/bin/python loadtests/state_load_cost.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        --redis-url redis://127.0.0.1:6379/0 [--codes 2000]

Private schema ``state_load_cost`` and a private Redis prefix, both removed at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
import uuid

import sqlalchemy as sa

from scanapp import create_app
from scanapp import migrations as scanapp_migrations
from scanapp.db import get_engine
from scanapp.redis_client import get_redis
from scanapp.risk.facts import ScanPlace
from scanapp.scan import membership
from scanapp.scan.redis_store import RedisScanStateStore
from scanapp.scan.sink import DirectSink

SCHEMA = "state_load_cost"


def serial() -> str:
    return "0" + uuid.uuid4().hex[:19].upper()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--database-url", required=True)
    p.add_argument("--redis-url", required=True)
    p.add_argument("--codes", type=int, default=2000)
    args = p.parse_args()
    admin = sa.create_engine(args.database_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"'))
    prefix = f"state-load-cost-{uuid.uuid4().hex[:8]}"
    app = create_app({"ENV": "testing", "TESTING": True, "DATABASE_URL": args.database_url,
                      "DATABASE_SCHEMA": SCHEMA, "AUTO_MIGRATE": False,
                      "REDIS_URL": args.redis_url, "REDIS_PREFIX": prefix,
                      "PUBLIC_BASE_URL": "https://scan.example.vn",
                      "SECRET_KEY": "x" * 32, "SERIAL_KEY": "y" * 32, "PIN_KEY": "z" * 32})
    redis = get_redis(app)
    try:
        scanapp_migrations.upgrade(app)
        engine = get_engine(app)
        store = RedisScanStateStore(redis, prefix, engine, ttl_s=86400)
        sink = DirectSink(engine)
        filtered = RedisScanStateStore(redis, prefix, engine, ttl_s=86400,
                                       filter_bits=1 << 20, filter_hashes=7)
        filtered_sink = DirectSink(engine, before_commit=filtered.note_stored)
        reads = {"store": 0, "filtered": 0}
        for name, which in (("store", store), ("filtered", filtered)):
            def counted(code, _original=which.summary_json, _name=name):
                reads[_name] += 1
                return _original(code)
            which.summary_json = counted
        now = dt.datetime.now(dt.UTC)

        def scan(code: str, device: str) -> None:
            place = ScanPlace(at=now, lat=21.0, lon=105.8, province="01", device_hash=device,
                              network="n-" + device)
            obs = store.observe(code, place, 60.0)
            if not obs.is_repeat:
                sink.record({"scanned_at": now, "serial": code, "gtin": "08934567890120",
                             "verdict": "authentic", "reasons": [], "risk": 0,
                             "scan_no": obs.scan_no, "province": "01", "lat": 21.0,
                             "lon": 105.8, "device_hash": device, "client_hash": "n-" + device,
                             "source": "api", "degraded": False})

        warm = [serial() for _ in range(args.codes)]
        gone = [serial() for _ in range(args.codes)]
        for code in warm + gone:
            scan(code, "first")
        # Redis bytes per code (one scan), then the "gone" codes lose their keys.
        sample = warm[:500]
        used = sum(redis.memory_usage(k, samples=0) or 0
                   for code in sample for k in store.keys_for(code)[1:])
        for code in gone:
            redis.delete(*store.keys_for(code)[1:])
        fresh = [serial() for _ in range(args.codes)]
        fresh_filtered = [serial() for _ in range(args.codes)]
        rebuilt = membership.rebuild(engine, filtered)
        place = ScanPlace(at=now, lat=21.0, lon=105.8, province="01", device_hash="peek")
        timing = {"in_redis": [0.0, 0.0], "never_scanned": [0.0, 0.0],
                  "never_scanned_filter_complete": [0.0, 0.0],
                  "loaded_from_summary": [0.0, 0.0]}
        kinds = {"in_redis": store, "never_scanned": store,
                 "never_scanned_filter_complete": filtered, "loaded_from_summary": store}
        for a, b, f, c in zip(warm, fresh, fresh_filtered, gone, strict=True):
            for kind, code in (("in_redis", a), ("never_scanned", b),
                               ("never_scanned_filter_complete", f),
                               ("loaded_from_summary", c)):
                cpu0, t0 = time.process_time(), time.perf_counter()
                kinds[kind].observe(code, place, 60.0)  # state only: no row, as a measurement
                timing[kind][0] += time.perf_counter() - t0
                timing[kind][1] += time.process_time() - cpu0
        result = {kind: {"wall_ms": round(v[0] * 1000 / args.codes, 3),
                         "cpu_ms": round(v[1] * 1000 / args.codes, 3)}
                  for kind, v in timing.items()}
        result["summary_reads"] = dict(reads)
        result["filter_rebuild"] = rebuilt
        # A whole first scan: state and durable write (DirectSink, one commit per scan), the
        # filter's sink setting the bits before its commit; interleaved.
        reads.update(store=0, filtered=0)
        whole = {"first_scan_without_filter": [0.0, 0.0], "first_scan_with_filter": [0.0, 0.0]}
        pairs = (("first_scan_without_filter", store, sink),
                 ("first_scan_with_filter", filtered, filtered_sink))
        for _ in range(args.codes):
            for kind, which, writer in pairs:
                code = serial()
                cpu0, t0 = time.process_time(), time.perf_counter()
                obs = which.observe(code, place, 60.0)
                writer.record({"scanned_at": now, "serial": code, "gtin": "08934567890120",
                               "verdict": "authentic", "reasons": [], "risk": 0,
                               "scan_no": obs.scan_no, "province": "01", "lat": 21.0,
                               "lon": 105.8, "device_hash": "peek", "client_hash": None,
                               "source": "api", "degraded": False})
                whole[kind][0] += time.perf_counter() - t0
                whole[kind][1] += time.process_time() - cpu0
        result.update({kind: {"wall_ms": round(v[0] * 1000 / args.codes, 3),
                              "cpu_ms": round(v[1] * 1000 / args.codes, 3)}
                       for kind, v in whole.items()})
        result["first_scan_summary_reads"] = dict(reads)
        used_filters = sum(redis.memory_usage(filtered.filter_key(b), samples=0) or 0
                           for b in range(membership.BUCKETS))
        result["filter_bytes_all_buckets"] = used_filters
        result["redis_bytes_per_code_one_scan"] = round(used / len(sample))
        with engine.connect() as conn:
            rows, size = conn.execute(sa.text(
                "SELECT count(*), pg_total_relation_size('scan_code_summaries') "
                "FROM scan_code_summaries")).one()
            heap = conn.scalar(sa.text("SELECT avg(pg_column_size(s.*)) "
                                       "FROM scan_code_summaries s"))
        result["summary_bytes_per_row_one_scan"] = round(size / rows)
        result["summary_tuple_bytes_one_scan"] = round(float(heap))
        result["codes"] = args.codes
        print(json.dumps(result, indent=2))
        engine.dispose()
    finally:  # a client of its own with a patient timeout: the cleanup must not fail
        import redis as redis_lib

        cleaner = redis_lib.Redis.from_url(args.redis_url, socket_timeout=30)
        for key in cleaner.scan_iter(match=f"{prefix}:*", count=5000):
            cleaner.delete(key)
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
