"""Bulk code files for printers, streamed in chunks and never built whole.

``codes.csv`` has the header ``serial,uri`` (``serial,uri,pin`` for PIN ranges) and one row
per code in sequence order; ``codes.txt`` has one stamp URI per line. Both end every line
with ``\\n`` and are fully determined by the range (its key, GTIN, lot, expiry, start and
quantity) and the public base URL, so:

- the checksum is served separately at ``codes.csv.sha256`` / ``codes.txt.sha256`` in
  ``sha256sum`` format (``<hex>  <filename>``), so a printer runs ``sha256sum -c`` on the
  downloaded file. Computing it means generating the file once; the result is stored in
  ``code_checksums`` (a complete download stores it as it streams);
- the ETag is a hash of those inputs, so a re-download can be validated cheaply.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator

from flask import current_app
from sqlalchemy.exc import IntegrityError

from ..concurrency import cooperate
from ..db import session_scope
from .codec import SERIAL_LENGTH, get_codec
from .models import CodeChecksum, SerialRange
from .pins import PIN_DIGITS, get_pins
from .stamps import stamp_uri

CHUNK_CODES = 4096
FORMATS = ("csv", "txt")
_checksum_lock = threading.Lock()


def filename(target: SerialRange, fmt: str) -> str:
    lot = re.sub(r"[^A-Za-z0-9-]", "_", target.lot) if target.lot else None
    parts = ["scanapp", f"range{target.id}", target.gtin] + ([lot] if lot else [])
    return "-".join(parts) + f"-{target.quantity}codes.{fmt}"


def _identity(target: SerialRange, fmt: str, base_url: str) -> tuple:
    return (fmt, base_url, target.id, target.key_id, target.gtin, target.lot,
            target.expiry.isoformat() if target.expiry else None, target.start_seq,
            target.quantity, target.pin_enabled)


def etag(target: SerialRange, fmt: str) -> str:
    identity = repr(_identity(target, fmt, current_app.config["PUBLIC_BASE_URL"]))
    return hashlib.sha256(identity.encode()).hexdigest()[:32]


def _uri_parts(target: SerialRange, base_url: str) -> tuple[str, str]:
    """The stamp URI before and after the serial: the same for every code of a range."""
    marker = "SERIALMARKER7Q"  # URI-safe, so stamp_uri leaves it as it is
    head = stamp_uri(base_url, target.gtin, marker, target.lot, target.expiry)
    prefix, _, suffix = head.rpartition(marker)
    return prefix, suffix


def content_length(target: SerialRange, fmt: str) -> int:
    """The exact size of the file: every line has the same length (serials are 20
    characters, PINs 8 digits), so a printer's client can show progress and detect a
    truncated download without waiting for the checksum."""
    prefix, suffix = _uri_parts(target, current_app.config["PUBLIC_BASE_URL"])
    uri = len((prefix + suffix).encode()) + SERIAL_LENGTH
    if fmt == "txt":
        return target.quantity * (uri + 1)
    pin = 1 + PIN_DIGITS if target.pin_enabled else 0
    header = len(b"serial,uri,pin\n" if target.pin_enabled else b"serial,uri\n")
    return header + target.quantity * (SERIAL_LENGTH + 1 + uri + pin + 1)


def chunks(target: SerialRange, fmt: str, start: int = 0, stop: int | None = None,
           app=None) -> Iterator[bytes]:
    """The file's bytes in chunks of ``CHUNK_CODES`` lines (positions ``start..stop``)."""
    app = app or current_app._get_current_object()
    encoder = get_codec(app).range_encoder(target.gtin, target.lot, target.key_id)
    prefix, suffix = _uri_parts(target, app.config["PUBLIC_BASE_URL"])
    pins = get_pins(app) if target.pin_enabled else None
    first = target.start_seq + start
    last = target.start_seq + (target.quantity if stop is None else min(stop,
                                                                        target.quantity))
    if fmt == "csv" and start == 0:
        yield b"serial,uri,pin\n" if pins else b"serial,uri\n"
    for chunk_start in range(first, last, CHUNK_CODES):
        chunk_stop = min(chunk_start + CHUNK_CODES, last)
        serials = encoder.serial_list(chunk_start, chunk_stop)
        if fmt == "txt":
            lines = [prefix + serial + suffix for serial in serials]
        elif pins is None:
            lines = [f"{serial},{prefix}{serial}{suffix}" for serial in serials]
        else:
            pin = pins.pin
            lines = [f"{serial},{prefix}{serial}{suffix},{pin(seq)}"
                     for seq, serial in zip(range(chunk_start, chunk_stop), serials,
                                            strict=True)]
        lines.append("")
        yield "\n".join(lines).encode()
        cooperate()


def checksum(target: SerialRange, fmt: str) -> str:
    """The file's SHA-256, computed once per file and kept in ``code_checksums``.

    Generating a million codes takes seconds of CPU: concurrent requests of one process
    wait for one computation, other processes find the stored value, and a complete
    download stores it on the way (``recording_chunks``), so usually nothing is computed
    for the checksum alone.
    """
    app = current_app._get_current_object()
    identity = etag(target, fmt)
    stored = _stored(app, target.id, identity)
    if stored is not None:
        return stored
    with _computing_lock(target.id, identity):
        stored = _stored(app, target.id, identity)
        if stored is not None:
            return stored
        digest = hashlib.sha256()
        for chunk in chunks(target, fmt, app=app):
            digest.update(chunk)
        _store(app, target.id, identity, digest.hexdigest())
        return digest.hexdigest()


def recording_chunks(target: SerialRange, fmt: str, app) -> Iterator[bytes]:
    """``chunks`` of the whole file, storing its checksum once the last byte is sent."""
    identity = etag(target, fmt)
    known = _stored(app, target.id, identity) is not None
    digest = None if known else hashlib.sha256()
    for chunk in chunks(target, fmt, app=app):
        if digest is not None:
            digest.update(chunk)
        yield chunk
    if digest is not None:
        _store(app, target.id, identity, digest.hexdigest())


_locks: dict[tuple[int, str], threading.Lock] = {}


def _computing_lock(range_id: int, identity: str) -> threading.Lock:
    with _checksum_lock:
        if len(_locks) > 1000:
            _locks.clear()
        return _locks.setdefault((range_id, identity), threading.Lock())


def _stored(app, range_id: int, identity: str) -> str | None:
    with session_scope(app) as session:
        row = session.get(CodeChecksum, (range_id, identity))
        return row.sha256 if row is not None else None


def _store(app, range_id: int, identity: str, sha256: str) -> None:
    with session_scope(app) as session:
        session.add(CodeChecksum(range_id=range_id, identity=identity, sha256=sha256))
        try:
            session.commit()
        except IntegrityError:  # another process stored the same file's checksum first
            session.rollback()
