"""GS1 Digital Link compression both ways, checked against URIs made by GS1's reference
implementation, and compressed stamp URIs resolved like the uncompressed ones."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest

from scanapp.scan.dl_compression import CompressionError, compress, decompress

VECTORS = json.loads((Path(__file__).parent / "data" / "dl_compression_vectors.json")
                     .read_text())["vectors"]
BASE = "https://scan.example.vn"


def _elements(uri: str) -> dict[str, str]:
    parts = urlsplit(uri)
    segments = parts.path.split("/")[1:]
    elements = {segments[i]: unquote(segments[i + 1]) for i in range(0, len(segments), 2)}
    elements.update(parse_qsl(parts.query))
    return elements


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: f"{v['uncompressed'][23:]}"
                         f"{'' if v['optimisations'] else ' (no optimisation)'}")
def test_same_bits_as_gs1_reference_implementation(vector):
    segment = vector["compressed"].rsplit("/", 1)[1]
    assert compress(_elements(vector["uncompressed"]),
                    optimise=vector["optimisations"]) == segment
    elements, others = decompress(segment)
    assert elements == _elements(vector["reference_decompressed"]) and others == {}


def test_round_trip_of_every_character_encoding():
    cases = {"01": "08934567890120", "10": "0042", "21": "a1b2c3",  # digits, lower hex
             "22": "ABC-_x", "235": "Z/Y!%\"'()*+,.:;<=>?",  # base64-safe, 7-bit ASCII
             "17": "271231", "3103": "000250", "30": "0007", "7003": "2612311200"}
    for optimise in (True, False):
        segment = compress(cases, optimise=optimise)
        assert decompress(segment) == (cases, {})
    with_params = compress({"01": "08934567890120"}, {"ref": "qr-1"})
    assert decompress(with_params) == ({"01": "08934567890120"}, {"ref": "qr-1"})


@pytest.mark.parametrize("segment", ["", "not/base64", "_____", "AAAAAAAA", "ARBAe32Zk"])
def test_what_does_not_decode_is_refused(segment):
    with pytest.raises(CompressionError):
        decompress(segment)


def _compressed_stamp(stamp) -> str:
    elements = _elements(stamp.uri)
    return "/" + compress(elements)


def test_a_compressed_stamp_resolves_like_the_stamp(anonymous, stamp_with_lot):
    path = _compressed_stamp(stamp_with_lot)
    response = anonymous.get(path, headers={"Accept": "*/*"})
    assert response.status_code == 307
    assert response.headers["Location"] == f"{BASE}/v{stamp_with_lot.path}"
    assert f'<{stamp_with_lot.uri}>; rel="owl:sameAs"' in response.headers["Link"]
    assert f'<{stamp_with_lot.uri}?linkType=linkset>; rel="linkset"' in response.headers["Link"]
    linkset = anonymous.get(path, headers={"Accept": "application/linkset+json"})
    assert linkset.status_code == 200
    # The subject of the linkset is the uncompressed URI.
    assert linkset.get_json(force=True)["linkset"][0]["anchor"] == stamp_with_lot.uri
    page = anonymous.get(path, headers={"Accept": "text/html"})
    assert page.status_code == 200 and stamp_with_lot.serial in page.get_data(as_text=True)


def test_the_reference_implementations_compressed_gtin_resolves(anonymous, product):
    vector = next(v for v in VECTORS if v["uncompressed"] == f"{BASE}/01/{product['gtin']}")
    path = "/" + vector["compressed"].rsplit("/", 1)[1]
    response = anonymous.get(path + "?utm=qr", headers={"Accept": "*/*"})
    assert response.status_code == 307
    assert response.headers["Location"] == f"{BASE}/v/01/{product['gtin']}?utm=qr"
    assert f'<{BASE}/01/{product["gtin"]}>; rel="owl:sameAs"' in response.headers["Link"]
    options = anonymous.client.options(path)
    assert options.status_code == 204 and 'rel="owl:sameAs"' in options.headers["Link"]


def test_compressed_data_attributes_come_back_in_the_query(anonymous, product):
    path = "/" + compress({"01": product["gtin"], "10": "L9", "17": "271231"})
    response = anonymous.get(path, headers={"Accept": "*/*"})
    assert response.status_code == 307  # unknown lot L9: walked up to the product
    assert response.headers["Walked-Up"] == "unknown lot"
    same_as = f'<{BASE}/01/{product["gtin"]}/10/L9?17=271231>; rel="owl:sameAs"'
    assert same_as in response.headers["Link"]


def test_a_compressed_uri_with_invalid_content_is_400(anonymous, product):
    bad_check_digit = "/" + compress({"01": product["gtin"][:-1] + "1"})
    long_serial = "/" + compress({"01": product["gtin"], "21": "A" * 21})
    truncated = "/" + compress({"01": product["gtin"], "21": "ABCDEFGH"})[:-3]
    for path in (bad_check_digit, long_serial, truncated):
        response = anonymous.get(path, headers={"Accept": "*/*"})
        assert response.status_code == 400, path
        assert response.get_json()["code"] == "invalid_digital_link"


def test_other_single_segment_paths_are_not_taken_for_compressed_links(anonymous, product):
    for path in ("/robots.txt", "/favicon.ico", "/something"):
        assert anonymous.get(path).status_code == 404, path


@pytest.fixture
def stamp_with_lot(issue_stamps):
    return issue_stamps(1, lot="L7")[0]


PARTIAL = json.loads((Path(__file__).parent / "data" / "dl_compression_vectors.json")
                     .read_text())["partially_compressed"]


@pytest.mark.parametrize("vector", PARTIAL, ids=lambda v: v["element_strings"])
def test_partially_compressed_links_of_the_reference_implementation(anonymous, product, vector):
    path = vector["compressed"].replace(BASE, "")
    response = anonymous.get(path, headers={"Accept": "application/linkset+json"})
    assert response.status_code == 200
    expected = vector["reference_decompressed"]
    assert f'<{expected}>; rel="owl:sameAs"' in response.headers["Link"]
    # Unknown serials and lots here: the answer walks up, and says so.
    assert response.headers["Walked-Up"] in ("unknown serial", "unknown lot")
    assert anonymous.get(path + "/", headers={"Accept": "*/*"}).status_code == 307


def test_a_third_segment_that_is_not_compressed_is_still_400(anonymous, product):
    response = anonymous.get(f"/01/{product['gtin']}/foo", headers={"Accept": "*/*"})
    assert response.status_code == 400 and "no value" in response.get_json()["message"]
