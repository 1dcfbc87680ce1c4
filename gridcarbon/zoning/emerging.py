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

import numpy as np

from gridcarbon.errors import InputDataError
from gridcarbon.kernels.trend import (
    classify_emerging_codes,
    mann_kendall_columns,
    mann_kendall_one,
)

__all__ = [
    "mann_kendall",
    "mann_kendall_many",
    "classify_emerging",
    "MIN_BINS",
]

#: Fewest time bins of an emerging-hotspot analysis (as ArcGIS).
MIN_BINS = 10


def mann_kendall(x: np.ndarray) -> dict[str, float]:
    """Mann–Kendall test of one series (as ``pymannkendall.original_test``).

    Returns S, var_s, z, Tau and the two-sided p.
    """
    x = np.asarray(x, np.float64)
    if x.ndim != 1 or x.size < 3:
        raise InputDataError(f"Mann–Kendall needs a 1-D series of at least 3 values, got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise InputDataError("Mann–Kendall series holds NaN")
    s, var, z, tau, p = mann_kendall_one(x)
    return {"s": s, "var_s": var, "z": z, "Tau": tau, "p": p}


def mann_kendall_many(series: np.ndarray) -> dict[str, np.ndarray]:
    """Mann–Kendall for each column of ``series`` (bins × locations); NaN columns give NaN."""
    series = np.ascontiguousarray(series, np.float64)
    if series.ndim != 2:
        raise InputDataError("series must be (bins, locations)")
    out = np.empty((5, series.shape[1]))
    mann_kendall_columns(series, out)
    return {"s": out[0], "var_s": out[1], "z": out[2], "Tau": out[3], "p": out[4]}


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
    (codes int8 of shape ``z.shape[1:]``, indexing :data:`gridcarbon.contracts.EMERGING_CATEGORIES`; the
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
    classify_emerging_codes(
        np.ascontiguousarray(np.asarray(bins).reshape(n, -1), dtype=np.int8),
        mk["z"],
        mk["p"],
        int(min_bin),
        float(alpha),
        out,
    )
    return out.reshape(shape), {k: v.reshape(shape) for k, v in mk.items()}
