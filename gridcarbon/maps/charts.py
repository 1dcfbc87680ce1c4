"""Small line charts for popups, as data: the browser draws them as SVG (``gc.chart``).

A chart is a plain dict of text and numbers, embedded as JSON and drawn with ``textContent``,
so that a station or variable name in its title stays text.  Numbers are cut to 3 significant
digits to keep the HTML small.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["chart_spec", "PALETTE", "sig3"]

#: Colours of chart lines: observed, prior, posterior (Okabe–Ito, colour-blind safe).
PALETTE = {"observed": "#000000", "prior": "#E69F00", "posterior": "#0072B2"}


def sig3(v: float) -> float | None:
    """``v`` to 3 significant digits (None for NaN or infinity)."""
    if not np.isfinite(v):
        return None
    return float(f"{v:.3g}")


def chart_spec(
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float], str]],
    title: str = "",
    units: str = "",
    width: int = 240,
    tick_every: int = 6,
) -> dict[str, Any]:
    """A line chart for the browser to draw.

    Parameters
    ----------
    x_labels : sequence of str
        One label per point (every ``tick_every``-th is written under the axis).
    series : sequence of (name, values, colour)
        Lines; NaN values break a line.
    title, units : str
        Written above the plot, as text.
    width : int
        Width in pixels (the height is 96 px).
    tick_every : int
        Label every this many points.
    """
    return {
        "title": str(title),
        "units": str(units),
        "labels": [str(x) for x in x_labels],
        "every": max(1, int(tick_every)),
        "width": int(width),
        "series": [
            {
                "name": str(name),
                "color": colour,
                "values": [sig3(v) for v in np.asarray(values, dtype=float)],
            }
            for name, values, colour in series
        ],
    }
