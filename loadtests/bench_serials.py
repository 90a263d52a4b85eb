"""Serial benchmark: ``python -m loadtests.bench_serials`` (on a throw-away SQLite file, or
``SCANAPP_DATABASE_URL`` when set).

Prints, in one run: the time to issue one range of 1,000,000 codes (goal < 1 s), the CSV
streaming rate (goal >= 200,000 codes/s) and the QR SVG rendering rate on one core (goal
>= 1,000/s), each with its ratio to the goal. The CSV is generated exactly as the download
endpoint generates it (same generator), minus the HTTP transport.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from collections.abc import Callable

from flask import Flask
from sqlalchemy import select

GOAL_ISSUE_SECONDS = 1.0
GOAL_CSV_RATE = 200_000
GOAL_QR_RATE = 1_000
BENCH_GTIN = "08930000000019"


def _bench_principal(app: Flask):
    from scanapp.auth import service as auth_service
    from scanapp.auth.models import Role
    from scanapp.auth.service import Principal
    from scanapp.db import session_scope
    from scanapp.products.models import Product

    with session_scope(app) as session:
        key, _raw = auth_service.issue_key(session, "Benchmark Brand", Role.BRAND, "bench")
        product = session.scalar(select(Product).where(Product.gtin == BENCH_GTIN))
        if product is None:
            session.add(Product(gtin=BENCH_GTIN, brand_org_id=key.org_id,
                                name="Benchmark product", market_regions=["01"]))
            session.commit()
        return Principal(key_id=key.id, org_id=key.org_id, org_name="Benchmark Brand",
                         role=Role.BRAND)


def _segno_svg(uri: str) -> bytes:
    import io

    import segno

    from scanapp.serials.stamps import qr_text

    out = io.BytesIO()
    segno.make(qr_text(uri), error="m", micro=False).save(out, kind="svg", scale=4)
    return out.getvalue()


def _rate(render: Callable[[str], bytes], uris: list[str]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for uri in uris:
        render(uri)
    return len(uris) / (time.perf_counter() - wall), len(uris) / (time.process_time() - cpu)


def run(quantity: int = 1_000_000, qr_count: int = 2000, app: Flask | None = None,
        echo: Callable[[str], None] = print) -> dict:
    from flask import current_app

    from scanapp.db import session_scope
    from scanapp.serials import downloads, qr
    from scanapp.serials.service import issue_range
    from scanapp.serials.stamps import stamp_uri
    from scanapp.services import services

    app = app or current_app._get_current_object()
    results: dict = {}
    with app.app_context():
        principal = _bench_principal(app)
        services(app).codec.active_key_id()  # key creation is a one-off, not part of issuing

        with session_scope(app) as session:
            started = time.perf_counter()
            issued, _created = issue_range(session, principal, {
                "gtin": BENCH_GTIN, "quantity": quantity, "lot": "BENCH1", "pin": False})
            results["issue_seconds"] = time.perf_counter() - started
            target = issued

        wall, cpu = time.perf_counter(), time.process_time()
        size = 0
        for chunk in downloads.chunks(target, "csv", app=app):
            size += len(chunk)
        results["csv_rate"] = quantity / (time.perf_counter() - wall)
        results["csv_cpu_rate"] = quantity / (time.process_time() - cpu)
        results["csv_mb"] = size / 1e6

        encoder = services(app).codec.range_encoder(target.gtin, target.lot, target.key_id)
        base = app.config["PUBLIC_BASE_URL"]
        uris = [stamp_uri(base, target.gtin, serial, target.lot)
                for _seq, serial in encoder.serials(target.start_seq,
                                                    target.start_seq + qr_count)]
        results["qr_rate"], results["qr_cpu_rate"] = _rate(qr.svg, uris)
        results["segno_rate"], results["segno_cpu_rate"] = _rate(_segno_svg, uris)
        sample = qr.make_qr(uris[0])
        results["qr_version"] = f"{sample.designator}, {sample.mode} mode"

    issue_ms = results["issue_seconds"] * 1000
    echo(f"issue one range of {quantity:,} codes: {issue_ms:.1f} ms "
         f"(goal < {GOAL_ISSUE_SECONDS * 1000:.0f} ms: "
         f"{GOAL_ISSUE_SECONDS / results['issue_seconds']:.1f}x faster than needed)")
    echo(f"CSV streaming: {results['csv_rate']:,.0f} codes/s wall clock, "
         f"{results['csv_cpu_rate']:,.0f} codes/s of CPU time, {results['csv_mb']:.0f} MB "
         f"(goal >= {GOAL_CSV_RATE:,}/s: {results['csv_rate'] / GOAL_CSV_RATE:.2f}x wall, "
         f"{results['csv_cpu_rate'] / GOAL_CSV_RATE:.2f}x CPU)")
    for label, key in (("zxing-cpp (used)", "qr_rate"), ("segno", "segno_rate")):
        echo(f"QR SVG rendering, {label}: {results[key]:,.0f} stamps/s wall clock, "
             f"{results[key.replace('rate', 'cpu_rate')]:,.0f}/s of CPU time "
             f"(goal >= {GOAL_QR_RATE:,}/s: {results[key] / GOAL_QR_RATE:.2f}x wall)")
    echo(f"typical stamp ({uris[0]}): QR {results['qr_version']} (segno)")
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        echo(f"note: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; the "
             "wall-clock figures are shared with other work, CPU-time figures less so")
    return results


def main() -> None:
    from scanapp import create_app

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({
            "DATABASE_URL": os.environ.get("SCANAPP_DATABASE_URL",
                                           f"sqlite:///{tmp}/bench.db"),
            "SERIAL_KEY": secrets.token_urlsafe(32), "PIN_KEY": secrets.token_urlsafe(32),
            "SECRET_KEY": secrets.token_urlsafe(32), "AUTO_MIGRATE": True,
            "PUBLIC_BASE_URL": os.environ.get("SCANAPP_PUBLIC_BASE_URL",
                                              "https://scan.example.vn")})
        try:
            run(app=app)
        finally:
            from scanapp.db import get_engine

            get_engine(app).dispose()


if __name__ == "__main__":
    main()
