"""The AR(1) (exponential) correlation factors of the prior error covariance B."""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["ar1_cholesky_apply", "sparse_row_quadratic_forms", "support_correlation"]


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


#: the kinds of state element :func:`sparse_row_quadratic_forms` tells apart
KIND_GRID, KIND_POINTS, KIND_NEIGHBOURS, KIND_DAYS, KIND_INDEPENDENT = range(5)


@numba.njit(cache=True, inline="always")
def _correlation(ki, i, j, s, t, y, x, tables):
    """B's correlation between elements ``i`` and ``j`` of one kind ``ki`` (see
    :func:`sparse_row_quadratic_forms`; ``tables`` = ``(Cs_grid, Cs, pow_t, pow_s, pow_days,
    Cr)``); 0 between elements of the shared kinds at different positions."""
    Cs_grid, Cs, pow_t, pow_s, pow_days, Cr = tables
    if ki == KIND_GRID:
        return (
            Cs_grid[s[i], s[j]]
            * pow_t[abs(t[i] - t[j])]
            * pow_s[abs(y[i] - y[j])]
            * pow_s[abs(x[i] - x[j])]
        )
    if ki == KIND_DAYS:
        return Cr[s[i], s[j]] * pow_days[abs(t[i] - t[j])]
    if ki == KIND_INDEPENDENT or t[i] != t[j]:
        return 0.0
    return Cs[s[i], s[j]]


@numba.njit(cache=True)
def sparse_row_quadratic_forms(
    indptr, weight, kind, s, t, y, x, rows, Cs_grid, Cs, pow_t, pow_s, pow_days, Cr, out
):
    """``out[r] = a_r B a_rᵀ`` for the listed rows of a sparse ``A``, by the double sum over
    each row's non-zeros (for rows with few of them; cost ``nnz²`` per row).

    B is block diagonal over the kinds of element, and within a kind:

    * grid: ``Cs_grid[s, s'] ρ_t^|t−t'| ρ_s^|y−y'| ρ_s^|x−x'|`` (weights carry σ);
    * points, and neighbours: ``Cs[s, s']`` where ``t == t'`` (the element's position within
      its species), else 0;
    * days: ``Cr[s, s'] ρ_d^|t−t'|`` (s the region, t the day);
    * independent: the identity.

    Parameters
    ----------
    indptr : ndarray int64
        CSR row pointers of A; within a row the non-zeros are sorted by kind (CSR with sorted
        column indices, the kinds being contiguous segments of the state).
    weight : ndarray float64
        Per non-zero: A's value times the element's prior σ (dimension of the state's unit).
    kind, s, t, y, x : ndarray int64
        Per non-zero: its kind and its indices (species, window or position or day, block row,
        block column); unused ones are 0.
    rows : ndarray int64
        The rows to compute.
    Cs_grid, Cs : ndarray float64
        Species correlation of the grid and of the shared kinds.
    pow_t, pow_s, pow_days : ndarray float64
        ``ρ^k`` for k = 0, 1, … along windows, block rows/columns and days.
    Cr : ndarray float64
        Correlation between the regions of the days kind.
    out : ndarray float64
        Written at ``rows``.
    """
    tables = (Cs_grid, Cs, pow_t, pow_s, pow_days, Cr)
    for r in rows:
        total = 0.0
        for i in range(indptr[r], indptr[r + 1]):
            ki = kind[i]
            wi = weight[i]
            total += wi * wi * (Cs_grid[s[i], s[i]] if ki == KIND_GRID else 1.0)
            if ki == KIND_INDEPENDENT:
                continue
            pair = 0.0
            for j in range(i + 1, indptr[r + 1]):
                if kind[j] != ki:
                    break
                pair += weight[j] * _correlation(ki, i, j, s, t, y, x, tables)
            total += 2.0 * wi * pair
        out[r] = total


@numba.njit(cache=True)
def support_correlation(kind, s, t, y, x, Cs_grid, Cs, pow_t, pow_s, pow_days, Cr):
    """B's correlation matrix among ``q`` state elements (the support shared by several rows),
    described as in :func:`sparse_row_quadratic_forms` (kinds contiguous); the weights' σ
    are applied by the caller.

    Returns
    -------
    ndarray ``(q, q)`` float64
        Symmetric; the grid diagonal is ``Cs_grid[s, s]``, every other diagonal 1.
    """
    tables = (Cs_grid, Cs, pow_t, pow_s, pow_days, Cr)
    q = kind.size
    C = np.zeros((q, q))
    for i in range(q):
        ki = kind[i]
        C[i, i] = Cs_grid[s[i], s[i]] if ki == KIND_GRID else 1.0
        for j in range(i + 1, q):
            if kind[j] != ki:
                break
            C[i, j] = C[j, i] = _correlation(ki, i, j, s, t, y, x, tables)
    return C
