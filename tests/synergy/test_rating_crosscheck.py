"""Enterprise rating (each colour by hand) and the cross-check (just inside and outside 2σ)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridcarbon.errors import InputDataError
from gridcarbon.synergy.crosscheck import crosscheck, evidence
from gridcarbon.synergy.rating import (
    anonymise,
    facility_indicators,
    rate_facilities,
    synthetic_facility_attributes,
    tercile_thresholds,
)


def _facilities() -> pd.DataFrame:
    # output 100 (10^4 yuan) each; CO2 per output 1/3/5, pollutants 0.02/0.05/0.10
    return pd.DataFrame(
        {
            "facility_id": ["g", "y", "r", "mixed"],
            "name": ["Good works", "Middle works", "Poor works", "=cmd|' /C calc'!A0"],
            "industry": ["cement"] * 4,
            "output_10k_yuan": [100.0] * 4,
            "CO2_t": [100.0, 300.0, 500.0, 100.0],
            "NOx_t": [1.0, 3.0, 6.0, 1.0],
            "VOC_t": [1.0, 2.0, 4.0, 1.0],
            "non_fossil_share_pct": [30.0, 15.0, 5.0, 30.0],
            "solid_waste_reuse_pct": [95.0, 85.0, 60.0, 60.0],
            "tax_10k_yuan": [20.0, 10.0, 2.0, 2.0],
            "land_mu": [100.0] * 4,
        }
    )


THRESHOLDS = pd.DataFrame(
    {
        "industry": ["cement"] * 4 + ["*"],
        "indicator": [
            "pollutant_per_output",
            "co2_per_output",
            "non_fossil_share_pct",
            "solid_waste_reuse_pct",
            "tax_per_mu",
        ],
        "green": [0.03, 2.0, 20.0, 90.0, 0.15],
        "red": [0.08, 4.0, 10.0, 80.0, 0.05],
    }
)


def test_each_colour_by_hand():
    ind = facility_indicators(_facilities())
    assert ind.loc["g", "pollutant_per_output"] == pytest.approx(0.02)
    assert ind.loc["r", "tax_per_mu"] == pytest.approx(0.02)
    out = rate_facilities(ind, THRESHOLDS)
    assert out.loc["g", "rating"] == "green" and out.loc["g", "score"] == 1.0
    # middle works: every indicator between the thresholds → all yellow, score 0.5
    assert out.loc["y", "rating"] == "yellow" and out.loc["y", "score"] == 0.5
    assert out.loc["r", "rating"] == "red" and out.loc["r", "score"] == 0.0
    # mixed: reduction 1, decarbonisation 1, synergy 0, efficiency 0 → 0.5 → yellow
    assert out.loc["mixed", "colour_reduction"] == "green"
    assert out.loc["mixed", "colour_synergy"] == "red"
    assert out.loc["mixed", "score"] == 0.5 and out.loc["mixed", "rating"] == "yellow"


def test_thresholds_apply_within_industry_and_at_the_edge():
    f = _facilities()
    f.loc[3, "industry"] = "steel"  # steel has no own rows: the '*' row rates only tax
    ind = facility_indicators(f)
    out = rate_facilities(ind, THRESHOLDS)
    assert out.loc["mixed", "rating"] == "not rated"
    # exactly at the green threshold is green; just beyond the red one is red
    f = _facilities()
    f.loc[0, "CO2_t"] = 200.0  # 2.0 = green threshold
    f.loc[2, "CO2_t"] = 400.0001  # just above red 4.0
    out = rate_facilities(facility_indicators(f), THRESHOLDS)
    assert out.loc["g", "colour_co2_per_output"] == "green"
    assert out.loc["r", "colour_co2_per_output"] == "red"


def test_rating_bad_input():
    f = _facilities()
    f.loc[1, "CO2_t"] = -3
    with pytest.raises(InputDataError, match="facility 'y': CO2_t -3"):
        facility_indicators(f)
    bad = THRESHOLDS.copy()
    bad.loc[1, "green"] = 5.0
    with pytest.raises(InputDataError, match="co2_per_output.*cement.*green 5 is worse than red 4"):
        rate_facilities(facility_indicators(_facilities()), bad)


def test_hostile_names_are_escaped_in_the_html_section():
    from gridcarbon.synergy.sections import html_fragment

    f = _facilities()
    f.loc[1, "name"] = "<script>alert('x')</script>"
    rated = rate_facilities(facility_indicators(f), THRESHOLDS)
    html = html_fragment("rating <b>", {"rating <i>": rated[["name", "rating"]]})
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "rating &lt;b&gt;" in html and "rating &lt;i&gt;" in html


def test_anonymise_hides_names_and_ids():
    out = anonymise(rate_facilities(facility_indicators(_facilities()), THRESHOLDS))
    text = out.to_csv()
    for secret in ("Good works", "Poor works", "calc", "mixed"):
        assert secret not in text
    assert list(out.index) == ["E0001", "E0002", "E0003", "E0004"]


def test_terciles_and_synthetic_attributes():
    points = pd.DataFrame(
        {
            "point_id": [f"p{i}" for i in range(6)],
            "point_name": [f"Park cement #{i}" for i in range(6)],
            "point_sector": ["industry_cement"] * 6,
            "CO2_kg_period": np.linspace(1e8, 6e8, 6),
            "NOx_kg_period": np.linspace(1e5, 6e5, 6),
            "VOC_kg_period": np.linspace(1e4, 6e4, 6),
        }
    )
    fac = synthetic_facility_attributes(points)
    assert fac["synthetic"].all() and (fac["output_10k_yuan"] > 0).all()
    assert fac.equals(synthetic_facility_attributes(points))  # deterministic
    ind = facility_indicators(fac)
    out = rate_facilities(ind, tercile_thresholds(ind))
    assert set(out["rating"]) <= {"green", "yellow", "red"}
    assert (out["colour_co2_per_output"] == "green").sum() == 2


def _check_table(z_target: np.ndarray) -> pd.DataFrame:
    # σ_b = 50, σ_post = 30 → UR 40 %, √(σ_b² − σ_post²) = 40
    return pd.DataFrame(
        {
            "prior": 1000.0,
            "prior_std": 50.0,
            "posterior": 1000.0 + 40.0 * z_target,
            "posterior_std": 30.0,
        },
        index=[f"f{i}" for i in range(len(z_target))],
    )


def test_crosscheck_just_inside_and_just_outside_two_sigma():
    # a single test: q = p; 2σ ≈ p 0.0455 < 0.05 — 1.95σ (p 0.051) is inside, 1.97σ outside
    inside = crosscheck(_check_table(np.array([1.95])))
    outside = crosscheck(_check_table(np.array([-1.97])))
    assert inside["z"].iloc[0] == pytest.approx(1.95)
    assert not inside["flag"].iloc[0]
    assert outside["flag"].iloc[0] and outside["direction"].iloc[0] == "over-reported"


def test_crosscheck_independent_report_and_untested_entries():
    t = pd.DataFrame(
        {
            "prior": [1000.0, 1000.0, 1000.0],
            "prior_std": [100.0, 100.0, 100.0],
            "posterior": [1300.0, 1000.0, 1500.0],
            "posterior_std": [60.0, 85.0, 60.0],
            "reported": [1000.0, np.nan, np.nan],
            "reported_std": [80.0, np.nan, np.nan],
        },
        index=["indep", "weak", "prior"],
    )
    out = crosscheck(t)
    # independent: z = 300/√(60² + 80²) = 3
    assert out.loc["indep", "z"] == pytest.approx(3.0)
    assert out.loc["indep", "test"] == "independent"
    assert out.loc["indep", "direction"] == "under-reported"
    # UR 15 % < 20 %: not tested, no z
    assert out.loc["weak", "test"].startswith("not tested") and np.isnan(out.loc["weak", "z"])
    # prior as report: z = 500/√(100² − 60²) = 6.25
    assert out.loc["prior", "z"] == pytest.approx(6.25)
    # BH over the two tested entries: the larger p keeps its value, the smaller doubles
    p_indep, p_prior = out.loc[["indep", "prior"], "p"].to_numpy()
    assert p_prior < p_indep
    assert out.loc["indep", "q"] == pytest.approx(p_indep)
    assert out.loc["prior", "q"] == pytest.approx(2 * p_prior)
    # an approximate posterior σ (Lanczos): the prior-as-reported test is not made, the test
    # against the independent figure is, alone in the BH family now
    approx = crosscheck(t, exact_posterior=False)
    assert approx.loc["prior", "test"].startswith("not tested: approximate posterior σ")
    assert np.isnan(approx.loc["prior", "z"]) and not approx.loc["prior", "flag"]
    assert approx.loc["indep", "z"] == pytest.approx(3.0)
    assert approx.loc["indep", "q"] == pytest.approx(p_indep)
    assert approx.loc["weak", "test"].startswith("not tested: uncertainty reduction")


def test_evidence_lists_nearby_stations_and_hours():
    flags = pd.DataFrame({"id": ["f0"], "species": ["NOx"], "lon": [120.0], "lat": [30.0]})
    stations = pd.DataFrame({"station_id": ["A", "B"], "lon": [120.1, 121.5], "lat": [30.0, 30.0]})
    times = pd.date_range("2023-01-01", periods=6, freq="h")
    series = pd.DataFrame(
        {
            "time": np.tile(times, 2),
            "station_id": ["A"] * 6 + ["B"] * 6,
            "species": "NO2",
            "observed": 1.0,
            "prior": 1.0,
            "posterior": [1.0, 1.5, 0.2, 1.1, 1.0, 1.0] * 2,
            "used": True,
        }
    )
    ev = evidence(flags, series, stations, radius_km=30, n_hours=2)
    assert set(ev["station_id"]) == {"A"}  # B is ~144 km away
    assert ev["change"].round(6).tolist() == [-0.8, 0.5]
    assert ev["distance_km"].iloc[0] == pytest.approx(9.6, abs=0.1)
