"""The authority's pages in a real Chromium: sign in, the review queue (approve one),
a finding (open a case), the statistics dashboard; screenshots under test-artifacts/."""

from __future__ import annotations

import pytest

from tests.authority.conftest import ok


@pytest.fixture
def signed_in(browser, live_server, hung_yen, hy_chain, app):
    assert app.test_cli_runner().invoke(args=["authority", "check"]).exit_code == 0
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="vi-VN")
    page = context.new_page()
    page.goto(f"{live_server}/authority/")
    assert "/authority/login" in page.url
    page.fill("input[name=key]", hung_yen.key)
    page.click("button[type=submit]")
    yield page
    context.close()


def test_queue_finding_and_statistics(signed_in, live_server, artifacts_dir, hung_yen,
                                      stack):
    page = signed_in
    assert page.url.endswith("/authority/")
    rows = page.locator("tbody tr")
    assert rows.count() == 3
    assert page.get_by_text("HTX Nhãn lồng Tiên Lữ").count() == 1
    page.screenshot(path=str(artifacts_dir / f"authority-review-queue-{stack.name}.png"),
                    full_page=True)
    # Reject one with a reason, approve another.
    first = rows.nth(0)
    first.locator("input[name=reason]").fill("Thiếu số điện thoại liên hệ")
    first.get_by_role("button", name="Từ chối").click()
    page.wait_for_selector(".flash.ok:has-text('Đã từ chối')")
    page.locator("tbody tr").nth(0).get_by_role("button", name="Duyệt").click()
    page.wait_for_selector(".flash.ok:has-text('Đã duyệt')")
    assert page.locator("tbody tr").count() == 1
    states = {i["state"] for i in ok(hung_yen.get("/api/v1/authority/reviews"), 200)}
    assert states == {"pending", "approved", "rejected"}

    page.click("header >> text=Phát hiện")
    page.locator("tbody tr a").first.click()
    page.wait_for_selector("h1:has-text('Phát hiện #')")
    assert "Có tem nhưng không có sự kiện sau sản xuất" in page.content()
    page.screenshot(path=str(artifacts_dir / f"authority-finding-{stack.name}.png"),
                    full_page=True)
    page.fill("input[name=note]", "Mời doanh nghiệp giải trình")
    page.get_by_role("button", name="Lập vụ việc vi phạm").click()
    page.wait_for_selector(".flash.ok:has-text('Đã lập vụ việc')")

    page.goto(f"{live_server}/authority/statistics?from=2026-01-01")
    assert page.locator("svg").count() >= 3
    assert "Doanh nghiệp có hệ thống truy xuất" in page.content()
    assert page.locator("script").count() == 0
    page.screenshot(path=str(artifacts_dir / f"authority-statistics-{stack.name}.png"),
                    full_page=True)
    pdf = page.request.get(f"{live_server}/authority/report.pdf?from=2026-01-01")
    assert pdf.status == 200 and pdf.body()[:4] == b"%PDF"
