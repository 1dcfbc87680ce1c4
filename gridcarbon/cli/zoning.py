"""``gridcarbon zones``: overlay emission grids on control units and write the zone report."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from gridcarbon.cli.options import (
    config_option,
    lang_option,
    out_option,
    output_folder,
    overwrite_option,
    with_language,
)

__all__ = ["zones_command"]

log = logging.getLogger(__name__)


@click.command("zones")
@config_option
@click.option(
    "--grids",
    "grids_path",
    type=click.Path(),
    required=True,
    help="emission grids: NetCDF or Zarr written by `gridcarbon grid`, or the posterior",
)
@click.option(
    "--units",
    "units_path",
    type=click.Path(),
    default=None,
    help="control units (GeoPackage, Shapefile, GeoJSON); default: zoning.units_path "
    "of the config, else the embedded synthetic units",
)
@click.option(
    "--units-crs", default=None, help="CRS to assume when the unit file has none, e.g. EPSG:4490"
)
@out_option()
@lang_option
@overwrite_option
def zones_command(config_path, grids_path, units_path, units_crs, out, lang, overwrite):
    """Tally emissions and co-located hotspots of every species per control unit; write the
    report.

    Writes a GeoPackage (units with every per-unit figure), CSV and Excel tables, NetCDF tallies
    and hotspot layers, and a self-contained HTML report into the output folder.
    """
    from gridcarbon.config import load_config
    from gridcarbon.grids.gridspec import GridSpec
    from gridcarbon.io import open_grids
    from gridcarbon.io.inputs import check_input_file
    from gridcarbon.io.runfolder import deferred_signals, output_set
    from gridcarbon.pipeline import (
        STREAM_ABOVE_HOURS,
        check_memory,
        month_blocks,
        zone_report,
        zoning_inputs,
    )
    from gridcarbon.zoning.report import output_names

    config = with_language(load_config(config_path), lang)
    updates = {}
    if units_path is not None:
        updates["units_path"] = Path(units_path)
    if units_crs is not None:
        updates["units_assume_crs"] = units_crs
    if updates:
        config = config.model_copy(update={"zoning": config.zoning.model_copy(update=updates)})
    check_input_file(grids_path, "emission grids (--grids)", allow_folder=True)
    if config.zoning.units_path is not None:
        check_input_file(config.zoning.units_path, "control-unit file")
    out_dir = output_folder(out, config)
    inputs = [p for p in (config_path, grids_path, config.zoning.units_path) if p]
    names = output_names(config.zoning)
    with output_set(out_dir, names, overwrite, inputs=inputs) as tmp:
        grids = open_grids(grids_path)
        zoning = zoning_inputs(config, GridSpec.from_dataset(grids))
        cells = grids.sizes["y"] * grids.sizes["x"]
        hours = grids.sizes["time"]
        # long grids (a year's store) are read and tallied month by month, never whole
        long = hours > STREAM_ABOVE_HOURS
        in_memory = min(hours, 24 * 31) if long else hours
        # long grids: the hourly tally goes to its file month by month, the daily fields stay
        days = -(-hours // 24) if long else 0
        check_memory(
            config,
            cells,
            in_memory,
            len(zoning.units),
            ("zoning",),
            tally_hours=in_memory,
            days=days,
        )
        blocks = month_blocks(grids) if long else None
        if not long:
            with deferred_signals():  # an interrupted NetCDF read can dead-lock like a write
                grids = grids.load()
        # the posterior carries the σ of every species' emissions
        kind = "posterior" if any(f"{s}_std" in grids for s in config.species) else "prior"
        result, files = zone_report(
            config,
            grids,
            zoning,
            tmp,
            grids_kind=kind,
            grids_path=Path(grids_path),
            blocks=blocks,
        )
    click.echo(f"{len(result.units)} units; outputs in {out_dir}:")
    for name in files:
        click.echo(f"  {name}")
    # an offset warning was printed when the units were checked (once; -q hides it) and is
    # in zone_qa.txt and the report
