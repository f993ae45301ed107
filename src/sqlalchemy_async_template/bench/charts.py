"""The benchmark's pictures, as plain SVG text (no plotting library to install).

Two kinds: grouped bars (a value per driver, for one or more series, with a reference line
such as "as fast as the raw driver") and lines on a logarithmic x axis (a value by depth, one
line per series).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

WIDTH, HEIGHT = 780, 360
LEFT, RIGHT, TOP, BOTTOM = 70, 210, 40, 50
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
FONT = 'font-family="sans-serif" font-size="12"'


def _svg(title: str, body: list[str]) -> str:
    lines = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="22" text-anchor="middle" {FONT} font-weight="bold">'
        f"{escape(title)}</text>",
        *body,
        "</svg>",
    ]
    return "\n".join(lines) + "\n"


def _plot_box() -> tuple[float, float, float, float]:
    return LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM


def _nice_top(value: float) -> float:
    """A round top for an axis: the smallest 1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of
    ten at or above `value`."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    steps = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
    return next(step * power for step in steps if step * power >= value)


def _y_axis(top_value: float, label: str) -> list[str]:
    left, top, right, bottom = _plot_box()
    parts = [f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="black"/>']
    for tick in range(6):
        value = top_value * tick / 5
        y = bottom - (bottom - top) * tick / 5
        parts.append(f'<line x1="{left}" y1="{y}" x2="{right}" y2="{y}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4}" text-anchor="end" {FONT}>{value:g}</text>')
    parts.append(
        f'<text x="16" y="{(top + bottom) / 2}" {FONT} text-anchor="middle" '
        f'transform="rotate(-90 16 {(top + bottom) / 2})">{escape(label)}</text>'
    )
    return parts


def _style(index: int, *, paired: bool) -> tuple[str, str]:
    """The colour and dash pattern of series `index`; paired series share a colour, the
    second of each pair dashed."""
    colour = PALETTE[(index // 2 if paired else index) % len(PALETTE)]
    return colour, (' stroke-dasharray="5 3"' if paired and index % 2 else "")


def _legend(names: Sequence[str], *, lines: bool = False, paired: bool = False) -> list[str]:
    _, top, right, _ = _plot_box()
    parts = []
    for index, name in enumerate(names):
        y = top + 18 * index
        colour, dash = _style(index, paired=paired)
        if lines:
            parts.append(
                f'<line x1="{right + 14}" y1="{y + 6}" x2="{right + 40}" y2="{y + 6}" '
                f'stroke="{colour}" stroke-width="2"{dash}/>'
            )
        else:
            parts.append(f'<rect x="{right + 16}" y="{y}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{right + 46}" y="{y + 10}" {FONT}>{escape(name)}</text>')
    return parts


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    y_label: str,
    reference: tuple[float, str] | None = None,
) -> str:
    """Grouped bars: for each category, one bar per series; an optional reference line."""
    left, top, right, bottom = _plot_box()
    every_value = [value for values in series.values() for value in values]
    largest = max([*every_value, reference[0] if reference else 0.0])
    top_value = _nice_top(largest)
    body = _y_axis(top_value, y_label)
    group = (right - left) / max(len(categories), 1)
    bar = group * 0.7 / max(len(series), 1)
    for c_index, category in enumerate(categories):
        x0 = left + group * c_index + group * 0.15
        for s_index, values in enumerate(series.values()):
            value = values[c_index]
            height = (bottom - top) * value / top_value
            x = x0 + bar * s_index
            body.append(
                f'<rect x="{x:.1f}" y="{bottom - height:.1f}" width="{bar:.1f}" '
                f'height="{height:.1f}" fill="{PALETTE[s_index % len(PALETTE)]}">'
                f"<title>{escape(category)}: {value:.2f}</title></rect>"
            )
            body.append(
                f'<text x="{x + bar / 2:.1f}" y="{bottom - height - 4:.1f}" '
                f'text-anchor="middle" {FONT}>{value:.2f}</text>'
            )
        body.append(
            f'<text x="{left + group * (c_index + 0.5):.1f}" y="{bottom + 18}" '
            f'text-anchor="middle" {FONT}>{escape(category)}</text>'
        )
    if reference is not None:
        value, label = reference
        y = bottom - (bottom - top) * value / top_value
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="black" '
            'stroke-dasharray="6 4"/>'
        )
        body.append(f'<text x="{right + 4}" y="{y + 4:.1f}" {FONT}>{escape(label)}</text>')
    return _svg(title, body + _legend(list(series)))


def line_chart(
    title: str,
    x_values: Sequence[int],
    series: Mapping[str, Sequence[float]],
    *,
    x_label: str,
    y_label: str,
    paired: bool = False,
) -> str:
    """One line per series over `x_values`, spaced evenly whatever their values. `paired`:
    series come in pairs (say keyset and OFFSET of one driver), drawn in one colour, the
    second of each pair dashed."""
    left, top, right, bottom = _plot_box()
    top_value = _nice_top(max(v for values in series.values() for v in values))
    body = _y_axis(top_value, y_label)
    body.append(f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="black"/>')

    def x_of(index: int) -> float:
        return left + 30 + (right - left - 60) * index / max(len(x_values) - 1, 1)

    for index, x in enumerate(x_values):
        body.append(
            f'<text x="{x_of(index):.1f}" y="{bottom + 18}" text-anchor="middle" {FONT}>'
            f"{x:,}</text>"
        )
    body.append(
        f'<text x="{(left + right) / 2}" y="{bottom + 38}" text-anchor="middle" {FONT}>'
        f"{escape(x_label)}</text>"
    )
    for s_index, values in enumerate(series.values()):
        colour, dash = _style(s_index, paired=paired)
        points = " ".join(
            f"{x_of(i):.1f},{bottom - (bottom - top) * value / top_value:.1f}"
            for i, value in enumerate(values)
        )
        body.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>'
        )
    return _svg(title, body + _legend(list(series), lines=True, paired=paired))
