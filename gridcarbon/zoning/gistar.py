"""Getis-Ord Gi* on the grid lattice, Benjamini–Hochberg control and confidence bins.

Weights are binary fixed distance bands: cell *j* is a neighbour of cell *i* when the distance
between their centres is at most the radius; the focal cell is included (Gi*, weight 1).  Cells
outside the region are dropped both as data and as neighbours.  With ``n`` region cells,
``x̄`` and ``s² = Σx²/n − x̄²`` over them and ``W_i = Σ_j w_ij``::

    z_i = (Σ_j w_ij x_j − x̄ W_i) / (s · sqrt((n W_i − W_i²) / (n − 1)))

which is the statistic of Getis & Ord (1992) and of esda ``G_Local(transform='B', star=True)``.
The window sums use row prefix sums (the disc is a union of row runs), so the cost per cell is
twice the number of rows in the disc, whatever the radius; the numba kernels are in
:mod:`gridcarbon.kernels.gistar`.

p-values are two-sided, ``p = 2·sf(|z|) = erfc(|z|/√2)``; Benjamini–Hochberg is applied per
field (species × time step) over its region cells; bins ±3/±2/±1 mark cells BH-significant at
q = 0.01/0.05/0.10 (sign of z), 0 otherwise.
"""

from __future__ import annotations

import math

import numpy as np

from gridcarbon.errors import ConfigError, InputDataError
from gridcarbon.kernels.gistar import all_finite_in_mask, fdr_bins_fill, gi_star_z, window_sums
from gridcarbon.kernels.threads import chunk_count

__all__ = [
    "disc_halfwidths",
    "check_radius",
    "gi_star",
    "neighbour_counts",
    "fdr_bins",
    "bh_reject",
    "two_sided_p",
    "lattice_neighbours",
]


def check_radius(radius_m: float, cell_size: float) -> float:
    """Radius in cells; raises :class:`ConfigError` if it falls on a lattice distance."""
    r = radius_m / cell_size
    if r < 1:
        raise ConfigError(
            f"zoning.gi_radius_m={radius_m} is below one cell ({cell_size} m): "
            "the band would hold only the focal cell"
        )
    r2 = r * r
    k = int(math.floor(r)) + 1
    for a in range(k + 1):
        for b in range(a, k + 1):
            if abs(a * a + b * b - r2) < 1e-9 * max(r2, 1.0):
                raise ConfigError(
                    f"zoning.gi_radius_m={radius_m} m falls exactly on a lattice distance "
                    f"(sqrt({a}²+{b}²) cells): floating-point rounding would decide which cells "
                    f"are neighbours; use e.g. {radius_m + cell_size / 6:.0f} m"
                )
    return r


def disc_halfwidths(radius_m: float, cell_size: float) -> np.ndarray:
    """``hw[dy + R]`` = largest ``dx`` with ``dx² + dy² ≤ r²`` (cells), for ``dy = -R..R``."""
    r = check_radius(radius_m, cell_size)
    R = int(math.floor(r))
    dy = np.arange(-R, R + 1)
    return np.floor(np.sqrt(np.maximum(r * r - dy * dy, 0.0)) + 1e-12).astype(np.int64)


def lattice_neighbours(
    mask: np.ndarray, radius_m: float, cell_size: float
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Region cells (flat indices) and, for each, its neighbours' positions among them
    (self excluded) — for building libpysal weights in tests and benchmarks."""
    hw = disc_halfwidths(radius_m, cell_size)
    R = (hw.size - 1) // 2
    ny, nx = mask.shape
    cells = np.flatnonzero(mask.ravel())
    pos = np.full(mask.size, -1, np.int64)
    pos[cells] = np.arange(cells.size)
    neigh = []
    for c in cells:
        r0, c0 = divmod(int(c), nx)
        lst = []
        for k, dyy in enumerate(range(-R, R + 1)):
            rr = r0 + dyy
            if rr < 0 or rr >= ny:
                continue
            for cc in range(max(c0 - hw[k], 0), min(c0 + hw[k], nx - 1) + 1):
                if (rr, cc) != (r0, c0) and mask[rr, cc]:
                    lst.append(pos[rr * nx + cc])
        neigh.append(np.asarray(lst, np.int64))
    return cells, neigh


def neighbour_counts(mask: np.ndarray, radius_m: float, cell_size: float) -> np.ndarray:
    """``W_i``: number of region cells in each cell's band, focal cell included (float64)."""
    hw = disc_halfwidths(radius_m, cell_size)
    m = mask.astype(np.float64)
    out = np.empty_like(m)
    pre = np.empty((m.shape[0], m.shape[1] + 1))
    window_sums(m, hw, out, pre)
    return out


def gi_star(
    fields: np.ndarray,
    mask: np.ndarray,
    radius_m: float,
    cell_size: float,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Gi* z-scores of each field.

    Parameters
    ----------
    fields : (nt, ny, nx) float32/float64 (a single (ny, nx) field is accepted)
    mask : (ny, nx) bool, True for cells inside the region
    radius_m : distance band, metres (not on a lattice distance)
    cell_size : metres
    out : optional (nt, ny, nx) float32/float64 array to fill

    Returns
    -------
    (nt, ny, nx) z-scores (NaN outside the region; 0 where the field is constant).
    """
    fields = np.asarray(fields)
    single = fields.ndim == 2
    if single:
        fields = fields[None]
    if fields.shape[1:] != mask.shape:
        raise InputDataError(f"fields {fields.shape[1:]} and mask {mask.shape} differ in shape")
    mask = np.ascontiguousarray(mask, dtype=np.bool_)
    n = int(mask.sum())
    if n < 3:
        raise InputDataError(f"only {n} region cells: Gi* needs at least 3")
    if not all_finite_in_mask(np.ascontiguousarray(fields), mask):
        raise InputDataError("emission fields hold NaN or infinite values inside the region")
    hw = disc_halfwidths(radius_m, cell_size)
    W = neighbour_counts(mask, radius_m, cell_size)
    if out is None:
        out = np.empty(fields.shape, np.float64)
    nchunks = chunk_count(fields.shape[0])
    base = (n * W - W * W) / (n - 1)
    inv_base = np.where(mask & (base > 0), 1.0 / np.sqrt(np.where(base > 0, base, 1.0)), 0.0)
    gi_star_z(
        np.ascontiguousarray(fields),
        mask.astype(np.float64),
        float(n),
        hw,
        W,
        inv_base,
        out,
        nchunks,
    )
    return out[0] if single else out


def two_sided_p(z: np.ndarray) -> np.ndarray:
    """``2·sf(|z|)`` of the standard normal."""
    from scipy.special import erfc

    return erfc(np.abs(np.asarray(z, np.float64)) / math.sqrt(2.0))


def fdr_bins(z: np.ndarray, mask: np.ndarray, levels=(0.01, 0.05, 0.10)) -> np.ndarray:
    """Confidence bins of z-scores under Benjamini–Hochberg control per field.

    Parameters
    ----------
    z : (nt, ny, nx) Gi* z-scores (NaN outside the region)
    mask : (ny, nx) region mask; the BH family is the region cells of one field
    levels : increasing q levels; the strictest passed gives ±len(levels)…±1

    Returns
    -------
    int8 (nt, ny, nx): +3/+2/+1 hot at q 0.01/0.05/0.10, negative for cold, 0 otherwise.
    """
    z = np.asarray(z)
    single = z.ndim == 2
    if single:
        z = z[None]
    nt = z.shape[0]
    lv = np.asarray(levels, np.float64)
    if not np.all(np.diff(lv) > 0):
        raise ConfigError(f"fdr levels must increase, got {levels}")
    from scipy.stats import norm

    out = np.zeros((nt, z.shape[1] * z.shape[2]), np.int8)
    zcrit = float(norm.isf(lv[-1] / 2.0)) * (1.0 - 1e-9)
    zz = z.reshape(nt, -1)
    if zz.dtype not in (np.float32, np.float64):
        zz = zz.astype(np.float64)
    nchunks = chunk_count(nt)
    fdr_bins_fill(
        np.ascontiguousarray(zz),
        np.flatnonzero(mask.ravel()).astype(np.int64),
        zcrit,
        lv,
        out,
        nchunks,
    )
    out = out.reshape(z.shape)
    return out[0] if single else out


def bh_reject(p: np.ndarray, q: float) -> np.ndarray:
    """Benjamini–Hochberg rejections of a 1-D array of p-values at level ``q`` (reference)."""
    p = np.asarray(p, np.float64)
    m = p.size
    order = np.argsort(p, kind="mergesort")
    ok = p[order] <= q * np.arange(1, m + 1) / m
    rej = np.zeros(m, bool)
    if ok.any():
        kmax = np.flatnonzero(ok).max()
        rej[order[: kmax + 1]] = True
    return rej
