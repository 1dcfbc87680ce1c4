"""Gaussian-plume footprints and the sparse products of the observation operator H.

Footprints are CSR structures over receptor-hours (a station at one hour): for each, the grid
cells (area sources) or point sources it is sensitive to, in µg m-3 per kg h-1.
:func:`area_footprint_counts` sizes the rows, :func:`area_footprint_fill` and
:func:`point_footprint_fill` compute the sensitivities, :func:`compact_rows` drops the unused
capacity; :func:`csr_hourly_forward` (``H @ x``), :func:`csr_hourly_adjoint` (``H.T @ y``) and
:func:`csr_row_dot` apply them.  The physics is described in :mod:`gridcarbon.inversion.operator`.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import prange

from gridcarbon.kernels.dispersion import briggs_rise, sigmas, wind_profile_exponent

__all__ = [
    "area_footprint_counts",
    "area_footprint_fill",
    "point_footprint_fill",
    "compact_rows",
    "csr_hourly_forward",
    "csr_hourly_adjoint",
    "csr_row_dot",
    "no2_weight",
]

_SQ2 = math.sqrt(2.0)
_SQ2PI = math.sqrt(2.0 * math.pi)
_KGH_TO_UGS = 1e9 / 3600.0


@numba.njit(cache=True)
def _vertical(k, z, h, sz, zi, lid_f):
    """Vertical factor (1/m): ground (and lid) reflected Gaussian, or uniform below the lid."""
    if k <= 3:
        if h > zi:
            return 0.0
        if sz > lid_f * zi:
            return 1.0 / zi
        s = 0.0
        for n in range(-2, 3):
            a = z - h - 2.0 * n * zi
            b = z + h - 2.0 * n * zi
            s += math.exp(-0.5 * (a / sz) ** 2) + math.exp(-0.5 * (b / sz) ** 2)
        return s / (_SQ2PI * sz)
    return (math.exp(-0.5 * ((z - h) / sz) ** 2) + math.exp(-0.5 * ((z + h) / sz) ** 2)) / (
        _SQ2PI * sz
    )


@numba.njit(cache=True)
def no2_weight(tt, tau, r0, req, tauc):
    """NOx left after ``tt`` s of decay (lifetime ``tau``) times the NO2/NOx ratio reached."""
    return math.exp(-tt / tau) * (req - (req - r0) * math.exp(-tt / tauc))


@numba.njit(cache=True)
def _rmax(u, rmax_m, tmax_s):
    """Downwind reach, m: the distance limit or the distance travelled in ``tmax_s``."""
    return min(rmax_m, u * tmax_s)


@numba.njit(cache=True)
def _cell_in_footprint(dx, dy, ex, ey, R, hd, k, latk):
    """Whether a cell whose centre is (dx, dy) upwind of the receptor (metres) can reach it
    within the truncation: along-wind distance in [-hd, R + hd] and crosswind offset within
    ``latk`` sigma_y (rural or urban, the wider) plus the half-diagonal ``hd``; also returns the
    along- and crosswind distances."""
    xd = dx * ex + dy * ey
    yd = -dx * ey + dy * ex
    if xd < -hd or xd > R + hd:
        return False, xd, yd
    sy1, _ = sigmas(k, xd + hd, False)
    sy2, _ = sigmas(k, xd + hd, True)
    return abs(yd) <= latk * max(sy1, sy2) + hd, xd, yd


@numba.njit(cache=True, parallel=True)
def area_footprint_counts(rx, ry, rspeed, rex, rey, rk, x0, y1, cs, nx, ny, rmax_m, tmax_s, latk):
    """Number of grid cells in the truncated footprint of each receptor-hour (an upper bound of
    the non-zero sensitivities :func:`area_footprint_fill` writes for that row).

    Parameters
    ----------
    rx, ry : ndarray ``(n,)`` float64
        Receptor positions, m (grid CRS).
    rspeed : ndarray ``(n,)`` float64
        Wind speed, m/s, already floored at the calm floor.
    rex, rey : ndarray ``(n,)`` float64
        Unit vector the wind blows towards.
    rk : ndarray ``(n,)`` int64
        Stability class, 0..5 for A..F.
    x0, y1, cs : float
        Western and northern grid edges and cell edge, m.
    nx, ny : int
        Grid columns and rows (flat cell index ``row * nx + col``).
    rmax_m, tmax_s : float
        Downwind truncation: distance, m, and travel time, s (the nearer applies).
    latk : float
        Lateral truncation, in sigma_y.

    Returns
    -------
    ndarray ``(n,)`` int64
        Cells per receptor-hour.
    """
    n = rx.size
    counts = np.zeros(n, np.int64)
    hd = cs * 0.7072
    for r in prange(n):
        R = _rmax(rspeed[r], rmax_m, tmax_s)
        c0 = max(int((rx[r] - R - hd - x0) / cs), 0)
        c1 = min(int((rx[r] + R + hd - x0) / cs) + 1, nx)
        w0 = max(int((y1 - (ry[r] + R + hd)) / cs), 0)
        w1 = min(int((y1 - (ry[r] - R - hd)) / cs) + 1, ny)
        cnt = 0
        for row in range(w0, w1):
            sy_ = y1 - (row + 0.5) * cs
            for col in range(c0, c1):
                sx_ = x0 + (col + 0.5) * cs
                inside, _, _ = _cell_in_footprint(
                    rx[r] - sx_, ry[r] - sy_, rex[r], rey[r], R, hd, rk[r], latk
                )
                if inside:
                    cnt += 1
        counts[r] = cnt
    return counts


@numba.njit(cache=True, parallel=True)
def area_footprint_fill(
    ptr,
    rx,
    ry,
    rz,
    rspeed,
    rex,
    rey,
    rk,
    rzi,
    rtau,
    x0,
    y1,
    cs,
    nx,
    ny,
    urban,
    rmax_m,
    tmax_s,
    latk,
    nsub,
    nsub_near,
    h_src,
    lid_f,
    r0,
    req,
    tauc,
    out_idx,
    out_val,
    out_nox,
    out_n,
    out_evals,
):
    """Sensitivities of receptor-hours to area-source cells: sub-cell quadrature along the wind,
    exact crosswind integral over each sub-cell, a finer quadrature in the receptor's cell and its
    8 neighbours.

    Parameters
    ----------
    ptr : ndarray ``(n + 1,)`` int64
        Row starts in the output arrays (cumulative :func:`area_footprint_counts`).
    rx, ry, rz : ndarray ``(n,)`` float64
        Receptor positions and height above ground, m (grid CRS).
    rspeed : ndarray ``(n,)`` float64
        Wind speed, m/s, already floored at the calm floor.
    rex, rey : ndarray ``(n,)`` float64
        Unit vector the wind blows towards.
    rk : ndarray ``(n,)`` int64
        Stability class, 0..5 for A..F.
    rzi : ndarray ``(n,)`` float64
        Mixing height, m.
    rtau : ndarray ``(n,)`` float64
        NOx lifetime, s.
    x0, y1, cs : float
        Western and northern grid edges and cell edge, m.
    nx, ny : int
        Grid columns and rows (flat cell index ``row * nx + col``).
    urban : ndarray ``(ny * nx,)`` bool
        Source cells that use the Briggs urban curves.
    rmax_m, tmax_s : float
        Downwind truncation: distance, m, and travel time, s (the nearer applies).
    latk : float
        Lateral truncation, in sigma_y.
    nsub, nsub_near : int
        Sub-cells per cell edge, away from and near the receptor.
    h_src : float
        Area-source release height, m.
    lid_f : float
        sigma_z beyond which the plume is uniform below the lid, in mixing heights.
    r0, req, tauc : float
        NO2/NOx ratio at emission and at equilibrium, and the conversion time, s.
    out_idx : ndarray ``(ptr[-1],)`` int32
        Flat cell index of each sensitivity (written).
    out_val, out_nox : ndarray ``(ptr[-1],)`` float32
        Sensitivity, µg m-3 per kg h-1, inert and NOx seen as NO2 (written).
    out_n : ndarray ``(n,)`` int64
        Sensitivities written per row (the rest of each row is unused).
    out_evals : ndarray ``(n,)`` int64
        Plume-kernel evaluations per row.
    """
    n = rx.size
    hd = cs * 0.7072
    for r in prange(n):
        R = _rmax(rspeed[r], rmax_m, tmax_s)
        u = rspeed[r]
        k = rk[r]
        zi = rzi[r]
        c0 = max(int((rx[r] - R - hd - x0) / cs), 0)
        c1 = min(int((rx[r] + R + hd - x0) / cs) + 1, nx)
        w0 = max(int((y1 - (ry[r] + R + hd)) / cs), 0)
        w1 = min(int((y1 - (ry[r] - R - hd)) / cs) + 1, ny)
        rrow = int((y1 - ry[r]) / cs)
        rcol = int((rx[r] - x0) / cs)
        pos = ptr[r]
        m = 0
        evals = 0
        for row in range(w0, w1):
            sy_ = y1 - (row + 0.5) * cs
            for col in range(c0, c1):
                sx_ = x0 + (col + 0.5) * cs
                inside, xd, yd = _cell_in_footprint(
                    rx[r] - sx_, ry[r] - sy_, rex[r], rey[r], R, hd, k, latk
                )
                if not inside:
                    continue
                cell = row * nx + col
                is_urban = urban[cell]
                ns = nsub_near if (abs(row - rrow) <= 1 and abs(col - rcol) <= 1) else nsub
                w = cs / ns
                acc = 0.0
                accn = 0.0
                for i in range(ns):
                    ox = -0.5 * cs + (i + 0.5) * w
                    for j in range(ns):
                        oy = -0.5 * cs + (j + 0.5) * w
                        xs = xd - (ox * rex[r] + oy * rey[r])
                        if xs < 1.0 or xs > R:
                            continue
                        ys = yd - (-ox * rey[r] + oy * rex[r])
                        sy, sz = sigmas(k, xs, is_urban)
                        lim = latk * sy
                        a = max(ys - 0.5 * w, -lim)
                        b = min(ys + 0.5 * w, lim)
                        if b <= a:
                            continue
                        evals += 1
                        lat = (math.erf(b / (_SQ2 * sy)) - math.erf(a / (_SQ2 * sy))) / (2.0 * w)
                        v = lat * _vertical(k, rz[r], h_src, sz, zi, lid_f) / u
                        acc += v
                        accn += v * no2_weight(xs / u, rtau[r], r0, req, tauc)
                if acc > 0.0:
                    scale = _KGH_TO_UGS / (ns * ns)
                    out_idx[pos + m] = cell
                    out_val[pos + m] = acc * scale
                    out_nox[pos + m] = accn * scale
                    m += 1
        out_n[r] = m
        out_evals[r] = evals


@numba.njit(cache=True, parallel=True)
def point_footprint_fill(
    rx,
    ry,
    rz,
    rspeed,
    rex,
    rey,
    rk,
    rzi,
    rtau,
    rtamb,
    px,
    py,
    ph,
    pd_,
    pv,
    pt,
    purban,
    rmax_m,
    tmax_s,
    latk,
    lid_f,
    dir_sd,
    rise_scale,
    r0,
    req,
    tauc,
    max_per_row,
    out_idx,
    out_val,
    out_nox,
    out_n,
):
    """Sensitivities of receptor-hours to point sources at their effective height (stack plus
    Briggs rise, buoyancy-induced and wind-direction spread).

    Parameters
    ----------
    rx, ry, rz : ndarray ``(n,)`` float64
        Receptor positions and height above ground, m (grid CRS).
    rspeed : ndarray ``(n,)`` float64
        Wind speed, m/s, already floored at the calm floor.
    rex, rey : ndarray ``(n,)`` float64
        Unit vector the wind blows towards.
    rk : ndarray ``(n,)`` int64
        Stability class, 0..5 for A..F.
    rzi : ndarray ``(n,)`` float64
        Mixing height, m.
    rtau : ndarray ``(n,)`` float64
        NOx lifetime, s.
    rtamb : ndarray ``(n,)`` float64
        Ambient temperature, K.
    px, py : ndarray ``(npt,)`` float64
        Point-source positions, m (grid CRS).
    ph, pd_ : ndarray ``(npt,)`` float64
        Stack height and diameter, m.
    pv : ndarray ``(npt,)`` float64
        Exit velocity, m/s.
    pt : ndarray ``(npt,)`` float64
        Exit temperature, K.
    purban : ndarray ``(npt,)`` bool
        Sources that use the Briggs urban curves.
    rmax_m, tmax_s : float
        Downwind truncation: distance, m, and travel time, s (the nearer applies).
    latk : float
        Lateral truncation, in sigma_y.
    lid_f : float
        sigma_z beyond which the plume is uniform below the lid, in mixing heights.
    dir_sd : float
        1-sigma wind-direction uncertainty, radians (0 for a known wind).
    rise_scale : ndarray ``(npt,)`` float64
        Factor on each point source's Briggs rise (1 for the formula's own rise; the
        elevated-plume error evaluates the plumes at other factors, an OSSE truth at its own).
    r0, req, tauc : float
        NO2/NOx ratio at emission and at equilibrium, and the conversion time, s.
    max_per_row : int
        Columns of the output arrays.
    out_idx : ndarray ``(n, max_per_row)`` int32
        Point index of each sensitivity (written).
    out_val, out_nox : ndarray ``(n, max_per_row)`` float32
        Sensitivity, µg m-3 per kg h-1, inert and NOx seen as NO2 (written).
    out_n : ndarray ``(n,)`` int64
        Sensitivities written per row.
    """
    n = rx.size
    npt = px.size
    for r in prange(n):
        R = _rmax(rspeed[r], rmax_m, tmax_s)
        u = rspeed[r]
        k = rk[r]
        m = 0
        for p in range(npt):
            dx = rx[r] - px[p]
            dy = ry[r] - py[p]
            xd = dx * rex[r] + dy * rey[r]
            if xd < 1.0 or xd > R:
                continue
            yd = -dx * rey[r] + dy * rex[r]
            urb = purban[p]
            sy, sz = sigmas(k, xd, urb)
            us = u * (max(ph[p], 10.0) / 10.0) ** wind_profile_exponent(k, urb)
            dh = briggs_rise(k, us, ph[p], pd_[p], pv[p], pt[p], rtamb[r]) * rise_scale[p]
            he = ph[p] + dh
            # buoyancy-induced spread (Pasquill) and, for the expected plume, the spread of an
            # uncertain hourly wind direction (1-sigma dir_sd, radians) at distance xd
            sy = math.sqrt(sy * sy + (dh / 3.5) ** 2 + (xd * dir_sd) ** 2)
            sz = math.sqrt(sz * sz + (dh / 3.5) ** 2)
            if abs(yd) > latk * sy:
                continue
            lat = math.exp(-0.5 * (yd / sy) ** 2) / (_SQ2PI * sy)
            v = lat * _vertical(k, rz[r], he, sz, rzi[r], lid_f) / us * _KGH_TO_UGS
            if v <= 0.0 or m >= max_per_row:
                continue
            out_idx[r, m] = p
            out_val[r, m] = v
            out_nox[r, m] = v * no2_weight(xd / us, rtau[r], r0, req, tauc)
            m += 1
        out_n[r] = m


@numba.njit(cache=True)
def compact_rows(ptr_cap, used, idx, val, nox, ptr, o_idx, o_val, o_nox):
    """Copy the used part of each row of an over-allocated CSR into a compact one.

    Parameters
    ----------
    ptr_cap : ndarray ``(n + 1,)`` int64
        Row starts of the over-allocated arrays.
    used : ndarray ``(n,)`` int64
        Entries used at the start of each row.
    idx : ndarray int32; val, nox : ndarray float32
        Over-allocated column indices and two value arrays.
    ptr : ndarray ``(n + 1,)`` int64
        Row starts of the compact arrays (cumulative ``used``).
    o_idx : ndarray ``(ptr[-1],)`` int32; o_val, o_nox : ndarray ``(ptr[-1],)`` float32
        Compact arrays (written).
    """
    for r in range(used.size):
        a = ptr_cap[r]
        b = ptr[r]
        for j in range(used[r]):
            o_idx[b + j] = idx[a + j]
            o_val[b + j] = val[a + j]
            o_nox[b + j] = nox[a + j]


@numba.njit(cache=True, parallel=True)
def csr_hourly_forward(ptr, idx, val, hour, E, out):
    """``out[r] += Σ_j val[j] · E[hour[r], idx[j]]`` over row ``r`` of a CSR (``H @ x``),
    accumulated in float64.

    Parameters
    ----------
    ptr : ndarray ``(n + 1,)`` int64
    idx : ndarray int32
        Column (cell or point) of each entry.
    val : ndarray float32
        Sensitivity, µg m-3 per kg h-1.
    hour : ndarray ``(n,)`` int64
        Emission time step of each row.
    E : ndarray ``(nt, ncol)`` float64 or float32, C-contiguous
        Emissions, kg/h.
    out : ndarray ``(n,)`` float64
        Concentration, µg/m³ (added to).
    """
    for r in prange(ptr.size - 1):
        h = hour[r]
        s = 0.0
        for j in range(ptr[r], ptr[r + 1]):
            s += np.float64(val[j]) * np.float64(E[h, idx[j]])
        out[r] += s


@numba.njit(cache=True)
def csr_hourly_adjoint(ptr, idx, val, hour, y, G):
    """``G[hour[r], idx[j]] += val[j] · y[r]`` over every entry (``H.T @ y``); sequential,
    because rows of the same hour write the same columns.

    Parameters
    ----------
    ptr : ndarray ``(n + 1,)`` int64
    idx : ndarray int32
    val : ndarray float32
        Sensitivity, µg m-3 per kg h-1.
    hour : ndarray ``(n,)`` int64
    y : ndarray ``(n,)`` float64
        Weights per row (e.g. a concentration residual, µg/m³).
    G : ndarray ``(nt, ncol)`` float64
        Added to, in units of ``y`` per kg h-1.
    """
    for r in range(ptr.size - 1):
        h = hour[r]
        yr = y[r]
        for j in range(ptr[r], ptr[r + 1]):
            G[h, idx[j]] += np.float64(val[j]) * yr


@numba.njit(cache=True, parallel=True)
def csr_row_dot(ptr, idx, val, field, out):
    """``out[r] = Σ_j val[j] · field[idx[j]]``: each row of a CSR times a time-invariant field,
    accumulated in float64.

    Parameters
    ----------
    ptr : ndarray ``(n + 1,)`` int64
    idx : ndarray int32
    val : ndarray float32
        Sensitivity, µg m-3 per kg h-1.
    field : ndarray ``(ncol,)`` float64
        Emission, kg/h.
    out : ndarray ``(n,)`` float64
        Concentration, µg/m³ (overwritten).
    """
    for r in prange(ptr.size - 1):
        s = 0.0
        for j in range(ptr[r], ptr[r + 1]):
            s += np.float64(val[j]) * field[idx[j]]
        out[r] = s
