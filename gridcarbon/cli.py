"""The ``gridcarbon`` command: one subcommand per stage, plus ``run`` for the whole pipeline.

The commands are thin wrappers over the Python API; every option has a config equivalent.
"""

from __future__ import annotations

import datetime as dt
import errno
import importlib
import json
import logging
import signal
import sys
from pathlib import Path

import click

from gridcarbon import __version__
from gridcarbon.config import FIRST_YEAR, LAST_YEAR
from gridcarbon.errors import GridcarbonError

__all__ = ["main", "cli"]

log = logging.getLogger("gridcarbon")

#: Periods longer than this (62 days) are streamed month by month instead of held in memory.
STREAM_ABOVE_HOURS = 24 * 62

#: Exit statuses (also in ``gridcarbon --help`` and the README).
EXIT_OK, EXIT_DATA, EXIT_USAGE, EXIT_SIGINT, EXIT_SIGTERM = 0, 1, 2, 130, 143


def _setup_logging(verbose: int, quiet: int) -> None:
    level = logging.WARNING + 10 * (quiet - verbose)
    logging.basicConfig(
        level=max(level, logging.DEBUG), format="%(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("gridcarbon").setLevel(max(level, logging.DEBUG))


def load_cli_config(
    config_path: Path | None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    year: int | None = None,
):
    """The run configuration from ``--config`` with the period options applied."""
    from gridcarbon.config import RunConfig, load_config

    if year is not None and (start or end):
        raise click.UsageError("give either --year or --start/--end, not both")
    cfg = load_config(config_path)
    data = cfg.model_dump()
    if year is not None:
        data["period"] = {"start": dt.date(year, 1, 1), "end": dt.date(year, 12, 31)}
    elif start or end:
        data["period"] = {"start": start or cfg.period.start, "end": end or cfg.period.end}
    return RunConfig.validate_dict(data)


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="YAML run configuration (default: the embedded Zhejiang scenario; "
    "`gridcarbon config` prints it to start from).",
)
period_options = [
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
        help="Grid a whole Beijing calendar year (8,760 or 8,784 hours).",
    ),
]


def _period(f):
    for opt in reversed(period_options):
        f = opt(f)
    return f


class _Group(click.Group):
    """The one error path of every command: gridcarbon's own errors, and the operating system's
    refusals (disk full, read-only, permission), become one line ``gridcarbon: error: ...`` and
    exit status 1; a usage error (a bad option or value) one line ``gridcarbon: usage error:
    ...`` and exit status 2; Ctrl-C exits 130 and SIGTERM 143, after the temporary files are
    removed.  ``-vv`` logs the traceback as well."""

    def invoke(self, ctx: click.Context):
        from gridcarbon.io.runfolder import Terminated

        try:
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
        gridcarbon run                      # everything, into ./gridcarbon-output
        gridcarbon run --year 2023 --out y  # a whole year
    Or stage by stage:
        gridcarbon grid --out prior-run     # prior grids (NetCDF, GeoTIFF, optional Zarr)
        gridcarbon config > my.yaml         # the full default configuration, to edit
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


@cli.command("config")
@config_option
def config_command(config_path: Path | None) -> None:
    """Print the full run configuration (defaults included) as YAML."""
    from gridcarbon.config import load_config

    click.echo(load_config(config_path).to_yaml(), nl=False)


@cli.command("grid")
@config_option
@_period
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("gridcarbon-prior"),
    show_default=True,
    help="Output folder.",
)
@click.option(
    "--format",
    "formats",
    type=click.Choice(["netcdf", "zarr", "geotiff"]),
    multiple=True,
    help="Output formats (repeatable; default from the config: netcdf and geotiff).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder.")
@click.pass_context
def grid_command(ctx, config_path, start, end, year, out_dir, formats, overwrite) -> None:
    """Build the hourly prior emission grids and write them.

    Writes prior.nc (CF-1.10 NetCDF, kg h-1 per cell, area sources plus a point-source table),
    prior_totals.tif (period totals, one band per species, area + point sources),
    prior.zarr with --format zarr, prior_point_sources.csv and config.yaml.  Periods longer than
    two months are streamed month by month (through a Zarr store) so memory stays bounded.
    """
    from gridcarbon.io import atomic_directory
    from gridcarbon.pipeline import (
        build_prior,
        plan_run,
        prior_summary,
        write_prior,
        write_prior_streamed,
    )

    cfg = load_cli_config(config_path, start and start.date(), end and end.date(), year)
    if formats:
        cfg.output.formats = list(formats)
    progress = ctx.obj["progress"]
    inputs = [config_path] if config_path else []
    streamed = _period_hours(cfg) > STREAM_ABOVE_HOURS
    plan_run(cfg, out_dir, overwrite, stages=(), inputs=inputs, streamed=streamed)
    with atomic_directory(out_dir, overwrite=overwrite, inputs=inputs) as tmp:
        (tmp / "config.yaml").write_text(cfg.to_yaml(), encoding="utf-8")
        if streamed:
            _, summary = write_prior_streamed(cfg, tmp, progress=progress)
        else:
            ds = build_prior(cfg, progress=progress)
            write_prior(cfg, ds, tmp)
            summary = prior_summary(ds)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    _echo_summary(summary, out_dir)


def _period_hours(cfg) -> int:
    return 24 * ((cfg.period.end - cfg.period.start).days + 1)


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
@_period
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder (default: output.directory of the config, ./gridcarbon-output).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder.")
@click.pass_context
def run_command(ctx, config_path, start, end, year, out_dir, overwrite) -> None:
    """Run the whole pipeline: prior grids, inversion, zone tallies and hotspots, and the map.

    Every result goes into one output folder, which appears only when all stages succeed.
    """
    from gridcarbon.pipeline import prior_summary, run

    cfg = load_cli_config(config_path, start and start.date(), end and end.date(), year)
    inputs = [config_path] if config_path else []
    result = run(
        cfg, out_dir=out_dir, overwrite=overwrite, progress=ctx.obj["progress"], inputs=inputs
    )
    _echo_summary(prior_summary(result.prior), result.out_dir)
    for stage, seconds in result.timings.items():
        click.echo(f"  stage {stage:10s} {seconds:6.1f} s")
    if "map" in result.files or "maps" in result.stages:
        click.echo(f"map: {result.files.get('map', result.out_dir / 'map.html')}")


# Stage commands live beside their subpackages (which use the helpers above).
for _module, _name in (
    ("gridcarbon.inversion.cli", "invert_command"),
    ("gridcarbon.inversion.cli", "osse_command"),
    ("gridcarbon.zoning.cli", "zones_command"),
    ("gridcarbon.maps.cli", "map_command"),
):
    cli.add_command(getattr(importlib.import_module(_module), _name))


def main() -> None:
    """Entry point of the ``gridcarbon`` script (SIGTERM ends a run like Ctrl-C, exit 143)."""
    from gridcarbon.io.runfolder import raise_terminated

    signal.signal(signal.SIGTERM, raise_terminated)
    cli(obj={})


if __name__ == "__main__":
    main()
