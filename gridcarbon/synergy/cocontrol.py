"""Co-control analysis of CO2 and air pollutants per unit, county, city or sector.

* **Change between two periods or scenarios**: reduction rates of CO2, NOx and VOC, the
  co-control elasticity ``Els = (ΔP/P)/(ΔCO2/CO2)`` of each pollutant and its quadrant in the
  co-control coordinate system (x = pollutant reduction rate, y = CO2 reduction rate; quadrant I
  = both reduced, 协同减排). ``|ΔCO2/CO2| < 0.5 %`` is reported as "CO2 unchanged" and never
  divided.
* **Trend**: Hamed–Rao modified Mann–Kendall test (autocorrelation-corrected variance) with
  Sen's slope, on daily or monthly series (hourly series are autocorrelated and too long).
* **Correlation** of CO2 against each pollutant on the posterior's relative departures from
  the prior, ``posterior/prior − 1`` (the prior's species ratios and time profiles correlate by
  construction): Spearman ρ per entity with p-values on the effective number of independent
  steps (the inversion's corrections are smooth in time), Benjamini–Hochberg q-values across
  entities per pollutant, flagged as a co-control priority where ρ ≥ 0.6 and q ≤ 0.05.
* **Distribution**: each entity's share of the total of every species and its quintile class.

Pure numpy/scipy (the trend test's kernel is :func:`gridcarbon.kernels.trend.hamed_rao_statistics`); entities × time arrays in, tables
out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from gridcarbon.errors import InputDataError
from gridcarbon.kernels.trend import hamed_rao_statistics
from gridcarbon.species import CO2, NOX, VOC

__all__ = [
    "CARBON_UNCHANGED",
    "POLLUTANTS",
    "QUADRANTS",
    "change_table",
    "quadrant",
    "hamed_rao_trend",
    "trend_table",
    "spearman_rows",
    "benjamini_hochberg",
    "relative_departure",
    "departure_correlation",
    "distribution_table",
]

#: |ΔCO2/CO2| below this is "CO2 unchanged": no elasticity is computed.
CARBON_UNCHANGED = 0.005
#: The carbon species and the air pollutants it is compared with.
CARBON = CO2.name
POLLUTANTS = (NOX.name, VOC.name)
QUADRANTS = {
    "I": "I: both reduced (协同减排)",
    "II": f"II: {CARBON} reduced, pollutant increased",
    "III": "III: both increased",
    "IV": f"IV: pollutant reduced, {CARBON} increased",
    "co2_unchanged": f"{CARBON} unchanged",
    "pollutant_unchanged": "pollutant unchanged",
    "no_base": "no base emissions",
}


def quadrant(co2_change: float, pollutant_change: float, tol: float = CARBON_UNCHANGED) -> str:
    """Quadrant key of one entity from relative changes ΔCO2/CO2 and ΔP/P (fractions)."""
    if not (np.isfinite(co2_change) and np.isfinite(pollutant_change)):
        return "no_base"
    if abs(co2_change) < tol:
        return "co2_unchanged"
    if abs(pollutant_change) < tol:
        return "pollutant_unchanged"
    co2_down, p_down = co2_change < 0, pollutant_change < 0
    if co2_down and p_down:
        return "I"
    if co2_down:
        return "II"
    if p_down:
        return "IV"
    return "III"


def change_table(
    base: pd.DataFrame,
    new: pd.DataFrame,
    species: tuple[str, ...] = (CARBON, *POLLUTANTS),
    tol: float = CARBON_UNCHANGED,
) -> pd.DataFrame:
    """Reduction rates, co-control elasticities and quadrants between two periods or scenarios.

    Parameters
    ----------
    base, new : DataFrame
        Indexed by entity (unit, county, city or sector code), one column per species: emissions
        in the base and the new period or scenario (same unit, e.g. kg or t; same period length).
    species : tuple
        ``"CO2"`` first, then the pollutants.
    tol : float
        Relative change below which CO2 (or a pollutant) counts as unchanged (0.005 = 0.5 %).

    Returns
    -------
    DataFrame
        Per entity: ``<sp>_base``, ``<sp>_new``, ``<sp>_change`` (ΔX/X, fraction),
        ``<sp>_reduction_pct`` (−100 ΔX/X); per pollutant ``Els_<p>`` (NaN where CO2 is
        unchanged or a base is zero), ``quadrant_<p>`` (I–IV or an axis) and
        ``quadrant_<p>_label``; ``co2_unchanged`` (bool).
    """
    missing = [s for s in species if s not in base or s not in new]
    if missing:
        raise InputDataError(f"the base and new tables need columns {list(species)}; {missing}")
    if not base.index.equals(new.index):
        only = base.index.symmetric_difference(new.index)
        raise InputDataError(
            f"the base and new tables cover different entities (e.g. {list(only[:3])})"
        )
    out = pd.DataFrame(index=base.index)
    for sp in species:
        b, n = base[sp].to_numpy(float), new[sp].to_numpy(float)
        if np.any(b < 0) or np.any(n < 0):
            bad = base.index[(b < 0) | (n < 0)][0]
            raise InputDataError(f"entity {bad!r}: negative {sp} emissions")
        with np.errstate(invalid="ignore", divide="ignore"):
            change = np.where(b > 0, (n - b) / b, np.nan)
        out[f"{sp}_base"], out[f"{sp}_new"] = b, n
        out[f"{sp}_change"] = change
        out[f"{sp}_reduction_pct"] = -100.0 * change
    co2 = out[f"{species[0]}_change"].to_numpy()
    unchanged = np.abs(co2) < tol
    out["co2_unchanged"] = unchanged
    for p in species[1:]:
        pc = out[f"{p}_change"].to_numpy()
        safe = ~unchanged & np.isfinite(co2) & np.isfinite(pc)
        els = np.full(len(out), np.nan)
        els[safe] = pc[safe] / co2[safe]
        out[f"Els_{p}"] = els
        keys = [quadrant(c, q, tol) for c, q in zip(co2, pc, strict=True)]
        out[f"quadrant_{p}"] = keys
        out[f"quadrant_{p}_label"] = [QUADRANTS[k] for k in keys]
    return out


def hamed_rao_trend(x: np.ndarray, alpha: float = 0.05) -> dict[str, float]:
    """Hamed–Rao (1998) modified Mann–Kendall test and Sen's slope of one series.

    Matches ``pymannkendall.hamed_rao_modification_test`` (all lags, NaN skipped). Where the
    autocorrelation correction makes Var(S) non-positive, ``z`` and ``p`` are NaN.

    Returns
    -------
    dict
        ``s``, ``var_s``, ``z``, ``p`` (two-sided), ``tau``, ``slope`` (per time step, in the
        series' unit), ``n``.
    """
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    n = x.size
    if n < 4:
        raise InputDataError(f"a trend test needs at least 4 values (got {n})")
    s, var_s, z, tau, slope = hamed_rao_statistics(x, float(stats.norm.ppf(1 - alpha / 2)))
    if not var_s > 0:
        z = float("nan")
    p = 2.0 * stats.norm.sf(abs(z)) if np.isfinite(z) else float("nan")
    return {"s": s, "var_s": var_s, "z": z, "p": p, "tau": tau, "slope": slope, "n": n}


def trend_table(
    series: np.ndarray, index: pd.Index, alpha: float = 0.05, species: str = ""
) -> pd.DataFrame:
    """Hamed–Rao trend and Sen's slope of every row of an ``(entity, time)`` array.

    Returns a table indexed like ``index`` with ``<sp>_trend_z``, ``<sp>_trend_p``,
    ``<sp>_sen_slope`` (unit per time step), ``<sp>_trend`` (increasing / decreasing / no trend,
    at ``alpha``).
    """
    series = np.asarray(series, dtype=float)
    if series.ndim != 2 or series.shape[0] != len(index):
        raise InputDataError(f"series must be (entity, time) with {len(index)} rows")
    z_crit = float(stats.norm.ppf(1 - alpha / 2))
    n_rows = series.shape[0]
    out = np.full((n_rows, 3), np.nan)
    for i in range(n_rows):
        row = series[i][~np.isnan(series[i])]
        if row.size < 4:
            continue
        _, var_s, z, _, slope = hamed_rao_statistics(row, z_crit)
        out[i] = (z if var_s > 0 else np.nan, np.nan, slope)
    out[:, 1] = 2.0 * stats.norm.sf(np.abs(out[:, 0]))
    prefix = f"{species}_" if species else ""
    table = pd.DataFrame(
        {
            f"{prefix}trend_z": out[:, 0],
            f"{prefix}trend_p": out[:, 1],
            f"{prefix}sen_slope": out[:, 2],
        },
        index=index,
    )
    sig = out[:, 1] <= alpha
    table[f"{prefix}trend"] = np.where(
        sig & (out[:, 0] > 0),
        "increasing",
        np.where(sig & (out[:, 0] < 0), "decreasing", "no trend"),
    )
    return table


def _lag1(r: np.ndarray) -> np.ndarray:
    """Lag-1 autocorrelation of each (centred) row."""
    num = (r[:, 1:] * r[:, :-1]).sum(axis=1)
    den = (r * r).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, 0.0)


def spearman_rows(
    a: np.ndarray, b: np.ndarray, autocorrelation: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Spearman ρ and its two-sided p-value (t approximation, as scipy) row by row.

    With ``autocorrelation`` the p-value uses the effective number of independent steps
    ``n_eff = n (1 − r_a r_b)/(1 + r_a r_b)`` (Bretherton et al. 1999), ``r`` the lag-1
    autocorrelations of the two rank series (negative products count as none), clipped to
    [3, n]: smooth daily series share fewer independent days than they have. Rows that are
    constant in either array give NaN.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 2:
        raise InputDataError("spearman_rows needs two (entity, time) arrays of the same shape")
    n = a.shape[1]
    ra = stats.rankdata(a, axis=1)
    rb = stats.rankdata(b, axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    den = np.sqrt((ra * ra).sum(axis=1) * (rb * rb).sum(axis=1))
    n_eff = np.full(a.shape[0], float(n))
    if autocorrelation:
        prod = np.clip(_lag1(ra) * _lag1(rb), 0.0, 0.99)
        n_eff = np.clip(n * (1.0 - prod) / (1.0 + prod), 3.0, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(den > 0, (ra * rb).sum(axis=1) / den, np.nan)
        rho = np.clip(rho, -1.0, 1.0)
        t = rho * np.sqrt((n_eff - 2) / ((1.0 - rho) * (1.0 + rho)))
    p = 2.0 * stats.t.sf(np.abs(t), n_eff - 2)
    return rho, np.where(np.isnan(rho), np.nan, p)


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values); NaN entries stay NaN and do not count."""
    p = np.asarray(p, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if ok.size == 0:
        return q
    order = ok[np.argsort(p[ok], kind="mergesort")]
    m = ok.size
    adj = p[order] * m / np.arange(1, m + 1)
    adj = np.minimum.accumulate(adj[::-1])[::-1]
    q[order] = np.minimum(adj, 1.0)
    return q


def relative_departure(posterior: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """``posterior/prior − 1`` (0 where both are 0): the inversion's correction.

    Relative, not absolute: ``posterior − prior = prior × (factor − 1)`` still carries the
    prior's time profile, shared by the species, and would correlate by construction.
    """
    post, pri = np.asarray(posterior, float), np.asarray(prior, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.where(pri > 0, post / pri - 1.0, np.where(post > 0, np.nan, 0.0))
    return d


def departure_correlation(
    posterior: dict[str, np.ndarray],
    prior: dict[str, np.ndarray],
    index: pd.Index,
    rho_min: float = 0.6,
    q_max: float = 0.05,
) -> pd.DataFrame:
    """Spearman correlation of CO2 with each pollutant on the posterior's departures from the prior.

    Parameters
    ----------
    posterior, prior : dict
        Species → ``(entity, time)`` arrays (daily or monthly sums, kg). The departure is
        :func:`relative_departure` per entity and time step.
    index : Index
        The entities.
    rho_min, q_max : float
        An entity is a co-control priority for a pollutant where ρ ≥ ``rho_min`` and the
        Benjamini–Hochberg q-value (across entities, per pollutant) ≤ ``q_max``.

    Returns
    -------
    DataFrame
        ``rho_<p>``, ``p_<p>``, ``q_<p>``, ``priority_<p>`` per pollutant and ``priority``
        (any pollutant), indexed like ``index``.
    """
    if CARBON not in posterior or CARBON not in prior:
        raise InputDataError(f"the departure correlation needs {CARBON} in the posterior and prior")
    d_co2 = relative_departure(posterior[CARBON], prior[CARBON])
    if d_co2.shape[1] < 4:
        raise InputDataError(f"a correlation needs at least 4 time steps (got {d_co2.shape[1]})")
    out = pd.DataFrame(index=index)
    flags = np.zeros(len(index), bool)
    for p in POLLUTANTS:
        if p not in posterior or p not in prior:
            continue
        d_p = relative_departure(posterior[p], prior[p])
        rho, pval = spearman_rows(d_co2, d_p, autocorrelation=True)
        q = benjamini_hochberg(pval)
        flag = (rho >= rho_min) & (q <= q_max)
        out[f"rho_{p}"], out[f"p_{p}"], out[f"q_{p}"] = rho, pval, q
        out[f"priority_{p}"] = flag
        flags |= flag
    out["priority"] = flags
    return out


def distribution_table(totals: pd.DataFrame, species: tuple[str, ...] = (CARBON, *POLLUTANTS)):
    """Each entity's share of every species' total and its quintile class (5 = largest).

    Returns
    -------
    (table, summary)
        ``table``: ``<sp>_share_pct`` and ``<sp>_quintile`` per entity; ``summary``: per
        pollutant the Spearman ρ of the entities' CO2 and pollutant totals and the share of
        entities in the same quintile for CO2 and the pollutant.
    """
    table = pd.DataFrame(index=totals.index)
    for sp in species:
        v = totals[sp].to_numpy(float)
        table[f"{sp}_share_pct"] = 100.0 * v / v.sum() if v.sum() > 0 else np.nan
        ranks = stats.rankdata(v, method="average") / len(v)
        table[f"{sp}_quintile"] = np.clip(np.ceil(ranks * 5), 1, 5).astype(int)
    rows = []
    for p in species[1:]:
        rho, pval = stats.spearmanr(totals[species[0]], totals[p])
        same = float((table[f"{species[0]}_quintile"] == table[f"{p}_quintile"]).mean())
        rows.append({"pollutant": p, "spearman_rho": rho, "p": pval, "same_quintile": same})
    return table, pd.DataFrame(rows)
