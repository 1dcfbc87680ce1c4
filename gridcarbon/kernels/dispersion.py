"""Gaussian-plume coefficients as scalar numba kernels: ISC3/Briggs dispersion curves,
wind-profile exponents and Briggs final plume rise, with their coefficient tables.

* Pasquill–Gifford rural dispersion coefficients as coded in ISC3 (U.S. EPA, *User's guide for
  the Industrial Source Complex (ISC3) dispersion models*, EPA-454/B-95-003b, vol. II, tables
  1-1 and 1-2): ``sigma_y = 465.11628 x tan(TH)``, ``TH = 0.017453293 (c - d ln x)``,
  ``sigma_z = a x^b`` (x in km).
* Briggs urban coefficients (McElroy–Pooler, as in ISC3 table 1-3).
* Briggs final plume rise (buoyancy or momentum, stable and unstable/neutral forms) with the
  ISC3 wind-profile exponents.

Stability classes are integers ``k`` = 0..5 for A..F.  The tables are read-only: numba freezes
global arrays into the compiled code, so a change at run time would not reach it.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "WIND_PROFILE_EXPONENT_RURAL",
    "WIND_PROFILE_EXPONENT_URBAN",
    "sigma_y_rural",
    "sigma_z_rural",
    "sigma_y_urban",
    "sigma_z_urban",
    "sigmas",
    "wind_profile_exponent",
    "briggs_rise",
]

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


def _sigma_z_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ISC3 table 1-2 as (6, n) arrays of upper limits (km), a and b, each class padded with its
    last row."""
    n = max(len(v) for v in _SZ_TABLE.values())
    lim = np.full((6, n), 1e9)
    a = np.zeros((6, n))
    b = np.zeros((6, n))
    for k, rows in _SZ_TABLE.items():
        for i, (lim_k, a_k, b_k) in enumerate(rows):
            lim[k, i], a[k, i], b[k, i] = lim_k, a_k, b_k
        for i in range(len(rows), n):
            lim[k, i], a[k, i], b[k, i] = 1e9, rows[-1][1], rows[-1][2]
    return lim, a, b


_SZ_LIM, _SZ_A, _SZ_B = _sigma_z_arrays()

#: ISC3 wind-profile exponents p (``u(z) = u10 (z/10)^p``), classes A..F, rural terrain.
WIND_PROFILE_EXPONENT_RURAL = np.array([0.07, 0.07, 0.10, 0.15, 0.35, 0.55])
#: ISC3 wind-profile exponents p, classes A..F, urban terrain.
WIND_PROFILE_EXPONENT_URBAN = np.array([0.15, 0.15, 0.20, 0.25, 0.30, 0.30])

for _table in (
    _SY_C,
    _SY_D,
    _SZ_LIM,
    _SZ_A,
    _SZ_B,
    WIND_PROFILE_EXPONENT_RURAL,
    WIND_PROFILE_EXPONENT_URBAN,
):
    _table.flags.writeable = False


@numba.njit(cache=True)
def sigma_y_rural(k, x_m):
    """ISC3 rural (Pasquill–Gifford) sigma_y.

    Parameters
    ----------
    k : int
        Stability class, 0..5 for A..F.
    x_m : float
        Downwind distance, m (floored at 1 m).

    Returns
    -------
    float
        sigma_y, m.
    """
    xk = max(x_m, 1.0) / 1000.0
    th = 0.017453293 * (_SY_C[k] - _SY_D[k] * math.log(xk))
    return 465.11628 * xk * math.tan(th)


@numba.njit(cache=True)
def sigma_z_rural(k, x_m):
    """ISC3 rural (Pasquill–Gifford) sigma_z; classes A and B capped at 5000 m.

    Parameters
    ----------
    k : int
        Stability class, 0..5 for A..F.
    x_m : float
        Downwind distance, m (floored at 1 m).

    Returns
    -------
    float
        sigma_z, m.
    """
    xk = max(x_m, 1.0) / 1000.0
    i = 0
    while xk > _SZ_LIM[k, i]:
        i += 1
    s = _SZ_A[k, i] * xk ** _SZ_B[k, i]
    if k <= 1 and s > 5000.0:
        s = 5000.0
    return s


@numba.njit(cache=True)
def sigma_y_urban(k, x_m):
    """Briggs urban (McElroy–Pooler) sigma_y.

    Parameters
    ----------
    k : int
        Stability class, 0..5 for A..F (A and B share a curve, as do E and F).
    x_m : float
        Downwind distance, m (floored at 1 m).

    Returns
    -------
    float
        sigma_y, m.
    """
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
def sigma_z_urban(k, x_m):
    """Briggs urban (McElroy–Pooler) sigma_z.

    Parameters
    ----------
    k : int
        Stability class, 0..5 for A..F (A and B share a curve, as do E and F).
    x_m : float
        Downwind distance, m (floored at 1 m).

    Returns
    -------
    float
        sigma_z, m.
    """
    x = max(x_m, 1.0)
    if k <= 1:
        return 0.24 * x * math.sqrt(1.0 + 0.001 * x)
    if k == 2:
        return 0.20 * x
    if k == 3:
        return 0.14 * x / math.sqrt(1.0 + 0.0003 * x)
    return 0.08 * x / math.sqrt(1.0 + 0.0015 * x)


@numba.njit(cache=True)
def sigmas(k, x_m, urban):
    """Both dispersion coefficients, urban (Briggs) or rural (ISC3).

    Parameters
    ----------
    k : int
        Stability class, 0..5 for A..F.
    x_m : float
        Downwind distance, m.
    urban : bool
        Briggs urban curves when true, ISC3 rural otherwise.

    Returns
    -------
    tuple of float
        (sigma_y, sigma_z), m.
    """
    if urban:
        return sigma_y_urban(k, x_m), sigma_z_urban(k, x_m)
    return sigma_y_rural(k, x_m), sigma_z_rural(k, x_m)


@numba.njit(cache=True)
def wind_profile_exponent(k, urban):
    """ISC3 wind-profile exponent p of class ``k`` (0..5), urban or rural (dimensionless)."""
    return WIND_PROFILE_EXPONENT_URBAN[k] if urban else WIND_PROFILE_EXPONENT_RURAL[k]


@numba.njit(cache=True)
def briggs_rise(k, u_s, stack_h, diam, v_exit, t_exit, t_amb):
    """Briggs final plume rise: the larger of buoyancy and momentum rise.

    Parameters
    ----------
    k : int
        Stability class, 0..5 for A..F; E and F use the stable forms.
    u_s : float
        Wind speed at stack height, m/s (floored at 1 m/s).
    stack_h : float
        Stack height, m (not used by the final-rise formulas; kept for the call signature).
    diam : float
        Stack inner diameter, m.
    v_exit : float
        Exit velocity, m/s.
    t_exit, t_amb : float
        Exit and ambient temperature, K.

    Returns
    -------
    float
        Plume rise above the stack top, m.
    """
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
