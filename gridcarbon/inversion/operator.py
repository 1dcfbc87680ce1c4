"""The observation operator H: steady-state Gaussian plumes from cells and stacks to stations.

For every receptor-hour (a station at one hour) the operator holds the sensitivity of the
concentration (µg/m³) to the emission (kg/h) of each grid cell (area sources) and each point
source, as a compressed sparse row structure; ``H @ x`` (:func:`forward`) and ``H.T @ y``
(:func:`adjoint`) are numba kernels.

Physics (each choice a config value, see ``docs/inversion.md``):

* ground-level-reflected Gaussian plume; dispersion coefficients ISC3 rural (Pasquill–Gifford) or
  Briggs urban, chosen by the source cell's urban fraction; met (wind, stability, mixing height)
  of the receptor-hour;
* an area source is integrated over its cell with ``n × n`` sub-cell quadrature along the wind and
  an exact crosswind integral over each sub-cell's width (the ISC3 area-source idea), with a finer
  ``n_near × n_near`` quadrature in the station's own cell and its 8 neighbours; sub-sources less
  than 1 m upwind of the receptor contribute nothing (as in ISC3);
* point sources at their effective height: stack height plus Briggs final plume rise, with
  buoyancy-induced dispersion ``sigma_e² = sigma² + (dh/3.5)²``;
* calms: the wind speed is floored at ``calm_floor_m_s``;
* mixing height zi: classes A–D reflect at zi and become uniform below it once
  sigma_z > 1.6 zi; sources above the lid do not reach the ground; E–F have no lid;
* truncation at ``min(max_distance, u * max_travel_time)`` downwind and at ``k sigma_y`` laterally
  (``lateral_sigmas``): H is sparse, and the mass lost is reported (:func:`truncation_loss`);
* NOx (as NO2 mass) decays as ``exp(-t/tau)`` (day/night tau) with ``t = x/u``, and the NO2/NOx
  ratio at the station is ``r(t) = r_eq - (r_eq - r_0) exp(-t/tau_c)``; both are linear in the
  emission, so H stays linear (the caveat for reactive species is in the docs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numba
import numpy as np
from numba import prange

from gridcarbon.inversion.dispersion import _sigmas, briggs_rise_nb, wind_profile_exponent_nb

__all__ = [
    "Receptors",
    "Footprints",
    "build_footprints",
    "forward",
    "adjoint",
    "row_dot",
    "truncation_loss",
]

_SQ2 = math.sqrt(2.0)
_SQ2PI = math.sqrt(2.0 * math.pi)
_KGH_TO_UGS = 1e9 / 3600.0


@dataclass
class Receptors:
    """Receptor-hours: a station at one hour, with the met the plume sees.

    All arrays have one value per receptor-hour.  ``hour`` indexes the emission time axis.
    ``ex, ey`` is the unit vector the wind blows **towards**; ``speed`` is already floored.
    """

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    hour: np.ndarray
    speed: np.ndarray
    ex: np.ndarray
    ey: np.ndarray
    stability: np.ndarray
    zi: np.ndarray
    tau_nox_s: np.ndarray
    t_amb: np.ndarray

    @property
    def n(self) -> int:
        return int(self.x.size)

    @classmethod
    def from_arrays(
        cls,
        x,
        y,
        z,
        hour,
        speed,
        direction_from_deg,
        stability,
        zi,
        tau_nox_s,
        t_amb,
        calm_floor: float = 1.0,
    ) -> Receptors:
        th = np.radians(np.asarray(direction_from_deg, float))
        return cls(
            np.asarray(x, float),
            np.asarray(y, float),
            np.asarray(z, float),
            np.asarray(hour, np.int64),
            np.maximum(np.asarray(speed, float), calm_floor),
            -np.sin(th),
            -np.cos(th),
            np.asarray(stability, np.int64),
            np.asarray(zi, float),
            np.asarray(tau_nox_s, float),
            np.asarray(t_amb, float),
        )


@dataclass
class Footprints:
    """Sparse sensitivities of receptor-hours to cells and point sources.

    ``area_*``: CSR over receptor-hours with cell indices (flat, C order) and values in
    µg m-3 per kg h-1, for inert species (``area_val``) and for NOx seen as NO2 (``area_nox``).
    ``pt_*``: the same for point sources (index into the point table).
    """

    receptors: Receptors
    ncell: int
    npoint: int
    area_ptr: np.ndarray
    area_idx: np.ndarray
    area_val: np.ndarray
    area_nox: np.ndarray
    pt_ptr: np.ndarray
    pt_idx: np.ndarray
    pt_val: np.ndarray
    pt_nox: np.ndarray
    kernel_evaluations: int = 0
    build_seconds: float = 0.0
    info: dict = field(default_factory=dict)

    @property
    def nnz(self) -> int:
        return int(self.area_idx.size + self.pt_idx.size)


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
def _no2_weight(tt, tau, r0, req, tauc):
    return math.exp(-tt / tau) * (req - (req - r0) * math.exp(-tt / tauc))


@numba.njit(cache=True)
def _rmax(u, rmax_m, tmax_s):
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
    sy1, _ = _sigmas(k, xd + hd, False)
    sy2, _ = _sigmas(k, xd + hd, True)
    return abs(yd) <= latk * max(sy1, sy2) + hd, xd, yd


@numba.njit(cache=True, parallel=True)
def _area_count(rx, ry, rspeed, rex, rey, rk, x0, y1, cs, nx, ny, rmax_m, tmax_s, latk):
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
def _area_fill(
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
                        sy, sz = _sigmas(k, xs, is_urban)
                        lim = latk * sy
                        a = max(ys - 0.5 * w, -lim)
                        b = min(ys + 0.5 * w, lim)
                        if b <= a:
                            continue
                        evals += 1
                        lat = (math.erf(b / (_SQ2 * sy)) - math.erf(a / (_SQ2 * sy))) / (2.0 * w)
                        v = lat * _vertical(k, rz[r], h_src, sz, zi, lid_f) / u
                        acc += v
                        accn += v * _no2_weight(xs / u, rtau[r], r0, req, tauc)
                if acc > 0.0:
                    scale = _KGH_TO_UGS / (ns * ns)
                    out_idx[pos + m] = cell
                    out_val[pos + m] = acc * scale
                    out_nox[pos + m] = accn * scale
                    m += 1
        out_n[r] = m
        out_evals[r] = evals


@numba.njit(cache=True, parallel=True)
def _point_fill(
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
    r0,
    req,
    tauc,
    max_per_row,
    out_idx,
    out_val,
    out_nox,
    out_n,
):
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
            sy, sz = _sigmas(k, xd, urb)
            us = u * (max(ph[p], 10.0) / 10.0) ** wind_profile_exponent_nb(k, urb)
            dh = briggs_rise_nb(k, us, ph[p], pd_[p], pv[p], pt[p], rtamb[r])
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
            out_nox[r, m] = v * _no2_weight(xd / us, rtau[r], r0, req, tauc)
            m += 1
        out_n[r] = m


def build_footprints(
    rec: Receptors,
    grid_x0: float,
    grid_y1: float,
    cell_size: float,
    nx: int,
    ny: int,
    urban: np.ndarray,
    points: dict[str, np.ndarray] | None = None,
    *,
    max_distance_m: float = 50_000.0,
    max_travel_s: float = 7200.0,
    lateral_sigmas: float = 3.0,
    subcells: int = 5,
    subcells_near: int = 15,
    area_height_m: float = 10.0,
    lid_factor: float = 1.6,
    no2_primary: float = 0.1,
    no2_equilibrium: float = 0.75,
    no2_conversion_s: float = 1800.0,
    point_direction_sd_rad: float = 0.0,
) -> Footprints:
    """Build the sparse operator for receptor-hours ``rec``.

    Parameters
    ----------
    rec : Receptors
    grid_x0, grid_y1, cell_size, nx, ny
        The grid (western and northern edges, m; cell edge, m; columns, rows).
    urban : bool array (ny*nx,)
        Source cells that use Briggs urban dispersion.
    points : dict, optional
        Point-source arrays ``x``, ``y`` (m), ``height``, ``diameter`` (m), ``velocity`` (m/s),
        ``temperature`` (K), ``urban`` (bool).
    point_direction_sd_rad : float
        1-sigma uncertainty of the hourly wind direction (radians) folded into the point-source
        plumes, which then give the *expected* concentration under that uncertainty
        (``σy² += (x · sd)²``); 0 for the plume of a known wind.
    """
    import time

    t0 = time.perf_counter()
    urban = np.ascontiguousarray(urban, dtype=np.bool_)
    args = (
        rec.x,
        rec.y,
        rec.speed,
        rec.ex,
        rec.ey,
        rec.stability,
        float(grid_x0),
        float(grid_y1),
        float(cell_size),
        int(nx),
        int(ny),
        float(max_distance_m),
        float(max_travel_s),
        float(lateral_sigmas),
    )
    counts = _area_count(*args)
    ptr_cap = np.zeros(rec.n + 1, np.int64)
    np.cumsum(counts, out=ptr_cap[1:])
    tot = int(ptr_cap[-1])
    idx = np.empty(tot, np.int32)
    val = np.empty(tot, np.float32)
    nox = np.empty(tot, np.float32)
    used = np.zeros(rec.n, np.int64)
    evals = np.zeros(rec.n, np.int64)
    _area_fill(
        ptr_cap,
        rec.x,
        rec.y,
        rec.z,
        rec.speed,
        rec.ex,
        rec.ey,
        rec.stability,
        rec.zi,
        rec.tau_nox_s,
        float(grid_x0),
        float(grid_y1),
        float(cell_size),
        int(nx),
        int(ny),
        urban,
        float(max_distance_m),
        float(max_travel_s),
        float(lateral_sigmas),
        int(subcells),
        int(subcells_near),
        float(area_height_m),
        float(lid_factor),
        float(no2_primary),
        float(no2_equilibrium),
        float(no2_conversion_s),
        idx,
        val,
        nox,
        used,
        evals,
    )
    a_ptr, a_idx, a_val, a_nox = _compact_fast(ptr_cap, used, idx, val, nox)
    npoint = 0
    if points is not None and len(points["x"]):
        npoint = len(points["x"])
        cap = npoint
        p_idx = np.zeros((rec.n, cap), np.int32)
        p_val = np.zeros((rec.n, cap), np.float32)
        p_nox = np.zeros((rec.n, cap), np.float32)
        p_n = np.zeros(rec.n, np.int64)
        _point_fill(
            rec.x,
            rec.y,
            rec.z,
            rec.speed,
            rec.ex,
            rec.ey,
            rec.stability,
            rec.zi,
            rec.tau_nox_s,
            rec.t_amb,
            *(
                np.asarray(points[k], float)
                for k in ("x", "y", "height", "diameter", "velocity", "temperature")
            ),
            np.asarray(points["urban"], np.bool_),
            float(max_distance_m),
            float(max_travel_s),
            float(lateral_sigmas),
            float(lid_factor),
            float(point_direction_sd_rad),
            float(no2_primary),
            float(no2_equilibrium),
            float(no2_conversion_s),
            cap,
            p_idx,
            p_val,
            p_nox,
            p_n,
        )
        mask = np.arange(cap)[None, :] < p_n[:, None]
        pt_ptr = np.zeros(rec.n + 1, np.int64)
        np.cumsum(p_n, out=pt_ptr[1:])
        pt_idx, pt_val, pt_nox = p_idx[mask], p_val[mask], p_nox[mask]
        evals = evals + p_n
    else:
        pt_ptr = np.zeros(rec.n + 1, np.int64)
        pt_idx = np.empty(0, np.int32)
        pt_val = np.empty(0, np.float32)
        pt_nox = np.empty(0, np.float32)
    fp = Footprints(
        rec,
        int(nx) * int(ny),
        npoint,
        a_ptr,
        a_idx,
        a_val,
        a_nox,
        pt_ptr,
        pt_idx,
        pt_val,
        pt_nox,
        int(evals.sum()),
        time.perf_counter() - t0,
    )
    return fp


@numba.njit(cache=True)
def _compact_kernel(ptr_cap, used, idx, val, nox, ptr, o_idx, o_val, o_nox):
    for r in range(used.size):
        a = ptr_cap[r]
        b = ptr[r]
        for j in range(used[r]):
            o_idx[b + j] = idx[a + j]
            o_val[b + j] = val[a + j]
            o_nox[b + j] = nox[a + j]


def _compact_fast(ptr_cap, used, idx, val, nox):
    ptr = np.zeros(used.size + 1, np.int64)
    np.cumsum(used, out=ptr[1:])
    n = int(ptr[-1])
    o_idx = np.empty(n, np.int32)
    o_val = np.empty(n, np.float32)
    o_nox = np.empty(n, np.float32)
    _compact_kernel(ptr_cap, used, idx, val, nox, ptr, o_idx, o_val, o_nox)
    return ptr, o_idx, o_val, o_nox


# ---------------------------------------------------------------------------------------------
# H @ x and H.T @ y
# ---------------------------------------------------------------------------------------------
@numba.njit(cache=True, parallel=True)
def _fwd(ptr, idx, val, hour, E, out):
    for r in prange(ptr.size - 1):
        h = hour[r]
        s = 0.0
        for j in range(ptr[r], ptr[r + 1]):
            s += np.float64(val[j]) * np.float64(E[h, idx[j]])
        out[r] += s


@numba.njit(cache=True)
def _adj(ptr, idx, val, hour, y, G):
    for r in range(ptr.size - 1):
        h = hour[r]
        yr = y[r]
        for j in range(ptr[r], ptr[r + 1]):
            G[h, idx[j]] += np.float64(val[j]) * yr


@numba.njit(cache=True, parallel=True)
def _rowdot(ptr, idx, val, field, out):
    for r in prange(ptr.size - 1):
        s = 0.0
        for j in range(ptr[r], ptr[r + 1]):
            s += np.float64(val[j]) * field[idx[j]]
        out[r] = s


def row_dot(fp: Footprints, field: np.ndarray, nox: bool = False) -> np.ndarray:
    """Area part of ``H @ x`` for a time-invariant field ``(ncell,)`` (same at every hour)."""
    out = np.zeros(fp.receptors.n)
    _rowdot(
        fp.area_ptr,
        fp.area_idx,
        fp.area_nox if nox else fp.area_val,
        np.ascontiguousarray(field, dtype=np.float64),
        out,
    )
    return out


def forward(
    fp: Footprints, area: np.ndarray | None, points: np.ndarray | None = None, nox: bool = False
) -> np.ndarray:
    """``H @ x``: concentration (µg/m³; NOx as NO2 at the station) at each receptor-hour.

    Parameters
    ----------
    area : array ``(nt, ncell)``
        Area-source emissions, kg/h per cell (flat cells, C order).
    points : array ``(nt, npoint)``, optional
        Point-source emissions, kg/h.
    nox : bool
        Use the NOx sensitivities (decay and NO2/NOx ratio) instead of the inert ones.
    """
    out = np.zeros(fp.receptors.n)
    hour = fp.receptors.hour
    if area is not None:
        _fwd(
            fp.area_ptr,
            fp.area_idx,
            fp.area_nox if nox else fp.area_val,
            hour,
            np.ascontiguousarray(area),
            out,
        )
    if points is not None and fp.npoint:
        _fwd(
            fp.pt_ptr,
            fp.pt_idx,
            fp.pt_nox if nox else fp.pt_val,
            hour,
            np.ascontiguousarray(points),
            out,
        )
    return out


def adjoint(
    fp: Footprints, y: np.ndarray, nt: int, nox: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``H.T @ y``: sensitivities ``(nt, ncell)`` and ``(nt, npoint)`` of ``<y, H x>``."""
    y = np.asarray(y, float)
    G = np.zeros((nt, fp.ncell))
    _adj(fp.area_ptr, fp.area_idx, fp.area_nox if nox else fp.area_val, fp.receptors.hour, y, G)
    Gp = np.zeros((nt, max(fp.npoint, 0)))
    if fp.npoint:
        _adj(fp.pt_ptr, fp.pt_idx, fp.pt_nox if nox else fp.pt_val, fp.receptors.hour, y, Gp)
    return G, Gp


def truncation_loss(
    rec: Receptors,
    grid_args: tuple,
    urban: np.ndarray,
    area: np.ndarray | None = None,
    sample: int = 200,
    seed: int = 0,
    **kw,
) -> dict[str, float]:
    """Signal lost to truncation, on a sample of receptor-hours.

    Compares the truncated operator with one reaching 3× as far in distance and travel time
    and to 6 sigma_y laterally.  Returns the lateral loss (same distances, uniform emission), the
    distance/travel-time loss (with ``area`` emissions when given, else uniform) and the total.
    """
    rng = np.random.default_rng(seed)
    sel = np.sort(rng.choice(rec.n, size=min(sample, rec.n), replace=False))
    sub = Receptors(
        *(
            getattr(rec, f)[sel]
            for f in (
                "x",
                "y",
                "z",
                "hour",
                "speed",
                "ex",
                "ey",
                "stability",
                "zi",
                "tau_nox_s",
                "t_amb",
            )
        )
    )
    ncell = grid_args[3] * grid_args[4]
    nt = int(sub.hour.max()) + 1
    uni = np.ones((nt, ncell))
    E = uni if area is None else area
    base = build_footprints(sub, *grid_args, urban, **kw)
    wide_lat = build_footprints(sub, *grid_args, urban, **{**kw, "lateral_sigmas": 6.0})
    far = build_footprints(
        sub,
        *grid_args,
        urban,
        **{
            **kw,
            "lateral_sigmas": 6.0,
            "max_distance_m": 3 * kw.get("max_distance_m", 50_000.0),
            "max_travel_s": 3 * kw.get("max_travel_s", 7200.0),
        },
    )
    b, lw, f = forward(base, uni).sum(), forward(wide_lat, uni).sum(), forward(far, E).sum()
    bE, lwE = forward(base, E).sum(), forward(wide_lat, E).sum()
    return {
        "lateral_loss": float(1 - b / lw) if lw > 0 else 0.0,
        "distance_loss": float(1 - lwE / f) if f > 0 else 0.0,
        "total_loss": float(1 - bE / f) if f > 0 else 0.0,
        "receptor_hours_sampled": int(sel.size),
    }
