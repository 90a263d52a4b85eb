"""Scratch-off PINs: 8 digits per code, derived from ``SCANAPP_PIN_KEY`` and the code's
sequence number, so they are never stored (in clear or otherwise) and are reproduced
exactly for each download. A separate key from the serial key: a leaked serial key does
not reveal PINs, and the PIN under the scratch layer cannot be worked out from the stamp.

Claiming (a correct PIN marks the code claimed) is the scan path's job; this module only
derives and checks.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import Flask
from itsdangerous.signer import Signer

from ..services import services

PIN_DIGITS = 8
_MODULUS = 10 ** PIN_DIGITS


class PinDeriver:
    def __init__(self, pin_key: str):
        key = Signer(pin_key, salt="scanapp.pin", key_derivation="hmac",
                     digest_method=hashlib.sha256).derive_key()
        self._key = key
        block = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def pin(self, seq: int) -> str:
        # HMAC-SHA256 through precomputed pad states (the bulk CSV calls this per code);
        # 64 bits reduced mod 10^8 has a bias below 2^-37: negligible.
        h = self._inner.copy()
        h.update(seq.to_bytes(8, "big"))
        o = self._outer.copy()
        o.update(h.digest())
        return str(int.from_bytes(o.digest()[:8], "big") % _MODULUS).zfill(PIN_DIGITS)

    def check(self, seq: int, pin: str) -> bool:
        if not isinstance(pin, str):
            return False
        given = "".join(ch for ch in pin if ch not in " -")
        return hmac.compare_digest(given.encode(), self.pin(seq).encode())


def pin_for(seq: int, app: Flask | None = None) -> str:
    return services(app).pins.pin(seq)


def check_pin(seq: int, pin: str, app: Flask | None = None) -> bool:
    return services(app).pins.check(seq, pin)
