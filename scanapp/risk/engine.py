"""Risk assessment of one scan: pure, the part of fraud the scan path calls directly.

CONTRACT:
- ``assess`` is pure, takes well under a millisecond, does no I/O and never raises for odd
  input. ``suspicious`` decides the consumer verdict; ``flag`` whether a flag is raised.
- This module, ``rules`` and ``facts`` import nothing else of scanapp (the import contract in
  pyproject.toml): they run without an app, a database or Flask. Writing flags is
  ``flags.on_scans_recorded``, which the composition root hands to the scan path.

Everything a rule reads travels in the facts (gathered in the scan's one Redis round trip or
from the database): a rule that needs more state gets a defaulted field on ``CodeHistory``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .facts import CodeHistory, RangeFacts, ScanFacts
from .rules import RULES, RULES_BY_ID, claim_households, combine, settings_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Assessment:
    risk: int  # 0..100
    reasons: tuple[str, ...]  # machine-readable signal ids that fired
    suspicious: bool  # the consumer sees "suspicious" (for a genuine code)
    flag: bool  # risk at or above the flag threshold: inspectors see it


CLEAR = Assessment(risk=0, reasons=(), suspicious=False, flag=False)

# One signal's share of the risk (weight x strength) that can warn a consumer on its own.
STRONG_SIGNAL = 0.5


def assess(scan: ScanFacts, history: CodeHistory, rng: RangeFacts) -> Assessment:
    settings = settings_for(rng)
    strengths: dict[str, float] = {}
    for rule in RULES:
        try:
            strength = rule.evaluate(scan, history, rng, settings)
        except Exception:  # noqa: BLE001 - a broken rule must never fail a consumer's scan
            log.exception("fraud rule %s failed; treated as not fired", rule.id)
            continue
        if strength > 0:
            strengths[rule.id] = strength
    if not strengths:
        return CLEAR
    risk = combine(strengths)
    # Strongest signal first (what it adds to the risk: weight x strength), ties in rule
    # order: that is what an inspector reads first.
    contribution = {r: RULES_BY_ID[r].weight * min(1.0, strengths[r]) for r in strengths}
    reasons = tuple(sorted(strengths, key=lambda r: -contribution[r]))
    # The consumer is warned only when one signal alone is strong (clone-grade evidence):
    # weak signals adding up (carried across a border, scanned in a third province) are
    # for inspectors, never a reason to tell a family its gift is fake.
    strong = max(contribution.values()) >= STRONG_SIGNAL
    return Assessment(risk=risk, reasons=reasons,
                      suspicious=strong and risk >= settings["suspicious_at"],
                      flag=risk >= settings["flag_at"])


def pin_households(scan: ScanFacts, history: CodeHistory, rng: RangeFacts) -> int:
    """How many unrelated households have claimed the code's PIN (rules.claim_households)."""
    return claim_households(scan, history, settings_for(rng))
