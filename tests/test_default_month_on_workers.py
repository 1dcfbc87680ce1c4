"""The default month (the embedded Zhejiang default, January 2023) on a two-worker Dask cluster
equals the single-process run: prior grids to 1e-6, zone tallies and hotspot flags identical.

The single-process run is the plain ``gridcarbon.run`` a new user gets (held in memory, not
streamed); the other is the streamed run on the workers in 7-day tasks, the driver summing the
month fields from the tasks' day fields.  The inversion and the map are left out (the
inversion's months on workers are compared in ``tests/test_dask_inversion.py``); hourly
hotspots too, as a streamed run does not compute them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import gridcarbon
from gridcarbon.config import RunConfig
from tests.streamed_region import ZONE_FILES, threads_cluster

pytestmark = pytest.mark.slow  # two runs of the default month's prior and zones


def _config() -> RunConfig:
    return RunConfig.validate_dict(
        {
            "inversion": {"enabled": False},
            "maps": {"enabled": False},
            "zoning": {"hourly_hotspots": False},
            "output": {"formats": ["netcdf"]},
        }
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("default-month")
    single, workers = folder / "single", folder / "workers"
    gridcarbon.run(_config(), out_dir=single)
    with threads_cluster() as client:
        gridcarbon.run(_config(), out_dir=workers, resume=True, client=client, task_days=7)
    return single, workers


def test_default_month_on_workers_equals_the_single_process_run(runs):
    single, workers = runs
    assert not (single / "prior.zarr").exists() and (workers / "prior.zarr").exists()
    with xr.open_dataset(single / "prior.nc") as a, xr.open_zarr(workers / "prior.zarr") as b:
        names = [v for v in a.data_vars if "time" in a[v].dims and a[v].dtype.kind == "f"]
        assert {"CO2", "NOx", "VOC"} <= set(names)
        for name in names:
            np.testing.assert_allclose(b[name].values, a[name].values, rtol=1e-6, atol=0)
    for name in ZONE_FILES:
        with xr.open_dataset(single / name) as a, xr.open_dataset(workers / name) as b:
            xr.testing.assert_identical(a.load().drop_attrs(), b.load().drop_attrs())
    with xr.open_dataset(workers / "hotspots_month.nc") as month:
        flags = [v for v in month.data_vars if v.endswith("_bin")]
        assert flags and all(int((month[v] > 0).sum()) > 0 for v in flags)
    for name in ("zone_units.csv", "zone_colocation.csv", "zone_units_daily.csv"):
        pd.testing.assert_frame_equal(
            pd.read_csv(single / name), pd.read_csv(workers / name), check_exact=True
        )
