"""Read a run folder back into the values its stages handed on, for ``gridcarbon map``.

Exactly the files of :data:`gridcarbon.contracts.RUN_FILES` are opened, by role; nothing is
looked for under another name.  What the map needs of them:

==================  ============================================================================
role                read into
==================  ============================================================================
prior_netcdf        ``MapInputs.prior`` (required)
posterior_netcdf    ``MapInputs.posterior``
units_gpkg          ``ZoningResult.units`` (the layer named like the file, ``zone_units``)
tally_daily_nc      ``ZoningResult.tally_day`` (variables over ``day``) and ``tally_month``
                    (variables over ``month``, their ``_monthly`` suffix removed)
diurnal_nc          ``ZoningResult.diurnal`` (the ``diurnal_profile`` variable)
hotspots_day_nc     ``ZoningResult.hotspots["day"]``
station_stats       ``MapInputs.station_stats``, and ``MapInputs.stations`` from its
                    ``station_id``, ``name``, ``kind``, ``lon``, ``lat`` columns
station_series      ``MapInputs.station_series`` (``time`` parsed, UTC)
column_observations ``MapInputs.column_observations`` (``time`` parsed, UTC; only in runs
                    that assimilated satellite columns)
config              the species of the run (:func:`read_run_config` gives the whole configuration)
==================  ============================================================================

A ZoningResult read back holds only these fields (the others are None or empty).  The
base-map boundaries are not in a run folder: the caller gives them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gridcarbon.contracts import MapInputs, ZoningResult, run_file_name
from gridcarbon.errors import InputFileError
from gridcarbon.io.cf import beijing_bin_axis
from gridcarbon.io.netcdf_lock import open_netcdf
from gridcarbon.species import DEFAULT_SPECIES, Species

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    import geopandas as gpd
    import pandas as pd
    import xarray as xr

    from gridcarbon.config import RunConfig

__all__ = ["read_map_inputs", "read_run_config", "STATION_COLUMNS", "DIURNAL_VARIABLE"]

log = logging.getLogger(__name__)

#: The station columns of ``station_stats.csv`` that locate and describe each station.
STATION_COLUMNS = ("station_id", "name", "kind", "lon", "lat")
#: The variable of ``zone_diurnal.nc``.
DIURNAL_VARIABLE = "diurnal_profile"
#: Suffix of the monthly sums in ``zone_tally_daily.nc``.
MONTHLY_SUFFIX = "_monthly"


def _path(run_dir: Path, role: str) -> Path | None:
    p = run_dir / run_file_name(role)
    return p if p.exists() else None


def read_run_config(run_dir: str | Path) -> RunConfig | None:
    """The configuration a run folder was made with (its ``config.yaml``), or None."""
    from gridcarbon.config import load_config

    p = _path(Path(run_dir), "config")
    return load_config(p) if p is not None else None


def _open_dataset(path: Path) -> xr.Dataset:
    try:
        return open_netcdf(path)
    except (OSError, ValueError) as exc:
        raise InputFileError(f"{path} cannot be read as NetCDF ({exc}); re-run the stage") from None


def _read_units(path: Path) -> gpd.GeoDataFrame:
    import geopandas as gpd
    import pyogrio

    layer = path.stem
    layers = [str(row[0]) for row in pyogrio.list_layers(path)]
    if layer not in layers:
        raise InputFileError(
            f"{path} has no layer {layer!r} (layers: {layers}); it is not a file of "
            "`gridcarbon run` or `gridcarbon zones`"
        )
    units = gpd.read_file(path, layer=layer)
    if "unit_code" not in units.columns:
        raise InputFileError(f"{path} layer {layer!r} has no 'unit_code' column")
    return units


def _read_tallies(path: Path) -> tuple[xr.Dataset, xr.Dataset]:
    """The daily and the monthly tallies of ``zone_tally_daily.nc``."""
    ds = _open_dataset(path)
    # the file's bin axes are UTC with Beijing labels; the zoning result's are Beijing labels
    day = beijing_bin_axis(ds[[v for v in ds.data_vars if "day" in ds[v].dims]], "day")
    monthly = [v for v in ds.data_vars if "month" in ds[v].dims]
    month = beijing_bin_axis(ds[monthly], "month")
    month = month.rename(
        {v: str(v).removesuffix(MONTHLY_SUFFIX) for v in month.data_vars if v in monthly}
    )
    return day, month


def _read_hotspots(path: Path) -> xr.Dataset:
    """A hotspot Dataset with its bins labelled by Beijing time, as the zoning stage holds it."""
    return beijing_bin_axis(_open_dataset(path), "time")


def _read_diurnal(path: Path) -> xr.DataArray:
    ds = _open_dataset(path)
    if DIURNAL_VARIABLE not in ds:
        raise InputFileError(
            f"{path} has no {DIURNAL_VARIABLE!r} variable (variables: {list(ds.data_vars)})"
        )
    return ds[DIURNAL_VARIABLE]


def _read_table(path: Path) -> pd.DataFrame:
    import pandas as pd

    from gridcarbon.io.tables import read_csv_table

    # a run's own CSV: text cells that would start a formula carry a guard "'" (removed here)
    df = read_csv_table(path)
    if "time" in df.columns:
        df["time"] = pd.to_datetime(df["time"])
    return df


def _stations_of(stats: pd.DataFrame, path: Path) -> pd.DataFrame | None:
    if not {"station_id", "lon", "lat"} <= set(stats.columns):
        log.warning("%s has no station_id/lon/lat columns: no station markers", path)
        return None
    cols = [c for c in STATION_COLUMNS if c in stats.columns]
    return stats[cols].drop_duplicates("station_id").reset_index(drop=True)


def _species(config: RunConfig | None) -> tuple[Species, ...]:
    if config is None:
        return DEFAULT_SPECIES
    return config.species_values()


def read_map_inputs(
    run_dir: str | Path,
    boundaries: Mapping[str, gpd.GeoDataFrame] | None = None,
    species: tuple[Species, ...] | None = None,
) -> MapInputs:
    """What the map draws, read from a run folder (see the module doc for each file).

    Parameters
    ----------
    run_dir : path
        Output folder of ``gridcarbon run`` (or ``gridcarbon grid``): ``prior.nc`` is required,
        every other file is used when present.
    boundaries : mapping of level → GeoDataFrame, optional
        The base-map outlines (``province``, ``city``, ``county``, lon/lat).
    species : tuple of Species, optional
        Default: the species named in the folder's ``config.yaml`` (else the default species).
    """
    from gridcarbon.io.grids import open_grids

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputFileError(
            f"run folder {str(run_dir)!r} does not exist; make one with "
            "`gridcarbon run` or `gridcarbon grid`"
        )
    prior_path = _path(run_dir, "prior_netcdf")
    if prior_path is None:
        raise InputFileError(
            f"{run_dir} has no {run_file_name('prior_netcdf')}; it is not the output folder of "
            "`gridcarbon run` or `gridcarbon grid`"
        )
    found = [prior_path.name]

    def take(role: str, reader) -> Any:
        p = _path(run_dir, role)
        if p is None:
            return None
        found.append(p.name)
        return reader(p)

    posterior = take("posterior_netcdf", open_grids)
    units = take("units_gpkg", _read_units)
    tallies = take("tally_daily_nc", _read_tallies)
    diurnal = take("diurnal_nc", _read_diurnal)
    hotspots = take("hotspots_day_nc", _read_hotspots)
    zoning = None
    if units is not None:
        zoning = ZoningResult(
            units=units,
            tally_day=tallies[0] if tallies is not None else None,
            tally_month=tallies[1] if tallies is not None else None,
            diurnal=diurnal,
            hotspots={"day": hotspots} if hotspots is not None else {},
        )
    elif any(x is not None for x in (tallies, diurnal, hotspots)):
        log.warning(
            "%s has zoning files but no %s: no zoning layers", run_dir, run_file_name("units_gpkg")
        )
    stats_path = _path(run_dir, "station_stats")
    stats = take("station_stats", _read_table)
    series = take("station_series", _read_table)
    columns = take("column_observations", _read_table)
    config = read_run_config(run_dir)
    log.info("map inputs read from %s: %s", run_dir, ", ".join(found))
    return MapInputs(
        prior=open_grids(prior_path),
        posterior=posterior,
        zoning=zoning,
        stations=_stations_of(stats, stats_path) if stats is not None else None,
        station_stats=stats,
        station_series=series,
        boundaries=dict(boundaries or {}),
        species=species if species is not None else _species(config),
        column_observations=columns,
    )
