"""Fraud scenario harness: weeks of realistic scans replayed in seconds through the REAL
scan service, and how the fraud rules did, per population.

    PYTHONPATH=$PWD python -m loadtests.fraud_harness              # embedded stack (SQLite)
    PYTHONPATH=$PWD python -m loadtests.fraud_harness --services   # PostgreSQL + Redis from
        SCANAPP_TEST_DATABASE_URL / SCANAPP_TEST_REDIS_URL (own schema and key prefix,
        dropped afterwards)

Everything goes through ``scanapp.scan.service.verify_scan`` / ``check_pin`` (stores, rules,
flags) with the service's injectable clock (``ScanComponents.clock``) set to simulated time;
ranges, flags and hotspots go through the HTTP API. Nothing in the fraud rules knows about
this module. The populations are our own model of how goods are scanned in Vietnam
(docs/FRAUD.md says what each one is); the figures are only as good as that model.

Output: one table per population (genuine: codes flagged, codes a consumer saw
"suspicious" on; copied: codes flagged, median copy scans to the first flag) and the
hotspots found. ``--json`` prints the figures as JSON instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import math
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator

from scanapp.regions import PROVINCES, cell_of

START = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)  # a Monday, 08:00 in Việt Nam
DAYS = 14
MARKET = ("01", "79")  # the product is sold in Hà Nội and TP HCM
# Neighbouring provinces (home across the border) and a third one (the parents).
NEIGHBOUR = {"01": ("24", "33", "19"), "79": ("75", "80")}
FAR_FAMILY = {"01": ("38", "40", "37", "25"), "79": ("86", "82", "92", "68")}
CLONE_PROVINCES = ("48", "92", "22", "40", "66", "56", "31", "38", "91", "24")
# A market in Hà Nội (inside the product's market) where copies are sold: Chợ Đồng Xuân.
COPY_MARKET = (21.0380, 105.8490)
# A counterfeiter's forged stamps sold in Cần Thơ (Ninh Kiều market district).
FORGED_MARKET = (10.0340, 105.7880)
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


# -- the world --------------------------------------------------------------------------------

def offset(point: tuple[float, float], km: float, rnd: random.Random) -> tuple[float, float]:
    """A point about ``km`` (uniform in a disc) from ``point``."""
    r = km * math.sqrt(rnd.random())
    angle = rnd.uniform(0, 2 * math.pi)
    lat = point[0] + (r / 111.0) * math.cos(angle)
    lon = point[1] + (r / (111.0 * math.cos(math.radians(point[0])))) * math.sin(angle)
    return (lat, lon)


def centre(province: str) -> tuple[float, float]:
    p = PROVINCES[province]
    return (p.lat, p.lon)


@dataclasses.dataclass
class Event:
    at: dt.datetime
    code: int  # index into the population's codes
    device: str
    network: str  # the client address the scan comes from
    point: tuple[float, float] | None = None
    accuracy_m: float | None = None
    kind: str = "scan"  # scan | pin (the code's own PIN)
    copy: bool = False  # a scan of a copy (not of the genuine item)


@dataclasses.dataclass
class Population:
    name: str
    description: str
    genuine: bool  # every scan is of the one genuine item (no copies exist)
    size: int
    make: Callable[[random.Random, int], list[Event]]
    pin: bool = False
    forged: bool = False  # forged serials, not codes of ours
    expect_flag: bool = False  # a code we want flagged (copied codes, the stall's stamp)
    min_size: int = 1  # a smaller --scale keeps at least this many (a hotspot needs several)


class Phones:
    """Unique device ids and client addresses."""

    def __init__(self):
        self._n = 0

    def device(self, kind: str) -> str:
        self._n += 1
        return f"{kind}-{self._n}"

    def network(self) -> str:
        self._n += 1
        n = self._n
        return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


PHONES = Phones()


def _when(rnd: random.Random, day_from: float = 0, day_to: float = DAYS - 4) -> dt.datetime:
    # Shops open 08:00-21:00 Việt Nam time (01:00-14:00 UTC).
    day = int(rnd.uniform(day_from, day_to))
    return START + dt.timedelta(days=day, hours=rnd.uniform(0, 13))


def _household(rnd, code, *, shop_province=None, home=None, with_location=True,
               accuracy=None, pin=False) -> list[Event]:
    """The ordinary life of one item: the buyer scans at the shop, again at home, the family
    looks at it (on the home Wi-Fi), page reloads now and then."""
    province = shop_province or rnd.choice(MARKET)
    shop = offset(centre(province), 8, rnd)
    home = home or offset(shop, 6, rnd)
    buyer, mobile, wifi = PHONES.device("buyer"), PHONES.network(), PHONES.network()
    bought = _when(rnd)
    loc = (lambda p: p) if with_location else (lambda p: None)
    events = [Event(bought, code, buyer, mobile, loc(shop), accuracy)]
    if rnd.random() < 0.1:  # a reload
        events.append(Event(bought + dt.timedelta(seconds=5), code, buyer, mobile, loc(shop),
                            accuracy))
    later = bought + dt.timedelta(hours=rnd.uniform(2, 30))
    if rnd.random() < 0.6:
        events.append(Event(later, code, buyer, wifi, loc(home), accuracy))
    for i in range(rnd.choice((0, 0, 1, 1, 2, 3))):
        events.append(Event(later + dt.timedelta(minutes=20 * (i + 1)), code,
                            PHONES.device("family"), wifi, loc(offset(home, 0.05, rnd)),
                            accuracy))
    if rnd.random() < 0.2:  # re-checked days later before use
        events.append(Event(later + dt.timedelta(days=rnd.uniform(1, 3)), code, buyer, wifi,
                            loc(home), accuracy))
    if pin:
        events.append(Event(bought + dt.timedelta(minutes=1), code, buyer, mobile, loc(shop),
                            kind="pin"))
        if rnd.random() < 0.5:  # the spouse re-enters the PIN at home on another phone
            spouse = PHONES.device("spouse")
            events.append(Event(later + dt.timedelta(minutes=5), code, spouse, wifi,
                                loc(home), accuracy))
            events.append(Event(later + dt.timedelta(minutes=6), code, spouse, wifi,
                                loc(home), kind="pin"))
        if rnd.random() < 0.2:  # the buyer enters it again the next day
            events.append(Event(later + dt.timedelta(days=1), code, buyer, wifi, loc(home),
                                kind="pin"))
    return events


def household(rnd, code):
    return _household(rnd, code)


def household_pin(rnd, code):
    return _household(rnd, code, pin=True)


def no_location(rnd, code):
    return _household(rnd, code, with_location=False)


def imprecise(rnd, code):
    """Coarse fixes (cell towers, Wi-Fi positioning: 1.5-15 km) near the Hà Nội - Bắc Ninh
    and TP HCM - Đồng Nai borders, where the reported point lands on either side."""
    border = rnd.choice(((21.13, 105.98), (10.90, 106.80)))
    accuracy = rnd.choice((1500.0, 3000.0, 8000.0, 15000.0))
    home = offset(border, 3, rnd)
    events = _household(rnd, code, shop_province="01" if border[0] > 15 else "79",
                        home=home, accuracy=accuracy)
    for event in events:  # each fix lands somewhere inside its accuracy circle
        if event.point is not None:
            event.point = offset(event.point, accuracy / 1000.0, rnd)
    return events


def gift(rnd, code):
    """Bought in the market, taken home across the border, given to parents far away."""
    province = rnd.choice(MARKET)
    events = _household(rnd, code, shop_province=province,
                        home=offset(centre(rnd.choice(NEIGHBOUR[province])), 8, rnd))
    last = max(e.at for e in events)
    parents_home = offset(centre(rnd.choice(FAR_FAMILY[province])), 10, rnd)
    wifi = PHONES.network()
    for i in range(rnd.choice((1, 2, 2, 3))):
        events.append(Event(last + dt.timedelta(days=rnd.uniform(2, 6), minutes=30 * i), code,
                            PHONES.device("parent"), wifi, offset(parents_home, 0.05, rnd)))
    return events


def tourist(rnd, code):
    """A visitor buys in TP HCM, flies to Đà Nẵng, ends the trip in Hà Nội."""
    shop = offset(centre("79"), 6, rnd)
    phone, net = PHONES.device("tourist"), PHONES.network()
    bought = _when(rnd)
    events = [Event(bought, code, phone, net, shop)]
    stops = (("48", rnd.uniform(3, 30)), ("01", rnd.uniform(48, 120)))
    for province, hours in stops:
        if rnd.random() < 0.7:
            events.append(Event(bought + dt.timedelta(hours=hours), code, phone,
                                PHONES.network(), offset(centre(province), 5, rnd)))
    return events


def shop_display(rnd, code):
    """An item on a shop shelf: the shop assistant checks it on arrival, a few shoppers
    scan it over the days it sits there, then one buys it and takes it home."""
    province = rnd.choice(MARKET)
    shop = offset(centre(province), 8, rnd)
    shop_wifi = PHONES.network()
    arrived = _when(rnd, 0, 3)
    events = [Event(arrived, code, PHONES.device("assistant"), shop_wifi, shop)]
    sold = arrived + dt.timedelta(days=rnd.uniform(1, 8))
    for _ in range(rnd.choice((0, 1, 1, 2, 2, 3))):
        t = arrived + (sold - arrived) * rnd.random()
        events.append(Event(t, code, PHONES.device("shopper"), PHONES.network(),
                            offset(shop, 0.02, rnd)))
    rest = _household(rnd, code, shop_province=province)
    shift = sold - min(e.at for e in rest)
    for e in rest:
        e.at += shift
        if e.point is not None and e.at == sold:
            e.point = shop
    return events + rest


def distributor(rnd, code):
    """Sold by a distributor in a province outside the market list (Cần Thơ, Đà Nẵng)."""
    return _household(rnd, code, shop_province=rnd.choice(("92", "48")))


def stall_demo(rnd, code):
    """A market stall keeps one genuine stamp and scans it for every customer, many times a
    day, to 'prove' fakes genuine: one phone, one place."""
    stall = offset(COPY_MARKET, 0.3, rnd)
    phone, net = PHONES.device("stall"), PHONES.network()
    t = _when(rnd, 0, 5)
    events = []
    for _ in range(30):
        events.append(Event(t, code, phone, net, offset(stall, 0.02, rnd), copy=True))
        t += dt.timedelta(minutes=rnd.uniform(10, 90))
    return events


def _owner(rnd, code, province="01"):
    """The genuine item's own life (its buyer and family), before and among the copies."""
    return _household(rnd, code, shop_province=province)


def copies_spread(rnd, code):
    """A code copied onto fakes sold all over the country."""
    events = _owner(rnd, code)
    first = min(e.at for e in events)
    for _ in range(rnd.randint(5, 15)):
        province = rnd.choice(CLONE_PROVINCES)
        phone, net = PHONES.device("victim"), PHONES.network()
        t = first + dt.timedelta(days=rnd.uniform(0.5, DAYS - 1))
        events.append(Event(t, code, phone, net, offset(centre(province), 8, rnd), copy=True))
    return events


def copies_market(rnd, code):
    """Copies sold at one market inside the product's own market (Hà Nội), a handful per
    code over two weeks; each buyer scans at the stall, some again at home in the city."""
    events = [] if rnd.random() < 0.5 else _owner(rnd, code)
    stall = offset(COPY_MARKET, 0.3, rnd)
    for _ in range(rnd.randint(5, 10)):
        phone, mobile = PHONES.device("victim"), PHONES.network()
        t = _when(rnd, 0, DAYS - 1)
        events.append(Event(t, code, phone, mobile, offset(stall, 0.05, rnd), copy=True))
        if rnd.random() < 0.4:
            events.append(Event(t + dt.timedelta(hours=rnd.uniform(1, 10)), code, phone,
                                PHONES.network(), offset(COPY_MARKET, 7, rnd), copy=True))
    return events


def copies_hundreds(rnd, code):
    """One code printed on hundreds of fakes."""
    events = _owner(rnd, code, "79")
    for _ in range(300):
        province = rnd.choice(CLONE_PROVINCES + ("01", "79"))
        t = START + dt.timedelta(days=rnd.uniform(0, DAYS))
        events.append(Event(t, code, PHONES.device("victim"), PHONES.network(),
                            offset(centre(province), 10, rnd), copy=True))
    return events


def pin_double(rnd, code):
    """Two unrelated phones in different provinces each claim the PIN (the original and a
    copy with the same scratch-off PIN printed under it); nobody scans it again."""
    a, b = rnd.sample(("01", "79", "48", "92"), 2)
    t = _when(rnd)
    return [Event(t, code, PHONES.device("claimer"), PHONES.network(),
                  offset(centre(a), 5, rnd), kind="pin"),
            Event(t + dt.timedelta(days=rnd.uniform(1, 6)), code, PHONES.device("claimer"),
                  PHONES.network(), offset(centre(b), 5, rnd), kind="pin", copy=True)]


def sybil_clone(rnd, code):
    """An attacker makes a genuine code look cloned from one address: made-up device ids
    and coordinates all over the country within an hour (the code must stay unflagged)."""
    events = _household(rnd, code)
    net = "203.0.113.7"
    t = max(e.at for e in events) + dt.timedelta(hours=2)
    for i in range(15):  # copy=True: the attacker's scans, not the owner's
        events.append(Event(t + dt.timedelta(minutes=4 * i), code, PHONES.device("sybil"), net,
                            offset(centre(rnd.choice(CLONE_PROVINCES)), 10, rnd), copy=True))
    return events


def forged(rnd, code):
    """Forged serials sold at one market in Cần Thơ: each bought by a different phone."""
    t = _when(rnd)
    return [Event(t, code, PHONES.device("forged"), PHONES.network(),
                  offset(FORGED_MARKET, 1.0, rnd), copy=True)]


def sybil_hotspot(rnd, code):
    """One address invents a hotspot in Đà Lạt: forged serials with made-up ids."""
    return [Event(_when(rnd), code, PHONES.device("sybil"), "198.51.100.9",
                  offset(centre("68"), 1.0, rnd), copy=True)]


POPULATIONS = (
    Population("household", "bought in the market, scanned at the shop, at home, by family",
               True, 600, household),
    Population("household_pin", "household; PIN by the buyer, re-entered by spouse/buyer",
               True, 150, household_pin, pin=True),
    Population("no_location", "household, phones give no position", True, 200, no_location),
    Population("imprecise_gps", "household near a border, fixes 1.5-15 km", True, 200,
               imprecise),
    Population("gift", "bought in market, home across the border, parents far away", True,
               200, gift),
    Population("tourist", "bought in TP HCM, carried to Đà Nẵng and Hà Nội", True, 150,
               tourist),
    Population("shop_display", "shop checks it, shoppers scan it on the shelf, one buys it",
               True, 250, shop_display),
    Population("distributor", "sold by a distributor outside the market list", True, 150,
               distributor),
    Population("sybil_clone", "genuine code; one address fakes 15 phones in 10 provinces",
               True, 20, sybil_clone),
    Population("copies_spread", "copied, 5-15 fakes sold in other provinces", False, 30,
               copies_spread, expect_flag=True),
    Population("copies_market", "copied, 5-10 fakes sold at one Hà Nội market", False, 40,
               copies_market, expect_flag=True),
    Population("copies_hundreds", "one code on 300 fakes nationwide", False, 3,
               copies_hundreds, expect_flag=True),
    Population("stall_demo", "a stall scans one genuine stamp 30 times a day", False, 10,
               stall_demo, expect_flag=True),
    Population("pin_double", "two unrelated phones in two provinces claim the PIN", False,
               30, pin_double, pin=True, expect_flag=True),
    Population("forged", "forged serials sold at one Cần Thơ market", False, 40, forged,
               forged=True, min_size=12),
    Population("sybil_hotspot", "one address sends 30 forged serials in Đà Lạt", False, 30,
               sybil_hotspot, forged=True, min_size=30),
)


# -- the service ------------------------------------------------------------------------------

class SimClock:
    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@dataclasses.dataclass
class Stack:
    overrides: dict
    cleanup: Callable[[], None]


def _stack(services: bool) -> Stack:
    run = secrets.token_hex(4)
    base = {"ENV": "testing", "TESTING": True, "RATELIMIT_ENABLED": False,
            "SCAN_FLAGS_IN_BACKGROUND": False, "PUBLIC_BASE_URL": "https://scan.example.vn",
            "SECRET_KEY": "harness-secret-" + "x" * 24, "SERIAL_KEY": "harness-serial-" + "y" * 24,
            "PIN_KEY": "harness-pin-" + "z" * 24, "REDIS_PREFIX": f"scanapp-harness-{run}"}
    if not services:
        folder = tempfile.mkdtemp(prefix="scanapp-harness-")
        path = os.path.join(folder, "harness.db")

        def cleanup():
            for name in os.listdir(folder):
                os.remove(os.path.join(folder, name))
            os.rmdir(folder)

        return Stack({**base, "DATABASE_URL": f"sqlite:///{path}", "AUTO_MIGRATE": True,
                      "REDIS_URL": None}, cleanup)
    import redis
    import sqlalchemy as sa

    pg, rd = os.environ["SCANAPP_TEST_DATABASE_URL"], os.environ["SCANAPP_TEST_REDIS_URL"]
    schema = f"scanapp_harness_{run}"
    admin = sa.create_engine(pg)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))

    def cleanup():
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
        client = redis.Redis.from_url(rd)
        for key in list(client.scan_iter(match=base["REDIS_PREFIX"] + ":*", count=1000)):
            client.delete(key)
        client.close()

    return Stack({**base, "DATABASE_URL": pg, "DATABASE_SCHEMA": schema, "REDIS_URL": rd,
                  "AUTO_MIGRATE": False}, cleanup)


class World:
    """The app, a brand with one product, keys, and the simulated clock."""

    def __init__(self, overrides: dict, product_fields: dict | None = None):
        from scanapp import create_app
        from scanapp import migrations as scanapp_migrations
        from scanapp.auth import service as auth_service
        from scanapp.auth.models import Role
        from scanapp.db import session_scope
        from scanapp.scan import service as scan_service
        from scanapp.services import services

        self.app = create_app(overrides)
        if not overrides.get("AUTO_MIGRATE"):
            scanapp_migrations.upgrade(self.app)
        self.client = self.app.test_client()
        with self.app.app_context(), session_scope(self.app) as session:
            _key, self.brand_key = auth_service.issue_key(session, "Harness Brand", Role.BRAND)
        with self.app.app_context(), session_scope(self.app) as session:
            _key, self.inspector_key = auth_service.issue_key(session, "Harness QLTT",
                                                              Role.INSPECTOR)
        self.clock = SimClock(START)
        services(self.app).scan.clock = self.clock
        self.scan_service = scan_service
        self.gtin = "08934567890120"
        made = self._post("/api/v1/products", self.brand_key, {
            "gtin": self.gtin, "name": "Nước mắm Phú Quốc (harness)",
            "market_regions": list(MARKET), **(product_fields or {})})
        assert made.status_code == 201, made.get_json()

    def _post(self, url, key, body):
        return self.client.post(url, json=body, headers={"Authorization": f"Bearer {key}"})

    def get(self, url):
        response = self.client.get(url, headers={"Authorization": f"Bearer {self.inspector_key}"})
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def issue(self, quantity: int, pin: bool) -> list[tuple[str, str | None]]:
        made = self._post("/api/v1/ranges", self.brand_key,
                          {"gtin": self.gtin, "quantity": quantity, "pin": pin})
        assert made.status_code == 201, made.get_json()
        range_id = made.get_json()["id"]
        for action in ("print", "activate"):
            done = self._post(f"/api/v1/ranges/{range_id}/{action}", self.brand_key, {})
            assert done.status_code == 200, done.get_json()
        csv = self.client.get(f"/api/v1/ranges/{range_id}/codes.csv",
                              headers={"Authorization": f"Bearer {self.brand_key}"})
        rows = [line.split(",") for line in csv.get_data(as_text=True).splitlines()[1:]]
        csv.close()
        return [(cells[0], cells[2] if pin and len(cells) > 2 else None) for cells in rows]

    def uri(self, serial: str) -> str:
        from scanapp.serials.stamps import stamp_uri

        return stamp_uri(self.app.config["PUBLIC_BASE_URL"], self.gtin, serial, None, None)


# -- replay and figures -----------------------------------------------------------------------

@dataclasses.dataclass
class CodeOutcome:
    population: str
    serial: str
    copy_scans: int = 0
    copy_scans_to_flag: int | None = None
    suspicious_seen: bool = False  # some scan answered "suspicious"
    suspicious_by_owner: bool = False  # ... to a scan of the genuine item itself
    flagged: bool = False


def _forged_serial(rnd: random.Random) -> str:
    return "1" + "".join(rnd.choice(ALPHABET) for _ in range(19))


def run(seed: int = 2026, scale: float = 1.0, services: bool = False,
        echo: Callable[[str], None] = print) -> dict:
    from sqlalchemy import select

    from scanapp.db import session_scope
    from scanapp.fraud.models import Flag
    from scanapp.scan.service import ScanRequest, check_pin, verify_scan

    rnd = random.Random(seed)
    stack = _stack(services)
    try:
        world = World(stack.overrides)
        app = world.app
        plan: list[tuple[Event, Population, str, str | None]] = []
        outcomes: dict[str, CodeOutcome] = {}
        for population in POPULATIONS:
            size = max(population.min_size, round(population.size * scale))
            if population.forged:
                codes = [(_forged_serial(rnd), None) for _ in range(size)]
            else:
                codes = world.issue(size, population.pin)
            for index, (serial, pin) in enumerate(codes):
                outcomes[serial] = CodeOutcome(population.name, serial)
                for event in population.make(rnd, index):
                    plan.append((event, population, serial, pin))
        plan.sort(key=lambda item: item[0].at)
        started = time.perf_counter()
        flagged: set[str] = set()
        with app.app_context():
            for event, population, serial, pin in plan:
                world.clock.now = event.at
                outcome = outcomes[serial]
                lat, lon = event.point if event.point else (None, None)
                if event.kind == "scan":
                    result = verify_scan(app, ScanRequest(
                        code=world.uri(serial), lat=lat, lon=lon, accuracy_m=event.accuracy_m,
                        device_id=event.device, client_address=event.network,
                        source="consumer"))
                    if result.verdict == "suspicious":
                        outcome.suspicious_seen = True
                        if not event.copy:
                            outcome.suspicious_by_owner = True
                else:
                    check_pin(app, world.uri(serial), pin or "00000000", event.device,
                              event.network)
                if event.copy:
                    outcome.copy_scans += 1
                if population.expect_flag and outcome.copy_scans_to_flag is None \
                        and serial not in flagged:
                    with session_scope(app) as session:
                        if session.scalar(select(Flag.id).where(Flag.serial == serial)):
                            flagged.add(serial)
                            outcome.copy_scans_to_flag = outcome.copy_scans
        elapsed = time.perf_counter() - started
        reasons: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        with session_scope(app) as session:
            for serial, flag_reasons in session.execute(select(Flag.serial, Flag.reasons)):
                if serial in outcomes:
                    outcomes[serial].flagged = True
                    for reason in flag_reasons:
                        reasons[outcomes[serial].population][reason] += 1
        since = START.isoformat()
        until = (START + dt.timedelta(days=DAYS + 1)).isoformat()
        from urllib.parse import quote

        spots = world.get(f"/api/v1/hotspots?since={quote(since)}&until={quote(until)}")
        figures = _figures(outcomes, spots, len(plan), elapsed, _sold_at(plan))
        figures["flag_reasons"] = {name: dict(sorted(counts.items(), key=lambda kv: -kv[1]))
                                   for name, counts in reasons.items()}
        figures["seed"], figures["scale"] = seed, scale
        figures["stack"] = "services (PostgreSQL + Redis)" if services else "embedded (SQLite)"
        for hook in app.extensions.get("scanapp.shutdown_hooks", []):
            hook()
        from scanapp.db import get_engine

        get_engine(app).dispose()
        return figures
    finally:
        stack.cleanup()


def _median(values: list[int]) -> float | None:
    return statistics.median(values) if values else None


def _sold_at(plan) -> dict[str, set[str]]:
    """Where copies and forgeries were really sold (provinces and map cells of their scans,
    as the service rounds them): a hotspot anywhere else would be a false one. The sybil
    populations' made-up places are not places where anything was sold."""
    from scanapp.regions import default_locator

    places: dict[str, set[str]] = defaultdict(set)
    for event, population, _serial, _pin in plan:
        if not event.copy or event.point is None or population.name.startswith("sybil"):
            continue
        kind = "forged" if population.forged else "copied-code"
        lat, lon = round(event.point[0], 3), round(event.point[1], 3)
        places[f"{kind} hotspots (provinces)"].add(default_locator.province_at(lat, lon))
        places[f"{kind} hotspots (cells)"].add(cell_of(lat, lon))
    return places


def _figures(outcomes: dict[str, CodeOutcome], spots: dict, events: int,
             elapsed: float, sold_at: dict[str, set[str]] | None = None) -> dict:
    rows = []
    by_population: dict[str, list[CodeOutcome]] = defaultdict(list)
    for outcome in outcomes.values():
        by_population[outcome.population].append(outcome)
    genuine_codes = genuine_flagged = 0
    all_first = []
    for population in POPULATIONS:
        items = by_population[population.name]
        if population.forged:
            continue
        flagged = sum(o.flagged for o in items)
        row = {"population": population.name, "what": population.description,
               "kind": "genuine" if population.genuine else "copied",
               "codes": len(items), "flagged": flagged,
               "flagged_pct": round(100 * flagged / len(items), 2),
               "consumer_suspicious": sum(o.suspicious_by_owner for o in items)}
        if population.genuine:
            genuine_codes += len(items)
            genuine_flagged += flagged
        else:
            eligible = [o for o in items if o.copy_scans >= 5 or population.name == "pin_double"]
            firsts = [o.copy_scans_to_flag for o in items if o.copy_scans_to_flag is not None]
            all_first += firsts
            row.update({
                "eligible": len(eligible),
                "eligible_flagged": sum(o.flagged for o in eligible),
                "median_copy_scans_to_flag": _median(firsts),
                "copy_buyers_warned": sum(o.suspicious_seen for o in items)})
        rows.append(row)

    def found(level: str, key: str, want: str, kind: str) -> bool:
        for place in spots[level]:
            if place[key] == want and place.get(kind):
                return True
        return False

    forged_cell = cell_of(*FORGED_MARKET)
    copy_cell = cell_of(*COPY_MARKET)
    hot = {
        "forged hotspot, province Cần Thơ (92)": found("provinces", "province", "92", "hotspot"),
        f"forged hotspot, cell {forged_cell}": found("cells", "cell", forged_cell, "hotspot"),
        "copied-code hotspot, province Hà Nội (01)": found("provinces", "province", "01",
                                                            "copied_hotspot"),
        f"copied-code hotspot, cell {copy_cell}": found("cells", "cell", copy_cell,
                                                       "copied_hotspot"),
        "no hotspot invented by one address (Lâm Đồng, 68)": not any(
            p["province"] == "68" and (p.get("hotspot") or p.get("copied_hotspot"))
            for p in spots["provinces"]),
    }
    # Every place that is a hotspot of either kind: the expected ones, and nothing else.
    where = {f"{kind} hotspots ({level})": sorted(place[key] for place in spots[level]
                                                  if place.get(flag))
             for kind, flag in (("forged", "hotspot"), ("copied-code", "copied_hotspot"))
             for level, key in (("provinces", "province"), ("cells", "cell"))}
    if sold_at is not None:
        for name, places in where.items():
            false = sorted(set(places) - sold_at.get(name, set()))
            hot[f"{name}: none where no copy or forgery was sold"] = not false
    return {"populations": rows, "hotspots": hot, "hotspot_places": where,
            "genuine": {"codes": genuine_codes, "flagged": genuine_flagged,
                        "flagged_pct": round(100 * genuine_flagged / max(genuine_codes, 1), 2)},
            "median_copy_scans_to_flag": _median(all_first),
            "events": events, "replay_s": round(elapsed, 1)}


def render(figures: dict) -> Iterator[str]:
    yield (f"Fraud harness: seed {figures['seed']}, scale {figures['scale']}, "
           f"{figures['stack']}; {figures['events']} events over {DAYS} simulated days "
           f"replayed in {figures['replay_s']} s")
    yield ""
    yield "Genuine codes (no copy exists)"
    yield "| population | codes | flagged | flagged % | consumer saw \"suspicious\" |"
    yield "| --- | ---: | ---: | ---: | ---: |"
    for row in figures["populations"]:
        if row["kind"] == "genuine":
            yield (f"| {row['population']} | {row['codes']} | {row['flagged']} | "
                   f"{row['flagged_pct']} | {row['consumer_suspicious']} |")
    g = figures["genuine"]
    yield f"| **all genuine** | {g['codes']} | {g['flagged']} | {g['flagged_pct']} | |"
    yield ""
    yield "Copied codes"
    yield ("| population | codes | flagged | with >= 5 copy scans: flagged | median copy scans "
           "to first flag | genuine owner saw \"suspicious\" |")
    yield "| --- | ---: | ---: | ---: | ---: | ---: |"
    for row in figures["populations"]:
        if row["kind"] == "copied":
            yield (f"| {row['population']} | {row['codes']} | {row['flagged']} | "
                   f"{row['eligible_flagged']}/{row['eligible']} | "
                   f"{row['median_copy_scans_to_flag']} | {row['consumer_suspicious']} |")
    yield f"| **all copied** | | | | {figures['median_copy_scans_to_flag']} | |"
    yield ""
    yield "Reasons on the flags raised (codes per reason)"
    yield "| population | reasons |"
    yield "| --- | --- |"
    for population in POPULATIONS:
        counts = figures.get("flag_reasons", {}).get(population.name)
        if counts:
            yield (f"| {population.name} | "
                   + ", ".join(f"{reason} {n}" for reason, n in counts.items()) + " |")
    yield ""
    yield "Hotspots"
    yield "| expected | found |"
    yield "| --- | --- |"
    for name, ok in figures["hotspots"].items():
        yield f"| {name} | {'yes' if ok else 'NO'} |"
    yield ""
    yield "Every hotspot found"
    yield "| kind | places |"
    yield "| --- | --- |"
    for name, places in figures.get("hotspot_places", {}).items():
        shown = ", ".join(places[:12]) + (f" ... ({len(places)} in all)"
                                          if len(places) > 12 else "")
        yield f"| {name} | {shown or 'none'} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply every population's size")
    parser.add_argument("--services", action="store_true",
                        help="PostgreSQL + Redis from SCANAPP_TEST_DATABASE_URL/_REDIS_URL")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    figures = run(args.seed, args.scale, args.services)
    if args.json:
        print(json.dumps(figures, indent=2, ensure_ascii=False))
    else:
        for line in render(figures):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
