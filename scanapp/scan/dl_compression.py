"""GS1 Digital Link compression (GS1 Digital Link: Compression), both directions.

A compressed Digital Link is ``https://{host}/{one URI-safe base64 segment}``: a bit string
of the element strings. Per element: the AI as 4-bit digits (or, instead of several AIs, a
two-hex-digit code of the standard's optimisation table, e.g. ``0B`` = 01 then 10), then
its value component by component:

- numeric, fixed length L: the number in ceil(L*log2(10)) bits;
- numeric, variable (max M): the digit count in ceil(log2(M)) bits, then the number;
- alphanumeric: a 3-bit encoding (0 digits, 1 lower-case hex, 2 upper-case hex, 3 URI-safe
  base64, 4 seven-bit ASCII), for variable length the character count, then the characters.

A ``F`` nibble instead of an AI starts a non-GS1 key=value pair (7-bit key length, key in
base64 characters, then the value like a variable alphanumeric with a 7-bit length).

The AI lengths and value formats come from biip's AI table (the GS1 General
Specifications), so they stay in step with the AI table the syntax check uses. Written
from the standard; tests compare it with URIs made by GS1's reference implementation
(tests/scan/data/dl_compression_vectors.json).

Two places where this implementation and GS1's reference implementation differ, both on
inputs scanapp never prints: a digits-only alphanumeric value (a lot "0042") or a variable
numeric value with leading zeros is decoded here with its leading zeros (its length is in
the bits); AI 235 is one alphanumeric component here (X..28), as in the General
Specifications.
"""

from __future__ import annotations

import math
import re
from functools import cache

from biip import ParseError
from biip.gs1_application_identifiers import GS1ApplicationIdentifier

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_INDEX = {ch: i for i, ch in enumerate(ALPHABET)}
_SAFE64 = re.compile(r"[A-Za-z0-9_-]+")
_HEX_LOWER = re.compile(r"[0-9a-f]+")
_HEX_UPPER = re.compile(r"[0-9A-F]+")
HEX = "0123456789ABCDEF"

# The optimisation table of GS1 Digital Link: Compression: a two-hex-digit code that is not
# a pair of decimal digits stands for a sequence of AIs. Order matters: among equally good
# candidates the first listed is chosen, as the standard's reference encoder does.
OPTIMISATIONS: dict[str, tuple[str, ...]] = {
    "0A": ("01", "22"), "0B": ("01", "10"), "0C": ("01", "21"), "0D": ("01", "17"),
    "0E": ("01", "7003"), "0F": ("01", "30"), "1A": ("01", "10", "21", "17"),
    "1B": ("01", "15"), "1C": ("01", "11"), "1D": ("01", "16"), "1E": ("01", "91"),
    "1F": ("01", "10", "15"),
    **{f"2{'ABCDEF'[i]}": ("01", f"310{i}") for i in range(6)},
    **{f"3{'ABCDEF'[i]}": ("01", f"320{i}") for i in range(6)},
    "9A": ("8010", "8011"), "9B": ("8017", "8019"), "9C": ("8018", "8019"),
    "9D": ("414", "254"),
    **{f"A{i}": ("01", f"392{i}") for i in range(10)},
    **{f"C{i}": ("255", f"390{i}") for i in range(10)},
    **{f"C{'ABCD'[i]}": ("255", f"394{i}") for i in range(4)},
}


class CompressionError(ValueError):
    """Not a compressed GS1 Digital Link (or one this table cannot read)."""


def _length_bits(max_length: int) -> int:
    return math.ceil(math.log2(max_length) + 0.01)


def _value_bits(digits: int) -> int:
    return math.ceil(digits * math.log2(10) + 0.01)


@cache
def _ai_length(prefix: str) -> int | None:
    """AI length from its first two digits (GS1 assigns lengths per two-digit prefix)."""
    for length in (2, 3, 4):
        for tail in ([""] if length == 2 else (f"{n:0{length - 2}d}"
                                                for n in range(10 ** (length - 2)))):
            try:
                if GS1ApplicationIdentifier.extract(prefix + tail).ai == prefix + tail:
                    return length
            except ParseError:
                continue
    return None


@cache
def components(ai: str) -> tuple[tuple[str, bool, int], ...]:
    """(kind 'N' or 'X', fixed?, length) per value component, from the AI's GS1 format."""
    try:
        spec = GS1ApplicationIdentifier.extract(ai)
    except ParseError:
        raise CompressionError(f"({ai}) is not a GS1 Application Identifier") from None
    if spec.ai != ai:
        raise CompressionError(f"({ai}) is not a GS1 Application Identifier")
    out = []
    for part in spec.format.split("+")[1:]:
        optional = part.startswith("[")
        part = part.strip("[]")
        match = re.fullmatch(r"([NXYZ])(\.\.)?(\d+)", part)
        if match is None:
            if part == "-":  # a one-character optional flag (e.g. AI 4330)
                out.append(("X", False, 1))
            continue
        kind = "N" if match.group(1) == "N" else "X"
        fixed = not (match.group(2) or optional)
        out.append((kind, fixed, int(match.group(3))))
    return tuple(out)


def _encoding(text: str) -> int:
    if text.isdigit() and text.isascii():
        return 0
    if _HEX_UPPER.fullmatch(text):
        return 2
    if _HEX_LOWER.fullmatch(text):
        return 1
    if _SAFE64.fullmatch(text):
        return 3
    return 4


def _chars(text: str, encoding: int) -> str:
    if encoding == 0:
        return format(int(text), "b").zfill(_value_bits(len(text))) if text else ""
    if encoding in (1, 2):
        return "".join(format(HEX.index(c.upper()), "04b") for c in text)
    if encoding == 3:
        return "".join(format(_INDEX[c], "06b") for c in text)
    if any(ord(c) > 127 for c in text):
        raise CompressionError("only 7-bit ASCII values can be compressed")
    return "".join(format(ord(c), "07b") for c in text)


def _alnum(text: str, length_bits: str) -> str:
    encoding = _encoding(text)
    return format(encoding, "03b") + length_bits + _chars(text, encoding)


def _value(ai: str, value: str) -> str:
    bits, cursor = "", 0
    for kind, fixed, length in components(ai):
        chunk = value[cursor:cursor + length] if fixed else value[cursor:]
        cursor += len(chunk)
        if kind == "N" and fixed:
            bits += format(int(chunk), "b").zfill(_value_bits(length))
        elif kind == "N":
            count = format(len(chunk), "b").zfill(_length_bits(length))
            bits += count + (format(int(chunk), "b").zfill(_value_bits(len(chunk)))
                             if chunk else "")
        elif fixed:
            bits += _alnum(chunk, "")
        else:
            bits += _alnum(chunk, format(len(chunk), "b").zfill(_length_bits(length)))
    return bits


def _nibbles(code: str) -> str:
    return "".join(format(int(c, 16), "04b") for c in code)


def compress(elements: dict[str, str], others: dict[str, str] | None = None,
             optimise: bool = True) -> str:
    """Element strings (AI -> value) to the compressed path segment (no slash)."""
    keys = sorted(elements)
    chosen = []
    while optimise:
        best, best_size = None, 0
        for code, sequence in OPTIMISATIONS.items():
            size = len("".join(sequence))
            if all(ai in keys for ai in sequence) and size > best_size:
                best, best_size = code, size
        if best is None:
            break
        chosen.append(best)
        keys = [ai for ai in keys if ai not in OPTIMISATIONS[best]]
    bits = ""
    for code in chosen:
        bits += _nibbles(code) + "".join(_value(ai, elements[ai])
                                         for ai in OPTIMISATIONS[code])
    for ai in keys:
        bits += _nibbles(ai) + _value(ai, elements[ai])
    for key, value in (others or {}).items():
        if not _SAFE64.fullmatch(key) or len(key) > 127 or len(value) > 127:
            raise CompressionError(f"the parameter {key!r} cannot be compressed")
        bits += "1111" + format(len(key), "07b") + "".join(format(_INDEX[c], "06b")
                                                          for c in key)
        bits += _alnum(value, format(len(value), "07b"))
    bits += "0" * (-len(bits) % 6)
    return "".join(ALPHABET[int(bits[i:i + 6], 2)] for i in range(0, len(bits), 6))


class _Reader:
    def __init__(self, bits: str):
        self.bits, self.pos = bits, 0

    def take(self, n: int) -> str:
        if self.pos + n > len(self.bits):
            raise CompressionError("the compressed value ends early")
        chunk = self.bits[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def number(self, n: int) -> int:
        return int(self.take(n), 2) if n else 0

    def chars(self, encoding: int, count: int) -> str:
        if encoding == 0:
            return str(self.number(_value_bits(count))).zfill(count) if count else ""
        if encoding in (1, 2):
            text = "".join(HEX[self.number(4)] for _ in range(count))
            return text.lower() if encoding == 1 else text
        if encoding == 3:
            return "".join(ALPHABET[self.number(6)] for _ in range(count))
        if encoding == 4:
            return "".join(chr(self.number(7)) for _ in range(count))
        raise CompressionError(f"unknown character encoding {encoding}")


def _read_value(reader: _Reader, ai: str) -> str:
    text = ""
    for kind, fixed, length in components(ai):
        if kind == "N" and fixed:
            text += str(reader.number(_value_bits(length))).zfill(length)
        elif kind == "N":
            count = reader.number(_length_bits(length))
            text += str(reader.number(_value_bits(count))).zfill(count) if count else ""
        else:
            encoding = reader.number(3)
            count = length if fixed else reader.number(_length_bits(length))
            text += reader.chars(encoding, count)
    return text


def decompress(segment: str) -> tuple[dict[str, str], dict[str, str]]:
    """The compressed path segment to (AI -> value in the order read, other pairs)."""
    if not _SAFE64.fullmatch(segment or ""):
        raise CompressionError("not a URI-safe base64 string")
    reader = _Reader("".join(format(_INDEX[c], "06b") for c in segment))
    elements: dict[str, str] = {}
    others: dict[str, str] = {}
    while len(reader.bits) - reader.pos > 8:
        head = HEX[reader.number(4)] + HEX[reader.number(4)]
        if head.isdigit():
            length = _ai_length(head)
            if length is None:
                raise CompressionError(f"no GS1 Application Identifier starts with {head}")
            ai = head
            for _ in range(length - 2):
                digit = reader.number(4)
                if digit > 9:
                    raise CompressionError(f"an AI starting {ai} is not all digits")
                ai += str(digit)
            sequence: tuple[str, ...] = (ai,)
        elif head in OPTIMISATIONS:
            sequence = OPTIMISATIONS[head]
        elif head[0] == "F":
            reader.pos -= 4
            key_length = reader.number(7)
            key = "".join(ALPHABET[reader.number(6)] for _ in range(key_length))
            encoding = reader.number(3)
            others[key] = reader.chars(encoding, reader.number(7))
            continue
        else:
            raise CompressionError(f"no optimisation is defined for the code {head}")
        for ai in sequence:
            if ai in elements:
                raise CompressionError(f"({ai}) is given twice")
            elements[ai] = _read_value(reader, ai)
    if not elements:
        raise CompressionError("no element strings in the compressed value")
    return elements, others
