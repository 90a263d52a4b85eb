"""The capture pipeline (``capture_events``): checked, stored once, indexed, hooks in order."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from scanapp.auth.models import Role
from scanapp.auth.service import Principal
from scanapp.db import session_scope
from scanapp.epcis.capture import Problem, capture_events
from scanapp.epcis.models import EpcisEvent, EpcisEventIdentifier, EpcisOutbox

DATA = Path(__file__).parent.parent / "data" / "epcis" / "JSON"

pytestmark = pytest.mark.usefixtures("binding_alone")


def example_events(name: str = "Example_9.6.1-ObjectEvent.jsonld") -> list[dict]:
    return copy.deepcopy(json.loads((DATA / name).read_text())["epcisBody"]["eventList"])


def object_event(**fields) -> dict:
    event = {"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "receiving",
             "eventTime": "2026-11-01T08:00:00+07:00", "eventTimeZoneOffset": "+07:00",
             "epcList": ["https://id.gs1.org/01/08934567890120/21/S1"],
             "bizLocation": {"id": "https://id.gs1.org/414/8934567000000"}}
    event.update(fields)
    return event


@pytest.fixture
def principal(brand) -> Principal:
    return Principal(key_id=brand.key_id, org_id=brand.org_id, org_name=brand.org_name,
                     role=Role.BRAND)


def capture(app, principal, events, **kwargs):
    with app.app_context(), session_scope(app) as session:
        result = capture_events(session, principal, events, **kwargs)
        session.commit()
        return result


def count(app, model) -> int:
    with app.app_context(), session_scope(app) as session:
        return session.scalar(select(func.count()).select_from(model))


def test_example_events_are_stored_indexed_and_queued(app, principal):
    result = capture(app, principal, example_events())
    assert result.success and len(result.stored_ids) == 2
    with app.app_context(), session_scope(app) as session:
        rows = session.scalars(select(EpcisEvent).order_by(EpcisEvent.id)).all()
        assert [r.source for r in rows] == ["capture", "capture"]
        assert {r.captured_by_org_id for r in rows} == {principal.org_id}
        assert rows[0].biz_step == "shipping" and rows[1].disposition == "in_progress"
        assert rows[0].gtin == "10614141073464"
        assert rows[0].body["recordTime"]
        index = set(session.execute(select(EpcisEventIdentifier.role,
                                           EpcisEventIdentifier.identifier)
                                    .where(EpcisEventIdentifier.event_pk == rows[1].id)))
        assert index == {("epc", "https://id.gs1.org/01/10614141073464/21/2018"),
                         ("readPoint", "https://id.gs1.org/414/0012345111112/254/400"),
                         ("bizLocation", "https://id.gs1.org/414/0012345111112")}
    assert count(app, EpcisOutbox) == 2


def test_a_resent_document_is_not_stored_twice(app, principal):
    events = [object_event(), object_event(bizStep="shipping")]  # no eventIDs: hashed
    first = capture(app, principal, events)
    assert first.success and all(i.startswith("ni:///sha-256;") for i in first.stored_ids)
    again = capture(app, principal, copy.deepcopy(events))
    assert again.success and again.stored_ids == []
    assert sorted(again.already_stored) == sorted(first.stored_ids)
    # The same event twice in one document is stored once.
    twice = capture(app, principal, [object_event(action="ADD"), object_event(action="ADD")])
    assert len(twice.stored_ids) == 1 and len(twice.already_stored) == 1
    assert count(app, EpcisEvent) == 3


def test_a_different_event_under_a_stored_event_id_is_a_problem(app, principal):
    capture(app, principal, [object_event(eventID="urn:uuid:1")])
    result = capture(app, principal, [object_event(eventID="urn:uuid:1", action="ADD")])
    assert [p.code for p in result.problems] == ["duplicate_event_id"]
    assert count(app, EpcisEvent) == 1


def test_rollback_stores_nothing_and_lists_every_problem(app, principal):
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)).isoformat()
    events = [object_event(), object_event(action="FOO"), object_event(bizStep="shipping"),
              object_event(eventTime=future),
              object_event(epcList=["urn:epc:id:sgtin:0614141.10734.1"])]
    result = capture(app, principal, events)
    assert not result.success and result.stored_ids == []
    assert {(p.index, p.code) for p in result.problems} == {
        (1, "schema"), (3, "future_event_time"), (4, "invalid_identifier")}
    bad_action = next(p for p in result.problems if p.index == 1)
    assert bad_action.field == "/epcisBody/eventList/1/action"
    assert count(app, EpcisEvent) == 0 and count(app, EpcisEventIdentifier) == 0


def test_proceed_keeps_the_good_events(app, principal):
    events = [object_event(), object_event(action="FOO"), object_event(bizStep="shipping")]
    result = capture(app, principal, events, proceed=True)
    assert len(result.stored_ids) == 2 and [p.index for p in result.problems] == [1]
    assert count(app, EpcisEvent) == 2 and count(app, EpcisOutbox) == 2


class RecordingHook:
    """Refuses events at one location; sees the events stored before it in the document."""

    def __init__(self, refuse_location: str | None = None):
        self.refuse = refuse_location
        self.checked: list[tuple[int, int]] = []
        self.applied: list[str] = []

    def check(self, session, principal, event, index):
        earlier = session.scalar(select(func.count()).select_from(EpcisEvent))
        self.checked.append((index, earlier))
        if event.get("bizLocation", {}).get("id") == self.refuse:
            return [Problem(index, event["eventID"], "/bizLocation", "forbidden",
                            "not your location")]
        return []

    def apply(self, session, principal, event, stored):
        assert stored.event_id == event["eventID"] and stored.source == "capture"
        self.applied.append(event["eventID"])


def test_hooks_check_then_apply_in_document_order(app, principal):
    hook = RecordingHook()
    result = capture(app, principal, [object_event(), object_event(action="ADD")],
                     hooks=[hook])
    assert result.success
    # The second check sees the first event, stored (and flushed) before it.
    assert hook.checked == [(0, 0), (1, 1)]
    assert hook.applied == result.stored_ids


def test_a_hook_problem_rolls_the_document_back(app, principal):
    refused = "https://id.gs1.org/414/8934567000017"
    hook = RecordingHook(refuse_location=refused)
    events = [object_event(), object_event(bizLocation={"id": refused})]
    result = capture(app, principal, events, hooks=[hook])
    assert [(p.index, p.code) for p in result.problems] == [(1, "forbidden")]
    assert count(app, EpcisEvent) == 0
    kept = capture(app, principal, copy.deepcopy(events), hooks=[RecordingHook(refused)],
                   proceed=True)
    assert len(kept.stored_ids) == 1 and count(app, EpcisEvent) == 1


def test_lifecycle_events_are_indexed_too(app, publisher, brand_product):
    publisher.issue(brand_product, lot="L7")
    with app.app_context(), session_scope(app) as session:
        index = set(session.execute(select(EpcisEventIdentifier.role,
                                           EpcisEventIdentifier.identifier,
                                           EpcisEventIdentifier.gtin)))
    gtin = brand_product["gtin"]
    assert ("epcClass", f"https://id.gs1.org/01/{gtin}/10/L7", gtin) in index


@pytest.mark.parametrize("hooked", [False, True])
def test_an_event_stored_concurrently_fails_the_document_cleanly(app, principal, monkeypatch,
                                                                 hooked):
    from scanapp.epcis import capture as capture_module

    capture(app, principal, [object_event(eventID="urn:uuid:race")])
    # As if another request stored it between our duplicate check and our insert.
    monkeypatch.setattr(capture_module, "_stored_hashes", lambda *args: {})
    hooks = [RecordingHook()] if hooked else []
    result = capture(app, principal, [object_event(action="ADD"),
                                      object_event(eventID="urn:uuid:race")], hooks=hooks)
    assert [p.code for p in result.problems] == ["concurrent_capture"]
    assert result.stored_ids == []
    assert count(app, EpcisEvent) == 1 and count(app, EpcisEventIdentifier) == 2


def test_values_the_store_cannot_hold_are_problems_not_errors(app, principal):
    long_uri = "https://example.com/" + "x" * 300
    events = [
        {"type": "example:PartyEvent", "eventTime": "2026-11-01T08:00:00+07:00",
         "eventTimeZoneOffset": "+07:00"},
        object_event(bizStep=long_uri),
        object_event(eventID="urn:uuid:" + "a" * 300),
        object_event(readPoint={"id": long_uri}),
    ]
    result = capture(app, principal, events, proceed=True)
    assert {(p.index, p.code) for p in result.problems} == {
        (0, "unsupported_event_type"), (1, "identifier_too_long"),
        (2, "identifier_too_long"), (3, "identifier_too_long")}
    assert result.stored_ids == [] and count(app, EpcisEvent) == 0


def test_paused_gc_nests_and_restores_the_collector():
    import gc

    from scanapp.epcis.capture import paused_gc

    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer capture still runs
    assert gc.isenabled()
    with pytest.raises(RuntimeError), paused_gc():
        raise RuntimeError("a failed capture")
    assert gc.isenabled()


def test_overlapping_captures_do_not_keep_the_collector_off_for_good(monkeypatch):
    """Captures that overlap without a gap never let the pause count reach zero; cycles
    made meanwhile are still collected once the pause has lasted GC_MAX_PAUSE_S."""
    import gc
    import weakref

    from scanapp.epcis import capture

    class Node:
        pass

    monkeypatch.setattr(capture, "GC_MAX_PAUSE_S", 0.0)
    with capture.paused_gc():  # a long capture on another thread, still running
        cycle = Node()
        cycle.self = cycle
        alive = weakref.ref(cycle)
        del cycle
        with capture.paused_gc():  # a short one that ends meanwhile
            pass
        assert alive() is None  # collected although the outer capture goes on
        assert not gc.isenabled()
    assert gc.isenabled()
