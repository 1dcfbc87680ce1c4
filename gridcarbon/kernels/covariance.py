"""The AR(1) (exponential) correlation factors of the prior error covariance B."""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["ar1_cholesky_apply"]


@numba.njit(cache=True)
def ar1_cholesky_apply(X, rho, transpose):
    """Apply the Cholesky factor L of the AR(1) correlation ``rho**|i-j|`` (or its transpose)
    along axis 1 of ``X``, in place: ``x_0 = e_0``, ``x_i = rho x_{i-1} + sqrt(1 - rho²) e_i``;
    the transpose runs the recursion backwards.

    Parameters
    ----------
    X : ndarray ``(pre, n, post)`` float64
        Overwritten with ``L @ X`` (or ``L.T @ X``) along axis 1; dimensionless.
    rho : float
        Correlation between neighbours along the axis, in [0, 1).
    transpose : bool
        Apply ``L.T`` instead of ``L``.
    """
    pre, n, post = X.shape
    c = math.sqrt(1.0 - rho * rho)
    if n < 2:
        return
    if not transpose:
        for a in range(pre):
            for i in range(1, n):
                for b in range(post):
                    X[a, i, b] = rho * X[a, i - 1, b] + c * X[a, i, b]
    else:
        u = np.empty(post)
        for a in range(pre):
            for b in range(post):
                u[b] = X[a, n - 1, b]
                X[a, n - 1, b] = c * u[b]
            for i in range(n - 2, -1, -1):
                ci = c if i > 0 else 1.0
                for b in range(post):
                    u[b] = X[a, i, b] + rho * u[b]
                    X[a, i, b] = ci * u[b]
