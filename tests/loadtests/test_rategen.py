"""The fixed-rate generator: it keeps the schedule, counts errors, and includes queueing.

Against a tiny local WSGI server, not scanapp: these tests pin down the instrument itself.
"""

from __future__ import annotations

import threading
import time

import pytest
from werkzeug.serving import make_server

from loadtests import rategen


def _app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/slow":
        time.sleep(0.05)
    if path == "/echo":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        status = "200 OK" if body.startswith(b"{") else "422 Unprocessable Entity"
        start_response(status, [("Content-Type", "application/json"),
                                ("Content-Length", str(len(body)))])
        return [body]
    if path == "/missing":
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")])
    return [b"{}"]


@pytest.fixture
def server():
    srv = make_server("127.0.0.1", 0, _app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


def test_sends_the_offered_number_of_requests_over_the_duration(server):
    result = rategen.run_fixed_rate(server + "/", rate=200, duration=1.0, connections=8)
    assert result.sent == 200 and result.completed == 200 and result.ok == 200
    assert 0.9 <= result.duration_s <= 2.0
    assert result.non_2xx == 0 and result.socket_errors == 0 and result.timeouts == 0


def test_latency_includes_the_server_time(server):
    result = rategen.run_fixed_rate(server + "/slow", rate=40, duration=0.5, connections=8)
    assert result.ok == 20
    assert result.p50_ms >= 50


def test_queueing_behind_too_few_connections_counts_as_latency(server):
    # One connection, 50 ms per answer, 100 requests/s offered: the queue grows, and the
    # latency measured from each request's intended send time must show it.
    result = rategen.run_fixed_rate(server + "/slow", rate=100, duration=0.5, connections=1)
    assert result.completed == 50
    assert result.p99_ms > 1000


def test_non_2xx_answers_are_counted_as_errors(server):
    result = rategen.run_fixed_rate(server + "/missing", rate=50, duration=0.2, connections=2)
    assert result.non_2xx == 10 and result.ok == 0
    assert result.status_counts == {"404": 10}


def test_each_request_carries_its_own_body(server):
    bodies = [b'{"n": %d}' % i for i in range(9)] + [b"not json"]
    result = rategen.run_fixed_rate(server + "/echo", rate=50, duration=0.2, bodies=bodies,
                                    connections=2)
    assert result.ok == 9 and result.non_2xx == 1


def test_too_few_bodies_is_refused_before_sending(server):
    with pytest.raises(ValueError, match="need 10 bodies"):
        rategen.run_fixed_rate(server + "/echo", rate=50, duration=0.2, bodies=[b"{}"])


def test_refused_connections_are_socket_errors():
    result = rategen.run_fixed_rate("http://127.0.0.1:9/", rate=20, duration=0.2,
                                    connections=2, timeout=1.0)
    assert result.ok == 0
    assert result.socket_errors > 0 or result.timeouts > 0


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert rategen.percentile(values, 50) == 50
    assert rategen.percentile(values, 99) == 99
    assert rategen.percentile(values, 100) == 100
    assert rategen.percentile([], 50) is None
