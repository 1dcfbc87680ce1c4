"""Zone-tally kernels: the coverage matrix applied to every time step, point sums per unit."""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = [
    "coverage_apply",
    "coverage_apply3",
    "scatter_add_columns",
    "add_points_to_units",
    "tally_rows",
]


@nb.njit(parallel=True, cache=True)
def coverage_apply(rstart, rend, runit, pcell, punit, pdata, x, out):
    """``out[t, :] = F @ x[t]`` with the coverage matrix F split into runs and partial entries.

    For each time step: contiguous runs of cells lying wholly in one unit are summed (a
    sequential, vectorisable loop), then the remaining (cell, unit, fraction) entries, in cell
    order, are added.  Accumulation is in float64.

    Parameters
    ----------
    rstart, rend, runit : ndarray ``(nrun,)`` int64
        Runs of cells ``rstart[j]:rend[j]`` (flat) wholly inside unit ``runit[j]``.
    pcell, punit : ndarray ``(npart,)`` int64
        Cell and unit of every other non-zero entry of F, in cell order.
    pdata : ndarray ``(npart,)`` float64
        Fraction of the cell in the unit (dimensionless).
    x : ndarray ``(nt, ncell)`` float32 or float64, C-contiguous
        Field per time step and cell (e.g. kg/h per cell).
    out : ndarray ``(nt, n_units)`` float64
        Per-unit totals, in the units of ``x`` (overwritten).
    """
    nt = x.shape[0]
    nu = out.shape[1]
    for t in nb.prange(nt):
        xt = x[t]
        ot = out[t]
        for u in range(nu):
            ot[u] = 0.0
        for j in range(rstart.size):
            s = 0.0
            for c in range(rstart[j], rend[j]):
                s += xt[c]
            ot[runit[j]] += s
        for k in range(pcell.size):
            ot[punit[k]] += pdata[k] * xt[pcell[k]]


@nb.njit(parallel=True, cache=True)
def coverage_apply3(rstart, rend, runit, pcell, punit, pdata, xa, xb, xc, oa, ob, oc):
    """:func:`coverage_apply` for three fields at once (the index arrays are read once).

    Parameters
    ----------
    rstart, rend, runit, pcell, punit, pdata
        F split into runs and partial entries, as for :func:`coverage_apply`.
    xa, xb, xc : ndarray ``(nt, ncell)``, one dtype (float32 or float64), C-contiguous
        Three fields per time step and cell.
    oa, ob, oc : ndarray ``(nt, n_units)`` float64
        Their per-unit totals (overwritten).
    """
    nt = xa.shape[0]
    nu = oa.shape[1]
    for t in nb.prange(nt):
        a = xa[t]
        b = xb[t]
        c = xc[t]
        A = oa[t]
        B = ob[t]
        C = oc[t]
        for u in range(nu):
            A[u] = 0.0
            B[u] = 0.0
            C[u] = 0.0
        for j in range(rstart.size):
            sa = 0.0
            sb = 0.0
            sc = 0.0
            for k in range(rstart[j], rend[j]):
                sa += a[k]
                sb += b[k]
                sc += c[k]
            u = runit[j]
            A[u] += sa
            B[u] += sb
            C[u] += sc
        for k in range(pcell.size):
            cc = pcell[k]
            u = punit[k]
            f = pdata[k]
            A[u] += f * a[cc]
            B[u] += f * b[cc]
            C[u] += f * c[cc]


@nb.njit(parallel=True, cache=True)
def scatter_add_columns(idx, pts, out):
    """``out[t, idx[p]] += pts[t, p]``: add point values into the columns they belong to.

    Parameters
    ----------
    idx : ndarray ``(npoint,)`` int64
        Output column of each point, in ``[0, out.shape[1])``.
    pts : ndarray ``(nt, npoint)`` float32 or float64, C-contiguous
        Point values per time step (e.g. kg/h).
    out : ndarray ``(nt, ncol)`` float64
        Added to, in the units of ``pts``.
    """
    nt, npnt = pts.shape
    for t in nb.prange(nt):
        for p in range(npnt):
            out[t, idx[p]] += pts[t, p]


@nb.njit(parallel=True, cache=True)
def add_points_to_units(point_unit, pts, out, outside):
    """Add point values to the unit containing each point, the others to ``outside``.

    Parameters
    ----------
    point_unit : ndarray ``(npoint,)`` int64
        Unit of each point, -1 for none.
    pts : ndarray ``(nt, npoint)`` float32 or float64, C-contiguous
        Point values per time step (e.g. kg/h).
    out : ndarray ``(nt, n_units)`` float64
        Per-unit totals (added to), in the units of ``pts``.
    outside : ndarray ``(nt,)`` float64
        Sum of the points outside every unit (added to).
    """
    nt, npnt = pts.shape
    for t in nb.prange(nt):
        for p in range(npnt):
            u = point_unit[p]
            if u >= 0:
                out[t, u] += pts[t, p]
            else:
                outside[t] += pts[t, p]


@nb.njit(nogil=True, cache=True, inline="always")
def _tally_one(rstart, rend, runit, rptr, rcell, rweight, punit, pdata, xt, at):
    """One row of :func:`tally_rows`; returns (outside, grid total)."""
    for u in range(at.size):
        at[u] = 0.0
    g = 0.0
    for j in range(rstart.size):
        s = 0.0
        for c in range(rstart[j], rend[j]):
            s += xt[c]
        at[runit[j]] += s
        g += s
    o = 0.0
    r = 0.0
    for i in range(rcell.size):
        v = xt[rcell[i]]
        r += v
        o += rweight[i] * v
        for k in range(rptr[i], rptr[i + 1]):
            at[punit[k]] += pdata[k] * v
    return o, g + r


@nb.njit(nogil=True, cache=True)
def tally_rows(rstart, rend, runit, rptr, rcell, rweight, punit, pdata, x, area, outside, grid):
    """Per-unit area totals, the part outside every unit and the whole-grid total of each row.

    The area totals are summed exactly as :func:`coverage_apply` sums them (the runs of whole
    cells, then the partial entries in cell order), so they equal its results bit for bit; the
    outside part and the grid total are summed in the same pass, in float64, in another order
    than numpy sums them (they agree to float64 rounding).  Four rows go through the loops side
    by side (four independent chains of additions, each in its row's own order).  Serial and
    without the GIL: callers run it on disjoint rows from several threads.

    Parameters
    ----------
    rstart, rend, runit : ndarray ``(nrun,)`` int64
        Runs of cells ``rstart[j]:rend[j]`` (flat) wholly inside unit ``runit[j]``.
    rptr : ndarray ``(nrest + 1,)`` int64
        The partial entries of rest cell ``i`` are ``rptr[i]:rptr[i + 1]``.
    rcell : ndarray ``(nrest,)`` int64
        The cells in no run (each once, ascending).
    rweight : ndarray ``(nrest,)`` float64
        Their fraction outside every unit (dimensionless, ``1 − Σ_u F``, clipped at 0).
    punit : ndarray ``(npart,)`` int64
        Unit of every partial entry of F, in cell order (then unit order).
    pdata : ndarray ``(npart,)`` float64
        Fraction of the cell in the unit (dimensionless).
    x : ndarray ``(nt, ncell)`` float32 or float64, C-contiguous
        Field per row (time step) and cell (e.g. kg h-1 per cell).
    area : ndarray ``(nt, n_units)`` float64
        Per-unit totals, in the units of ``x`` (overwritten).
    outside, grid : ndarray ``(nt,)`` float64
        The part of each row outside every unit and the row's total (overwritten).
    """
    nt = x.shape[0]
    nu = area.shape[1]
    t = 0
    while t + 4 <= nt:
        x0, x1, x2, x3 = x[t], x[t + 1], x[t + 2], x[t + 3]
        a0, a1, a2, a3 = area[t], area[t + 1], area[t + 2], area[t + 3]
        for u in range(nu):
            a0[u] = 0.0
            a1[u] = 0.0
            a2[u] = 0.0
            a3[u] = 0.0
        g0 = g1 = g2 = g3 = 0.0
        for j in range(rstart.size):
            s0 = s1 = s2 = s3 = 0.0
            for c in range(rstart[j], rend[j]):
                s0 += x0[c]
                s1 += x1[c]
                s2 += x2[c]
                s3 += x3[c]
            u = runit[j]
            a0[u] += s0
            a1[u] += s1
            a2[u] += s2
            a3[u] += s3
            g0 += s0
            g1 += s1
            g2 += s2
            g3 += s3
        o0 = o1 = o2 = o3 = 0.0
        r0 = r1 = r2 = r3 = 0.0
        for i in range(rcell.size):
            c = rcell[i]
            w = rweight[i]
            v0 = np.float64(x0[c])
            v1 = np.float64(x1[c])
            v2 = np.float64(x2[c])
            v3 = np.float64(x3[c])
            r0 += v0
            r1 += v1
            r2 += v2
            r3 += v3
            o0 += w * v0
            o1 += w * v1
            o2 += w * v2
            o3 += w * v3
            for k in range(rptr[i], rptr[i + 1]):
                u = punit[k]
                f = pdata[k]
                a0[u] += f * v0
                a1[u] += f * v1
                a2[u] += f * v2
                a3[u] += f * v3
        outside[t], outside[t + 1], outside[t + 2], outside[t + 3] = o0, o1, o2, o3
        grid[t], grid[t + 1], grid[t + 2], grid[t + 3] = g0 + r0, g1 + r1, g2 + r2, g3 + r3
        t += 4
    while t < nt:
        outside[t], grid[t] = _tally_one(
            rstart, rend, runit, rptr, rcell, rweight, punit, pdata, x[t], area[t]
        )
        t += 1
