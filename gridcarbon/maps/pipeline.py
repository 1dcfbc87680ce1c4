"""The map stage of ``gridcarbon run`` and the readers of a run folder for ``gridcarbon map``.

:func:`run_map_stage` takes the in-memory results of the earlier stages; :func:`read_run_dir`
reads the same things back from a run's output folder.  Both go through small adapters
(:func:`from_zoning_result`, :func:`from_inversion_result`) that look the pieces up by the names
the zoning and inversion stages use (listed in ``docs/maps.md``), so the map works with
whatever subset exists.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import xarray as xr

from gridcarbon.config.maps import MapConfig
from gridcarbon.errors import InputFileError
from gridcarbon.io.tables import read_csv_table
from gridcarbon.maps.core import make_map, write_map

__all__ = [
    "run_map_stage",
    "read_run_dir",
    "from_zoning_result",
    "from_inversion_result",
    "RUN_DIR_FILES",
]

log = logging.getLogger(__name__)


def _get(obj: Any, *names: str) -> Any:
    """The first attribute (or mapping key) of ``obj`` among ``names`` that is not None."""
    if obj is None:
        return None
    for n in names:
        v = obj.get(n) if isinstance(obj, Mapping) else getattr(obj, n, None)
        if v is not None:
            return v
    return None


def from_zoning_result(zoning_result: Any) -> dict[str, Any]:
    """``units``, ``unit_series`` and ``hotspots`` from the zoning stage's result.

    Looked up as attributes or keys: units in ``units`` / ``control_units`` / ``zones``; series
    in ``unit_series``, else ``diurnal`` and ``monthly`` (or the species of ``tally_month``),
    combined as ``{"hour": ..., "month": ...}``; hotspots in ``hotspots`` / ``hotspot_bins``
    (a ``{level: Dataset}`` mapping, as :class:`gridcarbon.zoning.stage.ZoningResult` has,
    is passed on and its ``"day"`` level drawn).
    """
    units = _get(zoning_result, "units", "control_units", "zones", "unit_table")
    series = _get(zoning_result, "unit_series")
    if series is None:
        hour = _get(zoning_result, "diurnal", "unit_diurnal", "diurnal_profiles")
        month = _get(zoning_result, "monthly", "unit_monthly", "monthly_series")
        if month is None:
            tm = _get(zoning_result, "tally_month")
            if isinstance(tm, xr.Dataset):  # per-unit monthly sums: keep the species themselves
                keep = [v for v in ("CO2", "NOx", "VOC") if v in tm.data_vars]
                month = tm[keep] if keep else None
        if hour is not None or month is not None:
            series = {"hour": hour, "month": month}
    hotspots = _get(zoning_result, "hotspots", "hotspot_bins", "hotspot_dataset")
    return {"units": units, "unit_series": series, "hotspots": hotspots}


def from_inversion_result(inversion_result: Any) -> dict[str, Any]:
    """``posterior``, ``stations`` and ``station_series`` from the inversion stage's result.

    Looked up as attributes or keys: ``posterior``; ``stations`` / ``station_table``;
    ``station_series`` / ``station_timeseries`` / ``series`` (a long table, see
    :func:`gridcarbon.maps.inputs.station_statistics`).
    """
    return {
        "posterior": _get(inversion_result, "posterior"),
        "stations": _get(inversion_result, "stations", "station_table"),
        "station_series": _get(inversion_result, "station_series", "station_timeseries", "series"),
    }


def run_map_stage(
    config: Any,
    prior: xr.Dataset,
    out_path: str | Path,
    posterior: xr.Dataset | None = None,
    zoning_result: Any = None,
    inversion_result: Any = None,
    overwrite: bool = True,
) -> Path:
    """Make the map of a run and write it to ``out_path``; returns the path.

    Parameters
    ----------
    config : RunConfig or MapConfig
        The run's configuration (its ``maps`` section is used) or a MapConfig.
    prior : xr.Dataset
        Prior emission grids.
    out_path : path
        The HTML file to write (inside the run's temporary output folder in ``gridcarbon run``).
    posterior : xr.Dataset, optional
        Posterior grids; default: the inversion result's.
    zoning_result, inversion_result : optional
        The zoning and inversion stages' results (see :func:`from_zoning_result`,
        :func:`from_inversion_result`).
    overwrite : bool
        Replace an existing file (the run folder is new, so True by default).
    """
    t0 = time.perf_counter()
    cfg = config if isinstance(config, MapConfig) else getattr(config, "maps", None) or MapConfig()
    z = from_zoning_result(zoning_result)
    inv = from_inversion_result(inversion_result)
    if posterior is None:
        posterior = inv["posterior"]
    stations = inv["stations"]
    m = make_map(
        prior,
        posterior=posterior,
        units=z["units"],
        unit_series=z["unit_series"],
        hotspots=z["hotspots"],
        stations=stations,
        station_series=inv["station_series"],
        config=cfg,
    )
    path = write_map(m, out_path, overwrite=overwrite)
    log.info("map written to %s in %.1f s", path, time.perf_counter() - t0)
    return path


#: Files of a run folder the map reads, each a list of candidate names (first found wins).
RUN_DIR_FILES = {
    "prior": ["prior.nc", "prior.zarr"],
    "posterior": ["posterior.nc", "posterior.zarr"],
    "units": ["zone_units.gpkg", "zones.gpkg", "control_units.gpkg", "units.gpkg"],
    "unit_series": ["zone_diurnal.nc", "unit_series.nc"],
    "hotspots": ["hotspots_day.nc", "hotspots.nc", "hotspots.zarr"],
    "stations": ["stations.csv", "stations.parquet"],  # else derived from station_stats.csv
    "station_series": [
        "station_series.csv",
        "station_series.parquet",
        "station_timeseries.csv",
        "station_timeseries.parquet",
    ],
    "config": ["config.yaml"],
}


def _first(run_dir: Path, key: str) -> Path | None:
    for name in RUN_DIR_FILES[key]:
        p = run_dir / name
        if p.exists():
            return p
    return None


def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    # a run's own CSV: text cells that would start a formula carry a guard "'" (removed here)
    df = read_csv_table(path)
    if "time" in df.columns:
        df["time"] = pd.to_datetime(df["time"])
    return df


def _read_units(path: Path) -> gpd.GeoDataFrame:
    import pyogrio

    layers = [row[0] for row in pyogrio.list_layers(path)]
    for layer in layers:
        gdf = gpd.read_file(path, layer=layer)
        if "unit_code" in gdf.columns and gdf.geometry is not None and len(gdf):
            return gdf
    raise InputFileError(f"{path} has no layer with a 'unit_code' column (layers: {layers})")


def read_run_dir(run_dir: str | Path) -> dict[str, Any]:
    """Read what the map needs from a run's output folder (see :data:`RUN_DIR_FILES`).

    Returns a dict with ``prior`` (required) and, when present, ``posterior``, ``units``,
    ``unit_series``, ``hotspots``, ``stations``, ``station_series`` and ``config``
    (a RunConfig from ``config.yaml``).
    """
    from gridcarbon.io import open_grids

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputFileError(
            f"run folder {str(run_dir)!r} does not exist; make one with "
            "`gridcarbon run` or `gridcarbon grid`"
        )
    out: dict[str, Any] = {}
    p = _first(run_dir, "prior")
    if p is None:
        raise InputFileError(
            f"{run_dir} has no prior grids ({' or '.join(RUN_DIR_FILES['prior'])})"
        )
    out["prior"] = open_grids(p)
    if (p := _first(run_dir, "posterior")) is not None:
        out["posterior"] = open_grids(p)
    if (p := _first(run_dir, "units")) is not None:
        out["units"] = _read_units(p)
    if (p := _first(run_dir, "unit_series")) is not None:
        series = xr.open_dataset(p)
        daily = run_dir / "zone_tally_daily.nc"
        if daily.exists():  # the zoning stage's monthly sums ride along with the daily ones
            d = xr.open_dataset(daily)
            keep = [v for v in ("CO2_monthly", "NOx_monthly", "VOC_monthly") if v in d]
            if keep and "month" in d.dims:
                series = {
                    "hour": series,
                    "month": d[keep].rename({k: k.removesuffix("_monthly") for k in keep}),
                }
        out["unit_series"] = series
    if (p := _first(run_dir, "hotspots")) is not None:
        out["hotspots"] = xr.open_zarr(p) if p.is_dir() else xr.open_dataset(p)
    if (p := _first(run_dir, "stations")) is not None:
        out["stations"] = _read_table(p)
    elif (p := run_dir / "station_stats.csv").exists():
        # the inversion stage writes per-station statistics with kind and location
        st = _read_table(p)
        if {"station_id", "lon", "lat"} <= set(st.columns):
            cols = [c for c in ("station_id", "name", "kind", "lon", "lat") if c in st.columns]
            out["stations"] = st[cols].drop_duplicates("station_id").reset_index(drop=True)
    if (p := _first(run_dir, "station_series")) is not None:
        out["station_series"] = _read_table(p)
    if (p := _first(run_dir, "config")) is not None:
        from gridcarbon.config import load_config

        out["config"] = load_config(p)
    found = sorted(k for k in out if k != "config")
    log.info("map inputs found in %s: %s", run_dir, ", ".join(found))
    return out
