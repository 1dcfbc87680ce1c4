"""Observation- and background-error statistics from the innovations (Desroziers et al. 2005,
QJRMS 131:3385): pure numpy functions on the assimilated rows, with no truth and no file
access, so they run unchanged on real data.

With ``d_b = y − H x_b`` (innovations), ``d_a = y − H x_a`` (analysis residuals) and
``H(x_a − x_b) = d_b − d_a`` (analysis increments in observation space), a linear analysis
with the right B and R satisfies

* ``E[d_a d_bᵀ] = R``;
* ``E[(d_b − d_a) d_bᵀ] = H B Hᵀ``;
* ``E[d_b d_bᵀ] = H B Hᵀ + R``.

Per group g of observations (observation type × observed quantity × station class) the
diagnostic compares the diagonals in the trace form of Desroziers & Ivanov (2001) and
Chapnik et al. (2006): ``s_R = mean_{i∈g} d_a,i d_b,i / R_ii`` is the factor by which the
group's R variances would have to be multiplied; ``s_B = mean (d_b,i − d_a,i) d_b,i /
(HBHᵀ)_ii`` the same for the prior's variance in observation space.  Both are 1 in
expectation when B and R are right.  Iterating ``R_g ← s_R R_g`` and solving again is the
fixed-point algorithm of Desroziers & Ivanov; it converges to the right scale of R when
HBHᵀ is right and the observations are many, and when B is wrong the R estimate absorbs
part of B's error (the two are separated only through their different structure).

The same identity sizes a part of B that is independent of the rest (one species'
emission factors): the part's own increment ``H_p δx_p`` has ``E[H_p δx_p d_bᵀ] = H_p B_p
H_pᵀ``, so :func:`desroziers_prior_scale` estimates the factor on the part per group in the
trace form of Chapnik et al. (2006); iterated with the analysis it is the fixed point of
Desroziers & Ivanov (2001) applied to that part of B.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

__all__ = [
    "desroziers_statistics",
    "desroziers_prior_scale",
    "bounded_scaling",
    "innovation_log_likelihood",
    "distance_binned_covariance",
    "fit_correlation_length",
]


def desroziers_statistics(
    innovation: np.ndarray,
    residual: np.ndarray,
    r_variance: np.ndarray,
    groups: np.ndarray,
    hbh_variance: np.ndarray | None = None,
) -> dict[Hashable, dict[str, float]]:
    """Desroziers diagnostics of R (and of H B Hᵀ) per group of observations.

    Parameters
    ----------
    innovation : ndarray ``(m,)``
        ``d_b = y − H x_b``, observation units.
    residual : ndarray ``(m,)``
        ``d_a = y − H x_a`` of the same analysis whose R is ``r_variance``, observation units.
    r_variance : ndarray ``(m,)``
        The diagonal of the R used in that analysis, squared observation units (> 0).
    groups : ndarray ``(m,)``
        The group of each observation.
    hbh_variance : ndarray ``(m,)``, optional
        The diagonal of H B Hᵀ, squared observation units; without it the HBHᵀ and χ²
        columns are NaN.

    Returns
    -------
    dict ``{group: record}`` in order of first appearance; each record has ``n``,
    ``mean_r`` (mean R_ii), ``desroziers_r`` (mean d_a d_b), ``r_ratio`` (mean d_a d_b / R_ii),
    ``mean_hbh``, ``desroziers_hbh`` (mean (d_b − d_a) d_b), ``hbh_ratio`` (mean (d_b − d_a)
    d_b / HBHᵀ_ii) and ``chi2`` (mean d_b² / (HBHᵀ_ii + R_ii)).
    """
    db = np.asarray(innovation, dtype=np.float64)
    da = np.asarray(residual, dtype=np.float64)
    r = np.asarray(r_variance, dtype=np.float64)
    g = np.asarray(groups)
    if not (db.shape == da.shape == r.shape == g.shape) or db.ndim != 1:
        raise ValueError(
            f"innovation {db.shape}, residual {da.shape}, r_variance {r.shape} and groups "
            f"{g.shape} must be vectors of one length"
        )
    if not np.all(r > 0):
        raise ValueError("the R variances must be > 0")
    hbh = None if hbh_variance is None else np.asarray(hbh_variance, dtype=np.float64)
    if hbh is not None and hbh.shape != db.shape:
        raise ValueError(f"hbh_variance {hbh.shape} must match the innovations {db.shape}")
    out: dict[Hashable, dict[str, float]] = {}
    for key in dict.fromkeys(g.tolist()):
        m = g == key
        rec = {
            "n": float(m.sum()),
            "mean_r": float(r[m].mean()),
            "desroziers_r": float(np.mean(da[m] * db[m])),
            "r_ratio": float(np.mean(da[m] * db[m] / r[m])),
            "mean_hbh": np.nan,
            "desroziers_hbh": float(np.mean((db[m] - da[m]) * db[m])),
            "hbh_ratio": np.nan,
            "chi2": np.nan,
        }
        if hbh is not None:
            h = hbh[m]
            rec["mean_hbh"] = float(h.mean())
            pos = h > 0
            if pos.any():
                rec["hbh_ratio"] = float(np.mean((db[m] - da[m])[pos] * db[m][pos] / h[pos]))
            rec["chi2"] = float(np.mean(db[m] ** 2 / (h + r[m])))
        out[key] = rec
    return out


def desroziers_prior_scale(
    innovation: np.ndarray,
    part_increment: np.ndarray,
    r_variance: np.ndarray,
    hbh_part: np.ndarray,
    groups: np.ndarray,
) -> dict[Hashable, dict[str, float]]:
    """Desroziers ratio of one part of B per group of observations.

    With B block-diagonal between a part ``p`` and the rest, the increment of the part seen
    from the observations, ``H_p (x_a − x_b)_p = H_p B_p H_pᵀ (HBHᵀ + R)⁻¹ d_b``, has
    ``E[H_p δx_p d_bᵀ] = H_p B_p H_pᵀ`` when B and R are right: the part is sized from its own
    increment, without subtracting the (larger, noisier) rest of HBHᵀ.

    Parameters
    ----------
    innovation : ndarray ``(m,)``
        ``d_b = y − H x_b``, observation units.
    part_increment : ndarray ``(m,)``
        ``H_p (x_a − x_b)_p``: the analysis increment of the part alone, in observation space.
    r_variance : ndarray ``(m,)``
        Diagonal of the R of that analysis (the weights ``1/R_ii``), squared observation units.
    hbh_part : ndarray ``(m,)``
        ``diag(H_p B_p H_pᵀ)`` at the scale the analysis used.
    groups : ndarray ``(m,)``
        The group of each observation (e.g. the species whose emissions it sees).

    Returns
    -------
    dict ``{group: {"n", "b_ratio"}}``: the number of observations and the factor
    ``Σ (H_p δx_p)_i d_b,i / R_ii ÷ Σ (H_p B_p H_pᵀ)_ii / R_ii`` by which the group's part of B
    would have to be multiplied (1 in expectation when B is right; NaN when the group has no
    sensitivity to the part).
    """
    db = np.asarray(innovation, dtype=np.float64)
    inc = np.asarray(part_increment, dtype=np.float64)
    r = np.asarray(r_variance, dtype=np.float64)
    hp = np.asarray(hbh_part, dtype=np.float64)
    g = np.asarray(groups)
    if not (db.shape == inc.shape == r.shape == hp.shape == g.shape) or db.ndim != 1:
        raise ValueError(
            f"innovation {db.shape}, part_increment {inc.shape}, r_variance {r.shape}, "
            f"hbh_part {hp.shape} and groups {g.shape} must be vectors of one length"
        )
    if not np.all(r > 0):
        raise ValueError("the R variances must be > 0")
    out: dict[Hashable, dict[str, float]] = {}
    for key in dict.fromkeys(g.tolist()):
        m = g == key
        w = 1.0 / r[m]
        denominator = float(np.sum(w * hp[m]))
        out[key] = {
            "n": float(m.sum()),
            "b_ratio": float(np.sum(w * inc[m] * db[m])) / denominator
            if denominator > 0
            else np.nan,
        }
    return out


def bounded_scaling(
    ratios: dict[Hashable, float],
    counts: dict[Hashable, float],
    current: dict[Hashable, float],
    bounds: Sequence[float],
    min_observations: int,
) -> tuple[dict[Hashable, float], list[Hashable]]:
    """The next cumulative factor on each group's R variances: ``current × ratio``, clipped to
    ``bounds``; a group with fewer than ``min_observations`` observations, or a ratio that is
    not a positive finite number, keeps its current factor.

    Parameters
    ----------
    ratios : dict ``{group: s_R}``
        The Desroziers ratios of the last analysis (:func:`desroziers_statistics`).
    counts : dict ``{group: n}``
        The number of observations of each group.
    current : dict ``{group: factor}``
        The factors already applied (1 when absent).
    bounds : ``[min, max]``
        Bounds of the cumulative factor.
    min_observations : int
        Fewest observations of a group to be rescaled.

    Returns
    -------
    ``(factors, left)``: the new cumulative factor of every group, and the groups left
    unscaled (too few observations or no usable ratio).
    """
    lo, hi = float(bounds[0]), float(bounds[1])
    if not 0 < lo <= hi:
        raise ValueError(f"scale bounds {list(bounds)} must be 0 < min <= max")
    out: dict[Hashable, float] = {}
    left: list[Hashable] = []
    for key, s in ratios.items():
        f = float(current.get(key, 1.0))
        if counts.get(key, 0) < min_observations or not (np.isfinite(s) and s > 0):
            out[key] = f
            left.append(key)
            continue
        out[key] = float(np.clip(f * s, lo, hi))
    return out, left


def innovation_log_likelihood(innovation: np.ndarray, variance: np.ndarray) -> float:
    """Gaussian log-likelihood of innovations taken one by one (a composite likelihood):
    ``−½ Σ (log 2π v_i + d_i² / v_i)``.

    Parameters
    ----------
    innovation : ndarray ``(m,)``
        ``d = y − H x_b``, observation units.
    variance : ndarray ``(m,)``
        Their predicted variances ``(HBHᵀ)_ii + R_ii``, observation units squared, > 0.

    Returns
    -------
    float
        The log-likelihood (nats).  Maximised over a parameter of R it estimates that
        parameter consistently when the rows' marginal variances are right, whatever their
        correlations; its curvature overstates the information when rows are correlated.
    """
    d = np.asarray(innovation, float)
    v = np.asarray(variance, float)
    if d.shape != v.shape or d.ndim != 1:
        raise ValueError(f"innovations {d.shape} and variances {v.shape}: give two 1-D arrays")
    if not np.all(v > 0):
        raise ValueError("innovation variances must be > 0")
    return float(-0.5 * np.sum(np.log(2.0 * np.pi * v) + d * d / v))


def distance_binned_covariance(
    x: np.ndarray, y: np.ndarray, Q: np.ndarray, scale: np.ndarray, edges_m: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sums of a covariance over the pairs of one set of points binned by separation, the
    statistic of Hollingsworth & Lönnberg (1986, Tellus 38A:111) for the spatial correlation
    of observation errors.

    Parameters
    ----------
    x, y : ndarray ``(n,)``
        Positions, m.
    Q : ndarray ``(n, n)``
        A covariance of the points' values: ``outer(r, r)`` of residuals ``r`` (the empirical
        one) or the covariance a model predicts for them.
    scale : ndarray ``(n,)``
        Each point's normalising standard deviation (> 0), in the units of ``r``: every
        element is divided by ``scale_i scale_j``, so sums from several sets add up.
    edges_m : ndarray ``(k + 1,)``
        Increasing bin edges of the separation, m; pairs beyond the last edge are left out.

    Returns
    -------
    sums : ndarray ``(k + 1,)``
        Element 0: the sum of the normalised diagonal ``Q_ii / scale_i²``; element b ≥ 1:
        the sum of ``Q_ij / (scale_i scale_j)`` over the pairs i < j whose separation lies in
        ``[edges_m[b − 1], edges_m[b])``.
    counts : ndarray ``(k + 1,)``
        The number of points (element 0) and of pairs in each bin.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    s = np.asarray(scale, float)
    Q = np.asarray(Q, float)
    edges = np.asarray(edges_m, float)
    n = x.size
    if Q.shape != (n, n) or y.shape != (n,) or s.shape != (n,):
        raise ValueError(f"{n} points need y and scale of ({n},) and Q of ({n}, {n})")
    if not np.all(s > 0):
        raise ValueError("normalising scales must be > 0")
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError(f"bin edges {edges.tolist()} must increase")
    k = edges.size - 1
    Z = Q / np.outer(s, s)
    i, j = np.triu_indices(n, 1)
    b = np.searchsorted(edges, np.hypot(x[i] - x[j], y[i] - y[j]), side="right")
    keep = (b >= 1) & (b <= k)
    sums = np.concatenate(
        [[np.trace(Z)], np.bincount(b[keep] - 1, weights=Z[i[keep], j[keep]], minlength=k)]
    )
    counts = np.concatenate([[n], np.bincount(b[keep] - 1, minlength=k)]).astype(np.int64)
    return sums, counts


def fit_correlation_length(
    empirical: np.ndarray,
    fixed: np.ndarray,
    candidates: dict[float, np.ndarray],
    counts: np.ndarray,
) -> dict[str, float]:
    """The correlation length of one error term whose binned covariance fits the empirical
    one best, with the term's variance scaled freely (≥ 0).

    Every argument is a binned sum over the same points and pairs
    (:func:`distance_binned_covariance`): ``empirical`` of the residuals, ``fixed`` of the
    model's covariance without the term, ``candidates[L]`` of the term with correlation
    length ``L`` at unit scale.  For each L the scale ``a`` minimises
    ``Σ_b counts_b (ē_b − f̄_b − a t̄_b)²`` over the bins' means (pairs weigh as many times as
    they are counted, a composite least squares), and the L with the least misfit wins.

    Returns
    -------
    dict
        ``length`` (the best L, the candidates' unit), ``scale`` (its a) and ``misfit`` (the
        weighted sum of squares of the bins' means), and ``misfit_<L>`` / ``scale_<L>`` for
        every candidate.
    """
    c = np.asarray(counts, float)
    ok = c > 0
    e = np.asarray(empirical, float)[ok] / c[ok]
    f = np.asarray(fixed, float)[ok] / c[ok]
    w = c[ok]
    if not candidates:
        raise ValueError("no candidate correlation length given")
    out: dict[str, float] = {}
    best = (np.inf, np.nan, np.nan)
    for length, term in sorted(candidates.items()):
        t = np.asarray(term, float)[ok] / c[ok]
        tt = float(np.sum(w * t * t))
        a = max(float(np.sum(w * t * (e - f))) / tt, 0.0) if tt > 0 else 0.0
        misfit = float(np.sum(w * (e - f - a * t) ** 2))
        out[f"misfit_{length:g}"] = misfit
        out[f"scale_{length:g}"] = a
        if misfit < best[0]:
            best = (misfit, float(length), a)
    out.update(misfit=best[0], length=best[1], scale=best[2])
    return out
