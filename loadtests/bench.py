"""The benchmark driver: how fast is the scan path next to what Flask + gunicorn allow?

One command, one machine, one run (docs/PERFORMANCE.md explains the method and the figures)::

    .venv/bin/python -m loadtests.bench

It creates a PostgreSQL schema of its own (``--database-url``) and starts a private Redis
on a loopback port (or uses ``--redis-url`` with a key prefix of its own), runs the
migrations, creates keys with ``flask keys create``, starts scanapp under gunicorn with
gunicorn.conf.py in production mode (generated secrets, PostgreSQL + Redis) on
127.0.0.1:``--port``, and seeds through the HTTP API: a brand, a product, ranges of codes
issued, printed and activated (10 thousand, then 10 million in total), stamp URIs
downloaded from ``codes.txt``. Then it measures, all on loopback and bounded in time:

1. the do-nothing baseline (``GET /healthz``) and the scan endpoint (``POST /api/v1/scans``,
   a mix of first scans, repeats and forgeries: loadtests/traffic.py) with wrk, same
   gunicorn, same wrk script (loadtests/wrk_rotate.lua), same connections and duration;
2. the scan latency at half the saturated rate with a fixed-rate generator
   (loadtests/rategen.py), and a sweep of offered loads, plotted to docs/img/latency.png;
3. the scan throughput with 10 thousand codes issued and with 10 million;
4. Redis commands and round trips per scan (INFO deltas on the private Redis);
5. optionally a py-spy profile of one worker under load and a worker-model comparison.

It prints a Markdown table for docs/PERFORMANCE.md, writes the full results as JSON under
loadtests/results/ (gitignored), and removes the schema, the keys and the Redis it made.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import redis

from . import rategen, stack, traffic

ROOT = stack.ROOT
RESULTS = ROOT / "loadtests" / "results"
PLOT = ROOT / "docs" / "img" / "latency.png"
GTIN = "08934567000017"  # GS1 Vietnam prefix 893, valid check digit
SCAN_PATH = "/api/v1/scans"
BASELINE_PATH = "/healthz"


def log(msg: str) -> None:
    print(f"[bench {dt.datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- wrk runs
@dataclass
class WrkResult:
    label: str
    rps: float
    requests: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int
    socket_errors: int
    wrapped: bool
    seconds: float
    connections: int
    app_cpu_ms: float | None = None  # gunicorn CPU per request (master + workers)
    redis_cpu_ms: float | None = None  # private Redis CPU per request
    pg_cpu_ms: float | None = None  # every PostgreSQL process on the machine, per request
    generator_cpu_ms: float | None = None  # wrk, per request
    machine_cpu_ms: float | None = None  # all cores, every process, per request
    pg_commits: float | None = None  # PostgreSQL transactions committed, per request
    codes_loaded: float | None = None  # codes loaded from their summary row, per request

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


def run_wrk(label: str, base: str, path: str, seconds: float, connections: int, threads: int,
            bodies: list[bytes] | None = None) -> WrkResult:
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{int(seconds)}s", "--timeout", "5s",
            "-s", str(ROOT / "loadtests" / "wrk_rotate.lua"), base, "--", path, str(threads)]
    body_file = None
    if bodies is not None:
        body_file = tempfile.NamedTemporaryFile("wb", suffix=".bodies", delete=False)
        body_file.write(b"\n".join(bodies) + b"\n")
        body_file.close()
        args.append(body_file.name)
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60).stdout
    finally:
        if body_file is not None:
            os.unlink(body_file.name)
    match = re.search(r"^WRKJSON (.*)$", out, re.M)
    if not match:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    raw = json.loads(match.group(1))
    secs = raw["duration_us"] / 1e6
    result = WrkResult(
        label=label, rps=raw["requests"] / secs, requests=raw["requests"],
        p50_ms=raw["p50_us"] / 1000, p95_ms=raw["p95_us"] / 1000, p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000, non_2xx=raw["non_2xx_3xx"],
        socket_errors=raw["connect_errors"] + raw["read_errors"] + raw["write_errors"]
        + raw["timeouts"], wrapped=bool(raw["wrapped"]), seconds=secs, connections=connections)
    log(f"{label}: {result.rps:.0f} req/s, p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, "
        f"errors {result.errors}" + (" (bodies wrapped!)" if result.wrapped else ""))
    return result


# --------------------------------------------------------------------------- seeding
class Seeder:
    """Seeds through the public API, as a brand would."""

    def __init__(self, base: str, brand_key: str, range_size: int):
        self.base, self.key, self.range_size = base, brand_key, range_size
        self.ranges: list[int] = []
        self.issued = 0

    def product(self) -> None:
        stack.http_json("POST", self.base + "/api/v1/products", self.key, {
            "gtin": GTIN, "name": "Nước mắm benchmark 500ml"})  # sold nationwide

    def issue_until(self, total: int) -> float:
        """Issue, print and activate ranges until ``total`` codes exist; returns seconds."""
        t0 = time.perf_counter()
        while self.issued < total:
            quantity = min(self.range_size, total - self.issued)
            made = stack.http_json("POST", self.base + "/api/v1/ranges", self.key,
                                   {"gtin": GTIN, "quantity": quantity})
            range_id = made["id"]
            stack.http_json("POST", f"{self.base}/api/v1/ranges/{range_id}/print", self.key, {})
            stack.http_json("POST", f"{self.base}/api/v1/ranges/{range_id}/activate",
                            self.key, {})
            self.ranges.append(range_id)
            self.issued += quantity
        # Every worker's range index refreshes at least once a second: let them all see
        # the activation, or the first scans would meet a stale "printed" status.
        time.sleep(2.5)
        return time.perf_counter() - t0

    def codes(self, range_id: int, limit: int) -> list[str]:
        return stack.http_lines(f"{self.base}/api/v1/ranges/{range_id}/codes.txt", self.key,
                                limit)


# --------------------------------------------------------------------------- Redis counting
COUNTED = ("total_commands_processed", "total_reads_processed", "total_net_input_bytes")


def redis_counters(client: redis.Redis) -> dict:
    stats = client.info("stats")
    out = {k: int(stats.get(k, 0)) for k in COUNTED}
    out["commands"] = {name.removeprefix("cmdstat_"): int(v["calls"])
                       for name, v in client.info("commandstats").items()}
    return out


def redis_delta(before: dict, after: dict, n: int) -> dict:
    per = {k: (after[k] - before[k]) / n for k in COUNTED}
    per["commands"] = {name: (calls - before["commands"].get(name, 0)) / n
                       for name, calls in after["commands"].items()
                       if calls != before["commands"].get(name, 0)
                       and name not in ("info",)}
    return per


def count_round_trips(client: redis.Redis, url: str, n: int, bodies: list[bytes] | None) -> dict:
    """Redis traffic per request over ``n`` requests sent one at a time (nothing overlaps).

    ``total_reads_processed`` counts the read events Redis served: a pipeline or a script
    call is one read, so read events per scan is the number of round trips. Our own two
    INFO calls are subtracted.
    """
    before = redis_counters(client)
    result = rategen.run_fixed_rate(url, rate=50, duration=n / 50, bodies=bodies, connections=1)
    time.sleep(0.3)
    after = redis_counters(client)
    per = redis_delta(before, after, n)
    # The two INFO commands of the "after" snapshot were counted by Redis.
    per["total_commands_processed"] -= 2 / n
    per["total_reads_processed"] -= 2 / n
    per["ok"] = result.ok
    return per


# --------------------------------------------------------------------------- profiling
def start_profiler(pid: int, seconds: int, out_dir: Path,
                   gil: bool) -> tuple[subprocess.Popen, Path]:
    """py-spy on one worker, collapsed stacks (``--format raw``) for summarising.

    With ``gil`` only the thread holding the GIL is sampled: where the worker's CPU goes.
    Without, every thread that is not idle: that includes threads blocked reading a socket
    (Redis, PostgreSQL), so it shows where requests *wait*.
    """
    raw = out_dir / f"profile-{pid}{'-gil' if gil else ''}.txt"
    proc = subprocess.Popen([stack._bin("py-spy"), "record", "--pid", str(pid), "--duration",
                             str(seconds), "--rate", "250", "--format", "raw", "-o", str(raw),
                             "--nonblocking", *(["--gil"] if gil else [])],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return proc, raw


# Where a scan's CPU goes, by step of the scan path: a sample counts for the first entry
# whose marker appears anywhere in its stack (so the order matters: specific before general).
PROFILE_STEPS = (
    ("group commit thread (INSERT ... RETURNING, COMMIT)", "GroupCommitSink."),
    ("rate limiter (Flask-Limiter checks and headers)", "flask_limiter"),
    ("fraud flags (batched, after the answer)", "on_scans_recorded"),
    ("Redis state script call", "RedisScanStateStore"),
    ("identify: tag check, range index, product cache", "identify (scanapp"),
    ("parse the stamp URI", "parse_scanned"),
    ("place: hashes, province lookup", "_place (scanapp"),
    ("forged code: record", "_record_counterfeit"),
    ("fraud rules", "assess (scanapp"),
    ("rest of verify_scan", "verify_scan"),
    ("request parsing (webargs/marshmallow)", "Parser.parse"),
    ("response (flask-smorest dump, JSON)", "ResponseMixin"),
    ("rest of Flask (routing, context, hooks)", "Flask.wsgi_app"),
    ("gunicorn HTTP handling", "gunicorn/"),
)


def profile_steps(raw: Path) -> list[tuple[str, float]]:
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack_part, _, count = line.rpartition(" ")
        if not stack_part:
            continue
        total += int(count)
        step = next((name for name, marker in PROFILE_STEPS if marker in stack_part), "other")
        counts[step] += int(count)
    return [(name, round(100.0 * n / total, 1)) for name, n in counts.most_common()]


def summarise_profile(raw: Path, top: int = 25) -> dict:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack_part, _, count = line.rpartition(" ")
        if not stack_part:
            continue
        n = int(count)
        frames = [re.sub(r":\d+\)?$", ")", f).strip() for f in stack_part.split(";")]
        frames = [f for f in frames if f]
        total += n
        for frame in set(frames):
            inclusive[frame] += n
        if frames:
            own[frames[-1]] += n

    def pct(counter):
        return [(name, round(100.0 * c / total, 1)) for name, c in counter.most_common(top)]

    return {"samples": total, "inclusive": pct(inclusive), "own": pct(own),
            "steps": profile_steps(raw)}


# --------------------------------------------------------------------------- plot
def plot(sweep: list[dict], saturated: float, baseline: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    xs = [p["offered_rps"] for p in sweep]
    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=90)
    for key, label, style in (("p50_ms", "p50", "o-"), ("p95_ms", "p95", "s-"),
                              ("p99_ms", "p99", "^-")):
        ax.plot(xs, [p[key] for p in sweep], style, label=label, markersize=4)
    ax.axvline(saturated, color="grey", linestyle="--", linewidth=1,
               label=f"scan saturated, wrk ({saturated:.0f}/s)")
    ax.axvline(saturated / 2, color="grey", linestyle=":", linewidth=1, label="half of that")
    ax.axhline(25, color="red", linestyle=":", linewidth=1, label="25 ms p99 goal")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("offered load, scans/s (fixed-rate generator)")
    ax.set_ylabel("latency, ms (from intended send time)")
    ax.set_title(f"POST /api/v1/scans latency vs offered load (baseline {baseline:.0f} req/s)",
                 fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


# --------------------------------------------------------------------------- report
def interleave_markdown(runs: dict) -> str:
    """The --interleave table: per configuration, the median pair and every round."""
    lines = ["| configuration | scan/baseline, median pair | ... each round | baseline req/s "
             "(median pair) | scans/s (median pair) | p99 at half saturation, each round (ms) "
             "| scan app CPU ms/req (median pair) | errors |",
             "| --- | ---: | --- | ---: | ---: | --- | ---: | ---: |"]
    for label, rounds in runs.items():
        if not rounds:
            continue
        median = sorted(rounds, key=lambda r: r["ratio"])[len(rounds) // 2]
        cpu = median["scan"].get("app_cpu_ms")
        lines.append(
            f"| {label} | **{median['ratio']:.2f}** | "
            + ", ".join(f"{r['ratio']:.2f}" for r in rounds)
            + f" | {median['baseline']['rps']:.0f} | {median['scan']['rps']:.0f} | "
            + ", ".join(f"{r['half']['p99_ms']:.1f}" for r in rounds)
            + f" | {'' if cpu is None else f'{cpu:.2f}'} | "
            f"{sum(r['errors'] for r in rounds)} |")
    return "\n".join(lines)


def markdown(results: dict) -> str:
    r = results
    base, scan = r["baseline"], r["scan"]
    lines = [
        f"Run {r['started']} on {r['machine']}; gunicorn `{r['gunicorn']}`; wrk "
        f"{r['wrk']['threads']} threads, {r['wrk']['connections']} connections, "
        f"{r['wrk']['seconds']} s per run; {r['codes_issued']:,} codes issued.",
        "",
        "| measurement | req/s | p50 ms | p95 ms | p99 ms | errors | CPU ms/req: app "
        "| Redis | PostgreSQL | wrk | whole machine |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def cpu(value):
        return "" if value is None else f"{value:.2f}"

    for row in (base, scan):
        lines.append(f"| {row['label']} | {row['rps']:.0f} | {row['p50_ms']:.1f} | "
                     f"{row['p95_ms']:.1f} | {row['p99_ms']:.1f} | {row['errors']} | "
                     f"{cpu(row['app_cpu_ms'])} | {cpu(row['redis_cpu_ms'])} | "
                     f"{cpu(row.get('pg_cpu_ms'))} | {cpu(row.get('generator_cpu_ms'))} | "
                     f"{cpu(row.get('machine_cpu_ms'))} |")
    half = r.get("half")
    if half:
        lines.append(f"| scan at half saturation ({half['offered_rps']:.0f}/s offered, fixed "
                     f"rate) | {half['achieved_rps']:.0f} | {half['p50_ms']:.1f} | "
                     f"{half['p95_ms']:.1f} | {half['p99_ms']:.1f} | "
                     f"{half['non_2xx'] + half['socket_errors'] + half['timeouts']} "
                     "| | | | | |")
    lines += ["", "| ratio | value | goal |", "| --- | ---: | --- |",
              f"| scan / baseline throughput | {r['ratio_scan_baseline']:.2f} | >= 0.5 |"]
    if len(r.get("pairs", [])) > 1:
        each = ", ".join(f"{pair['ratio']:.2f}" for pair in r["pairs"])
        lines.append(f"| ... in each alternating pair (the median is above) | {each} | |")
    if base.get("app_cpu_ms") and scan.get("app_cpu_ms"):
        cpu_ratio = base["app_cpu_ms"] / scan["app_cpu_ms"]
        lines.append("| baseline / scan app CPU per request (the throughput ratio when the "
                     f"app's CPU is the limit) | {cpu_ratio:.2f} | >= 0.5 |")
    if base.get("machine_cpu_ms") and scan.get("machine_cpu_ms"):
        lines.append("| baseline / scan whole-machine CPU per request (the throughput ratio "
                     "when the cores are the limit) | "
                     f"{base['machine_cpu_ms'] / scan['machine_cpu_ms']:.2f} | >= 0.5 |")
    if half:
        lines.append(f"| p99 at half saturation | {half['p99_ms']:.1f} ms | <= 25 ms |")
    if r.get("scale"):
        s = r["scale"]
        lines.append(f"| scan throughput, {s['large_codes']:,} / {s['small_codes']:,} codes "
                     f"issued | {s['ratio']:.2f} ({s['large_rps']:.0f} / {s['small_rps']:.0f} "
                     "req/s) | ~1.0 |")
        small_cpu = s.get("small", {}).get("app_cpu_ms")
        large_cpu = s.get("large", {}).get("app_cpu_ms")
        if small_cpu and large_cpu:
            lines.append(f"| app CPU per scan, {s['large_codes']:,} / {s['small_codes']:,} "
                         f"codes issued | {large_cpu / small_cpu:.2f} ({large_cpu:.2f} / "
                         f"{small_cpu:.2f} ms) | ~1.0 |")
    if r.get("scan_events"):
        stored = ", ".join(f"{k} {v:,}" for k, v in r["scan_events"].items())
        lines.append(f"| scan events stored (by verdict) | {stored} | all durable |")
    total_errors = base["errors"] + scan["errors"] + (
        half["non_2xx"] + half["socket_errors"] + half["timeouts"] if half else 0)
    lines.append(f"| errors (all runs above) | {total_errors} | 0 |")
    rt = r.get("redis_per_scan")
    if rt:
        cmds = ", ".join(f"{k} {v:.2f}" for k, v in sorted(rt["commands"].items()))
        lines.append(f"| Redis round trips per scan | {rt['total_reads_processed']:.2f} "
                     f"({cmds}) | 1 |")
    if r.get("workers"):
        lines += ["", "| gunicorn | baseline req/s | scan req/s | ratio | scan p99 ms "
                  "| scan app CPU ms/req | errors |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for w in r["workers"]:
            lines.append(f"| `{w['args']}` | {w['baseline_rps']:.0f} | {w['scan_rps']:.0f} | "
                         f"{w['ratio']:.2f} | {w['scan_p99_ms']:.1f} | "
                         f"{cpu(w.get('scan_cpu_ms'))} | {w['errors']} |")
    if r.get("profile", {}).get("steps"):
        p = r["profile"]
        lines += ["", f"| scan path step (py-spy {p.get('mode')}, {p['samples']} samples) "
                  "| share of worker samples |", "| --- | ---: |"]
        lines += [f"| {name} | {share:.1f} % |" for name, share in p["steps"]]
    if r.get("sweep"):
        lines += ["", "| offered scans/s | achieved | p50 ms | p95 ms | p99 ms | errors |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: |"]
        for p in r["sweep"]:
            lines.append(f"| {p['offered_rps']:.0f} | {p['achieved_rps']:.0f} | "
                         f"{p['p50_ms']:.1f} | {p['p95_ms']:.1f} | {p['p99_ms']:.1f} | "
                         f"{p['non_2xx'] + p['socket_errors'] + p['timeouts']} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- the run
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="scanapp scan-path benchmark (see module doc)")
    p.add_argument("--port", type=int, default=5510, help="gunicorn port (loopback)")
    p.add_argument("--redis-port", type=int, default=5579, help="private Redis port")
    p.add_argument("--redis-url", help="use this Redis (own key prefix) instead of a private one")
    p.add_argument("--database-url", default=os.environ.get(
        "SCANAPP_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    p.add_argument("--codes", type=int, default=10_000_000, help="codes issued in the large run")
    p.add_argument("--small-codes", type=int, default=10_000, help="codes issued first")
    p.add_argument("--range-size", type=int, default=1_000_000, help="codes per range")
    p.add_argument("--seconds", type=int, default=12, help="wrk run length")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--wrk-threads", type=int, default=2)
    p.add_argument("--half-seconds", type=float, default=15.0)
    p.add_argument("--sweep", default="0.2,0.4,0.5,0.6,0.7,0.8,0.9,1.0",
                   help="offered loads as fractions of the saturated scan rate")
    p.add_argument("--sweep-seconds", type=float, default=6.0)
    p.add_argument("--rate-connections", type=int, default=64,
                   help="connections of the fixed-rate generator")
    p.add_argument("--gunicorn-args", default="",
                   help="extra gunicorn flags for the main run, e.g. '-w 2 --threads 8'")
    p.add_argument("--pairs", type=int, default=3,
                   help="baseline/scan saturation pairs, alternating; the median pair counts")
    p.add_argument("--compare-workers", default="",
                   help="';'-separated gunicorn flag sets to compare, e.g. "
                        "'-k sync -w 4;-k gthread -w 2 --threads 8'")
    p.add_argument("--interleave", default="",
                   help="';'-separated LABEL=gunicorn flags: instead of the single-server "
                        "measurements, ROUNDS rounds that each start every configuration "
                        "fresh in turn (warm-up, one baseline/scan pair, one half-saturation "
                        "run), so a loaded machine weighs on all of them alike; e.g. "
                        "'main gthread=-k gthread --chdir ../main;lean gevent=-k gevent'")
    p.add_argument("--rounds", type=int, default=5, help="rounds of --interleave")
    p.add_argument("--profile", type=int, default=0, metavar="SECONDS",
                   help="py-spy one worker for this long under saturating scan load")
    p.add_argument("--profile-gil", action="store_true",
                   help="sample only the thread holding the GIL (CPU) instead of all busy ones")
    p.add_argument("--skip-scale", action="store_true", help="skip the 10k vs 10M comparison")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                   help="extra environment for scanapp, for experiments "
                        "(e.g. SCANAPP_RATELIMIT_ENABLED=0); reported in the results")
    p.add_argument("--round-trip-scans", type=int, default=400)
    p.add_argument("--no-plot", action="store_true")
    return p.parse_args(argv)


SCALE_SECONDS = 3

# Printed into the stamps: production refuses a loopback or plain-http base URL, and a scan
# is answered by path whatever host its URI names, so the server is still reached on loopback.
STAMP_HOST = "https://scan.example.vn"


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.run_id = secrets.token_hex(3)
        self.results: dict = {"started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                              "machine": f"{os.cpu_count()} CPUs", "argv": sys.argv[1:]}
        self.schema = stack.Schema(args.database_url, f"bench_{self.run_id}")
        self.private_redis = None if args.redis_url else stack.PrivateRedis(args.redis_port)
        self.prefix = f"bench-{self.run_id}"
        self.server: stack.Gunicorn | None = None
        self.base = f"http://127.0.0.1:{args.port}"

    # -- lifecycle
    def setup(self) -> None:
        log(f"schema {self.schema.name}, Redis prefix {self.prefix}")
        self.schema.create()
        if self.private_redis:
            self.private_redis.start()
            redis_url = self.private_redis.url
        else:
            redis_url = self.args.redis_url
        self.redis = redis.Redis.from_url(redis_url, socket_timeout=5)
        self.env = stack.production_env(self.args.database_url, self.schema.name, redis_url,
                                        self.prefix, STAMP_HOST)
        for item in self.args.env:
            name, _, value = item.partition("=")
            self.env[name] = value
        self.results["env_overrides"] = self.args.env
        log("migrating")
        stack.flask_cli(self.env, "db", "upgrade")
        self.brand_key = stack.create_key(self.env, "brand", "Bench Brand")

    def start_server(self, extra: str) -> None:
        self.stop_server()
        self.server = stack.Gunicorn(self.env, self.args.port, extra.split())
        self.server.start()
        self.results["gunicorn"] = "gunicorn -c gunicorn.conf.py " + extra

    def stop_server(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def cleanup(self) -> None:
        self.stop_server()
        try:
            self.schema.drop()
        except Exception as exc:  # report, keep cleaning
            log(f"could not drop schema {self.schema.name}: {exc}")
        if self.private_redis:
            self.redis.close()
            self.private_redis.stop()
        else:
            keys = list(self.redis.scan_iter(match=self.prefix + ":*", count=1000))
            for key in keys:
                self.redis.delete(key)
            self.redis.close()

    # -- measurements
    def wrk(self, label: str, path: str, bodies=None, seconds=None) -> WrkResult:
        """A wrk run, with the CPU the app and Redis spent per request during it.

        CPU per request does not depend on what else the machine is running, unlike
        requests per second: it tells our own cost apart from a busy neighbour's.
        """
        a = self.args
        assert self.server is not None
        loads0 = self.state_loads()  # before the CPU counters: the scrape is not the run's
        app_pids = self.server.pids()
        redis_pids = self.private_redis.pids() if self.private_redis else []
        pg_pids = stack.pids_named("postgres")
        app0, redis0 = stack.cpu_seconds(app_pids), stack.cpu_seconds(redis_pids)
        pg0, gen0 = stack.cpu_seconds(pg_pids), stack.children_cpu_seconds()
        machine0, commits0 = stack.machine_busy_seconds(), self.schema.commits()
        result = run_wrk(label, self.base, path, seconds or a.seconds, a.connections,
                         a.wrk_threads, bodies)
        if result.requests:
            per = 1000 / result.requests
            result.app_cpu_ms = per * (stack.cpu_seconds(app_pids) - app0)
            if redis_pids:
                result.redis_cpu_ms = per * (stack.cpu_seconds(redis_pids) - redis0)
            result.pg_cpu_ms = per * (stack.cpu_seconds(pg_pids) - pg0)
            result.generator_cpu_ms = per * (stack.children_cpu_seconds() - gen0)
            result.machine_cpu_ms = per * (stack.machine_busy_seconds() - machine0)
            result.pg_commits = (self.schema.commits() - commits0) / result.requests
            loads = self.state_loads()
            if loads0 is not None and loads is not None:
                result.codes_loaded = (loads - loads0) / result.requests
                log(f"  codes loaded from their summary per request: "
                    f"{result.codes_loaded:.3f}")
            log(f"  CPU per request: app {result.app_cpu_ms:.2f} ms"
                + (f", Redis {result.redis_cpu_ms:.3f} ms" if redis_pids else "")
                + f", PostgreSQL {result.pg_cpu_ms:.3f} ms, wrk {result.generator_cpu_ms:.3f}"
                f" ms, whole machine {result.machine_cpu_ms:.2f} ms; PostgreSQL commits per "
                f"request {result.pg_commits:.3f}")
        return result

    def state_loads(self) -> float | None:
        """Codes loaded into Redis from their summary row so far (the server's /metrics,
        ``scanapp_redis_bucket_rebuilds_total``, which every tree counts): one summary
        read each. None when the scrape fails."""
        import urllib.request

        try:
            with urllib.request.urlopen(self.base + "/metrics", timeout=5) as response:
                text = response.read().decode()
        except OSError:
            return None
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("scanapp_redis_bucket_rebuilds_total"))

    def scan_bodies_for(self, pool: traffic.CodePool, rps_guess: float, seconds: float):
        # wrk must never run out of distinct codes: size for well above the expected rate.
        n = min(pool.left, int(rps_guess * seconds * 1.5) + 1000)
        return traffic.scan_bodies(pool, n)

    def warm_up(self, pool: traffic.CodePool, max_seconds: float = 60.0) -> None:
        """Bring Redis to its steady state before measuring.

        The scan state lives in 1024 buckets, each reloaded from the database the first
        time a scan lands in it after a flush (here: after start). Production runs warm,
        so scan until every bucket is loaded (or ``max_seconds``), and report how long it
        took: that is the cold-start cost after a Redis flush.
        """
        self.wrk("warm-up baseline", BASELINE_PATH, seconds=3)
        try:
            from scanapp.scan.redis_store import BUCKETS, SENTINEL
        except ImportError:  # the scan store changed shape: fall back to a fixed warm-up
            BUCKETS, SENTINEL = 0, "ready"
        t0 = time.monotonic()
        bodies: list[bytes] = []
        while True:
            if pool.left >= 100:  # else replay the last bodies: repeats still warm buckets
                bodies = traffic.scan_bodies(pool, min(3000, pool.left))
            self.wrk("warm-up scan", SCAN_PATH, bodies, seconds=3)
            ready = sum(1 for _ in self.redis.scan_iter(match=f"{self.prefix}:*:{SENTINEL}",
                                                        count=5000))
            if ready >= BUCKETS or time.monotonic() - t0 > max_seconds:
                break
        self.results.setdefault("warm_up", []).append(
            {"seconds": round(time.monotonic() - t0, 1), "buckets_ready": ready,
             "buckets": BUCKETS})
        log(f"warm: {ready}/{BUCKETS} buckets loaded after {time.monotonic() - t0:.0f} s")

    def rebuild_filters(self) -> None:
        """Complete the Redis membership filters (docs/SCAN.md), as the worker process does
        in production: without it every first scan reads its summary row. A tree without
        the command (an older main under --interleave) is measured without filters."""
        try:
            out = stack.flask_cli(self.env, "scan", "rebuild-filters").strip()
        except RuntimeError as exc:
            out = f"not available ({str(exc).splitlines()[0]})"
        self.results["filters"] = out
        log(f"membership filters: {out}")

    def run(self) -> dict:
        a = self.args
        self.setup()
        self.start_server(a.gunicorn_args)
        seeder = Seeder(self.base, self.brand_key, a.range_size)
        seeder.product()
        res = self.results
        res["wrk"] = {"threads": a.wrk_threads, "connections": a.connections,
                      "seconds": a.seconds}
        res["mix"] = traffic.Mix().describe()

        scale = None
        if not a.skip_scale:
            secs = seeder.issue_until(a.small_codes)
            small_pool = traffic.CodePool(
                [c for rid in seeder.ranges for c in seeder.codes(rid, a.small_codes)])
            log(f"issued {seeder.issued:,} codes in {secs:.1f} s")
            # 6000 of the 10000 codes warm the buckets (6000 codes cover 99.7 % of 1024);
            # the other 4000 are the measured run, and the 10-million run gets as many.
            self.warm_up(traffic.CodePool(small_pool.take(a.small_codes * 6 // 10)))
            # 4000 fresh codes last ~3 s at this path's rate; longer and wrk would send
            # bodies again (repeat scans, a different mix from the 10-million run).
            small = self.wrk(f"scan, {seeder.issued:,} codes issued", SCAN_PATH,
                             traffic.scan_bodies(small_pool, small_pool.left),
                             seconds=SCALE_SECONDS)
            scale_bodies = a.small_codes - a.small_codes * 6 // 10
            scale = {"small_codes": seeder.issued, "small_rps": small.rps,
                     "small": asdict(small), "bodies": scale_bodies}

        secs = seeder.issue_until(a.codes)
        res["codes_issued"] = seeder.issued
        res["ranges"] = len(seeder.ranges)
        log(f"issued {seeder.issued:,} codes in {len(seeder.ranges)} ranges, {secs:.1f} s")
        need = 400_000 if a.profile or a.compare_workers else 250_000
        if a.interleave:
            need = min(a.codes, 1_900_000)
        codes: list[str] = []
        for rid in reversed(seeder.ranges):  # the newest ranges: never scanned yet
            if len(codes) >= need:
                break
            codes += seeder.codes(rid, need - len(codes))
        pool = traffic.CodePool(codes)
        log(f"downloaded {len(codes):,} stamp URIs for the scans")

        if scale is not None:
            large = self.wrk(f"scan, {seeder.issued:,} codes issued", SCAN_PATH,
                             traffic.scan_bodies(pool, scale_bodies), seconds=SCALE_SECONDS)
            scale.update(large_codes=seeder.issued, large_rps=large.rps, large=asdict(large),
                         ratio=large.rps / scale["small_rps"])
            res["scale"] = scale
        # Finish warming whatever the 10k phase left cold (one short run when all is warm).
        self.warm_up(pool)
        self.rebuild_filters()
        if a.interleave:
            res["interleave"] = self.interleave(pool, a.interleave, a.rounds)
            return res

        # Baseline and scan alternate, pair after pair: a neighbour's burst on a shared
        # host then lands on both sides of some pair instead of on one side of the ratio.
        # Reported: the median pair by ratio (its two runs are the table's rows).
        pairs = []
        for i in range(a.pairs):
            tag = f" (pair {i + 1}/{a.pairs})" if a.pairs > 1 else ""
            b = self.wrk("baseline GET /healthz" + tag, BASELINE_PATH)
            s = self.wrk("scan POST /api/v1/scans" + tag, SCAN_PATH,
                         self.scan_bodies_for(pool, b.rps, a.seconds))
            pairs.append((s.rps / b.rps, b, s))
        ratio, base, scan = sorted(pairs, key=lambda pair: pair[0])[len(pairs) // 2]
        base.label, scan.label = "baseline GET /healthz", "scan POST /api/v1/scans"
        res["pairs"] = [{"ratio": r, "baseline": asdict(b), "scan": asdict(s)}
                        for r, b, s in pairs]
        res["baseline"] = asdict(base) | {"errors": sum(b.errors for _r, b, _s in pairs)}
        res["scan"] = asdict(scan) | {"errors": sum(s.errors for _r, _b, s in pairs)}
        res["ratio_scan_baseline"] = ratio
        log("scan/baseline by pair: " + ", ".join(f"{r:.2f}" for r, _b, _s in pairs))

        half_rate = scan.rps / 2
        half = rategen.run_fixed_rate(
            self.base + SCAN_PATH, half_rate, a.half_seconds,
            traffic.scan_bodies(pool, int(half_rate * a.half_seconds) + 1),
            connections=a.rate_connections)
        res["half"] = half.as_dict()
        log(f"half saturation {half_rate:.0f}/s: p50 {half.p50_ms:.1f} ms, p99 "
            f"{half.p99_ms:.1f} ms, errors {half.non_2xx + half.socket_errors + half.timeouts}, "
            f"generator lag max {half.max_send_lag_ms:.1f} ms, cpu {half.generator_cpu_s:.1f} s")

        sweep = []
        for fraction in [float(x) for x in a.sweep.split(",") if x.strip()]:
            rate = max(10.0, scan.rps * fraction)
            n = int(rate * a.sweep_seconds) + 1
            if pool.left < n:
                log(f"code pool too small for {rate:.0f}/s; sweep stops")
                break
            point = rategen.run_fixed_rate(self.base + SCAN_PATH, rate, a.sweep_seconds,
                                           traffic.scan_bodies(pool, n),
                                           connections=a.rate_connections)
            sweep.append(point.as_dict() | {"fraction": fraction})
            log(f"sweep {rate:.0f}/s: achieved {point.achieved_rps:.0f}, p50 "
                f"{point.p50_ms:.1f}, p99 {point.p99_ms:.1f} ms")
        res["sweep"] = sweep
        if sweep and not a.no_plot:
            plot(sweep, scan.rps, base.rps, PLOT)
            res["plot"] = str(PLOT.relative_to(ROOT))

        n = a.round_trip_scans
        res["redis_per_scan"] = count_round_trips(
            self.redis, self.base + SCAN_PATH, n, traffic.scan_bodies(pool, n))
        res["redis_per_baseline"] = count_round_trips(self.redis, self.base + BASELINE_PATH,
                                                      200, None)
        log(f"Redis per scan: {res['redis_per_scan']}")

        if a.profile:
            res["profile"] = self.profile(pool, a.profile, scan.rps)
        if a.compare_workers:
            res["workers"] = self.compare_workers(pool, a.compare_workers)
        rows = self.schema.query("SELECT verdict, degraded, count(*) FROM scan_events "
                                 "GROUP BY verdict, degraded ORDER BY 3 DESC")
        res["scan_events"] = {f"{v}{' (degraded)' if d else ''}": n for v, d, n in rows}
        log(f"scan events stored, by verdict: {res['scan_events']}")
        return res

    def profile(self, pool: traffic.CodePool, seconds: int, rps: float) -> dict:
        assert self.server is not None
        pid = self.server.worker_pids()[0]
        RESULTS.mkdir(parents=True, exist_ok=True)
        bodies = self.scan_bodies_for(pool, rps, seconds + 2)
        proc, raw = start_profiler(pid, seconds, RESULTS, self.args.profile_gil)
        self.wrk("scan under py-spy", SCAN_PATH, bodies, seconds=seconds + 2)
        _, err = proc.communicate(timeout=60)
        if proc.returncode != 0:
            detail = err.decode(errors="replace")[-500:]
            log(f"py-spy failed: {detail}")
            return {"error": detail}
        summary = summarise_profile(raw)
        summary["raw"] = str(raw.relative_to(ROOT))
        summary["mode"] = "gil" if self.args.profile_gil else "busy threads"
        log("profile by step: " + "; ".join(f"{n} {p}%" for n, p in summary["steps"]))
        return summary

    def interleave(self, pool: traffic.CodePool, spec: str, rounds: int) -> dict:
        """Every configuration measured once per round, configurations in turn, each on a
        fresh gunicorn: per round one baseline/scan pair and one half-saturation run."""
        configs = []
        for part in [x.strip() for x in spec.split(";") if x.strip()]:
            label, _, flags = part.partition("=")
            configs.append((label.strip(), flags.strip()))
        out: dict = {label: [] for label, _flags in configs}
        for round_no in range(1, rounds + 1):
            for label, flags in configs:
                tag = f"[{label}, round {round_no}/{rounds}]"
                self.start_server(flags)
                self.wrk(f"warm-up baseline {tag}", BASELINE_PATH, seconds=2)
                self.wrk(f"warm-up scan {tag}", SCAN_PATH,
                         traffic.scan_bodies(pool, min(6000, pool.left)), seconds=2)
                base = self.wrk(f"baseline {tag}", BASELINE_PATH)
                scan = self.wrk(f"scan {tag}", SCAN_PATH,
                                self.scan_bodies_for(pool, base.rps * 0.9, self.args.seconds))
                rate = scan.rps / 2
                half = rategen.run_fixed_rate(
                    self.base + SCAN_PATH, rate, self.args.half_seconds,
                    traffic.scan_bodies(pool, int(rate * self.args.half_seconds) + 1),
                    connections=self.args.rate_connections)
                errors = base.errors + scan.errors + half.non_2xx + half.socket_errors \
                    + half.timeouts
                log(f"{tag}: scan/baseline {scan.rps / base.rps:.2f}, half {rate:.0f}/s p99 "
                    f"{half.p99_ms:.1f} ms, errors {errors}, codes left {pool.left:,}")
                out[label].append({
                    "round": round_no, "flags": flags, "ratio": scan.rps / base.rps,
                    "baseline": asdict(base), "scan": asdict(scan), "half": half.as_dict(),
                    "errors": errors})
        self.stop_server()
        self.start_server(self.args.gunicorn_args)
        return out

    def compare_workers(self, pool: traffic.CodePool, spec: str) -> list[dict]:
        rows = []
        for extra in [s.strip() for s in spec.split(";") if s.strip()]:
            self.start_server(extra)
            self.wrk(f"warm-up [{extra}]", BASELINE_PATH, seconds=2)
            base = self.wrk(f"baseline [{extra}]", BASELINE_PATH, seconds=8)
            scan = self.wrk(f"scan [{extra}]", SCAN_PATH,
                            self.scan_bodies_for(pool, base.rps * 0.8, 8), seconds=8)
            rows.append({"args": extra, "baseline_rps": base.rps, "scan_rps": scan.rps,
                         "ratio": scan.rps / base.rps, "scan_p99_ms": scan.p99_ms,
                         "baseline_cpu_ms": base.app_cpu_ms, "scan_cpu_ms": scan.app_cpu_ms,
                         "errors": base.errors + scan.errors})
        self.start_server(self.args.gunicorn_args)
        self.results["gunicorn"] = "gunicorn -c gunicorn.conf.py " + self.args.gunicorn_args
        return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bench = Bench(args)
    try:
        results = bench.run()
    finally:
        bench.cleanup()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"bench-{dt.datetime.now():%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    if results.get("interleave"):
        print(interleave_markdown(results["interleave"]))
    else:
        print(markdown(results))
    print(f"\nfull results: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
