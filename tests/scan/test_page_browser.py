"""The stamp page in a real headless Chromium: open the stamp URI as a phone would, read the
verdict in Vietnamese and English, with location granted and denied. Screenshots go to
the test artefacts folder (not git)."""

from __future__ import annotations

import pytest

from scanapp.serials.stamps import stamp_uri

from .conftest import BASE

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
HANOI = {"latitude": 21.0285, "longitude": 105.8542}


def _open(browser, url, locale, geolocation=None):
    context = browser.new_context(
        locale=locale, viewport=PHONE, is_mobile=True,
        permissions=["geolocation"] if geolocation else [], geolocation=geolocation)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Failed requests by URL (a console "404" does not say which); the favicon is not ours.
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    # Console errors other than the favicon's 404 (CSP violations would show up here).
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error"
            and "Failed to load resource" not in msg.text else None)
    page.goto(url)
    page.wait_for_selector("#verdict:not([data-verdict=pending])", timeout=10_000)
    return context, page, errors


def test_vietnamese_page_with_location_granted(browser, live_server, issue_stamps,
                                              artifacts_dir, stack):
    stamp = issue_stamps(1, lot="L01", expiry="2027-12-31")[0]
    context, page, errors = _open(browser, live_server + stamp.path, "vi-VN", HANOI)
    try:
        assert page.get_attribute("#verdict", "data-verdict") == "authentic"
        assert page.inner_text("#verdict-title") == "CHÍNH HÃNG"
        assert "lần quét thứ 1" in page.inner_text("#scan-no")
        assert "Hà Nội" in page.inner_text("#first-scan")
        assert page.inner_text("#lot") == "L01" and page.inner_text("#expiry") == "31/12/2027"
        assert page.get_attribute("html", "lang") == "vi"
        page.screenshot(path=str(artifacts_dir / f"scan-page-vi-granted-{stack.name}.png"),
                        full_page=True)
        # A reload moments later is the same scan, not a second one.
        page.reload()
        page.wait_for_selector("#verdict:not([data-verdict=pending])", timeout=10_000)
        assert "lần quét thứ 1" in page.inner_text("#scan-no")
        assert "Tải lại trang" in page.inner_text("#note")
        assert page.inner_text("#last-scan") == ""  # nobody scanned it before
        assert errors == []
    finally:
        context.close()


def test_english_page_with_location_denied(browser, live_server, issue_stamps, artifacts_dir,
                                          stack, scan):
    stamp = issue_stamps(1)[0]
    scan(stamp.uri, device_id="shop-assistant", lat=10.7769, lon=106.7009)  # in the shop
    context, page, errors = _open(browser, live_server + stamp.path, "en-US")
    try:
        assert page.get_attribute("#verdict", "data-verdict") == "authentic"
        assert page.inner_text("#verdict-title") == "GENUINE"
        assert "scan 2 of this code" in page.inner_text("#scan-no")
        assert "in Ho Chi Minh City" in page.inner_text("#first-scan")
        assert page.inner_text("#last-scan").startswith("Previous scan:")
        page.screenshot(path=str(artifacts_dir / f"scan-page-en-denied-{stack.name}.png"),
                        full_page=True)
        assert errors == []
    finally:
        context.close()


def test_language_switch_and_a_counterfeit_stamp(browser, live_server, issue_stamps, product,
                                                artifacts_dir, stack):
    stamp = issue_stamps(1)[0]
    forged = stamp_uri(BASE, product["gtin"], stamp.serial[:-1] + (
        "0" if stamp.serial[-1] != "0" else "1"))
    path = "/" + forged.split("://", 1)[1].split("/", 1)[1]
    context, page, errors = _open(browser, live_server + path, "vi-VN")
    try:
        assert page.get_attribute("#verdict", "data-verdict") == "counterfeit"
        assert page.inner_text("#verdict-title") == "HÀNG GIẢ"
        page.screenshot(path=str(artifacts_dir / f"scan-page-vi-counterfeit-{stack.name}.png"),
                        full_page=True)
        page.click("#lang-switch")
        page.wait_for_selector("#verdict:not([data-verdict=pending])", timeout=10_000)
        assert page.inner_text("#verdict-title") == "COUNTERFEIT"
        assert errors == []
    finally:
        context.close()


def test_pin_check_on_the_page(browser, live_server, issue_stamps, artifacts_dir, stack):
    stamp = issue_stamps(1, pin=True)[0]
    context, page, errors = _open(browser, live_server + stamp.path, "en-US")
    try:
        page.fill("#pin", stamp.pin)
        page.click("#pin-form button")
        page.wait_for_selector("#pin-result[data-result]", timeout=10_000)
        assert page.get_attribute("#pin-result", "data-result") == "valid"
        page.screenshot(path=str(artifacts_dir / f"scan-page-en-pin-{stack.name}.png"),
                        full_page=True)
        assert errors == []
    finally:
        context.close()
