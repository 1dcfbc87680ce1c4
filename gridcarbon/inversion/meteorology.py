"""Hourly meteorology at stations and cells: interpolation, cloud cover, stability, and the
perturbations of the OSSE.

A met Dataset has ``u10``, ``v10`` (m/s), ``blh`` (m), ``tcc`` (0–1) or ``sshf`` and ``t2m``
(K) on ``(time, lat, lon)``: the scenario's meteorology gives it for the hours of a period
(synthetic by default; ERA5 single-level files are read by
:func:`gridcarbon.io.meteorology_file.read_era5`).  :func:`with_cloud_cover` estimates cloud
cover from the sensible heat flux when ``tcc`` is absent; :func:`met_at_points` interpolates
bilinearly in space (and linearly in time) and adds wind speed, direction, sun elevation and the
Turner stability class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from gridcarbon.errors import InputDataError
from gridcarbon.grids.gridspec import GridSpec
from gridcarbon.inversion.dispersion import sun_elevation, turner_class

__all__ = [
    "with_cloud_cover",
    "met_at_points",
    "met_on_grid",
    "PointMet",
    "perturb_point_met",
    "error_fields_at",
]

#: The variables the inversion uses, in order.
MET_VARIABLES = ("u10", "v10", "blh", "tcc", "t2m")


def with_cloud_cover(met: xr.Dataset) -> xr.Dataset:
    """The met variables with ``tcc``: as given, or estimated from the surface sensible heat flux
    ``sshf`` (ERA5: J m-2 accumulated over the hour, downward positive), and ``sp`` when given — by day
    ``1 - H / H_clear`` with ``H_clear = 0.35 * 1000 W m-2 * sin(elevation)``, at night 0.5
    (unknown): a stated approximation."""
    missing = [v for v in ("u10", "v10", "blh", "t2m") if v not in met]
    if missing or ("tcc" not in met and "sshf" not in met):
        raise InputDataError(
            f"meteorology lacks {missing or ['tcc']}; it needs u10, v10, blh, t2m and tcc or sshf"
        )
    if "tcc" not in met:
        met = met.copy()
        h_up = -met["sshf"] / 3600.0  # upward W m-2
        lon2, lat2 = np.meshgrid(met["lon"].values, met["lat"].values)
        el = sun_elevation(met["time"].values[:, None, None], lon2[None], lat2[None])
        clear = 350.0 * np.clip(np.sin(np.radians(el)), 0.05, None)
        cc = np.where(el > 0, 1 - np.clip(h_up.values / clear, 0, 1), 0.5)
        met["tcc"] = (("time", "lat", "lon"), cc.astype(np.float32))
    # the surface pressure is optional: the ambient-state conversion falls back on the
    # standard atmosphere without it
    return met[[*MET_VARIABLES, *(["sp"] if "sp" in met else [])]]


@dataclass
class PointMet:
    """Hourly met at points, arrays ``(time, point)``.

    Attributes: ``speed`` (10 m wind, m/s, not floored), ``direction_from`` (degrees, where the
    wind blows from), ``blh`` (m), ``cloud`` (0–1), ``t2m`` (K), ``sun_elevation`` (degrees),
    ``stability`` (0..5 = A..F, Turner), ``times`` (UTC), and ``surface_pressure`` (Pa; ERA5
    ``sp``) when the met has it, else None.
    """

    times: pd.DatetimeIndex
    speed: np.ndarray
    direction_from: np.ndarray
    blh: np.ndarray
    cloud: np.ndarray
    t2m: np.ndarray
    sun_elevation: np.ndarray
    stability: np.ndarray
    surface_pressure: np.ndarray | None = None

    def copy(self) -> PointMet:
        return PointMet(
            self.times,
            *(
                np.array(getattr(self, f))
                for f in (
                    "speed",
                    "direction_from",
                    "blh",
                    "cloud",
                    "t2m",
                    "sun_elevation",
                    "stability",
                )
            ),
            None if self.surface_pressure is None else np.array(self.surface_pressure),
        )


def _interp(met: xr.Dataset, times, lon, lat) -> dict[str, np.ndarray]:
    lon = np.asarray(lon, float)
    lat = np.asarray(lat, float)
    glon, glat = met["lon"].values, met["lat"].values
    if lon.min() < glon[0] or lon.max() > glon[-1] or lat.min() < glat[0] or lat.max() > glat[-1]:
        raise InputDataError(
            f"meteorology covers lon {glon[0]}..{glon[-1]}, lat {glat[0]}..{glat[-1]}, which does "
            f"not contain all points (lon {lon.min():.2f}..{lon.max():.2f}, lat "
            f"{lat.min():.2f}..{lat.max():.2f}); give a larger met domain"
        )
    t = pd.DatetimeIndex(times)
    mt = pd.DatetimeIndex(met["time"].values)
    if t.min() < mt.min() or t.max() > mt.max():
        raise InputDataError(f"meteorology covers {mt.min()}..{mt.max()}, not {t.min()}..{t.max()}")
    pts = xr.Dataset({"lon": ("p", lon), "lat": ("p", lat)})
    sub = met.interp(lon=pts["lon"], lat=pts["lat"], method="linear")
    # xarray interpolates datetimes as numbers in each index's own unit: times in ns against a
    # met file read in us (pandas 3, xarray 2025+) gave NaN everywhere; one unit for both.
    sub = sub.assign_coords(time=mt.as_unit("ns").values)
    sub = sub.interp(time=t.as_unit("ns").values, method="linear")
    out = {
        v: np.asarray(sub[v].transpose("time", "p").values, float)
        for v in ("u10", "v10", "blh", "tcc", "t2m", "sp")
        if v in sub
    }
    for v, a in out.items():
        if np.isnan(a).any():
            ti, pi = np.argwhere(np.isnan(a))[0]
            raise InputDataError(
                f"meteorology variable {v!r} has missing values (NaN) where it is needed, at "
                f"{t[ti]} (UTC) near lon {lon[pi]:.3f}, lat {lat[pi]:.3f}; fill the gaps in "
                "the met file or give one without missing values there"
            )
    return out


def met_at_points(met: xr.Dataset, times, lon, lat) -> PointMet:
    """Met interpolated to points (bilinear in space, linear in time) plus Turner stability."""
    f = _interp(met, times, lon, lat)
    t = pd.DatetimeIndex(times)
    speed = np.hypot(f["u10"], f["v10"])
    direction = (np.degrees(np.arctan2(-f["u10"], -f["v10"])) + 360.0) % 360.0
    el = sun_elevation(
        t.values[:, None], np.asarray(lon, float)[None], np.asarray(lat, float)[None]
    )
    stab = turner_class(speed, el, f["tcc"])
    return PointMet(
        t,
        speed,
        direction,
        np.clip(f["blh"], 50.0, None),
        f["tcc"],
        f["t2m"],
        el,
        stab,
        f.get("sp"),
    )


def met_on_grid(met: xr.Dataset, grid: GridSpec, times) -> PointMet:
    """Met at every cell centre, arrays ``(time, ny*nx)`` (C order)."""
    lon, lat = grid.lonlat()
    return met_at_points(met, times, lon.ravel(), lat.ravel())


def perturb_point_met(
    pm: PointMet,
    xy_m: np.ndarray,
    rng: np.random.Generator,
    direction_sd_deg: float,
    speed_sd: float,
    blh_bias: float,
    time_scale_h: float,
    length_scale_km: float,
    blh_scale: np.ndarray | None = None,
) -> PointMet:
    """Perturbed copy of point met for the 'perturbed transport' OSSE.

    Wind-direction errors (additive, degrees) and wind-speed errors (multiplicative, lognormal)
    are AR(1) in time with e-folding ``time_scale_h`` and correlated between points as
    ``exp(-d / length_scale_km)``; the mixing height is multiplied by ``1 + blh_bias`` and, when
    given, by ``blh_scale`` (``(time, point)``, dimensionless: a per-city, per-day error).  The
    stability class is recomputed from the perturbed wind.
    """
    nt = pm.speed.shape[0]
    L = np.linalg.cholesky(_exponential_correlation(xy_m, length_scale_km))
    hours = np.arange(nt, dtype=float)
    new = pm.copy()
    new.direction_from = (
        pm.direction_from + direction_sd_deg * _ar1_fields(rng, hours, L, time_scale_h)
    ) % 360.0
    sig = np.log1p(speed_sd)
    new.speed = pm.speed * np.exp(sig * _ar1_fields(rng, hours, L, time_scale_h) - 0.5 * sig * sig)
    new.blh = pm.blh * (1.0 + blh_bias) * (1.0 if blh_scale is None else blh_scale)
    new.stability = turner_class(new.speed, pm.sun_elevation, pm.cloud)
    return new


def _exponential_correlation(xy_m: np.ndarray, length_scale_km: float) -> np.ndarray:
    """``exp(−d / ℓ)`` between points ``(n, 2)`` (m), with a 1e-9 ridge for its Cholesky."""
    d = np.hypot(xy_m[:, 0][:, None] - xy_m[:, 0][None], xy_m[:, 1][:, None] - xy_m[:, 1][None])
    return np.exp(-d / (length_scale_km * 1000.0)) + 1e-9 * np.eye(len(xy_m))


def _ar1_fields(
    rng: np.random.Generator, hours: np.ndarray, L: np.ndarray, time_scale_h: float
) -> np.ndarray:
    """Unit-variance fields ``(len(hours), n)``: spatial correlation ``L Lᵀ`` at each of the
    increasing ``hours``, AR(1) between them with correlation ``exp(−Δt / τ)``."""
    z = rng.standard_normal((hours.size, L.shape[0])) @ L.T
    out = np.empty_like(z)
    out[0] = z[0]
    for i in range(1, hours.size):
        a = np.exp(-(hours[i] - hours[i - 1]) / time_scale_h)
        out[i] = a * out[i - 1] + np.sqrt(1 - a * a) * z[i]
    return out


def error_fields_at(
    xy_m: np.ndarray,
    hours: np.ndarray,
    rng: np.random.Generator,
    time_scale_h: float,
    length_scale_km: float,
    n_fields: int,
) -> np.ndarray:
    """Unit-variance Gaussian error fields at scattered points and hours, with the correlation
    of :func:`perturb_point_met`'s errors: ``exp(−d / ℓ)`` in space, AR(1) with e-folding
    ``time_scale_h`` in time.  For many points (a satellite's pixels) they are drawn on a
    square lattice of spacing ℓ / 5 over the points' extent, at each distinct hour, and
    interpolated bilinearly, each point's value divided by the interpolation's standard
    deviation so that its variance is exactly 1 (the correlation between points is then close
    to, not exactly, ``exp(−d / ℓ)``).

    Parameters
    ----------
    xy_m : array ``(n, 2)``
        The points, m (a projected CRS).
    hours : array ``(n,)``
        Each point's time, hours (any origin).
    rng : numpy.random.Generator
    time_scale_h, length_scale_km : float
        The e-folding time (h) and length (km).
    n_fields : int
        How many independent fields.

    Returns
    -------
    array ``(n_fields, n)``
    """
    xy_m = np.asarray(xy_m, float).reshape(-1, 2)
    hours = np.asarray(hours, float)
    if hours.shape != (xy_m.shape[0],):
        raise ValueError(
            f"error_fields_at: {hours.shape} hours for {xy_m.shape[0]} points; give one hour "
            "per point"
        )
    if xy_m.size == 0:
        return np.zeros((n_fields, 0))
    h = length_scale_km * 1000.0 / 5.0
    origin = xy_m.min(axis=0) - h
    shape = np.ceil((xy_m.max(axis=0) - origin) / h).astype(int) + 2  # (nx, ny)
    gx, gy = np.meshgrid(origin[0] + h * np.arange(shape[0]), origin[1] + h * np.arange(shape[1]))
    C = _exponential_correlation(np.column_stack([gx.ravel(), gy.ravel()]), length_scale_km)
    L = np.linalg.cholesky(C)
    distinct, at = np.unique(hours, return_inverse=True)
    f = (xy_m - origin) / h
    i = np.clip(np.floor(f).astype(int), 0, shape - 2)
    t = f - i
    corners = [(0, 0), (1, 0), (0, 1), (1, 1)]
    node = np.stack([(i[:, 1] + dy) * shape[0] + i[:, 0] + dx for dx, dy in corners])
    w = np.stack(
        [(t[:, 0] if dx else 1 - t[:, 0]) * (t[:, 1] if dy else 1 - t[:, 1]) for dx, dy in corners]
    )
    sd = np.sqrt(sum(w[a] * w[b] * C[node[a], node[b]] for a in range(4) for b in range(4)))
    out = np.empty((n_fields, xy_m.shape[0]))
    for k in range(n_fields):
        fields = _ar1_fields(rng, distinct, L, time_scale_h)
        out[k] = (w * fields[at[None, :], node]).sum(axis=0) / sd
    return out
