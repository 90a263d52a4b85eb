"""QR images of stamps and A4 label sheets (fpdf2).

The QR holds the stamp URI with scheme and host upper-cased (``stamps.qr_text``): with
upper-case serials, digits and an upper-case lot the whole URI is QR alphanumeric, which
needs fewer modules than byte mode. Error correction M (15%) suits small printed labels.

Renderer, chosen with figures (``flask --app scanapp serials bench`` prints both): segno
builds a typical stamp at a few hundred per second per core in pure Python (most of it
choosing the mask), below the 1,000 SVG/s goal; zxing-cpp's encoder (C++, the zint
backend) does several thousand and picks an equal or smaller symbol, because it mixes
modes (an expiry query ``?17=...`` costs segno a version, not zint). So images come from
zxing-cpp; segno stays for the demo's terminal QR and for ``describe`` (the version and
mode reported in docs/SERIALS.md).
"""

from __future__ import annotations

import io

import segno
import zxingcpp
from fpdf import FPDF
from PIL import Image

from ..concurrency import cooperate
from .stamps import qr_text

ERROR_LEVEL = "M"
MAX_LABELS = 2000
A4 = (210.0, 297.0)


def _barcode(uri: str) -> zxingcpp.Barcode:
    return zxingcpp.create_barcode(qr_text(uri), zxingcpp.BarcodeFormat.QRCode,
                                   ec_level=ERROR_LEVEL)


def svg(uri: str, scale: int = 4) -> bytes:
    """SVG with the standard 4-module quiet zone; ``scale`` user units per module."""
    return zxingcpp.write_barcode_to_svg(_barcode(uri), scale=scale).encode()


def image(uri: str, scale: int = 8) -> Image.Image:
    raster = memoryview(zxingcpp.write_barcode_to_image(_barcode(uri), scale=scale))
    height, width = raster.shape
    return Image.frombuffer("L", (width, height), raster.tobytes(), "raw", "L", 0, 1)


def png(uri: str, scale: int = 8) -> bytes:
    out = io.BytesIO()
    image(uri, scale).convert("1").save(out, format="PNG", optimize=True)
    return out.getvalue()


def make_qr(uri: str) -> segno.QRCode:
    """segno's encoding of the stamp: for the terminal and for reporting mode/version."""
    return segno.make(qr_text(uri), error=ERROR_LEVEL.lower(), micro=False)


def terminal(uri: str) -> str:
    out = io.StringIO()
    make_qr(uri).terminal(out, compact=True)
    return out.getvalue()


# A Unicode TTF for product names with Vietnamese diacritics (Debian: fonts-dejavu-core).
# Without it names are printed without diacritics in a core font rather than not at all.
UNICODE_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                 "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf")
CUT_MARK_MM = 2.5
PIN_NOTE = ("Tem có mã PIN: in mã PIN (cột pin của codes.csv) dưới lớp cào bạc, trong ô "
            "\u201cPIN\u201d cạnh mỗi mã QR. Tờ này không chứa PIN. / PIN stamps: print each "
            "PIN (codes.csv, column pin) under a scratch-off layer in the PIN box next to its "
            "QR. This sheet carries no PINs.")


def _text_font(pdf: FPDF) -> str | None:
    from pathlib import Path

    for path in UNICODE_FONTS:
        if Path(path).exists():
            pdf.add_font("label", "", path)
            return "label"
    return None


def _plain(text: str) -> str:
    """Latin-1 text for a core font: diacritics dropped (đ -> d), the word kept."""
    import unicodedata

    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)) \
        .encode("latin-1", "replace").decode("latin-1")


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """Cut ``text`` to ``width`` with an ellipsis: a name never spills into the next label."""
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _cut_marks(pdf: FPDF, margin_mm: float, cols: int, rows: int, cell_w: float,
               cell_h: float) -> None:
    """Short crosses at every corner of every label: where the guillotine or die goes."""
    pdf.set_draw_color(120, 120, 120)
    pdf.set_line_width(0.1)
    for c in range(cols + 1):
        for r in range(rows + 1):
            x, y = margin_mm + c * cell_w, margin_mm + r * cell_h
            pdf.line(x - CUT_MARK_MM, y, x + CUT_MARK_MM, y)
            pdf.line(x, y - CUT_MARK_MM, x, y + CUT_MARK_MM)
    pdf.set_draw_color(0, 0, 0)


def label_sheet(labels: list[tuple[str, str]], cols: int, rows: int, margin_mm: float = 10.0,
                title: str | None = None, *, product_name: str | None = None,
                lot: str | None = None, expiry=None, pin: bool = False) -> bytes:
    """An A4 PDF with ``cols`` x ``rows`` labels per page, with cut marks at every label
    corner. Each label: the QR, then the human-readable serial, the product name and the
    lot and expiry (what a buyer and a shop check by eye). On PIN ranges each label has an
    empty "PIN" box for the scratch-off panel and each page says where the PIN goes (the
    PINs themselves are never on this sheet). ``labels`` is a list of ``(serial, uri)``."""
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(margin_mm, margin_mm, margin_mm)
    if title:
        pdf.set_title(title)
    pdf.set_creator("scanapp")
    font = _text_font(pdf)
    show = (lambda text: text) if font else _plain
    cell_w = (A4[0] - 2 * margin_mm) / cols
    cell_h = (A4[1] - 2 * margin_mm) / rows
    text_h = min(2.8, cell_h * 0.1)
    font_pt = max(4.0, min(7.0, text_h * 2.2, cell_w * 0.35))
    lines = [line for line in (
        product_name,
        " · ".join(part for part in (
            f"Lô {lot}" if lot else None,
            f"HSD {expiry:%d/%m/%Y}" if expiry else None) if part) or None) if line]
    side = max(5.0, min(cell_w, cell_h - text_h * (1 + len(lines))) * 0.9)
    pin_w = min(14.0, cell_w - side - 2) if pin else 0
    if pin and pin_w < 8:  # no room beside the QR: the panel goes where the printer decides
        pin_w = 0
    per_page = cols * rows
    for i, (serial, uri) in enumerate(labels):
        if i % per_page == 0:
            cooperate()  # a page of QR codes is milliseconds of CPU: let scans through
            pdf.add_page()
            on_page = min(per_page, len(labels) - i)
            _cut_marks(pdf, margin_mm, cols, -(-on_page // cols), cell_w, cell_h)
            if pin:
                pdf.set_font(font or "Helvetica", size=6)
                pdf.set_xy(margin_mm, max(1.0, margin_mm - 8.5))
                pdf.multi_cell(w=A4[0] - 2 * margin_mm, h=2.6, text=show(PIN_NOTE))
        slot = i % per_page
        x0 = margin_mm + (slot % cols) * cell_w
        y0 = margin_mm + (slot // cols) * cell_h
        qr_x = x0 + (cell_w - side - pin_w) / 2
        pdf.image(image(uri, scale=4), x=qr_x, y=y0 + 0.5, w=side, h=side)
        if pin_w:
            pdf.set_dash_pattern(dash=0.8, gap=0.6)
            box_h = min(side, 8.0)
            pdf.rect(qr_x + side + 1, y0 + 0.5 + (side - box_h) / 2, pin_w - 1, box_h)
            pdf.set_dash_pattern()
            pdf.set_font(font or "Helvetica", size=5)
            pdf.set_xy(qr_x + side + 1, y0 + 0.5 + (side - box_h) / 2)
            pdf.cell(w=pin_w - 1, h=box_h, text="PIN", align="C")
        pdf.set_font("Courier", size=font_pt)
        pdf.set_xy(x0, y0 + 0.5 + side)
        pdf.cell(w=cell_w, h=text_h, text=serial, align="C")
        pdf.set_font(font or "Helvetica", size=font_pt)
        for n, line in enumerate(lines, start=1):
            pdf.set_xy(x0, y0 + 0.5 + side + n * text_h)
            pdf.cell(w=cell_w, h=text_h, text=_fit(pdf, show(line), cell_w - 2), align="C")
    return bytes(pdf.output())
