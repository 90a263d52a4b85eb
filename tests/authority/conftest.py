"""Fixtures of the authority tests: province authorities (``make_authority`` in
tests/conftest.py) and a small Hưng Yên chain whose firm is reviewed."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import Actor, gtin14
from tests.trace.conftest import chain, gln, longan, ok, places, stamps  # noqa: F401

__all__ = ["gln", "ok"]


@pytest.fixture
def hung_yen(make_authority) -> Actor:
    return make_authority("33", "Sở Khoa học và Công nghệ Hưng Yên")


@pytest.fixture
def ha_noi(make_authority) -> Actor:
    return make_authority("01", "Sở Khoa học và Công nghệ Hà Nội")


@pytest.fixture
def firm(brand) -> dict:
    """The brand's own party, now declared in Hưng Yên (33)."""
    party = brand.get("/api/v1/trace/parties").get_json()[0]
    return ok(brand.patch(f"/api/v1/trace/parties/{party['id']}", json={
        "name": "HTX Nhãn lồng Tiên Lữ", "address": "Tiên Lữ, Hưng Yên", "province": "33",
        "gln": gln("893000000008")}), 200)


@pytest.fixture
def hy_chain(brand, firm) -> dict:
    """A growing area, a product with an image, a VietGAP certificate on the area, one
    harvested lot carrying three activated stamps."""
    from scanapp.serials.stamps import stamp_uri

    product = ok(brand.post("/api/v1/products", json={
        "gtin": gtin14("0893000000201"), "name": "Nhãn lồng Hưng Yên hộp 1 kg",
        "image_url": "https://img.example.vn/nhan.jpg", "category": "trái cây"}))
    farm = ok(brand.post("/api/v1/trace/locations", json={
        "gln": gln("893000000011"), "name": "Vùng trồng nhãn Tiên Lữ", "kind": "growing_area",
        "planting_area_code": "VN-HYLN-0099", "province": "33"}))
    today = dt.date.today()
    cert = ok(brand.post("/api/v1/trace/certificates", json={
        "scheme": "vietgap", "number": "VG-33-0099", "issuer": "Sở NN&MT Hưng Yên",
        "subject_type": "location", "subject_id": farm["id"],
        "valid_from": "2026-01-01",
        "valid_to": str(today + dt.timedelta(days=300))}))
    ok(brand.post("/api/v1/trace/events/harvest", json={
        "location_id": farm["id"], "gtin": product["gtin"], "lot": "NH2501", "quantity": 500,
        "unit": "KGM", "harvest_start": "2026-07-20", "harvest_end": "2026-07-22",
        "event_time": "2026-07-22T09:00:00+07:00"}))
    made = ok(brand.post("/api/v1/ranges", json={"gtin": product["gtin"], "quantity": 3,
                                                 "lot": "NH2501"}))
    for action in ("print", "activate"):
        ok(brand.post(f"/api/v1/ranges/{made['id']}/{action}", json={}), 200)
    csv = brand.get(f"/api/v1/ranges/{made['id']}/codes.csv")
    serials = [line.split(",")[0] for line in csv.get_data(as_text=True).splitlines()[1:]]
    csv.close()
    return {"product": product, "farm": farm, "cert": cert, "party": firm,
            "uris": [stamp_uri("https://scan.example.vn", product["gtin"], s, "NH2501")
                     for s in serials]}
