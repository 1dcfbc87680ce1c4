"""Gaussian-plume building blocks: dispersion coefficients, stability, plume rise.

* Pasquill–Gifford rural dispersion coefficients as coded in ISC3 (U.S. EPA, *User's guide for
  the Industrial Source Complex (ISC3) dispersion models*, EPA-454/B-95-003b, vol. II, tables
  1-1 and 1-2): ``sigma_y = 465.11628 x tan(TH)``, ``TH = 0.017453293 (c - d ln x)``,
  ``sigma_z = a x^b`` (x in km).
* Briggs urban coefficients (McElroy–Pooler, as in ISC3 table 1-3).
* Turner's stability classification from wind speed and net-radiation index (sun elevation and
  cloud cover).
* Briggs final plume rise (buoyancy or momentum, stable and unstable/neutral forms) with the
  ISC3 wind-profile exponents.

Stability classes are integers 0..5 for A..F.  The functions here broadcast over arrays and class
names; the scalar numba kernels and the ISC3 tables are in :mod:`gridcarbon.kernels.dispersion`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridcarbon.kernels import dispersion as kernels

__all__ = [
    "CLASS_NAMES",
    "sigma_y_rural",
    "sigma_z_rural",
    "sigma_y_urban",
    "sigma_z_urban",
    "sigmas",
    "turner_class",
    "sun_elevation",
    "briggs_rise",
    "wind_profile_exponent",
]

CLASS_NAMES = ("A", "B", "C", "D", "E", "F")


def _vec(fn, cls, x):
    cls = np.broadcast_to(np.asarray(cls), np.broadcast(np.asarray(cls), np.asarray(x)).shape)
    x = np.broadcast_to(np.asarray(x, float), cls.shape)
    out = np.empty(cls.shape)
    for idx in np.ndindex(cls.shape):
        out[idx] = fn(int(cls[idx]), float(x[idx]))
    return out


def _cls(c):
    if isinstance(c, str):
        return CLASS_NAMES.index(c.upper())
    return np.asarray(
        [CLASS_NAMES.index(s.upper()) if isinstance(s, str) else int(s) for s in np.atleast_1d(c)]
    ).reshape(np.shape(c))


def sigma_y_rural(cls, x_m):
    """ISC3 rural (Pasquill–Gifford) sigma_y, m, at downwind distance ``x_m`` (m); class A–F."""
    return _vec(kernels.sigma_y_rural, _cls(cls), x_m)


def sigma_z_rural(cls, x_m):
    """ISC3 rural (Pasquill–Gifford) sigma_z, m."""
    return _vec(kernels.sigma_z_rural, _cls(cls), x_m)


def sigma_y_urban(cls, x_m):
    """Briggs urban sigma_y, m."""
    return _vec(kernels.sigma_y_urban, _cls(cls), x_m)


def sigma_z_urban(cls, x_m):
    """Briggs urban sigma_z, m."""
    return _vec(kernels.sigma_z_urban, _cls(cls), x_m)


def sigmas(cls, x_m, urban: bool = False):
    """(sigma_y, sigma_z) in m for class ``cls`` at ``x_m`` m, rural (ISC3) or urban (Briggs)."""
    if urban:
        return sigma_y_urban(cls, x_m), sigma_z_urban(cls, x_m)
    return sigma_y_rural(cls, x_m), sigma_z_rural(cls, x_m)


# Turner's table: rows = wind speed (knots) bins, columns NRI 4,3,2,1,0,-1,-2; values class index
# (G is merged into F).
_TURNER_SPEED_KNOTS = np.array([1.5, 3.5, 5.5, 6.5, 7.5, 9.5, 10.5, 11.5, np.inf])
_TURNER = np.array(
    [
        # 4  3  2  1  0 -1 -2
        [0, 0, 1, 2, 3, 5, 5],  # 0-1 kt
        [0, 1, 1, 2, 3, 5, 5],  # 2-3
        [0, 1, 2, 3, 3, 4, 5],  # 4-5
        [1, 1, 2, 3, 3, 4, 5],  # 6
        [1, 1, 2, 3, 3, 3, 4],  # 7
        [1, 2, 2, 3, 3, 3, 4],  # 8-9
        [2, 2, 3, 3, 3, 3, 4],  # 10
        [2, 2, 3, 3, 3, 3, 3],  # 11
        [2, 3, 3, 3, 3, 3, 3],  # >= 12
    ]
)


def turner_class(wind_m_s, sun_elevation_deg, cloud_fraction):
    """Turner stability class (0..5 = A..F) per hour and place.

    Net-radiation index (NRI): by day the insolation class from sun elevation (> 60°: 4,
    35–60°: 3, 15–35°: 2, else 1), lowered by 1 when cloud cover exceeds 0.5 and by 2 above 0.8;
    at night (sun elevation <= 0) -2 for cloud < 0.4 and -1 otherwise; overcast (>= 0.95) gives 0
    day or night.  Cloud cover stands in for Turner's cover-and-ceiling rules, which need a
    ceiling height that ERA5-style inputs lack.  Wind speed is the 10 m speed.
    """
    u = np.asarray(wind_m_s, float)
    el = np.asarray(sun_elevation_deg, float)
    cc = np.clip(np.asarray(cloud_fraction, float), 0.0, 1.0)
    u, el, cc = np.broadcast_arrays(u, el, cc)
    ins = np.where(el > 60, 4, np.where(el > 35, 3, np.where(el > 15, 2, 1)))
    ins = ins - (cc > 0.5).astype(int) - (cc > 0.8).astype(int)
    ins = np.maximum(ins, 1)
    nri = np.where(el > 0, ins, np.where(cc < 0.4, -2, -1))
    nri = np.where(cc >= 0.95, 0, nri)
    col = 4 - nri  # NRI 4 -> 0, -2 -> 6
    knots = u * 1.943844
    row = np.searchsorted(_TURNER_SPEED_KNOTS, knots, side="left")
    return _TURNER[np.clip(row, 0, 8), col].astype(np.int8)


def sun_elevation(times_utc, lon, lat):
    """Sun elevation (degrees) at UTC times and places (NOAA approximation, ~0.5°).

    ``times_utc`` broadcast against ``lon``/``lat``; times as datetime64 or DatetimeIndex.
    """
    tarr = np.asarray(times_utc, dtype="datetime64[ns]")
    t = pd.DatetimeIndex(np.ravel(tarr))
    doy = t.day_of_year.to_numpy(float).reshape(tarr.shape)
    hour = ((t.hour + t.minute / 60.0).to_numpy(float) + 0.5).reshape(tarr.shape)
    g = 2 * np.pi / 365.0 * (doy - 1 + (hour - 12) / 24)
    decl = (
        0.006918
        - 0.399912 * np.cos(g)
        + 0.070257 * np.sin(g)
        - 0.006758 * np.cos(2 * g)
        + 0.000907 * np.sin(2 * g)
        - 0.002697 * np.cos(3 * g)
        + 0.00148 * np.sin(3 * g)
    )
    eqt = 229.18 * (
        0.000075
        + 0.001868 * np.cos(g)
        - 0.032077 * np.sin(g)
        - 0.014615 * np.cos(2 * g)
        - 0.040849 * np.sin(2 * g)
    )
    tst = hour * 60 + eqt + 4 * np.asarray(lon, float)
    ha = np.radians(tst / 4 - 180)
    la = np.radians(np.asarray(lat, float))
    sin_el = np.sin(la) * np.sin(decl) + np.cos(la) * np.cos(decl) * np.cos(ha, dtype=np.float64)
    return np.degrees(np.arcsin(np.clip(sin_el, -1, 1)))


def wind_profile_exponent(cls, urban: bool = False):
    """ISC3 wind-profile exponent for class ``cls`` (0..5)."""
    table = kernels.WIND_PROFILE_EXPONENT_URBAN if urban else kernels.WIND_PROFILE_EXPONENT_RURAL
    return table[np.asarray(cls)]


def briggs_rise(cls, u_stack, stack_h, diam, v_exit, t_exit, t_amb=283.15):
    """Briggs final plume rise, m (vectorised wrapper of the numba kernel)."""
    b = np.broadcast_arrays(
        *(np.asarray(a, float) for a in (cls, u_stack, stack_h, diam, v_exit, t_exit, t_amb))
    )
    out = np.empty(b[0].shape)
    for idx in np.ndindex(out.shape):
        out[idx] = kernels.briggs_rise(int(b[0][idx]), *(float(a[idx]) for a in b[1:]))
    return out
