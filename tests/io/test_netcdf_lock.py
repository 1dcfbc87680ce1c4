"""gridcarbon's NetCDF reads and writes may run in several threads of one process at once (two
tasks on a Dask worker with several threads) without corrupting the HDF5 library.

Without :data:`gridcarbon.io.netcdf_lock.NETCDF_LOCK` the workload below crashed the
interpreter (``malloc(): unsorted double linked list corrupted``), and CI saw ``NetCDF: Problem
with HDF5 dimscales.`` from two month tasks writing their documents side by side. The workload
runs in a child interpreter so that such a crash fails this test instead of ending the suite.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap

import numpy as np
import xarray as xr

from gridcarbon.io.netcdf_lock import NETCDF_LOCK, open_netcdf
from gridcarbon.io.outputs import write_dataset_netcdf

_WORKLOAD = textwrap.dedent(
    """
    import sys
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    import numpy as np
    import pandas as pd
    import xarray as xr

    from gridcarbon.io.netcdf_lock import open_netcdf
    from gridcarbon.io.outputs import dataset_netcdf_stream, write_dataset_netcdf
    from gridcarbon.io.satellite import read_tropomi_no2, write_tropomi_no2_l2
    import shapely

    from gridcarbon.grids.gridspec import GridSpec
    from tests.io.test_satellite import LAT0, LON0, tropomi_granule

    folder = Path(sys.argv[1])
    region = GridSpec.from_region(shapely.box(LON0 - 0.3, LAT0 - 0.27, LON0 + 0.3, LAT0 + 0.27))


    def dataset(seed):
        rng = np.random.default_rng(seed)
        time = pd.date_range("2023-01-01", periods=6, freq="h")
        return xr.Dataset(
            {f"v{k}": (("time", "y", "x"), rng.random((6, 20, 20))) for k in range(5)},
            coords={"time": time, "y": np.arange(20.0), "x": np.arange(20.0)},
        )


    def one(i):
        ds = dataset(i)
        kind = i % 3
        path = folder / f"f{i}.nc"
        if kind == 0:
            write_dataset_netcdf(ds, path, {"title": "whole"})
        elif kind == 1:
            with dataset_netcdf_stream(path, {"title": "blocks"}) as write:
                for start in range(0, 6, 2):
                    write(ds.isel(time=slice(start, start + 2)))
        else:
            write_tropomi_no2_l2(path, tropomi_granule())
            return len(read_tropomi_no2(path, grid=region))
        with open_netcdf(path) as back:
            np.testing.assert_array_equal(back["v3"].values, ds["v3"].values)
        return 0


    with ThreadPoolExecutor(4) as pool:
        counts = list(pool.map(one, range(int(sys.argv[2]))))
    print("done", sum(counts))
    """
)


def test_threads_writing_and_reading_netcdf_at_once(tmp_path):
    n_files = 90
    result = subprocess.run(
        [sys.executable, "-c", _WORKLOAD, str(tmp_path), str(n_files)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # every third file is a granule with 8 × 6 pixels, 3 of them flagged
    assert result.stdout.split() == ["done", str((n_files // 3) * (8 * 6 - 3))]


def test_the_lock_is_reentrant_and_pickles_as_the_process_lock():
    with NETCDF_LOCK, NETCDF_LOCK:
        pass
    assert pickle.loads(pickle.dumps(NETCDF_LOCK)) is NETCDF_LOCK


def test_a_lazily_opened_file_pickles_and_reads_back(tmp_path):
    ds = xr.Dataset({"a": (("y", "x"), np.arange(12.0).reshape(3, 4))})
    path = write_dataset_netcdf(ds, tmp_path / "a.nc")
    with open_netcdf(path) as lazy:
        copy = pickle.loads(pickle.dumps(lazy))
        np.testing.assert_array_equal(copy["a"].values, ds["a"].values)
        copy.close()
