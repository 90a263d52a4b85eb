"""The demo step: a flagged clone and a hotspot appear for the dashboard, once."""

from __future__ import annotations

from scanapp.demo import DEMO_BRAND, DEMO_PRINTER
from scanapp.fraud.demo import FORGED_IN, seed_fraud
from scanapp.serials.demo import seed_serials
from tests.conftest import gtin14

# What scanapp/demo.py hands its steps (the demo organisations' names).
DEMO_ORGS = {"brand_name": DEMO_BRAND, "printer_name": DEMO_PRINTER}


def test_demo_step_flags_a_clone_and_makes_a_hotspot_once(app, make_actor, inspector):
    brand = make_actor("brand", DEMO_BRAND)
    make_actor("printer", DEMO_PRINTER)
    product = brand.post("/api/v1/products", json={"gtin": gtin14("0893111111111"),
                                                   "name": "Demo",
                                                   "market_regions": ["01"]}).get_json()
    with app.app_context():
        info = seed_serials(app, {**DEMO_ORGS, "gtin": product["gtin"]})
        first = seed_fraud(app, info)
        again = seed_fraud(app, info)
    assert first["demo_cloned_serial"] == again["demo_cloned_serial"]
    assert any("/inspect/" in line for line in first["lines"])
    flags = inspector.get("/api/v1/flags").get_json()
    assert [f["serial"] for f in flags["items"]] == [first["demo_cloned_serial"]]
    assert "impossible_travel" in flags["items"][0]["reasons"]
    # The stamp the demo prints for newcomers is not the clone.
    assert first["demo_cloned_serial"] not in info["demo_stamp_uri"]
    spots = inspector.get("/api/v1/hotspots").get_json()
    assert [p["province"] for p in spots["provinces"] if p["hotspot"]] == [FORGED_IN]
    assert spots["provinces"][0]["forged"] == 6
