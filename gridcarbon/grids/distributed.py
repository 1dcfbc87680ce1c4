"""The prior of a streamed run on ``dask.distributed`` in tasks shorter than a month.

A month of the prior of a large region does not fit one worker (mainland China at 3 km: 19.4 GB
of float32 grids per month), so each Beijing month is split into **day spans** of ``task_days``
days, each a task (:func:`prior_days_task`) that computes its days and writes them into their
region of the store.  The prior of an hour depends on that hour's row of the temporal profiles
alone (:func:`gridcarbon.grids.prior.iter_prior_grids`: the weights of the Beijing year are
computed whole and sliced), so the days computed apart equal the month computed at once to the
last bit.  The month's completion marker is written by the caller's process only after **all**
its day spans have returned (:func:`prior_months_in_day_tasks`): markers stay per month and the
resume semantics do not change.  Spans are whole days, so whole 24-hour chunks of the store
(:data:`gridcarbon.io.year_store.TIME_CHUNK`): no two tasks write one chunk.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gridcarbon.errors import ConfigError
from gridcarbon.io.cluster import shared_with_workers, task_result

if TYPE_CHECKING:
    from gridcarbon.config import PeriodConfig, RunConfig
    from gridcarbon.contracts import Scenario

__all__ = [
    "TASK_DAYS_AUTO",
    "day_spans",
    "prior_days_task",
    "prior_months_in_day_tasks",
    "check_task_days",
    "workers_memory_limit",
]

log = logging.getLogger(__name__)


#: ``task_days`` chosen from the workers' memory limit (:func:`gridcarbon.io.task_memory.
#: choose_task_days`).
TASK_DAYS_AUTO = "auto"


def check_task_days(task_days: int | str | None) -> int | str | None:
    """``task_days`` checked: None (whole months), ``"auto"`` (:data:`TASK_DAYS_AUTO`) or a whole
    number of days from 1 to 31."""
    if task_days is None or task_days == TASK_DAYS_AUTO:
        return task_days
    if isinstance(task_days, bool) or not isinstance(task_days, int) or not 1 <= task_days <= 31:
        raise ConfigError(
            "task days must be a whole number of days from 1 to 31 or 'auto' (or none: whole "
            f"months), got {task_days!r}"
        )
    return task_days


def workers_memory_limit(client: Any) -> int | None:
    """The smallest memory limit (bytes) among ``client``'s workers, as they report it; None
    when none has a limit (or there is no worker yet)."""
    workers = client.scheduler_info(n_workers=-1)["workers"].values()
    limits = [int(w["memory_limit"]) for w in workers if w.get("memory_limit")]
    return min(limits) if limits else None


def day_spans(period: PeriodConfig, task_days: int) -> list[tuple[dt.date, dt.date, int]]:
    """The spans of ``task_days`` Beijing days (the last one shorter) that cover ``period``
    (one Beijing month, or part of one): ``(first day, last day, offset in hours from the
    period's first hour)``."""
    out = []
    day, k = period.start, 0
    while day <= period.end:
        last = min(day + dt.timedelta(days=task_days - 1), period.end)
        out.append((day, last, 24 * k))
        k += (last - day).days + 1
        day = last + dt.timedelta(days=1)
    return out


def prior_days_task(
    scenario: Scenario, period: PeriodConfig, keep_sectors: bool, store: str, start: int
) -> str:
    """On a worker: compute the prior of the Beijing days ``period`` (inside one month) and
    write it into its region of ``store`` (store hours ``start`` onwards); returns the store's
    path.  The values equal those of the whole month computed at once."""
    from gridcarbon.grids.prior import iter_prior_grids
    from gridcarbon.io.year_store import write_month

    part = next(
        iter(
            iter_prior_grids(
                scenario.inventory, period, scenario.species, keep_sectors=keep_sectors
            )
        )
    )
    write_month(store, part, start)
    return store


def prior_months_in_day_tasks(
    client: Any,
    months: Sequence[tuple[str, slice, RunConfig]],
    scenario: Scenario,
    store: Path,
    folder: Path,
    fingerprint: dict[str, Any],
    task_days: int,
) -> None:
    """Submit every month of ``months`` (label, store hours, the month's configuration) as
    tasks of ``task_days`` days (:func:`prior_days_task`), and write a month's completion
    marker when every one of its tasks has returned.

    A failed task stops its own month (its other tasks are cancelled) but not the others: they
    run to the end and keep their markers, so a resumed run computes only the months that
    failed (again whole: a month without its marker proves nothing of its days); then the
    first failed task's error is raised.  Whether a month finished never depends on how soon
    another's failure was seen.
    """
    from distributed import as_completed

    from gridcarbon.io.year_store import write_marker

    task_days = check_task_days(task_days)
    if not months:
        return
    with shared_with_workers(client, scenario=scenario) as shared:
        futures: dict[Any, str] = {}
        left: dict[str, int] = {}
        spans: dict[str, tuple[int, int]] = {}
        token = uuid.uuid4().hex[:8]
        for label, sl, month_config in months:
            period = month_config.period
            keep = month_config.prior.keep_sectors
            spans[label] = (sl.start, sl.stop)
            parts = day_spans(period, task_days)
            left[label] = len(parts)
            for first, last, offset in parts:
                days = period.model_copy(update={"start": first, "end": last})
                future = client.submit(
                    prior_days_task,
                    shared["scenario"],
                    days,
                    keep,
                    str(store),
                    sl.start + offset,
                    key=f"prior-days-{first:%Y-%m-%d}-{last:%d}-{token}",
                    pure=False,
                )
                futures[future] = label
        failed: Exception | None = None
        try:
            for future in as_completed(futures):
                label = futures[future]
                if left[label] < 0:  # its month failed: cancelled here, not computed
                    continue
                try:
                    task_result(future, f"prior {label}")  # the worker's error, or a cancellation
                except Exception as error:  # re-raised once the other months are done
                    log.error(
                        "prior %s: a day task failed (%s); the other months go on", label, error
                    )
                    failed = failed or error
                    left[label] = -1
                    client.cancel([f for f, m in futures.items() if m == label and not f.done()])
                    continue
                left[label] -= 1
                if left[label] == 0:
                    write_marker(folder, label, spans[label], fingerprint)
                    log.info(
                        "prior %s: written by the workers in spans of %d days", label, task_days
                    )
        finally:
            client.cancel(list(futures))
    if failed is not None:
        raise failed
