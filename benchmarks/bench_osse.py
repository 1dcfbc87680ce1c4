"""The full OSSE on the default: one month (January 2023), the default network and grid,
CO2 + NOx + VOC, default B and R, >= 20 seeded replicates of the identical twin and of the
perturbed-transport experiment.  Prints the targets of issue 3 against the measured figures and
writes the per-replicate table and summary to ``benchmarks/results/``.  Everything is SYNTHETIC.

Usage: python benchmarks/bench_osse.py [--replicates 20] [--modes identical perturbed]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--replicates", type=int, default=20)
    ap.add_argument("--modes", nargs="+", default=["identical", "perturbed"])
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--out", default="osse-results")
    args = ap.parse_args()

    from gridcarbon.config import RunConfig
    from gridcarbon.grids.prior import build_prior
    from gridcarbon.inversion.osse import area_sector_shares_from_config, run_osse
    from gridcarbon.inversion.stage import stage_inputs
    from gridcarbon.inversion.system import ObservationSystem

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = RunConfig()
    ic = config.inversion
    t0 = time.perf_counter()
    prior = build_prior(config)
    stations, met, _ = stage_inputs(config, prior)
    system = ObservationSystem(prior, stations, met, ic)
    shares = area_sector_shares_from_config(config, system)
    print(f"setup {time.perf_counter() - t0:.1f} s; {system.info()}", flush=True)
    for mode in args.modes:
        t = time.perf_counter()
        res = run_osse(
            prior,
            stations,
            met,
            ic,
            mode=mode,
            replicates=args.replicates,
            seed=args.seed,
            area_shares=shares,
            system=system,
            cross_species_zero=(mode == "perturbed"),
            progress=True,
        )
        res.table.assign(synthetic=True).to_csv(out / f"osse_{mode}.csv", index=False)
        summary = {
            "note": "SYNTHETIC OSSE - scores against a synthetic truth",
            **res.summary,
            "timings": res.timings,
            "wall_s": time.perf_counter() - t,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
        }
        (out / f"osse_{mode}_summary.json").write_text(
            json.dumps(summary, indent=2, default=_default), encoding="utf-8"
        )
        print(json.dumps(summary, indent=2, default=_default), flush=True)


def _default(o):
    if isinstance(o, np.integer | np.floating | np.bool_):
        return o.item()
    return str(o)


if __name__ == "__main__":
    main()
