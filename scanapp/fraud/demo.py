"""Demo step: a cloned stamp and a small counterfeit cluster, so that the inspectors'
dashboard has something to show on the first run.

The last code of the demo range is "cloned": scanned within seconds from phones in Hà Nội,
Đà Nẵng and Hồ Chí Minh City through the real scan service, which flags it. Six forged
codes are scanned in Cần Thơ (a hotspot). The demo stamp printed in the terminal (the first
code) is left untouched. Idempotent: nothing is added once the clone is flagged.
"""

from __future__ import annotations

import random

from flask import Flask
from sqlalchemy import select

from ..db import session_scope
from ..regions import PROVINCES
from ..serials.codec import ALPHABET
from ..services import services
from .models import Flag

CLONE_PROVINCES = ("01", "48", "79", "79", "92", "01")
FORGED_IN = "92"


def seed_fraud(app: Flask, info: dict) -> dict:
    base = app.config["PUBLIC_BASE_URL"]
    lines = list(info.get("lines", [])) + [
        "", f"  Inspectors: {base}/inspect/ (sign in with the inspector key above)"]
    range_id = info.get("demo_range_id")
    if range_id is None:
        return {"lines": lines}
    from ..scan.service import ScanRequest, verify_scan
    from ..serials.models import SerialRange
    from ..serials.stamps import stamp_uri

    with session_scope(app) as session:
        rng = session.get(SerialRange, range_id)
        serial = services(app).codec.encode(rng.start_seq + rng.quantity - 1, rng.gtin,
                                             rng.lot, key_id=rng.key_id)
        uri = stamp_uri(base, rng.gtin, serial, rng.lot, rng.expiry)
        gtin = rng.gtin
        flagged = session.scalar(select(Flag.id).where(Flag.serial == serial)) is not None
    if not flagged:
        for i, province in enumerate(CLONE_PROVINCES):
            p = PROVINCES[province]
            result = verify_scan(app, ScanRequest(code=uri, lat=p.lat, lon=p.lon,
                                                  device_id=f"demo-clone-phone-{i}"))
            if result.verdict == "counterfeit":  # the range index has not caught up
                return {"lines": lines}
        rnd = random.Random(2026)
        p = PROVINCES[FORGED_IN]
        for i in range(6):
            fake = "1" + "".join(rnd.choice(ALPHABET) for _ in range(19))
            verify_scan(app, ScanRequest(code=stamp_uri(base, gtin, fake, None, None),
                                         lat=p.lat + rnd.uniform(-0.01, 0.01),
                                         lon=p.lon + rnd.uniform(-0.01, 0.01),
                                         device_id=f"demo-fake-phone-{i}"))
    lines.append(f"    a cloned demo code: {base}/inspect/codes/{serial}; "
                 f"a counterfeit hotspot in {PROVINCES[FORGED_IN].name}")
    return {"demo_cloned_serial": serial, "lines": lines}
