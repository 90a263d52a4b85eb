"""The fraud rules: pure functions over one scan, the code's history and its range.

Each rule has an id (the machine-readable reason), a bilingual explanation, a weight (0..1:
how much risk it adds when it fires at full strength) and named thresholds with defaults.
A brand tunes the thresholds per product through ``Product.fraud_settings`` using the
setting names below (see docs/FRAUD.md for the table).

Every threshold is the largest value that is still normal: a rule fires only when the value
is *above* it, so "exactly at the threshold" never fires. A rule returns its strength in
0..1 (0 = did not fire); count rules start at about one half just above the limit and reach
full strength at twice the limit, so a flag escalates as a clone keeps being scanned.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..regions import default_locator, haversine_km
from .facts import CodeHistory, RangeFacts, ScanFacts, ScanPlace

# Scans within this distance of where an item was first seen (accuracy radii subtracted) are
# at its point of sale: one shop, one market hall. Phones at one shelf agree within tens of
# metres; a kilometre took in a family living round the corner, whose phone at home then
# counted as one more stranger at the shelf (seed 7's shop_display false alarm, issue 19).
SHOP_KM = 0.5
# A phone that scanned the item there and later this far away has taken it from the shop
# (home, even a short walk from the market). Twice SHOP_KM, accuracy radii subtracted: a
# phone a kilometre from the shelf is not at it. At 2 km, a copy's buyer living 1.3 km from
# the stall did not count as having taken it away, and the strangers after them at the
# stall were not "sold again" (issue 19: copies at one market missed).
SOLD_AWAY_KM = 1.0
# Unrelated parties first scanning an item that left its point of sale, all at one other
# spot (within SHOP_KM of each other), from which the last is a resale (sold_again): a
# gift's family is one or two parties at the parents' home; a stall selling copies brings
# a new stranger with every fake.
STALL_ELSEWHERE = 3

# Defaults for every tunable setting; per-product values override them.
DEFAULT_SETTINGS: dict[str, float] = {
    # risk (0..100) at or above which a code is flagged for inspectors
    "flag_at": 50.0,
    # risk at or above which the consumer sees "suspicious" (higher: be sure before alarming)
    "suspicious_at": 60.0,
    # total scans of one code that are still normal (family, shop assistant, re-checks)
    "max_scans": 20.0,
    # distinct phones that may scan one code: an item on a shop display is scanned by a few
    # shoppers, then by the buyer and the family (7 is seen in practice; clones reach dozens)
    "max_devices": 8.0,
    # distinct phones scanning within burst_window_s that are still normal
    "max_burst_scans": 4.0,
    "burst_window_s": 600.0,
    # door-to-door speed no one carries a product at (a domestic flight is ~300-400 km/h)
    "max_speed_kmh": 500.0,
    # distances below this are GPS noise, rounding or one town: never "travel"
    "min_travel_km": 50.0,
    # distinct provinces a code may be scanned in: the shop's, the buyer's home across the
    # border, the parents' a few provinces away (a gift); each counted once per network
    "max_provinces": 3.0,
    # scratch-off PIN: households that claimed it (one is the buyer's) and wrong guesses
    "max_pin_claims": 1.0,
    "max_pin_failures": 3.0,
    # Unrelated parties: phones grouped into one party when they share a network (home
    # Wi-Fi, the shop's), or scan within household_km of each other within
    # household_window_s (a family at home on mobile data). A shelf item is looked at by a
    # shop assistant and a shopper or two, then one household buys it; copies of one code
    # sold at one market bring a new party with every fake.
    "max_parties": 4.0,
    # One household's phones are at one home (radii subtracted). At 10 km, anyone in the
    # city within two hours was "one household": a copy's buyers at home joined the next
    # stranger at the stall, and copies at one market went unseen.
    "household_km": 2.0,
    "household_window_s": 7200.0,
    # Unrelated parties that first scan the code at its point of sale after the item left
    # it (see sold_again): a genuine item is sold once.
    "max_sold_again": 0.0,
    # Provinces in which an unrelated party first scanned the code (the shop's and the
    # buyer's family at home across the border, the parents' who were given it).
    "max_party_provinces": 3.0,
    # Parties that carried the item from one place to another (farther than carry_km,
    # accuracy radii subtracted): a genuine item is carried home by one buyer.
    "max_carriers": 1.0,
    # A phone seen 1.5 km from where it first scanned the item (radii subtracted) took it
    # somewhere: a copy's buyer walking home from the market is a carrier too.
    "carry_km": 1.5,
    # Counted scans by one phone within 24 hours: a buyer checks at the shop, at home,
    # once more; a stall showing one genuine stamp to every customer goes on and on.
    "max_device_scans_day": 4.0,
    # Two PIN claimers are one household when linked as one party, or last seen within
    # this distance of each other (the shop and the home of one family).
    "pin_household_km": 15.0,
}

# Documented bounds of every setting a brand may tune (docs/FRAUD.md). A value outside
# them is refused with a 422 when the product is saved, and ignored (default kept) if it
# is found stored. ``flag_at`` is the inspectors' threshold: a brand may only lower it
# (flag more, e.g. diversion monitoring), never raise it to switch flags off.
SETTING_BOUNDS: dict[str, tuple[float, float]] = {
    "flag_at": (20.0, 50.0),
    "suspicious_at": (40.0, 95.0),
    "max_scans": (5.0, 1000.0),
    "max_devices": (2.0, 200.0),
    "max_burst_scans": (2.0, 100.0),
    "burst_window_s": (60.0, 86400.0),
    "max_speed_kmh": (100.0, 1200.0),
    "min_travel_km": (5.0, 300.0),
    "max_provinces": (1.0, 34.0),
    "max_pin_claims": (1.0, 10.0),
    "max_pin_failures": (1.0, 100.0),
    "max_parties": (2.0, 100.0),
    "household_km": (0.1, 50.0),
    "household_window_s": (600.0, 86400.0),
    "max_carriers": (1.0, 10.0),
    "max_party_provinces": (1.0, 34.0),
    "max_sold_again": (0.0, 10.0),
    "carry_km": (1.0, 100.0),
    "max_device_scans_day": (2.0, 200.0),
    "pin_household_km": (1.0, 100.0),
}


@dataclass(frozen=True)
class Rule:
    id: str
    weight: float
    title_en: str
    title_vi: str
    explanation_en: str
    explanation_vi: str
    settings: tuple[str, ...]
    evaluate: Callable[[ScanFacts, CodeHistory, RangeFacts, Mapping[str, float]], float]


def setting_problem(name: str, value) -> str | None:
    """Why a brand may not set ``name`` to ``value`` (None: it may)."""
    bounds = SETTING_BOUNDS.get(name)
    if bounds is None:
        return f"unknown setting; the settings are {', '.join(sorted(SETTING_BOUNDS))}"
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value):
        return "must be a finite number"
    low, high = bounds
    if not low <= value <= high:
        if name == "flag_at":
            return (f"must be between {low:g} and {high:g}: the inspectors' flag threshold "
                    "may be lowered, not raised")
        return f"must be between {low:g} and {high:g}"
    return None


def settings_for(rng: RangeFacts) -> dict[str, float]:
    """Defaults overlaid with the product's overrides; values outside the documented bounds
    (stored before the bounds existed) keep the default."""
    merged = dict(DEFAULT_SETTINGS)
    for name, value in (rng.settings or {}).items():
        if name in merged and setting_problem(name, value) is None:
            merged[name] = float(value)
    return merged


def excess_strength(value: float, limit: float) -> float:
    """0 at or below ``limit``; from ~0.5 just above it to 1.0 at twice the limit."""
    if value <= limit:
        return 0.0
    if limit <= 0:
        return 1.0
    return min(1.0, 0.5 + 0.5 * (value - limit) / limit)


def _has_point(place: ScanPlace | None) -> bool:
    # A non-finite coordinate is no position: it would raise in haversine (inf) or fire a
    # rule at full strength (NaN compares false against every limit).
    return (place is not None and place.lat is not None and place.lon is not None
            and math.isfinite(place.lat) and math.isfinite(place.lon))


def _all_places(scan: ScanFacts, history: CodeHistory) -> list[ScanPlace]:
    """The scans to judge: this one (unless it is a PIN check) and the recent ones."""
    if scan.kind != "scan":
        return list(history.recent)
    return [scan.place, *history.recent]


def _net(place: ScanPlace) -> str | None:
    """What a scan counts as for per-network counting: its network, else its device."""
    return place.network or (f"d:{place.device_hash}" if place.device_hash else None)


def _apart_km(a: ScanPlace, b: ScanPlace) -> float | None:
    """Distance that is sure (both accuracy radii subtracted); None without two points.

    Flat-earth (equirectangular) distance: these rules compare it with a few kilometres,
    where it is within 0.5 % of the great circle at a third of haversine's cost (the
    parties are worked out pairwise on every scan)."""
    if not (_has_point(a) and _has_point(b)):  # non-finite: no position (cos(inf) raises)
        return None
    dy = (a.lat - b.lat) * 110.57
    dx = (a.lon - b.lon) * 111.32 * math.cos(math.radians((a.lat + b.lat) / 2))
    slack_km = ((a.accuracy_m or 0.0) + (b.accuracy_m or 0.0)) / 1000.0
    return max(0.0, math.hypot(dx, dy) - slack_km)


def _memo(s: Mapping[str, float], name: str, scan: ScanFacts, history: CodeHistory, build):
    """Derived facts computed once per assessment (several rules read them): kept in the
    assessment's own settings dict, for this very scan and history only."""
    found = s.get(name) if isinstance(s, dict) else None
    if found is not None and found[0] is scan and found[1] is history:
        return found[2]
    value = build()
    if isinstance(s, dict):
        s[name] = (scan, history, value)
    return value


def trusted_places(scan: ScanFacts, history: CodeHistory, s: Mapping[str, float]
                   ) -> list[ScanPlace]:
    """``_all_places`` with the positions of spoofing networks removed: a network whose own
    scans jump faster than anyone travels is declaring made-up coordinates (one client
    posing as phones all over the country), so its positions count for nothing. Its scans
    stay, without a place."""
    def build() -> list[ScanPlace]:
        places = _all_places(scan, history)
        by_network: dict[str, list[ScanPlace]] = {}
        for place in places:
            if place.network and _has_point(place):
                by_network.setdefault(place.network, []).append(place)
        spoofing = {
            network for network, located in by_network.items()
            if any(travel_speed_kmh(a, b, s["min_travel_km"]) > s["max_speed_kmh"]
                   for i, a in enumerate(located) for b in located[:i])}
        if not spoofing:
            return places
        return [dataclasses.replace(p, lat=None, lon=None, province=None)
                if p.network in spoofing else p for p in places]

    return _memo(s, "_trusted", scan, history, build)


def parties(scan: ScanFacts, history: CodeHistory, s: Mapping[str, float]
            ) -> list[list[ScanPlace]]:
    """The recent scans grouped into parties (households, a shop): scans by one device, on
    one network, or close in place and time belong to one party. Scans without a device are
    each their own party unless place, time or network join them to another.

    The point of sale is one party too: everyone who scanned the item only where it was
    first seen, before anyone carried it away (the shop assistant, shoppers looking at the
    shelf, the buyer), as long as they are no more than ``max_parties`` + 1. Whoever
    scans it there *after* it was carried away is counted on their own: a genuine item
    does not come back to the shelf."""
    return point_of_sale(scan, history, s)[0]


def point_of_sale(scan: ScanFacts, history: CodeHistory, s: Mapping[str, float]
                  ) -> tuple[list[list[ScanPlace]], list[list[ScanPlace]]]:
    """The parties, and those of them that first scanned the code at its point of sale
    after a buyer had taken it from there (see ``_group``)."""
    return _memo(s, "_parties", scan, history,
                 lambda: _group(trusted_places(scan, history, s), s))


def _group(places: list[ScanPlace], s: Mapping[str, float]
           ) -> tuple[list[list[ScanPlace]], list[list[ScanPlace]]]:
    parent = list(range(len(places)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        parent[find(i)] = find(j)

    first_of: dict[str, int] = {}
    window = s["household_window_s"]
    located = sorted((i for i, p in enumerate(places) if _has_point(p)),
                     key=lambda i: places[i].at)
    origin = places[located[0]] if located else None
    # Where the item was first seen (the point of sale), closeness in place and time says
    # "strangers at one shop", not "one household": shoppers at a shelf, buyers at a stall
    # selling copies. Only device and network join a party there.
    near_origin = [origin is not None and (_apart_km(p, origin) or 0.0) <= SHOP_KM
                   for p in places]
    for i, place in enumerate(places):
        for key in (f"d:{place.device_hash}" if place.device_hash else None, place.network):
            if key is None:
                continue
            if key in first_of:
                union(i, first_of[key])
            else:
                first_of[key] = i
        for j in range(i):
            other = places[j]
            if abs((place.at - other.at).total_seconds()) > window:
                continue
            km = _apart_km(place, other)
            if km is not None and km <= s["household_km"] \
                    and not (near_origin[i] or near_origin[j]):
                union(i, j)
    sold_at: dt.datetime | None = None
    departed: dt.datetime | None = None
    if origin is not None:
        def at_shop(p: ScanPlace) -> bool:
            return (_apart_km(p, origin) or 0.0) <= SHOP_KM

        departed = next((places[i].at for i in located
                         if (_apart_km(places[i], origin) or 0.0) > s["carry_km"]), None)
        # The buyer: the first party seen at the point of sale and later away from it
        # (farther than SOLD_AWAY_KM). The item left the shop with their last scan there;
        # nobody scans a sold item on that shelf again.
        for i in located:
            away = places[i]
            if (_apart_km(away, origin) or 0.0) <= SOLD_AWAY_KM:
                continue
            there = [places[j].at for j in located
                     if find(j) == find(i) and places[j].at < away.at and at_shop(places[j])]
            if there:
                sold_at = max(there)
                break

        def before_sale(p: ScanPlace) -> bool:
            if sold_at is not None:
                return p.at <= sold_at
            return departed is None or p.at < departed

        shop = [i for i in located if before_sale(places[i]) and at_shop(places[i])]
        roots = {find(i) for i in shop}
        # Only parties seen nowhere else join the point of sale.
        members = {root: [p for i, p in enumerate(places) if find(i) == root]
                   for root in roots}
        joining = [root for root, group in members.items()
                   if all(not _has_point(p) or at_shop(p) and before_sale(p)
                          for p in group)]
        # A shelf sees an assistant, a few shoppers and the buyer; more unrelated phones
        # than a whole code may have (max_parties) besides the buyer's, at one spot, are
        # a stall selling copies, not a shelf.
        if len(joining) <= s["max_parties"] + 1:
            for root in joining[1:]:
                union(root, joining[0])
    groups: dict[int, list[ScanPlace]] = {}
    for i, place in enumerate(places):
        groups.setdefault(find(i), []).append(place)
    resold = []
    # The item left the point of sale with its buyer (sold_at) or, when no buyer was seen
    # there, with the first scan far from it (departed: the buyer bought it without
    # scanning and scanned it at home). After that it is not on the shelf: a new phone
    # first scanning it there holds another item with the same code.
    sale = sold_at if sold_at is not None else departed
    if sale is not None:
        elsewhere: list[tuple[ScanPlace, list[ScanPlace]]] = []
        for group in groups.values():
            first = min((p for p in group if _has_point(p)), key=lambda p: p.at,
                        default=None)
            if first is None or first.at <= sale:
                continue
            if at_shop(first):
                resold.append(group)
            else:
                elsewhere.append((first, group))
        # A second point of sale (STALL_ELSEWHERE): after the item left, unrelated parties
        # first scanning it at one other spot.
        elsewhere.sort(key=lambda item: item[0].at)
        for k, (first, group) in enumerate(elsewhere):
            before = sum(1 for other, _ in elsewhere[:k]
                         if (_apart_km(first, other) or 0.0) <= SHOP_KM)
            if before >= STALL_ELSEWHERE - 1:
                resold.append(group)
    return list(groups.values()), resold


def carriers(groups: list[list[ScanPlace]], carry_km: float) -> int:
    """Parties with a phone seen in two places farther apart than ``carry_km`` (radii
    subtracted). One phone, not the party: a person carries an item with their phone, while
    two phones of one party in two places are two people (or one client declaring made-up
    devices and places on one network, issue 19's sybil: its scans minutes and 10 km apart
    made a second "carrier" and flagged the genuine code)."""
    count = 0
    for group in groups:
        by_device: dict[str, list[ScanPlace]] = {}
        for p in group:
            if _has_point(p) and p.device_hash:
                by_device.setdefault(p.device_hash, []).append(p)
        if any((_apart_km(a, b) or 0.0) > carry_km
               for located in by_device.values()
               for i, a in enumerate(located) for b in located[:i]):
            count += 1
    return count


def claim_households(scan: ScanFacts, history: CodeHistory, s: Mapping[str, float]) -> int:
    """How many unrelated households claimed the PIN. A claimer is one household with
    another when they share a device or a network, belong to one party of scans, or were
    last seen (scanning this code) within ``pin_household_km`` of each other. A claimer
    never seen scanning, on a network of its own, is a household of its own."""
    claimers = list(history.pin_claimers)
    if len(claimers) <= 1:
        return len(claimers)
    party_of: dict[str, int] = {}
    last_seen: dict[str, ScanPlace] = {}
    for index, group in enumerate(parties(scan, history, s)):
        for place in group:
            if place.device_hash:
                party_of.setdefault(place.device_hash, index)
                if _has_point(place) and (place.device_hash not in last_seen
                                          or place.at > last_seen[place.device_hash].at):
                    last_seen[place.device_hash] = place
    parent = list(range(len(claimers)))

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i, (device, network) in enumerate(claimers):
        for j in range(i):
            other_device, other_network = claimers[j]
            near = None
            if device in last_seen and other_device in last_seen:
                near = _apart_km(last_seen[device], last_seen[other_device])
            related = (device == other_device or (network and network == other_network)
                       or (device in party_of and party_of.get(other_device)
                           == party_of[device])
                       or (near is not None and near <= s["pin_household_km"]))
            if related:
                parent[find(i)] = find(j)
    return len({find(i) for i in range(len(claimers))})


# -- the rules -----------------------------------------------------------------------------


def many_scans(scan, history, rng, s) -> float:
    # Each network's share capped (one client cannot inflate the count); at least this
    # scan happened even if the store lost count (Redis flushed).
    count = history.scan_count if history.capped_scan_count is None \
        else history.capped_scan_count
    return excess_strength(max(count, 1 if scan.kind == "scan" else 0), s["max_scans"])


def many_devices(scan, history, rng, s) -> float:
    # Declared device ids, but no more than the networks they came from (sybil).
    count = history.device_count if history.network_count is None \
        else min(history.device_count, history.network_count)
    return excess_strength(count, s["max_devices"])


def many_parties(scan, history, rng, s) -> float:
    """Unrelated parties among the recent scans: copies sold at one market. Only parties
    with a position count: a phone that gave none cannot be placed at the point of sale or
    anywhere else (it still counts as a device)."""
    located = sum(1 for group in parties(scan, history, s) if any(map(_has_point, group)))
    return excess_strength(located, s["max_parties"])


def sold_again(scan, history, rng, s) -> float:
    """Unrelated parties that first scanned the code where it was sold, after it left
    from there: with its buyer (a phone seen there and later farther than SOLD_AWAY_KM), or,
    when no buyer was seen there, with its first scan farther than carry_km (the owner at
    home). A genuine item is bought once, so a new phone at that stall later holds a copy."""
    return excess_strength(len(point_of_sale(scan, history, s)[1]), s["max_sold_again"])


def scattered_parties(scan, history, rng, s) -> float:
    """Provinces where an unrelated party first had the code: a gift has two (the buyer's,
    the parents'), copies sold across the country one more with every fake."""
    firsts = []
    for group in parties(scan, history, s):
        located = sorted((p for p in group if p.province), key=lambda p: p.at)
        if located:
            firsts.append(located[0])
    return excess_strength(count_provinces(firsts), s["max_party_provinces"])


def several_carriers(scan, history, rng, s) -> float:
    """More than one party carried the item from one place to another: one item cannot be
    taken home by two households."""
    return excess_strength(carriers(parties(scan, history, s), s["carry_km"]),
                           s["max_carriers"])


def repeat_scanner(scan, history, rng, s) -> float:
    """This phone's counted scans of the code in the last 24 hours (page reloads inside the
    reload window are not counted): a stall scanning one genuine stamp for every buyer."""
    device = scan.place.device_hash
    if scan.kind != "scan" or not device:
        return 0.0
    start = scan.place.at - dt.timedelta(days=1)
    count = sum(1 for p in _all_places(scan, history)
                if p.device_hash == device and start <= p.at <= scan.place.at)
    return excess_strength(count, s["max_device_scans_day"])


def scan_burst(scan, history, rng, s) -> float:
    """Distinct phones scanning within the window ending at this scan.

    One phone re-scanning (the page reloads, a doubtful buyer) counts once; scans without a
    device hash count one each, as they cannot be told apart.
    """
    window = dt.timedelta(seconds=s["burst_window_s"])
    start = scan.place.at - window
    devices: set[str] = set()
    networks: set[str] = set()
    anonymous = 0
    for place in _all_places(scan, history):
        if place.at < start or place.at > scan.place.at:
            continue
        if place.device_hash:
            devices.add(place.device_hash)
            networks.add(_net(place))
        else:
            anonymous += 1
    # Phones counted no more than the networks they came from (sybil).
    return excess_strength(min(len(devices), len(networks)) + anonymous,
                           s["max_burst_scans"])


def travel_speed_kmh(a: ScanPlace, b: ScanPlace, min_km: float) -> float:
    """Implied speed between two scans; 0 when either lacks a point or they are close."""
    if not (_has_point(a) and _has_point(b)):
        return 0.0
    # The two positions may each be off by their accuracy radius: count only what is sure.
    slack_km = ((a.accuracy_m or 0.0) + (b.accuracy_m or 0.0)) / 1000.0
    km = haversine_km(a.lat, a.lon, b.lat, b.lon) - slack_km
    if km < min_km:
        return 0.0
    # A floor of one minute: clocks and batching blur scans that seem simultaneous.
    hours = max(abs((a.at - b.at).total_seconds()), 60.0) / 3600.0
    return km / hours


def impossible_travel(scan, history, rng, s) -> float:
    if scan.kind != "scan":
        return 0.0
    here, *recent = trusted_places(scan, history, s)
    if not _has_point(here):
        return 0.0
    # Two positions declared from one network are one client's word, not two places.
    network = here.network
    fastest = max((travel_speed_kmh(here, p, s["min_travel_km"]) for p in recent
                   if network is None or p.network != network), default=0.0)
    return excess_strength(fastest, s["max_speed_kmh"])


# A fix this coarse or coarser is checked against the borders around it.
BORDER_CHECK_M = 500.0


@functools.lru_cache(maxsize=65_536)
def _possible(lat: float, lon: float, accuracy_m: float, own: str, _polygons: bool
              ) -> frozenset[str]:
    return default_locator.provinces_near(lat, lon, accuracy_m / 1000.0) | {own}


def possible_provinces(place: ScanPlace) -> frozenset[str]:
    """The units a scan may have been in: its province, and when its accuracy circle
    crosses a border, the units beyond it too ("near the border", not a move)."""
    if not place.province:
        return frozenset()
    if not _has_point(place) or (place.accuracy_m or 0.0) < BORDER_CHECK_M:
        return frozenset({place.province})
    return _possible(round(place.lat, 3), round(place.lon, 3),
                     float(round(place.accuracy_m, -2)), place.province,
                     default_locator.uses_polygons)


def count_provinces(places: list[ScanPlace]) -> int:
    """Distinct provinces, a fix near a border counted only when none of the units it may
    be in was seen already: precise fixes first, then the coarse ones."""
    seen: set[str] = set()
    count = 0
    for place in sorted(places, key=lambda p: p.accuracy_m or 0.0):
        possible = possible_provinces(place)
        if possible and not possible & seen:
            count += 1
        seen |= possible
    return count


def many_provinces(scan, history, rng, s) -> float:
    located = [p for p in trusted_places(scan, history, s) if p.province]
    # No more provinces than networks that reported them (sybil).
    networks = {_net(p) or id(p) for p in located}
    return excess_strength(min(count_provinces(located), len(networks)), s["max_provinces"])


def out_of_market(scan, history, rng, s) -> float:
    # Only a measured position counts: a province guessed without coordinates is no evidence.
    if scan.kind != "scan" or not rng.market_regions:
        return 0.0
    here = trusted_places(scan, history, s)[0]
    if not _has_point(here) or not here.province:
        return 0.0
    # A coarse fix whose circle reaches into the market may well be inside it.
    if possible_provinces(here) & set(rng.market_regions):
        return 0.0
    # Out of market says where the genuine item was sold (diversion). A scan already judged
    # impossible travel is not the genuine item, so where it is says nothing more: counting
    # it twice made one stranger's far scan (or one address's first made-up one) a flag
    # of 70 where impossible travel alone gave 45 (issue 19, the sybil population).
    return 0.0 if impossible_travel(scan, history, rng, s) > 0 else 1.0


def _standing_is(standing: str) -> Callable:
    def rule(scan, history, rng, s) -> float:
        return 1.0 if scan.standing == standing else 0.0

    return rule


def pin_reused(scan, history, rng, s) -> float:
    """Unrelated households claimed the PIN: the same household entering it again (the
    buyer the next day, the spouse at home) is not a second claim."""
    return excess_strength(claim_households(scan, history, s), s["max_pin_claims"])


def pin_guessing(scan, history, rng, s) -> float:
    return excess_strength(history.pin_failures, s["max_pin_failures"])


RULES: tuple[Rule, ...] = (
    Rule("many_scans", 0.7, "Scanned too many times", "Bị quét quá nhiều lần",
         "This code has been scanned more often than one genuine item ever is.",
         "Mã này bị quét nhiều hơn mức bình thường của một sản phẩm thật.",
         ("max_scans",), many_scans),
    Rule("many_devices", 0.75, "Too many phones", "Quá nhiều điện thoại",
         "Too many different phones scanned this one code: copies are likely in circulation.",
         "Quá nhiều điện thoại khác nhau đã quét cùng một mã: có thể mã đã bị sao chép.",
         ("max_devices",), many_devices),
    Rule("scan_burst", 0.6, "Burst of scans", "Quét dồn dập",
         "Many different phones scanned this code within a few minutes.",
         "Nhiều điện thoại khác nhau quét mã này trong vài phút.",
         ("max_burst_scans", "burst_window_s"), scan_burst),
    Rule("impossible_travel", 0.9, "Impossible travel", "Di chuyển bất khả thi",
         "Two scans of this code are too far apart for the time between them: "
         "the same stamp exists in two places.",
         "Hai lần quét mã này cách nhau quá xa so với thời gian giữa chúng: "
         "cùng một tem đang ở hai nơi.",
         ("max_speed_kmh", "min_travel_km"), impossible_travel),
    Rule("many_parties", 0.8, "Many unrelated buyers", "Nhiều người mua không liên quan",
         "Phones of several unrelated people scanned this code on different days: a "
         "genuine item is looked at in the shop, then bought by one household.",
         "Điện thoại của nhiều người không liên quan đã quét mã này vào những ngày khác "
         "nhau: một sản phẩm thật chỉ được xem ở cửa hàng rồi do một hộ gia đình mua.",
         ("max_parties", "household_km", "household_window_s"), many_parties),
    # Alone it flags for inspectors (55 >= 50) but warns no consumer (55 < 60): a genuine
    # item returned to the shop and sold again is rare, not impossible.
    Rule("sold_again", 0.55, "Sold again where it was bought", "Lại được bán ở nơi đã bán",
         "A new, unrelated phone scanned this code where it was sold, after its buyer had "
         "taken it away: one item is sold once, so copies are being sold there.",
         "Một điện thoại khác, không liên quan, quét mã này tại nơi đã bán sau khi người "
         "mua đã mang sản phẩm đi: một sản phẩm chỉ được bán một lần, nên nơi này đang "
         "bán hàng sao chép.",
         ("max_sold_again",), sold_again),
    Rule("scattered_parties", 0.7, "Unrelated buyers in many provinces",
         "Người mua không liên quan ở nhiều tỉnh",
         "Unrelated people first scanned this code in several provinces: copies are being "
         "sold across the country.",
         "Những người không liên quan lần đầu quét mã này ở nhiều tỉnh khác nhau: hàng sao "
         "chép đang được bán ở nhiều nơi.",
         ("max_party_provinces",), scattered_parties),
    Rule("several_carriers", 0.75, "Taken home twice", "Được mang về hai nơi",
         "Two unrelated people each carried this code from one place to another: one item "
         "cannot be taken home by two households.",
         "Hai người không liên quan đều mang mã này từ nơi này đến nơi khác: một sản phẩm "
         "không thể được hai hộ gia đình mang về.",
         ("max_carriers", "carry_km"), several_carriers),
    Rule("repeat_scanner", 0.8, "One phone scans it again and again",
         "Một điện thoại quét đi quét lại",
         "One phone scanned this code many times within a day: a seller may be showing one "
         "genuine stamp to buyers of copies.",
         "Một điện thoại quét mã này nhiều lần trong một ngày: người bán có thể đang dùng "
         "một tem thật để chứng minh cho hàng giả.",
         ("max_device_scans_day",), repeat_scanner),
    Rule("many_provinces", 0.6, "Scanned in many provinces", "Bị quét ở nhiều tỉnh",
         "This code was scanned in more provinces than one item travels through.",
         "Mã này bị quét ở nhiều tỉnh hơn hành trình của một sản phẩm.",
         ("max_provinces",), many_provinces),
    # Below the flag threshold alone (45 < 50): a buyer carries a product home across a
    # provincial border every day. With any other signal it flags; a brand that wants
    # every out-of-market scan flagged sets flag_at to 45 for the product.
    Rule("out_of_market", 0.45, "Outside its market", "Ngoài thị trường phân phối",
         "Scanned in a province where this batch is not sold (possible grey-market diversion).",
         "Được quét tại tỉnh không thuộc thị trường phân phối của lô hàng (có thể tuồn hàng).",
         (), out_of_market),
    Rule("not_activated", 0.6, "Not yet activated", "Chưa được kích hoạt",
         "This stamp was never activated by the brand: it should not be on sale yet.",
         "Tem này chưa được doanh nghiệp kích hoạt: sản phẩm chưa được phép bán.",
         (), _standing_is("not_activated")),
    Rule("voided", 0.9, "Voided stamp", "Tem đã bị hủy",
         "This stamp was voided (spoiled or destroyed at printing) and should not exist.",
         "Tem này đã bị hủy khi in và lẽ ra không còn tồn tại.",
         (), _standing_is("voided")),
    Rule("recalled", 0.6, "Recalled product", "Sản phẩm bị thu hồi",
         "This item belongs to a recalled batch that is still being sold.",
         "Sản phẩm thuộc lô đã bị thu hồi nhưng vẫn đang được bán.",
         (), _standing_is("recalled")),
    Rule("pin_reused", 0.85, "PIN claimed twice", "Mã PIN bị dùng lại",
         "The scratch-off PIN of this stamp has already been claimed by someone else.",
         "Mã PIN cào của tem này đã được người khác xác thực trước đó.",
         ("max_pin_claims", "pin_household_km"), pin_reused),
    Rule("pin_guessing", 0.5, "PIN guessing", "Dò mã PIN",
         "Wrong PINs were tried repeatedly on this stamp.",
         "Nhiều mã PIN sai đã được thử trên tem này.",
         ("max_pin_failures",), pin_guessing),
)

RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}

# Not a per-scan rule (forged codes have no history of their own): an aggregate over
# counterfeit scans, see ``hotspots``. Listed so that reasons and docs can name it.
HOTSPOT_REASON = "counterfeit_hotspot"
HOTSPOT_DEFAULT_MIN_FORGED = 5
# Distinct flagged genuine codes whose copies were scanned in one place: a copied-code hotspot.
HOTSPOT_DEFAULT_MIN_COPIED = 3
# Distinct client networks a hotspot needs (one client cannot invent one).
HOTSPOT_DEFAULT_MIN_NETWORKS = 3
COPIED_HOTSPOT_REASON = "copied_hotspot"
COUNTERFEIT_REASON = "counterfeit"

AGGREGATE_SIGNALS: dict[str, dict[str, str]] = {
    COUNTERFEIT_REASON: {
        "title_en": "Forged or unknown code", "title_vi": "Mã giả hoặc không xác định",
        "explanation_en": "The stamp's signature does not verify or its range was never "
                          "issued: it was not printed from this system.",
        "explanation_vi": "Chữ ký của tem không hợp lệ hoặc dải mã chưa từng được cấp: "
                          "tem không được in từ hệ thống này."},
    # Why the scan path judged a code counterfeit (its reasons on those scans).
    "bad_signature": {
        "title_en": "Bad signature", "title_vi": "Sai chữ ký",
        "explanation_en": "The serial's signature does not match this product and lot.",
        "explanation_vi": "Chữ ký của số sê-ri không khớp với sản phẩm và lô này."},
    "bad_format": {
        "title_en": "Not a stamp serial", "title_vi": "Không phải số sê-ri tem",
        "explanation_en": "The serial does not have the shape of a stamp serial.",
        "explanation_vi": "Số sê-ri không đúng định dạng của tem."},
    "unknown_key": {
        "title_en": "Unknown signing key", "title_vi": "Khóa ký không tồn tại",
        "explanation_en": "The serial names a signing key this service never had.",
        "explanation_vi": "Số sê-ri dùng một khóa ký mà hệ thống chưa từng có."},
    "unknown_range": {
        "title_en": "Never issued", "title_vi": "Chưa từng được cấp",
        "explanation_en": "The serial lies outside every issued range.",
        "explanation_vi": "Số sê-ri nằm ngoài mọi dải mã đã cấp."},
    "unknown_serial": {
        "title_en": "Wrong product for serial", "title_vi": "Sai sản phẩm",
        "explanation_en": "The serial belongs to a range of another product or lot.",
        "explanation_vi": "Số sê-ri thuộc dải mã của sản phẩm hoặc lô khác."},
    COPIED_HOTSPOT_REASON: {
        "title_en": "Copied-code hotspot", "title_vi": "Điểm nóng tem sao chép",
        "explanation_en": "Copies of several genuine codes are being sold in this province "
                          "or map cell.",
        "explanation_vi": "Hàng mang bản sao của nhiều mã thật đang được bán tại tỉnh hoặc "
                          "ô bản đồ này."},
    HOTSPOT_REASON: {
        "title_en": "Counterfeit hotspot", "title_vi": "Điểm nóng hàng giả",
        "explanation_en": "Forged codes are concentrating in this province or map cell.",
        "explanation_vi": "Mã giả đang tập trung tại tỉnh hoặc ô bản đồ này."},
}


def hotspot_places(counts: Mapping[str, int], min_forged: int) -> set[str]:
    """The places (province codes or map cells) where forged scans reach ``min_forged``.

    Unlike the per-code rules this one is "at or above": the setting reads as "this many
    forged scans make a hotspot".
    """
    return {place for place, count in counts.items() if count >= max(1, min_forged)}


def combine(strengths: Mapping[str, float]) -> int:
    """Risk 0..100: a noisy-OR of the fired rules' weighted strengths.

    Independent weak signals add up (two 50% signals give 75%) but never exceed 100, and
    one strong signal alone can carry a flag.
    """
    clear = 1.0
    for rule_id, strength in strengths.items():
        clear *= 1.0 - RULES_BY_ID[rule_id].weight * min(1.0, max(0.0, strength))
    return int(round(100 * (1.0 - clear)))
