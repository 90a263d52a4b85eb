"""Through the real endpoints: a range requested, printed, activated, partly voided and
recalled, then inspected in the field, reads back as valid EPCIS in the expected order."""

from tests.epcis.conftest import events_of


def test_range_life_through_the_api(app, brand, printer, inspector, other_brand, product):
    assert brand.post("/api/v1/printer-authorisations",
                      json={"printer_org_id": printer.org_id}).status_code == 201
    issued = printer.post("/api/v1/ranges", json={
        "gtin": product["gtin"], "quantity": 5, "lot": "LOT42", "expiry": "2027-12-31"})
    assert issued.status_code == 201, issued.get_json()
    range_id = issued.get_json()["id"]
    codes = printer.get(f"/api/v1/ranges/{range_id}/codes.txt")
    uris = codes.get_data(as_text=True).split()
    codes.close()
    assert len(uris) == 5
    serials = [uri.split("/21/")[1].split("?")[0] for uri in uris]

    def step(actor, action, body=None):
        response = actor.post(f"/api/v1/ranges/{range_id}/{action}", json=body or {})
        assert response.status_code == 200, response.get_json()

    step(printer, "print")
    step(brand, "activate")
    step(printer, "void", {"serials": serials[:1], "reason": "damaged label"})
    step(brand, "recall", {"serials": serials[1:3]})
    assert inspector.post("/api/v1/inspections", json={
        "serial": serials[3], "gtin": product["gtin"], "finding": "genuine",
        "lat": 21.0285, "lon": 105.8542}).status_code == 201

    found = events_of(brand)
    assert [(e["action"], e.get("bizStep"), e.get("disposition")) for e in found] == [
        ("ADD", "commissioning", "inactive"),
        ("OBSERVE", "encoding", "encoded"),
        ("OBSERVE", "shipping", "active"),
        ("DELETE", "destroying", "destroyed"),
        ("OBSERVE", "holding", "recalled"),
        ("OBSERVE", "inspecting", "conformant"),
    ]
    lgtin = f"https://scan.example.vn/01/{product['gtin']}/10/LOT42"
    assert found[0]["quantityList"] == [{"epcClass": lgtin, "quantity": 5}]
    assert found[0]["ilmd"]["cbvmda:itemExpirationDate"] == "2027-12-31"
    # The EPCs are the printed stamps' own URIs (without the expiry query).
    stamps = [uri.split("?")[0] for uri in uris]
    assert found[3]["epcList"] == stamps[:1]
    assert found[4]["epcList"] == stamps[1:3]
    assert found[5]["epcList"] == [stamps[3]]
    assert found[5]["scanapp:province"] == "01"

    # The printer sees its range's lifecycle, not the inspection; another brand nothing.
    assert [e.get("bizStep") for e in events_of(printer)] == [
        "commissioning", "encoding", "shipping", "destroying", "holding"]
    assert events_of(other_brand) == []
    assert len(events_of(inspector)) == 6


def test_scan_of_a_voided_stamp_flags_it_and_the_case_follows(app, brand, printer, inspector,
                                                              product):
    """The real scan path raises the flag; the inspector's case decision follows it."""
    assert brand.post("/api/v1/printer-authorisations",
                      json={"printer_org_id": printer.org_id}).status_code == 201
    range_id = printer.post("/api/v1/ranges", json={"gtin": product["gtin"], "quantity": 2,
                                                    "lot": "LOT9"}).get_json()["id"]
    codes = printer.get(f"/api/v1/ranges/{range_id}/codes.txt")
    uri = codes.get_data(as_text=True).split()[0]
    codes.close()
    serial = uri.split("/21/")[1]
    assert printer.post(f"/api/v1/ranges/{range_id}/void",
                        json={"serials": [serial]}).status_code == 200
    scan = app.test_client().post("/api/v1/scans", json={"code": uri, "device_id": "phone-1"})
    assert scan.status_code == 200 and scan.get_json()["verdict"] == "voided"

    flags = inspector.get("/api/v1/flags").get_json()
    items = flags["items"] if isinstance(flags, dict) else flags
    assert [f["serial"] for f in items] == [serial]
    flag_id = items[0]["id"]
    assert inspector.post(f"/api/v1/flags/{flag_id}/case",
                          json={"status": "confirmed_counterfeit"}).status_code == 200

    flagged, decided = events_of(inspector, kind="flagged"), events_of(inspector,
                                                                        kind="case_decided")
    stamp = f"https://scan.example.vn/01/{product['gtin']}/10/LOT9/21/{serial}"
    assert len(flagged) == 1 and flagged[0]["epcList"] == [stamp]
    assert flagged[0]["scanapp:suspect"] is True and "voided" in flagged[0]["scanapp:reasons"]
    assert decided[0]["epcList"] == [stamp]
    assert (decided[0]["bizStep"], decided[0]["disposition"]) == ("inspecting",
                                                                  "non_conformant")
    # The consumer's scan itself is not an event: only daily counts ever leave scanapp.
    assert all("phone" not in str(e) for e in events_of(inspector))
    assert len(events_of(brand)) == 4  # issued, voided, flagged, case decided
