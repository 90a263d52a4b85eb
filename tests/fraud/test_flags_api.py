"""The inspector API: flags, escalation, cases, dossier, inspections, hotspots."""

from __future__ import annotations

import pytest

from scanapp.fraud.flags import ESCALATION_STEP
from tests.conftest import gtin14
from tests.fraud.conftest import ago

SERIAL_A = "1AAAAAAAAAAAAAAAAAAA"
SERIAL_B = "1BBBBBBBBBBBBBBBBBBB"
SERIAL_C = "1CCCCCCCCCCCCCCCCCCC"


def _other_product(other_brand):
    response = other_brand.post("/api/v1/products", json={
        "gtin": gtin14("0893456789029"), "name": "Trà", "market_regions": ["48"]})
    assert response.status_code == 201
    return response.get_json()


def test_flags_list_is_sorted_by_risk_and_scoped_per_brand(
        inspector, brand, other_brand, admin, product, scans):
    other = _other_product(other_brand)
    scans.flagged(SERIAL_A, product["gtin"], risk=60)
    scans.flagged(SERIAL_B, product["gtin"], risk=95, province="01")
    scans.flagged(SERIAL_C, other["gtin"], risk=75, province="48")

    listing = inspector.get("/api/v1/flags").get_json()
    assert listing["total"] == 3
    assert [f["serial"] for f in listing["items"]] == [SERIAL_B, SERIAL_C, SERIAL_A]
    item = listing["items"][0]
    assert {"serial", "gtin", "risk", "reasons", "status"} <= set(item)
    assert item["status"] == "open" and item["reasons"] == ["many_devices"]

    assert [f["serial"] for f in brand.get("/api/v1/flags").get_json()["items"]] == \
        [SERIAL_B, SERIAL_A]
    assert [f["serial"] for f in other_brand.get("/api/v1/flags").get_json()["items"]] == \
        [SERIAL_C]
    assert admin.get("/api/v1/flags").get_json()["total"] == 3
    # A brand's "brand" filter cannot widen its view.
    widened = brand.get(f"/api/v1/flags?brand={other_brand.org_id}").get_json()
    assert {f["serial"] for f in widened["items"]} == {SERIAL_A, SERIAL_B}
    assert inspector.get(f"/api/v1/flags?brand={other_brand.org_id}").get_json()["total"] == 1


def test_flag_filters_and_pages(inspector, product, scans):
    scans.flagged(SERIAL_A, product["gtin"], risk=60, province="79")
    scans.flagged(SERIAL_B, product["gtin"], risk=95, province="01")

    def serials(query):
        response = inspector.get("/api/v1/flags?" + query)
        assert response.status_code == 200, response.get_json()
        return [f["serial"] for f in response.get_json()["items"]]

    assert serials("province=01") == [SERIAL_B]
    assert serials("min_risk=61") == [SERIAL_B]
    assert serials("min_risk=60") == [SERIAL_B, SERIAL_A]
    assert serials(f"gtin={product['gtin'][1:]}") == [SERIAL_B, SERIAL_A]  # GTIN-13 spelling
    assert serials("status=open") == [SERIAL_B, SERIAL_A]
    assert serials("status=false_alarm,resolved") == []
    since = ago(hours=1).isoformat().replace("+00:00", "Z")
    assert serials(f"since={since}") == [SERIAL_B, SERIAL_A]
    assert serials(f"until={since}") == []
    page = inspector.get("/api/v1/flags?per_page=1&page=2").get_json()
    assert page["total"] == 2 and [f["serial"] for f in page["items"]] == [SERIAL_A]


def test_bad_filters_are_422_not_500(inspector):
    for query in ("province=99", "min_risk=101", "status=closed", "since=yesterday",
                  "since=2026-01-01T00:00:00", "per_page=0", "colour=red"):
        response = inspector.get("/api/v1/flags?" + query)
        assert response.status_code == 422, query
        assert response.get_json()["code"] == "validation_error"
    response = inspector.get("/api/v1/flags?since=2026-02-01T00:00:00Z"
                             "&until=2026-01-01T00:00:00Z")
    assert response.status_code == 422 and response.get_json()["code"] == "invalid_window"


def test_who_may_read_flags(anonymous, printer):
    assert anonymous.get("/api/v1/flags").status_code == 401
    assert printer.get("/api/v1/flags").status_code == 403


def test_a_code_is_flagged_once_and_escalates_when_risk_rises(
        app, inspector, product, scans, published):
    gtin = product["gtin"]
    scans.flagged(SERIAL_A, gtin, risk=55)
    scans.flagged(SERIAL_A, gtin, risk=55 + ESCALATION_STEP - 1)  # not news
    scans.flagged(SERIAL_A, gtin, risk=90, reasons=("impossible_travel", "many_devices"))
    listing = inspector.get("/api/v1/flags").get_json()
    assert listing["total"] == 1
    flag = listing["items"][0]
    assert flag["risk"] == 90 and flag["escalations"] == 1
    assert flag["reasons"] == ["impossible_travel", "many_devices"]
    raised = [e for e in published if type(e).__name__ == "FlagRaised"]
    assert [(e.risk, e.escalated) for e in raised] == [(55, False), (90, True)]
    assert raised[0].brand_org_id == product["brand_org_id"]
    # A lower risk later never lowers the flag.
    scans.flagged(SERIAL_A, gtin, risk=50)
    assert inspector.get("/api/v1/flags").get_json()["items"][0]["risk"] == 90


def test_case_workflow_with_audit_trail(inspector, brand, product, scans, published):
    scans.flagged(SERIAL_A, product["gtin"], risk=80)
    flag_id = inspector.get("/api/v1/flags").get_json()["items"][0]["id"]
    url = f"/api/v1/flags/{flag_id}/case"

    r = inspector.post(url, json={"status": "investigating", "assignee": "Nguyễn Văn A",
                                  "note": "Đã liên hệ cửa hàng"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "investigating"
    assert r.get_json()["assignee"] == "Nguyễn Văn A"

    # Not every move is allowed: a case under investigation cannot be "resolved" directly.
    r = inspector.post(url, json={"status": "resolved"})
    assert r.status_code == 409 and r.get_json()["code"] == "invalid_transition"
    r = inspector.post(url, json={"status": "investigating"})
    assert r.status_code == 409

    # The brand answers with a note but cannot decide the case.
    assert brand.post(url, json={"note": "Lô này bán ở Hà Nội"}).status_code == 200
    assert brand.post(url, json={"status": "false_alarm"}).status_code == 403

    assert inspector.post(url, json={"status": "confirmed_counterfeit"}).status_code == 200
    assert inspector.post(url, json={"status": "resolved", "note": "Đã thu giữ"}).status_code \
        == 200
    assert inspector.post(url, json={}).status_code == 422
    assert inspector.post(url, json={"status": "lost"}).status_code == 422

    trail = inspector.get(f"/api/v1/flags/{flag_id}").get_json()["trail"]
    assert [(e["action"], e["to_status"]) for e in trail] == [
        ("raised", "open"), ("status", "investigating"), ("assigned", None), ("note", None),
        ("status", "confirmed_counterfeit"), ("status", "resolved")]
    assert trail[1]["note"] == "Đã liên hệ cửa hàng"
    assert trail[3]["actor_org_id"] == brand.org_id
    decided = [e for e in published if type(e).__name__ == "CaseDecided"]
    assert [e.status for e in decided] == ["investigating", "confirmed_counterfeit", "resolved"]
    assert decided[-1].note == "Đã thu giữ"


def test_other_brands_flag_is_not_found(brand, other_brand, product, scans):
    scans.flagged(SERIAL_A, product["gtin"])
    flag_id = brand.get("/api/v1/flags").get_json()["items"][0]["id"]
    assert other_brand.get(f"/api/v1/flags/{flag_id}").status_code == 404
    assert other_brand.post(f"/api/v1/flags/{flag_id}/case",
                            json={"note": "x"}).status_code == 404
    assert other_brand.get(f"/api/v1/codes/{SERIAL_A}").status_code == 404


def test_a_dismissed_case_reopens_when_the_code_escalates(inspector, product, scans):
    scans.flagged(SERIAL_A, product["gtin"], risk=55)
    flag_id = inspector.get("/api/v1/flags").get_json()["items"][0]["id"]
    inspector.post(f"/api/v1/flags/{flag_id}/case", json={"status": "false_alarm"})
    scans.flagged(SERIAL_A, product["gtin"], risk=85, reasons=("impossible_travel",))
    flag = inspector.get(f"/api/v1/flags/{flag_id}").get_json()
    assert flag["status"] == "open" and flag["risk"] == 85
    assert flag["trail"][-1]["action"] == "escalated"
    assert flag["trail"][-1]["from_status"] == "false_alarm"


def test_dossier_tells_the_whole_story(inspector, product, scans):
    gtin = product["gtin"]
    scans.event(SERIAL_A, gtin, province="01", at=ago(hours=3), scan_no=1, device="dev1")
    scans.flagged(SERIAL_A, gtin, risk=90, reasons=("impossible_travel",), province="79")
    inspector.post("/api/v1/inspections", json={
        "serial": SERIAL_A, "finding": "counterfeit", "lat": 10.77, "lon": 106.70,
        "place": "Chợ Bến Thành, sạp 12", "note": "Tem in mờ"})
    response = inspector.get(f"/api/v1/codes/{SERIAL_A.lower()}")
    assert response.status_code == 200, response.get_json()
    d = response.get_json()
    assert d["serial"] == SERIAL_A and d["gtin"] == gtin
    assert d["product"]["name"] == "Nước mắm thử" and d["product"]["brand"] == "Brand A"
    assert d["scan_count"] == 2
    assert [s["province"] for s in d["scans"]] == ["01", "79"]
    assert d["scans"][0]["province_name"] == "Hà Nội" and d["scans"][0]["at"]
    assert d["scans"][0]["lat"] is not None
    assert [s["id"] for s in d["signals"]] == ["impossible_travel"]
    assert d["signals"][0]["title_vi"] and d["signals"][0]["explanation_en"]
    assert d["case"]["status"] == "open"
    assert [e["action"] for e in d["case"]["trail"]] == ["raised", "inspection"]
    assert d["inspections"][0]["finding"] == "counterfeit"
    assert d["inspections"][0]["province"] == "79"
    assert d["inspections"][0]["inspector"] == "Inspectorate I"


def test_dossier_of_an_unknown_code_is_404(inspector):
    response = inspector.get("/api/v1/codes/1ZZZZZZZZZZZZZZZZZZZ")
    assert response.status_code == 404 and response.get_json()["code"] == "unknown_code"


def test_field_inspection_is_recorded_and_published(inspector, brand, product, published):
    response = inspector.post("/api/v1/inspections", json={
        "serial": SERIAL_B, "gtin": product["gtin"], "finding": "genuine",
        "province": "48", "note": "OK"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["flag_id"] is None and body["province"] == "48"
    event = [e for e in published if type(e).__name__ == "FieldInspectionRecorded"][0]
    assert (event.serial, event.finding, event.province) == (SERIAL_B, "genuine", "48")
    assert brand.post("/api/v1/inspections", json={
        "serial": SERIAL_B, "finding": "genuine"}).status_code == 403


def test_bad_inspections_are_422(inspector, product):
    for body in ({"finding": "genuine"},
                 {"serial": SERIAL_B, "gtin": product["gtin"], "finding": "maybe"},
                 {"serial": SERIAL_B, "gtin": product["gtin"], "finding": "genuine", "lat": 10},
                 {"serial": SERIAL_B, "gtin": product["gtin"], "finding": "genuine",
                  "lat": 100, "lon": 0},
                 {"serial": SERIAL_B, "finding": "genuine"},  # never scanned: gtin needed
                 {"serial": SERIAL_B, "gtin": "123", "finding": "genuine"}):
        response = inspector.post("/api/v1/inspections", json=body)
        assert response.status_code == 422, body
        assert response.get_json()["message"]


def test_hotspots_count_forged_and_flagged_scans_per_province_and_cell(
        inspector, brand, other_brand, product, scans):
    gtin = product["gtin"]
    cluster = (10.80, 106.66)  # one market district in Hồ Chí Minh
    for i in range(6):
        scans.event(f"9FORGED{i:013d}", gtin, verdict="counterfeit", province="79",
                    point=(cluster[0] + 0.001 * i, cluster[1]), at=ago(hours=i + 1))
    scans.event("9FORGEDXXXXXXXXXXXXX", gtin, verdict="counterfeit", province="01")
    scans.event("9OLDFORGEDXXXXXXXXXX", gtin, verdict="counterfeit", province="01",
                at=ago(days=30))
    scans.flagged(SERIAL_A, gtin, province="48")
    scans.event(SERIAL_C, gtin, province="48")  # genuine, unflagged: not counted

    body = inspector.get("/api/v1/hotspots").get_json()
    provinces = {p["province"]: p for p in body["provinces"]}
    assert provinces["79"]["forged"] == 6 and provinces["79"]["hotspot"] is True
    assert provinces["01"]["forged"] == 1 and provinces["01"]["hotspot"] is False
    assert provinces["48"] == {**provinces["48"], "forged": 0, "flagged": 1, "hotspot": False}
    assert body["provinces"][0]["province"] == "79"
    top_cell = body["cells"][0]
    assert top_cell["forged"] == 6 and top_cell["hotspot"] and top_cell["province"] == "79"

    month = inspector.get("/api/v1/hotspots?since=" +
                          ago(days=40).isoformat().replace("+00:00", "Z")).get_json()
    assert {p["province"]: p["forged"] for p in month["provinces"]}["01"] == 2
    tuned = inspector.get("/api/v1/hotspots?min_forged=7").get_json()
    assert not any(p["hotspot"] for p in tuned["provinces"])
    assert inspector.get("/api/v1/hotspots?province=01").get_json()["provinces"][0][
        "forged"] == 1
    # A brand sees forgeries of its own GTINs only.
    assert brand.get("/api/v1/hotspots").get_json()["provinces"][0]["forged"] == 6
    assert other_brand.get("/api/v1/hotspots").get_json()["provinces"] == []


def test_bad_hotspot_windows_are_422(inspector):
    assert inspector.get("/api/v1/hotspots?since=2020-01-01T00:00:00Z"
                         "&until=2026-01-01T00:00:00Z").status_code == 422
    assert inspector.get("/api/v1/hotspots?min_forged=0").status_code == 422
    assert inspector.get("/api/v1/hotspots?province=00").status_code == 422


def test_a_long_history_is_capped_but_counted(inspector, product, scans, monkeypatch):
    from scanapp.fraud import dossier

    monkeypatch.setattr(dossier, "MAX_SCANS", 3)
    for hours in range(5, 0, -1):
        scans.event(SERIAL_A, product["gtin"], province="79", at=ago(hours=hours))
    d = inspector.get(f"/api/v1/codes/{SERIAL_A}").get_json()
    assert d["scan_count"] == 5 and d["scans_truncated"] is True
    assert len(d["scans"]) == 3
    assert d["scans"][-1]["at"] == d["last_scan_at"]  # the newest are the ones kept


@pytest.mark.committed  # threads race on their own connections
def test_concurrent_scans_of_one_clone_raise_one_flag(inspector, product, scans, published,
                                                       caplog):
    import threading

    barrier = threading.Barrier(6)
    errors = []

    def scan_once(risk):
        try:
            barrier.wait(10)
            scans.flagged(SERIAL_A, product["gtin"], risk=risk)
        except Exception as exc:  # collected: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=scan_once, args=(60 + i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    # The engine logs (rather than raises) a failed flag write: there must be none.
    assert not [r for r in caplog.records if r.name.startswith("scanapp.fraud")]
    listing = inspector.get("/api/v1/flags").get_json()
    assert listing["total"] == 1
    raised = [e for e in published if type(e).__name__ == "FlagRaised" and not e.escalated]
    assert len(raised) == 1
