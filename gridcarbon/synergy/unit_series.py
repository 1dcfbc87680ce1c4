"""Daily prior and posterior totals per control unit of a run folder, for the co-control
analysis.

The zoning stage tallies the posterior only; the prior is tallied here the same way (exact cell
coverage of the units for area sources, each stack to the first unit that contains it), and the
posterior tallied alike is checked against the zoning stage's tally.  The files are read by
:mod:`gridcarbon.io.synergy_files`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gridcarbon.errors import InputDataError
from gridcarbon.io.synergy_files import (
    open_run_grids,
    read_run_daily_tally,
    read_run_unit_geometries,
    read_run_units,
    run_is_synthetic,
)
from gridcarbon.species import CO2, DEFAULT_SPECIES

__all__ = ["UnitSeries", "read_unit_daily"]


@dataclass(frozen=True)
class UnitSeries:
    """Daily unit totals of a run's prior and posterior (kg per Beijing day).

    ``units`` is the run's ``zone_units.csv`` (codes as text); ``prior`` and ``posterior`` map a
    species to an ``(unit, day)`` array in the order of ``units``; ``days`` are Beijing dates.
    """

    units: pd.DataFrame
    days: pd.DatetimeIndex
    prior: dict[str, np.ndarray]
    posterior: dict[str, np.ndarray]
    synthetic: bool


def read_unit_daily(
    run_dir: str | Path, species: tuple[str, ...] = tuple(sp.name for sp in DEFAULT_SPECIES)
):
    """Daily prior and posterior totals per control unit of a run (:class:`UnitSeries`).

    The zoning stage tallies the posterior only (``zone_tally_daily.nc``); the prior is tallied
    here the same way — exact cell coverage of the units in ``zone_units.gpkg`` for area
    sources, each stack to the first unit that contains it — and the posterior recomputed
    alike is checked against the zoning stage's tally (relative 1e-6).
    """
    import shapely

    from gridcarbon.grids.coverage import coverage_matrix
    from gridcarbon.grids.gridspec import GridSpec

    run_dir = Path(run_dir)
    units = read_run_units(run_dir)
    geo = read_run_unit_geometries(run_dir, units["unit_code"].tolist())
    out: dict[str, dict[str, np.ndarray]] = {"prior": {}, "posterior": {}}
    days = None
    matrix = None
    point_unit = None
    for which in ("prior", "posterior"):
        with open_run_grids(run_dir, which) as ds:
            if matrix is None:
                grid = GridSpec.from_dataset(ds)
                geoms = shapely.make_valid(geo.to_crs(grid.crs).geometry.to_numpy())
                matrix = coverage_matrix(grid, geoms)
                point_unit = _point_units(ds, geo)
            beijing = pd.DatetimeIndex(ds["time"].to_numpy()) + pd.Timedelta(hours=8)
            day = beijing.floor("D")
            days = pd.DatetimeIndex(np.unique(day))
            day_idx = days.get_indexer(day)
            for sp in species:
                hourly = ds[sp].to_numpy().reshape(len(beijing), -1)
                daily = np.zeros((days.size, hourly.shape[1]))
                np.add.at(daily, day_idx, hourly.astype(np.float64))
                tally = np.asarray(matrix @ daily.T)
                pvar = f"{sp}_point"
                if pvar in ds:
                    pts = ds[pvar].to_numpy().astype(np.float64)
                    pdaily = np.zeros((days.size, pts.shape[1]))
                    np.add.at(pdaily, day_idx, pts)
                    inside = point_unit >= 0
                    np.add.at(tally, point_unit[inside], pdaily[:, inside].T)
                out[which][sp] = tally
    ref = read_run_daily_tally(run_dir, CO2.name, units["unit_code"].tolist())
    if ref is not None:
        scale = max(float(np.abs(ref).max()), 1.0)
        if ref.shape == out["posterior"][CO2.name].shape and (
            np.abs(ref - out["posterior"][CO2.name]).max() > 1e-6 * scale
        ):
            raise InputDataError(
                f"{str(run_dir / 'zone_tally_daily.nc')!r} does not match the posterior tallied "
                "over zone_units.gpkg; the run folder mixes outputs of different runs — re-run "
                "the pipeline"
            )
    return UnitSeries(units, days, out["prior"], out["posterior"], run_is_synthetic(run_dir))


def _point_units(ds, geo) -> np.ndarray:
    """Unit index of each stack (-1 outside every unit): the first unit containing it."""
    import geopandas as gpd

    if "point" not in ds.dims:
        return np.empty(0, dtype=np.int64)
    pts = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(ds["point_lon"].to_numpy(), ds["point_lat"].to_numpy()),
        crs="EPSG:4326",
    ).to_crs(geo.crs)
    hits = gpd.sjoin(
        pts,
        geo.reset_index()[["geometry"]].reset_index(names="unit_index"),
        predicate="intersects",
        how="left",
    )
    first = hits.groupby(level=0)["unit_index"].min()
    return first.reindex(range(len(pts))).fillna(-1).to_numpy(np.int64)
