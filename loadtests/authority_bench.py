"""Authority benchmark: what the data-quality capture hook and the review listener add to
recording an event, and how long the nightly check takes over the events recorded.

One command (an SQLite file in a temporary folder by default; ``--database-url`` with a
schema of its own on PostgreSQL, dropped at the end)::

    PYTHONPATH=. /work/venv/bin/python -m loadtests.authority_bench --events 300

Two apps on the same database record ``--events`` harvests each through the plain JSON
API's service (``trace.events.record``: capture, trace hook, commit): one with the
authority's capture hook, one without. Figures are in-process service times, printed as a
Markdown table with the ratio; then ``rules.run`` over everything (the nightly check).
"""

from __future__ import annotations

import argparse
import datetime as dt
import secrets
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from scanapp import create_app, migrations
from scanapp.auth.models import Role
from scanapp.auth.service import Principal, issue_key
from scanapp.authority import rules
from scanapp.db import get_engine, session_scope
from scanapp.products.models import Product
from scanapp.trace import events, service


def _check(body: str) -> str:
    digits = [int(c) for c in body]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return body + str((10 - total % 10) % 10)


def _app(url: str, schema: str | None):
    return create_app({
        "ENV": "testing", "TESTING": True, "DATABASE_URL": url, "DATABASE_SCHEMA": schema,
        "REDIS_URL": None, "AUTO_MIGRATE": False, "PUBLIC_BASE_URL": "https://scan.example.vn",
        "RATELIMIT_ENABLED": False, "SECRET_KEY": secrets.token_hex(16),
        "SERIAL_KEY": "bench-serial-key-" + "y" * 16, "PIN_KEY": secrets.token_hex(16),
        "EPCIS_PUSH_THREAD": False, "SCAN_GROUP_COMMIT": False,
    })


def _record(app, principal, location_id, gtin, prefix, n) -> list[float]:
    times = []
    with app.app_context(), session_scope(app) as session:
        for i in range(n):
            started = time.perf_counter()
            events.record(session, principal, "harvest", {
                "location_id": location_id, "gtin": gtin, "lot": f"{prefix}{i}",
                "quantity": 100, "unit": "KGM", "country_of_origin": "VN",
                "event_time": dt.datetime(2026, 8, 1, 8, tzinfo=dt.UTC)})
            times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    schema = None
    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    if args.database_url and args.database_url.startswith("postgresql"):
        schema = "authority_bench_" + uuid.uuid4().hex[:8]
    with_hook = _app(url, schema)
    migrations.upgrade(with_hook)
    without = _app(url, schema)
    without.extensions["scanapp.epcis.capture_hooks"] = [
        h for h in without.extensions["scanapp.epcis.capture_hooks"]
        if not isinstance(h, rules.QualityHook)]
    try:
        with with_hook.app_context(), session_scope(with_hook) as session:
            key, _raw = issue_key(session, "Bench Brand", Role.BRAND)
            principal = Principal(key.id, key.org_id, "Bench Brand", Role.BRAND)
            gtin = _check("0893000099001")
            session.add(Product(gtin=gtin, brand_org_id=key.org_id, name="Bench"))
            session.commit()
            farm = service.create_location(session, principal, {
                "gln": _check("893000099001"), "name": "Bench farm", "kind": "farm",
                "province": "33"})
            farm_id = farm.id
        _record(without, principal, farm_id, gtin, "W", 20)  # warm both paths
        _record(with_hook, principal, farm_id, gtin, "V", 20)
        plain = _record(without, principal, farm_id, gtin, "A", args.events)
        hooked = _record(with_hook, principal, farm_id, gtin, "B", args.events)
        with with_hook.app_context(), session_scope(with_hook) as session:
            started = time.perf_counter()
            found = rules.run(session, None)
            nightly = time.perf_counter() - started
            session.rollback()
        p50a, p50b = statistics.median(plain), statistics.median(hooked)
        print(f"database: {get_engine(with_hook).dialect.name}, events per arm: {args.events}")
        print("| path | p50 ms/event | mean ms/event |")
        print("| --- | ---: | ---: |")
        print(f"| record harvest, trace hook only | {p50a * 1000:.2f} | "
              f"{statistics.fmean(plain) * 1000:.2f} |")
        print(f"| record harvest, + authority quality hook | {p50b * 1000:.2f} | "
              f"{statistics.fmean(hooked) * 1000:.2f} |")
        print(f"ratio (p50 with / without): {p50b / p50a:.2f}")
        print(f"nightly check over {2 * args.events + 40} lots: {nightly * 1000:.0f} ms, "
              f"{len(found)} findings")
    finally:
        for application in (with_hook, without):
            get_engine(application).dispose()
        if schema:
            engine = sa.create_engine(args.database_url)
            with engine.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            engine.dispose()
        tmp.cleanup()


if __name__ == "__main__":
    main()
