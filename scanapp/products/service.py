"""Registering and reading products, scoped to what the caller may see."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from ..auth.models import Organisation, Role
from ..auth.service import Principal
from ..errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ..gs1 import normalize_gtin
from .models import PrinterAuthorisation, Product


def visible_products(principal: Principal) -> Select[tuple[Product]]:
    """A query for the products ``principal`` may see."""
    query = select(Product)
    if principal.role is Role.BRAND:
        return query.where(Product.brand_org_id == principal.org_id)
    if principal.role is Role.PRINTER:
        authorised = select(PrinterAuthorisation.id).where(
            PrinterAuthorisation.printer_org_id == principal.org_id,
            PrinterAuthorisation.revoked_at.is_(None),
            PrinterAuthorisation.brand_org_id == Product.brand_org_id,
            or_(PrinterAuthorisation.product_id.is_(None),
                PrinterAuthorisation.product_id == Product.id),
        )
        return query.where(authorised.exists())
    return query


def printer_may_print(session: Session, printer_org_id: int, product: Product) -> bool:
    return session.scalar(select(PrinterAuthorisation.id).where(and_(
        PrinterAuthorisation.printer_org_id == printer_org_id,
        PrinterAuthorisation.brand_org_id == product.brand_org_id,
        PrinterAuthorisation.revoked_at.is_(None),
        or_(PrinterAuthorisation.product_id.is_(None),
            PrinterAuthorisation.product_id == product.id),
    )).limit(1)) is not None


def list_products(session: Session, principal: Principal) -> list[Product]:
    return list(session.scalars(visible_products(principal).order_by(Product.id)))


def get_product(session: Session, principal: Principal, product_id: int) -> Product:
    product = session.scalar(visible_products(principal).where(Product.id == product_id))
    if product is None:
        raise NotFound(f"no product with id {product_id}")
    return product


def get_product_by_gtin(session: Session, principal: Principal, gtin: str) -> Product:
    gtin14 = normalize_gtin(gtin)
    product = session.scalar(visible_products(principal).where(Product.gtin == gtin14))
    if product is None:
        raise NotFound(f"no product with GTIN {gtin14} that this key may use",
                       code="unknown_product")
    return product


def create_product(session: Session, principal: Principal, data: dict) -> Product:
    data = dict(data)
    gtin = normalize_gtin(data.pop("gtin"))
    brand_org_id = data.pop("brand_org_id", None)
    if principal.role is Role.BRAND:
        if brand_org_id not in (None, principal.org_id):
            raise PermissionDenied("a brand registers products only for itself")
        brand_org_id = principal.org_id
    elif brand_org_id is None:
        raise InvalidInput("an admin must name the brand with brand_org_id",
                           code="brand_required")
    elif session.get(Organisation, brand_org_id) is None:
        raise InvalidInput(f"no organisation with id {brand_org_id}", code="unknown_org")
    _check_company_prefix(session, brand_org_id, gtin)
    if session.scalar(select(Product.id).where(Product.gtin == gtin)) is not None:
        raise Conflict(f"a product with GTIN {gtin} is already registered", code="duplicate_gtin")
    product = Product(gtin=gtin, brand_org_id=brand_org_id, **data)
    session.add(product)
    session.commit()
    return product


def _check_company_prefix(session: Session, brand_org_id: int, gtin14: str) -> None:
    """A brand registers only GTINs under the GS1 company prefixes it declared (an admin sets
    them). Without declared prefixes: refused where REQUIRE_GS1_PREFIX is on (production's
    default), allowed elsewhere (demo data, tests)."""
    org = session.get(Organisation, brand_org_id)
    prefixes = list(org.gs1_prefixes or []) if org is not None else []
    if not prefixes:
        if current_app.config.get("REQUIRE_GS1_PREFIX"):
            raise InvalidInput(
                "this brand has no GS1 company prefix on record; an admin declares it with "
                f"PUT /api/v1/orgs/{brand_org_id}/gs1-prefixes", code="no_gs1_prefix")
        return
    gtin13 = gtin14[1:]  # the company prefix follows the indicator digit
    if not any(gtin13.startswith(prefix) for prefix in prefixes):
        raise InvalidInput(f"GTIN {gtin14} is not under this brand's GS1 company prefixes "
                           f"({', '.join(prefixes)})", code="gtin_outside_prefix")


def update_product(session: Session, principal: Principal, product_id: int,
                   data: dict) -> Product:
    product = get_product(session, principal, product_id)
    for field, value in data.items():
        setattr(product, field, value)
    session.commit()
    return product
