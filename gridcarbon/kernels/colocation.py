"""Co-location counts of hot-spot maps under toroidal shifts (the chance baseline of
:mod:`gridcarbon.zoning.hotspots`)."""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["shift_counts"]


@nb.njit(parallel=True, cache=True)
def shift_counts(h1_ptr, h1_row, h1_col, h2, h3, use3, shifts, nx, ny, nchunks, out):
    """``out[k]`` = Σ_t #{cells hot in map 1 whose shifted positions are hot in maps 2 (and 3)}.

    Time steps are split into chunks processed in parallel; within a step the hot cells of
    map 1 are visited once per shift while that step's rows of maps 2 and 3 stay in cache.
    Shifts wrap around the grid (a torus).

    Parameters
    ----------
    h1_ptr : ndarray ``(nt + 1,)`` int64
        Start of each time step's hot cells of map 1 in ``h1_row``/``h1_col``.
    h1_row, h1_col : ndarray int64
        Row and column of each hot cell of map 1, time step by time step.
    h2, h3 : ndarray ``(nt, ny * nx)`` bool, C-contiguous
        Hot maps 2 and 3 (flat cells); ``h3`` is read only when ``use3``.
    use3 : bool
        Count triple co-location (maps 1, 2 and 3) rather than pairs (maps 1 and 2).
    shifts : ndarray ``(K, 4)`` int64
        Per shift: (dy, dx) of map 2 and (dy, dx) of map 3, cells, each in [0, ny) × [0, nx).
    nx, ny : int
        Grid columns and rows.
    nchunks : int
        Chunks of time steps processed in parallel.
    out : ndarray ``(K,)`` int64
        Co-located cell-time count under each shift (overwritten).
    """
    K = shifts.shape[0]
    nt = h1_ptr.size - 1
    per = (nt + nchunks - 1) // nchunks
    part = np.zeros((nchunks, K), np.int64)
    for ch in nb.prange(nchunks):
        for t in range(ch * per, min(nt, (ch + 1) * per)):
            j0 = h1_ptr[t]
            j1 = h1_ptr[t + 1]
            for k in range(K):
                dy2 = shifts[k, 0]
                dx2 = shifts[k, 1]
                dy3 = shifts[k, 2]
                dx3 = shifts[k, 3]
                cnt = 0
                for j in range(j0, j1):
                    r2 = h1_row[j] + dy2
                    if r2 >= ny:
                        r2 -= ny
                    c2 = h1_col[j] + dx2
                    if c2 >= nx:
                        c2 -= nx
                    if h2[t, r2 * nx + c2]:
                        if use3:
                            r3 = h1_row[j] + dy3
                            if r3 >= ny:
                                r3 -= ny
                            c3 = h1_col[j] + dx3
                            if c3 >= nx:
                                c3 -= nx
                            if h3[t, r3 * nx + c3]:
                                cnt += 1
                        else:
                            cnt += 1
                part[ch, k] += cnt
    for k in range(K):
        s = 0
        for ch in range(nchunks):
            s += part[ch, k]
        out[k] = s


@nb.njit(parallel=True, cache=True)
def shift_counts_many(h1_ptr, h1_row, h1_col, others, shifts, nx, ny, nchunks, out):
    """``out[k]`` = Σ_t #{cells hot in map 1 whose shifted positions are hot in every other map}.

    :func:`shift_counts` for any number of maps: map ``i + 2`` is read at the hot cells of map 1
    shifted by ``shifts[k, 2 i : 2 i + 2]``, wrapping around the grid (a torus).

    Parameters
    ----------
    h1_ptr : ndarray ``(nt + 1,)`` int64
        Start of each time step's hot cells of map 1 in ``h1_row``/``h1_col``.
    h1_row, h1_col : ndarray int64
        Row and column of each hot cell of map 1, time step by time step.
    others : ndarray ``(m, nt, ny * nx)`` bool, C-contiguous
        The other ``m >= 1`` hot maps (flat cells).
    shifts : ndarray ``(K, >= 2 m)`` int64
        Per shift: (dy, dx) of each other map in turn, cells, each in [0, ny) × [0, nx); columns
        beyond ``2 m`` are not read.
    nx, ny : int
        Grid columns and rows.
    nchunks : int
        Chunks of time steps processed in parallel.
    out : ndarray ``(K,)`` int64
        Co-located cell-time count under each shift (overwritten).
    """
    K = shifts.shape[0]
    m = others.shape[0]
    nt = h1_ptr.size - 1
    per = (nt + nchunks - 1) // nchunks
    part = np.zeros((nchunks, K), np.int64)
    for ch in nb.prange(nchunks):
        for t in range(ch * per, min(nt, (ch + 1) * per)):
            j0 = h1_ptr[t]
            j1 = h1_ptr[t + 1]
            for k in range(K):
                cnt = 0
                for j in range(j0, j1):
                    hit = True
                    for i in range(m):
                        r = h1_row[j] + shifts[k, 2 * i]
                        if r >= ny:
                            r -= ny
                        c = h1_col[j] + shifts[k, 2 * i + 1]
                        if c >= nx:
                            c -= nx
                        if not others[i, t, r * nx + c]:
                            hit = False
                            break
                    if hit:
                        cnt += 1
                part[ch, k] += cnt
    for k in range(K):
        s = 0
        for ch in range(nchunks):
            s += part[ch, k]
        out[k] = s
