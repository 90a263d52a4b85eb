"""What a consumer (and the National Traceability Portal) may see of a lot.

``public_lot_view`` answers Circular 02/2024/TT-BKHCN's ten minimum items for one lot as one
JSON document (the mapping is in docs/TRACEABILITY.md); ``scan_summary`` is the short form
that rides on every scan answer.

Certificates: the scan summary carries only those valid today. The lot document (and the
stamp page drawn from it) also lists a certificate that has expired, marked
``"status": "expired"``: a consumer should see that the lot's VietGAP lapsed, not have it
silently dropped. Revoked, not-yet-valid and withheld (under review) certificates are never
shown. No certificate is ever presented as valid unless it is valid today.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..db import utcnow
from ..products.models import Product
from ..regions import PROVINCES
from ..serials.models import SerialRange
from . import codes, lineage
from .models import CERT_SCHEMES, Certificate, Location, Lot, LotEvent, Party
from .publication import withheld_ids

# Places where raw produce comes from: the "origin" a consumer asks about.
ORIGIN_KINDS = ("growing_area", "farm", "pond", "barn")
STEP_NAMES = {
    "commissioning": "Sản xuất", "harvest": "Thu hoạch", "transforming": "Chế biến",
    "packing": "Đóng gói", "shipping": "Xuất hàng", "receiving": "Nhận hàng",
    "inspecting": "Kiểm tra", "sampling": "Lấy mẫu kiểm nghiệm", "holding": "Thu hồi",
    "storing": "Lưu kho", "retail_selling": "Bán lẻ",
}
MAX_STAGES = 200
VN = dt.timezone(dt.timedelta(hours=7))


def _province(code: str | None) -> dict[str, Any]:
    province = PROVINCES.get(code or "")
    return {"province": code, "province_name": province.name if province else None}


def _date(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def find_lot(session: Session, gtin14: str, lot_code: str) -> Lot | None:
    return session.scalar(select(Lot).where(Lot.gtin == gtin14, Lot.lot == lot_code))


def origin_location(session: Session, lot: Lot, upstream: dict[int, int]) -> Location | None:
    """The farthest upstream farm-like place (growing area, farm, pond, barn), else the
    lot's own place."""
    ids = list(upstream) + [lot.id]
    rows = session.execute(
        select(Lot.id, Location).join(Location, Location.id == Lot.location_id)
        .where(Lot.id.in_(ids), Location.kind.in_(ORIGIN_KINDS))).all()
    if rows:
        rows.sort(key=lambda row: (upstream.get(row[0], 0), -row[0]), reverse=True)
        return rows[0][1]
    return lot.location


SHOWN_STATES = ("valid", "expired")


def valid_certificates(session: Session, subjects: dict[str, set[int]],
                       today: dt.date | None = None) -> list[Certificate]:
    """The subjects' certificates valid today (shown and not withheld)."""
    return shown_certificates(session, subjects, today, ("valid",))


def shown_certificates(session: Session, subjects: dict[str, set[int]],
                       today: dt.date | None = None,
                       states: tuple[str, ...] = SHOWN_STATES) -> list[Certificate]:
    """The subjects' certificates whose state today is one of ``states`` (valid, and by
    default expired too), valid ones first; never revoked, not yet valid or withheld."""
    today = today or utcnow().date()
    clauses = [(Certificate.subject_type == kind) & Certificate.subject_id.in_(ids)
               for kind, ids in subjects.items() if ids]
    if not clauses:
        return []
    found = session.scalars(select(Certificate).where(or_(*clauses))
                            .order_by(Certificate.id)).all()
    # Revoked, not-yet-valid and withheld (under review) certificates are never shown to a
    # consumer; an expired one only where the caller asks for it, marked expired.
    hidden = withheld_ids(session, "certificate", [cert.id for cert in found])
    shown = [cert for cert in found if cert.state_on(today) in states and cert.id not in hidden]
    shown.sort(key=lambda cert: cert.state_on(today) != "valid")  # stable: id order kept
    return shown


def shown_party(session: Session, party: Party | None) -> Party | None:
    """The party, unless its master data is withheld (under review)."""
    if party is None or withheld_ids(session, "party", [party.id]):
        return None
    return party


def shown_origin(session: Session, origin: Location | None) -> Location | None:
    """The origin place, unless the party owning it is withheld (under review)."""
    if origin is None or withheld_ids(session, "party", [origin.party_id]):
        return None
    return origin


def cert_json(cert: Certificate, today: dt.date | None = None) -> dict[str, Any]:
    """A certificate as a consumer sees it; ``status`` is its state today (valid, expired)."""
    name = CERT_SCHEMES[cert.scheme] + (f" {cert.stars} sao" if cert.stars else "")
    return {"scheme": cert.scheme, "scheme_name": name, "stars": cert.stars,
            "number": cert.number, "issuer": cert.issuer, "subject_type": cert.subject_type,
            "valid_from": _date(cert.valid_from), "valid_to": _date(cert.valid_to),
            "document_url": cert.document_url,
            "status": cert.state_on(today or utcnow().date())}


def party_json(party: Party | None) -> dict[str, Any] | None:
    if party is None:
        return None
    return {"name": party.name, "tax_code": party.tax_code, "gln": party.gln,
            "address": party.address, **_province(party.province)}


def place_json(location: Location | None) -> dict[str, Any] | None:
    if location is None:
        return None
    return {"name": location.name, "kind": location.kind, "gln": location.gln,
            "extension": location.extension or None,
            "planting_area_code": location.planting_area_code, "address": location.address,
            **_province(location.province), "lat": location.lat, "lon": location.lon}


def recall_json(session: Session, lot: Lot) -> dict[str, Any] | None:
    if lot.status != "recalled":
        return None
    by = lot.recalled_by.name if lot.recalled_by else None
    return {"reason": lot.recall_reason,
            "recalled_at": lot.recalled_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            if lot.recalled_at else None, "by": by}


def _subjects(session: Session, lot: Lot, upstream: dict[int, int],
              origin: Location | None) -> dict[str, set[int]]:
    lot_ids = set(upstream) | {lot.id}
    rows = session.execute(select(Lot.party_id, Lot.location_id, Lot.product_id)
                           .where(Lot.id.in_(lot_ids))).all()
    return {"lot": lot_ids, "product": {r.product_id for r in rows},
            "party": {r.party_id for r in rows if r.party_id},
            "location": {r.location_id for r in rows if r.location_id}
            | ({origin.id} if origin else set())}


def scan_summary(session: Session, gtin14: str, lot_code: str, base_url: str
                 ) -> dict[str, Any] | None:
    """The ``trace`` object of a scan answer (shape agreed in TEAM.md), or None."""
    lot = find_lot(session, gtin14, lot_code)
    if lot is None:
        return None
    upstream = lineage.ancestors(session, [lot.id])
    origin = origin_location(session, lot, upstream)
    producer = shown_party(session, lot.party)
    certs = valid_certificates(session, _subjects(session, lot, upstream, origin))
    origin = shown_origin(session, origin)
    return {
        "lot": {"code": lot.lot, "status": lot.status,
                "production_date": _date(lot.production_date),
                "harvest_start": _date(lot.harvest_start), "harvest_end": _date(lot.harvest_end),
                "expiry_date": _date(lot.expiry_date), "best_before": _date(lot.best_before)},
        "producer": ({"name": producer.name, "address": producer.address,
                      **_province(producer.province)} if producer else None),
        "origin": ({"name": origin.name, "kind": origin.kind, "gln": origin.gln,
                    "planting_area_code": origin.planting_area_code,
                    **_province(origin.province), "lat": origin.lat, "lon": origin.lon}
                   if origin else None),
        "certificates": [{k: v for k, v in cert_json(c).items()
                          if k in ("scheme", "scheme_name", "number", "issuer", "valid_from",
                                   "valid_to", "status")} for c in certs],
        "recall": recall_json(session, lot),
        "trace_url": f"{base_url}/api/v1/trace/public/lots/{gtin14}/{lot.lot}",
    }


def stages(session: Session, lot_ids: list[int]) -> list[dict[str, Any]]:
    """Every recorded stage of these lots, oldest first (Circular item 5)."""
    rows = session.execute(
        select(LotEvent, Lot.gtin, Lot.lot).join(Lot, Lot.id == LotEvent.lot_id)
        .where(LotEvent.lot_id.in_(lot_ids))
        .order_by(LotEvent.event_time, LotEvent.id).limit(MAX_STAGES)).all()
    hidden = withheld_ids(session, "party", [e.location.party_id for e, _g, _l in rows
                                             if e.location is not None]
                          + [e.dest_party_id for e, _g, _l in rows])
    out = []
    for event, gtin, lot_code in rows:
        step = event.biz_step or event.event_type
        if event.event_type == "TransformationEvent":
            if event.role == "input":
                continue  # the output's row tells the same step
            step = "transforming" if event.biz_step in (None, "commissioning") else step
        elif step == "commissioning" and event.details.get("harvest"):
            step = "harvest"
        place = event.location
        if place is not None and place.party_id in hidden:
            place = None  # its party's master data waits for review: time and code only
        actor = place.party.name if place is not None else None
        out.append({
            "step": step, "step_name": STEP_NAMES.get(step, step),
            "time": event.event_time.astimezone(VN).isoformat(timespec="minutes"),
            "place": ({"name": place.name, "gln": place.gln, **_province(place.province)}
                      if place else None),
            "actor": actor,
            "product_code": codes.lot_uri(gtin, lot_code),
            "location_code": codes.location_uri(place.gln, place.extension) if place else None,
            "quantity": float(event.quantity) if event.quantity is not None else None,
            "unit": event.unit, "document": event.document,
            "to": event.dest_party.name if event.dest_party
            and event.dest_party_id not in hidden else None,
            "event_id": event.event_id,
        })
    return out


def public_lot_view(session: Session, gtin14: str, lot_code: str) -> dict[str, Any] | None:
    """Circular 02/2024's ten items for one lot, plus certificates and recall; None when
    the lot has no trace record."""
    lot = find_lot(session, gtin14, lot_code)
    if lot is None:
        return None
    product: Product = lot.product
    upstream = lineage.ancestors(session, [lot.id])
    origin = origin_location(session, lot, upstream)
    producer = shown_party(session, lot.party)
    certs = shown_certificates(session, _subjects(session, lot, upstream, origin))
    origin = shown_origin(session, origin)
    # A product whose consumer-facing data waits for review keeps only its name (printed
    # on the pack anyway); images, standards, hotline and the rest wait.
    pending_product = bool(withheld_ids(session, "product", [product.id]))
    upstream_lots = session.execute(select(Lot.gtin, Lot.lot).where(
        Lot.id.in_(list(upstream)))).all() if upstream else []
    ranges = session.scalar(select(SerialRange.id).where(
        SerialRange.gtin == gtin14, SerialRange.lot == lot_code).limit(1))
    return {
        "gtin": gtin14, "lot": lot.lot, "status": lot.status,
        # (1) name, (2) images
        "name": product.name, "name_en": None if pending_product else product.name_en,
        "images": [product.image_url] if product.image_url and not pending_product else [],
        # (3) producer or trader, (4) its address
        "producer": party_json(producer),
        "address": producer.address if producer else None,
        "origin": place_json(origin),
        # (5) stages, each with product trace code, location trace code and time
        "stages": stages(session, sorted(set(upstream) | {lot.id})),
        # (6) production or trading time
        "production_time": {"production_date": _date(lot.production_date),
                            "harvest_start": _date(lot.harvest_start),
                            "harvest_end": _date(lot.harvest_end)},
        # (7) trace codes
        "trace_codes": {"gtin": gtin14, "lot": lot.lot,
                        "lot_uri": codes.lot_uri(gtin14, lot.lot),
                        "upstream": [codes.lot_uri(g, lo) for g, lo in upstream_lots]},
        # (8) brand, trademark, code, serial
        "brand": {"name": product.brand.name, "product_code": gtin14,
                  "serialised": ranges is not None,
                  "consumer_hotline": None if pending_product else product.consumer_hotline},
        # (9) shelf life
        "shelf_life": {"expiry_date": _date(lot.expiry_date),
                       "best_before": _date(lot.best_before),
                       "shelf_life_days": None if pending_product else product.shelf_life_days},
        # (10) standards applied
        "standards": [] if pending_product else list(product.standards or []),
        "category": None if pending_product else product.category,
        "country_of_origin": None if pending_product else product.country_of_origin,
        "certificates": [cert_json(c) for c in certs],
        "recall": recall_json(session, lot),
    }


def product_certificates(session: Session, gtin14: str) -> list[dict[str, Any]] | None:
    product = session.scalar(select(Product).where(Product.gtin == gtin14))
    if product is None:
        return None
    brand_parties = set(session.scalars(select(Party.id).where(
        Party.org_id == product.brand_org_id)))
    return [cert_json(c) for c in valid_certificates(
        session, {"product": {product.id}, "party": brand_parties})]
