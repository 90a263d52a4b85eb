"""Keyed hashes for device ids and client addresses, and coordinate rounding.

Raw device ids and client addresses never reach the database, Redis or the logs: only an
HMAC keyed with a key derived from ``SECRET_KEY`` (distinct purpose string, so a leaked hash
cannot be matched against session signatures). Coordinates are rounded to 3 decimals,
about 110 m north-south, enough to place a scan in a market district and no more.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress

from ..security import client_network

COORD_DECIMALS = 3
HASH_CHARS = 32  # 128 bits of the HMAC: collision-free at any realistic device count


class Hasher:
    def __init__(self, secret_key: str):
        self._key = hmac.new(secret_key.encode(), b"scanapp.scan.privacy.v1",
                             hashlib.sha256).digest()
        # Keyed once: copying a keyed HMAC skips the key schedule each hash would redo.
        self._keyed = hmac.new(self._key, digestmod=hashlib.sha256)
        # Client addresses repeat (a shop, a carrier NAT) and are hashed twice per scan
        # (rate limit key and the stored client hash): remember recent ones.
        self.client = functools.lru_cache(maxsize=4096)(self._client)

    def _hash(self, kind: str, value: str) -> str:
        mac = self._keyed.copy()
        mac.update(f"{kind}:{value}".encode())
        return mac.hexdigest()[:HASH_CHARS]

    def device(self, device_id: str) -> str:
        return self._hash("device", device_id)

    def _client(self, address: str) -> str:
        return self._hash("client", client_network(address))

    def network(self, address: str | None) -> str | None:
        """The client's network as the fraud rules count it (sybil resistance): the keyed
        hash of the address, an IPv6 address by its /64 (one home or one phone's prefix,
        whose host part it may rotate freely). None when the address says nothing: missing,
        or loopback (the service reached through a local proxy that does not pass the
        client's address on; counting every consumer as one network would hide clones)."""
        if not address:
            return None
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return self.client(address)
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip.is_loopback:
            return None
        if ip.version == 6:
            return self.client(str(ipaddress.ip_network(f"{ip}/64", strict=False)))
        return self.client(str(ip))

    def anonymous_device(self, address: str, user_agent: str) -> str:
        """Stand-in device identity when the caller sends no device id (plain browser GET)."""
        return self._hash("anon", f"{client_network(address)}|{user_agent}")


def round_coord(value: float | None) -> float | None:
    return None if value is None else round(value, COORD_DECIMALS)
