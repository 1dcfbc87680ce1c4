"""Zone-tally kernels: the coverage matrix applied to every time step, point sums per unit."""

from __future__ import annotations

import numba as nb

__all__ = ["coverage_apply", "coverage_apply3", "scatter_add_columns", "add_points_to_units"]


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
