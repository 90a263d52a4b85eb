"""Security headers: every response has the basics; every HTML page a strict CSP."""

from __future__ import annotations

import secrets

import pytest
from flask import render_template_string

BASIC = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def csp_directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    directives = {}
    for part in policy.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def assert_basic_headers(response):
    for name, value in BASIC.items():
        assert response.headers.get(name) == value, (name, response.headers)
    assert "geolocation=(self)" in response.headers["Permissions-Policy"]
    assert "camera=()" in response.headers["Permissions-Policy"]


def assert_strict_page_csp(response):
    csp = csp_directives(response)
    assert csp["default-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    scripts = csp["script-src"]
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts
    assert "*" not in scripts and "https:" not in scripts and "data:" not in scripts
    assert csp["connect-src"] == ["'self'"]


def test_json_responses_carry_the_basic_headers_and_a_lockdown_csp(admin, anonymous):
    for response in (admin.get("/api/v1/me"), anonymous.get("/api/v1/me"),
                     anonymous.get("/healthz"), anonymous.get("/api/v1/no-such-thing"),
                     anonymous.get("/api/openapi.json")):
        assert_basic_headers(response)
        csp = csp_directives(response)
        assert csp["default-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]


def test_keyed_responses_are_never_cached(admin, anonymous):
    created = admin.post("/api/v1/keys", json={"org": "Brand Z", "role": "brand"})
    assert created.status_code == 201
    # The response carries a freshly issued key: no cache may keep it.
    assert created.headers["Cache-Control"] == "no-store"
    assert admin.get("/api/v1/keys").headers["Cache-Control"] == "no-store"


def html_get_endpoints(app) -> list[str]:
    """Every GET rule without arguments that answers with an HTML page."""
    urls = []
    client = app.test_client()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments:
            continue
        with client.get(rule.rule) as response:
            if response.mimetype == "text/html":
                urls.append(rule.rule)
    return urls


def test_every_html_page_sends_a_strict_csp(app, client):
    pages = html_get_endpoints(app)
    assert "/api/docs" in pages  # the discovery itself works
    for url in pages:
        with client.get(url) as response:
            assert_basic_headers(response)
            assert_strict_page_csp(response)


@pytest.mark.no_storage
def test_inline_script_runs_only_with_the_requests_nonce(app, client):
    @app.get("/_test/nonce-page")
    def nonce_page():
        return render_template_string(
            '<!doctype html><script nonce="{{ csp_nonce() }}">1</script>')

    first, second = client.get("/_test/nonce-page"), client.get("/_test/nonce-page")
    nonces = []
    for response in (first, second):
        assert_strict_page_csp(response)
        body = response.get_data(as_text=True)
        nonce = body.split('nonce="')[1].split('"')[0]
        assert f"'nonce-{nonce}'" in csp_directives(response)["script-src"]
        nonces.append(nonce)
    assert nonces[0] != nonces[1]  # a nonce that repeats is no nonce


@pytest.mark.no_storage
def test_page_without_nonce_use_gets_no_nonce(app, client):
    @app.get("/_test/plain-page")
    def plain_page():
        return "<!doctype html><p>hello</p>"

    scripts = csp_directives(client.get("/_test/plain-page"))["script-src"]
    assert scripts == ["'self'"]


@pytest.mark.no_storage
def test_swagger_ui_inline_script_is_allowed_by_hash_only(client):
    with client.get("/api/docs") as response:
        scripts = csp_directives(response)["script-src"]
    hashes = [s for s in scripts if s.startswith("'sha256-")]
    assert len(hashes) == 1
    assert set(scripts) == {"'self'", *hashes}


@pytest.mark.no_storage
def test_production_over_https_sends_hsts(app_factory):
    app = app_factory(ENV="production", PRODUCTION=True,
                      PUBLIC_BASE_URL="https://scan.example.vn",
                      **{name: secrets.token_urlsafe(48)
                         for name in ("SECRET_KEY", "SERIAL_KEY", "PIN_KEY")})
    with app.test_client().get("/healthz") as response:
        assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


@pytest.mark.browser
@pytest.mark.no_storage
def test_docs_page_runs_under_its_csp_in_a_real_browser(browser, live_server):
    """The CSP must not break the pages it protects: Chromium reports every violation."""
    page = browser.new_page()
    violations = []
    page.on("console", lambda msg: violations.append(msg.text)
            if "Content Security Policy" in msg.text else None)
    page.goto(live_server + "/api/docs")
    page.get_by_text("/api/v1/products", exact=True).first.wait_for(timeout=15000)
    page.close()
    assert violations == []


@pytest.mark.browser
@pytest.mark.no_storage
def test_browser_refuses_an_injected_inline_script(app, browser, live_server):
    @app.get("/_test/injected")
    def injected():
        # What an XSS would look like if a template ever failed to escape.
        return ('<!doctype html><p id="x">safe</p>'
                '<script>document.getElementById("x").textContent = "owned"</script>')

    page = browser.new_page()
    violations = []
    page.on("console", lambda msg: violations.append(msg.text)
            if "Content Security Policy" in msg.text else None)
    page.goto(live_server + "/_test/injected")
    assert page.text_content("#x") == "safe"
    page.close()
    assert violations
