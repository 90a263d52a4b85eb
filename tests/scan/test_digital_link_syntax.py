"""Every GS1 Digital Link syntax rule, with valid and invalid URIs of our own: an invalid
URI is answered 400 with its reason, before any lookup (so never 404 for an unknown
product and never 5xx), whatever the client accepts."""

from __future__ import annotations

import pytest
from markupsafe import escape

from scanapp.scan.digital_link import InvalidDigitalLink, parse

GTIN = "08934567890120"  # the test product's GTIN (check digit right)
UNREGISTERED = "04006381333931"  # valid GTIN, no product: syntax errors must still be 400

VALID = [
    f"/01/{GTIN}",
    f"/01/{GTIN}/",  # one trailing slash tolerated
    f"/01/{GTIN}/10/L1",
    f"/01/{GTIN}/21/S1",
    f"/01/{GTIN}/10/L1/21/S1",
    f"/01/{GTIN}/22/V1/10/L1/21/S1",
    f"/01/{GTIN}/235/TPX-1",
    f"/01/{GTIN}/10/A%2FB%26C",  # reserved characters percent-encoded inside a value
    f"/01/{GTIN}/21/" + "Z" * 20,  # the longest serial
    f"/01/{GTIN}/21/!%22%25&'()*+,-.:;%3C=%3E_",  # GS1 set 82 punctuation
    f"/01/{GTIN}?17=271231",
    f"/01/{GTIN}/10/L1?17=271231&3103=000250&linkType=gs1:pip&utm=x",
    f"/01/{GTIN}?linkType=linkset&&x=",  # empty pairs and non-AI keys are not AIs
]

# (path, words the 400's message must contain)
INVALID = [
    (f"/01/{GTIN[1:]}", "14 digits"),  # GTIN-13
    (f"/01/{GTIN[2:]}", "14 digits"),  # GTIN-12
    ("/01/96385074", "14 digits"),  # GTIN-8
    (f"/01/{GTIN[:-1]}1", "check digit"),
    ("/01/0893456789012X", "14 digits"),
    (f"/01/{GTIN}//21/S1", "empty segment"),
    (f"/01/{GTIN}/10//21/S1", "empty segment"),
    (f"/01/{GTIN}/21", "no value"),
    (f"/01/{GTIN}/10/L1/21", "no value"),
    (f"/01/{GTIN}/foo", "no value"),
    (f"/01/{GTIN}/21/S1/10/L1", "out of order"),
    (f"/01/{GTIN}/10/L1/22/V1", "out of order"),
    (f"/01/{GTIN}/10/L1/235/T1", "out of order"),  # 235 is not combined with 22/10/21
    (f"/01/{GTIN}/10/L1/10/L2", "given twice"),
    (f"/01/{GTIN}/17/271231", "not a key qualifier"),  # a data attribute in the path
    (f"/01/{GTIN}/99/X", "not a key qualifier"),
    (f"/01/{GTIN}/7777/X", "not a GS1 Application Identifier"),
    (f"/01/{GTIN}/21/" + "Z" * 21, "X..20"),  # too long
    (f"/01/{GTIN}/21/A%5EB", "X..20"),  # ^ is outside set 82
    (f"/01/{GTIN}/21/%C3%A9", "X..20"),  # é is outside set 82
    (f"/01/{GTIN}/21/A%20B", "X..20"),  # space is outside set 82
    (f"/01/{GTIN}/21/A%ZZ", "percent-encoded"),
    (f"/01/{GTIN}/21/%FF", "UTF-8"),
    (f"/01/{GTIN}?21=S1", "belongs in the path"),  # a qualifier in the query
    (f"/01/{GTIN}?10=L1", "belongs in the path"),
    (f"/01/{GTIN}?22=V1", "belongs in the path"),
    (f"/01/{GTIN}?414=8934567890127", "belongs in the path"),  # another primary key
    (f"/01/{GTIN}?01={GTIN}", "given twice"),
    (f"/01/{GTIN}/10/L1?10=L1", "given twice"),
    (f"/01/{GTIN}?17=271231&17=271230", "given twice"),
    (f"/01/{GTIN}?17=", "empty value"),
    (f"/01/{GTIN}?17", "empty value"),
    (f"/01/{GTIN}?9999=1", "not a GS1 Application Identifier"),
    (f"/01/{GTIN}?17=271399", "N6"),  # month 13
    (f"/01/{GTIN}?17=2712", "N6"),  # too short
    (f"/01/{GTIN}?3103=12A456", "N6"),
    (f"/01/{GTIN}?7003=26123112", "N10"),
]


@pytest.mark.parametrize("path", VALID)
def test_valid_digital_links_parse(path):
    raw_path, _, query = path.partition("?")
    item = parse(raw_path, query)
    assert item.gtin == GTIN


@pytest.mark.parametrize(("path", "reason"), INVALID)
def test_invalid_digital_links_are_refused_with_the_reason(path, reason):
    raw_path, _, query = path.partition("?")
    with pytest.raises(InvalidDigitalLink) as caught:
        parse(raw_path, query)
    assert reason in caught.value.message


def test_values_are_decoded_once_and_kept_exactly():
    item = parse(f"/01/{GTIN}/10/A%2FB%26C%252F/21/x-1", "17=271231&k=%41")
    assert (item.lot, item.serial) == ("A/B&C%2F", "x-1")
    assert item.attributes == (("17", "271231"),)
    assert item.params == {"k": "A"} and item.query == "17=271231&k=%41"
    assert item.path() == f"/01/{GTIN}/10/A%2FB%26C%252F/21/x-1"


@pytest.mark.parametrize(("path", "reason"), INVALID[::3])
@pytest.mark.parametrize("accept", ["text/html", "*/*", "application/linkset+json"])
def test_the_resolver_answers_400_with_the_reason(anonymous, product, path, reason, accept):
    response = anonymous.get(path, headers={"Accept": accept})
    assert response.status_code == 400, (path, response.status_code)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    if accept == "text/html":  # a phone's browser: a page (issue 17), the reason in it
        html = response.get_data(as_text=True)
        assert 'data-verdict="malformed"' in html and escape(reason) in html
        return
    body = response.get_json()
    assert body["code"] == "invalid_digital_link" and reason in body["message"]


@pytest.mark.parametrize(("path", "reason"), INVALID)
def test_syntax_is_checked_before_the_product_is_looked_up(anonymous, product, path, reason):
    """The same invalid URIs for a GTIN nobody registered: still 400, never 404."""
    response = anonymous.get(path.replace(GTIN, UNREGISTERED), headers={"Accept": "*/*"})
    assert response.status_code == 400, (path, response.status_code)
    assert reason in response.get_json()["message"]


@pytest.mark.parametrize("path", VALID)
def test_valid_digital_links_are_never_400(anonymous, product, path):
    response = anonymous.get(path, headers={"Accept": "*/*"})
    assert response.status_code in (200, 307, 404), (path, response.status_code)
    if response.status_code == 404:  # only a link type the item lacks
        assert response.get_json()["code"] == "link_type_not_found"


def test_the_verification_page_and_service_use_the_same_rules(anonymous, product):
    for path in (f"/v/01/{GTIN[1:]}/21/S1", f"/api/v1/verification/01/{GTIN}/21/S1?21=X"):
        response = anonymous.get(path)
        assert response.status_code == 400 and response.get_json()["code"] == \
            "invalid_digital_link", path
