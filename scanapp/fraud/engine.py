"""Risk assessment of one scan: the entry points the scan path calls.

CONTRACT (the fraud package fills in the bodies):
- ``assess`` is pure, takes well under a millisecond, does no I/O and never raises for odd
  input. ``suspicious`` decides the consumer verdict; ``flag`` whether a flag is raised.
- ``on_scan_recorded`` is called by the scan path after the scan event is durably stored, and
  only when ``assessment.reasons`` is not empty (rare), so it may write to the database.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from .facts import CodeHistory, RangeFacts, ScanFacts


@dataclass(frozen=True)
class Assessment:
    risk: int  # 0..100
    reasons: tuple[str, ...]  # machine-readable signal ids that fired
    suspicious: bool  # the consumer sees "suspicious" (for a genuine code)
    flag: bool  # risk at or above the flag threshold: inspectors see it


def assess(scan: ScanFacts, history: CodeHistory, rng: RangeFacts) -> Assessment:
    return Assessment(risk=0, reasons=(), suspicious=False, flag=False)


def on_scan_recorded(app: Flask, scan_event_id: int | None, scan: ScanFacts,
                     history: CodeHistory, rng: RangeFacts, assessment: Assessment) -> None:
    return None
