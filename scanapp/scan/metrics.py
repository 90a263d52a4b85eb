"""Process-local counters for the scan path, exposed at ``/metrics`` in Prometheus text format.

Each gunicorn worker counts its own requests; Prometheus sums the workers when it scrapes
them through the multiprocess-aware setup of the deployment (or scrapes per worker). The
counters are plain integers under a lock: the hot path only ever adds one.
"""

from __future__ import annotations

import threading
from collections import Counter

HELP = {
    "scanapp_scans_total": "Scans answered, by verdict.",
    "scanapp_scan_reloads_total": "Page reloads inside the reload window (not counted as scans).",
    "scanapp_scan_degraded_total": "Scans answered from the database because Redis failed.",
    "scanapp_redis_errors_total": "Redis calls of the scan path that failed.",
    "scanapp_redis_bucket_rebuilds_total": "Redis state buckets rebuilt from the database.",
    "scanapp_pin_checks_total": "Scratch-off PIN checks, by result.",
}


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()

    def inc(self, name: str, **labels: str) -> None:
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            self._counts[key] += 1

    def value(self, name: str, **labels: str) -> int:
        with self._lock:
            return self._counts[(name, tuple(sorted(labels.items())))]

    def render(self) -> str:
        with self._lock:
            items = sorted(self._counts.items())
        lines: list[str] = []
        for name, help_text in HELP.items():
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} counter")
            series = [(labels, n) for (metric, labels), n in items if metric == name]
            if not series:
                lines.append(f"{name} 0")
            for labels, n in series:
                label_text = ",".join(f'{k}="{v}"' for k, v in labels)
                lines.append(f"{name}{{{label_text}}} {n}" if label_text else f"{name} {n}")
        return "\n".join(lines) + "\n"
