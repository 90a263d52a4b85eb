"""GS1-Conformant resolver on stamp, lot and product URIs: linkset, default link, link types
in Vietnamese and English, redirects, walk-up, CORS, and the resolver description."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from scanapp.scan import resolver

LINKSET = "application/linkset+json"
VOC = "https://gs1.org/voc/"
BASE = "https://scan.example.vn"
SCHEMAS = Path(__file__).parent.parent / "conformance" / "schemas"
LINKSET_SCHEMA = json.loads((SCHEMAS / "linkset-schema.json").read_text())
DESCRIPTION_SCHEMA = json.loads((SCHEMAS / "description-file-schema.json").read_text())


@pytest.fixture
def stamp(issue_stamps):
    return issue_stamps(1, lot="L1")[0]


def _linkset(client, path: str, **headers) -> tuple[dict, object]:
    response = client.get(path, headers={"Accept": LINKSET, **headers})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == LINKSET
    body = response.get_json(force=True)
    jsonschema.validate(body, LINKSET_SCHEMA)
    return body, response


def _entry(body: dict, anchor_path: str) -> dict:
    return next(e for e in body["linkset"] if e["anchor"] == BASE + anchor_path)


def test_a_browser_opening_the_stamp_gets_the_page_directly(anonymous, stamp):
    response = anonymous.get(stamp.path, headers={"Accept": "text/html,*/*;q=0.8"})
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert f'<{BASE}{stamp.path}?linkType=linkset>; rel="linkset"' in response.headers["Link"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Accept" in response.headers["Vary"]


def test_a_client_without_html_is_redirected_to_the_default_link(anonymous, stamp):
    response = anonymous.get(stamp.path, headers={"Accept": "*/*"})
    assert response.status_code == 307
    assert response.headers["Location"] == f"{BASE}/v{stamp.path}"
    assert 'rel="linkset"' in response.headers["Link"]  # even when redirecting


def test_the_query_string_is_passed_on_byte_for_byte(anonymous, stamp):
    query = "utm_source=qr&17=271231&x=a%20b&y=%E1%BA%A1&x=2"
    response = anonymous.get(f"{stamp.path}?{query}", headers={"Accept": "*/*"})
    assert response.status_code == 307
    assert response.headers["Location"] == f"{BASE}/v{stamp.path}?{query}"
    typed = anonymous.get(f"{stamp.path}?b=2&linkType=gs1%3Apip&a=1",
                          headers={"Accept-Language": "en"})
    assert typed.headers["Location"] == f"{BASE}/v/01/{stamp.path.split('/')[2]}" \
        "?lang=en&b=2&linkType=gs1%3Apip&a=1"


def test_stamp_linkset_has_item_lot_and_product_levels(anonymous, stamp):
    body, response = _linkset(anonymous, stamp.path)
    anchors = [e["anchor"] for e in body["linkset"]]
    gtin = stamp.path.split("/")[2]
    assert anchors == [BASE + stamp.path, f"{BASE}/01/{gtin}/10/L1", f"{BASE}/01/{gtin}"]
    for entry in body["linkset"]:
        assert entry["itemDescription"].startswith("Nước mắm thử")
        defaults = entry[VOC + "defaultLink"]
        # Exactly one default link, with a title and none of the optional attributes.
        assert len(defaults) == 1 and set(defaults[0]) == {"href", "title"}
    item = _entry(body, stamp.path)
    verify = item[VOC + "verificationService"]
    assert [(v["hreflang"], v["type"]) for v in verify] == [
        (["vi"], "application/json"), (["en"], "application/json")]
    assert verify[0]["title"] == "Kết quả xác minh tem (JSON)"
    assert verify[1]["title"] == "Stamp verification result (JSON)"
    product = _entry(body, f"/01/{gtin}")
    pips = product[VOC + "pip"]
    assert [(p["hreflang"], p["href"]) for p in pips] == [
        (["vi"], f"{BASE}/v/01/{gtin}?lang=vi"), (["en"], f"{BASE}/v/01/{gtin}?lang=en")]
    # A JSON-LD context for the linkset, and the resolved anchor.
    assert ('<https://ref.gs1.org/standards/resolver/linkset-context>; '
            'rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
            in response.headers["Link"])
    assert response.headers["Resolved-Anchor"] == BASE + stamp.path
    assert "Walked-Up" not in response.headers


def test_linkset_by_link_type_parameter_too(anonymous, stamp):
    for value in ("linkset", "all", "gs1:linkset"):
        response = anonymous.get(f"{stamp.path}?linkType={value}")
        assert response.status_code == 200 and response.mimetype == LINKSET
        jsonschema.validate(response.get_json(force=True), LINKSET_SCHEMA)


@pytest.mark.parametrize("spelling", ["gs1:verificationService",
                                      "https://gs1.org/voc/verificationService",
                                      "https://ref.gs1.org/voc/verificationService",
                                      "https%3A%2F%2Fref.gs1.org%2Fvoc%2FverificationService"])
def test_link_type_in_curie_and_full_forms(anonymous, stamp, spelling):
    response = anonymous.get(f"{stamp.path}?linkType={spelling}",
                             headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert response.status_code == 307
    assert response.headers["Location"].startswith(f"{BASE}/api/v1/verification{stamp.path}")


def test_language_picks_among_links_of_one_type(anonymous, stamp):
    gtin = stamp.path.split("/")[2]
    for language, expected in (("vi", "vi"), ("en-US,en;q=0.8", "en"), ("fr", "vi")):
        response = anonymous.get(f"/01/{gtin}?linkType=gs1:pip",
                                 headers={"Accept-Language": language})
        assert response.headers["Location"].startswith(f"{BASE}/v/01/{gtin}?lang={expected}")


def test_verification_link_leads_to_the_json_verdict(anonymous, stamp):
    response = anonymous.get(stamp.path + "?linkType=gs1:verificationService")
    assert response.status_code == 307
    target = response.headers["Location"].replace(BASE, "")
    verdict = anonymous.get(target)
    assert verdict.status_code == 200 and verdict.get_json()["verdict"] == "authentic"
    assert verdict.get_json()["scan_count"] == 0  # reading the verdict records no scan


def test_a_link_type_the_item_lacks_is_404(anonymous, stamp):
    response = anonymous.get(stamp.path + "?linkType=gs1:recipeInfo")
    assert response.status_code == 404
    assert response.get_json()["code"] == "link_type_not_found"


def test_head_answers_like_get_without_a_body(client, stamp):
    response = client.head(stamp.path + "?linkType=linkset")
    assert response.status_code == 200 and response.data == b""
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert client.head(stamp.path, headers={"Accept": "*/*"}).status_code == 307


def test_options_describes_methods_cors_and_the_linkset(client, stamp):
    response = client.options(stamp.path, headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "GET"})
    assert response.status_code == 204
    assert "GET" in response.headers["Allow"] and "HEAD" in response.headers["Allow"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert {"GET", "HEAD", "OPTIONS"} <= {
        m.strip() for m in response.headers["Access-Control-Allow-Methods"].split(",")}
    assert f'<{BASE}{stamp.path}?linkType=linkset>; rel="linkset"' in response.headers["Link"]
    # A preflight for a URI the GET will refuse still succeeds, so the 400 can be read.
    bad = client.options("/01/08934567890121", headers={"Origin": "https://app.example"})
    assert bad.status_code == 204 and "Link" not in bad.headers


def test_trailing_slash_is_tolerated(anonymous, stamp):
    plain = anonymous.get(stamp.path, headers={"Accept": "*/*"})
    slash = anonymous.get(stamp.path + "/", headers={"Accept": "*/*"})
    assert (slash.status_code, slash.headers["Location"]) == (
        plain.status_code, plain.headers["Location"])


@pytest.mark.parametrize("path", [
    "/01/08934567890121/21/ABC",  # check digit
    "/01/0893456789012X/21/ABC",  # not digits
    "/01/08934567890120/21/AB%5EC",  # ^ is outside GS1's character set
    "/01/08934567890120/21/S1/10/L1",  # qualifiers out of order
    "/01/08934567890120/99/X",  # not a qualifier of a GTIN
    "/01/08934567890120/21/" + "A" * 21,  # serial longer than 20
])
def test_syntactically_invalid_digital_links_are_400(anonymous, product, path):
    for accept in ("*/*", LINKSET):
        response = anonymous.get(path, headers={"Accept": accept})
        assert response.status_code == 400, (path, response.status_code)
        assert response.get_json()["code"] == "invalid_digital_link"
    # A phone's browser gets the same 400 as a page saying the code is not valid.
    page = anonymous.get(path, headers={"Accept": "text/html"})
    assert page.status_code == 400 and 'data-verdict="malformed"' in page.get_data(as_text=True)


def test_unknown_gtin_is_404(anonymous, product):
    response = anonymous.get("/01/04006381333931/21/ABC", headers={"Accept": "*/*"})
    assert response.status_code == 404 and response.get_json()["code"] == "unknown_gtin"


def test_gtin_alone_resolves_to_product_information(anonymous, product):
    gtin = product["gtin"]
    body, _ = _linkset(anonymous, f"/01/{gtin}")
    assert [e["anchor"] for e in body["linkset"]] == [f"{BASE}/01/{gtin}"]
    assert VOC + "verificationService" not in body["linkset"][0]
    page = anonymous.get(f"/01/{gtin}", headers={"Accept": "text/html"})
    assert page.status_code == 200 and product["name"] in page.get_data(as_text=True)
    assert anonymous.get(f"/01/{gtin}?linkType=gs1:verificationService").status_code == 404


# -- walk-up ------------------------------------------------------------------------------

def test_unknown_serial_of_a_known_lot_walks_up_to_the_lot(anonymous, stamp):
    gtin = stamp.path.split("/")[2]
    forged = f"/01/{gtin}/10/L1/21/FORGED0123456789ABC"
    body, response = _linkset(anonymous, forged)
    assert [e["anchor"] for e in body["linkset"]] == [f"{BASE}/01/{gtin}/10/L1",
                                                      f"{BASE}/01/{gtin}"]
    assert response.headers["Walked-Up"] == "unknown serial"
    assert response.headers["Resolved-Anchor"] == f"{BASE}/01/{gtin}/10/L1"
    redirect = anonymous.get(forged, headers={"Accept": "*/*"})
    assert redirect.headers["Location"] == f"{BASE}/v/01/{gtin}/10/L1"
    assert redirect.headers["Walked-Up"] == "unknown serial"
    # The anti-counterfeit meaning stays: verifying this serial still judges it ...
    verification = anonymous.get(forged + "?linkType=gs1:verificationService")
    assert verification.headers["Location"].startswith(f"{BASE}/api/v1/verification{forged}")
    verdict = anonymous.get(verification.headers["Location"].replace(BASE, ""))
    assert verdict.get_json()["verdict"] == "counterfeit"
    # ... and a phone opening it sees the verification page for that serial.
    page = anonymous.get(forged, headers={"Accept": "text/html"})
    assert page.status_code == 200 and "FORGED0123456789ABC" in page.get_data(as_text=True)


def test_unknown_lot_walks_up_to_the_product(anonymous, stamp):
    gtin = stamp.path.split("/")[2]
    body, response = _linkset(anonymous, f"/01/{gtin}/10/NOLOT")
    assert [e["anchor"] for e in body["linkset"]] == [f"{BASE}/01/{gtin}"]
    assert response.headers["Walked-Up"] == "unknown lot"
    redirect = anonymous.get(f"/01/{gtin}/10/NOLOT", headers={"Accept": "*/*"})
    assert redirect.status_code == 307
    assert redirect.headers["Location"] == f"{BASE}/v/01/{gtin}"
    # A serial under an unknown lot walks up past both.
    both = anonymous.get(f"/01/{gtin}/10/NOLOT/{'21'}/{stamp.serial}",
                         headers={"Accept": LINKSET})
    assert [e["anchor"] for e in both.get_json(force=True)["linkset"]] == [f"{BASE}/01/{gtin}"]
    assert both.headers["Walked-Up"] == "unknown lot"


def test_a_known_lot_has_its_own_level(anonymous, stamp):
    gtin = stamp.path.split("/")[2]
    body, response = _linkset(anonymous, f"/01/{gtin}/10/L1")
    lot = _entry(body, f"/01/{gtin}/10/L1")
    assert lot[VOC + "defaultLink"] == [{"href": f"{BASE}/v/01/{gtin}/10/L1",
                                         "title": "Thông tin lô hàng / Lot information"}]
    assert "Walked-Up" not in response.headers


def test_trace_links_at_lot_and_product_level_once_traceability_is_installed(
        anonymous, stamp, monkeypatch, app):
    """With scanapp.trace installed (its trace_lots table in the metadata) and the lot in
    it, the lot gains traceability, epcis, certificationInfo and recallStatus links, and
    the product a certificationInfo link."""
    import sqlalchemy as sa

    from scanapp.db import get_engine
    from scanapp.scan import catalog

    gtin = stamp.path.split("/")[2]
    # A stand-in with the columns the resolver reads, under its own name so that it can
    # live beside the real table once scanapp.trace is installed.
    table = sa.Table("resolver_test_trace_lots", sa.MetaData(), sa.Column("id", sa.Integer),
                     sa.Column("gtin", sa.String(14)), sa.Column("lot", sa.String(20)),
                     schema=app.config.get("DATABASE_SCHEMA"))
    engine = get_engine(app)
    table.create(engine)
    try:
        with engine.begin() as conn:
            conn.execute(table.insert().values(id=1, gtin=gtin, lot="L1"))
        monkeypatch.setattr(catalog, "trace_lots_table", lambda: table)
        body, _ = _linkset(anonymous, f"/01/{gtin}/10/L1")
        # A stamp of that lot finds the lot's links by walking its levels.
        recall = anonymous.get(stamp.path + "?linkType=gs1:recallStatus")
        untraced = anonymous.get(f"/01/{gtin}/10/NOLOT?linkType=gs1:recallStatus")
    finally:
        table.drop(engine)
    lot = _entry(body, f"/01/{gtin}/10/L1")
    trace = f"{BASE}/api/v1/trace/public/lots/{gtin}/L1"
    assert {(ln["href"], tuple(ln["hreflang"])) for ln in lot[VOC + "traceability"]} == {
        (trace, ("vi",)), (trace, ("en",))}
    assert lot[VOC + "certificationInfo"][0]["href"] == trace + "/certificates"
    assert lot[VOC + "recallStatus"][0]["href"] == trace + "/recall"
    assert lot[VOC + "epcis"][0]["href"] == (
        f"{BASE}/epcis/events?MATCH_epcClass=https%3A%2F%2Fid.gs1.org%2F01%2F{gtin}%2F10%2FL1")
    assert [ln["title"] for ln in lot[VOC + "recallStatus"]] == [
        "Tình trạng thu hồi của lô hàng", "Recall status of this lot"]
    product = _entry(body, f"/01/{gtin}")
    assert product[VOC + "certificationInfo"][0]["href"] == (
        f"{BASE}/api/v1/trace/public/products/{gtin}/certificates")
    assert recall.status_code == 307
    assert recall.headers["Location"].startswith(trace + "/recall?")
    assert untraced.status_code == 404  # a lot the records do not name has no recall link


# -- resolver description ------------------------------------------------------------------

def test_well_known_resolver_description(anonymous):
    response = anonymous.get("/.well-known/gs1resolver")
    body = response.get_json()
    assert response.status_code == 200
    jsonschema.validate(body, DESCRIPTION_SCHEMA)
    assert body["resolverRoot"] == BASE
    assert body["supportedPrimaryKeys"] == ["01"]
    assert isinstance(body["contact"], dict)
    assert body["jsonLdContextLocation"] == resolver.JSONLD_CONTEXT
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_the_schemas_refuse_what_gs1_refuses():
    """Our schemas are not a rubber stamp: the shapes the suite failed before are refused."""
    old = {"resolverRoot": BASE, "supportedPrimaryKeys": ["gtin"], "contact": "see docs"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(old, DESCRIPTION_SCHEMA)
    no_description = {"linkset": [{"anchor": BASE + "/01/08934567890120",
                                   VOC + "pip": [{"href": BASE + "/x", "title": "t"}]}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(no_description, LINKSET_SCHEMA)
    title_star = {"linkset": [{"anchor": BASE + "/01/08934567890120", "itemDescription": "x",
                               VOC + "pip": [{"href": BASE + "/x", "title": "t",
                                              "title*": [{"value": "t", "language": "vi"}]}]}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(title_star, LINKSET_SCHEMA)
