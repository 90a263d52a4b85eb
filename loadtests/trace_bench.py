"""Trace benchmarks: lineage through 10 levels with many events stored, and recall fan-out.

One command (PostgreSQL and Redis as in the test stack; a schema of its own, dropped at the
end; a Redis key prefix of its own, deleted at the end)::

    PYTHONPATH=. /work/venv/bin/python -m loadtests.trace_bench \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        --redis-url redis://127.0.0.1:6379/0 --events 1000000 --recall-lots 1000

1. Lineage: ``--events`` lots (one commissioning or transformation event each, stored as an
   ``epcis_events`` row, a ``trace_lot_events`` row and two lineage edges) in layered
   worlds of 11 layers (10 transformation levels) of ``--width`` lots; every lot of a layer
   is made from two lots of the layer below. Timed: the recursive CTE alone
   (``lineage.ancestors`` / ``descendants``) and the whole backward / forward trace document
   (``queries.lineage_backward`` / ``lineage_forward``: lots, places, events, certificates,
   stamp ranges) for lots at the top and bottom of random worlds; p50 / p95 / max.
2. Recall: an input lot transformed into ``--recall-lots`` output lots, each with a stamp
   range of ``--stamps-per-lot`` codes (activated). Timed: ``recall_lot`` (one call: lineage,
   the EPCIS recall event through capture, lots and ranges marked, committed), and the time
   from that commit until another app (another worker, its own range index and caches)
   answers ``recalled`` for a stamp of the last output lot.

Figures are in-process service times (no HTTP), printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import secrets
import statistics
import time
import uuid

import sqlalchemy as sa

from scanapp import create_app, migrations
from scanapp.auth.models import Role
from scanapp.auth.service import Principal, issue_key
from scanapp.db import get_engine, session_scope, utcnow
from scanapp.products.models import Product


def _check(body: str) -> str:
    digits = [int(c) for c in body]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return body + str((10 - total % 10) % 10)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def _app(args, schema: str, prefix: str):
    return create_app({
        "ENV": "testing", "TESTING": True, "DATABASE_URL": args.database_url,
        "DATABASE_SCHEMA": schema, "REDIS_URL": args.redis_url, "REDIS_PREFIX": prefix,
        "AUTO_MIGRATE": False, "PUBLIC_BASE_URL": "https://scan.example.vn",
        "RATELIMIT_ENABLED": False, "SECRET_KEY": secrets.token_hex(16),
        "SERIAL_KEY": "bench-serial-key-" + "y" * 16, "PIN_KEY": secrets.token_hex(16),
        "EPCIS_PUSH_THREAD": False, "SCAN_GROUP_COMMIT": False,
    })


def seed_lineage(app, principal: Principal, product: Product, total: int, width: int
                 ) -> list[list[list[int]]]:
    """Layered worlds; returns world -> layer -> lot ids."""
    layers = 11
    per_world = layers * width
    worlds_n = max(1, total // per_world)
    engine = get_engine(app)
    md = sa.MetaData()
    lots_t = sa.Table("trace_lots", md, autoload_with=engine)
    edges_t = sa.Table("trace_lineage", md, autoload_with=engine)
    events_t = sa.Table("epcis_events", md, autoload_with=engine)
    lot_events_t = sa.Table("trace_lot_events", md, autoload_with=engine)
    now = utcnow()
    worlds: list[list[list[int]]] = []
    with engine.begin() as conn:
        next_lot = (conn.scalar(sa.select(sa.func.max(lots_t.c.id))) or 0) + 1
        next_event = (conn.scalar(sa.select(sa.func.max(events_t.c.id))) or 0) + 1
    started = time.perf_counter()
    for w in range(worlds_n):
        world: list[list[int]] = []
        lots, edges, evs, lot_evs = [], [], [], []
        for layer in range(layers):
            ids = list(range(next_lot, next_lot + width))
            # Each lot of the layer below feeds exactly two lots of this one, in random
            # pairs: every lot has inputs and outputs, and lineages spread out with depth.
            below = random.sample(world[-1], len(world[-1])) if layer else []
            pos = 0
            next_lot += width
            for lot_id in ids:
                event_id = f"urn:uuid:{uuid.uuid4()}"
                when = now - dt.timedelta(days=layers - layer)
                lots.append({"id": lot_id, "product_id": product.id, "gtin": product.gtin,
                             "lot": f"W{w}L{layer}N{lot_id}", "created_by_org_id":
                             principal.org_id, "status": "active", "created_at": now,
                             "updated_at": now, "quantity": 100, "unit": "KGM"})
                evs.append({"id": next_event, "event_id": event_id, "kind": "captured",
                            "event_type": "TransformationEvent" if layer else "ObjectEvent",
                            "action": "ADD", "biz_step": "commissioning", "gtin": product.gtin,
                            "brand_org_id": principal.org_id, "event_time": when,
                            "record_time": now, "source": "capture",
                            "body": {"type": "ObjectEvent", "eventID": event_id}})
                lot_evs.append({"lot_id": lot_id, "event_id": event_id,
                                "event_pk": next_event, "event_type": "ObjectEvent",
                                "biz_step": "commissioning", "role": "output",
                                "event_time": when, "org_id": principal.org_id,
                                "quantity": 100, "unit": "KGM", "details": {}})
                next_event += 1
                if layer:
                    pair = (below[pos % width], below[(pos + 1) % width])
                    pos += 1
                    for src in pair:
                        edges.append({"input_lot_id": src, "output_lot_id": lot_id,
                                      "quantity": 50, "unit": "KGM", "event_id": event_id,
                                      "event_time": when, "created_at": now})
            world.append(ids)
        with engine.begin() as conn:
            conn.execute(lots_t.insert(), lots)
            conn.execute(events_t.insert(), evs)
            conn.execute(lot_events_t.insert(), lot_evs)
            conn.execute(edges_t.insert(), edges)
        worlds.append(world)
        if w % 200 == 0:
            print(f"  seeded {len(worlds) * per_world:,} lots/events "
                  f"({time.perf_counter() - started:.0f} s)", flush=True)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            for table in ("trace_lots", "trace_lineage", "epcis_events", "trace_lot_events"):
                conn.execute(sa.text(f"ANALYZE {table}"))
            # Ids were given explicitly: move the sequences past them.
            conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('trace_lots', 'id'), "
                                 "(SELECT max(id) FROM trace_lots))"))
            conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('epcis_events', "
                                 "'id'), (SELECT max(id) FROM epcis_events))"))
    return worlds


def backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) a local PostgreSQL backend has used so far (0 when the
    server is not on this machine)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_lineage(app, principal, worlds, samples: int
                  ) -> tuple[dict[str, list[float]], dict[str, tuple[float, float]]]:
    """Wall ms per call (p50/p95 material) and, per measure, the mean CPU ms per call of
    the app process and of its PostgreSQL backend: on a loaded machine the wall clock
    mostly measures the queue for a core, the CPU what a call costs."""
    from scanapp.trace import lineage, queries

    names = ("cte_backward", "cte_forward", "doc_backward", "doc_forward")
    timings: dict[str, list[float]] = {k: [] for k in names}
    app_cpu = dict.fromkeys(names, 0.0)
    db_cpu = dict.fromkeys(names, 0.0)
    with app.app_context(), session_scope(app) as session:
        for _ in range(samples):
            world = random.choice(worlds)
            top, bottom = random.choice(world[-1]), random.choice(world[0])
            backend = session.execute(sa.text("SELECT pg_backend_pid()")).scalar() \
                if session.get_bind().dialect.name == "postgresql" else None
            calls = (("cte_backward", lambda s, lot: lineage.ancestors(s, [lot]), top),
                     ("cte_forward", lambda s, lot: lineage.descendants(s, [lot]), bottom),
                     ("doc_backward", lambda s, lot: queries.lineage_backward(
                         s, principal, lot), top),
                     ("doc_forward", lambda s, lot: queries.lineage_forward(
                         s, principal, lot), bottom))
            for name, fn, lot_id in calls:
                db = backend_cpu(backend) if backend else 0.0
                cpu, t = time.process_time(), time.perf_counter()
                found = fn(session, lot_id)
                timings[name].append((time.perf_counter() - t) * 1000)
                app_cpu[name] += time.process_time() - cpu
                db_cpu[name] += (backend_cpu(backend) - db) if backend else 0.0
                if name.startswith("cte"):
                    assert max(found.values()) == 10, found
            session.rollback()
    cpu = {name: (app_cpu[name] / samples * 1000, db_cpu[name] / samples * 1000)
           for name in names}
    return timings, cpu


def bench_recall(args, schema, prefix, app, principal, product) -> dict[str, float]:
    from scanapp.scan.service import ScanRequest, verify_scan
    from scanapp.serials import service as serials
    from scanapp.serials.models import SerialRange
    from scanapp.serials.stamps import stamp_uri
    from scanapp.services import services
    from scanapp.trace import recall, service

    n = args.recall_lots
    with app.app_context(), session_scope(app) as session:
        root = service.create_lot(session, principal, {"gtin": product.gtin, "lot": "ROOT",
                                                       "quantity": 1000, "unit": "KGM"})
        root_id = root.id
        engine = get_engine(app)
        md = sa.MetaData()
        lots_t = sa.Table("trace_lots", md, autoload_with=engine)
        edges_t = sa.Table("trace_lineage", md, autoload_with=engine)
        now = utcnow()
        with engine.begin() as conn:
            ids = conn.execute(lots_t.insert().returning(lots_t.c.id), [
                {"product_id": product.id, "gtin": product.gtin, "lot": f"OUT{i}",
                 "created_by_org_id": principal.org_id, "status": "active",
                 "created_at": now, "updated_at": now} for i in range(n)]).scalars().all()
            conn.execute(edges_t.insert(), [
                {"input_lot_id": root_id, "output_lot_id": lot_id, "quantity": 1,
                 "unit": "KGM", "event_id": "urn:uuid:bench-fanout", "event_time": now,
                 "created_at": now} for lot_id in ids])
        started = time.perf_counter()
        last = None
        for i in range(n):
            last, _ = serials.issue_range(session, principal, {
                "gtin": product.gtin, "quantity": args.stamps_per_lot, "lot": f"OUT{i}"},
                f"bench-{i}")
        session.execute(sa.update(SerialRange).values(status="activated", updated_at=utcnow()))
        session.commit()
        print(f"  issued {n} ranges of {args.stamps_per_lot:,} stamps "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
        serial = services(app).codec.encode(last.start_seq + 7, last.gtin, last.lot,
                                       key_id=last.key_id)
        code = stamp_uri("https://scan.example.vn", last.gtin, serial, last.lot)
    worker = _app(args, schema, prefix)  # another worker: its own index and caches
    with worker.app_context():
        first = verify_scan(worker, ScanRequest(code=code, device_id="bench"))
        assert first.verdict == "authentic", first.verdict
    with app.app_context(), session_scope(app) as session:
        # The recall's own transaction runs on this connection: its PostgreSQL backend's
        # CPU is read from /proc around the call (the server runs on this machine).
        backend = session.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        db_before, cpu_before = backend_cpu(backend), time.process_time()
        t = time.perf_counter()
        result = recall.recall_lot(session, principal, root_id, "benchmark recall")
        mark_s = time.perf_counter() - t
        committed = time.perf_counter()
        mark_cpu = time.process_time() - cpu_before
        mark_db_cpu = backend_cpu(backend) - db_before
    assert result["lots_recalled"] == n + 1, result
    with worker.app_context():
        while True:
            answer = verify_scan(worker, ScanRequest(code=code, device_id="bench"))
            if answer.verdict == "recalled":
                break
            if time.perf_counter() - committed > 30:
                raise SystemExit("scan never answered recalled")
            time.sleep(0.02)
    visible_s = time.perf_counter() - committed
    for hook in worker.extensions.get("scanapp.shutdown_hooks", []):
        hook()
    get_engine(worker).dispose()
    return {"mark_s": mark_s, "visible_s": visible_s, "mark_cpu_s": mark_cpu,
            "mark_db_cpu_s": mark_db_cpu,
            "stamps": result["stamps_recalled"], "ranges": result["stamp_ranges_recalled"],
            "lots": result["lots_recalled"]}


def bench_scan_cost(args, schema, prefix, app, principal, product, scans: int
                    ) -> dict[str, float]:
    """Wall and CPU time of a scan with the trace summary and without it (the provider
    removed from the app), same range, warm caches, in process. (Redis round trips per scan
    are asserted by tests/scan/test_round_trips.py; the summary adds none.)"""
    from scanapp.scan.service import ScanRequest, verify_scan
    from scanapp.serials import service as serials
    from scanapp.serials.models import SerialRange
    from scanapp.serials.stamps import stamp_uri
    from scanapp.services import services
    from scanapp.trace import service

    with app.app_context(), session_scope(app) as session:
        service.create_lot(session, principal, {"gtin": product.gtin, "lot": "SCANLOT",
                                                "quantity": 10, "unit": "KGM"})
        issued, _ = serials.issue_range(session, principal, {
            "gtin": product.gtin, "quantity": scans * 2, "lot": "SCANLOT"}, "bench-scan")
        session.execute(sa.update(SerialRange).where(SerialRange.id == issued.id)
                        .values(status="activated", updated_at=utcnow()))
        session.commit()
        codec = services(app).codec
        codes = [stamp_uri("https://scan.example.vn", issued.gtin,
                           codec.encode(seq, issued.gtin, issued.lot, key_id=issued.key_id),
                           issued.lot) for seq in range(issued.start_seq,
                                                        issued.start_seq + scans * 2)]
    worker = _app(args, schema, prefix + "-scan")
    out: dict[str, float] = {}
    with worker.app_context():
        provider = worker.extensions["scanapp.trace.summary"]
        for i in range(50):  # warm both paths: catalog, range index, summary cache
            verify_scan(worker, ScanRequest(code=codes[-1 - i], device_id=f"w{i}"))
        totals = {True: [0.0, 0.0], False: [0.0, 0.0]}
        # Interleaved, so that load on the machine hits both the same way.
        for i, code in enumerate(codes[:scans * 2 - 50]):
            keep = i % 2 == 0
            if keep:
                worker.extensions["scanapp.trace.summary"] = provider
            else:
                worker.extensions.pop("scanapp.trace.summary", None)
            cpu, wall = time.process_time(), time.perf_counter()
            answer = verify_scan(worker, ScanRequest(code=code, device_id=f"d{i}"))
            totals[keep][0] += time.perf_counter() - wall
            totals[keep][1] += time.process_time() - cpu
            assert (answer.trace is not None) == keep
        n = (scans * 2 - 50) // 2
        for keep, label in ((True, "with trace"), (False, "without trace")):
            out[f"{label}: ms/scan (wall)"] = totals[keep][0] * 1000 / n
            out[f"{label}: CPU ms/scan"] = totals[keep][1] * 1000 / n
        worker.extensions["scanapp.trace.summary"] = provider
    for hook in worker.extensions.get("scanapp.shutdown_hooks", []):
        hook()
    get_engine(worker).dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--width", type=int, default=50)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--recall-lots", type=int, default=1000)
    parser.add_argument("--stamps-per-lot", type=int, default=10_000)
    parser.add_argument("--scans", type=int, default=2000)
    args = parser.parse_args()
    schema = f"trace_bench_{secrets.token_hex(4)}"
    prefix = f"trace-bench-{secrets.token_hex(4)}"
    admin = sa.create_engine(args.database_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    app = _app(args, schema, prefix)
    try:
        migrations.upgrade(app)
        with app.app_context(), session_scope(app) as session:
            key, _raw = issue_key(session, "Bench Brand", Role.BRAND, "bench")
            principal = Principal(key_id=key.id, org_id=key.org_id, org_name="Bench Brand",
                                  role=Role.BRAND)
            product = Product(gtin=_check("0893999000001"), brand_org_id=key.org_id,
                              name="Bench product")
            session.add(product)
            session.commit()
        print(f"seeding {args.events:,} lots and events in worlds of 11 x {args.width}",
              flush=True)
        worlds = seed_lineage(app, principal, product, args.events, args.width)
        timings, cpu = bench_lineage(app, principal, worlds, args.samples)
        print(f"recall fan-out to {args.recall_lots} lots", flush=True)
        rec = bench_recall(args, schema, prefix, app, principal, product)
        print("scan cost with and without the trace summary", flush=True)
        cost = bench_scan_cost(args, schema, prefix, app, principal, product, args.scans)
        print()
        print(f"| measure ({args.events:,} events stored, {args.samples} samples) "
              "| p50 ms | p95 ms | max ms | mean CPU ms: app + PostgreSQL backend |")
        print("| --- | --- | --- | --- | --- |")
        for name, values in timings.items():
            app_ms, db_ms = cpu[name]
            print(f"| {name} | {statistics.median(values):.1f} | {_pct(values, 95):.1f} "
                  f"| {max(values):.1f} | {app_ms:.1f} + {db_ms:.1f} |")
        print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end)")
        print()
        print(f"recall of 1 input lot -> {rec['lots'] - 1} output lots, {rec['ranges']} "
              f"stamp ranges, {rec['stamps']:,} stamps: marked and committed in "
              f"{rec['mark_s'] * 1000:.0f} ms (CPU: app {rec['mark_cpu_s'] * 1000:.0f} ms + "
              f"PostgreSQL backend {rec['mark_db_cpu_s'] * 1000:.0f} ms); another worker's "
              f"scan answered 'recalled' {rec['visible_s'] * 1000:.0f} ms after the commit")
        print()
        print("| scan, in process (" + f"{args.scans} scans each) | value |")
        print("| --- | --- |")
        for name, value in cost.items():
            print(f"| {name} | {value:.2f} |")
    finally:
        for hook in app.extensions.get("scanapp.shutdown_hooks", []):
            hook()
        get_engine(app).dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
        if args.redis_url:
            import redis

            client = redis.Redis.from_url(args.redis_url)
            for key in client.scan_iter(match=prefix + ":*", count=1000):
                client.delete(key)


if __name__ == "__main__":
    main()
