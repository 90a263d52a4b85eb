"""The inspectors' workspace in a real headless Chromium, on a laptop (1280x800) and a phone
(360x780): the queue, a hotspot opened, a dossier, and a case taken from open to closed
through the page. At 360 px the page never scrolls sideways. Screenshots go to
$SCANAPP_SCREENSHOTS (else the test artefacts folder, test-artifacts/, beside the stamp page's
and the field pages' screenshots): in the run's output, not in git."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fraud.workspace_case import FORGED, SERIAL_HN

pytestmark = pytest.mark.browser

VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 360, "height": 780}}


@pytest.fixture
def shots(artifacts_dir) -> Path:
    folder = Path(os.environ.get("SCANAPP_SCREENSHOTS") or artifacts_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _open(browser, size: str):
    phone = size == "phone"
    context = browser.new_context(viewport=VIEWPORTS[size], is_mobile=phone, has_touch=phone,
                                  locale="vi-VN")
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    # (the browser's own favicon request answers 404: not a page problem)
    page.on("console", lambda m: problems.append(m.text) if m.type == "error"
            and "Failed to load resource" not in m.text else None)
    return context, page, problems


def _sign_in(page, live_server, key):
    page.goto(live_server + "/inspect/")
    assert "/inspect/login" in page.url
    assert page.inner_text("h1") == "Đăng nhập cán bộ quản lý thị trường"
    page.fill("#key", key)
    page.click("button[type=submit]")
    page.wait_for_selector("table.flags")


def _fits(page, size: str, shots: Path, name: str) -> None:
    """No sideways scrolling of the page at this width; then a screenshot."""
    width = VIEWPORTS[size]["width"]
    scroll = page.evaluate("document.scrollingElement.scrollWidth")
    assert scroll <= width, f"{name}: the page is {scroll} px wide at {width} px"
    page.screenshot(path=str(shots / f"inspect-{size}-{name}.png"), full_page=True)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_queue_hotspot_and_dossier(browser, live_server, inspector, case, shots, size):
    context, page, problems = _open(browser, size)
    try:
        _sign_in(page, live_server, inspector.key)
        assert page.inner_text("h1").startswith("Hàng đợi mã bị cảnh báo")
        assert page.locator("table.flags tbody tr").count() == 2
        assert "Di chuyển bất khả thi" in page.inner_text("table.flags")
        assert page.locator("svg.hotspot-map path.province").count() == 34
        _fits(page, size, shots, "queue")

        # Open the Cần Thơ hotspot: from its bubble on a laptop, its row on a phone.
        if size == "desktop":
            with page.expect_navigation():
                page.locator("svg.hotspot-map a.bubble-link").first.click()
            assert "cell=" in page.url
        else:
            with page.expect_navigation():
                page.click("table.hotspot-provinces a.spot-link:has-text('Cần Thơ')")
            assert "province=92" in page.url
        assert "Cần Thơ" in page.inner_text("#spot-heading")
        assert page.inner_text("#forged-codes") == "3"
        assert page.inner_text("#forged-scans") == "5"
        assert page.locator("table.spot-scans tbody tr").count() == 5
        _fits(page, size, shots, "hotspot")

        # A forged code's dossier from there.
        with page.expect_navigation():
            page.click(f"table.spot-scans a.serial:has-text('{FORGED[0]}')")
        assert page.inner_text("#code-genuine") == "Không: tem giả"
        _fits(page, size, shots, "dossier-forged")

        # The copied genuine code's dossier: map, signals, reports, lot.
        page.goto(live_server + f"/inspect/codes/{case.serial}")
        assert page.locator("svg.map g.scan").count() == 2
        assert "Quá nhiều điện thoại" in page.inner_text("ul.signals")
        assert "Nghi hàng giả, hàng nhái" in page.inner_text("ul.code-reports")
        assert page.inner_text("#lot") == "L2411"
        _fits(page, size, shots, "dossier")

        # The lot's lineage, both ways, from the dossier's links (the sign-in cookie only).
        with page.expect_navigation():
            page.click("#lineage-forward")
        assert page.inner_text("#lineage-heading") == "Chuỗi phân phối lô L2411"
        assert "Công ty Phân phối Hà Nội" in page.inner_text("#own-moves")
        _fits(page, size, shots, "lineage-forward")
        with page.expect_navigation():
            page.click("#lineage-other")
        assert page.inner_text("#lineage-heading") == "Chuỗi nguồn gốc lô L2411"
        _fits(page, size, shots, "lineage-backward")
        page.goto(live_server + f"/inspect/codes/{case.serial}")

        # English on request, kept for the next page.
        page.click("a.lang-switch")
        assert page.inner_text("h1").startswith("Code dossier")
        page.goto(live_server + "/inspect/")
        assert page.inner_text("h1").startswith("Flagged codes queue")
        _fits(page, size, shots, "queue-en")
        assert problems == []
    finally:
        context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_case_from_open_to_closed(browser, live_server, inspector, case, shots, size):
    context, page, problems = _open(browser, size)
    try:
        _sign_in(page, live_server, inspector.key)
        with page.expect_navigation():
            page.click(f"table.flags a.serial:has-text('{SERIAL_HN}')")
        assert page.inner_text("#case-status") == "Mới"

        def decide(status: str, note: str | None = None, assignee: str | None = None):
            page.select_option("#case-new-status", status)
            if assignee:
                page.fill("input[name=assignee]", assignee)
            if note:
                page.fill("textarea[name=note]", note)
            with page.expect_navigation():
                page.click("form.case-form button[type=submit]")
            assert page.inner_text(".flash") == "Đã cập nhật vụ việc."

        decide("investigating", assignee="Trần Thị B", note="Kiểm tra chợ Đồng Xuân")
        assert page.inner_text("#case-status") == "Đang xử lý"
        _fits(page, size, shots, "case-investigating")
        # A closing decision asks first, in Vietnamese.
        asked: list[str] = []

        def accept(dialog):
            asked.append(dialog.message)
            dialog.accept()

        page.once("dialog", accept)
        decide("confirmed_counterfeit", note="Thu giữ 40 chai")
        assert asked == ["Xác nhận chuyển vụ việc sang «Xác nhận hàng giả»?"]
        assert page.inner_text("#case-status") == "Xác nhận hàng giả"
        decide("resolved")
        assert page.inner_text("#case-status") == "Đã đóng"
        trail = page.inner_text("ol.trail")
        for words in ("Hệ thống cảnh báo", "Ngoài thị trường phân phối", "Giao phụ trách",
                      "Trần Thị B", "Kiểm tra chợ Đồng Xuân", "Thu giữ 40 chai",
                      "Xác nhận hàng giả → Đã đóng", "bởi Inspectorate I"):
            assert words in trail, words
        assert "out_of_market" not in trail
        _fits(page, size, shots, "case-closed")
        # Closed: only reopening is offered.
        values = page.locator("#case-new-status option").evaluate_all(
            "els => els.map(e => e.value)")
        assert [v for v in values if v] == ["open"]
        assert problems == []
    finally:
        context.close()
