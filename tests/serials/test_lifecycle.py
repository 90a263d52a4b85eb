"""Lifecycle: issued -> printed -> activated; void and recall, for whole ranges, sub-ranges
and single serials; refused steps; the audit trail; what the scan path sees."""

from __future__ import annotations

import pytest

from scanapp.events import RangeTransitioned
from scanapp.serials.lookup import code_status, find_range
from scanapp.services import services
from tests.serials.conftest import codes_of


@pytest.fixture
def printed_range(issue, brand, authorised_printer):
    created = issue(authorised_printer, quantity=20)
    response = authorised_printer.post(f"/api/v1/ranges/{created['id']}/print")
    assert response.status_code == 200, response.get_json()
    return created


def _status_of(app, serial, gtin, lot=None):
    with app.app_context():
        seq = services(app).codec.verify(serial, gtin, lot)
        info = find_range(seq, app)
        return code_status(info, seq, app)


def test_whole_range_moves_forward_and_is_recorded(app, brand, authorised_printer,
                                                   printed_range, product):
    range_id = printed_range["id"]
    activated = brand.post(f"/api/v1/ranges/{range_id}/activate",
                           json={"reason": "shipped to Hanoi"})
    assert activated.status_code == 200 and activated.get_json()["status"] == "activated"
    recalled = brand.post(f"/api/v1/ranges/{range_id}/recall")
    assert recalled.get_json()["status"] == "recalled"
    steps = brand.get(f"/api/v1/ranges/{range_id}/history").get_json()
    assert [(s["action"], s["from_status"], s["to_status"]) for s in steps] == [
        ("issue", None, "issued"), ("print", "issued", "printed"),
        ("activate", "printed", "activated"), ("recall", "activated", "recalled")]
    assert steps[1]["actor_org_id"] == authorised_printer.org_id
    assert steps[2]["actor_org_id"] == brand.org_id and steps[2]["reason"] == "shipped to Hanoi"
    assert all(s["at"] for s in steps)
    serial = codes_of(brand, range_id)[0][0]
    assert _status_of(app, serial, product["gtin"]) == "recalled"


@pytest.mark.parametrize("steps,refused,message", [
    ((), "activate", "print"),                      # not printed yet
    ((), "recall", "activated"),                    # never released
    (("print",), "print", "already printed"),
    (("print", "activate"), "activate", "already activated"),
    (("void",), "print", "voided"),
    (("void",), "void", "already voided"),
    (("print", "activate", "recall"), "activate", "recalled"),
])
def test_invalid_transitions_are_409_with_a_reason(issue, brand, steps, refused, message):
    created = issue(brand)
    for step in steps:
        assert brand.post(f"/api/v1/ranges/{created['id']}/{step}").status_code == 200
    response = brand.post(f"/api/v1/ranges/{created['id']}/{refused}")
    assert response.status_code == 409
    body = response.get_json()
    assert body["code"] == "invalid_transition" and message in body["message"]


def test_single_serials_are_voided_and_the_rest_stays(app, brand, authorised_printer,
                                                      printed_range, product):
    range_id = printed_range["id"]
    rows = codes_of(brand, range_id)
    spoiled = [rows[3][0], rows[4][0], rows[11][0]]
    response = authorised_printer.post(f"/api/v1/ranges/{range_id}/void",
                                       json={"serials": spoiled, "reason": "smudged"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["code_counts"] == {"printed": 17, "voided": 3}
    assert brand.post(f"/api/v1/ranges/{range_id}/activate").status_code == 200
    assert _status_of(app, rows[3][0], product["gtin"]) == "voided"
    assert _status_of(app, rows[5][0], product["gtin"]) == "activated"
    # A voided code cannot be recalled; the others can.
    again = brand.post(f"/api/v1/ranges/{range_id}/recall", json={"serials": [rows[3][0]]})
    assert again.status_code == 409
    last = brand.get(f"/api/v1/ranges/{range_id}/history").get_json()[-1]
    assert last["action"] == "activate"
    void_step = brand.get(f"/api/v1/ranges/{range_id}/history").get_json()[2]
    assert void_step["code_count"] == 3 and sorted(void_step["serials"]) == sorted(spoiled)


def test_sub_range_by_first_and_last_serial(app, brand, printed_range, product):
    range_id = printed_range["id"]
    rows = codes_of(brand, range_id)
    assert brand.post(f"/api/v1/ranges/{range_id}/activate").status_code == 200
    response = brand.post(f"/api/v1/ranges/{range_id}/recall",
                          json={"from_serial": rows[5][0], "to_serial": rows[9][0]})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["code_counts"] == {"activated": 15, "recalled": 5}
    statuses = [_status_of(app, row[0], product["gtin"]) for row in rows]
    assert statuses == ["activated"] * 5 + ["recalled"] * 5 + ["activated"] * 10
    reversed_ = brand.post(f"/api/v1/ranges/{range_id}/void",
                           json={"from_serial": rows[9][0], "to_serial": rows[5][0]})
    assert reversed_.status_code == 422


def test_partial_activation_of_a_printed_range(app, brand, printed_range, product):
    range_id = printed_range["id"]
    rows = codes_of(brand, range_id)
    response = brand.post(f"/api/v1/ranges/{range_id}/activate",
                          json={"serials": [rows[0][0]]})
    assert response.get_json()["status"] == "printed"
    assert _status_of(app, rows[0][0], product["gtin"]) == "activated"
    assert _status_of(app, rows[1][0], product["gtin"]) == "printed"


def test_serials_of_another_range_or_forged_ones_are_422(issue, brand, printed_range):
    other = issue(brand)
    foreign = codes_of(brand, other["id"])[0][0]
    range_id = printed_range["id"]
    for serials in ([foreign], ["0" * 20], ["not-a-serial"]):
        response = brand.post(f"/api/v1/ranges/{range_id}/void", json={"serials": serials})
        assert response.status_code == 422
        assert response.get_json()["code"] == "serial_not_in_range"
    for body in ({"serials": []}, {"from_serial": codes_of(brand, range_id)[0][0]},
                 {"serials": [foreign], "from_serial": foreign, "to_serial": foreign}):
        response = brand.post(f"/api/v1/ranges/{range_id}/void", json=body)
        assert response.status_code == 422, body


def test_roles_for_each_step(issue, brand, other_brand, authorised_printer, inspector,
                             make_actor, printed_range):
    range_id = printed_range["id"]
    assert authorised_printer.post(f"/api/v1/ranges/{range_id}/activate").status_code == 403
    assert inspector.post(f"/api/v1/ranges/{range_id}/void").status_code == 403
    assert other_brand.post(f"/api/v1/ranges/{range_id}/void").status_code == 404
    stranger = make_actor("printer", "Printer Z")
    assert stranger.post(f"/api/v1/ranges/{range_id}/void").status_code == 404
    assert brand.post(f"/api/v1/ranges/{range_id}/activate").status_code == 200


def test_transitions_are_published_as_events(app, issue, brand, printed_range):
    seen = []

    def listener(_session, event):
        seen.append(event)

    services(app).events.subscribe(RangeTransitioned, listener)
    try:
        rows = codes_of(brand, printed_range["id"])
        brand.post(f"/api/v1/ranges/{printed_range['id']}/void",
                   json={"serials": [rows[0][0]], "reason": "torn"})
    finally:
        services(app).events.unsubscribe(RangeTransitioned, listener)
    assert len(seen) == 1
    event = seen[0]
    assert event.action == "void" and event.serials == (rows[0][0],)
    assert event.reason == "torn" and event.range_id == printed_range["id"]


def test_scan_lookup_sees_a_new_range_and_status_changes(app, brand, issue, product):
    first = issue(brand, quantity=5)
    serial = codes_of(brand, first["id"])[0][0]
    assert _status_of(app, serial, product["gtin"]) == "issued"
    # A range issued after the index was built is found on the first miss.
    second = issue(brand, quantity=5, lot="NEW1")
    new_serial = codes_of(brand, second["id"])[2][0]
    with app.app_context():
        seq = services(app).codec.verify(new_serial, product["gtin"], "NEW1")
        info = find_range(seq, app)
        assert info.id == second["id"] and info.lot == "NEW1" and info.quantity == 5
        assert info.gtin == product["gtin"] and info.market_regions == ("01", "79")
    brand.post(f"/api/v1/ranges/{first['id']}/void")
    assert _status_of(app, serial, product["gtin"]) == "voided"
    with app.app_context():
        assert find_range(10**15, app) is None
