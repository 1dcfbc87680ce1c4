"""Benchmark-only cross-check: a synthetic TROPOMI NO2 file of the default scenario, read by
gridcarbon (``gridcarbon.io.satellite.read_tropomi_no2``) and by ddeq's S5P reader
(``ddeq.sats.read_S5P``, ddeq 1.1, Empa), gives the same usable pixels and the same values.

ddeq is NOT a dependency of gridcarbon; it lives in its own environment:

    python -m venv /tmp/sat-ddeq && /tmp/sat-ddeq/bin/pip install ddeq
    python benchmarks/ddeq_tropomi_reader.py --ddeq-python /tmp/sat-ddeq/bin/python

The script writes the file with the project's Python, runs itself with ``--ddeq-side`` under the
ddeq environment's Python (which imports only ddeq, numpy and xarray there), and compares the two
readings: pixel set after ``qa_value > 0.75``, tropospheric column and precision, times, surface
pressure, corners and the averaging kernel.  Prints one line per quantity (max |difference|).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import shapely


def ddeq_side(nc_path: str, out_path: str) -> None:
    """Run under the ddeq environment: read with ddeq and save the arrays."""
    import ddeq

    data = ddeq.sats.read_S5P(nc_path, gas="NO2", qa_value=0.75)
    no2 = data["NO2"].values
    np.savez(
        out_path,
        no2=no2,
        no2_std=data["NO2_std"].values,
        qa=data["qa_value"].values,
        time_utc=np.array([t.rstrip("Z") for t in data["time_utc"].values], "datetime64[ns]"),
        psurf=data["surface_pressure"].values,
        lonc=data["longitude_bounds"].values,
        latc=data["latitude_bounds"].values,
        kernel=data["averaging_kernel"].values,
        version=np.array(importlib.metadata.version("ddeq")),
    )


def main(ddeq_python: str, day: str) -> None:
    import pandas as pd

    from gridcarbon.io.satellite import read_tropomi_no2
    from gridcarbon.scenario.satellite_synthetic import write_synthetic_satellite_files
    from gridcarbon.scenario.zhejiang import zhejiang_scenario

    with tempfile.TemporaryDirectory(prefix="gridcarbon-ddeq-") as tmp:
        t0 = time.perf_counter()
        scenario = zhejiang_scenario(with_units=False)
        files = write_synthetic_satellite_files(
            tmp, scenario, [pd.Timestamp(day)], imager_every_days=10**6
        )
        nc = files[0]
        print(
            f"wrote {nc.name} ({nc.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s"
        )
        ours = read_tropomi_no2(nc)
        out = Path(tmp) / "ddeq.npz"
        t1 = time.perf_counter()
        subprocess.run(
            [ddeq_python, __file__, "--ddeq-side", str(nc), str(out)], check=True, cwd=tmp
        )
        print(f"ddeq.sats.read_S5P under {ddeq_python}: {time.perf_counter() - t1:.1f} s")
        theirs = dict(np.load(out))

    n_ground = theirs["no2"].shape[1]
    flat = lambda a: a.reshape(-1, *a.shape[2:])  # noqa: E731
    kept = np.flatnonzero(np.isfinite(flat(theirs["no2"])))
    ours_idx = ours.extra["scanline"] * n_ground + ours.extra["ground_pixel"]
    print(f"ddeq version {theirs['version']}; pixels in file {theirs['no2'].size}")
    print(
        f"usable pixels: gridcarbon {len(ours)}, ddeq {kept.size}, same set: "
        f"{np.array_equal(np.sort(ours_idx), kept)}"
    )
    order = np.argsort(ours_idx)
    ours_idx = ours_idx[order]
    times = np.repeat(theirs["time_utc"], n_ground)[ours_idx]
    checks = {
        "tropospheric column (mol m-2)": (ours.value[order], flat(theirs["no2"])[ours_idx]),
        "precision (mol m-2)": (ours.precision[order], flat(theirs["no2_std"])[ours_idx]),
        "surface pressure (Pa)": (ours.surface_pressure_pa[order], flat(theirs["psurf"])[ours_idx]),
        "time (s)": (
            (ours.time[order] - times) / np.timedelta64(1, "s"),
            np.zeros(len(ours)),
        ),
    }
    # corners: from the polygons (lon/lat when no grid is given)
    coords = shapely.get_coordinates(ours.polygons.to_numpy()[order]).reshape(len(ours), 5, 2)[
        :, :4
    ]
    checks["corner longitudes (deg)"] = (coords[..., 0], flat(theirs["lonc"])[ours_idx])
    checks["corner latitudes (deg)"] = (coords[..., 1], flat(theirs["latc"])[ours_idx])
    # ddeq keeps the total-column kernel A; gridcarbon's is A·M/M_trop up to the tropopause
    k_theirs = flat(theirs["kernel"])[ours_idx]
    ratio = (ours.extra["amf_troposphere"] / ours.extra["amf_total"])[order, None]
    layer = np.arange(k_theirs.shape[1])
    tp = ours.extra["tropopause_layer_index"][order, None]
    checks["averaging kernel A (1)"] = (
        np.where(layer <= tp, ours.kernel[order] * ratio, np.nan),
        np.where(layer <= tp, k_theirs, np.nan),
    )
    for name, (a, b) in checks.items():
        diff = np.nanmax(np.abs(np.asarray(a, float) - np.asarray(b, float)))
        print(f"{name:32s} max |gridcarbon - ddeq| = {diff:.3g}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--ddeq-side":
        ddeq_side(sys.argv[2], sys.argv[3])
    else:
        parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
        parser.add_argument("--ddeq-python", default="/tmp/sat-ddeq/bin/python")
        parser.add_argument("--day", default="2023-01-15")
        args = parser.parse_args()
        main(args.ddeq_python, args.day)
