"""JSON bodies escaping an unpaired UTF-16 surrogate (``"\\ud800"``) are a 400, not a 500.

``json.loads`` keeps such an escape as a lone surrogate in a ``str`` that no UTF-8 encoder
takes: echoed in an error answer, hashed (a device id) or stored, it failed with a 500 on
the scan API, through the lean route and through the Flask view alike.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scanapp.security import lone_surrogate_escape

from .test_request_limits import assert_error


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@settings(max_examples=2000, deadline=None)
@given(value=st.text(alphabet=st.one_of(
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),  # lone surrogates
    st.sampled_from(["\\", "u", "d", "8", "0", "a", "é", "😀", '"'])), max_size=12))
def test_the_scanner_finds_exactly_the_strings_no_utf8_encoder_takes(value):
    for ensure_ascii in (True, False):
        text = json.dumps({"code": value}, ensure_ascii=ensure_ascii)
        if not ensure_ascii and not _encodable(text):
            continue  # not a body that decodes from UTF-8 in the first place
        assert lone_surrogate_escape(text) == (not _encodable(json.loads(text)["code"]))


@pytest.mark.parametrize("path, body", [
    ("/api/v1/scans", b'{"code": "\\ud800"}'),
    ("/api/v1/scans", b'{"code": "https://scan.example.vn/01/09506000134352/21/A\\udfff"}'),
    ("/api/v1/scans", b'{"code": "x", "device_id": "\\ud83d"}'),
    ("/api/v1/scans/pin", b'{"code": "x", "pin": "1234", "device_id": "\\udc00\\ud800"}'),
])
def test_public_bodies_with_a_lone_surrogate_are_400(client, path, body):
    response = client.post(path, data=body, content_type="application/json")
    assert_error(response, 400, "invalid_encoding")


def test_a_surrogate_pair_is_a_character_like_any_other(client):
    response = client.post("/api/v1/scans", data=b'{"code": "\\ud83d\\ude00"}',
                           content_type="application/json")
    assert response.status_code == 422  # not a stamp, as any other text


@settings(max_examples=2000, deadline=None)
@example(value="\\u0000")  # a Windows-ish path or a code sample, not a NUL
@example(value="\\\x00")
@example(value="\\\\u0000")
@given(value=st.text(alphabet=st.sampled_from(["\\", "u", "0", "\x00", "a", '"']),
                     max_size=12))
def test_the_nul_check_refuses_exactly_the_bodies_that_hold_a_nul(value):
    """An escaped backslash followed by the text "u0000" is not a NUL character: only a
    body whose decoded strings hold one is refused."""
    from scanapp.errors import MalformedRequest
    from scanapp.security import check_body_text

    text = json.dumps({"name": value})
    try:
        check_body_text(text.encode(), is_json=True)
        refused = False
    except MalformedRequest as exc:
        assert exc.code == "nul_character"
        refused = True
    assert refused == ("\x00" in json.loads(text)["name"])
