"""Random fields by sums of Fourier modes (the synthetic satellite products' error fields)."""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["cosine_mode_sum"]


@numba.njit(cache=True, parallel=True)
def cosine_mode_sum(x, y, kx, ky, phase):
    """``Σ_m cos(kx_m x + ky_m y + phase_m)`` at every point, without the points × modes
    temporary (the modes summed in order).

    Parameters
    ----------
    x, y : ndarray float64 ``(n,)``
        Point coordinates (m).
    kx, ky : ndarray float64 ``(m,)``
        Wavenumbers of the modes (rad m⁻¹).
    phase : ndarray float64 ``(m,)``
        Phases of the modes (rad).

    Returns
    -------
    ndarray float64 ``(n,)``
    """
    n = x.size
    out = np.empty(n)
    for i in numba.prange(n):
        total = 0.0
        for m in range(kx.size):
            total += math.cos(x[i] * kx[m] + y[i] * ky[m] + phase[m])
        out[i] = total
    return out
