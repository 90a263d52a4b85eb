"""The stamp page without a browser: every outcome as a page and as JSON, what the first
render records, its size, the reasons it gives, language, time format and escaping."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from scanapp.db import get_engine
from scanapp.scan import pages
from scanapp.scan.models import ScanEvent
from scanapp.serials.stamps import stamp_uri

from .conftest import BASE

CSS = Path(pages.__file__).parent / "templates" / "scan" / "page.css"
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
JSON = {"Accept": "application/json"}
HANOI = (21.0285, 105.8542)
SAIGON = (10.7769, 106.7009)
DA_NANG = (16.0544, 108.2022)


def _count(app) -> int:
    with get_engine(app).connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(ScanEvent)).scalar_one()


def _forged(stamp, product) -> str:
    serial = stamp.serial[:-1] + ("0" if stamp.serial[-1] != "0" else "1")
    return "/" + stamp_uri(BASE, product["gtin"], serial, "LOT-FORGED").split("/", 3)[3]


def _verdict(html: str) -> str:
    return re.search(r'data-verdict="([a-z_]+)"', html).group(1)


def test_first_get_shows_the_verdict_and_records_nothing(app, client, issue_stamps):
    stamp = issue_stamps(1)[0]
    page = client.get(stamp.path, headers=HTML)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and _verdict(html) == "genuine"
    assert "CHÍNH HÃNG" in html and "Chưa có ai kiểm tra mã này trước bạn." in html
    assert _count(app) == 0
    # The recording script is inline (no second round trip) and carries the CSP nonce.
    nonce = re.search(r"script-src[^;]*'nonce-([^']+)'", page.headers["Content-Security-Policy"])
    assert nonce and f'<script nonce="{nonce.group(1)}">' in html
    assert "<script src" not in html


def test_genuine_page_is_small_and_has_no_external_assets(client, issue_stamps):
    stamp = issue_stamps(1, pin=True, lot="L01", expiry="2027-12-31")[0]
    page = client.get(stamp.path, headers=HTML)
    assert len(page.data) < 20 * 1024, len(page.data)
    assert b"http://" not in page.data.replace(b"http://www.w3.org", b"")


def test_the_script_post_records_one_scan_and_answers_a_fragment(app, client, issue_stamps):
    stamp = issue_stamps(1)[0]
    answer = client.post("/v" + stamp.path, json={"device_id": "phone-1", "lat": HANOI[0],
                                                  "lon": HANOI[1]},
                         headers={**HTML, "X-Scan-Fragment": "1"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "<html" not in html
    assert 'data-recorded="1"' in html and "Đây là lần kiểm tra đầu tiên của mã này." in html
    assert _count(app) == 1
    # A reload by the same phone is the same scan: not counted again, and said so.
    again = client.post("/v" + stamp.path, json={"device_id": "phone-1"},
                        headers={**HTML, "X-Scan-Fragment": "1"}).get_data(as_text=True)
    assert "không được tính thêm" in again and _count(app) == 1


def test_without_javascript_the_button_records_and_renders_the_whole_page(
        app, client, issue_stamps):
    stamp = issue_stamps(1)[0]
    page = client.post("/v" + stamp.path, headers={**HTML, "Accept-Language": "en"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html
    assert _verdict(html) == "genuine" and "GENUINE" in html
    assert "This is the first check of this code." in html
    assert _count(app) == 1


def test_an_api_client_gets_the_same_outcome_as_json(app, client, issue_stamps):
    stamp = issue_stamps(1)[0]
    body = client.get("/v" + stamp.path, headers={**JSON, "Accept-Language": "en"}).get_json()
    assert body["outcome"] == "genuine" and body["title"] == "GENUINE"
    assert body["recorded"] is False and body["scan"]["verdict"] == "authentic"
    assert _count(app) == 0
    posted = client.post("/v" + stamp.path, json={"device_id": "app-1"}, headers=JSON)
    assert posted.get_json()["recorded"] is True and _count(app) == 1


def test_repeat_says_when_and_where_it_was_checked_before(client, issue_stamps, scan):
    stamp = issue_stamps(1)[0]
    scan(stamp.uri, device_id="shop", lat=SAIGON[0], lon=SAIGON[1])
    html = client.get(stamp.path, headers={**HTML, "Accept-Language": "vi"}).get_data(
        as_text=True)
    assert _verdict(html) == "repeat"
    assert "Mã này đã được kiểm tra 1 lần, trên 1 điện thoại." in html
    first = re.search(r"Lần kiểm tra đầu tiên: (\d\d/\d\d/\d{4}) lúc (\d\d:\d\d) "
                      r"tại TP. Hồ Chí Minh|Lần kiểm tra đầu tiên: .*? tại ([^<(]+)", html)
    assert first, html
    assert "lúc" in html and "trước)" in html


def test_suspicious_says_why_and_what_to_do(client, issue_stamps, scan, clock):
    stamp = issue_stamps(1)[0]
    for i, (lat, lon) in enumerate([HANOI, SAIGON, DA_NANG, HANOI, SAIGON, DA_NANG, HANOI]):
        clock.advance(120)
        scan(stamp.uri, lat=lat, lon=lon, device_id=f"phone-{i}")
    answer = client.post("/v" + stamp.path, json={"device_id": "me", "lat": SAIGON[0],
                                                  "lon": SAIGON[1]},
                         headers={**HTML, "X-Scan-Fragment": "1"})
    html = answer.get_data(as_text=True)
    assert _verdict(html) == "suspicious" and "NGHI NGỜ" in html
    assert "cùng một tem đang ở hai nơi" in html  # impossible travel, in plain words
    assert "trên 8 điện thoại" in html
    assert "Đừng hỏi lại người bán" in html
    assert "báo cho người bán" not in html


def test_counterfeit_shows_no_product_brand_or_lot_as_fact(app, client, issue_stamps,
                                                           product):
    stamp = issue_stamps(1)[0]
    path = _forged(stamp, product)
    for lang, title in (("vi", "HÀNG GIẢ"), ("en", "COUNTERFEIT")):
        page = client.get(path, headers={**HTML, "Accept-Language": lang})
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and _verdict(html) == "counterfeit"
        assert title in re.search(r"<title>(.*?)</title>", html).group(1)
        assert product["name"] not in html and "Brand A" not in html
        assert "LOT-FORGED" not in html.replace(path, "")  # only inside the report's code
        assert 'id="report"' in html and " open" in html
    assert "không được cấp cho sản phẩm nào đăng ký tại đây" in client.get(
        path, headers=HTML).get_data(as_text=True)


@pytest.mark.parametrize("status,outcome,title", [
    ("issued", "not_activated", "CHƯA KÍCH HOẠT"), ("printed", "not_activated", "CHƯA KÍCH HOẠT")])
def test_not_activated(client, issue_stamps, status, outcome, title):
    stamp = issue_stamps(1, status=status)[0]
    html = client.get(stamp.path, headers=HTML).get_data(as_text=True)
    assert _verdict(html) == outcome and title in html
    assert "chưa được doanh nghiệp kích hoạt" in html


def test_voided_and_recalled_say_by_whom_and_why(client, brand, issue_stamps):
    stamps = issue_stamps(2)
    brand.post(f"/api/v1/ranges/{stamps[0].range_id}/void",
               json={"serials": [stamps[0].serial], "reason": "in hỏng"})
    brand.post(f"/api/v1/ranges/{stamps[0].range_id}/recall",
               json={"serials": [stamps[1].serial], "reason": "Nhiễm khuẩn lô L01"})
    voided = client.get(stamps[0].path, headers=HTML).get_data(as_text=True)
    assert _verdict(voided) == "voided" and "TEM ĐÃ HỦY" in voided
    recalled = client.get(stamps[1].path, headers=HTML).get_data(as_text=True)
    assert _verdict(recalled) == "recalled"
    banner = re.search(r'<section class="banner" id="recall-banner".*?</section>', recalled,
                       re.S).group(0)
    assert "Thu hồi bởi Brand A ngày" in banner and "Lý do: Nhiễm khuẩn lô L01." in banner
    assert recalled.index("recall-banner") < recalled.index('id="verdict"')


def test_expired(client, issue_stamps):
    stamp = issue_stamps(1, expiry="2025-01-31")[0]
    html = client.get(stamp.path, headers=HTML).get_data(as_text=True)
    assert _verdict(html) == "expired" and "ĐÃ HẾT HẠN" in html
    assert "Hạn sử dụng đến 31/01/2025, đã quá hạn" in html


def test_malformed_and_unknown_product_are_pages_for_browsers_json_for_apis(client):
    bad = client.get("/01/12345678901234/21/ABC", headers=HTML)
    assert bad.status_code == 400 and _verdict(bad.get_data(as_text=True)) == "malformed"
    assert "MÃ KHÔNG HỢP LỆ" in bad.get_data(as_text=True)
    unknown = client.get("/v/01/08934567890007/21/ABC", headers={**HTML, "Accept-Language": "en"})
    html = unknown.get_data(as_text=True)
    assert unknown.status_code == 404 and _verdict(html) == "unknown_product"
    assert "08934567890007" in html and 'id="report-form"' in html
    api = client.get("/v/01/08934567890007/21/ABC")
    assert api.status_code == 404 and api.get_json()["code"] == "unknown_gtin"
    asked = client.get("/v/01/08934567890007/21/ABC", headers=JSON)
    assert asked.status_code == 404 and asked.get_json()["outcome"] == "unknown_product"


def test_too_many_requests_page_says_when_to_retry(app_factory, issue_stamps):
    limited = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_SCAN="2/minute")
    stamp = issue_stamps(1)[0]
    client = limited.test_client()
    answers = [client.get(stamp.path, headers=HTML) for _ in range(3)]
    page = answers[-1]
    html = page.get_data(as_text=True)
    assert page.status_code == 429 and int(page.headers["Retry-After"]) > 0
    assert _verdict(html) == "rate_limited" and "Hãy thử lại sau" in html
    assert re.search(r"\(từ \d\d:\d\d\)", html) and 'id="retry"' in html
    api = client.get(stamp.path, headers=JSON)
    assert api.status_code == 429 and api.get_json()["retry_after_s"] > 0


def test_outage_is_a_calm_page_not_json(client, issue_stamps, monkeypatch):
    stamp = issue_stamps(1)[0]

    def down(*_args, **_kwargs):
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(pages.service, "current_verification", down)
    page = client.get(stamp.path, headers=HTML)
    html = page.get_data(as_text=True)
    assert page.status_code == 503 and _verdict(html) == "unavailable"
    assert "Đây không phải dấu hiệu hàng giả" in html and "{" not in html.split("</style>")[1]


def test_language_toggle_is_remembered(client, issue_stamps):
    stamp = issue_stamps(1)[0]
    first = client.get(stamp.path, query_string={"lang": "en"}, headers=HTML)
    assert first.headers["Content-Language"] == "en"
    assert "scan_lang=en" in first.headers["Set-Cookie"]
    later = client.get(stamp.path, headers={**HTML, "Accept-Language": "vi"})
    assert later.headers["Content-Language"] == "en"  # the toggle's cookie wins
    back = client.get(stamp.path, query_string={"lang": "vi"}, headers=HTML)
    assert back.headers["Content-Language"] == "vi"


def test_language_by_header_and_default(client, issue_stamps):
    stamp = issue_stamps(1)[0]

    def lang(**kwargs):
        return client.get("/v" + stamp.path, **kwargs).headers["Content-Language"]

    assert lang(headers=HTML) == "vi"
    assert lang(headers={**HTML, "Accept-Language": "en-US,en;q=0.9"}) == "en"
    assert lang(headers={**HTML, "Accept-Language": "vi-VN,vi;q=0.9,en;q=0.5"}) == "vi"


def test_product_text_is_escaped_and_the_card_shows_the_description(brand, client, product,
                                                                    issue_stamps):
    response = brand.patch(f"/api/v1/products/{product['id']}", json={
        "name": "<script>alert(1)</script>", "description_vi": "Nước mắm Phú Quốc 40°N"})
    assert response.status_code == 200, response.get_json()
    stamp = issue_stamps(1)[0]
    html = client.get("/v" + stamp.path, headers=HTML).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Nước mắm Phú Quốc 40°N" in html


def test_no_mid_word_breaks_and_vietnam_time():
    css = CSS.read_text()
    assert "break-all" not in css and "overflow-wrap:break-word" in css
    import datetime as dt

    late = dt.datetime(2026, 11, 29, 16, 59, tzinfo=dt.UTC)  # 23:59 in Hà Nội
    assert pages.format_datetime(late, "vi") == "29/11/2026 lúc 23:59"
    assert pages.format_datetime(late, "en") == "29 Nov 2026 at 23:59"


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_colours_meet_wcag_aa():
    css = CSS.read_text()
    for tone in ("ok", "warn", "bad", "info"):
        background = re.search(rf"\.t-{tone}{{background:(#[0-9a-f]{{6}})", css).group(1)
        assert _contrast("#ffffff", background) >= 4.5, tone
    for text, background in (("#4a4f55", "#ffffff"), ("#4a4f55", "#f1f3f4"),
                             ("#1a56db", "#ffffff"), ("#8c1d18", "#ffffff"),
                             ("#0d5a2c", "#e6f4ea"), ("#8c1d18", "#fce8e6")):
        assert _contrast(text, background) >= 4.5, (text, background)


def _product(**fields):
    from scanapp.scan.catalog import ProductInfo

    return ProductInfo(**{"id": 1, "gtin": "08934567890120", "name": "Nhãn lồng sấy",
                          "name_en": None, "description_vi": None, "description_en": None,
                          "image_url": None, "brand": "HTX Tiên Lữ", "market_regions": (),
                          **fields})


def test_card_with_nothing_entered_says_nothing_false():
    card = pages.product_card(_product(), "vi", None, None, None, None)
    labels = [label for label, _ in card["rows"]]
    assert labels == ["Thương hiệu", "Mã GTIN"]
    assert not card["stages"] and not card["certificates"] and card["map"] is None
    assert card["image"] is None and card["description"] is None


def test_card_marks_expired_certificates_and_draws_the_journey():
    trace = {
        "producer": {"name": "HTX Tiên Lữ", "address": "Xã Hải Triều",
                     "province_name": "Hưng Yên"},
        "origin": {"name": "Vùng trồng Hải Triều", "province": "33", "lat": 20.65,
                   "lon": 106.05,
                   "planting_area_code": "VN-HYLN-0012"},
        "production_time": {"production_date": "2026-08-02", "harvest_start": "2026-07-20",
                            "harvest_end": "2026-07-22"},
        "shelf_life": {"expiry_date": "2027-08-02", "shelf_life_days": 365},
        "standards": ["TCVN 12850:2019"],
        "certificates": [
            {"scheme": "vietgap", "scheme_name": "VietGAP", "number": "VG-1",
             "valid_from": "2020-01-01", "valid_to": "2021-12-31", "status": "valid"},
            {"scheme": "ocop", "scheme_name": "OCOP 4 sao", "number": "OC-2",
             "valid_from": "2025-01-01", "valid_to": "2099-12-31", "status": "valid"}],
        "stages": [{"step": "harvest", "time": "2026-07-20T08:00+07:00",
                    "place": {"name": "Vùng trồng Hải Triều", "province": "33"},
                    "actor": "HTX Tiên Lữ"}],
    }
    card = pages.product_card(_product(image_url="https://cdn.example.vn/n.jpg"), "en",
                              "LN2608H", None, "0ABC", trace)
    rows = dict(card["rows"])
    assert rows["Producer"] == "HTX Tiên Lữ" and rows["Address"] == "Xã Hải Triều, Hưng Yên"
    assert rows["Harvested"] == "20 Jul 2026 – 22 Jul 2026" and rows["Shelf life"] == "365 days"
    assert rows["Use by"] == "2 Aug 2027" and rows["Planting area code"] == "VN-HYLN-0012"
    assert [(c["name"], c["status"]) for c in card["certificates"]] == [
        ("OCOP 4 sao", "valid"), ("VietGAP", "expired")]
    assert card["stages"] == [{"step": "Harvest", "when": "20 Jul 2026",
                               "where": "Vùng trồng Hải Triều, Hung Yen",
                               "actor": "HTX Tiên Lữ"}]
    assert card["map"]["at"] and len(card["map"]["dots"]) == 34


def test_the_brands_hotline_is_on_every_page_of_its_product(brand, client, product,
                                                             issue_stamps, app):
    from scanapp.db import session_scope
    from scanapp.products.models import Product

    with session_scope(app) as session:
        session.get(Product, product["id"]).consumer_hotline = "1800 6868"
        session.commit()
    stamps = issue_stamps(2)
    brand.post(f"/api/v1/ranges/{stamps[1].range_id}/recall",
               json={"serials": [stamps[1].serial], "reason": "test"})
    for stamp in stamps:  # genuine (in the card) and recalled (with what to do)
        html = client.get(stamp.path, headers=HTML).get_data(as_text=True)
        assert html.count('href="tel:18006868"') == 1
    assert "Gọi đường dây nóng của thương hiệu để được đổi trả." in html
