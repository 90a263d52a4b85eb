"""QR images of stamps (segno) and A4 label sheets (fpdf2).

The QR holds the stamp URI with scheme and host upper-cased (``stamps.qr_text``): with
upper-case serials, digits and an upper-case lot the whole URI is in QR alphanumeric
mode, which needs fewer modules than byte mode (version 4-M for a typical stamp; see
docs/SERIALS.md). Error correction M (15%) suits small printed labels; segno raises it
further for free when the data leaves room in the chosen version.
"""

from __future__ import annotations

import io

import segno
from fpdf import FPDF

from .stamps import qr_text

ERROR_LEVEL = "m"
MAX_LABELS = 2000
A4 = (210.0, 297.0)


def make_qr(uri: str) -> segno.QRCode:
    return segno.make(qr_text(uri), error=ERROR_LEVEL, micro=False)


def svg(uri: str, scale: int = 4, border: int = 4) -> bytes:
    out = io.BytesIO()
    make_qr(uri).save(out, kind="svg", scale=scale, border=border, xmldecl=False,
                      svgns=True, title=None)
    return out.getvalue()


def png(uri: str, scale: int = 8, border: int = 4) -> bytes:
    out = io.BytesIO()
    make_qr(uri).save(out, kind="png", scale=scale, border=border)
    return out.getvalue()


def label_sheet(labels: list[tuple[str, str]], cols: int, rows: int, margin_mm: float = 10.0,
                title: str | None = None) -> bytes:
    """An A4 PDF with ``cols`` x ``rows`` labels per page: each a QR and, under it, the
    human-readable serial. ``labels`` is a list of ``(serial, uri)``."""
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(margin_mm, margin_mm, margin_mm)
    if title:
        pdf.set_title(title)
    pdf.set_creator("scanapp")
    cell_w = (A4[0] - 2 * margin_mm) / cols
    cell_h = (A4[1] - 2 * margin_mm) / rows
    text_h = min(4.0, cell_h * 0.18)
    font_pt = max(4.0, min(8.0, text_h * 2.2, cell_w * 0.35))
    side = max(5.0, min(cell_w, cell_h - text_h) * 0.9)
    per_page = cols * rows
    pdf.set_font("Courier", size=font_pt)
    for i, (serial, uri) in enumerate(labels):
        if i % per_page == 0:
            pdf.add_page()
        slot = i % per_page
        x0 = margin_mm + (slot % cols) * cell_w
        y0 = margin_mm + (slot // cols) * cell_h
        image = io.BytesIO(png(uri, scale=4, border=2))
        pdf.image(image, x=x0 + (cell_w - side) / 2, y=y0, w=side, h=side)
        pdf.set_xy(x0, y0 + side)
        pdf.cell(w=cell_w, h=text_h, text=serial, align="C")
    return bytes(pdf.output())
