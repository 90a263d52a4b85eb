"""Copies sold at one market and shop shelves (issue 19, the copies_market and shop_display
populations): each rule change at its boundary, and the scenarios through the real API.

Kept apart from test_rules.py (issue 22 adds mutation-testing tests there)."""

from __future__ import annotations

import datetime as dt

import pytest

from scanapp.risk.engine import assess
from scanapp.risk.facts import CodeHistory, RangeFacts, ScanFacts, ScanPlace
from scanapp.risk.rules import DEFAULT_SETTINGS, SHOP_KM

T0 = dt.datetime(2026, 11, 20, 3, 0, tzinfo=dt.UTC)
DAY = 24 * 60
SHOP = (21.0492, 105.8362)  # seed 7's shop in Hà Nội
STALL = (21.0380, 105.8490)  # Chợ Đồng Xuân
CARRY_KM = DEFAULT_SETTINGS["carry_km"]
MARKET = RangeFacts(range_id=1, status="activated", market_regions=("01", "79"))


def _near(point, km_north=0.0, km_east=0.0):
    # 111.0 km per degree of latitude; 103.9 km per degree of longitude at 21° N.
    return (point[0] + km_north / 110.57, point[1] + km_east / 103.9)


def place(minutes, device, network, point) -> ScanPlace:
    return ScanPlace(at=T0 + dt.timedelta(minutes=minutes), lat=point[0], lon=point[1],
                     province="01", device_hash=device, network=network)


def judge(now: ScanPlace, *before: ScanPlace, rng: RangeFacts = MARKET):
    recent = tuple(sorted(before, key=lambda p: p.at, reverse=True))
    devices = {p.device_hash for p in (*before, now)}
    history = CodeHistory(scan_count=len(before) + 1, device_count=len(devices),
                          recent=recent)
    return assess(ScanFacts(serial="1ABCDEFGHJKMNPQRSTVW", gtin="08934567890120",
                            place=now, standing="genuine"), history, rng)


# -- sold_again after the item left unscanned ---------------------------------------------

def _left_unscanned(home_km: float) -> list[ScanPlace]:
    """The shop assistant checks it on arrival; the buyer pays without scanning and scans
    it only at home ``home_km`` from the shop, a day later."""
    return [place(-5 * DAY, "assistant", "shop-wifi", STALL),
            place(-DAY, "buyer", "home", _near(STALL, home_km))]


def test_a_new_phone_at_the_shop_after_the_item_was_carried_away_unscanned_is_sold_again():
    # Before: nobody was seen both at the shop and away, so no sale was known and the new
    # phone at the stall joined the shelf. The item left with its first scan far away.
    now = place(0, "stranger", "m-stranger", STALL)
    result = judge(now, *_left_unscanned(home_km=CARRY_KM + 0.2))
    assert result.reasons == ("sold_again",)
    assert result.flag and not result.suspicious  # inspectors see it; no consumer is warned


def test_a_scan_just_within_carry_km_has_not_taken_the_item_away():
    # The boundary: the first scan farther than carry_km (1.5 km) marks the departure; one
    # 200 m closer may be the shop's neighbourhood (and nobody is known to have bought it
    # there).
    now = place(0, "stranger", "m-stranger", STALL)
    assert "sold_again" not in judge(now, *_left_unscanned(home_km=CARRY_KM - 0.2)).reasons


def test_shoppers_before_the_departure_are_not_counted_as_sold_again():
    # A shopper scanned it on the shelf before it left: one party at the shop after the
    # departure (the new phone), not two. With one resale allowed, nothing fires.
    shopper = place(-3 * DAY, "shopper", "m-shopper", _near(STALL, 0.02))
    now = place(0, "stranger", "m-stranger", STALL)
    allow_one = RangeFacts(range_id=1, status="activated", market_regions=("01", "79"),
                           settings={"max_sold_again": 1})
    assert "sold_again" not in judge(now, shopper, *_left_unscanned(5.0), rng=allow_one).reasons
    # ... and with the default (none allowed) the new phone alone fires it.
    assert "sold_again" in judge(now, shopper, *_left_unscanned(5.0)).reasons


# -- the point of sale is one spot: SHOP_KM ---------------------------------------------------

def _full_shelf() -> list[ScanPlace]:
    """Seed 7's shop_display code: the assistant on arrival, three shoppers, the buyer at
    the shop; the buyer never scans it at home."""
    shelf = [place(-2 * DAY, "assistant", "shop-wifi", SHOP)]
    shelf += [place(-DAY - 600 + 240 * i, f"shopper{i}", f"m{i}", _near(SHOP, 0.01 * i))
              for i in range(3)]
    shelf.append(place(-18 * 60, "buyer", "m-buyer", SHOP))
    return shelf


def test_a_family_phone_at_home_600_m_from_the_shop_is_not_a_sixth_stranger_at_the_shelf():
    family = place(0, "family", "home-wifi", _near(SHOP, -0.09, -0.57))  # 0.58 km
    result = judge(family, *_full_shelf())
    assert result.reasons == () and not result.flag and not result.suspicious


@pytest.mark.parametrize("km, at_the_shelf", [(SHOP_KM - 0.05, True), (SHOP_KM + 0.05, False)])
def test_a_sixth_phone_counts_at_the_shelf_only_within_shop_km(km, at_the_shelf):
    # Within SHOP_KM it is one more stranger at the spot: six unrelated phones at one
    # shelf before anyone took the item away are copies sold at a stall (many_parties).
    sixth = place(0, "sixth", "m-sixth", _near(SHOP, km))
    result = judge(sixth, *_full_shelf())
    assert ("many_parties" in result.reasons) is at_the_shelf
    assert result.flag is at_the_shelf


# -- the same scenarios through the scan API (both stacks) ------------------------------------

def _scan(client, stamp, device, address, point):
    response = client.post("/api/v1/scans", json={
        "code": stamp.uri, "device_id": device, "source": "consumer",
        "lat": point[0], "lon": point[1]}, environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _flag(inspector, serial):
    items = inspector.get("/api/v1/flags?per_page=200").get_json()["items"]
    return next((f for f in items if f["serial"] == serial), None)


def test_copies_at_a_stall_are_flagged_at_the_third_copy_once_the_owner_scanned_at_home(
        client, inspector, issue_stamps, clock):
    # Two buyers of copies scan "it" at the stall on two days; the genuine item's owner
    # (who bought it elsewhere without scanning) scans it at home 6 km away; a third buyer
    # at the stall holds a copy: flagged at that third copy scan, no consumer warned.
    stamp = issue_stamps(1)[0]
    assert _scan(client, stamp, "victim-1", "100.66.0.1", STALL)["verdict"] == "authentic"
    clock.advance(86400)
    assert _scan(client, stamp, "victim-2", "100.66.0.2",
                 _near(STALL, 0.03))["verdict"] == "authentic"
    clock.advance(86400)
    assert _scan(client, stamp, "owner", "100.66.0.3", _near(STALL, 6.0))["verdict"] == \
        "authentic"
    assert _flag(inspector, stamp.serial) is None
    clock.advance(86400)
    third = _scan(client, stamp, "victim-3", "100.66.0.4", _near(STALL, -0.02))
    assert third["verdict"] == "authentic"  # sold_again alone warns no one
    flag = _flag(inspector, stamp.serial)
    assert flag is not None and "sold_again" in flag["reasons"]


def test_a_shelf_item_and_the_family_living_by_the_shop_raise_nothing(
        client, inspector, issue_stamps, clock):
    # Seed 7's false alarm, replayed through the service: assistant, three shoppers and
    # the buyer at the shop over two days, then a family phone on the home Wi-Fi 600 m away.
    stamp = issue_stamps(1)[0]
    verdicts = [_scan(client, stamp, "assistant", "100.67.0.1", SHOP)["verdict"]]
    for i in range(3):
        clock.advance(8 * 3600)
        verdicts.append(_scan(client, stamp, f"shopper-{i}", f"100.67.1.{i}",
                              _near(SHOP, 0.01 * i))["verdict"])
    clock.advance(10 * 3600)
    verdicts.append(_scan(client, stamp, "buyer", "100.67.0.2", SHOP)["verdict"])
    clock.advance(18 * 3600)
    verdicts.append(_scan(client, stamp, "family", "100.67.0.3",
                          _near(SHOP, -0.09, -0.57))["verdict"])
    assert verdicts == ["authentic"] * 6
    assert _flag(inspector, stamp.serial) is None
