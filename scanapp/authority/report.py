"""The report file for a period: PDF (fpdf2, a Unicode TrueType font for Vietnamese) and
XLSX (openpyxl), from the same figures as the dashboard (``stats.statistics``).

The PDF font: ``AUTHORITY_PDF_FONT`` (a .ttf path) or Debian's DejaVu Sans
(apt package fonts-dejavu-core); without one the PDF is refused with a clear 503, never
drawn with a font that drops the diacritics.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from ..pdf_fonts import add_fonts

RULE_NAMES = {
    "cert_invalid_at_event": "Chứng nhận hết hạn/chưa hiệu lực",
    "shared_code": "Mã vùng trồng/GLN dùng chung",
    "identical_diary": "Nhật ký giống hệt nhau",
    "label_not_trace": "Có tem, không có truy xuất",
    "impossible_order": "Thứ tự thời gian vô lý",
    "output_exceeds_input": "Đầu ra vượt đầu vào",
    "gtin_prefix": "GTIN sai mã doanh nghiệp",
}


def _vn_date(iso: str) -> str:
    return dt.date.fromisoformat(iso).strftime("%d/%m/%Y")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:g} %"


def rows(figures: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(indicator, figure, target) lines of one province, as both files print them."""
    firms, portal = figures["firms"], figures["portal"]
    return [
        ("Doanh nghiệp dùng mã vạch", str(firms["using_barcodes"]), ""),
        ("Doanh nghiệp có hệ thống truy xuất", str(firms["with_traceability"]), ""),
        ("Tỷ lệ doanh nghiệp có truy xuất", _pct(firms["pct"]), f">= {firms['target_pct']:g} %"),
        ("Sản phẩm được truy xuất", str(portal["traced_products"]), ""),
        ("Sản phẩm kết nối Cổng quốc gia", str(portal["connected"]), ""),
        ("Tỷ lệ kết nối Cổng quốc gia", _pct(portal["pct"]), f">= {portal['target_pct']:g} %"),
        ("Lô hàng có sự kiện trong kỳ", str(figures["lots_traced"]), ""),
        ("Tem phát hành trong kỳ", str(figures["stamps"]["issued"]), ""),
        ("Mã tem được quét", str(figures["stamps"]["scanned_codes"]), ""),
        ("Lượt quét", str(figures["stamps"]["scans"]), ""),
        ("Nghi vấn hàng giả", str(figures["counterfeit"]["flags"]), ""),
        ("Hàng giả đã xác nhận", str(figures["counterfeit"]["confirmed"]), ""),
        ("Vụ việc mở", str(figures["cases"]["opened"]), ""),
        ("Vụ việc đã đóng", str(figures["cases"]["closed"]), ""),
        ("Phát hiện về chất lượng dữ liệu", str(figures["findings"]["total"]), ""),
        ("Hồ sơ được duyệt / từ chối", f"{figures['reviews']['approved']} / "
                                       f"{figures['reviews']['rejected']}", ""),
    ]


def pdf(stats: dict[str, Any], font_path: str | None = None) -> bytes:
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    doc = FPDF(orientation="P", unit="mm", format="A4")
    doc.set_title("Báo cáo truy xuất nguồn gốc")
    doc.set_author("scanapp")
    add_fonts(doc, font_path)
    doc.set_auto_page_break(True, margin=15)
    doc.add_page()
    nl = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}
    doc.set_font("Body", "B", 15)
    doc.multi_cell(0, 8, "BÁO CÁO TÌNH HÌNH TRIỂN KHAI TRUY XUẤT NGUỒN GỐC", align="C", **nl)
    doc.set_font("Body", "", 10)
    period = {k: _vn_date(v) for k, v in stats["period"].items()}
    made = dt.datetime.fromisoformat(stats["generated_at"]).strftime("%H:%M %d/%m/%Y")
    doc.multi_cell(0, 6, f"Phạm vi: {stats['scope']}   Kỳ báo cáo: {period['from']} – "
                         f"{period['to']}   Lập lúc: {made} (giờ Việt Nam)",
                   align="C", **nl)
    for figures in stats["provinces"]:
        doc.ln(4)
        doc.set_font("Body", "B", 12)
        doc.multi_cell(0, 7, f"{figures['province_name']} (mã {figures['province']})"
                       + (f" — {figures['plan']}" if figures["plan"] else ""), **nl)
        doc.set_font("Body", "", 10)
        with doc.table(col_widths=(100, 40, 40), text_align=("LEFT", "RIGHT", "RIGHT"),
                       line_height=6) as table:
            header = table.row()
            for text in ("Chỉ tiêu", "Kết quả", "Mục tiêu kế hoạch"):
                header.cell(text)
            for line in rows(figures):
                row = table.row()
                for text in line:
                    row.cell(text)
        if figures["sectors"]:
            doc.ln(2)
            doc.set_font("Body", "B", 10)
            doc.multi_cell(0, 6, "Theo lĩnh vực (nhóm sản phẩm)", **nl)
            doc.set_font("Body", "", 9)
            with doc.table(col_widths=(60, 24, 24, 24, 24, 24), line_height=5,
                           text_align=("LEFT",) + ("RIGHT",) * 5) as table:
                header = table.row()
                for text in ("Lĩnh vực", "Doanh nghiệp", "Sản phẩm", "Có truy xuất",
                             "Lên Cổng", "Lô trong kỳ"):
                    header.cell(text)
                for sector in figures["sectors"]:
                    row = table.row()
                    for text in (sector["sector"], sector["firms"], sector["products"],
                                 sector["traced_products"], sector["connected_products"],
                                 sector["lots_traced"]):
                        row.cell(str(text))
        if figures["findings"]["by_rule"]:
            doc.ln(2)
            doc.set_font("Body", "B", 10)
            doc.multi_cell(0, 6, "Phát hiện về chất lượng dữ liệu theo quy tắc", **nl)
            doc.set_font("Body", "", 9)
            for rule, count in sorted(figures["findings"]["by_rule"].items()):
                doc.multi_cell(0, 5, f"• {RULE_NAMES.get(rule, rule)}: {count}", **nl)
    return bytes(doc.output())


def xlsx(stats: dict[str, Any]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = "Tổng hợp"
    sheet.append(["Báo cáo tình hình triển khai truy xuất nguồn gốc"])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append(["Phạm vi", stats["scope"]])
    sheet.append(["Kỳ báo cáo", stats["period"]["from"], stats["period"]["to"]])
    sheet.append(["Lập lúc (giờ Việt Nam)", stats["generated_at"]])
    sheet.append([])
    sheet.append(["Tỉnh/thành", "Chỉ tiêu", "Kết quả", "Mục tiêu kế hoạch"])
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for figures in stats["provinces"]:
        for label, value, target in rows(figures):
            # Counts as numbers (a spreadsheet sums them); percentages stay as printed.
            sheet.append([figures["province_name"], label,
                          int(value) if value.isdigit() else value, target or None])
    sectors = book.create_sheet("Theo lĩnh vực")
    sectors.append(["Tỉnh/thành", "Lĩnh vực", "Doanh nghiệp", "Sản phẩm", "Có truy xuất",
                    "Lên Cổng quốc gia", "Lô trong kỳ"])
    for figures in stats["provinces"]:
        for s in figures["sectors"]:
            sectors.append([figures["province_name"], s["sector"], s["firms"], s["products"],
                            s["traced_products"], s["connected_products"], s["lots_traced"]])
    for ws in (sheet, sectors):
        ws.column_dimensions["A"].width = 22
        ws.column_dimensions["B"].width = 40
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
