"""The vertical profile of the simulated TROPOMI columns against the column operator's, under the
retrieval's own averaging kernel — SYNTHETIC.

The OSSE's synthetic TROPOMI writer (:mod:`gridcarbon.scenario.satellite_synthetic`) puts every
plume's NO2 in a profile that is uniform up to 0.8 × the domain-mean mixing height of the
overpass and tapers to zero at 1.2 × it, at every distance from its source.  The column operator
(:mod:`gridcarbon.inversion.columns`) spreads an area source's plume vertically with the ISC3
sigma_z of each pixel's stability class under each pixel's own mixing height, so near a source
its plume sits in the lowest layers, where a TROPOMI kernel is least sensitive.  Both are seen
through the same kernel, ``V = Σ_l A_l w_l`` (``w`` the profile's share in layer l, ``A`` the
tropospheric kernel), so for the same emissions the two modelled columns stand in the ratio
``V_operator / V_writer``: below 1 the operator's columns fall short and an inversion raises the
emissions to close the gap, on every overpass.  No truth of an OSSE is used: the two models'
vertical placements are compared on the files' own kernels.

For each day of a month of the default scenario, one synthetic TROPOMI file is written from the
scenario's midday fluxes and read back; on its usable pixels the script evaluates ``V`` of the
operator (an area source at 10 m, rural and urban dispersion, the pixel's class and mixing
height), ``V`` of the same with the writer's domain-mean mixing height, and ``V`` of the writer's
profile, and prints the medians over pixels and days of the ratios at 1–100 km downwind.

Usage:
    python benchmarks/column_profile_check.py [--month 1] [--days N]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from gridcarbon.config import RunConfig
from gridcarbon.inversion.columns import ColumnPixels, layer_heights
from gridcarbon.inversion.meteorology import met_at_points, with_cloud_cover
from gridcarbon.io.satellite import read_global_attributes, read_tropomi_no2
from gridcarbon.kernels.column import area_vertical_tables
from gridcarbon.pipeline import default_scenario
from gridcarbon.scenario import satellite_synthetic as ss

DISTANCES_KM = (1.0, 3.0, 10.0, 30.0, 100.0)


def _writer_weight(z: np.ndarray, kernel: np.ndarray, zi: float) -> np.ndarray:
    """``Σ_l A_l w_l`` of the writer's profile (``satellite_synthetic._profile_fraction``) per
    pixel; ``z`` the layer edges (m above ground, ``(n, L + 1)``)."""
    share = ss._profile_fraction(z[:, :-1], np.minimum(z[:, 1:], 1e6), zi)
    return np.sum(np.nan_to_num(kernel) * share, axis=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--month", type=int, default=1, help="month of 2023")
    ap.add_argument("--days", type=int, default=None, help="only the first N days")
    args = ap.parse_args()
    start = pd.Timestamp(f"2023-{args.month:02d}-01")
    end = start + pd.offsets.MonthEnd(0)
    config = RunConfig.validate_dict(
        {"period": {"start": str(start.date()), "end": str(end.date())}}
    )
    transport = config.inversion.transport
    scenario = default_scenario(config)
    grid = scenario.grid
    nodes = np.array(DISTANCES_KM) * 1000.0
    ratios: dict[str, list[np.ndarray]] = {"rural": [], "urban": [], "rural_zi": [], "urban_zi": []}
    zi_ratio, n_pixels = [], 0
    days = pd.date_range(start, end, freq="D")[: args.days]
    with tempfile.TemporaryDirectory() as folder:
        for day in days:
            met = scenario.meteorology.for_hours(pd.date_range(day, periods=24, freq="h"))
            path = ss.write_synthetic_tropomi_no2(
                Path(folder) / ss.tropomi_file_name(day),
                grid=grid,
                fluxes=ss.truth_fluxes(scenario, day),
                met=met,
                date=day,
            )
            read = read_tropomi_no2(path, grid=grid)
            if not read.value.size:
                continue
            zi_writer = float(read_global_attributes(path)["truth_mixing_height_m"])
            px = ColumnPixels.from_satellite(read)
            xc, yc = px.centres()
            lon, lat = grid.unproject(xc, yc)
            when = ss.tropomi_overpass_time(grid, day)
            # the operator's met at the pixels, as ColumnObservations reads it
            hour = pd.DatetimeIndex([day + pd.Timedelta(hours=when.hour)])
            pm = met_at_points(with_cloud_cover(met), hour, lon, lat)
            k = pm.stability[0].astype(np.int64)
            z = np.ascontiguousarray(layer_heights(np.asarray(px.pressure_edges), pm.t2m[0]))
            ak = np.ascontiguousarray(np.asarray(px.averaging_kernel, float))
            nl = np.full(px.n, ak.shape[1], np.int64)
            writer = _writer_weight(z, ak, zi_writer)
            for suffix, zi in (("", pm.blh[0]), ("_zi", np.full(px.n, zi_writer))):
                tab_r, tab_u = np.zeros((px.n, nodes.size)), np.zeros((px.n, nodes.size))
                area_vertical_tables(
                    k,
                    np.ascontiguousarray(zi, float),
                    transport.area_source_height_m,
                    transport.lid_uniform_factor,
                    z,
                    ak,
                    nl,
                    nodes,
                    tab_r,
                    tab_u,
                )
                ratios["rural" + suffix].append(tab_r / writer[:, None])
                ratios["urban" + suffix].append(tab_u / writer[:, None])
            zi_ratio.append(pm.blh[0] / zi_writer)
            n_pixels += px.n
    print(
        f"{len(days)} days of 2023-{args.month:02d}, {n_pixels} usable pixels; the pixels' own "
        f"mixing height over the writer's domain mean: median {np.median(np.concatenate(zi_ratio)):.2f}"
    )
    print("median V_operator / V_writer (same emissions, same kernel) at downwind distance:")
    print("dispersion | " + " | ".join(f"{d:g} km" for d in DISTANCES_KM))
    labels = {
        "rural": "rural, pixel's zi",
        "urban": "urban, pixel's zi",
        "rural_zi": "rural, writer's zi",
        "urban_zi": "urban, writer's zi",
    }
    for key, label in labels.items():
        med = np.median(np.concatenate(ratios[key]), axis=0)
        print(f"{label} | " + " | ".join(f"{m:.3f}" for m in med))


if __name__ == "__main__":
    main()
