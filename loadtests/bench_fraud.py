"""How long ``assess`` takes: ``python -m loadtests.bench_fraud [iterations]``.

The scan path budgets about 1 ms for the rules. Three shapes of input: a first scan (the
common case), a busy genuine code and a clone with a full history of 20 places (the worst
case: every pairwise travel check runs). Prints median, p99 and max per call, in µs.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time

from scanapp.risk.engine import assess
from scanapp.risk.facts import CodeHistory, RangeFacts, ScanFacts, ScanPlace

T0 = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)


def cases() -> dict[str, tuple[ScanFacts, CodeHistory, RangeFacts]]:
    rng = RangeFacts(range_id=1, status="activated", market_regions=("01", "79"),
                     settings={"max_scans": 30.0})
    here = ScanPlace(at=T0, lat=21.0285, lon=105.8542, province="01", device_hash="d0")
    scan = ScanFacts(serial="1ABCDEFGHJKMNPQRSTVW", gtin="08934567890120", place=here,
                     standing="genuine")
    busy = tuple(ScanPlace(at=T0 - dt.timedelta(hours=i), lat=21.03, lon=105.85,
                           province="01", device_hash=f"d{i % 3}") for i in range(1, 6))
    clone = tuple(ScanPlace(at=T0 - dt.timedelta(minutes=37 * i), lat=10 + i * 0.6,
                            lon=105 + i * 0.15, province="79", device_hash=f"v{i}")
                  for i in range(1, 21))
    return {
        "first scan": (scan, CodeHistory(scan_count=1, device_count=1, first_scan=here), rng),
        "busy genuine (6 scans)": (scan, CodeHistory(scan_count=6, device_count=3,
                                                     recent=busy), rng),
        "clone, full history (20)": (scan, CodeHistory(scan_count=80, device_count=40,
                                                       recent=clone, pin_claims=3), rng),
    }


def main(iterations: int = 20000) -> None:
    for name, (scan, history, rng) in cases().items():
        for _ in range(1000):  # warm-up
            assess(scan, history, rng)
        samples = []
        for _ in range(iterations):
            start = time.perf_counter_ns()
            assess(scan, history, rng)
            samples.append(time.perf_counter_ns() - start)
        samples.sort()
        p99 = samples[int(len(samples) * 0.99)]
        print(f"{name:28s} median {statistics.median(samples) / 1000:6.1f} µs   "
              f"p99 {p99 / 1000:6.1f} µs   max {samples[-1] / 1000:7.1f} µs")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
