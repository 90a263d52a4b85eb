"""Production gunicorn settings for scanapp: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Every value can be overridden from the environment (``SCANAPP_GUNICORN_*``) or on the
command line (command-line flags win over this file). The figures behind the choices are
in docs/PERFORMANCE.md; ``python -m loadtests.bench --compare-workers`` re-measures them.
"""

from __future__ import annotations

import multiprocessing
import os


def _env(name: str, default: str) -> str:
    return os.environ.get("SCANAPP_GUNICORN_" + name) or default


# Loopback by default: in production a reverse proxy (TLS, HTTP/2 towards the phones,
# slow-client buffering) sits in front and forwards to this address.
bind = _env("BIND", "127.0.0.1:8000")

# gevent, not gthread or sync. A scan waits twice (the Redis round trip, the commit it shares
# with the other scans in flight) and is otherwise short Python. With OS threads every wait
# gives the GIL up and has to win it back, and gthread's poller hands each request between
# threads; greenlets switch only at those waits, in user space. Measured in one run
# (docs/PERFORMANCE.md): scans 1543 and 1451/s with gevent against 994 and 1006/s with
# gthread 2x8, 1.08-1.13 against 1.39-1.41 ms of CPU per scan, the do-nothing baseline the
# same (4684/4588 against 4689/3155 req/s). gunicorn patches the standard library before the
# app loads; redis-py is pure Python sockets and psycopg 3 detects gevent and waits on its
# hub, so neither needs more. The group committer still shares commits between the scans in
# flight in a process (sync workers have one, so every scan would pay a commit of its own).
# Long CPU-bound responses yield between chunks (scanapp/concurrency.py).
worker_class = _env("WORKER_CLASS", "gevent")

# Requests in flight per worker (greenlets). A scan holds no database connection (the
# committer has its own), so this bounds the admin and printer endpoints' pool use too:
# keep it within SCANAPP_DATABASE_POOL_SIZE + overflow, or they queue for a connection.
worker_connections = int(_env("WORKER_CONNECTIONS", "64"))

# One process per core: the scan path is CPU-bound Python once Redis answers, so more
# processes than cores only add context switches (measured: see PERFORMANCE.md), while
# Redis and PostgreSQL need CPU of their own on the same machine.
workers = int(_env("WORKERS", str(multiprocessing.cpu_count())))

# Used only with SCANAPP_GUNICORN_WORKER_CLASS=gthread (the previous default): enough
# threads to cover the I/O waits and fill a group-commit batch. Each thread may hold one
# database connection: keep threads <= SCANAPP_DATABASE_POOL_SIZE * 2 per process.
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


def worker_exit(server, worker):
    """Run the app's shutdown hooks (group committer, outboxes) so their last batch lands."""
    app = getattr(worker, "wsgi", None)
    hooks = getattr(app, "extensions", {}).get("scanapp.shutdown_hooks", []) if app else []
    for hook in hooks:
        try:
            hook()
        except Exception:  # one failing hook must not keep the others from running
            server.log.exception("scanapp shutdown hook failed")
