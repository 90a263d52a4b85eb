"""Fault drills: break Redis, a gunicorn worker or PostgreSQL under sustained scan load and
count what survived.

    .venv/bin/python -m loadtests.faults.drill redis-restart --duration 30
    .venv/bin/python -m loadtests.faults.drill redis-kill --duration 30
    .venv/bin/python -m loadtests.faults.drill worker-kill --duration 30
    .venv/bin/python -m loadtests.faults.drill postgres-stop --duration 30
    .venv/bin/python -m loadtests.faults.drill all --duration 30
    .venv/bin/python -m loadtests.faults.drill persistence-cost --duration 20

Each drill starts its own stack (gunicorn with gunicorn.conf.py in production mode on
127.0.0.1:5601, a private Redis on 5602, a private PostgreSQL on 5433 for the PostgreSQL
drill, else a schema of its own on the shared PostgreSQL), seeds a product and an activated
range through the API, then runs scan load from a pool of threads: mostly first scans of
genuine codes, one in five a repeat scan of an already scanned code from another phone.
Every scan carries a unique device id, so each acknowledged scan (HTTP 200) can be found
again in scan_events by (serial, keyed hash of the device id).

At a third of the run the fault strikes; the service must keep answering (degraded
allowed), and afterwards:
- lost: acknowledged scans missing from the database (goal 0);
- duplicated: an acknowledged scan stored more than once (goal 0);
- counters: for a sample of codes, the scan count the API reports (Redis, rebuilt after a
  flush) equals the number of scan events in the database;
- ranges (worker and PostgreSQL drills): every acknowledged range is stored once and no
  two ranges share a sequence number;
- PostgreSQL drill: answers while the database is down are 503 with a clear message and
  come fast; scans are acknowledged again without any restart once it is back.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import signal
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import sqlalchemy as sa

from ..stack import PrivateRedis
from .stack import Gunicorn, PrivatePostgres, app_overrides, production_env

GUNICORN_PORT = int(os.environ.get("SCANAPP_FAULT_GUNICORN_PORT", "5601"))
REDIS_PORT = int(os.environ.get("SCANAPP_FAULT_REDIS_PORT", "5602"))
PG_PORT = int(os.environ.get("SCANAPP_FAULT_PG_PORT", "5433"))
SHARED_PG = os.environ.get("SCANAPP_FAULT_DATABASE_URL",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/test")
GTIN = "08934567890120"


# -- seeding --------------------------------------------------------------------------------

@dataclass
class Seed:
    brand_key: str
    serials: list[str]
    lot: str


def seed(env: dict[str, str], quantity: int) -> Seed:
    """Migrate, then create a brand, a product and an activated range through the API."""
    from scanapp import create_app
    from scanapp.auth import service as auth_service
    from scanapp.auth.models import Role
    from scanapp.db import get_engine, session_scope

    app = create_app(app_overrides(env))
    try:
        with app.app_context(), session_scope(app) as session:
            _key, brand_key = auth_service.issue_key(session, "Drill Brand", Role.BRAND, "drill")
        client = app.test_client()
        headers = {"Authorization": f"Bearer {brand_key}"}
        created = client.post("/api/v1/products", headers=headers,
                              json={"gtin": GTIN, "name": "Nước mắm diễn tập"})
        assert created.status_code == 201, created.get_json()
        rng = client.post("/api/v1/ranges", headers=headers,
                          json={"gtin": GTIN, "quantity": quantity, "lot": "DRILL1"})
        assert rng.status_code == 201, rng.get_json()
        range_id = rng.get_json()["id"]
        for action in ("print", "activate"):
            step = client.post(f"/api/v1/ranges/{range_id}/{action}", headers=headers, json={})
            assert step.status_code == 200, step.get_json()
        with client.get(f"/api/v1/ranges/{range_id}/codes.csv", headers=headers) as response:
            lines = response.get_data(as_text=True).splitlines()[1:]
        return Seed(brand_key, [line.split(",")[0] for line in lines], "DRILL1")
    finally:
        for hook in app.extensions.get("scanapp.shutdown_hooks", []):
            hook()
        get_engine(app).dispose()
        client_ = app.extensions.get("scanapp.redis")
        if client_ is not None:
            client_.close()


# -- load -----------------------------------------------------------------------------------

@dataclass
class Sent:
    serial: str
    device: str
    at: float
    status: int | str
    latency: float
    body: dict | None = None


@dataclass
class Load:
    """Scan traffic from ``threads`` keep-alive connections until ``stop`` is set."""

    base: str
    seed: Seed
    threads: int = 8
    repeat_share: float = 0.2
    results: list[Sent] = field(default_factory=list)
    ranges: list[tuple[int | str, int | None, float]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._next = 0
        self._acked: list[str] = []
        self._workers: list[threading.Thread] = []
        host_port = self.base.split("://", 1)[1]
        self._host, self._port = host_port.split(":")[0], int(host_port.split(":")[1])

    def _pick(self, rnd: random.Random) -> str | None:
        with self._lock:
            if self._acked and rnd.random() < self.repeat_share:
                return rnd.choice(self._acked)
            if self._next >= len(self.seed.serials):
                return None
            self._next += 1
            return self.seed.serials[self._next - 1]

    def _connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self._host, self._port, timeout=10)

    def _request(self, conn, method, path, body, headers=None):
        conn.request(method, path, body=json.dumps(body),
                     headers={"Content-Type": "application/json", **(headers or {})})
        response = conn.getresponse()
        data = response.read()
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = None
        return response.status, parsed

    def _scanner(self, number: int) -> None:
        rnd = random.Random(number)
        conn = self._connection()
        while not self.stop.is_set():
            serial = self._pick(rnd)
            if serial is None:
                break
            device = f"drill-{number}-{secrets.token_hex(6)}"
            code = f"https://scan.example.vn/01/{GTIN}/10/{self.seed.lot}/21/{serial}"
            started = time.monotonic()
            try:
                status, body = self._request(conn, "POST", "/api/v1/scans",
                                             {"code": code, "device_id": device})
            except (OSError, http.client.HTTPException) as exc:
                status, body = type(exc).__name__, None
                conn.close()
                conn = self._connection()
            sent = Sent(serial, device, started, status, time.monotonic() - started, body)
            with self._lock:
                self.results.append(sent)
                if status == 200:
                    self._acked.append(serial)
        conn.close()

    def _issuer(self) -> None:
        """Small ranges, one after another: a printer's requests while the fault strikes."""
        conn = self._connection()
        headers = {"Authorization": f"Bearer {self.seed.brand_key}"}
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                status, body = self._request(conn, "POST", "/api/v1/ranges",
                                             {"gtin": GTIN, "quantity": 10}, headers)
            except (OSError, http.client.HTTPException) as exc:
                status, body = type(exc).__name__, None
                conn.close()
                conn = self._connection()
            range_id = body.get("id") if status == 201 and body else None
            with self._lock:
                self.ranges.append((status, range_id, time.monotonic() - started))
            time.sleep(0.05)
        conn.close()

    def start(self, issue_ranges: bool = False) -> None:
        self._workers = [threading.Thread(target=self._scanner, args=(n,), daemon=True)
                         for n in range(self.threads)]
        if issue_ranges:
            self._workers.append(threading.Thread(target=self._issuer, daemon=True))
        for worker in self._workers:
            worker.start()

    def finish(self) -> None:
        self.stop.set()
        for worker in self._workers:
            worker.join(timeout=30)


# -- what survived --------------------------------------------------------------------------

def audit(env: dict[str, str], load: Load, base: str) -> dict:
    """Compare what was acknowledged with what the database holds."""
    from scanapp.db import make_engine
    from scanapp.scan.privacy import Hasher

    hasher = Hasher(env["SCANAPP_SECRET_KEY"])
    engine = make_engine(env["SCANAPP_DATABASE_URL"], env.get("SCANAPP_DATABASE_SCHEMA"), 2)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT serial, device_hash, count(*) FROM scan_events "
                "GROUP BY serial, device_hash")).all()
            per_serial = dict(conn.execute(sa.text(
                "SELECT serial, count(*) FROM scan_events GROUP BY serial")).all())
            ranges = conn.execute(sa.text(
                "SELECT id, start_seq, quantity FROM serial_ranges ORDER BY start_seq")).all()
    finally:
        engine.dispose()
    stored = {(serial, device): count for serial, device, count in rows}
    acked = [s for s in load.results if s.status == 200]
    lost = [s for s in acked if (s.serial, hasher.device(s.device)) not in stored]
    duplicated = [s for s in acked if stored.get((s.serial, hasher.device(s.device)), 0) > 1]
    statuses = Counter(str(s.status) for s in load.results)
    degraded = sum(1 for s in acked if s.body and s.body.get("degraded"))

    # Counters: what the API says now (Redis, rebuilt from the database after a flush).
    # A scan that never got its answer (the worker died between counting it in Redis and
    # committing its row) may have been counted: the phone saw nothing, and its next scan
    # reads one higher. That, and only that, is tolerated: the API may exceed the database
    # by at most the unanswered sends of that serial, and never fall short of it.
    unanswered = Counter(s.serial for s in load.results if s.status != 200)
    sample = random.Random(7).sample(sorted({s.serial for s in acked}),
                                     min(200, len({s.serial for s in acked})))
    mismatched = []
    conn = http.client.HTTPConnection(base.split("://")[1].split(":")[0],
                                      int(base.rsplit(":", 1)[1]), timeout=10)
    for serial in sample:
        conn.request("GET", f"/api/v1/verification/01/{GTIN}/10/{load.seed.lot}/21/{serial}")
        response = conn.getresponse()
        body = json.loads(response.read())
        excess = (body.get("scan_count") or 0) - per_serial.get(serial, 0)
        if not 0 <= excess <= unanswered[serial]:
            mismatched.append((serial, body.get("scan_count"), per_serial.get(serial, 0)))
    conn.close()

    acked_ranges = [rid for status, rid, _ in load.ranges if status == 201]
    stored_ids = [r.id for r in ranges]
    overlaps = [(a.id, b.id) for a, b in zip(ranges, ranges[1:], strict=False)
                if a.start_seq + a.quantity > b.start_seq]
    return {
        "scans sent": len(load.results),
        "acknowledged": len(acked),
        "found in database": len(acked) - len(lost),
        "lost": len(lost),
        "duplicated": len(duplicated),
        "degraded answers": degraded,
        "statuses": dict(statuses),
        "counters checked": len(sample),
        "counter mismatches": len(mismatched),
        "counter mismatch examples": mismatched[:5],
        "ranges acknowledged": len(acked_ranges),
        "ranges lost": len(set(acked_ranges) - set(stored_ids)),
        "ranges duplicated": len(stored_ids) - len(set(stored_ids)),
        "range overlaps": len(overlaps),
        "range statuses": dict(Counter(str(s) for s, _, _ in load.ranges)),
    }


def latency_summary(samples: list[float]) -> dict:
    if not samples:
        return {}
    ordered = sorted(samples)
    return {"n": len(ordered), "p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1)}


# -- drills ---------------------------------------------------------------------------------

def _schema_stack(redis_port: int) -> tuple[dict, PrivateRedis, str]:
    import psycopg

    schema = f"scanapp_fault_{secrets.token_hex(4)}"
    with psycopg.connect(SHARED_PG.replace("postgresql+psycopg", "postgresql"),
                         autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    private = PrivateRedis(redis_port)
    try:
        private.start()
    except Exception:
        private.stop()
        _drop_schema(schema)
        raise
    return production_env(SHARED_PG, private.url, schema), private, schema


def _drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(SHARED_PG.replace("postgresql+psycopg", "postgresql"),
                         autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def redis_drill(kill: bool, duration: float, threads: int = 8, outage: float = 2.0) -> dict:
    """Stop Redis (SHUTDOWN NOSAVE, or SIGKILL) a third into the run; start it empty again."""
    env, private, schema = _schema_stack(REDIS_PORT)
    server = Gunicorn(env, GUNICORN_PORT)
    try:
        data = seed(env, quantity=60_000)
        server.start()
        load = Load(server.base, data, threads=threads)
        load.start()
        time.sleep(duration / 3)
        (private.kill if kill else private.shutdown)()
        down_at = time.monotonic()
        time.sleep(outage)
        private.start()
        up_at = time.monotonic()
        time.sleep(max(0.0, duration * 2 / 3 - outage))
        load.finish()
        report = audit(env, load, server.base)
        during = [s for s in load.results if down_at <= s.at < up_at]
        report["during outage"] = {
            "answered": len(during), "ok": sum(1 for s in during if s.status == 200),
            "degraded": sum(1 for s in during if s.body and s.body.get("degraded")),
            **latency_summary([s.latency for s in during])}
        report["drill"] = f"redis {'SIGKILL' if kill else 'graceful restart'}"
        return report
    finally:
        server.stop()
        private.stop()
        _drop_schema(schema)


def worker_drill(duration: float, threads: int = 8) -> dict:
    """SIGKILL each of two gunicorn workers in turn under load, ranges being issued too."""
    env, private, schema = _schema_stack(REDIS_PORT)
    server = Gunicorn(env, GUNICORN_PORT, workers=2)
    try:
        data = seed(env, quantity=60_000)
        server.start()
        load = Load(server.base, data, threads=threads)
        load.start(issue_ranges=True)
        # Both original workers die in turn: whichever holds the client connections is hit.
        victims = server.worker_pids()
        for victim in victims:
            time.sleep(duration / 3)
            os.kill(victim, signal.SIGKILL)
        time.sleep(duration / 3)
        load.finish()
        report = audit(env, load, server.base)
        report["drill"] = f"gunicorn worker SIGKILL (pids {victims}, one after the other)"
        # gunicorn replaces a dead worker at once, but booting one takes seconds on a busy host.
        deadline = time.monotonic() + 60
        while len(server.worker_pids()) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        report["workers after"] = len(server.worker_pids())
        return report
    finally:
        server.stop()
        private.stop()
        _drop_schema(schema)


def postgres_drill(duration: float, threads: int = 8, outage: float = 3.0) -> dict:
    """Stop a private PostgreSQL (fast shutdown) a third into the run; start it again."""
    pg = PrivatePostgres(PG_PORT)
    private = PrivateRedis(REDIS_PORT)
    server = None
    try:
        pg.init()
        private.start()
        env = production_env(pg.url, private.url)
        server = Gunicorn(env, GUNICORN_PORT)
        data = seed(env, quantity=60_000)
        server.start()
        load = Load(server.base, data, threads=threads)
        load.start(issue_ranges=True)
        time.sleep(duration / 3)
        pg.stop("fast")
        down_at = time.monotonic()
        time.sleep(outage)
        pg.start()
        up_at = time.monotonic()
        time.sleep(max(0.0, duration * 2 / 3 - outage))
        load.finish()
        report = audit(env, load, server.base)
        during = [s for s in load.results if down_at <= s.at < up_at]
        refused = [s for s in during if s.status == 503]
        first_ok_after = min((s.at for s in load.results if s.at >= up_at and s.status == 200),
                             default=None)
        report["during outage"] = {
            "answered": len(during), "503": len(refused),
            "codes": dict(Counter((s.body or {}).get("code") for s in refused)),
            "messages": sorted({(s.body or {}).get("message", "") for s in refused})[:3],
            "statuses": dict(Counter(str(s.status) for s in during)),
            **latency_summary([s.latency for s in refused])}
        report["recovered after s"] = (round(first_ok_after - up_at, 2)
                                       if first_ok_after is not None else None)
        after = [s for s in load.results if s.at >= up_at + 2]
        report["after recovery"] = dict(Counter(str(s.status) for s in after))
        report["drill"] = "postgresql fast stop"
        return report
    finally:
        if server is not None:
            server.stop()
        private.stop()
        pg.destroy()


def persistence_cost(duration: float, threads: int = 16) -> dict:
    """Scan throughput with Redis persistence off, AOF fsync every second, AOF fsync always.

    The same load as the drills (first scans and repeats, acknowledged after the database
    commit) against the same gunicorn; only the private Redis' persistence changes."""
    results = {}
    for setting in (None, "everysec", "always"):
        schema = f"scanapp_fault_{secrets.token_hex(4)}"
        import psycopg

        with psycopg.connect(SHARED_PG.replace("postgresql+psycopg", "postgresql"),
                             autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        private = PrivateRedis(REDIS_PORT, appendfsync=setting)
        private.start()
        env = production_env(SHARED_PG, private.url, schema)
        server = Gunicorn(env, GUNICORN_PORT)
        try:
            data = seed(env, quantity=100_000)
            server.start()
            load = Load(server.base, data, threads=threads)
            load.start()
            time.sleep(duration)
            load.finish()
            ok = [s for s in load.results if s.status == 200]
            results[f"appendfsync {setting}" if setting else "no persistence"] = {
                "scans/s": round(len(ok) / duration, 1),
                **latency_summary([s.latency for s in ok])}
        finally:
            server.stop()
            private.stop()
            _drop_schema(schema)
    base = next(iter(results.values()))["scans/s"]
    for figures in results.values():
        figures["ratio"] = round(figures["scans/s"] / base, 2) if base else None
    return {"drill": "redis persistence cost", **results}


DRILLS = {
    "redis-restart": lambda d: redis_drill(kill=False, duration=d),
    "redis-kill": lambda d: redis_drill(kill=True, duration=d),
    "worker-kill": lambda d: worker_drill(duration=d),
    "postgres-stop": lambda d: postgres_drill(duration=d),
    "persistence-cost": lambda d: persistence_cost(duration=d),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("drill", choices=[*DRILLS, "all"])
    # "all" runs the four fault drills; the persistence measurement is asked for by name.
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    args = parser.parse_args()
    names = [n for n in DRILLS if n != "persistence-cost"] if args.drill == "all" \
        else [args.drill]
    for name in names:
        report = DRILLS[name](args.duration)
        print(json.dumps(report, indent=2, ensure_ascii=False, default=str), flush=True)


if __name__ == "__main__":
    main()
