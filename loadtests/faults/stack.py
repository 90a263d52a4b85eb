"""Private processes the fault drills may break: Redis, PostgreSQL, gunicorn.

Everything here is started by the drill on its own loopback ports (5600-5699 for gunicorn
and Redis, 5433-5439 for PostgreSQL), in temporary directories, and stopped by pid: the
shared PostgreSQL (5432) and Redis (6379) are never touched, except that the Redis drills
keep their tables in a schema of their own on the shared PostgreSQL, dropped at the end.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import psycopg

from ..stack import port_open, wait_for

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")


class PrivatePostgres:
    """A throw-away PostgreSQL cluster in a temporary directory, stoppable at will."""

    def __init__(self, port: int):
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix=f"scanapp-fault-pg-{port}-"))
        self.data = self.dir / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        # PostgreSQL refuses to run as root: run it as the postgres user when we are root.
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, str(PG_BIN / program), *args], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "30", *args)

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync",
                  "-E", "UTF8")
        self.start()

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} "
                   "-c fsync=on -c max_connections=60")
        self._ctl("-o", options, "-l", str(self.dir / "log"), "start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "stop")

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.dir, ignore_errors=True)

    def query(self, sql: str, params=()) -> list[tuple]:
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres "
                             "dbname=postgres", connect_timeout=5) as conn:
            return conn.execute(sql, params).fetchall()


class Gunicorn:
    """scanapp under gunicorn with the production settings (gunicorn.conf.py)."""

    def __init__(self, env: dict[str, str], port: int, workers: int = 2, threads: int = 8):
        self.env, self.port = env, port
        self.base = f"http://127.0.0.1:{port}"
        self.args = ["-c", str(ROOT / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}",
                     "--workers", str(workers), "--threads", str(threads), "wsgi:app"]
        self.proc: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="scanapp-fault-gunicorn-",
                                               suffix=".log", delete=False)

    def start(self) -> None:
        # A server already on the port (a worker orphaned by an earlier run) would answer
        # the drill's requests from another database: refuse rather than audit a stranger.
        if port_open(self.port):
            raise RuntimeError(f"port {self.port} is taken: not starting the drill's gunicorn")
        self.proc = subprocess.Popen([str(VENV_BIN / "gunicorn"), *self.args], cwd=ROOT,
                                     env={**os.environ, **self.env}, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_for(lambda: self._ready(), 60, f"gunicorn on {self.base}", interval=0.2)

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError("gunicorn exited: " + Path(self.log.name).read_text()[-2000:])
        try:
            with urllib.request.urlopen(self.base + "/healthz", timeout=1) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def worker_pids(self) -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == self.proc.pid:
                    pids.append(int(entry.name))
        return sorted(pids)

    def stop(self) -> None:
        workers = self.worker_pids() if self.proc is not None else []
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # Workers inherit the listening socket: one that outlives its master keeps the port.
        for pid in workers:
            try:
                if "gunicorn" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace"):
                    os.kill(pid, signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass  # already gone
        if self.proc is not None:
            wait_for(lambda: not port_open(self.port), 15, f"port {self.port} to be released")
        self.log.close()
        os.unlink(self.log.name)


def production_env(database_url: str, redis_url: str | None, schema: str | None = None,
                   **extra: str) -> dict[str, str]:
    """The environment of a production deployment, pointed at the drill's stack."""
    env = {
        "SCANAPP_ENV": "production",
        "SCANAPP_DATABASE_URL": database_url,
        "SCANAPP_REDIS_URL": redis_url or "",
        "SCANAPP_REDIS_PREFIX": f"scanapp-fault-{secrets.token_hex(3)}",
        "SCANAPP_PUBLIC_BASE_URL": "https://scan.example.vn",
        "SCANAPP_SECRET_KEY": secrets.token_urlsafe(32),
        "SCANAPP_SERIAL_KEY": secrets.token_urlsafe(32),
        "SCANAPP_PIN_KEY": secrets.token_urlsafe(32),
        "SCANAPP_AUTO_MIGRATE": "0",
        # One load generator on one address: the per-address limit would refuse it.
        "SCANAPP_RATELIMIT_ENABLED": "0",
        # The drill's synthetic GTIN is under no declared GS1 company prefix.
        "SCANAPP_REQUIRE_GS1_PREFIX": "0",
        "SCANAPP_GUNICORN_LOGLEVEL": "warning",
    }
    if schema:
        env["SCANAPP_DATABASE_SCHEMA"] = schema
    env.update(extra)
    return env


def app_overrides(env: dict[str, str]) -> dict:
    """The same settings as create_app() overrides, for the in-process seeding app."""
    return {
        "ENV": "development", "DATABASE_URL": env["SCANAPP_DATABASE_URL"],
        "DATABASE_SCHEMA": env.get("SCANAPP_DATABASE_SCHEMA"),
        "REDIS_URL": env["SCANAPP_REDIS_URL"] or None, "REDIS_PREFIX": env["SCANAPP_REDIS_PREFIX"],
        "PUBLIC_BASE_URL": env["SCANAPP_PUBLIC_BASE_URL"],
        "SECRET_KEY": env["SCANAPP_SECRET_KEY"], "SERIAL_KEY": env["SCANAPP_SERIAL_KEY"],
        "PIN_KEY": env["SCANAPP_PIN_KEY"], "AUTO_MIGRATE": True, "RATELIMIT_ENABLED": False,
    }
