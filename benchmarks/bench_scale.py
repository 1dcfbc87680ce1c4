"""Long periods, streamed: a prior-only year end to end, and the year store's chunking and codec.

Run:  python benchmarks/bench_scale.py [--part year|store|all] [--months 3] [--out DIR]

1. ``--part year``: ``gridcarbon run --year 2023 --no-inversion`` (prior month by month into the
   Zarr store, zone tallies and daily/monthly hotspots from the store, GeoTIFF, NetCDF copy,
   map) in a child process: wall time and the child's peak RSS (``getrusage``), the store's
   size against the raw size of its arrays.
2. ``--part store``: the first ``--months`` months of the default prior written into stores of
   each chunking (24 h × the whole grid, 24 h × 64 × 64 tiles) and codec (Blosc-LZ4, Blosc-Zstd):
   write time, size against raw, and the zone tallies read month by month from the store, cold
   (the store's pages dropped from the page cache with ``posix_fadvise``) and warm.

3. ``--part read --store DIR/prior.zarr``: where the time of reading a year's store goes: the
   area grids decoded month by month through zarr-python, the same chunk files decoded directly
   with their Blosc codec (file reads timed apart), and the months loaded through xarray (what
   ``month_blocks`` does).

4. ``--part tally [--store DIR/prior.zarr]``: the zone tallies of a year read from the store,
   each chunk decoded and tallied at once (``zone_tally_store``), against the path before it
   (``month_blocks`` + ``zone_tally``) and the tallies of the year in memory.  The year's store
   is written from the default prior into the scratch folder once per codec (``--codecs``,
   default ``lz4,lz4-noshuffle``; ``--store`` adds a store of your own); for each: size against
   raw, the tally cold (every file's pages dropped from the page cache with
   ``posix_fadvise(POSIX_FADV_DONTNEED)``: ``/proc/sys/vm/drop_caches`` would empty the cache
   of everyone on the machine) and warm (3 runs: best and median), at 1 and 2 threads, and the
   diagnostic split: chunk files read and decoded only, and the tally kernel alone on a decoded
   chunk, wall and CPU seconds (CPU seconds do not grow with other people's load).

It takes minutes (a year: many); the machine should be quiet.  The figures go to docs/scale.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import xarray as xr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gridcarbon.config import RunConfig  # noqa: E402
from gridcarbon.grids.prior import period_hours  # noqa: E402
from gridcarbon.io.coverage_cache import CoverageCacheDir  # noqa: E402
from gridcarbon.io.year_store import consolidate_store, create_store, write_month  # noqa: E402
from gridcarbon.pipeline import (  # noqa: E402
    default_scenario,
    iter_prior,
    month_blocks,
    plan_run,
)
from gridcarbon.zoning.overlay import overlay_units  # noqa: E402
from gridcarbon.zoning.tally import zone_tally  # noqa: E402


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def raw_bytes(path: Path) -> int:
    with xr.open_zarr(path, consolidated=True) as ds:
        return int(sum(ds[v].nbytes for v in ds.variables))


def drop_cache(path: Path) -> None:
    """Drop the store's pages from the page cache (a cold read without root's drop_caches)."""
    for f in path.rglob("*"):
        if f.is_file():
            fd = os.open(f, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def bench_year(out: Path) -> None:
    target = out / "year-2023"
    shutil.rmtree(target, ignore_errors=True)
    cmd = [sys.executable, "-m", "gridcarbon.cli", "run", "--year", "2023", "--no-inversion"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t = time.perf_counter()
    proc = subprocess.run([*cmd, "-o", str(target)], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"the year run failed:\n{proc.stderr[-3000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6  # kB → GB
    store = target / "prior.zarr"
    size, raw = folder_bytes(store), raw_bytes(store)
    print("\n## Prior-only year (gridcarbon run --year 2023 --no-inversion)\n")
    print(f"wall {wall:.0f} s; peak RSS {peak:.2f} GB (target <= 2.5 GB)")
    print(f"store {size / 1e9:.2f} GB for {raw / 1e9:.2f} GB raw ({100 * size / raw:.0f} %)")
    print(proc.stdout.strip())
    shutil.rmtree(target, ignore_errors=True)


def bench_store(months: int, out: Path) -> None:
    config = RunConfig()
    config.period.start = dt.date(2023, 1, 1)
    end_month = dt.date(2023, months + 1, 1) if months < 12 else dt.date(2024, 1, 1)
    config.period.end = end_month - dt.timedelta(days=1)
    plan = plan_run(config, stages=("zoning",), streamed=True)
    scenario = plan.scenario or default_scenario(config, with_units=True)
    hours = period_hours(config.period)[0]
    parts = list(iter_prior(config, scenario))
    overlay = overlay_units(parts[0], plan.zoning.units, CoverageCacheDir(config.zoning.cache_dir))
    names = list(config.species)
    print(f"\n## Store chunking and codec ({months} months, {hours.size} hours, default grid)\n")
    print(
        "| chunks (time × y × x) | codec | write s | size GB | % of raw | tally cold s | warm s |"
    )
    print("|---|---|---|---|---|---|---|")
    for tile, codec in ((None, "lz4"), (None, "zstd"), (64, "lz4"), (64, "zstd")):
        path = out / f"store-{tile}-{codec}.zarr"
        shutil.rmtree(path, ignore_errors=True)
        t = time.perf_counter()
        create_store(parts[0], hours.values, path, codec=codec, tile=tile)
        start = 0
        for part in parts:
            write_month(path, part, start)
            start += part.sizes["time"]
        consolidate_store(path)
        write_s = time.perf_counter() - t
        size, raw = folder_bytes(path), raw_bytes(path)
        reads = []
        for cold in (True, False):
            if cold:
                drop_cache(path)
            t = time.perf_counter()
            with xr.open_zarr(path, consolidated=True) as ds:
                at = 0
                for part in parts:
                    n = part.sizes["time"]
                    zone_tally(ds.isel(time=slice(at, at + n)).load(), overlay, None, names)
                    at += n
            reads.append(time.perf_counter() - t)
        shape = "24 × 157 × 163" if tile is None else f"24 × {tile} × {tile}"
        print(
            f"| {shape} | {codec} | {write_s:.1f} | {size / 1e9:.3f} | {100 * size / raw:.0f} | "
            f"{reads[0]:.1f} | {reads[1]:.1f} |"
        )
        shutil.rmtree(path, ignore_errors=True)
    t = time.perf_counter()
    for part in parts:
        zone_tally(part, overlay, None, names)
    print(f"\nzone tallies of the same months from memory: {time.perf_counter() - t:.1f} s")


def bench_read(store: Path) -> None:
    import json

    import numcodecs
    import numpy as np
    import zarr

    group = zarr.open_group(store, mode="r")
    names = [n for n in ("CO2", "NOx", "VOC") if n in group]
    nt = group[names[0]].shape[0]
    print(f"\n## Reading {store} ({nt} hours, area grids of {', '.join(names)})\n")
    t = time.perf_counter()
    for name in names:
        for t0 in range(0, nt, 744):
            group[name][t0 : t0 + 744]
    print(f"zarr-python, month slices: {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    reading = 0.0
    for name in names:
        meta = json.loads((store / name / ".zarray").read_text())
        codec = numcodecs.get_codec(meta["compressor"])
        out = np.empty(meta["chunks"], np.dtype(meta["dtype"]))
        for k in range(-(-nt // meta["chunks"][0])):
            t1 = time.perf_counter()
            raw = (
                store / name / ".".join([str(k)] + ["0"] * (len(meta["chunks"]) - 1))
            ).read_bytes()
            reading += time.perf_counter() - t1
            codec.decode(raw, out=out)
    total = time.perf_counter() - t
    print(f"Blosc decode of the chunk files: {total:.1f} s (of which file reads {reading:.1f} s)")
    t = time.perf_counter()
    with xr.open_zarr(store, consolidated=True, chunks=None) as ds:
        for t0 in range(0, nt, 744):
            ds.isel(time=slice(t0, t0 + 744)).load()
    print(f"xarray, month blocks loaded (all variables): {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    with xr.open_zarr(store, consolidated=True, chunks=None) as ds:
        for _ in month_blocks(ds):
            pass
    print(f"month_blocks (chunks decoded straight into the block): {time.perf_counter() - t:.1f} s")
    # the zone tallies of the year read from the store, warm: both read paths, then from memory
    config = RunConfig()
    config.period.start, config.period.end = dt.date(2023, 1, 1), dt.date(2023, 12, 31)
    plan = plan_run(config, stages=("zoning",), streamed=True)
    names = list(config.species)
    with xr.open_zarr(store, consolidated=True, chunks=None) as ds:
        overlay = overlay_units(ds, plan.zoning.units, CoverageCacheDir(config.zoning.cache_dir))
        zone_tally(ds.isel(time=slice(0, 24)).load(), overlay, None, names)  # compile, warm
        t = time.perf_counter()
        for t0 in range(0, nt, 744):
            zone_tally(ds.isel(time=slice(t0, t0 + 744)).load(), overlay, None, names)
        print(f"zone tallies of the year, xarray month loads: {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        again = 0.0
        for block in month_blocks(ds):
            zone_tally(block, overlay, None, names)
            t1 = time.perf_counter()
            zone_tally(block, overlay, None, names)  # the same month again, from memory
            again += time.perf_counter() - t1
        total = time.perf_counter() - t - again
        print(f"zone tallies of the year, month_blocks: {total:.1f} s")
    print(f"zone tallies of the year from memory (the same months again): {again:.1f} s")


def _clock(f) -> tuple[float, float]:
    """Wall and CPU seconds (all threads of this process) of ``f()``."""
    w, c = time.perf_counter(), time.process_time()
    f()
    return time.perf_counter() - w, time.process_time() - c


def _runs(f, n: int = 3) -> str:
    import statistics

    runs = [_clock(f) for _ in range(n)]
    walls = [r[0] for r in runs]
    return (
        f"best {min(walls):.2f} s, median {statistics.median(walls):.2f} s "
        f"(CPU {min(r[1] for r in runs):.2f} s)"
    )


def _year_store(out: Path, codec: str) -> Path:
    """The default prior of 2023 written into ``out/year-<codec>.zarr`` (about 30 s)."""
    from gridcarbon.pipeline import prior_attrs

    config = RunConfig()
    config.period.start, config.period.end = dt.date(2023, 1, 1), dt.date(2023, 12, 31)
    scenario = default_scenario(config)
    path = out / f"year-{codec}.zarr"
    shutil.rmtree(path, ignore_errors=True)
    hours = period_hours(config.period)[0]
    at = 0
    for part in iter_prior(config, scenario):
        if at == 0:
            create_store(part, hours.values, path, attrs=prior_attrs(config, scenario), codec=codec)
        write_month(path, part, at)
        at += part.sizes["time"]
    consolidate_store(path)
    return path


def _tally_store(
    label: str, store: Path, threads: list[int], config, plan, names: list[str], first: bool
) -> None:
    """The figures of ``bench_tally`` for one store (and, for the first, the paths before)."""
    import numpy as np

    from gridcarbon.io.year_store import time_chunks
    from gridcarbon.kernels.tally import tally_rows
    from gridcarbon.zoning.store_tally import tally_plan, zone_tally_store
    from gridcarbon.zoning.tally import add_points, sparse_time_matmul_many

    ds = xr.open_zarr(store, consolidated=True, chunks=None)
    overlay = overlay_units(ds, plan.zoning.units, CoverageCacheDir(config.zoning.cache_dir))
    size, raw = folder_bytes(store), raw_bytes(store)
    print(f"### {label}: {store}\n")
    print(f"store {size / 1e9:.3f} GB for {raw / 1e9:.3f} GB raw ({100 * size / raw:.1f} %)")
    zone_tally_store(store, ds, overlay, None, names, slice(0, 48))  # compile, warm
    for n in threads:
        drop_cache(store)
        wall, cpu = _clock(lambda n=n: zone_tally_store(store, ds, overlay, None, names, threads=n))
        print(f"fused tally, {n} thread(s), cold: {wall:.2f} s (CPU {cpu:.2f} s)")
        print(
            f"fused tally, {n} thread(s), warm: "
            + _runs(lambda n=n: zone_tally_store(store, ds, overlay, None, names, threads=n))
        )
    # the diagnostic split, one thread: chunk files read + decoded, the kernel alone
    chunks = [time_chunks(store, ds, s) for s in names]
    ks = chunks[0].chunks(0, ds.sizes["time"])
    bufs = [c.buffer() for c in chunks]
    scratch = bytearray()

    def decode_only() -> None:
        for k in ks:
            for c, b in zip(chunks, bufs, strict=True):
                c.read(k, b, scratch)

    args = tally_plan(overlay.F, overlay.outside_weight())
    step = chunks[0].step
    area = np.empty((step, overlay.F.shape[0]))
    o, g = np.empty(step), np.empty(step)

    def kernel_only() -> None:
        for _ in ks:
            for b in bufs:
                tally_rows(*args, b.reshape(step, -1), area, o, g)

    print("chunk files read and decoded only, 1 thread, warm: " + _runs(decode_only))
    print("tally kernel alone on decoded chunks, 1 thread: " + _runs(kernel_only))
    if first:  # the path before: month blocks read, then zone_tally of each

        def before() -> None:
            for block in month_blocks(ds):
                zone_tally(block, overlay, None, names)

        wall, cpu = _clock(before)
        print(f"month_blocks + zone_tally (the path before), warm: {wall:.2f} s (CPU {cpu:.2f} s)")
        memory = ds[names + [f"{s}_point" for s in names]].load()
        arrays = [memory[s].values for s in names]
        pts = [memory[f"{s}_point"].values for s in names]

        def in_memory() -> None:  # bench_zoning's measure: F and points, year in memory
            area = sparse_time_matmul_many(overlay.F, arrays)
            for a, p in zip(area, pts, strict=True):
                add_points(overlay.point_unit, p, a)

        in_memory()
        print("tally of the year in memory (F + points, as bench_zoning): " + _runs(in_memory))
        print(
            "zone_tally of the year in memory (the whole Dataset): "
            + _runs(lambda: zone_tally(memory, overlay, None, names), 2)
        )
    ds.close()


def bench_tally(stores: list[tuple[str, Path]], threads: list[int]) -> None:
    config = RunConfig()
    config.period.start, config.period.end = dt.date(2023, 1, 1), dt.date(2023, 12, 31)
    plan = plan_run(config, stages=("zoning",), streamed=True)
    names = list(config.species)
    print(f"\n## Zone tallies of a year from the store (load {os.getloadavg()})\n")
    for i, (label, store) in enumerate(stores):
        _tally_store(label, store, threads, config, plan, names, first=i == 0)
    print(f"\nload at the end {os.getloadavg()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=["year", "store", "read", "tally", "all"], default="all")
    ap.add_argument(
        "--store", type=Path, default=None, help="a year's prior.zarr (--part read, tally)"
    )
    ap.add_argument("--codecs", default="lz4,lz4-noshuffle", help="--part tally: store codecs")
    ap.add_argument("--threads", default="1,2", help="--part tally: threads of the fused tally")
    ap.add_argument("--months", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None, help="scratch folder (default: a temp one)")
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="gridcarbon-scale-"))
    out.mkdir(parents=True, exist_ok=True)
    print(f"python {sys.version.split()[0]}; {os.cpu_count()} cores")
    if args.part in ("store", "all"):
        bench_store(args.months, out)
    if args.part in ("year", "all"):
        bench_year(out)
    if args.part == "read":
        if args.store is None:
            sys.exit("--part read needs --store DIR/prior.zarr (e.g. of `run --year 2023`)")
        bench_read(args.store)
    if args.part == "tally":
        stores = [] if args.store is None else [("given store", args.store)]
        for codec in args.codecs.split(","):
            if codec:
                t = time.perf_counter()
                path = _year_store(out, codec)
                print(f"year store written with {codec} in {time.perf_counter() - t:.1f} s")
                stores.append((f"codec {codec}, 24-hour chunks", path))
        bench_tally(stores, [int(n) for n in args.threads.split(",")])
    if args.out is None:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
