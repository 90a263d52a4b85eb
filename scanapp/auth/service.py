"""Issuing, checking and revoking API keys.

A key looks like ``sa_3f9c1a7b2e_<43 random characters>``. The ``sa_3f9c1a7b2e`` part is
its visible prefix, stored in clear so an operator can tell keys apart in listings and
logs. The whole key is stored only as a SHA-256 digest: with 256 random bits behind the
prefix nobody can brute-force it, so a slow password hash would only slow every API call.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import utcnow
from ..errors import AuthenticationRequired, InvalidInput, NotFound, PermissionDenied
from .models import ApiKey, Organisation, Role

KEY_SCHEME = "sa"
PREFIX_LENGTH = len(KEY_SCHEME) + 1 + 10


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request."""

    key_id: int
    org_id: int
    org_name: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def _digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise InvalidInput(f"unknown role {value!r}; choose one of {choices}",
                           code="unknown_role") from None


def get_or_create_org(session: Session, name: str) -> Organisation:
    name = name.strip()
    if not name:
        raise InvalidInput("organisation name must not be empty", code="invalid_org")
    org = session.scalar(select(Organisation).where(Organisation.name == name))
    if org is None:
        org = Organisation(name=name)
        session.add(org)
        session.flush()
    return org


def create_key(session: Session, org: Organisation, role: Role,
               label: str | None = None) -> tuple[ApiKey, str]:
    """Create a key and return it with its plaintext, which is never retrievable again."""
    prefix = f"{KEY_SCHEME}_{secrets.token_hex(5)}"
    raw = f"{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(prefix=prefix, key_hash=_digest(raw), role=role, org_id=org.id, label=label)
    session.add(key)
    session.flush()
    return key, raw


def authenticate(session: Session, header: str | None) -> Principal:
    if not header:
        raise AuthenticationRequired("this endpoint needs an API key: "
                                     "send 'Authorization: Bearer <key>'",
                                     code="missing_api_key")
    scheme, _, raw = header.partition(" ")
    raw = raw.strip()
    if scheme.lower() != "bearer" or not raw:
        raise AuthenticationRequired("the Authorization header must be 'Bearer <key>'",
                                     code="bad_authorization_header")
    # The prefix has a fixed length; the random part may itself contain underscores.
    prefix = raw[:PREFIX_LENGTH] if raw.startswith(KEY_SCHEME + "_") else ""
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix)) if prefix else None
    if key is None or not hmac.compare_digest(key.key_hash, _digest(raw)):
        raise AuthenticationRequired("the API key is not valid", code="invalid_api_key")
    if key.revoked_at is not None:
        raise AuthenticationRequired("the API key has been revoked", code="revoked_api_key")
    return Principal(key_id=key.id, org_id=key.org_id, org_name=key.organisation.name,
                     role=key.role)


def require_role(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise PermissionDenied(f"a {principal.role.value} key cannot do this; it needs: {allowed}")


def list_keys(session: Session, principal: Principal) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.id)
    if not principal.is_admin:
        query = query.where(ApiKey.org_id == principal.org_id)
    return list(session.scalars(query))


def revoke_key(session: Session, principal: Principal, key_id: int) -> ApiKey:
    key = session.get(ApiKey, key_id)
    # Another organisation's key is reported as absent, not as forbidden: no probing.
    if key is None or (not principal.is_admin and key.org_id != principal.org_id):
        raise NotFound(f"no API key with id {key_id}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    session.commit()
    return key


def issue_key(session: Session, org_name: str, role: Role, label: str | None = None,
              province: str | None = None, assign_scope=None) -> tuple[ApiKey, str]:
    """Create the organisation when needed, then a key for it; one unit of work.

    An authority key needs the province it supervises (a code, or 'all' for nationwide),
    and only an authority key takes one. The authority package owns scopes, so the caller
    passes its hook (``app.extensions["scanapp.authority.assign_scope"]``): auth never
    imports authority. Without a province an authority key would be refused everywhere."""
    if (province is not None) != (role is Role.AUTHORITY):
        raise InvalidInput("province goes with the authority role, and an authority key "
                           "needs it (a province code, or 'all' for nationwide)",
                           code="authority_province")
    org = get_or_create_org(session, org_name)
    if province is not None:
        assign_scope(session, org, province)
    key, raw = create_key(session, org, role, label)
    session.commit()
    return key, raw


def set_gs1_prefixes(session: Session, org_id: int, prefixes: list[str]) -> Organisation:
    """Record the GS1 company prefixes an organisation holds (admin)."""
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound(f"no organisation with id {org_id}", code="unknown_org")
    org.gs1_prefixes = sorted(set(prefixes)) or None
    session.commit()
    return org
