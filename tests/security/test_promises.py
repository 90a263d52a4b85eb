"""Security promises tested the way a browser meets them: the dashboard's sign-in redirect is
followed, and the stamp page's CSP is read on the URLs phones actually open (with path
arguments, query strings and the no-JavaScript POST)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from ..conftest import gtin14
from .conftest import issue_range, serials_of
from .test_headers import assert_basic_headers, assert_strict_page_csp


def _csrf(client) -> str:
    with client.get("/inspect/login") as page:
        return re.search(r'name="csrf_token" value="([^"]+)"',
                         page.get_data(as_text=True)).group(1)


def _sign_in(client, key: str, next_target: str | None):
    query = {"next": next_target} if next_target is not None else {}
    return client.post("/inspect/login", query_string=query,
                       data={"key": key, "csrf_token": _csrf(client)})


def test_sign_in_returns_to_the_page_that_asked_for_it(app, inspector):
    client = app.test_client()
    asked = client.get("/inspect/?province=79")
    assert asked.status_code == 302
    login_url = urlsplit(asked.headers["Location"])
    assert login_url.path == "/inspect/login"
    next_target = parse_qs(login_url.query)["next"][0]
    signed_in = _sign_in(client, inspector.key, next_target)
    assert signed_in.status_code == 302
    back = urlsplit(signed_in.headers["Location"])
    assert (back.netloc in ("", "localhost")) and back.path == "/inspect/"
    assert parse_qs(back.query) == {"province": ["79"]}
    page = client.get(signed_in.headers["Location"])
    assert page.status_code == 200 and page.mimetype == "text/html"


@pytest.mark.parametrize("target", [
    "https://evil.example/inspect/", "//evil.example/inspect", "/\\evil.example/inspect",
    "http:evil.example", "/api/v1/keys", "javascript:alert(1)", "",
])
def test_sign_in_never_redirects_off_the_dashboard(app, inspector, target):
    client = app.test_client()
    response = _sign_in(client, inspector.key, target)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.scheme in ("", "http") and location.netloc in ("", "localhost")
    assert location.path.startswith("/inspect") and not location.path.startswith("//")
    assert "\\" not in location.path
    # Followed, it lands on a dashboard page (not another site, not the API).
    assert client.get(response.headers["Location"]).status_code == 200


@pytest.fixture
def stamp(brand):
    product = brand.post("/api/v1/products", json={"gtin": gtin14("0893456789029"),
                                                   "name": "Trà thử"}).get_json()
    made = issue_range(brand, product["gtin"], quantity=1, lot="L01", expiry="2027-06-30")
    return product["gtin"], serials_of(brand, made["id"])[0]


def test_the_stamp_page_sends_a_strict_csp_on_every_url_a_phone_opens(client, stamp):
    gtin, serial = stamp
    path = f"/01/{gtin}/10/L01/21/{serial}"
    responses = [
        client.get(path, headers={"Accept": "text/html"}),  # the resolver's default link
        client.get(f"/v{path}"),
        client.get(f"/v{path}?17=270630&lang=en"),
        client.get(f"/v{path}?lang=vi&utm_source=qr"),
        client.post(f"/v{path}", data={}),  # the no-JavaScript fallback records the scan
        client.get(f"/v/01/{gtin}/21/{serial}"),  # without its lot: still a page
    ]
    pages = 0
    for response in responses:
        if response.status_code in (301, 302, 303, 307, 308):
            response = client.get(response.headers["Location"])
        if response.mimetype != "text/html":
            continue
        pages += 1
        assert_basic_headers(response)
        assert_strict_page_csp(response)
    assert pages >= 5


# -- found by mutation testing (scripts/mutation.sh security) -------------------------------

DOCUMENTED_PAGE_CSP = {  # docs/RELIABILITY.md, "Security headers"
    "default-src": ["'none'"], "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:", "https:"], "font-src": ["'self'"],
    "connect-src": ["'self'"], "manifest-src": ["'self'"], "form-action": ["'self'"],
    "base-uri": ["'none'"], "object-src": ["'none'"], "frame-ancestors": ["'none'"],
}


def test_the_page_csp_is_exactly_the_documented_one(client, stamp):
    from .test_headers import csp_directives

    gtin, serial = stamp
    directives = csp_directives(client.get(f"/v/01/{gtin}/10/L01/21/{serial}"))
    scripts = directives.pop("script-src")
    assert directives == DOCUMENTED_PAGE_CSP
    assert scripts[0] == "'self'" and all(s.startswith("'nonce-") or s.startswith("'sha256-")
                                          for s in scripts[1:])


def test_a_body_exactly_at_the_limit_is_accepted(app, brand):
    app.config["MAX_CONTENT_LENGTH"] = 2000
    body = '{"gtin": "08934567890120", "name": "' + "x" * 2000
    at_limit = body[:1998] + '"}'
    assert len(at_limit.encode()) == 2000
    response = brand.post("/api/v1/products", data=at_limit,
                          headers={"Content-Type": "application/json"})
    assert response.status_code != 413, response.get_json()
    over = body[:1999] + '"}'
    response = brand.post("/api/v1/products", data=over,
                          headers={"Content-Type": "application/json"})
    assert response.status_code == 413
