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
    from gridcarbon.contracts import Document
    from gridcarbon.inversion.osse import run_osse
    from gridcarbon.inversion.outputs import osse_documents
    from gridcarbon.inversion.system import ObservationSystem
    from gridcarbon.io.outputs import write_documents
    from gridcarbon.pipeline import build_prior, inversion_inputs

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = RunConfig()
    ic = config.inversion
    t0 = time.perf_counter()
    prior = build_prior(config)
    scenario, _ = inversion_inputs(config, prior, with_observations=False)
    system = ObservationSystem(prior, scenario, ic)
    print(f"setup {time.perf_counter() - t0:.1f} s; {system.info()}", flush=True)
    for mode in args.modes:
        t = time.perf_counter()
        res = run_osse(
            prior,
            scenario,
            ic,
            mode=mode,
            replicates=args.replicates,
            seed=args.seed,
            system=system,
            cross_species_zero=(mode == "perturbed"),
            progress=True,
        )
        docs = osse_documents(res)
        table_name, summary_name = docs
        summary = {
            **docs[summary_name].content,
            "wall_s": time.perf_counter() - t,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
        }
        docs[summary_name] = Document("json", summary)
        write_documents(docs, out, overwrite=True)
        print(json.dumps(summary, indent=2, default=_default), flush=True)


def _default(o):
    if isinstance(o, np.integer | np.floating | np.bool_):
        return o.item()
    return str(o)


if __name__ == "__main__":
    main()
