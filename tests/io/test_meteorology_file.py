"""The ERA5-style meteorology reader: layout, names and refusals."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from gridcarbon.errors import InputDataError, InputFileError
from gridcarbon.io.meteorology_file import read_era5

TIMES = pd.date_range("2022-12-31 16:00", periods=24, freq="h")


def _era5(tmp_path, with_tcc=True, name="era5.nc"):
    lat = np.arange(31.0, 29.0 - 1e-9, -0.25)  # ERA5 is north-to-south
    lon = np.arange(119.0, 121.01, 0.25)
    shape = (TIMES.size, lat.size, lon.size)
    rng = np.random.default_rng(0)
    dims = ("valid_time", "latitude", "longitude")
    ds = xr.Dataset(
        {
            "u10": (dims, rng.normal(2, 1, shape)),
            "v10": (dims, rng.normal(2, 1, shape)),
            "blh": (dims, rng.uniform(200, 1200, shape)),
        },
        coords={"valid_time": TIMES.values, "latitude": lat, "longitude": lon},
    )
    if with_tcc:
        ds["tcc"] = (dims, rng.uniform(0, 1, shape))
    else:
        ds["sshf"] = (dims, -rng.uniform(0, 3e5, shape))
    p = tmp_path / name
    ds.to_netcdf(p)
    return p


def test_read_era5_names_sorts_and_fills_t2m(tmp_path):
    met = read_era5(_era5(tmp_path))
    assert list(met.data_vars) == ["u10", "v10", "blh", "tcc", "t2m"]
    assert np.all(np.diff(met.lat.values) > 0)
    assert float(met.t2m.min()) == float(met.t2m.max()) == 283.15
    assert met.attrs["synthetic"] == "false"
    heat = read_era5(_era5(tmp_path, with_tcc=False, name="sshf.nc"))
    assert list(heat.data_vars) == ["u10", "v10", "blh", "sshf", "t2m"]


def test_read_era5_refusals(tmp_path):
    p = _era5(tmp_path)
    with pytest.raises(InputFileError, match="does not exist"):
        read_era5(tmp_path / "nope.nc")
    xr.open_dataset(p).drop_vars("blh").to_netcdf(tmp_path / "bad.nc")
    with pytest.raises(InputDataError, match=r"lacks \['blh'\]"):
        read_era5(tmp_path / "bad.nc")
    xr.open_dataset(p).drop_vars("tcc").to_netcdf(tmp_path / "no_cloud.nc")
    with pytest.raises(InputDataError, match="has neither tcc"):
        read_era5(tmp_path / "no_cloud.nc")


def test_read_era5_refuses_files_without_coordinates(tmp_path):
    p = _era5(tmp_path)
    xr.open_dataset(p).rename({"latitude": "y"}).to_netcdf(tmp_path / "no_lat.nc")
    with pytest.raises(InputDataError) as err:
        read_era5(tmp_path / "no_lat.nc")
    assert str(err.value) == (
        f"meteorology {str(tmp_path / 'no_lat.nc')!r} lacks the coordinate(s) ['lat'] (found "
        "['lon', 'time', 'y']); give ERA5-style time, latitude, longitude"
    )


def _with_sp(tmp_path, values, units, name):
    ds = xr.open_dataset(_era5(tmp_path, name=f"base-{name}"))
    ds["sp"] = ds["u10"] * 0.0 + values
    ds["sp"].attrs["units"] = units
    ds.to_netcdf(tmp_path / name)
    return tmp_path / name


def test_read_era5_keeps_the_surface_pressure_in_pa(tmp_path):
    met = read_era5(_with_sp(tmp_path, 101_300.0, "Pa", "pa.nc"))
    assert list(met.data_vars) == ["u10", "v10", "blh", "tcc", "t2m", "sp"]
    assert float(met.sp.min()) == float(met.sp.max()) == 101_300.0
    hpa = read_era5(_with_sp(tmp_path, 850.0, "hPa", "hpa.nc"))
    assert float(hpa.sp.max()) == 85_000.0 and hpa.sp.attrs["units"] == "Pa"


def test_read_era5_feeds_the_surface_pressure_to_the_stations(tmp_path):
    from gridcarbon.inversion.meteorology import met_at_points, with_cloud_cover

    met = with_cloud_cover(read_era5(_with_sp(tmp_path, 95_000.0, "Pa", "sp.nc")))
    pm = met_at_points(met, TIMES[:3], [120.0], [30.0])
    np.testing.assert_allclose(pm.surface_pressure, 95_000.0)
    no_sp = met_at_points(with_cloud_cover(read_era5(_era5(tmp_path))), TIMES[:3], [120.0], [30.0])
    assert no_sp.surface_pressure is None


@pytest.mark.parametrize(
    ("values", "units", "message"),
    [
        (101_300.0, "atm", "units 'atm'"),
        (1013.0, "Pa", "not a surface pressure"),  # hPa values labelled Pa
        (3.0e5, "Pa", "not a surface pressure"),
    ],
)
def test_read_era5_refuses_a_pressure_that_is_not_one(tmp_path, values, units, message):
    with pytest.raises(InputDataError, match=message):
        read_era5(_with_sp(tmp_path, values, units, "bad_sp.nc"))
