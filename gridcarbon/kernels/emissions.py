"""The prior's numeric core: hourly gridded emissions as a weighted sum of sector maps."""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["weighted_hourly_sum"]

_BLOCK = 1024  # cells per block: a float64 accumulator of this size stays in L1 cache


@numba.njit(parallel=True, cache=True, fastmath=False)
def weighted_hourly_sum(W, A, cells, out):  # pragma: no cover - compiled
    """``out[sp, t, cells[k]] = Σ_s W[t, s] · A[s, sp, k]``, accumulated in float64.

    Parameters
    ----------
    W : ndarray ``(T, S)`` float64, C-contiguous
        Fraction of each sector's annual total emitted in each hour (1/h of the year).
    A : ndarray ``(S, n_species, n_active)`` float64, C-contiguous
        Annual emission per sector, species and active cell, kg per year.
    cells : ndarray ``(n_active,)`` int64
        Flat cell index of each column of ``A`` in ``out``.
    out : ndarray ``(n_species, T, n_cells)``, float32 (or float64)
        Filled in place at the ``cells`` columns, kg per hour per cell; the sum is rounded once
        to the dtype of ``out``.  Other columns are left untouched.
    """
    T, S = W.shape
    nsp = A.shape[1]
    n = cells.size
    nblocks = (n + _BLOCK - 1) // _BLOCK
    for job in numba.prange(nblocks * nsp):
        b = job // nsp
        sp = job % nsp
        lo = b * _BLOCK
        hi = min(lo + _BLOCK, n)
        acc = np.empty(hi - lo, dtype=np.float64)
        for t in range(T):
            acc[:] = 0.0
            for s in range(S):
                w = W[t, s]
                if w != 0.0:
                    for k in range(hi - lo):
                        acc[k] += w * A[s, sp, lo + k]
            for k in range(hi - lo):
                out[sp, t, cells[lo + k]] = acc[k]
