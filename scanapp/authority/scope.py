"""Which province an authority supervises, and the queries that keep it inside it.

A province's data is what belongs to a party or location of that province: parties by
their own province, locations by theirs, products by their brand's parties, lots by the
party that made them or the place they were made at, events by the place they happened.
A nationwide authority (no province) sees everything; any other key is refused here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..auth.models import Organisation, Role
from ..auth.service import Principal
from ..db import utcnow
from ..errors import InvalidInput, NotFound, PermissionDenied
from ..products.models import Product
from ..regions import PROVINCES
from ..trace.models import Location, Lot, LotEvent, Party
from .models import AuthorityScope, ProvincePolicy

NATIONWIDE = ("", "00", "all", "nationwide", "toan-quoc")
# Bình Phước's plan (the example): >= 30 % of the firms that use barcodes run a
# traceability system, 100 % of traced products connected to the portals.
DEFAULT_TARGETS = {"firms_with_trace_pct": 30, "traced_products_on_portal_pct": 100}


@dataclass(frozen=True)
class Scope:
    province: str | None  # None: nationwide

    def covers(self, province: str | None) -> bool:
        return self.province is None or province == self.province

    @property
    def label(self) -> str:
        if self.province is None:
            return "Toàn quốc"
        return PROVINCES[self.province].name


def parse_province(value: str | None) -> str | None:
    """'33' -> '33'; '' / '00' / 'all' -> None (nationwide); anything else: InvalidInput."""
    value = (value or "").strip().lower()
    if value in NATIONWIDE:
        return None
    if value.isdigit() and len(value) == 1:
        value = "0" + value
    if value not in PROVINCES:
        raise InvalidInput(f"unknown province code {value!r}", code="unknown_province")
    return value


def assign_scope(session: Session, org: Organisation, province: str | None) -> AuthorityScope:
    """Make ``org`` the authority of ``province`` (None: nationwide); a province gets its
    review policy (review on, the default targets) the first time an authority joins."""
    scope = session.get(AuthorityScope, org.id)
    if scope is None:
        scope = AuthorityScope(org_id=org.id, province=province, created_at=utcnow())
        session.add(scope)
    scope.province = province
    if province is not None and session.get(ProvincePolicy, province) is None:
        session.add(ProvincePolicy(province=province, review_enabled=True,
                                   trusted_categories=[], targets=dict(DEFAULT_TARGETS),
                                   updated_at=utcnow()))
    session.flush()
    return scope


def scope_of(session: Session, principal: Principal) -> Scope:
    if principal.role is Role.ADMIN:
        return Scope(None)
    if principal.role is not Role.AUTHORITY:
        raise PermissionDenied("only authority keys may do this")
    row = session.get(AuthorityScope, principal.org_id)
    if row is None:
        raise PermissionDenied("this authority key has no province; create it with "
                               "'keys create --role authority --province NN'",
                               code="authority_without_scope")
    return Scope(row.province)


def policy(session: Session, province: str | None) -> ProvincePolicy | None:
    return session.get(ProvincePolicy, province) if province else None


# -- what a scope sees ------------------------------------------------------------------------

def parties(scope: Scope):
    query = select(Party).order_by(Party.id)
    return query if scope.province is None else query.where(Party.province == scope.province)


def locations(scope: Scope):
    query = select(Location).order_by(Location.id)
    return query if scope.province is None else query.where(
        Location.province == scope.province)


def province_brands(scope: Scope):
    """Organisation ids whose parties are in the province."""
    return select(Party.org_id).where(Party.province == scope.province,
                                      Party.org_id.is_not(None))


def products(scope: Scope):
    query = select(Product).order_by(Product.id)
    return query if scope.province is None else query.where(
        Product.brand_org_id.in_(province_brands(scope)))


def lots(scope: Scope):
    query = select(Lot).order_by(Lot.id)
    if scope.province is None:
        return query
    return query.where(or_(
        Lot.party_id.in_(select(Party.id).where(Party.province == scope.province)),
        Lot.location_id.in_(select(Location.id).where(Location.province == scope.province))))


def events(scope: Scope):
    query = select(LotEvent).order_by(LotEvent.event_time, LotEvent.id)
    return query if scope.province is None else query.where(LotEvent.location_id.in_(
        select(Location.id).where(Location.province == scope.province)))


def get_in_scope(session: Session, scope: Scope, query, what: str, ident: int):
    """One row of a scoped query, or NotFound (another province's row is not disclosed)."""
    entity = query.column_descriptions[0]["entity"]
    row = session.scalar(query.where(entity.id == ident))
    if row is None:
        raise NotFound(f"no {what} with id {ident}")
    return row
