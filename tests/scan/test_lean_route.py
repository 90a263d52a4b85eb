"""The lean scan route (scanapp/scan/lean.py) and the documented Flask view answer alike.

Every request is sent twice: through the whole app (the lean route in front of Flask, as
gunicorn serves it) and straight to the Flask app behind it (the flask-smorest view the
OpenAPI document describes). Status, every header and every byte of the body must agree,
for valid scans and for every kind of refusal; valid scans must be answered without Flask.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client
from werkzeug.wrappers import Response

from scanapp.scan.lean import LeanScanRoute
from scanapp.services import services

from .conftest import Clock

HANOI = (21.02851, 105.85423)


def lean_route(app) -> LeanScanRoute:
    wsgi = app.wsgi_app
    while not isinstance(wsgi, LeanScanRoute):
        wsgi = wsgi.app  # ProxyFix, when proxy hops are configured
    return wsgi


class Both:
    """Sends a request through the lean route and straight to Flask; counts what Flask saw."""

    def __init__(self, app):
        self.app = app
        self.route = lean_route(app)
        self.flask_calls = 0
        flask_wsgi = self.route.flask_wsgi

        def counting(environ, start_response):
            self.flask_calls += 1
            return flask_wsgi(environ, start_response)

        self.route.flask_wsgi = counting
        self.lean = app.test_client()
        self.flask = Client(flask_wsgi, Response)

    def post(self, which, body, content_type="application/json", path="/api/v1/scans",
             address="10.9.0.1", **kwargs):
        client = self.lean if which == "lean" else self.flask
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        return client.post(path, data=data, content_type=content_type,
                           environ_base={"REMOTE_ADDR": address}, **kwargs)

    def same_answer(self, body, **kwargs):
        lean = self.post("lean", body, **kwargs)
        flask = self.post("flask", body, **kwargs)
        assert_same(lean, flask)
        return lean


def assert_same(lean, flask):
    assert lean.status_code == flask.status_code, (lean.get_data(), flask.get_data())
    assert lean.get_data() == flask.get_data()
    assert sorted(lean.headers.items()) == sorted(flask.headers.items())


@pytest.fixture
def both(app):
    services(app).scan.clock = Clock()  # both scans at the same instant: same bodies
    return Both(app)


def test_a_valid_scan_is_answered_without_flask_and_as_the_view_answers(both, issue_stamps):
    first, second = issue_stamps(2, lot="L1", expiry="2027-06-30")
    both.flask_calls = 0  # issuing went through Flask
    fields = {"lat": HANOI[0], "lon": HANOI[1], "accuracy_m": 12.5, "device_id": "phone-1",
              "source": "consumer"}
    lean = both.post("lean", {"code": first.uri, **fields})
    assert both.flask_calls == 0  # no Flask request context for a scan
    flask = both.post("flask", {"code": second.uri, **fields})
    assert lean.status_code == flask.status_code == 200
    lean_body, flask_body = lean.get_json(), flask.get_json()
    assert lean_body["serial"] == first.serial and flask_body["serial"] == second.serial
    assert list(lean_body) == list(flask_body)  # every field, in the documented order
    assert {**lean_body, "serial": None} == {**flask_body, "serial": None}
    assert lean_body["verdict"] == "authentic" and lean_body["lot"] == "L1"
    assert sorted((k, v) for k, v in lean.headers.items() if k != "Content-Length") == \
        sorted((k, v) for k, v in flask.headers.items() if k != "Content-Length")
    assert lean.headers["Access-Control-Allow-Origin"] == "*"
    assert lean.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_repeats_counterfeits_and_minimal_bodies_agree(both, issue_stamps):
    stamp = issue_stamps(1)[0]
    both.flask_calls = 0
    both.post("lean", {"code": stamp.uri, "device_id": "p"})
    # The same phone again: a reload (repeat), answered alike by both paths.
    both.same_answer({"code": stamp.uri, "device_id": "p"})
    forged = stamp.uri[:-1] + ("A" if stamp.uri[-1] != "A" else "B")
    lean = both.same_answer({"code": forged})
    assert lean.get_json()["verdict"] == "counterfeit"
    assert both.flask_calls == 0


@pytest.mark.parametrize("body, status", [
    ({"code": "not a stamp"}, 422),
    ({"code": "https://scan.example.vn/01/09506000134352/21/ABC"}, 200),
])
def test_answers_of_the_scan_service_itself_agree(both, body, status):
    lean = both.same_answer(body)
    assert lean.status_code == status
    assert both.flask_calls == 0  # the lean route answered, errors included


@pytest.mark.parametrize("body, content_type, status, code", [
    (b'{"code": ', "application/json", 400, None),  # malformed JSON
    (b'[1, 2]', "application/json", 422, "validation_error"),
    (b'"just a string"', "application/json", 422, "validation_error"),
    ({"code": "x", "colour": "red"}, "application/json", 422, "validation_error"),
    ({}, "application/json", 422, "validation_error"),
    ({"code": ""}, "application/json", 422, "validation_error"),
    ({"code": "x", "lat": 91, "lon": 0}, "application/json", 422, "validation_error"),
    ({"code": "x", "lat": 10}, "application/json", 422, "validation_error"),
    ({"code": "x", "source": "robot"}, "application/json", 422, "validation_error"),
    ({"code": "x", "device_id": "d" * 129}, "application/json", 422, "validation_error"),
    ({"code": 5}, "application/json", 422, "validation_error"),
    (b'{"code": "x", "lat": NaN, "lon": 1}', "application/json", 400, None),
    (b'{"code": "x", "lat": 1' + b"1" * 60 + b', "lon": 1}', "application/json", 400, None),
    (b'{"code": "\\u0000"}', "application/json", 400, "nul_character"),
    (b'{"code": "\xff\xfe"}', "application/json", 400, "invalid_encoding"),
    (b'{"code": "\\ud800"}', "application/json", 400, "invalid_encoding"),  # lone surrogate
    (b'{"code": "x", "a": ' + b"[" * 40 + b"]" * 40 + b"}", "application/json", 400,
     "json_too_deep"),
    (b'{"code": "x"}', "text/plain", 422, "validation_error"),  # wrong content type
    (b'code=x', "application/x-www-form-urlencoded", 422, "validation_error"),
    (b'{"code": "x"}', "application/merge-patch+json", None, None),
    (b"", "application/json", None, None),
    # Wrong types, nulls, edges of every field (the compiled validator, scanapp/fastload.py,
    # hands all of these to the view).
    ({"code": None}, "application/json", 422, "validation_error"),
    ({"code": ["x"]}, "application/json", 422, "validation_error"),
    ({"code": "x" * 2049}, "application/json", 422, "validation_error"),
    ({"code": "x", "lat": True, "lon": 1}, "application/json", 422, "validation_error"),
    ({"code": "x", "lat": "north", "lon": 1}, "application/json", 422, "validation_error"),
    ({"code": "x", "lat": 90.0000001, "lon": 0}, "application/json", 422, "validation_error"),
    ({"code": "x", "lat": 0, "lon": -180.5}, "application/json", 422, "validation_error"),
    ({"code": "x", "lat": 0, "lon": None}, "application/json", 422, "validation_error"),
    ({"code": "x", "accuracy_m": -1}, "application/json", 422, "validation_error"),
    ({"code": "x", "accuracy_m": {"m": 1}}, "application/json", 422, "validation_error"),
    ({"code": "x", "device_id": ""}, "application/json", 422, "validation_error"),
    ({"code": "x", "source": None}, "application/json", 422, "validation_error"),
    ({"code": "x", "source": "inspector"}, "application/json", 422, "validation_error"),
    ({"code": "x", "Code": "y"}, "application/json", 422, "validation_error"),
    (b'{"code": "x", "code": 5}', "application/json", 422, "validation_error"),
    (b'{"code": "x", "lat": Infinity, "lon": 1}', "application/json", 400, None),
    (b'{"code": "x", "lat": 1e999, "lon": 1}', "application/json", 422, "validation_error"),
    (b'{"code": "x"} trailing', "application/json", 400, None),
])
def test_refused_bodies_get_the_documented_errors(both, body, content_type, status, code):
    lean = both.same_answer(body, content_type=content_type)
    if status is not None:
        assert lean.status_code == status, lean.get_json()
    answer = lean.get_json()
    assert set(answer) >= {"status", "code", "message"}
    assert answer["status"] == lean.status_code
    if code is not None:
        assert answer["code"] == code
    assert lean.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("body", [
    {"code": "not a stamp", "lat": "21.03", "lon": " 105.85 "},  # numbers in strings
    {"code": "not a stamp", "lat": None, "lon": None, "accuracy_m": None, "device_id": None},
    {"code": "not a stamp", "lat": 90, "lon": -180, "accuracy_m": 1_000_000},
    {"code": "not a stamp", "lat": -90.0, "lon": 180.0, "accuracy_m": 0, "source": "consumer"},
    {"code": "x" * 2048, "device_id": "d" * 128},
    {"code": "not a stamp", "lat": 21, "lon": 105},
])
def test_every_body_the_schema_accepts_is_answered_by_the_lean_route(both, body):
    both.flask_calls = 0
    lean = both.same_answer(body)
    assert lean.status_code == 422 and lean.get_json()["code"] != "validation_error"
    assert both.flask_calls == 0  # the lean route answered it


_values = st.one_of(st.none(), st.booleans(), st.integers(-200, 200),
                    st.floats(-200, 200), st.sampled_from(["", "x", "consumer", "api", "21.5",
                                                           "d" * 129]))


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(fields=st.dictionaries(st.sampled_from(["lat", "lon", "accuracy_m", "device_id",
                                               "source", "colour"]), _values, max_size=4))
def test_random_bodies_get_the_same_answer_from_both(both, fields):
    # Not a stamp: nothing is recorded, so the two answers can be compared byte for byte.
    lean = both.same_answer({"code": "not a stamp", **fields})
    assert lean.status_code == 422


def test_unknown_fields_are_named_in_the_error(both):
    lean = both.same_answer({"code": "x", "colour": "red"})
    assert lean.get_json()["errors"] == {"colour": ["Unknown field."]}


def test_a_body_over_the_public_limit_is_413_alike(both, app):
    limit = app.config["PUBLIC_MAX_CONTENT_LENGTH"]
    body = json.dumps({"code": "x" * limit})
    lean = both.same_answer(body)
    assert lean.status_code == 413
    assert lean.get_json()["code"] == "payload_too_large"


def test_a_query_string_or_another_path_is_flasks(both, issue_stamps):
    stamp = issue_stamps(1)[0]
    both.flask_calls = 0
    lean = both.post("lean", {"code": stamp.uri}, path="/api/v1/scans?x=1")
    assert lean.status_code == 200 and both.flask_calls == 1
    lean = both.same_answer({"code": stamp.uri}, path="/api/v1/scans/")
    assert lean.status_code in (404, 308)


def test_cors_preflight_is_answered_alike(both):
    lean = both.lean.options("/api/v1/scans", headers={
        "Origin": "https://shop.example", "Access-Control-Request-Method": "POST"})
    flask = both.flask.options("/api/v1/scans", headers={
        "Origin": "https://shop.example", "Access-Control-Request-Method": "POST"})
    assert_same(lean, flask)
    assert lean.status_code == 200
    assert "POST" in lean.headers["Access-Control-Allow-Methods"]
    assert lean.headers["Access-Control-Allow-Headers"] == "Accept, Accept-Language, Content-Type"


def test_rate_limited_scans_answer_429_with_retry_after_alike(app_factory, issue_stamps):
    stamps = issue_stamps(5)
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_SCAN="2/minute")
    both = Both(app)
    codes = [both.post("lean", {"code": s.uri}, address="10.9.9.9").status_code
             for s in stamps[:2]]
    assert codes == [200, 200] and both.flask_calls == 0
    # Counted in the scan's own round trip, in the limiter's store and keys: refused by
    # the lean route itself.
    lean = both.post("lean", {"code": stamps[2].uri}, address="10.9.9.9")
    assert lean.status_code == 429
    assert int(lean.headers["Retry-After"]) > 0
    assert lean.get_json() == {"status": 429, "code": "too_many_requests",
                               "message": "Too many requests (2 per 1 minute); try again later."}
    # From now on the address is refused before its body is read; the Flask view answers
    # those, with the same body and headers as the lean 429.
    flask = both.post("flask", {"code": stamps[3].uri}, address="10.9.9.9")
    again = both.post("lean", {"code": stamps[4].uri}, address="10.9.9.9")
    for refused in (flask, again):
        assert refused.status_code == 429
        assert refused.get_data() == lean.get_data()
        assert sorted(k for k in refused.headers) == sorted(k for k in lean.headers)
        assert abs(int(refused.headers["Retry-After"]) - int(lean.headers["Retry-After"])) <= 1
    # Another address still scans, through the lean route.
    calls = both.flask_calls
    assert both.post("lean", {"code": stamps[4].uri}, address="10.9.9.8").status_code == 200
    assert both.flask_calls == calls


def test_invalid_bodies_spend_the_address_budget(app_factory):
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_SCAN="3/minute")
    both = Both(app)
    statuses = [both.post("lean", {"code": "x", "bogus": 1}, address="10.9.8.1").status_code
                for _ in range(4)]
    assert statuses[:3] == [422, 422, 422]
    assert statuses[3] == 429


def test_scans_are_counted_in_the_metrics(both, issue_stamps, app):
    stamp = issue_stamps(1)[0]
    metrics = services(app).metrics
    before = metrics.value("scanapp_scans_total", verdict="authentic")
    timed = metrics.value("scanapp_request_duration_seconds_count", method="POST",
                          route="/api/v1/scans")
    assert both.post("lean", {"code": stamp.uri}).status_code == 200
    assert metrics.value("scanapp_scans_total", verdict="authentic") == before + 1
    assert metrics.value("scanapp_request_duration_seconds_count", method="POST",
                         route="/api/v1/scans") == timed + 1


def test_proxy_hops_give_the_lean_route_the_forwarded_address(app_factory, issue_stamps):
    stamps = issue_stamps(3)
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_SCAN="1/minute", PROXY_HOPS=1)
    client = app.test_client()

    def scan(stamp, forwarded):
        return client.post("/api/v1/scans", json={"code": stamp.uri},
                           headers={"X-Forwarded-For": forwarded},
                           environ_base={"REMOTE_ADDR": "127.0.0.1"})

    assert scan(stamps[0], "203.0.113.7").status_code == 200
    assert scan(stamps[1], "203.0.113.7").status_code == 429
    assert scan(stamps[2], "203.0.113.8").status_code == 200


def test_the_openapi_document_still_describes_both_operations(client):
    spec = client.get("/api/openapi.json").get_json()
    scans = spec["paths"]["/api/v1/scans"]["post"]
    pin = spec["paths"]["/api/v1/scans/pin"]["post"]
    schemas = spec["components"]["schemas"]

    def schema_of(ref_holder):
        ref = ref_holder["content"]["application/json"]["schema"]["$ref"]
        return schemas[ref.rsplit("/", 1)[1]]

    scan_in = schema_of(scans["requestBody"])
    assert scan_in["required"] == ["code"]
    assert set(scan_in["properties"]) == {"code", "lat", "lon", "accuracy_m", "device_id",
                                          "source"}
    assert scan_in["additionalProperties"] is False
    scan_out = schema_of(scans["responses"]["200"])
    assert {"verdict", "reasons", "scan_count", "repeat", "degraded", "risk", "serial",
            "trace"} <= set(scan_out["properties"])
    assert set(schema_of(pin["requestBody"])["properties"]) == {"code", "pin", "device_id"}
    assert set(schema_of(pin["responses"]["200"])["properties"]) >= {"result", "pin_claims"}


# -- PIN checks ------------------------------------------------------------------------------

def test_a_pin_check_is_answered_without_flask_and_as_the_view_answers(both, issue_stamps):
    first, second = issue_stamps(2, pin=True)
    both.flask_calls = 0
    lean = both.post("lean", {"code": first.uri, "pin": "0000-0000", "device_id": "p1"},
                     path="/api/v1/scans/pin")
    flask = both.post("flask", {"code": second.uri, "pin": "0000-0000", "device_id": "p1"},
                      path="/api/v1/scans/pin")
    assert both.flask_calls == 0
    assert_same(lean, flask)
    assert lean.get_json()["result"] == "wrong_pin"
    right = both.post("lean", {"code": first.uri, "pin": first.pin}, path="/api/v1/scans/pin")
    assert right.status_code == 200 and right.get_json()["result"] == "valid"


@pytest.mark.parametrize("body", [
    {"code": "x"},
    {"code": "x", "pin": "12ab"},
    {"code": "x", "pin": "1234", "extra": 1},
    {"code": "x", "pin": "1" * 21},
    b'{"code": ',
])
def test_refused_pin_bodies_get_the_documented_errors(both, body):
    lean = both.same_answer(body, path="/api/v1/scans/pin")
    assert lean.status_code in (400, 422)


def test_pin_checks_are_limited_per_device_alike(app_factory, issue_stamps):
    stamp = issue_stamps(1, pin=True)[0]
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_SCAN="1000/minute",
                      PIN_LOCKOUT_FAILURES=0)
    both = Both(app)

    def check(which, i):
        return both.post(which, {"code": stamp.uri, "pin": "0000-0000", "device_id": "g"},
                         path="/api/v1/scans/pin", address=f"10.8.0.{i}")

    codes = [check("lean" if i % 2 else "flask", i).status_code for i in range(10)]
    assert codes == [200] * 10  # both paths count in the same windows
    lean, flask = check("lean", 20), check("flask", 21)
    assert lean.status_code == flask.status_code == 429
    assert_same(lean, flask)
    assert lean.get_json()["code"] == "too_many_requests"
    assert int(lean.headers["Retry-After"]) == 60


def test_pin_checks_answer_with_rate_limiting_off(app_factory, issue_stamps):
    stamp = issue_stamps(1, pin=True)[0]
    app = app_factory(RATELIMIT_ENABLED=False)
    both = Both(app)
    lean = both.same_answer({}, path="/api/v1/scans/pin")
    assert lean.status_code == 422
    checked = both.post("lean", {"code": stamp.uri, "pin": "0000-0000"},
                        path="/api/v1/scans/pin")
    assert checked.status_code == 200 and checked.get_json()["result"] == "wrong_pin"
