"""The consumer scan traffic the benchmarks and locust send: what a day of phone scans looks like.

Mix (per request): mostly the first scan of a genuine code nobody scanned before; some
repeat scans of a code already scanned in the run (half by the same phone, as a page reload
would be, half by another phone, as a shared or cloned stamp would be); a few forged codes
(a genuine code with one serial character changed, so its signature tag no longer matches).
Coordinates are spread over Vietnam's 34 province-level units and travel in the body.
"""

from __future__ import annotations

import json
import random
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from scanapp.regions import PROVINCES

# Crockford base32, the serial alphabet (docs/ARCHITECTURE.md).
SERIAL_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ANCHORS = [(p.lat, p.lon) for p in PROVINCES.values()]


@dataclass(frozen=True)
class Mix:
    repeat_share: float = 0.10
    forged_share: float = 0.03

    def describe(self) -> str:
        first = 1.0 - self.repeat_share - self.forged_share
        return (f"{first:.0%} first scans of distinct genuine codes, {self.repeat_share:.0%} "
                f"repeats (half same phone, half another), {self.forged_share:.0%} forged")


def forge(code: str, rng: random.Random) -> str:
    """The same stamp URI with one serial character changed: its tag will not verify."""
    head, sep, rest = code.rpartition("/21/")
    if not sep:
        raise ValueError(f"not a stamp URI with a serial: {code}")
    serial, q, query = rest.partition("?")
    pos = rng.randrange(1, len(serial))  # keep the key-id character: a plausible forgery
    choices = [c for c in SERIAL_ALPHABET if c != serial[pos]]
    serial = serial[:pos] + rng.choice(choices) + serial[pos + 1:]
    return f"{head}/21/{serial}{q}{query}"


def place(rng: random.Random) -> tuple[float, float]:
    """A point within ~20 km of one of the province centres."""
    lat, lon = rng.choice(_ANCHORS)
    return round(lat + rng.uniform(-0.2, 0.2), 5), round(lon + rng.uniform(-0.2, 0.2), 5)


def device_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


class CodePool:
    """Genuine stamp URIs handed out once each, so "first scan" really is a first scan."""

    def __init__(self, codes: Sequence[str]):
        self.codes = list(codes)
        self.next = 0

    @property
    def left(self) -> int:
        return len(self.codes) - self.next

    def take(self, n: int) -> list[str]:
        if n > self.left:
            raise ValueError(f"code pool exhausted: {n} wanted, {self.left} left; "
                             "issue or download more codes")
        out = self.codes[self.next:self.next + n]
        self.next += n
        return out


def scan_requests(pool: CodePool, n: int, mix: Mix = Mix(),
                  seed: int | None = None) -> Iterator[dict]:
    """``n`` scan request bodies in the mix; takes the genuine first-scan codes from ``pool``."""
    rng = random.Random(seed if seed is not None else secrets.randbits(32))
    n_repeat = int(n * mix.repeat_share)
    n_forged = int(n * mix.forged_share)
    fresh = pool.take(n - n_repeat)
    kinds = ["repeat"] * n_repeat + ["forged"] * n_forged
    kinds += ["first"] * (n - len(kinds))
    rng.shuffle(kinds)
    if kinds and kinds[0] != "first" and "first" in kinds:  # a repeat needs an earlier scan
        j = kinds.index("first")
        kinds[0], kinds[j] = kinds[j], kinds[0]
    seen: list[tuple[str, str]] = []
    fresh_iter = iter(fresh)
    for kind in kinds:
        lat, lon = place(rng)
        if kind == "repeat":
            code, device = rng.choice(seen)
            if rng.random() < 0.5:
                device = device_id(rng)
        elif kind == "forged":
            code, device = forge(next(fresh_iter), rng), device_id(rng)
        else:
            code, device = next(fresh_iter), device_id(rng)
            seen.append((code, device))
        yield {"code": code, "lat": lat, "lon": lon, "device_id": device}


def scan_bodies(pool: CodePool, n: int, mix: Mix = Mix(), seed: int | None = None) -> list[bytes]:
    """The same requests as compact JSON bodies (one per line in a wrk body file)."""
    return [json.dumps(body, separators=(",", ":")).encode()
            for body in scan_requests(pool, n, mix, seed)]
