"""The clerk's events: EPCIS built for them, stored through capture, checked, all-or-nothing."""

from __future__ import annotations

import json

from tests.trace.conftest import gln, ok


def test_a_harvest_becomes_an_epcis_commissioning_event_and_a_lot(brand, longan, places, app):
    recorded = ok(brand.post("/api/v1/trace/events/harvest", json={
        "location_id": places["farm"]["id"], "gtin": longan["fresh"], "lot": "NH2407A",
        "quantity": 1200.5, "harvest_start": "2026-07-20", "harvest_end": "2026-07-25",
        "event_time": "2026-07-25T09:00:00+07:00"}))
    event = recorded["event"]
    assert event["type"] == "ObjectEvent" and event["action"] == "ADD"
    assert event["bizStep"] == "commissioning"
    assert event["quantityList"] == [{
        "epcClass": f"https://id.gs1.org/01/{longan['fresh']}/10/NH2407A",
        "quantity": 1200.5, "uom": "KGM"}]
    assert event["ilmd"]["cbvmda:harvestStartDate"] == "2026-07-20"
    assert event["bizLocation"]["id"] == f"https://id.gs1.org/414/{places['farm']['gln']}"
    lot = brand.get(f"/api/v1/trace/lots?gtin={longan['fresh']}").get_json()[0]
    assert (lot["lot"], lot["harvest_start"], lot["quantity"], lot["location_id"]) == (
        "NH2407A", "2026-07-20", 1200.5, places["farm"]["id"])
    # The EPCIS store has it, so the EPCIS query binding and the portal push see it.
    from scanapp.db import session_scope
    from scanapp.epcis.models import EpcisEvent

    with app.app_context(), session_scope(app) as session:
        row = session.query(EpcisEvent).filter_by(event_id=recorded["event_id"]).one()
        assert row.source == "capture" and row.biz_step == "commissioning"
    # Sending the same harvest again stores nothing twice.
    again = brand.post("/api/v1/trace/events/harvest", json={
        "location_id": places["farm"]["id"], "gtin": longan["fresh"], "lot": "NH2407A",
        "quantity": 1200.5, "harvest_start": "2026-07-20", "harvest_end": "2026-07-25",
        "event_time": "2026-07-25T09:00:00+07:00"})
    assert again.status_code == 201 and again.get_json()["already_stored"] is True


def test_the_chain_records_lineage_shipments_and_receipts(brand, chain, admin):
    lots = {lot["lot"]: lot for lot in admin.get("/api/v1/trace/lots").get_json()}
    assert set(lots) == {"NH2407A", "NH2407B", "LN2408"}
    assert lots["LN2408"]["production_date"] == "2026-07-28"
    assert lots["LN2408"]["expiry_date"] == "2027-07-28"
    # The distributor now sees the lot it received (one step), not the farm lots.
    seen = {lot["lot"] for lot in chain["distributor"].get("/api/v1/trace/lots").get_json()}
    assert seen == {"LN2408"}


def test_bad_events_list_every_problem_and_store_nothing(brand, longan, places, app):
    fresh = longan["fresh"]
    refused = brand.post("/api/v1/trace/events/transformation", json={
        "location_id": places["warehouse"]["id"],          # someone else's place
        "inputs": [{"gtin": fresh, "lot": "NOPE", "quantity": -5},   # unknown, negative
                   {"gtin": fresh, "lot": "SAME", "quantity": 0}],   # zero
        "outputs": [{"gtin": fresh, "lot": "SAME", "quantity": 3}]})  # output = input
    assert refused.status_code == 422
    codes = sorted(p["code"] for p in refused.get_json()["errors"]["problems"])
    assert codes == ["forbidden", "invalid_quantity", "invalid_quantity", "output_is_input",
                     "unknown_lot", "unknown_lot"], codes
    future = brand.post("/api/v1/trace/events/harvest", json={
        "location_id": places["farm"]["id"], "gtin": fresh, "lot": "F1", "quantity": 1,
        "event_time": "2099-01-01T00:00:00+07:00"})
    assert future.status_code == 422
    assert [p["code"] for p in future.get_json()["errors"]["problems"]] == ["future_event_time"]
    assert brand.get("/api/v1/trace/lots").get_json() == []
    from scanapp.db import session_scope
    from scanapp.epcis.models import EpcisEvent

    with app.app_context(), session_scope(app) as session:
        assert session.query(EpcisEvent).count() == 0


def test_someone_elses_gtin_and_unknown_parties_are_refused(other_brand, brand, longan,
                                                            places):
    theirs = other_brand.post("/api/v1/trace/locations", json={
        "gln": gln("893000000007"), "name": "Vườn B", "kind": "farm"}).get_json()
    refused = other_brand.post("/api/v1/trace/events/harvest", json={
        "location_id": theirs["id"], "gtin": longan["fresh"], "lot": "X1", "quantity": 10})
    assert refused.status_code == 422
    assert [p["code"] for p in refused.get_json()["errors"]["problems"]] == ["forbidden"]
    no_gln = brand.post("/api/v1/trace/parties", json={"name": "Đại lý không GLN"}).get_json()
    shipment = brand.post("/api/v1/trace/events/shipment", json={
        "location_id": places["plant"]["id"], "to_party_id": no_gln["id"],
        "items": [{"gtin": longan["fresh"], "lot": "X", "quantity": 1}]})
    assert shipment.status_code == 422
    assert shipment.get_json()["code"] == "party_without_gln"


def test_a_transformation_closing_a_cycle_is_refused(brand, chain):
    fresh, dried = chain["fresh"], chain["dried"]
    loop = brand.post("/api/v1/trace/events/transformation", json={
        "location_id": chain["plant"]["id"],
        "inputs": [{"gtin": dried, "lot": "LN2408", "quantity": 1}],
        "outputs": [{"gtin": fresh, "lot": "NH2407A", "quantity": 1}]})
    assert loop.status_code == 422
    assert [p["code"] for p in loop.get_json()["errors"]["problems"]] == ["lineage_cycle"]


def test_receipt_only_at_own_location_and_printer_cannot_record(chain, printer, brand):
    # The brand cannot record a receipt at the distributor's warehouse.
    refused = brand.post("/api/v1/trace/events/receipt", json={
        "location_id": chain["warehouse"]["id"],
        "items": [{"gtin": chain["dried"], "lot": "LN2408", "quantity": 1}]})
    assert refused.status_code == 422
    problem = refused.get_json()["errors"]["problems"][0]
    assert problem["code"] == "forbidden" and "receive" in problem["message"]
    assert printer.post("/api/v1/trace/events/harvest", json={
        "location_id": chain["farm"]["id"], "gtin": chain["fresh"], "lot": "P",
        "quantity": 1}).status_code == 403
    json.dumps(problem)


def test_partners_may_read_the_events_of_lots_they_handled(chain, app):
    """The hook's optional visible_event_filter for the EPCIS query binding."""
    from sqlalchemy import select

    from scanapp.auth.models import Role
    from scanapp.auth.service import Principal
    from scanapp.db import session_scope
    from scanapp.epcis.models import EpcisEvent
    from scanapp.trace.hook import TraceCaptureHook

    distributor = chain["distributor"]
    who = Principal(key_id=distributor.key_id, org_id=distributor.org_id,
                    org_name=distributor.org_name, role=Role.BRAND)
    with app.app_context(), session_scope(app) as session:
        clause = TraceCaptureHook().visible_event_filter(session, who)
        steps = sorted(session.scalars(select(EpcisEvent.biz_step).where(clause)))
    # The dried lot's transformation, shipment and receipt; not the farm lots' harvests.
    assert steps == ["commissioning", "receiving", "shipping"]


def test_the_epcis_binding_is_held_to_the_same_rules_and_feeds_the_lineage(brand, longan,
                                                                           places, admin):
    farm = f"https://id.gs1.org/414/{places['farm']['gln']}"
    lot = f"https://id.gs1.org/01/{longan['fresh']}/10/EP1"

    def doc(*events):
        return json.dumps({
            "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
            "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2026-11-01T00:00:00Z", "epcisBody": {"eventList": list(events)}})

    base = {"eventTime": "2026-10-01T08:00:00+07:00", "eventTimeZoneOffset": "+07:00",
            "bizLocation": {"id": farm}}
    harvest = {"type": "ObjectEvent", "action": "ADD", "bizStep": "commissioning", **base,
               "quantityList": [{"epcClass": lot, "quantity": 50, "uom": "KGM"}],
               "ilmd": {"cbvmda:harvestStartDate": "2026-09-28"}}
    bad_ship = {"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "shipping", **base,
                "quantityList": [{"epcClass": lot.replace("EP1", "NOPE"), "quantity": 0}]}
    refused = brand.post("/epcis/capture", data=doc(harvest, bad_ship),
                         content_type="application/ld+json")
    assert refused.status_code == 400
    assert brand.get("/api/v1/trace/lots").get_json() == []  # rollback: nothing stored
    accepted = brand.post("/epcis/capture", data=doc(harvest),
                          content_type="application/ld+json")
    assert accepted.status_code == 202, accepted.get_json()
    made = admin.get(f"/api/v1/trace/lots?gtin={longan['fresh']}&lot=EP1").get_json()
    assert made[0]["harvest_start"] == "2026-09-28"
