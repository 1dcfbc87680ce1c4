"""The peak memory of the Dask tasks of a streamed run by days per task, against the estimate of
``--task-days auto`` (:mod:`gridcarbon.io.task_memory`).

Runs ``gridcarbon run`` on the default (Zhejiang) grid for January 2023 without the inversion
or the map, streamed (``--resume``) on one local worker, once per mode (``1``, ``31``: that many
days per task with ``--worker-memory``; ``auto``: the days chosen for ``--auto-memory``), each
in a fresh process and output folder, with ``--task-log``.  Prints, per mode and kind of task,
the tasks, the largest peak RSS of the worker while one ran, the worker's level before the
first task of the kind (the largest peak of the tasks before it) and the estimate of a task of
those days.  Usage::

    python benchmarks/bench_task_days.py --work /tmp/bench-task-days
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from pathlib import Path

CONFIG = "maps: {enabled: false}\noutput: {formats: [geotiff]}\n"
KINDS = ("zone-warm-up", "prior-days", "zone-days", "zone-month-fields")


def _run(mode: str, memory: str, work: Path) -> Path:
    out, log = work / f"run-{mode}", work / f"tasks-{mode}.csv"
    config = work / "config.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    args = [
        sys.executable, "-m", "gridcarbon.cli", "-v", "run", "--config", str(config),
        "--no-inversion", "--workers", "1", "--worker-memory", memory, "--resume",
        "--overwrite", "-o", str(out), "--task-log", str(log),
    ]  # fmt: skip
    if mode != "auto":
        args += ["--task-days", mode]
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    for line in done.stderr.splitlines():
        if "task days auto" in line:
            print(f"  {line.split('gridcarbon.pipeline: ')[-1]}")
    return log


def _report(mode: str, memory: str, log: Path) -> None:
    from gridcarbon.config import RunConfig
    from gridcarbon.io.task_memory import estimate_task_memory
    from gridcarbon.scenario.zhejiang import zhejiang_grid

    with log.open(encoding="utf-8") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: r["start_utc"])
    cells = zhejiang_grid(RunConfig().grid).size
    level = 0
    print(f"mode {mode} (--worker-memory {memory}), {cells:,} cells:")
    for kind in KINDS:
        mine = [r for r in rows if r["key"].startswith(kind + "-")]
        if not mine:
            continue
        first = rows.index(mine[0])
        level = max((int(r["peak_rss_bytes"]) for r in rows[:first]), default=0)
        peak = max(int(r["peak_rss_bytes"]) for r in mine)
        line = (
            f"  {kind:18s} {len(mine):3d} tasks, peak {peak / 2**30:.3f} GiB "
            f"({peak / 1e9:.3f} GB), worker before {level / 2**30:.3f} GiB"
        )
        if kind in ("prior-days", "zone-days"):
            hours = max(_hours(r["key"]) for r in mine)
            est = estimate_task_memory(cells, hours // 24, 3)
            value = est.prior_bytes if kind == "prior-days" else est.zone_bytes
            line += f"; estimate for {hours // 24} day(s) {value / 1e9:.3f} GB"
        print(line)


def _hours(key: str) -> int:
    """Hours of a task from its key (``prior-days-2023-01-01-09-…``, ``zone-days-…-216h-…``)."""
    parts = key.split("-")
    if key.startswith("zone-days"):
        return int(next(p for p in parts if p.endswith("h"))[:-1])
    return 24 * (int(parts[5]) - int(parts[4]) + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-task-days"))
    parser.add_argument("--modes", nargs="+", default=["1", "31", "auto"])
    parser.add_argument("--worker-memory", default="6GiB")
    parser.add_argument("--auto-memory", default="1GiB")
    a = parser.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    for mode in a.modes:
        memory = a.auto_memory if mode == "auto" else a.worker_memory
        _report(mode, memory, _run(mode, memory, a.work))


if __name__ == "__main__":
    main()
