"""Synthetic met, the ERA5-style reader, interpolation and the perturbations of the OSSE."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from gridcarbon.errors import InputDataError, InputFileError
from gridcarbon.inversion.meteorology import met_at_points, perturb_point_met, read_era5
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
    v = {
        "u10": ("valid_time", "latitude", "longitude"),
    }
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
    del v
    return p, ds


def test_read_era5_and_interpolate(tmp_path):
    p, raw = _era5(tmp_path)
    met = read_era5(p)
    assert list(met.data_vars) == ["u10", "v10", "blh", "tcc", "t2m"]
    assert np.all(np.diff(met.lat.values) > 0)
    # at a grid node the interpolation returns the node value
    pm = met_at_points(met, TIMES[:5], [119.5], [30.0])
    np.testing.assert_allclose(
        pm.blh[:, 0], raw.blh.sel(latitude=30.0, longitude=119.5)[:5], rtol=1e-6
    )
    p2, _ = _era5(tmp_path, with_tcc=False)
    m2 = read_era5(p2)
    assert float(m2.tcc.min()) >= 0 and float(m2.tcc.max()) <= 1
    with pytest.raises(InputDataError, match="does not contain all points"):
        met_at_points(met, TIMES[:5], [125.0], [30.0])
    with pytest.raises(InputFileError):
        read_era5(tmp_path / "nope.nc")
    bad = xr.open_dataset(p).drop_vars("blh")
    bad.to_netcdf(tmp_path / "bad.nc")
    with pytest.raises(InputDataError, match="lacks"):
        read_era5(tmp_path / "bad.nc")


def test_read_era5_refuses_files_without_coordinates(tmp_path):
    p, _ = _era5(tmp_path)
    no_lat = xr.open_dataset(p).rename({"latitude": "y"})
    no_lat.to_netcdf(tmp_path / "no_lat.nc")
    with pytest.raises(InputDataError) as err:
        read_era5(tmp_path / "no_lat.nc")
    assert str(err.value) == (
        f"meteorology {str(tmp_path / 'no_lat.nc')!r} lacks the coordinate(s) ['lat'] (found "
        "['lon', 'time', 'y']); give ERA5-style time, latitude, longitude"
    )


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
