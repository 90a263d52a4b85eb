"""What the code summaries add to the group commit: batches of scan rows inserted and
committed the way ``GroupCommitSink`` does, with and without folding them into
``scan_code_summaries``, alternated in one run (the machine's noise hits both alike).

    nice -n 10 env PYTHONPATH=$PWD /work/venv/bin/python loadtests/summary_cost.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test [--batch 100]

Private schema ``summary_cost`` (dropped at the end). Reports the committer's wall time and
the process CPU per scan row for both, and PostgreSQL's CPU per row read from
``/proc/<backend pid>/stat`` (same machine).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
import uuid

import sqlalchemy as sa

from scanapp import create_app
from scanapp import migrations as scanapp_migrations
from scanapp.db import get_engine
from scanapp.scan import sink as sink_module
from scanapp.scan import summary

SCHEMA = "summary_cost"


def backend_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rows(n: int) -> list[dict]:
    now = dt.datetime.now(dt.UTC)
    out = []
    for _i in range(n):
        serial = "0" + uuid.uuid4().hex[:19].upper()
        out.append({"scanned_at": now, "serial": serial, "gtin": "08934567890120",
                    "lot": None, "range_id": 1, "verdict": "authentic", "reasons": [],
                    "risk": 0, "scan_no": 1, "province": "01", "lat": 21.0, "lon": 105.8,
                    "accuracy_m": 20.0, "cell": None, "device_hash": uuid.uuid4().hex,
                    "client_hash": uuid.uuid4().hex, "source": "consumer", "degraded": False})
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--database-url", required=True)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--batches", type=int, default=10)
    args = p.parse_args()
    admin = sa.create_engine(args.database_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"'))
    app = create_app({"ENV": "testing", "TESTING": True, "DATABASE_URL": args.database_url,
                      "DATABASE_SCHEMA": SCHEMA, "AUTO_MIGRATE": False,
                      "PUBLIC_BASE_URL": "https://scan.example.vn",
                      "SECRET_KEY": "x" * 32, "SERIAL_KEY": "y" * 32, "PIN_KEY": "z" * 32})
    try:
        scanapp_migrations.upgrade(app)
        engine = get_engine(app)
        committer = sink_module.GroupCommitSink(engine)
        pid = committer._connection().connection.dbapi_connection.info.backend_pid
        fold = summary.apply_scans
        totals = {"with": [0.0, 0.0, 0.0], "without": [0.0, 0.0, 0.0]}
        n_rows = 0
        previous: list[dict] = []
        for _round in range(args.rounds):
            for mode in ("with", "without"):
                sink_module.summary.apply_scans = fold if mode == "with" else (
                    lambda conn, rows: None)
                for _ in range(args.batches):
                    batch = rows(args.batch)
                    # Half the batch scans codes of the previous batch again (a summary to
                    # update, not to create).
                    for row, old in zip(batch[: args.batch // 2], previous, strict=False):
                        row["serial"] = old["serial"]
                    previous = batch[args.batch // 2:]
                    cpu0, pg0, t0 = time.process_time(), backend_cpu_s(pid), time.perf_counter()
                    committer._insert(batch)
                    totals[mode][0] += time.perf_counter() - t0
                    totals[mode][1] += time.process_time() - cpu0
                    totals[mode][2] += backend_cpu_s(pid) - pg0
            n_rows += args.batches * args.batch
        sink_module.summary.apply_scans = fold
        result = {mode: {"commit_wall_ms_per_scan": round(v[0] * 1000 / n_rows, 3),
                         "app_cpu_ms_per_scan": round(v[1] * 1000 / n_rows, 3),
                         "postgres_cpu_ms_per_scan": round(v[2] * 1000 / n_rows, 3)}
                  for mode, v in totals.items()}
        result["rows_per_mode"] = n_rows
        result["batch"] = args.batch
        print(json.dumps(result, indent=2))
        committer._drop_connection()
        engine.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
