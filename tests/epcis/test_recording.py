"""Domain events become EPCIS events in the same transaction, and a range's whole life
reads back as the expected sequence."""

import datetime as dt

from scanapp import events
from scanapp.db import session_scope
from scanapp.epcis.models import EpcisEvent, EpcisOutbox
from tests.epcis.conftest import events_of

BASE = "https://scan.example.vn"


def steps(found):
    return [(e["action"], e.get("bizStep"), e.get("disposition")) for e in found]


def test_a_ranges_whole_life_is_the_expected_event_sequence(app, publisher, brand,
                                                           brand_product):
    t0 = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)
    range_id = publisher.issue(brand_product, quantity=5_000_000, lot="LOT7", at=t0)
    publisher.step(range_id, "print", at=t0 + dt.timedelta(hours=1))
    publisher.step(range_id, "void", serials=["0AAAAAAAAAAA11111111", "0AAAAAAAAAAA22222222"],
                   reason="spoiled in press", at=t0 + dt.timedelta(hours=2))
    publisher.step(range_id, "activate", at=t0 + dt.timedelta(days=1))
    publisher.step(range_id, "recall", serials=["0AAAAAAAAAAA33333333"],
                   at=t0 + dt.timedelta(days=3))
    publisher.step(range_id, "recall", at=t0 + dt.timedelta(days=4))

    found = events_of(brand)
    assert steps(found) == [
        ("ADD", "commissioning", "inactive"),
        ("OBSERVE", "encoding", "encoded"),
        ("DELETE", "destroying", "destroyed"),
        ("OBSERVE", "shipping", "active"),
        ("OBSERVE", "holding", "recalled"),
        ("OBSERVE", "holding", "recalled"),
    ]
    lgtin = f"{BASE}/01/{brand_product['gtin']}/10/LOT7"
    issued, printed, voided, activated, recalled_one, recalled_all = found
    # One class-level event for five million codes, with the lot's master data.
    assert issued["quantityList"] == [{"epcClass": lgtin, "quantity": 5_000_000}]
    assert issued["ilmd"]["cbvmda:lotNumber"] == "LOT7"
    assert issued["eventTime"] == "2026-11-20T01:00:00.000Z"
    assert printed["quantityList"] == issued["quantityList"]
    assert voided["epcList"] == [f"{lgtin}/21/0AAAAAAAAAAA11111111",
                                 f"{lgtin}/21/0AAAAAAAAAAA22222222"]
    assert voided["scanapp:reason"] == "spoiled in press"
    assert recalled_one["epcList"] == [f"{lgtin}/21/0AAAAAAAAAAA33333333"]
    assert "epcList" not in recalled_all and recalled_all["quantityList"][0]["epcClass"] == lgtin
    assert {e["scanapp:rangeId"] for e in found} == {range_id}
    assert len({e["eventID"] for e in found}) == 6
    assert all(e["recordTime"] for e in found)


def test_a_rolled_back_change_leaves_no_event(app, publisher, brand, brand_product):
    publisher.issue(brand_product, rollback=True)
    with app.app_context(), session_scope(app) as session:
        assert session.query(EpcisEvent).count() == 0
        assert session.query(EpcisOutbox).count() == 0
    assert events_of(brand) == []


def test_every_event_waits_in_the_outbox(app, publisher, brand_product):
    range_id = publisher.issue(brand_product)
    publisher.step(range_id, "print")
    with app.app_context(), session_scope(app) as session:
        rows = session.query(EpcisOutbox).all()
        assert len(rows) == 2 and all(r.sent_at is None for r in rows)


def test_fraud_events_become_inspecting_and_suspect_events(app, publisher, brand, inspector,
                                                          brand_product):
    from scanapp.services import services

    range_id = publisher.issue(brand_product, lot="LOTX")
    with app.app_context():
        serial = services(app).codec.encode(1_234, brand_product["gtin"], "LOTX")
    now = dt.datetime.now(dt.UTC)
    gtin = brand_product["gtin"]
    publisher.publish(
        events.FlagRaised(flag_id=5, serial=serial, gtin=gtin, risk=80,
                          reasons=("impossible_travel",), brand_org_id=brand.org_id,
                          escalated=False, at=now),
        events.FieldInspectionRecorded(inspection_id=9, serial=serial, gtin=gtin, at=now,
                                       inspector_org_id=inspector.org_id,
                                       finding="counterfeit", province="79", lat=10.78,
                                       lon=106.70),
        events.CaseDecided(case_id=5, serial=serial, gtin=gtin,
                           status="confirmed_counterfeit", at=now,
                           actor_org_id=inspector.org_id),
        # A forged serial under the same GTIN verifies under no lot: named without one.
        events.FieldInspectionRecorded(inspection_id=10, serial="0ZZZZZZZZZZZZZZZZZZZ",
                                       gtin=gtin, at=now, inspector_org_id=inspector.org_id,
                                       finding="genuine"),
    )
    found = [e for e in events_of(inspector) if "scanapp:rangeId" not in e]
    assert len(found) == 4
    flag, inspection, case, forged = found
    stamp = f"{BASE}/01/{gtin}/10/LOTX/21/{serial}"
    assert flag["epcList"] == inspection["epcList"] == case["epcList"] == [stamp]
    assert flag["scanapp:suspect"] is True and flag["scanapp:risk"] == 80
    assert (inspection["bizStep"], inspection["disposition"]) == ("inspecting",
                                                                  "non_conformant")
    assert inspection["readPoint"] == {"id": "geo:10.78000,106.70000"}
    assert inspection["scanapp:province"] == "79"
    assert case["scanapp:caseStatus"] == "confirmed_counterfeit"
    assert forged["epcList"] == [f"{BASE}/01/{gtin}/21/0ZZZZZZZZZZZZZZZZZZZ"]
    assert forged["disposition"] == "conformant"
    # The brand sees what concerns its product too.
    assert len(events_of(brand)) == 5
    assert range_id
