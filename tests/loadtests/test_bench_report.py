"""The benchmark driver's bookkeeping: profile attribution, Redis deltas, the printed table.

The measuring itself needs wrk, a Redis server and PostgreSQL and runs as
``python -m loadtests.bench`` (docs/PERFORMANCE.md); these tests pin down how its numbers
are derived, so a figure in the docs means what the docs say it means.
"""

from __future__ import annotations

from loadtests import bench


def test_profile_samples_count_for_the_first_matching_step(tmp_path):
    raw = tmp_path / "profile.txt"
    raw.write_text(
        "run (gunicorn/workers/gthread.py:1);Flask.wsgi_app (flask/app.py:2);"
        "Limiter._check_request_limit (flask_limiter/_extension.py:3) 30\n"
        "run (gunicorn/workers/gthread.py:1);Flask.wsgi_app (flask/app.py:2);"
        "verify_scan (scanapp/scan/service.py:4);"
        "RedisScanStateStore._call (scanapp/scan/redis_store.py:5) 50\n"
        "_run (threading.py:6);GroupCommitSink._run (scanapp/scan/sink.py:7) 20\n")
    steps = dict(bench.profile_steps(raw))
    assert steps == {"Redis state script call": 50.0,
                     "rate limiter (Flask-Limiter checks and headers)": 30.0,
                     "group commit thread (INSERT ... RETURNING, COMMIT)": 20.0}
    summary = bench.summarise_profile(raw)
    assert summary["samples"] == 100
    inclusive = dict(summary["inclusive"])
    assert inclusive["Flask.wsgi_app (flask/app.py)"] == 80.0  # line numbers folded away


def test_redis_delta_is_per_request_and_ignores_unchanged_commands():
    before = {"total_commands_processed": 100, "total_reads_processed": 50,
              "total_net_input_bytes": 0, "commands": {"evalsha": 10, "get": 5}}
    after = {"total_commands_processed": 900, "total_reads_processed": 450,
             "total_net_input_bytes": 4000, "commands": {"evalsha": 410, "get": 5, "hset": 200}}
    per = bench.redis_delta(before, after, 200)
    assert per["total_reads_processed"] == 2.0
    assert per["commands"] == {"evalsha": 2.0, "hset": 1.0}


def _row(label, rps, cpu):
    return {"label": label, "rps": rps, "p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0,
            "errors": 0, "app_cpu_ms": cpu, "redis_cpu_ms": 0.1}


def test_markdown_table_states_the_ratios_against_their_goals():
    results = {
        "started": "2026-01-01T00:00:00+00:00", "machine": "2 CPUs",
        "gunicorn": "gunicorn -c gunicorn.conf.py ", "codes_issued": 10_000_000,
        "wrk": {"threads": 2, "connections": 32, "seconds": 12},
        "baseline": _row("baseline GET /healthz", 2000.0, 0.5),
        "scan": _row("scan POST /api/v1/scans", 1100.0, 0.9),
        "ratio_scan_baseline": 0.55,
        "half": {"offered_rps": 550.0, "achieved_rps": 549.0, "p50_ms": 4.0, "p95_ms": 9.0,
                 "p99_ms": 20.0, "non_2xx": 0, "socket_errors": 0, "timeouts": 1},
        "scale": {"small_codes": 10_000, "large_codes": 10_000_000, "small_rps": 1000.0,
                  "large_rps": 990.0, "ratio": 0.99, "small": {"app_cpu_ms": 1.25},
                  "large": {"app_cpu_ms": 1.30}},
        "redis_per_scan": {"total_reads_processed": 1.0, "commands": {"evalsha": 1.0}},
    }
    table = bench.markdown(results)
    assert "| scan / baseline throughput | 0.55 | >= 0.5 |" in table
    assert "| p99 at half saturation | 20.0 ms | <= 25 ms |" in table
    assert "0.99 (990 / 1000 req/s)" in table
    assert "| 1.04 (1.30 / 1.25 ms) | ~1.0 |" in table
    assert "| errors (all runs above) | 1 | 0 |" in table  # the half-saturation timeout
    assert "| Redis round trips per scan | 1.00 (evalsha 1.00) | 1 |" in table
