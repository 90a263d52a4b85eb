"""The evidence PDF of a code's dossier, read back as text (pypdf): the product, code, scans
in Vietnam time, signals in Vietnamese, inspections, audit trail and the content hash on
every page; and the verify page: a match, a tampered hash refused, a changed case said."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from scanapp.db import session_scope
from scanapp.fraud import evidence
from scanapp.fraud.models import EvidenceIssue
from tests.fraud.test_field import SERIAL, form_token, jpeg_with_gps, sign_in

# 14:05 UTC is 21:05 in Vietnam (UTC+7); 20:30 UTC the day before is 03:30 on the 29th.
HANOI_AT = dt.datetime(2026, 11, 28, 20, 30, tzinfo=dt.UTC)
SAIGON_AT = dt.datetime(2026, 11, 29, 14, 5, tzinfo=dt.UTC)


@pytest.fixture
def case(app, inspector, product, scans):
    """A copied code: scanned in Hà Nội, then in Hồ Chí Minh city 17 hours later (flagged);
    an inspection with a photo; the case confirmed with a note."""
    gtin = product["gtin"]
    scans.event(SERIAL, gtin, province="01", at=HANOI_AT, device="a")
    scans.flagged(SERIAL, gtin, risk=92, reasons=("impossible_travel", "many_devices"),
                  province="79", at=SAIGON_AT)
    client = sign_in(app, inspector.key)
    token = form_token(client)
    saved = client.post("/inspect/inspections", data={
        "csrf_token": token, "serial": SERIAL, "finding": "counterfeit",
        "lat": "10.772", "lon": "106.698", "place": "Chợ Bến Thành, sạp 12",
        "note": "Tem in mờ, keo dán khác", "photos": [(io.BytesIO(jpeg_with_gps(
            (320, 240))), "tem.jpg")]}, content_type="multipart/form-data")
    assert saved.status_code == 302
    flag_id = inspector.get("/api/v1/flags").get_json()["items"][0]["id"]
    done = inspector.post(f"/api/v1/flags/{flag_id}/case", json={
        "status": "confirmed_counterfeit", "note": "Thu giữ 40 chai tại chợ"})
    assert done.status_code == 200
    return client


def issue_pdf(client, serial=SERIAL):
    token = form_token(client, f"/inspect/codes/{serial}/evidence")
    response = client.post(f"/inspect/codes/{serial}/evidence.pdf",
                           data={"csrf_token": token})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/pdf"
    return response


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def test_the_dossier_pdf_says_everything_in_vietnamese_with_the_hash_on_every_page(
        app, inspector, product, case, artifacts_dir):
    response = issue_pdf(case)
    pdf = response.data
    digest = response.headers["X-Content-SHA256"]
    texts = pages_text(pdf)
    text = "\n".join(texts)
    flat = " ".join(text.split())
    # The hash is the one of the canonical content, printed on every page.
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    for page in texts:
        assert digest in "".join(page.split()), page[-300:]
    with app.app_context(), session_scope(app) as session:
        from scanapp.auth.service import authenticate

        principal = authenticate(session, f"Bearer {inspector.key}")
        data = evidence.content(session, principal, SERIAL)
        row = session.query(EvidenceIssue).one()
        assert row.content_hash == digest == evidence.content_hash(data)
        assert row.pdf_sha256 == hashlib.sha256(pdf).hexdigest()
    assert digest == hashlib.sha256(json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
    # Code, product, brand.
    assert "HỒ SƠ CHỨNG CỨ MÃ TEM" in text and SERIAL in text
    assert product["gtin"] in text and product["name"] in flat
    # Scans in Vietnam time, with province names.
    assert "29/11/2026 03:30" in flat and "29/11/2026 21:05" in flat
    assert "Hà Nội" in flat and "Hồ Chí Minh" in flat
    assert "14:05" not in flat  # never the UTC time
    # Signals explained in Vietnamese.
    assert "Di chuyển bất khả thi" in flat and "Quá nhiều điện thoại" in flat
    # The inspection, its finding and photo.
    assert "Hàng giả" in flat and "Chợ Bến Thành, sạp 12" in flat
    assert "Tem in mờ, keo dán khác" in flat and "1 ảnh" in flat
    # The audit trail, in Vietnamese words.
    assert "Đã xác nhận hàng giả" in flat and "Thu giữ 40 chai tại chợ" in flat
    assert "Kiểm tra thực địa" in flat and "Phát hiện, mở hồ sơ" in flat
    assert "Hàng giả: Tem in mờ" in flat  # the trail's inspection line, in words too
    for raw_id in ("confirmed_counterfeit", "impossible_travel", "counterfeit:"):
        assert raw_id not in flat
    # The photo is drawn as a thumbnail.
    assert sum(len(page.images) for page in PdfReader(io.BytesIO(pdf)).pages) == 1
    saved = Path(os.environ.get("SCANAPP_SCREENSHOTS") or artifacts_dir)
    saved.mkdir(parents=True, exist_ok=True)
    (saved / "evidence-dossier.pdf").write_bytes(pdf)
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "1",
                        str(saved / "evidence-dossier.pdf"), str(saved / "evidence-page")],
                       check=True, timeout=60)


def test_the_hash_does_not_depend_on_who_prints_or_when(app, inspector, admin, case):
    first = issue_pdf(case).headers["X-Content-SHA256"]
    again = issue_pdf(case).headers["X-Content-SHA256"]
    other = issue_pdf(sign_in(app, admin.key)).headers["X-Content-SHA256"]
    assert first == again == other


def test_verify_matches_refuses_a_tampered_hash_and_says_when_the_case_changed(
        app, inspector, case):
    response = issue_pdf(case)
    digest = response.headers["X-Content-SHA256"]
    token = form_token(case, "/inspect/evidence/verify")

    def verify(**data):
        files = data.pop("files", None)
        return case.post("/inspect/evidence/verify", data={"csrf_token": token, **data,
                                                           **(files or {})},
                         content_type="multipart/form-data")

    ok = verify(hash=digest.upper())  # case and spaces do not matter
    html = ok.get_data(as_text=True)
    assert ok.status_code == 200 and 'data-outcome="match"' in html
    assert "KHỚP: bản in đúng với nội dung hiện tại" in html and "Lập lúc" in html
    # One character changed: scanapp never issued it.
    tampered = digest[:-1] + ("0" if digest[-1] != "0" else "1")
    refused = verify(hash=tampered)
    assert refused.status_code == 404
    assert "KHÔNG KHỚP" in refused.get_data(as_text=True)
    bad = verify(hash="abc")
    assert bad.status_code == 422 and "64 ký tự" in bad.get_data(as_text=True)
    assert verify().status_code == 422
    # The PDF file itself, byte for byte.
    upload = verify(files={"pdf": (io.BytesIO(response.data), "ho-so.pdf")})
    assert upload.status_code == 200
    assert "Tệp PDF trùng từng byte" in upload.get_data(as_text=True)
    # A PDF that is not ours (or altered beyond its metadata) is refused.
    other = verify(files={"pdf": (io.BytesIO(b"%PDF-1.4\n%fake\n"), "x.pdf")})
    assert other.status_code == 422 and "không phải bản hồ sơ PDF" in \
        other.get_data(as_text=True)
    # The case changes after printing: the copy is still ours, and the page says what changed.
    flag_id = inspector.get("/api/v1/flags").get_json()["items"][0]["id"]
    inspector.post(f"/api/v1/flags/{flag_id}/case", json={"status": "resolved"})
    changed = verify(hash=digest)
    html = changed.get_data(as_text=True)
    assert changed.status_code == 200 and 'data-outcome="changed"' in html
    assert "ĐÃ THAY ĐỔI" in html and "1 dòng nhật ký mới" in html
    assert "Đã xác nhận hàng giả → Đã xử lý xong" in html
    # A new copy has a new hash, which matches.
    fresh = issue_pdf(case).headers["X-Content-SHA256"]
    assert fresh != digest
    assert 'data-outcome="match"' in verify(hash=fresh).get_data(as_text=True)


def test_the_evidence_page_lists_copies_and_english_works(app, inspector, case):
    issue_pdf(case)
    html = case.get(f"/inspect/codes/{SERIAL}/evidence?lang=en").get_data(as_text=True)
    assert "Evidence dossier (PDF)" in html and "Copies printed" in html
    assert case.get("/inspect/codes/1NOPENOPENOPENOPENOP/evidence").status_code == 404


def test_a_genuine_code_prints_its_range_lot_and_lifecycle(app, inspector, issue_stamps,
                                                           artifacts_dir):
    stamp = issue_stamps(2, lot="L2611", expiry="2027-06-30")[0]
    client = sign_in(app, inspector.key)
    token = form_token(client, "/inspect/check")
    checked = client.post("/inspect/check", data={"csrf_token": token, "code": stamp.uri,
                                                  "lat": "21.0285", "lon": "105.8542"},
                          content_type="multipart/form-data")
    assert checked.status_code == 200
    pdf = issue_pdf(client, stamp.serial).data
    saved = Path(os.environ.get("SCANAPP_SCREENSHOTS") or artifacts_dir)
    saved.mkdir(parents=True, exist_ok=True)
    (saved / "evidence-genuine.pdf").write_bytes(pdf)
    flat = " ".join(" ".join(pages_text(pdf)).split())
    assert "Có — đang lưu hành" in flat and "lô L2611" in flat and "2 mã" in flat
    assert "hạn dùng 30/06/2027" in flat
    assert "6. Vòng đời dải mã" in flat and "kích hoạt → đang lưu hành" in flat
    assert "Cán bộ QLTT" in flat and "21.02850, 105.85420" in flat
    assert "Mã này chưa bị cảnh báo" in flat


def test_a_long_dossier_carries_the_hash_on_every_page(app, inspector, product, scans):
    for i in range(90):  # a clone scanned all over the south
        scans.event(SERIAL, product["gtin"], province=("79", "92", "80")[i % 3],
                    at=SAIGON_AT + dt.timedelta(minutes=7 * i), verdict="suspicious", risk=70)
    response = issue_pdf(sign_in(app, inspector.key))
    digest = response.headers["X-Content-SHA256"]
    texts = pages_text(response.data)
    assert len(texts) >= 3
    for number, page in enumerate(texts, 1):
        squashed = "".join(page.split())
        assert digest in squashed and f"Trang{number}/{len(texts)}" in squashed
    assert "Cần Thơ" in "".join(texts) and "29/11/2026 21:05" in "".join(texts)
