"""The EPCIS 2.0 REST binding at /epcis: capture, single events, queries, problems, access."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.epcis.schema import assert_valid

DATA = Path(__file__).parent.parent / "data" / "epcis" / "JSON"

pytestmark = pytest.mark.usefixtures("binding_alone")
LD = "application/ld+json"
PROBLEM = "application/problem+json"


def example(name: str = "Example_9.6.1-ObjectEvent.jsonld") -> dict:
    return json.loads((DATA / name).read_text())


def document(*events, context_extra=None) -> dict:
    return {"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
                         *(context_extra or [])],
            "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2026-11-01T00:00:00Z", "epcisBody": {"eventList": list(events)}}


GTIN_A = "08934567890120"
LOT_DL = f"https://id.gs1.org/01/{GTIN_A}/10/L1"
FARM = "https://id.gs1.org/414/8934567000000"
SHOP = "https://id.gs1.org/414/8934567000017"


def event(**fields) -> dict:
    body = {"type": "ObjectEvent", "action": "ADD", "bizStep": "commissioning",
            "disposition": "active", "eventTime": "2026-10-01T08:00:00+07:00",
            "eventTimeZoneOffset": "+07:00",
            "quantityList": [{"epcClass": LOT_DL, "quantity": 100, "uom": "KGM"}],
            "bizLocation": {"id": FARM}}
    body.update(fields)
    return body


def post_doc(actor, doc, behaviour=None):
    headers = {"GS1-Capture-Error-Behaviour": behaviour} if behaviour else {}
    return actor.post("/epcis/capture", data=json.dumps(doc), content_type=LD, headers=headers)


def events_of(actor, url="/epcis/events", **params) -> list[dict]:
    found = []
    response = actor.get(url, query_string=params)
    while True:
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert_valid(body)  # every page scanapp emits follows the official schema
        assert body["type"] == "EPCISQueryDocument"
        assert response.headers["GS1-EPCIS-Version"] == "2.0.0"
        found += body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        link = response.headers.get("Link")
        if not link:
            return found
        response = actor.get(link[1:link.index(">")])


def assert_problem(response, status: int, type_suffix: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status and body["type"].endswith(type_suffix)
    assert body["title"] and body["detail"]
    return body


def test_gs1_examples_are_captured_and_queried_back(brand, admin):
    for name in ("Example_9.6.1-ObjectEvent.jsonld", "PersistentDisposition-example.jsonld"):
        sent = example(name)
        response = post_doc(brand, sent)
        assert response.status_code == 202, response.get_json()
        location = response.headers["Location"]
        assert location.startswith("/epcis/capture/cap_")
        job = brand.get(location).get_json()
        assert job["success"] is True and job["running"] is False
        assert job["captureErrorBehaviour"] == "rollback"
        assert job["eventsStored"] == len(sent["epcisBody"]["eventList"])
    stored = events_of(brand)
    assert len(stored) == 4
    first = example()["epcisBody"]["eventList"][1]
    back = events_of(admin, EQ_eventID=first["eventID"])
    assert len(back) == 1
    for key in ("eventID", "bizStep", "epcList", "readPoint", "example:myField"):
        assert back[0][key] == first[key]
    assert back[0]["@context"] == [{"example": "http://ns.example.com/epcis/"}]
    one = brand.get("/epcis/events/" + quote(first["eventID"], safe=""))
    assert one.status_code == 200
    assert_valid(one.get_json())
    assert one.get_json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"][0][
        "eventID"] == first["eventID"]
    # The same document again is stored once: every event reported as already stored.
    again = post_doc(brand, example())
    assert again.status_code == 202
    assert again.get_json()["eventsAlreadyStored"] == 2
    assert again.get_json()["eventsStored"] == 0
    assert len(events_of(brand)) == 4


def test_rollback_stores_nothing_and_lists_every_problem(brand):
    bad = post_doc(brand, document(event(), event(action="MOVE"), event(eventTime="soon"),
                                   event(bizLocation={"id": "urn:epc:id:sgln:893456.70000.0"})))
    body = assert_problem(bad, 400, "ValidationException")
    assert {(p["index"], p["code"]) for p in body["problems"]} == {
        (1, "schema"), (2, "schema"), (3, "invalid_identifier")}
    assert bad.headers["Location"].startswith("/epcis/capture/")
    job = brand.get(bad.headers["Location"]).get_json()
    assert job["success"] is False and job["eventsStored"] == 0 and len(job["errors"]) == 3
    assert events_of(brand) == []


def test_proceed_keeps_the_good_events(brand):
    response = post_doc(brand, document(event(), event(action="MOVE"),
                                        event(bizStep="shipping", action="OBSERVE")),
                        behaviour="proceed")
    assert response.status_code == 202
    job = response.get_json()
    assert job["success"] is False and job["captureErrorBehaviour"] == "proceed"
    assert job["eventsStored"] == 2 and [e["index"] for e in job["errors"]] == [1]
    assert len(events_of(brand)) == 2
    assert_problem(post_doc(brand, document(event()), behaviour="sometimes"), 400,
                   "ValidationException")


def test_malformed_documents_are_400_problems(brand):
    broken = brand.post("/epcis/capture", data=b'{"type": "EPCISDocument",',
                        content_type=LD)
    assert_problem(broken, 400, "ValidationException")
    no_context = document(event())
    del no_context["@context"]
    assert "@context" in assert_problem(post_doc(brand, no_context), 400,
                                        "ValidationException")["detail"]
    wrong_type = document(event())
    wrong_type["schemaVersion"] = 2
    body = assert_problem(post_doc(brand, wrong_type), 400, "ValidationException")
    assert body["problems"][0]["field"] == "/schemaVersion"
    assert_problem(post_doc(brand, document()), 400, "ValidationException")
    text = brand.post("/epcis/capture", data="hello", content_type="text/plain")
    assert_problem(text, 415, "UnsupportedMediaTypeException")


def test_limits_answer_413(app, brand):
    app.config["EPCIS_CAPTURE_MAX_EVENTS"] = 2
    body = assert_problem(post_doc(brand, document(event(), event(action="OBSERVE"),
                                                   event(action="DELETE"))),
                          413, "CaptureLimitExceededException")
    assert "3 events" in body["detail"]
    app.config["EPCIS_CAPTURE_MAX_BYTES"] = 500
    too_big = post_doc(brand, document(event()))
    assert_problem(too_big, 413, "CaptureLimitExceededException")
    assert too_big.headers["GS1-EPCIS-Capture-File-Size-Limit"] == "500"
    assert too_big.headers["GS1-EPCIS-Capture-Limit"] == "2"


def test_single_event_201_then_409(brand):
    single = {"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
              **event(eventID="urn:uuid:7d1c3a52-0000-4000-8000-000000000001")}
    first = brand.post("/epcis/events", data=json.dumps(single), content_type=LD)
    assert first.status_code == 201, first.get_json()
    assert first.headers["Location"] == "/epcis/events/" + quote(single["eventID"], safe="")
    assert brand.get(first.headers["Location"]).status_code == 200
    assert_problem(brand.post("/epcis/events", data=json.dumps(single), content_type=LD),
                   409, "ResourceAlreadyExistsException")
    # Without an eventID the event hash names it: a re-send is recognised too.
    unnamed = {k: v for k, v in single.items() if k != "eventID"}
    unnamed["action"] = "OBSERVE"
    made = brand.post("/epcis/events", data=json.dumps(unnamed), content_type=LD)
    assert made.status_code == 201
    assert made.get_json()["eventID"].startswith("ni:///sha-256;")
    assert_problem(brand.post("/epcis/events", data=json.dumps(unnamed), content_type=LD),
                   409, "ResourceAlreadyExistsException")
    no_context = brand.post("/epcis/events", data=json.dumps(event()), content_type=LD)
    assert_problem(no_context, 400, "ValidationException")


@pytest.fixture
def chain(brand) -> dict:
    """A small supply chain: harvest, transformation, shipping, receiving."""
    dried = f"https://id.gs1.org/01/{GTIN_A}/10/D1"
    items = [f"urn:epc:id:sgtin:8934567.089012.S{i}" for i in range(3)]
    events = {
        "harvest": event(eventID="urn:uuid:h"),
        "transform": {"type": "TransformationEvent", "eventID": "urn:uuid:t",
                      "eventTime": "2026-10-02T08:00:00+07:00", "eventTimeZoneOffset": "+07:00",
                      "inputQuantityList": [{"epcClass": LOT_DL, "quantity": 100,
                                             "uom": "KGM"}],
                      "outputQuantityList": [{"epcClass": dried, "quantity": 20,
                                              "uom": "KGM"}],
                      "bizStep": "commissioning", "bizLocation": {"id": FARM}},
        "pack": {"type": "AggregationEvent", "eventID": "urn:uuid:p", "action": "ADD",
                 "eventTime": "2026-10-03T08:00:00+07:00", "eventTimeZoneOffset": "+07:00",
                 "parentID": "urn:epc:id:sscc:8934567.0000000001", "childEPCs": items,
                 "bizStep": "packing"},
        "ship": event(eventID="urn:uuid:s", action="OBSERVE", bizStep="shipping",
                      disposition="in_transit", eventTime="2026-10-04T08:00:00+07:00",
                      quantityList=[{"epcClass": dried, "quantity": 20, "uom": "KGM"}],
                      epcList=items[:1]),
        "receive": event(eventID="urn:uuid:r", action="OBSERVE", bizStep="receiving",
                         disposition="in_progress", eventTime="2026-10-05T08:00:00+07:00",
                         quantityList=[{"epcClass": dried, "quantity": 20, "uom": "KGM"}],
                         bizLocation={"id": "urn:epc:id:sgln:8934567.00001.0"},
                         readPoint={"id": SHOP}),
    }
    response = post_doc(brand, document(*events.values()))
    assert response.status_code == 202, response.get_json()
    return {"dried": dried, "items": items}


def ids(found) -> list[str]:
    return [e["eventID"].split(":")[-1] for e in found]


def test_query_parameters(brand, chain):
    dried, items = chain["dried"], chain["items"]
    assert ids(events_of(brand, eventType="TransformationEvent")) == ["t"]
    assert ids(events_of(brand, eventType="AggregationEvent|TransformationEvent")) == ["t", "p"]
    assert ids(events_of(brand, GE_eventTime="2026-10-03T01:00:00Z",
                         LT_eventTime="2026-10-05T00:00:00Z")) == ["p", "s"]
    assert ids(events_of(brand, EQ_bizStep="shipping")) == ["s"]
    assert ids(events_of(brand, EQ_bizStep="https://ref.gs1.org/cbv/BizStep-receiving")) == ["r"]
    assert ids(events_of(brand, EQ_action="OBSERVE")) == ["s", "r"]
    assert ids(events_of(brand, EQ_disposition="in_transit|in_progress")) == ["s", "r"]
    assert ids(events_of(brand, EQ_bizLocation="urn:epc:id:sgln:8934567.00000.0")) == \
        ["h", "t", "s"]
    assert ids(events_of(brand, EQ_readPoint=SHOP)) == ["r"]
    # Digital Link and URN forms of the same key find the same events.
    assert ids(events_of(brand, MATCH_epc=items[0])) == ["p", "s"]
    assert ids(events_of(brand, MATCH_epc=f"https://id.gs1.org/01/{GTIN_A}/21/S0")) == \
        ["p", "s"]
    assert ids(events_of(brand, MATCH_epc="urn:epc:idpat:sgtin:8934567.089012.*")) == ["p", "s"]
    assert ids(events_of(brand, MATCH_parentID="urn:epc:id:sscc:8934567.0000000001")) == ["p"]
    assert ids(events_of(brand, MATCH_epcClass=dried)) == ["s", "r"]
    assert ids(events_of(brand, MATCH_epcClass="urn:epc:class:lgtin:8934567.089012.L1")) == \
        ["h"]
    assert ids(events_of(brand, MATCH_inputEPCClass=LOT_DL)) == ["t"]
    assert ids(events_of(brand, MATCH_outputEPCClass=dried)) == ["t"]
    assert ids(events_of(brand, MATCH_anyEPCClass=dried)) == ["t", "s", "r"]
    assert ids(events_of(brand, MATCH_anyEPC=items[1])) == ["p"]
    assert ids(events_of(brand, url="/epcis/epcs/" + quote(items[0], safe="") + "/events")) \
        == ["p", "s"]
    assert ids(events_of(brand, MATCH_anyEPCClass=dried, EQ_bizStep="receiving")) == ["r"]
    types = brand.get("/epcis/eventTypes").get_json()
    assert types["type"] == "Collection" and "TransformationEvent" in types["member"]


@pytest.mark.parametrize("params", [
    {"eventType": "PartyEvent"}, {"EQ_action": "MOVE"}, {"MATCH_epc": "urn:epc:id:sgtin:1.2"},
    {"GE_eventTime": "yesterday"}, {"EQ_quantity": "5"}, {"perPage": "0"},
    {"nextPageToken": "not-a-token"},
    {"GE_eventTime": "2026-10-05T00:00:00Z", "LT_eventTime": "2026-10-01T00:00:00Z"},
])
def test_bad_query_parameters_are_400_problems(brand, params):
    body = assert_problem(brand.get("/epcis/events", query_string=params), 400, "Exception")
    assert body["type"] in ("epcisException:QueryParameterException",
                            "epcisException:ValidationException")


def test_paging_follows_link_next(brand):
    many = [event(action="OBSERVE", eventTime=f"2026-10-01T08:{i:02d}:00+07:00")
            for i in range(7)]
    assert post_doc(brand, document(*many)).status_code == 202
    first = brand.get("/epcis/events", query_string={"perPage": 3, "EQ_action": "OBSERVE"})
    assert 'rel="next"' in first.headers["Link"] and "EQ_action=OBSERVE" in first.headers["Link"]
    found = events_of(brand, perPage=3, EQ_action="OBSERVE")
    assert len(found) == 7 and len({e["eventID"] for e in found}) == 7
    assert [e["eventTime"] for e in found] == [e["eventTime"] for e in many]


def test_who_may_capture_and_read(brand, other_brand, admin, inspector, printer, anonymous,
                                  product, chain):
    assert_problem(anonymous.get("/epcis/events"), 401, "SecurityException")
    assert_problem(post_doc(inspector, document(event())), 403, "SecurityException")
    assert_problem(post_doc(printer, document(event())), 403, "SecurityException")
    assert len(events_of(admin)) == 5 and len(events_of(inspector)) == 5
    assert len(events_of(brand)) == 5  # it captured them
    assert events_of(other_brand) == []
    assert events_of(printer) == []
    hidden = other_brand.get("/epcis/events/urn:uuid:h")
    assert_problem(hidden, 404, "NoSuchResourceException")
    # A brand sees events about its GTINs that another organisation captured.
    mine = f"https://id.gs1.org/01/{product['gtin']}/10/X9"
    assert post_doc(other_brand, document(event(
        eventID="urn:uuid:theirs", quantityList=[{"epcClass": mine, "quantity": 1}]))
    ).status_code == 202
    assert "urn:uuid:theirs" in [e["eventID"] for e in events_of(brand)]
    assert [e["eventID"] for e in events_of(other_brand)] == ["urn:uuid:theirs"]
    # Capture jobs are the capturing organisation's.
    jobs = other_brand.get("/epcis/capture").get_json()
    assert len(jobs) == 1 and len(admin.get("/epcis/capture").get_json()) == 2
    assert_problem(other_brand.get(f"/epcis/capture/{jobs[0]['captureID']}x"), 404,
                   "NoSuchResourceException")


def test_visible_event_filter_hook_widens_reading(app, brand, other_brand, chain):
    from scanapp.epcis.models import EpcisEvent

    class PartnerHook:
        def check(self, session, principal, event, index):
            return []

        def apply(self, session, principal, event, stored):
            pass

        def visible_event_filter(self, session, principal):
            if principal.org_id == other_brand.org_id:
                return EpcisEvent.event_id == "urn:uuid:s"
            return None

    app.extensions["scanapp.epcis.capture_hooks"].append(PartnerHook())
    assert ids(events_of(other_brand)) == ["s"]


def test_lifecycle_events_answer_the_binding_too(publisher, brand_product, brand):
    publisher.issue(brand_product, lot="L5")
    lot = f"https://scan.example.vn/01/{brand_product['gtin']}/10/L5"
    found = events_of(brand, MATCH_epcClass=lot)
    assert len(found) == 1 and found[0]["bizStep"] == "commissioning"
    # The older export is unchanged and shows only scanapp's own events.
    post_doc(brand, document(event()))
    old = brand.get("/api/v1/epcis/events").get_json()["epcisBody"]["eventList"]
    assert len(old) == 1


def test_future_event_time_is_refused(brand):
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    body = assert_problem(post_doc(brand, document(event(eventTime=later))), 400,
                          "ValidationException")
    assert body["problems"][0]["code"] == "future_event_time"


def test_openapi_documents_the_binding(client):
    spec = client.get("/api/openapi.json").get_json()
    for path in ("/epcis/capture", "/epcis/capture/{capture_id}", "/epcis/events",
                 "/epcis/events/{event_id}", "/epcis/epcs/{epc}/events"):
        assert path in spec["paths"], path
    params = {p["name"] for p in spec["paths"]["/epcis/events"]["get"]["parameters"]}
    assert {"MATCH_epcClass", "MATCH_anyEPCClass", "EQ_bizLocation", "perPage"} <= params


def test_copied_events_keep_the_examples_intact():
    # The test documents are GS1's, unchanged: the binding must accept them as they are.
    sent = example()
    assert copy.deepcopy(sent) == example()


def test_the_binding_s_resource_views(brand, chain):
    assert ids(events_of(brand, url="/epcis/eventTypes/AggregationEvent/events")) == ["p"]
    assert ids(events_of(brand, url="/epcis/bizSteps/shipping/events")) == ["s"]
    assert ids(events_of(brand, url="/epcis/dispositions/in_progress/events")) == ["r"]
    place = quote("urn:epc:id:sgln:8934567.00001.0", safe="")
    assert ids(events_of(brand, url=f"/epcis/bizLocations/{place}/events")) == ["r"]
    assert ids(events_of(brand, url="/epcis/readPoints/" + quote(SHOP, safe="") + "/events")) \
        == ["r"]
    steps = brand.get("/epcis/bizSteps").get_json()
    assert steps["type"] == "Collection" and "commissioning" in steps["member"]
    assert "recalled" in brand.get("/epcis/dispositions").get_json()["member"]
    assert_problem(brand.get("/epcis/eventTypes/PartyEvent/events"), 400,
                   "QueryParameterException")


def test_version_and_format_negotiation(brand):
    old = brand.get("/epcis/events", headers={"GS1-EPCIS-Version": "1.2"})
    assert_problem(old, 406, "NotAcceptableException")
    xml = brand.get("/epcis/events", headers={"Accept": "application/xml"})
    assert_problem(xml, 406, "NotAcceptableException")
    assert brand.get("/epcis/events", headers={"Accept": "application/ld+json",
                                                "GS1-EPCIS-Version": "2.0.0"}).status_code == 200


def test_a_query_document_can_be_captured(brand, other_brand, admin, chain):
    # One repository's answer is another's input: an EPCISQueryDocument is captured as is.
    answer = admin.get("/epcis/events", query_string={"EQ_bizStep": "shipping"}).get_json()
    answer["epcisBody"]["queryResults"]["resultsBody"]["eventList"][0].pop("recordTime")
    response = post_doc(admin, answer)
    assert response.status_code == 202
    # Already stored here: recognised, not stored twice.
    assert response.get_json()["eventsAlreadyStored"] == 1


def test_unrouted_urls_under_epcis_are_problems_too(brand, client):
    assert_problem(brand.get("/epcis/nowhere"), 404, "NoSuchResourceException")
    wrong_method = brand.delete("/epcis/events") if hasattr(brand, "delete") else \
        brand.client.delete("/epcis/events", headers=brand._headers({}))
    assert_problem(wrong_method, 405, "ValidationException")
    assert "GET" in wrong_method.headers["Allow"]
    # Elsewhere the app keeps its own error shape.
    other = client.get("/api/v1/nowhere")
    assert other.status_code == 404 and other.mimetype == "application/json"
    assert other.get_json()["code"] == "not_found"


def test_captured_events_reach_the_portal_in_valid_documents(app, app_factory, brand):
    from scanapp.epcis import exporter
    from tests.epcis.capture_server import CaptureServer, free_port

    port = free_port()
    server = CaptureServer(port).start()
    try:
        pushing = app_factory(EPCIS_CAPTURE_URL=f"http://127.0.0.1:{port}",
                              EPCIS_PUSH_THREAD=False)
        assert post_doc(brand, example()).status_code == 202
        result = exporter.push_pending(pushing)
        assert result.sent == 2 and result.failed == 0
        sent = server.received[0]
        assert_valid(sent)  # extension fields keep their namespace in the pushed document
        assert sorted(server.event_ids) == sorted(
            e["eventID"] for e in example()["epcisBody"]["eventList"])
    finally:
        server.stop()


def test_options_tells_the_versions_and_capture_limits(app, client):
    app.config["EPCIS_CAPTURE_MAX_EVENTS"] = 1000
    response = client.open("/epcis/capture", method="OPTIONS")
    assert response.status_code in (200, 204)
    assert "POST" in response.headers["Allow"]
    assert response.headers["GS1-EPCIS-Version"] == "2.0.0"
    assert response.headers["GS1-EPCIS-Capture-Limit"] == "1000"
    assert int(response.headers["GS1-EPCIS-Capture-File-Size-Limit"]) > 0
