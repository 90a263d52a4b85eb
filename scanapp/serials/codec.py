"""The serial codec: sign a sequence number into a 20-character serial and back.

Layout (Crockford base32, ``0123456789ABCDEFGHJKMNPQRSTVWXYZ``)::

    K SSSSSSSSSSS TTTTTTTT
    | |           +-- 40-bit tag: HMAC-SHA256 over key id, GTIN-14, lot and S, truncated
    | +-- 55 bits: S = keyed Feistel permutation of the global sequence number
    +-- signing key id (0..31)

The tag is what makes a serial unforgeable (a guess passes with probability 2^-40) and
binds it to its GTIN and lot; the permutation is what makes serials reveal nothing about
issue order, volume or printer. Verifying needs no database: keys are cached in process
and re-read at most once a second, so rotation and compromise reach every worker quickly.

All keyed work goes through ``SerialSigner``, the one place that touches itsdangerous:
keys are derived with its HMAC key derivation from ``SCANAPP_SERIAL_KEY`` and each key's
stored salt, and tags are its HMAC algorithm's output. ``RangeEncoder`` is the same maths
with per-range constants precomputed, for streaming millions of codes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from flask import Flask
from itsdangerous.signer import HMACAlgorithm, Signer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ..db import get_engine, session_scope, utcnow
from ..errors import InvalidInput, Unavailable

log = logging.getLogger(__name__)

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SERIAL_LENGTH = 20
SEQ_BITS = 55
MAX_SEQ = 1 << SEQ_BITS
MAX_KEYS = 32
_HI_BITS, _LO_BITS = 27, 28
_HI_MASK, _LO_MASK = (1 << _HI_BITS) - 1, (1 << _LO_BITS) - 1
ROUNDS = 4
KEY_REFRESH_SECONDS = 1.0
MISS_REFRESH_SECONDS = 0.2

_PACK4 = struct.Struct(">I").pack
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
# Two characters (10 bits) per lookup keeps the encode loop short.
_PAIRS = [a + b for a in ALPHABET for b in ALPHABET]


class InvalidSerial(InvalidInput):
    """A serial that is malformed, forged, or signed by an unknown or compromised key."""

    code = "invalid_serial"
    REASONS = ("bad_format", "bad_signature", "unknown_key", "compromised_key")

    def __init__(self, reason: str, message: str):
        super().__init__(message, code="invalid_serial", details={"reason": reason})
        self.reason = reason


def _b32_55(value: int) -> str:
    p = _PAIRS
    return (p[value >> 45] + p[(value >> 35) & 1023] + p[(value >> 25) & 1023]
            + p[(value >> 15) & 1023] + p[(value >> 5) & 1023] + ALPHABET[value & 31])


def _b32_40(value: int) -> str:
    p = _PAIRS
    return p[value >> 30] + p[(value >> 20) & 1023] + p[(value >> 10) & 1023] + p[value & 1023]


def _b32_decode(text: str) -> int:
    value = 0
    for ch in text:
        value = (value << 5) | _VALUE[ch]
    return value


def _lot_bytes(lot: str | None) -> bytes:
    raw = (lot or "").encode()
    return bytes([len(raw)]) + raw


class SerialSigner:
    """One signing key's derived material: the Feistel round keys and the tag key.

    The tag message is ``key id | GTIN-14 | len(lot) lot | S`` (fixed-width or
    length-prefixed fields, so no two (GTIN, lot, S) triples share a message).
    """

    def __init__(self, key_id: int, status: str, salt: str, master_key: str):
        self.key_id = key_id
        self.status = status
        self.char = ALPHABET[key_id]
        self._algorithm = HMACAlgorithm(hashlib.sha256)
        self.tag_key = self._derive(master_key, f"scanapp.serial.tag.{salt}")
        perm_key = self._derive(master_key, f"scanapp.serial.perm.{salt}")
        # Keyed BLAKE2b is a PRF in its own right and costs one compression per call.
        self._rounds = [hashlib.blake2b(key=perm_key, digest_size=8, person=b"round%d" % i)
                        for i in range(ROUNDS)]
        # HMAC's inner and outer states after the padded key block, for the fast path.
        block = self.tag_key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    @staticmethod
    def _derive(master_key: str, salt: str) -> bytes:
        return Signer(master_key, salt=salt, key_derivation="hmac",
                      digest_method=hashlib.sha256).derive_key()

    def _f(self, i: int, half: int) -> int:
        h = self._rounds[i].copy()
        h.update(_PACK4(half))
        return int.from_bytes(h.digest(), "big")

    def permute(self, seq: int) -> int:
        hi, lo = seq >> _LO_BITS, seq & _LO_MASK
        lo ^= self._f(0, hi) & _LO_MASK
        hi ^= self._f(1, lo) & _HI_MASK
        lo ^= self._f(2, hi) & _LO_MASK
        hi ^= self._f(3, lo) & _HI_MASK
        return (hi << _LO_BITS) | lo

    def unpermute(self, value: int) -> int:
        hi, lo = value >> _LO_BITS, value & _LO_MASK
        hi ^= self._f(3, lo) & _HI_MASK
        lo ^= self._f(2, hi) & _LO_MASK
        hi ^= self._f(1, lo) & _HI_MASK
        lo ^= self._f(0, hi) & _LO_MASK
        return (hi << _LO_BITS) | lo

    def tag_prefix(self, gtin14: str, lot: str | None) -> bytes:
        return bytes([self.key_id]) + gtin14.encode() + _lot_bytes(lot)

    def tag(self, gtin14: str, lot: str | None, permuted: int) -> str:
        """The reference computation, through itsdangerous' HMAC algorithm."""
        message = self.tag_prefix(gtin14, lot) + permuted.to_bytes(7, "big")
        digest = self._algorithm.get_signature(self.tag_key, message)
        return _b32_40(int.from_bytes(digest[:5], "big"))

    def sign(self, seq: int, gtin14: str, lot: str | None) -> str:
        permuted = self.permute(seq)
        return self.char + _b32_55(permuted) + self.tag(gtin14, lot, permuted)

    def range_encoder(self, gtin14: str, lot: str | None) -> RangeEncoder:
        return RangeEncoder(self, gtin14, lot)


class RangeEncoder:
    """Serials of one (key, GTIN, lot) in bulk: the same maths as ``SerialSigner.sign``
    with the constant parts hoisted out of the loop (tests check they agree).

    Round 0 of the permutation only depends on the high 27 bits of the sequence number,
    which stay the same across a range of up to 2^28 codes, so it is computed once.
    """

    def __init__(self, signer: SerialSigner, gtin14: str, lot: str | None):
        self.signer = signer
        self._inner = signer._inner.copy()
        self._inner.update(signer.tag_prefix(gtin14, lot))
        self._outer = signer._outer
        self._hi_cache: tuple[int, int] = (-1, 0)

    def serials(self, start: int, stop: int) -> Iterator[tuple[int, str]]:
        """``(seq, serial)`` for ``start <= seq < stop`` in order."""
        return zip(range(start, stop), self.serial_list(start, stop), strict=True)

    def serial_list(self, start: int, stop: int) -> list[str]:
        """The serials of ``start <= seq < stop`` in order: the download hot loop, so it
        is written flat (locals, no generator, no per-code tuples)."""
        signer = self.signer
        r1, r2, r3 = signer._rounds[1], signer._rounds[2], signer._rounds[3]
        inner, outer = self._inner, self._outer
        char = signer.char
        pairs, alphabet = _PAIRS, ALPHABET
        from_bytes, pack4 = int.from_bytes, _PACK4
        lo_mask, hi_mask = _LO_MASK, _HI_MASK
        cached_hi, round0 = self._hi_cache
        out: list[str] = []
        append = out.append
        for seq in range(start, stop):
            hi = seq >> 28
            if hi != cached_hi:
                cached_hi, round0 = hi, signer._f(0, hi) & lo_mask
            lo = (seq & lo_mask) ^ round0
            h = r1.copy()
            h.update(pack4(lo))
            hi ^= from_bytes(h.digest(), "big") & hi_mask
            h = r2.copy()
            h.update(pack4(hi))
            lo ^= from_bytes(h.digest(), "big") & lo_mask
            h = r3.copy()
            h.update(pack4(lo))
            hi ^= from_bytes(h.digest(), "big") & hi_mask
            permuted = (hi << 28) | lo
            h = inner.copy()
            h.update(permuted.to_bytes(7, "big"))
            o = outer.copy()
            o.update(h.digest())
            tag = from_bytes(o.digest()[:5], "big")
            append(char + pairs[permuted >> 45] + pairs[(permuted >> 35) & 1023]
                   + pairs[(permuted >> 25) & 1023] + pairs[(permuted >> 15) & 1023]
                   + pairs[(permuted >> 5) & 1023] + alphabet[permuted & 31]
                   + pairs[tag >> 30] + pairs[(tag >> 20) & 1023]
                   + pairs[(tag >> 10) & 1023] + pairs[tag & 1023])
        self._hi_cache = (cached_hi, round0)
        return out


@dataclass(frozen=True)
class KeyInfo:
    id: int
    status: str


class SerialCodec:
    """Encode and verify serials with the keys in ``signing_keys``.

    One per app (``services().codec``); thread-safe. Keys are re-read from the database at
    most every ``KEY_REFRESH_SECONDS`` and immediately after a local rotation; when the
    database is briefly unreachable the last known keys keep serving scans.
    """

    def __init__(self, app: Flask):
        self._app = app
        self._master = app.config["SERIAL_KEY"]
        self._lock = threading.Lock()
        self._signers: dict[int, SerialSigner] = {}
        self._salts: dict[int, str] = {}
        self._active: int | None = None
        self._loaded_at = -1e9

    # -- keys ---------------------------------------------------------------------------
    def invalidate(self) -> None:
        self._loaded_at = -1e9

    def _refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._loaded_at < KEY_REFRESH_SECONDS:
            return
        # With keys in hand, scans never queue behind a refresh another thread is doing.
        if not self._lock.acquire(blocking=force or not self._signers):
            return
        try:
            self._reload(now, force)
        finally:
            self._lock.release()

    def _reload(self, now: float, force: bool) -> None:
        if not force and now - self._loaded_at < KEY_REFRESH_SECONDS:
            return
        from .models import SigningKey

        try:
            with get_engine(self._app).connect() as conn:
                rows = conn.execute(select(SigningKey.id, SigningKey.status,
                                           SigningKey.salt)).all()
        except SQLAlchemyError as exc:
            if self._signers:
                log.warning("signing keys not refreshed (%s); using the cached ones",
                            type(exc).__name__)
                self._loaded_at = now
                return
            raise Unavailable("serial signing keys cannot be read right now",
                              code="keys_unavailable") from None
        signers = {}
        active = None
        for key_id, status, salt in rows:
            old = self._signers.get(key_id)
            if old is not None and self._salts.get(key_id) == salt:
                old.status = status
                signers[key_id] = old
            else:
                signers[key_id] = SerialSigner(key_id, status, salt, self._master)
            if status == "active":
                active = key_id
        self._salts = {key_id: salt for key_id, _status, salt in rows}
        self._signers, self._active, self._loaded_at = signers, active, now

    def keys(self) -> list[KeyInfo]:
        self._refresh()
        return [KeyInfo(s.key_id, s.status) for s in sorted(self._signers.values(),
                                                             key=lambda s: s.key_id)]

    def signer(self, key_id: int | None = None) -> SerialSigner:
        """The signer for ``key_id``, or the active one (created on first use)."""
        self._refresh()
        if key_id is None:
            if self._active is None:
                self._create_first_key()
            key_id = self._active
        signer = self._signers.get(key_id)
        if signer is None and time.monotonic() - self._loaded_at > MISS_REFRESH_SECONDS:
            self._refresh(force=True)
            signer = self._signers.get(key_id)
        if signer is None:
            raise InvalidSerial("unknown_key", f"no signing key {key_id}")
        return signer

    def active_key_id(self) -> int:
        return self.signer().key_id

    def _create_first_key(self) -> None:
        from .models import SigningKey

        with session_scope(self._app) as session:
            session.add(SigningKey(id=0, status="active", salt=secrets.token_hex(16),
                                   created_at=utcnow()))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()  # another worker created it first
        self._refresh(force=True)
        if self._active is None:
            raise Unavailable("no active serial signing key; rotate keys to create one",
                              code="no_active_key")

    # -- serials ------------------------------------------------------------------------
    def encode(self, seq: int, gtin14: str, lot: str | None, key_id: int | None = None) -> str:
        if not 0 <= seq < MAX_SEQ:
            raise ValueError(f"sequence number {seq} out of range")
        return self.signer(key_id).sign(seq, gtin14, lot or None)

    def range_encoder(self, gtin14: str, lot: str | None, key_id: int) -> RangeEncoder:
        return self.signer(key_id).range_encoder(gtin14, lot or None)

    def verify(self, serial: str, gtin14: str, lot: str | None) -> int:
        """Return the sequence number of a genuine serial; raise ``InvalidSerial`` if not."""
        if (not isinstance(serial, str) or len(serial) != SERIAL_LENGTH
                or any(ch not in _VALUE for ch in serial)):
            raise InvalidSerial("bad_format", "the serial is not a 20-character scanapp serial")
        key_id = _VALUE[serial[0]]
        self._refresh()
        signer = self._signers.get(key_id)
        if signer is None and time.monotonic() - self._loaded_at > MISS_REFRESH_SECONDS:
            # Maybe a key created by another worker; forged ids cannot force a read per scan.
            self._refresh(force=True)
            signer = self._signers.get(key_id)
        if signer is None:
            raise InvalidSerial("unknown_key", "the serial names a signing key that does not "
                                "exist")
        if signer.status == "compromised":
            raise InvalidSerial("compromised_key", "the serial was signed with a key that has "
                                "been marked compromised; it can no longer be trusted")
        permuted = _b32_decode(serial[1:12])
        expected = signer.tag(gtin14, lot or None, permuted)
        if not hmac.compare_digest(expected, serial[12:]):
            raise InvalidSerial("bad_signature", "the serial's signature does not match this "
                                "product and lot: it was not issued for it")
        return signer.unpermute(permuted)

