"""The state vector of the inversion and its prior error covariance B.

State layout (segments in this order; :attr:`StateLayout.segments` gives their slices):

``grid``        multiplicative factors of the prior per species, time window and cell block,
                 ``(species, window, block_row, block_col)``, C order; prior mean 1;
``points``      factors of the largest point sources, ``(species, point)``; prior mean 1;
``neighbours``  factors of the coarse neighbouring-province prior, ``(species, province)``;
``biogenic``    (only with ``biogenic = "scaled"``) factors of the prior biogenic fields per
                 species and day;
``background``  additive background offsets per observed species, Beijing day and inflow
                 sector, in ppm / ppb / ppbC; prior mean 0;
``bias``        constant bias per micro station and observed species; prior mean 0;
``transport``   (only with ``mixing_height_unknowns``) relative change of the mixing height per
                 Beijing day, province-wide or per region (``transport_regions``, region by
                 region, each its days); prior mean 0;
``column_transport`` (only with ``column_transport_unknowns``) :data:`COLUMN_TERMS`: the
                 relative change of the satellite columns' modelled enhancement from urban and
                 from rural sources and of the reactive species' lifetime, one each for the
                 period, shared by every overpass; prior mean 0.

B = species ⊗ time ⊗ space for the grid factors, with exponential correlations
``exp(-|Δ|/L)`` separately along block rows and columns (a separable exponential,
``exp(-(|dx|+|dy|)/L)``), ``exp(-|Δt|/T)`` between windows and a species correlation matrix;
point and neighbour factors share the species correlation; the daily mixing-height scales have
``exp(-|Δday|/T_zi)``, and between regions the given correlation; the other unknowns are
independent.
``B^1/2`` is the symmetric square root, applied factor by factor (:class:`PriorCovariance`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gridcarbon.errors import ConfigError
from gridcarbon.kernels.covariance import (
    KIND_DAYS,
    KIND_GRID,
    KIND_INDEPENDENT,
    KIND_NEIGHBOURS,
    KIND_POINTS,
    ar1_cholesky_apply,
    sparse_row_quadratic_forms,
    support_correlation,
)

__all__ = [
    "COLUMN_TERMS",
    "StateLayout",
    "PriorCovariance",
    "species_correlation_matrix",
    "exp_corr",
]

#: The column transport unknowns (``state.column_transport_unknowns``), in state order: the
#: relative change of the modelled column enhancement from sources in urban cells and from
#: those in rural cells (a persistent plume-depth wind-speed error: a column enhancement
#: scales as 1/wind), and the relative change of the reactive species' lifetime.
COLUMN_TERMS: tuple[str, ...] = ("urban_transport_scale", "rural_transport_scale", "lifetime_scale")


def exp_corr(n: int, step: float, scale: float) -> np.ndarray:
    """Exponential correlation ``exp(-|i-j| step / scale)`` of ``n`` equally spaced points."""
    i = np.arange(n)
    return np.exp(-np.abs(i[:, None] - i[None, :]) * step / scale)


def _sym_sqrt(C: np.ndarray) -> np.ndarray:
    w, U = np.linalg.eigh(C)
    if w.min() < -1e-10:
        raise ConfigError(
            f"correlation matrix is not positive semi-definite (eigenvalue {w.min():.3g})"
        )
    return (U * np.sqrt(np.clip(w, 0, None))) @ U.T


def species_correlation_matrix(species: list[str], corr: dict[str, float]) -> np.ndarray:
    """Species correlation matrix from ``{"CO2-NOx": r, ...}`` (missing pairs: 0)."""
    n = len(species)
    C = np.eye(n)
    for key, r in corr.items():
        a, b = key.split("-")
        if a in species and b in species:
            i, j = species.index(a), species.index(b)
            C[i, j] = C[j, i] = r
    if np.linalg.eigvalsh(C).min() <= 0:
        raise ConfigError(
            f"species_correlation {corr} is not positive definite; lower the correlations"
        )
    return C


@dataclass
class StateLayout:
    """Where each unknown sits in the state vector.

    Attributes
    ----------
    species : list of str
        Emitted species in state order (of CO2, NOx, VOC).
    ny, nx, block : int
        Grid shape and block edge (cells); ``nby, nbx`` block rows/columns.
    window_hours, nt : int
        Hours per window and hours in the period; ``nw`` windows.
    point_index : ndarray
        Indices (into the prior's point table) of the points with own factors.
    neighbours : list of str
        Neighbouring provinces with inflow factors.
    biogenic_species : list of str
        Species with biogenic factors (empty unless ``biogenic = "scaled"``).
    obs_species : list of str
        Observed species (CO2, NO2, VOC) with background offsets.
    ndays, nsectors : int
        Background days and inflow sectors.
    bias_keys : list of (station_id, obs species)
        Micro-station biases.
    transport_days : int
        Days with a mixing-height scale unknown (0 = none).
    transport_regions : tuple of str
        Regions with their own daily mixing-height scales (empty: one for the province).
    column_terms : tuple of str
        The column transport unknowns (:data:`COLUMN_TERMS`, or none).
    """

    species: list[str]
    ny: int
    nx: int
    block: int
    window_hours: int
    nt: int
    point_index: np.ndarray
    neighbours: list[str]
    biogenic_species: list[str]
    obs_species: list[str]
    ndays: int
    nsectors: int
    bias_keys: list[tuple[str, str]]
    transport_days: int = 0
    column_terms: tuple[str, ...] = ()
    transport_regions: tuple[str, ...] = ()
    segments: dict[str, slice] = field(init=False)

    def __post_init__(self) -> None:
        self.nby = -(-self.ny // self.block)
        self.nbx = -(-self.nx // self.block)
        self.nw = -(-self.nt // self.window_hours)
        sizes = {
            "grid": len(self.species) * self.nw * self.nby * self.nbx,
            "points": len(self.species) * len(self.point_index),
            "neighbours": len(self.species) * len(self.neighbours),
            "biogenic": len(self.biogenic_species) * self.ndays,
            "background": len(self.obs_species) * self.ndays * self.nsectors,
            "bias": len(self.bias_keys),
            "transport": self.transport_days * max(len(self.transport_regions), 1),
            "column_transport": len(self.column_terms),
        }
        self.segments = {}
        off = 0
        for k, s in sizes.items():
            self.segments[k] = slice(off, off + s)
            off += s
        self.n = off

    @property
    def ns(self) -> int:
        return len(self.species)

    @property
    def grid_shape(self) -> tuple[int, int, int, int]:
        return (self.ns, self.nw, self.nby, self.nbx)

    def xb(self) -> np.ndarray:
        """Prior state: 1 for factors, 0 for offsets and biases."""
        x = np.zeros(self.n)
        for k in ("grid", "points", "neighbours", "biogenic"):
            x[self.segments[k]] = 1.0
        return x

    def cell_block(self) -> np.ndarray:
        """Flat block index ``by * nbx + bx`` of every cell (flat, C order)."""
        r, c = np.divmod(np.arange(self.ny * self.nx), self.nx)
        return (r // self.block) * self.nbx + c // self.block

    def hour_window(self) -> np.ndarray:
        """Window index of every hour of the period."""
        return np.arange(self.nt) // self.window_hours

    def grid_col(self, s: int, w, blk) -> np.ndarray:
        """State index of grid factor (species s, window w, flat block blk)."""
        return (
            self.segments["grid"].start
            + (s * self.nw + np.asarray(w)) * (self.nby * self.nbx)
            + np.asarray(blk)
        )

    def describe(self) -> pd.DataFrame:
        """One row per state element outside the grid segment (kind, species, key)."""
        rows = []
        for s in self.species:
            for p in self.point_index:
                rows.append(("points", s, str(p)))
        for s in self.species:
            for nb in self.neighbours:
                rows.append(("neighbours", s, nb))
        for s in self.biogenic_species:
            for d in range(self.ndays):
                rows.append(("biogenic", s, f"day{d}"))
        for s in self.obs_species:
            for d in range(self.ndays):
                for k in range(self.nsectors):
                    rows.append(("background", s, f"day{d}/sector{k}"))
        for sid, s in self.bias_keys:
            rows.append(("bias", s, sid))
        for region in self.transport_regions or ("",):
            for d in range(self.transport_days):
                where = f"{region}/" if region else ""
                rows.append(("transport", "", f"{where}day{d}/mixing_height"))
        for term in self.column_terms:
            rows.append(("column_transport", "", term))
        df = pd.DataFrame(rows, columns=["segment", "species", "key"])
        df.index = np.arange(self.segments["grid"].stop, self.n)
        return df

    def to_dict(self) -> dict:
        return {
            "species": self.species,
            "ny": self.ny,
            "nx": self.nx,
            "block": self.block,
            "window_hours": self.window_hours,
            "nt": self.nt,
            "nw": self.nw,
            "nby": self.nby,
            "nbx": self.nbx,
            "n": self.n,
            "segments": {k: [v.start, v.stop] for k, v in self.segments.items()},
            "points": [int(p) for p in self.point_index],
            "neighbours": self.neighbours,
            "biogenic_species": self.biogenic_species,
            "obs_species": self.obs_species,
            "ndays": self.ndays,
            "nsectors": self.nsectors,
            "bias_keys": [list(k) for k in self.bias_keys],
            "transport_days": self.transport_days,
            "column_terms": list(self.column_terms),
            # only when set: the province-wide layout's document stays as it was
            **(
                {"transport_regions": list(self.transport_regions)}
                if self.transport_regions
                else {}
            ),
        }

    def transport_col(self, region: np.ndarray | int, day: np.ndarray | int) -> np.ndarray:
        """State index of the mixing-height scale of ``region`` (index into
        :attr:`transport_regions`; 0 for the province-wide layout) on Beijing ``day``."""
        return (
            self.segments["transport"].start
            + np.asarray(region) * self.transport_days
            + np.asarray(day)
        )


class PriorCovariance:
    """B and its symmetric square root S (B = S S), applied without forming them.

    Parameters
    ----------
    layout : StateLayout
    sigma : float
        1-sigma error of the grid factors.
    Cs : ndarray
        Species correlation (ns × ns).
    length_scale_m, cell_size_m, time_scale_h : float
    extra_sigma : dict
        ``points``, ``neighbours``, ``biogenic``, ``transport`` (float) and ``background``,
        ``bias``, ``column_transport`` (arrays of per-element 1-sigma).
    transport_time_scale_days : float
        e-folding time of the correlation of the daily mixing-height scales.
    transport_region_correlation : ndarray, optional
        Correlation between the regions' mixing-height scales of one day
        (``len(layout.transport_regions)`` square, positive definite); default none between
        them.
    """

    def __init__(
        self,
        layout: StateLayout,
        sigma: float,
        Cs: np.ndarray,
        length_scale_m: float,
        cell_size_m: float,
        time_scale_h: float,
        extra_sigma: dict,
        transport_time_scale_days: float = 5.0,
        transport_region_correlation: np.ndarray | None = None,
    ) -> None:
        self.layout = layout
        self.sigma = float(sigma)
        step = layout.block * cell_size_m
        self.Cs = Cs
        self.Ss = _sym_sqrt(Cs)
        self.rho_space = float(np.exp(-step / length_scale_m))
        self.rho_time = float(np.exp(-layout.window_hours / time_scale_h))
        self.Ct = exp_corr(layout.nw, layout.window_hours, time_scale_h)
        L = layout
        self.sd = np.zeros(L.n)
        self.sd[L.segments["grid"]] = self.sigma
        self.sd[L.segments["points"]] = extra_sigma.get("points", 0.3)
        self.sd[L.segments["neighbours"]] = extra_sigma.get("neighbours", 0.5)
        self.sd[L.segments["biogenic"]] = extra_sigma.get("biogenic", 0.5)
        self.sd[L.segments["background"]] = extra_sigma.get("background", 1.0)
        self.sd[L.segments["bias"]] = extra_sigma.get("bias", 1.0)
        self.sd[L.segments["transport"]] = extra_sigma.get("transport", 0.3)
        self.sd[L.segments["column_transport"]] = extra_sigma.get("column_transport", 0.3)
        self.rho_transport = float(np.exp(-1.0 / transport_time_scale_days))
        nr = max(len(layout.transport_regions), 1)
        Cr = np.eye(nr) if transport_region_correlation is None else transport_region_correlation
        Cr = np.asarray(Cr, dtype=np.float64)
        if Cr.shape != (nr, nr):
            raise ValueError(
                f"the regions' mixing-height correlation is {Cr.shape}, but the state has {nr} "
                "regions with mixing-height scales"
            )
        self.Cr = Cr
        self.Sr = _sym_sqrt(Cr)
        # per-species factor on the emission-factor variances (grid, points, neighbours):
        # B_e = D B_e0 D with D = diag(sqrt(species_scale)) (with_species_scale)
        self.species_scale = np.ones(L.ns)

    @property
    def n(self) -> int:
        return self.layout.n

    def prior_std(self) -> np.ndarray:
        """Square root of diag(B)."""
        return self.sd.copy()

    def sqrt_apply(self, v: np.ndarray, transpose: bool = False) -> np.ndarray:
        """``S @ v`` (or ``S.T @ v``) for a vector ``(n,)`` or a block ``(n, k)``; B = S Sᵀ.

        S is the Kronecker product of the symmetric square root of the species correlation and
        the Cholesky factors of the AR(1) (exponential) correlations along time windows, block
        rows and block columns, applied by O(n) recursions.
        """
        L = self.layout
        one = v.ndim == 1
        V = v[:, None] if one else v
        k = V.shape[1]
        out = np.empty(V.shape, dtype=np.float64)
        g = L.segments["grid"]
        X = np.array(V[g].T, dtype=np.float64, order="C").reshape(k * L.ns, L.nw, L.nby, L.nbx)
        shape = X.shape
        d = np.sqrt(self.species_scale)[None, :, None]
        if transpose:  # Sᵀ = (Ss ⊗ Lᵀ) D: the species scale first
            X = (self.Ss @ (d * X.reshape(k, L.ns, -1))).reshape(shape)
        tr = bool(transpose)
        ar1_cholesky_apply(X.reshape(k * L.ns, L.nw, L.nby * L.nbx), self.rho_time, tr)
        ar1_cholesky_apply(X.reshape(k * L.ns * L.nw, L.nby, L.nbx), self.rho_space, tr)
        ar1_cholesky_apply(X.reshape(k * L.ns * L.nw * L.nby, L.nbx, 1), self.rho_space, tr)
        if not transpose:  # S = D (Ss ⊗ L)
            X = (d * (self.Ss @ X.reshape(k, L.ns, -1))).reshape(shape)
        out[g] = self.sigma * X.reshape(k, -1).T
        for seg in ("points", "neighbours"):  # S = diag(sd) (Ss ⊗ I) within the segment
            sl = L.segments[seg]
            if sl.stop > sl.start:
                sd = self.sd[sl][:, None]
                if transpose:
                    Y = (sd * V[sl]).reshape(L.ns, -1)
                    out[sl] = (self.Ss @ Y).reshape(-1, k)
                else:
                    Y = V[sl].reshape(L.ns, -1)
                    out[sl] = sd * (self.Ss @ Y).reshape(-1, k)
        for seg in ("biogenic", "background", "bias", "column_transport"):
            sl = L.segments[seg]
            out[sl] = self.sd[sl][:, None] * V[sl]
        sl = L.segments["transport"]
        if sl.stop > sl.start:  # S = diag(sd) (Sr ⊗ L_days)
            nr = self.Cr.shape[0]
            Y = np.array(V[sl].T, dtype=np.float64, order="C").reshape(k, nr, -1)
            ar1_cholesky_apply(Y.reshape(k * nr, -1, 1), self.rho_transport, tr)
            Y = np.einsum("ij,kjd->kid", self.Sr, Y)
            out[sl] = self.sd[sl][:, None] * Y.reshape(k, -1).T
        return out[:, 0] if one else out

    def aggregate_var(self, A) -> np.ndarray:
        """``diag(A B Aᵀ)``: prior variances of linear combinations (rows of sparse ``A``).

        Closed form on the few blocks, windows and species each row touches: B's grid part is
        ``σ² Cs ⊗ Ct ⊗ Cy ⊗ Cx`` with ``C[i, j] = ρ^|i−j|`` along each axis, so a row's
        quadratic form needs the correlations only among the indices it uses — much cheaper
        than applying ``B^1/2`` to every row (which touches the whole grid). Rows of up to
        :attr:`PAIRWISE_MAX_NNZ` non-zeros (observations' rows) take the double sum over their
        non-zeros in compiled code; longer ones (zone totals) the Kronecker form per row.
        """
        L = self.layout
        A = sp.csr_matrix(A, dtype=np.float64, copy=True)
        A.sum_duplicates()  # sorted indices, each once: a row's kinds are contiguous
        cols = A.indices.astype(np.int64)
        nnz = cols.size
        kind = np.full(nnz, KIND_INDEPENDENT, np.int64)
        s, t, y, x = (np.zeros(nnz, np.int64) for _ in range(4))
        weight = A.data * self.sd[cols]
        g = L.segments["grid"]
        ing = (cols >= g.start) & (cols < g.stop)
        kind[ing] = KIND_GRID
        s[ing], t[ing], y[ing], x[ing] = np.unravel_index(
            cols[ing] - g.start, (L.ns, L.nw, L.nby, L.nbx)
        )
        weight[ing] = A.data[ing] * self.sigma  # the species scale is in Cs_grid
        for code, name in ((KIND_POINTS, "points"), (KIND_NEIGHBOURS, "neighbours")):
            sl = L.segments[name]
            sel = (cols >= sl.start) & (cols < sl.stop)
            if sel.any():
                kind[sel] = code
                s[sel], t[sel] = np.divmod(cols[sel] - sl.start, (sl.stop - sl.start) // L.ns)
        tsl = L.segments["transport"]
        sel = (cols >= tsl.start) & (cols < tsl.stop)
        kind[sel] = KIND_DAYS
        s[sel], t[sel] = np.divmod(cols[sel] - tsl.start, max(L.transport_days, 1))
        root = np.sqrt(self.species_scale)
        Cs_grid = root[:, None] * self.Cs * root[None, :]
        out = np.zeros(A.shape[0])
        per_row = np.diff(A.indptr)
        correlations = (
            Cs_grid,
            np.ascontiguousarray(self.Cs, dtype=np.float64),
            self.rho_time ** np.arange(max(L.nw, 1)),
            self.rho_space ** np.arange(max(L.nby, L.nbx, 1)),
            self.rho_transport ** np.arange(max(L.transport_days, 1)),
            self.Cr,
        )
        done = np.zeros(A.shape[0], bool)
        for r0, r1 in _shared_support_runs(A, self.SHARED_MIN_NNZ, self.SHARED_MAX_NNZ):
            # rows over one support (e.g. an overpass's whitened column contrasts): B's block
            # on it once, then one dense product for all of them
            lo, hi = A.indptr[r0], A.indptr[r0 + 1]
            C = support_correlation(
                kind[lo:hi], s[lo:hi], t[lo:hi], y[lo:hi], x[lo:hi], *correlations
            )
            W = weight[lo : A.indptr[r1]].reshape(r1 - r0, hi - lo)
            out[r0:r1] = np.einsum("ij,ij->i", W @ C, W)
            done[r0:r1] = True
        sparse_row_quadratic_forms(
            A.indptr.astype(np.int64),
            weight,
            kind,
            s,
            t,
            y,
            x,
            np.flatnonzero(~done & (per_row <= self.PAIRWISE_MAX_NNZ)).astype(np.int64),
            *correlations,
            out,
        )
        for i in np.flatnonzero(~done & (per_row > self.PAIRWISE_MAX_NNZ)):
            row = slice(A.indptr[i], A.indptr[i + 1])
            out[i] = self._long_row_var(cols[row], A.data[row], Cs_grid)
        return out

    #: rows with more non-zeros than this take the Kronecker form (the double sum costs nnz²)
    PAIRWISE_MAX_NNZ = 2048
    #: consecutive rows over one support of this many non-zeros share one dense block of B
    #: (at most 4096² × 8 bytes = 134 MB)
    SHARED_MIN_NNZ = 64
    SHARED_MAX_NNZ = 4096

    def _long_row_var(self, cols: np.ndarray, vals: np.ndarray, Cs_grid: np.ndarray) -> float:
        """``a B aᵀ`` of one row with many non-zeros (sorted, unique ``cols``): the grid part
        contracted axis by axis with the correlations among the indices it uses."""
        L = self.layout
        g = L.segments["grid"]
        total = 0.0
        ing = (cols >= g.start) & (cols < g.stop)
        if ing.any():
            idx = np.unravel_index(cols[ing] - g.start, (L.ns, L.nw, L.nby, L.nbx))
            axes = [np.unique(k, return_inverse=True) for k in idx]
            T = np.zeros(tuple(u.size for u, _ in axes))
            T[tuple(inv for _, inv in axes)] = vals[ing]
            U = np.tensordot(Cs_grid[np.ix_(axes[0][0], axes[0][0])], T, axes=(1, 0))
            rhos = (self.rho_time, self.rho_space, self.rho_space)
            for ax, rho in zip((1, 2, 3), rhos, strict=True):
                u = axes[ax][0]
                C = rho ** np.abs(u[:, None] - u[None, :])
                U = np.moveaxis(np.tensordot(C, U, axes=(1, ax)), 0, ax)
            total += self.sigma**2 * float(np.vdot(T, U))
        rest = ~ing
        for name in ("points", "neighbours"):  # sd ⊙ (Cs ⊗ I) ⊙ sd within the segment
            sl = L.segments[name]
            sel = rest & (cols >= sl.start) & (cols < sl.stop)
            if sel.any():
                u = np.zeros(sl.stop - sl.start)
                u[cols[sel] - sl.start] = vals[sel] * self.sd[cols[sel]]
                u = u.reshape(L.ns, -1)
                total += float(np.vdot(u, self.Cs @ u))
                rest &= ~sel
        tsl = L.segments["transport"]
        sel = rest & (cols >= tsl.start) & (cols < tsl.stop)
        if sel.any():  # sd ⊙ (Cr ⊗ AR(1) over days) ⊙ sd
            u = np.zeros(tsl.stop - tsl.start)
            u[cols[sel] - tsl.start] = vals[sel] * self.sd[cols[sel]]
            u = u.reshape(self.Cr.shape[0], -1)
            day = np.arange(u.shape[1])
            Cd = self.rho_transport ** np.abs(day[:, None] - day[None, :])
            total += float(np.vdot(u, self.Cr @ u @ Cd))
            rest &= ~sel
        return total + float(np.sum((vals[rest] * self.sd[cols[rest]]) ** 2))

    def dense_sqrt(self) -> np.ndarray:
        """S as a dense ``(n, n)`` matrix (small problems only); B = S Sᵀ."""
        n = self.n
        if n > 20000:
            raise ConfigError(
                f"state of {n} unknowns is too large for the dense solver; use solver: cg"
            )
        S = np.empty((n, n))
        for a in range(0, n, 2048):
            b = min(n, a + 2048)
            E = np.zeros((n, b - a))
            E[np.arange(a, b), np.arange(b - a)] = 1.0
            S[:, a:b] = self.sqrt_apply(E)
        return S

    def with_species_scale(self, scale: np.ndarray) -> PriorCovariance:
        """A copy whose emission-factor variances (grid, point-source and neighbour-province
        factors) of species ``k`` are multiplied by ``scale[k]``; the species correlation,
        the correlation lengths and the other segments are kept.

        Parameters
        ----------
        scale : ndarray ``(ns,)``
            Factors on the variances (dimensionless, > 0), in the layout's species order;
            they multiply any scale this covariance already has.
        """
        scale = np.asarray(scale, dtype=np.float64)
        L = self.layout
        if scale.shape != (L.ns,) or not np.all(np.isfinite(scale) & (scale > 0)):
            raise ValueError(
                f"species scale {scale.tolist()} must be {L.ns} finite factors > 0, one per "
                f"species of the state {list(L.species)}"
            )
        new = object.__new__(PriorCovariance)
        new.__dict__.update(self.__dict__)
        new.species_scale = self.species_scale * scale
        new.sd = self.sd.copy()
        root = np.sqrt(scale)
        g = L.segments["grid"]
        new.sd[g] = (new.sd[g].reshape(L.ns, -1) * root[:, None]).ravel()
        for seg in ("points", "neighbours"):
            sl = L.segments[seg]
            if sl.stop > sl.start:
                new.sd[sl] = (new.sd[sl].reshape(L.ns, -1) * root[:, None]).ravel()
        return new

    def emission_species(self) -> np.ndarray:
        """The species index of each state element whose variance ``with_species_scale``
        scales (grid, point-source and neighbour-province factors), −1 for the others."""
        L = self.layout
        out = np.full(L.n, -1, dtype=np.int64)
        for seg in ("grid", "points", "neighbours"):
            sl = L.segments[seg]
            if sl.stop > sl.start:
                out[sl] = np.repeat(np.arange(L.ns), (sl.stop - sl.start) // L.ns)
        return out

    def with_species_correlation(self, Cs: np.ndarray) -> PriorCovariance:
        """A copy with another species correlation (e.g. identity)."""
        new = object.__new__(PriorCovariance)
        new.__dict__.update(self.__dict__)
        new.Cs = Cs
        new.Ss = _sym_sqrt(Cs)
        new.sd = self.sd.copy()
        return new


def _shared_support_runs(A: sp.csr_matrix, min_nnz: int, max_nnz: int) -> list[tuple[int, int]]:
    """Runs ``[r0, r1)`` of at least two consecutive rows of ``A`` (CSR, sorted indices) with
    one and the same support of ``min_nnz`` to ``max_nnz`` non-zeros."""
    per_row = np.diff(A.indptr)
    # only a row as long as the next one, within the bounds, can start a run: the rest are
    # skipped without a look at their indices (the station rows, on every call)
    starts = np.flatnonzero(
        (per_row[:-1] == per_row[1:]) & (per_row[:-1] >= min_nnz) & (per_row[:-1] <= max_nnz)
    )
    runs: list[tuple[int, int]] = []
    n = A.shape[0]
    for r in starts:
        if runs and r < runs[-1][1]:
            continue  # inside the run found last
        q = per_row[r]
        support = A.indices[A.indptr[r] : A.indptr[r + 1]]
        e = r + 1
        while (
            e < n
            and per_row[e] == q
            and np.array_equal(A.indices[A.indptr[e] : A.indptr[e + 1]], support)
        ):
            e += 1
        if e - r >= 2:
            runs.append((int(r), int(e)))
    return runs
