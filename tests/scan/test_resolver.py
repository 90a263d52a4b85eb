"""GS1-Conformant resolver rules on stamp URIs, and the resolver description."""

from __future__ import annotations

import pytest

LINKSET = "application/linkset+json"
VOC = "https://gs1.org/voc/"


@pytest.fixture
def stamp(issue_stamps):
    return issue_stamps(1, lot="L1")[0]


def test_a_browser_opening_the_stamp_gets_the_page_directly(anonymous, stamp):
    response = anonymous.get(stamp.path, headers={"Accept": "text/html,*/*;q=0.8"})
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert 'rel="linkset"' in response.headers["Link"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Accept" in response.headers["Vary"]


def test_a_client_without_html_is_redirected_to_the_default_link(anonymous, stamp):
    response = anonymous.get(stamp.path + "?17=271231&utm=qr", headers={"Accept": "*/*"})
    assert response.status_code == 307
    location = response.headers["Location"]
    assert location.startswith("https://scan.example.vn/v" + stamp.path)
    assert "17=271231" in location and "utm=qr" in location  # query string passed on


def test_linkset_by_query_and_by_accept_header(anonymous, stamp):
    for response in (anonymous.get(stamp.path + "?linkType=linkset"),
                     anonymous.get(stamp.path, headers={"Accept": LINKSET})):
        assert response.status_code == 200
        assert response.mimetype == LINKSET
        body = response.get_json(force=True)
        entry = body["linkset"][0]
        assert entry["anchor"] == "https://scan.example.vn" + stamp.path
        defaults = entry[VOC + "defaultLink"]
        assert len(defaults) == 1
        for rel, links in entry.items():
            if rel == "anchor":
                continue
            assert rel.startswith(VOC)
            for link in links:
                assert link["href"].startswith("https://") and link["title"] and link["type"]
        assert entry[VOC + "verificationService"][0]["type"] == "application/json"


def test_link_type_verification_service_leads_to_the_json_verdict(anonymous, stamp):
    response = anonymous.get(stamp.path + "?linkType=gs1:verificationService")
    assert response.status_code == 307
    target = response.headers["Location"].replace("https://scan.example.vn", "")
    verdict = anonymous.get(target)
    assert verdict.status_code == 200 and verdict.get_json()["verdict"] == "authentic"
    assert verdict.get_json()["scan_count"] == 0  # reading the verdict records no scan


def test_full_uri_link_type_and_default_link(anonymous, stamp):
    response = anonymous.get(stamp.path + f"?linkType={VOC}defaultLink")
    assert response.status_code == 307
    assert "/v/01/" in response.headers["Location"]


def test_a_link_type_the_item_lacks_is_404(anonymous, stamp):
    response = anonymous.get(stamp.path + "?linkType=gs1:recipeInfo")
    assert response.status_code == 404
    assert response.get_json()["code"] == "link_type_not_found"


def test_head_answers_like_get_without_a_body(client, stamp):
    response = client.head(stamp.path + "?linkType=linkset")
    assert response.status_code == 200 and response.data == b""
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert client.head(stamp.path, headers={"Accept": "*/*"}).status_code == 307


def test_options_describes_allowed_methods_with_cors(client, stamp):
    response = client.options(stamp.path, headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "GET"})
    assert response.status_code == 204
    assert "GET" in response.headers["Allow"] and "HEAD" in response.headers["Allow"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in response.headers["Access-Control-Allow-Methods"]


def test_trailing_slash_is_tolerated(anonymous, stamp):
    response = anonymous.get(stamp.path + "/?linkType=linkset")
    assert response.status_code == 200


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
    linkset = anonymous.get(f"/01/{gtin}?linkType=linkset").get_json(force=True)
    entry = linkset["linkset"][0]
    assert VOC + "verificationService" not in entry  # nothing to verify without a serial
    page = anonymous.get(f"/01/{gtin}", headers={"Accept": "text/html"})
    assert page.status_code == 200 and product["name"] in page.get_data(as_text=True)
    assert anonymous.get(f"/01/{gtin}?linkType=gs1:verificationService").status_code == 404


def test_short_gtin_spelling_resolves_to_the_same_item(anonymous, product):
    gtin13 = product["gtin"][1:]
    response = anonymous.get(f"/01/{gtin13}?linkType=linkset")
    assert response.status_code == 200
    assert response.get_json(force=True)["linkset"][0]["anchor"].endswith(product["gtin"])


def test_well_known_resolver_description(anonymous):
    response = anonymous.get("/.well-known/gs1resolver")
    body = response.get_json()
    assert response.status_code == 200
    assert body["resolverRoot"] == "https://scan.example.vn"
    assert "gtin" in body["supportedPrimaryKeys"]
    assert {t["profile"] for t in body["supportedLinkType"]} >= {
        VOC + "defaultLink", VOC + "verificationService"}
