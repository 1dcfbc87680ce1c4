"""Emerging-hotspot analysis as ArcGIS defines it: Mann–Kendall trends of each cell's Gi* z-score
series over time bins, and the 17 pattern categories.

This is a **within-period trend**: over the days of the period analysed, not a multi-year trend.

A bin of a cell is a significant hot (cold) spot when its BH bin is ``≥ min_bin`` (``≤ -min_bin``).
With ``n`` bins, ``H`` the hot bins, ``C`` the cold bins, the trend significant when the
Mann–Kendall p < ``alpha`` (direction from the sign of S), categories are tested in this order
(the cold ones mirror the hot ones with hot ↔ cold and the trend reversed):

=================  ====================================================================
new                last bin hot; no earlier bin significant (hot or cold)
consecutive        last bin hot; the final run of hot bins is ≥ 2 long; no significant bin
                   before that run; fewer than 90 % of bins hot
intensifying       ≥ 90 % of bins hot, last bin hot, significant upward trend
persistent         ≥ 90 % of bins hot, last bin hot, no significant trend
diminishing        ≥ 90 % of bins hot, last bin hot, significant downward trend
sporadic           last bin hot; < 90 % hot; never cold; (not new, not consecutive)
oscillating        last bin hot; < 90 % hot; at least one earlier bin cold
historical         last bin not hot; ≥ 90 % of bins hot
no pattern         none of the above
=================  ====================================================================

("Intensifying" with ≥ 90 % hot but a significant *downward* trend of z is "diminishing"; a
location ≥ 90 % hot whose last bin is not hot is "historical", so persistent requires the last bin
hot — this makes the categories mutually exclusive.)  Fewer than 10 bins raise an error, as in
ArcGIS.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from gridcarbon.errors import InputDataError

__all__ = [
    "mann_kendall",
    "mann_kendall_many",
    "classify_emerging",
    "EMERGING_CATEGORIES",
    "MIN_BINS",
]

MIN_BINS = 10

#: Code → name of the 17 emerging-hotspot categories.
EMERGING_CATEGORIES: tuple[str, ...] = (
    "no pattern detected",
    "new hot spot",
    "consecutive hot spot",
    "intensifying hot spot",
    "persistent hot spot",
    "diminishing hot spot",
    "sporadic hot spot",
    "oscillating hot spot",
    "historical hot spot",
    "new cold spot",
    "consecutive cold spot",
    "intensifying cold spot",
    "persistent cold spot",
    "diminishing cold spot",
    "sporadic cold spot",
    "oscillating cold spot",
    "historical cold spot",
)


@nb.njit(cache=True)
def _mk_one(x):
    """Mann–Kendall S, Var(S) with tie correction, Z (continuity-corrected), tau, p."""
    n = x.size
    s = 0.0
    for k in range(n - 1):
        for j in range(k + 1, n):
            d = x[j] - x[k]
            if d > 0:
                s += 1.0
            elif d < 0:
                s -= 1.0
    xs = np.sort(x)
    ties = 0.0
    run = 1
    for i in range(1, n + 1):
        if i < n and xs[i] == xs[i - 1]:
            run += 1
        else:
            if run > 1:
                ties += run * (run - 1) * (2 * run + 5)
            run = 1
    var = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    if s > 0:
        z = (s - 1) / math.sqrt(var)
    elif s < 0:
        z = (s + 1) / math.sqrt(var)
    else:
        z = 0.0
    tau = s / (0.5 * n * (n - 1))
    p = math.erfc(abs(z) / math.sqrt(2.0))
    return s, var, z, tau, p


def mann_kendall(x: np.ndarray) -> dict[str, float]:
    """Mann–Kendall test of one series (as ``pymannkendall.original_test``).

    Returns S, var_s, z, Tau and the two-sided p.
    """
    x = np.asarray(x, np.float64)
    if x.ndim != 1 or x.size < 3:
        raise InputDataError(f"Mann–Kendall needs a 1-D series of at least 3 values, got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise InputDataError("Mann–Kendall series holds NaN")
    s, var, z, tau, p = _mk_one(x)
    return {"s": s, "var_s": var, "z": z, "Tau": tau, "p": p}


@nb.njit(parallel=True, cache=True)
def _mk_many(series, out):
    n, m = series.shape
    for i in nb.prange(m):
        col = np.empty(n)
        ok = True
        for t in range(n):
            col[t] = series[t, i]
            if col[t] != col[t]:
                ok = False
        if not ok:
            for k in range(5):
                out[k, i] = np.nan
            continue
        s, var, z, tau, p = _mk_one(col)
        out[0, i] = s
        out[1, i] = var
        out[2, i] = z
        out[3, i] = tau
        out[4, i] = p


def mann_kendall_many(series: np.ndarray) -> dict[str, np.ndarray]:
    """Mann–Kendall for each column of ``series`` (bins × locations); NaN columns give NaN."""
    series = np.ascontiguousarray(series, np.float64)
    if series.ndim != 2:
        raise InputDataError("series must be (bins, locations)")
    out = np.empty((5, series.shape[1]))
    _mk_many(series, out)
    return {"s": out[0], "var_s": out[1], "z": out[2], "Tau": out[3], "p": out[4]}


@nb.njit(parallel=True, cache=True)
def _classify(bins, z_mk, p_mk, min_bin, alpha, out):
    n, m = bins.shape
    for i in nb.prange(m):
        out[i] = 0
        if z_mk[i] != z_mk[i]:
            continue
        for side in range(2):  # 0: hot, 1: cold
            sgn = 1 if side == 0 else -1
            base = 0 if side == 0 else 8
            n_hot = 0
            n_cold = 0
            for t in range(n):
                b = bins[t, i] * sgn
                if b >= min_bin:
                    n_hot += 1
                elif b <= -min_bin:
                    n_cold += 1
            last_hot = bins[n - 1, i] * sgn >= min_bin
            frac = n_hot / n
            trend_sig = p_mk[i] < alpha
            trend_up = z_mk[i] * sgn > 0
            if not last_hot:
                if frac >= 0.9:
                    out[i] = base + 8  # historical
                    break
                continue
            # final run of hot bins
            run = 0
            for t in range(n - 1, -1, -1):
                if bins[t, i] * sgn >= min_bin:
                    run += 1
                else:
                    break
            sig_before_run = False
            for t in range(n - run):
                if bins[t, i] * sgn >= min_bin or bins[t, i] * sgn <= -min_bin:
                    sig_before_run = True
                    break
            if n_hot == 1 and not sig_before_run:
                out[i] = base + 1  # new
            elif run >= 2 and not sig_before_run and frac < 0.9:
                out[i] = base + 2  # consecutive
            elif frac >= 0.9:
                if trend_sig and trend_up:
                    out[i] = base + 3  # intensifying
                elif trend_sig and not trend_up:
                    out[i] = base + 5  # diminishing
                else:
                    out[i] = base + 4  # persistent
            elif n_cold > 0:
                out[i] = base + 7  # oscillating
            else:
                out[i] = base + 6  # sporadic
            break


def classify_emerging(
    z: np.ndarray, bins: np.ndarray, alpha: float = 0.05, min_bin: int = 2
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Emerging-hotspot category of each location.

    Parameters
    ----------
    z : (n_bins, ...) Gi* z-scores per time bin (NaN outside the region)
    bins : (n_bins, ...) BH confidence bins (−3..3) of the same
    alpha : significance of the Mann–Kendall trend
    min_bin : a bin is a significant hot spot when ``bins ≥ min_bin``

    Returns
    -------
    (codes int8 of shape ``z.shape[1:]``, indexing :data:`EMERGING_CATEGORIES`; the
    Mann–Kendall results per location)
    """
    z = np.asarray(z)
    if z.shape != np.shape(bins):
        raise InputDataError(f"z {z.shape} and bins {np.shape(bins)} differ in shape")
    n = z.shape[0]
    if n < MIN_BINS:
        raise InputDataError(
            f"emerging-hotspot analysis needs at least {MIN_BINS} time bins, got {n}: "
            "analyse a longer period (at least 10 days for daily bins)"
        )
    shape = z.shape[1:]
    zz = z.reshape(n, -1)
    mk = mann_kendall_many(zz)
    out = np.zeros(zz.shape[1], np.int8)
    _classify(
        np.ascontiguousarray(np.asarray(bins).reshape(n, -1), dtype=np.int8),
        mk["z"],
        mk["p"],
        int(min_bin),
        float(alpha),
        out,
    )
    return out.reshape(shape), {k: v.reshape(shape) for k, v in mk.items()}
