"""Who may write and read which trace data.

- An organisation manages (writes) its own parties, locations, certificates and lots.
- It records events only at its own locations, about GTINs it owns or a brand authorised
  it for (``trace_partners``).
- Admins and inspectors read everything; a brand reads the whole chain of its products;
  a partner reads one step back and one step forward of what it handled.
"""

from __future__ import annotations

from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session

from ..auth.models import Organisation, Role
from ..auth.service import Principal
from ..db import utcnow
from ..products.models import Product
from .models import Location, Lot, LotEvent, Party, TracePartner, TraceState

READ_ALL = (Role.ADMIN, Role.INSPECTOR)


def reads_all(principal: Principal) -> bool:
    return principal.role in READ_ALL


def may_write_gtin(session: Session, principal: Principal, product: Product) -> bool:
    if principal.is_admin or product.brand_org_id == principal.org_id:
        return True
    return session.scalar(select(exists().where(
        TracePartner.partner_org_id == principal.org_id,
        TracePartner.brand_org_id == product.brand_org_id,
        TracePartner.revoked_at.is_(None),
        or_(TracePartner.product_id.is_(None), TracePartner.product_id == product.id)))) or False


def manages_party(principal: Principal, party: Party) -> bool:
    return principal.is_admin or party.org_id == principal.org_id


def manages_location(principal: Principal, location: Location) -> bool:
    return principal.is_admin or location.party.org_id == principal.org_id


def org_party(session: Session, org_id: int) -> Party:
    """The party that stands for an organisation itself (made on first need)."""
    party = session.scalar(select(Party).where(Party.org_id == org_id).order_by(Party.id)
                           .limit(1))
    if party is None:
        org = session.get(Organisation, org_id)
        party = Party(org_id=org_id, name=org.name if org else f"org {org_id}")
        session.add(party)
        session.flush()
    return party


def lot_visibility(principal: Principal):
    """A clause on ``Lot`` for the lots ``principal`` may see (None: all)."""
    if reads_all(principal):
        return None
    own_product = Lot.product_id.in_(select(Product.id).where(
        Product.brand_org_id == principal.org_id))
    handled = Lot.id.in_(select(LotEvent.lot_id).where(LotEvent.org_id == principal.org_id))
    received = Lot.id.in_(select(LotEvent.lot_id).where(LotEvent.dest_party_id.in_(
        select(Party.id).where(Party.org_id == principal.org_id))))
    return or_(own_product, Lot.created_by_org_id == principal.org_id, handled, received)


def sees_whole_chain(session: Session, principal: Principal, lot: Lot) -> bool:
    """Admins, inspectors and the brand of the lot's product see all of its lineage."""
    if reads_all(principal):
        return True
    return lot.product.brand_org_id == principal.org_id


def may_see_lot(session: Session, principal: Principal, lot: Lot) -> bool:
    clause = lot_visibility(principal)
    if clause is None:
        return True
    return session.scalar(select(exists().where(Lot.id == lot.id, clause))) or False


def bump_version(session: Session) -> None:
    """Tell every worker's scan summary cache that trace data changed (same transaction)."""
    done = session.execute(update(TraceState).where(TraceState.id == 1).values(
        version=TraceState.version + 1, changed_at=utcnow()))
    if done.rowcount == 0:  # the migration makes the row; a wiped table gets it back here
        session.add(TraceState(id=1, version=1, changed_at=utcnow()))
        session.flush()
