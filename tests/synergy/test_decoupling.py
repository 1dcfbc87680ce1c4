"""Tapio states, coupling coordination and constant-price GDP against hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridcarbon.errors import ConfigError, InputDataError
from gridcarbon.io.synergy_files import load_shipped_gdp
from gridcarbon.synergy.decoupling import (
    check_gdp_magnitude,
    constant_price_gdp,
    coordination_class,
    coupling_coordination,
    gdp_verification,
    model_carbon_intensity,
    tapio_state,
    tapio_table,
)

# (ΔC/C0, ΔG/G0) → (e, state), with C0 = G0 = 100: e = ΔC/ΔG by hand.
TAPIO_CASES = [
    # ΔG > 0
    (-1.0, 10.0, -0.1, "strong_decoupling"),
    (0.0, 10.0, 0.0, "weak_decoupling"),
    (7.9, 10.0, 0.79, "weak_decoupling"),
    (8.0, 10.0, 0.8, "expansive_coupling"),
    (12.0, 10.0, 1.2, "expansive_coupling"),
    (12.1, 10.0, 1.21, "expansive_negative_decoupling"),
    # ΔG < 0
    (1.0, -10.0, -0.1, "strong_negative_decoupling"),
    (0.0, -10.0, 0.0, "weak_negative_decoupling"),
    (-7.9, -10.0, 0.79, "weak_negative_decoupling"),
    (-8.0, -10.0, 0.8, "recessive_coupling"),
    (-12.0, -10.0, 1.2, "recessive_coupling"),
    (-12.1, -10.0, 1.21, "recessive_decoupling"),
]


@pytest.mark.parametrize(("dc", "dg", "e", "state"), TAPIO_CASES)
def test_tapio_states_at_and_around_thresholds(dc, dg, e, state):
    got_e, got_state = tapio_state(100.0, 100.0 + dc, 100.0, 100.0 + dg)
    assert got_state == state
    assert got_e == pytest.approx(e, abs=1e-12)


def test_tapio_zero_growth_is_undefined_not_scored():
    e, state = tapio_state(100.0, 90.0, 50.0, 50.0)
    assert state == "undefined" and np.isnan(e)


def test_tapio_refuses_non_positive_base():
    with pytest.raises(InputDataError, match="positive base-year"):
        tapio_state(0.0, 1.0, 10.0, 11.0)


def test_tapio_table_names_region_without_data():
    emissions = pd.DataFrame(
        {"region_code": ["330100", "330100"], "year": [2020, 2021], "emissions": [10.0, 9.0]}
    )
    gdp = pd.DataFrame({"region_code": ["330100"], "year": [2020], "gdp_const": [100.0]})
    with pytest.raises(InputDataError, match="region 330100: no emissions or GDP for 2021"):
        tapio_table(emissions, gdp, 2020, 2021)
    gdp = pd.concat(
        [gdp, pd.DataFrame({"region_code": ["330100"], "year": [2021], "gdp_const": [110.0]})]
    )
    table = tapio_table(emissions, gdp, 2020, 2021)
    assert table.loc[0, "state"] == "strong_decoupling"
    assert table.loc[0, "state_zh"] == "强脱钩"


@pytest.mark.parametrize(
    ("u1", "u2", "c", "t", "d"),
    [
        # equal subsystems: C = 1, T = U, D = √U
        (0.64, 0.64, 1.0, 0.64, 0.8),
        # U1 = 0.25, U2 = 1: C = 2·0.5/1.25 = 0.8, T = 0.625, D = √0.5
        (0.25, 1.0, 0.8, 0.625, np.sqrt(0.5)),
        # a zero floors at 0.01: C = 2·√0.0081/0.82 = 0.18/0.82, T = 0.41
        (0.0, 0.81, 0.18 / 0.82, 0.41, np.sqrt(0.18 / 0.82 * 0.41)),
        # both at the floor: C = 1, T = 0.01, D = 0.1
        (0.01, 0.01, 1.0, 0.01, 0.1),
    ],
)
def test_coupling_coordination_hand_values(u1, u2, c, t, d):
    got_c, got_t, got_d = coupling_coordination(u1, u2)
    assert got_c == pytest.approx(c, abs=1e-12)
    assert got_t == pytest.approx(t, abs=1e-12)
    assert got_d == pytest.approx(d, abs=1e-12)


def test_coupling_coordination_weights_and_range():
    c, t, d = coupling_coordination(0.25, 1.0, alpha=0.2, beta=0.8)
    assert t == pytest.approx(0.85)
    assert d == pytest.approx(np.sqrt(0.8 * 0.85))
    with pytest.raises(ConfigError, match="sum to 1"):
        coupling_coordination(0.5, 0.5, alpha=0.6, beta=0.6)
    with pytest.raises(InputDataError, match="U1 must lie"):
        coupling_coordination(1.5, 0.5)


def test_coordination_classes_at_the_boundaries():
    classes = coordination_class(np.array([0.0, 0.0999, 0.1, 0.5, 0.8999, 0.9, 1.0]))
    assert list(classes) == [
        "极度失调",
        "极度失调",
        "严重失调",
        "勉强协调",
        "良好协调",
        "优质协调",
        "优质协调",
    ]


def test_constant_price_gdp_hand_computed():
    gdp = pd.DataFrame(
        {
            "region_code": ["1"] * 3,
            "year": [2020, 2021, 2022],
            "gdp_100m_yuan": [100.0, 120.0, 130.0],
            "real_growth_pct": [3.0, 10.0, 5.0],
        }
    )
    out = constant_price_gdp(gdp, 2020)
    assert out["gdp_const"].tolist() == pytest.approx([100.0, 110.0, 115.5], abs=1e-12)


def test_shipped_gdp_sums_to_provincial_gdp_within_2_percent():
    gdp = load_shipped_gdp()
    for year in (2020, 2021, 2022):
        rows = gdp[gdp["year"] == year]
        cities = rows[rows["region_code"] != "330000"]
        province = float(rows.loc[rows["region_code"] == "330000", "gdp_100m_yuan"].iloc[0])
        assert len(cities) == 11
        assert abs(cities["gdp_100m_yuan"].sum() / province - 1) <= 0.02, year
    # The province's documents: 7.35 trillion yuan in 2021.
    p2021 = gdp.loc[(gdp["region_code"] == "330000") & (gdp["year"] == 2021), "gdp_100m_yuan"]
    assert float(p2021.iloc[0]) / 1e4 == pytest.approx(7.35, abs=0.005)
    # every figure names the bulletin to check it against; none but the province's 2021 GDP has
    # a source that could be cited, and the table says so row by row
    assert gdp["bulletin"].str.contains("统计公报").all()
    checked = (gdp["region_code"] == "330000") & (gdp["year"] == 2021)
    assert set(gdp.loc[~checked, "verified"]) == {"no"}
    assert (gdp.loc[~checked, "source"] == "").all()
    assert gdp.loc[checked, "verified"].item() == "gdp_only"
    assert "7.35 trillion" in gdp.loc[checked, "source"].item()
    const = constant_price_gdp(gdp, 2020)
    assert len(const) == 36 and (const["gdp_const"] > 0).all()


def test_outputs_from_unverified_gdp_say_so():
    gdp = load_shipped_gdp()
    status = gdp_verification(gdp, 2020, 2022)
    assert len(status) == 12 and set(status) == {"no"}
    # a region is verified only if every figure its constant-price GDP rests on is
    mine = pd.DataFrame(
        {
            "region_code": ["1", "1", "2", "2"],
            "year": [2020, 2021] * 2,
            "verified": ["yes"] * 3 + ["no"],
        }
    )
    assert gdp_verification(mine, 2020, 2021).to_dict() == {"1": "yes", "2": "no"}
    assert gdp_verification(mine, 2020, 2020).to_dict() == {"1": "yes", "2": "yes"}
    assert set(gdp_verification(mine.drop(columns="verified"), 2020, 2021)) == {"user table"}


def test_gdp_magnitude_flags_unit_mix_up():
    where = pd.Series(["gdp.csv, line 2", "gdp.csv, line 3"])
    check_gdp_magnitude(pd.Series([18109.0, 73516.0]), where)
    with pytest.raises(InputDataError, match=r"gdp.csv, line 3: .*looks like 万元"):
        check_gdp_magnitude(pd.Series([18109.0, 1.8109e8]), where)
    with pytest.raises(InputDataError, match=r"line 2: .*万亿元"):
        check_gdp_magnitude(pd.Series([0.5, 100.0]), where)


def test_model_intensity_refused_on_synthetic_grids_unless_asked():
    co2 = pd.DataFrame({"region_code": ["330100"], "year": [2021], "co2_t": [1.0e8]})
    gdp = pd.DataFrame({"region_code": ["330100"], "year": [2021], "gdp_const": [20000.0]})
    with pytest.raises(InputDataError, match="synthetic"):
        model_carbon_intensity(co2, gdp, synthetic=True)
    out = model_carbon_intensity(co2, gdp, synthetic=True, allow_synthetic=True)
    assert out["co2_per_10k_yuan_t"].iloc[0] == pytest.approx(0.5)
    assert "模型测算" in out["label"].iloc[0] and "synthetic" in out["label"].iloc[0]
