"""Compare the surface-only rows of two ``bench_osse.py`` caches on the seeds both hold: e.g. a
satellite run against a plain run of the same truths, whose station inversions must agree.
With ``--all-rows`` every row (surface, column and joint inversions) is compared: e.g. a
replicate re-run on new code against the cached one, to show that the code changed no figure.
Prints the numeric columns compared and the largest relative difference (0: identical);
timings (columns ending in ``seconds``) are not compared.

Usage::

    python benchmarks/osse_cache_compare.py A/osse_replicates.jsonl B/osse_replicates.jsonl \
        [--all-rows]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd


def _rows(path: str, surface_only: bool) -> pd.DataFrame:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by an interrupted write
                continue
            rows += [{**row, "seed": rec["seed"]} for row in rec["rows"]]
    table = pd.DataFrame(rows)
    if "observations" in table and surface_only:
        table = table[table["observations"] == "surface"].drop(columns="observations")
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument(
        "--all-rows", action="store_true", help="every inversion's rows, not the surface-only"
    )
    args = ap.parse_args()
    a, b = _rows(args.a, not args.all_rows), _rows(args.b, not args.all_rows)
    seeds = sorted(set(a["seed"]) & set(b["seed"]))
    key = ["seed", "label", "species"] + (["observations"] if "observations" in a else [])
    a = a[a["seed"].isin(seeds)].set_index(key).sort_index()
    b = b[b["seed"].isin(seeds)].set_index(key).sort_index()
    worst, compared, differing = 0.0, 0, []
    for c in [c for c in a.columns if c in b.columns and not c.endswith("seconds")]:
        x = pd.to_numeric(a[c], errors="coerce").to_numpy(float)
        y = pd.to_numeric(b[c], errors="coerce").to_numpy(float)
        if x.shape != y.shape or (np.isfinite(x) != np.isfinite(y)).any():
            differing.append(c)
            continue
        ok = np.isfinite(x)
        if ok.any():
            compared += 1
            d = float(np.max(np.abs(x[ok] - y[ok]) / np.maximum(np.abs(x[ok]), 1e-300)))
            worst = max(worst, d)
            if d > 0:
                differing.append(c)
    print(f"seeds {seeds}: {compared} numeric columns compared, max relative difference {worst:g}")
    print(f"differing columns: {differing}")


if __name__ == "__main__":
    main()
