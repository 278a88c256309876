"""Charts drawn on the server as SVG: no script, no CDN, crisp on a tablet. Each chart
is shown with its numbers as a table too (the table is the accessible version)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

from markupsafe import Markup

from ..i18n.formatting import number

PALETTE = ("#2f6f9f", "#3f9c5a", "#c8553d", "#8d6cab", "#d4a017", "#5b8e7d", "#7f7f7f")


def _e(value: Any) -> str:
    return escape(str(value), {'"': "&quot;"})


def _number(value: float) -> str:
    return number(value, 1, trailing_zeros=False)


def _legend(series: Sequence[Any], y: float, x0: float = 8) -> list[str]:
    parts, x = [], x0
    for index, name in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="{y}" font-size="11">{_e(name)}</text>')
        x += 24 + 7 * len(str(name))
    return parts


LABEL_CHARACTERS = 30  # what fits left of the bars at this font size


def _label_lines(label: str) -> list[str]:
    """A row label on one line, or two split at a space ("Anak yang Menjadi Korban Tindak
    Kekerasan"), the second shortened with an ellipsis if it is still too long."""
    if len(label) <= LABEL_CHARACTERS:
        return [label]
    cut = label.rfind(" ", 0, LABEL_CHARACTERS + 1)
    first, rest = (label[:cut], label[cut + 1:]) if cut > 0 else (label[:LABEL_CHARACTERS], label[LABEL_CHARACTERS:])
    if len(rest) > LABEL_CHARACTERS:
        rest = rest[:LABEL_CHARACTERS - 1] + "…"
    return [first, rest]


def bars(title: Any, rows: Sequence[tuple[Any, Sequence[float]]], series: Sequence[Any],
         *, stacked: bool = False, width: int = 640) -> Markup:
    """Horizontal bars, one group per row (side by side, or stacked)."""
    label_width, bar_height, gap = 190, 14, 10
    per_row = bar_height if stacked else bar_height * max(1, len(series))
    height = 34 + len(rows) * (per_row + gap) + 10
    totals = [sum(values) if stacked else max(values or [0]) for _, values in rows]
    top = max(totals + [1])
    scale = (width - label_width - 70) / top
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
             f'role="img" aria-label="{_e(title)}" font-family="sans-serif">', f"<title>{_e(title)}</title>"]
    if len(series) > 1:
        parts.extend(_legend(series, 14))
    y = 30
    for label, values in rows:
        lines = _label_lines(str(label))
        middle = y + per_row / 2 + 4 - 6 * (len(lines) - 1)
        for line_number, line in enumerate(lines):
            parts.append(f'<text x="{label_width - 6}" y="{middle + 12 * line_number:.0f}" font-size="11" '
                         f'text-anchor="end">{_e(line)}</text>')
        x = label_width
        for index, value in enumerate(values):
            length = max(0.0, value * scale)
            colour = PALETTE[index % len(PALETTE)]
            by = y if stacked else y + index * bar_height
            bx = x if stacked else label_width
            parts.append(f'<rect x="{bx:.1f}" y="{by}" width="{length:.1f}" height="{bar_height - 2}" '
                         f'fill="{colour}"><title>{_e(label)}: {_number(value)}</title></rect>')
            if not stacked:
                parts.append(f'<text x="{bx + length + 4:.1f}" y="{by + bar_height - 4}" '
                             f'font-size="10">{_number(value)}</text>')
            x += length
        if stacked:
            parts.append(f'<text x="{x + 4:.1f}" y="{y + bar_height - 4}" font-size="10">'
                         f'{_number(sum(values))}</text>')
        y += per_row + gap
    parts.append("</svg>")
    return Markup("".join(parts))


def columns(title: Any, labels: Sequence[str], series: dict[Any, Sequence[float]], *,
            width: int = 640, height: int = 240) -> Markup:
    """Vertical columns per period (months), series side by side."""
    left, bottom, top_margin = 40, 30, 28
    names = list(series)
    count = max(1, len(labels))
    slot = (width - left - 10) / count
    bar = max(2.0, (slot - 6) / max(1, len(names)))
    top = max([v for values in series.values() for v in values] + [1])
    plot = height - bottom - top_margin
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
             f'role="img" aria-label="{_e(title)}" font-family="sans-serif">', f"<title>{_e(title)}</title>"]
    parts.extend(_legend(names, 14))
    parts.append(f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="#999"/>')
    parts.append(f'<text x="{left - 4}" y="{top_margin + 8}" font-size="10" text-anchor="end">{_number(top)}</text>')
    for i, label in enumerate(labels):
        x0 = left + i * slot + 3
        for j, name in enumerate(names):
            value = series[name][i]
            h = plot * value / top
            parts.append(f'<rect x="{x0 + j * bar:.1f}" y="{height - bottom - h:.1f}" width="{bar - 1:.1f}" '
                         f'height="{h:.1f}" fill="{PALETTE[j % len(PALETTE)]}"><title>{_e(label)} · '
                         f'{_e(name)}: {_number(value)}</title></rect>')
        parts.append(f'<text x="{x0 + slot / 2 - 3:.1f}" y="{height - bottom + 14}" font-size="9" '
                     f'text-anchor="middle">{_e(label.split(" ")[0] if len(labels) > 12 else label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
