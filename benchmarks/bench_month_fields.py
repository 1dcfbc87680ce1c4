"""What a month's fields cost the process that runs the zoning stage with day tasks.

With ``--task-days N`` the zoning stage on Dask workers no longer re-reads a month from the
store to sum its month fields: each day task hands on its day fields (float64, one ``.npz`` per
species), and the stage's process sums them in day order
(:func:`~gridcarbon.zoning.hotspots.add_day_fields`) and scores the month field (the hotspot
statistic and its BH bins).  This times those steps on a grid of the mainland's size (1,353 ×
1,606 cells at 3 km; about 48 % of them in the region, an ellipse here) with synthetic day
fields (log-normal, float64):

* ``write``: a day task writing its day field (one species, one day) — worker side;
* ``take``: the stage's process reading it back and removing the file;
* ``sum``: adding it to the month's running field;
* ``score``: the month field's z-scores (``zoning.hotspot_statistic``, default Gi*) and BH bins
  (the kernels compiled or loaded from numba's cache before the clock runs).

Prints the seconds of each step for the month (``--days`` days, ``--species`` species), wall
and CPU.  Usage::

    python benchmarks/bench_month_fields.py --days 31 --species 3 --work /tmp/bench-month-fields
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np


def _region(ny: int, nx: int) -> np.ndarray:
    """An ellipse covering about 48 % of the grid (the mainland's share of its box)."""
    y, x = np.mgrid[0:ny, 0:nx]
    r = ((y - ny / 2) / (0.39 * ny)) ** 2 + ((x - nx / 2) / (0.39 * nx)) ** 2
    return r <= 1.0


def main() -> None:
    from gridcarbon.config.zoning import ZoningConfig
    from gridcarbon.io.zone_parts import take_arrays, write_arrays
    from gridcarbon.zoning.gistar import fdr_bins
    from gridcarbon.zoning.hotspots import add_day_fields, statistic_z

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ny", type=int, default=1353)
    parser.add_argument("--nx", type=int, default=1606)
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--species", type=int, default=3)
    parser.add_argument("--cell", type=float, default=3000.0, help="cell size, m")
    parser.add_argument("--work", type=Path, default=Path("bench-month-fields"))
    args = parser.parse_args()
    zoning = ZoningConfig()
    mask = _region(args.ny, args.nx)
    rng = np.random.default_rng(0)
    args.work.mkdir(parents=True, exist_ok=True)
    wall = dict.fromkeys(("write", "take", "sum", "score"), 0.0)
    cpu = dict.fromkeys(wall, 0.0)

    def timed(step, fn, *a):
        w, c = time.perf_counter(), time.process_time()
        out = fn(*a)
        wall[step] += time.perf_counter() - w
        cpu[step] += time.process_time() - c
        return out

    # the kernels compiled (or loaded from numba's cache) before the clock runs
    small = _region(8, 8)
    fdr_bins(
        statistic_z(zoning.hotspot_statistic, np.ones((1, 8, 8)), small, 2500.0, 1000.0), small
    )
    hot = 0
    for s in range(args.species):
        month = None
        for d in range(args.days):
            day = rng.lognormal(0.0, 1.0, size=(1, args.ny, args.nx))
            path = timed("write", write_arrays, args.work / f"{s}-{d}.npz", {"day_fields": day})
            del day
            fields = timed("take", take_arrays, path)["day_fields"]
            month = timed("sum", add_day_fields, month, fields)
            del fields
        z = timed(
            "score",
            statistic_z,
            zoning.hotspot_statistic,
            month.reshape(1, args.ny, args.nx),
            mask,
            zoning.gi_radius_m,
            args.cell,
        )
        bins = timed("score", fdr_bins, z, mask, zoning.fdr_levels)
        hot += int((bins >= 1).sum())
    shutil.rmtree(args.work, ignore_errors=True)
    cells = args.ny * args.nx
    print(
        f"grid {args.ny} x {args.nx} = {cells:,} cells ({int(mask.sum()):,} in the region), "
        f"{args.days} days, {args.species} species; {hot:,} hot cells (a check)"
    )
    for step in wall:
        print(f"{step:6s}: {wall[step]:7.2f} s wall, {cpu[step]:7.2f} s CPU")
    side = wall["take"] + wall["sum"] + wall["score"]
    print(f"the stage's process, per month: {side:.2f} s wall (take + sum + score)")


if __name__ == "__main__":
    main()
