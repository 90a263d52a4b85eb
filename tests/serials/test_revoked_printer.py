"""A printer acts on a brand's ranges only while the brand authorises it (issue 15, item 9),
and inspectors never receive genuine serials (item 10).

Before: a printer whose authorisation was revoked still downloaded the codes and PINs of
the ranges it held and could void activated codes; inspectors read serials in range
history and in the EPCIS epcList although code downloads are refused to them.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from .conftest import codes_of

DOWNLOADS = ("codes.csv", "codes.txt", "codes.csv.sha256", "labels.pdf")


@pytest.fixture
def revoked_printer_range(brand, authorised_printer, issue):
    printer = authorised_printer
    held = issue(printer, quantity=5, pin=True)
    assert printer.post(f"/api/v1/ranges/{held['id']}/print", json={}).status_code == 200
    assert brand.post(f"/api/v1/ranges/{held['id']}/activate", json={}).status_code == 200
    serials = [row[0] for row in codes_of(printer, held["id"])]
    (grant,) = brand.get("/api/v1/printer-authorisations").get_json()
    revoked = brand.post(f"/api/v1/printer-authorisations/{grant['id']}/revoke")
    assert revoked.status_code == 200
    return printer, held["id"], serials


@pytest.mark.parametrize("download", DOWNLOADS)
def test_revoked_printer_downloads_nothing(revoked_printer_range, download):
    printer, range_id, _serials = revoked_printer_range
    with printer.get(f"/api/v1/ranges/{range_id}/{download}") as response:
        assert response.status_code == 403, response.data[:300]
        assert response.get_json()["code"] == "printer_not_authorised"


def test_revoked_printer_gets_no_qr_of_a_code(revoked_printer_range):
    printer, range_id, serials = revoked_printer_range
    response = printer.get(f"/api/v1/ranges/{range_id}/codes/{serials[0]}/qr.svg")
    assert response.status_code == 403


@pytest.mark.parametrize("action", ["void", "print"])
def test_revoked_printer_takes_no_lifecycle_step(revoked_printer_range, brand, action,
                                                 anonymous):
    printer, range_id, serials = revoked_printer_range
    response = printer.post(f"/api/v1/ranges/{range_id}/{action}",
                            json={"serials": serials[:1]})
    assert response.status_code == 403
    assert response.get_json()["code"] == "printer_not_authorised"
    # The activated codes still scan as genuine: nothing was voided.
    counts = brand.get(f"/api/v1/ranges/{range_id}").get_json()["code_counts"]
    assert counts == {"activated": 5}


def test_reauthorised_printer_works_again(revoked_printer_range, brand):
    printer, range_id, _serials = revoked_printer_range
    assert brand.post("/api/v1/printer-authorisations",
                      json={"printer_org_id": printer.org_id}).status_code == 201
    assert printer.get(f"/api/v1/ranges/{range_id}/codes.txt").status_code == 200


def test_printer_authorised_for_another_product_only_is_refused(brand, printer, product,
                                                                issue):
    """Authorisation is per product: a grant narrowed to another product is not live for
    this range's product."""
    grant = brand.post("/api/v1/printer-authorisations",
                       json={"printer_org_id": printer.org_id}).get_json()
    held = issue(printer, quantity=2)
    brand.post(f"/api/v1/printer-authorisations/{grant['id']}/revoke")
    other = brand.post("/api/v1/products", json={"gtin": "08934567890137",
                                                 "name": "Nước tương"}).get_json()
    brand.post("/api/v1/printer-authorisations",
               json={"printer_org_id": printer.org_id, "product_id": other["id"]})
    assert printer.get(f"/api/v1/ranges/{held['id']}/codes.txt").status_code == 403


def test_inspectors_read_range_history_without_serials(brand, authorised_printer, issue,
                                                       inspector):
    held = issue(authorised_printer, quantity=4)
    serials = [row[0] for row in codes_of(authorised_printer, held["id"])]
    assert brand.post(f"/api/v1/ranges/{held['id']}/void",
                      json={"serials": serials[:2], "reason": "misprint"}).status_code == 200
    history = inspector.get(f"/api/v1/ranges/{held['id']}/history")
    assert history.status_code == 200
    voided = [step for step in history.get_json() if step["action"] == "void"]
    assert voided and voided[0]["code_count"] == 2
    assert not any(serial in history.get_data(as_text=True) for serial in serials)
    # The brand still sees which codes it voided.
    own = brand.get(f"/api/v1/ranges/{held['id']}/history")
    assert serials[0] in own.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/api/v1/epcis/events", "/epcis/events"])
def test_inspectors_read_lifecycle_events_without_serials(brand, authorised_printer, issue,
                                                          inspector, path):
    held = issue(authorised_printer, quantity=4)
    serials = [row[0] for row in codes_of(authorised_printer, held["id"])]
    assert brand.post(f"/api/v1/ranges/{held['id']}/void",
                      json={"serials": serials[:2], "reason": "misprint"}).status_code == 200
    response = inspector.get(path)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert not any(serial in text for serial in serials)
    body = response.get_json()["epcisBody"]
    # The lifecycle export answers an EPCISDocument; the REST binding a query document.
    events = body.get("eventList") or body["queryResults"]["resultsBody"]["eventList"]
    voided = [e for e in events if "quantityList" in e and e.get("action") == "DELETE"
              or e.get("disposition", "").endswith("destroyed")]
    assert voided, events
    assert voided[0]["quantityList"][0]["quantity"] == 2
    # The brand's own export still names the codes.
    assert serials[0] in brand.get("/api/v1/epcis/events").get_data(as_text=True)
    # One event by its id, through the EPCIS REST binding: withheld there too.
    one = inspector.get("/epcis/events/" + quote(voided[0]["eventID"], safe=""))
    assert one.status_code == 200, one.get_data(as_text=True)
    assert not any(serial in one.get_data(as_text=True) for serial in serials)
    # The brand, whose codes they are, still reads them.
    assert serials[0] in brand.get(path).get_data(as_text=True)
