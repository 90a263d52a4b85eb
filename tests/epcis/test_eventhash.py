"""The EPCIS event hash ID: one id per event content, whatever its spelling."""

import copy
import json
from pathlib import Path

from scanapp.epcis.eventhash import event_hash_id, normalise_time, prehash

EXAMPLE = Path(__file__).parent.parent / "data" / "epcis" / "JSON" / \
    "Example_9.6.1-ObjectEvent.jsonld"


def _event() -> dict:
    return copy.deepcopy(json.loads(EXAMPLE.read_text())["epcisBody"]["eventList"][0])


def test_form_of_the_id():
    value = event_hash_id(_event())
    assert value.startswith("ni:///sha-256;") and value.endswith("?ver=CBV2.0")
    assert len(value.split(";")[1].split("?")[0]) == 64


def test_same_event_in_other_spellings_hashes_the_same():
    event = _event()
    other = {k: event[k] for k in reversed(list(event))}  # key order
    other["epcList"] = list(reversed([
        "https://id.gs1.org/01/10614141073464/21/2017",  # Digital Link instead of URN
        "https://example.com/01/10614141073464/21/2018"]))
    other["eventTime"] = "2005-04-04T02:33:31.116Z"  # the same instant in UTC
    other["bizStep"] = "urn:epcglobal:cbv:bizstep:shipping"  # URN form of the CBV term
    other["eventID"] = "urn:uuid:ignored"  # eventID and recordTime take no part
    other["recordTime"] = "2030-01-01T00:00:00Z"
    assert event_hash_id(other) == event_hash_id(event)


def test_any_change_changes_the_hash():
    base = event_hash_id(_event())
    for change in ({"action": "ADD"}, {"bizStep": "receiving"},
                   {"eventTime": "2005-04-03T20:33:31.117-06:00"},
                   {"readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1235"}},
                   {"example:extra": "x"}):
        assert event_hash_id({**_event(), **change}) != base, change


def test_prehash_shape_and_times():
    text = prehash(_event())
    assert text.startswith("eventType=ObjectEventeventTime=2005-04-04T02:33:31.116Z"
                           "eventTimeZoneOffset=-06:00epcListepc=https://id.gs1.org/01/")
    assert normalise_time("2020-01-01T07:00:00+07:00") == "2020-01-01T00:00:00.000Z"
    assert normalise_time("2020-01-01T00:00:00.1234Z") == "2020-01-01T00:00:00.123Z"
    assert normalise_time("2020-01-01T00:00:00.9996Z") == "2020-01-01T00:00:01.000Z"


def test_extensions_expand_with_the_context():
    event = {**_event(), "example:myField": "v"}
    text = prehash(event, {"example": "http://ns.example.com/epcis/"})
    assert "{http://ns.example.com/epcis/}myField=v" in text


def test_agrees_with_the_reference_implementation_on_its_single_event_vector():
    # GS1 Germany's reference implementation (RalphTro/epcis-event-hash-generator,
    # tests/examples/epcisDocWithSingleEvent) gives this id for example 9.6.1's first event
    # with eventTime 2022-02-16T20:33:31.116-06:00 and no eventID.
    event = _event()
    del event["eventID"]
    event["eventTime"] = "2022-02-16T20:33:31.116000-06:00"
    assert event_hash_id(event) == ("ni:///sha-256;3e0f2437f4cb5e8a1b832b769c0eed1bf3e1421f"
                                    "14061132e9800ded03f10182?ver=CBV2.0")
