"""The field pages in a real headless Chromium at a desktop (1280x800) and a phone (360x780):
an inspection recorded with its place from the phone's location and a photo, a stamp
checked by typing it, the evidence page; no CSP error, nothing wider than the screen.
Screenshots go to ``SCANAPP_SCREENSHOTS`` (else the test artefacts folder)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from scanapp.db import get_engine
from scanapp.fraud.models import FieldInspection, InspectionPhoto
from tests.fraud.test_field import SERIAL, jpeg_with_gps

pytestmark = pytest.mark.browser

VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 360, "height": 780}}
BEN_THANH = {"latitude": 10.772461, "longitude": 106.698055}


@pytest.fixture
def shots(artifacts_dir) -> Path:
    folder = Path(os.environ.get("SCANAPP_SCREENSHOTS") or artifacts_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.parametrize("size", VIEWPORTS)
def test_an_inspector_records_an_inspection_with_a_photo_and_checks_a_stamp(
        browser, live_server, app, inspector, product, scans, issue_stamps, shots, tmp_path,
        size):
    scans.flagged(SERIAL, product["gtin"], risk=92, reasons=("impossible_travel",),
                  province="79")
    stamp = issue_stamps(1)[0]
    photo = tmp_path / "tem.jpg"
    photo.write_bytes(jpeg_with_gps((800, 600)))
    phone = size == "phone"
    context = browser.new_context(viewport=VIEWPORTS[size], is_mobile=phone, has_touch=phone,
                                  locale="vi-VN", permissions=["geolocation"],
                                  geolocation=BEN_THANH)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error"
            and "Failed to load resource" not in m.text else None)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    try:
        page.goto(live_server + f"/inspect/inspections/new?serial={SERIAL}")
        assert "/inspect/login" in page.url
        page.fill("#key", inspector.key)
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert "/inspect/inspections/new" in page.url
        # The phone's position fills the fields by itself (field.js, same-origin script).
        page.wait_for_function("document.querySelector('#lat').value !== ''")
        assert page.input_value("#lat") == "10.772461"
        assert page.input_value("#lon") == "106.698055"
        assert "Đã lấy vị trí" in page.inner_text("[data-locate-status]")
        page.check("input[name=finding][value=counterfeit]")
        page.fill("#place", "Chợ Bến Thành, sạp 12")
        page.fill("#note", "Tem in mờ, thu giữ 40 chai")
        page.set_input_files("#photos", str(photo))
        assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS[size]["width"]
        page.screenshot(path=str(shots / f"field-inspection-form-{size}.png"), full_page=True)
        with page.expect_navigation():
            page.click(".inspection-form button[type=submit]")
        assert page.inner_text("#inspection-saved") == "Đã lưu kết quả kiểm tra."
        assert page.inner_text("#inspection-finding") == "Hàng giả"
        assert page.inner_text("#inspection-province") == "Hồ Chí Minh"
        assert page.inner_text("#inspection-coords") == "10.772461, 106.698055"
        image = page.locator(".photos img")
        assert image.count() == 1
        assert page.evaluate("document.querySelector('.photos img').naturalWidth") == 800
        assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS[size]["width"]
        page.screenshot(path=str(shots / f"field-inspection-saved-{size}.png"), full_page=True)
        with get_engine(app).connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(
                FieldInspection)).scalar_one() == 1
            assert conn.execute(sa.select(sa.func.count()).select_from(
                InspectionPhoto)).scalar_one() == 1

        # Check a stamp by typing it: the verdict in Vietnamese, a link to its dossier.
        page.goto(live_server + "/inspect/check")
        page.wait_for_function("document.querySelector('input[name=lat]').value !== ''")
        page.fill("#code", stamp.uri)
        with page.expect_navigation():
            page.click(".check-form button[type=submit]")
        assert page.get_attribute("#verdict", "data-outcome") == "genuine"
        assert "CHÍNH HÃNG" in page.inner_text("#verdict")
        assert "10.772461, 106.698055" in page.inner_text("#checked-place")
        assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS[size]["width"]
        page.screenshot(path=str(shots / f"field-check-{size}.png"), full_page=True)
        with page.expect_navigation():
            page.click("#open-dossier")
        assert f"/inspect/codes/{stamp.serial}" in page.url

        # The evidence page of the inspected code: its current hash and the print button.
        page.goto(live_server + f"/inspect/codes/{SERIAL}/evidence")
        assert len(page.inner_text("#current-hash").strip()) == 64
        assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS[size]["width"]
        with page.expect_download() as info:
            page.click("#issue-pdf")
        assert info.value.suggested_filename.startswith(f"ho-so-{SERIAL}-")
        page.screenshot(path=str(shots / f"field-evidence-{size}.png"), full_page=True)
        assert problems == []
    finally:
        context.close()
