"""The fast reader of printed stamp URIs answers exactly what the general parser answers,
errors included (it hands everything but the printed form to the general parser)."""

from __future__ import annotations

import pytest

from scanapp.errors import InvalidInput
from scanapp.scan.uri import parse_scanned
from scanapp.serials.stamps import parse_stamp_uri

SERIAL = "0ABCDEFGHJKMNPQRSTVW"
GTIN = "08934567890120"  # check digit right
CASES = [
    f"https://scan.example.vn/01/{GTIN}/21/{SERIAL}",
    f"HTTPS://SCAN.EXAMPLE.VN:8443/01/{GTIN}/21/{SERIAL}/",
    f"  https://scan.example.vn/01/{GTIN}/10/LOT7/21/{SERIAL}  ",
    f"/01/{GTIN}/21/{SERIAL}",
    f"01/{GTIN}/21/{SERIAL}",
    f"https://scan.example.vn/01/{GTIN}/21/{SERIAL}?17=271231",
    f"https://scan.example.vn/01/{GTIN}/21/{SERIAL.lower()}",
    f"https://scan.example.vn/01/{GTIN[:-1]}1/21/{SERIAL}",  # wrong check digit
    f"https://scan.example.vn/01/{GTIN}/21/{SERIAL}X",  # 21 characters
    f"https://scan.example.vn/21/{SERIAL}/01/{GTIN}",  # qualifiers out of order
    f"https://scan.example.vn/01/{GTIN}/10/L%2F1/21/{SERIAL}",
    f"https://scan.example.vn/01/{GTIN}",
    f"ftp://scan.example.vn/01/{GTIN}/21/{SERIAL}",
    "",
]


def _answer(parse, code):
    try:
        return parse(code)
    except InvalidInput as exc:
        return ("invalid", exc.code, exc.message)


@pytest.mark.parametrize("code", CASES)
def test_same_answer_as_the_general_parser(code):
    assert _answer(parse_scanned, code) == _answer(parse_stamp_uri, code)


def test_printed_stamps_read_the_same(issue_stamps):
    for stamp in issue_stamps(5) + issue_stamps(2, lot="B2611"):
        assert parse_scanned(stamp.uri) == parse_stamp_uri(stamp.uri)
