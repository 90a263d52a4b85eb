"""/metrics for the scrape network only; no Host header in links (issue 15, item 12)."""

from __future__ import annotations

import pytest


@pytest.mark.no_storage
def test_metrics_refused_outside_the_scrape_network(client):
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.5"},
                          headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers


def test_metrics_for_the_scrape_network_without_cors(client):
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert response.status_code == 200
    assert "scanapp_" in response.get_data(as_text=True)
    assert not any(k.lower().startswith("access-control-") for k in response.headers.keys())


def test_metrics_with_the_scrape_token_from_anywhere(app_factory):
    app = app_factory(METRICS_TOKEN="scrape-" + "t" * 40, METRICS_ALLOW_CIDRS="10.9.0.0/16")
    client = app.test_client()
    outside = {"REMOTE_ADDR": "198.51.100.7"}
    assert client.get("/metrics", environ_base=outside).status_code == 403
    assert client.get("/metrics", environ_base=outside,
                      headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get("/metrics", environ_base=outside, headers={
        "Authorization": "Bearer scrape-" + "t" * 40}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.9.3.4"}).status_code == 200


@pytest.mark.no_storage
def test_a_client_behind_the_proxy_cannot_pass_as_the_scrape_network(app_factory):
    app = app_factory(PROXY_HOPS=1)
    response = app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"},
                                     headers={"X-Forwarded-For": "203.0.113.5"})
    assert response.status_code == 403


@pytest.mark.parametrize("path", ["/api/v1/epcis/events", "/epcis/events"])
def test_epcis_next_page_link_ignores_the_host_header(brand, product, path):
    for _ in range(3):
        brand.post("/api/v1/ranges", json={"gtin": product["gtin"], "quantity": 2})
    response = brand.get(f"{path}?perPage=1",
                         headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"})
    assert response.status_code == 200
    link = response.headers["Link"]
    assert link.startswith(f"<https://scan.example.vn{path}?")
    assert "evil" not in link and "evil" not in response.get_data(as_text=True)
