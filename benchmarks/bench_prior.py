"""Benchmark: a full year of hourly prior grids on the default Zhejiang grid.

    python benchmarks/bench_prior.py [--year 2023] [--workdir benchmarks/_work]

Two measurements, each in its own process so that peak RSS belongs to one path only:

* ``memory``: the whole year (every hour, every cell, 3 species, all sectors summed) computed
  into one in-memory float32 array of shape (3, hours, cells) — 2.7 GB — by the numba kernel,
  numba cache warm (a warm-up call compiles or loads the kernel first).  Point sources (a
  (hours, points) table) are computed too.  Timed: the kernel and the point table.  A checksum
  per Beijing month is printed afterwards (it reads every value).
* ``zarr``: the streamed path — :func:`gridcarbon.grids.prior.iter_prior_grids` yields one month
  at a time and :func:`gridcarbon.io.write_zarr_stream` appends it to a compressed Zarr store on
  disk; only one month (~0.23 GB) is in memory at once.  Timed: compute + compress + write of the
  year.

The Zhejiang inventory (proxies, facility catalogue) is built before timing in both.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def _config(year: int):
    import datetime as dt

    from gridcarbon.config import RunConfig

    return RunConfig.validate_dict(
        {"period": {"start": dt.date(year, 1, 1), "end": dt.date(year, 12, 31)}}
    )


def _inventory(cfg):
    from gridcarbon.scenario.zhejiang import zhejiang_grid
    from gridcarbon.scenario.zhejiang_inventory import zhejiang_inventory

    return zhejiang_inventory(cfg, zhejiang_grid(cfg.grid))


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def bench_memory(year: int) -> dict:
    import pandas as pd

    from gridcarbon.grids.prior import hourly_area_emissions
    from gridcarbon.grids.temporal import beijing_year_hours, hourly_weight_matrix

    cfg = _config(year)
    inv = _inventory(cfg)
    species = list(cfg.species)
    maps = np.stack([inv.area_maps(sp) for sp in species], axis=1).reshape(
        len(inv.sectors), len(species), inv.grid.size
    )
    W = hourly_weight_matrix(year, list(inv.sectors))
    hourly_area_emissions(W[:24], maps)  # warm the numba cache
    out = np.zeros((len(species), W.shape[0], inv.grid.size), np.float32)
    out.fill(0.0)  # touch the pages before timing
    p_sector = inv.points["sector"].map({s: i for i, s in enumerate(inv.sectors)}).to_numpy()
    t0 = time.perf_counter()
    hourly_area_emissions(W, maps, out)
    points = {
        sp: (W[:, p_sector] * inv.points[sp].to_numpy()[None, :]).astype(np.float32)
        for sp in species
    }
    seconds = time.perf_counter() - t0
    hours = beijing_year_hours(year) + pd.Timedelta(hours=8)
    month = hours.month.to_numpy()
    checksums = {}
    for m in range(1, 13):
        sel = month == m
        checksums[m] = {
            sp: float(out[j][sel].sum(dtype=np.float64) + points[sp][sel].sum(dtype=np.float64))
            for j, sp in enumerate(species)
        }
    cell_hours = W.shape[0] * inv.grid.size
    return {
        "mode": "memory",
        "grid": f"{inv.grid.ny} x {inv.grid.nx} = {inv.grid.size} cells",
        "hours": int(W.shape[0]),
        "species": len(species),
        "values": int(out.size),
        "array_gb": out.nbytes / 1e9,
        "seconds": seconds,
        "cell_hours_per_s": cell_hours / seconds,
        "values_per_s": out.size / seconds,
        "checksums_t": {
            m: {sp: round(v / 1e3, 3) for sp, v in c.items()} for m, c in checksums.items()
        },
        "peak_rss_gb": _peak_rss_gb(),
    }


def bench_zarr(year: int, workdir: Path) -> dict:
    from gridcarbon.grids.prior import hourly_area_emissions, iter_prior_grids
    from gridcarbon.grids.temporal import hourly_weight_matrix
    from gridcarbon.io import write_zarr_stream
    from gridcarbon.species import resolve_species

    cfg = _config(year)
    inv = _inventory(cfg)
    W = hourly_weight_matrix(year, list(inv.sectors))
    maps = np.stack([inv.area_maps(sp) for sp in cfg.species], axis=1).reshape(
        len(inv.sectors), len(cfg.species), inv.grid.size
    )
    hourly_area_emissions(W[:24], maps)  # warm the numba cache
    store = workdir / f"prior_{year}.zarr"
    shutil.rmtree(store, ignore_errors=True)
    rss_before = _peak_rss_gb()
    t0 = time.perf_counter()
    write_zarr_stream(iter_prior_grids(inv, cfg.period, resolve_species(cfg.species)), store)
    seconds = time.perf_counter() - t0
    size = sum(f.stat().st_size for f in store.rglob("*") if f.is_file())
    import xarray as xr

    ds = xr.open_zarr(store)
    n_hours = ds.sizes["time"]
    shutil.rmtree(store, ignore_errors=True)
    return {
        "mode": "zarr",
        "hours": int(n_hours),
        "seconds": seconds,
        "store_gb": size / 1e9,
        "cell_hours_per_s": n_hours * inv.grid.size / seconds,
        "peak_rss_gb_before_stream": rss_before,
        "peak_rss_gb": _peak_rss_gb(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--year", type=int, default=2023)
    ap.add_argument("--workdir", type=Path, default=Path(__file__).parent / "_work")
    ap.add_argument("--mode", choices=["memory", "zarr", "all"], default="all")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.mode == "memory":
        print(json.dumps(bench_memory(args.year)))
        return
    if args.mode == "zarr":
        print(json.dumps(bench_zarr(args.year, args.workdir)))
        return
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}, "
        f"numba threads {os.environ.get('NUMBA_NUM_THREADS', 'default')}"
    )
    for mode in ("memory", "zarr"):
        # Run twice: the first run fills the numba cache on a fresh checkout.
        for attempt in range(2):
            proc = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--mode",
                    mode,
                    "--year",
                    str(args.year),
                    "--workdir",
                    str(args.workdir),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            if attempt == 0:
                continue
            if mode == "memory":
                print(
                    f"in memory: {r['grid']}, {r['hours']} h, {r['species']} species, "
                    f"{r['values']:,} values ({r['array_gb']:.2f} GB float32) in "
                    f"{r['seconds']:.2f} s wall = {r['cell_hours_per_s']:,.0f} cell-hours/s "
                    f"({r['values_per_s']:,.0f} values/s); peak RSS {r['peak_rss_gb']:.2f} GB"
                )
                for m, c in r["checksums_t"].items():
                    print(
                        f"  checksum month {int(m):2d}: "
                        + ", ".join(f"{sp} {v:,.3f} t" for sp, v in c.items())
                    )
            else:
                print(
                    f"streamed to Zarr: {r['hours']} h in {r['seconds']:.2f} s wall "
                    f"({r['cell_hours_per_s']:,.0f} cell-hours/s), store {r['store_gb']:.3f} GB "
                    f"on disk; peak RSS {r['peak_rss_gb']:.2f} GB "
                    f"(of which {r['peak_rss_gb_before_stream']:.2f} GB before streaming)"
                )


if __name__ == "__main__":
    main()
