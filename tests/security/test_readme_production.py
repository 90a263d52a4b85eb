"""README's production steps, followed as written, give stamps on the configured https host.

Issue 15, items 13 and 14. The shell blocks of README's "Production" section run in order in
a fresh copy of the repository, on the test PostgreSQL (a schema of its own) and Redis (a
key prefix of its own); gunicorn and the worker are real processes. What differs from an
operator's run, and why:

- the install step is not run (the test uses the shared environment's packages);
- the environment file goes to a temporary folder instead of /etc/scanapp, and its database
  and Redis lines point at the test services (plus schema, prefix, port and one worker);
- the onboarding calls gunicorn directly (``API=http://127.0.0.1:<port>``) where nginx would
  sit in front.

Leaving the base URL or a secret out of the environment file stops the start with a
message naming it.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import PG_URL, REDIS_URL, missing_service

ROOT = Path(__file__).resolve().parents[2]
PORT = 18411  # engineer i15's range
HOST = "https://scan.example.vn"

pytestmark = pytest.mark.skipif(shutil.which("jq") is None or shutil.which("curl") is None,
                                reason="README's onboarding uses curl and jq")


def production_steps() -> dict[str, str]:
    """The ``sh`` blocks of README's Production section, by step title."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Production\n", 1)[1].split("\n## ", 1)[0]
    steps = {}
    for part in re.split(r"\n### ", section)[1:]:
        title, _, body = part.partition("\n")
        blocks = re.findall(r"```sh\n(.*?)```", body, re.DOTALL)
        if blocks:
            steps[re.sub(r"^\d+\.\s*", "", title).strip()] = "\n".join(blocks)
    return steps


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    if not PG_URL or not REDIS_URL:
        missing_service("PostgreSQL and Redis")
    tmp = tmp_path_factory.mktemp("readme")
    src = tmp / "src"
    # A fresh clone: the tracked files only (as they are in the work tree), no instance
    # folder, no caches.
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True,
                             capture_output=True).stdout.decode().split("\0")
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    schema = f"readme_{secrets.token_hex(4)}"
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCANAPP_")}
    env.update(PATH=f"{Path(sys.executable).parent}:{env['PATH']}", PYTHONPATH=str(src),
               HOME=str(tmp))
    try:
        yield Deployment(tmp, src, env, schema)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


class Deployment:
    def __init__(self, tmp: Path, src: Path, env: dict, schema: str):
        self.tmp, self.src, self.env, self.schema = tmp, src, env, schema
        self.etc = tmp / "etc"
        self.env_file = self.etc / "scanapp.env"
        self.prefix = f"readme-{secrets.token_hex(3)}"

    def adapt(self, script: str) -> str:
        """The README block, pointed at the test's folder and services."""
        script = script.replace("/etc/scanapp", str(self.etc))
        script = re.sub(r"^SCANAPP_DATABASE_URL=.*$", f"SCANAPP_DATABASE_URL={PG_URL}",
                        script, flags=re.MULTILINE)
        return re.sub(r"^SCANAPP_REDIS_URL=.*$", f"SCANAPP_REDIS_URL={REDIS_URL}", script,
                      flags=re.MULTILINE)

    def test_settings(self) -> str:
        return "\n".join((f"SCANAPP_DATABASE_SCHEMA={self.schema}",
                          f"SCANAPP_REDIS_PREFIX={self.prefix}",
                          f"SCANAPP_GUNICORN_BIND=127.0.0.1:{PORT}",
                          "SCANAPP_GUNICORN_WORKERS=1", "SCANAPP_GUNICORN_THREADS=4", ""))

    def sourced(self, script: str, env_file: Path | None = None) -> str:
        env_file = env_file or self.env_file
        return f"set -euo pipefail\nset -a; . {env_file}; set +a\n{script}"

    def run(self, script: str, **extra) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "-c", script], cwd=self.src, capture_output=True,
                              text=True, timeout=300, env={**self.env, **extra})

    def start(self, script: str) -> subprocess.Popen:
        return subprocess.Popen(["bash", "-c", script], cwd=self.src, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)


def _stop(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
    return out or ""


def _wait_port(port: int, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("gunicorn exited:\n" + _stop(proc))
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port} after {seconds} s:\n" + _stop(proc))


def test_readme_production_steps_give_stamps_on_the_https_host(deployment):
    steps = production_steps()
    assert list(steps) == ["Install", "Keys and settings", "Database", "Web processes",
                           "Worker process",
                           "Onboarding: keys, product, printer authorisation, range, print, "
                           "activate"]
    d = deployment

    done = d.run(d.adapt(steps["Keys and settings"]))
    assert done.returncode == 0, done.stderr
    written = d.env_file.read_text()
    assert f"SCANAPP_PUBLIC_BASE_URL={HOST}" in written
    keys = re.findall(r"^SCANAPP_(?:SECRET|SERIAL|PIN)_KEY=(\S+)$", written, re.MULTILINE)
    assert len(keys) == 3 and len(set(keys)) == 3 and all(len(k) >= 43 for k in keys)
    with d.env_file.open("a") as handle:
        handle.write(d.test_settings())

    migrated = d.run(d.sourced(steps["Database"]))
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr

    web = d.start(d.sourced(steps["Web processes"]))
    worker = d.start(d.sourced(steps["Worker process"]))
    try:
        _wait_port(PORT, web)
        onboarded = d.run(d.sourced(steps["Onboarding: keys, product, printer authorisation, "
                                          "range, print, activate"]),
                          API=f"http://127.0.0.1:{PORT}")
        assert onboarded.returncode == 0, onboarded.stdout + onboarded.stderr
        assert ": OK" in onboarded.stdout  # sha256sum -c accepted the downloaded codes
        assert worker.poll() is None, _stop(worker)
        (codes,) = d.src.glob("*.csv")
        uris = [line.split(",")[1] for line in codes.read_text().splitlines()[1:]]
        assert len(uris) == 1000
        assert all(uri.startswith(f"{HOST}/01/08938504500011/10/L2611/21/") for uri in uris)
        scanned = d.run(f"curl -sf -H 'Content-Type: application/json' "
                        f"-d '{{\"code\": \"{uris[0]}\"}}' "
                        f"http://127.0.0.1:{PORT}/api/v1/scans | jq -r .verdict")
        assert scanned.stdout.strip() == "authentic", scanned.stdout + scanned.stderr
    finally:
        _stop(worker)
        _stop(web)


@pytest.mark.parametrize("left_out", ["SCANAPP_PUBLIC_BASE_URL", "SCANAPP_SERIAL_KEY",
                                      "SCANAPP_PIN_KEY", "SCANAPP_SECRET_KEY"])
def test_leaving_out_a_setting_stops_the_start_naming_it(deployment, left_out):
    d = deployment
    steps = production_steps()
    done = d.run(d.adapt(steps["Keys and settings"]))
    assert done.returncode == 0, done.stderr
    lines = [line for line in d.env_file.read_text().splitlines()
             if not line.startswith(left_out + "=")]
    broken = d.tmp / f"without-{left_out}.env"
    broken.write_text("\n".join(lines) + "\n" + d.test_settings())

    upgrade = d.run(d.sourced(steps["Database"], broken))
    assert upgrade.returncode != 0
    assert left_out in upgrade.stderr and "production mode cannot start" in upgrade.stderr

    web = d.start(d.sourced(steps["Web processes"], broken))
    try:
        web.wait(timeout=60)
    finally:
        output = _stop(web)
    assert web.returncode != 0
    assert left_out in output
