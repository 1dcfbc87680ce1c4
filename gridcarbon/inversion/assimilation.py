"""The Bayesian inversion: observations of one or more types + an observation system →
posterior state and statistics (:class:`AssimilationResult`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
import xarray as xr

from gridcarbon.config.inversion import InversionConfig, SolverConfig
from gridcarbon.contracts import ObservationSet, ObservationType
from gridcarbon.errors import InputDataError
from gridcarbon.inversion.innovations import bounded_scaling, desroziers_statistics
from gridcarbon.inversion.observation_types import StationHourObservations
from gridcarbon.inversion.outputs import posterior_dataset
from gridcarbon.inversion.solvers import (
    BlockRowJacobian,
    CorrelatedErrors,
    PosteriorCovariance,
    Problem,
    Solution,
    solve_dense,
    solve_lanczos_cg,
    solve_lanczos_cg_obs,
)
from gridcarbon.inversion.state import PriorCovariance, StateLayout
from gridcarbon.inversion.system import ObservationSystem

__all__ = [
    "AssimilationResult",
    "assimilate",
    "observation_kinds",
    "solve",
    "innovation_groups",
    "SERIES_COLUMNS",
    "INNOVATION_COLUMNS",
]

log = logging.getLogger(__name__)

#: Columns of the hourly fit at the stations (``station_series``).
SERIES_COLUMNS = (
    "time",
    "station_id",
    "species",
    "unit",
    "observed",
    "prior",
    "posterior",
    "used",
    "reason",
    "measurement_error",
    "model_error",
)

#: Columns of the innovation statistics (``innovation_statistics.csv``): per observation type,
#: observed quantity and station class, the number of observations, the mean R variance used
#: in the last solve, the Desroziers estimate mean(d_a d_b) and ratio mean(d_a d_b / R_ii),
#: the same for H B Hᵀ, the innovation χ², the cumulative factor applied to the group's R,
#: whether it sits at a bound and whether the group was rescaled.
INNOVATION_COLUMNS = (
    "observation_type",
    "species",
    "station_class",
    "n",
    "mean_r",
    "desroziers_r",
    "r_ratio",
    "mean_hbh",
    "desroziers_hbh",
    "hbh_ratio",
    "chi2",
    "r_scale",
    "r_scale_at_bound",
    "rescaled",
)


@dataclass
class AssimilationResult:
    """What :func:`assimilate` returns (documented in ``docs/inversion.md``).

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
        Posterior covariance of the state (dense or prior + low-rank); σ of emission totals:
        :class:`~gridcarbon.inversion.posterior.TotalsCovariance`.
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
        The assimilated observations of every type (after aggregation): ``observation_type``,
        ``station_id``, ``species``, ``observed``, ``prior``, ``posterior``, ``r_std``.
    solver : dict
        Solver name, iterations, timings, sizes.
    metrics : dict
        Summary figures (sizes, DOFS, χ², totals), JSON-ready; with
        ``errors.innovation_tuning`` the applied R factors (``innovation_tuning``).
    innovation_statistics : DataFrame or None
        With ``errors.innovation_tuning`` or ``errors.innovation_statistics``: the Desroziers
        statistics per group of observations after the last solve
        (:data:`INNOVATION_COLUMNS`); None otherwise.
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
    kinds: tuple[ObservationType, ...] = ()
    innovation_statistics: pd.DataFrame | None = None


def observation_kinds(
    observations: ObservationSet | ObservationType | Sequence[ObservationType] | pd.DataFrame,
) -> tuple[ObservationType, ...]:
    """The observation types of ``observations``: an ObservationSet's kinds, one type, a
    sequence of types, or a table of station-hour observations."""
    if isinstance(observations, ObservationSet):
        kinds = tuple(observations.kinds)
    elif isinstance(observations, pd.DataFrame):
        kinds = (StationHourObservations(observations),)
    elif isinstance(observations, ObservationType):
        kinds = (observations,)
    else:
        kinds = tuple(observations)
    if not kinds:
        raise InputDataError("no observations to assimilate")
    for k in kinds:
        if not isinstance(k, ObservationType):
            raise InputDataError(
                f"{k!r} is not an observation type (name, table, assimilated, jacobian_block, "
                "error_variance; gridcarbon.contracts.ObservationType)"
            )
    return kinds


def _error_covariance(
    system: ObservationSystem, kinds: tuple[ObservationType, ...], variances: list[np.ndarray]
) -> CorrelatedErrors | None:
    """R of all kinds when a kind's errors are correlated (its optional
    ``error_covariance(system)`` gives a matrix), block diagonal between kinds; None when
    every kind's R is diagonal."""
    parts = [getattr(k, "error_covariance", lambda _: None)(system) for k in kinds]
    if all(p is None for p in parts):
        return None
    blocks = [
        sp.diags(v) if p is None else sp.csr_matrix(p)
        for p, v in zip(parts, variances, strict=True)
    ]
    return CorrelatedErrors(sp.block_diag(blocks, format="csr"))


def _stack(
    system: ObservationSystem, kinds: tuple[ObservationType, ...]
) -> tuple[pd.DataFrame, sp.csr_matrix | BlockRowJacobian, np.ndarray, CorrelatedErrors | None]:
    """Rows, H and R of all kinds: H = vstack of their blocks, R block-diagonal (its diagonal,
    and the correlated R when a kind has one).

    A kind with a ``jacobian_operator(system)`` (a :class:`BlockRowJacobian`: its rows kept as
    sparse rows and a blockwise transform, e.g. whitened satellite overpasses) gives its block
    in that form, and H is then a BlockRowJacobian too; it equals ``jacobian_block``.
    """
    rows, blocks, variances = [], [], []
    n = system.layout.n
    for k in kinds:
        table = k.assimilated(system)
        operator = getattr(k, "jacobian_operator", None)
        block = (
            operator(system) if operator is not None else sp.csr_matrix(k.jacobian_block(system))
        )
        r_var = np.asarray(k.error_variance(system), dtype=np.float64)
        m = len(table)
        if block.shape != (m, n) or r_var.shape != (m,):
            raise InputDataError(
                f"observation type {k.name!r}: {m} assimilated rows, but its block of H is "
                f"{block.shape} and its error variances {r_var.shape}; expected ({m}, {n}) "
                f"and ({m},)"
            )
        if not (np.all(np.isfinite(r_var)) and np.all(r_var > 0)):
            raise InputDataError(
                f"observation type {k.name!r}: error variances must be finite and > 0"
            )
        rows.append(table.assign(observation_type=k.name))
        blocks.append(block)
        variances.append(r_var)
    R = _error_covariance(system, kinds, variances)
    if len(kinds) == 1:
        return rows[0], blocks[0], variances[0], R
    table = pd.concat(rows, ignore_index=True)
    if any(isinstance(b, BlockRowJacobian) for b in blocks):
        return table, BlockRowJacobian.stack(blocks), np.concatenate(variances), R
    return table, sp.vstack(blocks, format="csr"), np.concatenate(variances), R


def solve(prob: Problem, solver: SolverConfig, *, seed: int) -> Solution:
    """Solve ``prob`` with the method of ``solver`` (``auto``: dense up to
    ``solver.dense_max_state`` unknowns, else Lanczos–CG in observation space); ``seed`` seeds
    the Lanczos start vectors."""
    method = solver.method
    if method == "auto":
        method = "dense" if prob.J.shape[1] <= solver.dense_max_state else "cg"
    if method == "dense":
        return solve_dense(prob)
    lanczos = solve_lanczos_cg if method == "cg-state" else solve_lanczos_cg_obs
    return lanczos(
        prob,
        tol=solver.cg_tol,
        max_vectors=solver.lanczos_max_vectors,
        min_vectors=solver.lanczos_min_vectors,
        seed=seed,
    )


def assimilate(
    system: ObservationSystem,
    observations: ObservationSet | ObservationType | Sequence[ObservationType] | pd.DataFrame,
    *,
    prior_covariance: PriorCovariance | None = None,
    solver: SolverConfig | None = None,
    build_posterior: bool = True,
) -> AssimilationResult:
    """Invert ``observations`` with a prepared system.

    Parameters
    ----------
    system : ObservationSystem
    observations : ObservationSet, ObservationType, sequence of them, or DataFrame
        The kinds to assimilate together (:func:`observation_kinds`); a DataFrame is a table of
        station-hour observations (``time`` UTC, ``station_id``, ``species``, ``value``,
        ``uncertainty``, canonical units).
    prior_covariance : PriorCovariance, optional
        Another B (e.g. without cross-species correlation); default the system's.
    solver : SolverConfig, optional
        Another solver section; default the system's configuration.
    build_posterior : bool
        Build the posterior emission Dataset (the OSSE skips it and uses factors directly).
    """
    t0 = time.perf_counter()
    cfg = system.config if solver is None else system.config.model_copy(update={"solver": solver})
    B = system.B if prior_covariance is None else prior_covariance
    L = system.layout
    kinds = observation_kinds(observations)
    meta, Jo, r_var, R = _stack(system, kinds)
    y = meta["observed"].to_numpy(float)
    yb = meta["prior"].to_numpy(float)
    d = y - yb
    sol = solve(Problem(Jo, d, r_var, B, R), cfg.solver, seed=cfg.seed)
    innovation_table = None
    tuning_metrics: dict | None = None
    if cfg.errors.innovation_tuning != "off" or cfg.errors.innovation_statistics:
        sol, r_var, innovation_table, tuning_metrics = _innovation_tuning(
            system, kinds, meta, Jo, d, r_var, B, R, sol, cfg
        )
    xb = L.xb()
    xa = xb + sol.x_inc
    m = d.size
    chi2 = 2.0 * sol.cost / m
    post_var = sol.cov.diag()
    post_std = np.sqrt(post_var)
    prior_std = B.prior_std()
    ya = yb + Jo @ sol.x_inc
    meta = meta.assign(observed=y, prior=yb, posterior=ya, r_std=np.sqrt(r_var))
    station_hours = [k for k in kinds if isinstance(k, StationHourObservations)]
    series = _series(system, station_hours, sol.x_inc)
    counts = {"n_hourly_pairs_used": 0, "n_excluded_calm": 0, "n_excluded_point_dominated": 0}
    for k in station_hours:
        for name, value in k.match(system).counts.items():
            counts[name] = counts.get(name, 0) + value
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
        **counts,
        "state_size": int(L.n),
        "dofs": float(sol.dofs),
        "reduced_chi2": float(chi2),
        "n_negative_factors": neg_grid + neg_pts,
        "solver": info,
        "operator": system.info(),
        "n_observations_by_type": {
            k.name: int((meta["observation_type"] == k.name).sum()) for k in kinds
        },
    }
    if tuning_metrics is not None:
        metrics["innovation_tuning"] = tuning_metrics
    posterior = None
    result = AssimilationResult(
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
        kinds,
        innovation_table,
    )
    if build_posterior:
        result.posterior = posterior_dataset(system, result, cfg)
        for sp_ in L.species:
            ur_map = result.posterior[f"{sp_}_uncertainty_reduction"].values
            metrics[f"{sp_}_median_uncertainty_reduction_constrained"] = (
                float(np.nanmedian(ur_map[ur_map >= 0.05])) if np.any(ur_map >= 0.05) else 0.0
            )
    return result


def innovation_groups(meta: pd.DataFrame) -> np.ndarray:
    """The group of each assimilated row for the innovation statistics:
    ``<observation type>|<observed quantity>|<station class>`` (the class empty when the type
    has none)."""
    n = len(meta)
    kind = meta["kind"].astype(str).to_numpy() if "kind" in meta else np.full(n, "")
    otype = (
        meta["observation_type"].astype(str).to_numpy()
        if "observation_type" in meta
        else np.full(n, "")
    )
    quantity = meta["species"].astype(str).to_numpy()
    return np.array(
        ["|".join(parts) for parts in zip(otype, quantity, kind, strict=True)], dtype=object
    )


def _hbh_variance(
    system: ObservationSystem, kinds: tuple[ObservationType, ...], B: PriorCovariance
) -> np.ndarray:
    """diag(H B Hᵀ) of the assimilated rows of every kind (the materialised blocks of H)."""
    H = sp.vstack([sp.csr_matrix(k.jacobian_block(system)) for k in kinds], format="csr")
    return B.aggregate_var(H)


def _innovation_tuning(
    system: ObservationSystem,
    kinds: tuple[ObservationType, ...],
    meta: pd.DataFrame,
    Jo: sp.csr_matrix | BlockRowJacobian,
    d: np.ndarray,
    r_var: np.ndarray,
    B: PriorCovariance,
    R: CorrelatedErrors | None,
    sol: Solution,
    cfg: InversionConfig,
) -> tuple[Solution, np.ndarray, pd.DataFrame, dict | None]:
    """``errors.innovation_tuning`` 'desroziers': rescale R per group by the Desroziers ratio
    and solve again, ``errors.innovation_iterations`` times; then the statistics per group
    after the last solve (with diag(HBHᵀ) when ``errors.innovation_statistics``).

    Returns the last solution, its R variances, the statistics table and the metrics of the
    tuning (None when only the statistics were asked)."""
    e = cfg.errors
    groups = innovation_groups(meta)
    keys = list(dict.fromkeys(groups.tolist()))
    factors: dict = {k: 1.0 for k in keys}
    left: list = []
    r_used = r_var
    if e.innovation_tuning == "desroziers":
        for it in range(e.innovation_iterations):
            stats = desroziers_statistics(d, d - Jo @ sol.x_inc, r_used, groups)
            factors, left = bounded_scaling(
                {k: v["r_ratio"] for k, v in stats.items()},
                {k: v["n"] for k, v in stats.items()},
                factors,
                e.innovation_scale_bounds,
                e.innovation_min_observations,
            )
            if it == 0:
                for k in left:
                    log.info(
                        "innovation tuning: group %s has %d observations (fewer than "
                        "errors.innovation_min_observations = %d) or no usable ratio: its R "
                        "is left unscaled",
                        k,
                        int(stats[k]["n"]),
                        e.innovation_min_observations,
                    )
            scale = np.array([factors[k] for k in groups], dtype=np.float64)
            r_used = r_var * scale
            R_k = None if R is None else R.scaled(scale)
            sol = solve(Problem(Jo, d, r_used, B, R_k), cfg.solver, seed=cfg.seed)
            log.info(
                "innovation tuning pass %d: R factors %s",
                it + 1,
                {k: round(v, 3) for k, v in factors.items()},
            )
    hbh = _hbh_variance(system, kinds, B) if e.innovation_statistics else None
    stats = desroziers_statistics(d, d - Jo @ sol.x_inc, r_used, groups, hbh)
    lo, hi = e.innovation_scale_bounds
    rows = []
    for k in keys:
        otype, quantity, kind = k.split("|", 2)
        f = factors[k]
        rows.append(
            {
                "observation_type": otype,
                "species": quantity,
                "station_class": kind,
                **stats[k],
                "r_scale": f,
                "r_scale_at_bound": bool(f <= lo or f >= hi) and k not in left,
                "rescaled": e.innovation_tuning != "off" and k not in left,
            }
        )
    table = pd.DataFrame(rows, columns=list(INNOVATION_COLUMNS))
    table["n"] = table["n"].astype(int)
    if e.innovation_tuning == "off":
        return sol, r_used, table, None
    tuning = {
        "method": e.innovation_tuning,
        "iterations": int(e.innovation_iterations),
        "scale_bounds": [float(lo), float(hi)],
        "min_observations": int(e.innovation_min_observations),
        "r_scale": {k: float(factors[k]) for k in keys},
        "r_ratio_after": {k: float(stats[k]["r_ratio"]) for k in keys},
        "left_unscaled": [str(k) for k in left],
    }
    return sol, r_used, table, tuning


def _series(
    system: ObservationSystem, kinds: list[StationHourObservations], x_increment: np.ndarray
) -> pd.DataFrame:
    """The hourly fit at the stations (empty without station-hour observations)."""
    parts = [k.series(system, x_increment) for k in kinds]
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return pd.DataFrame(columns=list(SERIES_COLUMNS))
    return pd.concat(parts, ignore_index=True)


def _station_stats(meta: pd.DataFrame, stations: pd.DataFrame) -> pd.DataFrame:
    """Fit per station (or observed place) and quantity; ``kind``, ``lon``, ``lat`` from the
    station table, or from the rows of an observation type that observes elsewhere."""
    rows = []
    for (sid, s), g in meta.groupby(["station_id", "species"], sort=True):
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
        own = meta.groupby("station_id").first()
        for column in ("kind", "lon", "lat"):
            df[column] = df["station_id"].map(st[column])
            if column in own and df[column].isna().any():
                df[column] = df[column].fillna(df["station_id"].map(own[column]))
    return df
