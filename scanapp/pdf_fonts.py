"""The Unicode TrueType font every PDF of scanapp draws Vietnamese with (the authorities'
report, the inspectors' evidence dossier): a configured .ttf, else Debian's DejaVu Sans
(apt package fonts-dejavu-core). Without one a PDF is refused with a clear 503
(``pdf_font_missing``), never drawn with a core font that drops the diacritics."""

from __future__ import annotations

import os

from .errors import Unavailable

DEJAVU = "/usr/share/fonts/truetype/dejavu/"
REGULAR = (DEJAVU + "DejaVuSans.ttf",)
BOLD = (DEJAVU + "DejaVuSans-Bold.ttf",)
SETTING = "AUTHORITY_PDF_FONT"


def find_font(setting: str | None, candidates: tuple[str, ...] = REGULAR) -> str:
    """The configured font file if it exists, else the first candidate that does."""
    for path in ((setting,) if setting else ()) + candidates:
        if path and os.path.exists(path):
            return path
    raise Unavailable("no Unicode font for the PDF: install fonts-dejavu-core or set "
                      f"SCANAPP_{SETTING}", code="pdf_font_missing")


def add_fonts(doc, setting: str | None, family: str = "Body") -> None:
    """Register ``family`` (regular and bold) on an fpdf2 document: the configured font for
    both when one is set, else DejaVu Sans and DejaVu Sans Bold."""
    regular = find_font(setting, REGULAR)
    bold = regular if setting else find_font(None, BOLD)
    doc.add_font(family, "", regular)
    doc.add_font(family, "B", bold)
