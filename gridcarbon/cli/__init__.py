"""The ``gridcarbon`` command: one subcommand per stage, plus ``run`` for the whole pipeline.

The commands are thin wrappers over the Python API; every option has a config equivalent.
"""

from __future__ import annotations

import errno
import json
import logging
import signal
import sys
import warnings
from pathlib import Path

import click

from gridcarbon._version import __version__
from gridcarbon.cli.options import (
    check_task_days_option,
    config_option,
    dask_options,
    dry_run_option,
    format_option,
    lang_option,
    load_cli_config,
    out_option,
    output_folder,
    overwrite_option,
    period_options,
    region_option,
    resume_option,
    with_language,
)
from gridcarbon.errors import GridcarbonError

__all__ = ["main", "cli"]

log = logging.getLogger("gridcarbon")

#: Exit statuses (also in ``gridcarbon --help`` and the README).
EXIT_OK, EXIT_DATA, EXIT_USAGE, EXIT_SIGINT, EXIT_SIGTERM = 0, 1, 2, 130, 143


def _setup_logging(verbose: int, quiet: int) -> None:
    # -v: gridcarbon's stage progress and key figures (INFO); -vv: gridcarbon's debug lines.
    # Other libraries stay at WARNING whatever the verbosity (rasterio alone logs hundreds of
    # DEBUG lines a run).
    level = max(logging.WARNING + 10 * (quiet - verbose), logging.DEBUG)
    logging.basicConfig(
        level=max(level, logging.WARNING), format="%(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("gridcarbon").setLevel(level)


def _warning_printer(quiet: int):
    """``warnings.showwarning`` for the command line: one line ``gridcarbon: warning: ...``.

    gridcarbon's warnings name the user's file and line in their message; Python's default
    format would add gridcarbon's own source file, line and code, which mean nothing to a
    user.  Other libraries' warnings keep their category.  ``-q`` hides them all.
    """

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        if quiet:
            return
        text = str(message).strip()
        if not category.__module__.startswith("gridcarbon"):
            text = f"{category.__name__}: {text}"
        click.echo(f"gridcarbon: warning: {text}", err=True)

    return show


class _Group(click.Group):
    """The one error path of every command: gridcarbon's own errors, and the operating system's
    refusals (disk full, read-only, permission), become one line ``gridcarbon: error: ...`` and
    exit status 1; a usage error (a bad option or value) one line ``gridcarbon: usage error:
    ...`` and exit status 2; Ctrl-C exits 130 and SIGTERM 143, after the temporary files are
    removed.  ``-vv`` logs the traceback as well."""

    def invoke(self, ctx: click.Context):
        from gridcarbon.io.runfolder import Terminated

        try:
            # the command's warning format (set by `cli`) ends with the command
            with warnings.catch_warnings():
                return super().invoke(ctx)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "gridcarbon"
            click.echo(
                f"gridcarbon: usage error: {exc.format_message()} (see '{where} --help')", err=True
            )
            sys.exit(EXIT_USAGE)
        except GridcarbonError as exc:
            _fail(exc, str(exc))
        except OSError as exc:
            _fail(exc, _os_error_text(exc))
        except MemoryError as exc:
            _fail(
                exc,
                "out of memory; shorten the period, coarsen the grid or set "
                "inversion.enabled: false",
            )
        except KeyboardInterrupt:
            click.echo("gridcarbon: interrupted; nothing was written", err=True)
            sys.exit(EXIT_SIGINT)
        except Terminated:
            click.echo("gridcarbon: terminated; nothing was written", err=True)
            sys.exit(EXIT_SIGTERM)


def _fail(exc: BaseException, text: str) -> None:
    log.debug("traceback", exc_info=exc)
    click.echo(f"gridcarbon: error: {text}", err=True)
    sys.exit(EXIT_DATA)


def _os_error_text(exc: OSError) -> str:
    what = {
        errno.ENOSPC: "no space left on the device",
        errno.EDQUOT: "the disk quota is exceeded",
        errno.EROFS: "the file system is read-only",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.ENOENT: "no such file or folder",
    }.get(exc.errno, exc.strerror or type(exc).__name__)
    where = f" ({exc.filename})" if exc.filename else ""
    return f"{what}{where}"


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gridcarbon")
@click.option("-v", "--verbose", count=True, help="More messages (-vv for debug).")
@click.option("-q", "--quiet", count=True, help="Fewer messages (-q hides warnings too).")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: int) -> None:
    """gridcarbon: 3 km hourly CO2, NOx and VOC emission grids, corrected with station
    observations, tallied per environmental control unit (三线一单), and mapped.

    \b
    Start with the embedded Zhejiang default (January 2023; synthetic inventory on real geography):
        gridcarbon run                        # everything, into ./gridcarbon-output
        gridcarbon run --start 2023-07-01 --end 2023-07-31 -o july
    Or stage by stage:
        gridcarbon grid -o prior-run          # prior grids (NetCDF, GeoTIFF, optional Zarr)
        gridcarbon grid --year 2023 --format zarr -o prior-2023   # a year, streamed
        gridcarbon run --year 2023 -o year-2023   # a year, streamed, inverted month by month
        gridcarbon run --year 2023 --no-inversion -o year-2023    # a year's prior, zones, map
        gridcarbon config -o my.yaml          # every setting, explained, to edit
        gridcarbon run --config my.yaml

    Times are stored in UTC (hour-beginning); periods are given in Beijing dates.

    \b
    Exit status: 0 success; 1 a data or output error (one line "gridcarbon: error: ...");
    2 a usage error (bad option); 130 interrupted (Ctrl-C); 143 terminated (SIGTERM).
    An output appears complete or not at all; --overwrite replaces only what gridcarbon wrote.
    """
    ctx.ensure_object(dict)
    ctx.obj["progress"] = quiet == 0 and sys.stderr.isatty()
    _setup_logging(verbose, quiet)
    warnings.showwarning = _warning_printer(quiet)


@cli.command("config")
@config_option
@out_option("YAML file to write (default: print it).", file=True)
@overwrite_option
def config_command(config_path: Path | None, out: Path | None, overwrite: bool) -> None:
    """Write the full run configuration (defaults included) as YAML, every setting explained in
    a comment above it."""
    from gridcarbon.config import load_config

    text = load_config(config_path).to_commented_yaml()
    if out is None:
        click.echo(text, nl=False)
        return
    from gridcarbon.io.runfolder import atomic_write

    atomic_write(out, lambda tmp: tmp.write_text(text, encoding="utf-8"), overwrite)
    click.echo(f"written to {out}")


@cli.command("grid")
@config_option
@period_options
@region_option
@out_option()
@format_option
@overwrite_option
@resume_option
@dry_run_option
@dask_options
@click.pass_context
def grid_command(
    ctx,
    config_path,
    start,
    end,
    year,
    region,
    out,
    formats,
    overwrite,
    resume,
    dry_run,
    workers,
    scheduler,
    scheduler_file,
    worker_memory,
    performance_report,
    task_log,
    task_days,
) -> None:
    """Build the hourly prior emission grids and write them.

    Writes prior.nc (CF-1.10 NetCDF, kg h-1 per cell, area sources plus a point-source table),
    prior_totals.tif (period totals, one band per species, area + point sources),
    prior.zarr with --format zarr, prior_point_sources.csv and config.yaml.  Periods longer than
    two months are streamed month by month into prior.zarr (always written for them) so memory
    stays bounded, resumable with --resume after an interruption; their NetCDF copy, several GB
    for a year, is written only with --format netcdf.
    """
    from gridcarbon.io import atomic_directory
    from gridcarbon.pipeline import (
        build_prior,
        dask_client,
        dask_diagnostics,
        is_streamed,
        plan_run,
        prior_summary,
        run_streamed,
        write_prior,
    )

    task_days = check_task_days_option(task_days, workers, scheduler, scheduler_file)
    cfg = load_cli_config(config_path, start, end, year, region)
    out_dir = output_folder(out, cfg)
    if formats:
        cfg.output.formats = list(formats)
    if dry_run:
        _echo_size(cfg, (), task_days, (workers, scheduler, scheduler_file, worker_memory), resume)
        return
    progress = ctx.obj["progress"]
    inputs = [config_path] if config_path else []
    if resume or is_streamed(cfg):
        with (
            dask_client(workers, scheduler, scheduler_file, worker_memory) as client,
            dask_diagnostics(client, performance_report, task_log),
        ):
            result = run_streamed(
                cfg,
                out_dir,
                stages=(),
                overwrite=overwrite,
                resume=resume,
                progress=progress,
                inputs=inputs,
                summary_layout="grid",
                client=client,
                task_days=task_days,
            )
        _echo_summary(result.summary, out_dir)
        return
    plan = plan_run(cfg, out_dir, overwrite, stages=(), inputs=inputs)
    with atomic_directory(out_dir, overwrite=overwrite, inputs=inputs) as tmp:
        (tmp / "config.yaml").write_text(cfg.to_yaml(), encoding="utf-8")
        ds = build_prior(cfg, plan.scenario, progress=progress)
        write_prior(cfg, ds, tmp)
        summary = prior_summary(ds)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    _echo_summary(summary, out_dir)


def _echo_size(
    cfg, stages=None, task_days=None, dask=(None, None, None, None), resume=False
) -> None:
    """Print what a run of ``cfg`` would need (``--dry-run``); nothing is built or written.

    ``task_days`` (with the Dask options ``dask``: workers, scheduler, scheduler file, worker
    memory): the tasks on the workers are sized against the workers' memory limit too;
    ``resume``: the run goes streamed whatever its period."""
    from gridcarbon.pipeline import planned_worker_memory, size_run

    limit = planned_worker_memory(*dask) if task_days is not None else None
    for line in size_run(cfg, stages, task_days, limit, resume).lines():
        click.echo(line)


def _echo_summary(summary: dict, out_dir: Path) -> None:
    g = summary["grid"]
    click.echo(
        f"grid {g['ny']} x {g['nx']} cells of {g['cell_size_m']:.0f} m; "
        f"{summary['hours']} hours {summary['period_utc'][0]} .. {summary['period_utc'][1]} UTC; "
        f"{summary['point_sources']} point sources"
    )
    for sp, t in summary["totals"].items():
        click.echo(
            f"  {sp:4s} {t['total_t']:>16,.0f} t  (area {t['area_t']:,.0f} t, "
            f"points {t['point_t']:,.0f} t)"
        )
    if summary.get("synthetic") == "true":
        click.echo(
            "  NOTE: synthetic inventory (assumed totals, synthetic facilities) on real geography"
        )
    click.echo(f"written to {out_dir}")


@cli.command("run")
@config_option
@period_options
@region_option
@out_option()
@lang_option
@format_option
@overwrite_option
@resume_option
@dry_run_option
@click.option(
    "--no-inversion",
    is_flag=True,
    help="Skip the inversion (same as inversion.enabled: false): the prior, zones and map.",
)
@dask_options
@click.pass_context
def run_command(
    ctx,
    config_path,
    start,
    end,
    year,
    region,
    out,
    lang,
    formats,
    overwrite,
    resume,
    dry_run,
    no_inversion,
    workers,
    scheduler,
    scheduler_file,
    worker_memory,
    performance_report,
    task_log,
    task_days,
) -> None:
    """Run the whole pipeline: prior grids, inversion, zone tallies and hotspots, and the map.

    Every result goes into one output folder, which appears only when all stages succeed.
    Long periods (e.g. --year 2023: longer than two months without the inversion, longer than
    inversion.max_period_days with it) run streamed month by month into OUT.partial/, renamed to
    OUT at the end, each month inverted on its own; --resume continues an interrupted one.
    """
    from gridcarbon.pipeline import dask_client, dask_diagnostics, prior_summary, run

    task_days = check_task_days_option(task_days, workers, scheduler, scheduler_file)
    cfg = with_language(load_cli_config(config_path, start, end, year, region), lang)
    if no_inversion:
        cfg.inversion.enabled = False
    if formats:
        cfg.output.formats = list(formats)
    if dry_run:
        _echo_size(
            cfg, None, task_days, (workers, scheduler, scheduler_file, worker_memory), resume
        )
        return
    inputs = [config_path] if config_path else []
    with (
        dask_client(workers, scheduler, scheduler_file, worker_memory) as client,
        dask_diagnostics(client, performance_report, task_log),
    ):
        result = run(
            cfg,
            out_dir=output_folder(out, cfg),
            overwrite=overwrite,
            progress=ctx.obj["progress"],
            inputs=inputs,
            resume=resume,
            client=client,
            task_days=task_days,
        )
    summary = result.summary if result.summary is not None else prior_summary(result.prior)
    _echo_summary(summary, result.out_dir)
    for stage, seconds in result.timings.items():
        click.echo(f"  stage {stage:10s} {seconds:6.1f} s")
    if "map" in result.files or "maps" in result.stages:
        click.echo(f"map: {result.files.get('map', result.out_dir / 'map.html')}")


def _register_stage_commands() -> None:
    from gridcarbon.cli.inversion import invert_command, osse_command
    from gridcarbon.cli.maps import map_command
    from gridcarbon.cli.synergy import synergy
    from gridcarbon.cli.zoning import zones_command

    for command in (invert_command, osse_command, zones_command, map_command, synergy):
        cli.add_command(command)


_register_stage_commands()


def main() -> None:
    """Entry point of the ``gridcarbon`` script (SIGTERM ends a run like Ctrl-C, exit 143)."""
    from gridcarbon.io.runfolder import raise_terminated

    signal.signal(signal.SIGTERM, raise_terminated)
    cli(obj={})
