"""Temporal profiles: month-of-year, day-type and hour-of-day factors per sector, in Beijing time.

Profiles are defined in Beijing local time (UTC+8), which has no daylight saving.  The inventory
year is the Beijing calendar year, which in UTC runs from 16:00 on 31 December of the year before
to 15:59 on 31 December.  For each sector the hourly weight is

    w[h] = month[m(h)] * day[d(h)] * hour[daytype(h), hr(h)]

renormalised in float64 so that the weights of the year's hours sum to exactly one; a sector's
hourly emission is then ``annual_total * w[h]``.

Day types come from the ``chinesecalendar`` package: official public holidays (the Spring Festival
week above all) are ``holiday`` days; weekend days that are official make-up working days
(调休) are working days; years the package does not cover fall back, with a warning, to plain
Monday–Friday working days.
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridcarbon.errors import ConfigError

__all__ = [
    "SectorProfile",
    "PROFILES",
    "FLAT",
    "beijing_year_hours",
    "day_types",
    "hourly_weights",
    "hourly_weight_matrix",
    "BEIJING_UTC_OFFSET_H",
    "solar_hour_shift",
]

log = logging.getLogger(__name__)

BEIJING_UTC_OFFSET_H = 8
WORKDAY, WEEKEND, HOLIDAY = 0, 1, 2


def _norm(a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a / a.mean()


@dataclass(frozen=True)
class SectorProfile:
    """Relative temporal factors of one sector (each normalised to mean 1).

    Parameters
    ----------
    month : 12 factors, January..December.
    weekday : 7 factors, Monday..Sunday, for ordinary days.
    hour_workday, hour_offday : 24 factors each, Beijing hours 0..23 (hour-beginning), for
        working days and for weekends/holidays.
    holiday : factor of an official holiday relative to an average day.
    """

    month: np.ndarray
    weekday: np.ndarray
    hour_workday: np.ndarray
    hour_offday: np.ndarray
    holiday: float = 1.0

    @classmethod
    def make(cls, month, weekday, hour_workday, hour_offday=None, holiday=1.0) -> SectorProfile:
        hw = _norm(hour_workday)
        return cls(
            _norm(month),
            _norm(weekday),
            hw,
            hw if hour_offday is None else _norm(hour_offday),
            float(holiday),
        )


FLAT = SectorProfile.make(np.ones(12), np.ones(7), np.ones(24))

# Shapes follow the usual inventory practice (e.g. MEIC/EDGAR-style sector profiles): power with
# winter and summer peaks and a daytime hump; industry steady with a Spring-Festival dip; road
# transport with morning and evening rush hours (08 and 18 Beijing); residential with meal-time
# peaks and a winter maximum; solvent use in the working day and warmer months; shipping nearly
# flat; agriculture (machinery, burning) in daylight with spring and autumn peaks.
_H_DAY = [
    0.6,
    0.55,
    0.5,
    0.5,
    0.55,
    0.7,
    0.9,
    1.1,
    1.25,
    1.3,
    1.3,
    1.3,
    1.25,
    1.3,
    1.3,
    1.3,
    1.25,
    1.2,
    1.15,
    1.05,
    0.95,
    0.85,
    0.75,
    0.65,
]
_H_ROAD_WORK = [
    0.25,
    0.15,
    0.12,
    0.12,
    0.18,
    0.45,
    1.1,
    1.9,
    2.1,
    1.5,
    1.25,
    1.2,
    1.15,
    1.2,
    1.25,
    1.35,
    1.6,
    1.95,
    2.05,
    1.5,
    1.1,
    0.85,
    0.6,
    0.4,
]
_H_ROAD_OFF = [
    0.35,
    0.22,
    0.15,
    0.12,
    0.13,
    0.25,
    0.5,
    0.85,
    1.2,
    1.45,
    1.55,
    1.55,
    1.5,
    1.45,
    1.45,
    1.5,
    1.55,
    1.6,
    1.5,
    1.3,
    1.1,
    0.9,
    0.7,
    0.5,
]
_H_RES = [
    0.35,
    0.3,
    0.3,
    0.3,
    0.35,
    0.7,
    1.5,
    1.8,
    1.2,
    0.9,
    1.1,
    1.7,
    1.5,
    0.9,
    0.8,
    0.8,
    1.0,
    1.6,
    2.0,
    1.6,
    1.2,
    0.9,
    0.6,
    0.4,
]
_H_SOLVENT = [
    0.2,
    0.2,
    0.2,
    0.2,
    0.2,
    0.3,
    0.6,
    1.2,
    1.8,
    2.0,
    2.0,
    1.8,
    1.6,
    1.9,
    2.0,
    2.0,
    1.8,
    1.4,
    0.9,
    0.6,
    0.4,
    0.3,
    0.25,
    0.2,
]
_H_INDUSTRY = [
    0.85,
    0.85,
    0.85,
    0.85,
    0.85,
    0.9,
    0.95,
    1.05,
    1.15,
    1.15,
    1.15,
    1.1,
    1.05,
    1.15,
    1.15,
    1.15,
    1.1,
    1.05,
    1.0,
    0.95,
    0.95,
    0.9,
    0.9,
    0.85,
]
_H_AGRI = [
    0.1,
    0.1,
    0.1,
    0.1,
    0.1,
    0.3,
    0.9,
    1.6,
    2.0,
    2.2,
    2.2,
    2.0,
    1.7,
    2.0,
    2.2,
    2.1,
    1.8,
    1.2,
    0.6,
    0.3,
    0.2,
    0.1,
    0.1,
    0.1,
]
_H_SHIP = [
    0.9,
    0.9,
    0.9,
    0.9,
    0.9,
    0.95,
    1.0,
    1.05,
    1.1,
    1.1,
    1.1,
    1.1,
    1.05,
    1.1,
    1.1,
    1.1,
    1.05,
    1.05,
    1.0,
    1.0,
    0.95,
    0.95,
    0.9,
    0.9,
]

_M_INDUSTRY = [0.95, 0.72, 1.0, 1.03, 1.04, 1.04, 1.02, 1.02, 1.04, 1.03, 1.05, 1.06]
_W_INDUSTRY = [1.03, 1.03, 1.03, 1.03, 1.02, 0.95, 0.91]

PROFILES: dict[str, SectorProfile] = {
    "power": SectorProfile.make(
        [1.12, 0.95, 0.96, 0.92, 0.95, 1.0, 1.13, 1.15, 1.0, 0.92, 0.93, 1.07],
        [1.02, 1.02, 1.02, 1.02, 1.01, 0.96, 0.95],
        _H_DAY,
        holiday=0.85,
    ),
    "industry_petrochemical": SectorProfile.make(np.ones(12), np.ones(7), np.ones(24)),
    "industry_cement": SectorProfile.make(
        [0.85, 0.45, 1.0, 1.1, 1.12, 1.05, 0.95, 0.95, 1.05, 1.15, 1.18, 1.15],
        _W_INDUSTRY,
        _H_INDUSTRY,
        holiday=0.5,
    ),
    "industry_steel": SectorProfile.make(_M_INDUSTRY, np.ones(7), np.ones(24), holiday=0.9),
    "industry_chemical": SectorProfile.make(_M_INDUSTRY, _W_INDUSTRY, _H_INDUSTRY, holiday=0.8),
    "industry_textile": SectorProfile.make(
        [0.95, 0.55, 1.05, 1.05, 1.05, 1.05, 1.0, 1.0, 1.05, 1.05, 1.1, 1.1],
        _W_INDUSTRY,
        _H_SOLVENT,
        [0.8 * v + 0.2 for v in _H_SOLVENT],
        holiday=0.45,
    ),
    "industry_paper": SectorProfile.make(_M_INDUSTRY, _W_INDUSTRY, _H_INDUSTRY, holiday=0.7),
    "industry_other": SectorProfile.make(
        _M_INDUSTRY,
        [1.06, 1.06, 1.06, 1.06, 1.04, 0.9, 0.82],
        _H_SOLVENT,
        [0.7 * v + 0.3 for v in _H_SOLVENT],
        holiday=0.5,
    ),
    "residential_commercial": SectorProfile.make(
        [1.35, 1.3, 1.05, 0.9, 0.85, 0.85, 0.9, 0.9, 0.85, 0.9, 1.05, 1.3],
        [0.97, 0.97, 0.97, 0.97, 1.0, 1.06, 1.06],
        _H_RES,
        [
            0.35,
            0.3,
            0.3,
            0.3,
            0.3,
            0.45,
            0.9,
            1.5,
            1.6,
            1.2,
            1.2,
            1.7,
            1.6,
            1.0,
            0.9,
            0.9,
            1.0,
            1.6,
            2.0,
            1.7,
            1.3,
            1.0,
            0.7,
            0.45,
        ],
        holiday=1.15,
    ),
    "road_transport": SectorProfile.make(
        [0.95, 0.82, 1.0, 1.02, 1.03, 1.02, 1.0, 1.0, 1.03, 1.04, 1.04, 1.05],
        [1.02, 1.01, 1.01, 1.02, 1.06, 0.95, 0.93],
        _H_ROAD_WORK,
        _H_ROAD_OFF,
        holiday=0.8,
    ),
    "shipping_ports": SectorProfile.make(
        [0.98, 0.85, 1.0, 1.02, 1.02, 1.02, 1.03, 1.0, 1.0, 1.02, 1.03, 1.03],
        np.ones(7),
        _H_SHIP,
        holiday=0.9,
    ),
    "solvent_use": SectorProfile.make(
        [0.85, 0.6, 0.95, 1.0, 1.08, 1.15, 1.2, 1.2, 1.1, 1.02, 0.95, 0.9],
        [1.08, 1.08, 1.08, 1.08, 1.06, 0.85, 0.77],
        _H_SOLVENT,
        [0.6 * v + 0.4 for v in _H_SOLVENT],
        holiday=0.45,
    ),
    "agriculture": SectorProfile.make(
        [0.6, 0.6, 1.1, 1.3, 1.4, 1.3, 0.9, 0.8, 1.0, 1.3, 1.2, 0.5],
        np.ones(7),
        _H_AGRI,
        holiday=0.7,
    ),
}


def beijing_year_hours(year: int) -> pd.DatetimeIndex:
    """Hour-beginning UTC stamps of every hour of Beijing calendar year ``year`` (naive = UTC)."""
    start = pd.Timestamp(year=year, month=1, day=1) - pd.Timedelta(hours=BEIJING_UTC_OFFSET_H)
    end = pd.Timestamp(year=year + 1, month=1, day=1) - pd.Timedelta(hours=BEIJING_UTC_OFFSET_H)
    return pd.date_range(start, end, freq="h", inclusive="left")


def day_types(dates: pd.DatetimeIndex) -> np.ndarray:
    """Day type per Beijing date: 0 working day, 1 weekend/rest day, 2 official holiday.

    Uses ``chinesecalendar`` for official holidays and make-up working days; for dates it does
    not cover, falls back to Monday–Friday working days and warns once.
    """
    import chinese_calendar

    out = np.where(dates.day_of_week >= 5, WEEKEND, WORKDAY).astype(np.int8)
    uncovered: set[int] = set()
    for i, d in enumerate(dates):
        day = dt.date(d.year, d.month, d.day)
        try:
            holiday, name = chinese_calendar.get_holiday_detail(day)
        except NotImplementedError:
            uncovered.add(day.year)
            continue
        if holiday and name is not None:
            out[i] = HOLIDAY
        elif holiday:
            out[i] = WEEKEND
        else:
            out[i] = WORKDAY
    if uncovered:
        msg = (
            f"chinesecalendar has no holiday data for {sorted(uncovered)}: using plain "
            "Monday-Friday working days (no Spring Festival or other public holidays)"
        )
        warnings.warn(msg, stacklevel=2)
        log.warning(msg)
    return out


def _profile_factors(
    profile: SectorProfile,
    bj_month: np.ndarray,
    bj_dow: np.ndarray,
    bj_hour: np.ndarray,
    dtype_of_hour: np.ndarray,
) -> np.ndarray:
    weekday_mean_workday = profile.weekday[:5].mean()
    day = np.where(
        dtype_of_hour == HOLIDAY,
        profile.holiday,
        np.where(
            # A make-up working day on a weekend gets the average working-day factor.
            (dtype_of_hour == WORKDAY) & (bj_dow >= 5),
            weekday_mean_workday,
            profile.weekday[bj_dow],
        ),
    )
    hour = np.where(
        dtype_of_hour == WORKDAY, profile.hour_workday[bj_hour], profile.hour_offday[bj_hour]
    )
    return profile.month[bj_month - 1] * day * hour


def hourly_weight_matrix(
    year: int,
    sectors: list[str],
    profiles: dict[str, SectorProfile] | None = None,
    hour_shift_h: int = 0,
) -> np.ndarray:
    """Hourly weights of every sector over the Beijing calendar year.

    ``hour_shift_h``: the profiles are read on a clock this many hours from Beijing time (local
    solar time west of 120°E: Kashgar, 76°E, is −3 h, so its weekday noon peak falls at 15:00
    Beijing time); month, weekday, day type and hour all follow that clock.  0 (the default) is
    Beijing time.  Each column still sums to 1 over the Beijing year's hours.

    Returns
    -------
    ndarray, shape ``(n_hours_of_year, n_sectors)``, float64
        Column ``s`` sums to exactly 1 (to float64 rounding): hour ``h``'s emission of sector
        ``s`` is its annual total times ``W[h, s]``.  Rows follow :func:`beijing_year_hours`.
    """
    profiles = PROFILES if profiles is None else profiles
    unknown = [s for s in sectors if s not in profiles]
    if unknown:
        raise ConfigError(f"no temporal profile for sector(s) {unknown}")
    utc = beijing_year_hours(year)
    bj = utc + pd.Timedelta(hours=BEIJING_UTC_OFFSET_H + int(hour_shift_h))
    dates = pd.DatetimeIndex(np.unique(bj.normalize()))
    types = day_types(dates)
    day_index = ((bj.normalize() - dates[0]) // pd.Timedelta(days=1)).to_numpy()
    dtype_of_hour = types[day_index]
    month = bj.month.to_numpy()
    dow = bj.day_of_week.to_numpy()
    hour = bj.hour.to_numpy()
    W = np.empty((utc.size, len(sectors)), dtype=np.float64)
    for j, s in enumerate(sectors):
        f = _profile_factors(profiles[s], month, dow, hour, dtype_of_hour)
        W[:, j] = f / f.sum()
    return W


def hourly_weights(year: int, sector: str) -> np.ndarray:
    """Hourly weights of one sector over the Beijing calendar year (sum 1); see
    :func:`hourly_weight_matrix`."""
    return hourly_weight_matrix(year, [sector])[:, 0]


def solar_hour_shift(lon: np.ndarray) -> np.ndarray:
    """Whole hours from Beijing time (120°E) to local mean solar time at longitudes ``lon``
    (degrees east): ``round((lon − 120) / 15)``, e.g. −3 at Kashgar (76°E), 0 at Shanghai."""
    return np.rint((np.asarray(lon, dtype=np.float64) - 120.0) / 15.0).astype(np.int64)
