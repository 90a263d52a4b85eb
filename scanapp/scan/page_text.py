"""Every word the stamp page says, in Vietnamese and English, one entry per outcome.

Written for a shopper at a market stall: short sentences, what happened, why, and what to
do next. Never "ask the seller": the seller may be the one selling the fake. Placeholders
in braces are filled by ``pages``; dates arrive already in Vietnam time.
"""

from __future__ import annotations

# tone: ok (green), warn (amber), bad (red), info (grey). status: the HTTP status of the page.
OUTCOMES: dict[str, dict] = {
    "genuine": {"tone": "ok", "icon": "✓", "status": 200},
    "repeat": {"tone": "ok", "icon": "✓", "status": 200},
    "suspicious": {"tone": "warn", "icon": "!", "status": 200},
    "expired": {"tone": "warn", "icon": "!", "status": 200},
    "not_activated": {"tone": "warn", "icon": "!", "status": 200},
    "counterfeit": {"tone": "bad", "icon": "✕", "status": 200},
    "voided": {"tone": "bad", "icon": "✕", "status": 200},
    "recalled": {"tone": "bad", "icon": "✕", "status": 200},
    "unknown_product": {"tone": "warn", "icon": "?", "status": 404},
    "malformed": {"tone": "warn", "icon": "?", "status": 400},
    # Plain glyphs: a phone without an emoji font would draw a box.
    "rate_limited": {"tone": "info", "icon": "…", "status": 429},
    "unavailable": {"tone": "info", "icon": "!", "status": 503},
    # A code with a GTIN and no serial: product information, nothing to verify.
    "product_info": {"tone": "info", "icon": "i", "status": 200},
}

TEXT: dict[str, dict] = {
    "vi": {
        "site": "Xác minh tem chống giả",
        "switch": "English",
        "outcomes": {
            "genuine": ("CHÍNH HÃNG",
                        "Tem thật, do chủ thương hiệu phát hành và đang lưu hành hợp lệ."),
            "repeat": ("CHÍNH HÃNG · ĐÃ ĐƯỢC KIỂM TRA TRƯỚC",
                       "Tem thật, nhưng mã này đã được kiểm tra trước đây. Hãy xem lần "
                       "kiểm tra trước có phải của bạn hoặc cửa hàng không."),
            "suspicious": ("NGHI NGỜ",
                           "Tem có thật nhưng có dấu hiệu bị sao chép sang hàng khác."),
            "expired": ("ĐÃ HẾT HẠN",
                        "Tem thật, nhưng sản phẩm đã quá hạn sử dụng."),
            "not_activated": ("CHƯA KÍCH HOẠT",
                              "Tem do hệ thống cấp nhưng doanh nghiệp chưa đưa sản phẩm ra "
                              "thị trường, nên chưa được phép bán."),
            "counterfeit": ("HÀNG GIẢ",
                            "Mã trên tem không được cấp cho sản phẩm nào đăng ký tại đây. "
                            "Tên sản phẩm, thương hiệu và số lô in trên tem đều không được "
                            "xác nhận."),
            "voided": ("TEM ĐÃ HỦY",
                       "Tem này đã bị hủy khi in và lẽ ra không còn tồn tại."),
            "recalled": ("ĐÃ THU HỒI",
                         "Sản phẩm thuộc lô đã bị thu hồi. Không sử dụng."),
            "unknown_product": ("SẢN PHẨM CHƯA ĐĂNG KÝ",
                                "Không có sản phẩm nào mang mã {gtin} được đăng ký tại đây. "
                                "Tem có thể thuộc hệ thống khác, hoặc đã bị làm giả."),
            "malformed": ("MÃ KHÔNG HỢP LỆ",
                          "Đường dẫn này không phải là mã tem hợp lệ, nên không kiểm tra "
                          "được."),
            "rate_limited": ("VUI LÒNG THỬ LẠI SAU",
                             "Có quá nhiều lượt kiểm tra từ mạng của bạn trong thời gian "
                             "ngắn. Hãy thử lại sau {wait} (từ {at})."),
            "product_info": ("THÔNG TIN SẢN PHẨM",
                             "Mã này chỉ có mã sản phẩm, không có số sê-ri riêng nên không "
                             "xác minh được từng sản phẩm."),
            "unavailable": ("CHƯA KIỂM TRA ĐƯỢC",
                            "Hệ thống đang tạm thời gặp sự cố. Đây không phải dấu hiệu hàng "
                            "giả. Vui lòng thử lại sau ít phút."),
        },
        "advice": {
            "genuine": [],
            "repeat": ["Nếu lần kiểm tra trước không phải của bạn hay của cửa hàng, tem có "
                       "thể đã bị sao chép: hãy gửi báo cáo bên dưới."],
            "suspicious": ["Chưa nên mua hoặc sử dụng khi chưa chắc chắn.",
                           {"hotline": "Đừng hỏi lại người bán: hãy gọi đường dây nóng của "
                                       "thương hiệu hoặc gửi báo cáo cho cơ quan quản lý thị "
                                       "trường bên dưới.",
                            "else": "Đừng hỏi lại người bán: hãy gửi báo cáo cho cơ quan "
                                    "quản lý thị trường bên dưới."}],
            "expired": ["Không sử dụng sản phẩm đã quá hạn.",
                        "Nếu hàng hết hạn vẫn được bày bán, hãy gửi báo cáo bên dưới."],
            "not_activated": ["Không nên mua: hàng chưa được phép bán.",
                              {"hotline": "Gọi đường dây nóng của thương hiệu hoặc gửi báo "
                                          "cáo bên dưới.",
                               "else": "Gửi báo cáo bên dưới để cơ quan quản lý thị trường "
                                       "kiểm tra."}],
            "counterfeit": ["Không mua và không sử dụng sản phẩm này.",
                            "Giữ lại hóa đơn và chụp ảnh tem, bao bì.",
                            "Gửi báo cáo bên dưới để cơ quan quản lý thị trường kiểm tra "
                            "nơi bán. Đừng hỏi lại người bán."],
            "voided": ["Không mua và không sử dụng sản phẩm này.",
                       "Gửi báo cáo bên dưới để cơ quan quản lý thị trường kiểm tra."],
            "recalled": ["Ngừng sử dụng ngay.",
                         {"hotline": "Gọi đường dây nóng của thương hiệu để được đổi trả.",
                          "else": "Giữ lại sản phẩm và hóa đơn để được đổi trả theo thông "
                                  "báo thu hồi."},
                         "Nếu hàng vẫn được bày bán, hãy gửi báo cáo bên dưới."],
            "unknown_product": ["Hãy cẩn thận: không có thông tin nào để xác nhận hàng thật.",
                                "Nếu nghi ngờ, gửi báo cáo bên dưới."],
            "malformed": ["Hãy quét lại tem bằng camera điện thoại.",
                          "Nếu vẫn báo như vậy, tem có thể bị làm giả: gửi báo cáo bên "
                          "dưới."],
            "rate_limited": ["Lượt kiểm tra của bạn không bị mất: chỉ cần mở lại tem sau "
                             "thời gian trên."],
            "unavailable": ["Quét lại tem sau ít phút."],
            "product_info": [],
        },
        "scans": "Mã này đã được kiểm tra {n} lần, trên {d} điện thoại.",
        "scans_one": "Đây là lần kiểm tra đầu tiên của mã này.",
        "scans_none": "Chưa có ai kiểm tra mã này trước bạn.",
        "first_scan": "Lần kiểm tra đầu tiên: {at}{where}.",
        "last_scan": "Lần kiểm tra trước đó: {at}{where}.",
        "where": " tại {province}",
        "ago": " ({ago} trước)",
        "units": {"minute": "{n} phút", "hour": "{n} giờ", "day": "{n} ngày"},
        "seconds": "{n} giây",
        "reload": "Bạn vừa tải lại trang: lượt này không được tính thêm.",
        "degraded": "Kết quả lấy từ hệ thống dự phòng.",
        "recall_by": "Thu hồi bởi {by}{when}.",
        "recall_when": " ngày {date}",
        "recall_reason": "Lý do: {reason}.",
        "expired_on": "Hạn sử dụng đến {date}, đã quá hạn {days} ngày.",
        "counterfeit_why": {
            "bad_signature": "Chữ ký bảo mật của số sê-ri không khớp.",
            "bad_format": "Số sê-ri không đúng định dạng tem của hệ thống.",
            "unknown_key": "Số sê-ri dùng khóa bảo mật mà hệ thống chưa từng có.",
            "unknown_range": "Số sê-ri nằm ngoài mọi dải mã đã cấp.",
            "unknown_serial": "Số sê-ri thuộc một sản phẩm hoặc lô khác.",
            "compromised_key": "Tem được ký bằng khóa bảo mật đã bị lộ.",
        },
        "why": "Vì sao?",
        "technical": "Chi tiết kỹ thuật (tiếng Anh): {detail}",
        "history": "Lịch sử kiểm tra",
        "todo": "Bạn nên làm gì?",
        "hotline": "Đường dây nóng của thương hiệu",
        "code_label": "Mã đã quét",
        "record": "Ghi nhận lượt kiểm tra",
        "record_note": "Trình duyệt đang tắt JavaScript. Bấm để ghi nhận lượt kiểm tra "
                       "này; kết quả trên đã là của mã tem.",
        "retry": "Thử lại",
        "location_note": "Vị trí (nếu bạn cho phép) giúp phát hiện tem bị sao chép; chỉ lưu "
                         "gần đúng (khoảng 100 m).",
        # product card
        "card": "Thông tin sản phẩm", "product": "Sản phẩm", "brand": "Thương hiệu",
        "gtin": "Mã GTIN", "lot": "Số lô", "serial": "Số sê-ri", "expiry": "Hạn sử dụng",
        "produced": "Ngày sản xuất", "harvest": "Thu hoạch",
        "best_before": "Sử dụng tốt nhất trước",
        "shelf_life": "Thời hạn sử dụng", "days": "{n} ngày",
        "producer": "Nhà sản xuất", "address": "Địa chỉ", "origin": "Vùng nguyên liệu",
        "planting_area": "Mã vùng trồng", "standards": "Tiêu chuẩn áp dụng",
        "journey": "Hành trình sản phẩm", "certificates": "Chứng nhận",
        "cert_valid": "còn hiệu lực", "cert_expired": "đã hết hạn",
        "cert_pending": "chưa có hiệu lực", "cert_until": "đến {date}",
        "cert_issuer": "cấp bởi {issuer}", "trace_codes": "Mã truy xuất",
        "map_label": "Bản đồ vị trí vùng nguyên liệu tại {place}",
        "recall_banner": "LÔ HÀNG ĐÃ BỊ THU HỒI",
        "description": "Mô tả",
        # PIN
        "pin_title": "Kiểm tra mã PIN (cào lớp bạc)",
        "pin_placeholder": "Nhập 8 chữ số",
        "pin_button": "Kiểm tra PIN",
        "pin": {"valid": "PIN đúng. Đây là lần xác thực PIN đầu tiên: hàng chính hãng.",
                "already_claimed": "PIN đúng nhưng đã được xác thực trước đây: có thể là "
                                   "hàng giả dùng lại tem.",
                "wrong_pin": "PIN sai.", "counterfeit": "Mã tem không hợp lệ.",
                "error": "Không kiểm tra được lúc này. Vui lòng thử lại."},
        # report form
        "report": {
            "title": "Báo cáo hàng giả",
            "intro": "Gửi cho cơ quan quản lý thị trường. Kết quả kiểm tra, thời gian và "
                     "nơi quét được gửi kèm. Số điện thoại chỉ cán bộ kiểm tra được xem.",
            "problem": "Vấn đề bạn gặp",
            "problems": {"fake": "Nghi hàng giả, hàng nhái",
                         "stamp": "Tem bị bóc, dán lại hoặc hư hỏng",
                         "different": "Sản phẩm khác với thông tin trên trang",
                         "recalled_on_sale": "Hàng thu hồi hoặc hết hạn vẫn được bán",
                         "price": "Giá bán bất thường",
                         "other": "Vấn đề khác"},
            "details": "Mô tả thêm (không bắt buộc)",
            "where": "Nơi mua (tên cửa hàng, địa chỉ, trang bán hàng)",
            "phone": "Số điện thoại để cán bộ liên hệ (không bắt buộc)",
            "photo": "Ảnh sản phẩm hoặc tem (không bắt buộc, tối đa 8 MB)",
            "send": "Gửi báo cáo",
            "thanks": "Cảm ơn bạn. Báo cáo số {id} đã được gửi tới cơ quan quản lý thị "
                      "trường.",
            "back": "Quay lại trang kiểm tra",
            "fix": "Báo cáo chưa được gửi. Vui lòng sửa các mục dưới đây; những gì bạn đã "
                   "nhập vẫn được giữ nguyên.",
            "photo_again": "Vui lòng chọn lại ảnh (nếu muốn gửi kèm).",
            "too_big": "Ảnh lớn hơn 8 MB. Hãy chọn ảnh nhỏ hơn hoặc gửi không kèm ảnh.",
            "too_many": "Có quá nhiều báo cáo từ mạng của bạn. Vui lòng gửi lại sau khoảng "
                        "{minutes} phút; những gì bạn đã nhập vẫn được giữ nguyên.",
        },
    },
    "en": {
        "site": "Anti-counterfeit stamp check",
        "switch": "Tiếng Việt",
        "outcomes": {
            "genuine": ("GENUINE", "A real stamp, issued by the brand owner and validly on "
                                   "the market."),
            "repeat": ("GENUINE · CHECKED BEFORE",
                       "A real stamp, but this code has been checked before. See whether the "
                       "earlier check was yours or the shop's."),
            "suspicious": ("SUSPICIOUS",
                           "A real stamp showing signs of being copied onto other goods."),
            "expired": ("EXPIRED", "A real stamp, but the product is past its expiry date."),
            "not_activated": ("NOT ACTIVATED",
                              "The stamp was issued, but the brand has not released the "
                              "product to the market, so it may not be sold yet."),
            "counterfeit": ("COUNTERFEIT",
                            "The code on this stamp was not issued for any product registered "
                            "here. The product name, brand and lot printed on it are not "
                            "confirmed."),
            "voided": ("VOIDED STAMP",
                       "This stamp was voided at printing and should not exist."),
            "recalled": ("RECALLED", "This product belongs to a recalled lot. Do not use it."),
            "unknown_product": ("PRODUCT NOT REGISTERED",
                                "No product with code {gtin} is registered here. The stamp "
                                "may belong to another system, or be forged."),
            "malformed": ("INVALID CODE",
                          "This link is not a valid stamp code, so it cannot be checked."),
            "rate_limited": ("PLEASE TRY AGAIN LATER",
                             "Too many checks came from your network in a short time. Try "
                             "again in {wait} (from {at})."),
            "product_info": ("PRODUCT INFORMATION",
                             "This code carries only a product number, no serial of its own, "
                             "so a single item cannot be verified."),
            "unavailable": ("CANNOT CHECK RIGHT NOW",
                            "The system has a temporary problem. This is not a sign of a "
                            "fake. Please try again in a few minutes."),
        },
        "advice": {
            "genuine": [],
            "repeat": ["If the earlier check was not yours or the shop's, the stamp may have "
                       "been copied: send a report below."],
            "suspicious": ["Do not buy or use it until you are sure.",
                           {"hotline": "Do not ask the seller: call the brand's hotline or "
                                       "send a report to the market inspectors below.",
                            "else": "Do not ask the seller: send a report to the market "
                                    "inspectors below."}],
            "expired": ["Do not use an expired product.",
                        "If expired goods are still on sale, send a report below."],
            "not_activated": ["Do not buy: the goods are not yet allowed on sale.",
                              {"hotline": "Call the brand's hotline or send a report below.",
                               "else": "Send a report below so market inspectors can check."}],
            "counterfeit": ["Do not buy or use this product.",
                            "Keep the receipt and take photos of the stamp and packaging.",
                            "Send a report below so market inspectors can check the shop. "
                            "Do not ask the seller."],
            "voided": ["Do not buy or use this product.",
                       "Send a report below so market inspectors can check."],
            "recalled": ["Stop using it now.",
                         {"hotline": "Call the brand's hotline to return or exchange it.",
                          "else": "Keep the product and receipt for a refund or exchange "
                                  "under the recall."},
                         "If it is still on sale, send a report below."],
            "unknown_product": ["Take care: nothing here confirms the product is genuine.",
                                "If in doubt, send a report below."],
            "malformed": ["Scan the stamp again with the phone's camera.",
                          "If it still shows this, the stamp may be forged: send a report "
                          "below."],
            "rate_limited": ["Nothing is lost: just open the stamp again after that time."],
            "unavailable": ["Scan the stamp again in a few minutes."],
            "product_info": [],
        },
        "scans": "This code has been checked {n} times, on {d} phones.",
        "scans_one": "This is the first check of this code.",
        "scans_none": "Nobody has checked this code before you.",
        "first_scan": "First check: {at}{where}.",
        "last_scan": "Previous check: {at}{where}.",
        "where": " in {province}",
        "ago": " ({ago} ago)",
        "units": {"minute": "{n} min", "hour": "{n} h", "day": "{n} days"},
        "seconds": "{n} seconds",
        "reload": "You reloaded the page: this check is not counted again.",
        "degraded": "Answered by the fallback system.",
        "recall_by": "Recalled by {by}{when}.",
        "recall_when": " on {date}",
        "recall_reason": "Reason: {reason}.",
        "expired_on": "Use by {date}: expired {days} days ago.",
        "counterfeit_why": {
            "bad_signature": "The serial's security signature does not match.",
            "bad_format": "The serial does not have the shape of this system's stamps.",
            "unknown_key": "The serial names a security key this system never had.",
            "unknown_range": "The serial lies outside every issued range.",
            "unknown_serial": "The serial belongs to another product or lot.",
            "compromised_key": "The stamp was signed with a key reported compromised.",
        },
        "why": "Why?",
        "technical": "Technical detail: {detail}",
        "history": "Check history",
        "todo": "What should you do?",
        "hotline": "Brand hotline",
        "code_label": "Scanned code",
        "record": "Record this check",
        "record_note": "JavaScript is off in this browser. Tap to record this check; the "
                       "result above is already the stamp's.",
        "retry": "Try again",
        "location_note": "Your location (if you allow it) helps expose copied stamps; it is "
                         "stored only approximately (about 100 m).",
        "card": "Product information", "product": "Product", "brand": "Brand",
        "gtin": "GTIN", "lot": "Lot", "serial": "Serial", "expiry": "Use by",
        "produced": "Produced", "harvest": "Harvested", "best_before": "Best before",
        "shelf_life": "Shelf life", "days": "{n} days",
        "producer": "Producer", "address": "Address", "origin": "Origin",
        "planting_area": "Planting area code", "standards": "Standards applied",
        "journey": "Journey", "certificates": "Certificates",
        "cert_valid": "valid", "cert_expired": "expired",
        "cert_pending": "not yet valid", "cert_until": "until {date}",
        "cert_issuer": "issued by {issuer}", "trace_codes": "Trace codes",
        "map_label": "Map of the origin at {place}",
        "recall_banner": "THIS LOT HAS BEEN RECALLED",
        "description": "Description",
        "pin_title": "Check the scratch-off PIN",
        "pin_placeholder": "Enter the 8 digits",
        "pin_button": "Check PIN",
        "pin": {"valid": "Correct PIN, checked for the first time: a genuine product.",
                "already_claimed": "Correct PIN, but it was checked before: possibly a "
                                   "counterfeit reusing a stamp.",
                "wrong_pin": "Wrong PIN.", "counterfeit": "This stamp is not valid.",
                "error": "Could not check right now. Please try again."},
        "report": {
            "title": "Report a counterfeit",
            "intro": "Goes to the market inspectors, with the check's result, time and place. "
                     "Only inspectors can see your phone number.",
            "problem": "What was wrong",
            "problems": {"fake": "Looks fake or imitated",
                         "stamp": "Stamp peeled, re-stuck or damaged",
                         "different": "Product differs from this page",
                         "recalled_on_sale": "Recalled or expired goods on sale",
                         "price": "Unusual price",
                         "other": "Something else"},
            "details": "More detail (optional)",
            "where": "Where you bought it (shop name, address, web page)",
            "phone": "Phone number for the inspectors (optional)",
            "photo": "Photo of the product or stamp (optional, up to 8 MB)",
            "send": "Send report",
            "thanks": "Thank you. Report number {id} has been sent to the market inspectors.",
            "back": "Back to the check",
            "fix": "The report was not sent. Please correct the items below; everything you "
                   "typed is kept.",
            "photo_again": "Please choose the photo again (if you want to attach one).",
            "too_big": "The photo is larger than 8 MB. Choose a smaller one or send without.",
            "too_many": "Too many reports came from your network. Please send it again in "
                        "about {minutes} minutes; everything you typed is kept.",
        },
    },
}
