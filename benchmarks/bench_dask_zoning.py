"""The zoning stage of a streamed run on Dask workers against the single-process path.

Writes the default prior of ``--months`` months (January first) into a Zarr store once (the
streamed run's ``prior.zarr``), then runs the zoning stage on it (tallies, daily and monthly
hotspots, co-location with its toroidal null, the unit table and every zone file) twice, each
in a fresh Python process:

* ``single``: one process, the store read month by month (the path without a client);
* ``dask``: a ``LocalCluster`` of ``--workers`` single-threaded worker processes, the months
  as tasks (:mod:`gridcarbon.zoning.distributed`); with ``--task-days N``, each month as tasks
  of N days (its month fields summed from their day fields in the stage's process).

``--region`` runs another region than the default (e.g. ``yrd``; its store goes under
``--work``/``prior-<region>``).

Prints the wall time of the stage (and of the cluster's start), the peak RSS of the process
that runs the stage and, for Dask, of each worker process and their sum; then checks that
the two runs' zone files are equal.  Usage::

    python benchmarks/bench_dask_zoning.py --months 1 --workers 2 --work /tmp/bench-dask-zoning
    python benchmarks/bench_dask_zoning.py --region yrd --task-days 1 --work /tmp/bench-dask-zoning
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path


def _config(months: int, region: str | None = None):
    from gridcarbon.config import RunConfig

    end = {1: "2023-01-31", 2: "2023-02-28", 3: "2023-03-31"}[months]
    return RunConfig.validate_dict(
        {
            **({} if region is None else {"region": region}),
            "period": {"start": "2023-01-01", "end": end},
            "inversion": {"enabled": False},
            "maps": {"enabled": False},
            "zoning": {"hourly_hotspots": False},
            "output": {"formats": ["geotiff"]},
        }
    )


def _prior_dir(work: Path, region: str | None) -> Path:
    return work / ("prior" if region is None else f"prior-{region}")


def _prior(months: int, work: Path, region: str | None) -> Path:
    from gridcarbon.pipeline import run_streamed

    out = _prior_dir(work, region)
    if not (out / "prior.zarr").exists():
        t = time.perf_counter()
        run_streamed(_config(months, region), out, stages=(), resume=True)
        print(f"prior store written in {time.perf_counter() - t:.1f} s")
    return out / "prior.zarr"


def _peak_rss() -> int:
    """Peak resident memory of this process, bytes (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _stage(
    mode: str,
    months: int,
    store: Path,
    out: Path,
    workers: int,
    region: str | None,
    task_days: int | None,
) -> dict:
    """Run the zoning stage once (in this process), return its figures."""
    import shutil

    from gridcarbon.io import open_grids
    from gridcarbon.pipeline import dask_client, month_blocks, plan_run, zone_report

    config = _config(months, region)
    grids = open_grids(store)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    figures: dict = {"mode": mode}
    if mode == "single":
        plan = plan_run(config, stages=("zoning",), streamed=True)
        t = time.perf_counter()
        zone_report(config, grids, plan.zoning, out, blocks=month_blocks(open_grids(store, False)))
        figures["stage_s"] = time.perf_counter() - t
    else:
        from gridcarbon.zoning.distributed import warm_workers, zoning_stream

        t0 = time.perf_counter()
        with dask_client(workers=workers) as client:
            figures["cluster_start_s"] = time.perf_counter() - t0
            # as a streamed run does: the workers load the stage while this process works
            warming = warm_workers(client)
            plan = plan_run(config, stages=("zoning",), streamed=True)
            stream = zoning_stream(client, store, config.zoning, out / ".parts", task_days)
            t = time.perf_counter()
            [w.result() for w in warming]
            zone_report(config, grids, plan.zoning, out, stream=stream)
            figures["stage_s"] = time.perf_counter() - t
            shutil.rmtree(out / ".parts", ignore_errors=True)
            peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
            figures["worker_peak_rss"] = sorted(peaks.values())
    figures["driver_peak_rss"] = _peak_rss()
    return figures


def _same(a: Path, b: Path) -> bool:
    import pandas as pd
    import xarray as xr

    for name in sorted(p.name for p in a.glob("*.nc")):
        with xr.open_dataset(a / name) as x, xr.open_dataset(b / name) as y:
            xr.testing.assert_identical(x.load().drop_attrs(), y.load().drop_attrs())
    for name in sorted(p.name for p in a.glob("*.csv")):
        pd.testing.assert_frame_equal(
            pd.read_csv(a / name), pd.read_csv(b / name), check_exact=True
        )
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=1, choices=(1, 2, 3))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("bench-dask-zoning"))
    parser.add_argument("--region", help="a region other than the default, e.g. yrd")
    parser.add_argument("--task-days", type=int, help="the Dask run's tasks of N days")
    parser.add_argument("--stage", choices=("single", "dask"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    store = _prior_dir(args.work, args.region) / "prior.zarr"
    if args.stage is not None:  # the child process: one run of the stage
        figures = _stage(
            args.stage,
            args.months,
            store,
            args.work / args.stage,
            args.workers,
            args.region,
            args.task_days,
        )
        print(json.dumps(figures))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    _prior(args.months, args.work, args.region)
    gib = 1024**3
    for mode in ("single", "dask"):
        cmd = [sys.executable, __file__, "--stage", mode, "--months", str(args.months)]
        cmd += ["--workers", str(args.workers), "--work", str(args.work)]
        cmd += [] if args.region is None else ["--region", args.region]
        cmd += [] if args.task_days is None else ["--task-days", str(args.task_days)]
        t = time.perf_counter()
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        wall = time.perf_counter() - t
        f = json.loads(done.stdout.strip().splitlines()[-1])
        line = (
            f"{mode:6s}: zoning stage {f['stage_s']:6.1f} s (process {wall:6.1f} s), "
            f"peak RSS of the stage's process {f['driver_peak_rss'] / gib:.2f} GiB"
        )
        if mode == "dask":
            workers = f["worker_peak_rss"]
            line += (
                f"; cluster start {f['cluster_start_s']:.1f} s; workers' peak RSS "
                f"{', '.join(f'{w / gib:.2f}' for w in workers)} GiB; sum over the processes "
                f"{(f['driver_peak_rss'] + sum(workers)) / gib:.2f} GiB"
            )
        print(line, flush=True)
    print(
        f"zone files of the two runs identical: {_same(args.work / 'single', args.work / 'dask')}"
    )


if __name__ == "__main__":
    main()
