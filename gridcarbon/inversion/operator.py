"""The observation operator H: steady-state Gaussian plumes from cells and stacks to stations.

For every receptor-hour (a station at one hour) the operator holds the sensitivity of the
concentration (µg/m³) to the emission (kg/h) of each grid cell (area sources) and each point
source, as a compressed sparse row structure; ``H @ x`` (:func:`forward`) and ``H.T @ y``
(:func:`adjoint`) are numba kernels (:mod:`gridcarbon.kernels.plume`).

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

from dataclasses import dataclass, field

import numpy as np

from gridcarbon.kernels.plume import (
    area_footprint_counts,
    area_footprint_fill,
    compact_rows,
    csr_hourly_adjoint,
    csr_hourly_forward,
    csr_row_dot,
    point_footprint_fill,
)

__all__ = [
    "Receptors",
    "Footprints",
    "build_footprints",
    "forward",
    "adjoint",
    "row_dot",
    "truncation_loss",
]


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
    point_rise_scale: float | np.ndarray = 1.0,
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
    point_rise_scale : float or ndarray ``(npt,)``
        Factor on the Briggs plume rise of every point source, or one per point source (1: the
        formula's rise; the elevated-plume error term evaluates other factors, an OSSE truth
        draws one per stack).
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
    counts = area_footprint_counts(*args)
    ptr_cap = np.zeros(rec.n + 1, np.int64)
    np.cumsum(counts, out=ptr_cap[1:])
    tot = int(ptr_cap[-1])
    idx = np.empty(tot, np.int32)
    val = np.empty(tot, np.float32)
    nox = np.empty(tot, np.float32)
    used = np.zeros(rec.n, np.int64)
    evals = np.zeros(rec.n, np.int64)
    area_footprint_fill(
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
        point_footprint_fill(
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
            np.ascontiguousarray(
                np.broadcast_to(np.asarray(point_rise_scale, np.float64), (npoint,))
            ),
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


def _compact_fast(ptr_cap, used, idx, val, nox):
    ptr = np.zeros(used.size + 1, np.int64)
    np.cumsum(used, out=ptr[1:])
    n = int(ptr[-1])
    o_idx = np.empty(n, np.int32)
    o_val = np.empty(n, np.float32)
    o_nox = np.empty(n, np.float32)
    compact_rows(ptr_cap, used, idx, val, nox, ptr, o_idx, o_val, o_nox)
    return ptr, o_idx, o_val, o_nox


# ---------------------------------------------------------------------------------------------
# H @ x and H.T @ y
# ---------------------------------------------------------------------------------------------
def row_dot(fp: Footprints, field: np.ndarray, nox: bool = False) -> np.ndarray:
    """Area part of ``H @ x`` for a time-invariant field ``(ncell,)`` (same at every hour)."""
    out = np.zeros(fp.receptors.n)
    csr_row_dot(
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
        csr_hourly_forward(
            fp.area_ptr,
            fp.area_idx,
            fp.area_nox if nox else fp.area_val,
            hour,
            np.ascontiguousarray(area),
            out,
        )
    if points is not None and fp.npoint:
        csr_hourly_forward(
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
    csr_hourly_adjoint(
        fp.area_ptr, fp.area_idx, fp.area_nox if nox else fp.area_val, fp.receptors.hour, y, G
    )
    Gp = np.zeros((nt, max(fp.npoint, 0)))
    if fp.npoint:
        csr_hourly_adjoint(
            fp.pt_ptr, fp.pt_idx, fp.pt_nox if nox else fp.pt_val, fp.receptors.hour, y, Gp
        )
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
