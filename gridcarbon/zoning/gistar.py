"""Getis-Ord Gi* on the grid lattice, Benjamini–Hochberg control and confidence bins.

Weights are binary fixed distance bands: cell *j* is a neighbour of cell *i* when the distance
between their centres is at most the radius; the focal cell is included (Gi*, weight 1).  Cells
outside the region are dropped both as data and as neighbours.  With ``n`` region cells,
``x̄`` and ``s² = Σx²/n − x̄²`` over them and ``W_i = Σ_j w_ij``::

    z_i = (Σ_j w_ij x_j − x̄ W_i) / (s · sqrt((n W_i − W_i²) / (n − 1)))

which is the statistic of Getis & Ord (1992) and of esda ``G_Local(transform='B', star=True)``.
The window sums use row prefix sums (the disc is a union of row runs), so the cost per cell is
twice the number of rows in the disc, whatever the radius.

p-values are two-sided, ``p = 2·sf(|z|) = erfc(|z|/√2)``; Benjamini–Hochberg is applied per
field (species × time step) over its region cells; bins ±3/±2/±1 mark cells BH-significant at
q = 0.01/0.05/0.10 (sign of z), 0 otherwise.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from gridcarbon.errors import ConfigError, InputDataError

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


@nb.njit(cache=True)
def _window_sums(x, hw, out, pre):
    """out[r, c] = Σ over the disc around (r, c) of x (x is 0 outside the region)."""
    ny, nx = x.shape
    R = (hw.size - 1) // 2
    for r in range(ny):
        s = 0.0
        pre[r, 0] = 0.0
        for c in range(nx):
            s += x[r, c]
            pre[r, c + 1] = s
    for r in range(ny):
        for c in range(nx):
            acc = 0.0
            for k in range(hw.size):
                rr = r + k - R
                if rr < 0 or rr >= ny:
                    continue
                lo = c - hw[k]
                hi = c + hw[k] + 1
                if lo < 0:
                    lo = 0
                if hi > nx:
                    hi = nx
                acc += pre[rr, hi] - pre[rr, lo]
            out[r, c] = acc


def neighbour_counts(mask: np.ndarray, radius_m: float, cell_size: float) -> np.ndarray:
    """``W_i``: number of region cells in each cell's band, focal cell included (float64)."""
    hw = disc_halfwidths(radius_m, cell_size)
    m = mask.astype(np.float64)
    out = np.empty_like(m)
    pre = np.empty((m.shape[0], m.shape[1] + 1))
    _window_sums(m, hw, out, pre)
    return out


@nb.njit(parallel=True, cache=True)
def _gi_star_kernel(fields, maskf, n, hw, W, inv_base, z, nchunks):
    """Gi* z of every cell of every field (NaN outside the region).

    Each chunk of fields reuses one zero-padded copy of the masked field and its row prefix sums;
    the disc sums are then computed row by row over contiguous memory (vectorisable).
    """
    nt, ny, nx = fields.shape
    R = (hw.size - 1) // 2
    H = ny + 2 * R
    Wd = nx + 2 * R
    per = (nt + nchunks - 1) // nchunks
    for ch in nb.prange(nchunks):
        t0 = ch * per
        t1 = min(nt, t0 + per)
        if t0 >= t1:
            continue
        xp = np.zeros((H, Wd))
        pre = np.zeros((H, Wd + 1))
        acc = np.empty(nx)
        for t in range(t0, t1):
            s1 = 0.0
            for r in range(ny):
                for c in range(nx):
                    v = np.float64(fields[t, r, c]) * maskf[r, c]
                    xp[r + R, c + R] = v
                    s1 += v
            mean = s1 / n
            s2 = 0.0
            for r in range(ny):
                for c in range(nx):
                    d = (xp[r + R, c + R] - mean) * maskf[r, c]
                    s2 += d * d
            sd = math.sqrt(s2 / n)
            for r in range(R, H - R):
                run = 0.0
                for c in range(Wd):
                    run += xp[r, c]
                    pre[r, c + 1] = run
            for r in range(ny):
                for c in range(nx):
                    acc[c] = 0.0
                for d in range(hw.size):
                    rr = r + d
                    h = hw[d]
                    for c in range(nx):
                        acc[c] += pre[rr, c + R + h + 1] - pre[rr, c + R - h]
                inv_sd = 1.0 / sd if sd > 0.0 else 0.0
                for c in range(nx):
                    if maskf[r, c] == 0.0:
                        z[t, r, c] = np.nan
                    else:
                        # inv_base = 1 / sqrt((n W - W²) / (n - 1)), fixed for all fields
                        z[t, r, c] = (acc[c] - mean * W[r, c]) * inv_base[r, c] * inv_sd


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
    if not _all_finite(np.ascontiguousarray(fields), mask):
        raise InputDataError("emission fields hold NaN or infinite values inside the region")
    hw = disc_halfwidths(radius_m, cell_size)
    W = neighbour_counts(mask, radius_m, cell_size)
    if out is None:
        out = np.empty(fields.shape, np.float64)
    nchunks = max(1, min(fields.shape[0], 8 * nb.get_num_threads()))
    base = (n * W - W * W) / (n - 1)
    inv_base = np.where(mask & (base > 0), 1.0 / np.sqrt(np.where(base > 0, base, 1.0)), 0.0)
    _gi_star_kernel(
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


@nb.njit(cache=True)
def _erfc_p(z):
    return math.erfc(abs(z) / math.sqrt(2.0))


@nb.njit(cache=True)
def _all_finite(fields, mask):
    nt, ny, nx = fields.shape
    for t in range(nt):
        for r in range(ny):
            for c in range(nx):
                if mask[r, c] and not np.isfinite(fields[t, r, c]):
                    return False
    return True


@nb.njit(parallel=True, cache=True)
def _fdr_bins_kernel(z, cells, zcrit, levels, out, nchunks):
    """Per field: BH thresholds at each level, then bins ±(index of strictest level passed).

    Only cells with |z| >= zcrit (p <= max level, with a safety margin) can be rejected, so the
    p-values (erfc) are computed and sorted for those candidates only.  ``out`` starts at 0.
    """
    nt = z.shape[0]
    m = cells.size
    nlev = levels.size
    qmax = levels[nlev - 1]
    per = (nt + nchunks - 1) // nchunks
    for ch in nb.prange(nchunks):
        cidx = np.empty(m, np.int64)
        cp = np.empty(m)
        for t in range(ch * per, min(nt, (ch + 1) * per)):
            _fdr_one(z, t, cells, zcrit, levels, qmax, m, nlev, cidx, cp, out)


@nb.njit(cache=True)
def _fdr_one(z, t, cells, zcrit, levels, qmax, m, nlev, cidx, cp, out):
    """BH bins of field ``t`` (candidates |z| >= zcrit only); writes non-zero bins."""
    k = 0
    for j in range(m):
        i = cells[j]
        zz = np.float64(z[t, i])
        if abs(zz) >= zcrit:
            p = math.erfc(abs(zz) / math.sqrt(2.0))
            if p <= qmax:
                cidx[k] = i
                cp[k] = p
                k += 1
    if k == 0:
        return
    ps = np.sort(cp[:k])
    thr = np.full(nlev, -1.0)
    for lv in range(nlev):
        q = levels[lv]
        for j in range(k - 1, -1, -1):
            if ps[j] <= (j + 1) * q / m:
                thr[lv] = ps[j]
                break
    for j in range(k):
        b = 0
        for lv in range(nlev):
            if thr[lv] >= 0.0 and cp[j] <= thr[lv]:
                b = nlev - lv
                break
        i = cidx[j]
        out[t, i] = -b if z[t, i] < 0 else b


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
    nchunks = max(1, min(nt, 8 * nb.get_num_threads()))
    _fdr_bins_kernel(
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
