"""Gi* computed tile by tile after a global first pass, over plain arrays.

The untiled kernel (:func:`gridcarbon.kernels.gistar.gi_star_z`) takes each field's region mean
and standard deviation over the whole field, and its disc sums from row prefix sums of the
zero-padded field, each running from the row's first (padded) column.  The first pass here takes
the same moments in the same order, and the value of every padded row's running sum where each
tile's prefix begins (its *carry*); a tile's prefix sums then continue from that carry over its
own columns, so they are the untiled kernel's prefix sums, addition for addition, and the tile's
z-scores equal the untiled ones to the last bit.  The Benjamini–Hochberg thresholds rank whole
fields: :func:`bh_candidates` collects a tile's candidate p-values, :func:`bh_thresholds` ranks
those of all tiles of a field, and :func:`bins_from_thresholds` bins a tile against them.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from gridcarbon.kernels.gistar import two_sided_p

__all__ = [
    "moments_and_carries",
    "gi_star_z_tile",
    "bh_candidates",
    "bh_thresholds",
    "bins_from_thresholds",
]


@nb.njit(cache=True)
def moments_and_carries(fields, maskf, n, R, tile_x, mean, sd, carry):
    """Region mean and standard deviation of each field, and the row-prefix carries of its tiles.

    Parameters
    ----------
    fields : ndarray ``(nt, ny, nx)`` float32 or float64, C-contiguous
        Fields (any unit).
    maskf : ndarray ``(ny, nx)`` float64
        1.0 for region cells, 0.0 outside.
    n : float
        Number of region cells.
    R : int
        Disc radius, whole cells (rows of the disc above and below the focal row).
    tile_x : ndarray ``(ntx,)`` int64
        First column of each column of tiles (0 first), cells.
    mean, sd : ndarray ``(nt,)`` float64
        The region mean and standard deviation (``sqrt(Σ (x - x̄)² / n)``) of each field, in
        the units of ``fields`` (overwritten).
    carry : ndarray ``(nt, ny + 2R, ntx)`` float64
        Sum of the padded row ``r`` (``R`` zero rows and columns around the masked field) over
        its columns before the padded column ``tile_x[k]``: where the prefix of tile column
        ``k`` starts (overwritten).
    """
    nt, ny, nx = fields.shape
    H = ny + 2 * R
    Wd = nx + 2 * R
    ntx = tile_x.size
    for t in range(nt):
        s1 = 0.0
        for r in range(ny):
            for c in range(nx):
                s1 += np.float64(fields[t, r, c]) * maskf[r, c]
        m = s1 / n
        s2 = 0.0
        for r in range(ny):
            for c in range(nx):
                d = (np.float64(fields[t, r, c]) * maskf[r, c] - m) * maskf[r, c]
                s2 += d * d
        mean[t] = m
        sd[t] = math.sqrt(s2 / n)
        for pr in range(H):
            run = 0.0
            k = 0
            for pc in range(Wd):
                while k < ntx and tile_x[k] == pc:
                    carry[t, pr, k] = run
                    k += 1
                r = pr - R
                c = pc - R
                if 0 <= r < ny and 0 <= c < nx:
                    run += np.float64(fields[t, r, c]) * maskf[r, c]
                else:
                    run += 0.0
            while k < ntx:
                carry[t, pr, k] = run
                k += 1


@nb.njit(cache=True)
def gi_star_z_tile(slab, mslab, carry, mean, sd, hw, W, inv_base, z):
    """Gi* z of the cells of one tile, from its slab and the first pass (NaN outside the region).

    Parameters
    ----------
    slab : ndarray ``(nt, th + 2R, tw + 2R)`` float32 or float64
        The fields over the tile and ``R`` cells around it, zero beyond the grid.
    mslab : ndarray ``(th + 2R, tw + 2R)`` float64
        The region mask (1.0/0.0) over the same window, 0 beyond the grid.
    carry : ndarray ``(nt, th + 2R)`` float64
        The carries of the tile's padded rows (:func:`moments_and_carries`).
    mean, sd : ndarray ``(nt,)`` float64
        The region mean and standard deviation of each field (first pass).
    hw : ndarray ``(2R + 1,)`` int64
        Disc half-widths, cells.
    W, inv_base : ndarray ``(th, tw)`` float64
        Region cells in each cell's disc, and ``1 / sqrt((n W - W²) / (n - 1))`` (0 outside the
        region), over the tile.
    z : ndarray ``(nt, th, tw)`` float32 or float64
        z-scores (overwritten; 0 where a field is constant over the region).
    """
    nt = slab.shape[0]
    th, tw = W.shape
    R = (hw.size - 1) // 2
    rows = th + 2 * R
    cols = tw + 2 * R
    pre = np.empty((rows, cols + 1))
    acc = np.empty(tw)
    for t in range(nt):
        for i in range(rows):
            run = carry[t, i]
            pre[i, 0] = run
            for j in range(cols):
                run += np.float64(slab[t, i, j]) * mslab[i, j]
                pre[i, j + 1] = run
        inv_sd = 1.0 / sd[t] if sd[t] > 0.0 else 0.0
        m = mean[t]
        for r in range(th):
            for c in range(tw):
                acc[c] = 0.0
            for d in range(hw.size):
                h = hw[d]
                for c in range(tw):
                    acc[c] += pre[r + d, c + R + h + 1] - pre[r + d, c + R - h]
            for c in range(tw):
                if mslab[r + R, c + R] == 0.0:
                    z[t, r, c] = np.nan
                else:
                    z[t, r, c] = (acc[c] - m * W[r, c]) * inv_base[r, c] * inv_sd


@nb.njit(cache=True)
def bh_candidates(z, maskt, zcrit, qmax):
    """The p-values of a tile's cells that can pass the largest BH level, field by field.

    Parameters
    ----------
    z : ndarray ``(nt, th, tw)`` float32 or float64
        z-scores of the tile.
    maskt : ndarray ``(th, tw)`` bool
        Region cells of the tile.
    zcrit : float
        Smallest |z| that can pass the largest level (as :func:`gridcarbon.kernels.gistar.
        fdr_bins_fill` takes it).
    qmax : float
        The largest level.

    Returns
    -------
    counts : ndarray ``(nt,)`` int64
        Candidates of each field.
    p : ndarray ``(counts.sum(),)`` float64
        Their p-values, field after field.
    """
    nt, th, tw = z.shape
    counts = np.zeros(nt, np.int64)
    buf = np.empty(nt * th * tw)
    k = 0
    for t in range(nt):
        for r in range(th):
            for c in range(tw):
                if maskt[r, c]:
                    zz = np.float64(z[t, r, c])
                    if abs(zz) >= zcrit:
                        p = two_sided_p(zz)
                        if p <= qmax:
                            buf[k] = p
                            k += 1
                            counts[t] += 1
    return counts, buf[:k].copy()


@nb.njit(cache=True)
def bh_thresholds(p_sorted, m, levels):
    """BH thresholds of one field from the sorted p-values of all its candidates.

    Parameters
    ----------
    p_sorted : ndarray ``(k,)`` float64
        The candidates' p-values of the whole field, increasing.
    m : int
        Region cells (the BH family's size).
    levels : ndarray ``(nlev,)`` float64
        Increasing q levels.

    Returns
    -------
    ndarray ``(nlev,)`` float64
        The largest p rejected at each level, −1 where none is.
    """
    nlev = levels.size
    k = p_sorted.size
    thr = np.full(nlev, -1.0)
    for lv in range(nlev):
        q = levels[lv]
        for j in range(k - 1, -1, -1):
            if p_sorted[j] <= (j + 1) * q / m:
                thr[lv] = p_sorted[j]
                break
    return thr


@nb.njit(cache=True)
def bins_from_thresholds(z, maskt, thr, zcrit, qmax, out):
    """Confidence bins of a tile's cells against their fields' BH thresholds.

    Parameters
    ----------
    z : ndarray ``(nt, th, tw)`` float32 or float64
        z-scores of the tile.
    maskt : ndarray ``(th, tw)`` bool
        Region cells of the tile.
    thr : ndarray ``(nt, nlev)`` float64
        Thresholds of each field (:func:`bh_thresholds`).
    zcrit, qmax : float
        As :func:`bh_candidates`.
    out : ndarray ``(nt, th, tw)`` int8
        ±nlev for the strictest level passed down to ±1 (sign of z), 0 otherwise (overwritten).
    """
    nt, th, tw = z.shape
    nlev = thr.shape[1]
    for t in range(nt):
        for r in range(th):
            for c in range(tw):
                out[t, r, c] = 0
                if not maskt[r, c]:
                    continue
                zz = np.float64(z[t, r, c])
                if abs(zz) < zcrit:
                    continue
                p = two_sided_p(zz)
                if p > qmax:
                    continue
                b = 0
                for lv in range(nlev):
                    if thr[t, lv] >= 0.0 and p <= thr[t, lv]:
                        b = nlev - lv
                        break
                out[t, r, c] = -b if zz < 0 else b
