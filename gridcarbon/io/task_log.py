"""The per-task CSV log of a run on Dask workers (``--task-log``).

One row per task the workers ran while the log was recorded
(:func:`gridcarbon.pipeline.dask_diagnostics`): its key, the worker, the start and stop of its
computation (UTC), the duration in seconds, the peak resident memory of the worker process
while the task ran, and its status.  The peak is sampled every
:data:`SAMPLE_S` seconds by a worker plugin (:class:`TaskMemoryPlugin`) for the process as a
whole: with one thread per worker (``--workers``) it is the task's own peak plus what the worker
process held before; numba's allocations are in it (dask's memory accounting does not see them).
Left empty when no sample was taken (a task shorter than the sampling step, or a worker
without the plugin).  The CSV goes through the formula-safe writer
(:func:`gridcarbon.io.tables.write_csv`).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from distributed.diagnostics.plugin import WorkerPlugin

from gridcarbon.io.tables import write_csv

__all__ = ["SAMPLE_S", "TaskMemoryPlugin", "task_log_frame", "write_task_log"]

#: Seconds between two samples of a worker's resident memory while a task runs.
SAMPLE_S = 0.02

#: The columns of the task log, in order.
COLUMNS = (
    "key",
    "worker",
    "start_utc",
    "stop_utc",
    "duration_s",
    "peak_rss_bytes",
    "status",
)


class TaskMemoryPlugin(WorkerPlugin):
    """A Dask worker plugin that samples the worker process's resident memory (RSS, bytes)
    while each task executes and keeps the peak by task key (as text).

    Registered with ``client.register_plugin``; :meth:`collect` (through ``client.run``)
    returns a worker's peaks.
    """

    name = "gridcarbon-task-memory"
    idempotent = False

    def setup(self, worker: Any) -> None:
        import psutil

        self._process = psutil.Process()
        self.peaks: dict[str, int] = {}
        self._running: dict[str, tuple[threading.Event, list[int], threading.Thread]] = {}

    def teardown(self, worker: Any) -> None:
        for stop, _, thread in self._running.values():
            stop.set()
            thread.join()
        self._running.clear()

    def _sample(self, stop: threading.Event, peak: list[int]) -> None:
        while True:
            try:
                peak[0] = max(peak[0], self._process.memory_info().rss)
            except Exception:  # the process is going away: keep what was sampled
                return
            if stop.wait(SAMPLE_S):
                return

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        """Start sampling when a task starts executing, keep its peak when it leaves that
        state (done, failed, or released)."""
        text = str(key)
        if finish == "executing" and text not in self._running:
            stop, peak = threading.Event(), [0]
            thread = threading.Thread(target=self._sample, args=(stop, peak), daemon=True)
            self._running[text] = (stop, peak, thread)
            thread.start()
        elif start == "executing" and text in self._running:
            stop, peak, thread = self._running.pop(text)
            stop.set()
            thread.join()
            if peak[0] > 0:
                self.peaks[text] = max(self.peaks.get(text, 0), peak[0])

    @staticmethod
    def collect(dask_worker: Any) -> dict[str, int]:
        """On a worker (``client.run``): the peaks sampled there, by task key."""
        plugin = dask_worker.plugins.get(TaskMemoryPlugin.name)
        return dict(getattr(plugin, "peaks", {}))


def _utc(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(timespec="milliseconds")


def task_log_frame(records: Iterable[Mapping[str, Any]], peaks: Mapping[str, int]) -> pd.DataFrame:
    """The task log of the task-stream ``records`` (``distributed.get_task_stream``) and the
    peaks by key (:class:`TaskMemoryPlugin`), ordered by start."""
    rows = []
    for rec in records:
        compute = [s for s in rec.get("startstops", ()) if s.get("action") == "compute"]
        if not compute:
            continue
        start = min(float(s["start"]) for s in compute)
        stop = max(float(s["stop"]) for s in compute)
        key = str(rec.get("key"))
        rows.append(
            {
                "key": key,
                "worker": str(rec.get("worker", "")),
                "start_utc": _utc(start),
                "stop_utc": _utc(stop),
                "duration_s": round(stop - start, 6),
                "peak_rss_bytes": peaks.get(key),
                "status": str(rec.get("status", "")),
                "_start": start,
            }
        )
    frame = pd.DataFrame(rows, columns=[*COLUMNS, "_start"])
    frame = frame.sort_values("_start", kind="stable").drop(columns="_start")
    frame["peak_rss_bytes"] = frame["peak_rss_bytes"].astype("Int64")
    return frame.reset_index(drop=True)


def write_task_log(
    path: str | Path, records: Iterable[Mapping[str, Any]], peaks: Mapping[str, int]
) -> Path:
    """Write the task log (:func:`task_log_frame`) to ``path`` as CSV (replacing it)."""
    return write_csv(task_log_frame(records, peaks), path, overwrite=True, bom=False)
