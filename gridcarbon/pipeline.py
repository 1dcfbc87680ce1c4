"""The whole pipeline: prior → inversion → zoning → map, written to one output folder."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from gridcarbon._version import __version__
from gridcarbon.config import RunConfig
from gridcarbon.errors import ConfigError
from gridcarbon.grids.dataset import period_totals, species_in
from gridcarbon.io import (
    atomic_directory,
    write_geotiff,
    write_netcdf,
    write_stream,
    write_zarr,
)
from gridcarbon.io.inputs import config_input_files
from gridcarbon.io.tables import write_csv
from gridcarbon.io.year_store import DEFAULT_CODEC

if TYPE_CHECKING:
    from gridcarbon.contracts import Scenario
    from gridcarbon.grids.gridspec import GridSpec

__all__ = [
    "RunResult",
    "RunPlan",
    "RunSize",
    "plan_run",
    "size_run",
    "check_memory",
    "run",
    "run_streamed",
    "dask_client",
    "resolve_task_days",
    "planned_worker_memory",
    "satellite_observation_kinds",
    "column_transport_errors",
    "write_prior_months",
    "write_posterior_months",
    "month_blocks",
    "is_streamed",
    "grid_formats",
    "STREAM_ABOVE_HOURS",
    "build_prior",
    "default_scenario",
    "iter_prior",
    "prior_attrs",
    "write_prior",
    "prior_summary",
    "osse_column_simulator",
]

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What :func:`run` produced.

    Attributes
    ----------
    out_dir : Path
        The output folder.
    prior : xr.Dataset
        The prior grids of the period (in memory).
    files : dict of str → Path
        Every file written, by role.
    stages : dict of str → object
        Each later stage's result (``inversion``, ``zoning``, ``map``) when it ran.
    timings : dict of str → float
        Wall-clock seconds per stage.
    plan : RunPlan
        What was checked and read before the first stage, the scenario included (None for a
        finished streamed run resumed: nothing was planned).
    summary : dict, optional
        What ``summary.json`` holds (streamed runs: the totals without reading the grids again).
    """

    out_dir: Path
    prior: xr.Dataset
    files: dict[str, Path] = field(default_factory=dict)
    stages: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    plan: RunPlan | None = None
    summary: dict[str, Any] | None = None

    @property
    def scenario(self) -> Scenario | None:
        """The scenario every stage of the run was handed."""
        return None if self.plan is None else self.plan.scenario


def _package_data() -> Path:
    """The package's data folder: an input of every run, which no output folder may hold."""
    return Path(__file__).resolve().parent / "data"


@dataclass
class RunPlan:
    """What :func:`plan_run` found before any work: the grid, the period's hours, the scenario
    (built once; every stage is handed this one), the control units and the rest of the zoning
    stage's inputs (when the zones run) and the memory estimate."""

    grid: Any
    hours: int
    units: Any = None
    units_qa: Any = None
    memory: Any = None
    zoning: ZoningInputs | None = None
    scenario: Scenario | None = None


def _enabled_stages(config: RunConfig) -> tuple[str, ...]:
    return tuple(name for name, _ in _later_stages() if getattr(config, name).enabled)


def plan_run(
    config: RunConfig,
    out_dir: str | Path | None = None,
    overwrite: bool = False,
    stages: Iterable[str] | None = None,
    inputs: Iterable[str | Path] = (),
    streamed: bool = False,
    scenario: Scenario | None = None,
    block_hours: int | None = None,
) -> RunPlan:
    """Every check that can be made before the first stage, cheapest first; raises on the first
    problem (one message naming it and the way out).

    The output folder (refusals of :func:`gridcarbon.io.runfolder.check_folder_target`, an
    existing folder without ``overwrite`` or holding files gridcarbon did not write), every input
    file the configuration names (exists, readable, right kind), the inversion's period limit,
    the control units (read and checked here, so a bad unit file is refused in seconds), the
    memory the run will need against what the machine has (:mod:`gridcarbon.io.resources`), and the
    free disk space against the size of the outputs.

    Parameters
    ----------
    config : RunConfig
    out_dir : output folder (None: not checked)
    overwrite : the folder may be replaced
    stages : later stages that will run (default: those enabled in ``config``)
    inputs : further input files (e.g. the configuration file) the output must not hold
    streamed : the prior is streamed month by month (``grid`` of a long period)
    scenario : the region's inputs (default: the embedded Zhejiang default of ``config``, built
        here after the cheap checks, with its synthetic control units when the zones run without
        a units file)
    block_hours : a streamed run's hours of grids held at once by this process when fewer than a
        month (Dask tasks of a few days, :func:`run_streamed`'s ``task_days``); not with the
        inversion, which inverts each month whole in this process
    """
    from gridcarbon.grids.prior import period_hours
    from gridcarbon.io.inputs import check_input_file
    from gridcarbon.io.runfolder import check_output_folder

    stages = _enabled_stages(config) if stages is None else tuple(stages)
    files = config_input_files(config)
    if out_dir is not None:
        check_output_folder(
            Path(out_dir), overwrite, [*inputs, *(p for p, _ in files), _package_data()]
        )
    for path, role in files:
        check_input_file(path, role)
    check_zone_synergy(config, stages)
    if "inversion" in stages:
        from gridcarbon.inversion.stage import check_period

        if streamed:  # inverted month by month
            for _, _, month in _month_periods(config):
                check_period(month.period.start, month.period.end, config.inversion)
        else:
            check_period(config.period.start, config.period.end, config.inversion)
    grid = run_grid(config, scenario)
    hours = int(period_hours(config.period)[0].size)
    plan = RunPlan(grid=grid, hours=hours)
    in_memory = min(hours, 24 * 31) if streamed else hours
    if streamed and block_hours is not None and "inversion" not in stages:
        in_memory = min(in_memory, block_hours)  # the inversion holds a whole month here
    plan.memory = check_memory(config, grid.size, in_memory, 0, stages)
    if scenario is None:  # built only once the grid is known to fit
        needs_units = "zoning" in stages and config.zoning.units_path is None
        scenario = default_scenario(config, with_units=needs_units)
    plan.scenario = scenario
    if "zoning" in stages:
        plan.zoning = zoning_inputs(config, grid, scenario)
        plan.units, plan.units_qa = plan.zoning.units, plan.zoning.qa
        # streamed: the hourly tally goes to its file month by month, the daily fields stay
        days = (config.period.end - config.period.start).days + 1 if streamed else 0
        plan.memory = check_memory(
            config, grid.size, in_memory, len(plan.units), stages, tally_hours=in_memory, days=days
        )
    if out_dir is not None:
        units = 0 if plan.units is None else len(plan.units)
        _check_disk(config, Path(out_dir), grid.size, hours, units, stages)
    return plan


def run_grid(config: RunConfig, scenario: Scenario | None = None) -> GridSpec:
    """The grid a run of ``config`` computes on: ``scenario``'s, else the configured region's
    (built from its geometry alone, seconds: no layers)."""
    if scenario is not None:
        return scenario.grid
    if config.region == "zhejiang":
        from gridcarbon.scenario.zhejiang import zhejiang_grid

        return zhejiang_grid(config.grid)
    from gridcarbon.scenario.generic import region_grid

    return region_grid(config.region, config)


def check_memory(
    config: RunConfig,
    cells: int,
    hours: int,
    units: int,
    stages: Iterable[str],
    tally_hours: int | None = None,
    days: int = 0,
) -> Any:
    """Refuse (:class:`~gridcarbon.io.resources.ResourceError`, with the estimate and the ways out)
    a run whose estimated peak memory exceeds what the machine has; returns the estimate.

    ``hours``: hours of grids in memory at once; ``tally_hours``: hours of the hourly zone tally
    held at once (default ``hours``); ``days``: days whose daily fields a streamed zoning stage
    holds (:func:`gridcarbon.io.resources.estimate_memory`)."""
    from gridcarbon.io.resources import ResourceError, available_memory, estimate_memory

    est = estimate_memory(
        cells,
        hours,
        len(config.species),
        units,
        inversion="inversion" in stages,
        zones="zoning" in stages,
        tally_hours=tally_hours,
        days=days,
    )
    have = available_memory()
    log.info("estimated peak memory %s; available %s", est.describe(), have)
    if have is not None and est.peak_bytes > have:
        ways = ["a shorter period (--start/--end)", "a coarser grid (grid.cell_size_m)"]
        if "inversion" in stages:
            ways.append("inversion.enabled: false")
        if "zoning" in stages:
            ways.append("zoning.enabled: false")
        raise ResourceError(
            f"this run needs {est.describe()} for a grid of {cells:,} cells over {hours:,} hours, "
            f"but only {have / 1e9:.1f} GB of memory is available; use "
            + ", ".join(ways[:-1])
            + f" or {ways[-1]}"
        )
    return est


@dataclass(frozen=True)
class TaskSizing:
    """The Dask tasks of a streamed run on workers, sized before it starts (:func:`size_run`).

    Attributes
    ----------
    task_days : days per task (None: whole months, the workers reporting no memory limit)
    chosen : ``"auto"`` (chosen from the limit) or ``"given"`` (``--task-days N``)
    limit_bytes : the workers' memory limit, bytes (None: no limit reported)
    estimate : :class:`gridcarbon.io.task_memory.TaskEstimate` of one task (of 31 days for
        whole months)
    month_days : days of the period's longest month
    per_month : tasks of that month by kind
    reason : why ``"auto"`` chose ``task_days`` (empty otherwise)
    """

    task_days: int | None
    chosen: str
    limit_bytes: float | None
    estimate: Any
    month_days: int
    per_month: dict[str, int]
    reason: str = ""

    def lines(self) -> list[str]:
        """The per-task lines of ``--dry-run``."""
        from gridcarbon.io.task_memory import TASK_SHARE

        e = self.estimate
        span = "whole months" if self.task_days is None else f"{self.task_days} day(s) per task"
        first = (
            f"Dask tasks: {span} ({self.chosen}); per month of {self.month_days} days: "
            + ", ".join(f"{n} {kind}" for kind, n in self.per_month.items())
        )
        memory = f"memory per task: prior about {e.prior_bytes / 1e9:,.2f} GB" + (
            f", zones about {e.zone_bytes / 1e9:,.2f} GB" if e.zone_bytes else ""
        )
        if self.limit_bytes is None:
            memory += "; the workers report no memory limit"
        else:
            line = TASK_SHARE * self.limit_bytes
            fits = "fits" if e.peak_bytes <= line else "ABOVE the line"
            memory += (
                f"; workers' limit {self.limit_bytes / 2**30:,.2f} GiB, its {TASK_SHARE:.0%} "
                f"line {line / 1e9:,.2f} GB per task: {fits}"
            )
        out = [first, memory]
        if self.reason:
            out.append(f"task days auto: {self.reason}")
        return out


@dataclass(frozen=True)
class RunSize:
    """What a run would need, sized before any work (:func:`size_run`); every byte count is an
    estimate of :mod:`gridcarbon.io.resources`.

    Attributes
    ----------
    region : the configured region
    grid_shape : (ny, nx) of the grid
    cells_in_box, cells_in_region : cells of the grid, and those whose centre lies in the region
    hours, months, days : the period's hours, Beijing months and days
    species, units : species gridded; control units tallied (0 without the zones)
    units_source : how ``units`` was found (counted in the file, the embedded default's, or
        estimated from the county geometry)
    streamed : the run goes month by month through a Zarr store (:func:`run_streamed`)
    stages : the later stages that would run
    prior_bytes : the period's prior grids as float32 (area sources), in memory if whole
    prior_month_bytes : one month (the longest) of them: what a streamed run holds at once
    prior_disk : bytes on disk by file (``prior.zarr``, ``prior.nc``), from measured ratios
    outputs_disk : bytes of every output of the run (grids, tallies, reports)
    memory : peak bytes by part: ``prior`` (the prior stage), ``inversion_month`` (the inversion
        of one month), ``inversion`` (of the run's period in memory), ``zoning`` (the zones'
        working memory); the run's ``peak``
    peak_stage : the stage that sets the peak
    available : bytes of memory available now (None: unknown)
    refusals : why the run would be refused before any work (empty: it would start)
    tasks : the Dask tasks of a streamed run on workers (None: no workers, or not streamed)
    workers_unused : Dask workers were given to a run that is not streamed (they stay idle)
    """

    region: str
    grid_shape: tuple[int, int]
    cells_in_box: int
    cells_in_region: int
    hours: int
    months: int
    days: int
    species: int
    units: int
    units_source: str
    streamed: bool
    stages: tuple[str, ...]
    prior_bytes: float
    prior_month_bytes: float
    prior_disk: dict[str, float]
    outputs_disk: float
    memory: dict[str, float]
    peak_stage: str
    available: float | None
    refusals: tuple[str, ...]
    tasks: TaskSizing | None = None
    workers_unused: bool = False

    def lines(self) -> list[str]:
        """The sizing as lines of text (``gridcarbon run --dry-run`` prints them)."""

        def gb(value: float) -> str:
            return f"{value / 1e9:,.2f} GB"

        ny, nx = self.grid_shape
        how = "streamed month by month" if self.streamed else "in memory"
        out = [
            f"region {self.region}: grid {ny:,} x {nx:,} = {self.cells_in_box:,} cells in the "
            f"box, {self.cells_in_region:,} with their centre in the region",
            f"period: {self.hours:,} hours, {self.days:,} days, {self.months} month(s); "
            f"runs {how}; stages: prior" + "".join(f", {s}" for s in self.stages),
            f"prior grids: {gb(self.prior_bytes)} as float32 ({self.species} species), "
            f"{gb(self.prior_month_bytes)} per month",
            "prior on disk: "
            + ", ".join(f"{name} about {gb(v)}" for name, v in self.prior_disk.items())
            + f"; every output about {gb(self.outputs_disk)}",
            f"memory of the prior stage: {gb(self.memory['prior'])}",
            f"memory of the inversion: {gb(self.memory['inversion_month'])} per month"
            + (
                f", {gb(self.memory['inversion'])} for the period"
                if "inversion" in self.memory and not self.streamed
                else ""
            )
            + ("; inverted month by month" if "inversion" in self.stages and self.streamed else ""),
        ]
        if self.units:
            out.append(
                f"zoning: {self.units:,} control units ({self.units_source}); working memory "
                f"{gb(self.memory['zoning'])}"
            )
        have = "unknown" if self.available is None else gb(self.available)
        out.append(
            f"expected peak: {gb(self.memory['peak'])} (the {self.peak_stage} stage); "
            f"available now: {have}"
        )
        if self.tasks is not None:
            out += self.tasks.lines()
        elif self.workers_unused:
            out.append(
                "Dask workers: unused (a period run in memory stays in this process; --resume "
                "runs it streamed, on the workers)"
            )
        if self.refusals:
            out += [f"would be refused: {r}" for r in self.refusals]
        else:
            out.append("the run would start (nothing was written: a dry run)")
        return out


def size_run(
    config: RunConfig,
    stages: Iterable[str] | None = None,
    task_days: int | str | None = None,
    worker_limit: float | None = None,
    resume: bool = False,
) -> RunSize:
    """Size a run of ``config`` before it starts, from the region's geometry alone: no prior is
    built, no scenario, nothing is written (``gridcarbon run --dry-run``).

    The memory figures are those the run's own check makes (:func:`check_memory`, the model of
    :func:`gridcarbon.io.resources.estimate_memory`); the refusals are those :func:`plan_run`
    would raise (the inversion's period limit, memory beyond what is available), each message as
    the run would print it.  The control units are counted in ``zoning.units_path``, made for the
    embedded Zhejiang default (its synthetic units, seconds), or, for other regions, estimated
    from the counties' geometry (:func:`gridcarbon.scenario.generic.estimate_unit_count`).

    With ``task_days`` (the run on Dask workers: ``"auto"`` or a number of days), a streamed
    run's tasks are sized too (:class:`TaskSizing`: days per task as :func:`resolve_task_days`
    would choose them for ``worker_limit``, tasks per month, each task's estimated peak against
    60 % of the limit), a worker too small for one day is among the refusals, and this
    process's memory is that of a run reading the store in blocks of those days.

    Parameters
    ----------
    config : RunConfig
    stages : later stages that would run (default: those enabled in ``config``)
    task_days : int or "auto", optional
        The Dask tasks' days (None: no workers).
    worker_limit : float, optional
        The workers' memory limit, bytes (:func:`planned_worker_memory`; None: no limit).
    resume : bool
        The run is resumable (``--resume``): streamed whatever its period, as :func:`run`.
    """
    import shapely

    from gridcarbon.grids.prior import month_slices, period_hours
    from gridcarbon.io.resources import (
        NETCDF_PER_PRIOR_VALUE,
        ZARR_PER_PRIOR_VALUE,
        ResourceError,
        available_memory,
        estimate_memory,
        estimate_output_bytes,
    )

    stages = _enabled_stages(config) if stages is None else tuple(stages)
    hours_index, positions = period_hours(config.period)
    hours = int(hours_index.size)
    months = len(month_slices(positions, hours_index))
    days = (config.period.end - config.period.start).days + 1
    # the route run() takes: a long period without the inversion, or one beyond the inversion's
    # period limit with it (then inverted month by month)
    streamed = resume or (
        is_streamed(config)
        and ("inversion" not in stages or days > config.inversion.max_period_days)
    )
    zones = "zoning" in stages
    if config.region == "zhejiang":
        from gridcarbon.scenario.zhejiang import region_polygon, zhejiang_grid

        grid = zhejiang_grid(config.grid)
        region = region_polygon(grid.crs, config.grid.territorial_sea_m)
        geo = None
    else:
        from gridcarbon.scenario.generic import region_geography

        geo = region_geography(config.region, config)
        grid, region = geo.grid, geo.region
    gx, gy = np.meshgrid(grid.x, grid.y)
    in_region = int(np.count_nonzero(shapely.contains_xy(region, gx.ravel(), gy.ravel())))
    units, source = 0, ""
    if zones and config.zoning.units_path is not None:
        from gridcarbon.io.units_file import read_units_file

        zc = config.zoning
        units = len(read_units_file(zc.units_path, zc.units_layer, zc.units_encoding).frame)
        source = f"counted in {Path(zc.units_path).name}"
    elif zones and geo is None:
        from gridcarbon.scenario.synthetic_units import default_units

        units = len(default_units(grid))
        source = "the embedded default's synthetic units"
    elif zones:
        from gridcarbon.scenario.generic import estimate_unit_count

        units = estimate_unit_count(geo)
        source = "estimated from the county geometry, at most"
    n_species = len(config.species)
    month_hours = max(sl.stop - sl.start for sl in month_slices(positions, hours_index))
    in_memory = month_hours if streamed else hours
    tasks: TaskSizing | None = None
    refusals: list[str] = []
    if task_days is not None and streamed:
        tasks, refused = _size_tasks(
            grid.size, n_species, month_hours // 24, task_days, worker_limit, zones
        )
        if refused:
            refusals.append(refused)
        if tasks.task_days is not None and "inversion" not in stages:  # as plan_run's block_hours
            in_memory = min(in_memory, 24 * tasks.task_days)

    def estimate(stage_hours: int, which: Iterable[str], **kw: Any) -> Any:
        return estimate_memory(
            grid.size,
            stage_hours,
            n_species,
            units,
            inversion="inversion" in which,
            zones="zoning" in which,
            **kw,
        )

    memory = {
        "prior": estimate(in_memory, ()).peak_bytes,
        "inversion_month": estimate(month_hours, ("inversion",)).peak_bytes,
    }
    if "inversion" in stages:  # streamed: one month at a time
        memory["inversion"] = estimate(in_memory, ("inversion",)).peak_bytes
    if "inversion" in stages:
        from gridcarbon.inversion.stage import check_period

        spans = (
            [(m.period.start, m.period.end) for _, _, m in _month_periods(config)]
            if streamed
            else [(config.period.start, config.period.end)]
        )
        try:
            for start, end in spans:
                check_period(start, end, config.inversion)
        except ConfigError as exc:
            refusals.append(str(exc))
    # streamed: the hourly tally goes to its file month by month, the daily fields stay
    streamed_zones = {"tally_hours": in_memory, "days": days} if streamed else {}
    if zones:
        memory["zoning"] = estimate(in_memory, ("zoning",), **streamed_zones).peak_bytes
    est = estimate(in_memory, stages, **streamed_zones)
    memory["peak"] = est.peak_bytes
    have = available_memory()
    try:  # the run's own check, for its message
        check_memory(config, grid.size, in_memory, units, stages, **streamed_zones)
    except ResourceError as exc:
        refusals.append(str(exc))
    values = float(grid.size) * hours * n_species
    formats = grid_formats(config)
    prior_disk = {}
    if streamed:
        prior_disk["prior.zarr"] = values * ZARR_PER_PRIOR_VALUE
    elif "zarr" in formats:
        prior_disk["prior.zarr"] = values * ZARR_PER_PRIOR_VALUE
    if "netcdf" in formats:
        prior_disk["prior.nc"] = values * NETCDF_PER_PRIOR_VALUE
    grids = max(("netcdf" in formats) + ("zarr" in formats or streamed), 1)
    grids *= 2 if "inversion" in stages else 1
    reports = bool(set(stages) & {"inversion", "zoning", "maps"})
    outputs = estimate_output_bytes(
        grid.size, hours, n_species, units if zones else 0, grids, reports
    )
    return RunSize(
        region=config.region,
        grid_shape=(grid.ny, grid.nx),
        cells_in_box=int(grid.size),
        cells_in_region=in_region,
        hours=hours,
        months=months,
        days=days,
        species=n_species,
        units=units,
        units_source=source,
        streamed=streamed,
        stages=stages,
        prior_bytes=values * 4,
        prior_month_bytes=float(grid.size) * month_hours * n_species * 4,
        prior_disk=prior_disk,
        outputs_disk=outputs,
        memory=memory,
        peak_stage=est.stage,
        available=None if have is None else float(have),
        refusals=tuple(refusals),
        tasks=tasks,
        workers_unused=task_days is not None and not streamed,
    )


def _size_tasks(
    cells: int,
    species: int,
    month_days: int,
    task_days: int | str,
    limit: float | None,
    zones: bool,
) -> tuple[TaskSizing, str]:
    """The Dask tasks of :func:`size_run`, and the refusal of ``"auto"`` when one day does not
    fit a worker (empty: none)."""
    from gridcarbon.io.resources import ResourceError
    from gridcarbon.io.task_memory import choose_task_days, estimate_task_memory, tasks_per_month

    refusal, reason = "", ""
    days: int | None
    if task_days != "auto":
        chosen, days = "given", int(task_days)
    elif limit is None:
        chosen, days = "auto: the workers report no memory limit", None
    else:
        try:
            choice = choose_task_days(cells, species, limit, zones)
            chosen, days, reason = "auto", choice.task_days, choice.reason()
        except ResourceError as exc:
            chosen, days, refusal = "auto: even one day does not fit", 1, str(exc)
    est = estimate_task_memory(cells, 31 if days is None else days, species, zones)
    if days is None:
        per_month = {"prior month": 1, "zone month": 1} if zones else {"prior month": 1}
    else:
        per_month = tasks_per_month(month_days, days, zones)
    sizing = TaskSizing(days, chosen, limit, est, month_days, per_month, reason)
    return sizing, refusal


def _check_disk(
    config: RunConfig, out_dir: Path, cells: int, hours: int, units: int, stages
) -> None:
    from gridcarbon.io.resources import ResourceError, estimate_output_bytes

    formats = grid_formats(config)
    grids = ("netcdf" in formats) + ("zarr" in formats)
    grids = max(grids, 1) * (2 if "inversion" in stages else 1)
    zoning = "zoning" in stages
    reports = bool(set(stages) & {"inversion", "zoning", "maps"})
    need = estimate_output_bytes(
        cells, hours, len(config.species), units if zoning else 0, grids, reports
    )
    where = out_dir.absolute()
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        free = shutil.disk_usage(where).free
    except OSError:
        return
    if need > free:
        raise ResourceError(
            f"this run writes about {need / 1e9:.1f} GB, but only {free / 1e9:.1f} GB is free "
            f"on the disk of {str(where)!r}; free some space or choose another --out"
        )


def default_scenario(config: RunConfig | None = None, with_units: bool = False) -> Scenario:
    """The scenario of ``config.region``: what every stage is handed when the caller gives no
    scenario of its own.  ``zhejiang`` is the embedded default
    (:func:`gridcarbon.scenario.zhejiang.zhejiang_scenario`); anything else names mainland
    provinces built by :func:`gridcarbon.scenario.generic.region_scenario`.

    ``with_units``: build its synthetic control units too (a few seconds).
    """
    config = RunConfig() if config is None else config
    if config.region != "zhejiang":
        from gridcarbon.scenario.generic import region_scenario

        return region_scenario(config.region, config, with_units=with_units)
    from gridcarbon.scenario.zhejiang import zhejiang_scenario

    return zhejiang_scenario(config, with_units=with_units)


def _joined(names: list[str]) -> str:
    """``"a, b and c"``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def prior_attrs(config: RunConfig, scenario: Scenario) -> dict[str, str]:
    """Global attributes of the prior grids: what they are, what of them is synthetic, and the
    provenance (version, configuration, input checksums) of ``scenario`` under ``config``."""
    inventory = scenario.inventory
    names = [sp.name for sp in scenario.species]
    return {
        "title": f"gridcarbon prior emission grids (fused inventory of {_joined(names)})",
        "institution": "gridcarbon",
        "source": "gridcarbon prior inventory: " + json.dumps(dict(inventory.description)),
        "synthetic": "true" if inventory.synthetic else "false",
        "synthetic_components": ", ".join(inventory.synthetic_components),
        "gridcarbon_version": __version__,
        "config": config.to_yaml(),
        "input_checksums": json.dumps(dict(scenario.input_checksums)),
        "inventory_year_beijing": str(config.period.year),
        "time_zone_note": "time is UTC, hour-beginning; the inventory year is the Beijing "
        "calendar year (UTC+8); show Beijing time to people",
    }


def iter_prior(
    config: RunConfig | None = None, scenario: Scenario | None = None, progress: bool = False
) -> Iterator[xr.Dataset]:
    """Yield the prior grids of the configured period month by month (Beijing months).

    Parameters
    ----------
    config : RunConfig, optional
        Default: the embedded Zhejiang default (January 2023).
    scenario : Scenario, optional
        The region's inventory and species; default: the Zhejiang scenario of ``config``.
    progress : bool
        Show a progress bar per month.

    Yields
    ------
    xr.Dataset
        One month of the emission Dataset (:func:`gridcarbon.grids.prior.iter_prior_grids`);
        memory is bounded by one month of grids.
    """
    from gridcarbon.grids.prior import iter_prior_grids

    config = RunConfig() if config is None else config
    scenario = default_scenario(config) if scenario is None else scenario
    yield from iter_prior_grids(
        scenario.inventory,
        config.period,
        scenario.species,
        keep_sectors=config.prior.keep_sectors,
        attrs=prior_attrs(config, scenario),
        progress=progress,
    )


def build_prior(
    config: RunConfig | None = None, scenario: Scenario | None = None, progress: bool = False
) -> xr.Dataset:
    """Hourly prior emission grids of the configured period, in memory.

    Parameters
    ----------
    config : RunConfig, optional
        Default: the embedded Zhejiang default (January 2023).
    scenario : Scenario, optional
        The region's inventory and species; default: the Zhejiang scenario of ``config``.
    progress : bool
        Show a progress bar per month.

    Returns
    -------
    xr.Dataset
        Per species ``(time, y, x)`` float32 kg h-1 (area sources) and ``<species>_point``
        ``(time, point)`` (point sources), CF-1.10 metadata, provenance and a ``synthetic``
        flag.  For a year, prefer :func:`run_streamed` (or :func:`iter_prior`).
    """
    from gridcarbon.grids.prior import concat_time_chunks

    return concat_time_chunks(iter_prior(config, scenario, progress=progress))


def prior_summary(
    ds: xr.Dataset, sums: dict[str, tuple[float, float]] | None = None
) -> dict[str, Any]:
    """Period totals (area + point, t), grid size and period of an emission Dataset.

    ``sums`` (species → (area kg, point kg)), when already known, spares reading the grids.
    """
    if sums is None:
        sums = {
            sp: (
                float(ds[sp].sum(dtype=np.float64)),
                float(ds[f"{sp}_point"].sum(dtype=np.float64)) if f"{sp}_point" in ds else 0.0,
            )
            for sp in species_in(ds)
        }
    totals = {
        sp: {"area_t": area / 1e3, "point_t": point / 1e3, "total_t": (area + point) / 1e3}
        for sp, (area, point) in sums.items()
    }
    t = ds["time"].values
    return {
        "grid": {
            "ny": ds.sizes["y"],
            "nx": ds.sizes["x"],
            "cell_size_m": ds.attrs.get("cell_size_m"),
        },
        "period_utc": [
            np.datetime_as_string(t[0], unit="m"),
            np.datetime_as_string(t[-1] + np.timedelta64(1, "h"), unit="m"),
        ],
        "hours": int(t.size),
        "point_sources": int(ds.sizes.get("point", 0)),
        "totals": totals,
        "synthetic": ds.attrs.get("synthetic", "unknown"),
    }


def write_prior(
    config: RunConfig, ds: xr.Dataset, out_dir: Path, stem: str = "prior"
) -> dict[str, Path]:
    """Write grids in the configured formats (NetCDF, Zarr, GeoTIFF of period totals) plus the
    point-source table; returns the paths by role."""
    files: dict[str, Path] = {}
    formats = grid_formats(config)
    if "netcdf" in formats:
        files[f"{stem}_netcdf"] = write_netcdf(ds, out_dir / f"{stem}.nc")
    if "zarr" in formats:
        files[f"{stem}_zarr"] = write_zarr(ds, out_dir / f"{stem}.zarr")
    if "geotiff" in formats:
        files[f"{stem}_geotiff"] = write_geotiff(
            ds, out_dir / f"{stem}_totals.tif", totals=period_totals(ds)
        )
    if "point" in ds.dims:
        sums = {
            sp: ds[f"{sp}_point"].sum("time", dtype=np.float64).values
            for sp in species_in(ds)
            if f"{sp}_point" in ds
        }
        csv = out_dir / f"{stem}_point_sources.csv"
        files[f"{stem}_points"] = _write_point_table(ds, sums, csv)
    return files


def _write_point_table(ds: xr.Dataset, sums: dict[str, np.ndarray], path: Path) -> Path:
    """The point sources (their coordinates and stack parameters) with period totals, kg."""
    from gridcarbon.grids.dataset import POINT_COORDS

    names = [c if c == "point_id" else f"point_{c}" for c in POINT_COORDS]
    table = ds[[c for c in names if c in ds.coords]].to_dataframe()[names]
    for sp, values in sums.items():
        table[f"{sp}_kg_period"] = values
    write_csv(table.reset_index(drop=True), path, overwrite=True, bom=False)
    return path


def run(
    config: RunConfig | None = None,
    out_dir: str | Path | None = None,
    overwrite: bool = False,
    progress: bool = False,
    inputs: Iterable[str | Path] = (),
    observations: Any = None,
    scenario: Scenario | None = None,
    resume: bool = False,
    client: Any = None,
    task_days: int | str | None = None,
) -> RunResult:
    """Run every stage of the pipeline and write its results to one folder.

    Everything that can be checked is checked before the first stage (:func:`plan_run`).  The
    folder is built under a temporary name and renamed into place when every stage has succeeded
    (:func:`gridcarbon.io.runfolder.atomic_directory`), so a failed, killed or interrupted run
    leaves nothing half-written; an existing folder is replaced only with ``overwrite=True``,
    and only if everything in it was written by gridcarbon.

    Parameters
    ----------
    config : RunConfig, optional
        Default: the embedded Zhejiang default.
    out_dir : path, optional
        Default: ``config.output.directory``.
    overwrite : bool
        Replace an existing output folder.
    progress : bool
        Show progress bars.
    inputs : paths
        Further input files (the configuration file) that the output folder must not hold.
    observations : ObservationSet or DataFrame, optional
        Observations for the inversion instead of ``inversion.observations`` (e.g. of further
        observation types); None: the configured file, else synthetic observations.
    scenario : Scenario, optional
        The region: grid, species, inventory, boundaries, land cover, stations, meteorology and
        control units (:class:`gridcarbon.contracts.Scenario`).  Default: the embedded Zhejiang
        default of ``config``.  It is built (or taken) once and handed to every stage; no stage
        reads the embedded data on its own.
    resume : bool
        Continue an interrupted streamed run (:func:`run_streamed`).
    client : distributed.Client, optional
        Workers for the prior's months and the zoning stage of a streamed run
        (:func:`dask_client`); a run that is not streamed does not use them.
    task_days : int or "auto", optional
        With ``client``: Dask tasks of that many days instead of whole months; ``"auto"``: as
        many as fit 60 % of a worker's memory limit (:func:`run_streamed`).

    A period longer than two months (:data:`STREAM_ABOVE_HOURS`) without the inversion, one
    longer than ``inversion.max_period_days`` with it, or ``resume``, runs streamed month by
    month and resumable (:func:`run_streamed`, which inverts each month on its own); with the
    inversion, periods up to ``inversion.max_period_days`` run in memory, inverted at once.

    Examples
    --------
    >>> import gridcarbon
    >>> result = gridcarbon.run(out_dir="out")  # doctest: +SKIP
    >>> sorted(result.stages)  # doctest: +SKIP
    ['inversion', 'maps', 'zoning']
    """
    config = RunConfig() if config is None else config
    out_dir = Path(config.output.directory if out_dir is None else out_dir)
    if resume or _streams(config):
        if observations is not None:
            raise ConfigError(
                "observations handed in from Python are not taken by a streamed (resumable) "
                "run, which inverts month by month: give them as inversion.observations (a "
                "file), or run a period of at most two months"
            )
        return run_streamed(
            config,
            out_dir,
            overwrite=overwrite,
            resume=resume,
            progress=progress,
            inputs=inputs,
            scenario=scenario,
            client=client,
            task_days=task_days,
        )
    if client is not None:
        log.warning("a period of at most two months runs in this process; the workers are unused")
    inputs = [*inputs, *(p for p, _ in config_input_files(config)), _package_data()]
    plan = plan_run(config, out_dir, overwrite, inputs=inputs, scenario=scenario)
    timings: dict[str, float] = {}
    with atomic_directory(out_dir, overwrite=overwrite, inputs=inputs) as tmp:
        t0 = time.perf_counter()
        prior = build_prior(config, plan.scenario, progress=progress)
        files = write_prior(config, prior, tmp)
        (tmp / "config.yaml").write_text(config.to_yaml(), encoding="utf-8")
        timings["prior"] = time.perf_counter() - t0
        result = RunResult(out_dir=out_dir, prior=prior, files=files, timings=timings)
        result.plan = plan
        for name, stage in _later_stages():
            if not getattr(config, name).enabled:
                log.info("stage %s disabled in the configuration", name)
                continue
            t0 = time.perf_counter()
            options = {"observations": observations} if name == "inversion" else {}
            result.stages[name] = stage(config, result, tmp, **options)
            timings[name] = time.perf_counter() - t0
        summary = {
            "prior": prior_summary(prior),
            "timings_s": timings,
            "stages": sorted(result.stages),
        }
        (tmp / "summary.json").write_text(
            json.dumps(summary, indent=2, default=str), encoding="utf-8"
        )
    result.files = {
        k: out_dir / Path(v).relative_to(tmp) if Path(v).is_relative_to(tmp) else v
        for k, v in result.files.items()
    }
    result.files["summary"] = out_dir / "summary.json"
    return result


def inversion_inputs(
    config: RunConfig,
    prior: xr.Dataset,
    with_observations: bool = True,
    scenario: Scenario | None = None,
) -> tuple[Any, Any]:
    """The scenario the inversion of ``prior`` sees and the configured observations.

    The scenario is ``scenario`` (default: the embedded default; on a prior of another grid: its
    land cover on the prior's grid, and no inventory), without its control units (the inversion
    does not depend on them), with the station table
    (``inversion.stations``) and the ERA5 meteorology (``inversion.meteorology``) of the
    configuration when given; the observations are those of ``inversion.observations`` read
    and checked against its stations (with ``with_observations``), else None (synthetic);
    with ``inversion.columns`` files, the observation set also (or only, without
    ``columns.with_stations``) holds their satellite overpasses
    (:func:`satellite_observation_kinds`).
    """
    from gridcarbon.grids.gridspec import GridSpec
    from gridcarbon.inversion.observations import (
        read_observations,
        read_stations,
        validate_stations,
    )
    from gridcarbon.inversion.stage import observation_set
    from gridcarbon.io.meteorology_file import DatasetMeteorology, read_era5

    ic = config.inversion
    scenario = default_scenario(config) if scenario is None else scenario
    grid = GridSpec.from_dataset(prior)
    extent = ("nx", "ny", "x_min", "y_max", "cell_size")
    if any(getattr(grid, a) != getattr(scenario.grid, a) for a in extent):
        # a prior of another grid (`invert --prior`): its land cover, and no inventory
        log.info("the prior's grid is not the configured one: no sector shares for the OSSE")
        from gridcarbon.scenario.landcover import landcover_fractions

        scenario = replace(scenario, grid=grid, landcover=landcover_fractions(grid), inventory=None)
    components = [c for c in scenario.synthetic_components if c != scenario.synthetic_units]
    if ic.stations is not None:
        stations = read_stations(ic.stations, known_species=scenario.species)
        components = [c for c in components if c != "station network"]
        scenario = replace(scenario, stations=stations)
    if ic.meteorology is not None:
        meteorology = DatasetMeteorology(read_era5(ic.meteorology))
        if not meteorology.synthetic:
            components = [c for c in components if c != "meteorology"]
        scenario = replace(scenario, meteorology=meteorology)
    scenario = replace(scenario, synthetic_components=tuple(components))
    observations = None
    if with_observations and ic.observations is not None:
        table = read_observations(
            ic.observations,
            validate_stations(scenario.stations, known_species=scenario.species),
            ic.observation_time_zone,
            ic.chemistry.voc_molar_mass_per_carbon,
            magnitude_check=ic.observation_magnitude_check,
            known_species=scenario.species,
        )
        observations = observation_set(table, scenario, ic, qa=table.attrs["observation_qa"])
    if with_observations and ic.columns.active:
        observations = _with_columns(ic, scenario, observations)
    return scenario, observations


def _with_columns(ic: Any, scenario: Scenario, stations: Any) -> Any:
    """The station observations (``inversion.columns.with_stations``) and the satellite
    columns of ``inversion.columns`` as one :class:`~gridcarbon.contracts.ObservationSet`."""
    from gridcarbon.contracts import ObservationSet

    columns = ic.columns
    if columns.with_stations and stations is None:
        raise ConfigError(
            "inversion.columns: the columns would be inverted with SYNTHETIC station "
            "observations of another truth (inversion.observations is not set); set "
            "inversion.observations to your station file for a joint inversion, or "
            "inversion.columns.with_stations: false to invert the columns alone"
        )
    from gridcarbon.inversion.columns import reactive_column_errors

    e = ic.errors
    kinds, info = satellite_observation_kinds(
        columns,
        scenario,
        **reactive_column_errors(e.column_scale_error, e.column_lifetime_error),
        **column_transport_errors(e),
    )
    if not kinds:
        raise ConfigError(
            f"inversion.columns: none of the {info['n_files']} satellite files has a usable "
            "pixel on the grid (see the log for each file's counts); nothing to assimilate"
        )
    qa = {"columns": info}
    synthetic = info["n_synthetic_files"] > 0
    if columns.with_stations:
        kinds = [*stations.kinds, *kinds]
        qa = {**stations.qa, **qa}
        synthetic = synthetic or bool(stations.synthetic)
    log.info(
        "assimilating %d satellite overpasses (%d pixels)%s",
        info["n_overpasses"],
        info["n_pixels"],
        " with the station observations" if columns.with_stations else " alone",
    )
    return ObservationSet(
        kinds=tuple(kinds), stations=scenario.stations, synthetic=synthetic, qa=qa
    )


def column_transport_errors(errors: Any) -> dict[str, Any]:
    """The column operator's transport-error settings for the ``errors`` section
    (``inversion.errors``): the wind-speed error on the urban and rural enhancement
    (``column_wind_speed_error``, 1-σ ``model_error_wind_speed_rel``; with
    ``column_wind_speed_shape`` as plumes recomputed at its nodes, correlated as
    ``column_wind_speed_shape_correlation``) and the plume-shape
    error (``column_wind_direction_error``, 1-σ ``model_error_wind_direction_deg`` over
    ``quadrature_nodes`` nodes, tapered at ``column_shape_localisation_km``; with
    ``column_expected_plume`` H the nodes' mean; with ``column_wind_direction_fit`` a turn
    fitted per overpass or per tile of ``column_wind_direction_fit_tile_km``) and the
    mixing-height error (``column_mixing_height_error``, 1-σ ``model_error_mixing_height_rel``,
    in R instead of the state's daily scale in H), and the sampling of the auxiliary operators
    those terms build (``column_auxiliary_sampling``); zeros for the switches that are off."""
    return {
        "wind_speed_error_rel": (
            errors.model_error_wind_speed_rel if errors.column_wind_speed_error else 0.0
        ),
        "wind_speed_shape": errors.column_wind_speed_shape,
        "wind_speed_shape_correlation": errors.column_wind_speed_shape_correlation,
        "wind_direction_error_deg": (
            errors.model_error_wind_direction_deg if errors.column_wind_direction_error else 0.0
        ),
        "wind_direction_fit": errors.column_wind_direction_fit,
        "wind_direction_fit_prior": errors.column_wind_direction_fit_prior,
        "wind_direction_fit_tile_km": errors.column_wind_direction_fit_tile_km,
        "shape_localisation_km": errors.column_shape_localisation_km,
        "quadrature_nodes": errors.quadrature_nodes,
        "expected_plume": errors.column_expected_plume,
        "mixing_height_error_rel": (
            errors.model_error_mixing_height_rel if errors.column_mixing_height_error else 0.0
        ),
        "auxiliary_sampling": errors.column_auxiliary_sampling,
    }


def column_model_settings(columns: Any) -> dict[str, Any]:
    """The column operator's settings of ``inversion.columns`` shared by the files' overpasses
    and the OSSE's simulated ones: its downwind truncation, its NO2/NOx ratio and its
    air-mass-factor error."""
    return {
        "truncation_km": columns.truncation_km,
        "photostationary_no2": columns.no2_conversion == "photostationary",
        "amf_error_rel": columns.amf_error_rel,
        "amf_correlation_km": columns.amf_correlation_km,
        "amf_correlation_shape": columns.amf_correlation_shape,
    }


def osse_column_settings(config: Any) -> tuple[Any, Any]:
    """The column operator's settings for the OSSE's simulated overpasses: the minimum upwind
    fetch of ``osse.satellite_min_upwind_fetch_km``, the pixels kept alone near the stacks
    (``columns.stack_pixels_km``) and the transport errors of ``errors``
    (:func:`column_transport_errors`) for every column, and for the NO2 columns also their
    overpass-wide scale and lifetime errors (``errors.column_scale_error``,
    ``errors.column_lifetime_error``).

    Parameters
    ----------
    config : InversionConfig

    Returns
    -------
    ColumnSettings, ColumnSettings
        The XCO2 columns' settings and the NO2 columns'.
    """
    from gridcarbon.inversion.columns import ColumnSettings, reactive_column_errors

    e = config.errors
    xco2 = ColumnSettings(
        min_upwind_fetch_km=config.osse.satellite_min_upwind_fetch_km,
        stack_pixels_km=config.columns.stack_pixels_km,
        **column_model_settings(config.columns),
        **column_transport_errors(e),
    )
    # the overpass-wide scale (NO2/NOx ratio, lifetime, AMF) and the lifetime are the NO2
    # columns' only
    no2 = replace(xco2, **reactive_column_errors(e.column_scale_error, e.column_lifetime_error))
    return xco2, no2


def satellite_observation_kinds(
    columns: Any,
    scenario: Scenario,
    *,
    scale_error_rel: float = 0.0,
    lifetime_error_rel: float = 0.0,
    wind_speed_error_rel: float = 0.0,
    wind_speed_shape: bool = False,
    wind_speed_shape_correlation: str = "tapered",
    wind_direction_error_deg: float = 0.0,
    wind_direction_fit: bool = False,
    wind_direction_fit_prior: str = "pointwise",
    wind_direction_fit_tile_km: float | None = None,
    shape_localisation_km: float = 100.0,
    quadrature_nodes: int = 3,
    expected_plume: bool = False,
    mixing_height_error_rel: float = 0.0,
    auxiliary_sampling: str = "full",
) -> tuple[list[Any], dict]:
    """The overpasses of ``inversion.columns``' files as column observation types.

    Every pattern is expanded (sorted; a pattern or file that matches nothing is refused);
    each file is read on the scenario's grid (pixels wholly inside it, the products' quality
    rules) and is one overpass.  A file without a usable pixel gives no observation type (the
    reader logs why).

    Parameters
    ----------
    columns : ColumnsConfig
        ``inversion.columns``.
    scenario : Scenario
        Its grid, species and meteorology.
    scale_error_rel : float
        The NO2 overpasses' overpass-wide scale error (``errors.column_scale_error``: the
        column operator's ``scale_error_rel``); XCO2 has none.
    lifetime_error_rel : float
        The NO2 overpasses' NOx lifetime error (``errors.column_lifetime_error``: the column
        operator's ``lifetime_error_rel``); XCO2 has none.
    wind_speed_error_rel : float
        Every overpass's wind-speed error on its urban and rural enhancement
        (``errors.column_wind_speed_error``: the column operator's ``wind_speed_error_rel``).
    wind_speed_shape, wind_speed_shape_correlation
        That term as plumes recomputed at its nodes, and its correlation
        (``errors.column_wind_speed_shape`` and ``column_wind_speed_shape_correlation``: the
        column operator's settings of those names).
    wind_direction_error_deg, shape_localisation_km, quadrature_nodes, expected_plume
        Every overpass's plume-shape error (``errors.column_wind_direction_error``: the column
        operator's settings of the same names; :func:`column_transport_errors`).
    wind_direction_fit, wind_direction_fit_prior, wind_direction_fit_tile_km
        Fit a wind turn per overpass (or per tile of that side, km), and the σ of its prior
        (``errors.column_wind_direction_fit``, ``column_wind_direction_fit_prior`` and
        ``column_wind_direction_fit_tile_km``: the column operator's settings of those names).
    mixing_height_error_rel : float
        Every overpass's mixing-height error in R instead of the state's daily scale in H
        (``errors.column_mixing_height_error``: the column operator's setting of that name).
    auxiliary_sampling : {'full', 'coarse'}
        The sampling of the operators built only for those terms
        (``errors.column_auxiliary_sampling``: the column operator's setting of that name).

    Returns
    -------
    list of ColumnObservations, dict
        The observation types and counts (``n_files``, ``n_overpasses``, ``n_pixels``,
        ``n_synthetic_files``, ``files``).
    """
    import glob

    from gridcarbon.inversion.columns import ColumnObservations, ColumnPixels, ColumnSettings
    from gridcarbon.io.satellite import read_oco_lite, read_tropomi_no2
    from gridcarbon.species import CO2, NOX

    xco2_settings = ColumnSettings(
        superobservation_km=columns.superobservation_km,
        stack_pixels_km=columns.stack_pixels_km,
        min_upwind_fetch_km=columns.min_upwind_fetch_km,
        **column_model_settings(columns),
        wind_speed_error_rel=wind_speed_error_rel,
        wind_speed_shape=wind_speed_shape,
        wind_speed_shape_correlation=wind_speed_shape_correlation,
        wind_direction_error_deg=wind_direction_error_deg,
        wind_direction_fit=wind_direction_fit,
        wind_direction_fit_prior=wind_direction_fit_prior,
        wind_direction_fit_tile_km=wind_direction_fit_tile_km,
        shape_localisation_km=shape_localisation_km,
        quadrature_nodes=quadrature_nodes,
        expected_plume=expected_plume,
        mixing_height_error_rel=mixing_height_error_rel,
        auxiliary_sampling=auxiliary_sampling,
    )
    no2_settings = replace(
        xco2_settings, scale_error_rel=scale_error_rel, lifetime_error_rel=lifetime_error_rel
    )
    held = {sp.name for sp in scenario.species}
    products = (
        (
            "tropomi_no2",
            columns.tropomi_no2,
            read_tropomi_no2,
            NOX,
            "vertical_column",
            None,
            no2_settings,
        ),
        (
            "oco_lite",
            columns.oco_lite,
            read_oco_lite,
            CO2,
            "dry_air_mole_fraction",
            columns.water_vapour_column_kg_m2,
            xco2_settings,
        ),
    )
    kinds: list[Any] = []
    info = {"n_files": 0, "n_overpasses": 0, "n_pixels": 0, "n_synthetic_files": 0, "files": []}
    # a file listed twice is read once; two files holding the same measurements are refused
    read_paths: set[Path] = set()
    names: dict[str, str] = {}
    measurements: dict[tuple, str] = {}
    for key, patterns, reader, species, quantity, water, settings in products:
        if patterns and species.name not in held:
            raise ConfigError(
                f"inversion.columns.{key} observes {species.name}, which this run's species "
                f"{sorted(held)} do not include; add it to the species or drop the files"
            )
        for pattern in patterns:
            paths = sorted(glob.glob(str(pattern))) if glob.has_magic(str(pattern)) else [pattern]
            if not paths or not Path(paths[0]).exists():
                raise ConfigError(
                    f"inversion.columns.{key}: {str(pattern)!r} matches no file; give existing "
                    "files or a glob pattern (*, ?) that matches them"
                )
            for path in paths:
                resolved = Path(path).resolve()
                if resolved in read_paths:
                    log.info("%s: matched more than once in inversion.columns; read once", path)
                    continue
                read_paths.add(resolved)
                read = reader(path, grid=scenario.grid)
                info["n_files"] += 1
                info["n_synthetic_files"] += int(read.synthetic)
                n = int(read.value.size)
                info["files"].append({"file": str(path), "n_pixels": n})
                if n == 0:  # the reader has said why, in one log line
                    continue
                _refuse_repeated_measurements(read, str(path), key, names, measurements)
                kinds.append(
                    ColumnObservations(
                        ColumnPixels.from_satellite(read, water),
                        species,
                        quantity,
                        scenario.meteorology,
                        settings,
                        name=Path(path).name,
                    )
                )
                info["n_overpasses"] += 1
                info["n_pixels"] += n
    return kinds, info


def _refuse_repeated_measurements(
    read: Any, path: str, key: str, names: dict[str, str], measurements: dict[tuple, str]
) -> None:
    """Refuse a column file whose name, or any of whose used measurements, an earlier file of
    the run already has: its observation type is named after the file, and assimilating a
    measurement twice (the near-real-time and offline versions of one orbit, a granule copied
    into two folders) halves its error as if it were two.  A TROPOMI measurement is its
    scanline time and ground pixel, an OCO one its time and footprint centre (to 100 m).  ``names`` and
    ``measurements`` (what the earlier files hold → their path) are updated in place."""
    name = Path(path).name
    if name in names:
        raise ConfigError(
            f"inversion.columns.{key}: {path} and {names[name]} have the same file name; each "
            "file is an observation type named after it. Keep one of them, or rename one if "
            "they really are different overpasses"
        )
    names[name] = path
    times = np.asarray(read.time, "datetime64[ns]").astype(np.int64).tolist()
    if "ground_pixel" in read.extra:
        where = [np.asarray(read.extra["ground_pixel"]).tolist()]
    else:
        # OCO's sounding_id is optional to the reader: the footprint's centre to 100 m instead
        centre = read.polygons.centroid
        where = [np.round(centre.x.to_numpy() / 100.0).tolist()]
        where.append(np.round(centre.y.to_numpy() / 100.0).tolist())
    keys = [(read.product, *k) for k in zip(times, *where, strict=True)]
    earlier = next((measurements[k] for k in keys if k in measurements), None)
    if earlier is not None:
        repeated = sum(k in measurements for k in keys)
        raise ConfigError(
            f"inversion.columns.{key}: {path} holds {repeated} of the {len(keys)} usable "
            f"measurements of {earlier} (the same orbit or soundings, e.g. the near-real-time "
            "and offline versions of one orbit): assimilating both would count them twice. "
            "Keep one of the two files"
        )
    measurements.update(dict.fromkeys(keys, path))


#: The simulated imager's random stream (swath, clouds, noise) is the replicate's seed plus
#: this, apart from the TROPOMI files' (the replicate's seed; replicate seeds are consecutive).
_IMAGER_SEED_OFFSET = 1_000_003


def _truth_attributes(path: Path, names: set[str], option: str) -> dict[str, str]:
    """The synthetic writer's ``truth_*`` attributes ``names`` of the file at ``path``, for the
    OSSE's diagnostic ``option``; a file without them is refused (ConfigError)."""
    from gridcarbon.io.satellite import read_global_attributes

    attrs = read_global_attributes(path)
    missing = names - set(attrs)
    if missing:
        raise ConfigError(
            f"{path} lacks the attributes {sorted(missing)}: the truth's values are known "
            f"only for files of the synthetic writer ({option})"
        )
    return attrs


def truth_chemistry_settings(path: Path, settings: Any, parts: str = "lifetime+ratio") -> Any:
    """``settings`` (:class:`~gridcarbon.inversion.columns.ColumnSettings`) with the NOx
    lifetime (h) and the flat NO2/NOx ratio of the truth that the synthetic writer recorded in
    the file at ``path`` (``truth_nox_lifetime_h``, ``truth_no2_nox_ratio``): the OSSE's
    diagnostic ``osse.satellite_truth_chemistry``, which hands the truth's chemistry over —
    both, or only the ``"lifetime"`` or the ``"ratio"`` (``parts``,
    ``osse.satellite_truth_chemistry_parts``).

    Raises
    ------
    ConfigError
        When the file lacks those attributes (it is not a file of the synthetic writer).
    """
    if parts not in ("lifetime+ratio", "lifetime", "ratio"):
        raise ConfigError(
            f"osse.satellite_truth_chemistry_parts = {parts!r}: 'lifetime+ratio', 'lifetime' "
            "or 'ratio'"
        )
    attrs = _truth_attributes(
        path, {"truth_nox_lifetime_h", "truth_no2_nox_ratio"}, "osse.satellite_truth_chemistry"
    )
    handed = {}
    if "lifetime" in parts:
        handed["lifetime_h"] = float(attrs["truth_nox_lifetime_h"])
    if "ratio" in parts:
        handed["no2_ratio"] = float(attrs["truth_no2_nox_ratio"])
    return dataclasses.replace(settings, **handed)


def truth_wind_settings(path: Path, settings: Any) -> Any:
    """``settings`` (:class:`~gridcarbon.inversion.columns.ColumnSettings`) with the one wind
    ``(u, v)`` (m s⁻¹) that carried every plume of the truth's columns, as the synthetic writer
    recorded it in the file at ``path`` (``truth_wind_u_v_m_s``: 1.4 × the domain-mean 10 m
    wind, at least 1.5 m s⁻¹), as ``plume_wind_m_s``: the OSSE's diagnostic
    ``osse.satellite_truth_wind``, which hands the truth's transport wind over.

    Raises
    ------
    ConfigError
        When the file lacks that attribute (it is not a file of the synthetic writer).
    """
    attrs = _truth_attributes(path, {"truth_wind_u_v_m_s"}, "osse.satellite_truth_wind")
    text = attrs["truth_wind_u_v_m_s"]
    try:
        u, v = (float(part) for part in text.split())
    except ValueError:
        raise ConfigError(
            f"{path}: truth_wind_u_v_m_s = {text!r} is not two numbers 'u v' (m s-1) "
            "(osse.satellite_truth_wind)"
        ) from None
    return dataclasses.replace(settings, plume_wind_m_s=(u, v))


def _truth_settings(path: Path, settings: Any, osse: Any, *, reactive: bool) -> Any:
    """The column settings of one simulated file with what the OSSE's diagnostics hand over
    from its truth (``osse.satellite_truth_chemistry`` for a reactive product,
    ``osse.satellite_truth_wind`` for both)."""
    if reactive and osse.satellite_truth_chemistry:
        settings = truth_chemistry_settings(path, settings, osse.satellite_truth_chemistry_parts)
    if osse.satellite_truth_wind:
        settings = truth_wind_settings(path, settings)
    return settings


def operator_lateral_spread(system: Any, met: Any, when: Any) -> Any:
    """The column operator's lateral plume spread at an overpass, for the simulated files
    (the DIAGNOSTIC ``osse.satellite_operator_lateral_spread``; SYNTHETIC).

    The operator spreads each pixel's plumes with the σ_y of the pixel's own Turner class; the
    writer's one convolution per overpass takes the class most cells of the grid have at the
    overpass hour (10 m wind, sun elevation and cloud cover at each cell centre), ISC3 rural
    σ_y for sources in rural cells and Briggs urban σ_y in urban ones
    (``system.urban``, the dispersion's own rule).

    Parameters
    ----------
    system : ObservationSystem
        Its grid and urban cells.
    met : xarray.Dataset
        The met of the overpass's day (``scenario.meteorology.for_hours``).
    when : Timestamp
        The overpass time, UTC.

    Returns
    -------
    LateralSpread
    """
    import pandas as pd

    from gridcarbon.inversion.dispersion import CLASS_NAMES, sigma_y_rural, sigma_y_urban
    from gridcarbon.inversion.meteorology import met_on_grid, with_cloud_cover
    from gridcarbon.scenario.satellite_synthetic import LateralSpread

    hour = met_on_grid(with_cloud_cover(met), system.grid, pd.DatetimeIndex([when]))
    k = int(np.bincount(hour.stability[0].astype(np.int64), minlength=6).argmax())
    return LateralSpread(
        rural=lambda x: sigma_y_rural(k, x),
        urban=lambda x: sigma_y_urban(k, x),
        urban_cells=np.asarray(system.urban, bool).reshape(system.grid.ny, system.grid.nx),
        description=f"the column operator's ISC3 rural / Briggs urban sigma_y, class "
        f"{CLASS_NAMES[k]} (the grid's most common at the overpass)",
    )


def osse_column_simulator(
    scenario: Scenario,
    config: Any,
    work_dir: str | Path | None = None,
    files_dir: str | Path | None = None,
) -> Callable[[Any, Any, int], Any]:
    """The satellite columns of an OSSE replicate, made from its own truth
    (``inversion.osse.satellite``; :func:`gridcarbon.inversion.osse.run_osse`'s
    ``column_simulator``).  SYNTHETIC.

    ``tropomi_no2``: one TROPOMI NO2 overpass a day of the period (13:30 local solar time),
    simulated by :func:`gridcarbon.scenario.satellite_synthetic.write_synthetic_tropomi_no2`
    from the replicate's truth emissions at the overpass hour (everything its stations see:
    area sources, the point sources in each cell, the neighbouring regions' inflow and the
    biogenic flux, :meth:`~gridcarbon.inversion.osse.Truth.emissions_at`, kg h-1), with the writer's own transport, vertical profile and NO2/NOx
    ratio (0.75 × U(0.8, 1.2) a day), its lifetime (3 h) × a factor drawn log-uniform in
    ``osse.satellite_lifetime_factor_range`` per replicate, its along-swath correlated
    air-mass-factor error (``osse.satellite_amf_error_sigma``) and slant-column noise (×
    ``osse.satellite_noise_scale``), clouds and swath drawn from the replicate's seed; written
    in the S5P L2 layout to a temporary folder (in ``work_dir`` when given), read back by
    :func:`gridcarbon.io.satellite.read_tropomi_no2` on the system's grid and turned into one
    :class:`~gridcarbon.inversion.columns.ColumnObservations` of NOx per overpass (with
    ``errors.column_scale_error`` their error covariance carries the overpass-wide scale error,
    :data:`~gridcarbon.inversion.columns.REACTIVE_COLUMN_SCALE_ERROR_REL`).

    ``co2m_xco2``: a CO2M-like XCO2 imager swath (11:30 local solar time) every
    ``osse.satellite_imager_every_days`` from the period's first overpass, simulated by
    :func:`~gridcarbon.scenario.satellite_synthetic.write_synthetic_oco_lite` from the truth's
    CO2 at the overpass hour with the writer's own physics (its vertical profile and kernel,
    its XCO2 bias of 0.5 ppm + 0.5 ppm per 100 km, 0.7 ppm noise, clouds: usable below a cloud
    fraction of 0.01), written in the OCO Lite layout, read back by
    :func:`~gridcarbon.io.satellite.read_oco_lite` and turned into one observation type of CO2
    dry-air mole fractions per overpass.  The writer takes the whole column as dry air, so the
    operator's dry-air column is given no water vapour.  ``tropomi_no2+co2m_xco2``: both.

    Parameters
    ----------
    scenario : Scenario
        Its meteorology (the writer's wind, mixing height and cloud; the column operator's met).
    config : InversionConfig
        ``config.osse`` holds the satellite settings.
    work_dir : path, optional
        Where the temporary files go (default: the system's temporary folder).
    files_dir : path, optional
        A folder where the files are written and kept instead (the product's own file names,
        e.g. for reading them with another tool, as ``benchmarks/ddeq_compare.py`` does); a
        file already there is never replaced (:class:`~gridcarbon.errors.OutputExistsError`).

    Returns
    -------
    callable
        ``simulate(system, truth, seed) -> ColumnSimulation``.
    """
    import tempfile

    import pandas as pd

    from gridcarbon.inversion.columns import ColumnObservations, ColumnPixels
    from gridcarbon.inversion.osse import ColumnSimulation
    from gridcarbon.io.satellite import read_oco_lite, read_tropomi_no2
    from gridcarbon.scenario import satellite_synthetic as ss
    from gridcarbon.species import CO2, NOX

    o = config.osse
    products = set(o.satellite.split("+")) - {"none"}
    if not products:
        raise ConfigError("osse.satellite = 'none': no OSSE columns to make")
    xco2_settings, settings = osse_column_settings(config)

    def cell_emissions(system: Any, truth: Any, species: str, hour: int) -> np.ndarray:
        if species not in system.species:
            return np.zeros(system.ncell)
        return truth.emissions_at(system, system.species.index(species), hour)

    def spread_at(system: Any, met: Any, when: Any) -> Any:
        if not o.satellite_operator_lateral_spread:
            return None
        return operator_lateral_spread(system, met, when)

    def simulate(system: Any, truth: Any, seed: int) -> Any:
        for product, species in (("tropomi_no2", NOX), ("co2m_xco2", CO2)):
            if product in products and species.name not in system.species:
                raise ConfigError(
                    f"osse.satellite = {o.satellite!r} observes {species.name}, which the "
                    f"inversion's state {system.species} does not hold"
                )
        rng = np.random.default_rng([seed, 14])
        low, high = np.log(o.satellite_lifetime_factor_range)
        factor = float(np.exp(rng.uniform(low, high)))
        times = pd.DatetimeIndex(system.times)
        kinds, n_files, n_pixels = [], 0, 0

        def hour_of(when: pd.Timestamp) -> int | None:
            hour = int(np.floor((when - times[0]) / pd.Timedelta(hours=1)))
            return hour if 0 <= hour < len(times) else None

        def fluxes_at(when: pd.Timestamp) -> Any:
            hour = hour_of(when)
            if hour is None:
                return None
            return ss.fluxes_from_emissions(
                system.grid,
                cell_emissions(system, truth, CO2.name, hour),
                cell_emissions(system, truth, NOX.name, hour),
            )

        days = times.normalize().unique()
        in_period = [
            d for d in days if hour_of(ss.imager_overpass_time(system.grid, d)) is not None
        ]
        imager_days = set(in_period[:: o.satellite_imager_every_days])
        folders = (
            tempfile.TemporaryDirectory(dir=work_dir)
            if files_dir is None
            else contextlib.nullcontext(files_dir)
        )
        with folders as folder:
            for day in days:
                met = scenario.meteorology.for_hours(pd.date_range(day, periods=24, freq="h"))
                made = []
                when = ss.tropomi_overpass_time(system.grid, day)
                fluxes = fluxes_at(when)
                if "tropomi_no2" in products and fluxes is not None:
                    path = ss.write_synthetic_tropomi_no2(
                        Path(folder) / ss.tropomi_file_name(day),
                        grid=system.grid,
                        fluxes=fluxes,
                        met=met,
                        date=day,
                        seed=seed,
                        amf_error_sigma=o.satellite_amf_error_sigma,
                        free_troposphere_no2_mol_m2=o.satellite_no2_free_troposphere_mol_m2,
                        lifetime_factor=factor,
                        noise_scale=o.satellite_noise_scale,
                        lateral_spread=spread_at(system, met, when),
                    )
                    read = read_tropomi_no2(path, grid=system.grid)
                    # the diagnostics: the truth's own chemistry and wind, if asked for
                    day_settings = _truth_settings(path, settings, o, reactive=True)
                    made.append(
                        (read, NOX, "vertical_column", None, day_settings, f"s5p_{day:%Y%m%d}")
                    )
                if "co2m_xco2" in products and day in imager_days:
                    when = ss.imager_overpass_time(system.grid, day)
                    fluxes = fluxes_at(when)
                    path = ss.write_synthetic_oco_lite(
                        Path(folder) / f"co2m_like_LtCO2_{day:%y%m%d}.nc4",
                        grid=system.grid,
                        fluxes=fluxes,
                        met=met,
                        date=day,
                        seed=seed + _IMAGER_SEED_OFFSET,
                        lateral_spread=spread_at(system, met, when),
                    )
                    read = read_oco_lite(path, grid=system.grid)
                    made.append(
                        (
                            read,
                            CO2,
                            "dry_air_mole_fraction",
                            0.0,
                            _truth_settings(path, xco2_settings, o, reactive=False),
                            f"co2m_{day:%Y%m%d}",
                        )
                    )
                for read, species, quantity, water, product_settings, name in made:
                    n_files += 1
                    if not read.value.size:
                        continue
                    n_pixels += int(read.value.size)
                    kinds.append(
                        ColumnObservations(
                            ColumnPixels.from_satellite(read, water),
                            species,
                            quantity,
                            scenario.meteorology,
                            product_settings,
                            name=name,
                        )
                    )
        info = {"satellite_lifetime_factor": factor, "n_files": n_files, "n_pixels": n_pixels}
        return ColumnSimulation(kinds, info)

    return simulate


def _inversion_stage(
    config: RunConfig, result: RunResult, out_dir: Path, observations: Any = None
) -> Any:
    from gridcarbon.inversion.outputs import inversion_documents
    from gridcarbon.inversion.stage import run_inversion
    from gridcarbon.io.outputs import write_documents

    scenario, configured = inversion_inputs(
        config, result.prior, observations is None, result.scenario
    )
    inversion = run_inversion(
        result.prior,
        scenario,
        config.inversion,
        configured if observations is None else observations,
    )
    write_documents(inversion_documents(inversion, grid_formats(config)), out_dir)
    return inversion


def _zoning_stage(config: RunConfig, result: RunResult, out_dir: Path) -> Any:
    from gridcarbon.contracts import RUN_FILES

    inv = result.stages.get("inversion")
    grids = inv.posterior if inv is not None else result.prior
    covariance = None if inv is None else inv.covariance
    kind = "prior" if inv is None else "posterior"
    synergy = None
    if config.synergy.zone_report.enabled:

        def synergy(zoning: Any) -> Any:
            result.stages["synergy"] = zone_synergy(config, result.prior, zoning, out_dir)
            return result.stages["synergy"]

    zoning, files = zone_report(
        config,
        grids,
        result.plan.zoning,
        out_dir,
        covariance=covariance,
        grids_kind=kind,
        synergy=synergy,
    )
    result.files.update({f.role: files[f.name] for f in RUN_FILES if f.name in files})
    return zoning


def check_zone_synergy(config: RunConfig, stages: Iterable[str]) -> None:
    """Refuse (:class:`~gridcarbon.errors.ConfigError`) synergy sections of the zone report that
    the run cannot make: they need the inversion (the co-control correlation is computed on the
    posterior's departures from the prior) and the zones; an allocation needs its table."""
    from gridcarbon.errors import ConfigError

    zr = config.synergy.zone_report
    if not zr.enabled:
        return
    missing = [s for s in ("inversion", "zoning") if s not in stages]
    if missing:
        raise ConfigError(
            f"synergy.zone_report.enabled needs the {' and '.join(missing)} stage(s): the "
            "co-control section compares the posterior with the prior per unit; enable them, or "
            "set synergy.zone_report.enabled: false"
        )
    if zr.base_run is not None:
        from gridcarbon.contracts import run_file_name
        from gridcarbon.errors import InputFileError

        tally = Path(zr.base_run) / run_file_name("tally_daily_nc")
        if not tally.is_file():
            raise InputFileError(
                f"synergy.zone_report.base_run {str(zr.base_run)!r} holds no {tally.name}: give "
                "a folder written by `gridcarbon run` with the zones on the same units"
            )


def zone_synergy(config: RunConfig, prior: xr.Dataset, zoning: Any, folder: Path) -> Any:
    """The synergy sections of the zone report and layers of the map
    (:func:`gridcarbon.synergy.zone_sections.zone_synergy_outputs`) for a run's zoning result.

    The posterior's daily unit totals are the zoning stage's; the prior is tallied here over the
    same overlay.  The inputs ``synergy.zone_report`` names (base run, facility table,
    thresholds, allocation table) are read here; without a facility table and with
    ``rate_run_point_sources`` the run's own point sources (``prior_point_sources.csv`` in
    ``folder``) are rated with synthetic attributes.
    """
    import geopandas as gpd
    import pandas as pd

    from gridcarbon.errors import InputDataError
    from gridcarbon.io.synergy_files import (
        read_entity_table,
        read_facility_table,
        read_run_daily_tally,
        read_run_point_sources,
        read_table,
    )
    from gridcarbon.synergy.rating import synthetic_facility_attributes
    from gridcarbon.synergy.zone_sections import zone_synergy_outputs
    from gridcarbon.zoning.tally import tally_at, zone_tally

    zr = config.synergy.zone_report
    names = [s.name for s in zoning.species]
    codes = [str(c) for c in zoning.tally_day["unit"].values]
    gdf = zoning.units.set_index(zoning.units["unit_code"].astype(str)).loc[codes]
    inside = gpd.GeoSeries(gdf.geometry, crs=gdf.crs).representative_point().to_crs("EPSG:4326")
    units = pd.DataFrame(
        {
            "unit_code": codes,
            "unit_name": gdf["unit_name"].astype(str).to_numpy(),
            "county_code": gdf["county_code"].astype(str).to_numpy(),
            "city_code": gdf["city_code"].astype(str).to_numpy(),
            "lon": inside.x.to_numpy(),
            "lat": inside.y.to_numpy(),
        }
    )
    prior_day = tally_at(
        zone_tally(prior, zoning.overlay, gdf.reset_index(drop=True), names), "day", names
    )
    days = pd.DatetimeIndex(zoning.tally_day["day"].values)
    posterior = {sp: zoning.tally_day[sp].values.astype(np.float64) for sp in names}
    prior_daily = {sp: prior_day[sp].sel(unit=codes).values.astype(np.float64) for sp in names}
    base = None
    if zr.base_run is not None:
        base = {}
        for sp in names:
            values = read_run_daily_tally(zr.base_run, sp, codes)
            if values is None:
                raise InputDataError(
                    f"{str(zr.base_run)!r} (synergy.zone_report.base_run) holds no "
                    "zone_tally_daily.nc: give a folder written by `gridcarbon run` with zones"
                )
            base[sp] = values.astype(np.float64)
    facilities, synthetic_attributes = None, False
    if zr.facilities is not None:
        facilities = read_facility_table(zr.facilities)
    elif zr.rate_run_point_sources:
        points = read_run_point_sources(folder)
        facilities = synthetic_facility_attributes(points).merge(
            points.rename(
                columns={"point_id": "facility_id", "point_lon": "lon", "point_lat": "lat"}
            )[["facility_id", "lon", "lat"]],
            on="facility_id",
            how="left",
        )
        synthetic_attributes = True
    thresholds = None if zr.rating_thresholds is None else read_table(zr.rating_thresholds)
    allocation = None
    if zr.allocation is not None:
        allocation = read_entity_table(zr.allocation.table, zr.allocation.id_column)
    return zone_synergy_outputs(
        units,
        days,
        prior_daily,
        posterior,
        config.synergy,
        base_posterior=base,
        facilities=facilities,
        thresholds=thresholds,
        synthetic_attributes=synthetic_attributes,
        allocation_table=allocation,
        synthetic=str(prior.attrs.get("synthetic", "true")).lower() == "true",
    )


@dataclass(frozen=True)
class ZoningInputs:
    """What the zoning stage needs besides the grids: the control units (read and checked) and
    their QA, the region in the grid's CRS, the county and city boundaries (lon/lat), and, when
    the units are synthetic, the component named in every output's ``synthetic_components``."""

    units: Any
    qa: Any
    region: Any
    counties: Any
    cities: Any
    synthetic_units: str = ""


def zoning_inputs(config: RunConfig, grid: Any, scenario: Scenario | None = None) -> ZoningInputs:
    """The control units on ``grid`` (``zoning.units_path`` read through
    :mod:`gridcarbon.io.units_file`, else the scenario's own units), checked against the
    scenario's region and boundaries.  Cheap next to the stage: the run reads them first, so that
    a bad unit file is refused before any work.

    ``scenario``: the region (default: the embedded Zhejiang default with its synthetic units).
    """
    from gridcarbon.zoning.normalise import control_units

    if scenario is None:
        scenario = default_scenario(config, with_units=config.zoning.units_path is None)
    zoning = config.zoning
    region = None
    if zoning.qa_region != "none":
        region = _in_crs(scenario.region, scenario.grid.crs, grid.crs)
    counties, cities = scenario.boundaries["county"], scenario.boundaries["city"]
    name, synthetic = None, ""
    if zoning.units_path is None:
        if scenario.control_units is None:
            raise ConfigError(
                f"the {scenario.name} scenario brings no control units: set zoning.units_path "
                "to your units file (GeoPackage, shapefile or GeoJSON), or zoning.enabled: false"
            )
        source = scenario.control_units
        synthetic = scenario.synthetic_units
        # named by the scenario's own label of them: "embedded synthetic units (<where from>)"
        name = (
            "embedded synthetic " + synthetic.removeprefix("control ")
            if synthetic
            else f"control units of the {scenario.name} scenario"
        )
        zoning = zoning.model_copy(update={"check_offset": False})  # meant for users' files
    else:
        source = zoning.units_path
    units, qa = control_units(
        source, zoning, grid, counties=counties, cities=cities, region=region, source_name=name
    )
    return ZoningInputs(units, qa, region, counties, cities, synthetic)


def _in_crs(geometry: Any, crs: Any, target: Any) -> Any:
    """``geometry`` (in ``crs``) in the ``target`` CRS."""
    import geopandas as gpd

    if crs == target:
        return geometry
    return gpd.GeoSeries([geometry], crs=crs).to_crs(target).iloc[0]


#: What the zone outputs say they tallied, by the kind of grids.
_FIGURES = {
    "posterior": "posterior emissions (the prior corrected by a station inversion; "
    "σ from its posterior covariance)",
    "prior": "prior emissions (the inventory, not corrected by observations)",
}


def zone_report(
    config: RunConfig,
    grids: xr.Dataset,
    inputs: ZoningInputs,
    folder: Path,
    *,
    covariance: Any = None,
    grids_kind: str = "prior",
    grids_path: Path | None = None,
    synergy: Callable[[Any], Any] | None = None,
    blocks: Iterable[xr.Dataset] | None = None,
    overwrite: bool = False,
    stream: Callable[..., Any] | None = None,
) -> tuple[Any, dict[str, Path]]:
    """Run the zoning stage on ``grids`` and write its documents into ``folder``.

    Returns the :class:`~gridcarbon.contracts.ZoningResult` and the files written, by name.
    ``grids_path``: the file the grids came from (its checksum goes into the provenance).
    ``synergy``: called with the zoning result, returns the synergy outputs whose ``sections``
    join the report (:func:`zone_synergy`; only ``gridcarbon run`` has the prior it needs).
    ``blocks``: the grids' data in blocks of whole Beijing months (``grids`` then gives the grid
    only; :func:`gridcarbon.zoning.stage.run_zoning`).  ``overwrite``: replace files of the same
    names (a resumed run's own).  ``stream``: in place of ``blocks``, the period's fields
    computed elsewhere (:func:`gridcarbon.zoning.distributed.zoning_stream`: on Dask workers).
    """
    from gridcarbon.contracts import run_file_name
    from gridcarbon.errors import InputDataError
    from gridcarbon.io.coverage_cache import CoverageCacheDir
    from gridcarbon.io.outputs import write_documents
    from gridcarbon.io.provenance import file_sha256, gridcarbon_version
    from gridcarbon.zoning.report import provenance_record, zoning_documents
    from gridcarbon.zoning.stage import run_zoning

    species = tuple(s for s in config.species_values() if s.name in grids.data_vars)
    if not species:
        raise InputDataError(
            f"the grids hold none of the species {list(config.species)}; give emission grids "
            "written by `gridcarbon grid` or the posterior"
        )
    checksums = {}
    for role, path in (("units", config.zoning.units_path), ("grids", grids_path)):
        if path is not None and Path(path).exists():
            checksums[f"{role}:{Path(path).name}"] = file_sha256(path)

    def provenance_of(qa: Any) -> dict[str, str]:
        return provenance_record(
            grids.attrs,
            qa,
            config_text=config.to_yaml(),
            version=gridcarbon_version(),
            checksums=checksums,
            synthetic_units=inputs.synthetic_units,
            figures=_FIGURES[grids_kind],
        )

    hourly_written = (blocks is not None or stream is not None) and inputs.qa is not None
    with contextlib.ExitStack() as stack:
        hourly = None
        if hourly_written:  # the hourly tally goes to its file month by month, not kept
            hourly = _hourly_tally_sink(stack, config, folder, provenance_of(inputs.qa), overwrite)
        result = run_zoning(
            grids,
            inputs.units,
            config.zoning,
            species=species,
            covariance=covariance,
            region=inputs.region,
            counties=inputs.counties,
            cities=inputs.cities,
            grids_kind=grids_kind,
            qa=inputs.qa,
            coverage_cache=CoverageCacheDir(config.zoning.cache_dir),
            blocks=blocks,
            hourly=hourly,
            stream=stream,
        )
    provenance = provenance_of(result.qa)
    sections = ()
    if synergy is not None:
        t = time.perf_counter()
        sections = synergy(result).sections
        log.info("synergy sections of the zone report: %.1f s", time.perf_counter() - t)
    elif config.synergy.zone_report.enabled:
        log.warning(
            "synergy.zone_report is made by `gridcarbon run` only (it needs the prior and the "
            "posterior); use `gridcarbon synergy cocontrol --run DIR` on a run folder"
        )
    t = time.perf_counter()
    documents = zoning_documents(
        result,
        config.zoning,
        provenance,
        config.output.language,
        sections=sections,
        hourly_written=hourly_written,
    )
    files = write_documents(documents, folder, overwrite=overwrite)
    if hourly_written and config.zoning.keep_hourly:
        name = run_file_name("tally_hourly_nc")
        files[name] = folder / name
    log.info("zoning stage: outputs written in %.1f s", time.perf_counter() - t)
    return result, files


def _hourly_tally_sink(
    stack: contextlib.ExitStack,
    config: RunConfig,
    folder: Path,
    provenance: dict[str, str],
    overwrite: bool,
) -> Callable[[xr.Dataset], None]:
    """Where a streamed zoning stage hands each month's hourly tally: appended to
    ``zone_tally_hourly.nc`` (published when ``stack`` closes without an error), or dropped
    when ``zoning.keep_hourly`` is off."""
    from gridcarbon.contracts import run_file_name
    from gridcarbon.io.outputs import dataset_netcdf_stream
    from gridcarbon.zoning.report import hourly_tally_attrs, hourly_tally_dataset

    if not config.zoning.keep_hourly:
        return lambda part: None
    path = folder / run_file_name("tally_hourly_nc")
    write = stack.enter_context(
        dataset_netcdf_stream(path, hourly_tally_attrs(provenance), overwrite=overwrite)
    )
    return lambda part: write(hourly_tally_dataset(part))


def _map_stage(
    config: RunConfig,
    result: RunResult,
    out_dir: Path,
    overwrite: bool = False,
    grids_kind: str | None = None,
    posterior: xr.Dataset | None = None,
) -> Any:
    """The map of a run.  ``posterior``: the posterior grids when the inversion's result holds
    none (a streamed run's lazily opened ``posterior.zarr``: its period means and the RMS of its
    hourly σ against the prior's are drawn, month after month of chunks)."""
    from gridcarbon import contracts
    from gridcarbon._version import __version__
    from gridcarbon.io.outputs import write_documents
    from gridcarbon.maps.stage import run_map_stage

    inv = result.stages.get("inversion")
    if grids_kind is None:
        grids_kind = "posterior" if inv is not None else "prior"
    if inv is not None and not hasattr(inv, "station_stats"):
        inv = None  # a streamed run's table of months: no posterior in memory
    zoning = result.stages.get("zoning")
    if zoning is not None and not isinstance(zoning, contracts.ZoningResult):
        # the zoning stage's own result object: its fields under the contract's names
        zoning = contracts.ZoningResult(
            units=zoning.units,
            tally=zoning.tally,
            tally_day=zoning.tally_day,
            tally_month=zoning.tally_month,
            table=zoning.table,
            rollups=zoning.rollups,
            diurnal=zoning.diurnal,
            hotspots=zoning.hotspots,
            colocation=zoning.colocation,
            qa=zoning.qa,
            grids_kind=grids_kind,
            timings=zoning.timings,
        )
    inputs = contracts.MapInputs(
        prior=result.prior,
        posterior=inv.posterior if inv is not None else posterior,
        zoning=zoning,
        stations=inv.stations if inv is not None else None,
        station_stats=inv.station_stats if inv is not None else None,
        station_series=inv.station_series if inv is not None else None,
        boundaries={
            level: result.scenario.boundaries[level] for level in ("province", "city", "county")
        },
        provenance={"gridcarbon_version": __version__},
        species=result.scenario.species,
        point_layers=getattr(result.stages.get("synergy"), "layers", ()),
        column_observations=getattr(inv, "column_observations", None),
    )
    paths = write_documents(
        run_map_stage(inputs, config.maps, config.output.language), out_dir, overwrite=overwrite
    )
    result.files["map"] = paths[config.maps.file_name]
    return result.files["map"]


def _later_stages() -> list[tuple[str, Any]]:
    return [("inversion", _inversion_stage), ("zoning", _zoning_stage), ("maps", _map_stage)]


#: Periods longer than this (62 days) run streamed month by month through a Zarr store.
STREAM_ABOVE_HOURS = 24 * 62


def is_streamed(config: RunConfig) -> bool:
    """Whether ``config``'s period is long enough to run streamed (:func:`run_streamed`)."""
    return 24 * ((config.period.end - config.period.start).days + 1) > STREAM_ABOVE_HOURS


def grid_formats(config: RunConfig) -> list[str]:
    """The formats ``config``'s run writes its grids in: ``output.formats`` when set, else
    NetCDF and GeoTIFF for a period held in memory and Zarr and GeoTIFF for a streamed one
    (:func:`is_streamed`), whose NetCDF copies are written only on request."""
    if config.output.formats is not None:
        return list(config.output.formats)
    return ["zarr" if is_streamed(config) else "netcdf", "geotiff"]


def _streams(config: RunConfig) -> bool:
    """Whether :func:`run` takes the streamed path: a long period without the inversion, or
    one longer than ``inversion.max_period_days`` with it (then inverted month by month)."""
    if not is_streamed(config):
        return False
    days = (config.period.end - config.period.start).days + 1
    return not config.inversion.enabled or days > config.inversion.max_period_days


class _PeriodSums:
    """Period totals per cell (area + points, kg), the area and point sums (kg) and the point
    sums per source, accumulated over the blocks of a period as they pass."""

    def __init__(self) -> None:
        self.totals: dict[str, np.ndarray] = {}
        self.sums: dict[str, list[float]] = {}
        self.points: dict[str, np.ndarray] = {}

    def tap(self, parts: Iterable[xr.Dataset]) -> Iterator[xr.Dataset]:
        from gridcarbon.grids.dataset import total_grid

        for part in parts:
            for sp in species_in(part):
                total = total_grid(part, sp).sum("time", dtype=np.float64).values
                self.totals[sp] = self.totals.get(sp, 0.0) + total
                s = self.sums.setdefault(sp, [0.0, 0.0])
                s[0] += float(part[sp].sum(dtype=np.float64))
                if f"{sp}_point" in part:
                    p = part[f"{sp}_point"].sum("time", dtype=np.float64).values
                    self.points[sp] = self.points.get(sp, 0.0) + p
                    s[1] += float(p.sum())
            yield part


def _month_periods(config: RunConfig) -> list[tuple[str, slice, RunConfig]]:
    """The Beijing months of the period: label ``YYYY-MM``, their hours in the period, and the
    configuration of that month alone."""
    import pandas as pd

    from gridcarbon.grids.prior import month_slices, period_hours

    hours, positions = period_hours(config.period)
    out = []
    for sl in month_slices(positions, hours):
        first = hours[sl.start] + pd.Timedelta(hours=8)
        last = hours[sl.stop - 1] + pd.Timedelta(hours=8)
        period = config.period.model_copy(update={"start": first.date(), "end": last.date()})
        out.append((first.strftime("%Y-%m"), sl, config.model_copy(update={"period": period})))
    return out


def _run_fingerprint(config: RunConfig, inputs: Iterable[Any], scenario: Scenario | None):
    """The configuration, version and input files a resumed run must share with its start: the
    configured input files and every file of the package data (the embedded region)."""
    from gridcarbon.io.year_store import run_fingerprint

    files: list[Path] = []
    for p in inputs:
        if p is None:
            continue
        p = Path(p)
        files.extend(sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p])
    text = config.to_yaml()
    if scenario is not None:  # a caller's own region: its recorded input checksums
        text += "\n# scenario inputs: " + json.dumps(dict(scenario.input_checksums), sort_keys=True)
    return run_fingerprint(text, files)


def write_prior_months(
    config: RunConfig,
    scenario: Scenario,
    folder: Path,
    fingerprint: dict[str, Any],
    progress: bool = False,
    codec: str = DEFAULT_CODEC,
    client: Any = None,
    task_days: int | None = None,
) -> Path:
    """Write the prior of ``config``'s period into ``folder/prior.zarr`` month by month.

    The store is created whole with the first month written (:func:`gridcarbon.io.year_store.
    create_store`); each month is computed on its own (the prior of a month depends on nothing
    else: no random stream runs through the months) and written into its region, then its
    completion marker.  Months whose marker names this run are skipped (a resumed run).

    ``client``: a ``dask.distributed`` client; then every month is computed and written into
    its region by tasks on the workers, one per month or, with ``task_days``, one per span of
    that many days, and its marker is written here when all its tasks have returned
    (:func:`gridcarbon.grids.distributed.prior_months_in_day_tasks`); the store is created from
    the first day alone, so that no month is held whole by this process.
    """
    from tqdm.auto import tqdm

    from gridcarbon.grids.prior import period_hours
    from gridcarbon.io.year_store import (
        consolidate_store,
        create_store,
        done_months,
        write_marker,
        write_month,
    )

    store = folder / "prior.zarr"
    hours = period_hours(config.period)[0]
    done = done_months(folder, fingerprint) if store.exists() else {}
    months = _month_periods(config)
    if client is not None:  # tasks of task_days days, or of whole months (31 days at most)
        from gridcarbon.grids.distributed import prior_months_in_day_tasks

        pending = [m for m in months if done.get(m[0]) != (m[1].start, m[1].stop)]
        if pending and not store.exists():  # the store's template: the first day, here
            _create_store_from_a_day(config, pending[0][2], scenario, store, codec)
        span = 31 if task_days is None else task_days
        prior_months_in_day_tasks(client, pending, scenario, store, folder, fingerprint, span)
        consolidate_store(store)
        return store
    for label, sl, month_config in tqdm(months, desc="prior", unit="month", disable=not progress):
        span = (sl.start, sl.stop)
        if done.get(label) == span:
            log.info("prior %s: done in an earlier run", label)
            continue
        part = next(iter(iter_prior(month_config, scenario)))
        if not store.exists():
            create_store(
                part, hours.values, store, attrs=prior_attrs(config, scenario), codec=codec
            )
        write_month(store, part, sl.start)
        del part
        write_marker(folder, label, span, fingerprint)
    consolidate_store(store)
    return store


def _create_store_from_a_day(
    config: RunConfig, month_config: RunConfig, scenario: Scenario, store: Path, codec: str
) -> None:
    """Create the prior's store of ``config``'s period with the first day of ``month_config``
    as its template (its data not written: the day's task writes it)."""
    from gridcarbon.grids.prior import period_hours
    from gridcarbon.io.year_store import create_store

    first = month_config.period.start
    day = month_config.period.model_copy(update={"start": first, "end": first})
    part = next(iter(iter_prior(month_config.model_copy(update={"period": day}), scenario)))
    hours = period_hours(config.period)[0]
    create_store(part, hours.values, store, attrs=prior_attrs(config, scenario), codec=codec)


#: The label of a month's posterior completion marker (``posterior-YYYY-MM``).
POSTERIOR_MARKER = "posterior-{}"
#: The folder of a streamed run holding each month's inversion outputs (``inversion/YYYY-MM/``).
MONTHS_FOLDER = "inversion"
#: Per-month static maps of the posterior (period factors and uncertainty reductions): written
#: beside each month's outputs, not into the store (the store's static variables are shared).
_MONTH_MAPS = ("_uncertainty_reduction", "_factor")


def _weights_digest(weights: Any, point_unit: np.ndarray | None) -> str:
    """SHA-256 of a coverage matrix and a point-to-unit assignment (which units σ was made for)."""
    import hashlib

    import scipy.sparse as sp

    F = sp.csr_matrix(weights)
    h = hashlib.sha256(repr(F.shape).encode())
    for a in (F.indptr, F.indices, F.data):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(b"points" + (b"" if point_unit is None else np.asarray(point_unit).tobytes()))
    return h.hexdigest()


@dataclass
class MonthlyTotalsCovariance:
    """σ of unit totals over a period inverted month by month (months independent): for each
    unit, ``σ² = Σ_months σ²_month``, the monthly variances computed with each month's full
    posterior covariance (:class:`~gridcarbon.inversion.posterior.TotalsCovariance`) for one
    coverage matrix and point assignment (:class:`gridcarbon.contracts.PosteriorCovariance`).

    Attributes
    ----------
    digest : str
        :func:`_weights_digest` of the weights the variances were computed for.
    variance : dict of str → ndarray ``(n_units,)``
        Per species, the sum of the monthly variances, kg².
    """

    digest: str
    variance: dict[str, np.ndarray]

    def total_std(
        self, weights: Any, species: str, point_unit: np.ndarray | None = None, hours: Any = None
    ) -> np.ndarray:
        """Posterior σ (kg) of the period totals of the units ``weights`` describes."""
        from gridcarbon.errors import InputDataError

        if hours is not None:
            raise InputDataError(
                "σ of a month-by-month inversion is known for whole-period totals only; "
                "ask for hours=None"
            )
        if _weights_digest(weights, point_unit) != self.digest:
            raise InputDataError(
                "σ of a month-by-month inversion was computed for other units' coverage; "
                "tally the units the run was planned with"
            )
        if species not in self.variance:
            raise InputDataError(f"species {species!r} was not inverted ({sorted(self.variance)})")
        return np.sqrt(self.variance[species])


def _region_totals(inversion: Any) -> dict[str, float]:
    """Prior and posterior totals (t) of the whole grid and their σ, per species, of one
    inversion (cells and point sources; full posterior covariance)."""
    import scipy.sparse as sp

    from gridcarbon.inversion.posterior import unit_period_stats

    system = inversion.covariance.system
    res = inversion.details
    ones = sp.csr_matrix(np.ones((1, system.ncell)))
    out: dict[str, float] = {}
    for si, s in enumerate(system.species):
        st = unit_period_stats(system, res.covariance, res.x_post, si, ones)
        for key in ("prior", "prior_std", "posterior", "posterior_std"):
            out[f"{s}_{key}_t"] = float(np.asarray(st[key])[0]) / 1e3
    return out


def _month_record(inversion: Any, label: str, hours: int, overlay: Any) -> dict[str, Any]:
    """What a streamed run keeps of one month's inversion: its row of the months' table and,
    with ``overlay``, the posterior variance of every unit's month total per species."""
    m = inversion.metrics
    row = {
        "month": label,
        "hours": hours,
        "dofs": float(m["dofs"]),
        "reduced_chi2": float(m["reduced_chi2"]),
        "n_observations": int(m["n_observations"]),
        "n_hourly_pairs_used": int(m.get("n_hourly_pairs_used", 0)),
        "state_size": int(m["state_size"]),
        **_region_totals(inversion),
        "synthetic": bool(m.get("synthetic", False)),
    }
    record: dict[str, Any] = {"row": row}
    if overlay is not None:
        record["units_digest"] = _weights_digest(overlay.F, overlay.point_unit)
        record["unit_variance_kg2"] = {
            s: (
                np.asarray(
                    inversion.covariance.total_std(overlay.F, s, point_unit=overlay.point_unit),
                    np.float64,
                )
                ** 2
            ).tolist()
            for s in inversion.covariance.system.species
        }
    return record


def months_table(rows: list[dict[str, Any]]) -> Any:
    """The months' inversion figures with a last row ``period``: totals summed, σ combined as
    ``sqrt(Σ σ²_month)`` (months inverted independently), DOFS and counts summed, reduced χ²
    averaged weighted by the observations."""
    import pandas as pd

    table = pd.DataFrame(rows)
    total: dict[str, Any] = {"month": "period"}
    for col in table.columns:
        if col in ("month", "synthetic"):
            continue
        if col.endswith("_std_t"):
            total[col] = float(np.sqrt((table[col] ** 2).sum()))
        elif col == "reduced_chi2":
            n = table["n_observations"].to_numpy(np.float64)
            chi2 = table[col].to_numpy(np.float64)
            total[col] = float((chi2 * n).sum() / n.sum()) if n.sum() > 0 else float("nan")
        else:
            total[col] = table[col].sum()
    total["synthetic"] = bool(table["synthetic"].any())
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)


def write_posterior_months(
    config: RunConfig,
    scenario: Scenario,
    folder: Path,
    fingerprint: dict[str, Any],
    overlay: Any = None,
    progress: bool = False,
    codec: str = DEFAULT_CODEC,
    client: Any = None,
) -> tuple[Path, Any, MonthlyTotalsCovariance | None]:
    """Invert each month of ``folder/prior.zarr`` on its own and write the posterior grids into
    ``folder/posterior.zarr`` month by month.

    Each month is the inversion of a run over that month alone (:func:`inversion_inputs` and
    :func:`gridcarbon.inversion.stage.run_inversion` with the month's configuration and the
    month's prior; synthetic observations are drawn from ``inversion.osse.seed``, as a run of that
    month alone draws them).  The store has the prior store's layout and time axis (created
    whole, filled month by month); its static variables are the first month's (the grid, the
    region fraction); each month's own maps (factors, uncertainty reductions), station tables
    and metrics go to ``inversion/YYYY-MM/``.  A month is done when its marker
    ``posterior-YYYY-MM`` exists (written after its data and files); months done are skipped.
    One month's inversion is in memory at a time.

    Parameters
    ----------
    config, scenario, folder, fingerprint
        As for :func:`write_prior_months` (which must have written every month).
    overlay : Overlay, optional
        The control units on the grid: each month's posterior variance of every unit total is
        kept, for σ of the period's unit totals (:class:`MonthlyTotalsCovariance`).
    progress : bool
    codec : {"lz4-noshuffle", "lz4", "zstd"}
    client : distributed.Client, optional
        Each month not done is a task on a worker
        (:func:`gridcarbon.inversion.distributed.invert_months_on_workers`: the same inversion,
        :func:`invert_month`; the worker reads the month's prior from the store, writes the
        posterior region and the month's files, and returns their paths and the month's
        record); each month's marker is written here when its task has returned.  Refused
        before any task when a month's inversion would need more than 60 % of a worker's
        memory limit (:func:`run_streamed` inverts such months here instead).

    Returns
    -------
    store : Path
    table : DataFrame
        One row per month (:func:`months_table`, with the period row).
    covariance : MonthlyTotalsCovariance or None
        None without ``overlay``.
    """
    import gc

    from tqdm.auto import tqdm

    from gridcarbon.grids.prior import period_hours
    from gridcarbon.io import open_grids
    from gridcarbon.io.outputs import write_documents
    from gridcarbon.io.runfolder import deferred_signals
    from gridcarbon.io.year_store import (
        consolidate_store,
        create_store,
        done_months,
        write_marker,
        write_month,
    )

    store = folder / "posterior.zarr"
    hours = period_hours(config.period)[0]
    done = done_months(folder, fingerprint) if store.exists() else {}
    if client is not None:  # each month a task on a worker; the markers written here
        from gridcarbon.inversion.distributed import invert_months_on_workers

        records = invert_months_on_workers(
            client,
            invert_month,
            _month_periods(config),
            done,
            prior_store=folder / "prior.zarr",
            store=store,
            hours=hours.values,
            scenario=scenario,
            overlay=overlay,
            folder=folder,
            fingerprint=fingerprint,
            months_folder=MONTHS_FOLDER,
            marker=POSTERIOR_MARKER,
            codec=codec,
            needed_bytes=inversion_month_bytes(config, scenario.grid.size),
        )
        consolidate_store(store)
        return store, *_months_result(records, overlay)
    prior = open_grids(folder / "prior.zarr", chunked=False)
    records: list[dict[str, Any]] = []
    for label, sl, month_config in tqdm(
        _month_periods(config), desc="inversion", unit="month", disable=not progress
    ):
        span = (sl.start, sl.stop)
        marker = POSTERIOR_MARKER.format(label)
        month_dir = folder / MONTHS_FOLDER / label
        if done.get(marker) == span:
            log.info("inversion %s: done in an earlier run", label)
            records.append(json.loads((month_dir / "month.json").read_text(encoding="utf-8")))
            continue
        with deferred_signals():
            part = prior.isel(time=sl).load()
        grids, docs, record = invert_month(month_config, part, scenario, label, overlay)
        if not store.exists():
            create_store(grids, hours.values, store, attrs=grids.attrs, codec=codec)
        write_month(store, grids, sl.start)
        month_dir.mkdir(parents=True, exist_ok=True)
        write_documents(docs, month_dir, overwrite=True)
        records.append(record)
        del part, grids, docs
        gc.collect()  # the month's system, covariance and Lanczos vectors before the next
        write_marker(folder, marker, span, fingerprint)
    prior.close()
    consolidate_store(store)
    return store, *_months_result(records, overlay)


def _months_result(
    records: list[dict[str, Any]], overlay: Any
) -> tuple[Any, MonthlyTotalsCovariance | None]:
    """The months' table (:func:`months_table`) and, with ``overlay``, σ² of the units' period
    totals summed over the months' ``records`` (in month order)."""
    covariance = None
    if overlay is not None:
        digest = _weights_digest(overlay.F, overlay.point_unit)
        variance: dict[str, np.ndarray] = {}
        for record in records:
            if record.get("units_digest") != digest:
                raise ConfigError(
                    f"the unit variances of {record['row']['month']} were computed for other "
                    "units; remove the run's partial folder and start afresh"
                )
            for s, v in record["unit_variance_kg2"].items():
                variance[s] = variance.get(s, 0.0) + np.asarray(v, np.float64)
        covariance = MonthlyTotalsCovariance(digest, variance)
    return months_table([r["row"] for r in records]), covariance


def invert_month(
    month_config: RunConfig, part: xr.Dataset, scenario: Scenario, label: str, overlay: Any = None
) -> tuple[xr.Dataset, dict[str, Any], dict[str, Any]]:
    """The inversion of one month of a streamed run, as a run of that month alone makes it
    (:func:`inversion_inputs` and :func:`gridcarbon.inversion.stage.run_inversion` with the
    month's configuration, so synthetic observations are drawn from the month's own seed).

    Parameters
    ----------
    month_config : RunConfig
        The configuration of the month alone (:func:`_month_periods`).
    part : Dataset
        The month's prior grids (loaded).
    scenario : Scenario
    label : str
        The month, ``YYYY-MM``.
    overlay : Overlay, optional
        The control units: the record keeps the posterior variance of their month totals.

    Returns
    -------
    grids : Dataset
        The posterior grids of the month without its own maps (what goes into the store).
    documents : dict of str → Document
        The month's files for ``inversion/YYYY-MM/`` (station tables, metrics, the maps in
        ``posterior_maps.nc``, ``month.json``).
    record : dict
        The month's row of ``inversion_months.csv`` (:func:`_month_record`) and unit variances.
    """
    from gridcarbon.contracts import Document
    from gridcarbon.inversion import stage as inversion_stage
    from gridcarbon.inversion.outputs import inversion_documents

    inv_scenario, observations = inversion_inputs(month_config, part, True, scenario)
    inversion = inversion_stage.run_inversion(
        part, inv_scenario, month_config.inversion, observations
    )
    posterior = inversion.posterior
    maps = [v for v in posterior.data_vars if str(v).endswith(_MONTH_MAPS)]
    docs = {
        name: doc
        for name, doc in inversion_documents(inversion, ("netcdf",)).items()
        if doc.kind != "grids"
    }
    docs["posterior_maps.nc"] = Document("netcdf", posterior[maps], attrs=dict(posterior.attrs))
    record = _month_record(inversion, label, part.sizes["time"], overlay)
    docs["month.json"] = Document("json", record)
    return posterior.drop_vars(maps), docs, record


def inversion_month_bytes(config: RunConfig, cells: int) -> float:
    """Estimated peak memory (bytes) of the inversion of the longest month of ``config``'s
    period on a grid of ``cells`` cells: the ``inversion_month`` figure of :func:`size_run`
    (:func:`gridcarbon.io.resources.estimate_memory`, a process's base included)."""
    from gridcarbon.grids.prior import month_slices, period_hours
    from gridcarbon.io.resources import estimate_memory

    hours, positions = period_hours(config.period)
    month_hours = max(sl.stop - sl.start for sl in month_slices(positions, hours))
    return estimate_memory(cells, month_hours, len(config.species), 0, inversion=True).peak_bytes


def resolve_task_days(
    client: Any,
    config: RunConfig,
    task_days: int | str | None,
    scenario: Scenario | None = None,
    zones: bool = True,
) -> int | None:
    """``task_days`` as :func:`run_streamed` runs it: ``"auto"`` becomes the largest number of
    days from 1 to 31 whose prior and zone tasks fit :data:`~gridcarbon.io.task_memory.
    TASK_SHARE` of the smallest memory limit among ``client``'s workers
    (:func:`gridcarbon.io.task_memory.choose_task_days`, the zones' tasks sized with ``zones``;
    the choice and why are logged at INFO), or None (whole months) when the workers report no limit; other values are returned as given.

    Raises :class:`~gridcarbon.io.resources.ResourceError` before any work when a task of one
    day does not fit a worker (the message names the memory needed and the fix)."""
    from gridcarbon.grids.distributed import TASK_DAYS_AUTO, workers_memory_limit

    if task_days != TASK_DAYS_AUTO:
        return task_days  # type: ignore[return-value]
    from gridcarbon.io.task_memory import choose_task_days

    limit = workers_memory_limit(client)
    if limit is None:
        log.info("task days auto: the workers report no memory limit; tasks of whole months")
        return None
    cells = run_grid(config, scenario).size
    choice = choose_task_days(cells, len(config.species), limit, zones)
    log.info("task days auto: %s", choice.reason())
    return choice.task_days


def _worker_memory_bytes(worker_memory: str) -> int:
    """``--worker-memory`` in bytes, refused below 256 MiB or when it is not a size."""
    from dask.utils import parse_bytes

    try:
        limit = parse_bytes(worker_memory)
    except ValueError:
        limit = 0
    if limit < 2**28:
        raise ConfigError(
            f"worker memory {worker_memory!r} is not a size of at least 256 MiB; give e.g. "
            "8GiB or 4000MB"
        )
    return int(limit)


def planned_worker_memory(
    workers: int | None = None,
    scheduler: str | None = None,
    scheduler_file: str | Path | None = None,
    worker_memory: str | None = None,
) -> int | None:
    """The memory limit (bytes) each worker of :func:`dask_client` would have, without
    starting it (``--dry-run``): ``worker_memory``, else Dask's default for a local worker of
    one thread (the machine's memory over its cores); with ``scheduler`` or ``scheduler_file``,
    the smallest limit the running cluster's workers report (this connects to it, no task is
    submitted).  None: no Dask option, or workers without a limit."""
    if worker_memory is not None and workers is None:
        raise ConfigError(
            f"a worker memory limit ({worker_memory}) is for the local workers of --workers; "
            "a running scheduler's workers set their own (dask worker --memory-limit)"
        )
    if workers is not None:
        from distributed.worker_memory import parse_memory_limit

        if worker_memory is not None:
            _worker_memory_bytes(worker_memory)
        return parse_memory_limit(worker_memory or "auto", 1, logger=log)
    if scheduler is None and scheduler_file is None:
        return None
    from gridcarbon.grids.distributed import workers_memory_limit

    with dask_client(None, scheduler, scheduler_file) as client:
        return workers_memory_limit(client)


@contextlib.contextmanager
def dask_client(
    workers: int | None = None,
    scheduler: str | None = None,
    scheduler_file: str | Path | None = None,
    worker_memory: str | None = None,
) -> Iterator[Any]:
    """A ``dask.distributed`` client for :func:`run_streamed`'s months, or None.

    ``workers``: start a local cluster of that many single-threaded worker processes (numba
    limited to one thread in each), each with the memory limit ``worker_memory`` (e.g.
    ``"8GiB"``; default Dask's: the machine's memory shared between them); ``scheduler`` (an
    address) or ``scheduler_file``: join a running scheduler.  None of them: yields None (the
    single-process path).
    """
    if worker_memory is not None and workers is None:
        raise ConfigError(
            f"a worker memory limit ({worker_memory}) is for the local workers of --workers; "
            "a running scheduler's workers set their own (dask worker --memory-limit)"
        )
    if worker_memory is not None:
        _worker_memory_bytes(worker_memory)
    given = [workers is not None, scheduler is not None, scheduler_file is not None]
    if sum(given) > 1:
        raise ConfigError(
            "give one of workers, scheduler and scheduler_file (a local cluster or a running "
            "scheduler), not several"
        )
    if not any(given):
        yield None
        return
    from distributed import Client, LocalCluster

    if workers is not None:
        if workers < 1:
            raise ConfigError(f"workers must be 1 or more, got {workers}")
        with (
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                memory_limit=worker_memory or "auto",
                env={"NUMBA_NUM_THREADS": "1"},
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    target = {"address": scheduler} if scheduler is not None else {}
    if scheduler_file is not None:
        target = {"scheduler_file": str(scheduler_file)}
    with Client(**target) as client:
        yield client


#: The scratch folder of a streamed run's zoning tasks (removed when the stage is done).
ZONING_PARTS = ".zoning-parts"


@contextlib.contextmanager
def dask_diagnostics(
    client: Any,
    performance_report: str | Path | None = None,
    task_log: str | Path | None = None,
) -> Iterator[None]:
    """Record the Dask work done inside the block, on request.

    ``performance_report``: Dask's performance report (task stream, worker profiles, bandwidth)
    as one self-contained HTML file, its scripts inline so that it opens offline.
    ``task_log``: a CSV with one row per task (:mod:`gridcarbon.io.task_log`): key, worker,
    start and stop (UTC), duration (s), the peak RSS of the worker process while it ran
    (sampled), its status.  Both are written when the block ends, also after an error.
    Without a client (the single-process path) there is nothing to record: asking for either
    file is refused.
    """
    if performance_report is None and task_log is None:
        yield
        return
    if client is None:
        raise ConfigError(
            "--performance-report and --task-log record the work of Dask workers: give "
            "--workers, --scheduler or --scheduler-file too"
        )
    from distributed import get_task_stream
    from distributed import performance_report as report

    from gridcarbon.io.task_log import TaskMemoryPlugin, write_task_log

    with contextlib.ExitStack() as stack:
        if performance_report is not None:
            try:
                import bokeh  # noqa: F401  (the report's plots)
            except ImportError:
                raise ConfigError(
                    "--performance-report needs bokeh: pip install 'bokeh>=3.1'"
                ) from None
            Path(performance_report).parent.mkdir(parents=True, exist_ok=True)
            stack.enter_context(report(filename=str(performance_report), mode="inline"))
        if task_log is None:
            yield
            return
        plugin = TaskMemoryPlugin()
        client.register_plugin(plugin)
        stream = stack.enter_context(get_task_stream(client))
        try:
            yield
        finally:
            peaks: dict[str, int] = {}
            for found in client.run(TaskMemoryPlugin.collect).values():
                peaks.update(found)
            client.unregister_worker_plugin(TaskMemoryPlugin.name)
            stack.close()  # the task stream's records are complete when it closes
            write_task_log(task_log, stream.data, peaks)


def month_blocks(ds: xr.Dataset, days: int | None = None) -> Iterator[xr.Dataset]:
    """The Beijing months of lazily opened grids (a store or a file), one in memory at a time:
    the ``blocks`` of :func:`gridcarbon.zoning.stage.run_zoning`.  ``days``: each month in
    blocks of that many days instead (the last one of a month shorter)."""
    import pandas as pd

    from gridcarbon.grids.prior import month_slices
    from gridcarbon.io.runfolder import deferred_signals
    from gridcarbon.io.year_store import read_time_block

    hours = pd.DatetimeIndex(ds["time"].values)
    source = ds.encoding.get("source")
    store = Path(source) if source is not None and Path(source).is_dir() else None
    slices = month_slices(np.arange(hours.size), hours)
    if days is not None:
        step = 24 * days
        slices = [
            slice(a, min(a + step, sl.stop))
            for sl in slices
            for a in range(sl.start, sl.stop, step)
        ]
    for sl in slices:
        if store is not None:  # a Zarr store: its chunks decoded straight into the block
            block = read_time_block(store, ds, sl)
        else:
            with deferred_signals():  # an interrupted read can dead-lock like a write
                block = ds.isel(time=sl).load()
        yield block


def run_streamed(
    config: RunConfig | None = None,
    out_dir: str | Path | None = None,
    *,
    stages: Iterable[str] | None = None,
    overwrite: bool = False,
    resume: bool = False,
    progress: bool = False,
    inputs: Iterable[str | Path] = (),
    scenario: Scenario | None = None,
    codec: str = DEFAULT_CODEC,
    summary_layout: str = "run",
    client: Any = None,
    task_days: int | str | None = None,
) -> RunResult:
    """Run the prior, the inversion, the zones and the map of a long period (e.g. a year) month
    by month, resumably; memory is bounded by one month of grids and one month's inversion
    (plus the period's daily fields).

    The run fills the fixed folder ``<out_dir>.partial/`` and renames it to ``out_dir`` at the
    end (:func:`gridcarbon.io.runfolder.resumable_directory`).  The prior goes month by month
    into ``prior.zarr`` (:func:`write_prior_months`), each month proven by its completion marker
    in ``_markers/``; with the inversion, each month is inverted alone into ``posterior.zarr``
    (:func:`write_posterior_months`; the months' figures in ``inversion_months.csv``, each month's
    outputs in ``inversion/YYYY-MM/``), resumable in the same way; then one pass over the
    store's months (the posterior's, when inverted) feeds the period totals and the zoning stage (tallies, daily and monthly hotspots, co-location, emerging hotspots: equal to
    the in-memory path's); the GeoTIFF of period totals, the point table, a NetCDF copy (when
    ``netcdf`` is among the output formats) and the map follow.

    Parameters
    ----------
    config : RunConfig, optional
        Default: the embedded Zhejiang default.  With the inversion, each month is inverted
        on its own (:func:`write_posterior_months`) and the zones tally the posterior.
    out_dir : path, optional
        Default: ``config.output.directory``.
    stages : later stages to run (default: those enabled in ``config``); ``()``: the prior only
    overwrite : bool
        Replace a finished ``out_dir`` (only if everything in it was written by gridcarbon).
    resume : bool
        Continue the partial run in ``<out_dir>.partial/``: refused if the configuration, the
        version or an input file changed since it started; months already done are kept.  On a
        finished run with the same fingerprint: nothing to do.
    progress : bool
        Show progress bars.
    inputs : paths
        Further input files (the configuration file) that the output folder must not hold.
    scenario : Scenario, optional
        The region (default: the embedded Zhejiang default of ``config``).
    codec : {"lz4-noshuffle", "lz4", "zstd"}
        The store's compressor (docs/scale.md compares them).
    summary_layout : {"run", "grid"}
        ``summary.json`` as ``gridcarbon run`` writes it (the prior's summary under ``prior``,
        with the stage timings) or as ``gridcarbon grid`` does (the prior's summary alone).
    client : distributed.Client, optional
        Compute the prior's months as tasks on its workers (:func:`write_prior_months`,
        :func:`dask_client`), the inversion's months (:func:`write_posterior_months`; refused
        before any work when a month's inversion would need more than 60 % of a worker's
        memory limit), and the zoning stage's months
        (:mod:`gridcarbon.zoning.distributed`: equal to the single-process path's); None: in
        this process.
    task_days : int or "auto", optional
        With ``client``: the prior's and the zones' tasks cover that many days of a month
        instead of the whole month (:mod:`gridcarbon.grids.distributed`,
        :mod:`gridcarbon.zoning.distributed`: the same store, tallies and hotspots), and this
        process reads the store in blocks of that many days for the period totals, so that no
        process holds a whole month of a large region's grids.  ``"auto"``: the most days
        whose task fits 60 % of the workers' memory limit (:func:`resolve_task_days`; refused
        before any work when one day does not fit).  The period totals (GeoTIFF, summary) are
        then summed block by block in another order (equal to about 1e-15
        relative).  Not part of the configuration: a resumed run may change it.

    Returns
    -------
    RunResult
        Its ``summary`` is the prior's summary (period, grid, totals).
    """
    from gridcarbon.io import open_grids
    from gridcarbon.io.runfolder import partial_folder, resumable_directory
    from gridcarbon.io.year_store import check_resumable, read_run_state, write_run_state

    config = RunConfig() if config is None else config
    if task_days is not None:
        from gridcarbon.grids.distributed import check_task_days

        check_task_days(task_days)
        if client is None:
            raise ConfigError(
                f"task days ({task_days}) split the months of Dask tasks: give --workers, "
                "--scheduler or --scheduler-file too"
            )
        zones = "zoning" in (_enabled_stages(config) if stages is None else tuple(stages))
        task_days = resolve_task_days(client, config, task_days, scenario, zones)
    if summary_layout not in ("run", "grid"):
        raise ConfigError(f"summary_layout must be 'run' or 'grid', got {summary_layout!r}")
    out_dir = Path(config.output.directory if out_dir is None else out_dir)
    stages = _enabled_stages(config) if stages is None else tuple(stages)
    if "inversion" in stages and config.synergy.zone_report.enabled:
        raise ConfigError(
            f"the period {config.period.start} .. {config.period.end} runs streamed month by "
            "month, which does not make the synergy sections of the zone report (they need the "
            "prior and posterior of the period in memory): set synergy.zone_report.enabled: "
            "false, or run a period of at most two months"
        )
    inputs = [*inputs, *(p for p, _ in config_input_files(config)), _package_data()]
    fingerprint = _run_fingerprint(config, inputs, scenario)
    if resume and out_dir.is_dir() and not partial_folder(out_dir).exists():
        if read_run_state(out_dir) is None:
            from gridcarbon.errors import OutputExistsError

            raise OutputExistsError(
                f"{str(out_dir)!r} is not a resumable run's folder; pass --overwrite to replace "
                "it, or choose another output folder"
            )
        check_resumable(out_dir, fingerprint)
        log.info("%s is complete: nothing to resume", out_dir)
        summary = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
        summary = summary.get("prior", summary)
        return RunResult(
            out_dir=out_dir,
            prior=open_grids(out_dir / "prior.zarr"),
            files={p.name: p for p in sorted(out_dir.iterdir())},
            summary=summary,
        )
    plan = plan_run(
        config,
        out_dir,
        overwrite,
        stages,
        inputs=inputs,
        streamed=True,
        scenario=scenario,
        block_hours=None if task_days is None else 24 * task_days,
    )
    inversion_client = client  # months too large for a worker are inverted in this process
    if client is not None and "inversion" in stages:
        from gridcarbon.inversion.distributed import months_fit_workers

        needed = inversion_month_bytes(config, plan.scenario.grid.size)
        inversion_client = client if months_fit_workers(client, needed) else None
    timings: dict[str, float] = {}
    with resumable_directory(out_dir, overwrite, resume, inputs) as (folder, fresh):
        if fresh:
            write_run_state(folder, fingerprint, config.to_yaml())
        else:
            check_resumable(folder, fingerprint)
            log.info("resuming the run in %s", folder)
        (folder / "config.yaml").write_text(config.to_yaml(), encoding="utf-8")
        warming = []
        if client is not None and "zoning" in stages:
            from gridcarbon.zoning.distributed import warm_workers

            warming = warm_workers(client)  # while this process builds the first month
        if inversion_client is not None and "inversion" in stages:
            from gridcarbon.inversion.distributed import warm_workers as warm_inversion

            warming += warm_inversion(client)
        t0 = time.perf_counter()
        store = write_prior_months(
            config,
            plan.scenario,
            folder,
            fingerprint,
            progress,
            codec,
            client=client,
            task_days=task_days,
        )
        timings["prior"] = time.perf_counter() - t0
        prior = open_grids(store)
        files: dict[str, Path] = {"prior_zarr": store}
        result = RunResult(out_dir=out_dir, prior=prior, files=files, timings=timings, plan=plan)
        sums = _PeriodSums()
        by_month = open_grids(store, chunked=False)
        blocks = sums.tap(month_blocks(by_month, task_days))
        covariance, posterior, by_month_post = None, None, None
        if "inversion" in stages:
            t0 = time.perf_counter()
            overlay = None
            if "zoning" in stages and config.zoning.posterior_std:
                from gridcarbon.io.coverage_cache import CoverageCacheDir
                from gridcarbon.zoning.overlay import overlay_units

                overlay = overlay_units(
                    prior, plan.zoning.units, CoverageCacheDir(config.zoning.cache_dir)
                )
            post_store, table, covariance = write_posterior_months(
                config,
                plan.scenario,
                folder,
                fingerprint,
                overlay,
                progress,
                codec,
                inversion_client,
            )
            del overlay
            files["posterior_zarr"] = post_store
            files["inversion_months"] = write_csv(
                table, folder / "inversion_months.csv", overwrite=True, bom=False
            )
            result.stages["inversion"] = table
            timings["inversion"] = time.perf_counter() - t0
            posterior = open_grids(post_store)
            by_month_post = open_grids(post_store, chunked=False)
        t0 = time.perf_counter()
        on_workers = client is not None and "zoning" in stages
        if "zoning" in stages:
            from gridcarbon.contracts import RUN_FILES

            zoning_blocks, stream, parts = None, None, folder / ZONING_PARTS
            if on_workers:  # the months as tasks, each over the whole region
                from gridcarbon.zoning.distributed import zoning_stream

                shutil.rmtree(parts, ignore_errors=True)  # a killed run's leftovers
                source = store if posterior is None else files["posterior_zarr"]
                stream = zoning_stream(client, source, config.zoning, parts, task_days)
            else:
                zoning_blocks = blocks if posterior is None else month_blocks(by_month_post)
            for future in warming:
                future.result()  # a worker that cannot load the stage fails here, plainly
            try:
                zoning, written = zone_report(
                    config,
                    prior if posterior is None else posterior,
                    plan.zoning,
                    folder,
                    covariance=covariance,
                    grids_kind="prior" if posterior is None else "posterior",
                    blocks=zoning_blocks,
                    overwrite=True,
                    stream=stream,
                )
            finally:
                shutil.rmtree(parts, ignore_errors=True)
            result.stages["zoning"] = zoning
            files.update({f.role: written[f.name] for f in RUN_FILES if f.name in written})
            timings["zoning"] = time.perf_counter() - t0
        if "zoning" not in stages or posterior is not None or on_workers:
            for _ in blocks:  # the prior's period sums
                pass
        formats = grid_formats(config)
        if "geotiff" in formats:
            files["prior_geotiff"] = write_geotiff(
                prior, folder / "prior_totals.tif", overwrite=True, totals=sums.totals
            )
        if sums.points:
            csv = folder / "prior_point_sources.csv"
            files["prior_points"] = _write_point_table(prior, sums.points, csv)
        if "netcdf" in formats:
            from gridcarbon.io.cf import strip_gdal_crs

            parts = (strip_gdal_crs(b) for b in month_blocks(by_month, task_days))
            files["prior_netcdf"] = write_stream(
                parts, {"netcdf": folder / "prior.nc"}, overwrite=True
            )["netcdf"]
            if by_month_post is not None:  # the posterior's copy (each month's maps aside)
                parts = (strip_gdal_crs(b) for b in month_blocks(by_month_post, task_days))
                files["posterior_netcdf"] = write_stream(
                    parts, {"netcdf": folder / "posterior.nc"}, overwrite=True
                )["netcdf"]
        timings["prior_outputs"] = time.perf_counter() - t0 - timings.get("zoning", 0.0)
        if "maps" in stages:
            t0 = time.perf_counter()
            kind = "prior" if posterior is None else "posterior"
            result.stages["maps"] = _map_stage(
                config, result, folder, overwrite=True, grids_kind=kind, posterior=posterior
            )
            timings["maps"] = time.perf_counter() - t0
        result.summary = prior_summary(prior, sums={sp: tuple(v) for sp, v in sums.sums.items()})
        doc = result.summary
        if summary_layout == "run":
            doc = {"prior": doc, "timings_s": timings, "stages": sorted(result.stages)}
            if "inversion" in result.stages:
                doc["inversion_period"] = result.stages["inversion"].iloc[-1].to_dict()
        (folder / "summary.json").write_text(
            json.dumps(doc, indent=2, default=str), encoding="utf-8"
        )
        prior.close()
        by_month.close()
        for ds in (posterior, by_month_post):
            if ds is not None:
                ds.close()
    result.prior = open_grids(out_dir / "prior.zarr")
    result.files = {
        k: out_dir / Path(v).relative_to(folder) if Path(v).is_relative_to(folder) else v
        for k, v in result.files.items()
    }
    result.files["summary"] = out_dir / "summary.json"
    return result
