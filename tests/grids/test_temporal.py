from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from gridcarbon.config import SECTORS
from gridcarbon.grids.temporal import (
    FLAT,
    HOLIDAY,
    PROFILES,
    WORKDAY,
    beijing_year_hours,
    day_types,
    hourly_weight_matrix,
    hourly_weights,
    solar_hour_shift,
)


@pytest.mark.parametrize(("year", "hours"), [(2023, 8760), (2024, 8784)])
def test_beijing_year_in_utc(year, hours):
    t = beijing_year_hours(year)
    assert t.size == hours
    assert t[0] == pd.Timestamp(f"{year - 1}-12-31 16:00")
    assert t[-1] == pd.Timestamp(f"{year}-12-31 15:00")  # the hour 15:00-16:00 UTC is the last


@pytest.mark.parametrize("year", [2023, 2024])
def test_weights_sum_to_one_per_sector(year):
    W = hourly_weight_matrix(year, list(SECTORS))
    np.testing.assert_allclose(W.sum(axis=0), 1.0, rtol=1e-12)
    assert (W > 0).all()


def test_flat_profile_gives_identical_hours():
    W = hourly_weight_matrix(2023, ["flat"], profiles={"flat": FLAT})
    # Holidays keep factor 1 for FLAT too, so every hour is the same.
    assert np.ptp(W) == 0.0
    assert W[0, 0] == pytest.approx(1 / 8760)


def test_road_peak_hour_lands_at_right_utc_hour():
    w = hourly_weights(2023, "road_transport")
    t = beijing_year_hours(2023)
    # Tuesday 2023-03-14 in Beijing: an ordinary working day.
    day = (t >= pd.Timestamp("2023-03-13 16:00")) & (t < pd.Timestamp("2023-03-14 16:00"))
    peak_utc_hour = t[day][np.argmax(w[day])].hour
    bj_peak = int(np.argmax(PROFILES["road_transport"].hour_workday))
    assert peak_utc_hour == (bj_peak - 8) % 24
    assert bj_peak == 8 and peak_utc_hour == 0


def test_kashgar_clock_puts_the_road_peak_three_hours_later_in_beijing_time():
    assert solar_hour_shift(np.array([75.99, 121.47, 120.0])).tolist() == [-3, 0, 0]
    t = beijing_year_hours(2023)
    day = (t >= pd.Timestamp("2023-03-13 16:00")) & (t < pd.Timestamp("2023-03-14 16:00"))
    beijing = hourly_weight_matrix(2023, ["road_transport"])[:, 0]
    kashgar = hourly_weight_matrix(2023, ["road_transport"], hour_shift_h=-3)[:, 0]
    assert kashgar.sum() == pytest.approx(1.0, abs=1e-12)
    peak = int(np.argmax(beijing[day]))
    assert int(np.argmax(kashgar[day])) == peak + 3  # 08:00 solar = 11:00 Beijing
    # the same shape three hours later, inside the year
    assert np.allclose(kashgar[3 + 24 * 30 : 24 * 300], beijing[24 * 30 : 24 * 300 - 3], rtol=1e-3)


def test_spring_festival_has_holiday_profile():
    dates = pd.date_range("2023-01-16", "2023-01-29", freq="D")
    types = day_types(dates)
    # 2023 Spring Festival: 21-27 January off; Saturday 28 and Sunday 29 January are make-up days.
    assert (
        list(types[dates.get_indexer(pd.date_range("2023-01-21", "2023-01-27"))]) == [HOLIDAY] * 7
    )
    assert types[dates.get_loc(pd.Timestamp("2023-01-28"))] == WORKDAY
    assert types[dates.get_loc(pd.Timestamp("2023-01-16"))] == WORKDAY
    w = hourly_weights(2023, "industry_cement")
    t = beijing_year_hours(2023) + pd.Timedelta(hours=8)

    def daily(d):
        return w[t.normalize() == pd.Timestamp(d)].sum()

    p = PROFILES["industry_cement"]
    # Monday 16 Jan (ordinary) vs Monday 23 Jan (Spring Festival holiday), same month.
    assert daily("2023-01-23") / daily("2023-01-16") == pytest.approx(
        p.holiday / p.weekday[0], rel=1e-12
    )
    # A make-up working Saturday gets the working-day factor, not Saturday's.
    assert daily("2023-01-28") / daily("2023-01-16") == pytest.approx(
        p.weekday[:5].mean() / p.weekday[0], rel=1e-12
    )


def test_uncovered_year_warns_and_falls_back():
    with pytest.warns(UserWarning, match="no holiday data"):
        types = day_types(pd.date_range("2031-01-01", "2031-01-07"))
    assert list(types) == [0, 0, 0, 1, 1, 0, 0]  # 2031-01-01 is a Wednesday
    assert dt.date(2031, 1, 4).weekday() == 5
