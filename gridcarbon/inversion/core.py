"""The Bayesian inversion: observations + observation system → posterior grids and statistics."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import xarray as xr

from gridcarbon.config.inversion import InversionConfig
from gridcarbon.errors import InputDataError
from gridcarbon.inversion.observations import normalise_observations, validate_stations
from gridcarbon.inversion.solvers import (
    PosteriorCovariance,
    Problem,
    solve_dense,
    solve_lanczos_cg,
    solve_lanczos_cg_obs,
)
from gridcarbon.inversion.state import PriorCovariance, StateLayout
from gridcarbon.inversion.system import ObservationSystem

__all__ = ["InversionResult", "invert", "assimilate", "unit_total_std", "aggregation_matrix"]

log = logging.getLogger(__name__)


@dataclass
class InversionResult:
    """What an inversion returns (documented in ``docs/inversion.md``).

    Attributes
    ----------
    posterior : xr.Dataset
        Emission Dataset like the prior (posterior = prior × factors), with ``<sp>_std``
        ``(time, y, x)`` and ``<sp>_point_std`` ``(time, point)`` posterior standard deviations
        (kg h-1), ``<sp>_uncertainty_reduction (y, x)`` of the period total per cell, and
        ``<sp>_factor (y, x)`` the period-mean factor per cell.
    layout : StateLayout
        Where each unknown sits in the state vector.
    x_prior, x_post : ndarray
        Prior and posterior state vectors.
    prior_std, post_std : ndarray
        Prior and posterior 1-sigma of every state element.
    covariance : PosteriorCovariance
        Posterior covariance (dense or prior + low-rank) — used by :func:`unit_total_std`.
    factors : xr.Dataset
        Grid factors: ``mean``, ``std``, ``prior_std``, ``uncertainty_reduction`` on
        ``(species, window, block_y, block_x)``.
    extras : DataFrame
        The non-grid unknowns (points, neighbours, biogenic, background, bias): prior, posterior,
        prior and posterior std.
    dofs : float
        Degrees of freedom for signal, ``trace(I - A⁻¹)``.
    reduced_chi2 : float
        ``2 J(x̂) / m``.
    n_negative : int
        Posterior grid and point factors below zero (clipped in ``posterior`` if configured).
    stations : DataFrame
        Station table (``station_id``, ``name``, ``lon``, ``lat``, ``height``, ``kind``,
        ``species``, ``synthetic``…).
    station_stats : DataFrame
        Per station and species: observations used, mean observed, prior/posterior bias, RMSE
        and correlation.
    station_series : DataFrame
        Long table, one row per station, species and hour at the assimilated hours: ``time``
        (UTC), ``station_id``, ``species``, ``unit``, ``observed``, ``prior``, ``posterior``,
        ``used`` (assimilated), ``reason`` (why not).
    obs : DataFrame
        The assimilated observations (after aggregation): value, prior, posterior, ``r_std``.
    solver : dict
        Solver name, iterations, timings, sizes.
    metrics : dict
        Summary figures (sizes, DOFS, χ², totals), JSON-ready.
    """

    posterior: xr.Dataset
    layout: StateLayout
    x_prior: np.ndarray
    x_post: np.ndarray
    prior_std: np.ndarray
    post_std: np.ndarray
    covariance: PosteriorCovariance
    factors: xr.Dataset
    extras: pd.DataFrame
    dofs: float
    reduced_chi2: float
    n_negative: int
    stations: pd.DataFrame
    station_stats: pd.DataFrame
    station_series: pd.DataFrame
    obs: pd.DataFrame
    solver: dict
    metrics: dict
    system: ObservationSystem | None = field(default=None, repr=False)


def aggregation_matrix(
    pairs: pd.DataFrame, used: np.ndarray, mode: str
) -> tuple[sp.csr_matrix, pd.DataFrame]:
    """Averaging matrix from hourly pairs to assimilated observations.

    ``afternoon_mean``: one observation per (station, species, Beijing day) group = the mean of its
    used hours; ``hourly``: one per used pair.
    """
    idx = np.flatnonzero(used)
    if mode == "hourly":
        A = sp.csr_matrix(
            (np.ones(idx.size), (np.arange(idx.size), idx)), shape=(idx.size, len(pairs))
        )
        return A, pairs.iloc[idx].assign(n_hours=1).reset_index(drop=True)
    g = pairs["group"].to_numpy()[idx]
    ug, inv = np.unique(g, return_inverse=True)
    counts = np.bincount(inv)
    A = sp.csr_matrix((1.0 / counts[inv], (inv, idx)), shape=(ug.size, len(pairs)))
    first = pd.Series(idx).groupby(inv).first().to_numpy()
    meta = pairs.iloc[first][["station_id", "obs_species", "day", "kind", "sector", "time"]]
    meta = meta.reset_index(drop=True).assign(n_hours=counts)
    return A, meta


def _ess_factor(times_h: np.ndarray, tau_h: float) -> float:
    """``(1/n²) Σ_ij exp(-|t_i - t_j| / tau)``: variance of a mean of correlated errors / σ²."""
    t = np.asarray(times_h, float)
    n = t.size
    return float(np.exp(-np.abs(t[:, None] - t[None, :]) / tau_h).sum() / (n * n))


def _obs_errors(
    system: ObservationSystem,
    pairs: pd.DataFrame,
    used: np.ndarray,
    unc: np.ndarray,
    cfg: InversionConfig,
    A: sp.csr_matrix,
    meta: pd.DataFrame,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hourly measurement and model errors, and the R variances of assimilated obs."""
    kinds = pairs["kind"].to_numpy()
    species = pairs["obs_species"].to_numpy()
    meas = np.array(
        [
            cfg.errors.measurement_error.get(k, {}).get(s, np.nan)
            for k, s in zip(kinds, species, strict=True)
        ]
    )
    meas = np.where(np.isfinite(unc), unc, meas)
    if np.isnan(meas[used]).any():
        i = int(np.flatnonzero(np.isnan(meas) & used)[0])
        raise InputDataError(
            f"no measurement error for station class {kinds[i]!r}, species {species[i]}: add it "
            "to inversion.errors.measurement_error or give an uncertainty column"
        )
    floor = pairs["obs_species"].map(cfg.errors.model_error_floor).to_numpy(float)
    model = np.sqrt(
        floor**2
        + (cfg.errors.model_error_rel * system.enhancement) ** 2
        + system.direction_spread**2
    )
    hours = (pd.DatetimeIndex(pairs["time"]) - pd.Timestamp("2000-01-01")) / pd.Timedelta(hours=1)
    hours = np.asarray(hours, float)
    idx = np.flatnonzero(used)
    if cfg.errors.aggregation == "hourly":
        # inflate the model error by n / n_eff of its (station, species, day) block
        g = pairs["group"].to_numpy()[idx]
        infl = np.ones(idx.size)
        for key in np.unique(g):
            m = g == key
            n = int(m.sum())
            infl[m] = n * _ess_factor(hours[idx][m], cfg.errors.model_error_time_scale_h)
        r_var = meas[idx] ** 2 + model[idx] ** 2 * infl
        return meas, model, r_var
    r_var = np.empty(A.shape[0])
    A = A.tocsr()
    for i in range(A.shape[0]):
        cols = A.indices[A.indptr[i] : A.indptr[i + 1]]
        n = cols.size
        f = _ess_factor(hours[cols], cfg.errors.model_error_time_scale_h)
        r_var[i] = (meas[cols] ** 2).mean() / n + (model[cols].mean() ** 2) * f
    return meas, model, r_var


def assimilate(
    system: ObservationSystem,
    observations: pd.DataFrame,
    B: PriorCovariance | None = None,
    config: InversionConfig | None = None,
    build_posterior: bool = True,
) -> InversionResult:
    """Invert ``observations`` (long table, canonical units) with a prepared system.

    Parameters
    ----------
    system : ObservationSystem
    observations : DataFrame
        ``time`` (UTC), ``station_id``, ``species``, ``value``, ``uncertainty`` (may be NaN).
    B : PriorCovariance, optional
        Another prior covariance (e.g. without cross-species correlation); default the system's.
    config : InversionConfig, optional
        Default the system's.
    build_posterior : bool
        Build the posterior emission Dataset (the OSSE skips it and uses factors directly).
    """
    t0 = time.perf_counter()
    cfg = system.config if config is None else config
    B = system.B if B is None else B
    L = system.layout
    P = system.pairs
    obs = observations
    if obs is None or len(obs) == 0:
        raise InputDataError("observation table is empty")
    times = pd.DatetimeIndex(obs["time"])
    if times.tz is not None:  # normalised tables carry UTC explicitly; the pairs are naive UTC
        times = times.tz_convert("UTC").tz_localize(None)
    key = pd.MultiIndex.from_arrays(
        [obs["station_id"].astype(str), times, obs["species"].astype(str)]
    )
    val = pd.Series(obs["value"].to_numpy(float), index=key)
    uncs = pd.Series(
        obs["uncertainty"].to_numpy(float) if "uncertainty" in obs else np.full(len(obs), np.nan),
        index=key,
    )
    pkey = pd.MultiIndex.from_arrays(
        [P["station_id"], pd.DatetimeIndex(P["time"]), P["obs_species"]]
    )
    y_h = val.reindex(pkey).to_numpy()
    unc = uncs.reindex(pkey).to_numpy()
    has = np.isfinite(y_h)
    if not has.any():
        raise InputDataError(
            "no observation matches a station-hour of the period at the assimilated hours; "
            "check station ids, time zone (UTC expected) and the period"
        )
    calm = P["calm"].to_numpy()
    dominated = P["point_share"].to_numpy() > cfg.errors.point_dominance_max
    used = has & ~calm & ~dominated
    reason = np.where(
        ~has,
        "no observation",
        np.where(calm, "calm", np.where(dominated, "single point source dominates", "")),
    )
    A, meta = aggregation_matrix(P, used, cfg.errors.aggregation)
    y = A @ np.where(used, y_h, 0.0)
    Jo = (A @ system.J).tocsr()
    yb = A @ system.y_prior
    meas, model, r_var = _obs_errors(system, P, used, unc, cfg, A, meta)
    d = y - yb
    prob = Problem(Jo, d, r_var, B)
    solver = cfg.solver.method
    if solver == "auto":
        solver = "dense" if L.n <= cfg.solver.dense_max_state else "cg"
    if solver == "dense":
        sol = solve_dense(prob)
    elif solver == "cg-state":
        sol = solve_lanczos_cg(
            prob,
            tol=cfg.solver.cg_tol,
            max_vectors=cfg.solver.lanczos_max_vectors,
            min_vectors=cfg.solver.lanczos_min_vectors,
            seed=cfg.seed,
        )
    else:
        sol = solve_lanczos_cg_obs(
            prob,
            tol=cfg.solver.cg_tol,
            max_vectors=cfg.solver.lanczos_max_vectors,
            min_vectors=cfg.solver.lanczos_min_vectors,
            seed=cfg.seed,
        )
    xb = L.xb()
    xa = xb + sol.x_inc
    m = d.size
    chi2 = 2.0 * sol.cost / m
    post_var = sol.cov.diag()
    post_std = np.sqrt(post_var)
    prior_std = B.prior_std()
    ya = yb + Jo @ sol.x_inc
    yh_prior = system.y_prior
    yh_post = yh_prior + system.J @ sol.x_inc
    meta = meta.assign(observed=y, prior=yb, posterior=ya, r_std=np.sqrt(r_var))
    series = pd.DataFrame(
        {
            "time": P["time"].to_numpy(),
            "station_id": P["station_id"].to_numpy(),
            "species": P["obs_species"].to_numpy(),
            "unit": P["obs_species"].map({"CO2": "ppm", "NO2": "ppb", "VOC": "ppbC"}).to_numpy(),
            "observed": y_h,
            "prior": yh_prior,
            "posterior": yh_post,
            "used": used,
            "reason": reason,
            "measurement_error": meas,
            "model_error": model,
        }
    )
    stats = _station_stats(meta, system.stations)
    g = L.segments["grid"]
    fshape = L.grid_shape
    ur = 1.0 - post_std / np.where(prior_std > 0, prior_std, np.nan)
    factors = xr.Dataset(
        {
            "mean": (("species", "window", "block_y", "block_x"), xa[g].reshape(fshape)),
            "std": (("species", "window", "block_y", "block_x"), post_std[g].reshape(fshape)),
            "prior_std": (
                ("species", "window", "block_y", "block_x"),
                prior_std[g].reshape(fshape),
            ),
            "uncertainty_reduction": (
                ("species", "window", "block_y", "block_x"),
                ur[g].reshape(fshape),
            ),
        },
        coords={
            "species": L.species,
            "window_start": ("window", system.times.values[:: L.window_hours][: L.nw]),
        },
        attrs={"block_cells": L.block, "window_hours": L.window_hours},
    )
    ext = L.describe()
    ext["prior"] = xb[ext.index]
    ext["posterior"] = xa[ext.index]
    ext["prior_std"] = prior_std[ext.index]
    ext["posterior_std"] = post_std[ext.index]
    if len(L.point_index):
        pid = system.points["point_id"].to_numpy()
        mask = ext["segment"] == "points"
        ext.loc[mask, "key"] = [pid[int(k)] for k in ext.loc[mask, "key"]]
    neg_grid = int((xa[g] < 0).sum())
    neg_pts = int((xa[L.segments["points"]] < 0).sum())
    info = dict(sol.info)
    info["seconds_total"] = time.perf_counter() - t0
    metrics = {
        "synthetic_network": bool(system.stations.get("synthetic", pd.Series([False])).any()),
        "n_observations": int(m),
        "n_hourly_pairs_used": int(used.sum()),
        "n_excluded_calm": int((has & calm).sum()),
        "n_excluded_point_dominated": int((has & ~calm & dominated).sum()),
        "state_size": int(L.n),
        "dofs": float(sol.dofs),
        "reduced_chi2": float(chi2),
        "n_negative_factors": neg_grid + neg_pts,
        "solver": info,
        "operator": system.info(),
    }
    posterior = None
    result = InversionResult(
        posterior,
        L,
        xb,
        xa,
        prior_std,
        post_std,
        sol.cov,
        factors,
        ext,
        float(sol.dofs),
        float(chi2),
        neg_grid + neg_pts,
        system.stations.drop(columns=[c for c in ("x", "y", "row", "col") if c in system.stations]),
        stats,
        series,
        meta,
        info,
        metrics,
        system,
    )
    if build_posterior:
        result.posterior = posterior_dataset(system, result, cfg)
        for sp_ in L.species:
            ur_map = result.posterior[f"{sp_}_uncertainty_reduction"].values
            metrics[f"{sp_}_median_uncertainty_reduction_constrained"] = (
                float(np.nanmedian(ur_map[ur_map >= 0.05])) if np.any(ur_map >= 0.05) else 0.0
            )
    return result


def _station_stats(meta: pd.DataFrame, stations: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (sid, s), g in meta.groupby(["station_id", "obs_species"], sort=True):
        o, p, a = g["observed"].to_numpy(), g["prior"].to_numpy(), g["posterior"].to_numpy()

        def corr(u, v):
            return (
                float(np.corrcoef(u, v)[0, 1])
                if u.size > 2 and np.std(u) > 0 and np.std(v) > 0
                else np.nan
            )

        rows.append(
            {
                "station_id": sid,
                "species": s,
                "n_obs": int(len(g)),
                "mean_observed": float(o.mean()),
                "prior_bias": float((p - o).mean()),
                "posterior_bias": float((a - o).mean()),
                "prior_rmse": float(np.sqrt(((p - o) ** 2).mean())),
                "posterior_rmse": float(np.sqrt(((a - o) ** 2).mean())),
                "prior_r": corr(o, p),
                "posterior_r": corr(o, a),
            }
        )
    df = pd.DataFrame(rows)
    if len(df):
        st = stations.set_index("station_id")
        df["kind"] = df["station_id"].map(st["kind"])
        df["lon"] = df["station_id"].map(st["lon"])
        df["lat"] = df["station_id"].map(st["lat"])
    return df


def _cell_period_matrix(
    system: ObservationSystem, si: int, hours: np.ndarray, include_points: bool = True
) -> sp.csr_matrix:
    """Sparse ``(ncell, n_state)`` map from the state to each cell's total emission of species
    ``si`` over ``hours`` (prior × factors; area + points located in the cell)."""
    L = system.layout
    hw = L.hour_window()[hours]
    cb = L.cell_block()
    rows, cols, vals = [], [], []
    for w in np.unique(hw):
        e = system.E[si][hours[hw == w]].sum(axis=0, dtype=np.float64)
        nz = np.flatnonzero(e)
        rows.append(nz)
        cols.append(L.grid_col(si, w, cb[nz]))
        vals.append(e[nz])
    M = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(system.ncell, L.n),
    )
    if include_points and len(system.points):
        M = M + _point_cell_indicator(system) @ _point_period_matrix(system, si, hours)
    return sp.csr_matrix(M)


def _point_cell_indicator(system: ObservationSystem) -> sp.csr_matrix:
    """``(ncell, n_points)`` 0/1 matrix: the cell each point source lies in."""
    n = len(system.points)
    return sp.csr_matrix((np.ones(n), (system.point_cells, np.arange(n))), shape=(system.ncell, n))


def _point_period_matrix(system: ObservationSystem, si: int, hours: np.ndarray) -> sp.csr_matrix:
    """Sparse ``(n_points, n_state)`` map from the state to each point source's emission of
    species ``si`` over ``hours``: its own factor if it is one of the largest, else the grid
    factor of its cell's block (per window)."""
    L = system.layout
    npt = len(system.points)
    hw = L.hour_window()[hours]
    cb = L.cell_block()
    pcell = system.point_cells
    own = np.full(npt, -1)
    own[L.point_index] = np.arange(L.point_index.size)
    small = own < 0
    rows, cols, vals = [], [], []
    for w in np.unique(hw):
        ep = system.Ep[si][hours[hw == w]].sum(axis=0, dtype=np.float64)
        rows.append(np.flatnonzero(small))
        cols.append(L.grid_col(si, w, cb[pcell[small]]))
        vals.append(ep[small])
        rows.append(np.flatnonzero(~small))
        cols.append(L.segments["points"].start + si * L.point_index.size + own[~small])
        vals.append(ep[~small])
    M = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(npt, L.n)
    )
    M.sum_duplicates()
    return M


def _time_hours(system: ObservationSystem, time_slice: Any) -> np.ndarray:
    if time_slice is None:
        return np.arange(system.nt)
    if isinstance(time_slice, slice) and (
        isinstance(time_slice.start, int | type(None))
        and isinstance(time_slice.stop, int | type(None))
    ):
        return np.arange(system.nt)[time_slice]
    if isinstance(time_slice, slice):
        s = pd.Series(np.arange(system.nt), index=system.times)
        return s.loc[time_slice].to_numpy()
    return np.asarray(time_slice, dtype=np.int64)


def unit_total_std(
    result: InversionResult,
    F: sp.spmatrix,
    species: str,
    time_slice: Any = None,
    point_unit: np.ndarray | None = None,
) -> np.ndarray:
    """Posterior standard deviation (kg) of the emission totals of units over a time slice.

    ``σ²_u = c_uᵀ diag(e) P diag(e) c_u`` where ``c_u`` holds unit u's coverage fractions of
    the cells (row u of ``F``) and its point sources, ``e`` the prior emission of the cells
    and point sources summed per state window, and P the full posterior covariance of the
    factors (dense, or prior plus low-rank from the Lanczos vectors) — correlations between
    cells, windows, species and the point factors are kept, never assumed independent.

    Parameters
    ----------
    result : InversionResult
    F : scipy.sparse matrix ``(n_units, n_cells)``
        Coverage fractions (``gridcarbon.grids.coverage.coverage_matrix``).
    species : {"CO2", "NOx", "VOC"}
    time_slice : None, slice of timestamps (UTC), slice of ints, or array of hour indices
        Hours of the period summed (None = the whole period).
    point_unit : ndarray ``(n_points,)`` of int, optional
        Unit index of each point source of the prior (−1: in no unit), as assigned by
        point-in-polygon (``gridcarbon.zoning.assign_points``). Without it, point sources are
        spread like area sources, by the coverage fraction of the cell they lie in.

    Returns
    -------
    ndarray ``(n_units,)``, kg over the slice.
    """
    system = result.system
    if system is None:
        raise InputDataError(
            "this InversionResult carries no observation system (was it loaded from disk?)"
        )
    if species not in result.layout.species:
        raise InputDataError(
            f"species {species!r} is not in the inversion ({result.layout.species})"
        )
    F = sp.csr_matrix(F)
    if F.shape[1] != system.ncell:
        raise InputDataError(f"F has {F.shape[1]} columns but the grid has {system.ncell} cells")
    hours = _time_hours(system, time_slice)
    si = result.layout.species.index(species)
    if point_unit is None:
        A = F @ _cell_period_matrix(system, si, hours)
    else:
        point_unit = np.asarray(point_unit, dtype=np.int64)
        if point_unit.shape != (len(system.points),):
            raise InputDataError(
                f"point_unit has shape {point_unit.shape} but the inversion has "
                f"{len(system.points)} point sources"
            )
        bad = (point_unit < -1) | (point_unit >= F.shape[0])
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputDataError(
                f"point_unit[{i}] = {point_unit[i]} is not a unit index (0..{F.shape[0] - 1}) "
                "or -1 for a point source in no unit"
            )
        inside = np.flatnonzero(point_unit >= 0)
        assign = sp.csr_matrix(
            (np.ones(inside.size), (point_unit[inside], inside)),
            shape=(F.shape[0], len(system.points)),
        )
        A = F @ _cell_period_matrix(system, si, hours, include_points=False)
        if len(system.points):
            A = A + assign @ _point_period_matrix(system, si, hours)
    return np.sqrt(result.covariance.aggregate_var(A))


def cell_period_stats(
    system: ObservationSystem,
    result_cov: PosteriorCovariance,
    x: np.ndarray,
    si: int,
    hours: np.ndarray | None = None,
    include_points: bool = True,
) -> dict[str, np.ndarray]:
    """Per cell: prior total, posterior total, posterior std and prior std of the total (kg);
    area sources only, or plus the point sources located in the cell."""
    hours = np.arange(system.nt) if hours is None else hours
    M = _cell_period_matrix(system, si, hours, include_points=include_points)
    prior_tot = M @ system.layout.xb()
    post_tot = M @ x
    post_std = np.sqrt(_fast_cell_var(system, result_cov, M, si))
    prior_std = np.sqrt(_fast_cell_var(system, None, M, si, prior=result_cov.B))
    return {
        "prior": prior_tot,
        "posterior": post_tot,
        "posterior_std": post_std,
        "prior_std": prior_std,
    }


def _fast_cell_var(
    system: ObservationSystem,
    cov: PosteriorCovariance | None,
    M: sp.csr_matrix,
    si: int,
    prior: PriorCovariance | None = None,
) -> np.ndarray:
    """diag(M P Mᵀ) for cell-total rows whose grid part lies in one block (closed-form B part)."""
    L = system.layout
    B = cov.B if cov is not None else prior
    g = L.segments["grid"]
    Mg = M[:, g.start : g.stop].tocsr()
    # B part of grid: sigma² * a_wᵀ Ct a_w (same block and species)
    nb = L.nby * L.nbx
    coo = Mg.tocoo()
    w = (coo.col // nb) % L.nw
    Aw = sp.csr_matrix((coo.data, (coo.row, w)), shape=(M.shape[0], L.nw)).toarray()
    var = B.sigma**2 * np.einsum("iw,wv,iv->i", Aw, B.Ct, Aw)
    Mp = M[:, g.stop :].tocsr()
    if Mp.nnz:
        # rows hold one species, so the species correlation does not enter: the extra
        # unknowns are independent within a species
        var = var + np.asarray(Mp.multiply(Mp) @ (B.sd[g.stop :] ** 2)).ravel()
    if cov is not None:
        if cov.P is not None:
            return np.asarray((M.multiply(M @ cov.P)).sum(axis=1)).ravel()
        if cov.W is not None and cov.W.shape[1]:
            MW = np.asarray(M.astype(cov.W.dtype) @ cov.W, dtype=np.float64)
            var = var + (MW**2) @ cov.mu
    return np.clip(var, 0, None)


def posterior_dataset(
    system: ObservationSystem, result: InversionResult, cfg: InversionConfig
) -> xr.Dataset:
    """Posterior emission Dataset (prior × factors) with per-cell posterior std."""
    from gridcarbon.grids.dataset import emission_dataset

    L = result.layout
    g = L.segments["grid"]
    xa = result.x_post
    fmean = xa[g].reshape(L.grid_shape)
    fstd = result.post_std[g].reshape(L.grid_shape)
    cb = L.cell_block()
    hw = L.hour_window()
    by, bx = np.divmod(cb, L.nbx)
    area, extra = {}, {}
    point_em = {}
    gs = system.grid
    for si, s in enumerate(L.species):
        f = fmean[si][hw][:, by, bx]  # (nt, ncell)
        fs = fstd[si][hw][:, by, bx]
        fpos = np.clip(f, 0, None) if cfg.solver.negative_factors == "clip" else f
        area[s] = (system.E[si] * fpos).reshape(system.nt, *gs.shape).astype(np.float32)
        extra[f"{s}_std"] = (system.E[si] * fs).reshape(system.nt, *gs.shape).astype(np.float32)
        if len(system.points):
            pcell = system.point_cells
            pf = fmean[si][hw][:, by[pcell], bx[pcell]]
            pfs = fstd[si][hw][:, by[pcell], bx[pcell]]
            if len(L.point_index):
                ps = (
                    L.segments["points"].start
                    + si * L.point_index.size
                    + np.arange(L.point_index.size)
                )
                pf[:, L.point_index] = xa[ps][None, :]
                pfs[:, L.point_index] = result.post_std[ps][None, :]
            pfp = np.clip(pf, 0, None) if cfg.solver.negative_factors == "clip" else pf
            point_em[s] = (system.Ep[si] * pfp).astype(np.float32)
            extra[f"{s}_point_std"] = (system.Ep[si] * pfs).astype(np.float32)
    pts = None
    if len(system.points) and system._prior_points is not None:
        pts = system._prior_points
    attrs = dict(system.prior_attrs)
    attrs.update(
        {
            "title": "gridcarbon posterior emission grids (prior x inversion scaling factors)",
            "inversion": json.dumps(
                {
                    "dofs": result.dofs,
                    "reduced_chi2": result.reduced_chi2,
                    "n_observations": result.metrics["n_observations"],
                    "state_size": L.n,
                    "n_negative_factors": result.n_negative,
                    "negative_factors": cfg.solver.negative_factors,
                }
            ),
            "inversion_config": json.dumps(cfg.model_dump(mode="json")),
        }
    )
    ds = emission_dataset(
        gs,
        system.times,
        area,
        points=pts,
        point_emissions=point_em if pts is not None else None,
        region_fraction=system.region_fraction.reshape(gs.shape),
        attrs=attrs,
    )
    for k, v in extra.items():
        dims = ("time", "y", "x") if v.ndim == 3 else ("time", "point")
        if dims[1] == "point" and "point" not in ds.dims:
            continue
        ds[k] = (
            dims,
            v,
            {
                "long_name": f"posterior 1-sigma of {k[:-4]}",
                "units": "kg h-1",
                "grid_mapping": "crs",
            }
            if dims[1] == "y"
            else {"long_name": f"posterior 1-sigma of {k[:-4]}", "units": "kg h-1"},
        )
    # per-cell period statistics
    for si, s in enumerate(L.species):
        st = cell_period_stats(system, result.covariance, xa, si)
        with np.errstate(invalid="ignore", divide="ignore"):
            ur = np.where(st["prior_std"] > 0, 1 - st["posterior_std"] / st["prior_std"], np.nan)
            fac = np.where(st["prior"] > 0, st["posterior"] / st["prior"], np.nan)
        ds[f"{s}_uncertainty_reduction"] = (
            ("y", "x"),
            ur.reshape(gs.shape).astype(np.float32),
            {
                "long_name": f"uncertainty reduction 1 - sigma_post/sigma_prior of the period total of {s}",
                "units": "1",
                "grid_mapping": "crs",
            },
        )
        ds[f"{s}_factor"] = (
            ("y", "x"),
            fac.reshape(gs.shape).astype(np.float32),
            {
                "long_name": f"posterior / prior period total of {s} (area + point sources)",
                "units": "1",
                "grid_mapping": "crs",
            },
        )
    return ds


def invert(
    prior: xr.Dataset,
    observations: pd.DataFrame,
    stations: pd.DataFrame,
    met: xr.Dataset,
    config: InversionConfig | None = None,
) -> InversionResult:
    """Invert observations against a prior.

    Parameters
    ----------
    prior : xr.Dataset
        Prior emission Dataset (``build_prior``).
    observations : DataFrame
        Long observation table, checked and converted by
        :func:`~gridcarbon.inversion.observations.normalise_observations` (stamps without a UTC
        offset are read in ``config.observation_time_zone``; a normalised table passes as it is).
    stations : DataFrame
        Station table.
    met : xr.Dataset
        Met on a lon/lat grid covering the stations and the period.
    config : InversionConfig, optional
    """
    cfg = InversionConfig() if config is None else config
    obs = normalise_observations(
        observations,
        validate_stations(stations),
        cfg.observation_time_zone,
        cfg.chemistry.voc_molar_mass_per_carbon,
        magnitude_check=cfg.observation_magnitude_check,
    )
    system = ObservationSystem(prior, stations, met, cfg)
    return assimilate(system, obs)
