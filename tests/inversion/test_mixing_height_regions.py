"""Mixing-height scales per city and day (``state.mixing_height_regions: city``) and the OSSE
truth's mixing-height error per city and day (``osse.truth_mixing_height_by_city``), on a
small SYNTHETIC case split into two made-up cities."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridcarbon.config.inversion import InversionConfig
from gridcarbon.errors import ConfigError
from gridcarbon.inversion.meteorology import perturb_point_met
from gridcarbon.inversion.osse import (
    Truth,
    column_transport_errors,
    mixing_height_scores,
    overpass_day_indices,
    replicate_transport_settings,
    replicate_truth,
)

from .cases import small_case
from .conftest import build_system, mixing_height_twin

SPLIT_LON = 120.3  # the made-up cities' border
CITY = InversionConfig(state={"mixing_height_unknowns": True, "mixing_height_regions": "city"})


@pytest.fixture(scope="module")
def two_city_case():
    """The small case (lon 119.85–120.75) with a western and an eastern city."""
    case = small_case(days=3, seed=7, species=("CO2", "NOx"), n_points=3)
    cities = gpd.GeoDataFrame(
        {"adcode": ["330100", "330200"], "name": ["West", "East"]},
        geometry=[
            shapely.box(119.80, 29.80, SPLIT_LON, 30.60),
            shapely.box(SPLIT_LON, 29.80, 120.60, 30.60),  # short of the case's east edge
        ],
        crs="EPSG:4326",
    )
    return replace(case, scenario=replace(case.scenario, boundaries={"city": cities}))


@pytest.fixture(scope="module")
def city_system(two_city_case):
    return build_system(two_city_case, CITY)


def _expected_region(system) -> np.ndarray:
    """West of the border 0, east 1 (every station of the case lies inside one of the two or
    east of both, where the eastern city's centroid is the nearest)."""
    return (system.stations["lon"].to_numpy() >= SPLIT_LON).astype(int)


def test_each_pair_sees_its_own_city_and_day(city_system, two_city_case):
    system = city_system
    L = system.layout
    assert L.transport_regions == ("330100", "330200")
    tr = L.segments["transport"]
    ndays = len(system.days)
    assert tr.stop - tr.start == 2 * ndays
    region = _expected_region(system)
    np.testing.assert_array_equal(system.station_mixing_height_region, region)
    assert set(region) == {0, 1}  # both cities hold stations
    # the same column values as the province-wide scale's, in the station's city's column
    province = build_system(two_city_case, InversionConfig(state={"mixing_height_unknowns": True}))
    sens = province.mixing_height_sensitivity
    np.testing.assert_allclose(system.mixing_height_sensitivity, sens, rtol=1e-12)
    of_pair = (
        pd.Series(region, index=system.stations["station_id"])
        .loc[system.pairs["station_id"]]
        .to_numpy()
    )
    expect = np.zeros((len(sens), 2 * ndays))
    expect[np.arange(len(sens)), of_pair * ndays + system.pairs["day"].to_numpy()] = sens
    np.testing.assert_array_equal(system.J[:, tr].toarray(), expect)
    # B: the same day's scales of the two cities correlate as exp(-d / 200 km)
    S = system.B.dense_sqrt()[tr]
    Bt = S @ S.T
    c = system.mixing_height_regions.centroids
    d_km = np.hypot(*(c[0] - c[1])) / 1000.0
    assert 30 < d_km < 60
    assert Bt[0, ndays] / Bt[0, 0] == pytest.approx(np.exp(-d_km / 200.0), rel=1e-12)
    assert Bt[0, 0] == pytest.approx(0.3**2, rel=1e-12)


def test_city_scales_need_city_boundaries(two_city_case):
    no_cities = replace(two_city_case, scenario=replace(two_city_case.scenario, boundaries={}))
    with pytest.raises(ConfigError, match=r"boundaries\['city'\].*mixing_height_regions"):
        build_system(no_cities, CITY)


def test_city_scales_in_the_identical_twin(city_system):
    """The twin draws the cities' scales from B; the inversion recovers them within 3
    posterior σ, with σ below the prior's."""
    truth, res, err = mixing_height_twin(city_system)
    tr = city_system.layout.segments["transport"]
    ext = res.extras[res.extras["segment"] == "transport"]
    assert ext["key"].iloc[0] == "330100/day0/mixing_height"
    # scored against the twin's own δ, element by element
    got = mixing_height_scores(city_system.layout, res, truth)
    assert got["mixing_height_rms_error"] == pytest.approx(np.sqrt(np.mean(err**2)))
    assert got["mixing_height_rms_error_prior"] == pytest.approx(np.sqrt(np.mean(truth.x[tr] ** 2)))
    assert got["mixing_height_days"] == len(city_system.days)


def test_perturbed_met_takes_a_mixing_height_scale_per_hour_and_point(city_system):
    pm = city_system.pm
    xy = city_system.stations[["x", "y"]].to_numpy()
    scale = np.random.default_rng(1).uniform(0.7, 1.3, pm.blh.shape)
    new = perturb_point_met(pm, xy, np.random.default_rng(2), 0.0, 0.0, 0.1, 6.0, 150.0, scale)
    np.testing.assert_allclose(new.blh, pm.blh * 1.1 * scale, rtol=1e-12)


def test_the_truth_mixing_height_per_city_and_day(two_city_case):
    """The city-day truth: each city's bias in the randomised range plus a daily N(0, 0.15),
    from a stream of its own (the emission truth and the province-wide draws unchanged); the
    stations' transport sees their city's scale of the day."""
    cfg = InversionConfig(osse={"truth_mixing_height_by_city": True})
    system = build_system(two_city_case, cfg)
    off = cfg.model_copy(
        update={"osse": cfg.osse.model_copy(update={"truth_mixing_height_by_city": False})}
    )
    truth, obs, drawn = replicate_truth(system, cfg, "randomised", 40000)
    truth_off, obs_off, drawn_off = replicate_truth(system, off, "randomised", 40000)
    delta = truth.mixing_height_delta
    assert delta.shape == (2, len(system.days))
    assert truth.mixing_height_cities.names == ("330100", "330200")
    np.testing.assert_array_equal(truth.x, truth_off.x)
    assert truth_off.mixing_height_delta is None
    assert drawn["truth_mixing_height_bias"] == pytest.approx(delta.mean())
    assert drawn["truth_wind_direction_error_deg"] == drawn_off["truth_wind_direction_error_deg"]
    # each city's days scatter about its own bias; another seed draws other biases
    again, _, _ = replicate_truth(system, cfg, "randomised", 40001)
    assert not np.allclose(again.mixing_height_delta, delta)
    assert np.all(np.abs(delta) < 0.3 + 5 * 0.15)
    # the observations differ from the province-wide bias's only through the mixing height
    assert not np.allclose(obs["value"], obs_off["value"])


def test_mixing_height_scores_against_a_city_day_truth(city_system):
    """RMS(δ̂ − δ) over every city-day, its ratio to the prior σ and the RMS of z, and the
    same over the days with an overpass, computed from a made-up posterior."""
    system = city_system
    L = system.layout
    tr = L.segments["transport"]
    ndays = L.transport_days
    rng = np.random.default_rng(3)
    delta = rng.normal(0.0, 0.2, (2, ndays))
    truth = Truth(
        x=L.xb(),
        area=np.zeros((1, 1, 1), np.float32),
        points=np.zeros((1, 1, 0), np.float32),
        mixing_height_delta=delta,
        mixing_height_cities=system.mixing_height_regions,
    )
    x_post = L.xb()
    x_post[tr] = delta.ravel() + 0.1  # every city-day 0.1 high
    post_std = np.full(L.n, 0.2)
    prior_std = np.full(L.n, 0.3)
    res = SimpleNamespace(x_post=x_post, post_std=post_std, prior_std=prior_std)
    got = mixing_height_scores(L, res, truth, overpass_days=np.array([1]))
    assert got["mixing_height_rms_error"] == pytest.approx(0.1)
    assert got["mixing_height_rms_error_ratio"] == pytest.approx(0.1 / 0.3)
    assert got["mixing_height_rms_z"] == pytest.approx(0.5)
    assert got["mixing_height_rms_error_prior"] == pytest.approx(np.sqrt(np.mean(delta**2)))
    assert got["mixing_height_days"] == ndays
    assert got["mixing_height_days_overpass"] == 1
    assert got["mixing_height_rms_error_prior_overpass"] == pytest.approx(
        np.sqrt(np.mean(delta[:, 1] ** 2))
    )
    # a province-wide layout is scored against every city's own day
    province = SimpleNamespace(
        transport_days=ndays,
        transport_regions=(),
        segments={"transport": slice(0, ndays)},
        transport_col=lambda region, day: np.asarray(region) * ndays + np.asarray(day),
    )
    shared = np.full(ndays, 0.05)
    res_p = SimpleNamespace(
        x_post=shared, post_std=np.full(ndays, 0.2), prior_std=np.full(ndays, 0.3)
    )
    got = mixing_height_scores(province, res_p, truth)
    assert got["mixing_height_rms_error"] == pytest.approx(np.sqrt(np.mean((0.05 - delta) ** 2)))
    assert "mixing_height_days_overpass" not in got
    assert "mixing_height_days_overpass" not in mixing_height_scores(
        province, res_p, truth, overpass_days=np.zeros(0, np.int64)
    )


def test_a_column_superobservation_sees_its_own_city(two_city_case, city_system):
    """With δ in the columns' H, each superobservation's δ column is its centre's city's of its
    day, with the values of the province-wide column."""
    from gridcarbon.inversion.columns import ColumnObservations, ColumnSettings
    from gridcarbon.species import NOX

    from .column_cases import swath_pixels

    times = [t + np.timedelta64(30, "m") for t in city_system.times if t.hour == 5]
    pixels = swath_pixels(city_system.grid, times, kernel="tropomi")
    province = build_system(two_city_case, InversionConfig(state={"mixing_height_unknowns": True}))

    def match(system):
        return ColumnObservations(
            pixels,
            NOX,
            "vertical_column",
            two_city_case.scenario.meteorology,
            ColumnSettings(min_upwind_fetch_km=0.0),
        ).match(system)

    m_city, m_province = match(city_system), match(province)
    L = city_system.layout
    tr = L.segments["transport"]
    delta = m_city.H[:, tr].tocsr()
    rows = np.flatnonzero(np.diff(delta.indptr))
    assert rows.size > 10
    assert np.all(np.diff(delta.indptr) <= 1)  # one δ a superobservation
    so = m_city.superobs
    city = city_system.mixing_height_regions.region_of(
        so["x"].to_numpy()[rows], so["y"].to_numpy()[rows]
    )
    assert set(city) == {0, 1}
    np.testing.assert_array_equal(delta.indices // L.transport_days, city)
    np.testing.assert_array_equal(
        delta.indices % L.transport_days,
        m_province.H[:, province.layout.segments["transport"]].tocsr().indices,
    )
    np.testing.assert_allclose(
        delta.toarray().sum(axis=1),
        m_province.H[:, province.layout.segments["transport"]].toarray().sum(axis=1),
        rtol=1e-12,
    )


def test_overpass_days_are_the_beijing_days_of_the_column_rows(city_system):
    """The replicate's overpass days, shared by its surface-only, column and joint scores,
    come from the column rows' hours (Beijing days), whichever inversion is scored."""
    system = city_system
    when = system.times[29]
    expected = system.days.get_loc((when + pd.Timedelta(hours=8)).normalize())

    def kind(times):
        return SimpleNamespace(assimilated=lambda s: pd.DataFrame({"time": times}))

    got = overpass_day_indices(system, [kind([when, when]), kind(pd.DatetimeIndex([]))])
    np.testing.assert_array_equal(got, [expected])
    assert overpass_day_indices(system, []).size == 0


def test_the_columns_transport_errors_see_the_truths_city_days(two_city_case):
    """The column twin with the stations' kind of transport error: at each pixel the
    mixing height's factor is its city's 1 + δ of the day (the randomised bias replaced), the
    wind's turn and speed factor have the replicate's drawn spreads."""
    cfg = InversionConfig(osse={"truth_mixing_height_by_city": True})
    system = build_system(two_city_case, cfg)
    truth, _, drawn = replicate_truth(system, cfg, "randomised", 40000)
    settings, again = replicate_transport_settings(cfg, "randomised", 40000)
    assert settings.mixing_height_bias == 0.0
    assert settings.wind_direction_error_deg == drawn["truth_wind_direction_error_deg"]
    assert again["truth_wind_speed_error"] == drawn["truth_wind_speed_error"]
    rng = np.random.default_rng(0)
    n = 4000
    hour = rng.integers(0, system.nt, n)
    lon = rng.uniform(119.9, 120.7, n)
    lat = rng.uniform(29.9, 30.5, n)
    x, y = system.grid.project(lon, lat)
    pixels = pd.DataFrame({"x": x, "y": y, "hour": hour})
    got = column_transport_errors(system, pixels, settings, truth, rng)
    city = (lon >= SPLIT_LON).astype(int)  # east of the eastern box: its centroid is nearest
    expected = 1.0 + truth.mixing_height_delta[city, system.hour_day[hour]]
    np.testing.assert_allclose(got["mixing_height_factor"], expected, rtol=1e-12)
    # over many draws (one replicate's fields are correlated over this small region)
    few = pixels.iloc[:50]
    draws = [column_transport_errors(system, few, settings, truth, rng) for _ in range(60)]
    turn = np.concatenate([d["wind_turn_deg"] for d in draws])
    assert np.sqrt(np.mean(turn**2)) == pytest.approx(settings.wind_direction_error_deg, rel=0.15)
    sig = np.log1p(settings.wind_speed_error)
    log_speed = np.concatenate([np.log(d["wind_speed_factor"]) for d in draws])
    # the log-normal factor has mean 1: log mean −σ²/2, spread σ
    assert log_speed.mean() == pytest.approx(-0.5 * sig * sig, abs=0.15 * sig)
    assert log_speed.std() == pytest.approx(sig, rel=0.15)
    # without city-days: the replicate's province-wide bias
    off = cfg.model_copy(
        update={"osse": cfg.osse.model_copy(update={"truth_mixing_height_by_city": False})}
    )
    plain, _ = replicate_transport_settings(off, "randomised", 40000)
    truth_off, _, _ = replicate_truth(system, off, "randomised", 40000)
    got = column_transport_errors(system, pixels, plain, truth_off, rng)
    np.testing.assert_allclose(got["mixing_height_factor"], 1.0 + plain.mixing_height_bias)
    assert plain.mixing_height_bias != 0.0
