"""Behind the reverse proxy every consumer keeps an address of their own (issue 15, item 2).

Before: gunicorn's ``forwarded_allow_ips`` never rewrote REMOTE_ADDR and the app had no
ProxyFix, so all consumers shared the proxy's rate-limit bucket and anonymous devices
collapsed to proxy address + User-Agent. IPv6 clients, who own a whole /64, could rotate
addresses to escape every per-address limit.
"""

from __future__ import annotations

import sqlalchemy as sa

PROXY = "127.0.0.1"


def _scan(client, uri, forwarded=None, remote=PROXY, **body):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return client.post("/api/v1/scans", json={"code": uri, **body}, headers=headers,
                       environ_base={"REMOTE_ADDR": remote})


def test_clients_behind_the_proxy_have_their_own_buckets(app_factory, issue_stamps):
    stamp = issue_stamps(1)[0]
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_SCAN="2/minute", PROXY_HOPS=1)
    client = app.test_client()
    first = [_scan(client, stamp.uri, "203.0.113.7").status_code for _ in range(3)]
    assert first == [200, 200, 429]
    # Another consumer behind the same proxy is not refused because of the first.
    assert _scan(client, stamp.uri, "198.51.100.23").status_code == 200


def test_a_client_cannot_choose_its_address_by_sending_the_header(app_factory, issue_stamps):
    """With one trusted hop only the address the proxy appended counts: a forged
    X-Forwarded-For sent by the client sits to its left and is ignored."""
    stamp = issue_stamps(1)[0]
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_SCAN="2/minute", PROXY_HOPS=1)
    client = app.test_client()
    codes = [_scan(client, stamp.uri, f"10.9.9.{i}, 203.0.113.8").status_code for i in range(3)]
    assert codes == [200, 200, 429]


def test_without_trusted_hops_the_header_is_ignored(app_factory, issue_stamps):
    """Default: no proxy trusted, so a direct client cannot fake addresses at all."""
    stamp = issue_stamps(1)[0]
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_SCAN="2/minute")
    client = app.test_client()
    codes = [_scan(client, stamp.uri, f"203.0.113.{i}", remote="192.0.2.1").status_code
             for i in range(3)]
    assert codes == [200, 200, 429]


def test_ipv6_clients_are_counted_per_64(app_factory, issue_stamps):
    stamp = issue_stamps(1)[0]
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_SCAN="2/minute", PROXY_HOPS=1)
    client = app.test_client()
    codes = [_scan(client, stamp.uri, f"2001:db8:1:2::{i:x}").status_code for i in range(1, 4)]
    assert codes == [200, 200, 429]
    assert _scan(client, stamp.uri, "2001:db8:1:3::1").status_code == 200


def test_anonymous_devices_are_told_apart_behind_the_proxy(app_factory, issue_stamps):
    """The stand-in device hash (no device id) is built from the real client address; one
    IPv6 /64 with one browser is one device."""
    from scanapp.db import get_engine

    # One stamp each: a second scan of one code by one device within minutes is not stored.
    stamps = issue_stamps(4)
    app = app_factory(PROXY_HOPS=1)
    client = app.test_client()
    for stamp, forwarded in zip(stamps, ("203.0.113.1", "203.0.113.2", "2001:db8:5:6::1",
                                         "2001:db8:5:6:a::2"), strict=True):
        assert _scan(client, stamp.uri, forwarded).status_code == 200
    with get_engine(app).connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT device_hash, client_hash FROM scan_events ORDER BY id")).all()
    devices = [row[0] for row in rows]
    clients = [row[1] for row in rows]
    assert devices[0] != devices[1]          # two IPv4 consumers, two devices
    assert devices[2] == devices[3]          # one /64 and one browser: one device
    assert clients[2] == clients[3] and clients[0] != clients[1]
