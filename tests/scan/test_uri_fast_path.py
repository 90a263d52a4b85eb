"""The fast reader of printed stamp URIs answers exactly what the strict Digital Link parser
answers (it hands everything but the printed form to it), and the scan API refuses what
the resolver refuses."""

from __future__ import annotations

import pytest

from scanapp.errors import InvalidInput
from scanapp.scan.uri import parse_scanned, parse_scanned_strictly
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
# Valid for the printed form's regular expression's eyes only if it were lax: each of
# these is refused by the strict rules (the resolver answers them 400 too).
REFUSED = [
    f"https://scan.example.vn/01/{GTIN[1:]}/21/{SERIAL}",  # GTIN-13
    f"https://scan.example.vn/01/{GTIN}/21/{SERIAL}?21=X",  # AI in the query again
    f"https://scan.example.vn/01/{GTIN}/21/{SERIAL}?9999=1",  # unknown AI
    f"https://scan.example.vn/01/{GTIN}//21/{SERIAL}",  # empty segment
    f"https://scan.example.vn/01/{GTIN}/21/{SERIAL}?17=271399",  # no month 13
]


def _answer(parse, code):
    try:
        return parse(code)
    except InvalidInput as exc:
        return ("invalid", exc.code, exc.message)


@pytest.mark.parametrize("code", CASES + REFUSED)
def test_same_answer_as_the_strict_parser(code):
    assert _answer(parse_scanned, code) == _answer(parse_scanned_strictly, code)


@pytest.mark.parametrize("code", CASES)
def test_valid_stamps_read_as_the_general_stamp_parser_reads_them(code):
    mine, theirs = _answer(parse_scanned, code), _answer(parse_stamp_uri, code)
    if isinstance(theirs, tuple):
        assert isinstance(mine, tuple) and mine[1] == "invalid_digital_link"
    else:
        assert mine == theirs


@pytest.mark.parametrize("code", REFUSED)
def test_what_the_resolver_refuses_the_scan_api_refuses(code, scan):
    status, body = scan(code)
    assert status == 422 and "invalid_digital_link" in str(body), body


def test_printed_stamps_read_the_same(issue_stamps):
    for stamp in issue_stamps(5) + issue_stamps(2, lot="B2611", expiry="2027-06-30"):
        assert parse_scanned(stamp.uri) == parse_stamp_uri(stamp.uri)
