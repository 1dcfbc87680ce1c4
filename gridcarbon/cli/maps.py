"""``gridcarbon map``: write the reviewers' HTML map of a run folder."""

from __future__ import annotations

import time
from pathlib import Path

import click

from gridcarbon.cli.options import config_option, lang_option, out_option, overwrite_option

__all__ = ["map_command"]


@click.command("map")
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Output folder of `gridcarbon run` (or `gridcarbon grid`).",
)
@out_option("HTML file to write (default: map.html in the run folder).", file=True)
@config_option
@click.option(
    "--cdn",
    is_flag=True,
    help="Load Leaflet from its CDN instead of inlining it: a smaller file that needs "
    "internet to open.",
)
@lang_option
@overwrite_option
def map_command(
    run_dir: Path,
    out: Path | None,
    config_path: Path | None,
    cdn: bool,
    lang: str | None,
    overwrite: bool,
) -> None:
    """Write an interactive map (one HTML file) of a run's grids, units, hotspots and stations.

    \b
    The `maps:` section comes from --config, else the run folder's config.yaml, else the
    defaults.  Reads from RUN_DIR whatever exists of: prior.nc (required), posterior.nc,
    zone_units.gpkg, zone_diurnal.nc, zone_tally_daily.nc, hotspots_day.nc,
    station_stats.csv, station_series.csv, config.yaml (the files `gridcarbon run` writes).
    The base map is the Zhejiang province, city and county outlines.
    By default the file is self-contained: it opens offline and makes no network request.
    """
    from gridcarbon.config import load_config
    from gridcarbon.config.maps import MapConfig
    from gridcarbon.io.outputs import write_documents
    from gridcarbon.io.run_folder_reader import read_map_inputs, read_run_config
    from gridcarbon.io.runfolder import check_output_set, output_set
    from gridcarbon.maps.stage import run_map_stage
    from gridcarbon.scenario.geography import load_boundaries

    t0 = time.perf_counter()
    boundaries = {level: load_boundaries(level) for level in ("province", "city", "county")}
    inputs = read_map_inputs(run_dir, boundaries)
    run_cfg = load_config(config_path) if config_path is not None else read_run_config(run_dir)
    cfg = run_cfg.maps if run_cfg is not None else MapConfig()
    if lang is None:  # the run's language, else English
        lang = run_cfg.output.language if run_cfg is not None else "en"
    if cdn:
        cfg = cfg.model_copy(update={"self_contained": False})
    out = out if out is not None else run_dir / cfg.file_name
    check_output_set(out.parent, [out.name], overwrite, check_folder=False)
    documents = run_map_stage(inputs, cfg, lang)
    with output_set(out.parent, [out.name], overwrite, check_folder=False) as tmp:
        write_documents({out.name: documents[cfg.file_name]}, tmp)
    size = out.stat().st_size / 1e6
    present = {
        "posterior": inputs.posterior is not None,
        "units": inputs.zoning is not None and inputs.zoning.units is not None,
        "hotspots": inputs.zoning is not None and bool(inputs.zoning.hotspots),
        "stations": inputs.stations is not None,
    }
    layers = "".join(f", {k}" for k, v in present.items() if v)
    click.echo(
        f"map: {out} ({size:.1f} MB, {'CDN' if cdn else 'self-contained'}; "
        f"prior{layers}; {time.perf_counter() - t0:.1f} s)"
    )
