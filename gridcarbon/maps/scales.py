"""Classed colour scales: class breaks, colours, classification and legend data.

Every coloured layer of the map (rasters, units, the time slider) uses a :class:`ClassScale`: a
list of class breaks and one colour per class, so that the legend shows exactly the classes drawn.

* sequential scales (emissions, unit metrics): colours run from light to dark as the value rises
  (CIE L* falls class by class, so the lowest classes are the least salient; a colormap that
  runs dark to light is reversed); linear "nice" breaks, or 1–2–5 log breaks where the data span
  decades;
* diverging scales (posterior − prior): centred on zero, symmetric, red = increase;
* the uncertainty reduction 1 − σ_post/σ_prior: fixed breaks 0, 0.1, …, 1, light to dark.

Every number of a legend is written by :func:`fmt`: thousands separators, three significant
figures, no exponent and no SI prefix; the unit is named once, in the section's ``units``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import branca.colormap as bcm
import numpy as np

from gridcarbon.errors import ConfigError

__all__ = [
    "ClassScale",
    "sequential_scale",
    "diverging_scale",
    "fixed_scale",
    "colors_from",
    "light_to_dark",
    "fmt",
    "lightness",
    "legend_section",
    "categorical_legend_section",
]

#: Class index meaning "no data / transparent".
NODATA = 255


def fmt(v: float, sig: int = 3) -> str:
    """A number as legends write it: ``sig`` significant figures, thousands separators, no
    exponent, no SI prefix, no trailing zeros (``3e8`` → ``"300,000,000"``, ``0.0001234`` →
    ``"0.000123"``); NaN and infinity → ``"–"``."""
    if v is None or not np.isfinite(v):
        return "–"
    if v == 0:
        return "0"
    shift = sig - 1 - int(math.floor(math.log10(abs(v))))
    v = round(v, shift)
    s = f"{v:,.{max(0, shift)}f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def lightness(color: str) -> float:
    """CIE L* (0 = black, 100 = white; D65) of an sRGB ``#rrggbb`` colour."""
    rgb = np.array([int(color[k : k + 2], 16) for k in (1, 3, 5)], dtype=float) / 255.0
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    y = float(linear @ np.array([0.2126, 0.7152, 0.0722]))  # relative luminance
    f = y ** (1 / 3) if y > (6 / 29) ** 3 else y / (3 * (6 / 29) ** 2) + 4 / 29
    return 116.0 * f - 16.0


def colors_from(name: str, n: int, reverse: bool = False) -> list[str]:
    """``n`` hex colours sampled at class centres of the branca linear colormap ``name``."""
    try:
        cmap = getattr(bcm.linear, name)
    except AttributeError:
        raise ConfigError(
            f"unknown colormap {name!r}; use a branca linear colormap such as 'YlOrRd_09', "
            "'YlGnBu_09', 'viridis' or 'RdBu_11'"
        ) from None
    cmap = cmap.scale(0.0, 1.0)
    pos = (np.arange(n) + 0.5) / n
    if reverse:
        pos = pos[::-1]
    return [cmap.rgb_hex_str(float(p)) for p in pos]


def light_to_dark(name: str, n: int) -> list[str]:
    """``n`` colours of the colormap ``name`` ordered from light to dark (the colormap's ends
    compared by CIE L*), for classes whose value rises."""
    ends = colors_from(name, 2)
    return colors_from(name, n, reverse=lightness(ends[0]) < lightness(ends[1]))


@dataclass(frozen=True)
class ClassScale:
    """Class breaks and colours.

    ``breaks`` has ``len(colors) + 1`` increasing values; class ``i`` is
    ``breaks[i] <= v < breaks[i+1]``.  With ``open_low``/``open_high`` the first/last class also
    takes everything below/above (their legend labels read "< b1" / "≥ bn").
    """

    breaks: tuple[float, ...]
    colors: tuple[str, ...]
    title: str
    units: str = ""
    log: bool = False
    open_low: bool = True
    open_high: bool = True
    note: str = ""
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if len(self.breaks) != len(self.colors) + 1:
            raise ValueError("a ClassScale needs one more break than colours")
        if np.any(np.diff(self.breaks) <= 0):
            raise ValueError(f"class breaks must increase: {self.breaks}")

    @property
    def n(self) -> int:
        """Number of classes."""
        return len(self.colors)

    def classify(self, values: np.ndarray) -> np.ndarray:
        """Class index of each value (uint8); NaN and values outside closed ends → :data:`NODATA`."""
        v = np.asarray(values, dtype=float)
        b = np.asarray(self.breaks, dtype=float)
        idx = np.searchsorted(b, v, side="right") - 1
        low = v < b[0]
        high = v >= b[-1]
        idx = np.where(low, 0 if self.open_low else -1, idx)
        idx = np.where(high, self.n - 1 if self.open_high else -1, idx)
        # the top break itself belongs to the last class even when the top is closed
        idx = np.where(v == b[-1], self.n - 1, idx)
        idx = np.where(np.isfinite(v), idx, -1)
        return np.where(idx < 0, NODATA, idx).astype(np.uint8)

    def rgba_table(self, alpha: int = 255) -> np.ndarray:
        """``(256, 4)`` uint8 lookup table from class index to RGBA (NODATA → transparent)."""
        lut = np.zeros((256, 4), dtype=np.uint8)
        for i, c in enumerate(self.colors):
            lut[i, :3] = [int(c[k : k + 2], 16) for k in (1, 3, 5)]
            lut[i, 3] = alpha
        return lut

    def labels(self) -> list[str]:
        """Legend label of every class."""
        out = []
        b = self.breaks
        for i in range(self.n):
            if i == 0 and self.open_low and self.n > 1:
                out.append(f"< {fmt(b[1])}")
            elif i == self.n - 1 and self.open_high and self.n > 1:
                out.append(f"≥ {fmt(b[i])}")
            else:
                out.append(f"{fmt(b[i])} – {fmt(b[i + 1])}")
        return out


def _nice(x: float, up: bool = True) -> float:
    """A 1–2–2.5–5 × 10^k number near ``x`` (≥ x when ``up``)."""
    if x <= 0 or not np.isfinite(x):
        return 1.0
    e = math.floor(math.log10(x))
    for m in (1, 2, 2.5, 5, 10) if up else (10, 5, 2.5, 2, 1):
        c = m * 10.0**e
        if (up and c >= x * (1 - 1e-9)) or (not up and c <= x * (1 + 1e-9)):
            return c
    return 10.0 ** (e + 1) if up else 10.0**e


def _log_breaks(lo: float, hi: float, max_classes: int = 12) -> list[float]:
    """1–2–5 (or coarser) breaks from ≤ ``lo`` to ≥ ``hi`` (both > 0)."""
    for mant in ((1, 2, 5), (1, 3), (1,)):
        e0 = math.floor(math.log10(lo))
        e1 = math.ceil(math.log10(hi))
        cand = [m * 10.0**e for e in range(e0, e1 + 1) for m in mant]
        below = [c for c in cand if c <= lo * (1 + 1e-12)]
        start = below[-1] if below else cand[0]
        above = [c for c in cand if c >= hi * (1 - 1e-12)]
        stop = above[0] if above else cand[-1]
        br = [c for c in cand if start <= c <= stop]
        if len(br) - 1 <= max_classes:
            return br
    step = max(1, math.ceil((e1 - e0) / max_classes))
    return [10.0**e for e in range(e0, e1 + step, step)]


def sequential_scale(
    values: np.ndarray,
    title: str,
    units: str,
    colormap: str = "viridis",
    n_classes: int = 8,
    log: str = "auto",
    log_min_decades: float = 2.0,
    max_decades: float = 5.0,
) -> ClassScale:
    """Sequential classes for non-negative data (emissions, unit metrics).

    Zeros and NaN do not shape the breaks.  With ``log='auto'`` the positive values whose
    2nd–99.5th percentiles span at least ``log_min_decades`` decades get 1–2–5 log breaks
    (lowest class open below; at most ``max_decades`` decades below the top, so that numerical
    dust does not stretch the scale); otherwise ``n_classes`` linear classes of a nice step from 0 to the
    99.5th percentile, the last class open above.
    """
    v = np.asarray(values, dtype=float).ravel()
    pos = v[np.isfinite(v) & (v > 0)]
    if pos.size == 0:
        br = [0.0, 1.0]
        return ClassScale(
            tuple(br), tuple(light_to_dark(colormap, 1)), title, units, note="no positive values"
        )
    lo, hi = np.percentile(pos, [2.0, 99.5])
    hi = max(hi, lo * (1 + 1e-6), np.finfo(float).tiny)
    lo = max(lo, hi * 10.0**-max_decades)  # numerical dust must not stretch the scale
    use_log = log == "always" or (
        log == "auto" and lo > 0 and math.log10(hi / lo) >= log_min_decades
    )
    if use_log:
        br = _log_breaks(lo, hi)
        if len(br) < 2:
            br = [br[0], br[0] * 10]
        return ClassScale(
            tuple(br),
            tuple(light_to_dark(colormap, len(br) - 1)),
            title,
            units,
            log=True,
            open_low=True,
            open_high=True,
            note="log classes",
        )
    step = _nice(hi / n_classes)
    k = max(1, math.ceil(hi / step - 1e-9))
    br = [i * step for i in range(k + 1)]
    return ClassScale(
        tuple(br),
        tuple(light_to_dark(colormap, len(br) - 1)),
        title,
        units,
        open_low=True,
        open_high=True,
    )


def diverging_scale(
    values: np.ndarray,
    title: str,
    units: str,
    colormap: str = "RdBu_11",
    log: str = "auto",
    log_min_decades: float = 2.0,
) -> ClassScale:
    """Diverging classes centred on zero (blue = decrease, red = increase).

    A centre class ``[-t, t)`` holds "no change"; the classes either side are symmetric: linear
    (5 a side, nice step from the 99th percentile of ``|v|``) or, where ``|v|`` spans decades,
    1–2–5 log magnitudes mirrored around the centre class.
    """
    v = np.asarray(values, dtype=float).ravel()
    a = np.abs(v[np.isfinite(v) & (v != 0)])
    if a.size == 0:
        br = (-1.0, 1.0)
        return ClassScale(
            br, tuple(colors_from(colormap, 1)[:1]), title, units, note="no change anywhere"
        )
    lo, hi = np.percentile(a, [5.0, 99.0])
    hi = max(hi, np.finfo(float).tiny)
    use_log = log == "always" or (
        log == "auto" and lo > 0 and math.log10(hi / lo) >= log_min_decades
    )
    if use_log:
        mags = _log_breaks(max(lo, hi / 1e4), hi, max_classes=6)
    else:
        step = _nice(hi / 5.5)
        mags = [step * (i + 0.5) for i in range(6)]
        while mags[-1] < hi and len(mags) < 12:
            mags.append(mags[-1] + step)
    br = [-m for m in mags[::-1]] + mags
    n = len(br) - 1
    colors = _diverging_colors(colormap, n)
    return ClassScale(
        tuple(br),
        tuple(colors),
        title,
        units,
        log=use_log,
        note="centred on zero" + (", log classes" if use_log else ""),
    )


def _diverging_colors(colormap: str, n: int) -> list[str]:
    # reversed so that the low end is blue (decrease) and the high end red (increase)
    return colors_from(colormap, n, reverse=True)


def fixed_scale(
    breaks: list[float],
    title: str,
    units: str,
    colormap: str,
    open_low: bool = True,
    open_high: bool = False,
    note: str = "",
) -> ClassScale:
    """A scale with given breaks (e.g. 0, 0.1, …, 1 for the uncertainty reduction), coloured
    light to dark."""
    return ClassScale(
        tuple(float(b) for b in breaks),
        tuple(light_to_dark(colormap, len(breaks) - 1)),
        title,
        units,
        open_low=open_low,
        open_high=open_high,
        note=note,
    )


def legend_section(
    scale: ClassScale, subtitle: str = "", extra: list[tuple[str, str]] = ()
) -> dict[str, Any]:
    """A legend section (plain data, drawn as text in the browser): title, units, one swatch per
    class with its break labels, highest class first.

    ``extra`` rows ``(colour, label)`` follow the classes (e.g. a swatch for zero).
    """
    rows = [
        {"color": c, "label": lab}
        for c, lab in zip(reversed(scale.colors), reversed(scale.labels()), strict=True)
    ]
    rows += [{"color": c, "label": lab} for c, lab in extra]
    return {
        "title": scale.title,
        "subtitle": subtitle,
        "units": scale.units,
        "rows": rows,
        "note": scale.note,
    }


def categorical_legend_section(
    title: str, items: list[tuple[str, str]], shape: str = "box"
) -> dict[str, Any]:
    """A legend section of categories: ``items`` = [(colour, label)]; ``shape`` 'box' or 'dot'."""
    return {
        "title": title,
        "rows": [{"color": c, "label": lab, "shape": shape} for c, lab in items],
    }
