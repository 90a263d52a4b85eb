"""Master data: parties, locations, certificates, lots and brand-to-partner authorisations.

Each write checks that the caller manages the thing (its organisation's own, or admin) and
commits at the end; another organisation's object is reported as absent (404), never as
forbidden, so nobody can probe for what exists.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..auth.models import Organisation, Role
from ..auth.service import Principal
from ..db import utcnow
from ..errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ..gs1 import normalize_gtin
from ..products.models import Product
from ..regions import PROVINCES
from . import codes, portal
from .access import (
    bump_version,
    lot_visibility,
    manages_location,
    manages_party,
    may_write_gtin,
    org_party,
    reads_all,
)
from .models import (
    CERT_SCHEMES,
    CERT_SUBJECTS,
    Certificate,
    Location,
    Lot,
    LotEvent,
    Party,
    TracePartner,
)


def _province(value: str | None) -> str | None:
    if value is not None and value not in PROVINCES:
        raise InvalidInput(f"unknown province code {value!r}; use the two-digit codes of "
                           "the 34 province-level units", code="invalid_province")
    return value


def _unique(session: Session, what: str) -> None:
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"{what} is already registered", code="duplicate") from None


def _owner_org(session: Session, principal: Principal, data: dict) -> int:
    org_id = data.pop("org_id", None)
    if org_id is None or org_id == principal.org_id:
        return principal.org_id
    if not principal.is_admin:
        raise PermissionDenied("only an admin registers data for another organisation")
    if session.get(Organisation, org_id) is None:
        raise InvalidInput(f"no organisation with id {org_id}", code="unknown_org")
    return org_id


# -- parties ------------------------------------------------------------------------------

def _party_fields(data: dict) -> dict:
    if data.get("tax_code") is not None:
        data["tax_code"] = codes.normalize_tax_code(data["tax_code"])
    if data.get("gln") is not None:
        data["gln"] = codes.normalize_gln(data["gln"], "party GLN (AI 417)")
    if "province" in data:
        _province(data["province"])
    return data


def create_party(session: Session, principal: Principal, data: dict) -> Party:
    data = _party_fields(dict(data))
    party = Party(org_id=_owner_org(session, principal, data), **data)
    session.add(party)
    _unique(session, "a party with this tax code or GLN")
    session.commit()
    return party


def party_query(principal: Principal):
    query = select(Party).order_by(Party.id)
    if reads_all(principal):
        return query
    visible = lot_visibility(principal)
    concerned = select(Lot.party_id).where(visible)
    sources = select(LotEvent.source_party_id).join(Lot, Lot.id == LotEvent.lot_id).where(visible)
    dests = select(LotEvent.dest_party_id).join(Lot, Lot.id == LotEvent.lot_id).where(visible)
    return query.where(or_(Party.org_id == principal.org_id, Party.id.in_(concerned),
                           Party.id.in_(sources), Party.id.in_(dests)))


def list_parties(session: Session, principal: Principal, gln: str | None = None,
                 tax_code: str | None = None) -> list[Party]:
    if gln or tax_code:
        # Looking a trading partner up by its public identifier (to ship to it) is open to
        # every caller: GLNs and tax codes are published registers.
        query = select(Party).order_by(Party.id)
        if gln:
            query = query.where(Party.gln == gln)
        if tax_code:
            query = query.where(Party.tax_code == tax_code)
        return list(session.scalars(query.limit(50)))
    # An organisation registered after the trace migration gets its own party on first use.
    if session.scalar(select(Party.id).where(Party.org_id == principal.org_id).limit(1)) is None:
        org_party(session, principal.org_id)
        session.commit()
    return list(session.scalars(party_query(principal)))


def get_party(session: Session, principal: Principal, party_id: int) -> Party:
    party = session.scalar(party_query(principal).where(Party.id == party_id))
    if party is None:
        raise NotFound(f"no party with id {party_id}")
    return party


def update_party(session: Session, principal: Principal, party_id: int, data: dict) -> Party:
    party = get_party(session, principal, party_id)
    if not manages_party(principal, party):
        raise NotFound(f"no party with id {party_id}")
    for key, value in _party_fields(dict(data)).items():
        setattr(party, key, value)
    party.updated_at = utcnow()
    _unique(session, "a party with this tax code or GLN")
    bump_version(session)
    session.commit()
    return party


# -- locations ----------------------------------------------------------------------------

def _location_fields(data: dict) -> dict:
    if "gln" in data:
        data["gln"] = codes.normalize_gln(data["gln"], "location GLN (AI 414)")
    if data.get("extension"):
        codes.check_ai82(data["extension"], "GLN extension (AI 254)")
    if "extension" in data and data["extension"] is None:
        data["extension"] = ""
    if "province" in data:
        _province(data["province"])
    if (data.get("lat") is None) != (data.get("lon") is None) and ("lat" in data
                                                                    or "lon" in data):
        raise InvalidInput("give both lat and lon, or neither", code="invalid_coordinates")
    return data


def create_location(session: Session, principal: Principal, data: dict) -> Location:
    data = _location_fields(dict(data))
    party_id = data.pop("party_id", None)
    if party_id is None:
        party = org_party(session, principal.org_id)
    else:
        party = session.get(Party, party_id)
        if party is None or not manages_party(principal, party):
            raise InvalidInput(f"no party with id {party_id} that you manage",
                               code="unknown_party")
    location = Location(party_id=party.id, **data)
    location.party = party
    session.add(location)
    _unique(session, "a location with this GLN and extension")
    session.commit()
    return location


def location_query(principal: Principal):
    query = select(Location).order_by(Location.id)
    if reads_all(principal):
        return query
    visible = lot_visibility(principal)
    used = select(LotEvent.location_id).join(Lot, Lot.id == LotEvent.lot_id).where(visible)
    made = select(Lot.location_id).where(visible)
    own = select(Party.id).where(Party.org_id == principal.org_id)
    return query.where(or_(Location.party_id.in_(own), Location.id.in_(used),
                           Location.id.in_(made)))


def list_locations(session: Session, principal: Principal, gln: str | None = None
                   ) -> list[Location]:
    if gln:  # a public register lookup, as for parties
        return list(session.scalars(select(Location).where(Location.gln == gln)
                                    .order_by(Location.id).limit(50)))
    return list(session.scalars(location_query(principal)))


def get_location(session: Session, principal: Principal, location_id: int) -> Location:
    location = session.scalar(location_query(principal).where(Location.id == location_id))
    if location is None:
        raise NotFound(f"no location with id {location_id}")
    return location


def update_location(session: Session, principal: Principal, location_id: int,
                    data: dict) -> Location:
    location = get_location(session, principal, location_id)
    if not manages_location(principal, location):
        raise NotFound(f"no location with id {location_id}")
    merged = {"lat": location.lat, "lon": location.lon, **data}
    _location_fields(merged)
    for key in data:
        setattr(location, key, merged[key])
    location.updated_at = utcnow()
    _unique(session, "a location with this GLN and extension")
    bump_version(session)
    session.commit()
    return location


# -- certificates -------------------------------------------------------------------------

def _subject(session: Session, principal: Principal, subject_type: str, subject_id: int):
    model = {"party": Party, "location": Location, "product": Product, "lot": Lot}[subject_type]
    subject = session.get(model, subject_id)
    manages = False
    if subject is not None:
        if principal.is_admin:
            manages = True
        elif isinstance(subject, Party):
            manages = manages_party(principal, subject)
        elif isinstance(subject, Location):
            manages = manages_location(principal, subject)
        elif isinstance(subject, Product):
            manages = subject.brand_org_id == principal.org_id
        else:
            manages = (subject.created_by_org_id == principal.org_id
                       or subject.product.brand_org_id == principal.org_id)
    if not manages:
        raise InvalidInput(f"no {subject_type} with id {subject_id} that you manage",
                           code="unknown_subject")
    return subject


def create_certificate(session: Session, principal: Principal, data: dict) -> Certificate:
    data = dict(data)
    scheme = data["scheme"]
    if scheme not in CERT_SCHEMES:
        raise InvalidInput(f"unknown scheme {scheme!r}", code="invalid_scheme")
    stars = data.get("stars")
    if scheme == "ocop" and stars not in (3, 4, 5):
        raise InvalidInput("an OCOP certificate rates 3, 4 or 5 stars", code="invalid_stars")
    if scheme != "ocop" and stars is not None:
        raise InvalidInput("stars apply to OCOP certificates only", code="invalid_stars")
    if data["subject_type"] not in CERT_SUBJECTS:
        raise InvalidInput("subject_type is party, location, product or lot",
                           code="invalid_subject")
    if data.get("valid_to") and data["valid_to"] < data["valid_from"]:
        raise InvalidInput("valid_to is before valid_from", code="invalid_dates")
    _subject(session, principal, data["subject_type"], data["subject_id"])
    certificate = Certificate(org_id=principal.org_id, status="valid", **data)
    session.add(certificate)
    session.flush()
    bump_version(session)
    session.commit()
    return certificate


def certificate_query(principal: Principal):
    query = select(Certificate).order_by(Certificate.id)
    if reads_all(principal):
        return query
    # Certificates are static data Circular 02/2024 art. 6 wants open; a caller sees those
    # of the things it can see, plus its own.
    return query.where(or_(
        Certificate.org_id == principal.org_id,
        (Certificate.subject_type == "party") & Certificate.subject_id.in_(
            party_query(principal).with_only_columns(Party.id)),
        (Certificate.subject_type == "location") & Certificate.subject_id.in_(
            location_query(principal).with_only_columns(Location.id)),
        (Certificate.subject_type == "lot") & Certificate.subject_id.in_(
            select(Lot.id).where(lot_visibility(principal))),
        (Certificate.subject_type == "product") & Certificate.subject_id.in_(
            select(Product.id).where(Product.brand_org_id == principal.org_id))))


def list_certificates(session: Session, principal: Principal, subject_type: str | None = None,
                      subject_id: int | None = None) -> list[Certificate]:
    query = certificate_query(principal)
    if subject_type:
        query = query.where(Certificate.subject_type == subject_type)
    if subject_id is not None:
        query = query.where(Certificate.subject_id == subject_id)
    return list(session.scalars(query))


def get_certificate(session: Session, principal: Principal, cert_id: int) -> Certificate:
    certificate = session.scalar(certificate_query(principal).where(Certificate.id == cert_id))
    if certificate is None:
        raise NotFound(f"no certificate with id {cert_id}")
    return certificate


def revoke_certificate(session: Session, principal: Principal, cert_id: int,
                       reason: str) -> Certificate:
    certificate = get_certificate(session, principal, cert_id)
    if not (principal.is_admin or principal.role is Role.INSPECTOR
            or certificate.org_id == principal.org_id):
        raise NotFound(f"no certificate with id {cert_id}")
    if certificate.status == "revoked":
        raise Conflict("the certificate is already revoked", code="already_revoked")
    certificate.status, certificate.revoked_at = "revoked", utcnow()
    certificate.revoked_reason = reason
    bump_version(session)
    session.commit()
    return certificate


# -- lots ---------------------------------------------------------------------------------

def product_for_gtin(session: Session, gtin: str) -> Product | None:
    return session.scalar(select(Product).where(Product.gtin == gtin))


def _check_lot_dates(lot: Lot) -> None:
    if lot.harvest_start and lot.harvest_end and lot.harvest_end < lot.harvest_start:
        raise InvalidInput("harvest_end is before harvest_start", code="invalid_dates")
    made = lot.production_date or lot.harvest_end or lot.harvest_start
    for name in ("expiry_date", "best_before"):
        value = getattr(lot, name)
        if made and value and value < made:
            raise InvalidInput(f"{name} is before the production or harvest date",
                               code="invalid_dates")


def create_lot(session: Session, principal: Principal, data: dict) -> Lot:
    data = dict(data)
    gtin = normalize_gtin(data.pop("gtin"))
    codes.check_ai82(data["lot"], "lot (AI 10)")
    product = product_for_gtin(session, gtin)
    if product is None or not may_write_gtin(session, principal, product):
        raise InvalidInput(f"no product with GTIN {gtin} that you own or are authorised for",
                           code="unknown_gtin")
    location_id = data.pop("location_id", None)
    location = None
    if location_id is not None:
        location = session.get(Location, location_id)
        if location is None or not manages_location(principal, location):
            raise InvalidInput(f"no location with id {location_id} that you manage",
                               code="unknown_location")
    if data.get("quantity") is not None and data["quantity"] <= 0:
        raise InvalidInput("quantity must be more than zero", code="invalid_quantity")
    lot = Lot(product_id=product.id, gtin=gtin, created_by_org_id=principal.org_id,
              location_id=location.id if location else None,
              party_id=location.party_id if location else None, status="active", **data)
    _check_lot_dates(lot)
    session.add(lot)
    _unique(session, f"lot {data['lot']} of GTIN {gtin}")
    bump_version(session)
    session.commit()
    return lot


def lot_query(principal: Principal):
    query = select(Lot).order_by(Lot.id)
    clause = lot_visibility(principal)
    return query if clause is None else query.where(clause)


def list_lots(session: Session, principal: Principal, gtin: str | None = None,
              status: str | None = None, lot: str | None = None, limit: int = 500
              ) -> list[Lot]:
    query = lot_query(principal)
    if gtin:
        query = query.where(Lot.gtin == normalize_gtin(gtin))
    if lot:
        query = query.where(Lot.lot == lot)
    if status:
        query = query.where(Lot.status == status)
    return list(session.scalars(query.limit(limit)))


def get_lot(session: Session, principal: Principal, lot_id: int) -> Lot:
    lot = session.scalar(lot_query(principal).where(Lot.id == lot_id))
    if lot is None:
        raise NotFound(f"no lot with id {lot_id}")
    return lot


def find_lot(session: Session, principal: Principal, gtin: str, lot_code: str) -> Lot:
    gtin = normalize_gtin(gtin)
    lot = session.scalar(lot_query(principal).where(Lot.gtin == gtin, Lot.lot == lot_code))
    if lot is None:
        raise NotFound(f"no lot {lot_code} of GTIN {gtin}")
    return lot


def update_lot(session: Session, principal: Principal, lot_id: int, data: dict) -> Lot:
    lot = get_lot(session, principal, lot_id)
    if not (principal.is_admin or lot.created_by_org_id == principal.org_id
            or lot.product.brand_org_id == principal.org_id):
        raise NotFound(f"no lot with id {lot_id}")
    status = data.get("status")
    if status is not None:
        if lot.status == "recalled":
            raise Conflict("a recalled lot stays recalled", code="lot_recalled")
        if status not in ("active", "on_hold"):
            raise InvalidInput("status can be set to active or on_hold here; recall a lot "
                               "with POST /api/v1/trace/lots/{id}/recall",
                               code="invalid_status")
    if data.get("quantity") is not None and data["quantity"] <= 0:
        raise InvalidInput("quantity must be more than zero", code="invalid_quantity")
    for key, value in data.items():
        setattr(lot, key, value)
    _check_lot_dates(lot)
    lot.updated_at = utcnow()
    portal.enqueue(session, [lot.id])
    bump_version(session)
    session.commit()
    return lot


# -- partners -----------------------------------------------------------------------------

def add_partner(session: Session, principal: Principal, data: dict) -> TracePartner:
    partner = session.get(Organisation, data["partner_org_id"])
    if partner is None:
        raise InvalidInput(f"no organisation with id {data['partner_org_id']}",
                           code="unknown_org")
    product_id = None
    if data.get("gtin"):
        product = product_for_gtin(session, normalize_gtin(data["gtin"]))
        if product is None or (product.brand_org_id != principal.org_id
                               and not principal.is_admin):
            raise InvalidInput(f"no product with GTIN {data['gtin']} of yours",
                               code="unknown_gtin")
        product_id = product.id
        brand_org_id = product.brand_org_id
    else:
        brand_org_id = principal.org_id
    row = TracePartner(brand_org_id=brand_org_id, partner_org_id=partner.id,
                       product_id=product_id)
    session.add(row)
    session.commit()
    return row


def list_partners(session: Session, principal: Principal) -> list[TracePartner]:
    query = select(TracePartner).where(TracePartner.revoked_at.is_(None)).order_by(TracePartner.id)
    if not reads_all(principal):
        query = query.where(or_(TracePartner.brand_org_id == principal.org_id,
                                TracePartner.partner_org_id == principal.org_id))
    return list(session.scalars(query))


def revoke_partner(session: Session, principal: Principal, partner_id: int) -> TracePartner:
    row = session.get(TracePartner, partner_id)
    if row is None or (not principal.is_admin and row.brand_org_id != principal.org_id) \
            or row.revoked_at is not None:
        raise NotFound(f"no partner authorisation with id {partner_id}")
    row.revoked_at = utcnow()
    session.commit()
    return row


# -- presentation helpers shared by schemas and the public document -------------------------

def certificate_json(cert: Certificate, today: dt.date | None = None) -> dict[str, Any]:
    today = today or utcnow().date()
    return {"id": cert.id, "scheme": cert.scheme, "scheme_name": CERT_SCHEMES[cert.scheme]
            + (f" {cert.stars} sao" if cert.stars else ""),
            "stars": cert.stars, "number": cert.number, "issuer": cert.issuer,
            "subject_type": cert.subject_type, "subject_id": cert.subject_id,
            "valid_from": cert.valid_from.isoformat(),
            "valid_to": cert.valid_to.isoformat() if cert.valid_to else None,
            "document_url": cert.document_url, "status": cert.state_on(today)}
