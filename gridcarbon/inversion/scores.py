"""Scores of an inversion against a known truth, and their intervals: pure numpy functions (no
file access, no system objects) used by the OSSE (:mod:`gridcarbon.inversion.osse`) and its
benchmark.

* distances from cells to the nearest station that measures a given species (species-specific
  "near" masks) and masks of distance bands;
* the RMSE reduction of totals (kg, which weights cells by their emission squared) and of
  unweighted per-cell factors (``total / prior``, every cell counts alike);
* coverage counts of k-σ intervals, the calibration RMS of error/σ, and the innovation χ² of
  groups of observations;
* the percentile bootstrap over replicates and the Wilson interval of a proportion.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence

import numpy as np
from scipy.special import ndtri

__all__ = [
    "nearest_distance_km",
    "species_distance_km",
    "band_masks",
    "band_label",
    "rmse",
    "rmse_reduction",
    "factor_rmse_reduction",
    "block_labels",
    "block_rmse_reduction",
    "coverage_count",
    "calibration_rms",
    "innovation_chi2",
    "percentile_bootstrap",
    "wilson_interval",
]


def nearest_distance_km(
    cell_x: np.ndarray, cell_y: np.ndarray, station_x: np.ndarray, station_y: np.ndarray
) -> np.ndarray:
    """Distance (km) from each cell centre to the nearest station; ``inf`` without stations.

    Parameters
    ----------
    cell_x, cell_y : ndarray ``(ncell,)``
        Projected cell-centre coordinates, m.
    station_x, station_y : ndarray ``(nstation,)``
        Projected station coordinates, m.
    """
    cx = np.asarray(cell_x, float).ravel()
    cy = np.asarray(cell_y, float).ravel()
    d2 = np.full(cx.size, np.inf)
    for a, b in zip(np.asarray(station_x, float), np.asarray(station_y, float), strict=True):
        d2 = np.minimum(d2, (cx - a) ** 2 + (cy - b) ** 2)
    return np.sqrt(d2) / 1000.0


def species_distance_km(
    cell_x: np.ndarray,
    cell_y: np.ndarray,
    station_x: np.ndarray,
    station_y: np.ndarray,
    measures: Mapping[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Per species, the distance (km) from each cell centre to the nearest station that
    measures it (``inf`` where none does).

    ``measures[species]`` is a boolean array ``(nstation,)``: which stations measure that
    species (or what it is observed as).  Coordinates as :func:`nearest_distance_km`.
    """
    sx = np.asarray(station_x, float)
    sy = np.asarray(station_y, float)
    out = {}
    for s, m in measures.items():
        m = np.asarray(m, bool)
        if m.shape != sx.shape:
            raise ValueError(f"measures[{s!r}] has shape {m.shape}, the stations {sx.shape}")
        out[s] = nearest_distance_km(cell_x, cell_y, sx[m], sy[m])
    return out


def band_label(lo: float, hi: float | None) -> str:
    """``'0-5km'`` for a band (lo, hi], ``'far'`` beyond the last edge (``hi`` None)."""
    return "far" if hi is None else f"{lo:g}-{hi:g}km"


def band_masks(distance_km: np.ndarray, edges_km: Sequence[float]) -> dict[str, np.ndarray]:
    """Masks of the distance bands ``[0, e1], (e1, e2], …`` and ``far`` (beyond the last edge).

    Parameters
    ----------
    distance_km : ndarray
        Distance of each cell to its nearest station, km.
    edges_km : sequence of float
        Increasing upper edges of the bands, km (e.g. 5, 10, 20, 30).

    Returns
    -------
    dict ``{label: boolean mask}`` in band order, labels from :func:`band_label`.
    """
    d = np.asarray(distance_km, float)
    edges = [float(e) for e in edges_km]
    if not edges or any(b <= a for a, b in zip([0.0, *edges[:-1]], edges, strict=True)):
        raise ValueError(f"band edges {edges_km} must be increasing distances > 0 km")
    out = {}
    lo = 0.0
    for hi in edges:
        out[band_label(lo, hi)] = (d <= hi) & ((d > lo) | (lo == 0.0))
        lo = hi
    out[band_label(lo, None)] = d > lo
    return out


def rmse(estimate: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> float:
    """Root-mean-square error over the cells of ``mask`` (NaN for an empty mask)."""
    m = np.asarray(mask, bool)
    if not m.any():
        return float("nan")
    return float(np.sqrt(np.mean((np.asarray(estimate)[m] - np.asarray(truth)[m]) ** 2)))


def rmse_reduction(
    prior: np.ndarray, posterior: np.ndarray, truth: np.ndarray, mask: np.ndarray
) -> float:
    """``1 − RMSE(posterior) / RMSE(prior)`` of totals over ``mask`` (kg-weighted: a cell
    counts by its error, so large emitters dominate); NaN for an empty mask or a perfect
    prior."""
    e_prior = rmse(prior, truth, mask)
    if not e_prior > 0:
        return float("nan")
    return 1.0 - rmse(posterior, truth, mask) / e_prior


def block_labels(shape: tuple[int, int], cells_per_block: int) -> np.ndarray:
    """The block of each cell of a grid of ``shape`` (rows, columns; cells in row-major order)
    on a lattice of square blocks ``cells_per_block`` cells on a side, from the grid's first
    row and column (the last row and column of blocks may be partial).

    Parameters
    ----------
    shape : tuple of int
        The grid's ``(ny, nx)``.
    cells_per_block : int
        The block's side in cells (≥ 1).

    Returns
    -------
    ndarray ``(ny * nx,)`` of int
        Block number of each cell, row-major over the blocks.
    """
    ny, nx = (int(v) for v in shape)
    k = int(cells_per_block)
    if k < 1:
        raise ValueError(f"cells_per_block {cells_per_block} must be a whole number >= 1")
    row, col = np.divmod(np.arange(ny * nx), nx)
    return (row // k) * (-(-nx // k)) + col // k


def block_rmse_reduction(
    prior: np.ndarray,
    posterior: np.ndarray,
    truth: np.ndarray,
    mask: np.ndarray,
    labels: np.ndarray,
) -> float:
    """:func:`rmse_reduction` of the block totals: the cells of ``mask`` summed within each
    block of ``labels`` (:func:`block_labels`), every block holding at least one of them
    counted once.  At one cell a block it is the cells' :func:`rmse_reduction`; with one block
    it is ``1 − |Σ posterior − Σ truth| / |Σ prior − Σ truth|``.  NaN for an empty mask or a
    perfect prior.

    Parameters
    ----------
    prior, posterior, truth : ndarray ``(ncell,)``
        Cell totals over the period, in one unit (kg in the OSSE).
    mask : ndarray of bool ``(ncell,)``
        The cells scored.
    labels : ndarray of int ``(ncell,)``
        Block number of each cell.
    """
    m = np.asarray(mask, bool)
    if not m.any():
        return float("nan")
    lab = np.asarray(labels)[m]
    used = np.bincount(lab) > 0
    sums = [
        np.bincount(lab, weights=np.asarray(v, float)[m])[used] for v in (prior, posterior, truth)
    ]
    return rmse_reduction(*sums, np.ones(int(used.sum()), bool))


def factor_rmse_reduction(
    prior: np.ndarray, posterior: np.ndarray, truth: np.ndarray, mask: np.ndarray
) -> float:
    """``1 − RMSE(posterior factor) / RMSE(prior factor)`` of per-cell factors over the cells
    of ``mask`` with a positive prior: the factor of a cell is its total over the prior total
    (the prior's is 1, the truth's ``truth / prior``), so every cell counts alike whatever its
    emission.  NaN for no such cell."""
    p = np.asarray(prior, float)
    m = np.asarray(mask, bool) & (p > 0)
    if not m.any():
        return float("nan")
    f_truth = np.asarray(truth, float)[m] / p[m]
    f_post = np.asarray(posterior, float)[m] / p[m]
    e_prior = np.sqrt(np.mean((1.0 - f_truth) ** 2))
    if not e_prior > 0:
        return float("nan")
    return float(1.0 - np.sqrt(np.mean((f_post - f_truth) ** 2)) / e_prior)


def coverage_count(
    truth: np.ndarray, estimate: np.ndarray, std: np.ndarray, mask: np.ndarray, k: float = 1.0
) -> tuple[int, int]:
    """``(hits, n)``: how many of the ``n`` elements of ``mask`` have ``|truth − estimate| ≤
    k σ``."""
    m = np.asarray(mask, bool)
    err = np.abs(np.asarray(truth, float)[m] - np.asarray(estimate, float)[m])
    return int(np.count_nonzero(err <= k * np.asarray(std, float)[m])), int(m.sum())


def calibration_rms(error: np.ndarray, std: np.ndarray) -> float:
    """RMS of ``error / σ`` over the finite pairs with σ > 0 (1 for a calibrated σ); NaN
    for none."""
    e = np.asarray(error, float).ravel()
    s = np.asarray(std, float).ravel()
    ok = np.isfinite(e) & np.isfinite(s) & (s > 0)
    if not ok.any():
        return float("nan")
    return float(np.sqrt(np.mean((e[ok] / s[ok]) ** 2)))


def innovation_chi2(
    innovation: np.ndarray,
    hbh_variance: np.ndarray,
    r_variance: np.ndarray,
    groups: np.ndarray,
) -> dict[Hashable, tuple[float, int]]:
    """Mean normalised squared innovation per group of observations.

    ``χ²_g = mean_{i∈g} d_i² / (HBHᵀ_ii + R_ii)`` with ``d = y − H x_b``.  Its expectation is
    exactly 1 for every observation when B and R are right, whatever the correlations, and it
    does not depend on the solver (unlike the posterior cost, whose pooled value is the run's
    reduced χ²).

    Parameters
    ----------
    innovation : ndarray ``(m,)``
        Observed minus prior modelled values (observation units).
    hbh_variance, r_variance : ndarray ``(m,)``
        Diagonals of H B Hᵀ and R (squared observation units).
    groups : ndarray ``(m,)``
        The group of each observation (species, station class, …).

    Returns
    -------
    dict ``{group: (χ², number of observations)}``.
    """
    d = np.asarray(innovation, float)
    s = np.asarray(hbh_variance, float) + np.asarray(r_variance, float)
    if np.any(~(s > 0)):
        raise ValueError("the innovation variances HBHᵀ + R must be > 0")
    g = np.asarray(groups)
    out = {}
    for key in dict.fromkeys(g.tolist()):
        m = g == key
        out[key] = (float(np.mean(d[m] ** 2 / s[m])), int(m.sum()))
    return out


def percentile_bootstrap(
    samples: np.ndarray,
    statistic: Callable[[np.ndarray], np.ndarray] | None = None,
    *,
    n_resamples: int = 9999,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Percentile bootstrap interval over replicates (resampled with replacement, fixed seed).

    Parameters
    ----------
    samples : ndarray ``(n,)`` or ``(n, k)``
        One row per replicate (e.g. a score, or hits and counts to pool); rows with a NaN are
        dropped.
    statistic : callable, optional
        Maps a batch of resamples ``(B, n, …)`` to ``(B,)``; default the mean over axis 1.
        Applied to ``samples[None]`` for the point estimate.
    n_resamples, confidence, seed : the number of resamples, the coverage of the interval
        and the seed of the generator.

    Returns
    -------
    ``(estimate, low, high)``; NaNs for no replicate, the estimate twice for one.
    """
    x = np.asarray(samples, float)
    keep = np.isfinite(x).all(axis=tuple(range(1, x.ndim))) if x.ndim > 1 else np.isfinite(x)
    x = x[keep]
    stat = statistic if statistic is not None else (lambda b: b.mean(axis=1))
    if x.shape[0] == 0:
        return (float("nan"),) * 3
    est = float(np.asarray(stat(x[None]))[0])
    if x.shape[0] == 1:
        return est, est, est
    rng = np.random.default_rng(seed)
    alpha = (1.0 - confidence) / 2.0
    values = np.empty(n_resamples)
    batch = max(1, 2_000_000 // max(x.size, 1))
    for a in range(0, n_resamples, batch):
        b = min(batch, n_resamples - a)
        idx = rng.integers(0, x.shape[0], size=(b, x.shape[0]))
        values[a : a + b] = stat(x[idx])
    lo, hi = np.nanpercentile(values, [100 * alpha, 100 * (1 - alpha)])
    return est, float(lo), float(hi)


def wilson_interval(hits: int, n: int, confidence: float = 0.95) -> tuple[float, float, float]:
    """Wilson score interval of a proportion ``hits / n``: ``(proportion, low, high)`` (NaNs for
    ``n = 0``).  It assumes independent trials: for cells of one replicate, which are
    correlated, it is narrower than the truth."""
    if n <= 0:
        return (float("nan"),) * 3
    if not 0 <= hits <= n:
        raise ValueError(f"hits {hits} must be between 0 and n = {n}")
    z = float(ndtri(1.0 - (1.0 - confidence) / 2.0))
    p = hits / n
    den = 1.0 + z**2 / n
    centre = (p + z**2 / (2 * n)) / den
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / den
    return p, float(max(0.0, centre - half)), float(min(1.0, centre + half))
