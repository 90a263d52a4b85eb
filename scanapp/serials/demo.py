"""Demo step: the demo printer is authorised for the demo brand, and a small range of the
demo product is issued, printed and activated, so a newcomer can scan a stamp at once."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from ..auth.models import ApiKey, Role
from ..auth.service import Principal, get_or_create_org
from ..db import session_scope
from ..products.models import PrinterAuthorisation
from ..services import services
from . import service
from .qr import terminal
from .stamps import stamp_uri

DEMO_QUANTITY = 12
DEMO_LOT = "DEMO2026"
IDEMPOTENCY_KEY = "scanapp-demo-range"


def _principal(session, org_name: str, role: Role) -> Principal:
    org = get_or_create_org(session, org_name)
    key = session.scalar(select(ApiKey).where(ApiKey.org_id == org.id, ApiKey.role == role)
                         .order_by(ApiKey.id).limit(1))
    return Principal(key_id=key.id if key else 0, org_id=org.id, org_name=org.name,
                     role=role)


def seed_serials(app: Flask, info: dict) -> dict:
    # The organisation names come in ``info`` (scanapp/demo.py made them): this step does
    # not import the demo that calls it.
    with session_scope(app) as session:
        brand = _principal(session, info["brand_name"], Role.BRAND)
        printer = _principal(session, info["printer_name"], Role.PRINTER)
        granted = session.scalar(select(PrinterAuthorisation.id).where(
            PrinterAuthorisation.brand_org_id == brand.org_id,
            PrinterAuthorisation.printer_org_id == printer.org_id,
            PrinterAuthorisation.revoked_at.is_(None)))
        if granted is None:
            session.add(PrinterAuthorisation(brand_org_id=brand.org_id,
                                             printer_org_id=printer.org_id))
            session.commit()
        issued, _created = service.issue_range(
            session, printer, {"gtin": info["gtin"], "quantity": DEMO_QUANTITY,
                               "lot": DEMO_LOT, "pin": True}, IDEMPOTENCY_KEY)
        if issued.status == "issued":
            service.transition(session, printer, issued.id, "print", {})
        if issued.status == "printed":
            service.transition(session, brand, issued.id, "activate",
                               {"reason": "demo goods released"})
        serial = services(app).codec.encode(issued.start_seq, issued.gtin, issued.lot,
                                       key_id=issued.key_id)
        uri = stamp_uri(app.config["PUBLIC_BASE_URL"], issued.gtin, serial, issued.lot,
                        issued.expiry)
        range_id = issued.id
    lines = [
        "",
        f"  Demo range: {DEMO_QUANTITY} activated stamps (id {range_id}, lot {DEMO_LOT}, "
        "with scratch-off PINs)",
        f"    codes:    GET /api/v1/ranges/{range_id}/codes.csv (printer or brand key)",
        f"    labels:   GET /api/v1/ranges/{range_id}/labels.pdf",
        f"  A stamp:    {uri}",
        terminal(uri).rstrip("\n"),
    ]
    return {"demo_range_id": range_id, "demo_stamp_uri": uri,
            "lines": list(info.get("lines", [])) + lines}
