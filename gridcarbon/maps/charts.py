"""Small inline SVG line charts for popups (no JavaScript, no external library).

Charts are built in Python as SVG strings, every text escaped, coordinates rounded to whole
pixels so that thousands of them stay small in the HTML.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np

from gridcarbon.maps.scales import fmt

__all__ = ["line_chart_svg", "PALETTE"]

#: Colours of chart lines: observed, prior, posterior (Okabe–Ito, colour-blind safe).
PALETTE = {"observed": "#000000", "prior": "#E69F00", "posterior": "#0072B2"}


def line_chart_svg(
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float], str]],
    title: str = "",
    units: str = "",
    width: int = 240,
    height: int = 96,
    tick_every: int = 6,
) -> str:
    """An SVG line chart.

    Parameters
    ----------
    x_labels : sequence of str
        One label per point (every ``tick_every``-th is written under the axis).
    series : sequence of (name, values, colour)
        Lines; NaN values break a line.
    title, units : str
        Written above the plot (escaped).
    """
    e = html.escape
    left, right, top, bottom = 34, 6, 14, 16
    pw, ph = width - left - right, height - top - bottom
    n = len(x_labels)
    allv = np.concatenate([np.asarray(v, dtype=float) for _, v, _ in series]) if series else []
    allv = np.asarray(allv, dtype=float)
    allv = allv[np.isfinite(allv)]
    if allv.size == 0:
        lo, hi = 0.0, 1.0
    else:
        lo, hi = float(allv.min()), float(allv.max())
        if hi == lo:
            lo, hi = lo - (abs(lo) or 1) * 0.05, hi + (abs(hi) or 1) * 0.05

    def px(i: int) -> int:
        return left + (round(i * pw / (n - 1)) if n > 1 else pw // 2)

    def py(v: float) -> int:
        return top + round((hi - v) / (hi - lo) * ph)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'class="gc-chart" font-size="9" font-family="sans-serif">',
        f'<text x="{left}" y="10">{e(title)}{(" (" + e(units) + ")") if units else ""}</text>',
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#bbb"/>',
        f'<text x="{left - 2}" y="{top + 7}" text-anchor="end">{e(fmt(hi))}</text>',
        f'<text x="{left - 2}" y="{top + ph}" text-anchor="end">{e(fmt(lo))}</text>',
    ]
    for i in range(0, n, max(1, tick_every)):
        parts.append(
            f'<text x="{px(i)}" y="{height - 4}" text-anchor="middle">{e(str(x_labels[i]))}</text>'
        )
    for name, values, colour in series:
        v = np.asarray(values, dtype=float)
        segs, cur = [], []
        for i, val in enumerate(v):
            if np.isfinite(val):
                cur.append(f"{px(i)},{py(val)}")
            elif cur:
                segs.append(cur)
                cur = []
        if cur:
            segs.append(cur)
        for seg in segs:
            if len(seg) == 1:
                x, y = seg[0].split(",")
                parts.append(f'<circle cx="{x}" cy="{y}" r="1.5" fill="{e(colour)}"/>')
            else:
                parts.append(
                    f'<polyline fill="none" stroke="{e(colour)}" stroke-width="1.3" '
                    f'points="{" ".join(seg)}"><title>{e(name)}</title></polyline>'
                )
    parts.append("</svg>")
    return "".join(parts)
