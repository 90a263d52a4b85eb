"""The store contract at the points mutation testing found unasserted (docs/RELIABILITY.md,
"Mutation testing", scanapp/scan/store.py): what one PIN check returns, and what a scan
with no network and no device counts. Both stores answer alike (the contract's harness)."""

from __future__ import annotations

from tests.scan.test_store_contract import harness  # noqa: F401 - the contract's fixture

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
