"""Strict GS1 Digital Link URI syntax, checked in full before anything is looked up.

What a resolver must refuse with 400 (GS1 Digital Link: URI Syntax 1.4+ sections 4 and 6;
GS1-Conformant Resolver 1.2 "SHALL extract and syntactically validate the URI"):

- the path: ``/{primary key AI}/{value}`` then key qualifiers, as AI/value pairs; no empty
  segment (one trailing slash is tolerated), no AI without a value, qualifiers only those
  of the primary key and in the standard's order (GTIN: 22, 10, 21; or 235 alone);
- the GTIN in its 14-digit form. **Decision**: a GTIN-8, -12 or -13 in the path is 400.
  URI Syntax 1.4.0 (June 2023) made the 14-digit form the only one ("all GTINs must be
  expressed as 14 digits"; GS1's resolver test suite quotes that release), and scanapp
  prints only GTIN-14 URIs, so a shorter spelling is not a stamp of ours;
- every value percent-decoded exactly once and then checked against its AI's format in
  the GS1 General Specifications (length, numeric or GS1 AI encodable character set 82,
  check digits, dates): biip's AI table does that, the structure rules are ours;
- the query string: numeric keys are AIs and must exist; the primary key, any other
  primary key and the primary key's qualifiers belong in the path, not the query; no AI
  twice (path or query); no empty AI value. Other keys (linkType, context, utm_...) pass.

Library choice: biip (already a dependency) carries GS1's AI table (541 AIs: format,
pattern, check digit and date rules) and parses element strings. Its own Digital Link
parser is lenient on purpose (it pads short GTINs, ignores unknown and repeated query
AIs), so the URI structure is checked here and each element with biip.
GS1's own Syntax Engine bindings (``gs1encoders``) are not on the package index this
project installs from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import NoReturn
from urllib.parse import quote

from biip import ParseError
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_element_strings import GS1ElementString

from ..errors import DomainError, NotFound
from .dl_compression import ALPHABET, OPTIMISATIONS, CompressionError, decompress

# Primary keys that may head a Digital Link path (URI Syntax 1.4, table of primary keys).
PRIMARY_KEYS = frozenset({"00", "01", "253", "255", "401", "402", "414", "417", "8003",
                          "8004", "8006", "8010", "8013", "8017", "8018"})
# Key qualifier paths per primary key, in order. Only GTIN is resolved here; the others
# are named so that their qualifiers are recognised as path-only AIs in a query.
QUALIFIER_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "01": (("22", "10", "21"), ("235",)),
    "414": (("254",), ("7040",)),
    "8006": (("22", "10", "21"),),
    "8010": (("8011",),),
    "8017": (("8019",),),
    "8018": (("8019",),),
}
MAX_URI = 2048
_PCT = re.compile(r"%(?![0-9A-Fa-f]{2})")


class InvalidDigitalLink(DomainError):
    """Not a syntactically valid GS1 Digital Link URI: answered with 400 (resolver rule)."""

    code = "invalid_digital_link"


@dataclass(frozen=True)
class DigitalLink:
    """A syntactically valid GTIN Digital Link: the item and the request's other data."""

    gtin: str
    cpv: str | None = None
    lot: str | None = None
    serial: str | None = None
    tpx: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()  # data attribute AIs from the query
    query: str = ""  # the raw query string, as received (passed on unchanged)
    params: dict[str, str] = field(default_factory=dict, compare=False)  # non-AI keys

    def path(self) -> str:
        """The canonical path (GTIN-14, qualifiers in order, values percent-encoded)."""
        text = f"/01/{self.gtin}"
        for ai, value in (("22", self.cpv), ("10", self.lot), ("21", self.serial),
                          ("235", self.tpx)):
            if value:
                text += f"/{ai}/{quote(value, safe='')}"
        return text


def _decode(raw: str, where: str) -> str:
    """Percent-decode once, strictly: a stray ``%`` or invalid UTF-8 is a syntax error."""
    if "%" not in raw:
        return raw
    if _PCT.search(raw):
        raise InvalidDigitalLink(f"{where}: '%' must start a percent-encoded octet (%XX)")
    try:
        return bytes(_unquote_bytes(raw)).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidDigitalLink(f"{where}: percent-encoded octets are not UTF-8") from None


def _unquote_bytes(raw: str):
    out = bytearray()
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "%":
            out.append(int(raw[i + 1:i + 3], 16))
            i += 3
        else:
            out.extend(ch.encode("utf-8"))
            i += 1
    return out


@cache
def _spec(ai: str) -> tuple[GS1ApplicationIdentifier, re.Pattern[str]] | None:
    """The AI's entry in biip's table and its compiled pattern (looked up once per AI:
    biip's own lookup scans the whole table)."""
    try:
        spec = GS1ApplicationIdentifier.extract(ai)
    except ParseError:
        return None
    return (spec, re.compile(spec.pattern)) if spec.ai == ai else None


def known_ai(ai: str) -> bool:
    return _spec(ai) is not None


def check_element(ai: str, value: str, where: str) -> None:
    """One AI value against GS1's format for it (biip's AI table)."""
    found = _spec(ai)
    if found is None:
        raise InvalidDigitalLink(f"{where}: ({ai}) is not a GS1 Application Identifier")
    if value == "":
        raise InvalidDigitalLink(f"{where}: ({ai}) has an empty value")
    spec, pattern = found
    fmt = spec.format.split("+", 1)[1]
    if pattern.fullmatch(ai + value) is None:
        _bad_format(ai, value, where, spec, fmt)
    if "X" in fmt and "N" not in fmt:
        return  # characters and length are all there is to an alphanumeric AI
    # Numeric AIs may carry a check digit or a date: biip knows which and checks them.
    error = _numeric_error(ai, value)
    if error is not None:
        if error == "format":
            _bad_format(ai, value, where, spec, fmt)
        raise InvalidDigitalLink(f"{where}: {error}")


@lru_cache(maxsize=8192)
def _numeric_error(ai: str, value: str) -> str | None:
    """biip's verdict on a numeric value, remembered: GTINs, dates and weights repeat
    across scans (a few products, a few lots), so most checks are dictionary hits."""
    try:
        element = GS1ElementString.parse(ai + value)
    except ParseError:
        return "format"
    if element.ai.ai != ai or element.value != value:
        return "format"
    for error in (element.gtin_error, element.gln_error, element.sscc_error):
        if error:
            return error
    return None


def _bad_format(ai: str, value: str, where: str, spec: GS1ApplicationIdentifier, fmt: str
                ) -> NoReturn:
    note = " ('X' = GS1 AI encodable character set 82)" if "X" in fmt else ""
    raise InvalidDigitalLink(f"{where}: {value!r} is not a valid ({ai}) {spec.data_title}: "
                             f"GS1 format {fmt}{note}")


def split_path(raw_path: str) -> list[str]:
    """Path segments (still encoded) from ``/01/...``; one trailing slash tolerated."""
    if len(raw_path) > MAX_URI:
        raise InvalidDigitalLink("the Digital Link URI is too long")
    path = raw_path[:-1] if raw_path.endswith("/") and len(raw_path) > 1 else raw_path
    segments = path.split("/")[1:]
    if any(segment == "" for segment in segments):
        raise InvalidDigitalLink("the path has an empty segment ('//')")
    return segments


def parse(raw_path: str, raw_query: str = "") -> DigitalLink:
    """Validate a GTIN Digital Link (path from ``/01/``, raw query) completely."""
    segments = split_path(raw_path)
    if len(segments) % 2:
        raise InvalidDigitalLink(
            f"the path must be AI/value pairs; '{segments[-1]}' has no value")
    pairs = [(segments[i], _decode(segments[i + 1], f"path /{segments[i]}/"))
             for i in range(0, len(segments), 2)]
    key, gtin = pairs[0]
    if key != "01":
        raise InvalidDigitalLink("this resolver answers GTIN Digital Links: /01/{GTIN-14}")
    if not (gtin.isdigit() and len(gtin) == 14):
        raise InvalidDigitalLink(
            f"the GTIN must be written with 14 digits in a Digital Link URI (GS1 Digital "
            f"Link URI Syntax 1.4+), got {len(gtin)} characters: {gtin!r}")
    check_element("01", gtin, "path /01/")
    values = {"01": gtin}
    allowed = [list(p) for p in QUALIFIER_PATHS["01"]]
    order = " or ".join("/" + "/".join(p) for p in QUALIFIER_PATHS["01"])
    for ai, value in pairs[1:]:
        if ai in values:
            raise InvalidDigitalLink(f"path: ({ai}) is given twice")
        fits = [p for p in allowed if ai in p]
        if not fits:
            if any(ai in p for p in QUALIFIER_PATHS["01"]):
                reason = "is out of order"
            elif known_ai(ai):
                reason = "is not a key qualifier of a GTIN"
            else:
                reason = "is not a GS1 Application Identifier"
            raise InvalidDigitalLink(
                f"path: ({ai}) {reason}; a GTIN's qualifiers are {order}, in that order")
        # Consume the chosen qualifier path up to and including this AI: order enforced.
        allowed = [p[p.index(ai) + 1:] for p in fits]
        check_element(ai, value, f"path /{ai}/")
        values[ai] = value
    attributes, params = _parse_query(raw_query, values)
    return DigitalLink(gtin=gtin, cpv=values.get("22"), lot=values.get("10"),
                       serial=values.get("21"), tpx=values.get("235"),
                       attributes=tuple(attributes), query=raw_query, params=params)


def _parse_query(raw_query: str, seen: dict[str, str]):
    path_only = set(PRIMARY_KEYS)
    for qualifier_path in QUALIFIER_PATHS["01"]:
        path_only.update(qualifier_path)
    attributes: list[tuple[str, str]] = []
    params: dict[str, str] = {}
    seen = dict(seen)
    for part in raw_query.split("&") if raw_query else []:
        if part == "":
            continue  # "a=1&&b=2": an empty pair carries nothing
        raw_key, _, raw_value = part.partition("=")
        if not raw_key.isdigit():
            # Not an AI: the resolver's own parameters and the target's; never refused.
            try:
                params.setdefault(_decode(raw_key, "query"), _decode(raw_value, "query"))
            except InvalidDigitalLink:
                params.setdefault(raw_key, raw_value)
            continue
        # '+' is a character of GS1's set 82, not a space: RFC 3986 decoding, not forms'.
        key, value = raw_key, _decode(raw_value, f"query {raw_key}=")
        if key in seen:
            raise InvalidDigitalLink(f"query: ({key}) is given twice")
        if key in path_only:
            raise InvalidDigitalLink(
                f"query: ({key}) is a primary key or key qualifier; it belongs in the "
                "path (/01/{gtin}/22/{cpv}/10/{lot}/21/{serial}), not the query string")
        check_element(key, value, f"query {key}=")
        seen[key] = value
        attributes.append((key, value))
    return attributes, params


def uncompressed_parts(segment: str) -> tuple[str, str]:
    """The path and query of the Digital Link a compressed path segment stands for.

    A segment that does not even start like a compressed Digital Link (a primary key or an
    optimisation code in its first byte) is some other page: 404. One that does but does
    not decode is a malformed compressed Digital Link: 400 with the reason."""
    try:
        elements, others = decompress(segment)
    except CompressionError as exc:
        if _starts_like_compressed(segment):
            raise InvalidDigitalLink(
                f"not a valid compressed GS1 Digital Link URI: {exc}") from None
        raise NotFound("no page here", code="not_found") from None
    if "01" not in elements:
        keys = ", ".join(f"({ai})" for ai in elements if ai in PRIMARY_KEYS) or "no key"
        raise NotFound(f"this resolver answers GTIN Digital Links; this one names {keys}",
                       code="unsupported_primary_key")
    return _uncompressed(elements, others)


def partially_compressed(raw_path: str) -> tuple[str, str] | None:
    """``/01/{gtin}/{compressed qualifiers and attributes}`` (the standard's partially
    compressed form) to the uncompressed path and query; None when it is not that form
    (the strict parser then says what is wrong with the path)."""
    try:
        segments = split_path(raw_path)
    except InvalidDigitalLink:
        return None  # the strict parser will say so
    if len(segments) != 3 or segments[0] != "01":
        return None
    try:
        elements, others = decompress(segments[2])
    except CompressionError:
        return None
    if "01" in elements:
        raise InvalidDigitalLink("path: (01) is given twice (compressed and uncompressed)")
    return _uncompressed({"01": _decode(segments[1], "path /01/"), **elements}, others)


def _uncompressed(elements: dict[str, str], others: dict[str, str]) -> tuple[str, str]:
    elements = dict(elements)
    path = "/01/" + quote(elements.pop("01"), safe="")
    for ai in ("22", "10", "21", "235"):
        if ai in elements:
            path += f"/{ai}/{quote(elements.pop(ai), safe='')}"
    pairs = [*elements.items(), *others.items()]
    return path, "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


def _starts_like_compressed(segment: str) -> bool:
    if len(segment) < 2 or not all(c in ALPHABET for c in segment[:2]):
        return False
    head = ALPHABET.index(segment[0]) << 2 | ALPHABET.index(segment[1]) >> 4
    code = f"{head:02X}"
    if code in OPTIMISATIONS:
        return True
    return code.isdigit() and any(key.startswith(code) for key in PRIMARY_KEYS)
