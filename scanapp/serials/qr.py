"""QR images of stamps and A4 label sheets (fpdf2).

The QR holds the stamp URI with scheme and host upper-cased (``stamps.qr_text``): with
upper-case serials, digits and an upper-case lot the whole URI is QR alphanumeric, which
needs fewer modules than byte mode. Error correction M (15%) suits small printed labels.

Renderer, chosen with figures (``python -m loadtests.bench_serials`` prints both): segno
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
            cooperate()  # a page of QR codes is milliseconds of CPU: let scans through
            pdf.add_page()
        slot = i % per_page
        x0 = margin_mm + (slot % cols) * cell_w
        y0 = margin_mm + (slot // cols) * cell_h
        pdf.image(image(uri, scale=4), x=x0 + (cell_w - side) / 2, y=y0, w=side, h=side)
        pdf.set_xy(x0, y0 + side)
        pdf.cell(w=cell_w, h=text_h, text=serial, align="C")
    return bytes(pdf.output())
