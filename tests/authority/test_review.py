"""Review before publication, end to end: pending data stays off the stamp page, the scan
answer and the portal document; approval publishes it; a rejection's reason reaches the
firm, whose answer puts the item back in the queue; every step is in the audit trail."""

from __future__ import annotations

from scanapp.db import session_scope
from scanapp.trace.portal import portal_document
from scanapp.trace.public import find_lot
from tests.authority.conftest import ok


def _public(client, chain):
    return client.get(f"/api/v1/trace/public/lots/{chain['product']['gtin']}/NH2501").get_json()


def _portal(app, chain):
    with app.app_context(), session_scope(app) as session:
        return portal_document(session, find_lot(session, chain["product"]["gtin"], "NH2501"))


def _item(queue, kind):
    return next(i for i in queue if i["subject_type"] == kind)


def test_pending_then_approve_reject_answer_approve(app, client, brand, hung_yen, hy_chain):
    queue = ok(hung_yen.get("/api/v1/authority/reviews?state=pending"), 200)
    assert sorted(i["subject_type"] for i in queue) == ["certificate", "party", "product"]
    party, product, cert = (_item(queue, k) for k in ("party", "product", "certificate"))
    assert party["province"] == "33" and party["title"] == "HTX Nhãn lồng Tiên Lữ"

    # Pending: the stamp still verifies, the page just shows less.
    scan = client.post("/api/v1/scans", json={"code": hy_chain["uris"][0]}).get_json()
    assert scan["verdict"] == "authentic"
    assert scan["product"]["name"] == "Nhãn lồng Hưng Yên hộp 1 kg"
    assert scan["product"]["image_url"] is None
    stamp_page = client.get(hy_chain["uris"][0].replace("https://scan.example.vn", ""),
                            headers={"Accept": "text/html"}).get_data(as_text=True)
    # The page draws the scan answer above; its HTML carries none of the pending data.
    assert "Nhãn lồng Hưng Yên hộp 1 kg" in stamp_page
    for secret in ("nhan.jpg", "VG-33-0099", "VN-HYLN-0099", "Tiên Lữ"):
        assert secret not in stamp_page, secret
    assert scan["trace"]["lot"]["code"] == "NH2501"
    assert scan["trace"]["producer"] is None and scan["trace"]["origin"] is None
    assert scan["trace"]["certificates"] == []
    page = _public(client, hy_chain)
    assert page["producer"] is None and page["images"] == [] and page["certificates"] == []
    assert all(s["place"] is None and s["actor"] is None for s in page["stages"])
    text = str(page) + str(_portal(app, hy_chain))
    for secret in ("Tiên Lữ", "VG-33-0099", "nhan.jpg", "VN-HYLN-0099", "trái cây"):
        assert secret not in text

    # Approve the party: producer and origin appear, nothing else.
    ok(hung_yen.post(f"/api/v1/authority/reviews/{party['id']}/approve",
                     json={"note": "Đã đối chiếu đăng ký kinh doanh"}), 200)
    page = _public(client, hy_chain)
    assert page["producer"]["name"] == "HTX Nhãn lồng Tiên Lữ"
    assert page["origin"]["planting_area_code"] == "VN-HYLN-0099"
    assert page["images"] == [] and page["certificates"] == []
    scan = client.post("/api/v1/scans", json={"code": hy_chain["uris"][1]}).get_json()
    assert scan["trace"]["producer"]["name"] == "HTX Nhãn lồng Tiên Lữ"

    # Reject the product: the firm sees the reason and answers; pending again.
    assert hung_yen.post(f"/api/v1/authority/reviews/{product['id']}/reject",
                         json={"reason": "  "}).status_code == 422
    ok(hung_yen.post(f"/api/v1/authority/reviews/{product['id']}/reject",
                     json={"reason": "Ảnh sản phẩm không khớp nhãn đã đăng ký"}), 200)
    mine = ok(brand.get("/api/v1/authority/reviews?state=rejected"), 200)
    assert [i["reason"] for i in mine] == ["Ảnh sản phẩm không khớp nhãn đã đăng ký"]
    assert _public(client, hy_chain)["images"] == []
    assert brand.post(f"/api/v1/authority/reviews/{product['id']}/approve",
                      json={}).status_code == 403
    answered = ok(brand.post(f"/api/v1/authority/reviews/{product['id']}/answer",
                             json={"answer": "Đã thay ảnh đúng nhãn"}), 200)
    assert answered["state"] == "pending" and answered["round"] == 2
    assert brand.post(f"/api/v1/authority/reviews/{product['id']}/answer",
                      json={"answer": "lần nữa"}).status_code == 409
    ok(hung_yen.post(f"/api/v1/authority/reviews/{product['id']}/approve", json={}), 200)
    assert hung_yen.post(f"/api/v1/authority/reviews/{product['id']}/approve",
                         json={}).status_code == 409
    assert _public(client, hy_chain)["images"] == ["https://img.example.vn/nhan.jpg"]

    ok(hung_yen.post(f"/api/v1/authority/reviews/{cert['id']}/approve", json={}), 200)
    page = _public(client, hy_chain)
    assert [c["number"] for c in page["certificates"]] == ["VG-33-0099"]
    scan = client.post("/api/v1/scans", json={"code": hy_chain["uris"][2]}).get_json()
    assert [c["number"] for c in scan["trace"]["certificates"]] == ["VG-33-0099"]
    portal = _portal(app, hy_chain)
    assert portal["items"]["3_producer"] == "HTX Nhãn lồng Tiên Lữ"
    assert [c["number"] for c in portal["certifications"]] == ["VG-33-0099"]

    trail = ok(hung_yen.get(f"/api/v1/authority/reviews/{product['id']}"), 200)["history"]
    assert [h["action"] for h in trail] == ["submitted", "rejected", "answered", "approved"]
    assert trail[1]["note"] == "Ảnh sản phẩm không khớp nhãn đã đăng ký"
    assert all(h["actor_org_id"] for h in trail[1:])


def test_changing_approved_data_makes_it_pending_again(client, brand, hung_yen, hy_chain):
    party = _item(ok(hung_yen.get("/api/v1/authority/reviews"), 200), "party")
    ok(hung_yen.post(f"/api/v1/authority/reviews/{party['id']}/approve", json={}), 200)
    assert _public(client, hy_chain)["producer"] is not None
    ok(brand.patch(f"/api/v1/trace/parties/{hy_chain['party']['id']}",
                   json={"address": "Thị trấn Vương, Tiên Lữ, Hưng Yên"}), 200)
    again = ok(hung_yen.get(f"/api/v1/authority/reviews/{party['id']}"), 200)
    assert again["state"] == "pending" and again["round"] == 2
    assert _public(client, hy_chain)["producer"] is None


def test_trusted_category_and_review_switched_off(client, brand, firm, hung_yen):
    from tests.conftest import gtin14

    ok(hung_yen.put("/api/v1/authority/policy", json={"trusted_categories": ["thủy sản"]}), 200)
    ok(brand.post("/api/v1/products", json={"gtin": gtin14("0893000000202"),
                                            "name": "Cá rô đồng", "category": "thủy sản"}))
    ok(brand.post("/api/v1/products", json={"gtin": gtin14("0893000000203"),
                                            "name": "Nhãn sấy", "category": "trái cây"}))
    titles = [i["title"] for i in ok(hung_yen.get("/api/v1/authority/reviews"), 200)]
    assert any("Nhãn sấy" in t for t in titles)
    assert not any("Cá rô" in t for t in titles)
    ok(hung_yen.put("/api/v1/authority/policy", json={"review_enabled": False}), 200)
    ok(brand.post("/api/v1/products", json={"gtin": gtin14("0893000000204"),
                                            "name": "Vải thiều", "category": "trái cây"}))
    titles = [i["title"] for i in ok(hung_yen.get("/api/v1/authority/reviews"), 200)]
    assert not any("Vải thiều" in t for t in titles)


def test_no_authority_no_review(client, brand, firm):
    """A province without an authority on the system publishes directly."""
    assert ok(brand.get("/api/v1/authority/reviews"), 200) == []


def test_province_scope(brand, hung_yen, ha_noi, hy_chain, make_actor, client):
    assert [p["name"] for p in ok(hung_yen.get("/api/v1/authority/parties"), 200)] \
        == ["HTX Nhãn lồng Tiên Lữ"]
    assert ok(ha_noi.get("/api/v1/authority/parties"), 200) == []
    for what in ("locations", "products", "lots"):
        assert len(ok(hung_yen.get(f"/api/v1/authority/{what}"), 200)) == 1, what
        assert ok(ha_noi.get(f"/api/v1/authority/{what}"), 200) == [], what
    assert len(ok(hung_yen.get("/api/v1/authority/events"), 200)["events"]) == 1
    assert ok(ha_noi.get("/api/v1/authority/events"), 200)["events"] == []
    assert ok(ha_noi.get("/api/v1/authority/reviews"), 200) == []
    item = ok(hung_yen.get("/api/v1/authority/reviews"), 200)[0]
    assert ha_noi.post(f"/api/v1/authority/reviews/{item['id']}/approve",
                       json={}).status_code == 404
    assert ha_noi.get(f"/api/v1/authority/reviews/{item['id']}").status_code == 404
    # Other roles are refused; a brand cannot read the province's parties.
    assert brand.get("/api/v1/authority/parties").status_code == 403


def test_keys_create_validates_province(runner):
    bad = runner.invoke(args=["keys", "create", "--role", "authority", "--org", "X",
                              "--province", "99"])
    assert bad.exit_code != 0 and "unknown province" in bad.output
    missing = runner.invoke(args=["keys", "create", "--role", "authority", "--org", "X"])
    assert missing.exit_code != 0
    nationwide = runner.invoke(args=["keys", "create", "--role", "authority", "--org",
                                     "Cục Đo lường", "--province", "all"])
    assert nationwide.exit_code == 0, nationwide.output


def test_admin_api_creates_a_scoped_authority_key(client, admin, brand, hy_chain, app):
    """An operator without shell access makes the same key as `keys create --province`."""
    from tests.conftest import Actor

    made = admin.post("/api/v1/keys", json={"org": "Sở KH&CN Hưng Yên", "role": "authority",
                                            "province": "33"})
    assert made.status_code == 201, made.get_json()
    hung_yen = Actor(client, made.get_json()["key"], "authority")
    assert [p["name"] for p in ok(hung_yen.get("/api/v1/authority/parties"), 200)] \
        == ["HTX Nhãn lồng Tiên Lữ"]
    nationwide = admin.post("/api/v1/keys", json={"org": "Cục Đo lường", "role": "authority",
                                                  "province": "all"})
    assert nationwide.status_code == 201
    everyone = Actor(client, nationwide.get_json()["key"], "authority")
    assert len(ok(everyone.get("/api/v1/authority/parties"), 200)) >= 1

    keys_before = len(ok(admin.get("/api/v1/keys"), 200))
    for body, code in (({"org": "Sở X", "role": "authority"}, "authority_province"),
                       ({"org": "Sở X", "role": "authority", "province": "99"},
                        "unknown_province"),
                       ({"org": "Brand C", "role": "brand", "province": "33"},
                        "authority_province")):
        answer = admin.post("/api/v1/keys", json=body)
        assert answer.status_code == 422, (body, answer.get_json())
        assert answer.get_json()["code"] == code
    # Refused keys store nothing: no key, and no organisation made on the way.
    assert len(ok(admin.get("/api/v1/keys"), 200)) == keys_before
    assert "Sở X" not in [o["name"] for o in ok(admin.get("/api/v1/orgs"), 200)]
    assert brand.post("/api/v1/keys", json={"org": "Sở Y", "role": "authority",
                                            "province": "33"}).status_code == 403
