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
