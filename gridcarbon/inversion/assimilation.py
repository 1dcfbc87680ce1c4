"""The Bayesian inversion: observations + observation system → posterior state and statistics."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from gridcarbon.config.inversion import InversionConfig
from gridcarbon.errors import InputDataError
from gridcarbon.inversion.errors_model import aggregation_matrix, observation_errors
from gridcarbon.inversion.observations import normalise_observations, validate_stations
from gridcarbon.inversion.outputs import posterior_dataset
from gridcarbon.inversion.solvers import (
    PosteriorCovariance,
    Problem,
    solve_dense,
    solve_lanczos_cg,
    solve_lanczos_cg_obs,
)
from gridcarbon.inversion.state import PriorCovariance, StateLayout
from gridcarbon.inversion.system import ObservationSystem

__all__ = ["InversionResult", "invert", "assimilate"]

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
    meas, model, r_var = observation_errors(system, P, used, unc, cfg, A, meta)
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
