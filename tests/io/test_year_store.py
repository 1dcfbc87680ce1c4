"""The store of a long period: created whole with one chunking, filled month by month, proven
by completion markers; the run fingerprint a resumed run must share."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from gridcarbon.config import RunConfig
from gridcarbon.errors import ConfigError, InputDataError
from gridcarbon.grids.prior import period_hours
from gridcarbon.io.year_store import (
    TIME_CHUNK,
    check_resumable,
    consolidate_store,
    create_store,
    done_months,
    run_fingerprint,
    write_marker,
    write_month,
    write_run_state,
)
from gridcarbon.pipeline import build_prior, iter_prior
from tests.region import small_region_scenario


@pytest.fixture(scope="module")
def months():
    config = RunConfig.validate_dict({"period": {"start": "2023-01-30", "end": "2023-02-02"}})
    scenario = small_region_scenario()
    return config, scenario, list(iter_prior(config, scenario))


def test_store_is_created_whole_with_one_time_chunking(months, tmp_path):
    config, scenario, parts = months
    hours = period_hours(config.period)[0]
    store = create_store(parts[0], hours.values, tmp_path / "p.zarr", attrs={"note": "x"})
    ds = xr.open_zarr(store, consolidated=False)
    assert ds.sizes["time"] == hours.size == 96
    # every time-dependent array, data and bounds, in 24-hour chunks: ds.chunks is consistent
    assert set(ds.chunks["time"]) == {TIME_CHUNK}
    for name in ("CO2", "NOx_point", "time_bnds"):
        assert ds[name].encoding["chunks"][0] == TIME_CHUNK
    assert ds["CO2"].encoding["chunks"][1:] == ds["CO2"].shape[1:]
    np.testing.assert_array_equal(ds["time"].values, hours.values)
    np.testing.assert_array_equal(
        ds["time_bnds"].values[:, 1] - ds["time_bnds"].values[:, 0], np.timedelta64(1, "h")
    )
    assert ds.attrs["note"] == "x" and ds.attrs["Conventions"].startswith("CF-")
    # not yet written: the data read as the fill value (NaN), only a marker proves a month
    assert np.isnan(ds["CO2"].values).all()


def test_months_written_into_their_regions_equal_the_in_memory_prior(months, tmp_path):
    config, scenario, parts = months
    hours = period_hours(config.period)[0]
    store = create_store(parts[0], hours.values, tmp_path / "p.zarr")
    starts = np.cumsum([0] + [p.sizes["time"] for p in parts])[:-1]
    for part, start in reversed(list(zip(parts, starts, strict=True))):  # any order will do
        write_month(store, part, int(start))
    consolidate_store(store)
    ds = xr.open_zarr(store, consolidated=True).load()
    ref = build_prior(config, scenario)
    for name in ref.data_vars:
        if "time" in ref[name].dims:
            np.testing.assert_array_equal(ds[name].values, ref[name].values, err_msg=name)


def test_a_month_that_would_share_a_chunk_is_refused(months, tmp_path):
    config, _, parts = months
    hours = period_hours(config.period)[0]
    store = create_store(parts[0], hours.values, tmp_path / "p.zarr")
    with pytest.raises(InputDataError, match="whole 24-hour chunks"):
        write_month(store, parts[0].isel(time=slice(0, 12)), 0)


def test_markers_name_the_run(tmp_path):
    fp = run_fingerprint("a: 1\n", [])
    write_marker(tmp_path, "2023-01", (0, 744), fp)
    assert done_months(tmp_path, fp) == {"2023-01": (0, 744)}
    other = run_fingerprint("a: 2\n", [])
    assert done_months(tmp_path, other) == {}  # another run's marker proves nothing
    (tmp_path / "_markers" / "2023-02.json").write_text("{not json")
    assert done_months(tmp_path, fp) == {"2023-01": (0, 744)}


def test_resume_is_refused_when_config_version_or_inputs_changed(tmp_path, monkeypatch):
    inp = tmp_path / "units.csv"
    inp.write_text("a,b\n1,2\n")
    fp = run_fingerprint("a: 1\n", [inp])
    write_run_state(tmp_path, fp, "a: 1\n")
    check_resumable(tmp_path, run_fingerprint("a: 1\n", [inp]))  # unchanged: accepted
    with pytest.raises(ConfigError, match="the configuration changed"):
        check_resumable(tmp_path, run_fingerprint("a: 2\n", [inp]))
    inp.write_text("a,b\n1,3\n")
    with pytest.raises(ConfigError, match=r"input file\(s\) .*units.csv"):
        check_resumable(tmp_path, run_fingerprint("a: 1\n", [inp]))
    inp.write_text("a,b\n1,2\n")
    newer = {**fp, "gridcarbon_version": "99.0"}
    with pytest.raises(ConfigError, match="gridcarbon version"):
        check_resumable(tmp_path, newer)
