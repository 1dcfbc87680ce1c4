"""Getis-Ord Gi* on the grid lattice and Benjamini–Hochberg bins, over plain arrays.

The disc of a fixed distance band is given by its half-widths ``hw[dy + R]`` (cells) for
``dy = -R..R``; window sums use row prefix sums, so the cost per cell is twice the number of
rows in the disc, whatever the radius.  The statistic and the bins are described in
:mod:`gridcarbon.zoning.gistar`.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

__all__ = [
    "window_sums",
    "gi_star_z",
    "two_sided_p",
    "all_finite_in_mask",
    "fdr_bins_fill",
]


@nb.njit(cache=True)
def window_sums(x, hw, out, pre):
    """``out[r, c]`` = Σ of ``x`` over the disc around ``(r, c)``.

    Parameters
    ----------
    x : ndarray ``(ny, nx)`` float64
        Values, 0 outside the region.
    hw : ndarray ``(2R + 1,)`` int64
        Disc half-widths, cells.
    out : ndarray ``(ny, nx)`` float64
        Disc sums, in the units of ``x`` (overwritten).
    pre : ndarray ``(ny, nx + 1)`` float64
        Work array for the row prefix sums.
    """
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


@nb.njit(parallel=True, cache=True)
def gi_star_z(fields, maskf, n, hw, W, inv_base, z, nchunks):
    """Gi* z of every cell of every field (NaN outside the region).

    Each chunk of fields reuses one zero-padded copy of the masked field and its row prefix sums;
    the disc sums are then computed row by row over contiguous memory (vectorisable).

    Parameters
    ----------
    fields : ndarray ``(nt, ny, nx)`` float32 or float64, C-contiguous
        Fields (any unit; z is dimensionless).
    maskf : ndarray ``(ny, nx)`` float64
        1.0 for region cells, 0.0 outside.
    n : float
        Number of region cells.
    hw : ndarray ``(2R + 1,)`` int64
        Disc half-widths, cells.
    W : ndarray ``(ny, nx)`` float64
        Region cells in each cell's disc, focal cell included.
    inv_base : ndarray ``(ny, nx)`` float64
        ``1 / sqrt((n W - W²) / (n - 1))`` in the region, 0 elsewhere.
    z : ndarray ``(nt, ny, nx)`` float32 or float64
        z-scores (overwritten; 0 where a field is constant over the region).
    nchunks : int
        Chunks of fields processed in parallel.
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


@nb.njit(cache=True)
def two_sided_p(z):
    """Two-sided p-value of a standard-normal score: ``2·sf(|z|) = erfc(|z|/√2)``.

    Parameters
    ----------
    z : float
        z-score (dimensionless).

    Returns
    -------
    float
        p in [0, 1].
    """
    return math.erfc(abs(z) / math.sqrt(2.0))


@nb.njit(cache=True)
def all_finite_in_mask(fields, mask):
    """Whether every value of ``fields`` inside ``mask`` is finite.

    Parameters
    ----------
    fields : ndarray ``(nt, ny, nx)`` float32 or float64, C-contiguous
    mask : ndarray ``(ny, nx)`` bool
        True for region cells.

    Returns
    -------
    bool
    """
    nt, ny, nx = fields.shape
    for t in range(nt):
        for r in range(ny):
            for c in range(nx):
                if mask[r, c] and not np.isfinite(fields[t, r, c]):
                    return False
    return True


@nb.njit(parallel=True, cache=True)
def fdr_bins_fill(z, cells, zcrit, levels, out, nchunks):
    """Per field: BH thresholds at each level, then bins ±(index of strictest level passed).

    Only cells with |z| >= zcrit (p <= max level, with a safety margin) can be rejected, so the
    p-values (erfc) are computed and sorted for those candidates only.

    Parameters
    ----------
    z : ndarray ``(nt, ncell)`` float32 or float64, C-contiguous
        z-scores of each field (flat cells).
    cells : ndarray ``(m,)`` int64
        Flat index of the region cells: the BH family of each field.
    zcrit : float
        Smallest |z| that can pass the largest level.
    levels : ndarray ``(nlev,)`` float64
        Increasing q levels.
    out : ndarray ``(nt, ncell)`` int8
        Bins, ±nlev for the strictest level down to ±1 (sign of z); must start at 0, only the
        non-zero bins are written.
    nchunks : int
        Chunks of fields processed in parallel.
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
            p = two_sided_p(zz)
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
