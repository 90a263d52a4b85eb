"""The inspectors' dashboard in a real headless browser, plus its session and CSRF rules."""

from __future__ import annotations

import csv
import io
import re

import pytest

from tests.fraud.conftest import ago

SERIAL_HN = "1HNHNHNHNHNHNHNHNHNH"
SERIAL_SG = "1SGSGSGSGSGSGSGSGSGS"

pytestmark = pytest.mark.browser


@pytest.fixture
def two_flags(product, scans):
    gtin = product["gtin"]
    scans.event(SERIAL_SG, gtin, province="01", at=ago(hours=2), device="a")
    scans.flagged(SERIAL_SG, gtin, risk=92, reasons=("impossible_travel", "many_devices"),
                  province="79")
    scans.flagged(SERIAL_HN, gtin, risk=55, reasons=("out_of_market",), province="01")
    for i in range(5):  # a counterfeit cluster in Cần Thơ
        scans.event(f"9FAKE{i:015d}", gtin, verdict="counterfeit", province="92",
                    point=(10.0452 + 0.001 * i, 105.7469), at=ago(hours=i + 1))


def sign_in(page, live_server, key):
    page.goto(live_server + "/inspect/")
    assert "/inspect/login" in page.url
    page.fill("#key", key)
    page.click("button[type=submit]")


def test_inspector_signs_in_filters_opens_a_dossier_decides_and_exports(
        browser, live_server, artifacts_dir, inspector, two_flags):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    csp_errors = []
    page.on("console", lambda m: csp_errors.append(m.text)
            if "Content Security Policy" in m.text else None)
    try:
        sign_in(page, live_server, inspector.key)
        page.wait_for_selector("table.flags")
        rows = page.locator("table.flags tbody tr")
        assert rows.count() == 2
        assert rows.nth(0).locator(".serial").inner_text() == SERIAL_SG  # riskiest first
        # The hotspot panel on the same page: Cần Thơ is hot, drawn as a bubble.
        hot = page.locator("#hotspots table.hotspot-provinces tr.hot")
        assert hot.count() == 1 and "Cần Thơ" in hot.inner_text()
        assert page.locator("#hotspots svg.map circle.bubble.hot").count() >= 1
        page.screenshot(path=str(artifacts_dir / "inspect-queue.png"), full_page=True)

        # Filter: choosing a province applies at once (static JS, no inline script).
        with page.expect_navigation():
            page.select_option("select[name=province]", "01")
        assert "province=01" in page.url
        assert page.locator("table.flags tbody tr").count() == 1
        assert page.locator("table.flags .serial").inner_text() == SERIAL_HN

        # Export the filtered list.
        with page.expect_download() as info:
            page.click("#export-csv")
        with open(info.value.path(), encoding="utf-8-sig") as downloaded:
            content = downloaded.read()
        exported = list(csv.DictReader(io.StringIO(content)))
        assert [r["Mã tem"] for r in exported] == [SERIAL_HN]
        assert exported[0]["Tỉnh/thành"] == "Hà Nội" and exported[0]["Rủi ro"] == "55"
        # Times are Vietnam time, and the header says so.
        assert exported[0]["Cảnh báo lúc (giờ Việt Nam, UTC+7)"].endswith("+07:00")

        # Open the other code's dossier from an unfiltered queue.
        page.goto(live_server + "/inspect/")
        page.click(f"text={SERIAL_SG}")
        page.wait_for_selector("svg.map")
        assert page.locator("svg.map g.scan").count() == 2  # Hà Nội, then Hồ Chí Minh
        assert page.locator("table.timeline tbody tr").count() == 2
        assert "Di chuyển bất khả thi" in page.inner_text("ul.signals")
        assert page.inner_text("#case-status") == "Mới"
        page.screenshot(path=str(artifacts_dir / "inspect-dossier.png"), full_page=True)

        # Decide the case: the confirm dialog is accepted, the trail records it.
        page.once("dialog", lambda dialog: dialog.accept())
        page.select_option("#case-new-status", "confirmed_counterfeit")
        page.fill("input[name=assignee]", "Trần Thị B")
        page.fill("textarea[name=note]", "Thu giữ 40 chai tại chợ")
        with page.expect_navigation():
            page.click("form.case-form button[type=submit]")
        assert page.inner_text("#case-status") == "Xác nhận hàng giả"
        assert page.inner_text("#case-assignee") == "Trần Thị B"
        trail = page.inner_text("ol.trail")
        assert "Thu giữ 40 chai tại chợ" in trail and "Inspectorate I" in trail
        # A closed move is no longer offered; only "resolved" is.
        options = page.locator("#case-new-status option").evaluate_all(
            "els => els.map(e => e.value)")
        assert [o for o in options if o] == ["resolved"]
        page.screenshot(path=str(artifacts_dir / "inspect-case-decided.png"), full_page=True)

        # Status filter finds it by its new status.
        page.goto(live_server + "/inspect/?status=confirmed_counterfeit")
        assert page.locator("table.flags .serial").all_inner_texts() == [SERIAL_SG]
        assert csp_errors == []
    finally:
        context.close()


def test_dashboard_fits_a_tablet(browser, live_server, artifacts_dir, inspector, two_flags):
    context = browser.new_context(viewport={"width": 768, "height": 1024}, has_touch=True)
    page = context.new_page()
    try:
        sign_in(page, live_server, inspector.key)
        page.wait_for_selector("table.flags")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 768  # no sideways scrolling of the page itself
        page.goto(live_server + f"/inspect/codes/{SERIAL_SG}")
        page.wait_for_selector("svg.map")
        assert page.evaluate("document.documentElement.scrollWidth") <= 768
        page.screenshot(path=str(artifacts_dir / "inspect-tablet-dossier.png"), full_page=True)
    finally:
        context.close()


def test_a_wrong_or_non_inspector_key_is_refused(browser, live_server, brand):
    page = browser.new_page()
    try:
        sign_in(page, live_server, "sa_0000000000_nope")
        assert "không hợp lệ" in page.inner_text(".flash.error")
        page.fill("#key", brand.key)
        page.click("button[type=submit]")
        assert "cán bộ kiểm tra" in page.inner_text(".flash.error")
        page.goto(live_server + "/inspect/")
        assert "/inspect/login" in page.url
    finally:
        page.close()


# -- without a browser: session, CSRF, revocation ---------------------------------------------

def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _login(client, key):
    page = client.get("/inspect/login")
    token = _csrf(page.get_data(as_text=True))
    page.close()
    return client.post("/inspect/login", data={"key": key, "csrf_token": token})


def test_posts_without_a_valid_csrf_token_are_refused(app, inspector, two_flags):
    client = app.test_client()
    assert client.post("/inspect/login", data={"key": inspector.key}).status_code == 400
    assert _login(client, inspector.key).status_code == 302
    queue = client.get("/inspect/")
    assert queue.status_code == 200
    flag_id = inspector.get("/api/v1/flags").get_json()["items"][0]["id"]
    forged = client.post(f"/inspect/flags/{flag_id}/case",
                         data={"status": "false_alarm", "csrf_token": "forged"})
    assert forged.status_code == 400
    assert inspector.get(f"/api/v1/flags/{flag_id}").get_json()["status"] == "open"
    ok = client.post(f"/inspect/flags/{flag_id}/case",
                     data={"status": "false_alarm", "csrf_token": _csrf(queue.get_data(
                         as_text=True))})
    assert ok.status_code == 302
    assert inspector.get(f"/api/v1/flags/{flag_id}").get_json()["status"] == "false_alarm"


def test_revoking_the_key_ends_the_session(app, inspector, two_flags):
    client = app.test_client()
    _login(client, inspector.key)
    assert client.get("/inspect/").status_code == 200
    inspector.post(f"/api/v1/keys/{inspector.key_id}/revoke")
    response = client.get("/inspect/")
    assert response.status_code == 302 and "/inspect/login" in response.headers["Location"]


def test_csv_cells_cannot_smuggle_formulas(app, inspector, brand, two_flags):
    client = app.test_client()
    _login(client, inspector.key)
    flag_id = inspector.get("/api/v1/flags").get_json()["items"][0]["id"]
    inspector.post(f"/api/v1/flags/{flag_id}/case", json={"assignee": "=HYPERLINK(\"x\")"})
    response = client.get("/inspect/flags.csv")
    text = response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    assert "'=HYPERLINK" in text


def test_bad_filters_show_a_message_not_an_error_page(app, inspector, two_flags):
    client = app.test_client()
    _login(client, inspector.key)
    response = client.get("/inspect/?province=99&min_risk=abc")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Bộ lọc không hợp lệ" in html and SERIAL_SG in html
    assert client.get("/inspect/codes/1NOPENOPENOPENOPENOP").status_code == 404
    # The status the JSON API answers for the same filter (errors.HTTP_STATUS).
    assert client.get("/inspect/flags.csv?province=99").status_code == 422
    login_next = app.test_client().get("/inspect/login?next=//evil.example")
    assert login_next.status_code == 200


def test_the_session_cookie_is_httponly_and_samesite(app, inspector):
    client = app.test_client()
    response = _login(client, inspector.key)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert inspector.key not in cookie  # only the key's id, signed


def _copy_cookies(source, target):
    for cookie in source._cookies.values():
        target.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)


def test_logout_ends_the_session_for_a_copied_cookie(app, inspector, two_flags):
    """Issue 15 item 11: logout cleared the cookie in one browser only; a copy of the cookie
    and its CSRF token kept working."""
    client = app.test_client()
    _login(client, inspector.key)
    queue = client.get("/inspect/")
    token = _csrf(queue.get_data(as_text=True))
    thief = app.test_client()
    _copy_cookies(client, thief)
    assert thief.get("/inspect/").status_code == 200  # the copy works while signed in
    assert client.post("/inspect/logout", data={"csrf_token": token}).status_code == 302
    copied = thief.get("/inspect/")
    assert copied.status_code == 302 and "/inspect/login" in copied.headers["Location"]
    flag_id = inspector.get("/api/v1/flags").get_json()["items"][0]["id"]
    thief.post(f"/inspect/flags/{flag_id}/case",
               data={"status": "false_alarm", "csrf_token": token})
    assert inspector.get(f"/api/v1/flags/{flag_id}").get_json()["status"] == "open"


def test_an_idle_session_ends(app, inspector, two_flags):
    client = app.test_client()
    _login(client, inspector.key)
    assert client.get("/inspect/").status_code == 200
    idle = app.config.get("DASHBOARD_IDLE_TIMEOUT_S", 1800)
    # The clock moves past the idle timeout: the session's last activity is made older.
    import datetime as dt

    import sqlalchemy as sa

    from scanapp.db import get_engine

    with get_engine(app).begin() as conn:
        conn.execute(sa.text("UPDATE dashboard_sessions SET last_seen_at = :t"),
                     {"t": dt.datetime.now(dt.UTC) - dt.timedelta(seconds=idle + 5)})
    response = client.get("/inspect/")
    assert response.status_code == 302 and "/inspect/login" in response.headers["Location"]
