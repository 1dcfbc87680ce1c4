"""The memory of one Dask task of a streamed run, and the days per task that fit a worker
(``--task-days auto``).

A streamed run on Dask workers splits each Beijing month into tasks of ``N`` days: the prior's
(``gridcarbon.grids.distributed.prior_days_task``) and the zones'
(``gridcarbon.zoning.distributed.zone_days_task``, which also hands its day fields to the
driver; the driver sums each month from them, so no task holds a month).  numba's arrays are invisible to Dask's spilling, so a
task must peak at no more than :data:`TASK_SHARE` (60 %) of the worker's memory limit:
:func:`choose_task_days` takes the largest ``N`` from 1 to 31 whose estimate fits, and refuses
(:class:`~gridcarbon.io.resources.ResourceError`) a worker too small for one day.  Light:
standard library only.

Calibration
-----------
A task's peak resident set is ``TASK_BASE_BYTES + per_cell × cells × species + per_grid_byte
× G`` where ``G = cells × 24 N × species × 4`` are the float32 grids of its ``N`` days:

* ``TASK_BASE_BYTES`` 0.5 GB: a worker after its warm-up task (imports, numba kernels), measured
  by ``--task-log`` on the Zhejiang grid: 0.336 GiB with numba's cache warm, 0.462 GiB in a run
  that compiled the kernels first; the larger is taken;
* ``per_grid_byte``: the growth of a task with its days, measured on the Zhejiang grid (25,591
  cells, 3 species, January 2023, one worker, ``--task-days 1`` then ``--task-days 31``; the
  worker's resident set over its level before the task): a prior task grew by 0.041 GiB for one
  day and 0.310 GiB for 31 days, **1.31** per byte of grids (the grids and the point-source
  table); a zone task by 0.441 GiB for 31 days, **2.0** per byte of grids (the grids, one
  species' float64 hourly totals, the hourly unit tally and the day fields);
* ``per_cell``: what a task holds whatever its days (the region's annual maps of the emitting
  cells, the coverage matrix, the day fields' Gi* work arrays), set so that the estimate of a
  one-day task on mainland China equals its measured peak (benchmarks/README.md, "Mainland
  China, one month": 2,172,918 cells, 3 species, 101,997 control units, 4 GiB workers; prior
  days **1.84 GiB**, zone days **1.83 GiB**): 101 and 33 bytes per cell and species.

The estimate then gives 0.81 GB for Zhejiang's 31-day prior task (measured 0.646 GiB = 0.69 GB)
and 0.96 GB for its 31-day zone task (measured 0.836 GiB = 0.90 GB), and 0.52 GB for its
one-day tasks (measured 0.50–0.51 GiB = 0.54 GB, in the run that compiled the kernels).  The
month-fields task (one per month) holds ``N`` days of grids and a float64 month field per
species and peaked below the zone task (mainland 1.44 GiB against 1.83; Zhejiang, 31 days,
0.69 GiB against 0.84), so the zone task's estimate bounds it.  The units' tally is inside the calibration at the densities
measured (0.05–0.08 units per cell).  The estimate is a planning figure, like
:func:`~gridcarbon.io.resources.estimate_memory`'s: the 40 % above the 60 % line is the margin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gridcarbon.io.resources import ResourceError

__all__ = [
    "TASK_SHARE",
    "TASK_BASE_BYTES",
    "PRIOR_TASK_PER_GRID_BYTE",
    "ZONE_TASK_PER_GRID_BYTE",
    "PRIOR_TASK_PER_CELL",
    "ZONE_TASK_PER_CELL",
    "TaskEstimate",
    "TaskDaysChoice",
    "estimate_task_memory",
    "choose_task_days",
    "tasks_per_month",
]

_GIB = 2**30
#: The share of a worker's memory limit one task may take at its peak (Dask starts spilling at
#: 60 % of the limit; numba's arrays cannot be spilled).
TASK_SHARE = 0.6
#: A worker process after its warm-up task, bytes (Zhejiang, ``--task-log``: 0.336 GiB with
#: numba's cache warm, 0.462 GiB when the kernels were compiled; the larger, rounded up).
TASK_BASE_BYTES = 0.5e9
#: A task's growth per byte of its days' float32 grids (Zhejiang, 1 and 31 days; module doc).
PRIOR_TASK_PER_GRID_BYTE = 1.31
ZONE_TASK_PER_GRID_BYTE = 2.0

# The measured one-day tasks of mainland China at 3 km (benchmarks/README.md, "Mainland China,
# one month": 2,172,918 cells, 3 species; peak RSS of the worker while the task ran).
_MAINLAND_CELLS, _MAINLAND_SPECIES = 2_172_918, 3
_MAINLAND_DAY_GRIDS = _MAINLAND_CELLS * 24 * _MAINLAND_SPECIES * 4  # 0.626 GB
_MAINLAND_PRIOR_DAY_PEAK, _MAINLAND_ZONE_DAY_PEAK = 1.84 * _GIB, 1.83 * _GIB

#: What a task holds whatever its days, bytes per cell and species: the rest of the measured
#: mainland one-day peak (101 for the prior's task, 33 for the zones').
PRIOR_TASK_PER_CELL = (
    _MAINLAND_PRIOR_DAY_PEAK - TASK_BASE_BYTES - PRIOR_TASK_PER_GRID_BYTE * _MAINLAND_DAY_GRIDS
) / (_MAINLAND_CELLS * _MAINLAND_SPECIES)
ZONE_TASK_PER_CELL = (
    _MAINLAND_ZONE_DAY_PEAK - TASK_BASE_BYTES - ZONE_TASK_PER_GRID_BYTE * _MAINLAND_DAY_GRIDS
) / (_MAINLAND_CELLS * _MAINLAND_SPECIES)


@dataclass(frozen=True)
class TaskEstimate:
    """Estimated peak memory (bytes) of one task of ``days`` days, by kind.

    Attributes
    ----------
    days : days per task
    prior_bytes : a prior task (``prior_days_task``)
    zone_bytes : a zone task (``zone_days_task``; it bounds the month-fields task); 0 when the
        zones do not run
    grid_bytes : the float32 grids of the task's days
    """

    days: int
    prior_bytes: float
    zone_bytes: float
    grid_bytes: float

    @property
    def peak_bytes(self) -> float:
        """The larger of the two kinds."""
        return max(self.prior_bytes, self.zone_bytes)

    @property
    def kind(self) -> str:
        """The kind of task that sets the peak (``"prior"`` or ``"zone"``)."""
        return "zone" if self.zone_bytes >= self.prior_bytes else "prior"


def estimate_task_memory(
    cells: int, days: int, species: int = 3, zones: bool = True
) -> TaskEstimate:
    """Estimated peak memory of a prior task and of a zone task of ``days`` Beijing days on a
    grid of ``cells`` cells with ``species`` species (module docstring: the calibration).

    Parameters
    ----------
    cells : grid cells (ny × nx)
    days : days per task (1 to 31)
    species : species gridded
    zones : whether the zones run (False: no zone task, ``zone_bytes`` 0)
    """
    grids = float(cells) * 24 * days * species * 4
    cs = float(cells) * species
    return TaskEstimate(
        days=days,
        prior_bytes=TASK_BASE_BYTES + PRIOR_TASK_PER_CELL * cs + PRIOR_TASK_PER_GRID_BYTE * grids,
        zone_bytes=(
            TASK_BASE_BYTES + ZONE_TASK_PER_CELL * cs + ZONE_TASK_PER_GRID_BYTE * grids
            if zones
            else 0.0
        ),
        grid_bytes=grids,
    )


@dataclass(frozen=True)
class TaskDaysChoice:
    """The days per task chosen for a worker memory limit (:func:`choose_task_days`).

    Attributes
    ----------
    task_days : days per task, 1 to 31
    estimate : the estimate of a task of ``task_days`` days
    limit_bytes : the workers' memory limit (the smallest), bytes
    cells, species : the grid's cells and the species gridded
    zones : whether the zones run (their tasks are sized too)
    """

    task_days: int
    estimate: TaskEstimate
    limit_bytes: float
    cells: int
    species: int
    zones: bool = True

    @property
    def share_bytes(self) -> float:
        """:data:`TASK_SHARE` of the limit: what one task may take."""
        return TASK_SHARE * self.limit_bytes

    def reason(self) -> str:
        """Why this many days, in words (logged at INFO, printed by ``--dry-run``)."""
        e = self.estimate
        why = (
            "a whole month fits"
            if self.task_days == 31
            else f"{self.task_days + 1} days would need about {self._next_peak() / 1e9:.2f} GB"
        )
        return (
            f"{self.task_days} day(s) per task: a {e.kind} task peaks at about "
            f"{e.peak_bytes / 1e9:.2f} GB"
            + (
                f" (prior {e.prior_bytes / 1e9:.2f} GB, zones {e.zone_bytes / 1e9:.2f} GB)"
                if self.zones
                else ""
            )
            + f", within {TASK_SHARE:.0%} of the workers' memory limit "
            f"({self.limit_bytes / _GIB:.2f} GiB: {self.share_bytes / 1e9:.2f} GB per task); "
            f"{why}"
        )

    def _next_peak(self) -> float:
        return estimate_task_memory(
            self.cells, self.task_days + 1, self.species, self.zones
        ).peak_bytes


def choose_task_days(
    cells: int, species: int, limit_bytes: float, zones: bool = True
) -> TaskDaysChoice:
    """The largest number of days per task, 1 to 31, whose estimated peak
    (:func:`estimate_task_memory`, prior and, with ``zones``, zone tasks) is at most
    :data:`TASK_SHARE` of the workers' memory limit ``limit_bytes``.

    Raises
    ------
    ResourceError
        When a task of one day does not fit: the message names the memory a task needs, the
        limit, and the limit that would take it (``--worker-memory``).
    """
    share = TASK_SHARE * float(limit_bytes)
    one = estimate_task_memory(cells, 1, species, zones)
    if one.peak_bytes > share:
        want = math.ceil(one.peak_bytes / TASK_SHARE / _GIB * 4) / 4  # GiB, in quarters
        raise ResourceError(
            f"a Dask task of one day ({one.kind} task) on this grid of {cells:,} cells and "
            f"{species} species needs about {one.peak_bytes / 1e9:.2f} GB on a worker, more "
            f"than {TASK_SHARE:.0%} of the workers' memory limit ({limit_bytes / _GIB:.2f} GiB, "
            f"of which {share / 1e9:.2f} GB may be used by one task: numba's arrays are "
            f"invisible to Dask's spilling); give --worker-memory {want:g}GiB or more (on a "
            f"running cluster: dask worker --memory-limit {want:g}GiB), or use a coarser grid "
            "(grid.cell_size_m)"
        )
    days = 1
    for n in range(2, 32):
        if estimate_task_memory(cells, n, species, zones).peak_bytes > share:
            break
        days = n
    est = estimate_task_memory(cells, days, species, zones)
    return TaskDaysChoice(days, est, float(limit_bytes), int(cells), int(species), zones)


def tasks_per_month(month_days: int, task_days: int, zones: bool = True) -> dict[str, int]:
    """Tasks of a month of ``month_days`` days in tasks of ``task_days`` days, by kind: prior
    days and, with ``zones``, zone days."""
    spans = -(-month_days // task_days)
    if not zones:
        return {"prior days": spans}
    return {"prior days": spans, "zone days": spans}
