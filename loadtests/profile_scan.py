"""Where a scan's CPU goes, function by function, without HTTP or gunicorn in the way.

    .venv/bin/python -m loadtests.profile_scan --scans 3000 [--top 40] [--sort tottime]

The benchmark's py-spy profile (loadtests/bench.py --profile) samples a worker at 100 Hz
under full load: it tells the steps of the scan path apart but not a 20 µs function from
noise. This script runs the production configuration (PostgreSQL, Redis, group commit,
background flag writer) in one process, seeds a product and a range through the API with
Flask's test client, then profiles ``POST /api/v1/scans`` with cProfile timed by the
request thread's own CPU clock (``time.thread_time``): waits for Redis and for the shared
commit cost nothing there, and the committer and flag-writer threads are not in it (their
cost shows in the benchmark's per-request CPU). The traffic is the benchmark's mix
(loadtests/traffic.py). It prints the thread's CPU per scan and the top functions.

It creates and drops a PostgreSQL schema of its own and uses a Redis key prefix of its own
(deleted at the end); it flushes nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import secrets
import sys
import time

from . import stack, traffic

GTIN = "08934567000017"  # GS1 Vietnam prefix 893, valid check digit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url",
                        default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--scans", type=int, default=3000)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sort", default="tottime", choices=("tottime", "cumulative"))
    parser.add_argument("--second-scans", action="store_true", help=(
        "scan every measured body once, unmeasured, and measure it again an hour later by "
        "the scan clock: the codes are in Redis (no per-code summary read), the phone is "
        "the same and the reload window is over, so each measured scan is counted and "
        "written like a first scan"))
    args = parser.parse_args(argv)

    token = secrets.token_hex(3)
    schema = stack.Schema(args.database_url, f"profile_{token}")
    prefix = f"profile-{token}"
    env = stack.production_env(args.database_url, schema.name, args.redis_url, prefix,
                               "https://scan.example.vn")
    schema.create()
    try:
        stack.flask_cli(env, "db", "upgrade")
        key = stack.create_key(env, "brand", "Profile brand")
        os.environ.update(env)
        from scanapp import create_app

        app = create_app()
        try:
            return _profile(app, key, args)
        finally:
            for hook in app.extensions.get("scanapp.shutdown_hooks", []):
                hook()
            _drop_keys(args.redis_url, prefix)
    finally:
        schema.drop()


def _profile(app, key: str, args) -> int:
    client = app.test_client()
    auth = {"Authorization": f"Bearer {key}"}
    assert client.post("/api/v1/products", headers=auth, json={
        "gtin": GTIN, "name": "Profile product"}).status_code == 201
    made = client.post("/api/v1/ranges", headers=auth,
                       json={"gtin": GTIN, "quantity": args.scans * 4}).get_json()
    for step in ("print", "activate"):
        client.post(f"/api/v1/ranges/{made['id']}/{step}", headers=auth, json={})
    codes = client.get(f"/api/v1/ranges/{made['id']}/codes.txt", headers=auth
                       ).get_data(as_text=True).split()
    pool = traffic.CodePool(codes)
    warm = [json.loads(b) for b in traffic.scan_bodies(pool, args.scans, seed=1)]
    bodies = [json.loads(b) for b in traffic.scan_bodies(pool, args.scans, seed=2)]
    for body in warm:  # loads the Redis buckets, compiles and caches everything once
        client.post("/api/v1/scans", json=body)
    # The yardstick, unprofiled: the same thread's CPU for the do-nothing endpoint and for
    # a scan, through the same test client.
    baseline = _thread_cpu_ms(lambda: client.get("/healthz"), len(bodies))
    plain = traffic.scan_bodies(pool, len(bodies), seed=3)
    via_flask = traffic.scan_bodies(pool, len(bodies), seed=4)
    if args.second_scans:
        _scan_an_hour_before(app, client, [*plain, *via_flask,
                                           *(json.dumps(b).encode() for b in bodies)])
    scans = iter(plain)
    scan = _thread_cpu_ms(lambda: client.post(
        "/api/v1/scans", data=next(scans), content_type="application/json"), len(bodies))
    print(f"unprofiled request thread CPU: GET /healthz {baseline:.3f} ms, scan {scan:.3f} ms,"
          f" ratio {baseline / scan:.2f}")
    # The same scans handed straight to the Flask view the lean route stands in front of
    # (scanapp/scan/lean.py): what the lean route saves.
    from werkzeug.test import Client
    from werkzeug.wrappers import Response

    from scanapp.scan.lean import LeanScanRoute

    wsgi = app.wsgi_app
    while not isinstance(wsgi, LeanScanRoute):
        wsgi = wsgi.app
    flask_client = Client(wsgi.flask_wsgi, Response)
    scans = iter(via_flask)
    flask_scan = _thread_cpu_ms(lambda: flask_client.post(
        "/api/v1/scans", data=next(scans), content_type="application/json"), len(bodies))
    print(f"the same scans through the Flask view (no lean route): {flask_scan:.3f} ms, "
          f"ratio {baseline / flask_scan:.2f}")

    profiler = cProfile.Profile(time.thread_time)
    cpu0 = time.thread_time()
    profiler.enable()
    statuses: dict[int, int] = {}
    for body in bodies:
        status = client.post("/api/v1/scans", json=body).status_code
        statuses[status] = statuses.get(status, 0) + 1
    profiler.disable()
    cpu = time.thread_time() - cpu0
    print(f"{len(bodies)} scans, answers {statuses}; request thread CPU "
          f"{1000 * cpu / len(bodies):.3f} ms per scan (profiled, so slower than unprofiled)")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats(args.sort).print_stats(args.top)
    return 0


def _scan_an_hour_before(app, client, bodies: list[bytes]) -> None:
    import datetime as dt

    from scanapp.db import utcnow
    from scanapp.services import services

    for body in bodies:
        client.post("/api/v1/scans", data=body, content_type="application/json")
    services(app).scan.clock = lambda: utcnow() + dt.timedelta(hours=1)


def _thread_cpu_ms(call, n: int) -> float:
    cpu0 = time.thread_time()
    for _ in range(n):
        call()
    return 1000 * (time.thread_time() - cpu0) / n


def _drop_keys(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=prefix + ":*", count=1000):
        client.delete(key)
    client.close()


if __name__ == "__main__":
    sys.exit(main())
