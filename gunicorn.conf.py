"""Production gunicorn settings for scanapp: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Every value can be overridden from the environment (``SCANAPP_GUNICORN_*``) or on the
command line (command-line flags win over this file). The figures behind the choices are
in docs/PERFORMANCE.md; ``python -m loadtests.bench --compare-workers`` re-measures them.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile


def _env(name: str, default: str) -> str:
    return os.environ.get("SCANAPP_GUNICORN_" + name) or default


# Loopback by default: in production a reverse proxy (TLS, HTTP/2 towards the phones,
# slow-client buffering) sits in front and forwards to this address.
bind = _env("BIND", "127.0.0.1:8000")

# gthread, not sync: the scan path waits on Redis and on the group committer, and the group
# committer only earns its keep when several requests of one process are in flight at once so
# that their scan events share one PostgreSQL commit; a sync worker has one.
#
# gevent (SCANAPP_GUNICORN_WORKER_CLASS=gevent, `pip install -e '.[gevent]'`) is supported
# and measured (docs/PERFORMANCE.md, "Worker models"): steadier and higher scan throughput
# (1443-1651 scans/s in five runs, ratio 0.33-0.37, against gthread's 974-1734, which swings
# with idle CPU), but worse tails at moderate load (p99 at half saturation 70 and 412 ms in
# two runs, against a median of ~32 ms for gthread): greenlets are not preempted, so any
# longer stretch of Python in a worker (a flag batch, an outbox round) stalls every scan of
# that worker. Tail latency is what a phone feels; capacity is bought with machines. So
# gthread stays the default until those stretches are found and broken up
# (scanapp/concurrency.py is the tool; downloads, label sheets, the flag writer, the metrics
# scrape and the range index's first load use it since issue 20; the bucket rebuild became a
# per-code summary read, I/O that yields) and gevent's tail is measured on a quiet machine:
# in the interleaved rounds of 2026-11-30 (docs/PERFORMANCE.md, "Issue 20 continued", a
# loaded machine) gevent's p99 at half saturation was 288-1268 ms against gthread's 273-869,
# and gevent's own stall monitor found no recurring stretch of scanapp's Python. On the
# quiet machine after session 5's merges ("Everything merged") gevent gave 1,813-1,876
# scans/s at 0.75-0.81 ms app CPU against gthread's 851-1,254 at 1.03-1.36, p99 at half
# saturation 50.8 and 28.4 ms against 110.9 and 22.1: two rounds, not the five the switch
# waits for, so the default stays until those runs are taken.
# gunicorn patches the standard library before the app loads under gevent; redis-py uses
# plain sockets and psycopg 3 detects gevent and waits on its hub.
worker_class = _env("WORKER_CLASS", "gthread")

# With gevent: requests in flight per worker. Scans hold no database connection (the
# committer has its own); admin and printer requests do, so keep it near
# SCANAPP_DATABASE_POOL_SIZE * 2 (pool + overflow) or they wait for a connection.
worker_connections = int(_env("WORKER_CONNECTIONS", "64"))

# One process per core: the scan path is CPU-bound Python once Redis answers, so more
# processes than cores only add context switches (measured: see PERFORMANCE.md), while
# Redis and PostgreSQL need CPU of their own on the same machine.
workers = int(_env("WORKERS", str(multiprocessing.cpu_count())))

# Enough threads to cover the I/O waits (a Redis round trip, a commit shared with the batch)
# and to fill a group-commit batch; 16 cost more CPU per scan in the same run. Each thread
# may hold one database connection: keep threads <= SCANAPP_DATABASE_POOL_SIZE * 2.
threads = int(_env("THREADS", "8"))

# Phones reach us through the proxy, which keeps its upstream connections open: a short
# keep-alive lets it reuse them without pinning idle sockets for long.
keepalive = int(_env("KEEPALIVE", "5"))

# A scan answers in milliseconds; a worker silent for 30 s is stuck and is replaced.
# Range downloads (codes.txt of millions of codes) stream, so they send data all along.
timeout = int(_env("TIMEOUT", "30"))

# Time for in-flight requests and the group committer's last batch on shutdown/reload.
graceful_timeout = int(_env("GRACEFUL_TIMEOUT", "30"))

# No preloading: each worker must open its own database pool, Redis connections and
# background committer thread after the fork; sharing sockets across forked processes
# corrupts them.
preload_app = False

# No periodic worker recycling: scanapp has no known leak, and a recycled worker starts with
# cold in-process caches (signing keys, range index). Set it if a leak ever shows up.
max_requests = int(_env("MAX_REQUESTS", "0"))
max_requests_jitter = int(_env("MAX_REQUESTS_JITTER", "0"))

# The worker heartbeat file lives in memory: on a container's overlay filesystem a slow
# disk can stall the heartbeat and get healthy workers killed.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# No access log here by default: the proxy already writes one, and a second one costs every
# request a formatted line. Coordinates travel in request bodies, never in URLs, so turning
# it on (SCANAPP_GUNICORN_ACCESSLOG=-) does not leak locations.
accesslog = _env("ACCESSLOG", "") or None
errorlog = _env("ERRORLOG", "-")
loglevel = _env("LOGLEVEL", "info")

# Only the local proxy may set X-Forwarded-* (the client address feeds rate limiting and
# the hashed client address stored with each scan).
forwarded_allow_ips = _env("FORWARDED_ALLOW_IPS", "127.0.0.1")


# gunicorn >= 25 opens a control socket at one default path per user ($HOME/.gunicorn/
# gunicorn.ctl): a second gunicorn on the host (a blue/green deploy, the benchmark next to
# a dev server) silently takes it over from the first. Off unless a path of its own is
# given; signals (HUP, TTIN/TTOU, TERM) manage the master as before.
control_socket = _env("CONTROL_SOCKET", "") or None
control_socket_disable = control_socket is None
if control_socket is None:
    del control_socket  # leave gunicorn's default in place; it is not used when disabled


# prometheus_client's multiprocess mode: every worker writes its metric values to files in
# this directory and /metrics answers their sum, whichever worker the scrape reaches. Set
# here, in the master, before any worker imports prometheus_client (it reads the variable
# at import). A directory of our own unless the operator names one (it must be emptied
# between runs: stale files of an earlier run would be summed too).
_OWN_METRICS_DIR = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _OWN_METRICS_DIR:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="scanapp-metrics-")
_METRICS_DIR = os.environ["PROMETHEUS_MULTIPROC_DIR"]


def on_starting(server):
    """Start from an empty metrics directory: counts restart with the service."""
    os.makedirs(_METRICS_DIR, exist_ok=True)
    for name in os.listdir(_METRICS_DIR):
        path = os.path.join(_METRICS_DIR, name)
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)


def on_exit(server):
    if _OWN_METRICS_DIR:
        shutil.rmtree(_METRICS_DIR, ignore_errors=True)


def child_exit(server, worker):
    """Drop a dead worker's live gauges; its counters stay and keep counting in the sum."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, _METRICS_DIR)


def worker_exit(server, worker):
    """Run the app's shutdown hooks (group committer, outboxes) so their last batch lands."""
    app = getattr(worker, "wsgi", None)
    hooks = getattr(app, "extensions", {}).get("scanapp.shutdown_hooks", []) if app else []
    for hook in hooks:
        try:
            hook()
        except Exception:  # one failing hook must not keep the others from running
            server.log.exception("scanapp shutdown hook failed")
