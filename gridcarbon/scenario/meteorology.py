"""Deterministic synthetic hourly meteorology for the default (SYNTHETIC, labelled so).

Shapes, not data: a winter north-east and summer south-east monsoon, synoptic swings of wind
direction and speed (periods of 2.5–7 days), stronger winds at the coast, diurnal cycles of wind
speed (afternoon maximum), mixing height (low at night, highest mid-afternoon; higher in summer)
and cloud.  Fields are on a regular 0.25° lon/lat grid like ERA5, so that the same interpolation
serves both; variables and units follow ERA5 (``u10``, ``v10`` m/s, ``blh`` m, ``tcc`` 0–1,
``t2m`` K).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["synthetic_met"]


def synthetic_met(
    times_utc: pd.DatetimeIndex | np.ndarray,
    bounds_lonlat: tuple[float, float, float, float] = (117.0, 26.0, 124.0, 32.5),
    resolution_deg: float = 0.25,
    seed: int = 20230,
    hour_shift_h: int = 0,
) -> xr.Dataset:
    """Synthetic hourly met on a lon/lat grid.

    Parameters
    ----------
    times_utc : DatetimeIndex
        Hourly UTC stamps (hour-beginning).
    bounds_lonlat : (lon_min, lat_min, lon_max, lat_max)
        Area covered, degrees.
    resolution_deg : float
        Grid spacing, degrees.
    seed : int
        Seed of the synoptic phases.
    hour_shift_h : int
        Hours from Beijing time of the clock the diurnal cycles follow (local solar time of a
        region west of 112.5°E, :func:`gridcarbon.grids.temporal.solar_hour_shift`); 0: Beijing.

    Returns
    -------
    xr.Dataset
        ``u10``, ``v10``, ``blh``, ``tcc``, ``t2m`` on ``(time, lat, lon)``, attribute
        ``synthetic = "true"``.
    """
    t = pd.DatetimeIndex(times_utc)
    rng = np.random.default_rng(seed)
    lon = np.arange(bounds_lonlat[0], bounds_lonlat[2] + 1e-9, resolution_deg)
    lat = np.arange(bounds_lonlat[1], bounds_lonlat[3] + 1e-9, resolution_deg)
    days = ((t - pd.Timestamp("2000-01-01")) / pd.Timedelta(days=1)).to_numpy(float)
    doy = t.day_of_year.to_numpy(float)
    local_h = ((t.hour.to_numpy() + 8 + int(hour_shift_h)) % 24).astype(float)
    summer = 0.5 * (1 - np.cos(2 * np.pi * (doy - 15) / 365.25))  # 0 mid-January, 1 mid-July

    def synoptic(n_waves: int, amp: float) -> np.ndarray:
        periods = rng.uniform(2.5, 7.0, n_waves)
        phases = rng.uniform(0, 2 * np.pi, n_waves)
        a = rng.uniform(0.5, 1.0, n_waves)
        s = sum(a[i] * np.sin(2 * np.pi * days / periods[i] + phases[i]) for i in range(n_waves))
        return amp * s / a.sum()

    # wind direction the wind blows FROM, degrees: NE (45) in winter to SE (135) in summer
    base_dir = 45.0 + 90.0 * summer + synoptic(3, 70.0)
    diurnal = np.cos(2 * np.pi * (local_h - 14.0) / 24.0)  # +1 at 14 h Beijing, -1 at 2 h
    speed = 3.2 + 1.0 * diurnal + synoptic(3, 1.6)
    cloud = np.clip(0.5 + synoptic(3, 0.55) + 0.1 * np.cos(2 * np.pi * (local_h - 6) / 24), 0, 1)
    day_peak = 850.0 + 700.0 * summer
    blh_t = 220.0 + (day_peak - 220.0) * np.clip(np.sin(np.pi * (local_h - 7.0) / 11.0), 0, None)
    blh_t = blh_t * (1.0 - 0.35 * cloud) * (1.0 + synoptic(2, 0.25))
    t2m = 279.0 + 23.0 * summer + 4.0 * diurnal + synoptic(2, 3.0)

    LON, LAT = np.meshgrid(lon, lat)
    # spatial structure: direction turns ~10° per 2° of latitude; stronger wind at the coast
    dir_sp = 5.0 * (LAT - 29.0)
    coast = np.clip((LON - 120.5) / 2.0, 0, 1)
    speed_sp = 1.0 + 0.35 * coast - 0.1 * np.clip((29.5 - LAT) / 3, 0, 1)
    blh_sp = 1.0 - 0.1 * coast
    t_sp = -0.6 * (LAT - 29.0) - 1.0 * np.clip((120.0 - LON) / 2, 0, 1)
    dirs = np.radians(base_dir[:, None, None] + dir_sp[None])
    ws = np.clip(speed[:, None, None] * speed_sp[None], 0.2, None)
    u10 = -ws * np.sin(dirs)
    v10 = -ws * np.cos(dirs)
    blh = np.clip(blh_t[:, None, None] * blh_sp[None], 80.0, None)
    tcc = np.broadcast_to(cloud[:, None, None], blh.shape).copy()
    t2 = t2m[:, None, None] + t_sp[None]
    dims = ("time", "lat", "lon")
    ds = xr.Dataset(
        {
            "u10": (
                dims,
                u10.astype(np.float32),
                {"units": "m s-1", "long_name": "10 m eastward wind"},
            ),
            "v10": (
                dims,
                v10.astype(np.float32),
                {"units": "m s-1", "long_name": "10 m northward wind"},
            ),
            "blh": (
                dims,
                blh.astype(np.float32),
                {"units": "m", "long_name": "boundary-layer height"},
            ),
            "tcc": (dims, tcc.astype(np.float32), {"units": "1", "long_name": "total cloud cover"}),
            "t2m": (dims, t2.astype(np.float32), {"units": "K", "long_name": "2 m temperature"}),
        },
        coords={"time": t.values, "lat": lat, "lon": lon},
        attrs={
            "synthetic": "true",
            "source": "gridcarbon.scenario.meteorology.synthetic_met",
            "seed": seed,
        },
    )
    return ds
