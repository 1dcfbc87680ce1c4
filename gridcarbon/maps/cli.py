"""``gridcarbon map``: write the reviewers' HTML map of a run folder."""

from __future__ import annotations

import time
from pathlib import Path

import click

__all__ = ["map_command"]


@click.command("map")
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Output folder of `gridcarbon run` (or `gridcarbon grid`).",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="HTML file to write (default: map.html in the run folder).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="YAML run configuration whose `maps:` section is used "
    "(default: the run folder's config.yaml, else the defaults).",
)
@click.option(
    "--cdn",
    is_flag=True,
    help="Load Leaflet from its CDN instead of inlining it: a smaller file that needs "
    "internet to open.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing map file.")
def map_command(
    run_dir: Path, out_path: Path | None, config_path: Path | None, cdn: bool, overwrite: bool
) -> None:
    """Write an interactive map (one HTML file) of a run's grids, units, hotspots and stations.

    \b
    Reads from RUN_DIR whatever exists of: prior.nc (required), posterior.nc,
    zone_units.gpkg, zone_diurnal.nc, zone_tally_daily.nc, hotspots_day.nc,
    station_stats.csv, station_series.csv, config.yaml (the files `gridcarbon run` writes).
    By default the file is self-contained: it opens offline and makes no network request.
    """
    from gridcarbon.config import load_config
    from gridcarbon.io.runfolder import check_output_set, output_set
    from gridcarbon.maps.core import make_map, write_map
    from gridcarbon.maps.pipeline import read_run_dir

    t0 = time.perf_counter()
    inputs = read_run_dir(run_dir)
    run_cfg = load_config(config_path) if config_path is not None else inputs.pop("config", None)
    inputs.pop("config", None)
    cfg = run_cfg.maps if run_cfg is not None else None
    if cfg is None:
        from gridcarbon.config.maps import MapConfig

        cfg = MapConfig()
    if cdn:
        cfg = cfg.model_copy(update={"self_contained": False})
    out = out_path if out_path is not None else run_dir / cfg.file_name
    check_output_set(out.parent, [out.name], overwrite, check_folder=False)
    m = make_map(config=cfg, **inputs)
    with output_set(out.parent, [out.name], overwrite, check_folder=False) as tmp:
        write_map(m, tmp / out.name)
    path = out
    size = path.stat().st_size / 1e6
    layers = ", ".join(k for k in ("posterior", "units", "hotspots", "stations") if k in inputs)
    click.echo(
        f"map: {path} ({size:.1f} MB, {'CDN' if cdn else 'self-contained'}; "
        f"prior{', ' + layers if layers else ''}; {time.perf_counter() - t0:.1f} s)"
    )
