"""Stamp URIs: GS1 Digital Link ``{base}/01/{GTIN-14}[/10/{lot}]/21/{serial}[?17=YYMMDD]``.

Building is plain string work (it runs once per code in bulk downloads); parsing goes
through biip so that check digits, character sets and qualifier order are checked the
way any GS1 Digital Link parser checks them.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from biip import ParseError
from biip.gs1_digital_link_uris import GS1DigitalLinkURI

from ..errors import InvalidInput

MAX_URI_LENGTH = 2048
# Characters QR alphanumeric mode can encode: a URI made only of these prints smaller.
QR_ALPHANUMERIC = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
_PLACEHOLDER_HOST = "https://stamp.invalid"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class StampRef:
    gtin: str  # GTIN-14
    serial: str
    lot: str | None = None
    expiry: dt.date | None = None


def stamp_uri(base_url: str, gtin14: str, serial: str, lot: str | None = None,
              expiry: dt.date | None = None) -> str:
    uri = f"{base_url.rstrip('/')}/01/{gtin14}"
    if lot:
        uri += "/10/" + quote(lot, safe="")
    uri += "/21/" + quote(serial, safe="")
    if expiry is not None:
        uri += f"?17={expiry:%y%m%d}"
    return uri


def qr_text(uri: str) -> str:
    """The text to put in a QR code: scheme and host upper-cased (both are case-insensitive)
    so that a URI with an upper-case path can be encoded in QR alphanumeric mode."""
    match = _SCHEME.match(uri)
    if not match:
        return uri
    rest = uri[match.end():]
    host, slash, path = rest.partition("/")
    return match.group(0).upper() + host.upper() + slash + path


def _invalid(message: str) -> InvalidInput:
    return InvalidInput(message, code="invalid_digital_link")


def parse_stamp_uri(uri_or_path: str) -> StampRef:
    """Parse a stamp URI (any host, any case of scheme and host, trailing slash tolerated)
    or just its path; raise ``InvalidInput`` (code ``invalid_digital_link``) otherwise."""
    if not isinstance(uri_or_path, str):
        raise _invalid("a stamp must be given as a GS1 Digital Link URI")
    text = uri_or_path.strip()
    if not text or len(text) > MAX_URI_LENGTH:
        raise _invalid("a stamp must be a GS1 Digital Link URI of at most "
                       f"{MAX_URI_LENGTH} characters")
    if not _SCHEME.match(text):
        if not text.startswith("/"):
            text = "/" + text
        text = _PLACEHOLDER_HOST + text
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https"):
        raise _invalid("a stamp URI must use http or https")
    path = parts.path.rstrip("/")
    uri = f"{parts.scheme.lower()}://{parts.netloc.lower() or 'stamp.invalid'}{path}"
    if parts.query:
        uri += "?" + parts.query
    try:
        parsed = GS1DigitalLinkURI.parse(uri)
    except ParseError as exc:
        raise _invalid(f"not a valid GS1 Digital Link URI: {exc}") from None
    values: dict[str, object] = {}
    for element in parsed.element_strings:
        if element.ai.ai == "01" and element.gtin_error:
            raise _invalid(f"not a valid GS1 Digital Link URI: {element.gtin_error}")
        values[element.ai.ai] = element
    gtin = values.get("01")
    serial = values.get("21")
    if gtin is None:
        raise _invalid("a stamp URI must carry a GTIN (/01/...)")
    if serial is None:
        raise _invalid("a stamp URI must carry a serial (/21/...)")
    lot = values.get("10")
    expiry = values.get("17")
    return StampRef(
        gtin=gtin.gtin.as_gtin_14() if gtin.gtin else gtin.value.zfill(14),
        serial=serial.value,
        lot=lot.value if lot is not None else None,
        expiry=expiry.date if expiry is not None else None,
    )
