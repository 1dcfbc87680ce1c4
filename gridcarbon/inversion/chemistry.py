"""The daytime NOx lifetime of the plume operator by season (``chemistry.
nox_lifetime_day_by_season``).

Two observational studies bracket it for eastern China:

* Shah et al. (2020), ACP 20:1483, https://doi.org/10.5194/acp-20-1483-2020 (GEOS-Chem
  interpreting OMI over central–eastern China): NOx lifetime **21 h in winter and 5.9 h in
  summer** (2017; numbers from the abstract), and **half of the winter sink is N2O5
  hydrolysis** — a night-time process.  These are 24-hour (day and night) lifetimes of the
  tropospheric column.
* Lange et al. (2022), ACP 22:2745, https://doi.org/10.5194/acp-22-2745-2022 (TROPOMI plume
  fits for 50 sources, early afternoon): effective lifetimes of **2 to 8 h, rising with
  latitude, with only a weak seasonal dependence** (numbers from the abstract; the per-city
  and per-season values of their figures are not used here).

Reconciled for afternoon station data (the assimilated hours) within two hours of travel:

* **summer (JJA) 4 h** — the value of the default (`chemistry.nox_lifetime_day_h`): shorter
  than Shah's 24-hour 5.9 h because the summer sink is mostly OH by day, and in the middle of
  Lange's range;
* **winter (DJF) 12 h** — half of Shah's winter sink is night-time N2O5 hydrolysis, so the
  daytime sink alone, spread over roughly 10 hours of daylight, gives a daytime lifetime of
  about 21 h × 2 × 10/24 ≈ 17.5 h (an estimate of this module, not a published number);
  Lange's effective lifetimes (≤ 8 h, weakly seasonal) include plume dilution and are the lower
  end.  12 h is the geometric mean of the two (√(17.5 × 8) ≈ 11.8 h);
* **spring (MAM) and autumn (SON) 7 h** — the geometric mean of summer and winter
  (√(4 × 12) ≈ 6.9 h).

The values are uncertain by about a factor of two: 4 h × [0.5, 2] spans Lange's 2–8 h and
Shah's 5.9 h; 12 h × [0.5, 2] spans Lange's upper values and Shah's 17.5–21 h.  Night-time
lifetimes are left to ``chemistry.nox_lifetime_night_h``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridcarbon.errors import InputDataError

__all__ = [
    "SEASONAL_NOX_LIFETIME_DAY_H",
    "season_of_month",
    "seasonal_nox_lifetime_day_h",
    "nox_lifetime_s",
]

#: Daytime NOx e-folding lifetime (h) by meteorological season (see the module docstring).
SEASONAL_NOX_LIFETIME_DAY_H: dict[str, float] = {
    "DJF": 12.0,
    "MAM": 7.0,
    "JJA": 4.0,
    "SON": 7.0,
}

_SEASON_OF_MONTH = ("DJF", "DJF", "MAM", "MAM", "MAM", "JJA", "JJA", "JJA", "SON", "SON", "SON")


def season_of_month(month: int) -> str:
    """The meteorological season (``DJF``, ``MAM``, ``JJA``, ``SON``) of a month 1–12."""
    if not 1 <= int(month) <= 12:
        raise InputDataError(f"month {month!r} is not 1..12")
    return "DJF" if int(month) == 12 else _SEASON_OF_MONTH[int(month) - 1]


def seasonal_nox_lifetime_day_h(month: np.ndarray | int) -> np.ndarray:
    """Daytime NOx lifetime (h) for each month (1–12; Beijing months of the hours) from
    :data:`SEASONAL_NOX_LIFETIME_DAY_H`."""
    m = np.asarray(month)
    if m.size and (np.any(m < 1) or np.any(m > 12)):
        raise InputDataError(f"months {np.unique(m[(m < 1) | (m > 12)])} are not 1..12")
    table = np.array(
        [SEASONAL_NOX_LIFETIME_DAY_H[season_of_month(k)] for k in range(1, 13)], dtype=np.float64
    )
    return table[m.astype(np.int64) - 1]


def nox_lifetime_s(chemistry, times_utc, daylight: np.ndarray) -> np.ndarray:
    """NOx lifetime (s) at each time: ``chemistry.nox_lifetime_day_h`` (or, with
    ``nox_lifetime_day_by_season``, the seasonal value of the Beijing month) where ``daylight``,
    ``nox_lifetime_night_h`` elsewhere.

    Parameters
    ----------
    chemistry : gridcarbon.config.inversion.ChemistryConfig
    times_utc : array of datetime64
        UTC times (naive), one per value.
    daylight : bool ndarray
        Sun above the horizon.
    """
    tau_day = chemistry.nox_lifetime_day_h
    if chemistry.nox_lifetime_day_by_season:
        tau_day = seasonal_nox_lifetime_day_h(
            (pd.DatetimeIndex(times_utc) + pd.Timedelta(hours=8)).month
        )
    return np.where(daylight, tau_day, chemistry.nox_lifetime_night_h) * 3600.0
