"""The Bayesian inversion: observations of one or more types + an observation system →
posterior state and statistics (:class:`AssimilationResult`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
import xarray as xr

from gridcarbon.config.inversion import InversionConfig, SolverConfig
from gridcarbon.contracts import ObservationSet, ObservationType
from gridcarbon.errors import ConfigError, InputDataError
from gridcarbon.inversion.column_errors import estimate_column_amf_errors
from gridcarbon.inversion.columns import COLUMN_ROW_KIND
from gridcarbon.inversion.innovations import (
    bounded_scaling,
    desroziers_prior_scale,
    desroziers_statistics,
)
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
from gridcarbon.inversion.transport_estimate import estimate_transport_errors

__all__ = [
    "AssimilationResult",
    "assimilate",
    "observation_kinds",
    "solve",
    "innovation_groups",
    "column_transport_summary",
    "SERIES_COLUMNS",
    "INNOVATION_COLUMNS",
]

log = logging.getLogger(__name__)

#: The range of the lifetime scale an outer iteration linearises the columns at
#: (``state.column_lifetime_iterations``): the lifetime between 0.2 and 3 × the chemistry's.
LIFETIME_REFERENCE_RANGE = (-0.8, 2.0)

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
#: whether it sits at a bound and whether the group was rescaled, and the factor applied to
#: the emission-factor variances of the species the group sees (``errors.prior_error_tuning``;
#: 1 when off or when the group sees no emissions).
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
    "b_scale",
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
        The non-grid unknowns (points, neighbours, biogenic, background, bias, mixing height,
        column transport): prior, posterior, prior and posterior std.
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
        ``errors.innovation_tuning`` the applied R factors (``innovation_tuning``); with
        ``state.column_transport_unknowns`` the column transport unknowns
        (``column_transport``, :func:`column_transport_summary`).
    system : ObservationSystem or None
        The system inverted.
    kinds : tuple of ObservationType
        The observation types as last assimilated (with ``state.column_lifetime_iterations``
        the columns relinearised at the final lifetime reference).
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


def _stack_and_solve(
    system: ObservationSystem,
    kinds: tuple[ObservationType, ...],
    B: PriorCovariance,
    cfg: InversionConfig,
) -> tuple:
    """Rows, H and R of ``kinds`` (:func:`_stack`), their observed and prior values, the
    innovations ``d = y − H x_b`` and the solution of the problem with ``B``."""
    meta, Jo, r_var, R = _stack(system, kinds)
    y = meta["observed"].to_numpy(float)
    yb = meta["prior"].to_numpy(float)
    d = y - yb
    sol = solve(Problem(Jo, d, r_var, B, R), cfg.solver, seed=cfg.seed)
    return meta, Jo, r_var, R, y, yb, d, sol


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
    transport_estimate = None
    if cfg.errors.transport_error_estimate != "off":
        system, transport_estimate = estimate_transport_errors(system, kinds, B)
        cfg = system.config.model_copy(update={"solver": cfg.solver})
    amf_estimate = None
    if cfg.errors.column_amf_error_estimate != "off":
        kinds, amf_estimate = estimate_column_amf_errors(system, kinds, B)
    meta, Jo, r_var, R, y, yb, d, sol = _stack_and_solve(system, kinds, B, cfg)
    lifetime_path = []
    if "lifetime_scale" in L.column_terms and cfg.state.column_lifetime_iterations:
        k_life = L.segments["column_transport"].start + L.column_terms.index("lifetime_scale")
        for _ in range(cfg.state.column_lifetime_iterations):
            scale = float(np.clip(sol.x_inc[k_life], *LIFETIME_REFERENCE_RANGE))
            lifetime_path.append(scale)
            kinds = tuple(
                k.at_lifetime(scale)
                if callable(getattr(k, "at_lifetime", None))
                and getattr(getattr(k, "species", None), "name", None)
                == cfg.chemistry.reactive_species
                else k
                for k in kinds
            )
            meta, Jo, r_var, R, y, yb, d, sol = _stack_and_solve(system, kinds, B, cfg)
    innovation_table = None
    tuning_metrics: dict | None = None
    e = cfg.errors
    if e.innovation_tuning != "off" or e.prior_error_tuning != "off" or e.innovation_statistics:
        sol, r_var, B, innovation_table, tuning_metrics = _innovation_tuning(
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
    if transport_estimate is not None:
        metrics["transport_error_estimate"] = transport_estimate
    if amf_estimate is not None:
        metrics["column_amf_error_estimate"] = amf_estimate
    if L.column_terms:
        metrics["column_transport"] = column_transport_summary(
            L, xa, prior_std, post_std, cfg.state.column_lifetime_prior_error, lifetime_path
        )
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


def column_transport_summary(
    layout: StateLayout,
    x: np.ndarray,
    prior_std: np.ndarray,
    post_std: np.ndarray,
    lifetime_step: float,
    lifetime_references: Sequence[float] = (),
) -> dict[str, dict]:
    """The posterior column transport unknowns (``state.column_transport_unknowns``), each
    with its prior and posterior 1-σ and a flag when it leaves the range where its linear
    column can be trusted; each flag is also logged as a warning.

    Parameters
    ----------
    layout : StateLayout
    x, prior_std, post_std : ndarray ``(n,)``
        Posterior state and the prior and posterior 1-σ, dimensionless for these unknowns.
    lifetime_step : float
        The relative step ``h`` of the lifetime's central difference
        (``state.column_lifetime_prior_error``).
    lifetime_references : sequence of float
        The lifetime scales the columns were linearised at by the outer iterations
        (``state.column_lifetime_iterations``), in order; empty: once, at 0.

    Returns
    -------
    dict
        Term → ``posterior``, ``prior_std``, ``posterior_std`` (relative changes) and
        ``outside_linear_range`` (bool): at or below −1 for every term (a negative column
        enhancement or lifetime cannot be), and for the lifetime outside the span of its last
        central difference, ``(1 + c₀)(1 ± h) − 1``; the lifetime also gives
        ``linearised_at`` (the references).
    """
    seg = layout.segments["column_transport"]
    c0 = float(lifetime_references[-1]) if len(lifetime_references) else 0.0
    out = {}
    for i, term in enumerate(layout.column_terms):
        k = seg.start + i
        value = float(x[k])
        span = (-1.0, np.inf)
        if term == "lifetime_scale":
            span = ((1 + c0) * (1 - lifetime_step) - 1, (1 + c0) * (1 + lifetime_step) - 1)
        outside = value <= -1.0 or not span[0] <= value <= span[1]
        if outside:
            log.warning(
                "column transport unknown %s = %+.2f (prior 0 ± %.2f, posterior σ %.2f) lies "
                "outside the range its linearised column holds for (%s): the columns' "
                "mismatch with the operator is larger than these unknowns represent, so read "
                "the posterior near the column plumes with care",
                term,
                value,
                prior_std[k],
                post_std[k],
                "above −1" if np.isinf(span[1]) else f"{span[0]:+.2f} to {span[1]:+.2f}",
            )
        out[term] = {
            "posterior": value,
            "prior_std": float(prior_std[k]),
            "posterior_std": float(post_std[k]),
            "outside_linear_range": bool(outside),
        }
        if term == "lifetime_scale":
            out[term]["linearised_at"] = [0.0, *map(float, lifetime_references)]
    return out


def innovation_groups(
    meta: pd.DataFrame, column_groups: Literal["overpass", "product"] = "overpass"
) -> np.ndarray:
    """The group of each assimilated row for the innovation statistics:
    ``<observation type>|<observed quantity>|<station class>`` (the class empty when the type
    has none).  A column overpass is an observation type of its own; with ``column_groups``
    'product' every column row of one observed quantity has the type ``columns`` instead
    (``errors.innovation_column_groups``)."""
    n = len(meta)
    kind = meta["kind"].astype(str).to_numpy() if "kind" in meta else np.full(n, "")
    otype = (
        meta["observation_type"].astype(str).to_numpy()
        if "observation_type" in meta
        else np.full(n, "")
    )
    if column_groups == "product":
        otype = np.where(kind == COLUMN_ROW_KIND, "columns", otype)
    elif column_groups != "overpass":
        raise ConfigError(
            f"innovation column groups {column_groups!r}: give 'overpass' or 'product'"
        )
    quantity = meta["species"].astype(str).to_numpy()
    return np.array(
        ["|".join(parts) for parts in zip(otype, quantity, kind, strict=True)], dtype=object
    )


def _is_column_group(group: str) -> bool:
    """Whether an innovation group (:func:`innovation_groups`) holds satellite-column rows."""
    return group.rsplit("|", 1)[-1] == COLUMN_ROW_KIND


def _materialised_jacobian(
    system: ObservationSystem, kinds: tuple[ObservationType, ...]
) -> sp.csr_matrix:
    """H of the assimilated rows of every kind as one sparse matrix (the materialised blocks)."""
    return sp.vstack([sp.csr_matrix(k.jacobian_block(system)) for k in kinds], format="csr")


def _row_species(H: sp.csr_matrix, B: PriorCovariance) -> np.ndarray:
    """The species whose emission factors each row of H sees (−1: none).  A row that sees
    two species' emissions has no single scale and is refused."""
    col_species = B.emission_species()
    ns = B.layout.ns
    sees = (
        abs(H)
        @ sp.csr_matrix(
            (
                np.ones(int((col_species >= 0).sum())),
                (np.flatnonzero(col_species >= 0), col_species[col_species >= 0]),
            ),
            shape=(H.shape[1], ns),
        )
    ).toarray() > 0
    many = sees.sum(axis=1) > 1
    if many.any():
        raise InputDataError(
            f"errors.prior_error_tuning: {int(many.sum())} observation rows see the emissions "
            "of more than one species, so no per-species scale of B can be estimated from "
            "them; set errors.prior_error_tuning 'off'"
        )
    return np.where(sees.any(axis=1), sees.argmax(axis=1), -1)


def _prior_ratios(
    Jo: sp.csr_matrix | BlockRowJacobian,
    sol: Solution,
    d: np.ndarray,
    r_used: np.ndarray,
    hbh_e: np.ndarray,
    emission: np.ndarray,
    row_species: np.ndarray,
    b_factors: dict,
) -> dict:
    """Desroziers ratio of each species' emission part of B after the analysis ``sol``, from
    the emission increment seen at each row (``desroziers_prior_scale``); ``hbh_e`` is the
    emission part of diag(HBHᵀ) at factor 1, ``emission`` the 0/1 mask of its elements."""
    seen = row_species >= 0
    increment = Jo @ (sol.x_inc * emission)
    scale_now = np.array([b_factors[s] for s in row_species[seen]])
    return desroziers_prior_scale(
        d[seen], increment[seen], r_used[seen], hbh_e[seen] * scale_now, row_species[seen]
    )


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
) -> tuple[Solution, np.ndarray, PriorCovariance, pd.DataFrame, dict | None]:
    """``errors.innovation_tuning`` and ``errors.prior_error_tuning`` 'desroziers': rescale R
    per group and each species' emission-factor variances in B by their Desroziers ratios of
    the last analysis, and solve again, ``errors.innovation_iterations`` times; then the
    statistics per group after the last solve (with diag(HBHᵀ) when
    ``errors.innovation_statistics``).

    Returns the last solution, its R variances and B, the statistics table and the metrics of
    the tuning (None when only the statistics were asked)."""
    e = cfg.errors
    groups = innovation_groups(meta, e.innovation_column_groups)
    keys = list(dict.fromkeys(groups.tolist()))
    # With the scope 'columns' the stations' groups are never offered for rescaling, and
    # without a column row there is nothing to tune: no second solve.
    tunable = [k for k in keys if e.innovation_tuning_scope == "all" or _is_column_group(k)]
    tune_r = e.innovation_tuning == "desroziers" and bool(tunable)
    tune_b = e.prior_error_tuning == "desroziers"
    factors: dict = {k: 1.0 for k in keys}
    left: list = []
    species = list(B.layout.species)
    b_factors: dict = {s: 1.0 for s in range(len(species))}
    b_left: list = []
    r_used, B_used = r_var, B
    H = hbh_e = hbh_o = row_species = emission = None
    if tune_b or e.innovation_statistics:
        H = _materialised_jacobian(system, kinds)
        if tune_b:  # B's emission part and the rest are independent: diag(HBHᵀ) = sum
            emission = (B.emission_species() >= 0).astype(np.float64)
            hbh_e = B.aggregate_var(H @ sp.diags(emission))
            hbh_o = B.aggregate_var(H @ sp.diags(1.0 - emission))
            row_species = _row_species(H, B)
        else:
            hbh_e, hbh_o = np.zeros(H.shape[0]), B.aggregate_var(H)
    for it in range(e.innovation_iterations if tune_r or tune_b else 0):
        da = d - Jo @ sol.x_inc
        if tune_r:
            stats = desroziers_statistics(d, da, r_used, groups)
            scaled, left = bounded_scaling(
                {k: stats[k]["r_ratio"] for k in tunable},
                {k: stats[k]["n"] for k in tunable},
                factors,
                e.innovation_scale_bounds,
                e.innovation_min_observations,
            )
            factors = {**factors, **scaled}
        if tune_b:
            b_stats = _prior_ratios(Jo, sol, d, r_used, hbh_e, emission, row_species, b_factors)
            b_factors, b_left = bounded_scaling(
                {s: b_stats.get(s, {"b_ratio": np.nan})["b_ratio"] for s in b_factors},
                {s: b_stats.get(s, {"n": 0})["n"] for s in b_factors},
                b_factors,
                e.prior_scale_bounds,
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
            for s in b_left:
                log.info(
                    "prior error tuning: %s has %d observations that see its emissions "
                    "(fewer than errors.innovation_min_observations = %d) or no usable "
                    "ratio: its B is left unscaled",
                    species[s],
                    int(b_stats.get(s, {"n": 0})["n"]),
                    e.innovation_min_observations,
                )
        scale = np.array([factors[k] for k in groups], dtype=np.float64)
        r_used = r_var * scale
        R_k = None if R is None else R.scaled(scale)
        if tune_b:
            B_used = B.with_species_scale(np.array([b_factors[s] for s in range(len(species))]))
        sol = solve(Problem(Jo, d, r_used, B_used, R_k), cfg.solver, seed=cfg.seed)
        log.info(
            "innovation tuning pass %d: R factors %s, B factors %s",
            it + 1,
            {k: round(v, 3) for k, v in factors.items()},
            {species[s]: round(v, 3) for s, v in b_factors.items()},
        )
    hbh = None
    if e.innovation_statistics:
        scale_rows = np.ones(len(d))
        if row_species is not None:
            seen = row_species >= 0
            scale_rows[seen] = [b_factors[s] for s in row_species[seen]]
        hbh = hbh_e * scale_rows + hbh_o
    da = d - Jo @ sol.x_inc
    stats = desroziers_statistics(d, da, r_used, groups, hbh)
    b_after = {}
    if tune_b:
        b_after = _prior_ratios(Jo, sol, d, r_used, hbh_e, emission, row_species, b_factors)
    group_b_scale = {}
    if row_species is not None:
        for k in keys:
            seen = row_species[(groups == k) & (row_species >= 0)]
            group_b_scale[k] = b_factors[int(seen[0])] if seen.size else 1.0
    lo, hi = e.innovation_scale_bounds
    rescaled = {k for k in tunable if k not in left} if tune_r else set()
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
                "r_scale_at_bound": bool(f <= lo or f >= hi) and k in rescaled,
                "rescaled": k in rescaled,
                "b_scale": group_b_scale.get(k, 1.0),
            }
        )
    table = pd.DataFrame(rows, columns=list(INNOVATION_COLUMNS))
    table["n"] = table["n"].astype(int)
    if not (tune_r or tune_b):
        return sol, r_used, B_used, table, None
    tuning = {
        "method": e.innovation_tuning,
        "iterations": int(e.innovation_iterations),
        "scale_bounds": [float(lo), float(hi)],
        "min_observations": int(e.innovation_min_observations),
        "r_scale": {k: float(factors[k]) for k in keys} if tune_r else {},
        "r_ratio_after": {k: float(stats[k]["r_ratio"]) for k in keys} if tune_r else {},
        "left_unscaled": [str(k) for k in left],
        "prior_method": e.prior_error_tuning,
        "prior_scale_bounds": [float(v) for v in e.prior_scale_bounds],
        "b_scale": {species[s]: float(v) for s, v in b_factors.items()} if tune_b else {},
        "b_ratio_after": (
            {species[s]: float(v["b_ratio"]) for s, v in b_after.items()} if tune_b else {}
        ),
        "b_left_unscaled": [species[s] for s in b_left],
    }
    return sol, r_used, B_used, table, tuning


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
