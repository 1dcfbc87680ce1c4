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

Stability classes are integers 0..5 for A..F.  All numba functions are ``cache=True``.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pandas as pd

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

# ISC3 table 1-1: (c, d) of TH for sigma_y, per class A..F
_SY_C = np.array([24.1670, 18.3330, 12.5000, 8.3330, 6.2500, 4.1667])
_SY_D = np.array([2.5334, 1.8096, 1.0857, 0.72382, 0.54287, 0.36191])

# ISC3 table 1-2: sigma_z = a x^b, rows: (upper x limit km, a, b); the last row of each class
# holds for larger x.  Class A above 3.11 km and B sigma_z are capped at 5000 m.
_SZ_TABLE = {
    0: [
        (0.10, 122.800, 0.94470),
        (0.15, 158.080, 1.05420),
        (0.20, 170.220, 1.09320),
        (0.25, 179.520, 1.12620),
        (0.30, 217.410, 1.26440),
        (0.40, 258.890, 1.40940),
        (0.50, 346.750, 1.72830),
        (3.11, 453.850, 2.11660),
        (1e9, 453.850, 2.11660),
    ],
    1: [(0.20, 90.673, 0.93198), (0.40, 98.483, 0.98332), (1e9, 109.300, 1.09710)],
    2: [(1e9, 61.141, 0.91465)],
    3: [
        (0.30, 34.459, 0.86974),
        (1.00, 32.093, 0.81066),
        (3.00, 32.093, 0.64403),
        (10.00, 33.504, 0.60486),
        (30.00, 36.650, 0.56589),
        (1e9, 44.053, 0.51179),
    ],
    4: [
        (0.10, 24.260, 0.83660),
        (0.30, 23.331, 0.81956),
        (1.00, 21.628, 0.75660),
        (2.00, 21.628, 0.63077),
        (4.00, 22.534, 0.57154),
        (10.00, 24.703, 0.50527),
        (20.00, 26.970, 0.46713),
        (40.00, 35.420, 0.37615),
        (1e9, 47.618, 0.29592),
    ],
    5: [
        (0.20, 15.209, 0.81558),
        (0.70, 14.457, 0.78407),
        (1.00, 13.953, 0.68465),
        (2.00, 13.953, 0.63227),
        (3.00, 14.823, 0.54503),
        (7.00, 16.187, 0.46490),
        (15.00, 17.836, 0.41507),
        (30.00, 22.651, 0.32681),
        (60.00, 27.074, 0.27436),
        (1e9, 34.219, 0.21716),
    ],
}
_SZ_N = max(len(v) for v in _SZ_TABLE.values())
_SZ_LIM = np.full((6, _SZ_N), 1e9)
_SZ_A = np.zeros((6, _SZ_N))
_SZ_B = np.zeros((6, _SZ_N))
for _k, _rows in _SZ_TABLE.items():
    for _i, (_lim, _a, _b) in enumerate(_rows):
        _SZ_LIM[_k, _i], _SZ_A[_k, _i], _SZ_B[_k, _i] = _lim, _a, _b
    for _i in range(len(_rows), _SZ_N):
        _SZ_LIM[_k, _i], _SZ_A[_k, _i], _SZ_B[_k, _i] = 1e9, _rows[-1][1], _rows[-1][2]

# ISC3 wind-profile exponents, rural and urban, A..F
_P_RURAL = np.array([0.07, 0.07, 0.10, 0.15, 0.35, 0.55])
_P_URBAN = np.array([0.15, 0.15, 0.20, 0.25, 0.30, 0.30])


@numba.njit(cache=True)
def _sy_rural(k, x_m):
    xk = max(x_m, 1.0) / 1000.0
    th = 0.017453293 * (_SY_C[k] - _SY_D[k] * math.log(xk))
    return 465.11628 * xk * math.tan(th)


@numba.njit(cache=True)
def _sz_rural(k, x_m):
    xk = max(x_m, 1.0) / 1000.0
    i = 0
    while xk > _SZ_LIM[k, i]:
        i += 1
    s = _SZ_A[k, i] * xk ** _SZ_B[k, i]
    if k <= 1 and s > 5000.0:
        s = 5000.0
    return s


@numba.njit(cache=True)
def _sy_urban(k, x_m):
    x = max(x_m, 1.0)
    f = 1.0 / math.sqrt(1.0 + 0.0004 * x)
    if k <= 1:
        return 0.32 * x * f
    if k == 2:
        return 0.22 * x * f
    if k == 3:
        return 0.16 * x * f
    return 0.11 * x * f


@numba.njit(cache=True)
def _sz_urban(k, x_m):
    x = max(x_m, 1.0)
    if k <= 1:
        return 0.24 * x * math.sqrt(1.0 + 0.001 * x)
    if k == 2:
        return 0.20 * x
    if k == 3:
        return 0.14 * x / math.sqrt(1.0 + 0.0003 * x)
    return 0.08 * x / math.sqrt(1.0 + 0.0015 * x)


@numba.njit(cache=True)
def _sigmas(k, x_m, urban):
    if urban:
        return _sy_urban(k, x_m), _sz_urban(k, x_m)
    return _sy_rural(k, x_m), _sz_rural(k, x_m)


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
    return _vec(_sy_rural, _cls(cls), x_m)


def sigma_z_rural(cls, x_m):
    """ISC3 rural (Pasquill–Gifford) sigma_z, m."""
    return _vec(_sz_rural, _cls(cls), x_m)


def sigma_y_urban(cls, x_m):
    """Briggs urban sigma_y, m."""
    return _vec(_sy_urban, _cls(cls), x_m)


def sigma_z_urban(cls, x_m):
    """Briggs urban sigma_z, m."""
    return _vec(_sz_urban, _cls(cls), x_m)


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


@numba.njit(cache=True)
def wind_profile_exponent_nb(k, urban):
    return _P_URBAN[k] if urban else _P_RURAL[k]


def wind_profile_exponent(cls, urban: bool = False):
    """ISC3 wind-profile exponent for class ``cls`` (0..5)."""
    return (_P_URBAN if urban else _P_RURAL)[np.asarray(cls)]


@numba.njit(cache=True)
def briggs_rise_nb(k, u_s, stack_h, diam, v_exit, t_exit, t_amb):
    """Briggs final plume rise (m) for class k, stack-height wind u_s (m/s)."""
    u = max(u_s, 1.0)
    fb = 9.80665 * v_exit * diam * diam * max(t_exit - t_amb, 0.0) / (4.0 * max(t_exit, 1.0))
    # momentum rise (Briggs 1969): 3 d v / u
    dh_m = 3.0 * diam * v_exit / u
    if k >= 4:
        dtheta = 0.020 if k == 4 else 0.035
        s = 9.80665 * dtheta / t_amb
        dh_b = 2.6 * (fb / (u * s)) ** (1.0 / 3.0) if fb > 0 else 0.0
        dh_ms = (
            1.5
            * (v_exit * v_exit * diam * diam * t_amb / (4.0 * max(t_exit, 1.0) * u)) ** (1.0 / 3.0)
            * s ** (-1.0 / 6.0)
        )
        return max(dh_b, min(dh_m, dh_ms))
    if fb <= 0:
        return dh_m
    if fb < 55.0:
        dh_b = 21.425 * fb**0.75 / u
    else:
        dh_b = 38.71 * fb**0.6 / u
    return max(dh_b, dh_m)


def briggs_rise(cls, u_stack, stack_h, diam, v_exit, t_exit, t_amb=283.15):
    """Briggs final plume rise, m (vectorised wrapper of the numba kernel)."""
    b = np.broadcast_arrays(
        *(np.asarray(a, float) for a in (cls, u_stack, stack_h, diam, v_exit, t_exit, t_amb))
    )
    out = np.empty(b[0].shape)
    for idx in np.ndindex(out.shape):
        out[idx] = briggs_rise_nb(int(b[0][idx]), *(float(a[idx]) for a in b[1:]))
    return out
