"""Two satellite OSSE caches side by side, seed by seed, as the Markdown rows of
``docs/inversion.md``'s per-seed tables — SYNTHETIC.

For each seed both caches hold (``osse_replicates.jsonl`` of two ``bench_osse.py
--satellite tropomi_no2+co2m_xco2`` runs on the same truths) prints ``before → after`` of the
joint's own RMSE reduction against the prior: NOx of ``joint_no2`` on the far field's cells,
its 81 km blocks, its total's relative error and the 0–5 km band; CO2 of ``joint`` on the far
cells and 81 km blocks; and the Hangzhou and Ningbo CO2 relative errors of ``joint_no2`` and
of ``joint``.  The seed's drawn lifetime factor of the simulated files is in brackets.  The
surface-only rows of the two caches must agree (the same truths), or the script stops.

Usage::

    python benchmarks/osse_seed_table.py BEFORE_CACHE AFTER_CACHE [--month 1] [--mode randomised]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from osse_paired import load_rows

#: The inversions of a satellite run the table reads.
KINDS = ("surface", "joint_no2", "joint")


def load(where: Path, month: int, mode: str) -> dict[int, dict[str, dict]]:
    """``{seed: {observations: {species: row}}}`` of one cache (:func:`osse_paired.load_rows`)."""
    per_kind = {kind: load_rows(where, month, mode, observations=kind) for kind in KINDS}
    seeds = set.intersection(*(set(rows) for rows in per_kind.values()))
    return {s: {kind: rows[s] for kind, rows in per_kind.items()} for s in seeds}


def row(rec: dict, observations: str, species: str) -> dict:
    """The default-label row of one inversion and species."""
    return rec[observations][species]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--month", type=int, default=1)
    ap.add_argument("--mode", default="randomised")
    args = ap.parse_args()
    before, after = (
        load(args.before, args.month, args.mode),
        load(args.after, args.month, args.mode),
    )

    # Caches written before a score existed lack its key: "n/a", not a traceback.
    def num(r: dict, key: str) -> str:
        return f"{r[key]:+.3f}".replace("-", "−") if key in r else "n/a"

    def pct(r: dict, key: str) -> str:
        return f"{100 * r[key]:+.1f} %".replace("-", "−") if key in r else "n/a"

    print(
        "| seed (lifetime factor) | NOx `joint_no2`, far cells | 81 km blocks | far total, rel. "
        "error | NOx `joint_no2` 0–5 km | CO2 `joint`, far cells | 81 km blocks | Hangzhou / "
        "Ningbo CO2 error, `joint_no2` | … `joint` |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for seed in sorted(set(before) & set(after)):
        a, b = before[seed], after[seed]
        for species in ("CO2", "NOx"):
            if (
                row(a, "surface", species)["own_rmse_reduction_far"]
                != (row(b, "surface", species)["own_rmse_reduction_far"])
            ):
                raise SystemExit(f"seed {seed}: the surface-only rows differ: not the same truth")
        n0, n1 = row(a, "joint_no2", "NOx"), row(b, "joint_no2", "NOx")
        c0, c1 = row(a, "joint", "CO2"), row(b, "joint", "CO2")
        k0, k1 = row(a, "joint_no2", "CO2"), row(b, "joint_no2", "CO2")

        def pair(r0: dict, r1: dict, key: str, fmt=num) -> str:
            return f"{fmt(r0, key)} → {fmt(r1, key)}"

        def cities(r0: dict, r1: dict) -> str:
            return (
                f"{pct(r0, 'city_330100_post_err')} / {pct(r0, 'city_330200_post_err')} → "
                f"{pct(r1, 'city_330100_post_err')} / {pct(r1, 'city_330200_post_err')}"
            )

        cells = [
            f"{seed} ({n0['satellite_lifetime_factor']:.2f})",
            pair(n0, n1, "own_rmse_reduction_far"),
            pair(n0, n1, "own_far_block_rmse_reduction_81km"),
            pair(n0, n1, "own_far_total_rel_error", pct),
            pair(n0, n1, "own_rmse_reduction_0-5km"),
            pair(c0, c1, "own_rmse_reduction_far"),
            pair(c0, c1, "own_far_block_rmse_reduction_81km"),
            cities(k0, k1),
            cities(c0, c1),
        ]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
