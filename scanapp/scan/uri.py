"""A scanned code to the stamp it names: the same strict Digital Link rules as the resolver.

Nearly every scan is a URI scanapp printed itself: ``{base}/01/{14 digits}[/10/{lot}]/21/
{serial}``. That one form, with its GTIN check digit right and only letters and digits in
lot and serial, is read with a regular expression (it cannot be invalid in any other way);
anything else goes through ``digital_link.parse``, the resolver's complete syntax check, so
a code the resolver would answer 400 is refused here too (422 ``invalid_digital_link``)
with the same reason. Cost per parse: ``python -m loadtests.uri_parse`` (docs/SCAN.md).
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from urllib.parse import urlsplit

from biip.gs1_element_strings import GS1ElementString

from ..errors import InvalidInput
from ..gs1 import has_valid_check_digit
from ..serials.stamps import StampRef
from .digital_link import MAX_URI, InvalidDigitalLink, parse

_CANONICAL = re.compile(
    r"(?:[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?)?"
    r"/01/([0-9]{14})(?:/10/([0-9A-Za-z]{1,20}))?/21/([0-9A-Za-z]{1,20})/?")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

def _invalid(message: str) -> InvalidInput:
    return InvalidInput(message, code="invalid_digital_link")


def parse_scanned(code: str) -> StampRef:
    """The stamp a scanned code names; ``InvalidInput`` (invalid_digital_link) otherwise."""
    if isinstance(code, str):
        match = _CANONICAL.fullmatch(code.strip())
        if match is not None and has_valid_check_digit(match.group(1)):
            return StampRef(gtin=match.group(1), serial=match.group(3), lot=match.group(2))
    return parse_scanned_strictly(code)


def parse_scanned_strictly(code: str) -> StampRef:
    """The general path: a full URI (any host, http or https) or just its path."""
    if not isinstance(code, str):
        raise _invalid("a stamp must be given as a GS1 Digital Link URI")
    text = code.strip()
    if not text or len(text) > MAX_URI:
        raise _invalid(f"a stamp must be a GS1 Digital Link URI of at most {MAX_URI} "
                       "characters")
    if not _SCHEME.match(text):
        text = "https://stamp.invalid" + ("" if text.startswith("/") else "/") + text
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https"):
        raise _invalid("a stamp URI must use http or https")
    try:
        item = parse(parts.path, parts.query)
    except InvalidDigitalLink as exc:
        raise _invalid(f"not a valid GS1 Digital Link URI: {exc.message}") from None
    if item.serial is None:
        raise _invalid("a stamp URI must carry a serial (/21/...)")
    expiry = dict(item.attributes).get("17")
    return StampRef(gtin=item.gtin, serial=item.serial, lot=item.lot,
                    expiry=_yymmdd(expiry) if expiry else None)


@lru_cache(maxsize=4096)
def _yymmdd(value: str) -> dt.date | None:
    """AI 17 as a date, by biip (GS1's century and day-00 rules); already validated."""
    return GS1ElementString.parse("17" + value).date
