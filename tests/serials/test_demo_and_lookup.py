"""The demo step, PINs, stamp URI parsing, and the lookup index across workers."""

from __future__ import annotations

import datetime as dt

import pytest

from scanapp.demo import DEMO_BRAND, DEMO_PRINTER
from scanapp.errors import InvalidInput
from scanapp.serials import lookup
from scanapp.serials.demo import seed_serials
from scanapp.serials.pins import check_pin, pin_for
from scanapp.serials.stamps import StampRef, parse_stamp_uri, stamp_uri
from scanapp.services import services
from tests.conftest import gtin14
from tests.serials.conftest import codes_of

GTIN = "08934567890120"
# What scanapp/demo.py hands its steps (the demo organisations' names).
DEMO_ORGS = {"brand_name": DEMO_BRAND, "printer_name": DEMO_PRINTER}


def test_demo_step_issues_an_activated_range_once(app, make_actor):
    brand = make_actor("brand", DEMO_BRAND)
    make_actor("printer", DEMO_PRINTER)
    product = brand.post("/api/v1/products", json={"gtin": gtin14("0893111111111"),
                                                   "name": "Demo"}).get_json()
    with app.app_context():
        first = seed_serials(app, {**DEMO_ORGS, "gtin": product["gtin"], "lines": ["earlier"]})
        again = seed_serials(app, {**DEMO_ORGS, "gtin": product["gtin"]})
    assert first["demo_range_id"] == again["demo_range_id"]
    assert first["lines"][0] == "earlier"  # other steps' lines are kept
    assert any(first["demo_stamp_uri"] in line for line in first["lines"])
    assert "█" in "".join(first["lines"])  # the QR drawn in the terminal
    ranges = brand.get("/api/v1/ranges").get_json()
    assert [(r["status"], r["quantity"], r["pin"]) for r in ranges] == [("activated", 12, True)]


@pytest.mark.no_storage
def test_pins_are_8_digits_stable_and_checked(app, app_factory):
    with app.app_context():
        pins = [pin_for(seq, app) for seq in range(200)]
        assert all(len(p) == 8 and p.isdigit() for p in pins)
        assert len(set(pins)) > 195
        assert check_pin(5, pins[5], app) and check_pin(5, f" {pins[5][:4]}-{pins[5][4:]} ",
                                                        app)
        assert not check_pin(5, pins[6], app) and not check_pin(5, "", app)
    other = app_factory(PIN_KEY="another-pin-key-" + "q" * 20)
    with other.app_context():
        assert pin_for(5, other) != pins[5]


def test_csv_pins_match_pin_for(app, brand, issue):
    created = issue(brand, quantity=4, pin=True)
    rows = codes_of(brand, created["id"])
    with app.app_context():
        for serial, _uri, pin in rows:
            seq = services(app).codec.verify(serial, created["gtin"], None)
            assert check_pin(seq, pin, app)


@pytest.mark.parametrize("text,expected", [
    ("https://scan.example.vn/01/08934567890120/21/ABC123",
     StampRef(GTIN, "ABC123")),
    ("HTTPS://SCAN.EXAMPLE.VN/01/08934567890120/10/L1/21/ABC123/",
     StampRef(GTIN, "ABC123", "L1")),
    ("/01/08934567890120/10/L%2F1/21/ABC123?17=261231",
     StampRef(GTIN, "ABC123", "L/1", dt.date(2026, 12, 31))),
    ("http://other.host:8080/01/8934567890120/21/X", StampRef(GTIN, "X")),
])
def test_parse_stamp_uri_accepts_any_host_case_and_paths(text, expected):
    assert parse_stamp_uri(text) == expected


@pytest.mark.parametrize("text", [
    "https://x.vn/01/08934567890121/21/ABC",          # bad check digit
    "https://x.vn/01/08934567890120/21/AB~C",         # outside GS1's character set
    "https://x.vn/01/08934567890120/21/ABC/10/L1",    # qualifiers out of order
    "https://x.vn/01/08934567890120",                 # no serial
    "https://x.vn/21/ABC",                            # no GTIN
    "https://x.vn/01/08934567890120/21/ABC?17=261399",  # impossible date
    "ftp://x.vn/01/08934567890120/21/ABC",
    "", "x" * 3000,
])
def test_parse_stamp_uri_rejects_bad_digital_links(text):
    with pytest.raises(InvalidInput) as caught:
        parse_stamp_uri(text)
    assert caught.value.code == "invalid_digital_link"


def test_stamp_uri_round_trips_and_escapes_the_lot():
    uri = stamp_uri("https://scan.example.vn/", GTIN, "S1", "A<B", dt.date(2027, 1, 5))
    assert uri == "https://scan.example.vn/01/08934567890120/10/A%3CB/21/S1?17=270105"
    assert parse_stamp_uri(uri) == StampRef(GTIN, "S1", "A<B", dt.date(2027, 1, 5))


def test_another_worker_sees_status_changes_within_the_refresh_period(
        app, app_factory, brand, issue, monkeypatch):
    created = issue(brand, quantity=3)
    serial = codes_of(brand, created["id"])[1][0]
    worker = app_factory()
    with worker.app_context():
        seq = services(worker).codec.verify(serial, created["gtin"], None)
        info = lookup.find_range(seq, worker)
        assert lookup.code_status(info, seq, worker) == "issued"
    brand.post(f"/api/v1/ranges/{created['id']}/print")
    brand.post(f"/api/v1/ranges/{created['id']}/void", json={"serials": [serial]})
    with worker.app_context():
        # Within the refresh period the worker still answers from its index ...
        assert lookup.code_status(info, seq, worker) == "issued"
        # ... and after it, one query brings the range and its overrides up to date.
        monkeypatch.setattr(lookup, "REFRESH_SECONDS", 0.0)
        assert lookup.code_status(info, seq, worker) == "voided"
        assert lookup.find_range(seq, worker).status == "printed"


def test_scans_keep_verifying_from_the_cache_while_the_database_is_down(
        app, brand, issue, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from scanapp.serials import codec as codec_module

    created = issue(brand, quantity=2)
    serial = codes_of(brand, created["id"])[0][0]
    with app.app_context():
        seq = services(app).codec.verify(serial, created["gtin"], None)
        info = lookup.find_range(seq, app)

        def unreachable(_app=None):
            raise OperationalError("SELECT 1", {}, Exception("connection refused"))

        monkeypatch.setattr(codec_module, "get_engine", unreachable)
        monkeypatch.setattr(lookup, "get_engine", unreachable)
        monkeypatch.setattr(codec_module, "KEY_REFRESH_SECONDS", 0.0)
        monkeypatch.setattr(lookup, "REFRESH_SECONDS", 0.0)
        assert services(app).codec.verify(serial, created["gtin"], None) == seq
        assert lookup.find_range(seq, app) == info
        assert lookup.code_status(info, seq, app) == "issued"
