"""Each data-quality rule fires on a case made for it and stays silent on a clean chain;
warnings never reject a capture; findings stay in their province; a finding becomes a
case in the inspectors' workflow."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from scanapp.auth.models import Role
from scanapp.auth.service import Principal
from scanapp.authority import rules
from scanapp.authority.models import Finding
from scanapp.db import session_scope
from scanapp.fraud.models import CaseEvent, Flag
from scanapp.trace import events as trace_events
from tests.authority.conftest import gln, ok
from tests.conftest import gtin14

STAMP_RULES = {"label_not_trace"}


def _nightly(app, *only) -> list[Finding]:
    with app.app_context(), session_scope(app) as session:
        found = rules.run(session, None, only=only or None)
        session.commit()
        return [(f.rule, f.message_en, f.province) for f in found]


def _rules_fired(app):
    with app.app_context(), session_scope(app) as session:
        return {(f.rule, f.found_by) for f in session.scalars(select(Finding))}


def test_clean_chain_is_silent(app, chain, stamps):
    assert _nightly(app) == []
    assert _rules_fired(app) == set()


def test_cert_not_valid_at_event_time(app, brand, chain):
    farm = chain["farm"]
    ok(brand.post("/api/v1/trace/certificates", json={
        "scheme": "vietgap", "number": "VG-LATE", "issuer": "Sở NN&MT Hưng Yên",
        "subject_type": "location", "subject_id": farm["id"], "valid_from": "2026-08-10",
        "valid_to": "2028-08-10"}))
    found = _nightly(app, "cert_invalid_at_event")
    assert found and all("VG-LATE" in m and "not yet valid" in m for _r, m, _p in found)
    # Captured after an expired certificate: the capture is stored, the finding is made.
    ok(brand.post("/api/v1/trace/certificates", json={
        "scheme": "globalgap", "number": "GG-OLD", "issuer": "Control Union",
        "subject_type": "location", "subject_id": farm["id"], "valid_from": "2024-01-01",
        "valid_to": "2026-06-30"}))
    ok(brand.post("/api/v1/trace/events/harvest", json={
        "location_id": farm["id"], "gtin": chain["fresh"], "lot": "NH2407C", "quantity": 10,
        "event_time": "2026-07-30T09:00:00+07:00"}))
    assert ("cert_invalid_at_event", "capture") in _rules_fired(app)


def test_planting_area_code_shared_by_unrelated_parties(app, chain, other_brand):
    ok(other_brand.post("/api/v1/trace/locations", json={
        "gln": gln("893000000077"), "name": "Vườn nhãn khác", "kind": "farm",
        "planting_area_code": "VN-HYLN-0012", "province": "33"}))
    found = _nightly(app, "shared_code")
    assert len(found) == 1 and "VN-HYLN-0012" in found[0][1]


def _harvest_with_diary(app, actor, location_id, gtin, lot):
    with app.app_context(), session_scope(app) as session:
        principal = Principal(key_id=actor.key_id, org_id=actor.org_id,
                              org_name=actor.org_name, role=Role.BRAND)
        event = trace_events.BUILDERS["harvest"](session, principal, {
            "location_id": location_id, "gtin": gtin, "lot": lot, "quantity": 100,
            "unit": "KGM", "harvest_start": dt.date(2026, 7, 1), "country_of_origin": "VN",
            "event_time": dt.datetime(2026, 7, 2, 8, tzinfo=dt.UTC)})
        event["ilmd"].update({"scanapp:pesticide": "Abamectin 1.8EC",
                              "scanapp:preHarvestIntervalDays": 7,
                              "scanapp:fertilizer": "NPK 16-16-8"})
        trace_events.capture(session, principal, [event])
        session.commit()


def test_identical_diaries_across_farms(app, make_actor):
    farms = []
    for n in range(3):
        actor = make_actor("brand", f"Nông hộ {n}")
        gtin = ok(actor.post("/api/v1/products", json={
            "gtin": gtin14(f"089300000{n}301"), "name": f"Nhãn tươi {n}"}))["gtin"]
        place = ok(actor.post("/api/v1/trace/locations", json={
            "gln": gln(f"89300000{n}301"), "name": f"Vườn {n}", "kind": "farm",
            "province": "33"}))
        farms.append((actor, place["id"], gtin))
    for actor, place, gtin in farms[:2]:
        _harvest_with_diary(app, actor, place, gtin, "D1")
    assert _nightly(app, "identical_diary") == []
    actor, place, gtin = farms[2]
    _harvest_with_diary(app, actor, place, gtin, "D1")
    found = _nightly(app, "identical_diary")
    assert len(found) == 1 and "3 lots of 3 different farms" in found[0][1]
    assert "Abamectin 1.8EC" in found[0][1]


def test_stamps_but_no_trace(app, hy_chain):
    found = _nightly(app, "label_not_trace")
    assert len(found) == 1 and "a label, not a trace" in found[0][1]


def test_received_before_shipped(app, brand, chain):
    dist_party, warehouse = chain["dist_party"], chain["warehouse"]
    ok(brand.post("/api/v1/trace/events/harvest", json={
        "location_id": chain["farm"]["id"], "gtin": chain["fresh"], "lot": "NH2409",
        "quantity": 50, "event_time": "2026-09-01T07:00:00+07:00"}))
    ok(brand.post("/api/v1/trace/events/shipment", json={
        "location_id": chain["farm"]["id"], "event_time": "2026-09-03T08:00:00+07:00",
        "items": [{"gtin": chain["fresh"], "lot": "NH2409", "quantity": 50}],
        "to_party_id": dist_party["id"], "to_location_id": warehouse["id"]}))
    ok(chain["distributor"].post("/api/v1/trace/events/receipt", json={
        "location_id": warehouse["id"], "event_time": "2026-09-02T08:00:00+07:00",
        "items": [{"gtin": chain["fresh"], "lot": "NH2409", "quantity": 50}]}))
    assert ("impossible_order", "capture") in _rules_fired(app)


def test_harvested_after_processing(app, brand, chain):
    ok(brand.post("/api/v1/trace/events/harvest", json={
        "location_id": chain["farm"]["id"], "gtin": chain["fresh"], "lot": "NH2407A",
        "quantity": 5, "harvest_start": "2026-07-29", "event_time": "2026-07-30T09:00:00+07:00"}))
    with app.app_context(), session_scope(app) as session:
        found = session.scalars(select(Finding).where(Finding.rule == "impossible_order")).all()
        assert [f.found_by for f in found] == ["capture"]
        assert "after it went into processing" in found[0].message_en


def test_outputs_exceed_inputs(app, brand, chain):
    ok(brand.post("/api/v1/trace/events/harvest", json={
        "location_id": chain["farm"]["id"], "gtin": chain["fresh"], "lot": "NH2410",
        "quantity": 100, "event_time": "2026-10-01T07:00:00+07:00"}))
    ok(brand.post("/api/v1/trace/events/transformation", json={
        "location_id": chain["plant"]["id"], "event_time": "2026-10-02T15:00:00+07:00",
        "inputs": [{"gtin": chain["fresh"], "lot": "NH2410", "quantity": 100}],
        "outputs": [{"gtin": chain["dried"], "lot": "LN2410", "quantity": 130,
                     "unit": "KGM"}]}))
    assert ("output_exceeds_input", "capture") in _rules_fired(app)
    with app.app_context(), session_scope(app) as session:
        finding = session.scalar(select(Finding).where(Finding.rule == "output_exceeds_input"))
        assert finding.details["output"] == 130 and finding.details["input"] == 100


def test_gtin_outside_the_brand_prefix(app, brand, firm):
    ok(brand.post("/api/v1/products", json={"gtin": gtin14("0893999900011"),
                                            "name": "Nhãn mượn mã"}))
    ok(brand.post("/api/v1/products", json={"gtin": gtin14("0893000000555"),
                                            "name": "Nhãn đúng mã"}))
    found = _nightly(app, "gtin_prefix")
    assert len(found) == 1 and "Nhãn mượn mã" in found[0][1]


def test_queue_scope_case_and_dismiss(app, brand, firm, hung_yen, ha_noi, inspector):
    ok(brand.post("/api/v1/products", json={"gtin": gtin14("0893999900011"),
                                            "name": "Nhãn mượn mã"}))
    ok(brand.post("/api/v1/products", json={"gtin": gtin14("0893999900028"),
                                            "name": "Nhãn mượn mã 2"}))
    result = app.test_cli_runner().invoke(args=["authority", "check"])
    assert result.exit_code == 0 and "2 new finding(s)" in result.output, result.output
    queue = ok(hung_yen.get("/api/v1/authority/findings?state=open"), 200)
    assert {f["rule"] for f in queue} == {"gtin_prefix"} and len(queue) == 2
    assert queue[0]["message_vi"].startswith("Mã GTIN")
    assert ok(ha_noi.get("/api/v1/authority/findings"), 200) == []
    assert ha_noi.post(f"/api/v1/authority/findings/{queue[0]['id']}/case",
                       json={}).status_code == 404
    case = ok(hung_yen.post(f"/api/v1/authority/findings/{queue[0]['id']}/case",
                            json={"note": "Yêu cầu giải trình"}), 200)
    assert case["state"] == "case" and case["case_id"]
    assert hung_yen.post(f"/api/v1/authority/findings/{queue[0]['id']}/dismiss",
                         json={}).status_code == 409
    ok(hung_yen.post(f"/api/v1/authority/findings/{queue[1]['id']}/dismiss",
                     json={"note": "Mã được GS1 cấp bổ sung"}), 200)
    with app.app_context(), session_scope(app) as session:
        flag = session.get(Flag, case["case_id"])
        assert flag.reasons == ["trace:gtin_prefix"] and flag.province == "33"
        trail = session.scalars(select(CaseEvent).where(CaseEvent.flag_id == flag.id)).all()
        assert [t.action for t in trail] == ["raised"] and "Yêu cầu giải trình" in trail[0].note
    # The inspectors' workflow takes it from here.
    moved = inspector.post(f"/api/v1/flags/{case['case_id']}/case",
                           json={"status": "investigating", "note": "Đã mời làm việc"})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["status"] == "investigating"
    # a second nightly run adds nothing twice
    again = app.test_cli_runner().invoke(args=["authority", "check"])
    assert "0 new finding(s)" in again.output
