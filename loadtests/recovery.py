"""Scan state at national scale (issue 20, items 3-5): the scan with N stored scan events vs
none, recovery after a Redis flush, Redis memory per code, bytes per row.

    nice -n 10 env PYTHONPATH=$PWD /work/venv/bin/python loadtests/recovery.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        --redis-url redis://127.0.0.1:6379/0 --events 50000000 [--keep] [--out FILE.json]

Everything lives in a private PostgreSQL schema (``--schema``, default ``recovery_bench``,
dropped at the end unless ``--keep``) and under a private Redis prefix (deleted at the end);
never FLUSHDB. Phases:

1. migrations; a brand, a product, two ranges of ``--codes`` real stamps each;
2. run A: every stamp of range 1 scanned once (``--threads`` threads, in process, through
   the Flask app: the real scan path with PostgreSQL, Redis and the group commit) ->
   scans/s, p50/p99, app CPU per scan, with no history stored;
3. history: ``--events`` scan events generated in SQL (``generate_series``, chunks of
   ``--chunk``) over 12 months of monthly partitions, 5 scans per synthetic code, and their
   code summaries (generated in SQL too);
4. run B: range 2 scanned the same way, now with the history stored;
5. Redis memory: ``MEMORY USAGE`` of the keys of the scanned codes, per code;
6. recovery: every key of the prefix deleted (a flush), then (a) every stamp of range 1
   scanned again by a new device: each answer must say scan 2, none may fail or be degraded,
   and every event must be stored; (b) ``history()`` of ``--peek`` synthetic codes, loaded
   from their summaries: loads per second; (c) the worker's membership filter rebuild
   (scan/membership.py) over every summary, timed, then range 3's first scans, which must
   read no summary;
7. sizes: ``pg_total_relation_size`` of scan_events (all partitions) and of the summaries,
   per row.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from scanapp import create_app
from scanapp import migrations as scanapp_migrations
from scanapp.auth import service as auth_service
from scanapp.db import get_engine, session_scope
from scanapp.redis_client import get_redis
from scanapp.scan import membership, partitions
from scanapp.serials.stamps import stamp_uri
from scanapp.services import services

BASE = "https://scan.example.vn"
GTIN = "08934567890120"
INDEXES = (("ix_scan_events_serial_scanned_at", "serial, scanned_at"),
           ("ix_scan_events_scanned_at", "scanned_at"),
           ("ix_scan_events_province_scanned_at", "province, scanned_at"))
SYNTHETIC = "'Z' || upper(substr(md5(c::text), 1, 19))"  # 20 characters, never a real stamp
EVENTS_SQL = f"""
    INSERT INTO scan_events (scanned_at, serial, gtin, range_id, verdict, reasons, risk,
        scan_no, province, lat, lon, accuracy_m, cell, device_hash, client_hash, source,
        degraded)
    SELECT date_trunc('day', now()) - interval '365 days'
             + ((c::bigint * 7919) % 30000000) * interval '1 second' + k * interval '3 days',
           {SYNTHETIC}, :gtin, NULL, 'authentic', '[]'::json, 0, k + 1, '01',
           21.0 + (c % 100) / 1000.0, 105.8 + (c % 97) / 1000.0, 20, NULL,
           substr(md5(c::text || '-' || k), 1, 32), substr(md5('n' || c::text), 1, 32),
           'consumer', false
    FROM (SELECT (g - 1) % :codes + 1 AS c, (g - 1) / :codes AS k
          FROM generate_series(:lo, :hi) g) s
"""
# The same codes' summaries, computed from the same formulas (5 scans each), not read back.
SUMMARIES_SQL = f"""
    INSERT INTO scan_code_summaries (serial, scans, capped_scans, device_count, network_count,
        first_scan, last_scan_at, recent, devices, networks, pin_claims, pin_failures,
        pin_claimers)
    SELECT {SYNTHETIC}, 5, 5, 5, 1, min(place) FILTER (WHERE k = 0), max(at),
           json_agg(place ORDER BY k DESC), json_object_agg(dev, ms),
           json_build_object(min(net), 5), 0, 0, '[]'::json
    FROM (SELECT c, k, at, dev, net, (extract(epoch FROM at) * 1000)::bigint AS ms,
                 (extract(epoch FROM at) * 1000)::bigint || '|' || (21.0 + (c % 100) / 1000.0)
                 || '|' || (105.8 + (c % 97) / 1000.0) || '|01|' || dev || '|20|' || net
                 AS place
          FROM (SELECT c, k, date_trunc('day', now()) - interval '365 days'
                       + ((c::bigint * 7919) % 30000000) * interval '1 second'
                       + k * interval '3 days' AS at,
                       substr(md5(c::text || '-' || k), 1, 32) AS dev,
                       substr(md5('n' || c::text), 1, 32) AS net
                FROM generate_series(:lo, :hi) c, generate_series(0, 4) k) t) p
    GROUP BY c
"""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Bench:
    def __init__(self, args):
        self.args = args
        self.prefix = f"recovery-bench-{uuid.uuid4().hex[:8]}"
        self.app = create_app({
            "ENV": "testing", "TESTING": True, "DATABASE_URL": args.database_url,
            "DATABASE_SCHEMA": args.schema, "DATABASE_POOL_SIZE": args.threads + 2,
            "REDIS_URL": args.redis_url, "REDIS_PREFIX": self.prefix, "AUTO_MIGRATE": False,
            "PUBLIC_BASE_URL": BASE, "RATELIMIT_ENABLED": False,
            "SECRET_KEY": "bench-secret-key-" + "x" * 16,
            "SERIAL_KEY": "bench-serial-key-" + "y" * 16, "PIN_KEY": "bench-pin-key-" + "z" * 16,
        })
        self.engine = get_engine(self.app)
        self.redis = get_redis(self.app)
        self.results: dict = {"events": args.events, "codes_per_run": args.codes,
                              "threads": args.threads}

    # -- setup ----------------------------------------------------------------------------
    def setup(self) -> None:
        admin = sa.create_engine(self.args.database_url)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{self.args.schema}"'))
        admin.dispose()
        scanapp_migrations.upgrade(self.app)
        with self.app.app_context(), session_scope(self.app) as session:
            _key, raw = auth_service.issue_key(session, "Bench brand",
                                               auth_service.Role("brand"), "bench")
        self.headers = {"Authorization": f"Bearer {raw}"}
        self.client = self.app.test_client()
        r = self.client.post("/api/v1/products", headers=self.headers, json={
            "gtin": GTIN, "name": "Bench", "market_regions": ["01", "79"]})
        assert r.status_code in (201, 409), r.get_json()
        self.ranges = [self.issue(self.args.codes) for _ in range(3)]
        # Summary reads of the scan path (every code missing in Redis that its bucket's
        # membership filter cannot call new).
        store = services(self.app).scan.store
        self.summary_reads = 0
        original = store.summary_json

        def counted(serial):
            self.summary_reads += 1
            return original(serial)

        store.summary_json = counted

    def issue(self, quantity: int) -> list[str]:
        r = self.client.post("/api/v1/ranges", headers=self.headers,
                             json={"gtin": GTIN, "quantity": quantity})
        assert r.status_code == 201, r.get_json()
        rid = r.get_json()["id"]
        for action in ("print", "activate"):
            assert self.client.post(f"/api/v1/ranges/{rid}/{action}", headers=self.headers,
                                    json={}).status_code == 200
        csv = self.client.get(f"/api/v1/ranges/{rid}/codes.csv", headers=self.headers)
        serials = [line.split(",")[0] for line in csv.get_data(as_text=True).splitlines()[1:]]
        csv.close()
        return serials

    # -- the scan workload ------------------------------------------------------------------
    def scan_run(self, label: str, serials: list[str], device: str, expect: int) -> dict:
        latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()

        def one(serial: str) -> None:
            client = self.app.test_client()
            t0 = time.perf_counter()
            r = client.post("/api/v1/scans", json={"code": stamp_uri(BASE, GTIN, serial),
                                                   "device_id": f"{device}-{serial}"})
            took = time.perf_counter() - t0
            body = r.get_json() or {}
            with lock:
                latencies.append(took)
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {body.get('code')}")
                elif body.get("scan_count") != expect or body.get("degraded"):
                    errors.append(f"count {body.get('scan_count')} degraded "
                                  f"{body.get('degraded')}")

        reads0 = self.summary_reads
        cpu0, t0 = time.process_time(), time.perf_counter()
        with ThreadPoolExecutor(self.args.threads) as pool:
            list(pool.map(one, serials))
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        latencies.sort()
        result = {"scans": len(serials), "seconds": round(wall, 2),
                  "summary_reads": self.summary_reads - reads0,
                  "scans_per_s": round(len(serials) / wall, 1),
                  "app_cpu_ms_per_scan": round(cpu * 1000 / len(serials), 3),
                  "p50_ms": round(statistics.median(latencies) * 1000, 2),
                  "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
                  "errors": len(errors), "error_examples": errors[:5]}
        log(f"{label}: {result}")
        self.results[label] = result
        return result

    # -- history ------------------------------------------------------------------------------
    def generate_history(self) -> None:
        n, chunk = self.args.events, self.args.chunk
        codes = max(1, n // 5)
        now = dt.datetime.now(dt.UTC)
        with self.engine.begin() as conn:
            month = partitions.add_months(partitions.month_start(now), -12)
            while month <= partitions.month_start(now):
                partitions.create_partition(conn, month)
                month = partitions.add_months(month, 1)
        # Bulk load: the primary key and indexes are dropped first and built again after
        # (as a restore would); rows go straight into their monthly partitions.
        t0 = time.perf_counter()
        with self.engine.begin() as conn:
            for name, _columns in INDEXES:
                conn.execute(sa.text(f"DROP INDEX {name}"))
            conn.execute(sa.text("ALTER TABLE scan_events DROP CONSTRAINT pk_scan_events"))
        # Code c's k-th scan (k = 0..4) lands 3 days after its (k-1)-th, the first spread
        # over the past year; a device per scan, one network per code.
        done = 0
        while done < n:
            upto = min(n, done + chunk)
            with self.engine.begin() as conn:
                conn.execute(sa.text(EVENTS_SQL), {"gtin": GTIN, "codes": codes,
                                                   "lo": done + 1, "hi": upto})
            done = upto
            rate = done / (time.perf_counter() - t0)
            log(f"history: {done:,} / {n:,} events ({rate:,.0f}/s)")
        self.results["history_insert_s"] = round(time.perf_counter() - t0, 1)
        t0 = time.perf_counter()
        with self.engine.begin() as conn:
            conn.execute(sa.text("SET maintenance_work_mem = '512MB'"))
            conn.execute(sa.text("ALTER TABLE scan_events ADD CONSTRAINT pk_scan_events "
                                 "PRIMARY KEY (id, scanned_at)"))
            log("history: primary key built")
            for name, columns in INDEXES:
                conn.execute(sa.text(f"CREATE INDEX {name} ON scan_events ({columns})"))
                log(f"history: {name} built")
        self.results["history_index_s"] = round(time.perf_counter() - t0, 1)
        t0 = time.perf_counter()
        summarised = min(codes, self.args.summary_codes or codes)
        step = max(1, chunk // 5)
        for lo in range(1, summarised + 1, step):
            with self.engine.begin() as conn:
                conn.execute(sa.text(SUMMARIES_SQL), {"lo": lo,
                                                      "hi": min(summarised, lo + step - 1)})
            log(f"summaries: {min(summarised, lo + step - 1):,} / {summarised:,}")
        self.results["summarised_codes"] = summarised
        self.results["summaries_insert_s"] = round(time.perf_counter() - t0, 1)
        with self.engine.begin() as conn:
            conn.execute(sa.text("ANALYZE scan_events"))
            conn.execute(sa.text("ANALYZE scan_code_summaries"))
        self.synthetic_codes = summarised

    # -- Redis ----------------------------------------------------------------------------------
    def prefix_keys(self) -> list[str]:
        return list(self.redis.scan_iter(match=f"{self.prefix}:*", count=5000))

    def redis_memory(self, serials: list[str]) -> None:
        store = services(self.app).scan.store
        sample = serials[:1000]
        total = 0
        for serial in sample:
            for key in store.keys_for(serial)[1:]:
                total += self.redis.memory_usage(key, samples=0) or 0
        self.results["redis_bytes_per_code"] = round(total / len(sample))
        log(f"Redis: {total / len(sample):.0f} bytes per scanned code (MEMORY USAGE of its "
            f"keys, {len(sample)} codes of {store.keys_for(sample[0])[1]!r} shape)")

    def flush(self) -> int:
        keys = self.prefix_keys()
        for start in range(0, len(keys), 1000):
            self.redis.delete(*keys[start:start + 1000]) if not hasattr(
                self.redis, "get_nodes") else [self.redis.delete(k)
                                               for k in keys[start:start + 1000]]
        return len(keys)

    def recovery(self) -> None:
        flushed = self.flush()
        log(f"flush: {flushed:,} keys of the prefix deleted")
        t0 = time.perf_counter()
        result = self.scan_run("recovery_rescan", self.ranges[0], "after-flush", expect=2)
        result["seconds_until_every_code_back"] = round(time.perf_counter() - t0, 2)
        with self.engine.connect() as conn:
            stored = conn.scalar(sa.text(
                "SELECT count(*) FROM scan_events WHERE serial = ANY(:s)"),
                {"s": self.ranges[0]})
        result["events_stored"] = stored
        result["scans_lost"] = 2 * len(self.ranges[0]) - stored
        store = services(self.app).scan.store
        peek = min(self.args.peek, getattr(self, "synthetic_codes", 0))
        if peek:
            with self.engine.connect() as conn:
                serials = conn.scalars(sa.text(
                    "SELECT 'Z' || upper(substr(md5(c::text), 1, 19)) "
                    "FROM generate_series(1, :n) c"), {"n": peek}).all()
            wrong = 0
            t0 = time.perf_counter()
            for serial in serials:
                if store.history(serial).scan_count != 5:
                    wrong += 1
            took = time.perf_counter() - t0
            self.results["summary_loads_per_s_one_thread"] = round(peek / took)
            self.results["summary_load_ms"] = round(took * 1000 / peek, 3)
            self.results["summary_load_wrong"] = wrong
            log(f"loaded {peek:,} synthetic codes from their summaries: {peek / took:,.0f}/s "
                f"on one thread ({took * 1000 / peek:.2f} ms each), {wrong} wrong")

    def rebuild_filters(self, label: str) -> None:
        """The worker's rebuild of every incomplete membership filter, timed."""
        store = services(self.app).scan.store
        result = membership.rebuild(self.engine, store)
        result["seconds"] = round(result["seconds"], 2)
        result["summaries_per_s"] = round(result["summaries"] / max(result["seconds"], 1e-6))
        used = sum(self.redis.memory_usage(store.filter_key(b), samples=0) or 0
                   for b in range(membership.BUCKETS))
        result["filter_bytes"] = used
        self.results[label] = result
        log(f"{label}: {result}")

    def sizes(self) -> None:
        with self.engine.connect() as conn:
            events = conn.scalar(sa.text("SELECT count(*) FROM scan_events"))
            summaries = conn.scalar(sa.text("SELECT count(*) FROM scan_code_summaries"))
            ev_bytes = conn.scalar(sa.text(
                "SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits "
                "WHERE inhparent = 'scan_events'::regclass")) or conn.scalar(sa.text(
                    "SELECT pg_total_relation_size('scan_events')"))
            heap = conn.scalar(sa.text(
                "SELECT sum(pg_relation_size(inhrelid)) FROM pg_inherits "
                "WHERE inhparent = 'scan_events'::regclass"))
            sum_bytes = conn.scalar(sa.text(
                "SELECT pg_total_relation_size('scan_code_summaries')"))
        self.results["sizes"] = {
            "scan_events_rows": events, "scan_events_bytes": int(ev_bytes),
            "scan_events_bytes_per_row": round(int(ev_bytes) / max(events, 1)),
            "scan_events_heap_bytes_per_row": round(int(heap or 0) / max(events, 1)),
            "summaries_rows": summaries, "summaries_bytes": int(sum_bytes),
            "summaries_bytes_per_row": round(int(sum_bytes) / max(summaries, 1))}
        log(f"sizes: {self.results['sizes']}")

    def cleanup(self) -> None:
        self.flush()
        self.engine.dispose()
        if not self.args.keep:
            admin = sa.create_engine(self.args.database_url)
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{self.args.schema}" CASCADE'))
            admin.dispose()
            log(f"schema {self.args.schema} dropped")

    def run(self) -> dict:
        try:
            self.setup()
            self.scan_run("run_a_no_history", self.ranges[0], "a", expect=1)
            self.redis_memory(self.ranges[0])
            if self.args.events:
                self.generate_history()
            self.sizes()
            self.rebuild_filters("filter_rebuild")  # a fresh deployment's, or an upgrade's
            self.scan_run("run_b_with_history", self.ranges[1], "b", expect=1)
            self.recovery()
            self.rebuild_filters("filter_rebuild_after_flush")
            self.scan_run("run_c_after_rebuild", self.ranges[2], "c", expect=1)
        finally:
            services(self.app).shutdown() if hasattr(services(self.app), "shutdown") else None
            self.cleanup()
        return self.results


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--database-url", required=True)
    p.add_argument("--redis-url", required=True)
    p.add_argument("--schema", default="recovery_bench")
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--chunk", type=int, default=2_000_000)
    p.add_argument("--codes", type=int, default=5000, help="real stamps per scan run")
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--summary-codes", type=int, default=0,
                   help="summaries for only the first N synthetic codes (0: all)")
    p.add_argument("--peek", type=int, default=10_000, help="synthetic codes to load")
    p.add_argument("--keep", action="store_true", help="keep the schema (debugging)")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    results = Bench(args).run()
    text = json.dumps(results, indent=2, default=str)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
