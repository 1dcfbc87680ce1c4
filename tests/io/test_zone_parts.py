"""The files a zoning task hands back: arrays keep their memory layout, Datasets come back
identical (text coordinates as text objects, attributes), and nothing is pickled."""

import numpy as np
import pytest
import xarray as xr

from gridcarbon.errors import InputDataError, InputFileError
from gridcarbon.io.zone_parts import (
    read_arrays,
    read_dataset_npz,
    take_arrays,
    write_arrays,
    write_dataset_npz,
)


def test_a_dataset_comes_back_identical_with_its_layout(tmp_path):
    per_hour = np.arange(12.0).reshape(4, 3)  # (time, unit) in memory, stored as (unit, time)
    ds = xr.Dataset(
        {
            "CO2": (("unit", "time"), per_hour.T, {"units": "kg h-1", "long_name": "CO2"}),
            "CO2_outside": (("time",), np.ones(4), {"units": "kg h-1"}),
        },
        coords={
            "unit": ("unit", np.array(["u1", "单元2", "=u3"], dtype=object), {"long_name": "c"}),
            "area_km2": ("unit", np.array([1.5, 2.0, 3.0])),
            "time": ("time", np.arange(4).astype("datetime64[h]").astype("datetime64[ns]")),
        },
        attrs={"note": "area sources", "n": 3},
    )
    path = write_dataset_npz(ds, tmp_path / "part.npz")
    back = read_dataset_npz(path)
    xr.testing.assert_identical(ds, back)
    assert back["CO2"].values.strides == ds["CO2"].values.strides
    assert back["unit"].dtype == object and back.attrs == ds.attrs


def test_arrays_by_name_and_errors(tmp_path):
    path = write_arrays(tmp_path / "a.npz", {"z": np.ones((2, 3), np.float32), "b": np.int8([1])})
    assert set(read_arrays(path)) == {"z", "b"}
    assert read_arrays(path, ["b"])["b"].dtype == np.int8
    with pytest.raises(InputFileError, match="zoning part"):
        read_arrays(path, ["missing"])
    with pytest.raises(InputFileError, match="write_dataset_npz"):
        read_dataset_npz(path)
    bad = xr.Dataset({"v": ("x", np.array([1, None], dtype=object))})
    with pytest.raises(InputDataError, match="other than text"):
        write_dataset_npz(bad, tmp_path / "bad.npz")
    with pytest.raises(InputDataError, match="only text and numbers"):
        write_dataset_npz(xr.Dataset(attrs={"f": object()}), tmp_path / "bad2.npz")


def test_taken_arrays_are_read_once(tmp_path):
    fields = np.arange(12.0).reshape(2, 2, 3) / 3
    path = write_arrays(tmp_path / "f.npz", {"day_fields": fields})
    np.testing.assert_array_equal(take_arrays(path)["day_fields"], fields)
    assert not path.exists()
    with pytest.raises(InputFileError, match="zoning part"):
        take_arrays(path)
