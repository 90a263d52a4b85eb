"""Brands authorise printers to print their products (all, or one product)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.models import ApiKey, Organisation, Role
from ..auth.service import Principal
from ..db import utcnow
from ..errors import InvalidInput, NotFound
from ..products.models import PrinterAuthorisation, Product


def list_authorisations(session: Session, principal: Principal,
                        include_revoked: bool = False) -> list[PrinterAuthorisation]:
    query = select(PrinterAuthorisation).order_by(PrinterAuthorisation.id)
    if principal.role is Role.BRAND:
        query = query.where(PrinterAuthorisation.brand_org_id == principal.org_id)
    elif principal.role is Role.PRINTER:
        query = query.where(PrinterAuthorisation.printer_org_id == principal.org_id)
    if not include_revoked:
        query = query.where(PrinterAuthorisation.revoked_at.is_(None))
    return list(session.scalars(query))

def authorise(session: Session, principal: Principal, data: dict) -> PrinterAuthorisation:
    """Authorise a printer; asking again for the same scope returns the existing grant."""
    brand_org_id = principal.org_id
    if principal.role is Role.ADMIN:
        brand_org_id = data.get("brand_org_id")
        if brand_org_id is None:
            raise InvalidInput("an admin must name the brand with brand_org_id",
                               code="brand_required")
    printer_org_id = data["printer_org_id"]
    printer = session.get(Organisation, printer_org_id)
    is_printer = printer is not None and session.scalar(
        select(ApiKey.id).where(ApiKey.org_id == printer_org_id, ApiKey.role == Role.PRINTER)
        .limit(1)) is not None
    if not is_printer:
        raise InvalidInput(f"organisation {printer_org_id} is not a printer",
                           code="not_a_printer")
    product_id = data.get("product_id")
    if product_id is not None:
        product = session.get(Product, product_id)
        if product is None or product.brand_org_id != brand_org_id:
            raise NotFound(f"no product with id {product_id}", code="unknown_product")
    existing = session.scalar(select(PrinterAuthorisation).where(
        PrinterAuthorisation.brand_org_id == brand_org_id,
        PrinterAuthorisation.printer_org_id == printer_org_id,
        PrinterAuthorisation.revoked_at.is_(None),
        PrinterAuthorisation.product_id.is_(None) if product_id is None
        else PrinterAuthorisation.product_id == product_id))
    if existing is not None:
        return existing
    grant = PrinterAuthorisation(brand_org_id=brand_org_id, printer_org_id=printer_org_id,
                                 product_id=product_id, created_at=utcnow())
    session.add(grant)
    session.commit()
    return grant

def revoke(session: Session, principal: Principal, authorisation_id: int
           ) -> PrinterAuthorisation:
    """Stop future ranges; ranges already issued stay valid (their stamps are printed)."""
    query = select(PrinterAuthorisation).where(PrinterAuthorisation.id == authorisation_id)
    if principal.role is Role.BRAND:
        query = query.where(PrinterAuthorisation.brand_org_id == principal.org_id)
    grant = session.scalar(query)
    if grant is None:
        raise NotFound(f"no printer authorisation with id {authorisation_id}")
    if grant.revoked_at is None:
        grant.revoked_at = utcnow()
    session.commit()
    return grant
