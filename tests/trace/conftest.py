"""Fixtures of the trace tests: a longan chain's parties, places and products."""

from __future__ import annotations

import pytest

from tests.conftest import gtin14

FARM_GLN = "8930000000019"      # growing area (valid check digit)
PLANT_GLN = "8930000000026"     # processing plant
DIST_GLN = "8930000000033"      # distributor warehouse in Hà Nội
SHOP_GLN = "8930000000040"      # shop


def gln(body12: str) -> str:
    digits = [int(c) for c in body12]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return body12 + str((10 - total % 10) % 10)


@pytest.fixture
def longan(brand) -> dict:
    """Fresh longan (the brand's raw product) and dried longan packs."""
    fresh = brand.post("/api/v1/products", json={
        "gtin": gtin14("0893000000101"), "name": "Nhãn lồng Hưng Yên tươi"})
    dried = brand.post("/api/v1/products", json={
        "gtin": gtin14("0893000000102"), "name": "Long nhãn Hưng Yên hộp 500 g"})
    assert fresh.status_code == 201 and dried.status_code == 201, dried.get_json()
    return {"fresh": fresh.get_json()["gtin"], "dried": dried.get_json()["gtin"]}


@pytest.fixture
def places(brand, make_actor) -> dict:
    """The brand's growing area and plant; a distributor with its warehouse."""
    farm = brand.post("/api/v1/trace/locations", json={
        "gln": gln("893000000001"), "name": "Vùng trồng nhãn Tiên Lữ", "kind": "growing_area",
        "planting_area_code": "VN-HYLN-0012", "province": "33", "lat": 20.66, "lon": 106.13})
    plant = brand.post("/api/v1/trace/locations", json={
        "gln": gln("893000000002"), "name": "Xưởng sấy long nhãn", "kind": "factory",
        "province": "33"})
    assert farm.status_code == 201, farm.get_json()
    assert plant.status_code == 201, plant.get_json()
    distributor = make_actor("brand", "Công ty Phân phối Hà Nội")
    dist_party = distributor.get("/api/v1/trace/parties").get_json()[0]
    patched = distributor.patch(f"/api/v1/trace/parties/{dist_party['id']}", json={
        "gln": gln("893000000009"), "address": "Long Biên, Hà Nội", "province": "01"})
    assert patched.status_code == 200, patched.get_json()
    warehouse = distributor.post("/api/v1/trace/locations", json={
        "gln": gln("893000000003"), "name": "Kho Long Biên", "kind": "warehouse",
        "province": "01"})
    assert warehouse.status_code == 201, warehouse.get_json()
    return {"farm": farm.get_json(), "plant": plant.get_json(),
            "warehouse": warehouse.get_json(), "distributor": distributor,
            "dist_party": patched.get_json()}


def ok(response, status=201):
    assert response.status_code == status, response.get_json()
    return response.get_json()


@pytest.fixture
def chain(brand, longan, places) -> dict:
    """Two farm lots harvested, dried together into one lot, shipped to the distributor
    in Hà Nội, who receives it at its warehouse."""
    farm, plant = places["farm"], places["plant"]
    fresh, dried = longan["fresh"], longan["dried"]
    for lot, start in (("NH2407A", "2026-07-20"), ("NH2407B", "2026-07-22")):
        ok(brand.post("/api/v1/trace/events/harvest", json={
            "location_id": farm["id"], "gtin": fresh, "lot": lot, "quantity": 1000,
            "unit": "KGM", "harvest_start": start, "harvest_end": "2026-07-25",
            "event_time": "2026-07-25T09:00:00+07:00"}))
    ok(brand.post("/api/v1/trace/events/transformation", json={
        "location_id": plant["id"], "event_time": "2026-07-28T15:00:00+07:00",
        "inputs": [{"gtin": fresh, "lot": "NH2407A", "quantity": 1000},
                   {"gtin": fresh, "lot": "NH2407B", "quantity": 800}],
        "outputs": [{"gtin": dried, "lot": "LN2408", "quantity": 600, "unit": "H87",
                     "production_date": "2026-07-28", "expiry_date": "2027-07-28"}]}))
    dist_party = places["dist_party"]
    warehouse = places["warehouse"]
    ok(brand.post("/api/v1/trace/events/shipment", json={
        "location_id": plant["id"], "event_time": "2026-08-01T08:00:00+07:00",
        "items": [{"gtin": dried, "lot": "LN2408", "quantity": 400, "unit": "H87"}],
        "to_party_id": dist_party["id"], "to_location_id": warehouse["id"],
        "document": "PXK-2026-0815"}))
    ok(places["distributor"].post("/api/v1/trace/events/receipt", json={
        "location_id": warehouse["id"], "event_time": "2026-08-01T16:00:00+07:00",
        "items": [{"gtin": dried, "lot": "LN2408", "quantity": 400, "unit": "H87"}],
        "document": "PXK-2026-0815"}))
    return {"fresh": fresh, "dried": dried, **places}


@pytest.fixture
def stamps(brand, chain):
    """An activated range of 3 stamps on the dried-longan lot; returns their URIs."""
    from scanapp.serials.stamps import stamp_uri

    made = ok(brand.post("/api/v1/ranges", json={"gtin": chain["dried"], "quantity": 3,
                                                 "lot": "LN2408"}))
    for action in ("print", "activate"):
        ok(brand.post(f"/api/v1/ranges/{made['id']}/{action}", json={}), 200)
    csv = brand.get(f"/api/v1/ranges/{made['id']}/codes.csv")
    serials = [line.split(",")[0] for line in csv.get_data(as_text=True).splitlines()[1:]]
    csv.close()
    return {"range_id": made["id"],
            "uris": [stamp_uri("https://scan.example.vn", chain["dried"], s, "LN2408")
                     for s in serials]}
