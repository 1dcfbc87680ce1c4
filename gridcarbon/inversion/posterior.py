"""Posterior statistics of emission totals: the state-to-total maps of cells, point sources and
units, and the standard deviations of totals with the full posterior covariance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gridcarbon.errors import InputDataError
from gridcarbon.inversion.solvers import PosteriorCovariance
from gridcarbon.inversion.state import PriorCovariance

if TYPE_CHECKING:  # pragma: no cover
    from gridcarbon.inversion.system import ObservationSystem

__all__ = [
    "TotalsCovariance",
    "cell_period_stats",
    "unit_period_stats",
    "pairwise_correlation",
    "city_error_correlation",
    "big_point_host_correlation",
]


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


@dataclass(frozen=True, eq=False)
class TotalsCovariance:
    """The posterior covariance of an inversion seen as σ of emission totals
    (:class:`gridcarbon.contracts.PosteriorCovariance`): what the zoning stage asks.

    Parameters
    ----------
    system : ObservationSystem
        The prior emissions per cell, point source and hour, and the state layout.
    state : PosteriorCovariance
        The posterior covariance of the state (dense, or prior plus low-rank).
    """

    system: ObservationSystem
    state: PosteriorCovariance

    def total_std(
        self,
        weights: sp.spmatrix,
        species: str,
        point_unit: np.ndarray | None = None,
        hours: Any = None,
    ) -> np.ndarray:
        """Posterior standard deviation (kg) of the emission totals of units over some hours.

        ``σ²_u = c_uᵀ diag(e) P diag(e) c_u`` where ``c_u`` holds unit u's coverage fractions
        of the cells (row u of ``weights``) and its point sources, ``e`` the prior emission of
        the cells and point sources summed per state window, and P the full posterior
        covariance of the factors (dense, or prior plus low-rank from the Lanczos vectors) —
        correlations between cells, windows, species and the point factors are kept, never
        assumed independent.

        Parameters
        ----------
        weights : scipy.sparse matrix ``(n_units, n_cells)``
            Coverage fractions (``gridcarbon.grids.coverage.coverage_matrix``).
        species : str
            A species of the inversion, by name.
        point_unit : ndarray ``(n_points,)`` of int, optional
            Unit index of each point source of the prior (−1: in no unit), as assigned by
            point-in-polygon.  Without it, point sources are spread like area sources, by the
            coverage fraction of the cell they lie in.
        hours : None, slice of timestamps (UTC), slice of ints, or array of hour indices
            Hours of the period summed (None = the whole period).

        Returns
        -------
        ndarray ``(n_units,)``, kg over the hours.
        """
        system = self.system
        if species not in system.species:
            raise InputDataError(f"species {species!r} is not in the inversion ({system.species})")
        F = sp.csr_matrix(weights)
        if F.shape[1] != system.ncell:
            raise InputDataError(
                f"the weights have {F.shape[1]} columns but the grid has {system.ncell} cells"
            )
        hour_index = _time_hours(system, hours)
        si = system.species.index(species)
        if point_unit is None:
            A = F @ _cell_period_matrix(system, si, hour_index)
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
                    f"point_unit[{i}] = {point_unit[i]} is not a unit index "
                    f"(0..{F.shape[0] - 1}) or -1 for a point source in no unit"
                )
            inside = np.flatnonzero(point_unit >= 0)
            assign = sp.csr_matrix(
                (np.ones(inside.size), (point_unit[inside], inside)),
                shape=(F.shape[0], len(system.points)),
            )
            A = F @ _cell_period_matrix(system, si, hour_index, include_points=False)
            if len(system.points):
                A = A + assign @ _point_period_matrix(system, si, hour_index)
        return np.sqrt(self.state.aggregate_var(A))


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


def unit_period_stats(
    system: ObservationSystem,
    result_cov: PosteriorCovariance,
    x: np.ndarray,
    si: int,
    weights: sp.spmatrix,
    include_points: bool = True,
) -> dict[str, np.ndarray]:
    """Per unit (a row of ``weights``, ``(n_units, n_cells)`` coverage fractions): prior total,
    posterior total, posterior std and prior std of the period total of species ``si`` (kg),
    area sources only or plus the point sources located in its cells; covariances between
    cells, windows and point factors kept.  Units inside one state block (e.g. the blocks
    themselves) use the closed form of :func:`cell_period_stats`."""
    M = sp.csr_matrix(
        sp.csr_matrix(weights)
        @ _cell_period_matrix(system, si, np.arange(system.nt), include_points=include_points)
    )
    L = system.layout
    g = L.segments["grid"]
    coo = M[:, g.start : g.stop].tocoo()
    nb = L.nby * L.nbx
    block = coo.col % nb
    lo = np.full(M.shape[0], np.iinfo(np.int64).max)
    hi = np.full(M.shape[0], -1)
    np.minimum.at(lo, coo.row, block)
    np.maximum.at(hi, coo.row, block)
    if np.all((hi < 0) | (lo == hi)):
        post_var = _fast_cell_var(system, result_cov, M, si)
        prior_var = _fast_cell_var(system, None, M, si, prior=result_cov.B)
    else:
        post_var = result_cov.aggregate_var(M)
        prior_var = result_cov.B.aggregate_var(M)
    return {
        "prior": M @ system.layout.xb(),
        "posterior": M @ x,
        "posterior_std": np.sqrt(post_var),
        "prior_std": np.sqrt(np.clip(prior_var, 0, None)),
    }


def pairwise_correlation(cov: PosteriorCovariance, A: sp.spmatrix, C: sp.spmatrix) -> np.ndarray:
    """Correlation of the posterior errors of row ``i`` of ``A`` with row ``i`` of ``C`` (linear
    combinations of the state, ``(k, n_state)`` each), from the variances of the rows and of
    their sums: ``(var(a + c) − var(a) − var(c)) / (2 σ_a σ_c)`` (NaN where a σ is 0)."""
    A, C = sp.csr_matrix(A), sp.csr_matrix(C)
    va, vc = cov.aggregate_var(A), cov.aggregate_var(C)
    vs = cov.aggregate_var(A + C)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (vs - va - vc) / (2.0 * np.sqrt(va * vc))
    return np.where((va > 0) & (vc > 0), np.clip(r, -1.0, 1.0), np.nan)


def city_error_correlation(
    system: ObservationSystem,
    cov: PosteriorCovariance,
    si: int,
    weights: sp.spmatrix,
) -> np.ndarray:
    """Correlation matrix ``(n_units, n_units)`` of the posterior errors of the period totals
    of species ``si`` of the units (rows of ``weights``: coverage fractions of the cells; area
    plus the point sources in their cells), e.g. two cities: a strongly negative value says the
    network tells their sum better than how it splits between them."""
    M = sp.csr_matrix(
        sp.csr_matrix(weights) @ _cell_period_matrix(system, si, np.arange(system.nt), True)
    )
    k = M.shape[0]
    out = np.eye(k)
    i, j = np.triu_indices(k, 1)
    if i.size:
        out[i, j] = out[j, i] = pairwise_correlation(cov, M[i], M[j])
    return out


def big_point_host_correlation(
    system: ObservationSystem, cov: PosteriorCovariance, si: int
) -> np.ndarray:
    """Correlation of the posterior error of each separately estimated point source's factor
    of species ``si`` (``layout.point_index`` order) with that of the period's area emissions
    of the state block holding its stack: negative when the observations cannot tell the stack
    from the area sources around it."""
    L = system.layout
    n_big = L.point_index.size
    if n_big == 0:
        return np.zeros(0)
    stacks = sp.csr_matrix(
        (
            np.ones(n_big),
            (np.arange(n_big), L.segments["points"].start + si * n_big + np.arange(n_big)),
        ),
        shape=(n_big, L.n),
    )
    area = _cell_period_matrix(system, si, np.arange(system.nt), include_points=False)
    cell_block = L.cell_block()
    host = cell_block[system.point_cells[L.point_index]]
    members = sp.csr_matrix(
        (np.ones(cell_block.size), (cell_block, np.arange(cell_block.size))),
        shape=(int(cell_block.max()) + 1, cell_block.size),
    )
    return pairwise_correlation(cov, stacks, members[host] @ area)


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
    # B part of grid: sigma² s_si a_wᵀ Ct a_w (same block and species; s the species scale)
    nb = L.nby * L.nbx
    coo = Mg.tocoo()
    w = (coo.col // nb) % L.nw
    Aw = sp.csr_matrix((coo.data, (coo.row, w)), shape=(M.shape[0], L.nw)).toarray()
    var = B.sigma**2 * B.species_scale[si] * np.einsum("iw,wv,iv->i", Aw, B.Ct, Aw)
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
