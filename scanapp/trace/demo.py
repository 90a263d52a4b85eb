"""Demo step: a Hưng Yên longan chain, from the growing area to shops in Hà Nội.

A cooperative harvests three lots of fresh longan in a VietGAP growing area (with its
planting-area code); a processing plant dries two of them into long nhãn (a
transformation) and packs it into 500 g boxes carrying stamps (OCOP 4 stars); the boxes
go on a pallet to a distributor in Hà Nội, then to two shops, where a few stamps are
scanned. The third farm lot is dried separately, fails a lab test and is recalled with
everything made from it. Idempotent: a database that has the chain keeps it.
"""

from __future__ import annotations

import datetime as dt

from flask import Flask
from sqlalchemy import select

from ..auth.models import ApiKey, Role
from ..auth.service import Principal, get_or_create_org
from ..db import session_scope
from ..gs1 import with_check_digit
from ..products.models import Product
from . import events, recall, service
from .access import org_party
from .models import Location, Lot, Party

COOP = "HTX Nhãn lồng Tiên Lữ (Hưng Yên)"
PLANT = "Công ty CP Chế biến Nông sản Phố Hiến"
DISTRIBUTOR = "Công ty TNHH Phân phối Nông sản Thủ Đô"
SHOPS = "Chuỗi cửa hàng Đặc sản Quê Hương"
VN = dt.timezone(dt.timedelta(hours=7))

FRESH_GTIN = with_check_digit("0893601200001")
DRIED_GTIN = with_check_digit("0893601200002")
BOX_GTIN = with_check_digit("0893601200003")
BOX_LOT = "LN2608H"
RECALLED_LOT = "NH2607C"


def _gln(n: int) -> str:
    return with_check_digit(f"89360120{n:04d}")


def _principal(session, name: str) -> Principal:
    org = get_or_create_org(session, name)
    key = session.scalar(select(ApiKey).where(ApiKey.org_id == org.id).limit(1))
    return Principal(key_id=key.id if key else 0, org_id=org.id, org_name=org.name,
                     role=Role.BRAND)


def vn_time(day: str, hour: int = 8) -> dt.datetime:
    """``hour`` o'clock on ``day`` (ISO date) in Vietnam (UTC+7); the demos' clock."""
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=VN)


def _party(session, principal: Principal, gln: str, tax: str, address: str,
           province: str, phone: str) -> Party:
    party = org_party(session, principal.org_id)
    party.gln, party.tax_code, party.address, party.province = gln, tax, address, province
    party.phone = phone
    session.commit()
    return party


def _place(session, principal, **fields) -> Location:
    found = session.scalar(select(Location).where(Location.gln == fields["gln"]))
    return found or service.create_location(session, principal, fields)


def _product(session, brand: Principal, gtin: str, name: str, **extra) -> Product:
    found = session.scalar(select(Product).where(Product.gtin == gtin))
    if found is None:
        found = Product(gtin=gtin, brand_org_id=brand.org_id, name=name,
                        market_regions=["01", "33"], **extra)
        session.add(found)
        session.commit()
    return found


def seed_trace(app: Flask, info: dict) -> dict:
    with app.app_context(), session_scope(app) as session:
        if session.scalar(select(Lot.id).where(Lot.gtin == BOX_GTIN, Lot.lot == BOX_LOT)):
            return {"lines": _lines(app, info)}
        coop, plant = _principal(session, COOP), _principal(session, PLANT)
        dist, shops = _principal(session, DISTRIBUTOR), _principal(session, SHOPS)
        _party(session, coop, _gln(1), "0900123456", "Xã Hải Triều, huyện Tiên Lữ",
               "33", "0221 3871 234")
        _party(session, plant, _gln(2), "0900234567", "Phường Hiến Nam, TP Hưng Yên",
               "33", "0221 3862 555")
        dist_party = _party(session, dist, _gln(3), "0109876543",
                            "Phường Long Biên, Hà Nội", "01", "024 3872 6688")
        shop_party = _party(session, shops, _gln(4), "0108765432-001",
                            "Phường Hoàn Kiếm, Hà Nội", "01", "024 3926 1155")
        fresh = _product(session, coop, FRESH_GTIN, "Nhãn lồng Hưng Yên tươi",
                         category="Trái cây tươi", country_of_origin="VN", unit="kg",
                         shelf_life_days=7, standards=["TCVN 12827:2023", "VietGAP"])
        _product(session, coop, DRIED_GTIN, "Long nhãn Hưng Yên sấy (hàng rời)",
                 category="Nông sản chế biến", country_of_origin="VN", unit="kg",
                 shelf_life_days=365, standards=["TCVN 12850:2019"])
        box = _product(session, coop, BOX_GTIN, "Long nhãn Hưng Yên hộp 500 g",
                       category="Nông sản chế biến", country_of_origin="VN", unit="hộp",
                       shelf_life_days=365, consumer_hotline="1800 6868",
                       standards=["TCVN 12850:2019", "TCVN 12827:2023", "HACCP"],
                       description_vi="Long nhãn sấy thủ công từ nhãn lồng Tiên Lữ, "
                                      "đạt OCOP 4 sao.")
        service.add_partner(session, coop, {"partner_org_id": plant.org_id})
        farm = _place(session, coop, gln=_gln(11), name="Vùng trồng nhãn lồng Hải Triều",
                      kind="growing_area", planting_area_code="VN-HYLN-0012",
                      address="Thôn Hải Yến, xã Hải Triều, Tiên Lữ", province="33",
                      lat=20.6583, lon=106.1292)
        factory = _place(session, plant, gln=_gln(12), name="Xưởng sấy long nhãn Phố Hiến",
                         kind="factory", address="KCN Phố Nối, Hưng Yên", province="33",
                         lat=20.9322, lon=106.0455)
        warehouse = _place(session, dist, gln=_gln(13), name="Kho tổng Long Biên",
                           kind="warehouse", address="Ngọc Thụy, Long Biên, Hà Nội",
                           province="01", lat=21.0568, lon=105.8676)
        store_a = _place(session, shops, gln=_gln(14), name="Cửa hàng Hàng Đường",
                         kind="store", address="Số 48 Hàng Đường, Hoàn Kiếm, Hà Nội",
                         province="01", lat=21.0358, lon=105.8497)
        store_b = _place(session, shops, gln=_gln(15), name="Cửa hàng Cầu Giấy",
                         kind="store", address="Số 120 Xuân Thủy, Cầu Giấy, Hà Nội",
                         province="01", lat=21.0369, lon=105.7846)
        for cert in (
            {"scheme": "vietgap", "number": "VietGAP-TT-33-07-0012",
             "issuer": "Trung tâm Chứng nhận VietGAP", "subject_type": "location",
             "subject_id": farm.id, "valid_from": dt.date(2025, 3, 1),
             "valid_to": dt.date(2028, 2, 28)},
            {"scheme": "ocop", "stars": 4, "number": "OCOP-HY-2025-031",
             "issuer": "UBND tỉnh Hưng Yên", "subject_type": "product",
             "subject_id": box.id, "valid_from": dt.date(2025, 6, 1),
             "valid_to": dt.date(2028, 5, 31)},
        ):
            service.create_certificate(session, coop, cert)
        service.create_certificate(session, plant, {
            "scheme": "food_safety_facility", "number": "ATTP-HY-2025-118",
            "issuer": "Chi cục Quản lý chất lượng Nông Lâm sản và Thủy sản Hưng Yên",
            "subject_type": "location", "subject_id": factory.id,
            "valid_from": dt.date(2025, 1, 15), "valid_to": dt.date(2028, 1, 14)})

        def rec(who, kind, **data):
            events.record(session, who, kind, data)

        for lot, day in (("NH2607A", "2026-07-20"), ("NH2607B", "2026-07-22"),
                         (RECALLED_LOT, "2026-07-24")):
            rec(coop, "harvest", location_id=farm.id, gtin=fresh.gtin, lot=lot,
                quantity=2500, unit="KGM", harvest_start=dt.date.fromisoformat(day),
                harvest_end=dt.date.fromisoformat(day) + dt.timedelta(days=2),
                country_of_origin="VN", event_time=vn_time(day, 17))
        rec(coop, "shipment", location_id=farm.id, to_party_id=None,
            to_location_id=factory.id, document="PXK-HTX-0726", event_time=vn_time("2026-07-26"),
            items=[{"gtin": fresh.gtin, "lot": lot, "quantity": 2500, "unit": "KGM"}
                   for lot in ("NH2607A", "NH2607B", RECALLED_LOT)])
        rec(plant, "transformation", location_id=factory.id, step="processing",
            transformation_id="urn:uuid:6f1c2a40-2608-4a8e-9d1e-000000000001",
            event_time=vn_time("2026-07-28", 18),
            inputs=[{"gtin": fresh.gtin, "lot": "NH2607A", "quantity": 2500, "unit": "KGM"},
                    {"gtin": fresh.gtin, "lot": "NH2607B", "quantity": 2500, "unit": "KGM"}],
            outputs=[{"gtin": DRIED_GTIN, "lot": "LNK2608", "quantity": 520, "unit": "KGM",
                      "production_date": dt.date(2026, 7, 28)}])
        rec(plant, "transformation", location_id=factory.id, step="processing",
            transformation_id="urn:uuid:6f1c2a40-2608-4a8e-9d1e-000000000002",
            event_time=vn_time("2026-07-29", 18),
            inputs=[{"gtin": fresh.gtin, "lot": RECALLED_LOT, "quantity": 2500,
                     "unit": "KGM"}],
            outputs=[{"gtin": DRIED_GTIN, "lot": "LNK2609", "quantity": 260, "unit": "KGM",
                      "production_date": dt.date(2026, 7, 29)}])
        rec(plant, "transformation", location_id=factory.id, step="packing",
            transformation_id="urn:uuid:6f1c2a40-2608-4a8e-9d1e-000000000003",
            event_time=vn_time("2026-08-02", 10),
            inputs=[{"gtin": DRIED_GTIN, "lot": "LNK2608", "quantity": 500, "unit": "KGM"}],
            outputs=[{"gtin": box.gtin, "lot": BOX_LOT, "quantity": 1000, "unit": "H87",
                      "production_date": dt.date(2026, 8, 2),
                      "expiry_date": dt.date(2027, 8, 2)}])
        rec(plant, "transformation", location_id=factory.id, step="packing",
            transformation_id="urn:uuid:6f1c2a40-2608-4a8e-9d1e-000000000004",
            event_time=vn_time("2026-08-03", 10),
            inputs=[{"gtin": DRIED_GTIN, "lot": "LNK2609", "quantity": 250, "unit": "KGM"}],
            outputs=[{"gtin": box.gtin, "lot": "LN2609H", "quantity": 500, "unit": "H87",
                      "production_date": dt.date(2026, 8, 3),
                      "expiry_date": dt.date(2027, 8, 3)}])
        rec(plant, "packing", location_id=factory.id, sscc=with_check_digit("08936012000000001"),
            event_time=vn_time("2026-08-04", 9),
            items=[{"gtin": box.gtin, "lot": BOX_LOT, "quantity": 1000, "unit": "H87"}])
        rec(plant, "shipment", location_id=factory.id, to_party_id=dist_party.id,
            to_location_id=warehouse.id, document="PXK-PH-2608-015",
            event_time=vn_time("2026-08-04", 14),
            items=[{"gtin": box.gtin, "lot": BOX_LOT, "quantity": 1000, "unit": "H87"},
                   {"gtin": box.gtin, "lot": "LN2609H", "quantity": 500, "unit": "H87"}])
        rec(dist, "receipt", location_id=warehouse.id, document="PXK-PH-2608-015",
            event_time=vn_time("2026-08-04", 19),
            items=[{"gtin": box.gtin, "lot": BOX_LOT, "quantity": 1000, "unit": "H87"},
                   {"gtin": box.gtin, "lot": "LN2609H", "quantity": 500, "unit": "H87"}])
        for store, qty, hour in ((store_a, 600, 8), (store_b, 400, 10)):
            rec(dist, "shipment", location_id=warehouse.id, to_party_id=shop_party.id,
                to_location_id=store.id, document=f"PXK-TD-0805-{store.id}",
                event_time=vn_time("2026-08-05", hour),
                items=[{"gtin": box.gtin, "lot": BOX_LOT, "quantity": qty, "unit": "H87"}])
            rec(shops, "receipt", location_id=store.id, document=f"PXK-TD-0805-{store.id}",
                event_time=vn_time("2026-08-05", hour + 3),
                items=[{"gtin": box.gtin, "lot": BOX_LOT, "quantity": qty, "unit": "H87"}])
        rec(plant, "inspection", location_id=factory.id, result="fail",
            document="KQ-TN-2026-0811", event_time=vn_time("2026-08-06", 15),
            note="Dư lượng Chlorpyrifos vượt giới hạn tối đa (MRL)",
            items=[{"gtin": DRIED_GTIN, "lot": "LNK2609", "quantity": 1, "unit": "KGM"}])
        stamp_uris = _stamps(app, session, coop, box)
        recalled = session.scalar(select(Lot).where(Lot.gtin == fresh.gtin,
                                                    Lot.lot == RECALLED_LOT))
        recall.recall_lot(session, coop, recalled.id,
                          "Dư lượng thuốc bảo vệ thực vật vượt ngưỡng (phiếu KQ-TN-2026-0811)")
        _scan(app, stamp_uris)
    return {"lines": _lines(app, info)}


def _stamps(app: Flask, session, coop: Principal, box: Product) -> list[str]:
    from ..serials import service as serials
    from ..serials.stamps import stamp_uri
    from ..services import services

    uris = []
    for lot, expiry in ((BOX_LOT, dt.date(2027, 8, 2)), ("LN2609H", dt.date(2027, 8, 3))):
        issued, _ = serials.issue_range(session, coop, {
            "gtin": box.gtin, "quantity": 50, "lot": lot, "expiry": expiry},
            f"trace-demo-{lot}")
        serials.transition(session, coop, issued.id, "print", {})
        serials.transition(session, coop, issued.id, "activate", {})
        codec = services(app).codec
        for seq in range(issued.start_seq, issued.start_seq + 3):
            serial = codec.encode(seq, issued.gtin, issued.lot, key_id=issued.key_id)
            uris.append(stamp_uri(app.config["PUBLIC_BASE_URL"], issued.gtin, serial,
                                  issued.lot, issued.expiry))
    return uris


def _scan(app: Flask, uris: list[str]) -> None:
    from ..scan.service import ScanRequest, verify_scan

    places = ((21.0358, 105.8497), (21.0369, 105.7846), (20.6464, 106.0511))
    for i, uri in enumerate(uris):
        lat, lon = places[i % len(places)]
        verify_scan(app, ScanRequest(code=uri, lat=lat, lon=lon, device_id=f"demo-{i}",
                                     source="consumer"))


def first_stamp(app: Flask, lot: str) -> str | None:
    """The URI of the first stamp of the demo's range on ``lot`` (boxes of long nhãn)."""
    from ..serials.models import SerialRange
    from ..serials.stamps import stamp_uri
    from ..services import services

    with session_scope(app) as session:
        found = session.scalar(select(SerialRange).where(SerialRange.gtin == BOX_GTIN,
                                                         SerialRange.lot == lot)
                               .order_by(SerialRange.id).limit(1))
        if found is None:
            return None
        serial = services(app).codec.encode(found.start_seq, found.gtin, found.lot,
                                       key_id=found.key_id)
        return stamp_uri(app.config["PUBLIC_BASE_URL"], found.gtin, serial, found.lot,
                         found.expiry)


def _lines(app: Flask, info: dict) -> list[str]:
    base = app.config["PUBLIC_BASE_URL"]
    stamp = first_stamp(app, BOX_LOT)
    recalled = first_stamp(app, "LN2609H")
    return [
        "",
        "  Trace demo (Hưng Yên longan, docs/TRACEABILITY.md):",
        f"    boxes of long nhãn: GTIN {BOX_GTIN}, lot {BOX_LOT} (active), lot LN2609H "
        f"(recalled with farm lot {RECALLED_LOT})",
        f"    a stamp of lot {BOX_LOT}: {stamp}",
        f"    a stamp of the recalled lot LN2609H: {recalled}",
        f"    flask --app scanapp trace stamp '{stamp}'",
        f"    flask --app scanapp trace lineage {BOX_GTIN} {BOX_LOT}",
        f"    flask --app scanapp trace lineage {FRESH_GTIN} NH2607A --forward",
        f"    curl {base}/api/v1/trace/public/lots/{BOX_GTIN}/{BOX_LOT}",
    ]
