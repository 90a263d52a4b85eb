"""Demo step: Hưng Yên's authority (a key printed by the demo) and a sloppier producer.

Runs after the longan chain (``scanapp/trace/demo.py``), so the chain, made before any
authority joined, stays published and clean. Then the Department of Science and
Technology of Hưng Yên joins (review switched on for the province) and "Cơ sở Long nhãn
Hưng Phát" registers: its data waits in the review queue, and its records trip several
data-quality rules: a planting-area code copied from the cooperative, a GTIN under the
cooperative's company prefix, a VietGAP certificate expired before its harvest, a kiln
that puts out more dried longan than the fresh longan that went in, and a stamped product
whose lot never moved after harvest (a label, not a trace). Idempotent.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from ..auth import service as auth_service
from ..auth.models import ApiKey, Role
from ..auth.service import Principal, get_or_create_org
from ..db import session_scope
from ..gs1 import with_check_digit
from ..products.models import Product
from ..trace import events, service
from ..trace.access import org_party
from ..trace.demo import vn_time
from ..trace.models import Location, Lot
from . import rules
from .scope import assign_scope

AUTHORITY = "Sở Khoa học và Công nghệ Hưng Yên"
SLOPPY = "Cơ sở Long nhãn Hưng Phát (Hưng Yên)"

# Under the cooperative's prefix 89360120: not this producer's (its GLNs are 89360990...).
BORROWED_GTIN = with_check_digit("0893601200091")
DRIED_GTIN = with_check_digit("0893609900021")
BAG_GTIN = with_check_digit("0893609900038")


def _authority_key(app: Flask) -> str:
    path = Path(app.instance_path) / "demo-authority-key.json"
    saved = json.loads(path.read_text()).get("authority") if path.exists() else None
    with session_scope(app) as session:
        if saved and session.scalar(select(ApiKey.id).where(
                ApiKey.prefix == saved[:auth_service.PREFIX_LENGTH],
                ApiKey.revoked_at.is_(None))):
            return saved
        _key, raw = auth_service.issue_key(session, AUTHORITY, Role.AUTHORITY, "demo",
                                           province="33", assign_scope=assign_scope)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"authority": raw}))
    path.chmod(0o600)
    return raw

def _sloppy_producer(app: Flask) -> None:
    with session_scope(app) as session:
        if session.scalar(select(Product.id).where(Product.gtin == BAG_GTIN)):
            return
        org = get_or_create_org(session, SLOPPY)
        who = Principal(key_id=0, org_id=org.id, org_name=org.name, role=Role.BRAND)
        party = org_party(session, org.id)
        party.gln = with_check_digit("893609900001")
        party.tax_code, party.province = "0900999888", "33"
        party.address = "Xã Hưng Đạo, huyện Tiên Lữ, Hưng Yên"
        session.commit()
        farm = service.create_location(session, who, {
            "gln": with_check_digit("893609900011"), "name": "Vườn nhãn Hưng Phát", "kind": "farm",
            # Copied from the cooperative's growing area: the rule 'shared_code'.
            "planting_area_code": "VN-HYLN-0012", "province": "33",
            "address": "Xã Hưng Đạo, Tiên Lữ"})
        kiln = service.create_location(session, who, {
            "gln": with_check_digit("893609900012"), "name": "Lò sấy Hưng Phát", "kind": "factory",
            "province": "33"})
        for gtin, name in ((BORROWED_GTIN, "Nhãn lồng tươi Hưng Phát"),
                           (DRIED_GTIN, "Long nhãn sấy Hưng Phát"),
                           (BAG_GTIN, "Nhãn lồng Hưng Phát túi 1 kg")):
            session.add(Product(gtin=gtin, brand_org_id=org.id, name=name,
                                category="Trái cây tươi" if gtin != DRIED_GTIN
                                else "Nông sản chế biến", market_regions=["33", "01"]))
        session.commit()
        service.create_certificate(session, who, {
            "scheme": "vietgap", "number": "VietGAP-TT-33-05-0456",
            "issuer": "Trung tâm Chứng nhận VietGAP", "subject_type": "location",
            "subject_id": farm.id, "valid_from": dt.date(2023, 7, 1),
            "valid_to": dt.date(2026, 6, 30)})  # expired before the harvest below

        def rec(kind, **data):
            events.record(session, who, kind, data)

        rec("harvest", location_id=farm.id, gtin=BORROWED_GTIN, lot="HP2608", quantity=500,
            unit="KGM", harvest_start=dt.date(2026, 8, 5), country_of_origin="VN",
            event_time=vn_time("2026-08-05", 16))
        rec("harvest", location_id=farm.id, gtin=BAG_GTIN, lot="HPT2608", quantity=200,
            unit="KGM", harvest_start=dt.date(2026, 8, 5), country_of_origin="VN",
            event_time=vn_time("2026-08-05", 17))
        # 200 kg of fresh longan cannot dry into 300 kg: 'output_exceeds_input'.
        rec("transformation", location_id=kiln.id, step="processing",
            event_time=vn_time("2026-08-07", 18),
            inputs=[{"gtin": BORROWED_GTIN, "lot": "HP2608", "quantity": 200, "unit": "KGM"}],
            outputs=[{"gtin": DRIED_GTIN, "lot": "HPK2608", "quantity": 300, "unit": "KGM",
                      "production_date": dt.date(2026, 8, 7)}])
        from ..serials import service as serials

        bag = session.scalar(select(Product).where(Product.gtin == BAG_GTIN))
        issued, _ = serials.issue_range(session, who, {
            "gtin": bag.gtin, "quantity": 20, "lot": "HPT2608"}, "authority-demo-bag")
        serials.transition(session, who, issued.id, "print", {})
        serials.transition(session, who, issued.id, "activate", {})
        session.commit()


def seed_authority(app: Flask, info: dict) -> dict:
    with app.app_context():
        key = _authority_key(app)
        _sloppy_producer(app)
        with session_scope(app) as session:
            rules.run(session, None, found_by="nightly")
            session.commit()
            sloppy_lots = session.scalar(select(Lot.id).join(
                Location, Location.id == Lot.location_id).where(
                Location.gln == with_check_digit("893609900011")).limit(1))
    base = app.config["PUBLIC_BASE_URL"]
    return {"authority_key": key, "lines": list(info.get("lines", [])) + [
        "",
        "  Authority demo (Sở KH&CN Hưng Yên, docs/AUTHORITY.md):",
        f"    authority   Authorization: Bearer {key}",
        f"    web pages:  {base}/authority/login (sign in with the authority key)",
        f"    a sloppier producer, {SLOPPY}, waits for review and trips several rules"
        + ("" if sloppy_lots else " (not created)"),
        f"    curl -H 'Authorization: Bearer {key}' {base}/api/v1/authority/findings",
        "    flask --app scanapp authority check",
    ]}
