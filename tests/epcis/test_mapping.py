"""The CBV mapping as pure functions: every event shape scanapp emits is valid EPCIS 2.0."""

import copy
import datetime as dt

import pytest

from scanapp.epcis import mapping
from scanapp.epcis.mapping import RangeFacts
from tests.epcis.schema import BIZSTEPS, DISPOSITIONS, assert_valid, errors

BASE = "https://scan.example.vn"
NS = BASE + "/ns/epcis#"
AT = dt.datetime(2026, 11, 25, 3, 4, 5, 678000, tzinfo=dt.UTC)
RANGE = RangeFacts(range_id=7, gtin="08934567890120", lot="L2026A", expiry=dt.date(2027, 6, 30),
                   quantity=10_000_000, brand_org_id=1, printer_org_id=2)
SERIALS = ("0ABCDEFGHJK12345678", "0ABCDEFGHJK12345679")


def every_kind() -> list[mapping.MappedEvent]:
    return [
        mapping.range_issued(BASE, RANGE, AT),
        *[mapping.range_transitioned(BASE, RANGE, action, AT) for action in mapping.TRANSITIONS],
        *[mapping.range_transitioned(BASE, RANGE, action, AT, SERIALS, reason="spoiled")
          for action in mapping.TRANSITIONS],
        mapping.field_inspection(BASE, inspection_id=1, gtin=RANGE.gtin, serial=SERIALS[0],
                                 lot="L2026A", at=AT, finding="counterfeit", province="79",
                                 lat=10.7769, lon=106.7009, brand_org_id=1),
        mapping.field_inspection(BASE, inspection_id=2, gtin=RANGE.gtin, serial=SERIALS[0],
                                 lot=None, at=AT, finding="product_absent", province=None,
                                 lat=None, lon=None, brand_org_id=None),
        mapping.flag_raised(BASE, flag_id=3, gtin=RANGE.gtin, serial=SERIALS[1], lot="L2026A",
                            at=AT, risk=87, reasons=("impossible_travel", "many_devices"),
                            escalated=True, brand_org_id=1),
        *[mapping.case_decided(BASE, case_id=3, gtin=RANGE.gtin, serial=SERIALS[1],
                               lot="L2026A", at=AT, status=status, brand_org_id=1)
          for status in ("investigating", "confirmed_counterfeit", "false_alarm")],
        mapping.scans_observed(BASE, day=dt.date(2026, 11, 24), gtin=RANGE.gtin,
                               province="01", scans=12, codes=9, brand_org_id=1),
    ]


def test_every_event_kind_validates_against_the_official_schema():
    events = every_kind()
    assert {e.kind for e in events} == set(mapping.KINDS)
    assert_valid(mapping.document([e.body for e in events], NS, AT))


def test_the_schema_check_is_not_a_rubber_stamp():
    """Broken documents are refused, so a passing validation means something."""
    good = mapping.document([e.body for e in every_kind()], NS, AT)
    broken = []
    for mutate in (
        lambda d: d.pop("schemaVersion"),
        lambda d: d["epcisBody"]["eventList"][0].pop("eventTimeZoneOffset"),
        lambda d: d["epcisBody"]["eventList"][0].update(action="CREATE"),
        lambda d: d["epcisBody"]["eventList"][0].update(bizStep="printing"),
        lambda d: d["epcisBody"]["eventList"][0].update(disposition="suspect"),
        lambda d: d["epcisBody"]["eventList"][0].update(suspect=True),  # undeclared extension
        lambda d: d["epcisBody"]["eventList"][0].update(eventTime="yesterday"),
        lambda d: d["epcisBody"]["eventList"][0]["quantityList"][0].update(lot="x"),
        lambda d: d["epcisBody"]["eventList"][1].update(epcList=["not a uri"]),
    ):
        doc = copy.deepcopy(good)
        mutate(doc)
        broken.append(bool(errors(doc)))
    assert all(broken), broken


def test_bizsteps_and_dispositions_are_cbv_terms():
    for event in every_kind():
        if "bizStep" in event.body:
            assert event.body["bizStep"] in BIZSTEPS
        if "disposition" in event.body:
            assert event.body["disposition"] in DISPOSITIONS
    assert mapping.CBV_BIZSTEPS == BIZSTEPS
    assert mapping.CBV_DISPOSITIONS == DISPOSITIONS


def test_a_range_of_ten_million_is_one_class_level_event():
    event = mapping.range_issued(BASE, RANGE, AT).body
    assert (event["action"], event["bizStep"], event["disposition"]) == \
        ("ADD", "commissioning", "inactive")
    assert "epcList" not in event
    assert event["quantityList"] == [
        {"epcClass": f"{BASE}/01/08934567890120/10/L2026A", "quantity": 10_000_000}]
    assert event["ilmd"] == {"cbvmda:lotNumber": "L2026A",
                             "cbvmda:itemExpirationDate": "2027-06-30"}
    assert event["eventTime"] == "2026-11-25T03:04:05.678Z"
    assert event["eventTimeZoneOffset"] == "+07:00"
    assert event["eventID"].startswith("urn:uuid:")


def test_partial_steps_name_each_serial_by_its_stamp_uri():
    event = mapping.range_transitioned(BASE, RANGE, "void", AT, SERIALS + SERIALS[:1],
                                       reason="spoiled").body
    assert (event["action"], event["bizStep"], event["disposition"]) == \
        ("DELETE", "destroying", "destroyed")
    assert event["epcList"] == [f"{BASE}/01/08934567890120/10/L2026A/21/{s}" for s in SERIALS]
    assert "quantityList" not in event
    assert event["scanapp:reason"] == "spoiled"


def test_a_range_without_lot_is_named_by_its_gtin():
    rng = RangeFacts(1, "08934567890120", None, None, 5, 1, None)
    event = mapping.range_transitioned(BASE, rng, "recall", AT).body
    assert event["quantityList"][0]["epcClass"] == f"{BASE}/01/08934567890120"
    assert event["disposition"] == "recalled"
    assert "ilmd" not in mapping.range_issued(BASE, rng, AT).body


def test_unknown_range_action_is_refused():
    with pytest.raises(ValueError):
        mapping.range_transitioned(BASE, RANGE, "shred", AT)


def test_suspected_counterfeit_is_an_extension_not_a_disposition():
    flag = mapping.flag_raised(BASE, flag_id=3, gtin=RANGE.gtin, serial=SERIALS[1], lot=None,
                               at=AT, risk=87, reasons=("clone",), escalated=False,
                               brand_org_id=1).body
    assert flag["scanapp:suspect"] is True and "disposition" not in flag
    found = mapping.field_inspection(BASE, inspection_id=1, gtin=RANGE.gtin, serial="X",
                                     lot=None, at=AT, finding="counterfeit", province="79",
                                     lat=10.77691234, lon=106.7009, brand_org_id=1).body
    assert found["disposition"] == "non_conformant" and found["scanapp:suspect"] is True
    assert found["readPoint"] == {"id": "geo:10.77691,106.70090"}
    cleared = mapping.case_decided(BASE, case_id=3, gtin=RANGE.gtin, serial="X", lot=None,
                                   at=AT, status="false_alarm", brand_org_id=1).body
    assert cleared["disposition"] == "conformant" and cleared["scanapp:suspect"] is False


def test_scan_aggregate_carries_counts_and_nothing_about_devices():
    body = mapping.scans_observed(BASE, day=dt.date(2026, 11, 24), gtin=RANGE.gtin,
                                  province=None, scans=12, codes=9, brand_org_id=1).body
    assert body["quantityList"] == [{"epcClass": f"{BASE}/01/08934567890120", "quantity": 9}]
    assert body["scanapp:scanCount"] == 12 and body["scanapp:province"] == "unknown"
    # The local day starts at 17:00 UTC the day before.
    assert body["eventTime"] == "2026-11-23T17:00:00.000Z"
    text = repr(body).lower()
    assert "device" not in text and "epcList" not in body and "readPoint" not in body
