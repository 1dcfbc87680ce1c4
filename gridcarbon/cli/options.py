"""The options every ``gridcarbon`` command shares, declared once (as rasterio's ``rio`` does).

``--config``, the period (``--start/--end/--year``), ``-o/--out`` with one default rule (the
config's ``output.directory``, ``./gridcarbon-output``, unless the command writes into a folder
it is given), and ``--overwrite``.  Light: click and the standard library only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from gridcarbon.config import FIRST_YEAR, LAST_YEAR

__all__ = [
    "config_option",
    "period_options",
    "out_option",
    "overwrite_option",
    "region_option",
    "resume_option",
    "dry_run_option",
    "format_option",
    "dask_options",
    "load_cli_config",
    "output_folder",
    "lang_option",
    "with_language",
]

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="YAML run configuration (default: the embedded Zhejiang default; "
    "`gridcarbon config -o my.yaml` writes it, with every setting explained, to start from).",
)

_PERIOD = (
    click.option(
        "--start",
        type=click.DateTime(["%Y-%m-%d"]),
        default=None,
        help="First Beijing day of the period (YYYY-MM-DD).",
    ),
    click.option(
        "--end",
        type=click.DateTime(["%Y-%m-%d"]),
        default=None,
        help="Last Beijing day of the period, inclusive (YYYY-MM-DD).",
    ),
    click.option(
        "--year",
        type=click.IntRange(FIRST_YEAR, LAST_YEAR),
        default=None,
        help="A whole Beijing calendar year (8,760 or 8,784 hours).",
    ),
)


def period_options(f: Callable) -> Callable:
    """``--start``, ``--end`` and ``--year``."""
    for opt in reversed(_PERIOD):
        f = opt(f)
    return f


def out_option(
    help_text: str = "Output folder (default: output.directory of the config, "
    "./gridcarbon-output).",
    file: bool = False,
    dest: str = "out",
    default_folder: bool = False,
) -> Callable:
    """``-o/--out``: a folder (or, with ``file``, one file).

    ``default_folder``: commands without a configuration get the default configuration's
    ``output.directory`` when the option is not given (the same rule as the others).
    """

    def _default(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
        if value is None and default_folder:
            from gridcarbon.config import OutputConfig

            return Path(OutputConfig().directory)
        return value

    return click.option(
        "-o",
        "--out",
        dest,
        type=click.Path(dir_okay=file is False, file_okay=file, path_type=Path),
        default=None,
        callback=_default,
        help=help_text,
    )


region_option = click.option(
    "--region",
    default=None,
    help="The region (overrides the config's `region`): zhejiang (the embedded default), "
    "mainland provinces by Chinese name, pinyin or adcode, comma-separated (上海市, "
    "shanghai,jiangsu), or a preset: yrd, mainland.  See docs/regions.md.",
)

overwrite_option = click.option(
    "--overwrite",
    is_flag=True,
    help="Replace what gridcarbon wrote there before (never files it did not write).",
)

resume_option = click.option(
    "--resume",
    is_flag=True,
    help="Continue an interrupted long (streamed) run from OUT.partial/: refused if the "
    "configuration, the version or an input file changed; on a finished run, nothing to do.",
)


format_option = click.option(
    "--format",
    "formats",
    type=click.Choice(["netcdf", "zarr", "geotiff"]),
    multiple=True,
    help="Formats of the gridded results (repeatable; overrides the config's output.formats). "
    "Default: netcdf and geotiff for a period held in memory; zarr and geotiff for a streamed "
    "period (longer than two months), whose NetCDF copy is written only if netcdf is given.",
)

dry_run_option = click.option(
    "--dry-run",
    is_flag=True,
    help="Size the run and exit: grid cells, hours, months, the prior's bytes on disk and in "
    "memory, each stage's memory and the expected peak, and whether the run would be refused. "
    "Reads the region's geometry only; builds nothing and writes nothing.",
)


def dask_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--workers`` (and ``--worker-memory``), ``--scheduler`` and ``--scheduler-file``: the
    months of a streamed run's prior and zones as tasks on Dask workers; ``--performance-report`` and ``--task-log``: what
    the workers did."""
    f = click.option(
        "--task-days",
        type=TaskDays(),
        default=None,
        help="With Dask workers: split each month's tasks (the prior's and the zones') into "
        "spans of N days (1 to 31), so that a large region's month uses several workers and no "
        "process holds a whole month (mainland China at 3 km: 1 day, about 1.9 GB per task).  "
        "auto (the default with --workers, --scheduler or --scheduler-file): the most days "
        "whose task fits 60 % of a worker's memory limit; refused before any work when one day "
        "does not.  The outputs are the same.",
    )(f)
    f = click.option(
        "--task-log",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="With Dask workers: write a CSV with one row per task (key, worker, start, stop, "
        "duration, peak memory of the worker process while it ran).",
    )(f)
    f = click.option(
        "--performance-report",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="With Dask workers: write Dask's performance report of the run, one HTML file "
        "that opens offline.",
    )(f)
    f = click.option(
        "--worker-memory",
        metavar="SIZE",
        default=None,
        help="With --workers: each local worker's memory limit, e.g. 8GiB (Dask spills to disk "
        "at 60 % of it and restarts a worker at 95 %); default: the machine's memory shared "
        "between the workers.",
    )(f)
    f = click.option(
        "--scheduler-file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Join the Dask scheduler described by this file (streamed runs).",
    )(f)
    f = click.option(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="Join a running Dask scheduler, e.g. tcp://host:8786 (streamed runs).",
    )(f)
    return click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=None,
        help="Compute the prior's months and the zones of a streamed run on N local Dask "
        "worker processes (one thread each); default: in this process.",
    )(f)


class TaskDays(click.ParamType):
    """``--task-days``: ``auto`` or a whole number of days from 1 to 31."""

    name = "N|auto"

    def convert(self, value: Any, param: Any, ctx: Any) -> int | str:
        text = str(value).strip().lower()
        if text == "auto":
            return "auto"
        if isinstance(value, bool) or not text.isdigit() or not 1 <= int(text) <= 31:
            self.fail(f"{value!r} is not auto nor a whole number of days from 1 to 31", param, ctx)
        return int(text)


def check_task_days_option(
    task_days: int | str | None, workers: int | None, scheduler: str | None, scheduler_file: Any
) -> int | str | None:
    """``--task-days`` as the run takes it: refused without a Dask option (it splits the
    workers' tasks); ``"auto"`` when a Dask option is given without it; None (the
    single-process path) otherwise."""
    dask = workers is not None or scheduler is not None or scheduler_file is not None
    if task_days is not None and not dask:
        from gridcarbon.errors import ConfigError

        raise ConfigError(
            f"--task-days {task_days} splits the months of Dask tasks: give --workers, "
            "--scheduler or --scheduler-file too"
        )
    if task_days is None and dask:
        return "auto"
    return task_days


def load_cli_config(
    config_path: Path | None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    year: int | None = None,
    region: str | None = None,
) -> Any:
    """The run configuration from ``--config`` with the period and region options applied."""
    from gridcarbon.config import RunConfig, load_config

    if year is not None and (start or end):
        raise click.UsageError("give either --year or --start/--end, not both")
    cfg = load_config(config_path)
    data = cfg.model_dump()
    if year is not None:
        data["period"] = {"start": dt.date(year, 1, 1), "end": dt.date(year, 12, 31)}
    elif start or end:
        data["period"] = {
            "start": start.date() if start else cfg.period.start,
            "end": end.date() if end else cfg.period.end,
        }
    if region is not None:
        data["region"] = region
    return RunConfig.validate_dict(data)


def output_folder(out: Path | None, config: Any) -> Path:
    """The one default rule: ``-o/--out``, else the config's ``output.directory``."""
    return Path(out) if out is not None else Path(config.output.directory)


lang_option = click.option(
    "--lang",
    type=click.Choice(["en", "zh"]),
    default=None,
    help="Language of the report, the Excel labels and the map: en or zh "
    "(default: output.language of the config, en).",
)


def with_language(config: Any, lang: str | None) -> Any:
    """``config`` with ``output.language`` set to ``lang`` (unchanged when ``lang`` is None)."""
    if lang is None:
        return config
    output = config.output.model_copy(update={"language": lang})
    return config.model_copy(update={"output": output})
