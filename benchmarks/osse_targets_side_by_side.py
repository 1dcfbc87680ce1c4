"""Issue 14's satellite targets of several ``bench_osse.py --satellite`` runs side by side, as a
Markdown table — SYNTHETIC.

Reads the verdicts each run's summary wrote (``<out>/osse_intervals.json``: ``satellite.targets``,
``satellite.imager_targets`` and ``satellite.mixing_height_targets``, made by
``osse_scores.satellite_target_rows``, ``imager_target_rows`` and
``mixing_height_target_rows``) and prints one row per target, observation set and city or
species, one column per run: the point estimate, its 95 % interval and the verdict of the
issue's rule (the estimate in the band and the interval overlapping it).  Nothing is re-run or
re-judged; a target a run did not judge is left empty.

Usage::

    python benchmarks/osse_targets_side_by_side.py LABEL=OUT [LABEL=OUT ...]
        [--month 1] [--mode randomised] [--worst-band]

``OUT`` is a ``bench_osse.py`` ``--out`` folder (or its ``osse_intervals.json``).  With
``--worst-band`` the "joint RMSE ≤ 1.02 × surface only" rows of a species are reduced to the
band with the largest ratio (named in the cell), as the judgement tables of
``docs/inversion.md`` give them.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from gridcarbon.scenario.zhejiang import ZHEJIANG_CITIES

#: The target whose rows are one per species and distance band.
BANDED = "joint RMSE ≤ 1.02 × surface only"


def load_verdicts(path: Path, month: int, mode: str) -> tuple[int, list[dict]]:
    """The replicate count and the verdict rows of one run's summary.

    Parameters
    ----------
    path : Path
        A ``bench_osse.py`` ``--out`` folder or its ``osse_intervals.json``.
    month, mode : int, str
        The summary's month of 2023 and OSSE mode.

    Returns
    -------
    (int, list of dict)
        The replicates summarised and every satellite verdict row.
    """
    file = path / "osse_intervals.json" if path.is_dir() else path
    if not file.is_file():
        raise SystemExit(
            f"{file}: no such summary; give a bench_osse.py --out folder (run it with "
            "--summary-only to write its osse_intervals.json) or the file itself"
        )
    summary = json.loads(file.read_text(encoding="utf-8"))
    key = f"2023-{month:02d} {mode}"
    if key not in summary:
        raise SystemExit(f"{file} holds no summary of {key} (it holds: {', '.join(summary)})")
    run = summary[key]
    sat = run.get("satellite", {})
    rows = []
    for part in ("targets", "imager_targets", "mixing_height_targets"):
        rows.extend(sat.get(part, []))
    return int(run["replicates"]), rows


def worst_bands(rows: list[dict]) -> list[dict]:
    """Replace the banded "no worse" rows of each observation set and species by the one band
    with the largest estimate (its name in ``band``)."""
    kept = [r for r in rows if r["target"] != BANDED]
    worst: dict[tuple, dict] = {}
    for r in rows:
        if r["target"] != BANDED:
            continue
        species, band = r["for"].split(" ", 1)
        key = (r.get("observations"), species)
        if key not in worst or r["estimate"] > worst[key]["estimate"]:
            worst[key] = {**r, "for": f"{species}, worst of the bands", "band": band}
    return kept + list(worst.values())


def cell(row: dict | None) -> str:
    """``estimate [low, high] pass|fail``, percentages for biases and fractions as given."""
    if row is None:
        return ""
    est, low, high = row["estimate"], row.get("low"), row.get("high")
    if row["score"] == "usable_overpasses":
        text = f"{est:.0f}"
    elif "bias" in row["score"]:
        text = f"{est:+.1%} [{low:+.1%}, {high:+.1%}]"
    elif row["score"].startswith("far_rmse_gain"):
        text = f"{est:+.2f} [{low:+.2f}, {high:+.2f}]"
    else:
        text = f"{est:.2f} [{low:.2f}, {high:.2f}]"
    if "band" in row:
        text = f"{text} ({row['band']})"
    verdict = row.get("passes")
    if verdict is None or (isinstance(verdict, float) and math.isnan(verdict)):
        return text
    return f"{text} {'pass' if verdict else '**fail**'}"


def table(runs: dict[str, tuple[int, list[dict]]]) -> list[str]:
    """The Markdown lines: a header naming each run and its replicates, then one row per
    target in the order the first run that judged it lists them."""
    order: list[tuple] = []
    by_run: dict[str, dict[tuple, dict]] = {}
    for label, (_, rows) in runs.items():
        by_run[label] = {}
        for r in rows:
            if r["score"].startswith("mixing_height"):
                # the δ targets name their observation set where the others name a city
                key = (r["target"], r["for"], "δ per city and day")
            else:
                key = (r["target"], r.get("observations") or "joint", r["for"])
            by_run[label][key] = r
            if key not in order:
                order.append(key)
    head = " | ".join(f"{label} ({n} replicates)" for label, (n, _) in runs.items())
    lines = [
        f"| target | observations | for | {head} |",
        "|---|---|---|" + "---|" * len(runs),
    ]
    for key in order:
        target, obs, what = key
        what = ZHEJIANG_CITIES.get(what, what)
        cells = " | ".join(cell(by_run[label].get(key)) for label in runs)
        lines.append(f"| {target.replace('|', chr(92) + '|')} | `{obs}` | {what} | {cells} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", metavar="LABEL=OUT")
    ap.add_argument("--month", type=int, default=1)
    ap.add_argument("--mode", default="randomised")
    ap.add_argument("--worst-band", action="store_true")
    args = ap.parse_args()
    runs = {}
    for spec in args.runs:
        label, sep, path = spec.partition("=")
        if not sep or not label or not path:
            raise SystemExit(f"{spec!r}: give each run as LABEL=OUT, e.g. frozen=results/x/2023-01")
        n, rows = load_verdicts(Path(path), args.month, args.mode)
        runs[label] = (n, worst_bands(rows) if args.worst_band else rows)
    print("\n".join(table(runs)))


if __name__ == "__main__":
    main()
