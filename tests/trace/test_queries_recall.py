"""Trace queries (one step, lineage both ways), recall reaching the scan answer, export."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from tests.trace.conftest import ok


def _lot(actor, gtin, code):
    found = actor.get(f"/api/v1/trace/lots?gtin={gtin}&lot={code}").get_json()
    assert len(found) == 1, found
    return found[0]


def test_one_step_back_and_forward(brand, chain, admin):
    dried = _lot(admin, chain["dried"], "LN2408")
    step = ok(brand.get(f"/api/v1/trace/lots/{dried['id']}/one-step"), 200)
    assert sorted((x["lot"], x["quantity_used"]) for x in step["back"]["input_lots"]) == [
        ("NH2407A", 1000.0), ("NH2407B", 800.0)]
    shipped = step["forward"]["shipped"]
    assert [(s["to"]["name"], s["quantity"], s["document"]) for s in shipped] == [
        ("Công ty Phân phối Hà Nội", 400.0, "urn:epcglobal:cbv:bt:8930000000026:PXK-2026-0815")]
    farm_lot = _lot(admin, chain["fresh"], "NH2407A")
    forward = ok(brand.get(f"/api/v1/trace/lots/{farm_lot['id']}/one-step"), 200)
    assert [x["lot"] for x in forward["forward"]["output_lots"]] == ["LN2408"]


def test_lineage_backward_reaches_the_farm_and_its_certificates(brand, chain, admin):
    ok(brand.post("/api/v1/trace/certificates", json={
        "scheme": "vietgap", "number": "VG-33-0012", "issuer": "Sở NN&MT Hưng Yên",
        "subject_type": "location", "subject_id": chain["farm"]["id"],
        "valid_from": "2026-01-01", "valid_to": "2099-12-31"}))
    dried = _lot(admin, chain["dried"], "LN2408")
    back = ok(brand.get(f"/api/v1/trace/lots/{dried['id']}/lineage/backward"), 200)
    assert sorted(x["lot"] for x in back["farm_lots"]) == ["NH2407A", "NH2407B"]
    assert {p["planting_area_code"] for p in back["places"]} >= {"VN-HYLN-0012"}
    assert [c["number"] for c in back["certificates"]] == ["VG-33-0012"]


def test_partner_sees_one_step_but_not_the_whole_chain(chain, admin):
    dried = _lot(admin, chain["dried"], "LN2408")
    distributor = chain["distributor"]
    assert distributor.get(f"/api/v1/trace/lots/{dried['id']}/one-step").status_code == 200
    refused = distributor.get(f"/api/v1/trace/lots/{dried['id']}/lineage/backward")
    assert refused.status_code == 403
    farm_lot = _lot(admin, chain["fresh"], "NH2407A")
    assert distributor.get(f"/api/v1/trace/lots/{farm_lot['id']}/one-step").status_code == 404


def test_recall_of_a_farm_lot_reaches_every_downstream_stamp_scan(brand, chain, stamps,
                                                                  admin, anonymous, app):
    first = anonymous.post("/api/v1/scans", json={"code": stamps["uris"][0]}).get_json()
    assert first["verdict"] == "authentic"
    assert first["trace"]["lot"]["status"] == "active"
    assert first["trace"]["origin"]["planting_area_code"] == "VN-HYLN-0012"
    assert first["trace"]["origin"]["province_name"] == "Hưng Yên"
    assert first["trace"]["recall"] is None
    farm_lot = _lot(admin, chain["fresh"], "NH2407A")
    done = ok(brand.post(f"/api/v1/trace/lots/{farm_lot['id']}/recall",
                         json={"reason": "Dư lượng thuốc BVTV vượt ngưỡng"}), 200)
    assert (done["lots_recalled"], done["stamp_ranges_recalled"], done["stamps_recalled"]) == (
        2, 1, 3)
    second = anonymous.post("/api/v1/scans", json={"code": stamps["uris"][1]}).get_json()
    assert second["verdict"] == "recalled"
    assert second["trace"]["lot"]["status"] == "recalled"
    assert second["trace"]["recall"]["reason"] == "Dư lượng thuốc BVTV vượt ngưỡng"
    # The other farm lot is untouched; the recall is an EPCIS event like any other.
    assert _lot(admin, chain["fresh"], "NH2407B")["status"] == "active"
    from scanapp.db import session_scope
    from scanapp.epcis.models import EpcisEvent

    with app.app_context(), session_scope(app) as session:
        event = session.query(EpcisEvent).filter_by(event_id=done["event_id"]).one()
        assert event.body["persistentDisposition"] == {"set": ["recalled"]}
        assert len(event.body["quantityList"]) == 2
    # A recalled lot cannot be shipped on.
    refused = brand.post("/api/v1/trace/events/shipment", json={
        "location_id": chain["plant"]["id"], "to_party_id": chain["dist_party"]["id"],
        "items": [{"gtin": chain["dried"], "lot": "LN2408", "quantity": 1}]})
    assert [p["code"] for p in refused.get_json()["errors"]["problems"]] == ["lot_recalled"]
    assert brand.post(f"/api/v1/trace/lots/{farm_lot['id']}/recall",
                      json={"reason": "again"}).status_code == 409


def test_recall_seen_by_another_worker_within_its_refresh(brand, chain, stamps, admin,
                                                          app_factory):
    other = app_factory()  # a second worker process's app, with its own caches
    client = other.test_client()
    before = client.post("/api/v1/scans", json={"code": stamps["uris"][0]}).get_json()
    assert before["verdict"] == "authentic"
    farm_lot = _lot(admin, chain["fresh"], "NH2407B")
    ok(brand.post(f"/api/v1/trace/lots/{farm_lot['id']}/recall", json={"reason": "nấm mốc"}),
       200)
    import time

    deadline = time.monotonic() + 5
    verdict = None
    while time.monotonic() < deadline:
        body = client.post("/api/v1/scans", json={"code": stamps["uris"][2]}).get_json()
        verdict = body["verdict"]
        if verdict == "recalled" and body["trace"]["recall"]:
            break
        time.sleep(0.2)
    assert verdict == "recalled"


def test_partner_cannot_recall_and_forward_lineage_lists_stamps(chain, stamps, admin,
                                                                inspector):
    farm_lot = _lot(admin, chain["fresh"], "NH2407A")
    assert chain["distributor"].post(f"/api/v1/trace/lots/{farm_lot['id']}/recall",
                                     json={"reason": "x"}).status_code == 404
    forward = ok(inspector.get(f"/api/v1/trace/lots/{farm_lot['id']}/lineage/forward"), 200)
    assert [x["lot"] for x in forward["downstream"]] == ["LN2408"]
    assert forward["downstream"][0]["stamp_ranges"][0]["quantity"] == 3
    assert forward["stamps"] == 3
    assert {s["step"] for s in forward["downstream"][0]["shipments"]} == {"shipping",
                                                                          "receiving"}


def test_forward_lineage_names_the_provinces_where_stamps_were_scanned(chain, stamps, admin,
                                                                       anonymous, brand):
    anonymous.post("/api/v1/scans", json={"code": stamps["uris"][0], "lat": 21.03,
                                          "lon": 105.85})
    farm_lot = _lot(admin, chain["fresh"], "NH2407A")
    forward = ok(brand.get(f"/api/v1/trace/lots/{farm_lot['id']}/lineage/forward"), 200)
    assert forward["scanned_in"] == [{"province": "01", "province_name": "Hà Nội", "scans": 1}]


def test_export_csv_and_xlsx(brand, chain, admin):
    dried = _lot(admin, chain["dried"], "LN2408")
    response = brand.get(f"/api/v1/trace/lots/{dried['id']}/export?format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert header[0] == "Traceability lot code"
    events = {(r[2], r[5]) for r in body}
    assert ("NH2407A", "Harvesting / production") in events
    assert ("LN2408", "Transformation") in events
    assert ("LN2408", "Shipping") in events
    transform = next(r for r in body if r[5] == "Transformation")
    assert "NH2407A" in transform[header.index("Input lots")]
    xlsx = brand.get(f"/api/v1/trace/lots/{dried['id']}/export?format=xlsx")
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.get_data())).active
    assert sheet.auto_filter.ref.startswith("A1:")
    assert sheet.max_row == len(body) + 1
    assert brand.get(f"/api/v1/trace/lots/{dried['id']}/export?format=pdf").status_code == 422


def test_public_lot_view_has_the_ten_items(brand, chain, anonymous, app):
    brand.post("/api/v1/trace/certificates", json={
        "scheme": "ocop", "stars": 4, "number": "OCOP-HY-2026-031", "issuer": "UBND tỉnh Hưng Yên",
        "subject_type": "product",
        "subject_id": brand.get("/api/v1/products").get_json()[1]["id"],
        "valid_from": "2026-01-01", "valid_to": "2099-01-01"})
    view = ok(anonymous.get(f"/api/v1/trace/public/lots/{chain['dried']}/LN2408"), 200)
    assert view["name"] == "Long nhãn Hưng Yên hộp 500 g"
    assert view["producer"]["name"] == "Brand A"
    steps = [s["step"] for s in view["stages"]]
    assert steps[:3] == ["harvest", "harvest", "transforming"]
    assert "shipping" in steps and "receiving" in steps
    assert all(s["product_code"] and s["location_code"] and s["time"] for s in view["stages"])
    assert view["shelf_life"]["expiry_date"] == "2027-07-28"
    assert view["origin"]["kind"] == "growing_area"
    assert [c["scheme_name"] for c in view["certificates"]] == ["OCOP 4 sao"]
    assert len(view["trace_codes"]["upstream"]) == 2
    from scanapp.db import session_scope
    from scanapp.trace import public_lot_view

    with app.app_context(), session_scope(app) as session:
        assert public_lot_view(session, chain["dried"], "LN2408")["name"] == view["name"]
    assert anonymous.get(f"/api/v1/trace/public/lots/{chain['dried']}/NOPE").status_code == 404
    assert anonymous.get("/api/v1/trace/public/lots/123/NOPE").status_code == 422
    recall = ok(anonymous.get(f"/api/v1/trace/public/lots/{chain['dried']}/LN2408/recall"), 200)
    assert recall["recalled"] is False


def test_public_lot_page_when_html_is_asked_for(chain, anonymous):
    page = anonymous.get(f"/api/v1/trace/public/lots/{chain['dried']}/LN2408",
                         headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "Long nhãn Hưng Yên hộp 500 g" in text and "Vùng trồng nhãn Tiên Lữ" in text
    assert "VN-HYLN-0012" in text
    as_json = anonymous.get(f"/api/v1/trace/public/lots/{chain['dried']}/LN2408")
    assert as_json.mimetype == "application/json"


def test_a_stamp_whose_lot_has_no_trace_record_answers_trace_null(brand, chain, anonymous):
    from scanapp.serials.stamps import stamp_uri

    made = ok(brand.post("/api/v1/ranges", json={"gtin": chain["dried"], "quantity": 1,
                                                 "lot": "NOTRACE"}))
    for action in ("print", "activate"):
        ok(brand.post(f"/api/v1/ranges/{made['id']}/{action}", json={}), 200)
    csv_text = brand.get(f"/api/v1/ranges/{made['id']}/codes.csv").get_data(as_text=True)
    serial = csv_text.splitlines()[1].split(",")[0]
    uri = stamp_uri("https://scan.example.vn", chain["dried"], serial, "NOTRACE")
    answer = anonymous.post("/api/v1/scans", json={"code": uri}).get_json()
    assert answer["verdict"] == "authentic" and answer["trace"] is None


def test_recall_marks_lots_and_ranges_in_bulk_with_an_audit_row_each(brand, chain, stamps,
                                                                       admin, app):
    """The bulk statements (one array parameter each on PostgreSQL) leave what the row by
    row path did: every downstream lot with the reason, time, who and root; the range
    recalled with one audit row saying what it was before; loaded lots up to date."""
    import sqlalchemy as sa

    from scanapp.auth.models import Organisation, Role
    from scanapp.auth.service import Principal
    from scanapp.db import session_scope
    from scanapp.serials.models import RangeTransition, SerialRange
    from scanapp.trace import recall
    from scanapp.trace.models import Lot

    farm_lot = _lot(admin, chain["fresh"], "NH2407A")
    with app.app_context(), session_scope(app) as session:
        org_id = session.scalar(sa.select(Organisation.id).order_by(Organisation.id))
        before = session.get(SerialRange, stamps["range_id"]).status
        loaded = session.scalars(sa.select(Lot).where(Lot.lot == "LN2408")).one()
        assert loaded.status == "active"
        principal = Principal(key_id=1, org_id=org_id, org_name="admin", role=Role.ADMIN)
        done = recall.recall_lot(session, principal, farm_lot["id"], "Dư lượng kháng sinh")
        assert (done["lots_recalled"], done["stamp_ranges_recalled"],
                done["stamps_recalled"]) == (2, 1, 3)
        # The object loaded before the recall says what the database says, unrefreshed.
        assert (loaded.status, loaded.recall_reason, loaded.recall_root_id) == (
            "recalled", "Dư lượng kháng sinh", farm_lot["id"])
    with app.app_context(), session_scope(app) as session:
        lots = session.scalars(sa.select(Lot).where(Lot.status == "recalled")).all()
        assert sorted(lot.lot for lot in lots) == ["LN2408", "NH2407A"]
        for lot in lots:
            assert lot.recall_reason == "Dư lượng kháng sinh"
            assert lot.recall_root_id == farm_lot["id"]
            assert lot.recalled_by_org_id == org_id and lot.recalled_at is not None
        assert session.get(SerialRange, stamps["range_id"]).status == "recalled"
        audit = session.scalars(sa.select(RangeTransition).where(
            RangeTransition.action == "recall")).all()
        assert [(a.range_id, a.from_status, a.to_status, a.reason, a.actor_org_id)
                for a in audit] == [(stamps["range_id"], before, "recalled",
                                     "lot recall: Dư lượng kháng sinh", org_id)]
