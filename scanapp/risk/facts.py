"""The facts the fraud rules read: one scan, the code's history before it, its range.

This is the contract between the scan path (which gathers these in its one Redis round
trip, or from the database) and the rules (pure functions over them). Keep it small:
everything here has to travel in the hot path.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ScanPlace:
    """Where and when a code was scanned (coordinates rounded; province may be unknown)."""

    at: dt.datetime
    lat: float | None = None
    lon: float | None = None
    province: str | None = None
    device_hash: str | None = None
    # The phone's reported accuracy radius, when it gave one: a coarse fix (cell towers, IP)
    # must not look like travel. None = precise enough.
    accuracy_m: float | None = None
    # Keyed hash of the client's network address. The client declares its device id (and
    # its coordinates), but not the address it connects from: rules count devices and
    # places per network too, so one client cannot pose as many phones (sybil).
    network: str | None = None


@dataclass(frozen=True)
class ScanFacts:
    """The scan being judged."""

    serial: str
    gtin: str
    place: ScanPlace
    # What the lifecycle says of a code whose signature verified: "genuine",
    # "not_activated", "voided", "recalled". (A compromised key never gets here: the codec
    # refuses its serials, so the scan is "counterfeit" with reason compromised_key.)
    standing: str
    is_repeat_of_same_device: bool = False
    # "scan", or "pin": the assessment at a scratch-off PIN check (``place`` is then the
    # claimant, not a scan of the code).
    kind: str = "scan"


@dataclass(frozen=True)
class CodeHistory:
    """The code's state as the store returns it, including the scan being judged."""

    scan_count: int = 0
    device_count: int = 0
    first_scan: ScanPlace | None = None
    # Most recent first, the scan being judged excluded; capped (the store keeps ~20).
    recent: tuple[ScanPlace, ...] = ()
    pin_claims: int = 0
    pin_failures: int = 0
    # Distinct client networks among the counted scans (None: not known, older state).
    network_count: int | None = None
    # Scans counted with each network's share capped at MAX_SCANS_PER_NETWORK (None: not
    # known): the count rules read this, so one client cannot inflate a code's count.
    capped_scan_count: int | None = None
    # Who claimed the PIN successfully: distinct (device hash, network hash) pairs.
    pin_claimers: tuple[tuple[str, str], ...] = ()


# One client network's share of a code's counted scans (capped_scan_count).
MAX_SCANS_PER_NETWORK = 5


@dataclass(frozen=True)
class RangeFacts:
    """What the rules need of the code's range and product."""

    range_id: int | None
    status: str | None
    market_regions: tuple[str, ...] = ()
    # Per-product threshold overrides (Product.fraud_settings), keyed by rule setting name.
    settings: dict[str, float] = field(default_factory=dict)
