"""GS1 identifiers in EPCIS: Digital Link URIs and EPC URNs, parsed and normalised both ways.

The canonical form, used for storage, the identifier index and every comparison, is the GS1
Digital Link URI on ``https://id.gs1.org`` (what CBV 2.0 calls the canonical GS1 Digital Link
URI), whatever domain or URN form a document used:

==========  ========================================  ==========================================
kind        canonical Digital Link                    EPC URN accepted
==========  ========================================  ==========================================
sgtin       https://id.gs1.org/01/{gtin14}/21/{ser}   urn:epc:id:sgtin:{gcp}.{ind+item}.{ser}
lgtin       https://id.gs1.org/01/{gtin14}/10/{lot}   urn:epc:class:lgtin:{gcp}.{ind+item}.{lot}
gtin        https://id.gs1.org/01/{gtin14}            urn:epc:idpat:sgtin:{gcp}.{ind+item}.*
sgln        https://id.gs1.org/414/{gln}[/254/{ext}]  urn:epc:id:sgln:{gcp}.{loc}.{ext|0}
pgln        https://id.gs1.org/417/{gln}              urn:epc:id:pgln:{gcp}.{party}
sscc        https://id.gs1.org/00/{sscc18}            urn:epc:id:sscc:{gcp}.{ext+serialref}
==========  ========================================  ==========================================

A Digital Link item may carry its lot (``/01/{gtin}/10/{lot}/21/{serial}``, as scanapp's own
stamps do). The lot is not part of an SGTIN's key, so the canonical item URI drops it, and
``GS1Id.lot_class`` names the lot the item belongs to. Anything else (``urn:uuid:...``, a
company's own URIs, other EPC schemes) is not a GS1 key handled here: ``canonical`` returns it
unchanged, trimmed, so that it can still be stored and matched exactly.

Turning a Digital Link back into a URN needs the length of the GS1 company prefix, which a
Digital Link does not carry; ``to_urn`` takes it as an argument.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from ..gs1 import check_digit

CANONICAL_HOST = "https://id.gs1.org"

# GS1 AI 82 character set (lots, serials, GLN extensions), at most 20 characters.
_AI82 = re.compile(r"""^[!"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}$""")


class InvalidIdentifier(ValueError):
    """A value that claims to be a GS1 key (by its URN scheme or Digital Link path) but is not
    a valid one: wrong length, bad check digit, characters outside GS1's set."""

def _valid_key(digits: str, length: int, what: str) -> str:
    if not digits.isdigit() or len(digits) != length:
        raise InvalidIdentifier(f"{what} {digits!r} must be {length} digits")
    if check_digit(digits[:-1]) != digits[-1]:
        raise InvalidIdentifier(f"{what} {digits!r} has a wrong check digit")
    return digits


def _gtin14(digits: str) -> str:
    if not digits.isdigit() or len(digits) not in (8, 12, 13, 14):
        raise InvalidIdentifier(f"GTIN {digits!r} must be 8, 12, 13 or 14 digits")
    return _valid_key(digits.zfill(14), 14, "GTIN")


def _ai82(value: str, what: str) -> str:
    if not _AI82.match(value):
        raise InvalidIdentifier(f"{what} {value!r} must be 1 to 20 characters of GS1's "
                                "character set (letters, digits and !\"%&'()*+,-./:;<=>?_)")
    return value


def _enc(value: str) -> str:
    # One encoding for every canonical URI: everything but RFC 3986 unreserved characters
    # is percent-encoded, so two spellings of the same lot always compare equal.
    return quote(value, safe="-._~")


@dataclass(frozen=True)
class GS1Id:
    """One parsed GS1 identifier; ``uri`` is its canonical Digital Link."""

    kind: str  # sgtin, lgtin, gtin, sgln, pgln, sscc
    gtin: str | None = None
    serial: str | None = None
    lot: str | None = None
    gln: str | None = None
    extension: str | None = None
    sscc: str | None = None

    @functools.cached_property
    def uri(self) -> str:  # parsed ids are cached, so each one's URI is built once
        if self.kind == "sgtin":
            return f"{CANONICAL_HOST}/01/{self.gtin}/21/{_enc(self.serial or '')}"
        if self.kind == "lgtin":
            return f"{CANONICAL_HOST}/01/{self.gtin}/10/{_enc(self.lot or '')}"
        if self.kind == "gtin":
            return f"{CANONICAL_HOST}/01/{self.gtin}"
        if self.kind == "sgln":
            ext = f"/254/{_enc(self.extension)}" if self.extension else ""
            return f"{CANONICAL_HOST}/414/{self.gln}{ext}"
        if self.kind == "pgln":
            return f"{CANONICAL_HOST}/417/{self.gln}"
        return f"{CANONICAL_HOST}/00/{self.sscc}"

    @property
    def lot_class(self) -> str | None:
        """The LGTIN (class) URI of an item whose lot is known, or of a lot itself."""
        if self.gtin and self.lot is not None:
            return f"{CANONICAL_HOST}/01/{self.gtin}/10/{_enc(self.lot)}"
        return None

    @property
    def product_class(self) -> str | None:
        """The GTIN-level class URI (``/01/{gtin14}``) of an item or lot."""
        return f"{CANONICAL_HOST}/01/{self.gtin}" if self.gtin else None


# -- parsing -----------------------------------------------------------------------------------

_URN = re.compile(r"^urn:epc:(id|class|idpat):([a-z]+):(.+)$", re.IGNORECASE)


def _urn_parts(body: str, count: int, scheme: str) -> list[str]:
    parts = body.split(".", count - 1)
    if len(parts) != count:
        raise InvalidIdentifier(f"urn:epc {scheme} needs {count} dot-separated parts")
    return parts


def _gtin_from_urn(gcp: str, ind_item: str, scheme: str) -> str:
    if not (gcp.isdigit() and ind_item.isdigit()) or len(gcp) + len(ind_item) != 13 \
            or not 6 <= len(gcp) <= 12:
        raise InvalidIdentifier(f"{scheme}: company prefix and indicator + item reference "
                                "must be 13 digits together (prefix 6 to 12)")
    body = ind_item[0] + gcp + ind_item[1:]
    return body + check_digit(body)


def _gln_from_urn(gcp: str, ref: str, scheme: str) -> str:
    if not (gcp.isdigit() and (ref.isdigit() or ref == "")) or len(gcp) + len(ref) != 12 \
            or not 6 <= len(gcp) <= 12:
        raise InvalidIdentifier(f"{scheme}: company prefix and reference must be 12 digits "
                                "together (prefix 6 to 12)")
    body = gcp + ref
    return body + check_digit(body)


def _parse_urn(value: str) -> GS1Id | None:
    match = _URN.match(value)
    if not match:
        return None
    family, scheme, body = match.group(1).lower(), match.group(2).lower(), match.group(3)
    if family == "id" and scheme == "sgtin":
        gcp, ind_item, serial = _urn_parts(body, 3, scheme)
        return GS1Id("sgtin", gtin=_gtin_from_urn(gcp, ind_item, scheme),
                     serial=_ai82(unquote(serial), "serial"))
    if family == "class" and scheme == "lgtin":
        gcp, ind_item, lot = _urn_parts(body, 3, scheme)
        return GS1Id("lgtin", gtin=_gtin_from_urn(gcp, ind_item, scheme),
                     lot=_ai82(unquote(lot), "lot"))
    if family == "idpat" and scheme == "sgtin":
        gcp, ind_item, rest = _urn_parts(body, 3, scheme)
        if rest != "*":
            raise InvalidIdentifier("urn:epc:idpat:sgtin patterns are supported for a whole "
                                    "GTIN only (serial part '*')")
        return GS1Id("gtin", gtin=_gtin_from_urn(gcp, ind_item, scheme))
    if family == "id" and scheme == "sgln":
        gcp, ref, ext = _urn_parts(body, 3, scheme)
        ext = unquote(ext)
        return GS1Id("sgln", gln=_gln_from_urn(gcp, ref, scheme),
                     extension=None if ext == "0" else _ai82(ext, "GLN extension"))
    if family == "id" and scheme == "pgln":
        gcp, ref = _urn_parts(body, 2, scheme)
        return GS1Id("pgln", gln=_gln_from_urn(gcp, ref, scheme))
    if family == "id" and scheme == "sscc":
        gcp, rest = _urn_parts(body, 2, scheme)
        if not (gcp.isdigit() and rest.isdigit()) or len(gcp) + len(rest) != 17:
            raise InvalidIdentifier("sscc: company prefix and extension + serial reference "
                                    "must be 17 digits together")
        digits = rest[0] + gcp + rest[1:]
        return GS1Id("sscc", sscc=digits + check_digit(digits))
    return None  # another EPC scheme (grai, giai, ...): kept as it is


# Primary keys this module understands, and the qualifiers each may carry (in path order).
_DL_KEYS = {"01", "414", "417", "00"}


def _parse_dl(value: str) -> GS1Id | None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    segments = [s for s in parts.path.split("/") if s != ""]
    # A resolver may live under a path prefix (https://example.com/dl/01/...): the key is
    # the first segment that names a primary key and is followed by a value.
    start = next((i for i, s in enumerate(segments)
                  if s in _DL_KEYS and i + 1 < len(segments)), None)
    if start is None:
        return None
    pairs = segments[start:]
    if len(pairs) % 2:
        raise InvalidIdentifier(f"{value!r}: a Digital Link path is pairs of AI/value")
    ais: dict[str, str] = {}
    for i in range(0, len(pairs), 2):
        ai, raw = pairs[i], unquote(pairs[i + 1])
        if ai in ais:
            raise InvalidIdentifier(f"{value!r}: AI {ai} appears twice")
        ais[ai] = raw
    key = pairs[0]
    allowed = {"01": {"01", "22", "10", "21"}, "414": {"414", "254"}, "417": {"417"},
               "00": {"00"}}[key]
    extra = set(ais) - allowed
    if extra:
        raise InvalidIdentifier(f"{value!r}: AI {sorted(extra)[0]} is not a qualifier of "
                                f"AI {key}")
    if key == "01":
        gtin = _gtin14(ais["01"])
        lot = _ai82(ais["10"], "lot") if "10" in ais else None
        if "21" in ais:
            return GS1Id("sgtin", gtin=gtin, serial=_ai82(ais["21"], "serial"), lot=lot)
        if lot is not None:
            return GS1Id("lgtin", gtin=gtin, lot=lot)
        return GS1Id("gtin", gtin=gtin)
    if key == "414":
        ext = _ai82(ais["254"], "GLN extension") if "254" in ais else None
        return GS1Id("sgln", gln=_valid_key(ais["414"], 13, "GLN"), extension=ext)
    if key == "417":
        return GS1Id("pgln", gln=_valid_key(ais["417"], 13, "GLN"))
    return GS1Id("sscc", sscc=_valid_key(ais["00"], 18, "SSCC"))


def parse(value: str) -> GS1Id | None:
    """The GS1 key in ``value`` (URN or Digital Link), or None for a non-GS1 identifier.

    Raises ``InvalidIdentifier`` for a value in a GS1 form that is not valid."""
    return _parse_cached(value or "")


# A document names the same lots, places and parties over and over, and capture parses each
# identifier twice (index and event hash): results are immutable, so they are remembered.
@functools.lru_cache(maxsize=65_536)
def _parse_cached(value: str) -> GS1Id | None:
    text = value.strip()
    if text[:8].lower() == "urn:epc:":
        return _parse_urn(text)
    if text.startswith(("http://", "https://")):
        return _parse_dl(text)
    return None


def canonical(value: str) -> str:
    """The canonical Digital Link of a GS1 key, or ``value`` trimmed when it is none.

    Raises ``InvalidIdentifier`` like ``parse``."""
    found = parse(value)
    return found.uri if found is not None else (value or "").strip()


def canonical_or_none(value: str) -> str | None:
    """Like ``canonical``, but None instead of an exception for an invalid GS1 key."""
    try:
        return canonical(value)
    except InvalidIdentifier:
        return None


def gtin_of(value: str) -> str | None:
    """The GTIN-14 an item, lot or product identifier names (None otherwise or if invalid)."""
    try:
        found = parse(value)
    except InvalidIdentifier:
        return None
    return found.gtin if found is not None else None


# -- back to URNs ----------------------------------------------------------------------------


def _urn_escape(value: str) -> str:
    # EPC URNs percent-encode these characters of the AI 82 set (TDS 3.x, table A-1).
    return "".join(f"%{ord(c):02X}" if c in '"%&/<>?' else c for c in value)


def to_urn(value: str | GS1Id, company_prefix_length: int) -> str:
    """The EPC URN of a GS1 key, given the length of its GS1 company prefix (6 to 12)."""
    found = parse(value) if isinstance(value, str) else value
    if found is None:
        raise InvalidIdentifier(f"{value!r} is not a GS1 key this module converts")
    n = company_prefix_length
    if not 6 <= n <= 12:
        raise InvalidIdentifier("a GS1 company prefix has 6 to 12 digits")
    if found.gtin:
        gcp, ind_item = found.gtin[1:1 + n], found.gtin[0] + found.gtin[1 + n:13]
        if found.kind == "sgtin":
            return f"urn:epc:id:sgtin:{gcp}.{ind_item}.{_urn_escape(found.serial or '')}"
        if found.kind == "lgtin":
            return f"urn:epc:class:lgtin:{gcp}.{ind_item}.{_urn_escape(found.lot or '')}"
        return f"urn:epc:idpat:sgtin:{gcp}.{ind_item}.*"
    if found.gln:
        gcp, ref = found.gln[:n], found.gln[n:12]
        if found.kind == "pgln":
            return f"urn:epc:id:pgln:{gcp}.{ref}"
        return f"urn:epc:id:sgln:{gcp}.{ref}.{_urn_escape(found.extension or '0')}"
    sscc = found.sscc or ""
    return f"urn:epc:id:sscc:{sscc[1:1 + n]}.{sscc[0]}{sscc[1 + n:17]}"
