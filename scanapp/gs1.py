"""GS1 identifiers, parsed with biip rather than by hand."""

from __future__ import annotations

from biip import ParseError
from biip.gtin import Gtin

from .errors import InvalidInput


def normalize_gtin(value: str) -> str:
    """Validate a GTIN-8/12/13/14 (check digit included) and return it as GTIN-14."""
    text = (value or "").strip()
    if not text.isdigit() or len(text) not in (8, 12, 13, 14):
        raise InvalidInput(f"GTIN {value!r} must be 8, 12, 13 or 14 digits", code="invalid_gtin")
    try:
        return Gtin.parse(text).as_gtin_14()
    except ParseError as exc:
        raise InvalidInput(f"GTIN {value!r} is not valid: {exc}", code="invalid_gtin") from None
