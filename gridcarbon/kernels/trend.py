"""Mann–Kendall trend tests and the emerging-hotspot categories, over plain arrays."""

from __future__ import annotations

import math

import numba as nb
import numpy as np

__all__ = [
    "mann_kendall_one",
    "mann_kendall_columns",
    "classify_emerging_codes",
    "hamed_rao_statistics",
]


@nb.njit(cache=True)
def mann_kendall_one(x):
    """Mann–Kendall test of one series (as ``pymannkendall.original_test``).

    Parameters
    ----------
    x : ndarray ``(n,)`` float64
        The series, finite, n >= 3 (any unit).

    Returns
    -------
    tuple of float
        S, Var(S) with the tie correction, Z (continuity-corrected), Kendall's tau and the
        two-sided p-value; all dimensionless.
    """
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


@nb.njit(parallel=True, cache=True)
def mann_kendall_columns(series, out):
    """:func:`mann_kendall_one` of every column of ``series``.

    Parameters
    ----------
    series : ndarray ``(n, m)`` float64, C-contiguous
        Bins × locations; a column holding NaN gets NaN results.
    out : ndarray ``(5, m)`` float64
        Rows S, Var(S), Z, tau, p per location (overwritten).
    """
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
        s, var, z, tau, p = mann_kendall_one(col)
        out[0, i] = s
        out[1, i] = var
        out[2, i] = z
        out[3, i] = tau
        out[4, i] = p


@nb.njit(parallel=True, cache=True)
def classify_emerging_codes(bins, z_mk, p_mk, min_bin, alpha, out):
    """Emerging-hotspot category code of each location (the rules of
    :mod:`gridcarbon.zoning.emerging`; codes index ``EMERGING_CATEGORIES`` there: 0 no pattern,
    1..8 hot new/consecutive/intensifying/persistent/diminishing/sporadic/oscillating/historical,
    9..16 the same for cold).

    Parameters
    ----------
    bins : ndarray ``(n, m)`` int8, C-contiguous
        BH confidence bins (-3..3), time bins × locations.
    z_mk, p_mk : ndarray ``(m,)`` float64
        Mann–Kendall Z and p of each location's Gi* z series; NaN Z gives code 0.
    min_bin : int
        A bin is a significant hot (cold) spot when ``>= min_bin`` (``<= -min_bin``).
    alpha : float
        Significance level of the Mann–Kendall trend.
    out : ndarray ``(m,)`` int8
        Category codes (overwritten).
    """
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


@nb.njit(cache=True)
def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (1-based) with ties, like scipy.stats.rankdata."""
    n = x.size
    order = np.argsort(x, kind="mergesort")
    r = np.empty(n)
    i = 0
    while i < n:
        j = i
        while j + 1 < n and x[order[j + 1]] == x[order[i]]:
            j += 1
        avg = 0.5 * (i + j) + 1.0
        for k in range(i, j + 1):
            r[order[k]] = avg
        i = j + 1
    return r


@nb.njit(cache=True)
def hamed_rao_statistics(x: np.ndarray, z_crit: float) -> tuple[float, float, float, float, float]:
    """Hamed–Rao (1998) modified Mann–Kendall statistics of one series.

    Parameters
    ----------
    x : ndarray ``(n,)`` float64
        The series without NaN (any unit), n >= 4.
    z_crit : float
        Two-sided normal quantile of the significance level for the lags kept.

    Returns
    -------
    tuple of float
        S, the autocorrelation-corrected Var(S), Z, Kendall's tau and Sen's slope (the
        series' unit per step).
    """
    n = x.size
    s = 0.0
    slopes = np.empty(n * (n - 1) // 2)
    k = 0
    for i in range(n - 1):
        for j in range(i + 1, n):
            d = x[j] - x[i]
            if d > 0:
                s += 1.0
            elif d < 0:
                s -= 1.0
            slopes[k] = d / (j - i)
            k += 1
    sorted_x = np.sort(x)
    ties = 0.0
    i = 0
    while i < n:
        j = i
        while j + 1 < n and sorted_x[j + 1] == sorted_x[i]:
            j += 1
        t = j - i + 1
        ties += t * (t - 1) * (2 * t + 5)
        i = j + 1
    var_s = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    slope = np.median(slopes)
    detrended = np.empty(n)
    for i in range(n):
        detrended[i] = x[i] - (i + 1) * slope
    r = _ranks(detrended)
    r = r - r.mean()
    acov0 = np.sum(r * r) / n
    bound = z_crit / np.sqrt(n)
    sni = 0.0
    if acov0 > 0:
        for lag in range(1, n):
            acf = np.sum(r[: n - lag] * r[lag:]) / n / acov0
            if acf > bound or acf < -bound:
                sni += (n - lag) * (n - lag - 1) * (n - lag - 2) * acf
    var_s *= 1.0 + 2.0 / (n * (n - 1) * (n - 2)) * sni
    if s > 0:
        z = (s - 1.0) / np.sqrt(var_s)
    elif s < 0:
        z = (s + 1.0) / np.sqrt(var_s)
    else:
        z = 0.0
    tau = s / (0.5 * n * (n - 1))
    return s, var_s, z, tau, slope
