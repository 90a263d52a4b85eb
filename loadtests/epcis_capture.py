"""Benchmark: EPCIS 2.0 capture throughput through POST /epcis/capture, on PostgreSQL.

    PYTHONPATH=$PWD /work/venv/bin/python -m loadtests.epcis_capture \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test \
        [--documents 10] [--processes 2] [--with-hook | --hooks none|noop|trace|app]

Builds the app on a private PostgreSQL schema (created, then dropped), makes ``--documents``
EPCISDocuments of ``--events`` events each (supply-chain events like scanapp.trace's: lots as
quantities, items, places, parties, business transactions; half carry an eventID, half get
the event hash), and posts them one after another through the whole request path (API key,
body checks, JSON parsing, schema validation of every event, event hash, duplicate check,
bulk store of events, identifier index and outbox rows, commit). Prints events per second
(wall clock) and the app process's CPU per event; PostgreSQL's own CPU is not in that
figure (it runs in other processes), its share of the wall time is.

Hooks (``--hooks``): ``app`` (what ``create_app`` registers: scanapp.trace's
``TraceCaptureHook``, then scanapp.authority's ``QualityHook``; ``--with-hook`` is this),
``trace`` (scanapp.trace's hook alone), ``noop`` (a hook that does nothing: the cost of the
hook path itself), ``none`` (the bare repository, default). The master data every event
needs to pass scanapp.trace's checks is always seeded: a party and a location for every GLN
the events name (managed by the benchmark's brand) and every lot they observe.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import time

import sqlalchemy as sa

from scanapp import create_app
from scanapp import migrations as scanapp_migrations
from scanapp.auth import service as auth_service
from scanapp.auth.models import Role
from scanapp.db import get_engine, session_scope
from scanapp.epcis import eventhash, validation
from scanapp.products.models import Product
from scanapp.security import json_depth_exceeds
from scanapp.trace.models import Location, Lot, Party

HOOK_MODES = ("none", "noop", "trace", "app")

CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"


def check_digit(body: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


GTINS = [b + check_digit(b) for b in (f"089345678{i:04d}" for i in range(1, 9))]
GLNS = [b + check_digit(b) for b in (f"893456{i:06d}" for i in range(1, 21))]


def make_event(doc: int, i: int) -> dict:
    gtin = GTINS[i % len(GTINS)]
    lot = f"L{doc:03d}{i % 50:03d}"
    here, there = GLNS[i % len(GLNS)], GLNS[(i + 7) % len(GLNS)]
    event = {
        "type": "ObjectEvent", "action": "OBSERVE",
        "bizStep": ("shipping", "receiving", "inspecting", "storing")[i % 4],
        "disposition": ("in_transit", "in_progress", "conformant", "active")[i % 4],
        "eventTime": f"2026-10-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00.{i % 1000:03d}+07:00",
        "eventTimeZoneOffset": "+07:00",
        "epcList": [f"https://id.gs1.org/01/{gtin}/21/D{doc}E{i}S{k}" for k in range(3)],
        "quantityList": [{"epcClass": f"https://id.gs1.org/01/{gtin}/10/{lot}",
                          "quantity": 10 + i % 90, "uom": "KGM"}],
        "readPoint": {"id": f"https://id.gs1.org/414/{here}/254/{i % 5}"},
        "bizLocation": {"id": f"https://id.gs1.org/414/{here}"},
        "bizTransactionList": [{"type": "desadv",
                                "bizTransaction": f"urn:epcglobal:cbv:bt:{here}:D{doc}-{i}"}],
        "sourceList": [{"type": "owning_party", "source": f"https://id.gs1.org/417/{here}"}],
        "destinationList": [{"type": "owning_party",
                             "destination": f"https://id.gs1.org/417/{there}"}],
    }
    if i % 2 == 0:
        event["eventID"] = f"urn:uuid:{secrets.token_hex(4)}-{doc:04x}-4{i:03x}-8000-" \
                           f"{secrets.token_hex(6)}"
    return event


def make_document(doc: int, events: int) -> bytes:
    return json.dumps({
        "@context": [CONTEXT], "type": "EPCISDocument", "schemaVersion": "2.0",
        "creationDate": "2026-11-01T00:00:00Z",
        "epcisBody": {"eventList": [make_event(doc, i) for i in range(events)]},
    }).encode()


def _cpu(step) -> float:
    start = time.process_time()
    step()
    return time.process_time() - start


def backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) a local PostgreSQL backend has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class NoopHook:
    """A capture hook that checks and writes nothing: the cost of the hook path itself
    (ORM rows handed to hooks), which scanapp.trace's hook adds its own work to."""

    def check(self, session, principal, event, index):
        return []

    def apply(self, session, principal, event, stored):
        pass


def make_app(url: str, schema: str, hooks: str = "none"):
    app = _app(url, schema)
    registered = app.extensions["scanapp.epcis.capture_hooks"]
    if hooks == "none":
        registered.clear()
    elif hooks == "noop":
        registered[:] = [NoopHook()]
    elif hooks == "trace":
        from scanapp.trace.hook import TraceCaptureHook

        registered[:] = [h for h in registered if isinstance(h, TraceCaptureHook)]
        assert registered, "scanapp.trace registered no capture hook"
    return app


def lot_keys(doc: int, events: int) -> set[tuple[str, str]]:
    """(GTIN, lot) of every lot that document ``doc`` observes (see ``make_event``)."""
    return {(GTINS[i % len(GTINS)], f"L{doc:03d}{i % 50:03d}") for i in range(events)}


def seed_master_data(session, brand_id: int, docs: list[int], events: int) -> None:
    """What scanapp.trace's hook checks an event against: a party (AI 417) and a location
    (AI 414) for every GLN, managed by the brand that posts, and the lots the events name."""
    products = dict(session.execute(sa.select(Product.gtin, Product.id)).all())
    for gln in GLNS:
        party = Party(org_id=brand_id, name=f"Bench party {gln}", gln=gln)
        session.add(party)
        session.flush()
        session.add(Location(party_id=party.id, gln=gln, extension="", name=f"Bench {gln}",
                             kind="warehouse"))
    session.flush()
    rows = [{"product_id": products[gtin], "gtin": gtin, "lot": lot, "status": "active",
             "created_by_org_id": brand_id}
            for doc in docs for gtin, lot in sorted(lot_keys(doc, events))]
    for start in range(0, len(rows), 5000):
        session.execute(sa.insert(Lot), rows[start:start + 5000])


def _app(url: str, schema: str):
    return create_app({"ENV": "testing", "DATABASE_URL": url, "DATABASE_SCHEMA": schema,
                      "AUTO_MIGRATE": False, "PUBLIC_BASE_URL": "https://scan.example.vn",
                      "RATELIMIT_ENABLED": False, "SECRET_KEY": "b" * 32,
                      "SERIAL_KEY": "c" * 32, "PIN_KEY": "d" * 32,
                      "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
                      # Requests one after another reuse the one pooled connection.
                      "DATABASE_POOL_SIZE": 1})


def build(url: str, schema: str, hooks: str, docs: list[int], events: int):
    app = make_app(url, schema, hooks)
    scanapp_migrations.upgrade(app)
    with app.app_context(), session_scope(app) as session:
        _key, raw = auth_service.issue_key(session, "Bench Brand", Role.BRAND)
        brand = auth_service.get_or_create_org(session, "Bench Brand")
        for gtin in GTINS:
            session.add(Product(gtin=gtin, brand_org_id=brand.id, name="bench"))
        session.flush()
        seed_master_data(session, brand.id, docs, events)
        session.commit()
    return app, raw


def _client_process(url: str, schema: str, key: str, first_doc: int, documents: int,
                    events: int, start_at: float, out, hooks: str) -> None:
    """One concurrent client (like one gunicorn worker): its own app, its own connection."""
    app = make_app(url, schema, hooks)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/ld+json"}
    bodies = [make_document(first_doc + d, events) for d in range(documents)]
    while time.time() < start_at:
        time.sleep(0.01)
    began = time.perf_counter()
    for body in bodies:
        response = client.post("/epcis/capture", data=body, headers=headers)
        assert response.status_code == 202, response.get_json()
    out.put(time.perf_counter() - began)
    get_engine(app).dispose()


def run_parallel(url: str, schema: str, key: str, processes: int, documents: int,
                 events: int, hooks: str) -> None:
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 8  # every process built and its documents made by then
    workers = [ctx.Process(target=_client_process, args=(
        url, schema, key, 10_000 * (i + 1), documents, events, start_at, out, hooks))
        for i in range(processes)]
    for worker in workers:
        worker.start()
    walls = [out.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join()
    total = processes * documents * events
    print(f"capture, {processes} clients at once: {total / max(walls):,.0f} events/s wall "
          f"({total} events; load average {os.getloadavg()[0]:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="a PostgreSQL URL")
    parser.add_argument("--documents", type=int, default=10)
    parser.add_argument("--events", type=int, default=1000, help="events per document")
    parser.add_argument("--processes", type=int, default=0,
                        help="then also run this many clients at once (separate processes, "
                        "like gunicorn workers), each posting --documents documents")
    parser.add_argument("--hooks", choices=HOOK_MODES, default="none",
                        help="capture hooks: none (default), noop, trace (scanapp.trace's "
                        "alone) or app (every hook create_app registers)")
    parser.add_argument("--with-hook", action="store_const", const="app", dest="hooks",
                        help="the same as --hooks app: the real hooks")
    parser.add_argument("--profile", metavar="FILE",
                        help="after the measured documents, post one more under cProfile and "
                        "write its stats to FILE (read with python -m pstats FILE)")
    args = parser.parse_args()
    docs = list(range(args.documents + 2)) + [
        10_000 * (p + 1) + d for p in range(args.processes) for d in range(args.documents)]

    schema = f"bench_epcis_{secrets.token_hex(4)}"
    admin = sa.create_engine(args.database_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        app, key = build(args.database_url, schema, args.hooks, docs, args.events)
        client = app.test_client()
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/ld+json"}
        bodies = [make_document(d, args.events) for d in range(args.documents + 1)]
        print(f"documents: {args.documents} x {args.events} events"
              f", capture hooks: {args.hooks}, "
              f"{statistics.mean(len(b) for b in bodies) / 1024:.0f} KiB each")

        # Where one event's CPU goes before storage (in-process, no database); the best of
        # three passes, since a shared machine and the garbage collector add noise.
        sample = json.loads(bodies[0])["epcisBody"]["eventList"]
        text = bodies[0].decode()
        steps = (("schema validation", lambda: [validation.event_problems(e, 0)
                                                for e in sample]),
                 ("event hash (every event; only those without eventID pay it)",
                  lambda: [eventhash.event_hash_id(e) for e in sample]),
                 ("JSON parsing", lambda: json.loads(text)),
                 ("app-wide JSON depth check (scanapp/security.py)",
                  lambda: json_depth_exceeds(text)))
        for name, step in steps:
            best = min(_cpu(step) for _ in range(3))
            print(f"  {name}: {best / len(sample) * 1e6:.0f} us CPU per event")

        # Warm-up document (connections, compiled statements), not counted.
        assert client.post("/epcis/capture", data=bodies[0], headers=headers).status_code == 202
        # One pool connection serves every request: its PostgreSQL backend's CPU is read
        # from /proc around each document (the server runs on this machine).
        engine = get_engine(app)
        backend = None
        walls, cpus, db_cpus = [], [], []
        for body in bodies[1:]:
            if backend is None:
                with engine.connect() as conn:
                    backend = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
            db_before = backend_cpu(backend)
            wall, cpu = time.perf_counter(), time.process_time()
            response = client.post("/epcis/capture", data=body, headers=headers)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            db_cpus.append(backend_cpu(backend) - db_before)
            job = response.get_json()
            assert response.status_code == 202 and job["eventsStored"] == args.events, job
        total = args.documents * args.events
        print(f"capture: {total / sum(walls):,.0f} events/s wall "
              f"(median document {statistics.median(walls) * 1000:.0f} ms, "
              f"best {min(walls) * 1000:.0f} ms)")
        app_cpu, db_cpu = sum(cpus) / total, sum(db_cpus) / total
        print(f"  CPU per event: app {app_cpu * 1e6:.0f} us + PostgreSQL backend "
              f"{db_cpu * 1e6:.0f} us = {(app_cpu + db_cpu) * 1e6:.0f} us "
              f"(-> {1 / (app_cpu + db_cpu):,.0f} events/s for each core of CPU given to "
              "capture, app and database together)")
        print(f"  load average during the run: {os.getloadavg()[0]:.1f} "
              f"on {os.cpu_count()} cores")
        with get_engine(app).connect() as conn:
            stored = conn.execute(sa.text("SELECT count(*) FROM epcis_events")).scalar()
            index = conn.execute(sa.text("SELECT count(*) FROM epcis_event_identifiers")
                                 ).scalar()
        print(f"stored: {stored} events, {index} identifier rows")
        if args.profile:
            import cProfile

            body = make_document(args.documents + 1, args.events)
            profiler = cProfile.Profile()
            profiler.enable()
            response = client.post("/epcis/capture", data=body, headers=headers)
            profiler.disable()
            assert response.status_code == 202, response.get_json()
            profiler.dump_stats(args.profile)
            print(f"profile of one more document written to {args.profile}")
        get_engine(app).dispose()
        if args.processes:
            run_parallel(args.database_url, schema, key, args.processes, args.documents,
                         args.events, args.hooks)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
