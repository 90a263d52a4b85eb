"""The push exporter: a portal that is down at first gets everything, nothing twice."""

from __future__ import annotations

import threading
import time

import pytest

from scanapp.db import session_scope
from scanapp.epcis import exporter
from scanapp.epcis.models import EpcisEvent, EpcisOutbox
from tests.epcis.capture_server import CaptureServer, eventually, free_port
from tests.epcis.conftest import Publisher
from tests.epcis.schema import assert_valid

FAST = dict(EPCIS_PUSH_INTERVAL=0.1, EPCIS_RETRY_BASE=0.1, EPCIS_RETRY_MAX=0.4,
            EPCIS_PUSH_TIMEOUT=5)


@pytest.fixture
def port():
    return free_port()


@pytest.fixture
def server(port):
    capture = CaptureServer(port)
    yield capture
    capture.stop()


def outbox(app) -> list[EpcisOutbox]:
    with app.app_context(), session_scope(app) as session:
        return list(session.query(EpcisOutbox).order_by(EpcisOutbox.id))


def all_event_ids(app) -> list[str]:
    with app.app_context(), session_scope(app) as session:
        return [row.event_id for row in session.query(EpcisEvent).order_by(EpcisEvent.id)]


def life(publisher, product, ranges: int = 3) -> None:
    for _ in range(ranges):
        range_id = publisher.issue(product)
        publisher.step(range_id, "print")
        publisher.step(range_id, "void", serials=["0AAAAAAAAAAA00000001"])


def test_worker_delivers_everything_once_after_the_portal_comes_back(
        app, app_factory, publisher, brand_product, server, port, run_worker):
    pushing = app_factory(EPCIS_CAPTURE_URL=f"http://127.0.0.1:{port}",
                          EPCIS_CAPTURE_AUTHORIZATION="Bearer portal-token", **FAST)
    life(publisher, brand_product)
    # The worker process's pusher: the portal is down, so it fails and backs off.
    run_worker(pushing)
    eventually(lambda: all(row.attempts >= 2 for row in outbox(app)))
    rows = outbox(app)
    assert all(row.sent_at is None and "unreachable" in row.last_error for row in rows)

    server.start()
    expected = all_event_ids(app)
    eventually(lambda: all(row.sent_at for row in outbox(app)))
    # Events recorded after the outage go out too (the pusher polls, no request needed).
    life(publisher, brand_product, ranges=1)
    eventually(lambda: len(server.event_ids) == len(expected) + 3)

    assert sorted(server.event_ids) == sorted(all_event_ids(app))
    assert len(set(server.event_ids)) == len(server.event_ids)  # nothing twice
    for path, headers in server.requests:
        assert path == "/capture"
        assert headers["Authorization"] == "Bearer portal-token"
        assert headers["Content-Type"] == "application/ld+json"
        assert headers["GS1-EPCIS-Version"] == "2.0.0"
    for document in server.received:
        assert_valid(document)
    assert all(row.last_error is None for row in outbox(app))


def test_server_errors_are_retried_with_backoff(app, app_factory, publisher, brand_product,
                                                port, admin):
    capture = CaptureServer(port, fail_next=2).start()
    try:
        pushing = app_factory(EPCIS_CAPTURE_URL=f"http://127.0.0.1:{port}/capture",
                              EPCIS_RETRY_BASE=30)
        life(publisher, brand_product, ranges=1)
        first = exporter.push_pending(pushing)
        assert (first.sent, first.failed) == (0, 3) and "HTTP 503" in first.last_error
        # Backing off: nothing is due, so an immediate second round sends nothing.
        assert exporter.push_pending(pushing).batches == 0
        status = admin.get("/api/v1/epcis/outbox").get_json()
        assert status["pending"] == 3 and status["retrying"] == 3
        assert "503" in status["last_error"]
        # Time passes (the rows come due), the portal fails once more, then accepts.
        for _ in range(2):
            with app.app_context(), session_scope(app) as session:
                for row in session.query(EpcisOutbox):
                    row.next_attempt_at = row.created_at
                session.commit()
            exporter.push_pending(pushing)
        assert capture.event_ids and sorted(capture.event_ids) == sorted(all_event_ids(app))
        assert [row.attempts for row in outbox(app)] == [3, 3, 3]
        status = admin.get("/api/v1/epcis/outbox").get_json()
        assert (status["pending"], status["sent"], status["last_error"]) == (0, 3, None)
    finally:
        capture.stop()


@pytest.mark.committed  # threads race on their own connections
def test_concurrent_pushers_never_send_an_event_twice(app, app_factory, publisher,
                                                      brand_product, port):
    capture = CaptureServer(port, delay=0.02).start()
    try:
        life(publisher, brand_product, ranges=8)
        apps = [app_factory(EPCIS_CAPTURE_URL=f"http://127.0.0.1:{port}",
                            EPCIS_PUSH_BATCH=2) for _ in range(3)]
        threads = [threading.Thread(target=exporter.push_pending, args=(a,)) for a in apps]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(capture.event_ids) == 24
        assert sorted(capture.event_ids) == sorted(all_event_ids(app))
        assert all(len(doc["epcisBody"]["eventList"]) <= 2 for doc in capture.received)
    finally:
        capture.stop()


def test_push_command_reports_and_fails_while_the_portal_is_down(app, app_factory, publisher,
                                                                 brand_product, server, port):
    pushing = app_factory(EPCIS_CAPTURE_URL=f"http://127.0.0.1:{port}",
                          EPCIS_RETRY_BASE=0.01, EPCIS_RETRY_MAX=0.01)
    life(publisher, brand_product, ranges=1)
    runner = pushing.test_cli_runner()
    down = runner.invoke(args=["epcis", "push"])
    assert down.exit_code == 1
    assert "sent 0 events; 3 waiting" in down.output and "unreachable" in down.output
    server.start()
    eventually(lambda: all(r.next_attempt_at <= exporter.utcnow() for r in outbox(app)))
    up = runner.invoke(args=["epcis", "push"])
    assert up.exit_code == 0, up.output
    assert "sent 3 events; 0 waiting" in up.output
    assert len(server.event_ids) == 3


def test_push_command_needs_a_capture_url(runner):
    result = runner.invoke(args=["epcis", "push"])
    assert result.exit_code != 0 and "SCANAPP_EPCIS_CAPTURE_URL" in result.output


def test_the_web_app_pushes_nothing_itself(app_factory, app, brand_product, server, port):
    """The pusher belongs to the worker process: requests and commits start no thread."""
    pushing = app_factory(EPCIS_CAPTURE_URL=f"http://127.0.0.1:{port}", **FAST)
    server.start()
    assert pushing.test_client().get("/healthz").status_code == 200
    Publisher(pushing).issue(brand_product)
    time.sleep(0.5)
    assert server.event_ids == []
    assert not any(t.name == "scanapp-epcis-pusher" for t in threading.enumerate())

def test_documents_stay_under_the_size_limit(app, app_factory, publisher, brand_product,
                                             server, port):
    server.start()
    range_id = publisher.issue(brand_product)
    # Three partial steps of 300 stamps each: roughly 25 kB of epcList apiece.
    for step in range(3):
        publisher.step(range_id, "void",
                       serials=[f"0AAAAAAAAAA{step}{i:08d}" for i in range(300)])
    pushing = app_factory(EPCIS_CAPTURE_URL=f"http://127.0.0.1:{port}",
                          EPCIS_PUSH_MAX_BYTES=30_000)
    result = exporter.push_pending(pushing)
    assert result.sent == 4 and result.batches == 3
    sizes = [len(doc["epcisBody"]["eventList"]) for doc in server.received]
    assert sizes == [2, 1, 1]  # the small commissioning event rides with the first
    assert sorted(server.event_ids) == sorted(all_event_ids(app))
