"""The National Traceability Portal push: ten items per lot, from a durable outbox."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from scanapp.trace import portal


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
