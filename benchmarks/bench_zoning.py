"""Zoning benchmarks (issue 4): tallies, Gi*, and the coverage matrix on the default grid.

Run:  python benchmarks/bench_zoning.py [--hours 8760] [--ee-bands 240] [--esda-fields 24]
                                          [--out benchmarks/zoning_results.md]

What is timed (numba caches warmed on a small slice first; every value is computed):

1. coverage matrix of the default control units (~2,000) on the default 157 × 163 grid:
   ``gridcarbon.grids.coverage.coverage_matrix`` alone, and the zoning overlay's guarded version;
2. per-unit hourly tallies of a full year (8,760 h), 3 species, area sources by F plus point
   sources by point-in-polygon, grids in memory; reading the year once from memory for reference;
3. the same from a Zarr store on disk (chunked by month);
4. exactextract ``strategy="raster-sequential"`` on a GeoTIFF stack of ``--ee-bands`` hours (a full
   8,760-band stack is 0.9 GB per species; the per-hour rate is extrapolated, and said so);
5. Gi* (z-scores) for the full year of hours, 3 species; BH bins timed separately;
6. esda ``G_Local(transform='B', star=True, permutations=0)`` on ``--esda-fields`` fields with the
   weights built beforehand (not timed), extrapolated per field;
7. ``--parts species``: the tallies of 1 to 4 fields (same-shaped fields go three to a pass of the
   fused kernel, the rest one by one) and the toroidal-shift null of 2 to 4 hot maps (744 hours,
   199 shifts; the unrolled kernel for 2 and 3 maps, the general one beyond).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gridcarbon.grids.coverage import coverage_fraction_grid, coverage_matrix  # noqa: E402
from gridcarbon.scenario.geography import default_grid, region_polygon  # noqa: E402
from gridcarbon.scenario.synthetic_units import default_units  # noqa: E402
from gridcarbon.zoning.geometry import units_to_grid_crs  # noqa: E402
from gridcarbon.zoning.gistar import fdr_bins, gi_star, lattice_neighbours  # noqa: E402
from gridcarbon.zoning.normalise import control_units  # noqa: E402
from gridcarbon.zoning.overlay import assign_points  # noqa: E402
from gridcarbon.zoning.tally import (  # noqa: E402
    _point_sums,
    _prepare,
    add_points,
    sparse_time_matmul,
    sparse_time_matmul_many,
)

SPECIES = ("CO2", "NOx", "VOC")


def timed(fn, *a, repeat: int = 1, **k):
    best = np.inf
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn(*a, **k)
        best = min(best, time.perf_counter() - t)
    return out, best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=int, default=8760)
    ap.add_argument("--ee-bands", type=int, default=240)
    ap.add_argument("--esda-fields", type=int, default=24)
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("zoning_results.md"))
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument(
        "--parts",
        default="coverage,memory,disk,exactextract,gistar,esda,species",
        help="comma-separated parts to run (exactextract needs memory and disk)",
    )
    args = ap.parse_args()
    args.workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench_zoning_"))
    parts = set(args.parts.split(","))
    if "exactextract" in parts:
        parts |= {"memory", "disk"}
    if "disk" in parts:
        parts.add("memory")
    lines: list[str] = []

    def report(s: str) -> None:
        print(s, flush=True)
        lines.append(s)

    import numba

    load = os.getloadavg()
    report(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"numba threads {numba.get_num_threads()}, load average at start "
        f"{load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} (other jobs share the machine)"
    )
    grid = default_grid()
    region = region_polygon(grid.crs)
    mask = coverage_fraction_grid(grid, region) > 0
    units, _ = control_units(default_units(grid), grid=grid, qa_checks=False)
    geoms = units_to_grid_crs(units, grid)
    report(
        f"grid {grid.ny} x {grid.nx} = {grid.size} cells ({int(mask.sum())} in the region); "
        f"{len(units)} control units"
    )

    # 1. coverage ---------------------------------------------------------------------------
    F, t_cov = timed(coverage_matrix, grid, geoms, repeat=2 if "coverage" in parts else 1)
    report(
        f"coverage matrix, {len(units)} units (coverage_matrix, with its row-area check): "
        f"{t_cov:.2f} s [target <= 10 s]; nnz {F.nnz}"
    )

    # data: a full year, 3 species, float32 ---------------------------------------------------
    rng = np.random.default_rng(2023)
    nt = args.hours
    t = time.perf_counter()
    year = {
        s: rng.random((nt, grid.ny, grid.nx), dtype=np.float32) * (1 + 99 * (j == 0))
        for j, s in enumerate(SPECIES)
    }
    n_points = 400
    px = rng.uniform(*grid.bounds[0::2], n_points)
    py = rng.uniform(*grid.bounds[1::2], n_points)
    pts = {s: rng.random((nt, n_points), dtype=np.float32) * 1e3 for s in SPECIES}
    report(
        f"synthetic year generated: {nt} h x 3 species ({3 * year['CO2'].nbytes / 1e9:.2f} GB "
        f"float32) in {time.perf_counter() - t:.1f} s"
    )

    if "memory" in parts:
        t_mem, tal, point_unit = bench_memory(F, geoms, year, pts, px, py, nt, report)
    if "disk" in parts:
        t_disk = bench_disk(F, year, pts, tal, point_unit, grid, nt, args, report)
    if "exactextract" in parts:
        bench_ee(F, year, units, geoms, grid, nt, args, t_mem, t_disk, report)
    t_gi = None
    if "gistar" in parts or "esda" in parts:
        t_gi = bench_gi(year, mask, grid, nt, report)
    if "esda" in parts:
        bench_esda(year, mask, nt, args, t_gi, report)
    if "species" in parts:
        bench_species(F, year, mask, grid, nt, report)
    text = (
        "## Zoning\n\nRecorded by `python benchmarks/bench_zoning.py` on the default grid.\n\n"
        + "\n".join(f"- {ln}" for ln in lines)
        + "\n"
    )
    args.out.write_text(text, encoding="utf-8")
    print(f"written {args.out}")


def bench_memory(F, geoms, year, pts, px, py, nt, report):
    # 2. in-memory tallies --------------------------------------------------------------------
    sparse_time_matmul(F, year["CO2"][:4])  # warm numba cache
    point_unit = assign_points(geoms, px, py)

    warm = sparse_time_matmul_many(F, [year[s][:4] for s in SPECIES])  # warm the kernels
    add_points(point_unit, pts["CO2"][:4], warm[0])

    def tallies():
        prep = _prepare(F)  # split of F into runs + shared entries (done once per F)
        area = sparse_time_matmul_many(F, [year[s] for s in SPECIES], prep)  # one pass, 3 species
        out = {}
        for s, a in zip(SPECIES, area, strict=True):
            add_points(point_unit, pts[s], a)  # in place, each point to its unit
            out[s] = a
        return out

    _, t_read = timed(lambda: [float(year[s].sum(dtype=np.float64)) for s in SPECIES], repeat=2)
    tal, t_mem = timed(tallies, repeat=3)
    report(
        f"per-unit hourly tallies, {nt} h x 3 species, {F.shape[0]} units, in memory: "
        f"{t_mem:.3f} s [target <= 1 s]; reading the year once (numpy sum): {t_read:.3f} s"
    )
    # conservation check on the timed result
    w_out = np.clip(1 - np.asarray(F.sum(axis=0)).ravel(), 0, None)
    for s in SPECIES[:1]:
        tot = year[s].reshape(nt, -1).astype(np.float64).sum(axis=1)
        rest = year[s].reshape(nt, -1).astype(np.float64) @ w_out
        area_units = tal[s] - _point_sums(point_unit, pts[s], F.shape[0])[:, :-1]
        rel = np.abs(area_units.sum(axis=1) + rest - tot).max() / tot.max()
        report(f"  check: units + outside = grid total, max relative error {rel:.1e}")
    return t_mem, tal, point_unit


def bench_disk(F, year, pts, tal, point_unit, grid, nt, args, report):
    # 3. from Zarr on disk ----------------------------------------------------------------------
    import xarray as xr

    store = args.workdir / "year.zarr"
    chunk = 744
    if not store.exists():
        t = time.perf_counter()
        ds = xr.Dataset({s: (("time", "y", "x"), year[s]) for s in SPECIES})
        ds.to_zarr(
            store, encoding={s: {"chunks": (chunk, grid.ny, grid.nx)} for s in SPECIES}, mode="w"
        )
        report(f"  wrote the year to Zarr ({chunk}-hour chunks) in {time.perf_counter() - t:.1f} s")

    def from_zarr():
        z = xr.open_zarr(store)
        out = {}
        for s in SPECIES:
            parts = []
            for a in range(0, nt, chunk):
                block = z[s].isel(time=slice(a, a + chunk)).values
                parts.append(sparse_time_matmul(F, block))
            out[s] = np.concatenate(parts)
        return out

    zt, t_disk = timed(from_zarr, repeat=2)
    same = max(
        np.abs(zt[s] - (tal[s] - _point_sums(point_unit, pts[s], F.shape[0])[:, :-1])).max()
        for s in SPECIES
    )
    report(
        f"per-unit hourly tallies from the Zarr store on disk (default compressor): {t_disk:.2f} s "
        f"(max difference to in-memory {same:.1e})"
    )
    return t_disk


def bench_ee(F, year, units, geoms, grid, nt, args, t_mem, t_disk, report):
    import geopandas as gpd
    import rasterio
    from exactextract import exact_extract

    nb_ = min(args.ee_bands, nt)
    tif = args.workdir / f"stack_{nb_}.tif"
    if not tif.exists():
        with rasterio.open(
            tif,
            "w",
            driver="GTiff",
            width=grid.nx,
            height=grid.ny,
            count=nb_,
            dtype="float32",
            crs=grid.crs_wkt,
            transform=grid.transform,
            tiled=False,
            interleave="band",
        ) as dst:
            dst.write(year["CO2"][:nb_])
    gdf = gpd.GeoDataFrame({"unit_code": units["unit_code"]}, geometry=list(geoms), crs=grid.crs)

    def ee():
        return exact_extract(str(tif), gdf, "sum", strategy="raster-sequential", output="pandas")

    res, t_ee = timed(ee)
    ee_sums = (
        res[[f"band_{i + 1}_sum" for i in range(nb_)]].to_numpy().T
        if nb_ > 1
        else res[["sum"]].to_numpy().T
    )
    ours = sparse_time_matmul(F, year["CO2"][:nb_])
    rel = np.abs(ee_sums - ours).max() / np.abs(ours).max()
    per_hour_ee = t_ee / nb_
    per_hour_mem = t_mem / (3 * nt)
    per_hour_disk = t_disk / (3 * nt)
    report(
        f"exactextract raster-sequential, {nb_} bands (1 species), {len(units)} units: "
        f"{t_ee:.2f} s = {per_hour_ee * 1e3:.2f} ms per hour-species; extrapolated to "
        f"{nt} h x 3 species: {per_hour_ee * 3 * nt:.0f} s "
        + (
            "(measured on the full year of one species; x3 for the species)"
            if nb_ == nt
            else "(NOT measured on the full stack)"
        )
    )
    report(
        f"  ratio exactextract / ours: in memory {per_hour_ee / per_hour_mem:.0f}x "
        f"[target >= 150x]; from Zarr {per_hour_ee / per_hour_disk:.0f}x; "
        f"max relative difference of sums {rel:.1e} [target <= 1e-5]"
    )


def bench_gi(year, mask, grid, nt, report):
    # 5. Gi* -------------------------------------------------------------------------------------
    gi_star(year["CO2"][:4], mask, 9500.0, 3000.0, out=np.empty((4,) + grid.shape, np.float32))
    fdr_bins(np.zeros((2,) + grid.shape, np.float32), mask)
    zbuf = np.empty((nt,) + grid.shape, np.float32)
    t_gi = 0.0
    t_bh = 0.0
    for s in SPECIES:
        t = time.perf_counter()
        gi_star(year[s], mask, 9500.0, 3000.0, out=zbuf)
        t_gi += time.perf_counter() - t
        t = time.perf_counter()
        fdr_bins(zbuf, mask)
        t_bh += time.perf_counter() - t
    report(
        f"Gi* z-scores, {nt} h x 3 species ({3 * nt} fields of {int(mask.sum())} region cells, "
        f"9.5 km band): {t_gi:.2f} s [target <= 15 s]; BH bins on top: {t_bh:.2f} s"
    )
    return t_gi


def bench_esda(year, mask, nt, args, t_gi, report):
    # 6. esda --------------------------------------------------------------------------------------
    from esda.getisord import G_Local
    from libpysal.weights import W

    cells, neigh = lattice_neighbours(mask, 9500.0, 3000.0)
    w = W({i: list(neigh[i]) for i in range(cells.size)}, silence_warnings=True)
    k = min(args.esda_fields, nt)
    fields = year["VOC"][:k].reshape(k, -1)[:, cells].astype(np.float64)
    G_Local(fields[0], w, transform="B", star=True, permutations=0)  # warm
    t = time.perf_counter()
    zs = [G_Local(fields[i], w, transform="B", star=True, permutations=0).Zs for i in range(k)]
    t_esda = (time.perf_counter() - t) / k
    ours = gi_star(year["VOC"][:k], mask, 9500.0, 3000.0)
    dz = max(np.abs(ours[i].ravel()[cells] - zs[i]).max() for i in range(k))
    per_field_ours = t_gi / (3 * nt)
    report(
        f"esda G_Local(permutations=0), weights prebuilt: {t_esda * 1e3:.1f} ms per field "
        f"(mean of {k}); extrapolated to {3 * nt} fields: {t_esda * 3 * nt:.0f} s; ratio "
        f"esda / ours {t_esda / per_field_ours:.0f}x [target >= 200x]; max |dz| {dz:.1e}"
    )


def bench_species(F, year, mask, grid, nt, report):
    # 7. any number of species ---------------------------------------------------------------
    from gridcarbon.zoning.hotspots import toroidal_null

    fields = [year[s] for s in SPECIES] + [year["NOx"] * np.float32(0.5)]
    prep = _prepare(F)
    sparse_time_matmul_many(F, [f[:4] for f in fields], prep)  # warm the kernels
    sparse_time_matmul(F, fields[0][:4], prep)
    for n in (1, 2, 3, 4):
        _, t = timed(sparse_time_matmul_many, F, fields[:n], prep, repeat=2)
        report(f"area tallies of {n} field(s), {nt} h, {F.shape[0]} units: {t:.3f} s")
    rng = np.random.default_rng(7)
    h = min(nt, 744)
    hot = [(rng.random((h,) + grid.shape) < p) & mask for p in (0.06, 0.08, 0.10, 0.07)]
    toroidal_null(hot[:2], 2, 3.0, seed=1)  # warm the kernels
    toroidal_null(hot[:4], 2, 3.0, seed=1)
    for n in (2, 3, 4):
        _, t = timed(toroidal_null, hot[:n], 199, 6.3, 20234, repeat=2)
        report(f"toroidal null of {n} hot maps, {h} h, 199 shifts: {t:.2f} s")


if __name__ == "__main__":
    main()
