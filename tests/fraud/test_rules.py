"""Each fraud rule on its own, at its boundaries, without an app."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from scanapp.risk.engine import assess
from scanapp.risk.facts import CodeHistory, RangeFacts, ScanFacts, ScanPlace
from scanapp.risk.rules import (
    DEFAULT_SETTINGS,
    RULES,
    RULES_BY_ID,
    SETTING_BOUNDS,
    combine,
    excess_strength,
    hotspot_places,
    settings_for,
)

T0 = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
HANOI = (21.0285, 105.8542)
HCMC = (10.7769, 106.7009)
HANOI_EAST = (21.0285, 105.95)  # ~10 km from the first: same city


def place(minutes=0, at=None, device=None, province=None, point=None, network=None,
          accuracy=None) -> ScanPlace:
    lat, lon = point if point else (None, None)
    return ScanPlace(at=at or T0 + dt.timedelta(minutes=minutes), lat=lat, lon=lon,
                     province=province, device_hash=device, network=network,
                     accuracy_m=accuracy)


def scan(p: ScanPlace | None = None, standing="genuine") -> ScanFacts:
    return ScanFacts(serial="1ABCDEFGHJKMNPQRSTVW", gtin="08934567890120",
                     place=p or place(), standing=standing)


def rng(**settings) -> RangeFacts:
    return RangeFacts(range_id=1, status="activated", market_regions=("01", "79"),
                      settings=settings)


def fired(s, h=None, r=None):
    return set(assess(s, h or CodeHistory(scan_count=1, device_count=1), r or rng()).reasons)


def test_a_first_scan_is_clear():
    result = assess(scan(place(point=HANOI, province="01", device="d1")),
                    CodeHistory(scan_count=1, device_count=1), rng())
    assert result.risk == 0 and result.reasons == ()
    assert not result.suspicious and not result.flag


def test_zero_history_does_not_fire_anything():
    # A store that lost its counts (Redis flushed) still judges the scan without noise.
    assert fired(scan(), CodeHistory()) == set()


# -- too many scans --------------------------------------------------------------------------

def test_many_scans_exactly_at_the_limit_does_not_fire():
    assert "many_scans" not in fired(scan(), CodeHistory(scan_count=20, device_count=1))


def test_many_scans_one_above_the_limit_fires():
    assert "many_scans" in fired(scan(), CodeHistory(scan_count=21, device_count=1))


def test_many_scans_limit_is_tunable_per_product():
    h = CodeHistory(scan_count=6, device_count=1)
    assert "many_scans" not in fired(scan(), h)
    assert "many_scans" in fired(scan(), h, rng(max_scans=5))


def test_risk_rises_as_a_clone_keeps_being_scanned():
    risks = [assess(scan(), CodeHistory(scan_count=n, device_count=1), rng()).risk
             for n in (21, 30, 40)]
    assert risks[0] < risks[1] < risks[2]


# -- distinct devices ------------------------------------------------------------------------

def test_many_devices_boundary():
    assert "many_devices" not in fired(scan(), CodeHistory(scan_count=8, device_count=8))
    assert "many_devices" in fired(scan(), CodeHistory(scan_count=9, device_count=9))


# -- burst -----------------------------------------------------------------------------------

def _burst(devices: int, spacing_min: float, same_device=False):
    current = place(minutes=devices * spacing_min, device="d0")
    recent = tuple(place(minutes=i * spacing_min, device="d0" if same_device else f"d{i + 1}")
                   for i in reversed(range(devices)))
    return scan(current), CodeHistory(scan_count=devices + 1, device_count=devices + 1,
                                      recent=recent)


def test_burst_exactly_at_the_limit_does_not_fire():
    s, h = _burst(devices=3, spacing_min=1)  # 4 phones in 3 minutes: the limit
    assert "scan_burst" not in fired(s, h)


def test_burst_above_the_limit_fires():
    s, h = _burst(devices=4, spacing_min=1)  # 5 phones in 4 minutes
    assert "scan_burst" in fired(s, h)


def test_burst_spread_over_hours_is_not_a_burst():
    s, h = _burst(devices=4, spacing_min=30)
    assert "scan_burst" not in fired(s, h)


def test_one_phone_rescanning_is_not_a_burst():
    s, h = _burst(devices=9, spacing_min=0.5, same_device=True)
    assert "scan_burst" not in fired(s, h)


# -- impossible travel -----------------------------------------------------------------------

def test_hanoi_then_saigon_within_an_hour_is_impossible_travel():
    s = scan(place(minutes=60, point=HCMC, province="79"))
    h = CodeHistory(scan_count=2, device_count=2, recent=(place(point=HANOI, province="01"),))
    result = assess(s, h, rng())
    assert "impossible_travel" in result.reasons
    assert result.flag and result.suspicious


def test_hanoi_then_saigon_two_days_later_is_a_journey():
    s = scan(place(minutes=48 * 60, point=HCMC, province="79"))
    h = CodeHistory(scan_count=2, device_count=2, recent=(place(point=HANOI, province="01"),))
    assert "impossible_travel" not in fired(s, h)


def test_tiny_distances_are_gps_noise_even_when_simultaneous():
    s = scan(place(minutes=0, point=HANOI_EAST, province="01"))
    h = CodeHistory(scan_count=2, device_count=2, recent=(place(point=HANOI, province="01"),))
    assert "impossible_travel" not in fired(s, h)


def test_travel_speed_exactly_at_the_limit_does_not_fire():
    # Hanoi -> HCMC is ~1,140 km; at exactly max_speed_kmh the rule stays quiet.
    from scanapp.regions import haversine_km

    km = haversine_km(*HANOI, *HCMC)
    hours = km / DEFAULT_SETTINGS["max_speed_kmh"]
    # One microsecond added back: timedelta rounds to microseconds.
    at = T0 + dt.timedelta(hours=hours) + dt.timedelta(microseconds=1)
    s = scan(place(at=at, point=HCMC, province="79"))
    h = CodeHistory(scan_count=2, device_count=2, recent=(place(point=HANOI, province="01"),))
    assert "impossible_travel" not in fired(s, h)
    faster = scan(place(at=at - dt.timedelta(minutes=10), point=HCMC, province="79"))
    assert "impossible_travel" in fired(faster, h)


def test_a_coarse_position_fix_is_not_travel():
    # 60 km apart within a minute, but the second phone only knows its cell tower (20 km).
    far = (21.0285 + 0.54, 105.8542)
    h = CodeHistory(scan_count=2, device_count=2, recent=(place(point=HANOI, province="01"),))
    precise = scan(place(minutes=1, point=far, province="01"))
    assert "impossible_travel" in fired(precise, h)
    coarse = scan(ScanPlace(at=T0 + dt.timedelta(minutes=1), lat=far[0], lon=far[1],
                            province="01", accuracy_m=20000))
    assert "impossible_travel" not in fired(coarse, h)


def test_no_coordinates_means_no_travel_signal():
    s = scan(place(minutes=5, province="79"))
    h = CodeHistory(scan_count=2, device_count=2, recent=(place(point=HANOI, province="01"),))
    assert "impossible_travel" not in fired(s, h)
    s2 = scan(place(minutes=5, point=HCMC, province="79"))
    h2 = CodeHistory(scan_count=2, device_count=2, recent=(place(province="01"),))
    assert "impossible_travel" not in fired(s2, h2)


# -- provinces and market --------------------------------------------------------------------

def test_many_provinces_boundary():
    # Three provinces are a gift's journey (shop, home across the border, the parents').
    three = CodeHistory(scan_count=3, device_count=3,
                        recent=(place(minutes=-5000, province="01"),
                                place(minutes=-9000, province="24")))
    four = CodeHistory(scan_count=4, device_count=4,
                       recent=(place(minutes=-5000, province="01"),
                               place(minutes=-9000, province="24"),
                               place(minutes=-9500, province="48")))
    s = scan(place(province="79"))
    assert "many_provinces" not in fired(s, three)
    assert "many_provinces" in fired(s, four)


def test_out_of_market_fires_outside_the_ranges_regions():
    result = assess(scan(place(point=(16.0544, 108.2022), province="48")),
                    CodeHistory(scan_count=1, device_count=1), rng())
    assert result.reasons == ("out_of_market",)
    # One product carried across a border is no case; with any other signal it is.
    assert not result.flag and not result.suspicious
    assert assess(scan(place(point=(16.0544, 108.2022), province="48")),
                  CodeHistory(scan_count=1, device_count=1), rng(flag_at=45)).flag


def test_in_market_and_unrestricted_ranges_do_not_fire():
    assert "out_of_market" not in fired(scan(place(point=HANOI, province="01")))
    unrestricted = RangeFacts(range_id=1, status="activated", market_regions=())
    assert "out_of_market" not in fired(scan(place(point=(16.05, 108.2), province="48")),
                                        r=unrestricted)


def test_out_of_market_needs_coordinates():
    assert "out_of_market" not in fired(scan(place(province="48")))


# -- lifecycle -------------------------------------------------------------------------------

@pytest.mark.parametrize("standing", ["not_activated", "voided", "recalled"])
def test_lifecycle_standings_fire_their_own_signal(standing):
    result = assess(scan(standing=standing), CodeHistory(scan_count=1, device_count=1), rng())
    assert result.reasons == (standing,)
    assert result.flag


def test_genuine_standing_fires_no_lifecycle_signal():
    assert fired(scan(standing="genuine")) == set()


# -- PIN -------------------------------------------------------------------------------------

def test_pin_claimed_once_is_the_buyer_twice_is_a_clone():
    assert "pin_reused" not in fired(scan(), CodeHistory(scan_count=1, device_count=1,
                                                         pin_claims=1))
    result = assess(scan(), CodeHistory(scan_count=2, device_count=2, pin_claims=2,
                                        pin_claimers=(("a", "net-a"), ("b", "net-b"))), rng())
    assert "pin_reused" in result.reasons and result.suspicious


def test_wrong_pins_boundary():
    assert "pin_guessing" not in fired(scan(), CodeHistory(scan_count=1, pin_failures=3))
    assert "pin_guessing" in fired(scan(), CodeHistory(scan_count=1, pin_failures=4))


# -- scoring, settings, hotspots -------------------------------------------------------------

def test_weak_signals_combine_but_never_pass_100():
    assert combine({"out_of_market": 1.0}) == 45
    assert combine({"out_of_market": 1.0, "many_provinces": 1.0}) == 78
    assert combine({r.id: 1.0 for r in RULES}) == 100


def test_flag_threshold_is_inclusive_and_tunable():
    s = scan(place(point=(16.05, 108.2), province="48"))  # out of market: risk 45
    h = CodeHistory(scan_count=1, device_count=1)
    assert assess(s, h, rng(flag_at=45)).flag  # exactly at the threshold
    assert not assess(s, h, rng(flag_at=46)).flag
    claimed = CodeHistory(scan_count=1, device_count=1,
                          pin_claimers=(("a", "net-a"), ("b", "net-b")))  # risk 85
    assert assess(scan(), claimed, rng(suspicious_at=85)).suspicious
    assert not assess(scan(), claimed, rng(suspicious_at=86)).suspicious


def test_weak_signals_adding_up_flag_for_inspectors_but_never_warn_the_consumer():
    # A long gift's journey: bought in Hà Nội, home across the border, relatives in two
    # more provinces: out of market (45) + many provinces reach the consumer threshold, but
    # no signal is strong on its own, so the family is not told its gift is fake.
    h = CodeHistory(scan_count=5, device_count=4, recent=(
        place(minutes=-2000, province="33", device="r"),
        place(minutes=-3000, province="38", device="p"),
        place(minutes=-6000, province="24", device="b"),
        place(minutes=-9000, province="01", device="b")))
    result = assess(scan(place(point=(19.8, 105.78), province="40", device="q")), h,
                    rng(suspicious_at=40))
    assert result.risk >= 60 and result.flag
    assert not result.suspicious


def test_nonsense_settings_fall_back_to_defaults():
    merged = settings_for(rng(max_scans=-3, max_devices=float("nan"), unknown=1.0))
    assert merged["max_scans"] == DEFAULT_SETTINGS["max_scans"]
    assert merged["max_devices"] == DEFAULT_SETTINGS["max_devices"]
    assert "unknown" not in merged


def test_excess_strength_shape():
    assert excess_strength(10, 10) == 0
    assert 0.5 < excess_strength(11, 10) < 0.6
    assert excess_strength(20, 10) == 1.0
    assert excess_strength(1, 0) == 1.0


def test_hotspot_is_at_or_above_the_minimum():
    counts = {"01": 4, "79": 5, "48": 9}
    assert hotspot_places(counts, 5) == {"79", "48"}
    assert hotspot_places({}, 5) == set()


ODD_SCANS = [
    scan(place(point=(float("nan"), 200.0), province="zz")),
    scan(place(point=(91.0, -181.0), device="")),
    scan(place(point=(float("inf"), 0.0), province="")),
    scan(ScanPlace(at=T0, lat=21.0, lon=None, province=None, accuracy_m=-5.0)),
    scan(place(device="d1"), standing=""),
    scan(place(point=HANOI, province="01"), standing="no-such-standing"),
]
ODD_HISTORIES = [
    CodeHistory(scan_count=-1, device_count=-5, recent=(place(point=(91.0, 0.0)),),
                pin_claims=-1),
    CodeHistory(),
    CodeHistory(scan_count=10**9, device_count=10**9, pin_claims=10**9, pin_failures=10**9,
                first_scan=place(minutes=10),  # "first" after the scan itself
                recent=(place(minutes=5, point=HCMC), place(minutes=-10**6, point=HANOI),
                        place(minutes=0, point=HANOI, device="d1"),
                        ScanPlace(at=T0, lat=float("nan"), lon=float("nan"),
                                  accuracy_m=float("inf")))),
]
ODD_RANGES = [
    rng(max_speed_kmh=0),
    rng(max_scans=0, max_devices=0, burst_window_s=0, min_travel_km=0, max_provinces=0,
        max_pin_claims=0, max_pin_failures=0),
    RangeFacts(range_id=None, status=None, market_regions=(), settings={}),
    RangeFacts(range_id=1, status="activated", market_regions=("",), settings={
        "max_scans": float("nan"), "burst_window_s": float("inf"), "flag_at": -1,
        "max_devices": "eight", "unknown": 3}),
]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_odd_input_never_raises(rule):
    # Each rule on its own: assess() would hide a raising rule behind its catch-all.
    for odd_scan in ODD_SCANS:
        for history in ODD_HISTORIES:
            for range_facts in ODD_RANGES:
                strength = rule.evaluate(odd_scan, history, range_facts,
                                         settings_for(range_facts))
                assert 0.0 <= strength <= 1.0, (rule.id, odd_scan, history, range_facts)


def test_odd_input_gives_a_risk_in_range():
    for odd_scan in ODD_SCANS:
        for history in ODD_HISTORIES:
            for range_facts in ODD_RANGES:
                result = assess(odd_scan, history, range_facts)
                assert 0 <= result.risk <= 100
                assert result.reasons == tuple(dict.fromkeys(result.reasons))


def test_every_rule_is_documented_in_two_languages():
    for rule in RULES:
        assert rule.title_vi and rule.title_en and rule.explanation_vi and rule.explanation_en
        assert 0 < rule.weight <= 1
        for name in rule.settings:
            assert name in DEFAULT_SETTINGS


# -- boundaries found by mutation testing (scripts/mutation.sh rules) -----------------------

def strength(rule_id: str, s: ScanFacts, h: CodeHistory | None = None,
             r: RangeFacts | None = None) -> float:
    r = r or rng()
    return RULES_BY_ID[rule_id].evaluate(s, h or CodeHistory(), r, settings_for(r))


def test_settings_at_their_bounds_are_kept_and_beyond_them_refused():
    for name, (low, high) in SETTING_BOUNDS.items():
        assert settings_for(rng(**{name: low}))[name] == low, name
        assert settings_for(rng(**{name: high}))[name] == high, name
        assert settings_for(rng(**{name: low - 0.01}))[name] == DEFAULT_SETTINGS[name], name
        assert settings_for(rng(**{name: high + 1}))[name] == DEFAULT_SETTINGS[name], name


def test_excess_strength_scales_with_fractional_limits_and_caps_at_one():
    assert excess_strength(0.75, 0.5) == pytest.approx(0.75)
    assert excess_strength(1000, 2) == 1.0 and excess_strength(1, 0) == 1.0


def test_a_lost_count_does_not_fire_and_twice_the_limit_is_full_strength():
    limit = int(DEFAULT_SETTINGS["max_scans"])
    assert strength("many_scans", scan(), CodeHistory(scan_count=0)) == 0.0
    assert strength("many_scans", scan(), CodeHistory(scan_count=2 * limit)) == 1.0


def test_burst_counts_the_window_edge_and_every_anonymous_scan():
    window = DEFAULT_SETTINGS["burst_window_s"]
    edge = place(at=T0 - dt.timedelta(seconds=window), device="edge")
    other = place(minutes=-1, device="other")
    assert strength("scan_burst", scan(place(device="me")), CodeHistory(recent=(other, edge)),
                    rng(max_burst_scans=2)) > 0  # exactly a window ago is inside it
    two = CodeHistory(recent=(place(minutes=-1),))  # this scan and one more, both anonymous
    assert strength("scan_burst", scan(place()), two, rng(max_burst_scans=2)) == 0.0
    three = CodeHistory(recent=(place(minutes=-1), place(minutes=-2)))
    assert strength("scan_burst", scan(place()), three, rng(max_burst_scans=2)) > 0
    # A scan stamped after this one (a slow clock) is skipped, not the end of the count.
    skewed = CodeHistory(recent=(place(minutes=5, device="future"), place(minutes=-1, device="a"),
                                 place(minutes=-2, device="b")))
    assert strength("scan_burst", scan(place(device="me")), skewed,
                    rng(max_burst_scans=2)) > 0


HAI_PHONG = (20.8449, 106.6881)  # ~90 km from Hà Nội


def test_travel_needs_both_points_and_takes_off_both_accuracy_radii():
    far = CodeHistory(recent=(place(minutes=-1, point=HANOI),))
    assert strength("impossible_travel", scan(place(point=HAI_PHONG)), far) == 1.0
    no_point = CodeHistory(recent=(place(minutes=-1),))
    assert strength("impossible_travel", scan(place(point=HAI_PHONG)), no_point,
                    rng(max_speed_kmh=0)) == 0.0
    assert strength("impossible_travel", scan(place()), far, rng(max_speed_kmh=0)) == 0.0
    assert strength("impossible_travel", scan(place(point=HAI_PHONG)), CodeHistory(),
                    rng(max_speed_kmh=0)) == 0.0
    half_lat = ScanPlace(at=T0, lat=21.0, lon=float("nan"))
    assert strength("impossible_travel", scan(half_lat), far, rng(max_speed_kmh=0)) == 0.0

    def fuzzy(metres):
        return ScanPlace(at=T0, lat=HAI_PHONG[0], lon=HAI_PHONG[1], accuracy_m=metres)

    def fuzzy_past(metres):
        return CodeHistory(recent=(ScanPlace(at=T0 - dt.timedelta(minutes=1), lat=HANOI[0],
                                             lon=HANOI[1], accuracy_m=metres),))

    limit = rng(min_travel_km=80)
    assert strength("impossible_travel", scan(fuzzy(3000)), fuzzy_past(3000), limit) > 0
    assert strength("impossible_travel", scan(fuzzy(6000)), fuzzy_past(6000), limit) == 0.0


def test_out_of_market_fires_at_full_strength_exactly():
    assert strength("out_of_market", scan(place(point=(16.0544, 108.2022), province="48"))) == 1.0
    assert strength("out_of_market", scan(place(point=HANOI, province="01"))) == 0.0


@pytest.mark.parametrize("standing", ["not_activated", "voided", "recalled"])
def test_standing_rules_fire_for_their_standing_only(standing):
    assert strength(standing, scan(standing=standing)) == 1.0
    assert strength(standing, scan(standing="genuine")) == 0.0


def test_one_forged_scan_is_a_hotspot_when_the_setting_says_one():
    assert hotspot_places({"79": 1, "01": 0}, 1) == {"79"}
    assert hotspot_places({"79": 1}, 0) == {"79"}


def test_risk_counts_a_strength_above_one_as_one():
    full = round(100 * RULES_BY_ID["many_scans"].weight)
    assert combine({"many_scans": 1.5}) == combine({"many_scans": 1.0}) == full


# -- clones at one market, households and shops (issue 19) ------------------------------------

DAY = 24 * 60
MARKET_STALL = (21.0380, 105.8490)  # Chợ Đồng Xuân, Hà Nội


def _near(point, km_north=0.0, km_east=0.0):
    return (point[0] + km_north / 111.0, point[1] + km_east / 104.0)


def _history(*places: ScanPlace, **fields) -> CodeHistory:
    recent = tuple(sorted(places, key=lambda p: p.at, reverse=True))
    devices = {p.device_hash for p in places if p.device_hash}
    return CodeHistory(scan_count=len(places) + 1, device_count=len(devices) + 1,
                       recent=recent, **fields)


def test_five_unrelated_buyers_at_one_market_over_days_are_flagged():
    # The genuine buyer took it home first; four more phones, each on its own mobile
    # network, scan "it" at the same stall on four different days.
    owner = [place(-12 * DAY, device="owner", network="m0", point=MARKET_STALL, province="01"),
             place(-12 * DAY + 300, device="owner", network="home0",
                   point=_near(MARKET_STALL, 5), province="01")]
    buyers = [place(-d * DAY, device=f"v{d}", network=f"m{d}",
                    point=_near(MARKET_STALL, 0.05 * d), province="01") for d in (9, 7, 4)]
    now = place(0, device="v0", network="mx", point=MARKET_STALL, province="01")
    result = assess(scan(now), _history(*owner, *buyers), rng())
    assert "many_parties" in result.reasons and result.flag
    # Four parties are what a shelf item sees: not flagged.
    fewer = assess(scan(now), _history(*owner, *buyers[:2]), rng())
    assert "many_parties" not in fewer.reasons


def test_a_shop_shelf_and_its_shoppers_are_one_party_until_the_item_leaves():
    shop = (10.7769, 106.7009)
    shelf = [place(-6 * DAY, device="assistant", network="shop-wifi", point=shop,
                   province="79")]
    shelf += [place(-d * DAY, device=f"shopper{d}", network=f"m{d}",
                    point=_near(shop, 0.02), province="79") for d in (5, 4, 3, 2)]
    buyer = place(-1 * DAY, device="buyer", network="mb", point=shop, province="79")
    home = place(-1 * DAY + 120, device="buyer", network="home", point=_near(shop, 6),
                 province="79")
    family = place(-1 * DAY + 150, device="wife", network="home", point=_near(shop, 6),
                   province="79")
    now = place(0, device="son", network="home", point=_near(shop, 6), province="79")
    result = assess(scan(now), _history(*shelf, buyer, home, family), rng())
    assert result.reasons == ()
    # ... but a new phone scanning it at the shop after the buyer took it home is a copy.
    back = place(0, device="stranger", network="m9", point=shop, province="79")
    h = _history(*shelf, buyer, home, family,
                 place(-DAY // 2, device="other", network="m8", point=shop, province="79"),
                 place(-DAY // 3, device="third", network="m7", point=shop, province="79"))
    assert "many_parties" in assess(scan(back), h, rng()).reasons


def test_two_households_carrying_one_code_home_is_a_copy():
    stall = place(-3 * DAY, device="a", network="ma", point=MARKET_STALL, province="01")
    a_home = place(-3 * DAY + 60, device="a", network="home-a",
                   point=_near(MARKET_STALL, -7), province="01")
    b_stall = place(-DAY, device="b", network="mb", point=MARKET_STALL, province="01")
    b_home = place(0, device="b", network="home-b", point=_near(MARKET_STALL, 0, 8),
                   province="01")
    result = assess(scan(b_home), _history(stall, a_home, b_stall), rng())
    assert "several_carriers" in result.reasons and result.flag and result.suspicious


def test_a_stall_scanning_one_stamp_again_and_again_is_flagged_at_the_fifth_scan():
    stall = [place(-60 * i, device="stall", network="stall-net", point=MARKET_STALL,
                   province="01") for i in range(1, 5)]
    fourth = assess(scan(place(0, device="stall", network="stall-net", point=MARKET_STALL,
                               province="01")), _history(*stall[:3]), rng())
    assert "repeat_scanner" not in fourth.reasons
    fifth = assess(scan(place(0, device="stall", network="stall-net", point=MARKET_STALL,
                              province="01")), _history(*stall), rng())
    assert fifth.reasons == ("repeat_scanner",) and fifth.flag
    # The same phone's scans spread over days are a buyer re-checking: nothing.
    days = [place(-DAY * i, device="buyer", point=MARKET_STALL) for i in range(1, 5)]
    assert "repeat_scanner" not in fired(scan(place(0, device="buyer", point=MARKET_STALL)),
                                         _history(*days))


def test_a_gift_across_three_provinces_is_not_flagged_at_all():
    shop = place(-5 * DAY, device="buyer", network="mb", point=(21.03, 105.85), province="01")
    home = place(-5 * DAY + 600, device="buyer", network="home", point=(21.18, 106.07),
                 province="24")
    family = place(-5 * DAY + 640, device="wife", network="home", point=(21.18, 106.07),
                   province="24")
    parents = place(0, device="mother", network="parents", point=(19.80, 105.78),
                    province="38")
    result = assess(scan(parents), _history(shop, home, family), rng())
    assert not result.flag and not result.suspicious
    assert result.reasons == ("out_of_market",)


def test_one_network_posing_as_phones_all_over_the_country_counts_once():
    """Sybil: made-up device ids and coordinates from one address."""
    provinces = [("48", (16.05, 108.20)), ("92", (10.04, 105.75)), ("22", (20.96, 107.04)),
                 ("40", (18.68, 105.68)), ("66", (12.67, 108.05)), ("56", (12.24, 109.19)),
                 ("31", (20.84, 106.69)), ("38", (19.81, 105.79)), ("91", (10.01, 105.08))]
    fakes = [place(-4 * i, device=f"fake{i}", network="attacker", point=point, province=code)
             for i, (code, point) in enumerate(provinces, start=1)]
    owner = place(-3 * DAY, device="owner", network="home", point=(21.03, 105.85),
                  province="01")
    now = place(0, device="fake0", network="attacker", point=(10.78, 106.70), province="79")
    h = CodeHistory(scan_count=11, device_count=11, network_count=2, capped_scan_count=6,
                    recent=_history(owner, *fakes).recent)
    result = assess(scan(now), h, rng())
    for rule in ("many_devices", "many_provinces", "impossible_travel", "many_parties",
                 "scan_burst", "many_scans", "scattered_parties", "several_carriers"):
        assert rule not in result.reasons, result
    assert not result.flag
    # The same scans from nine real networks are a clone.
    honest = tuple(dataclasses.replace(p, network=f"net{i}") for i, p in enumerate(h.recent))
    cloned = assess(scan(now), CodeHistory(scan_count=11, device_count=11, network_count=11,
                                           capped_scan_count=11, recent=honest), rng())
    assert cloned.flag and cloned.suspicious


def test_pin_entered_again_by_the_household_is_one_claim():
    shop = place(-DAY, device="buyer", network="mb", point=MARKET_STALL, province="01")
    home = place(-DAY + 300, device="spouse", network="home", point=_near(MARKET_STALL, 6),
                 province="01")
    pin = ScanFacts(serial="1ABCDEFGHJKMNPQRSTVW", gtin="08934567890120",
                    place=place(0, device="spouse", network="home"), standing="genuine",
                    kind="pin")
    same_device = _history(shop, pin_claims=2, pin_claimers=(("buyer", "mb"), ("buyer", "home")))
    assert "pin_reused" not in assess(pin, same_device, rng()).reasons
    spouse = _history(shop, home, pin_claims=2,
                      pin_claimers=(("buyer", "mb"), ("spouse", "home")))
    assert "pin_reused" not in assess(pin, spouse, rng()).reasons
    # Two phones never seen scanning, on different networks: two claims, judged at once.
    strangers = CodeHistory(pin_claims=2, pin_claimers=(("a", "net-a"), ("b", "net-b")))
    result = assess(pin, strangers, rng())
    assert result.reasons == ("pin_reused",) and result.flag and result.suspicious
    # ... and so are two phones seen far apart (Hà Nội and TP HCM).
    far = _history(shop, place(-60, device="b", network="nb", point=HCMC, province="79"),
                   pin_claims=2, pin_claimers=(("buyer", "mb"), ("b", "nb")))
    assert "pin_reused" in assess(pin, far, rng()).reasons


def test_reasons_are_sorted_by_what_they_add_to_the_risk():
    # Issue 22 item 9: strongest first, by weight x strength, not by strength alone.
    s = scan(place(point=(16.05, 108.2), province="48", device="x"))  # out of market: 1.0
    h = CodeHistory(scan_count=31, device_count=1)  # many_scans: strength 1.0 x 0.7
    result = assess(s, h, rng())
    assert result.reasons == ("many_scans", "out_of_market")


@pytest.mark.parametrize("name,value", [
    ("max_scans", 1e308), ("max_scans", float("inf")), ("max_devices", -1),
    ("flag_at", 90), ("flag_at", 1e308), ("suspicious_at", 0), ("unknown", 3),
    ("max_scans", True)])
def test_settings_outside_their_bounds_are_refused_and_ignored(name, value):
    from scanapp.risk.rules import setting_problem

    assert setting_problem(name, value)
    merged = settings_for(rng(**{name: value}))
    assert merged.get(name) == DEFAULT_SETTINGS.get(name)


def test_a_brand_may_lower_the_flag_threshold_but_not_raise_it():
    from scanapp.risk.rules import setting_problem

    assert setting_problem("flag_at", 45) is None
    assert "lowered" in setting_problem("flag_at", 51)
    assert settings_for(rng(flag_at=45))["flag_at"] == 45


def test_coarse_fixes_on_both_sides_of_a_border_are_one_province_not_a_move():
    # A household on the Hà Nội / Bắc Ninh (Từ Sơn) border, which runs near 105.93 E at
    # this latitude: 3 km fixes land on either side.
    a = place(-600, device="a", point=(21.125, 105.945), province="24", accuracy=3000)
    b = place(-300, device="b", point=(21.135, 105.915), province="01", accuracy=3000)
    c = place(-200, device="c", point=(21.033, 105.85), province="01")
    d = place(-100, device="d", point=(10.78, 106.70), province="79")
    now = place(0, device="e", point=(21.13, 105.94), province="24", accuracy=3000)
    from scanapp.risk.rules import count_provinces

    assert count_provinces([now, a, b]) == 1
    assert count_provinces([now, a, b, c, d]) == 2
    # The same places with precise fixes are two provinces.
    precise = [dataclasses.replace(p, accuracy_m=None) for p in (now, a, b)]
    assert count_provinces(precise) == 2


def test_a_coarse_fix_reaching_into_the_market_is_not_out_of_market():
    coarse = place(point=(21.13, 105.94), province="24", accuracy=3000, device="x")
    assert "out_of_market" not in fired(scan(coarse))
    precise = place(point=(21.18, 106.07), province="24", device="x")  # Bắc Ninh city
    assert "out_of_market" in fired(scan(precise))


def _stall_buyer(day: int, name: str, home_km: float | None = 5.0) -> list[ScanPlace]:
    """One buyer of a copy at the stall on a day; their phone scans it again at home."""
    out = [place(-day * DAY, device=name, network=f"m-{name}",
                 point=_near(MARKET_STALL, 0.02), province="01")]
    if home_km is not None:
        out.append(place(-day * DAY + 180, device=name, network=f"home-{name}",
                         point=_near(MARKET_STALL, home_km), province="01"))
    return out


def test_a_new_phone_at_the_stall_after_the_buyer_took_it_home_is_a_copy():
    # First buyer scans at the stall and, 3 hours later, at home 5 km away: the item
    # left the stall. A second, unrelated phone scans "it" at the stall two days later.
    now = place(0, device="second", network="m-second", point=MARKET_STALL, province="01")
    result = assess(scan(now), _history(*_stall_buyer(2, "first")), rng())
    assert result.reasons[0] == "sold_again"
    assert result.flag  # inspectors see it at the third copy scan
    assert not result.suspicious  # alone it warns no consumer (55 < 60)


def test_a_short_walk_home_from_the_market_still_takes_the_item_away():
    # Home 1.2 km from the stall: closer than carry_km (1.5), farther than SOLD_AWAY_KM (1).
    now = place(0, device="second", network="m-second", point=MARKET_STALL, province="01")
    result = assess(scan(now), _history(*_stall_buyer(2, "first", home_km=1.2)), rng())
    assert "sold_again" in result.reasons


def test_shoppers_at_the_shelf_before_the_buyer_are_not_sold_again():
    # The shop_display pattern: assistant, three shoppers on three days, then the buyer who
    # takes it home, and the family there. Nobody scans it at the shop after the sale.
    shop = (10.7769, 106.7009)
    shelf = [place(-6 * DAY, device="assistant", network="shop-wifi", point=shop,
                   province="79")]
    shelf += [place(-d * DAY, device=f"shopper{d}", network=f"m{d}",
                    point=_near(shop, 0.02), province="79") for d in (5, 4, 3)]
    buyer = place(-1 * DAY, device="buyer", network="mb", point=shop, province="79")
    home = place(-1 * DAY + 120, device="buyer", network="home", point=_near(shop, 6),
                 province="79")
    now = place(0, device="wife", network="home-mobile", point=_near(shop, 6.02),
                province="79")
    result = assess(scan(now), _history(*shelf, buyer, home), rng())
    assert result.reasons == () and not result.flag


def test_a_family_living_by_the_shop_is_not_back_at_the_shop():
    # The buyer lives 0.8 km from the shop (within SOLD_AWAY_KM, 1 km): their home scan does
    # not mark a sale, so a spouse on mobile data at home 0.45 km from the shop (a fix a
    # little off) the next day is not a new buyer.
    shop = (21.0285, 105.8542)
    buyer = place(-DAY, device="buyer", network="mb", point=shop, province="01")
    home = place(-DAY + 240, device="buyer", network="home", point=_near(shop, 0.8),
                 province="01")
    now = place(0, device="spouse", network="ms", point=_near(shop, 0.45), province="01")
    assert "sold_again" not in assess(scan(now), _history(buyer, home), rng()).reasons


def test_sold_again_needs_a_buyer_seen_away_and_is_tunable():
    # Five phones at the stall, none ever seen elsewhere: nothing says the item left (a
    # shelf looked at by shoppers); the point-of-sale grouping applies as before.
    stall = [p for d in (9, 7, 5, 3) for p in _stall_buyer(d, f"v{d}", home_km=None)]
    now = place(0, device="v0", network="m-v0", point=MARKET_STALL, province="01")
    assert "sold_again" not in assess(scan(now), _history(*stall), rng()).reasons
    # A brand allowing one resale (returns are common for its goods) raises the limit.
    resold = _history(*_stall_buyer(2, "first"))
    assert "sold_again" not in assess(scan(now), resold, rng(max_sold_again=1)).reasons
    second = place(-DAY, device="second", network="m-second", point=MARKET_STALL,
                   province="01")
    twice = _history(*_stall_buyer(2, "first"), second)
    assert "sold_again" in assess(scan(now), twice, rng(max_sold_again=1)).reasons
