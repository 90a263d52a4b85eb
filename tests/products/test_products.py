"""Product registration and visibility."""

import pytest

from tests.conftest import gtin14


def test_brand_registers_and_lists_its_products(brand, other_brand):
    created = brand.post("/api/v1/products", json={
        "gtin": "8934567890120", "name": "Nước mắm", "name_en": "Fish sauce",
        "description_vi": "Ngon", "description_en": "Tasty",
        "image_url": "https://img.example.vn/a.png", "market_regions": ["01", "79"]})
    assert created.status_code == 201
    body = created.get_json()
    assert body["id"] > 0
    assert body["gtin"] == "08934567890120"  # stored as GTIN-14
    assert body["brand"] == "Brand A"
    assert body["market_regions"] == ["01", "79"]
    mine = brand.get("/api/v1/products").get_json()
    assert [p["id"] for p in mine] == [body["id"]]
    assert other_brand.get("/api/v1/products").get_json() == []
    assert other_brand.get(f"/api/v1/products/{body['id']}").status_code == 404


def test_gtin_spellings_of_one_item_are_one_product(brand):
    assert brand.post("/api/v1/products", json={"gtin": "8934567890120",
                                                "name": "a"}).status_code == 201
    again = brand.post("/api/v1/products", json={"gtin": "08934567890120", "name": "b"})
    assert again.status_code == 409
    assert again.get_json()["code"] == "duplicate_gtin"


@pytest.mark.parametrize("gtin,code", [
    ("8934567890127", "invalid_gtin"),      # wrong check digit
    ("893456789012", "invalid_gtin"),       # 12 digits, wrong check digit as UPC
    ("89345678901", "invalid_gtin"),        # wrong length
    ("89345678901A0", "invalid_gtin"),      # not digits
    ("", "validation_error"),
])
def test_bad_gtin_is_422_with_a_message(brand, gtin, code):
    response = brand.post("/api/v1/products", json={"gtin": gtin, "name": "x"})
    assert response.status_code == 422
    payload = response.get_json()
    assert payload["code"] == code and payload["message"]


@pytest.mark.parametrize("body,field", [
    ({"name": "x"}, "gtin"),
    ({"gtin": "8934567890120"}, "name"),
    ({"gtin": "8934567890120", "name": "x", "colour": "red"}, "colour"),
    ({"gtin": "8934567890120", "name": "x", "market_regions": ["99"]}, "market_regions"),
    ({"gtin": "8934567890120", "name": "x", "image_url": "javascript:alert(1)"}, "image_url"),
    ({"gtin": 8934567890120, "name": "x"}, "gtin"),
    ({"gtin": "8934567890120", "name": "x" * 201}, "name"),
])
def test_malformed_body_is_422_naming_the_field(brand, body, field):
    response = brand.post("/api/v1/products", json=body)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]


@pytest.mark.parametrize("raw,ctype", [
    (b"{not json", "application/json"),
    (b"[1, 2]", "application/json"),
    (b"\xff\xfe\x00garbage", "application/json"),
    (b"gtin=1", "application/x-www-form-urlencoded"),
])
def test_unparseable_body_is_4xx_json(brand, raw, ctype):
    response = brand.post("/api/v1/products", data=raw, content_type=ctype)
    assert 400 <= response.status_code < 500
    assert response.get_json()["message"]


def test_admin_registers_for_a_named_brand(admin, brand):
    missing = admin.post("/api/v1/products", json={"gtin": gtin14("0893000000002"),
                                                   "name": "x"})
    assert missing.status_code == 422 and missing.get_json()["code"] == "brand_required"
    created = admin.post("/api/v1/products", json={
        "gtin": gtin14("0893000000002"), "name": "x", "brand_org_id": brand.org_id})
    assert created.status_code == 201
    assert [p["gtin"] for p in brand.get("/api/v1/products").get_json()] == [
        gtin14("0893000000002")]


def test_brand_cannot_register_for_another_brand(brand, other_brand):
    response = brand.post("/api/v1/products", json={
        "gtin": gtin14("0893000000003"), "name": "x", "brand_org_id": other_brand.org_id})
    assert response.status_code == 403


def test_brand_updates_its_product_only(brand, other_brand, product):
    url = f"/api/v1/products/{product['id']}"
    updated = brand.patch(url, json={"name_en": "Fish sauce", "market_regions": ["48"],
                                     "fraud_settings": {"max_scans": 30}})
    assert updated.status_code == 200
    assert updated.get_json()["market_regions"] == ["48"]
    assert updated.get_json()["fraud_settings"] == {"max_scans": 30}
    assert other_brand.patch(url, json={"name": "stolen"}).status_code == 404
    assert brand.get(url).get_json()["name"] == product["name"]


def test_inspector_and_admin_see_all_products(inspector, admin, product):
    assert [p["id"] for p in inspector.get("/api/v1/products").get_json()] == [product["id"]]
    assert [p["id"] for p in admin.get("/api/v1/products").get_json()] == [product["id"]]


def test_printer_sees_only_products_it_is_authorised_for(app, printer, brand, product):
    assert printer.get("/api/v1/products").get_json() == []
    from scanapp.db import session_scope
    from scanapp.products.models import PrinterAuthorisation

    with app.app_context(), session_scope(app) as session:
        session.add(PrinterAuthorisation(brand_org_id=brand.org_id,
                                         printer_org_id=printer.org_id))
        session.commit()
    assert [p["id"] for p in printer.get("/api/v1/products").get_json()] == [product["id"]]


def test_html_in_text_fields_is_stored_verbatim_and_returned_as_json(brand):
    evil = "<script>alert('x')</script>'; DROP TABLE products; --"
    response = brand.post("/api/v1/products", json={"gtin": gtin14("0893000000004"),
                                                    "name": evil})
    assert response.status_code == 201
    assert response.headers["Content-Type"].startswith("application/json")
    assert brand.get("/api/v1/products").get_json()[0]["name"] == evil


def test_gtins_must_be_under_the_brands_declared_gs1_prefixes(admin, brand):
    """Issue 15 item 12: any brand could register any GTIN."""
    declared = admin.put(f"/api/v1/orgs/{brand.org_id}/gs1-prefixes",
                         json={"prefixes": ["893456789"]})
    assert declared.status_code == 200 and declared.get_json()["gs1_prefixes"] == ["893456789"]
    outside = brand.post("/api/v1/products", json={"gtin": gtin14("0893999999001"),
                                                   "name": "Hàng người khác"})
    assert outside.status_code == 422 and outside.get_json()["code"] == "gtin_outside_prefix"
    inside = brand.post("/api/v1/products", json={"gtin": gtin14("0893456789555"),
                                                  "name": "Hàng của mình"})
    assert inside.status_code == 201
    assert brand.put(f"/api/v1/orgs/{brand.org_id}/gs1-prefixes",
                     json={"prefixes": ["893456789"]}).status_code == 403
    assert admin.put(f"/api/v1/orgs/{brand.org_id}/gs1-prefixes",
                     json={"prefixes": ["893"]}).status_code == 422


def test_production_requires_a_declared_prefix(app_factory, brand):
    import secrets as _secrets

    strong = {n: _secrets.token_urlsafe(48) for n in ("SECRET_KEY", "SERIAL_KEY", "PIN_KEY")}
    app = app_factory(ENV="production", PRODUCTION=True, **strong)
    assert app.config["REQUIRE_GS1_PREFIX"] is True
    response = app.test_client().post(
        "/api/v1/products", json={"gtin": gtin14("0893456789012"), "name": "X"},
        headers={"Authorization": f"Bearer {brand.key}"})
    assert response.status_code == 422 and response.get_json()["code"] == "no_gs1_prefix"
