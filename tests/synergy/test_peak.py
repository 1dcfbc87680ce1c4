"""Kaya peak projection: a hand-computed trajectory, peaks at either end or absent, the band."""

from __future__ import annotations

import numpy as np
import pytest

from gridcarbon.errors import ConfigError, InputDataError
from gridcarbon.synergy.peak import (
    find_peak,
    growth_path,
    kaya_trajectory,
    peak_svg,
    project_scenarios,
    stirpat_fit,
)

BASE = {
    "population": 100.0,
    "gdp_per_capita": 1000.0,
    "energy_intensity": 0.5,
    "carbon_intensity": 2.0,
}


def _spec(ci_rates: dict, n_sigma: float = 0.0) -> dict:
    flat = {"2021-2024": 0.0}
    return {
        "base_year": 2020,
        "end_year": 2024,
        "base": BASE,
        "scenarios": {
            "s": {
                "population": flat,
                "gdp_per_capita": {"2021-2024": 10.0},
                "energy_intensity": flat,
                "carbon_intensity": ci_rates,
            }
        },
        "uncertainty_pct_points": {"gdp_per_capita": n_sigma},
    }


def test_hand_computed_trajectory():
    rates = {
        "population": growth_path({"2021-2022": 1.0}, 2020, 2022),
        "gdp_per_capita": growth_path({"2021": 10.0, "2022": 5.0}, 2020, 2022),
        "energy_intensity": growth_path({"2021-2022": -10.0}, 2020, 2022),
        "carbon_intensity": growth_path({"2021-2022": 0.0}, 2020, 2022),
    }
    t = kaya_trajectory(BASE, rates, 2020)
    # 2020: 100 · 1000 · 0.5 · 2 = 100,000 t
    # 2021: 101 · 1100 · 0.45 · 2 = 99,990 t
    # 2022: 102.01 · 1155 · 0.405 · 2 = 95,435.4555 t (117,821.55 · 0.81)
    assert t["co2_t"].tolist() == pytest.approx([100000.0, 99990.0, 95435.4555], rel=1e-12)


@pytest.mark.parametrize(
    ("ci", "year", "status"),
    [
        # GDP +10 %/yr; carbon intensity −5 % then −20 %: 1.045, then falls → interior peak 2022
        ({"2021-2022": -5.0, "2023-2024": -20.0}, 2022, "peaked"),
        # −20 % from the start: falls from the base year
        ({"2021-2024": -20.0}, 2020, "peaked at or before the base year"),
        # −5 % throughout: still rising at the end → no peak found
        ({"2021-2024": -5.0}, None, "no peak by 2024"),
        # rises to 2024 exactly: the maximum is the last year → not a confirmed peak
        ({"2021-2023": -5.0, "2024": -1.0}, None, "no peak by 2024"),
    ],
)
def test_peak_year_at_either_end_or_absent(ci, year, status):
    traj, peaks = project_scenarios(_spec(ci), n_draws=0)
    row = peaks.iloc[0]
    assert row["status"] == status
    assert row["peak_year"] == year or (year is None and row["peak_year"] is None)
    co2 = traj["co2_mt"].to_numpy()
    if year is not None:
        assert row["peak_mt"] == pytest.approx(co2.max())


def test_find_peak_plateau_takes_first_year():
    assert find_peak(np.array([1, 2, 3, 4]), np.array([1.0, 3.0, 3.0, 2.0]))["peak_year"] == 2


def test_monte_carlo_band_is_seeded_and_brackets_the_central_path():
    spec = _spec({"2021-2022": -5.0, "2023-2024": -20.0}, n_sigma=2.0)
    a, pa = project_scenarios(spec, n_draws=400, seed=1)
    b, pb = project_scenarios(spec, n_draws=400, seed=1)
    assert a.equals(b) and pa.equals(pb)
    assert (a["co2_mt_low"] <= a["co2_mt"] + 1e-12).all()
    assert (a["co2_mt_high"] >= a["co2_mt"] - 1e-12).all()
    assert (a["co2_mt_high"] - a["co2_mt_low"]).iloc[-1] > 0
    assert pa.loc[0, "peak_mt_low"] <= pa.loc[0, "peak_mt"] <= pa.loc[0, "peak_mt_high"]
    assert 0 < pa.loc[0, "share_peaking_in_horizon"] <= 1


def test_growth_path_errors():
    with pytest.raises(ConfigError, match="no growth rate for year"):
        growth_path({"2021-2023": 1.0}, 2020, 2025, "population")
    with pytest.raises(ConfigError, match="overlaps"):
        growth_path({"2021-2023": 1.0, "2023-2025": 1.0}, 2020, 2025)
    with pytest.raises(ConfigError, match="not a number"):
        growth_path({"2021-2025": "fast"}, 2020, 2025)
    spec = _spec({"2021-2024": 0.0})
    del spec["scenarios"]["s"]["population"]
    with pytest.raises(ConfigError, match="lacks growth paths"):
        project_scenarios(spec)


def test_stirpat_on_kaya_factors_is_the_identity():
    rng = np.random.default_rng(0)
    import pandas as pd

    h = pd.DataFrame({f: rng.uniform(1, 2, 12) for f in BASE})
    h["co2_t"] = h.prod(axis=1)
    fit = stirpat_fit(h, list(BASE))
    assert fit[list(BASE)].tolist() == pytest.approx([1.0] * 4, abs=1e-9)
    with pytest.raises(InputDataError, match="positive"):
        stirpat_fit(h.assign(co2_t=-1.0), list(BASE))


def test_svg_escapes_scenario_names():
    spec = _spec({"2021-2024": -20.0})
    spec["scenarios"] = {"<script>alert(1)</script>": spec["scenarios"]["s"]}
    traj, peaks = project_scenarios(spec, n_draws=50)
    svg = peak_svg(traj, peaks)
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
