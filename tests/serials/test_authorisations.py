"""Brands authorise printers; who sees which grants; bad requests."""

from __future__ import annotations


def test_brand_authorises_a_printer_for_one_product(brand, printer, product, other_brand):
    other_product = brand.post("/api/v1/products", json={
        "gtin": "08934567890137", "name": "Nước tương"}).get_json()
    grant = brand.post("/api/v1/printer-authorisations",
                       json={"printer_org_id": printer.org_id, "product_id": product["id"]})
    assert grant.status_code == 201
    body = grant.get_json()
    assert body["printer"] == "Printer P" and body["product_id"] == product["id"]
    assert printer.post("/api/v1/ranges", json={"gtin": product["gtin"],
                                                "quantity": 3}).status_code == 201
    refused = printer.post("/api/v1/ranges", json={"gtin": other_product["gtin"],
                                                   "quantity": 3})
    assert refused.status_code == 403
    # Asking again returns the same grant rather than a duplicate.
    again = brand.post("/api/v1/printer-authorisations",
                       json={"printer_org_id": printer.org_id, "product_id": product["id"]})
    assert again.get_json()["id"] == body["id"]
    assert [g["id"] for g in printer.get("/api/v1/printer-authorisations").get_json()] == \
        [body["id"]]
    assert other_brand.get("/api/v1/printer-authorisations").get_json() == []
    assert other_brand.post(f"/api/v1/printer-authorisations/{body['id']}/revoke"
                            ).status_code == 404


def test_brand_assigns_a_range_to_an_authorised_printer_only(brand, printer, product,
                                                            make_actor):
    stranger = make_actor("printer", "Printer Y")
    refused = brand.post("/api/v1/ranges", json={"gtin": product["gtin"], "quantity": 2,
                                                 "printer_org_id": stranger.org_id})
    assert refused.status_code == 422 and refused.get_json()["code"] == "printer_not_authorised"
    brand.post("/api/v1/printer-authorisations", json={"printer_org_id": printer.org_id})
    assigned = brand.post("/api/v1/ranges", json={"gtin": product["gtin"], "quantity": 2,
                                                  "printer_org_id": printer.org_id})
    assert assigned.status_code == 201
    # The assigned printer now sees and downloads it.
    range_id = assigned.get_json()["id"]
    assert printer.get(f"/api/v1/ranges/{range_id}/codes.txt").status_code == 200


def test_bad_authorisation_requests(brand, other_brand, printer, product, admin):
    not_printer = brand.post("/api/v1/printer-authorisations",
                             json={"printer_org_id": other_brand.org_id})
    assert not_printer.status_code == 422 and not_printer.get_json()["code"] == "not_a_printer"
    missing = brand.post("/api/v1/printer-authorisations", json={"printer_org_id": 99999})
    assert missing.status_code == 422
    foreign_product = other_brand.post("/api/v1/printer-authorisations", json={
        "printer_org_id": printer.org_id, "product_id": product["id"]})
    assert foreign_product.status_code == 404
    assert brand.post("/api/v1/printer-authorisations", json={}).status_code == 422
    assert brand.post("/api/v1/printer-authorisations",
                      json={"printer_org_id": "x"}).status_code == 422
    assert admin.post("/api/v1/printer-authorisations",
                      json={"printer_org_id": printer.org_id}).get_json()["code"] == \
        "brand_required"
    assert printer.post("/api/v1/printer-authorisations",
                        json={"printer_org_id": printer.org_id}).status_code == 403


def test_range_listing_and_step_inputs_refuse_bad_values(brand, issue):
    created = issue(brand)
    assert brand.get("/api/v1/ranges?status=lost").status_code == 422
    assert brand.get("/api/v1/ranges?limit=0").status_code == 422
    assert brand.get("/api/v1/ranges?gtin=123").status_code == 422
    assert brand.get("/api/v1/ranges/999999").status_code == 404
    for body in ({"serials": "ABC"}, {"serials": [1, 2]}, {"reason": ""}, {"note": "x"}):
        response = brand.post(f"/api/v1/ranges/{created['id']}/void", json=body)
        assert response.status_code == 422, body
        assert response.get_json()["message"]
    assert brand.post(f"/api/v1/ranges/{created['id']}/destroy").status_code in (404, 405)
