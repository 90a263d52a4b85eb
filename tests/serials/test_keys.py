"""Signing-key rotation and compromise, through the admin API and the CLI."""

from __future__ import annotations

import pytest

from scanapp.serials.codec import InvalidSerial
from scanapp.services import services
from tests.serials.conftest import codes_of


def _verify(app, serial, gtin, lot=None):
    with app.app_context():
        return services(app).codec.verify(serial, gtin, lot)


def test_rotation_keeps_old_serials_valid_and_signs_new_ones_with_the_new_key(
        app, admin, brand, issue, product):
    old_range = issue(brand, quantity=3)
    old_serial = codes_of(brand, old_range["id"])[0][0]
    rotated = admin.post("/api/v1/signing-keys/rotate", json={"note": "yearly"})
    assert rotated.status_code == 201
    new_key = rotated.get_json()
    assert new_key["status"] == "active" and new_key["id"] == 1 and new_key["char"] == "1"
    listed = {k["id"]: k["status"] for k in admin.get("/api/v1/signing-keys").get_json()}
    assert listed == {0: "retired", 1: "active"}
    new_range = issue(brand, quantity=3)
    assert new_range["key_id"] == 1
    new_serial = codes_of(brand, new_range["id"])[0][0]
    assert old_serial[0] == "0" and new_serial[0] == "1"
    assert _verify(app, old_serial, product["gtin"]) >= 0
    assert _verify(app, new_serial, product["gtin"]) >= 0
    # The old range's files do not change when keys rotate: they were signed with key 0.
    assert codes_of(brand, old_range["id"])[0][0] == old_serial


def test_compromised_key_fails_its_serials_with_a_clear_reason(app, admin, brand, issue,
                                                               product):
    created = issue(brand, quantity=2)
    serial = codes_of(brand, created["id"])[0][0]
    response = admin.post("/api/v1/signing-keys/0/compromise", json={"note": "leaked"})
    assert response.status_code == 200 and response.get_json()["status"] == "compromised"
    with pytest.raises(InvalidSerial) as caught:
        _verify(app, serial, product["gtin"])
    assert caught.value.reason == "compromised_key"
    # Issuing goes on with a fresh key.
    fresh = issue(brand, quantity=1)
    assert fresh["key_id"] == 1
    assert _verify(app, codes_of(brand, fresh["id"])[0][0], product["gtin"]) >= 0


def test_another_worker_sees_a_compromise_within_a_second(app, app_factory, admin, brand,
                                                          issue, product, monkeypatch):
    from scanapp.serials import codec as codec_module

    created = issue(brand, quantity=1)
    serial = codes_of(brand, created["id"])[0][0]
    worker = app_factory()
    assert _verify(worker, serial, product["gtin"]) >= 0
    admin.post("/api/v1/signing-keys/0/compromise")
    monkeypatch.setattr(codec_module, "KEY_REFRESH_SECONDS", 0.0)
    with pytest.raises(InvalidSerial) as caught:
        _verify(worker, serial, product["gtin"])
    assert caught.value.reason == "compromised_key"


def test_key_endpoints_are_admin_only(brand, printer, inspector, admin):
    for actor in (brand, printer, inspector):
        assert actor.get("/api/v1/signing-keys").status_code == 403
        assert actor.post("/api/v1/signing-keys/rotate").status_code == 403
    assert admin.post("/api/v1/signing-keys/9/compromise").status_code == 404


def test_cli_rotates_lists_and_compromises(app, runner):
    first = runner.invoke(args=["serials", "keys"])  # the first key is made on first use
    assert first.output.startswith(" 0  active")
    result = runner.invoke(args=["serials", "rotate-key", "--note", "cli"])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(args=["serials", "keys"])
    assert "0  retired" in listed.output and "1  active" in listed.output
    result = runner.invoke(args=["serials", "compromise-key", "1"])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(args=["serials", "keys"])
    assert "1  compromised" in listed.output and "2  active" in listed.output
    missing = runner.invoke(args=["serials", "compromise-key", "30"])
    assert missing.exit_code != 0 and "no signing key 30" in missing.output
