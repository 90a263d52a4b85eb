"""The locust scenarios run headless against a live scanapp and every request succeeds.

A bounded smoke run (a few seconds, a handful of users), not a measurement: it proves the
scenarios seed their own data through the API and that consumers, printers and inspectors
all get answers. docs/PERFORMANCE.md has the longer documented command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCUST = Path(sys.executable).parent / "locust"


def test_locust_mixed_scenario_runs_without_failures(live_server, admin, tmp_path):
    env = dict(os.environ, SCANAPP_LOAD_ADMIN_KEY=admin.key, SCANAPP_LOAD_CODES="3000")
    stats_file = tmp_path / "stats"
    done = subprocess.run(
        [str(LOCUST), "-f", str(ROOT / "loadtests" / "locustfile.py"), "--host", live_server,
         "--headless", "-u", "12", "-r", "12", "-t", "8s", "--stop-timeout", "5",
         "--only-summary", "--json-file", str(stats_file), "--loglevel", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    stats_json = tmp_path / "stats.json"
    assert stats_json.exists(), done.stderr[-3000:]
    stats = {entry["name"]: entry for entry in json.loads(stats_json.read_text())}
    failures = {name: (s["num_failures"], s.get("failures")) for name, s in stats.items()
                if s["num_failures"]}
    assert failures == {}, done.stderr[-3000:]
    assert done.returncode == 0, done.stderr[-3000:]
    def served(name: str) -> int:
        return stats.get(name, {}).get("num_requests", 0)

    assert served("scan: first") > 10
    # Every user class got traffic through, not only the consumers.
    assert served("flags: list") + served("codes: dossier {serial}") > 0
    assert served("ranges: request") > 0 and served("ranges: codes.csv") > 0
