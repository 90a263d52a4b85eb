"""The hot path's budget: one Redis round trip per scan of a genuine code once its bucket is
loaded, and none for a forged code (rate limiting off, as in the other tests)."""

from __future__ import annotations

import pytest

from scanapp.redis_client import get_redis

from .conftest import BASE


class Counting:
    """Wraps the Redis client's command entry point to count round trips."""

    def __init__(self, client, monkeypatch):
        self.calls: list[str] = []
        original = client.execute_command

        def counted(*args, **kwargs):
            self.calls.append(str(args[0]))
            return original(*args, **kwargs)

        monkeypatch.setattr(client, "execute_command", counted)


def test_one_round_trip_per_scan_none_for_forgeries(app, client, issue_stamps, product,
                                                   monkeypatch):
    redis_client = get_redis(app)
    if redis_client is None:
        pytest.skip("counts Redis round trips: services stack")
    stamp = issue_stamps(1)[0]
    client.post("/api/v1/scans", json={"code": stamp.uri, "device_id": "warm-up"})
    # On a cluster the lazily built client does the work; count on it.
    target = redis_client.resolve() if hasattr(redis_client, "resolve") else redis_client
    counter = Counting(target, monkeypatch)
    for i in range(5):
        response = client.post("/api/v1/scans", json={"code": stamp.uri, "device_id": f"d{i}"})
        assert response.get_json()["scan_count"] == i + 2
    assert counter.calls == ["EVALSHA"] * 5
    counter.calls.clear()
    last = "0" if stamp.serial[-1] != "0" else "1"
    forged = f"{BASE}/01/{product['gtin']}/21/{stamp.serial[:-1]}{last}"
    assert client.post("/api/v1/scans", json={"code": forged}).get_json()["verdict"] == \
        "counterfeit"
    assert counter.calls == []
