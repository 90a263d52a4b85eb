"""Scratch-off PINs under attack and after a Redis restart (issue 15, items 1 and 3).

Each test reproduces what was done to the service first: a genuine buyer's first PIN
answered ``already_claimed`` once the code's Redis bucket had gone cold, and an attacker
kept guessing one code's PIN by changing device ids.
"""

from __future__ import annotations

from scanapp.redis_client import get_redis


def _wrong(pin: str) -> str:
    return "0" * 8 if pin != "0" * 8 else "1" * 8


def _pin(client, stamp, pin, device=None, address="10.9.0.1"):
    body = {"code": stamp.uri, "pin": pin}
    if device:
        body["device_id"] = device
    return client.post("/api/v1/scans/pin", json=body, environ_base={"REMOTE_ADDR": address})


def _cool_down_redis(app) -> None:
    """What a Redis restart does to the service: every key of this test is gone."""
    client = get_redis(app)
    for key in list(client.scan_iter(match=app.config["REDIS_PREFIX"] + ":*", count=1000)):
        client.delete(key)


def test_first_pin_after_a_redis_restart_counts_once(app, client, issue_stamps, stack):
    stamp = issue_stamps(1, pin=True)[0]
    scanned = client.post("/api/v1/scans", json={"code": stamp.uri, "device_id": "buyer"})
    assert scanned.status_code == 200
    if stack.name == "services":
        _cool_down_redis(app)
    answer = _pin(client, stamp, stamp.pin, device="buyer").get_json()
    assert answer["result"] == "valid"
    assert answer["pin_claims"] == 1
    # A wrong PIN after another restart is counted once too (every counter the rebuild reloads).
    if stack.name == "services":
        _cool_down_redis(app)
    wrong = _pin(client, stamp, _wrong(stamp.pin), device="buyer").get_json()
    assert wrong["result"] == "wrong_pin" and wrong["pin_failures"] == 1
    assert wrong["pin_claims"] == 1
    # The buyer's next scan is not made suspicious by a phantom second claim.
    again = client.post("/api/v1/scans", json={"code": stamp.uri, "device_id": "buyer2"})
    body = again.get_json()
    assert body["verdict"] == "authentic", body
    assert "pin_reused" not in body["reasons"]


def test_a_code_locks_after_repeated_wrong_pins_whatever_the_device_id(
        app, client, issue_stamps):
    stamp = issue_stamps(1, pin=True)[0]
    limit = app.config["PIN_LOCKOUT_FAILURES"]
    for i in range(limit):
        answer = _pin(client, stamp, _wrong(stamp.pin), device=f"guesser-{i}",
                      address=f"10.9.1.{i}")
        assert answer.status_code == 200 and answer.get_json()["result"] == "wrong_pin"
    # Now even the right PIN is refused on this code, from any device and address: a
    # lockout that a correct guess could pass would not stop guessing.
    locked = _pin(client, stamp, stamp.pin, device="fresh", address="10.9.1.250")
    assert locked.status_code == 429, locked.get_json()
    assert locked.get_json()["code"] == "pin_locked"
    assert int(locked.headers["Retry-After"]) > 0
    # The guessing is a signal for inspectors (flag threshold) on the code's next scan.
    scan = client.post("/api/v1/scans", json={"code": stamp.uri, "device_id": "x"}).get_json()
    assert "pin_guessing" in scan["reasons"] and scan["risk"] >= 50
    # Refused checks are not counted as claims or failures: once the period is over the
    # owner's PIN is still the first claim (test below).
    # Another code of the same brand is not locked.
    other = issue_stamps(1, pin=True)[0]
    assert _pin(client, other, other.pin, device="fresh").get_json()["result"] == "valid"


def test_the_lockout_ends_after_its_period(app, client, issue_stamps, clock):
    stamp = issue_stamps(1, pin=True)[0]
    for i in range(app.config["PIN_LOCKOUT_FAILURES"]):
        _pin(client, stamp, _wrong(stamp.pin), device=f"g{i}")
    assert _pin(client, stamp, stamp.pin, device="owner").status_code == 429
    clock.advance(app.config["PIN_LOCKOUT_S"] + 1)
    answer = _pin(client, stamp, stamp.pin, device="owner")
    assert answer.status_code == 200 and answer.get_json()["result"] == "valid"


def test_pin_checks_are_limited_per_address_whatever_the_device_id(app_factory, issue_stamps):
    stamps = issue_stamps(3, pin=True)
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_SCAN="1000/minute",
                      RATELIMIT_PIN_ADDRESS="12/minute")
    client = app.test_client()
    # Spread over codes so that the per-code lockout is not what stops it.
    codes = [_pin(client, stamps[i % 3], "1234-5678", device=f"rotating-{i}",
                  address="10.9.2.1").status_code for i in range(13)]
    assert codes[:12] == [200] * 12
    assert codes[12] == 429
    # Another address is not affected.
    assert _pin(client, stamps[0], "1234-5678", device="other",
                address="10.9.2.2").status_code == 200


def test_client_networks_aggregate_ipv6_by_64_and_ignore_loopback():
    from scanapp.scan.privacy import Hasher

    hasher = Hasher("k" * 32)
    # One home (or one phone's prefix) rotating its host part is one network.
    assert hasher.network("2001:db8:1:2::10") == hasher.network("2001:db8:1:2:ffff::1")
    assert hasher.network("2001:db8:1:2::10") != hasher.network("2001:db8:1:3::10")
    assert hasher.network("::ffff:203.0.113.5") == hasher.network("203.0.113.5")
    assert hasher.network("203.0.113.5") != hasher.network("203.0.113.6")
    # A local proxy passing no client address on says nothing about the client.
    assert hasher.network("127.0.0.1") is None and hasher.network("::1") is None
    assert hasher.network("") is None and hasher.network(None) is None
    assert "203.0.113" not in hasher.network("203.0.113.5")
