"""The benchmark's own private stack: a PostgreSQL schema, a Redis, scanapp under gunicorn.

Everything the benchmark creates it also removes: the schema is dropped, the private Redis
(started on a loopback port of its own, without persistence, as the architecture runs it)
is stopped, and with an external Redis only the benchmark's key prefix is deleted. Nothing
else on the shared PostgreSQL or Redis is touched.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def _bin(name: str) -> str:
    candidate = VENV_BIN / name
    return str(candidate) if candidate.exists() else name


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / tick


def pids_named(name: str) -> list[int]:
    """Processes whose command name is ``name`` (e.g. every PostgreSQL backend)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def machine_busy_seconds() -> float:
    """CPU time spent by every process on the machine so far, all cores (/proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """CPU time of this process's finished children (the load generator runs)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}")


class PrivateRedis:
    """redis-server on a loopback port of its own, for the bench, the fault drills and the
    Redis outage tests: no persistence unless asked (production runs Redis without it), and
    it can be shut down, killed, paused and started again on the same port."""

    def __init__(self, port: int, appendfsync: str | None = None):
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.dir = tempfile.mkdtemp(prefix=f"scanapp-private-redis-{port}-")
        self.appendfsync = appendfsync
        self.proc: subprocess.Popen | None = None

    def _running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _ping(self) -> bool:
        client = redis.Redis(port=self.port, socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def start(self) -> None:
        # Another server on the port would be measured or broken in our place: refuse.
        if port_open(self.port):
            raise RuntimeError(f"port {self.port} is taken: not starting a private Redis there")
        persistence = ["--appendonly", "no"] if self.appendfsync is None else \
            ["--appendonly", "yes", "--appendfsync", self.appendfsync]
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             *persistence, "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._ping, 10, f"redis on port {self.port}")

    def pids(self) -> list[int]:
        return [self.proc.pid] if self._running() else []

    def shutdown(self) -> None:
        """Graceful: SHUTDOWN NOSAVE, as an operator's restart would do."""
        client = redis.Redis(port=self.port, socket_timeout=2)
        try:
            client.shutdown(nosave=True)
        except redis.ConnectionError:
            pass  # the server closes the connection as it goes: that is the success case
        finally:
            client.close()
        self.proc.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL: a crash or an OOM kill, nothing flushed."""
        if self._running():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def pause(self) -> None:
        """SIGSTOP: the server still accepts connections but answers nothing (timeouts)."""
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self._running():
            os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self._running():
            self.proc.send_signal(signal.SIGCONT)  # a paused server cannot act on SIGTERM
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


class Schema:
    """A PostgreSQL schema of our own in the shared database, dropped at the end."""

    def __init__(self, sqlalchemy_url: str, name: str):
        self.url = sqlalchemy_url
        self.name = name
        self.libpq_url = sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://")

    def create(self) -> None:
        with psycopg.connect(self.libpq_url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{self.name}"')

    def drop(self) -> None:
        with psycopg.connect(self.libpq_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')

    def commits(self) -> int:
        """Transactions committed in the database so far (every client's, not only ours)."""
        with psycopg.connect(self.libpq_url, autocommit=True) as conn:
            return conn.execute("SELECT xact_commit FROM pg_stat_database "
                                "WHERE datname = current_database()").fetchone()[0]

    def query(self, sql: str) -> list[tuple]:
        with psycopg.connect(self.libpq_url, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{self.name}"')
            return conn.execute(sql).fetchall()


def production_env(database_url: str, schema: str, redis_url: str, prefix: str,
                   base_url: str) -> dict[str, str]:
    """The production configuration with freshly generated secrets."""
    env = dict(os.environ)
    env.update({
        "SCANAPP_ENV": "production",
        "SCANAPP_DATABASE_URL": database_url,
        "SCANAPP_DATABASE_SCHEMA": schema,
        "SCANAPP_REDIS_URL": redis_url,
        "SCANAPP_REDIS_PREFIX": prefix,
        "SCANAPP_PUBLIC_BASE_URL": base_url,
        "SCANAPP_SECRET_KEY": secrets.token_urlsafe(32),
        "SCANAPP_SERIAL_KEY": secrets.token_urlsafe(32),
        "SCANAPP_PIN_KEY": secrets.token_urlsafe(32),
        # Every request of the benchmark comes from 127.0.0.1; with the production limits
        # (120/minute per address) it would measure 429s. The limiter stays ON, with as
        # many limits as production (each costs a Redis round trip), set so high that no
        # benchmark reaches them.
        "SCANAPP_RATELIMIT_SCAN": "100000000/minute",
        "SCANAPP_RATELIMIT_DEVICE": "100000000/minute",
        # Synthetic GTINs under no declared GS1 company prefix, and 10-million-code ranges
        # read back several times: production's prefix rule and download quota stay out.
        "SCANAPP_REQUIRE_GS1_PREFIX": "0",
        "SCANAPP_DOWNLOAD_CODES_PER_DAY": "0",
    })
    return env


def flask_cli(env: dict[str, str], *args: str) -> str:
    """Run ``flask --app scanapp ...`` as an operator would; returns stdout."""
    done = subprocess.run([_bin("flask"), "--app", "scanapp", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def create_key(env: dict[str, str], role: str, org: str) -> str:
    """A key from the documented command; it prints the key alone on its last line."""
    return flask_cli(env, "keys", "create", "--role", role, "--org", org).strip().splitlines()[-1]


class Gunicorn:
    """scanapp under gunicorn with gunicorn.conf.py; extra flags override it."""

    def __init__(self, env: dict[str, str], port: int, extra: list[str] | None = None,
                 log_path: Path | None = None):
        self.env, self.port, self.extra = env, port, list(extra or [])
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = log_path or Path(tempfile.gettempdir()) / f"scanapp-bench-{port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> None:
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [_bin("gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"),
             "--bind", f"127.0.0.1:{self.port}", *self.extra, "wsgi:app"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.log_path}")
            try:
                with urllib.request.urlopen(self.base + "/readyz", timeout=2) as resp:
                    if resp.status == 200:
                        time.sleep(0.5)  # let every worker finish booting, not just one
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn not ready after {timeout}s; see {self.log_path}")

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)],
                             capture_output=True, text=True).stdout
        return [int(x) for x in out.split()]

    def pids(self) -> list[int]:
        """The master and its workers."""
        return ([self.proc.pid] + self.worker_pids()) if self.proc is not None else []

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
            self.log.close()


def http_json(method: str, url: str, key: str | None = None, body: dict | None = None,
              timeout: float = 600.0) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        exc.close()
        raise RuntimeError(f"{method} {url} -> {exc.code}: {detail}") from None
    return json.loads(raw) if raw else {}


def http_lines(url: str, key: str, limit: int, timeout: float = 600.0) -> list[str]:
    """The first ``limit`` non-empty lines of a streamed text download, then hang up."""
    req = urllib.request.Request(url)
    req.add_header("Authorization", f"Bearer {key}")
    lines: list[str] = []
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        for raw in resp:
            line = raw.decode().strip()
            if line and not line.startswith("#"):
                lines.append(line)
                if len(lines) >= limit:
                    break
    return lines
