"""Code files, checksums, QR images (decoded back with zxing-cpp) and label sheets."""

from __future__ import annotations

import hashlib
import io
import re
import zlib

import pytest
import zxingcpp
from PIL import Image

from scanapp.serials import qr
from scanapp.serials.stamps import parse_stamp_uri
from tests.serials.conftest import codes_of

BASE = "https://scan.example.vn"


def test_csv_has_serial_uri_and_pin_and_a_verifiable_checksum(brand, issue, product):
    created = issue(brand, quantity=9000, lot="LOT9", expiry="2027-06-30", pin=True)
    response = brand.get(f"/api/v1/ranges/{created['id']}/codes.csv")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    name = re.search(r'filename="([^"]+)"', disposition).group(1)
    assert name == f"scanapp-range{created['id']}-{product['gtin']}-LOT9-9000codes.csv"
    body = response.get_data()
    response.close()
    assert int(response.headers["Content-Length"]) == len(body)
    lines = body.decode().splitlines()
    assert lines[0] == "serial,uri,pin" and len(lines) == 9001
    serial, uri, pin = lines[1].split(",")
    assert uri == f"{BASE}/01/{product['gtin']}/10/LOT9/21/{serial}?17=270630"
    assert re.fullmatch(r"\d{8}", pin)
    ref = parse_stamp_uri(uri)
    assert (ref.gtin, ref.serial, ref.lot, str(ref.expiry)) == (product["gtin"], serial,
                                                                "LOT9", "2027-06-30")
    checksum = brand.get(f"/api/v1/ranges/{created['id']}/codes.csv.sha256")
    assert checksum.get_data(as_text=True) == f"{hashlib.sha256(body).hexdigest()}  {name}\n"
    # Deterministic: a second download is byte-identical, so the checksum holds.
    again = brand.get(f"/api/v1/ranges/{created['id']}/codes.csv")
    assert again.get_data() == body and again.headers["ETag"] == response.headers["ETag"]
    again.close()
    cached = brand.get(f"/api/v1/ranges/{created['id']}/codes.csv",
                       headers={"If-None-Match": response.headers["ETag"]})
    assert cached.status_code == 304


def test_txt_is_one_uri_per_line(brand, issue, product):
    created = issue(brand, quantity=3)
    response = brand.get(f"/api/v1/ranges/{created['id']}/codes.txt")
    text = response.get_data(as_text=True)
    response.close()
    assert int(response.headers["Content-Length"]) == len(text.encode())
    uris = text.splitlines()
    assert len(uris) == 3 and text.endswith("\n")
    serials = [row[0] for row in codes_of(brand, created["id"])]
    assert uris == [f"{BASE}/01/{product['gtin']}/21/{s}" for s in serials]
    checksum = brand.get(f"/api/v1/ranges/{created['id']}/codes.txt.sha256")
    assert checksum.get_data(as_text=True).split()[0] == \
        hashlib.sha256(text.encode()).hexdigest()


def test_no_pin_column_without_pins(brand, issue):
    created = issue(brand, quantity=2, lot="lower-case.1")
    with brand.get(f"/api/v1/ranges/{created['id']}/codes.csv") as response:
        rows = response.get_data(as_text=True)
        assert int(response.headers["Content-Length"]) == len(rows.encode())
    assert rows.splitlines()[0] == "serial,uri"


def _decode(png_bytes: bytes) -> str:
    image = Image.open(io.BytesIO(png_bytes))
    results = zxingcpp.read_barcodes(image)
    assert len(results) == 1
    return results[0].text


def test_png_qr_decodes_to_the_exact_stamp_uri(brand, issue, product):
    created = issue(brand, quantity=2, lot="L7", expiry="2026-12-31")
    serial, uri = codes_of(brand, created["id"])[1]
    response = brand.get(f"/api/v1/ranges/{created['id']}/codes/{serial}/qr.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    decoded = _decode(response.data)
    # Scheme and host are upper-cased for the compact QR mode; they are case-insensitive.
    assert decoded == "HTTPS://SCAN.EXAMPLE.VN" + uri[len(BASE):]
    assert parse_stamp_uri(decoded) == parse_stamp_uri(uri)


def _rasterise_svg(svg: bytes, pixels: int = 8) -> Image.Image:
    """Draw the renderer's SVG (one path of ``M x y h w v h h -w Z`` rectangles) into a
    bitmap: enough to decode it without an SVG engine."""
    text = svg.decode()
    width = int(re.search(r'<svg width="(\d+)"', text).group(1))
    height = int(re.search(r'<svg width="\d+" height="(\d+)"', text).group(1))
    image = Image.new("L", (width * pixels, height * pixels), 255)
    rects = re.findall(r"M(\d+) (\d+)h(\d+)v(\d+)h-\d+Z", text)
    assert rects
    for x, y, w, h in rects:
        x, y, w, h = (int(v) * pixels for v in (x, y, w, h))
        image.paste(0, (x, y, x + w, y + h))
    return image


def test_svg_qr_decodes_to_the_exact_stamp_uri(brand, issue):
    created = issue(brand, quantity=1, lot="LOT42")
    serial, uri = codes_of(brand, created["id"])[0]
    response = brand.get(
        f"/api/v1/ranges/{created['id']}/codes/{serial}/qr.svg?scale=1")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert b"<svg" in response.data
    results = zxingcpp.read_barcodes(_rasterise_svg(response.data))
    assert [r.text for r in results] == ["HTTPS://SCAN.EXAMPLE.VN" + uri[len(BASE):]]
    # A typical stamp (upper-case lot, no expiry) fits QR alphanumeric mode, version 4:
    # 33 modules plus the 4-module quiet zone on each side.
    assert qr.make_qr(uri).mode == "alphanumeric" and qr.make_qr(uri).version == 4
    assert b'<svg width="41" height="41"' in response.data


def test_qr_for_a_serial_not_in_the_range_is_404(brand, issue):
    first, second = issue(brand, quantity=1), issue(brand, quantity=1)
    foreign = codes_of(brand, second["id"])[0][0]
    for serial in (foreign, "0" * 20, "nonsense"):
        response = brand.get(f"/api/v1/ranges/{first['id']}/codes/{serial}/qr.svg")
        assert response.status_code == 404
    bad_scale = brand.get(f"/api/v1/ranges/{first['id']}/codes/{foreign}/qr.png?scale=0")
    assert bad_scale.status_code == 422


def test_label_sheet_is_a4_with_decodable_codes(brand, issue):
    created = issue(brand, quantity=7, lot="A1")
    response = brand.get(f"/api/v1/ranges/{created['id']}/labels.pdf?cols=3&rows=2")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    pdf = response.data
    assert pdf.startswith(b"%PDF")
    # 7 labels, 6 per page: two A4 pages (595 x 842 pt).
    assert len(re.findall(rb"/Type /Page\b", pdf)) == 2
    assert b"/MediaBox [0 0 595.28 841.89]" in pdf
    content = b"".join(
        zlib.decompress(pdf[match.end():match.end() + int(match.group(1))])
        for match in re.finditer(rb"/Length (\d+)[^>]*>>\s*stream\n", pdf)
        if pdf[match.end():match.end() + 1] == b"x")
    serials = [row[0] for row in codes_of(brand, created["id"])]
    for serial in serials:  # the human-readable serial is printed under each code
        assert f"({serial}) Tj".encode() in content
    assert len(re.findall(rb"/Subtype /Image", pdf)) == 7


def test_label_sheet_is_capped_with_a_clear_4xx(brand, issue):
    created = issue(brand, quantity=2500)
    response = brand.get(f"/api/v1/ranges/{created['id']}/labels.pdf")
    assert response.status_code == 422
    assert response.get_json()["code"] == "too_many_labels"
    part = brand.get(f"/api/v1/ranges/{created['id']}/labels.pdf?offset=2490&cols=5&rows=5")
    assert part.status_code == 200
    past = brand.get(f"/api/v1/ranges/{created['id']}/labels.pdf?offset=2500")
    assert past.status_code == 422
    for query in ("cols=0", "rows=99", "count=x"):
        assert brand.get(f"/api/v1/ranges/{created['id']}/labels.pdf?{query}"
                         ).status_code == 422


@pytest.mark.parametrize("path", ["codes.csv", "codes.txt", "codes.csv.sha256",
                                  "labels.pdf"])
def test_downloads_need_a_key_and_a_visible_range(anonymous, other_brand, brand, issue,
                                                  path):
    created = issue(brand, quantity=1)
    assert anonymous.get(f"/api/v1/ranges/{created['id']}/{path}").status_code == 401
    assert other_brand.get(f"/api/v1/ranges/{created['id']}/{path}").status_code == 404


@pytest.mark.parametrize("path", ["codes.csv", "codes.txt", "codes.csv.sha256",
                                  "labels.pdf"])
def test_inspectors_see_ranges_but_download_no_codes(inspector, brand, issue, path):
    created = issue(brand, quantity=1, pin=True)
    assert inspector.get(f"/api/v1/ranges/{created['id']}").status_code == 200
    with inspector.get(f"/api/v1/ranges/{created['id']}/{path}") as response:
        assert response.status_code == 403


def test_labels_say_what_they_are_and_pin_sheets_say_where_the_pin_goes(brand, issue,
                                                                         tmp_path):
    import shutil
    import subprocess

    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    plain = issue(brand, quantity=3, lot="A1", expiry="2027-12-31")
    pins = issue(brand, quantity=2, lot="B2", pin=True)

    def text(range_id: int) -> str:
        pdf = brand.get(f"/api/v1/ranges/{range_id}/labels.pdf?cols=3&rows=4")
        assert pdf.status_code == 200
        path = tmp_path / f"{range_id}.pdf"
        path.write_bytes(pdf.data)
        return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                              capture_output=True, text=True).stdout

    labels = text(plain["id"])
    assert labels.count("Lô A1 · HSD 31/12/2027") == 3
    assert "PIN" not in labels
    with_pins = text(pins["id"])
    assert "dưới lớp cào bạc" in with_pins and "This sheet carries no PINs." in with_pins
    assert with_pins.count("Lô B2") == 2
