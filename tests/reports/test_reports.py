"""Consumer reports: filed from the stamp page or the API, checked whole, stored with the
scan's place and time, photos cleaned, phone numbers for inspectors only, rate limited."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

HTML = {"Accept": "text/html"}
HANOI = (21.0285, 105.8542)


def _jpeg_with_gps(size=(640, 480)) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (21.0, 1.0, 42.6)  # GPSLatitudeRef, GPSLatitude
    gps[3], gps[4] = "E", (105.0, 51.0, 15.1)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def _form(stamp, **fields):
    return {"code": stamp.uri, "outcome": "suspicious", "problem": "fake", "lang": "vi",
            "where_bought": "Chợ Đồng Xuân, sạp 12", "details": "Nắp chai bị lỏng",
            "phone": "0912 345 678", "device_id": "phone-1", **fields}


def test_report_lands_in_the_inspectors_queue_with_the_scans_place(
        app, client, issue_stamps, scan, inspector, anonymous):
    stamp = issue_stamps(1)[0]
    scan(stamp.uri, device_id="phone-1", lat=HANOI[0], lon=HANOI[1], source="consumer")
    data = {**_form(stamp), "photo": (io.BytesIO(_jpeg_with_gps()), "IMG_0001.jpg")}
    page = client.post("/v/report", data=data, content_type="multipart/form-data",
                       headers=HTML)
    html = page.get_data(as_text=True)
    assert page.status_code == 201 and "đã được gửi tới cơ quan quản lý thị trường" in html
    report_id = int(re.search(r'data-report-id="(\d+)"', html).group(1))

    queue = inspector.get("/api/v1/reports").get_json()
    assert queue["total"] == 1
    report = queue["items"][0]
    assert report["id"] == report_id and report["serial"] == stamp.serial
    assert report["province"] == "01" and report["scanned_at"] and report["verdict"]
    assert report["phone"] == "0912 345 678" and report["where_bought"].startswith("Chợ")
    assert report["has_photo"] and report["lat"] == round(HANOI[0], 3)

    photo = inspector.get(report["photo_url"])
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    stored = Image.open(io.BytesIO(photo.data))
    assert not stored.getexif() and "exif" not in stored.info  # GPS and maker gone
    # Nobody without an inspector key reads it; the public answer has no phone number.
    assert anonymous.get("/api/v1/reports").status_code == 401
    assert "0912" not in html


def test_report_shows_in_the_dashboard_queue(app, client, issue_stamps, inspector):
    stamp = issue_stamps(1)[0]
    client.post("/v/report", data=_form(stamp), content_type="multipart/form-data")
    dashboard = app.test_client()
    form = dashboard.get("/inspect/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    signed_in = dashboard.post("/inspect/login", data={"key": inspector.key,
                                                       "csrf_token": token})
    assert signed_in.status_code == 302
    queue = dashboard.get("/inspect/").get_data(as_text=True)
    assert 'id="consumer-reports"' in queue and "Chợ Đồng Xuân" in queue
    link = re.search(r'href="(/inspect/reports/\d+)"', queue).group(1)
    detail = dashboard.get(link).get_data(as_text=True)
    assert "0912 345 678" in detail and "Nắp chai bị lỏng" in detail


@pytest.mark.parametrize("fields,field,message", [
    ({"details": "x" * 2001}, "details", "Quá dài: tối đa 2000 ký tự."),
    ({"where_bought": "<script>alert(1)</script>"}, "where_bought", "không nhập mã HTML"),
    ({"details": '<img src=x onerror="alert(1)">'}, "details", "không nhập mã HTML"),
    ({"phone": "call me"}, "phone", "Số điện thoại không hợp lệ"),
    ({"problem": "nonsense"}, "problem", "chọn một vấn đề"),
])
def test_bad_text_is_refused_clearly_and_nothing_typed_is_lost(
        app, client, issue_stamps, inspector, fields, field, message):
    stamp = issue_stamps(1)[0]
    page = client.post("/v/report", data=_form(stamp, **fields),
                       content_type="multipart/form-data", headers=HTML)
    html = page.get_data(as_text=True)
    assert page.status_code == 422
    assert message in html and f'id="e-{field}"' in html
    assert "<script>alert(1)</script>" not in html and "<img src=x" not in html
    # What was typed comes back in the form (escaped), ready to correct and resend.
    if field != "where_bought":
        assert 'value="Chợ Đồng Xuân, sạp 12"' in html
    if field != "details":
        assert "Nắp chai bị lỏng</textarea>" in html
    assert inspector.get("/api/v1/reports").get_json()["total"] == 0


@pytest.mark.parametrize("upload,message", [
    (b"%PDF-1.4 not an image", "không phải là ảnh"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "không phải là ảnh"),  # a broken PNG
])
def test_a_file_that_is_not_an_image_is_refused(client, issue_stamps, upload, message):
    stamp = issue_stamps(1)[0]
    data = {**_form(stamp), "photo": (io.BytesIO(upload), "photo.jpg")}
    page = client.post("/v/report", data=data, content_type="multipart/form-data",
                       headers=HTML)
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and message in html
    assert 'value="Chợ Đồng Xuân, sạp 12"' in html


def test_huge_images_are_refused_with_a_message(client, issue_stamps, monkeypatch):
    from scanapp import photos  # the shared photo cleaning reports use

    stamp = issue_stamps(1)[0]
    # Too many pixels (a decompression bomb is a small file with a huge canvas).
    bomb = io.BytesIO()
    Image.new("L", (9000, 9000)).save(bomb, "PNG", optimize=True)
    assert len(bomb.getvalue()) < 1024 * 1024
    page = client.post("/v/report", data={**_form(stamp), "photo": (io.BytesIO(
        bomb.getvalue()), "bomb.png")}, content_type="multipart/form-data", headers=HTML)
    assert page.status_code == 422 and "quá nhiều điểm ảnh" in page.get_data(as_text=True)
    # Over the byte limit (lowered here so the test sends little).
    monkeypatch.setattr(photos, "MAX_BYTES", 10_000)
    big = client.post("/v/report", data={**_form(stamp), "photo": (io.BytesIO(
        _jpeg_with_gps((1200, 900))), "big.jpg")}, content_type="multipart/form-data",
        headers=HTML)
    assert big.status_code == 422


def test_photo_larger_than_the_global_body_limit_is_accepted(client, issue_stamps, inspector):
    stamp = issue_stamps(1)[0]
    noisy = Image.effect_noise((1500, 1500), 80).convert("RGB")
    out = io.BytesIO()
    noisy.save(out, "PNG")
    assert len(out.getvalue()) > 1024 * 1024  # bigger than MAX_CONTENT_LENGTH
    # Encoded to bytes here: the test client would spool a body this big to a temporary
    # file it never closes.
    boundary, body = encode_multipart(MultiDict({
        **_form(stamp), "photo": FileStorage(io.BytesIO(out.getvalue()), "p.png")}))
    page = client.post("/v/report", data=body, headers=HTML,
                       content_type=f"multipart/form-data; boundary={boundary}")
    assert page.status_code == 201, page.get_data(as_text=True)[:500]
    report = inspector.get("/api/v1/reports").get_json()["items"][0]
    assert report["has_photo"]


def test_api_filing_answers_json_and_lists_every_problem(client, issue_stamps):
    stamp = issue_stamps(1)[0]
    bad = client.post("/api/v1/reports", data=_form(stamp, phone="x", details="<b>hi</b>"),
                      content_type="multipart/form-data")
    body = bad.get_json()
    assert bad.status_code == 422 and body["code"] == "invalid_report"
    assert set(body["errors"]) == {"phone", "details"}
    good = client.post("/api/v1/reports", data=_form(stamp), content_type="multipart/form-data")
    assert good.status_code == 201 and set(good.get_json()) == {"id", "status", "created_at"}


def test_a_report_about_a_malformed_code_is_kept(client, inspector):
    page = client.post("/v/report", data={"code": "/01/12345/21/???", "outcome": "malformed",
                                          "problem": "fake", "lang": "en"},
                       content_type="multipart/form-data", headers=HTML)
    assert page.status_code == 201
    report = inspector.get("/api/v1/reports").get_json()["items"][0]
    assert report["outcome"] == "malformed" and report["serial"] is None


def test_filing_is_rate_limited(app_factory, issue_stamps):
    limited = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_REPORT="2/hour")
    stamp = issue_stamps(1)[0]
    client = limited.test_client()
    answers = [client.post("/v/report", data=_form(stamp), content_type="multipart/form-data",
                           headers=HTML) for _ in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 429]
    refused = answers[-1]
    html = refused.get_data(as_text=True)
    assert int(refused.headers["Retry-After"]) > 0 and "Vui lòng gửi lại sau khoảng" in html
    assert 'value="Chợ Đồng Xuân, sạp 12"' in html  # nothing typed is lost
