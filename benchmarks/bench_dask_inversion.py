"""A streamed run with the inversion: single process against the inversion's months as Dask tasks.

Runs ``gridcarbon run --start START --end END --resume`` (``--resume`` makes a period of at most
``inversion.max_period_days`` run streamed, each month inverted on its own) twice, each under
``/usr/bin/time -v`` in a fresh process tree:

* ``single``: ``-o PREFIX-single`` (no client: the months one after the other in the process);
* ``dask``: ``--workers N --task-log PREFIX-tasks.csv -o PREFIX-dask`` (the prior's, the
  inversion's and the zones' months as tasks).

While each runs, the resident memory of the driver (the ``gridcarbon`` process) and of its whole
process tree are sampled every 0.2 s.  Prints per run: the wall time, the driver's peak RSS (its
``VmHWM``), the peak of the tree's summed RSS, ``/usr/bin/time``'s maximum RSS, the stage
timings the run printed; for Dask, each task's duration and peak worker RSS from the task log
(the inversion's months in full); then the speed-up and the load average before and after.
Usage (the output folders must not exist)::

    python benchmarks/bench_dask_inversion.py --start 2023-01-01 --end 2023-02-28 \\
        --workers 2 --prefix /tmp/inv2
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


def _sample(proc: subprocess.Popen, peaks: dict[str, float], stop: threading.Event) -> None:
    """Peak RSS of the driver (the child of /usr/bin/time) and of the tree, until ``stop``."""
    top = psutil.Process(proc.pid)
    while not stop.is_set():
        try:
            tree = [top, *top.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        total = 0
        for p in tree:
            try:
                total += p.memory_info().rss
                if p.ppid() == top.pid and "gridcarbon" in " ".join(p.cmdline()):
                    status = Path(f"/proc/{p.pid}/status").read_text()
                    hwm = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) * 1024
                    peaks["driver"] = max(peaks.get("driver", 0), hwm)
            except (psutil.NoSuchProcess, FileNotFoundError, AttributeError):
                continue
        peaks["tree"] = max(peaks.get("tree", 0), total)
        time.sleep(0.2)


def _run(name: str, args: list[str]) -> dict[str, object]:
    exe = shutil.which("gridcarbon") or str(Path(sys.executable).with_name("gridcarbon"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    print(f"== {name}: gridcarbon {' '.join(args)}", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        ["/usr/bin/time", "-v", exe, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peaks: dict[str, float] = {}
    stop = threading.Event()
    sampler = threading.Thread(target=_sample, args=(proc, peaks, stop), daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    stop.set()
    sampler.join()
    if proc.returncode != 0:
        print(out[-3000:], err[-3000:], sep="\n")
        raise SystemExit(f"{name}: exit status {proc.returncode}")
    maxrss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1)) * 1024
    elapsed = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", err).group(1)
    for line in out.splitlines():
        if line.strip().startswith("stage "):
            print(f"  {line.strip()}")
    print(
        f"  wall {wall:.1f} s (time -v: {elapsed}); driver peak RSS "
        f"{peaks.get('driver', 0) / 1e9:.2f} GB; process tree peak (summed RSS) "
        f"{peaks.get('tree', 0) / 1e9:.2f} GB; time -v max RSS {maxrss / 1e9:.2f} GB",
        flush=True,
    )
    return {"wall": wall, **peaks}


def _task_log(path: Path) -> None:
    with path.open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    by_worker: dict[str, float] = {}
    for row in rows:
        peak = float(row["peak_rss_bytes"] or 0)
        by_worker[row["worker"]] = max(by_worker.get(row["worker"], 0.0), peak)
        if "invert-month" in row["key"] or float(row["duration_s"]) >= 5:
            print(
                f"  task {row['key'][:40]:40s} {row['worker']:22s} "
                f"{float(row['duration_s']):7.1f} s  peak RSS {peak / 1e9:.2f} GB"
            )
    for worker, peak in sorted(by_worker.items()):
        print(f"  worker {worker}: peak RSS over its tasks {peak / 1e9:.2f} GB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", default="2023-01-01")
    parser.add_argument("--end", default="2023-02-28")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--prefix", default="/tmp/inv2")
    parser.add_argument("--only", choices=("single", "dask"), default=None)
    a = parser.parse_args()
    period = ["run", "--start", a.start, "--end", a.end, "--resume"]
    runs = [("single", []), ("dask", ["--workers", str(a.workers)])]
    runs = [r for r in runs if a.only in (None, r[0])]
    for name, _ in runs:
        if Path(f"{a.prefix}-{name}").exists() or Path(f"{a.prefix}-{name}.partial").exists():
            sys.exit(f"{a.prefix}-{name} exists: remove it or choose another --prefix")
    print("load before:", os.getloadavg(), flush=True)
    got = {}
    for name, extra in runs:
        log = Path(f"{a.prefix}-tasks.csv")
        extra = [*extra, "--task-log", str(log)] if name == "dask" else extra
        got[name] = _run(name, [*period, *extra, "-o", f"{a.prefix}-{name}"])
        if name == "dask":
            _task_log(log)
        print("load now:", os.getloadavg(), flush=True)
    if len(got) == 2:
        print(f"speed-up single/dask: {got['single']['wall'] / got['dask']['wall']:.2f}x")


if __name__ == "__main__":
    main()
