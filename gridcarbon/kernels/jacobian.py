"""The Jacobian of the modelled observations with respect to the state, from the footprints."""

from __future__ import annotations

import numba

__all__ = ["jacobian_fill", "point_max_and_sum"]


@numba.njit(cache=True)
def jacobian_fill(
    pair_row,
    pair_sp,
    pair_nox,
    pair_conv,
    a_ptr,
    a_idx,
    a_val,
    a_nox,
    p_ptr,
    p_idx,
    p_val,
    p_nox,
    hour,
    E,
    Ep,
    cell_block,
    hour_window,
    point_big,
    point_block,
    grid_off,
    pt_off,
    nw,
    nblk,
    npb,
    offs,
    o_row,
    o_col,
    o_val,
    sum_area,
    sum_pt,
    max_pt,
):
    """Entries of the Jacobian of the modelled observations with respect to the grid and
    point-source factors, as COO triplets, with per-pair area and point-source totals.

    Each observation pair ``q`` (a receptor-hour and a species) gets one entry per non-zero
    sensitivity of its row: sensitivity × unit conversion × prior emission of that hour.  Area
    cells go to the column of their (species, time window, cell block) factor; point sources to
    their own factor when they have one (``point_big >= 0``), else to their cell's block.

    Parameters
    ----------
    pair_row : ndarray ``(npair,)`` int64
        Receptor-hour (operator row) of each pair.
    pair_sp : ndarray ``(npair,)`` int64
        Emitted-species index of each pair.
    pair_nox : ndarray ``(npair,)`` bool
        Pairs that see NOx as NO2 (use the ``*_nox`` sensitivities).
    pair_conv : ndarray ``(npair,)`` float64
        Observation units (ppm, ppb, ppbC) per µg/m³.
    a_ptr, a_idx, a_val, a_nox : ndarrays (int64, int32, float32, float32)
        Area-source footprint CSR, µg m-3 per kg h-1.
    p_ptr, p_idx, p_val, p_nox : ndarrays (int64, int32, float32, float32)
        Point-source footprint CSR, µg m-3 per kg h-1.
    hour : ndarray ``(n,)`` int64
        Emission time step of each receptor-hour.
    E : ndarray ``(ns, nt, ncell)`` float32
        Prior area emission, kg/h.
    Ep : ndarray ``(ns, nt, npoint)`` float32
        Prior point-source emission, kg/h.
    cell_block : ndarray ``(ncell,)`` int64
        Block of each cell.
    hour_window : ndarray ``(nt,)`` int64
        Time window of each hour.
    point_big : ndarray ``(npoint,)`` int64
        Own-factor index of each point source, -1 for none.
    point_block : ndarray ``(npoint,)`` int64
        Block of each point source's cell.
    grid_off, pt_off : int
        First state column of the grid and point-source factors.
    nw, nblk, npb : int
        Time windows, blocks and point-source factors per species.
    offs : ndarray ``(npair + 1,)`` int64
        First entry of each pair in the outputs.
    o_row, o_col : ndarray ``(offs[-1],)`` int64
        Pair and state column of each entry (written).
    o_val : ndarray ``(offs[-1],)`` float64
        Entry, observation units per unit factor (written).
    sum_area, sum_pt, max_pt : ndarray ``(npair,)`` float64
        Per pair: sum of the area entries, sum and largest of the point entries (written).
    """
    for q in range(pair_row.size):
        r = pair_row[q]
        s = pair_sp[q]
        h = hour[r]
        w = hour_window[h]
        c = pair_conv[q]
        pos = offs[q]
        sa = 0.0
        for j in range(a_ptr[r], a_ptr[r + 1]):
            cell = a_idx[j]
            v = (a_nox[j] if pair_nox[q] else a_val[j]) * c * E[s, h, cell]
            o_row[pos] = q
            o_col[pos] = grid_off + (s * nw + w) * nblk + cell_block[cell]
            o_val[pos] = v
            sa += v
            pos += 1
        sp_ = 0.0
        mp = 0.0
        for j in range(p_ptr[r], p_ptr[r + 1]):
            p = p_idx[j]
            v = (p_nox[j] if pair_nox[q] else p_val[j]) * c * Ep[s, h, p]
            o_row[pos] = q
            if point_big[p] >= 0:
                o_col[pos] = pt_off + s * npb + point_big[p]
            else:
                o_col[pos] = grid_off + (s * nw + w) * nblk + point_block[p]
            o_val[pos] = v
            sp_ += v
            if v > mp:
                mp = v
            pos += 1
        sum_area[q] = sa
        sum_pt[q] = sp_
        max_pt[q] = mp


@numba.njit(cache=True)
def point_max_and_sum(ptr, idx, val, hour, Ep, out_max, out_sum):
    """Largest and summed point-source contribution at each receptor-hour.

    Parameters
    ----------
    ptr, idx, val : ndarrays (int64, int32, float32)
        Point-source footprint CSR, µg m-3 per kg h-1.
    hour : ndarray ``(n,)`` int64
        Emission time step of each row.
    Ep : ndarray ``(nt, npoint)`` float32
        Point-source emission, kg/h.
    out_max, out_sum : ndarray ``(n,)`` float64
        Largest and summed contribution, µg/m³ (overwritten).
    """
    for r in range(ptr.size - 1):
        h = hour[r]
        m = 0.0
        t = 0.0
        for j in range(ptr[r], ptr[r + 1]):
            v = val[j] * Ep[h, idx[j]]
            t += v
            if v > m:
                m = v
        out_max[r] = m
        out_sum[r] = t
