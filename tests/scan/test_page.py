"""The stamp page without a browser: what the first render records, its size, escaping,
language choice and the no-JavaScript fallback."""

from __future__ import annotations

import sqlalchemy as sa

from scanapp.db import get_engine
from scanapp.scan.models import ScanEvent


def _count(app) -> int:
    with get_engine(app).connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(ScanEvent)).scalar_one()


def test_first_render_records_nothing_the_script_records_the_scan(app, client, issue_stamps):
    stamp = issue_stamps(1)[0]
    page = client.get(stamp.path, headers={"Accept": "text/html"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-verdict="pending"' in html
    assert _count(app) == 0
    assert 'src="/scan-static/scan.js"' in html
    script = client.get("/scan-static/scan.js")
    assert script.status_code == 200 and b"/api/v1/scans" not in script.data  # from the page
    script.close()


def test_page_and_script_are_small(client, issue_stamps):
    stamp = issue_stamps(1, pin=True)[0]
    page = client.get(stamp.path, headers={"Accept": "text/html"})
    script = client.get("/scan-static/scan.js")
    assert len(page.data) < 8 * 1024, len(page.data)
    assert len(script.data) < 6 * 1024, len(script.data)
    assert b"http://" not in page.data.replace(b"http://www.w3.org", b"")  # no external assets
    script.close()


def test_without_javascript_the_form_records_one_scan_and_renders_the_verdict(
        app, client, issue_stamps):
    stamp = issue_stamps(1)[0]
    page = client.post("/v" + stamp.path, headers={"Accept-Language": "en"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-verdict="authentic"' in html and "GENUINE" in html
    assert "This is scan 1 of this code." in html
    assert _count(app) == 1


def test_language_by_header_query_and_default(client, issue_stamps):
    stamp = issue_stamps(1)[0]

    def lang(**kwargs):
        response = client.get("/v" + stamp.path, **kwargs)
        return response.headers["Content-Language"]

    assert lang() == "vi"
    assert lang(headers={"Accept-Language": "en-US,en;q=0.9"}) == "en"
    assert lang(headers={"Accept-Language": "vi-VN,vi;q=0.9,en;q=0.5"}) == "vi"
    assert lang(query_string={"lang": "en"}, headers={"Accept-Language": "vi"}) == "en"
    assert lang(query_string={"lang": "xx"}) == "vi"


def test_product_text_is_escaped(brand, client, product, issue_stamps):
    response = brand.patch(f"/api/v1/products/{product['id']}",
                           json={"name": "<script>alert(1)</script>"})
    assert response.status_code == 200, response.get_json()
    stamp = issue_stamps(1)[0]
    html = client.get("/v" + stamp.path).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
