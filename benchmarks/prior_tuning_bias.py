"""Is the per-run estimate of B's size (``errors.prior_error_tuning``) unbiased, and how much
does one run's estimate spread? — SYNTHETIC.

Draws identical-twin replicates on the small 4-day test case (truth from the inversion's own B,
noise from its own R, so every factor should be 1 in expectation), inverts each once with the
tuning on (one pass, bounds opened so nothing is clipped) and prints each replicate's factor per
species, then their mean, median and range.  Nothing is tuned on: the twin's truth is only
there to know that the right answer is 1.

Usage:
    python benchmarks/prior_tuning_bias.py [--replicates 15] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    from gridcarbon.config.inversion import InversionConfig
    from gridcarbon.inversion.assimilation import assimilate
    from gridcarbon.inversion.observation_types import StationHourObservations
    from gridcarbon.inversion.osse import make_truth, synthetic_observations
    from gridcarbon.inversion.system import ObservationSystem
    from tests.inversion.cases import small_case

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=15)
    ap.add_argument("--seed", type=int, default=1, help="seed of the first replicate")
    args = ap.parse_args(argv)

    case = small_case(days=4, seed=7)
    truth_system = ObservationSystem(case.prior, case.scenario, InversionConfig())
    tuned = ObservationSystem(
        case.prior,
        case.scenario,
        InversionConfig(
            errors={
                "prior_error_tuning": "desroziers",
                "innovation_iterations": 1,
                "innovation_min_observations": 2,
                "prior_scale_bounds": [0.001, 1000.0],
            }
        ),
    )
    species = list(tuned.layout.species)
    print(f"identical twin, 4-day case, {args.replicates} replicates; factor per species")
    print("seed  " + "  ".join(f"{s:>6}" for s in species))
    factors = []
    for seed in range(args.seed, args.seed + args.replicates):
        rng = np.random.default_rng(seed)
        cfg = truth_system.config
        truth = make_truth(truth_system, rng, "identical", cfg)
        kind = StationHourObservations(synthetic_observations(truth_system, truth, rng, cfg))
        res = assimilate(tuned, kind, build_posterior=False)
        b = res.metrics["innovation_tuning"]["b_scale"]
        factors.append([b[s] for s in species])
        print(f"{seed:<5} " + "  ".join(f"{v:6.2f}" for v in factors[-1]))
    f = np.array(factors)
    for name, row in (
        ("mean", f.mean(axis=0)),
        ("median", np.median(f, axis=0)),
        ("min", f.min(axis=0)),
        ("max", f.max(axis=0)),
    ):
        print(f"{name:<6}" + "  ".join(f"{v:6.2f}" for v in row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
