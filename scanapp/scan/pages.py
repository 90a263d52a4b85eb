"""The consumer verification page: server-rendered, Vietnamese first, a few KB in all.

Decision (docs/SCAN.md): the page's first render records nothing. It shows the product,
brand, lot and expiry at once and a "checking" verdict; its script (a static file, so a
strict Content-Security-Policy can forbid inline scripts) asks for the phone's location,
waits at most 1.5 s, then POSTs the scan to /api/v1/scans with whatever coordinates it has
(in the body) and paints the verdict. One render = one scan, and a reload inside the
reload window is recognised by the device id the script keeps in localStorage. Without
JavaScript a form POSTs to the same page, which records the scan (no location) and renders
the verdict on the server.
"""

from __future__ import annotations

from flask import current_app, g, make_response, render_template, request

from ..serials.stamps import StampRef
from . import service
from .catalog import ProductInfo
from .resolver import ItemPath

LANGS = ("vi", "en")

TEXT = {
    "vi": {
        "title": "Xác minh tem truy xuất",
        "checking": "Đang kiểm tra…",
        "product": "Sản phẩm", "brand": "Thương hiệu", "lot": "Lô", "expiry": "Hạn dùng",
        "gtin": "Mã GTIN", "serial": "Số sê-ri",
        "verdicts": {
            "authentic": ["✓", "CHÍNH HÃNG", "Mã tem hợp lệ, do chủ thương hiệu phát hành."],
            "suspicious": ["!", "NGHI NGỜ", "Mã tem thật nhưng có dấu hiệu bị sao chép. "
                           "Hãy cẩn thận và báo cho người bán."],
            "not_activated": ["!", "CHƯA KÍCH HOẠT", "Mã tem chưa được chủ thương hiệu đưa ra "
                              "thị trường. Không nên mua."],
            "voided": ["✕", "ĐÃ HỦY", "Mã tem này đã bị hủy. Không nên mua."],
            "recalled": ["✕", "ĐÃ THU HỒI", "Sản phẩm này đã bị thu hồi. Không sử dụng."],
            "counterfeit": ["✕", "HÀNG GIẢ", "Mã tem không hợp lệ: không do hệ thống phát "
                            "hành. Không nên mua."],
        },
        "scan_no": "Đây là lần quét thứ {n} của mã này.",
        "devices": "Đã được quét trên {n} thiết bị.",
        "first_scan": "Quét lần đầu: {at}{where}.",
        "first_where": " tại {province}",
        "last_scan": "Lần quét trước: {at}{where}.",
        "repeat": "(Tải lại trang: không tính thêm lượt quét.)",
        "degraded": "Hệ thống đang chạy chế độ dự phòng.",
        "error": "Không kiểm tra được lúc này. Vui lòng thử lại.",
        "verify": "Kiểm tra",
        "no_serial": "Mã này chỉ có mã sản phẩm, không có số sê-ri để xác minh.",
        "pin_title": "Kiểm tra mã PIN (cào lớp bạc)",
        "pin_placeholder": "Nhập 8 chữ số",
        "pin_button": "Kiểm tra PIN",
        "pin": {"valid": "PIN đúng. Sản phẩm chính hãng, lần kiểm tra PIN đầu tiên.",
                "already_claimed": "PIN đúng nhưng đã được kiểm tra trước đây: có thể là "
                                   "hàng giả dùng lại tem.",
                "wrong_pin": "PIN sai.", "counterfeit": "Mã tem không hợp lệ."},
        "switch": "English",
        "location_note": "Vị trí (nếu bạn cho phép) giúp phát hiện tem bị sao chép; "
                         "chỉ lưu gần đúng (~100 m).",
    },
    "en": {
        "title": "Stamp verification",
        "checking": "Checking…",
        "product": "Product", "brand": "Brand", "lot": "Lot", "expiry": "Expiry",
        "gtin": "GTIN", "serial": "Serial",
        "verdicts": {
            "authentic": ["✓", "GENUINE", "A valid stamp, issued by the brand owner."],
            "suspicious": ["!", "SUSPICIOUS", "A genuine stamp with signs of being copied. "
                           "Take care and tell the seller."],
            "not_activated": ["!", "NOT ACTIVATED", "The brand has not released this stamp to "
                              "the market yet. Do not buy."],
            "voided": ["✕", "VOIDED", "This stamp has been voided. Do not buy."],
            "recalled": ["✕", "RECALLED", "This product has been recalled. Do not use it."],
            "counterfeit": ["✕", "COUNTERFEIT", "This stamp is not valid: it was not issued "
                            "by the system. Do not buy."],
        },
        "scan_no": "This is scan {n} of this code.",
        "devices": "Scanned on {n} devices.",
        "first_scan": "First scanned: {at}{where}.",
        "first_where": " in {province}",
        "last_scan": "Previous scan: {at}{where}.",
        "repeat": "(Page reload: not counted again.)",
        "degraded": "The system is running in fallback mode.",
        "error": "Could not check right now. Please try again.",
        "verify": "Verify",
        "no_serial": "This code carries only a product number, no serial to verify.",
        "pin_title": "Check the scratch-off PIN",
        "pin_placeholder": "Enter the 8 digits",
        "pin_button": "Check PIN",
        "pin": {"valid": "Correct PIN. Genuine product, first PIN check.",
                "already_claimed": "Correct PIN, but it was checked before: possibly a "
                                   "counterfeit reusing a stamp.",
                "wrong_pin": "Wrong PIN.", "counterfeit": "This stamp is not valid."},
        "switch": "Tiếng Việt",
        "location_note": "Your location (if you allow it) helps expose copied stamps; "
                         "it is stored only approximately (~100 m).",
    },
}


def choose_lang() -> str:
    asked = request.args.get("lang")
    if asked in LANGS:
        return asked
    return request.accept_languages.best_match(LANGS, default="vi") or "vi"


def render_page(item: ItemPath, product: ProductInfo, record: bool = False):
    app = current_app._get_current_object()
    lang = choose_lang()
    text = TEXT[lang]
    base = app.config["PUBLIC_BASE_URL"]
    code = base + item.path()
    expiry_q = request.args.get("17")
    if expiry_q and expiry_q.isdigit() and len(expiry_q) == 6:
        code += f"?17={expiry_q}"
    ident = None
    result = None
    if item.serial:
        ref = StampRef(item.gtin, item.serial, item.lot, None)
        if record:
            result = service.verify_scan(app, service.ScanRequest(
                code=code, source="consumer", client_address=request.remote_addr,
                user_agent=request.headers.get("User-Agent", "")[:300])).to_json()
        ident = service.identify(app, ref)
    rng = ident.range if ident and ident.genuine else None
    other = "en" if lang == "vi" else "vi"
    response = make_response(render_template(
        "scan/page.html", lang=lang, other_lang=other, t=text, item=item, product=product,
        product_name=(product.name_en or product.name) if lang == "en" else product.name,
        lot=(rng.lot if rng else item.lot), expiry=(rng.expiry if rng else None),
        pin_enabled=bool(rng and rng.pin_enabled), code=code, result=result,
        nonce=g.get("csp_nonce"), switch_url=f"{request.path}?lang={other}",
        client_text={k: text[k] for k in ("verdicts", "scan_no", "devices", "first_scan",
                                          "first_where", "last_scan", "repeat", "degraded",
                                          "error", "pin")}))
    response.headers["Content-Language"] = lang
    response.headers["Cache-Control"] = "no-store"
    return response
