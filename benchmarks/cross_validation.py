"""Leave-10 %-of-stations-out cross-validation of one perturbed-transport OSSE replicate of the
default month — everything SYNTHETIC.

For the replicate of ``--seed`` (the same truth and observations as ``bench_osse.py``'s
replicate of that seed) it withholds about ``--fraction`` of the stations at a time, inverts the
rest, and prints per species and station class the RMS and mean of the withheld innovations
before and after, their ratio, and χ² against the predicted variances
(:mod:`gridcarbon.inversion.cross_validation`).  Beside it, the truth-based scores of the full
inversion (RMSE reduction of the area cells within 30 km of a station and beyond), so that a
reader can see whether what the withheld stations say agrees with what the truth says.

Usage::

    python benchmarks/cross_validation.py [--seed 40000] [--month 1] [--fraction 0.1]
        [--set errors.x=value ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=40000)
    ap.add_argument("--month", type=int, default=1)
    ap.add_argument("--fraction", type=float, default=0.1)
    ap.add_argument("--set", action="append", default=[], metavar="GROUP.NAME=VALUE")
    args = ap.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_osse import perturbed_replicate

    from gridcarbon.inversion.assimilation import assimilate
    from gridcarbon.inversion.cross_validation import cross_validate
    from gridcarbon.inversion.observation_types import StationHourObservations
    from gridcarbon.inversion.osse import score_replicate, station_distance_km

    config, _, system, truth, obs, seconds = perturbed_replicate(args.month, args.set, args.seed)
    cfg = config.inversion
    print(f"settings {args.set}; system {seconds:.0f} s", flush=True)
    kind = StationHourObservations(obs)

    t1 = time.perf_counter()
    res = assimilate(system, kind, build_posterior=False)
    full_seconds = time.perf_counter() - t1
    near = station_distance_km(system) <= cfg.osse.station_radius_km
    truth_scores = score_replicate(system, truth, res, cfg, near)
    t1 = time.perf_counter()
    cv = cross_validate(system, kind, fraction=args.fraction, seed=args.seed)
    cv_seconds = time.perf_counter() - t1
    print(
        f"full inversion {full_seconds:.0f} s; {len(cv.folds)} folds {cv_seconds:.0f} s; "
        f"stations per fold {cv.folds['n_stations'].min()}-{cv.folds['n_stations'].max()}",
        flush=True,
    )
    with pd.option_context("display.width", 200, "display.float_format", "{:.3f}".format):
        print("withheld stations (observed quantity's unit):")
        print(cv.summary.to_string(index=False))
    print("the truth's view of the full inversion (RMSE reduction of area cells):")
    for s in truth_scores:
        print(
            f"  {s['species']}: within {cfg.osse.station_radius_km:.0f} km "
            f"{s['rmse_reduction_near']:+.3f}, beyond {-s['rmse_change_far']:+.3f}"
        )


if __name__ == "__main__":
    main()
