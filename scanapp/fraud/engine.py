"""Risk assessment of one scan: the entry point the scan path calls.

CONTRACT (the fraud package fills in the body): ``assess`` is pure, takes well under a
millisecond, does no I/O, and never raises for odd input.
"""

from __future__ import annotations

from dataclasses import dataclass

from .facts import CodeHistory, RangeFacts, ScanFacts


@dataclass(frozen=True)
class Assessment:
    risk: int  # 0..100
    reasons: tuple[str, ...]  # machine-readable signal ids that fired
    flag: bool  # risk at or above the flag threshold


def assess(scan: ScanFacts, history: CodeHistory, rng: RangeFacts) -> Assessment:
    return Assessment(risk=0, reasons=(), flag=False)
