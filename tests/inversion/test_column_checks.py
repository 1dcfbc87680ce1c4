"""The column operator's checks against the columns' own innovations
(``gridcarbon.inversion.column_checks``): the truncation check on a case wider than the
operator's 150 km truncation (the NO2/NOx conversion check is tested beside the conversion
itself, in ``test_columns.py``)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from gridcarbon.config.inversion import InversionConfig
from gridcarbon.errors import ConfigError
from gridcarbon.inversion.column_checks import truncation_check
from gridcarbon.inversion.columns import ColumnObservations, ColumnSettings
from gridcarbon.species import DEFAULT_SPECIES, by_name

from .cases import small_case
from .column_cases import swath_pixels
from .conftest import build_system

CO2 = by_name(DEFAULT_SPECIES, "CO2")
SETTINGS = ColumnSettings(min_upwind_fetch_km=0.0)


@pytest.fixture(scope="module")
def wide():
    """A 9 km case about 270 × 220 km, two days, CO2 only, and CO2 columns of 9 km pixels at
    13:30 Beijing time of each day."""
    case = small_case(
        lon=(118.9, 121.7),
        lat=(29.0, 31.0),
        days=2,
        species=("CO2",),
        n_points=3,
        seed=13,
        cell_size=9000.0,
    )
    system = build_system(case)
    times = [t + pd.Timedelta(minutes=30) for t in system.times if t.hour == 5]
    pixels = swath_pixels(system.grid, times, pixel_m=(9000.0, 9000.0))
    columns = ColumnObservations(
        pixels, CO2, "vertical_column", case.scenario.meteorology, SETTINGS
    )
    return case, system, columns


def test_the_truncation_check_measures_and_finds_what_lies_beyond(wide):
    """Columns made by the 300 km operator hold all of what lies beyond 150 km (b = 1, a = 0
    exactly); columns of the 150 km operator × 1.05 none of it (b = 0, a = 0.05); the share
    beyond is that of the two operators' prior columns over the used superobservations."""
    case, system, short = wide
    long = ColumnObservations(
        short.pixels,
        CO2,
        "vertical_column",
        case.scenario.meteorology,
        replace(SETTINGS, truncation_km=300.0),
    )
    found = short.match(system)
    used = np.concatenate([idx for idx, _ in found.blocks])
    m_short = found.superobs["prior"].to_numpy(float)
    m_long = long.match(system).superobs["prior"].to_numpy(float)
    share = 1 - m_short[used].sum() / m_long[used].sum()
    assert 0.01 < share < 0.9
    got = truncation_check(system, [short.with_observed(system, m_long)], 300.0)
    (quantity, entry), *rest = got.items()
    assert quantity == "vertical_column" and not rest
    assert (entry["truncation_km"], entry["longer_km"]) == (150.0, 300.0)
    assert entry["share_beyond"] == pytest.approx(share, rel=1e-9)
    assert entry["n_overpasses"] == len(found.blocks) == 2
    assert entry["b"] == pytest.approx(1.0, abs=1e-8) and entry["a"] == pytest.approx(0, abs=1e-8)
    assert entry["rms_difference"] > 0
    got = truncation_check(system, [short.with_observed(system, 1.05 * m_short)], 300.0)
    entry = got["vertical_column"]
    assert entry["b"] == pytest.approx(0, abs=1e-8) and entry["a"] == pytest.approx(0.05, abs=1e-8)
    with pytest.raises(ConfigError, match="must exceed"):
        short.truncation_rows(system, 150.0)


def test_the_truncation_check_asks_for_a_longer_truncation():
    with pytest.raises(ValueError, match="truncation_check_km"):
        InversionConfig.model_validate({"columns": {"truncation_check_km": 150.0}})
    config = InversionConfig.model_validate({"columns": {"truncation_check_km": 300.0}})
    assert config.columns.truncation_check_km == 300.0
