"""GET /api/v1/epcis/events: filters, paging, roles, and clear errors for bad input."""

import datetime as dt

import pytest

from scanapp import events
from tests.epcis.conftest import events_of
from tests.epcis.schema import assert_valid

T0 = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def history(publisher, brand_product, other_product, printer, inspector):
    """Two brands' ranges over five days, one printer's, plus an inspection."""
    mine = publisher.issue(brand_product, at=T0, printer_org_id=printer.org_id)
    publisher.step(mine, "print", at=T0 + dt.timedelta(days=1))
    publisher.step(mine, "activate", at=T0 + dt.timedelta(days=2))
    theirs = publisher.issue(other_product, at=T0 + dt.timedelta(days=1))
    publisher.step(theirs, "print", at=T0 + dt.timedelta(days=3))
    publisher.publish(events.FieldInspectionRecorded(
        inspection_id=1, serial="0ABCDEFGHJKMNPQRSTVW", gtin=brand_product["gtin"],
        at=T0 + dt.timedelta(days=4), inspector_org_id=inspector.org_id, finding="suspect"))
    return {"mine": mine, "theirs": theirs}


def kinds(found):
    return [(e.get("bizStep"), e.get("scanapp:rangeId")) for e in found]


def test_time_window_filters_on_event_time(history, admin):
    found = events_of(admin, GE_eventTime="2026-11-21T01:00:00Z",
                      LT_eventTime="2026-11-23T01:00:00Z")
    assert sorted(e["eventTime"] for e in found) == [
        "2026-11-21T01:00:00.000Z", "2026-11-21T01:00:00.000Z", "2026-11-22T01:00:00.000Z"]
    # since/until are the same filter; a bare date is that day in Vietnam (UTC+7).
    same = events_of(admin, since="2026-11-21T08:00:00+07:00", until="2026-11-23T08:00:00+07:00")
    assert [e["eventID"] for e in same] == [e["eventID"] for e in found]
    by_day = events_of(admin, since="2026-11-24")  # 2026-11-23 17:00 UTC onwards
    assert [e["eventTime"] for e in by_day] == ["2026-11-24T01:00:00.000Z"]


def test_gtin_type_bizstep_and_disposition_filters(history, admin, brand_product,
                                                   other_product):
    theirs = events_of(admin, gtin=other_product["gtin"].lstrip("0"))  # any GTIN spelling
    assert {e["scanapp:rangeId"] for e in theirs} == {history["theirs"]}
    printed = events_of(admin, bizStep="encoding")
    assert len(printed) == 2 and all(e["disposition"] == "encoded" for e in printed)
    # The CBV URI forms name the same step.
    assert events_of(admin, EQ_bizStep="https://ref.gs1.org/cbv/BizStep-encoding") == printed
    assert events_of(admin, bizStep="urn:epcglobal:cbv:bizstep:encoding") == printed
    assert len(events_of(admin, eventType="ObjectEvent")) == 6
    assert events_of(admin, eventType="AggregationEvent") == []
    assert [e["bizStep"] for e in events_of(admin, disposition="non_conformant")] == \
        ["inspecting"]
    assert len(events_of(admin, kind="issued", gtin=brand_product["gtin"])) == 1


def test_paging_returns_every_event_once_in_order(publisher, brand, brand_product):
    range_id = publisher.issue(brand_product, at=T0)
    for i in range(11):
        publisher.step(range_id, "void", serials=[f"0AAAAAAAAAAA{i:08d}"],
                       at=T0 + dt.timedelta(minutes=i + 1))
    first = brand.get("/api/v1/epcis/events", query_string={"perPage": 5, "bizStep":
                                                            "destroying"})
    assert first.status_code == 200
    assert first.headers["Content-Type"].startswith("application/ld+json")
    body = first.get_json()
    assert len(body["epcisBody"]["eventList"]) == 5
    assert 'rel="next"' in first.headers["Link"]
    assert "bizStep=destroying" in first.headers["Link"]  # the filters carry over
    assert body["scanapp:next"] in first.headers["Link"]
    every = events_of(brand, perPage=5, bizStep="destroying")
    assert len(every) == 11 and len({e["eventID"] for e in every}) == 11
    assert [e["epcList"][0][-8:] for e in every] == [f"{i:08d}" for i in range(11)]
    # An exact multiple of the page size ends without an empty extra page.
    assert len(events_of(brand, perPage=12)) == 12


def test_roles_see_what_is_theirs(history, admin, inspector, brand, other_brand, printer,
                                  anonymous):
    assert len(events_of(admin)) == len(events_of(inspector)) == 6
    mine = events_of(brand)
    assert len(mine) == 4  # its range's three steps and the inspection of its product
    assert all(e.get("scanapp:rangeId") in (history["mine"], None) for e in mine)
    assert {e["scanapp:rangeId"] for e in events_of(other_brand)} == {history["theirs"]}
    # A printer: the lifecycle of the ranges it holds, never inspections or other ranges.
    printed = events_of(printer)
    assert [e["bizStep"] for e in printed] == ["commissioning", "encoding", "shipping"]
    assert anonymous.get("/api/v1/epcis/events").status_code == 401


@pytest.mark.parametrize("params,code", [
    ({"gtin": "8934567890127"}, "invalid_gtin"),
    ({"bizStep": "printing"}, "unknown_bizstep"),
    ({"disposition": "suspect"}, "unknown_disposition"),
    ({"eventType": "ScanEvent"}, "unknown_event_type"),
    ({"since": "2026-11-22", "until": "2026-11-21"}, "empty_window"),
    ({"since": "2026-11-22", "GE_eventTime": "2026-11-21T00:00:00Z"}, "duplicate_filter"),
    ({"nextPageToken": "bm9wZQ"}, "invalid_page_token"),
    ({"nextPageToken": "!!!"}, "invalid_page_token"),
    ({"since": "last tuesday"}, "validation_error"),
    ({"perPage": "0"}, "validation_error"),
    ({"perPage": "5000"}, "validation_error"),
    ({"colour": "red"}, "validation_error"),
    ({"kind": "teleported"}, "validation_error"),
])
def test_bad_queries_are_422_with_a_reason(admin, params, code):
    response = admin.get("/api/v1/epcis/events", query_string=params)
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["code"] == code and body["message"]


def test_an_empty_result_is_still_a_valid_document(admin):
    response = admin.get("/api/v1/epcis/events")
    body = response.get_json()
    assert body["epcisBody"]["eventList"] == [] and "Link" not in response.headers
    assert_valid(body)
