"""Which drawn error of the truth a satellite OSSE's scores go with, seed by seed — SYNTHETIC.

Reads the replicate rows (``osse_replicates.jsonl``) of one ``bench_osse.py --satellite`` run
and prints, per seed, the far-field scores of one inversion against surface only — the gain
``1 − RMSE(obs)/RMSE(surface)`` of the area-source cells beyond 30 km of the species' stations
(the target's score) and of their 81 km blocks, and the far field's total relative error of
the column-only and of that inversion — beside the errors the replicate drew for its truth:
the stations' wind-direction error (°), its time scale (h), the wind-speed error, the
mixing-height bias, and the simulated satellite files' NOx lifetime factor.  Then the Pearson
and Spearman correlation of every score with every drawn error over the seeds.

The drawn errors are read from the rows; nothing is re-run.  With a dozen seeds a
correlation is a lead, not a finding: it says which diagnostic to run next.

Usage::

    python benchmarks/osse_seed_drivers.py CACHE [--observations joint_no2] [--species NOx]
        [--month 1] [--mode randomised] [--city 330100 ...] [--city-species CO2]

``CACHE``: a ``bench_osse.py`` ``--out`` folder or its ``osse_replicates.jsonl``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from osse_paired import load_rows
from scipy import stats

#: The errors each replicate drew for its truth, as the rows name them, and a short label.
DRAWN = {
    "truth_wind_direction_error_deg": "wind dir. (deg)",
    "truth_error_time_scale_h": "time scale (h)",
    "truth_wind_speed_error": "wind speed",
    "truth_mixing_height_bias": "zi bias",
    "satellite_lifetime_factor": "lifetime factor",
}


def default_rows(
    path: Path, observations: str, month: int, mode: str
) -> dict[int, dict[str, dict[str, dict]]]:
    """``{seed: {observations: {species: row}}}`` of the default-label rows for surface only,
    column only and ``observations`` (:func:`osse_paired.load_rows` of each)."""
    per_kind = {
        kind: load_rows(path, month, mode, observations=kind)
        for kind in ("surface", "column", observations)
    }
    seeds = set.intersection(*(set(rows) for rows in per_kind.values()))
    if not seeds:
        raise SystemExit(f"{path}: no replicate rows of month {month}, mode {mode}")
    return {s: {kind: rows[s] for kind, rows in per_kind.items()} for s in seeds}


def gain(obs: dict, surface: dict, key: str) -> float:
    """``1 − RMSE(obs)/RMSE(surface)`` from the two rows' reductions against the prior."""
    return 1.0 - (1.0 - obs[key]) / (1.0 - surface[key])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cache", type=Path)
    ap.add_argument("--observations", default="joint_no2", help="the inversion scored")
    ap.add_argument("--species", default="NOx")
    ap.add_argument("--month", type=int, default=1)
    ap.add_argument("--mode", default="randomised")
    ap.add_argument(
        "--city",
        action="append",
        default=[],
        help="also a city's total relative error (its code, e.g. 330100), surface only and the "
        "inversion scored, of --city-species; repeatable",
    )
    ap.add_argument("--city-species", default="CO2")
    args = ap.parse_args()
    by_species = default_rows(args.cache, args.observations, args.month, args.mode)
    rows = {
        seed: {kind: r[args.species] for kind, r in kinds.items()}
        for seed, kinds in by_species.items()
    }
    obs = args.observations
    scores = {  # each a function of the seed
        "gain, cells": lambda s: gain(rows[s][obs], rows[s]["surface"], "own_rmse_reduction_far"),
        "gain, 81 km": lambda s: gain(
            rows[s][obs], rows[s]["surface"], "own_far_block_rmse_reduction_81km"
        ),
        "total, column": lambda s: rows[s]["column"]["own_far_total_rel_error"],
        f"total, {obs}": lambda s: rows[s][obs]["own_far_total_rel_error"],
    }
    for code in args.city:
        for kind in ("surface", obs):
            scores[f"{code} {kind}"] = lambda s, code=code, kind=kind: by_species[s][kind][
                args.city_species
            ][f"city_{code}_post_err"]
    seeds = sorted(rows)
    table = {name: np.array([f(s) for s in seeds]) for name, f in scores.items()}
    drawn = {
        label: np.array([rows[s][args.observations].get(k, np.nan) for s in seeds], float)
        for k, label in DRAWN.items()
    }
    print(
        f"{args.cache}: {len(seeds)} seeds, {args.species}, far field of {args.observations} "
        "(gain over surface only; the far total's relative error)"
    )
    names = [*scores, *drawn]
    print("seed   " + "".join(f"{n:>17}" for n in names))
    for i, s in enumerate(seeds):
        values = [table[n][i] for n in scores] + [drawn[n][i] for n in drawn]
        print(f"{s}  " + "".join(f"{v:>+17.3f}" for v in values))
    if len(seeds) < 3:
        print("fewer than 3 seeds: no correlation")
        return
    print("correlation over the seeds, Pearson / Spearman:")
    for k in drawn:
        cells = []
        for n in scores:
            pearson = stats.pearsonr(table[n], drawn[k]).statistic
            spearman = stats.spearmanr(table[n], drawn[k]).statistic
            cells.append(f"{n} {pearson:+.2f} / {spearman:+.2f}")
        print(f"  {k}: " + "; ".join(cells))


if __name__ == "__main__":
    main()
