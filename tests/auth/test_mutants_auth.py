"""What a refused or listed key tells its caller: promises mutation testing found untested
(docs/RELIABILITY.md, "Mutation testing", scanapp/auth/service.py)."""

from __future__ import annotations

from tests.conftest import gtin14


def test_a_403_names_the_callers_role_and_the_roles_that_may(make_actor):
    printer = make_actor("printer", "Printer P")
    response = printer.post("/api/v1/products", json={"gtin": gtin14("0893456789050"),
                                                      "name": "P"})
    body = response.get_json()
    assert response.status_code == 403 and body["code"] == "forbidden"
    assert "a printer key cannot do this" in body["message"]
    assert body["message"].endswith("it needs: brand, admin")


def test_revoking_an_unknown_key_says_which_id(admin):
    response = admin.post("/api/v1/keys/987654/revoke")
    body = response.get_json()
    assert response.status_code == 404 and body["code"] == "not_found"
    assert "987654" in body["message"]


def test_keys_are_listed_oldest_first_even_after_a_revocation(make_actor, admin):
    actors = [make_actor("brand", "Brand L") for _ in range(3)]
    # Revoking the first rewrites its row (on PostgreSQL the new row version goes to the
    # end of the table): the listing still keeps creation order.
    assert admin.post(f"/api/v1/keys/{actors[0].key_id}/revoke").status_code == 200
    listing = admin.get("/api/v1/keys").get_json()
    ids = [k["id"] for k in listing]
    assert ids == sorted(ids)
    assert [a.key_id for a in actors] == [i for i in ids if i in {a.key_id for a in actors}]
