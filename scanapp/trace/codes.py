"""Codes of the trace domain: Vietnamese tax codes, GLNs, and the identifiers that name
lots, places and parties inside EPCIS events (GS1 Digital Link canonical, URN accepted).

Check digits are never computed by hand here: GLNs go through biip, tax codes through
python-stdnum's ``vn.mst`` (weights 31, 29, 23, 19, 17, 13, 7, 5, 3; mod 11).
"""

from __future__ import annotations

import functools
import re
from urllib.parse import quote, unquote

from biip import ParseError
from biip.gln import Gln
from biip.gtin import Gtin
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.vn import mst

from ..errors import InvalidInput
from ..gs1 import normalize_gtin, with_check_digit

DL = "https://id.gs1.org"
# GS1 AI 82-character set (lot AI 10, extension AI 254).
_AI82 = re.compile(r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}$")


def normalize_tax_code(value: str) -> str:
    """``0101234567`` or ``0101234567-001`` with a correct check digit."""
    text = (value or "").strip()
    if not re.fullmatch(r"\d{10}(-\d{3})?", text):
        raise InvalidInput(f"tax code {value!r} must be 10 digits, or 10 digits, '-' and a "
                           "3-digit branch number", code="invalid_tax_code")
    try:
        mst.validate(text)
    except StdnumError:
        raise InvalidInput(f"tax code {value!r} has a wrong check digit (10th digit)",
                           code="invalid_tax_code") from None
    return text


def normalize_gln(value: str, what: str = "GLN") -> str:
    text = (value or "").strip()
    if not re.fullmatch(r"\d{13}", text):
        raise InvalidInput(f"{what} {value!r} must be 13 digits", code="invalid_gln")
    try:
        return Gln.parse(text).value
    except ParseError as exc:
        raise InvalidInput(f"{what} {value!r} is not valid: {exc}", code="invalid_gln") from None


def check_ai82(value: str, what: str) -> str:
    if not _AI82.match(value or ""):
        raise InvalidInput(f"{what} {value!r} must be 1 to 20 characters of GS1's set "
                           "(letters, digits and !\"%&'()*+,-./:;<=>?_)", code="invalid_code")
    return value


# -- identifiers in events ------------------------------------------------------------------

def lot_uri(gtin14: str, lot: str) -> str:
    return f"{DL}/01/{gtin14}/10/{quote(lot, safe='')}"


def location_uri(gln: str, extension: str = "") -> str:
    return f"{DL}/414/{gln}" + (f"/254/{quote(extension, safe='')}" if extension else "")


def party_uri(gln: str) -> str:
    return f"{DL}/417/{gln}"


# Compiled once: capture parses every identifier of every event with these.
_DL_LOT = re.compile(r"https?://[^/]+(?:/.*)?/01/(\d{14})/10/([^/?#]+)(?:/21/[^/?#]+)?")
_DL_ITEM = re.compile(r"https?://[^/]+(?:/.*)?/01/(\d{14})/21/[^/?#]+")
_DL_CLASS = re.compile(r"https?://[^/]+(?:/.*)?/01/(\d{14})")
_DL_LOCATION = re.compile(r"https?://[^/]+(?:/.*)?/414/(\d{13})(?:/254/([^/?#]+))?")
_DL_PARTY = re.compile(r"https?://[^/]+(?:/.*)?/417/(\d{13})")


def _urn_parts(value: str, scheme: str) -> list[str] | None:
    prefix = f"urn:epc:{scheme}:"
    if not value.startswith(prefix):
        return None
    return value[len(prefix):].split(".")

def parse_lot(value: str) -> tuple[str, str] | None:
    """(gtin14, lot) of a lot class identifier, or None when it is not one."""
    if not isinstance(value, str):
        return None
    return _parse_lot(value)


# Cached: a document names the same lots, places and parties over and over.
@functools.lru_cache(maxsize=16_384)
def _parse_lot(value: str) -> tuple[str, str] | None:
    parts = _urn_parts(value, "class:lgtin")
    if parts is not None:
        if len(parts) != 3 or not (parts[0] + parts[1]).isdigit() \
                or len(parts[0] + parts[1]) != 13:
            return None
        item = parts[1]
        body = item[:1] + parts[0] + item[1:]
        try:
            return Gtin.parse(with_check_digit(body)).as_gtin_14(), unquote(parts[2])
        except ParseError:
            return None
    match = _DL_LOT.fullmatch(value)
    if match is None:
        return None
    gtin = _valid_gtin(match.group(1))
    return (gtin, unquote(match.group(2))) if gtin else None


def parse_item_gtin(value: str) -> str | None:
    """The GTIN of an item (SGTIN) identifier without lot: DL /01/{gtin}/21/{serial} or
    urn:epc:id:sgtin:..."""
    if not isinstance(value, str):
        return None
    parts = _urn_parts(value, "id:sgtin")
    if parts is not None:
        return _gtin_of(parts)
    match = _DL_ITEM.fullmatch(value)
    return _valid_gtin(match.group(1)) if match else None


def parse_class_gtin(value: str) -> str | None:
    """The GTIN of a product class without lot (DL /01/{gtin} or urn:epc:idpat:sgtin)."""
    if not isinstance(value, str):
        return None
    parts = _urn_parts(value, "idpat:sgtin")
    if parts is not None:
        return _gtin_of(parts)
    match = _DL_CLASS.fullmatch(value)
    return _valid_gtin(match.group(1)) if match else None


@functools.lru_cache(maxsize=4096)
def _valid_gtin(value: str) -> str | None:
    # Cached: a document names the same few GTINs thousands of times.
    try:
        return normalize_gtin(value)
    except InvalidInput:
        return None


def _gtin_of(parts: list[str]) -> str | None:
    if len(parts) < 2 or len(parts[0] + parts[1]) != 13 or not (parts[0] + parts[1]).isdigit():
        return None
    return _valid_gtin(with_check_digit(parts[1][:1] + parts[0] + parts[1][1:]))


def parse_location(value: str) -> tuple[str, str] | None:
    """(gln, extension or '') of a location identifier, or None."""
    if not isinstance(value, str):
        return None
    return _parse_location(value)


# Cached: a document names the same lots, places and parties over and over.
@functools.lru_cache(maxsize=16_384)
def _parse_location(value: str) -> tuple[str, str] | None:
    parts = _urn_parts(value, "id:sgln")
    if parts is not None:
        if len(parts) != 3 or len(parts[0] + parts[1]) != 12 \
                or not (parts[0] + parts[1]).isdigit():
            return None
        ext = "" if parts[2] in ("", "0") else unquote(parts[2])
        return with_check_digit(parts[0] + parts[1]), ext
    match = _DL_LOCATION.fullmatch(value)
    if match is None:
        return None
    return match.group(1), unquote(match.group(2) or "")


def parse_party(value: str) -> str | None:
    """The GLN of a party identifier (AI 417 or pgln URN), or None."""
    if not isinstance(value, str):
        return None
    return _parse_party(value)


# Cached: a document names the same lots, places and parties over and over.
@functools.lru_cache(maxsize=16_384)
def _parse_party(value: str) -> str | None:
    parts = _urn_parts(value, "id:pgln")
    if parts is not None:
        if len(parts) != 2 or len(parts[0] + parts[1]) != 12:
            return None
        return with_check_digit(parts[0] + parts[1])
    match = _DL_PARTY.fullmatch(value)
    return match.group(1) if match else None
