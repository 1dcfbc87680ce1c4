"""Leave-stations-out cross-validation of an inversion.

The stations are shuffled with a fixed seed and split into folds of about ``fraction`` of the
network each (10 % by default, so ten folds and every station withheld once).  For each fold,
the observations of its stations (every species they measure) are withheld, the others are
inverted with the same system, B and R, and the withheld observations are predicted from the
posterior.  What is scored is what a user can check on real data without a truth:

* the RMS and the mean of the withheld innovations, before (``observed − prior``) and after
  (``observed − posterior``) the inversion, and their ratio;
* χ² of the withheld residuals against their predicted variance: ``diag(H B Hᵀ) + σ_R²``
  before and ``diag(H P Hᵀ) + σ_R²`` after, with P the posterior covariance of the fold's
  inversion.  Values near 1 say the posterior's σ is honest at places it was not told about.

Observations of other types (satellite columns) are never withheld: they stay in every fold.

Approximation, stated: the withheld observations' errors can be correlated with the kept
ones' (the same-day transport error of the quadrature error model); the predicted variance
uses the withheld rows' own diagonal and does not condition on that correlation, so with a
correlated R the posterior χ² is slightly conservative (too small).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gridcarbon.config.inversion import SolverConfig
from gridcarbon.contracts import ObservationSet, ObservationType
from gridcarbon.errors import InputDataError
from gridcarbon.inversion.assimilation import _stack, observation_kinds, solve
from gridcarbon.inversion.solvers import CorrelatedErrors, Problem
from gridcarbon.inversion.system import ObservationSystem

__all__ = ["CrossValidation", "cross_validate", "station_folds", "score_withheld"]

#: Columns of :attr:`CrossValidation.summary`.
SUMMARY_COLUMNS = (
    "species",
    "station_class",
    "n_stations",
    "n_observations",
    "prior_rmse",
    "posterior_rmse",
    "rmse_ratio",
    "prior_bias",
    "posterior_bias",
    "prior_chi2",
    "posterior_chi2",
)


@dataclass
class CrossValidation:
    """What :func:`cross_validate` returns.

    Attributes
    ----------
    observations : DataFrame
        Every withheld observation once: ``fold``, ``station_id``, ``species``,
        ``station_class``, ``observed``, ``prior``, ``posterior`` (the observed quantity's unit,
        e.g. ppm), ``prior_var`` and ``posterior_var`` (predicted variances of the residual,
        unit²).
    summary : DataFrame
        :data:`SUMMARY_COLUMNS` per species and station class, and per species over all
        classes (``station_class`` = ``all``).
    folds : DataFrame
        ``fold``, ``n_stations``, ``n_withheld``, ``n_kept``, ``stations`` (ids, ``;``-joined).
    """

    observations: pd.DataFrame
    summary: pd.DataFrame
    folds: pd.DataFrame


def station_folds(station_ids: Sequence[str], fraction: float, seed: int) -> list[np.ndarray]:
    """The stations shuffled with ``seed`` and split into ``ceil(1 / fraction)`` folds of
    near-equal size (each about ``fraction`` of the stations; every station in one fold)."""
    if not 0 < fraction <= 0.5:
        raise InputDataError(f"cross-validation fraction {fraction} must be in (0, 0.5]")
    ids = np.array(sorted(set(station_ids)), dtype=object)
    n_folds = math.ceil(1.0 / fraction - 1e-9)
    if ids.size < n_folds:
        raise InputDataError(
            f"{ids.size} stations cannot be split into {n_folds} folds of {fraction:.0%}; "
            "use a larger fraction"
        )
    rng = np.random.default_rng(seed)
    return [np.sort(f) for f in np.array_split(ids[rng.permutation(ids.size)], n_folds)]


def _restrict(R: CorrelatedErrors | None, keep: np.ndarray) -> CorrelatedErrors | None:
    """R of the rows ``keep`` (boolean over R's rows), from its factored blocks."""
    if R is None:
        return None
    new_index = np.cumsum(keep) - 1
    rows, cols, vals = [], [], []
    for idx, factor in R.blocks:
        sel = keep[idx]
        if not sel.any():
            continue
        block = (factor @ factor.T)[np.ix_(sel, sel)]
        pos = new_index[idx[sel]]
        r, c = np.meshgrid(pos, pos, indexing="ij")
        rows.append(r.ravel())
        cols.append(c.ravel())
        vals.append(block.ravel())
    m = int(keep.sum())
    matrix = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(m, m)
    )
    return CorrelatedErrors(matrix)


def score_withheld(withheld: pd.DataFrame) -> pd.DataFrame:
    """:data:`SUMMARY_COLUMNS` of withheld observations (a :attr:`CrossValidation.observations`
    table), per species and station class and per species over all classes."""
    rows = []
    by_class = withheld.groupby(["species", "station_class"], sort=True)
    by_species = withheld.assign(station_class="all").groupby(
        ["species", "station_class"], sort=True
    )
    for (species, cls), g in [*by_class, *by_species]:
        before = g["observed"] - g["prior"]
        after = g["observed"] - g["posterior"]
        prior_rmse = float(np.sqrt(np.mean(before**2)))
        posterior_rmse = float(np.sqrt(np.mean(after**2)))
        rows.append(
            {
                "species": species,
                "station_class": cls,
                "n_stations": int(g["station_id"].nunique()),
                "n_observations": len(g),
                "prior_rmse": prior_rmse,
                "posterior_rmse": posterior_rmse,
                "rmse_ratio": posterior_rmse / prior_rmse if prior_rmse > 0 else np.nan,
                "prior_bias": float(before.mean()),
                "posterior_bias": float(after.mean()),
                "prior_chi2": float(np.mean(before**2 / g["prior_var"])),
                "posterior_chi2": float(np.mean(after**2 / g["posterior_var"])),
            }
        )
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def cross_validate(
    system: ObservationSystem,
    observations: ObservationSet | ObservationType | Sequence[ObservationType] | pd.DataFrame,
    *,
    fraction: float = 0.1,
    seed: int = 0,
    solver: SolverConfig | None = None,
) -> CrossValidation:
    """Withhold about ``fraction`` of the stations at a time, invert the rest, and score the
    prediction of the withheld observations (module docstring).

    Parameters
    ----------
    system : ObservationSystem
        The prepared system (prior, operator, B) of the inversion being checked.
    observations : ObservationSet, ObservationType, sequence of them, or DataFrame
        What :func:`~gridcarbon.inversion.assimilation.assimilate` takes.
    fraction : float
        Share of the stations withheld in each fold, in (0, 0.5]; ``ceil(1 / fraction)`` folds.
    seed : int
        Seed of the split into folds.
    solver : SolverConfig, optional
        Another solver section; default the system's configuration.

    Returns
    -------
    CrossValidation
    """
    cfg = system.config.solver if solver is None else solver
    kinds = observation_kinds(observations)
    meta, H, r_var, R = _stack(system, kinds)
    d = meta["observed"].to_numpy(float) - meta["prior"].to_numpy(float)
    stations = system.stations.set_index("station_id")
    candidate = meta["station_id"].isin(stations.index).to_numpy()
    if not candidate.any():
        raise InputDataError("cross-validation needs station observations; none were assimilated")
    folds = station_folds(meta.loc[candidate, "station_id"].unique(), fraction, seed)
    station_of_row = meta["station_id"].to_numpy()
    parts, fold_rows = [], []
    for number, fold in enumerate(folds):
        withheld = candidate & np.isin(station_of_row, fold)
        keep = ~withheld
        prob = Problem(H[keep], d[keep], r_var[keep], system.B, _restrict(R, keep))
        sol = solve(prob, cfg, seed=system.config.seed)
        H_out = H[withheld]
        prior_prediction = meta.loc[withheld, "prior"].to_numpy(float)
        parts.append(
            pd.DataFrame(
                {
                    "fold": number,
                    "station_id": station_of_row[withheld],
                    "species": meta.loc[withheld, "species"].to_numpy(),
                    "station_class": stations.loc[station_of_row[withheld], "kind"].to_numpy(),
                    "observed": meta.loc[withheld, "observed"].to_numpy(float),
                    "prior": prior_prediction,
                    "posterior": prior_prediction + H_out @ sol.x_inc,
                    "prior_var": system.B.aggregate_var(H_out) + r_var[withheld],
                    "posterior_var": sol.cov.aggregate_var(H_out) + r_var[withheld],
                }
            )
        )
        fold_rows.append(
            {
                "fold": number,
                "n_stations": len(fold),
                "n_withheld": int(withheld.sum()),
                "n_kept": int(keep.sum()),
                "stations": ";".join(map(str, fold)),
            }
        )
    table = pd.concat(parts, ignore_index=True)
    return CrossValidation(table, score_withheld(table), pd.DataFrame(fold_rows))
