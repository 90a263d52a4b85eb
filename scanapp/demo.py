"""Demo data for the embedded first run: organisations, keys and a product.

Keys are shown only once by design, so the demo keeps the ones it made in the instance
folder (development only) to print them again on the next run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from .auth import service as auth_service
from .auth.models import ApiKey, Role
from .db import session_scope
from .products.models import Product

DEMO_BRAND = "Demo Brand (Công ty Nước mắm Phú Quốc)"
DEMO_PRINTER = "Demo Printer (In ấn Sài Gòn)"
DEMO_INSPECTOR = "Demo Market Inspector (QLTT Hà Nội)"
DEMO_GTIN = "08934567890120"

DEMO_KEYS = (("admin", "Demo Admin"), ("brand", DEMO_BRAND), ("printer", DEMO_PRINTER),
             ("inspector", DEMO_INSPECTOR))


def _load_keys(app: Flask) -> dict[str, str]:
    path = Path(app.instance_path) / "demo-keys.json"
    keys = json.loads(path.read_text()) if path.exists() else {}
    with session_scope(app) as session:
        # Keys saved for another database (a different SCANAPP_DATABASE_URL) would not work.
        known = set(session.scalars(select(ApiKey.prefix).where(ApiKey.revoked_at.is_(None))))
    keys = {role: raw for role, raw in keys.items()
            if raw[:auth_service.PREFIX_LENGTH] in known}
    missing = [(role, org) for role, org in DEMO_KEYS if role not in keys]
    if missing:
        with session_scope(app) as session:
            for role, org in missing:
                _key, raw = auth_service.issue_key(session, org, Role(role), "demo")
                keys[role] = raw
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(keys, indent=2))
        path.chmod(0o600)
    return keys


def _ensure_product(app: Flask) -> Product:
    with session_scope(app) as session:
        product = session.scalar(select(Product).where(Product.gtin == DEMO_GTIN))
        if product is None:
            brand = auth_service.get_or_create_org(session, DEMO_BRAND)
            product = Product(
                gtin=DEMO_GTIN, brand_org_id=brand.id, name="Nước mắm Phú Quốc 40°N 500ml",
                name_en="Phu Quoc fish sauce 40°N 500ml",
                description_vi="Nước mắm truyền thống, ủ chượp 12 tháng trong thùng gỗ.",
                description_en="Traditional fish sauce, fermented 12 months in wooden barrels.",
                market_regions=["01", "79", "48"],
            )
            session.add(product)
            session.commit()
        return product


def seed_demo(app: Flask, echo: Callable[..., None] = print) -> dict:
    """Create the demo data when missing and print what a newcomer needs."""
    with app.app_context():
        keys = _load_keys(app)
        product = _ensure_product(app)
        info: dict = {"keys": keys, "product_id": product.id, "gtin": product.gtin}
        # Packages nothing may import (scanapp/authority) add their steps per app.
        for hook in DEMO_HOOKS + app.extensions.get("scanapp.demo_hooks", []):
            info.update(hook(app, info) or {})
    base = app.config["PUBLIC_BASE_URL"]
    echo("")
    echo("scanapp demo data is ready.")
    echo(f"  API docs:   {base}/api/docs")
    echo(f"  OpenAPI:    {base}/api/openapi.json")
    echo(f"  Product:    {product.name} (GTIN {product.gtin}, id {product.id})")
    for role, raw in keys.items():
        echo(f"  {role:<10}  Authorization: Bearer {raw}")
    for line in info.get("lines", []):
        echo(line)
    return info


# Later features add demo steps here: each takes (app, info) and returns extra info,
# with printable lines under "lines".
DEMO_HOOKS: list[Callable[[Flask, dict], dict | None]] = []

from .serials.demo import seed_serials  # noqa: E402  (a feature's step, after the list)

DEMO_HOOKS.append(seed_serials)

from .fraud.demo import seed_fraud  # noqa: E402  (after the serials step: it uses its range)

DEMO_HOOKS.append(seed_fraud)

from .trace.demo import seed_trace  # noqa: E402  (the longan chain, with its own stamps)

DEMO_HOOKS.append(seed_trace)

from .epcis.demo import show_epcis  # noqa: E402  (last: it counts the events the others made)

DEMO_HOOKS.append(show_epcis)
