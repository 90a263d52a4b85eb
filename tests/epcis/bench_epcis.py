"""EPCIS benchmark: recording overhead, query pages, export and push rates at scale.

    .venv/bin/python -m tests.epcis.bench_epcis [--events 200000] [--database-url URL]

Runs on a fresh SQLite file (default) or a private PostgreSQL schema (created and dropped),
never on shared data. Prints one line per figure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import secrets
import tempfile
import time
import uuid

import sqlalchemy as sa

from scanapp import create_app, events
from scanapp import migrations as scanapp_migrations
from scanapp.auth import service as auth_service
from scanapp.auth.models import Role
from scanapp.db import get_engine, session_scope, utcnow
from scanapp.epcis import exporter, mapping
from scanapp.epcis.cli import write_export
from scanapp.epcis.models import EpcisEvent, EpcisOutbox
from scanapp.epcis.query import EventFilter, encode_token, iter_for_export
from scanapp.products.models import Product
from scanapp.serials.models import SerialRange
from scanapp.services import services
from tests.epcis.capture_server import CaptureServer, free_port

GTINS = ["08934567890120", "08934567890137", "08934567890144", "08934567890151"]


def build(url: str, schema: str | None, capture: str):
    app = create_app({"ENV": "testing", "DATABASE_URL": url, "DATABASE_SCHEMA": schema,
                      "AUTO_MIGRATE": False, "PUBLIC_BASE_URL": "https://scan.example.vn",
                      "RATELIMIT_ENABLED": False, "SECRET_KEY": "b" * 32,
                      "SERIAL_KEY": "c" * 32, "PIN_KEY": "d" * 32,
                      "EPCIS_CAPTURE_URL": capture})
    scanapp_migrations.upgrade(app)
    return app


def seed(app, n: int) -> tuple[int, str]:
    """Products, one range, then ``n`` events bulk-inserted (bodies as the mapping makes them)."""
    with app.app_context(), session_scope(app) as session:
        _key, brand_key = auth_service.issue_key(session, "Bench Brand", Role.BRAND)
        brand = auth_service.get_or_create_org(session, "Bench Brand")
        for gtin in GTINS:
            session.add(Product(gtin=gtin, brand_org_id=brand.id, name="bench"))
        session.commit()
        start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        rows = []
        for i in range(n):
            at = start + dt.timedelta(seconds=i * 60)
            rng = mapping.RangeFacts(1, GTINS[i % 4], "L1", None, 1000, brand.id, None)
            mapped = mapping.range_transitioned("https://scan.example.vn", rng, "void", at,
                                                (f"0AAAAAAAAAAA{i:08d}",))
            body = dict(mapped.body, recordTime=mapping.format_time(at))
            rows.append({"event_id": body["eventID"], "kind": mapped.kind,
                         "event_type": "ObjectEvent", "action": body["action"],
                         "biz_step": body["bizStep"], "disposition": body["disposition"],
                         "gtin": mapped.gtin, "brand_org_id": brand.id, "range_id": 1,
                         "event_time": at, "record_time": at, "body": body})
            if len(rows) == 5000:
                session.execute(sa.insert(EpcisEvent), rows)
                rows = []
        if rows:
            session.execute(sa.insert(EpcisEvent), rows)
        # One pending delivery per event, as the recorder writes them.
        session.execute(sa.insert(EpcisOutbox).from_select(
            ["event_pk", "created_at", "attempts", "next_attempt_at"],
            sa.select(EpcisEvent.id, EpcisEvent.record_time, sa.literal(0),
                      EpcisEvent.record_time)))
        session.commit()
        return brand.id, brand_key


def bench_recording(app, brand_org_id: int, count: int) -> tuple[float, float]:
    """Median time of a range transition's own transaction with and without the EPCIS
    recorder listening, alternating the two so that load on a shared machine hits both."""
    import statistics

    from scanapp.epcis.recorder import Recorder

    # The same transaction with and without the recorder on an otherwise silent bus.
    listening, silent = events.EventBus(), events.EventBus()
    Recorder(app).subscribe(listening)
    timings: dict[bool, list[float]] = {True: [], False: []}
    with app.app_context(), session_scope(app) as session:
        rng = SerialRange(product_id=1, gtin=GTINS[0], lot="L1", start_seq=
                          secrets.randbelow(2**40), quantity=1000, key_id=0,
                          brand_org_id=brand_org_id, requested_by_org_id=brand_org_id)
        session.add(rng)
        session.commit()
        try:
            for i in range(2 * count):
                publish = i % 2 == 0
                session.info[events.SESSION_KEY] = listening if publish else silent
                t0 = time.perf_counter()
                rng.updated_at = utcnow()
                events.publish(session, events.RangeTransitioned(
                    range_id=rng.id, action="void", at=utcnow(), actor_org_id=1,
                    serials=(f"0AAAAAAAAAAA{secrets.randbelow(10**8):08d}",)))
                session.commit()
                timings[publish].append((time.perf_counter() - t0) * 1000)
        finally:
            session.info[events.SESSION_KEY] = services(app).events
    return statistics.median(timings[True]), statistics.median(timings[False])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--database-url", default=None,
                        help="PostgreSQL URL; a private schema is created and dropped")
    args = parser.parse_args()
    port = free_port()
    capture = f"http://127.0.0.1:{port}"
    schema, tmp = None, None
    if args.database_url:
        url = args.database_url
        schema = f"epcis_bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(url)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    else:
        tmp = tempfile.mkdtemp(prefix="epcis-bench-")
        url = f"sqlite:///{tmp}/bench.db"
    server = CaptureServer(port).start()
    try:
        app = build(url, schema, capture)
        stack = "postgresql" if schema else "sqlite"
        print(f"stack: {stack}; events: {args.events}")
        t0 = time.perf_counter()
        brand_org_id, brand_key = seed(app, args.events)
        print(f"seed: {time.perf_counter() - t0:.1f} s")

        with_epcis, without = bench_recording(app, brand_org_id, 300)
        print(f"a range step's transaction: median {without:.2f} ms alone, {with_epcis:.2f} ms "
              f"with its EPCIS event and outbox row")

        client = app.test_client()
        headers = {"Authorization": f"Bearer {brand_key}"}
        for label, params in [
            ("first page, 100 events", {"perPage": 100}),
            ("first page, 1000 events", {"perPage": 1000}),
            ("gtin + bizStep + 1-day window, 100", {"perPage": 100, "gtin": GTINS[2],
                                                     "bizStep": "destroying",
                                                     "since": "2026-03-01",
                                                     "until": "2026-03-02"}),
        ]:
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                response = client.get("/api/v1/epcis/events", query_string=params,
                                      headers=headers)
                assert response.status_code == 200
                response.get_data()
                times.append(time.perf_counter() - t0)
            print(f"query {label}: median {sorted(times)[2] * 1000:.1f} ms")
        # The last page, reached by cursor: as cheap as the first.
        token = encode_token(args.events - 100)
        t0 = time.perf_counter()
        response = client.get("/api/v1/epcis/events", query_string={
            "perPage": 100, "nextPageToken": token}, headers=headers)
        assert len(response.get_json()["epcisBody"]["eventList"]) == 100
        print(f"query deep page (after {args.events - 100} events), 100: "
              f"{(time.perf_counter() - t0) * 1000:.1f} ms")

        out = os.path.join(tempfile.mkdtemp(prefix="epcis-export-"), "all.jsonld")
        with app.app_context(), session_scope(app) as session:
            t0 = time.perf_counter()
            written = write_export(out, iter_for_export(session, EventFilter()),
                                   "https://scan.example.vn/ns/epcis#")
            took = time.perf_counter() - t0
        print(f"export: {written} events in {took:.1f} s = {written / took:,.0f} events/s "
              f"({os.path.getsize(out) / 1e6:.0f} MB)")
        os.remove(out)

        t0 = time.perf_counter()
        result = exporter.push_pending(app)
        took = time.perf_counter() - t0
        with app.app_context(), session_scope(app) as session:
            total = session.query(EpcisEvent).count()
        assert result.sent == total and sorted(server.event_ids) == sorted(set(server.event_ids))
        print(f"push: {result.sent} events in {result.batches} documents in {took:.1f} s = "
              f"{result.sent / took:,.0f} events/s to a local capture endpoint")
        get_engine(app).dispose()
    finally:
        server.stop()
        if schema:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    main()
