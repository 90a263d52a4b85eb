"""The stamp page in a real headless Chromium at a phone's size (390x844), in Vietnamese and
English: every outcome, the report form into the inspectors' queue, JavaScript off, the
recall banner, 320 px at 200 % text. Each test saves a screenshot to the test artefacts
folder (not in git) for a person to look at."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from PIL import Image

from scanapp.db import get_engine
from scanapp.errors import RateLimited
from scanapp.scan import pages
from scanapp.scan.models import ScanEvent
from scanapp.serials.stamps import stamp_uri

from .conftest import BASE

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
HANOI = {"latitude": 21.0285, "longitude": 105.8542}
SAIGON = (10.7769, 106.7009)
DA_NANG = (16.0544, 108.2022)
LOCALES = {"vi": "vi-VN", "en": "en-US"}
TITLES = {
    "genuine": ("CHÍNH HÃNG", "GENUINE"),
    "repeat": ("CHÍNH HÃNG · ĐÃ ĐƯỢC KIỂM TRA TRƯỚC", "GENUINE · CHECKED BEFORE"),
    "suspicious": ("NGHI NGỜ", "SUSPICIOUS"),
    "counterfeit": ("HÀNG GIẢ", "COUNTERFEIT"),
    "not_activated": ("CHƯA KÍCH HOẠT", "NOT ACTIVATED"),
    "voided": ("TEM ĐÃ HỦY", "VOIDED STAMP"),
    "recalled": ("ĐÃ THU HỒI", "RECALLED"),
    "expired": ("ĐÃ HẾT HẠN", "EXPIRED"),
    "unknown_product": ("SẢN PHẨM CHƯA ĐĂNG KÝ", "PRODUCT NOT REGISTERED"),
    "malformed": ("MÃ KHÔNG HỢP LỆ", "INVALID CODE"),
    "rate_limited": ("VUI LÒNG THỬ LẠI SAU", "PLEASE TRY AGAIN LATER"),
    "unavailable": ("CHƯA KIỂM TRA ĐƯỢC", "CANNOT CHECK RIGHT NOW"),
}


def _context(browser, lang, geolocation=None, **options):
    return browser.new_context(
        locale=LOCALES[lang], viewport=options.pop("viewport", PHONE), is_mobile=True,
        permissions=["geolocation"] if geolocation else [], geolocation=geolocation, **options)


def _watch(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error"
            and "Failed to load resource" not in msg.text else None)
    return errors


def _count(app) -> int:
    with get_engine(app).connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(ScanEvent)).scalar_one()


def _setup(outcome, issue_stamps, product, brand, scan, clock, monkeypatch) -> tuple[str, bool]:
    """The path a phone opens for ``outcome`` and whether the page records a scan."""
    if outcome in ("unknown_product", "malformed"):
        return ("/01/08934567890007/21/ABC" if outcome == "unknown_product"
                else "/01/12345678901234/21/ABC"), False
    if outcome == "rate_limited":
        def refuse(*_a, **_k):
            raise RateLimited("Too many requests (120 per 1 minute)", retry_after_s=42)
        monkeypatch.setattr(pages.service, "current_verification", refuse)
        return issue_stamps(1)[0].path, False
    if outcome == "unavailable":
        def down(*_a, **_k):
            raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))
        monkeypatch.setattr(pages.service, "current_verification", down)
        return issue_stamps(1)[0].path, False
    if outcome == "not_activated":
        return issue_stamps(1, status="printed")[0].path, True
    if outcome == "expired":
        return issue_stamps(1, lot="L2301", expiry="2025-06-30")[0].path, True
    stamp = issue_stamps(1, lot="L2411", expiry="2027-12-31")[0]
    if outcome == "counterfeit":
        forged = stamp.serial[:-1] + ("0" if stamp.serial[-1] != "0" else "1")
        return "/" + stamp_uri(BASE, product["gtin"], forged, "L2411").split("/", 3)[3], True
    if outcome in ("voided", "recalled"):
        action = "void" if outcome == "voided" else "recall"
        done = brand.post(f"/api/v1/ranges/{stamp.range_id}/{action}", json={
            "serials": [stamp.serial], "reason": "Phát hiện nhiễm khuẩn Salmonella"})
        assert done.status_code == 200, done.get_json()
    if outcome == "repeat":  # the shop checked it earlier, in the same city
        clock.advance(-3 * 3600)
        scan(stamp.uri, device_id="shop", lat=HANOI_LL[0], lon=HANOI_LL[1], source="consumer")
        clock.advance(3 * 3600)
    if outcome == "suspicious":
        for i, (lat, lon) in enumerate([HANOI_LL, SAIGON, DA_NANG, HANOI_LL, SAIGON, DA_NANG]):
            clock.advance(120)
            scan(stamp.uri, lat=lat, lon=lon, device_id=f"phone-{i}")
    return stamp.path, True


HANOI_LL = (HANOI["latitude"], HANOI["longitude"])


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("outcome", list(TITLES))
def test_every_outcome_is_a_clear_page(browser, live_server, issue_stamps, product, brand, scan,
                                       clock, monkeypatch, artifacts_dir, stack, outcome, lang):
    path, records = _setup(outcome, issue_stamps, product, brand, scan, clock, monkeypatch)
    context = _context(browser, lang, geolocation=HANOI)
    page = context.new_page()
    errors = _watch(page)
    try:
        page.goto(live_server + path)
        if records:
            page.wait_for_selector("#verdict[data-recorded]", timeout=10_000)
        verdict = page.locator("#verdict")
        assert verdict.get_attribute("data-verdict") == outcome
        assert verdict.get_attribute("role") == "status"
        title = TITLES[outcome][0 if lang == "vi" else 1]
        assert page.inner_text("#verdict-title") == title
        assert title in page.title()
        body = page.inner_text("body")
        assert not body.lstrip().startswith("{") and '"status"' not in body  # never raw JSON
        assert page.locator("#report-form").count() == 1  # report form on every page
        if outcome == "counterfeit":
            assert product["name"] not in body and "Brand A" not in body
            assert product["name"] not in page.title()
        if outcome in ("suspicious", "recalled", "repeat", "counterfeit", "expired"):
            assert page.locator("#why li").count() >= 1
        if outcome == "suspicious":
            assert ("Hà Nội" if lang == "vi" else "Hanoi") in page.inner_text("#why")
        if outcome == "rate_limited":
            assert re.search(r"\d\d:\d\d", page.inner_text("#verdict-detail"))
        page.screenshot(path=str(artifacts_dir / f"page-{outcome}-{lang}-{stack.name}.png"),
                        full_page=True)
        assert errors == []
    finally:
        context.close()


def test_recall_banner_sits_above_everything(browser, live_server, issue_stamps, brand,
                                             artifacts_dir, stack):
    stamp = issue_stamps(1, lot="L2411")[0]
    brand.post(f"/api/v1/ranges/{stamp.range_id}/recall",
               json={"reason": "Phát hiện nhiễm khuẩn Salmonella"})
    context = _context(browser, "vi")
    page = context.new_page()
    try:
        page.goto(live_server + stamp.path)
        banner = page.locator("#recall-banner")
        assert banner.is_visible()
        assert "Thu hồi bởi Brand A" in banner.inner_text()
        assert "Salmonella" in banner.inner_text()
        top = page.evaluate(
            "document.querySelector('#scan').firstElementChild.nextElementSibling.id")
        assert top == "recall-banner"
        # Both boxes read in one step once laid out: the page's script may still be filling
        # the verdict in, and two separate reads could fall on either side of a re-render.
        page.wait_for_function(
            "() => { const b = document.getElementById('recall-banner'),"
            " v = document.getElementById('verdict');"
            " return !!(b && v && b.getClientRects().length && v.getClientRects().length"
            " && b.getBoundingClientRect().top < v.getBoundingClientRect().top); }")
        page.screenshot(path=str(artifacts_dir / f"page-recall-banner-{stack.name}.png"),
                        full_page=True)
    finally:
        context.close()


def test_javascript_off_shows_the_verdict_and_the_button_records(
        browser, live_server, app, issue_stamps, artifacts_dir, stack):
    stamp = issue_stamps(1)[0]
    context = _context(browser, "vi", java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(live_server + stamp.path)
        assert page.get_attribute("#verdict", "data-verdict") == "genuine"
        assert _count(app) == 0  # the GET records nothing
        page.screenshot(path=str(artifacts_dir / f"page-nojs-before-{stack.name}.png"),
                        full_page=True)
        page.click("button:has-text('Ghi nhận lượt kiểm tra')")
        page.wait_for_selector("#verdict[data-recorded]")
        assert "Đây là lần kiểm tra đầu tiên" in page.inner_text("#why")
        assert _count(app) == 1
        page.screenshot(path=str(artifacts_dir / f"page-nojs-after-{stack.name}.png"),
                        full_page=True)
        # The report form is a plain form: it works without JavaScript too.
        page.click("#report summary")
        page.fill("#r-where", "Tạp hóa Minh Anh, Cầu Giấy")
        page.click("#report-form button[type=submit]")
        page.wait_for_selector("#report-thanks")
    finally:
        context.close()


def _photo_file(tmp_path):
    path = tmp_path / "tem.jpg"
    Image.new("RGB", (800, 600), (30, 120, 200)).save(path, "JPEG")
    return path


def test_report_form_end_to_end_into_the_inspectors_queue(
        browser, live_server, issue_stamps, product, inspector, artifacts_dir, stack, tmp_path):
    stamp = issue_stamps(1)[0]
    forged = stamp.serial[:-1] + ("0" if stamp.serial[-1] != "0" else "1")
    path = "/" + stamp_uri(BASE, product["gtin"], forged).split("/", 3)[3]
    context = _context(browser, "vi", geolocation=HANOI)
    page = context.new_page()
    errors = _watch(page)
    try:
        page.goto(live_server + path)
        page.wait_for_selector("#verdict[data-recorded]")
        assert page.locator("#report").get_attribute("open") is not None
        page.select_option("#r-problem", "fake")
        page.fill("#r-where", "Chợ Đồng Xuân, sạp 12")
        # Script in a text field: refused with a clear message, nothing typed is lost.
        page.fill("#r-details", "<script>alert(1)</script> nắp chai lỏng")
        page.fill("#r-phone", "0912 345 678")
        page.set_input_files("#r-photo", str(_photo_file(tmp_path)))
        page.click("#report-form button[type=submit]")
        page.wait_for_selector("#report-errors")
        assert "không nhập mã HTML" in page.inner_text("#e-details")
        assert page.input_value("#r-where") == "Chợ Đồng Xuân, sạp 12"
        assert page.input_value("#r-phone") == "0912 345 678"
        page.screenshot(path=str(artifacts_dir / f"report-refused-{stack.name}.png"),
                        full_page=True)
        page.fill("#r-details", "Nắp chai lỏng, tem in mờ")
        page.set_input_files("#r-photo", str(_photo_file(tmp_path)))
        page.click("#report-form button[type=submit]")
        page.wait_for_selector("#report-thanks")
        report_id = page.get_attribute("#report-thanks", "data-report-id")
        page.screenshot(path=str(artifacts_dir / f"report-sent-{stack.name}.png"),
                        full_page=True)
        assert errors == []

        # The inspector signs in to the dashboard and finds it in the queue.
        desk = browser.new_context(viewport={"width": 1280, "height": 900})
        inspect = desk.new_page()
        inspect.goto(live_server + "/inspect/login")
        inspect.fill("input[name=key]", inspector.key)
        inspect.click("form button[type=submit]")
        inspect.wait_for_selector("#consumer-reports")
        row = inspect.locator(f"#consumer-reports a[href='/inspect/reports/{report_id}']")
        assert row.count() == 1
        assert "Chợ Đồng Xuân" in inspect.inner_text("#consumer-reports")
        inspect.locator("#consumer-reports").screenshot(
            path=str(artifacts_dir / f"report-in-queue-{stack.name}.png"))
        row.click()
        inspect.wait_for_selector("#consumer-report")
        detail = inspect.inner_text("#consumer-report")
        # The workspace speaks Vietnamese: the scan's verdict is "Tem giả" (counterfeit).
        assert "0912 345 678" in detail and "Hà Nội" in detail and "Tem giả" in detail
        assert inspect.locator("img[alt^='Ảnh']").count() == 1
        inspect.screenshot(path=str(artifacts_dir / f"report-detail-{stack.name}.png"),
                           full_page=True)
        desk.close()
    finally:
        context.close()


def test_language_toggle_keeps_its_state(browser, live_server, issue_stamps):
    first, second = issue_stamps(2)
    context = _context(browser, "vi")
    page = context.new_page()
    try:
        page.goto(live_server + first.path)
        assert page.get_attribute("html", "lang") == "vi"
        page.click("#lang-switch")
        page.wait_for_load_state()
        assert page.get_attribute("html", "lang") == "en"
        page.goto(live_server + second.path)  # another stamp, later
        assert page.get_attribute("html", "lang") == "en"
        assert page.inner_text("#verdict-title") == "GENUINE"
    finally:
        context.close()


def test_usable_at_320_px_and_200_percent_text(browser, live_server, issue_stamps, scan,
                                               artifacts_dir, stack):
    stamp = issue_stamps(1, lot="L2411", expiry="2027-12-31", pin=True)[0]
    scan(stamp.uri, device_id="shop", lat=SAIGON[0], lon=SAIGON[1], source="consumer")
    context = _context(browser, "vi", viewport={"width": 320, "height": 640})
    page = context.new_page()
    try:
        page.goto(live_server + stamp.path)
        page.add_style_tag(content="html{font-size:200%}")
        wide = page.evaluate("""() => [...document.querySelectorAll('#scan *')]
            .filter(e => e.getBoundingClientRect().right > 321)
            .map(e => (e.id || e.tagName) + ':' + Math.round(e.getBoundingClientRect().right))""")
        assert wide == []  # nothing forces sideways scrolling
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
        small = page.evaluate("""() => [...document.querySelectorAll(
              'button, .btn, input:not([type=hidden]), select, summary, .top a')]
            .filter(e => e.offsetParent !== null)
            .map(e => [e.id || e.tagName, e.getBoundingClientRect().height])
            .filter(([, h]) => h < 44)""")
        assert small == []
        # No word of the verdict or its explanation is split across lines.
        split = page.evaluate("""() => {
            const out = [];
            const found = '#verdict-title, #verdict-detail, #why li';
            for (const el of document.querySelectorAll(found)) {
              const node = el.firstChild; if (!node || node.nodeType !== 3) continue;
              let at = 0;
              for (const word of node.textContent.split(' ')) {
                const r = document.createRange();
                r.setStart(node, at); r.setEnd(node, at + word.length);
                const lines = new Set([...r.getClientRects()].map(b => Math.round(b.top)));
                if (word && lines.size > 1) out.push(word);
                at += word.length + 1;
              }
            }
            return out; }""")
        assert split == []
        page.screenshot(path=str(artifacts_dir / f"page-320px-200pct-{stack.name}.png"),
                        full_page=True)
    finally:
        context.close()


def test_pin_check_on_the_page(browser, live_server, issue_stamps, artifacts_dir, stack):
    stamp = issue_stamps(1, pin=True)[0]
    context = _context(browser, "en")
    page = context.new_page()
    errors = _watch(page)
    try:
        page.goto(live_server + stamp.path)
        page.fill("#pin", stamp.pin)
        page.click("#pin-form button")
        page.wait_for_selector("#pin-result[data-result]", timeout=10_000)
        assert page.get_attribute("#pin-result", "data-result") == "valid"
        page.screenshot(path=str(artifacts_dir / f"page-pin-en-{stack.name}.png"),
                        full_page=True)
        assert errors == []
    finally:
        context.close()



def test_product_card_shows_the_lots_journey_and_a_trace_recall(
        browser, live_server, app, artifacts_dir, stack):
    from scanapp.demo import seed_demo
    from scanapp.trace import demo

    seed_demo(app, echo=lambda *a, **k: None)
    for lang in ("vi", "en"):
        context = _context(browser, lang)
        page = context.new_page()
        errors = _watch(page)
        try:
            page.goto(live_server + "/" + demo.first_stamp(app, demo.BOX_LOT).split("/", 3)[3])
            page.wait_for_selector("#verdict[data-recorded]")
            card = page.inner_text("#product-card")
            assert ("Nhà sản xuất" if lang == "vi" else "Producer") in card
            assert "VN-HYLN-0012" in card  # the planting-area code
            assert page.locator("#journey li").count() >= 4
            assert "VietGAP" in page.inner_text("#certificates")
            assert page.locator("#origin-map svg circle").count() > 30  # offline map
            page.screenshot(path=str(artifacts_dir / f"page-card-{lang}-{stack.name}.png"),
                            full_page=True)
            # The lot recalled in the trace records (a farm lot failed a lab test).
            page.goto(live_server + "/" + demo.first_stamp(app, "LN2609H").split("/", 3)[3])
            page.wait_for_selector("#verdict[data-recorded]")
            assert page.get_attribute("#verdict", "data-verdict") == "recalled"
            assert ("thuốc bảo vệ thực vật" in page.inner_text("#recall-banner"))
            page.screenshot(path=str(artifacts_dir / f"page-trace-recall-{lang}-{stack.name}"
                                                     ".png"), full_page=True)
            assert errors == []
        finally:
            context.close()
