"""The synergy sections of the zone report and layers of the map, on small hand-built cases.

Three units over eight days with every species' prior at 100 kg per day; the posterior's
relative departures from the prior are set by hand so that each unit's Spearman ρ, Sen's slope,
share, reduction rate, elasticity and quadrant are known without running an inversion.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridcarbon.config.synergy import SynergyConfig, ZoneAllocationSettings, ZoneReportSettings
from gridcarbon.errors import InputDataError
from gridcarbon.synergy.index import UNOFFICIAL_LABEL
from gridcarbon.synergy.sections import RATING_COLOURS
from gridcarbon.synergy.zone_sections import (
    ACCOUNT_COLOURS,
    PRIORITY_COLOURS,
    allocation_section,
    cocontrol_section,
    rating_section,
    zone_synergy_outputs,
)
from tests.synergy.test_rating_crosscheck import THRESHOLDS, _facilities

CARBON, NOX, VOC = "CO2", "NOx", "VOC"
DAYS = pd.date_range("2023-01-01", periods=8, freq="D")
#: CO2 departures of every unit, increasing day by day (ranks 1 … 8).
D_CO2 = np.arange(1, 9) / 100.0
HOSTILE = "<script>alert(1)</script>"


def _units() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unit_code": ["A", "B", "C"],
            "unit_name": [HOSTILE, "=cmd|' /C calc'!A0", "plain"],
            "county_code": ["330101", "330101", "330102"],
            "city_code": ["330100"] * 3,
            "lon": [120.1, 120.2, 120.3],
            "lat": [30.1, 30.2, 30.3],
        }
    )


def _case() -> tuple[dict, dict]:
    """Prior 100 kg/day; posterior = prior × (1 + departure).

    A: NOx departs exactly as CO2 (ρ = 1), VOC in reverse order (ρ = −1).
    B: NOx in reverse order (ρ = −1), VOC twice CO2's (ρ = 1).
    C: NOx ranks 2 1 4 3 6 5 8 7 (Σd² = 8, ρ = 1 − 6·8/(8·63) = 0.904762), VOC constant (ρ NaN).
    """
    prior = {sp: np.full((3, 8), 100.0) for sp in (CARBON, NOX, VOC)}
    swapped = D_CO2[[1, 0, 3, 2, 5, 4, 7, 6]]
    dep = {
        CARBON: np.vstack([D_CO2, D_CO2, D_CO2]),
        NOX: np.vstack([D_CO2, D_CO2[::-1], swapped]),
        VOC: np.vstack([D_CO2[::-1], 2 * D_CO2, np.full(8, 0.05)]),
    }
    posterior = {sp: prior[sp] * (1.0 + dep[sp]) for sp in prior}
    return prior, posterior


def test_cocontrol_section_numbers_by_hand():
    prior, posterior = _case()
    section, layer = cocontrol_section(_units(), DAYS, prior, posterior, SynergyConfig())
    corr = section.sheets["cocontrol_correlation"].set_index("unit_code")
    assert corr.loc["A", f"rho_{NOX}"] == pytest.approx(1.0)
    assert corr.loc["A", f"rho_{VOC}"] == pytest.approx(-1.0)
    assert corr.loc["B", f"rho_{NOX}"] == pytest.approx(-1.0)
    assert corr.loc["B", f"rho_{VOC}"] == pytest.approx(1.0)
    assert corr.loc["C", f"rho_{NOX}"] == pytest.approx(1 - 6 * 8 / (8 * 63))
    assert np.isnan(corr.loc["C", f"rho_{VOC}"])
    assert list(corr["priority"]) == [True, True, corr.loc["C", f"priority_{NOX}"]]
    assert not corr.loc["A", f"priority_{VOC}"] and not corr.loc["B", f"priority_{NOX}"]
    assert corr.loc["A", "unit_name"] == HOSTILE
    # trend: CO2 = 100 (1 + d/100 … ) rises by exactly 1 kg per day in every unit
    trend = section.sheets["cocontrol_trend"].set_index("unit_code")
    assert trend[f"{CARBON}_sen_slope"].to_numpy() == pytest.approx([1.0, 1.0, 1.0])
    assert set(trend[f"{CARBON}_trend"]) == {"increasing"}
    # distribution: equal CO2 in every unit → a third each; totals in t
    dist = section.sheets["cocontrol_distribution"].set_index("unit_code")
    assert dist[f"{CARBON}_share_pct"].to_numpy() == pytest.approx([100 / 3] * 3)
    assert dist.loc["A", f"{CARBON}_t"] == pytest.approx((800 + 100 * D_CO2.sum()) / 1e3)
    assert "cocontrol_change" not in section.sheets  # no base given
    for sheet in ("cocontrol_correlation", "cocontrol_trend", "cocontrol_distribution"):
        assert (section.sheets[sheet]["label"] == UNOFFICIAL_LABEL).all()
    settings = dict(section.sheets["cocontrol_settings"].to_numpy())
    assert settings["label"] == UNOFFICIAL_LABEL and settings["trend_resolution"] == "daily"
    # HTML: the hostile name is text
    assert HOSTILE not in section.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in section.html
    assert UNOFFICIAL_LABEL in section.html
    # map layer: the priority units, coloured by the pollutants they are priorities for
    pts = layer.points.set_index("id")
    assert pts.loc["A", "colour"] == PRIORITY_COLOURS[NOX]
    assert pts.loc["B", "colour"] == PRIORITY_COLOURS[VOC]
    assert pts.loc["A", "name"] == HOSTILE and pts.loc["A", "lon"] == 120.1


def test_cocontrol_change_against_a_base_by_hand():
    prior, posterior = _case()
    base = {sp: v.copy() for sp, v in posterior.items()}
    base[CARBON][0] /= 0.9  # A: CO2 −10 %, NOx −20 % → Els 2, quadrant I
    base[NOX][0] /= 0.8
    base[CARBON][2] /= 1.1  # C: CO2 +10 %, NOx −5 % → Els −0.5, quadrant IV
    base[NOX][2] /= 0.95  # B: CO2 unchanged → no elasticity
    section, _ = cocontrol_section(
        _units(), DAYS, prior, posterior, SynergyConfig(), base_posterior=base
    )
    change = section.sheets["cocontrol_change"].set_index("unit_code")
    assert change[f"{CARBON}_reduction_pct"].to_numpy() == pytest.approx([10.0, 0.0, -10.0])
    assert change.loc["A", f"Els_{NOX}"] == pytest.approx(2.0)
    assert change.loc["C", f"Els_{NOX}"] == pytest.approx(-0.5)
    assert np.isnan(change.loc["B", f"Els_{NOX}"]) and change.loc["B", "co2_unchanged"]
    assert list(change[f"quadrant_{NOX}"]) == ["I", "co2_unchanged", "IV"]
    assert "no base period" not in section.html


def test_cocontrol_section_at_county_level_has_no_map_layer():
    prior, posterior = _case()
    config = SynergyConfig(zone_report=ZoneReportSettings(enabled=True, level="county"))
    section, layer = cocontrol_section(_units(), DAYS, prior, posterior, config)
    dist = section.sheets["cocontrol_distribution"].set_index("county_code")
    assert list(dist.index) == ["330101", "330102"]
    assert dist[f"{CARBON}_share_pct"].to_numpy() == pytest.approx([200 / 3, 100 / 3])
    assert layer is None


def test_rating_section_each_colour_and_its_layer():
    facilities = _facilities().assign(lon=[120.0, 120.1, 120.2, 120.3], lat=30.0)
    section, layer = rating_section(facilities, SynergyConfig(), thresholds=THRESHOLDS)
    rated = section.sheets["synergy_rating"].set_index("facility_id")
    assert list(rated["rating"]) == ["green", "yellow", "red", "yellow"]
    assert rated.loc["mixed", "name"] == "=cmd|' /C calc'!A0"
    assert (rated["label"] == UNOFFICIAL_LABEL).all()
    pts = layer.points.set_index("id")
    assert [pts.loc[f, "colour"] for f in ("g", "y", "r")] == [
        RATING_COLOURS["green"],
        RATING_COLOURS["yellow"],
        RATING_COLOURS["red"],
    ]
    assert "ratings: green 1, yellow 2, red 1, not rated 0" in section.html
    assert "terciles" not in section.html


def test_rating_section_anonymised_hides_names_everywhere():
    facilities = _facilities().assign(lon=120.0, lat=30.0)
    config = SynergyConfig.model_validate({"rating": {"anonymise": True}})
    section, layer = rating_section(facilities, config, synthetic_attributes=True)
    for name in _facilities()["name"]:
        assert name not in section.html
        assert name not in set(section.sheets["synergy_rating"]["name"])
        assert name not in set(layer.points["name"])
    assert list(layer.points["id"]) == ["E0001", "E0002", "E0003", "E0004"]
    assert "SYNTHETIC" in section.html and "terciles" in section.html


def test_allocation_section_sums_to_the_cap_and_compares_with_the_posterior(tmp_path):
    settings = ZoneAllocationSettings(table=tmp_path / "alloc.csv", cap_t=1000, method="historical")
    table = pd.DataFrame({"base_t": [1.0, 1.0, 1.0]}, index=pd.Index(["A", "B", "C"]))
    posterior = pd.Series([300.0, 340.0, 400.0], index=["A", "B", "C"])
    section, layer = allocation_section(table, settings, posterior, _units())
    alloc = section.sheets["synergy_allocation"].set_index("entity")
    # 1000/3 each: the spare tonne to the first of the tied remainders
    assert list(alloc["allocation_t"]) == [334, 333, 333]
    assert alloc["allocation_t"].sum() == 1000
    assert list(alloc["surplus_t"]) == [34.0, -7.0, -67.0]
    assert list(alloc["status"]) == ["surplus", "deficit", "deficit"]
    assert list(layer.points["colour"]) == [
        ACCOUNT_COLOURS["surplus"],
        ACCOUNT_COLOURS["deficit"],
        ACCOUNT_COLOURS["deficit"],
    ]
    with pytest.raises(InputDataError, match=r"alloc\.csv: 1 unit code.*'Z'"):
        allocation_section(
            pd.DataFrame({"base_t": [1.0]}, index=pd.Index(["Z"])), settings, posterior
        )


def test_zone_outputs_assemble_the_sections_given_inputs(tmp_path):
    prior, posterior = _case()
    allocation = ZoneAllocationSettings(
        table=tmp_path / "a.csv", cap_t=10, method="historical", level="city"
    )
    config = SynergyConfig(zone_report=ZoneReportSettings(enabled=True, allocation=allocation))
    only = zone_synergy_outputs(_units(), DAYS, prior, posterior, config)
    assert [s.title for s in only.sections] == ["co-control analysis"]
    full = zone_synergy_outputs(
        _units(),
        DAYS,
        prior,
        posterior,
        config,
        facilities=_facilities().assign(lon=120.0, lat=30.0),
        thresholds=THRESHOLDS,
        allocation_table=pd.DataFrame({"base_t": [5.0]}, index=pd.Index(["330100"])),
    )
    assert [s.title for s in full.sections] == [
        "co-control analysis",
        "enterprise rating",
        "target allocation",
    ]
    city = full.sections[2].sheets["synergy_allocation"].iloc[0]
    # the city's posterior CO2: the three units' daily totals summed, in t
    assert city["posterior_t"] == pytest.approx(posterior[CARBON].sum() / 1e3)
    assert city["allocation_t"] == 10
    # a city-level allocation has no point layer; the other two layers are there
    assert [x.name for x in full.layers] == ["Co-control priority units", "Enterprise rating"]
    names = [n for s in full.sections for n in s.sheets]
    assert len(names) == len(set(names)) and all(len(n) <= 31 for n in names)
