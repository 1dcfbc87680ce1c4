"""Bayesian solvers in B^1/2 space and the posterior covariance they return.

With ``x = x_b + S v`` (``B = S Sᵀ``), the cost is
``J(v) = ½ vᵀv + ½ (d - G v)ᵀ R⁻¹ (d - G v)``, ``G = H S``, ``d = y - H x_b``; its Hessian is
``A = I + Gᵀ R⁻¹ G`` and the posterior covariance ``P = S A⁻¹ Sᵀ``.

* :func:`solve_dense` — exact: forms A, Cholesky, full posterior covariance (small problems).
* :func:`solve_lanczos_cg` — conjugate gradient in its Lanczos form (as CONGRAD, Fisher 1998,
  used in CO2 inversions): the control-variable transform S is the preconditioner; the
  Lanczos vectors Q and tridiagonal T give the CG iterate ``v = Q T⁻¹ Qᵀ b`` and the
  low-rank posterior ``A⁻¹ ≈ I + Q (T⁻¹ - I) Qᵀ``, kept as ``P ≈ B + W diag(mu) Wᵀ`` with
  ``W = S Q U`` (U, theta the eigenpairs of T, ``mu = 1/theta - 1``).  Full reorthogonalisation;
  when the Krylov space is exhausted it restarts from a random vector in range(Gᵀ).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from gridcarbon.inversion.state import PriorCovariance

__all__ = [
    "Problem",
    "Solution",
    "PosteriorCovariance",
    "CorrelatedErrors",
    "BlockRowJacobian",
    "solve_dense",
    "solve_lanczos_cg",
    "solve_lanczos_cg_obs",
]


class CorrelatedErrors:
    """An observation-error covariance R that is block diagonal: independent blocks of
    correlated observations (e.g. the stations of one day), each factored ``R_b = L_b L_bᵀ``.

    Parameters
    ----------
    R : sparse ``(m, m)``
        Symmetric positive definite; its blocks are the connected groups of its non-zeros.
    """

    def __init__(self, R: sp.spmatrix) -> None:
        R = sp.csr_matrix(R)
        _, label = connected_components(R, directed=False)
        self.m = R.shape[0]
        self.blocks: list[tuple[np.ndarray, np.ndarray]] = []
        for b in np.unique(label):
            idx = np.flatnonzero(label == b)
            block = R[idx][:, idx].toarray()
            try:
                factor = np.linalg.cholesky(block)
            except np.linalg.LinAlgError:
                raise ValueError(
                    f"the observation-error covariance is not positive definite in the block of "
                    f"observations {idx[:5].tolist()}..."
                ) from None
            self.blocks.append((idx, factor))
        self.variance = np.asarray(R.diagonal(), dtype=np.float64)

    def _solve(self, v: np.ndarray, transpose: bool) -> np.ndarray:
        out = np.empty_like(v, dtype=np.float64)
        for idx, factor in self.blocks:
            if transpose:
                out[idx] = sla.solve_triangular(factor, v[idx], lower=True, trans="T")
            else:
                out[idx] = sla.solve_triangular(factor, v[idx], lower=True)
        return out

    def whiten(self, v: np.ndarray) -> np.ndarray:
        """``L⁻¹ v`` (rows of ``v`` are observations; vector or matrix)."""
        return self._solve(v, transpose=False)

    def whiten_T(self, v: np.ndarray) -> np.ndarray:
        """``L⁻ᵀ v``."""
        return self._solve(v, transpose=True)

    def inverse(self, v: np.ndarray) -> np.ndarray:
        """``R⁻¹ v``."""
        return self.whiten_T(self.whiten(v))

    def scaled(self, factor: np.ndarray) -> CorrelatedErrors:
        """``D R D`` with ``D = diag(√factor)``: the variances times ``factor`` (> 0, one per
        observation), the correlations unchanged; its factors are ``D_b L_b``."""
        f = np.asarray(factor, dtype=np.float64)
        if f.shape != (self.m,) or not np.all(f > 0):
            raise ValueError(f"factor {f.shape} must be {self.m} values > 0")
        out = object.__new__(CorrelatedErrors)
        out.m = self.m
        root = np.sqrt(f)
        out.blocks = [(idx, root[idx, None] * factor_b) for idx, factor_b in self.blocks]
        out.variance = self.variance * f
        return out


class BlockRowJacobian:
    """A Jacobian ``J = D H`` kept as its factors: ``H`` sparse ``(m_raw, n)`` and ``D`` block
    diagonal, the identity on some row ranges of H and a dense matrix ``T_b`` on others (e.g.
    the whitening and plane projection of one satellite overpass, ``T_b = Q₂ᵀ L⁻¹``).

    ``J @ v`` is ``D (H v)`` and ``J.T @ z`` is ``Hᵀ (Dᵀ z)``: a row of ``T_b H`` mixes every row
    of its block and would be dense over the block's footprints, while H stays sparse and the
    blocks are applied as small dense products.

    Parameters
    ----------
    H : sparse ``(m_raw, n)``
        The rows before the transform, each block's rows contiguous.
    segments : sequence of ``(start, stop, T)``
        Row ranges of H covering ``0..m_raw`` in order, each with its dense ``T`` of shape
        ``(m_b, stop − start)`` (``m_b`` rows of J), or None for the identity (``stop − start``
        rows of J, as they are).
    """

    def __init__(self, H: sp.spmatrix, segments: list[tuple[int, int, np.ndarray | None]]) -> None:
        self.H = sp.csr_matrix(H)
        merged: list[tuple[int, int, int, int, np.ndarray | None]] = []
        pos = out = 0
        for start, stop, T in segments:
            if start != pos or stop < start:
                raise ValueError(
                    f"segments of a BlockRowJacobian must cover the rows of H in order; got "
                    f"rows {start}..{stop} after row {pos}"
                )
            if T is None:
                if merged and merged[-1][4] is None:  # one identity range
                    a, _, c, _, _ = merged[-1]
                    merged[-1] = (a, stop, c, out + stop - start, None)
                else:
                    merged.append((start, stop, out, out + stop - start, None))
                out += stop - start
            else:
                T = np.ascontiguousarray(T, dtype=np.float64)
                if T.ndim != 2 or T.shape[1] != stop - start:
                    raise ValueError(
                        f"the block of rows {start}..{stop} has a transform of shape {T.shape}; "
                        f"it needs {stop - start} columns"
                    )
                merged.append((start, stop, out, out + T.shape[0], T))
                out += T.shape[0]
            pos = stop
        if pos != self.H.shape[0]:
            raise ValueError(f"segments cover {pos} rows of H, which has {self.H.shape[0]}")
        self.segments = merged
        self.shape = (out, self.H.shape[1])

    @classmethod
    def stack(cls, parts: list[sp.spmatrix | BlockRowJacobian]) -> BlockRowJacobian:
        """The rows of ``parts`` (sparse matrices or BlockRowJacobians) one after another."""
        Hs, segments, offset = [], [], 0
        for part in parts:
            if isinstance(part, BlockRowJacobian):
                Hs.append(part.H)
                segments += [(offset + a, offset + b, T) for a, b, _, _, T in part.segments]
            else:
                Hs.append(sp.csr_matrix(part))
                segments.append((offset, offset + part.shape[0], None))
            offset += Hs[-1].shape[0]
        return cls(sp.vstack(Hs, format="csr"), segments)

    @property
    def nnz(self) -> int:
        """Non-zeros of H plus the elements of the dense blocks."""
        return int(self.H.nnz + sum(T.size for *_, T in self.segments if T is not None))

    def __matmul__(self, v: np.ndarray) -> np.ndarray:
        u = self.H @ v
        if not any(T is not None for *_, T in self.segments):
            return np.asarray(u)
        out = np.empty((self.shape[0],) + u.shape[1:])
        for a, b, c, d, T in self.segments:
            out[c:d] = u[a:b] if T is None else T @ u[a:b]
        return out

    def rmatvec(self, z: np.ndarray) -> np.ndarray:
        """``Jᵀ z`` (``z`` a vector or a matrix with one row per row of J)."""
        z = np.asarray(z, dtype=np.float64)
        u = np.empty((self.H.shape[0],) + z.shape[1:])
        for a, b, c, d, T in self.segments:
            u[a:b] = z[c:d] if T is None else T.T @ z[c:d]
        return self.H.T @ u

    def __getitem__(self, rows: np.ndarray) -> sp.csr_matrix | BlockRowJacobian:
        """Rows of J (a boolean mask, or indices: taken in J's order), e.g. the observations
        kept in a cross-validation fold: a BlockRowJacobian, or a sparse matrix when no row of
        a dense block is among them (a dense block keeps all its rows of H)."""
        mask = np.zeros(self.shape[0], bool)
        mask[np.asarray(rows)] = True
        pick, segments, pos = [], [], 0
        for a, b, c, d, T in self.segments:
            sel = mask[c:d]
            if not sel.any():
                continue
            if T is None:
                idx = a + np.flatnonzero(sel)
                segments.append((pos, pos + idx.size, None))
            else:
                idx = np.arange(a, b)
                segments.append((pos, pos + idx.size, T[sel]))
            pick.append(idx)
            pos += idx.size
        H = self.H[np.concatenate(pick)] if pick else self.H[:0]
        if all(T is None for *_, T in segments):
            return H
        return BlockRowJacobian(H, segments)

    @property
    def T(self) -> _AdjointRows:
        return _AdjointRows(self)

    def tocsr(self) -> sp.csr_matrix:
        """J materialised (rows of a dense block dense over its footprints: tests, small
        problems)."""
        parts = [
            self.H[a:b] if T is None else sp.csr_matrix(T @ self.H[a:b])
            for a, b, _, _, T in self.segments
        ]
        if not parts:
            return sp.csr_matrix(self.shape)
        return sp.vstack(parts, format="csr")


class _AdjointRows:
    """``Jᵀ`` of a :class:`BlockRowJacobian`, for ``J.T @ z``."""

    def __init__(self, J: BlockRowJacobian) -> None:
        self.J = J
        self.shape = (J.shape[1], J.shape[0])

    def __matmul__(self, z: np.ndarray) -> np.ndarray:
        return self.J.rmatvec(z)


@dataclass
class Problem:
    """A linear-Gaussian inversion: ``J`` (obs × state, sparse, or a :class:`BlockRowJacobian`),
    innovations ``d``, obs error variances ``r_var``, the prior covariance and, when the
    observation errors are correlated, ``R`` (:class:`CorrelatedErrors`, whose diagonal is
    ``r_var``); None = R diagonal."""

    J: sp.csr_matrix | BlockRowJacobian
    d: np.ndarray
    r_var: np.ndarray
    B: PriorCovariance
    R: CorrelatedErrors | None = None

    def r_inverse(self, v: np.ndarray) -> np.ndarray:
        """``R⁻¹ v``."""
        return v / self.r_var if self.R is None else self.R.inverse(v)

    def r_whiten(self, v: np.ndarray) -> np.ndarray:
        """``R^-1/2 v`` (``L⁻¹ v``; rows of ``v`` are observations)."""
        if self.R is None:
            return v / np.sqrt(self.r_var).reshape((-1,) + (1,) * (v.ndim - 1))
        return self.R.whiten(v)

    def r_whiten_T(self, v: np.ndarray) -> np.ndarray:
        """``R^-T/2 v`` (``L⁻ᵀ v``; equal to :meth:`r_whiten` for a diagonal R)."""
        return self.r_whiten(v) if self.R is None else self.R.whiten_T(v)

    def G(self, v: np.ndarray) -> np.ndarray:
        return self.J @ self.B.sqrt_apply(v)

    def GT(self, z: np.ndarray) -> np.ndarray:
        return self.B.sqrt_apply(self.J.T @ z, transpose=True)

    def B_apply(self, t: np.ndarray) -> np.ndarray:
        """``B @ t = S Sᵀ t`` (vector or block)."""
        return self.B.sqrt_apply(self.B.sqrt_apply(t, transpose=True))


class PosteriorCovariance:
    """Posterior covariance of the state: dense ``P`` or ``B + W diag(mu) Wᵀ``."""

    def __init__(
        self,
        B: PriorCovariance,
        P: np.ndarray | None = None,
        W: np.ndarray | None = None,
        mu: np.ndarray | None = None,
    ) -> None:
        self.B = B
        self.P = P
        self.W = W
        self.mu = mu

    @property
    def kind(self) -> str:
        return "dense" if self.P is not None else "low-rank"

    def diag(self) -> np.ndarray:
        """Posterior variances of all state elements."""
        if self.P is not None:
            return np.clip(np.diag(self.P).copy(), 0, None)
        d = self.B.sd**2
        if self.W is not None and self.W.shape[1]:
            mu = self.mu.astype(self.W.dtype)
            for a in range(0, d.size, 65536):  # chunks: no n × k float64 temporary
                d[a : a + 65536] += (np.square(self.W[a : a + 65536]) @ mu).astype(np.float64)
        return np.clip(d, 0, None)

    def aggregate_var(self, A: sp.spmatrix | np.ndarray) -> np.ndarray:
        """``diag(A P Aᵀ)``: posterior variances of linear combinations (rows of A) of the state.

        Uses the covariance between all elements (never independence).
        """
        A = sp.csr_matrix(A)
        if self.P is not None:
            AP = A @ self.P
            return np.asarray((A.multiply(AP)).sum(axis=1)).ravel()
        out = self.B.aggregate_var(A)
        if self.W is not None and self.W.shape[1]:
            AW = np.asarray(A.astype(self.W.dtype) @ self.W, dtype=np.float64)
            out += (AW**2) @ self.mu
        return np.clip(out, 0, None)


@dataclass
class Solution:
    """Result of a solver: ``v`` (B^1/2-space increment), ``x_inc = S v``, covariance, info."""

    v: np.ndarray
    x_inc: np.ndarray
    cov: PosteriorCovariance
    dofs: float
    cost: float
    info: dict = field(default_factory=dict)


def _cost(prob: Problem, v: np.ndarray) -> float:
    r = prob.d - prob.G(v)
    return 0.5 * float(v @ v + r @ prob.r_inverse(r))


def solve_dense(prob: Problem) -> Solution:
    """Exact solution with the full posterior covariance (forms ``G = J S`` densely)."""
    t0 = time.perf_counter()
    S = prob.B.dense_sqrt()
    G = np.asarray(prob.J @ S)
    Gw = G / np.sqrt(prob.r_var)[:, None] if prob.R is None else prob.R.whiten(G)
    A = Gw.T @ Gw
    A[np.diag_indices_from(A)] += 1.0
    c = sla.cho_factor(A, lower=True)
    b = G.T @ prob.r_inverse(prob.d)
    v = sla.cho_solve(c, b)
    Ainv = sla.cho_solve(c, np.eye(A.shape[0]))
    P = S @ Ainv @ S.T
    dofs = float(A.shape[0] - np.trace(Ainv))
    return Solution(
        v,
        S @ v,
        PosteriorCovariance(prob.B, P=P),
        dofs,
        _cost(prob, v),
        {
            "solver": "dense",
            "seconds": time.perf_counter() - t0,
            "n": A.shape[0],
            "m": int(prob.d.size),
        },
    )


def solve_lanczos_cg(
    prob: Problem,
    tol: float = 1e-6,
    max_vectors: int = 300,
    min_vectors: int = 0,
    seed: int = 0,
    keep_tol: float = 1e-8,
) -> Solution:
    """Lanczos-form CG in B^1/2 space with full reorthogonalisation (see module docstring).

    Parameters
    ----------
    tol : float
        Stop when the gradient norm ``‖A v - b‖`` falls below ``tol ‖b‖`` …
    max_vectors : int
        … or at this many Lanczos vectors (memory ``n × max_vectors`` floats).
    min_vectors : int
        Keep iterating up to this many vectors even after convergence, to improve the
        posterior covariance (the mean is unaffected).
    seed : int
        Seed of restart vectors.
    keep_tol : float
        Eigenpairs of T with ``|1/theta - 1|`` below this are dropped from W.
    """
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    n = prob.B.n
    b = prob.GT(prob.r_inverse(prob.d))
    bnorm = float(np.linalg.norm(b))
    kmax = int(min(max_vectors, n))
    Q = np.zeros((kmax, n))
    alpha = np.zeros(kmax)
    beta = np.zeros(kmax)
    converged_at = None
    restarts = 0
    if bnorm == 0:
        return Solution(
            np.zeros(n),
            np.zeros(n),
            PosteriorCovariance(prob.B, W=np.zeros((n, 0)), mu=np.zeros(0)),
            0.0,
            _cost(prob, np.zeros(n)),
            {"solver": "cg", "iterations": 0},
        )
    q = b / bnorm
    k = 0
    res_hist = []
    y = np.zeros(0)
    while k < kmax:
        Q[k] = q
        Gq = prob.G(q)
        w = q + prob.GT(prob.r_inverse(Gq))
        alpha[k] = q @ w
        # full reorthogonalisation; a second pass when the first removed much of w
        # (Kahan–Parlett "twice is enough")
        w -= alpha[k] * q + (beta[k - 1] * Q[k - 1] if k > 0 else 0.0)
        n0 = float(np.linalg.norm(w))
        w -= Q[: k + 1].T @ (Q[: k + 1] @ w)
        bk = float(np.linalg.norm(w))
        if bk < 0.7 * n0:
            w -= Q[: k + 1].T @ (Q[: k + 1] @ w)
            bk = float(np.linalg.norm(w))
        k += 1
        T = np.diag(alpha[:k]) + np.diag(beta[: k - 1], 1) + np.diag(beta[: k - 1], -1)
        e1 = np.zeros(k)
        e1[0] = bnorm
        y = np.linalg.solve(T, e1)
        res = bk * abs(y[-1]) / bnorm
        res_hist.append(res)
        if converged_at is None and (res < tol or bk < 1e-12 * bnorm):
            converged_at = k
        if converged_at is not None and k >= min_vectors:
            break
        if k >= kmax:
            break
        if bk < 1e-10 * max(1.0, abs(alpha[k - 1])):
            # invariant subspace: restart with a random vector in range(Gᵀ)
            z = prob.r_whiten_T(rng.standard_normal(prob.d.size))
            w = prob.GT(z)
            for _ in range(2):
                w -= Q[:k].T @ (Q[:k] @ w)
            nw = float(np.linalg.norm(w))
            if nw < 1e-10 * float(np.linalg.norm(prob.GT(z))):
                break  # range(Gᵀ) exhausted: the Krylov basis is exact
            beta[k - 1] = 0.0
            q = w / nw
            restarts += 1
            continue
        beta[k - 1] = bk
        q = w / bk
    Qk = Q[:k]
    v = Qk.T @ y
    T = np.diag(alpha[:k]) + np.diag(beta[: k - 1], 1) + np.diag(beta[: k - 1], -1)
    theta, U = np.linalg.eigh(T)
    mu = 1.0 / theta - 1.0
    keep = np.abs(mu) > keep_tol
    V = Qk.T @ U[:, keep]  # (n, r)
    del Q
    W = prob.B.sqrt_apply(V)
    dofs = float(np.sum(1.0 - 1.0 / theta))
    info = {
        "solver": "cg",
        "iterations": k,
        "converged_at": converged_at,
        "final_relative_gradient": float(res_hist[-1]) if res_hist else 0.0,
        "restarts": restarts,
        "vectors_kept": int(keep.sum()),
        "seconds": time.perf_counter() - t0,
        "n": n,
        "m": int(prob.d.size),
    }
    return Solution(
        v,
        prob.B.sqrt_apply(v),
        PosteriorCovariance(prob.B, W=W, mu=mu[keep]),
        dofs,
        _cost(prob, v),
        info,
    )


def solve_lanczos_cg_obs(
    prob: Problem,
    tol: float = 1e-6,
    max_vectors: int = 600,
    min_vectors: int = 0,
    seed: int = 0,
    keep_tol: float = 1e-6,
    batch: int = 32,
) -> Solution:
    """The same Lanczos-CG in B^1/2 space, carried out in its restricted (observation-space) form.

    Every Lanczos vector of the B^1/2-space iteration lies in range(Gᵀ) and is written
    ``q = Gᵀ R^-1/2 z`` with ``z`` an m-vector (m observations ≪ n unknowns); the iteration runs
    on ``z`` with the inner product ``<z, z'>_K = zᵀ K z'``, ``K = R^-1/2 G Gᵀ R^-1/2``, storing
    ``z`` and ``K z`` (Gratton & Tshimanga 2009, "RPCG").  In exact arithmetic its iterates are
    those of :func:`solve_lanczos_cg`; the reorthogonalisation costs O(m) instead of O(n) per
    vector, so many more vectors — and better posterior standard deviations — fit the budget.
    Each iteration applies K once (B = S Sᵀ and J, Jᵀ).
    """
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    n = prob.B.n
    m = prob.d.size
    rs = 1.0 / np.sqrt(prob.r_var)
    if prob.R is None:

        def whiten(v: np.ndarray) -> np.ndarray:
            return (rs if v.ndim == 1 else rs[:, None]) * v

        whiten_T = whiten
    else:
        whiten, whiten_T = prob.R.whiten, prob.R.whiten_T

    def K(z: np.ndarray) -> np.ndarray:
        return whiten(prob.J @ prob.B_apply(prob.J.T @ whiten_T(z)))

    def k_norm(w: np.ndarray) -> tuple[float, np.ndarray]:
        """``‖w‖_K`` and ``K w`` from ``K = M Mᵀ``, ``M = R^-1/2 J S``: the norm as ``‖Mᵀ w‖``.

        Where w is nearly K-orthogonal to range(K), ``wᵀ (K w)`` with K w updated by the
        orthogonalisation keeps only about half the digits (its rounding is
        ``eps ‖w‖ ‖K w‖``); ``‖Mᵀ w‖`` keeps them all. Without it, a Krylov space run out
        (fewer unknowns than observations) took rounding for a new direction, and the
        recurrence blew up: DOFS 144.7 for an exact 73.2.
        """
        u = prob.B.sqrt_apply(prob.J.T @ whiten_T(w), transpose=True)
        return float(np.linalg.norm(u)), whiten(prob.J @ prob.B.sqrt_apply(u))

    def in_null_space(norm_k: float, w: np.ndarray) -> bool:
        """Whether ``w`` with K-norm ``norm_k`` is null(K) and rounding rather than a direction.

        The part of z in null(K) is invisible to the K-orthogonalisation, and dividing by a
        tiny β amplifies it; ``Mᵀ z`` then carries a rounding of ``eps ‖z‖ √λ_max``. Taking
        only directions with ``‖w‖_K ≥ √eps ‖w‖ √λ_max`` keeps that below √eps.
        """
        return norm_k < np.sqrt(np.finfo(float).eps * max(a_max, 1.0)) * float(np.linalg.norm(w))

    z0 = whiten(prob.d)
    Kz0 = K(z0)
    bnorm = float(np.sqrt(max(z0 @ Kz0, 0.0)))
    if bnorm == 0:
        return Solution(
            np.zeros(0),
            np.zeros(n),
            PosteriorCovariance(prob.B, W=np.zeros((n, 0)), mu=np.zeros(0)),
            0.0,
            _cost(prob, np.zeros(n)),
            {"solver": "cg-obs", "iterations": 0},
        )
    kmax = int(min(max_vectors, m))
    Z = np.zeros((kmax, m))
    KZ = np.zeros((kmax, m))
    alpha = np.zeros(kmax)
    beta = np.zeros(kmax)
    z, Kz = z0 / bnorm, Kz0 / bnorm
    k = 0
    converged_at = None
    restarts = 0
    res = 1.0
    a_max = 0.0  # the largest Rayleigh quotient met: a lower bound of λ_max(K)
    y = np.zeros(0)
    while k < kmax:
        Z[k], KZ[k] = z, Kz
        KKz = K(Kz)
        a = float(Kz @ Kz)  # <z, K z>_K: Rayleigh quotient of GᵀR⁻¹G
        a_max = max(a_max, a)
        w = Kz - a * z
        Kw = KKz - a * Kz
        if k > 0 and beta[k - 1] != 0.0:
            w -= beta[k - 1] * Z[k - 1]
            Kw -= beta[k - 1] * KZ[k - 1]
        n0 = float(np.sqrt(max(w @ Kw, 0.0)))
        for _ in range(2):
            c = KZ[: k + 1] @ w
            w -= Z[: k + 1].T @ c
            Kw -= KZ[: k + 1].T @ c
            bk = float(np.sqrt(max(w @ Kw, 0.0)))
            if bk >= 0.7 * n0:
                break
            n0 = bk
        if bk**2 < 1e4 * np.finfo(float).eps * float(np.linalg.norm(w) * np.linalg.norm(Kw)):
            bk, Kw = k_norm(w)  # fewer than 4 digits of bk left: the exact form
        alpha[k] = 1.0 + a  # A = I + GᵀR⁻¹G
        k += 1
        T = np.diag(alpha[:k]) + np.diag(beta[: k - 1], 1) + np.diag(beta[: k - 1], -1)
        e1 = np.zeros(k)
        e1[0] = bnorm
        y = np.linalg.solve(T, e1)
        res = bk * abs(y[-1]) / bnorm
        if converged_at is None and res < tol:
            converged_at = k
        if (converged_at is not None and k >= min_vectors) or k >= kmax:
            break
        if bk < 1e-10 * max(1.0, alpha[k - 1]) or in_null_space(bk, w):
            # invariant subspace: restart from a random vector of range(Gᵀ)
            w = rng.standard_normal(m)
            nw0, Kw = k_norm(w)
            for _ in range(2):
                w -= Z[:k].T @ (KZ[:k] @ w)
            nw, Kw = k_norm(w)
            if (
                nw < 1e-10 * max(nw0, 1e-300)
                or in_null_space(nw, w)
                or float(Kw @ Kw) < keep_tol * nw**2
            ):
                # range(Gᵀ) exhausted, or what is left of it carries eigenvalues of GᵀR⁻¹G
                # below keep_tol (their μ would be dropped): the Krylov basis is complete
                break
            beta[k - 1] = 0.0
            z, Kz = w / nw, Kw / nw
            restarts += 1
            continue
        beta[k - 1] = bk
        z, Kz = w / bk, Kw / bk
    Zk, KZk = Z[:k], KZ[:k]
    T = np.diag(alpha[:k]) + np.diag(beta[: k - 1], 1) + np.diag(beta[: k - 1], -1)
    zy = Zk.T @ y
    x_inc = prob.B_apply(prob.J.T @ whiten_T(zy))
    # cost without n-vectors: vᵀv = (Zᵀy)ᵀ K (Zᵀy); R^-1/2 (d - G v) = z0 - K Zᵀ y
    Kzy = KZk.T @ y
    r = z0 - Kzy
    cost = 0.5 * float(zy @ Kzy + r @ r)
    theta, U = np.linalg.eigh(T)
    mu = 1.0 / theta - 1.0
    keep = np.abs(mu) > keep_tol
    Uk = U[:, keep]
    # float32: W only carries variance corrections (relative precision 1e-7 is plenty)
    W = np.empty((n, int(keep.sum())), np.float32)
    for a0 in range(0, W.shape[1], batch):
        b0 = min(W.shape[1], a0 + batch)
        X = Zk.T @ Uk[:, a0:b0]
        W[:, a0:b0] = prob.B.sqrt_apply(prob.B.sqrt_apply(prob.J.T @ whiten_T(X), transpose=True))
    # W = S Q U with Q = Gᵀ R^-1/2 Z: S Sᵀ Jᵀ R^-1/2 Z U = B Jᵀ R^-1/2 Z U
    dofs = float(np.sum(1.0 - 1.0 / theta))
    info = {
        "solver": "cg-obs",
        "iterations": k,
        "converged_at": converged_at,
        "final_relative_gradient": float(res),
        "restarts": restarts,
        "vectors_kept": int(keep.sum()),
        "seconds": time.perf_counter() - t0,
        "n": n,
        "m": m,
    }
    return Solution(
        np.zeros(0), x_inc, PosteriorCovariance(prob.B, W=W, mu=mu[keep]), dofs, cost, info
    )
