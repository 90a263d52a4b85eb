"""The harness's events through the pure rules on seeds where the rules before this change
failed a goal (loadtests.fraud_replay): seeds 1, 2 and 13 flagged 10 of the 20 sybil codes
(0.52 % of genuine codes) and seed 100 eleven (0.57 %); seed 2 missed one copied code at
one market, seed 106 three. A few seconds per seed. (Seed 100 still misses one: five
strangers each scanning once at the stall, which is what a shelf looks like; docs/FRAUD.md.)"""

from __future__ import annotations

import pytest

from loadtests.fraud_harness import POPULATIONS
from loadtests.fraud_replay import replay

GENUINE = [p.name for p in POPULATIONS if p.genuine]


@pytest.mark.parametrize("seed", [1, 2, 13, 100])
def test_false_alarms_stay_under_half_a_percent_with_the_sybil_attacker(seed):
    outcomes = replay(seed)
    genuine = [o for name in GENUINE for o in outcomes[name]]
    flagged = sum(o.flagged for o in genuine)
    assert flagged / len(genuine) < 0.005, flagged
    # Every flag is one address's made-up scans: no household, gift, tourist, shop ...
    ordinary = [o for name in GENUINE if name != "sybil_clone" for o in outcomes[name]]
    assert not any(o.flagged or o.owner_warned for o in ordinary)


@pytest.mark.parametrize("seed", [2, 106])
def test_the_market_copies_missed_before_are_found(seed):
    market = [o for o in replay(seed)["copies_market"] if o.copy_scans >= 5]
    assert all(o.flagged for o in market)


def test_the_trade_off_a_smaller_shelf_costs_shop_items():
    # docs/FRAUD.md's curve: with the shelf's allowance one party smaller (max_parties 3, a
    # product setting), one market's copies are all found, and about one shelf item in six
    # is flagged and its buyer warned. Codes that start like a shelf (20 of 40 on seed
    # 2026) can be flagged by their third copy scan only by the owner's own scans between
    # the third and the fourth: they bound the median time to the first flag.
    default, smaller = replay(2026), replay(2026, {"max_parties": 3})
    assert sum(o.shelf_like for o in default["copies_market"]) == 20
    assert not any(o.flagged for o in default["shop_display"])
    shelves = smaller["shop_display"]
    assert 0.1 < sum(o.flagged and o.owner_warned for o in shelves) / len(shelves) < 0.25
