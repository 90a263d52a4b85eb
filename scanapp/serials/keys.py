"""Signing-key rotation and compromise (admin endpoints and CLI share these).

Rotating retires the active key (its serials keep verifying) and activates the lowest
free id. Marking a key compromised makes every serial it signed fail with reason
``compromised_key``; when it was the active key a fresh one takes over at once, so
issuing never stops. Ids are never reused: 32 keys last for decades of yearly rotation.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import utcnow
from ..errors import Conflict, NotFound
from ..services import services
from .codec import MAX_KEYS
from .models import SigningKey


def list_keys(session: Session) -> list[SigningKey]:
    services().codec.active_key_id()  # make sure the first key exists before listing
    return list(session.scalars(select(SigningKey).order_by(SigningKey.id)))


def _new_key(session: Session, note: str | None) -> SigningKey:
    used = set(session.scalars(select(SigningKey.id)))
    free = [i for i in range(MAX_KEYS) if i not in used]
    if not free:
        raise Conflict("all 32 signing key ids are used; serials name their key in one "
                       "character, so no more keys can be created", code="key_ids_exhausted")
    key = SigningKey(id=free[0], status="active", salt=secrets.token_hex(16),
                     created_at=utcnow(), note=note)
    session.add(key)
    return key


def _lock_active(session: Session) -> list[SigningKey]:
    return list(session.scalars(select(SigningKey).where(SigningKey.status == "active")
                                .with_for_update()))


def rotate(session: Session, note: str | None = None) -> SigningKey:
    now = utcnow()
    for key in _lock_active(session):
        key.status, key.retired_at = "retired", now
    key = _new_key(session, note)
    session.commit()
    services().codec.invalidate()
    return key


def compromise(session: Session, key_id: int, note: str | None = None) -> SigningKey:
    key = session.get(SigningKey, key_id, with_for_update=True)
    if key is None:
        raise NotFound(f"no signing key {key_id}", code="unknown_key")
    if key.status != "compromised":
        was_active = key.status == "active"
        key.status, key.compromised_at = "compromised", utcnow()
        if note:
            key.note = note
        if was_active:
            session.flush()
            _new_key(session, f"replaces compromised key {key_id}")
    session.commit()
    services().codec.invalidate()
    return key
