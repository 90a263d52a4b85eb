"""The National Traceability Portal push: ten items per lot, from a durable outbox."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from scanapp.trace import portal
from tests.trace.conftest import ok


@pytest.fixture
def portal_server():
    received: list[dict] = []
    state = {"status": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if state["status"] == 200:
                received.append(json.loads(body))
            self.send_response(state["status"])
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/lots", received, state
    server.shutdown()
    thread.join(timeout=5)


def test_every_changed_lot_goes_to_the_portal_once_with_its_ten_items(chain, app,
                                                                       portal_server):
    url, received, state = portal_server
    app.config["TRACE_PORTAL_URL"] = url
    app.config["EPCIS_RETRY_BASE"] = 0.0  # retry at once (the exporter's backoff)
    state["status"] = 503
    failed = portal.push_pending(app)
    assert failed.failed == 3 and not received  # the portal is down: kept for later
    state["status"] = 200
    done = portal.push_pending(app)
    assert done.sent == 3
    documents = {d["items"]["7_traceCodes"]["lot"]: d for d in received[0]["documents"]}
    assert set(documents) == {"NH2407A", "NH2407B", "LN2408"}
    dried = documents["LN2408"]
    assert sorted(dried["items"], key=lambda k: int(k.split("_")[0])) == [
        "1_name", "2_images", "3_producer", "4_address", "5_stages", "6_productionTime",
        "7_traceCodes", "8_brand", "9_shelfLife", "10_standards"]
    assert dried["growingArea"]["plantingAreaCode"] == "VN-HYLN-0012"
    assert all(s["productTraceCode"] and s["locationTraceCode"]
               for s in dried["items"]["5_stages"])
    assert portal.push_pending(app).sent == 0  # nothing twice


def test_the_worker_process_pushes_the_lots_to_the_portal(chain, app, portal_server):
    url, received, _state = portal_server
    app.config["TRACE_PORTAL_URL"] = url
    with app.app_context():  # `flask` pushes one for every command; the test runner does not
        result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert {d["items"]["7_traceCodes"]["lot"] for d in received[0]["documents"]} == {
        "NH2407A", "NH2407B", "LN2408"}
    assert portal.push_pending(app).sent == 0  # the worker marked them sent


def test_a_portal_outage_fails_the_workers_pass_and_keeps_the_lots(chain, app, portal_server):
    url, received, state = portal_server
    app.config.update(TRACE_PORTAL_URL=url, EPCIS_RETRY_BASE=0.0)
    state["status"] = 503
    with app.app_context():  # `flask` pushes one for every command; the test runner does not
        result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code != 0 and "portal push failed" in str(result.exception)
    state["status"] = 200
    assert portal.push_pending(app).sent == 3 and received


def test_an_expired_certificate_reaches_the_stamp_page_marked_and_stays_off_the_portal_list(
        brand, chain, stamps, anonymous, app):
    """A lapsed VietGAP is shown to the consumer as expired ("đã hết hạn"), never as valid and
    never silently dropped; a revoked one is not shown; the portal lists it apart."""
    import datetime as dt
    import re
    from urllib.parse import urlsplit

    from scanapp.db import session_scope
    from scanapp.trace.models import Lot
    from scanapp.trace.portal import portal_document

    today = dt.date.today()
    farm = chain["farm"]
    base = {"issuer": "Sở NN&MT Hưng Yên", "subject_type": "location", "subject_id": farm["id"]}
    ok(brand.post("/api/v1/trace/certificates", json={
        **base, "scheme": "vietgap", "number": "VG-33-0007",
        "valid_from": str(today - dt.timedelta(days=800)),
        "valid_to": str(today - dt.timedelta(days=3))}))
    ok(brand.post("/api/v1/trace/certificates", json={
        **base, "scheme": "globalgap", "number": "GG-33-0001",
        "valid_from": str(today - dt.timedelta(days=30)),
        "valid_to": str(today + dt.timedelta(days=300))}))
    revoked = ok(brand.post("/api/v1/trace/certificates", json={
        **base, "scheme": "organic", "number": "HC-33-0002",
        "valid_from": str(today - dt.timedelta(days=30)),
        "valid_to": str(today + dt.timedelta(days=300))}))
    ok(brand.post(f"/api/v1/trace/certificates/{revoked['id']}/revoke",
                  json={"reason": "kiểm tra lại không đạt"}), 200)

    view = ok(anonymous.get(f"/api/v1/trace/public/lots/{chain['dried']}/LN2408"), 200)
    assert [(c["number"], c["status"]) for c in view["certificates"]] == [
        ("GG-33-0001", "valid"), ("VG-33-0007", "expired")]

    stamp = urlsplit(stamps["uris"][0])
    page = anonymous.get(stamp.path + (f"?{stamp.query}" if stamp.query else ""),
                         headers={"Accept": "text/html,application/xhtml+xml"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    certs = re.search(r'<section class="c" id="certificates">(.*?)</section>', html, re.S)
    assert certs is not None, "the stamp page shows no certificates"
    items = re.findall(r'<li class="cert-(\w+)"><b>([^<]*)</b> <span class="tag">([^<]*)'
                       r'</span>(?:<br><span class="s">([^<]*)</span>)?', certs.group(1))
    assert [(status, tag) for status, _name, tag, _detail in items] == [
        ("valid", "còn hiệu lực"), ("expired", "đã hết hạn")]
    assert "VG-33-0007" in items[1][3] and "HC-33-0002" not in html

    # The plain HTML document says so too; gs1:certificationInfo lists only the valid one.
    plain = anonymous.get(f"/api/v1/trace/public/lots/{chain['dried']}/LN2408",
                          headers={"Accept": "text/html"}).get_data(as_text=True)
    assert re.search(r"VG-33-0007[^<]*<b>đã hết hạn</b>", plain)
    assert re.search(r"GG-33-0001[^<]*còn hiệu lực", plain)
    info = ok(anonymous.get(
        f"/api/v1/trace/public/lots/{chain['dried']}/LN2408/certificates"), 200)
    assert [c["number"] for c in info["certificates"]] == ["GG-33-0001"]
    # The scan answer's summary still carries only what is valid today.
    answer = anonymous.post("/api/v1/scans", json={"code": stamps["uris"][1]}).get_json()
    assert [c["number"] for c in answer["trace"]["certificates"]] == ["GG-33-0001"]
    # The portal lists valid certifications; the lapsed one goes apart, never as current.
    with app.app_context(), session_scope(app) as session:
        lot = session.query(Lot).filter_by(gtin=chain["dried"], lot="LN2408").one()
        document = portal_document(session, lot)
    assert [c["number"] for c in document["certifications"]] == ["GG-33-0001"]
    assert [c["number"] for c in document["expiredCertifications"]] == ["VG-33-0007"]
