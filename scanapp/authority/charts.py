"""Charts drawn on the server as inline SVG: no third-party script reaches the browser."""

from __future__ import annotations

from html import escape

GREEN, RED, GREY, BLUE = "#1b7f3b", "#b3261e", "#9aa0a6", "#1a56a8"


def target_bars(rows: list[tuple[str, float | None, float]], width: int = 640) -> str:
    """One horizontal bar per (label, actual %, target %), with the target as a mark."""
    bar_x, bar_w, row_h = 230, width - 350, 34
    height = row_h * len(rows) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="Chỉ tiêu và kết quả">']
    for i, (label, actual, target) in enumerate(rows):
        y = 8 + i * row_h
        parts.append(f'<text x="0" y="{y + 16}" font-size="13">{escape(label)}</text>')
        parts.append(f'<rect x="{bar_x}" y="{y + 4}" width="{bar_w}" height="16" '
                     f'fill="#eceff1"/>')
        if actual is not None:
            color = GREEN if actual >= target else RED
            filled = bar_w * min(actual, 100) / 100
            parts.append(f'<rect x="{bar_x}" y="{y + 4}" width="{filled:.1f}" '
                         f'height="16" fill="{color}"/>')
        tx = bar_x + bar_w * min(target, 100) / 100
        parts.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{y}" y2="{y + 24}" '
                     f'stroke="#000" stroke-width="2"/>')
        shown = "—" if actual is None else f"{actual:g} %"
        parts.append(f'<text x="{bar_x + bar_w + 6}" y="{y + 16}" font-size="12">{shown} / '
                     f'{target:g} %</text>')
    parts.append("</svg>")
    return "".join(parts)


def column_chart(series: list[tuple[str, int]], title: str, width: int = 560,
                 color: str = BLUE) -> str:
    """Vertical columns with their value on top; labels under each column."""
    height, base, top = 220, 170, 24
    n = max(len(series), 1)
    slot = (width - 20) / n
    peak = max([v for _l, v in series] + [1])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f'<text x="0" y="14" font-size="13" font-weight="bold">{escape(title)}</text>',
             f'<line x1="10" x2="{width - 10}" y1="{base}" y2="{base}" stroke="{GREY}"/>']
    for i, (label, value) in enumerate(series):
        h = (base - top - 14) * value / peak
        w = min(slot * 0.6, 80.0)
        x = 10 + i * slot + (slot - w) / 2
        parts.append(f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{w:.1f}" height="{h:.1f}" '
                     f'fill="{color}"/>')
        parts.append(f'<text x="{x + w / 2:.1f}" y="{base - h - 4:.1f}" font-size="12" '
                     f'text-anchor="middle">{value}</text>')
        parts.append(f'<text x="{x + w / 2:.1f}" y="{base + 16}" font-size="11" '
                     f'text-anchor="middle">{escape(label[:18])}</text>')
    parts.append("</svg>")
    return "".join(parts)
