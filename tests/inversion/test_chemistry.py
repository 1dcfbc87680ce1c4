"""Real-data physics of the operator: the conversion of modelled µg/m³ at ambient temperature and
pressure (hand calculations) and the daytime NOx lifetime by season."""

import numpy as np
import pandas as pd
import pytest

from gridcarbon.config.inversion import InversionConfig
from gridcarbon.errors import InputDataError
from gridcarbon.inversion.chemistry import (
    SEASONAL_NOX_LIFETIME_DAY_H,
    season_of_month,
    seasonal_nox_lifetime_day_h,
)
from gridcarbon.inversion.conversion import (
    ambient_conversion_factor,
    hypsometric_pressure_pa,
    inlet_pressure_pa,
    model_conversion_factor,
    standard_atmosphere_pressure_pa,
)
from gridcarbon.species import DEFAULT_SPECIES

from .conftest import build_system

R = 8.314462618  # J/(mol K)
CO2, NOX = DEFAULT_SPECIES[0], DEFAULT_SPECIES[1]


def test_species_order_of_the_hand_calculations():
    assert (CO2.name, NOX.name) == ("CO2", "NOx")


def test_ambient_conversion_at_278_K_and_101_3_kPa_by_hand():
    # 1 µg/m³ of CO2 (44.0095 g/mol) is 1e-6/44.0095 mol/m³; air holds p/(R T) mol/m³
    hand = 1e-6 / 44.0095 * R * 278.0 / 101_300.0 * 1e6  # ppm
    got = float(ambient_conversion_factor(CO2, 14.0, 278.0, 101_300.0))
    assert got == pytest.approx(hand, rel=1e-6)
    # NO2 (46.0055 g/mol) in ppb
    hand_no2 = 1e-6 / 46.0055 * R * 278.0 / 101_300.0 * 1e9
    assert float(ambient_conversion_factor(NOX, 14.0, 278.0, 101_300.0)) == pytest.approx(
        hand_no2, rel=1e-6
    )
    # against the model's fixed reference state: 278 K is 7 % lower
    ref = model_conversion_factor(CO2, 14.0, 298.15, 101.325)
    assert got / ref == pytest.approx(278.0 / 298.15 * 101_325 / 101_300, rel=1e-9)
    assert 1 - got / ref == pytest.approx(0.0673, abs=5e-4)


def test_standard_atmosphere_and_conversion_at_1500_m_by_hand():
    # p = 101325 (1 - 0.0065 z / 288.15)^(g / (R_d 0.0065)) at z = 1500 m
    p_hand = 101_325 * (1 - 0.0065 * 1500 / 288.15) ** (9.80665 / (287.05 * 0.0065))
    assert p_hand == pytest.approx(84_556, abs=2)
    assert float(standard_atmosphere_pressure_pa(1500.0)) == pytest.approx(p_hand, rel=1e-12)
    assert float(standard_atmosphere_pressure_pa(0.0)) == 101_325.0
    # a 10 m inlet at a 1,490 m site: the standard atmosphere at 1,500 m
    p = float(inlet_pressure_pa(278.0, 10.0, None, 1490.0))
    assert p == pytest.approx(p_hand, rel=1e-12)
    f = float(ambient_conversion_factor(CO2, 14.0, 278.0, p))
    assert f == pytest.approx(1e-6 / 44.0095 * R * 278.0 / p_hand * 1e6, rel=1e-6)
    # the fixed 298.15 K / 101.325 kPa conversion is 11.7 % too low there (19.8 % from p)
    ref = model_conversion_factor(CO2, 14.0, 298.15, 101.325)
    assert f / ref == pytest.approx(1.117, abs=1e-3)
    assert 101_325 / p_hand == pytest.approx(1.198, abs=1e-3)


def test_hypsometric_inlet_pressure_by_hand():
    # 50 m above a 100 kPa surface at 280 K: mean layer temperature 280 - 0.0065 * 25
    hand = 100_000 * np.exp(-9.80665 * 50 / (287.05 * (280 - 0.0065 * 25)))
    assert float(hypsometric_pressure_pa(100_000.0, 280.0, 50.0)) == pytest.approx(hand, rel=1e-12)
    assert hand == pytest.approx(99_391, abs=2)
    # with a surface pressure the elevation is not used
    assert float(inlet_pressure_pa(280.0, 50.0, 100_000.0, 3000.0)) == pytest.approx(hand)
    v = inlet_pressure_pa(np.array([280.0, 290.0]), np.array([0.0, 50.0]), np.array([1e5, 1e5]))
    assert v[0] == 1e5 and v[1] < 1e5


def test_ambient_conversion_refuses_impossible_states():
    with pytest.raises(InputDataError, match="temperature"):
        ambient_conversion_factor(CO2, 14.0, 25.0, 101_325.0)  # °C given as K
    with pytest.raises(InputDataError, match="pressure"):
        ambient_conversion_factor(CO2, 14.0, 280.0, 1013.25)  # hPa given as Pa
    with pytest.raises(InputDataError, match="elevation"):
        standard_atmosphere_pressure_pa(20_000.0)


@pytest.mark.parametrize(
    ("month", "season", "hours"),
    [(1, "DJF", 12.0), (2, "DJF", 12.0), (12, "DJF", 12.0), (4, "MAM", 7.0), (7, "JJA", 4.0)]
    + [(10, "SON", 7.0)],
)
def test_daytime_nox_lifetime_by_season(month, season, hours):
    assert season_of_month(month) == season
    assert float(seasonal_nox_lifetime_day_h(month)) == hours


def test_seasonal_lifetime_brackets_and_refusals():
    t = seasonal_nox_lifetime_day_h(np.arange(1, 13))
    # winter longest, summer the default's 4 h, spring and autumn between
    assert t.argmax() in (0, 1, 11) and t[6] == InversionConfig().chemistry.nox_lifetime_day_h
    assert SEASONAL_NOX_LIFETIME_DAY_H["JJA"] < SEASONAL_NOX_LIFETIME_DAY_H["MAM"]
    assert SEASONAL_NOX_LIFETIME_DAY_H["MAM"] < SEASONAL_NOX_LIFETIME_DAY_H["DJF"]
    # Shah et al.'s winter 24-h lifetime (21 h) and Lange et al.'s 8 h within a factor 2 of DJF
    assert 0.5 * 12.0 <= 8.0 and 21.0 <= 2 * 12.0
    with pytest.raises(InputDataError, match="1..12"):
        seasonal_nox_lifetime_day_h(np.array([0, 5]))
    with pytest.raises(InputDataError, match="1..12"):
        season_of_month(13)


def test_defaults_keep_the_reference_state_and_the_fixed_lifetime(tiny_case):
    chem = InversionConfig().chemistry
    assert chem.model_conversion_state == "reference" and not chem.nox_lifetime_day_by_season
    sysm = build_system(tiny_case)
    P = sysm.pairs
    np.testing.assert_array_equal(
        sysm.pair_conversion, P["obs_species"].map(sysm.conversion).to_numpy(float)
    )
    day = sysm.pm.sun_elevation[sysm.rows["hour"].to_numpy(), sysm.rows["st"].to_numpy()] > 0
    tau = sysm.receptors.tau_nox_s
    assert day.any()  # the assimilated afternoon hours
    assert np.all(tau[day] == 4.0 * 3600.0) and np.all(tau[~day] == 12.0 * 3600.0)


def test_ambient_switch_converts_each_station_hour_at_its_own_state(tiny_case):
    cfg = InversionConfig(chemistry={"model_conversion_state": "ambient"})
    ref = build_system(tiny_case)
    amb = build_system(tiny_case, cfg)
    P = amb.pairs
    row = P["row"].to_numpy()
    st = amb.rows["st"].to_numpy()[row]
    hour = amb.rows["hour"].to_numpy()[row]
    t = amb.pm.t2m[hour, st]
    h = amb.stations["height"].to_numpy(float)[st]
    p = standard_atmosphere_pressure_pa(h)  # no sp, no elevation: sea level + inlet
    ratio = amb.pair_conversion / ref.pair_conversion
    np.testing.assert_allclose(ratio, (t / 298.15) * (101_325 / p), rtol=1e-12)
    # the modelled enhancements scale with it: the Jacobian rows of the grid factors
    g = amb.layout.segments["grid"]
    a = np.asarray(amb.J[:, g.start : g.stop].sum(axis=1)).ravel()
    b = np.asarray(ref.J[:, g.start : g.stop].sum(axis=1)).ravel()
    ok = b > 0
    np.testing.assert_allclose(a[ok] / b[ok], ratio[ok], rtol=1e-9)


def test_seasonal_lifetime_switch_sets_tau_by_beijing_month(tiny_case):
    cfg = InversionConfig(chemistry={"nox_lifetime_day_by_season": True})
    sysm = build_system(tiny_case, cfg)
    h = sysm.rows["hour"].to_numpy()
    months = (sysm.times[h] + pd.Timedelta(hours=8)).month
    expected = seasonal_nox_lifetime_day_h(months)
    day = sysm.pm.sun_elevation[h, sysm.rows["st"].to_numpy()] > 0
    tau = sysm.receptors.tau_nox_s
    assert day.any() and np.all(expected[day] != 4.0)  # the case's winter days: not the default
    np.testing.assert_array_equal(tau[day], expected[day] * 3600.0)
    assert np.all(tau[~day] == cfg.chemistry.nox_lifetime_night_h * 3600.0)
