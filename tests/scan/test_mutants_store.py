"""The store contract at the points mutation testing found unasserted (docs/RELIABILITY.md,
"Mutation testing", scanapp/scan/store.py): what one PIN check returns, and what a scan
with no network and no device counts. Both stores answer alike (the contract's harness)."""

from __future__ import annotations

from scanapp.db import get_engine
from scanapp.risk.facts import MAX_SCANS_PER_NETWORK
from scanapp.scan.store import SqlScanStateStore
from tests.scan.test_store_contract import (  # noqa: F401 - harness: the contract's fixture
    WINDOW,
    Harness,
    harness,
)

__all__ = ["harness"]


def test_a_wrong_pin_is_a_failure_and_never_a_claim(harness):  # noqa: F811
    harness.scan()
    wrong = harness.pin(False, device="guesser", network="x")
    assert (wrong.pin_claims, wrong.pin_failures) == (0, 1)
    assert wrong.pin_claimers == ()
    right = harness.pin(True, device="buyer", network="home")
    assert (right.pin_claims, right.pin_failures) == (1, 1)
    assert right.pin_claimers == (("buyer", "home"),)


def test_the_same_household_claiming_again_is_listed_once_at_once(harness):  # noqa: F811
    harness.pin(True, device="buyer", network="home")
    again = harness.pin(True, device="buyer", network="home")
    assert again.pin_claims == 2
    assert again.pin_claimers == (("buyer", "home"),)  # in the answer of that very check


def test_a_scan_without_network_or_device_counts_as_no_network(harness):  # noqa: F811
    first = harness.scan(device=None, network=None).history
    assert (first.scan_count, first.network_count, first.capped_scan_count) == (1, 0, 1)
    second = harness.scan(device=None, network=None, seconds=1).history
    assert (second.scan_count, second.network_count, second.capped_scan_count) == (2, 0, 2)
    # The first scan from a network is that network's first.
    third = harness.scan(device="d1", network="net-a", seconds=2).history
    assert (third.network_count, third.capped_scan_count) == (1, 3)


def test_a_networks_share_stops_counting_at_exactly_the_cap(harness):  # noqa: F811
    for i in range(MAX_SCANS_PER_NETWORK):
        h = harness.scan(device=f"fake-{i}", seconds=i, network="net-x").history
    assert h.capped_scan_count == MAX_SCANS_PER_NETWORK
    # The next scan from that network is counted, but not in its capped share.
    h = harness.scan(device="fake-more", seconds=50, network="net-x").history
    assert (h.scan_count, h.capped_scan_count) == (MAX_SCANS_PER_NETWORK + 1,
                                                   MAX_SCANS_PER_NETWORK)


def test_the_same_phone_exactly_one_window_later_counts_again(harness):  # noqa: F811
    harness.scan(device="d1")
    obs = harness.scan(device="d1", seconds=WINDOW)
    assert not obs.is_repeat and obs.history.scan_count == 2
    assert harness.scan(device="d1", seconds=2 * WINDOW - 0.5).is_repeat


def test_the_fallback_store_marks_every_answer_degraded(app):
    store = SqlScanStateStore(get_engine(app), degraded=True)
    harness = Harness(app, store)
    assert harness.scan(device="d1").degraded
    assert harness.scan(device="d1", seconds=1).is_repeat
    assert harness.scan(device="d1", seconds=2).degraded  # a reload answered degraded too
