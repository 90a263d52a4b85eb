"""The stamp lifecycle, as pure functions.

``issued -> printed -> activated`` moves forward only; ``voided`` (spoiled, destroyed) and
``recalled`` are terminal. A status can be set for the whole range or, through overrides,
for a sub-range or single codes. A code's status is the most decisive of its range's
status and its overrides: a terminal status always wins (a code voided on its own stays
void after its range is activated), otherwise the furthest step along the chain.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class CodeStatus(StrEnum):
    """A range's or a code's status (stored as its string value)."""

    ISSUED = "issued"
    PRINTED = "printed"
    ACTIVATED = "activated"
    VOIDED = "voided"
    RECALLED = "recalled"


FORWARD = (CodeStatus.ISSUED, CodeStatus.PRINTED, CodeStatus.ACTIVATED)
TERMINAL = (CodeStatus.VOIDED, CodeStatus.RECALLED)
RANK = {status: i for i, status in enumerate(FORWARD)}

# action -> (statuses it may start from, status it leads to)
ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "print": ((CodeStatus.ISSUED,), CodeStatus.PRINTED),
    "activate": ((CodeStatus.PRINTED,), CodeStatus.ACTIVATED),
    # Spoiled labels and destroyed goods: possible at any point before a terminal state.
    "void": (FORWARD, CodeStatus.VOIDED),
    # Only goods already released to market can be recalled from it.
    "recall": ((CodeStatus.ACTIVATED,), CodeStatus.RECALLED),
}

_HINTS = {
    "activate": "report the codes printed first (POST .../print)",
    "recall": "only activated codes (goods released to market) can be recalled; "
              "void codes that never left the printer",
}


def effective_status(range_status: str, overrides: Iterable[str] = ()) -> str:
    status = range_status
    for override in overrides:
        if status in TERMINAL:
            # The earlier terminal decision stands unless this override is also
            # terminal, in which case the override (the more specific one) wins.
            if override in TERMINAL:
                status = override
            continue
        if override in TERMINAL or RANK[override] > RANK[status]:
            status = override
    return status


def target_status(action: str) -> str:
    return ACTIONS[action][1]


def refusal(action: str, current: str) -> str | None:
    """Why ``action`` cannot apply to something in ``current`` status, or None if it can."""
    sources, target = ACTIONS[action]
    if current in sources:
        return None
    if current == target:
        return f"already {current}"
    hint = _HINTS.get(action, "")
    return f"cannot {action} from {current}" + (f": {hint}" if hint else "")
