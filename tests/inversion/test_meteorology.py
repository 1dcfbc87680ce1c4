"""Synthetic met, interpolation, cloud cover from the sensible heat flux and the perturbations of
the OSSE."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from gridcarbon.errors import InputDataError
from gridcarbon.inversion.meteorology import (
    error_fields_at,
    met_at_points,
    perturb_point_met,
    with_cloud_cover,
)
from gridcarbon.io.meteorology_file import DatasetMeteorology, read_era5
from gridcarbon.scenario.meteorology import synthetic_met

TIMES = pd.date_range("2022-12-31 16:00", periods=72, freq="h")


def test_synthetic_met_deterministic_and_seasonal():
    a = synthetic_met(TIMES, seed=1)
    b = synthetic_met(TIMES, seed=1)
    xr.testing.assert_identical(a, b)
    assert a.attrs["synthetic"] == "true"
    pm = met_at_points(a, TIMES, [120.2], [30.3])
    bj = (TIMES.hour + 8) % 24
    day = pm.blh[(bj >= 13) & (bj <= 15), 0].mean()
    night = pm.blh[(bj >= 1) & (bj <= 4), 0].mean()
    assert day > 2 * night  # diurnal mixing height
    summer = synthetic_met(pd.date_range("2023-07-01", periods=72, freq="h"), seed=1)
    wd = lambda m: np.degrees(np.arctan2(-m.u10.mean(), -m.v10.mean())) % 360  # noqa: E731
    assert 0 <= float(wd(a)) <= 120 or float(wd(a)) > 330  # winter: north-east quadrant-ish
    assert 60 <= float(wd(summer)) <= 200  # summer: south-east
    assert set(np.unique(pm.stability)) <= set(range(6))


def _era5(tmp_path, with_tcc=True):
    lat = np.arange(31.0, 29.0 - 1e-9, -0.25)  # ERA5 is north-to-south
    lon = np.arange(119.0, 121.01, 0.25)
    shape = (TIMES.size, lat.size, lon.size)
    rng = np.random.default_rng(0)
    ds = xr.Dataset(
        {
            "u10": (("valid_time", "latitude", "longitude"), rng.normal(2, 1, shape)),
            "v10": (("valid_time", "latitude", "longitude"), rng.normal(2, 1, shape)),
            "blh": (("valid_time", "latitude", "longitude"), rng.uniform(200, 1200, shape)),
        },
        coords={"valid_time": TIMES.values, "latitude": lat, "longitude": lon},
    )
    if with_tcc:
        ds["tcc"] = (("valid_time", "latitude", "longitude"), rng.uniform(0, 1, shape))
    else:
        ds["sshf"] = (("valid_time", "latitude", "longitude"), -rng.uniform(0, 3e5, shape))
    p = tmp_path / ("era5.nc" if with_tcc else "era5_sshf.nc")
    ds.to_netcdf(p)
    return p, ds


def test_era5_interpolated_and_cloud_cover_from_the_heat_flux(tmp_path):
    p, raw = _era5(tmp_path)
    met = with_cloud_cover(read_era5(p))
    assert list(met.data_vars) == ["u10", "v10", "blh", "tcc", "t2m"]
    # at a grid node the interpolation returns the node value
    pm = met_at_points(met, TIMES[:5], [119.5], [30.0])
    np.testing.assert_allclose(
        pm.blh[:, 0], raw.blh.sel(latitude=30.0, longitude=119.5)[:5], rtol=1e-6
    )
    p2, raw2 = _era5(tmp_path, with_tcc=False)
    m2 = with_cloud_cover(read_era5(p2))
    assert list(m2.data_vars) == ["u10", "v10", "blh", "tcc", "t2m"]
    tcc = m2.tcc.values
    assert tcc.min() >= 0 and tcc.max() <= 1
    # at night (sun below the horizon) cloud cover is unknown: 0.5
    assert np.any(tcc == 0.5) and np.any(tcc != 0.5)
    with pytest.raises(InputDataError, match="does not contain all points"):
        met_at_points(met, TIMES[:5], [125.0], [30.0])
    with pytest.raises(InputDataError, match="it needs u10, v10, blh, t2m and tcc or sshf"):
        with_cloud_cover(read_era5(p2).drop_vars("sshf"))
    source = DatasetMeteorology(met)
    assert source.for_hours(TIMES[:5]) is met and source.synthetic is False
    with pytest.raises(InputDataError, match="meteorology covers"):
        source.for_hours(TIMES + pd.Timedelta(days=30))


def test_perturbation_statistics():
    met = synthetic_met(pd.date_range("2023-01-01", periods=24 * 20, freq="h"), seed=3)
    pm = met_at_points(met, pd.DatetimeIndex(met.time.values), [120.0, 120.5], [30.0, 30.2])
    xy = np.array([[0.0, 0.0], [50e3, 0.0]])
    pert = perturb_point_met(pm, xy, np.random.default_rng(0), 20.0, 0.2, 0.2, 6.0, 150.0)
    d = (pert.direction_from - pm.direction_from + 180) % 360 - 180
    assert 12 < d.std() < 28
    np.testing.assert_allclose(pert.blh, pm.blh * 1.2)
    r = np.log(pert.speed / pm.speed)
    assert 0.1 < r.std() < 0.3
    assert np.corrcoef(d[:, 0], d[:, 1])[0, 1] > 0.4  # correlated between nearby stations


def test_error_fields_at_scattered_points_have_the_stations_statistics():
    """The pixels' error fields: unit variance at every point (the lattice interpolation's
    variance restored), the exponential correlation in space and the AR(1) one in time, within
    sampling and interpolation error; the same seed draws the same fields."""
    rng = np.random.default_rng(0)
    ell, tau = 150.0, 6.0
    # three points at one hour, 0, 33.5 and 162.7 km apart (the second and third between the
    # lattice's nodes, which are 30 km apart from the first), and the first again 3 h and 24 h
    # later
    xy = np.array([[1.3e4, 2.7e4], [4.3e4, 4.2e4], [1.75e5, 4.2e4], [1.3e4, 2.7e4], [1.3e4, 2.7e4]])
    hours = np.array([10.0, 10.0, 10.0, 13.0, 34.0])
    draws = np.concatenate(
        [error_fields_at(xy, hours, rng, tau, ell, 2) for _ in range(1500)], axis=0
    )  # (3000, 5)
    np.testing.assert_allclose(draws.var(axis=0), 1.0, atol=0.08)
    C = np.corrcoef(draws.T)
    assert C[0, 1] == pytest.approx(np.exp(-np.hypot(30, 15) / ell), abs=0.06)
    assert C[0, 2] == pytest.approx(np.exp(-np.hypot(162, 15) / ell), abs=0.06)
    assert C[0, 3] == pytest.approx(np.exp(-3 / tau), abs=0.06)
    assert abs(C[0, 4]) < 0.07  # a day later: exp(-4) = 0.018
    a = error_fields_at(xy, hours, np.random.default_rng(4), tau, ell, 2)
    np.testing.assert_array_equal(
        a, error_fields_at(xy, hours, np.random.default_rng(4), tau, ell, 2)
    )
    assert error_fields_at(np.zeros((0, 2)), np.zeros(0), rng, tau, ell, 2).shape == (2, 0)
    with pytest.raises(ValueError, match="one hour per point"):
        error_fields_at(xy, hours[:3], rng, tau, ell, 2)


@pytest.mark.parametrize("met_unit", ["s", "us", "ns"])
@pytest.mark.parametrize("query_unit", ["s", "us", "ns"])
def test_interpolation_in_time_whatever_the_datetime_units(met_unit, query_unit):
    # pandas 3 and recent xarray keep a file's datetime unit; a mismatch once gave NaN
    times = pd.date_range("2023-01-01", periods=4, freq="h").as_unit(met_unit)
    blh = np.array([400.0, 800.0, 1200.0, 1600.0])[:, None, None] * np.ones((4, 2, 3))
    met = xr.Dataset(
        {
            "u10": (("time", "lat", "lon"), np.full((4, 2, 3), 3.0)),
            "v10": (("time", "lat", "lon"), np.full((4, 2, 3), 4.0)),
            "blh": (("time", "lat", "lon"), blh),
            "tcc": (("time", "lat", "lon"), np.full((4, 2, 3), 0.3)),
            "t2m": (("time", "lat", "lon"), np.full((4, 2, 3), 280.0)),
        },
        coords={"time": times.values, "lat": [29.0, 30.0], "lon": [119.0, 120.0, 121.0]},
    )
    when = pd.DatetimeIndex(["2023-01-01 01:30", "2023-01-01 03:00"]).as_unit(query_unit)
    pm = met_at_points(met, when, [120.2], [29.5])
    np.testing.assert_allclose(pm.blh[:, 0], [1000.0, 1600.0])
    np.testing.assert_allclose(pm.speed, 5.0)


def test_a_gap_in_the_met_is_refused_with_where_it_is():
    times = pd.date_range("2023-01-01", periods=3, freq="h")
    met = xr.Dataset(
        {v: (("time", "lat", "lon"), np.full((3, 2, 2), 1.0)) for v in ("u10", "v10", "tcc")}
        | {
            "blh": (("time", "lat", "lon"), np.full((3, 2, 2), 500.0)),
            "t2m": (("time", "lat", "lon"), np.full((3, 2, 2), 280.0)),
        },
        coords={"time": times, "lat": [29.0, 30.0], "lon": [119.0, 120.0]},
    )
    met["blh"][1, 0, 0] = np.nan
    with pytest.raises(
        InputDataError, match=r"'blh' has missing values \(NaN\).*near lon 119.200, lat 29.100"
    ):
        met_at_points(met, times, [119.2], [29.1])
