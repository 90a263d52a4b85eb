"""Every word of the market inspectors' workspace (``/inspect``), Vietnamese first.

Written in the words a quản lý thị trường officer uses at work: hàng đợi, hồ sơ, vụ việc,
tem giả, nghi sao chép. English is the second language, chosen with the switch in the page
header (``?lang=en``) and kept in the session cookie; nothing else picks it (the default is
Vietnamese, whatever the browser says).

``t(key, **fmt)`` looks a dotted key up in the request's language (``t("status.open")``),
falls back to Vietnamese, and fills ``{placeholders}``. Signal names come from the risk
rules' own bilingual table (``signal_text``); every other word is here. Times are shown in
Vietnam time (``vn_time``), always labelled: ``29/11/2026 14:05`` and "giờ Việt Nam".
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import has_request_context, request, session

from ..risk.rules import AGGREGATE_SIGNALS, RULES_BY_ID
from ..scan.page_text import TEXT as STAMP_PAGE_TEXT

LANGS = ("vi", "en")
DEFAULT_LANG = "vi"
VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
             "Dec")

TEXT: dict[str, dict] = {
    "vi": {
        "site": "Quản lý thị trường · scanapp",
        "switch": "English",
        "switch_title": "Switch to English",
        "nav": {"queue": "Hàng đợi", "hotspots": "Điểm nóng", "reports": "Phản ánh",
                "check": "Kiểm tra tem", "inspect": "Ghi nhận kiểm tra",
                "verify": "Kiểm tra bản in",
                "sign_out": "Đăng xuất", "signed_in": "Đơn vị"},
        "tz": "giờ Việt Nam",
        "tz_column": "giờ Việt Nam (UTC+7)",
        "none": "—",
        "yes": "Có",
        "no": "Không",
        "back_queue": "← Về hàng đợi",
        # sign-in
        "login": {"title": "Đăng nhập", "heading": "Đăng nhập cán bộ quản lý thị trường",
                  "intro": "Dán khóa API được cấp cho cán bộ kiểm tra.",
                  "key": "Khóa API", "submit": "Đăng nhập"},
        # errors shown as pages or flashes (by the error's code; else by its kind)
        "error": {"title": "Không thực hiện được", "heading": "Không thực hiện được",
                  "by_code": {
                      "csrf_failed": "Biểu mẫu đã hết hạn hoặc không gửi từ trang này. Hãy "
                                     "tải lại trang rồi thử lại.",
                      "unknown_code": "Không có mã {serial} nào được cấp, quét, cảnh báo "
                                      "hay kiểm tra.",
                      "invalid_api_key": "Khóa API không hợp lệ.",
                      "revoked_api_key": "Khóa API đã bị thu hồi.",
                      "not_inspector": "Trang này cần khóa của cán bộ kiểm tra (quản lý "
                                       "thị trường).",
                      "empty_case_action": "Hãy chọn trạng thái mới, người phụ trách hoặc "
                                           "nhập ghi chú.",
                      "invalid_transition": "Vụ việc đang ở trạng thái «{from_status}» không "
                                        "thể chuyển sang «{to_status}».",
                      "unknown_status": "Trạng thái không hợp lệ.",
                      "unknown_province": "Mã tỉnh không hợp lệ.",
                      "invalid_window": "Ngày kết thúc phải sau ngày bắt đầu.",
                      "window_too_long": "Khoảng thời gian tối đa 366 ngày.",
                      "validation_error": "Bộ lọc không hợp lệ.",
                      "unknown_cell": "Ô bản đồ không hợp lệ.",
                      "hotspot_place": "Hãy chọn một tỉnh hoặc một ô bản đồ.",
                  },
                  "by_kind": {
                      "InvalidInput": "Dữ liệu nhập không hợp lệ.",
                      "MalformedRequest": "Yêu cầu không hợp lệ.",
                      "PayloadTooLarge": "Dữ liệu gửi lên quá lớn.",
                      "NotFound": "Không tìm thấy.",
                      "AuthenticationRequired": "Cần đăng nhập lại.",
                      "PermissionDenied": "Bạn không có quyền thực hiện thao tác này.",
                      "Conflict": "Thao tác xung đột với trạng thái hiện tại.",
                      "Unavailable": "Hệ thống tạm thời gián đoạn. Vui lòng thử lại sau.",
                      "RateLimited": "Quá nhiều yêu cầu. Vui lòng thử lại sau.",
                  },
                  "generic": "Đã có lỗi xảy ra. Vui lòng thử lại.",
                  "not_found_page": "Không tìm thấy trang này."},
        # the queue
        "queue": {"title": "Hàng đợi", "heading": "Hàng đợi mã bị cảnh báo",
                  "count": "{n} mã", "province": "Tỉnh/thành", "status": "Trạng thái",
                  "gtin": "Mã GTIN", "min_risk": "Rủi ro từ", "since": "Từ ngày",
                  "until": "Đến ngày", "all": "— tất cả —", "filter": "Lọc",
                  "export": "Xuất CSV", "invalid": "Bộ lọc không hợp lệ, đã bỏ qua:",
                  "risk": "Rủi ro", "serial": "Mã tem", "product": "Sản phẩm",
                  "signals": "Dấu hiệu", "assignee": "Phụ trách", "raised": "Cảnh báo lúc",
                  "reports": "Phản ánh", "empty": "Không có mã nào khớp bộ lọc.",
                  "previous": "← Trang trước", "next": "Trang sau →",
                  "page": "Trang {page}/{pages}", "open_dossier": "Mở hồ sơ",
                  "report_count": "{n} phản ánh"},
        "filter_field": {"province": "tỉnh", "gtin": "mã GTIN", "min_risk": "rủi ro",
                         "status": "trạng thái", "since": "từ ngày", "until": "đến ngày",
                         "page": "trang", "filter": "bộ lọc"},
        # consumer reports
        "reports": {"heading": "Phản ánh của người tiêu dùng",
                    "count": "{new} mới, {total} tổng", "number": "Số",
                    "filed": "Gửi lúc", "problem": "Vấn đề", "outcome": "Kết quả trang tem",
                    "code": "Mã", "where": "Nơi mua", "province": "Tỉnh/thành",
                    "photo": "Ảnh", "has_photo": "có ảnh", "empty": "Chưa có phản ánh nào.",
                    "for_code": "Phản ánh về mã này", "none_for_code":
                        "Chưa có người tiêu dùng nào phản ánh về mã này.",
                    "open": "Xem phản ánh"},
        "report_status": {"new": "Mới", "reviewing": "Đang xem xét", "closed": "Đã đóng"},
        "report_page": {"title": "Phản ánh của người tiêu dùng số {id}",
                        "status": "Tình trạng xử lý", "dossier": "mở hồ sơ mã",
                        "details": "Mô tả", "phone": "Điện thoại người phản ánh",
                        "scan": "Lượt quét kèm theo", "photo_alt": "Ảnh người phản ánh gửi"},
        # hotspots
        "hotspots": {"heading": "Điểm nóng hàng giả, 7 ngày qua",
                     "threshold": "Điểm nóng: từ {n} lượt quét mã giả trở lên",
                     "by_province": "Theo tỉnh/thành", "by_cell": "Theo ô bản đồ (~5 km)",
                     "map": "Bản đồ", "place": "Nơi", "province": "Tỉnh/thành",
                     "cell": "Ô bản đồ",
                     "forged_codes": "Mã giả", "forged_scans": "Lượt quét mã giả",
                     "flagged_codes": "Mã bị cảnh báo",
                     "flagged_scans": "Lượt quét mã bị cảnh báo",
                     "codes": "mã", "scans": "lượt quét",
                     "hot": "Điểm nóng", "copied_hot": "Nghi sao chép ({n} mã)",
                     "empty": "Không có lượt quét mã giả hay mã bị cảnh báo.",
                     "open": "Xem các lượt quét",
                     "map_label": "Bản đồ 34 tỉnh/thành với các điểm nóng hàng giả",
                     "bubble": "{place}: {forged_codes} mã giả ({forged_scans} lượt quét), "
                               "{flagged_codes} mã bị cảnh báo ({flagged_scans} lượt quét)",
                     "province_title": "{name}: {forged_codes} mã giả, {flagged_codes} mã "
                                       "bị cảnh báo",
                     "legend": "Chú giải",
                     "legend_border": "Ranh giới tỉnh/thành",
                     "legend_shade": "Tỉnh/thành có mã giả hoặc mã bị cảnh báo",
                     "legend_bubble": "Ô bản đồ có mã giả hoặc bị cảnh báo "
                                      "(to hơn: nhiều lượt quét hơn)",
                     "legend_hot": "Điểm nóng",
                     "legend_hidden": "Tên tỉnh bị ẩn khi chồng lên tên khác; rê chuột hoặc "
                                      "xem bảng."},
        "spot": {"title": "Lượt quét tại điểm nóng", "heading_province": "Điểm nóng: {name}",
                 "heading_cell": "Ô bản đồ quanh {lat}, {lon} ({name})",
                 "window": "Từ {since} đến {until} ({tz})",
                 "summary": "{forged_codes} mã giả trong {forged_scans} lượt quét; "
                            "{flagged_codes} mã bị cảnh báo trong {flagged_scans} lượt quét.",
                 "time": "Thời điểm", "serial": "Mã tem", "product": "Sản phẩm",
                 "brand": "Doanh nghiệp", "verdict": "Kết quả", "risk": "Rủi ro",
                 "signals": "Dấu hiệu", "place": "Nơi quét",
                 "empty": "Không có lượt quét nào.",
                 "truncated": "Chỉ hiện {shown} lượt quét gần nhất trên tổng số {total}.",
                 "unknown_product": "Sản phẩm không xác định"},
        # the dossier
        "dossier": {"title": "Hồ sơ {serial}", "heading": "Hồ sơ mã tem",
                    "evidence": "Hồ sơ chứng cứ (PDF)",
                    "record_inspection": "Ghi nhận kiểm tra mã này",
                    "product": "Sản phẩm", "gtin": "Mã GTIN", "genuine": "Tem thật?",
                    "genuine_yes": "Có, tem do hệ thống cấp", "genuine_no": "Không: tem giả",
                    "code_status": "Tình trạng mã", "name": "Tên sản phẩm",
                    "brand": "Doanh nghiệp", "range": "Dải mã", "range_value":
                        "số {id} · {status}", "lot": "Lô", "expiry": "Hạn sử dụng",
                    "market": "Thị trường phân phối", "printer": "Nhà in",
                    "scans": "Số lượt quét", "risk": "Điểm rủi ro",
                    "first_scan": "Quét lần đầu", "last_scan": "Quét gần nhất",
                    "lifecycle": "Vòng đời dải mã",
                    "lifecycle_lot_recall": "thu hồi cả lô", "signals": "Dấu hiệu nghi vấn",
                    "no_signals": "Không có dấu hiệu nào.",
                    "places": "Nơi quét", "without_place":
                        "{n} lượt quét không có vị trí",
                    "map_label": "Bản đồ các nơi quét mã, theo thứ tự thời gian",
                    "case": "Vụ việc", "status": "Trạng thái", "assignee": "Phụ trách",
                    "new_status": "Chuyển trạng thái", "keep": "— giữ nguyên —",
                    "note": "Ghi chú", "save": "Lưu", "trail": "Nhật ký xử lý",
                    "not_flagged": "Mã này chưa bị cảnh báo.",
                    "confirm": "Xác nhận chuyển vụ việc sang «{status}»?",
                    "inspections": "Kiểm tra thực địa",
                    "timeline": "Dòng thời gian các lượt quét",
                    "time": "Thời điểm", "place": "Nơi quét", "verdict": "Kết quả",
                    "device": "Thiết bị", "no_scans": "Chưa có lượt quét nào.",
                    "truncated": "Chỉ hiện {shown} lượt quét gần nhất trên tổng số {total}.",
                    "lot_heading": "Lô hàng {lot}",
                    "lot_public": "Trang truy xuất nguồn gốc của lô (nguồn gốc, chứng "
                                  "nhận, thu hồi)",
                    "lot_api": "Truy xuất đầy đủ:",
                    "lot_backward": "chuỗi nguồn gốc",
                    "lot_forward": "chuỗi phân phối",
                    "lot_xlsx": "bảng tính Excel",
                    "lot_recall": "tình trạng thu hồi",
                    "lot_recalled": "Lô đã bị thu hồi: {reason}",
                    "lot_recalled_at": "từ {at}",
                    "lot_recalled_by": "bởi {by}",
                    "lot_not_recalled": "Lô chưa bị thu hồi.",
                    "lot_made": "Nơi sản xuất",
                    "lot_back": "Một bước trước (lô nguyên liệu)",
                    "lot_received": "Nhận hàng từ",
                    "lot_shipped": "Một bước sau (đã giao cho)",
                    "lot_outputs": "Lô thành phẩm làm từ lô này",
                    "lot_unknown": "Chưa có hồ sơ truy xuất cho lô này."},
        "lineage": {
            "title_backward": "Chuỗi nguồn gốc lô {lot}",
            "title_forward": "Chuỗi phân phối lô {lot}",
            "back_dossier": "← Về hồ sơ mã tem",
            "other_backward": "Xem chuỗi nguồn gốc",
            "other_forward": "Xem chuỗi phân phối",
            "download": "Tải bảng tính:", "xlsx": "Excel (XLSX)", "csv": "Văn bản CSV",
            "gln": "GLN {gln}",
            "lot": "Lô", "product": "Sản phẩm", "depth": "Cấp", "maker": "Đơn vị sản xuất",
            "place": "Địa điểm", "dates": "Ngày sản xuất", "expiry": "Hạn dùng",
            "quantity": "Số lượng", "status": "Tình trạng", "stages": "Các công đoạn",
            "upstream": "Các lô phía trước (nguyên liệu)", "no_upstream":
                "Lô này không làm từ lô nào khác trong hệ thống.",
            "farm_lots": "Lô gốc (vùng trồng, trang trại, ao nuôi, chuồng trại)",
            "places": "Các địa điểm", "certificates": "Chứng nhận",
            "no_certificates": "Không có chứng nhận nào.",
            "scheme": "Loại", "number": "Số", "issuer": "Nơi cấp", "valid": "Hiệu lực",
            "edges": "Chế biến (đầu vào → đầu ra)", "input": "Lô đầu vào",
            "output": "Lô đầu ra", "when": "Thời điểm",
            "downstream": "Các lô phía sau (thành phẩm)", "no_downstream":
                "Chưa có lô nào làm từ lô này.",
            "ranges": "Dải tem", "range": "Dải {id}: {quantity} tem, {status}",
            "shipments": "Giao nhận", "no_shipments": "Chưa có giao nhận nào.",
            "scanned_in": "Nơi tem được quét", "province": "Tỉnh/thành", "scans": "Lượt quét",
            "no_scans": "Chưa có lượt quét nào.", "stamps": "Tổng số tem: {n}",
            "from": "từ {who}", "to": "đến {who}", "doc": "chứng từ {doc}",
            "unit": {"KGM": "kg", "GRM": "g", "TNE": "tấn", "LTR": "lít", "MLT": "ml",
                     "H87": "cái", "XBX": "hộp", "XBG": "túi", "XBO": "chai", "XCT": "thùng",
                     "XPK": "gói"},
            "lot_status": {"active": "Đang lưu hành", "on_hold": "Tạm giữ",
                           "recalled": "Đã thu hồi"},
            "kind": {"growing_area": "Vùng trồng", "farm": "Trang trại", "pond": "Ao nuôi",
                     "barn": "Chuồng trại", "factory": "Nhà máy", "packing_house":
                     "Cơ sở đóng gói", "warehouse": "Kho", "store": "Cửa hàng"},
            "cert_state": {"valid": "Còn hiệu lực", "expired": "Hết hạn",
                           "revoked": "Đã thu hồi", "not_yet_valid": "Chưa có hiệu lực"},
            "step": {"commissioning": "Sản xuất", "harvest": "Thu hoạch",
                     "transforming": "Chế biến", "packing": "Đóng gói",
                     "shipping": "Xuất hàng", "receiving": "Nhận hàng",
                     "inspecting": "Kiểm tra", "sampling": "Lấy mẫu kiểm nghiệm",
                     "holding": "Thu hồi", "storing": "Lưu kho",
                     "retail_selling": "Bán lẻ"}},
        "trail": {"raised": "Hệ thống cảnh báo", "escalated": "Cảnh báo tăng mức",
                  "status": "Đổi trạng thái", "note": "Ghi chú", "assigned": "Giao phụ trách",
                  "unassigned": "Bỏ phụ trách", "inspection": "Kiểm tra thực địa",
                  "reopened": "Mở lại", "risk": "rủi ro {risk}", "by": "bởi {by}"},
        "flash": {"case_updated": "Đã cập nhật vụ việc.",
                  "signed_out": "Đã đăng xuất."},
        "status": {"open": "Mới", "investigating": "Đang xử lý",
                   "confirmed_counterfeit": "Xác nhận hàng giả", "false_alarm": "Báo nhầm",
                   "resolved": "Đã đóng"},
        "verdict": {"authentic": "Tem thật", "genuine": "Tem thật",
                    "suspicious": "Nghi sao chép", "counterfeit": "Tem giả",
                    "expired": "Hết hạn", "not_activated": "Chưa kích hoạt",
                    "voided": "Tem đã hủy", "recalled": "Thu hồi", "repeat": "Quét lại",
                    "unknown_product": "Sản phẩm chưa đăng ký", "malformed": "Mã sai dạng",
                    "product_info": "Chỉ có mã sản phẩm"},
        "finding": {"genuine": "Hàng thật", "counterfeit": "Hàng giả",
                    "suspect": "Nghi vấn", "product_absent": "Không thấy hàng",
                    "other": "Khác"},
        "code_status": {"issued": "Đã cấp", "created": "Mới tạo",
                        "printed": "Đã in", "activated": "Đang lưu hành",
                        "voided": "Đã hủy", "recalled": "Đã thu hồi", "expired": "Hết hạn",
                        "suspended": "Tạm ngừng", "unknown": "Không rõ"},
        "lifecycle": {"issue": "Cấp dải mã", "create": "Tạo dải mã",
                      "created": "Tạo dải mã", "print": "In tem",
                      "printed": "In tem", "activate": "Kích hoạt", "activated": "Kích hoạt",
                      "void": "Hủy tem", "voided": "Hủy tem", "recall": "Thu hồi",
                      "recalled": "Thu hồi", "suspend": "Tạm ngừng", "resume": "Lưu hành lại",
                      "download": "Tải tệp tem", "split": "Tách dải mã"},
        "source": {"consumer": "người tiêu dùng", "inspector": "cán bộ kiểm tra"},
        "csv": {"flag_id": "Số cảnh báo", "serial": "Mã tem", "gtin": "GTIN",
                "risk": "Rủi ro", "reasons": "Dấu hiệu", "status": "Trạng thái",
                "assignee": "Phụ trách", "province": "Mã tỉnh", "province_name": "Tỉnh/thành",
                "brand": "Doanh nghiệp",
                "raised_at": "Cảnh báo lúc (giờ Việt Nam, UTC+7)",
                "updated_at": "Cập nhật lúc (giờ Việt Nam, UTC+7)"},
    },
    "en": {
        "site": "Market inspection · scanapp",
        "switch": "Tiếng Việt",
        "switch_title": "Chuyển sang tiếng Việt",
        "nav": {"queue": "Queue", "hotspots": "Hotspots", "reports": "Reports",
                "check": "Check a stamp", "inspect": "Record an inspection",
                "verify": "Check a printed copy",
                "sign_out": "Sign out", "signed_in": "Unit"},
        "tz": "Vietnam time",
        "tz_column": "Vietnam time (UTC+7)",
        "none": "—",
        "yes": "Yes",
        "no": "No",
        "back_queue": "← Back to the queue",
        "login": {"title": "Sign in", "heading": "Market inspector sign-in",
                  "intro": "Paste the API key issued to you as an inspector.",
                  "key": "API key", "submit": "Sign in"},
        "error": {"title": "Could not do that", "heading": "Could not do that",
                  "by_code": {
                      "csrf_failed": "The form expired or did not come from this site; reload "
                                     "the page and try again.",
                      "unknown_code": "No code {serial} was issued, scanned, flagged or "
                                      "inspected.",
                      "invalid_api_key": "The API key is not valid.",
                      "revoked_api_key": "The API key has been revoked.",
                      "not_inspector": "This workspace needs an inspector key.",
                      "empty_case_action": "Choose a new status, an assignee or write a note.",
                      "invalid_transition": "A case that is “{from_status}” cannot become "
                                        "“{to_status}”.",
                      "unknown_status": "Not a valid status.",
                      "unknown_province": "Not a valid province code.",
                      "invalid_window": "The end date must be after the start date.",
                      "window_too_long": "The window may span at most 366 days.",
                      "validation_error": "The filter is not valid.",
                      "unknown_cell": "Not a valid map cell.",
                      "hotspot_place": "Choose a province or a map cell.",
                  },
                  "by_kind": {
                      "InvalidInput": "The input is not valid.",
                      "MalformedRequest": "The request is not valid.",
                      "PayloadTooLarge": "What was sent is too large.",
                      "NotFound": "Not found.",
                      "AuthenticationRequired": "Please sign in again.",
                      "PermissionDenied": "You may not do that.",
                      "Conflict": "That conflicts with the current state.",
                      "Unavailable": "The service is temporarily unavailable. Try again "
                                     "later.",
                      "RateLimited": "Too many requests. Try again later.",
                  },
                  "generic": "Something went wrong. Please try again.",
                  "not_found_page": "This page does not exist."},
        "queue": {"title": "Queue", "heading": "Flagged codes queue",
                  "count": "{n} codes", "province": "Province", "status": "Status",
                  "gtin": "GTIN", "min_risk": "Risk from", "since": "From", "until": "To",
                  "all": "— all —", "filter": "Filter", "export": "Export CSV",
                  "invalid": "Invalid filter, ignored:",
                  "risk": "Risk", "serial": "Serial", "product": "Product",
                  "signals": "Signals", "assignee": "Assignee", "raised": "Raised",
                  "reports": "Reports", "empty": "No flagged codes match.",
                  "previous": "← Previous", "next": "Next →",
                  "page": "Page {page}/{pages}", "open_dossier": "Open dossier",
                  "report_count": "consumer reports: {n}"},
        "filter_field": {"province": "province", "gtin": "GTIN", "min_risk": "risk",
                         "status": "status", "since": "from", "until": "to",
                         "page": "page", "filter": "filter"},
        "reports": {"heading": "Consumer reports",
                    "count": "{new} new, {total} in all", "number": "No.",
                    "filed": "Filed", "problem": "Problem", "outcome": "Stamp page said",
                    "code": "Code", "where": "Bought at", "province": "Province",
                    "photo": "Photo", "has_photo": "photo", "empty": "No reports yet.",
                    "for_code": "Reports about this code",
                    "none_for_code": "No consumer has reported this code.",
                    "open": "Open report"},
        "report_status": {"new": "New", "reviewing": "Reviewing", "closed": "Closed"},
        "report_page": {"title": "Consumer report no. {id}", "status": "Handling",
                        "dossier": "open the code's dossier", "details": "Details",
                        "phone": "Reporter's phone", "scan": "The scan it follows",
                        "photo_alt": "Photo sent by the reporter"},
        "hotspots": {"heading": "Counterfeit hotspots, last 7 days",
                     "threshold": "Hotspot: {n} or more scans of forged codes",
                     "by_province": "By province", "by_cell": "By map cell (~5 km)",
                     "map": "Map", "place": "Place", "province": "Province", "cell": "Map cell",
                     "forged_codes": "Forged codes", "forged_scans": "Forged scans",
                     "flagged_codes": "Flagged codes", "flagged_scans": "Flagged scans",
                     "codes": "codes", "scans": "scans",
                     "hot": "Hotspot", "copied_hot": "Copied codes ({n})",
                     "empty": "No forged or flagged scans.",
                     "open": "Open the scans",
                     "map_label": "Map of the 34 provinces with counterfeit hotspots",
                     "bubble": "{place}: {forged_codes} forged codes ({forged_scans} scans), "
                               "{flagged_codes} flagged codes ({flagged_scans} scans)",
                     "province_title": "{name}: {forged_codes} forged codes, "
                                       "{flagged_codes} flagged codes",
                     "legend": "Legend",
                     "legend_border": "Province border",
                     "legend_shade": "Province with forged or flagged codes",
                     "legend_bubble": "Map cell with forged or flagged codes "
                                      "(larger: more scans)",
                     "legend_hot": "Hotspot",
                     "legend_hidden": "A name that would overlap another is hidden; hover "
                                      "or see the table."},
        "spot": {"title": "Hotspot scans", "heading_province": "Hotspot: {name}",
                 "heading_cell": "Map cell around {lat}, {lon} ({name})",
                 "window": "From {since} to {until} ({tz})",
                 "summary": "{forged_codes} forged codes in {forged_scans} scans; "
                            "{flagged_codes} flagged codes in {flagged_scans} scans.",
                 "time": "Time", "serial": "Serial", "product": "Product", "brand": "Brand",
                 "verdict": "Verdict", "risk": "Risk", "signals": "Signals",
                 "place": "Place", "empty": "No scans.",
                 "truncated": "Showing the newest {shown} of {total} scans.",
                 "unknown_product": "Unknown product"},
        "dossier": {"title": "Dossier {serial}", "heading": "Code dossier",
                    "evidence": "Evidence (PDF)",
                    "record_inspection": "Record an inspection of this code",
                    "product": "Product", "gtin": "GTIN", "genuine": "Genuine stamp?",
                    "genuine_yes": "Yes, issued by this system", "genuine_no": "No: forged",
                    "code_status": "Code status", "name": "Product name", "brand": "Brand",
                    "range": "Range", "range_value": "no. {id} · {status}", "lot": "Lot",
                    "expiry": "Use by", "market": "Market", "printer": "Printer",
                    "scans": "Scans", "risk": "Risk score",
                    "first_scan": "First scan", "last_scan": "Last scan",
                    "lifecycle": "Range lifecycle",
                    "lifecycle_lot_recall": "the whole lot recalled", "signals": "Signals",
                    "no_signals": "No signals.",
                    "places": "Scan places", "without_place": "{n} scans without a position",
                    "map_label": "Map of the code's scan places in time order",
                    "case": "Case", "status": "Status", "assignee": "Assignee",
                    "new_status": "New status", "keep": "— keep —", "note": "Note",
                    "save": "Save", "trail": "Audit trail",
                    "not_flagged": "This code has not been flagged.",
                    "confirm": "Move the case to “{status}”?",
                    "inspections": "Field inspections",
                    "timeline": "Scan timeline", "time": "Time", "place": "Place",
                    "verdict": "Verdict", "device": "Device", "no_scans": "No scans yet.",
                    "truncated": "Showing the newest {shown} of {total} scans.",
                    "lot_heading": "Lot {lot}",
                    "lot_public": "The lot's traceability page (origin, certificates, recall)",
                    "lot_api": "The full trace:",
                    "lot_backward": "lineage back",
                    "lot_forward": "lineage forward",
                    "lot_xlsx": "Excel spreadsheet",
                    "lot_recall": "recall status",
                    "lot_recalled": "The lot has been recalled: {reason}",
                    "lot_recalled_at": "since {at}",
                    "lot_recalled_by": "by {by}",
                    "lot_not_recalled": "The lot has not been recalled.",
                    "lot_made": "Made by",
                    "lot_back": "One step back (input lots)",
                    "lot_received": "Received from",
                    "lot_shipped": "One step forward (shipped to)",
                    "lot_outputs": "Lots made from this lot",
                    "lot_unknown": "No trace record for this lot yet."},
        "lineage": {
            "title_backward": "Lineage of lot {lot}: where it came from",
            "title_forward": "Lineage of lot {lot}: where it went",
            "back_dossier": "← Back to the code's dossier",
            "other_backward": "Where it came from",
            "other_forward": "Where it went",
            "download": "Download the spreadsheet:", "xlsx": "Excel (XLSX)",
            "csv": "CSV text", "gln": "GLN {gln}",
            "lot": "Lot", "product": "Product", "depth": "Level", "maker": "Made by",
            "place": "Place", "dates": "Production / harvest date", "expiry": "Expiry",
            "quantity": "Quantity", "status": "Status", "stages": "Stages",
            "upstream": "Lots upstream (inputs)", "no_upstream":
                "This lot is not made from any other lot on record.",
            "farm_lots": "Origin lots (growing areas, farms, ponds, barns)",
            "places": "Places", "certificates": "Certificates",
            "no_certificates": "No certificates.",
            "scheme": "Scheme", "number": "Number", "issuer": "Issuer", "valid": "Valid",
            "edges": "Transformations (input → output)", "input": "Input lot",
            "output": "Output lot", "when": "When",
            "downstream": "Lots downstream (products)", "no_downstream":
                "Nothing has been made from this lot yet.",
            "ranges": "Stamp ranges", "range": "Range {id}: {quantity} stamps, {status}",
            "shipments": "Shipments and receipts", "no_shipments": "No shipments yet.",
            "scanned_in": "Where its stamps were scanned", "province": "Province",
            "scans": "Scans", "no_scans": "No scans yet.", "stamps": "Stamps in all: {n}",
            "from": "from {who}", "to": "to {who}", "doc": "document {doc}",
            "unit": {"KGM": "kg", "GRM": "g", "TNE": "t", "LTR": "l", "MLT": "ml",
                     "H87": "pieces", "XBX": "boxes", "XBG": "bags", "XBO": "bottles",
                     "XCT": "cartons", "XPK": "packs"},
            "lot_status": {"active": "Active", "on_hold": "On hold", "recalled": "Recalled"},
            "kind": {"growing_area": "Growing area", "farm": "Farm", "pond": "Pond",
                     "barn": "Barn", "factory": "Factory", "packing_house": "Packing house",
                     "warehouse": "Warehouse", "store": "Store"},
            "cert_state": {"valid": "Valid", "expired": "Expired", "revoked": "Revoked",
                           "not_yet_valid": "Not yet valid"},
            "step": {"commissioning": "Production", "harvest": "Harvest",
                     "transforming": "Processing", "packing": "Packing",
                     "shipping": "Shipping", "receiving": "Receiving",
                     "inspecting": "Inspection", "sampling": "Sampling for a lab test",
                     "holding": "Recall", "storing": "Storage",
                     "retail_selling": "Retail sale"}},
        "trail": {"raised": "Flag raised", "escalated": "Flag escalated",
                  "status": "Status changed", "note": "Note", "assigned": "Assigned",
                  "unassigned": "Unassigned", "inspection": "Field inspection",
                  "reopened": "Reopened", "risk": "risk {risk}", "by": "by {by}"},
        "flash": {"case_updated": "Case updated.", "signed_out": "Signed out."},
        "status": {"open": "Open", "investigating": "Investigating",
                   "confirmed_counterfeit": "Confirmed counterfeit",
                   "false_alarm": "False alarm", "resolved": "Closed"},
        "verdict": {"authentic": "Genuine", "genuine": "Genuine", "suspicious": "Suspected copy",
                    "counterfeit": "Forged", "expired": "Expired",
                    "not_activated": "Not activated", "voided": "Voided",
                    "recalled": "Recalled", "repeat": "Checked again",
                    "unknown_product": "Unregistered product", "malformed": "Malformed code",
                    "product_info": "Product code only"},
        "finding": {"genuine": "Genuine", "counterfeit": "Counterfeit", "suspect": "Suspect",
                    "product_absent": "Product not found", "other": "Other"},
        "code_status": {"issued": "Issued", "created": "Created",
                        "printed": "Printed", "activated": "On the market",
                        "voided": "Voided", "recalled": "Recalled", "expired": "Expired",
                        "suspended": "Suspended", "unknown": "Unknown"},
        "lifecycle": {"issue": "Range issued", "create": "Range created",
                      "created": "Range created", "print": "Printed",
                      "printed": "Printed", "activate": "Activated", "activated": "Activated",
                      "void": "Voided", "voided": "Voided", "recall": "Recalled",
                      "recalled": "Recalled", "suspend": "Suspended", "resume": "Resumed",
                      "download": "Stamp file downloaded", "split": "Range split"},
        "source": {"consumer": "consumer", "inspector": "inspector"},
        "csv": {"flag_id": "flag_id", "serial": "serial", "gtin": "gtin", "risk": "risk",
                "reasons": "reasons", "status": "status", "assignee": "assignee",
                "province": "province", "province_name": "province_name", "brand": "brand",
                "raised_at": "raised_at (Vietnam time, UTC+7)",
                "updated_at": "updated_at (Vietnam time, UTC+7)"},
    },
}


# -- language ---------------------------------------------------------------------------------

def lang() -> str:
    """The request's language: ``?lang=`` (the switch; remembered in the session), then the
    session's choice, then Vietnamese."""
    if not has_request_context():
        return DEFAULT_LANG
    asked = request.args.get("lang")
    if asked in LANGS:
        if session.get("lang") != asked:
            session["lang"] = asked
        return asked
    chosen = session.get("lang")
    return chosen if chosen in LANGS else DEFAULT_LANG


def lookup(key: str, language: str | None = None):
    """The catalogue entry for a dotted key (a string or a nested table), or None."""
    for table in (TEXT[language or lang()], TEXT[DEFAULT_LANG]):
        node = table
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                node = None
                break
            node = node[part]
        if node is not None:
            return node
    return None


def t(key: str, language: str | None = None, **fmt) -> str:
    """The text for a dotted key in the request's language, placeholders filled."""
    value = lookup(key, language)
    if value is None:
        # A missing key shows as itself: the untranslated-string test catches it.
        return key
    return value.format(**fmt) if fmt else value


def word(table: str, value: str | None, language: str | None = None) -> str:
    """A status, verdict, finding, ... in words (``word("status", "open")`` -> "Mới");
    an unknown value shows as itself, underscores made spaces."""
    if value is None:
        return TEXT[language or lang()]["none"]
    found = lookup(f"{table}.{value}", language)
    return found if isinstance(found, str) else value.replace("_", " ")


def signal_text(reason: str, language: str | None = None) -> dict:
    """A signal's title and explanation in the language, from the risk rules' table.
    Never the raw id alone: an id the table does not know is shown as "Dấu hiệu khác (id)"."""
    language = language or lang()
    rule = RULES_BY_ID.get(reason)
    if rule is not None:
        entry = {"title_en": rule.title_en, "title_vi": rule.title_vi,
                 "explanation_en": rule.explanation_en, "explanation_vi": rule.explanation_vi}
    else:
        entry = AGGREGATE_SIGNALS.get(reason)
    if entry is None:
        title = ("Dấu hiệu khác" if language == "vi" else "Other signal") + f" ({reason})"
        return {"id": reason, "title": title, "explanation": ""}
    return {"id": reason, "title": entry[f"title_{language}"],
            "explanation": entry[f"explanation_{language}"]}


def report_problem(code: str | None, language: str | None = None) -> str:
    """A consumer report's problem in the words the stamp page offered the consumer."""
    problems = STAMP_PAGE_TEXT[language or lang()]["report"]["problems"]
    return problems.get(code or "", code or TEXT[DEFAULT_LANG]["none"])


def page_outcome(code: str | None, language: str | None = None) -> str:
    """What the stamp page told the consumer (its headline), e.g. "HÀNG GIẢ"."""
    outcomes = STAMP_PAGE_TEXT[language or lang()]["outcomes"]
    return outcomes[code][0] if code in outcomes else word("verdict", code, language)


def error_text(exc, language: str | None = None, **fmt) -> str:
    """A domain error in words: by its code, else by its kind, else a general sentence."""
    language = language or lang()
    table = TEXT[language]["error"]
    code = getattr(exc, "code", None)
    if code in table["by_code"]:
        try:
            return table["by_code"][code].format(**fmt)
        except KeyError:
            pass
    for kind in type(exc).__mro__:
        if kind.__name__ in table["by_kind"]:
            return table["by_kind"][kind.__name__]
    return table["generic"]


# -- time -------------------------------------------------------------------------------------

def as_vn(value) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # an ISO 8601 moment from a JSON document
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(VN_TZ)
    return None


def vn_time(value, language: str | None = None, seconds: bool = False) -> str:
    """Vietnam time: ``29/11/2026 14:05`` (Vietnamese), ``29 Nov 2026 14:05`` (English)."""
    if value is None:
        return TEXT[DEFAULT_LANG]["none"]
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return vn_date(value, language)
    local = as_vn(value)
    if local is None:
        return str(value)
    clock = f"{local:%H:%M:%S}" if seconds else f"{local:%H:%M}"
    return f"{vn_date(local.date(), language)} {clock}"


def vn_date(value, language: str | None = None) -> str:
    if value is None:
        return TEXT[DEFAULT_LANG]["none"]
    if isinstance(value, str):  # an ISO 8601 day from a JSON document
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        value = as_vn(value).date()
    if (language or lang()) == "vi":
        return f"{value.day:02d}/{value.month:02d}/{value.year}"
    return f"{value.day} {EN_MONTHS[value.month - 1]} {value.year}"


def catalogue_values(language: str) -> list[str]:
    """Every string of a language's catalogue (for the untranslated-string test)."""
    out: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            for child in node.values():
                walk(child)
        elif isinstance(node, str):
            out.append(node)

    walk(TEXT[language])
    return out
