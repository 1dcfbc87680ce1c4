"""The zoning stage: units → overlay → tallies → hotspots → per-unit figures.

:func:`run_zoning` is a function of its inputs: the emission grids, the control units, the
stage's configuration, the species (values), and, optionally, the posterior covariance (seen
only as :class:`gridcarbon.contracts.PosteriorCovariance`), the region and the county and city
boundaries.  It reads and writes no file; :func:`gridcarbon.zoning.report.zoning_documents`
turns its result into the documents a run folder holds.
"""

from __future__ import annotations

import json
import logging
import time as _time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from gridcarbon.config.zoning import ZoningConfig
from gridcarbon.contracts import PosteriorCovariance, ZoningResult
from gridcarbon.errors import ConfigError, InputDataError
from gridcarbon.species import Species
from gridcarbon.zoning.emerging import MIN_BINS
from gridcarbon.zoning.hotspots import (
    daily_area_and_points,
    hotspot_level,
    month_fields_of_days,
    species_fields,
    statistic,
    unit_hotspot_table,
)
from gridcarbon.zoning.normalise import control_units
from gridcarbon.zoning.overlay import CoverageCache, Overlay, overlay_units
from gridcarbon.zoning.qa import UnitsQA
from gridcarbon.zoning.tally import (
    TallySums,
    beijing_labels,
    diurnal_profile,
    period_table,
    rollup,
    tally_at,
    zone_tally,
)

if TYPE_CHECKING:  # pragma: no cover
    import shapely

__all__ = ["StreamedFields", "run_zoning", "species_names", "stream_fields"]

log = logging.getLogger(__name__)

#: The roll-ups of the per-unit table, by column.
ROLLUPS: tuple[str, ...] = ("category", "subtype", "county_code", "city_code")


def species_names(grids: xr.Dataset, species: tuple[Species, ...]) -> list[str]:
    """The names of ``species``, each checked to be an emission variable of ``grids``."""
    if not species:
        raise ConfigError("the zoning stage needs at least one species (species=)")
    if not all(isinstance(s, Species) for s in species):
        kinds = [type(s).__name__ for s in species]
        raise ConfigError(f"species must be gridcarbon.species.Species values, got {kinds}")
    names = [s.name for s in species]
    if len(set(names)) != len(names):
        raise ConfigError(f"species {names} name one species twice")
    missing = [n for n in names if n not in grids.data_vars]
    if missing:
        raise InputDataError(
            f"the grids hold no variable for species {missing} (their variables: "
            f"{sorted(map(str, grids.data_vars))}); give emission grids written by "
            "`gridcarbon grid` or the posterior, or run with the species they hold"
        )
    return names


@dataclass(frozen=True)
class StreamedFields:
    """What the zoning stage reads of the grids, summed block by block (e.g. month by month from
    a store): the hourly unit tally, the day and month totals per cell (area + points) for the
    hotspot levels, and the daily area and point sums for the unit table.

    ``sums``: when the hourly tally was handed on block by block (``hourly`` of
    :func:`stream_fields`), what the stage needs of it, summed on the way; ``tally`` then holds
    only the whole-grid series and the units.

    ``scored``: by level (``day``, ``month``), species → ``(z, bins, labels)`` already computed
    (e.g. on Dask workers, :mod:`gridcarbon.zoning.distributed`; ``day`` and ``month`` are then
    empty); ``null_counts``: by level, the toroidal-null counts of a species set
    (:func:`~gridcarbon.zoning.hotspots.hotspot_level`)."""

    tally: xr.Dataset
    day: dict[str, tuple[np.ndarray, np.ndarray]]
    month: dict[str, tuple[np.ndarray, np.ndarray]]
    daily: dict[str, tuple[np.ndarray, np.ndarray | None]]
    sums: TallySums | None = None
    scored: dict[str, dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]] | None = None
    null_counts: dict[str, Callable[[tuple[str, ...]], np.ndarray]] | None = None


def stream_fields(
    blocks: Iterable[xr.Dataset],
    overlay: Overlay,
    units: pd.DataFrame,
    names: list[str],
    time: np.ndarray,
    hourly: Callable[[xr.Dataset], None] | None = None,
) -> StreamedFields:
    """Tally and sum consecutive blocks of the grids in one pass, each block in memory once.

    Every block must hold whole Beijing months (the months of a period), so each day and month
    bin is summed from one block in the same order as from the whole period: the results equal
    those of the in-memory path bit for bit.  ``time``: the hours of all blocks together (the
    hourly tally is filled in place, never held twice).

    ``hourly``: called with each block's hourly tally (e.g. to write it to a file), which is
    then not kept: the period, day, month and hour-of-day sums the stage needs are summed block
    by block (:class:`~gridcarbon.zoning.tally.TallySums`, equal to those of the whole tally to
    the last bit), so memory holds one month of the tally instead of the period's.
    """
    from gridcarbon.grids.dataset import total_grid

    tally: xr.Dataset | None = None
    at = 0
    n_days = np.unique(beijing_labels(time, "day")).size
    day_at = 0
    # the day-level arrays are filled in place (the period's days are known from ``time``)
    days: dict[tuple[str, str], np.ndarray] = {}
    parts: dict[str, dict[str, list]] = {
        s: {"day_t": [], "month": [], "month_t": [], "pts": []} for s in names
    }

    def put(key: tuple[str, str], values: np.ndarray) -> None:
        if key not in days:
            days[key] = np.empty((n_days, *values.shape[1:]), values.dtype)
        days[key][day_at : day_at + values.shape[0]] = values

    sums = None if hourly is None else TallySums(names, time)
    for block in blocks:
        part = zone_tally(block, overlay, units, names)
        tally, n = place_tally_part(
            part, time, at, tally, sums, hourly, f"block {at}..{at + part.sizes['time']}"
        )
        at += n
        del part
        nd = 0
        for s in names:
            # float64 once: the day and month sums would each convert it again
            total = total_grid(block, s).values.astype(np.float64)
            p = parts[s]
            f, labels = species_fields(block, s, "day", total)
            del total
            put((s, "day"), f)
            p["day_t"].append(labels)
            nd = labels.size
            f, labels = month_fields_of_days(f, labels)
            p["month"].append(f)
            p["month_t"].append(labels)
            del f
            area, pts = daily_area_and_points(block, s, overlay.point_unit is not None)
            put((s, "area"), area)
            if pts is not None:
                put((s, "pts"), pts)
            del area, pts
        day_at += nd
    if sums is not None and sums.complete():
        tally = sums.lines
    if tally is None or at != time.size or day_at != n_days:
        raise InputDataError(f"the blocks of the grids hold {at} of the period's {time.size} hours")
    return StreamedFields(
        tally=tally,
        day={s: (days[(s, "day")], np.concatenate(parts[s]["day_t"])) for s in names},
        month={
            s: (np.concatenate(parts[s]["month"]), np.concatenate(parts[s]["month_t"]))
            for s in names
        },
        daily={s: (days[(s, "area")], days.get((s, "pts"))) for s in names},
        sums=sums,
    )


def place_tally_part(
    part: xr.Dataset,
    time: np.ndarray,
    at: int,
    tally: xr.Dataset | None,
    sums: TallySums | None,
    hourly: Callable[[xr.Dataset], None] | None,
    what: str,
    month_bins: bool = True,
) -> tuple[xr.Dataset | None, int]:
    """Put the tally of one time block (its hours from ``at`` on in the period's ``time``)
    into the period's ``tally`` (made at the first block), or, with ``sums``, add it to the
    running sums and hand it to ``hourly``.  ``what`` names the block in the error raised when
    its hours are not the period's there; ``month_bins=False``: the block is days of a month
    whose month bins are added to ``sums`` apart (:meth:`TallySums.add_month_bins`).  Returns
    the tally and the block's hours."""
    n = part.sizes["time"]
    if not np.array_equal(time[at : at + n], part["time"].values):
        raise InputDataError(f"{what} of the grids is not at the hours the period has there")
    if sums is not None:
        sums.add(part, month_bins=month_bins)
        hourly(part)
        return tally, n
    if tally is None:
        tally = _empty_like_along_time(part, time)
    for name, var in part.data_vars.items():
        axis = var.dims.index("time")
        index = [slice(None)] * var.ndim
        index[axis] = slice(at, at + n)
        tally[name].values[tuple(index)] = var.values
    return tally, n


def _empty_like_along_time(part: xr.Dataset, time: np.ndarray) -> xr.Dataset:
    """``part`` with its ``time`` axis replaced by ``time``, the time-dependent data unset."""
    data = {}
    for name, var in part.data_vars.items():
        shape = tuple(
            time.size if d == "time" else n for d, n in zip(var.dims, var.shape, strict=True)
        )
        # the memory layout of ``part``'s array (the tally's are transposed views): sums over
        # an axis then run in the same order as on the in-memory tally, to the last bit
        outer_first = np.argsort([-stride for stride in var.values.strides], kind="stable")
        base = np.empty(tuple(shape[i] for i in outer_first), var.dtype)
        data[name] = (var.dims, base.transpose(np.argsort(outer_first)), var.attrs)
    out = xr.Dataset(data, coords={**part.drop_vars("time").coords, "time": ("time", time)})
    out.attrs = part.attrs
    return out


def run_zoning(
    grids: xr.Dataset,
    units: gpd.GeoDataFrame,
    config: ZoningConfig,
    *,
    species: tuple[Species, ...],
    covariance: PosteriorCovariance | None = None,
    region: shapely.Geometry | None = None,
    counties: gpd.GeoDataFrame | None = None,
    cities: gpd.GeoDataFrame | None = None,
    grids_kind: Literal["prior", "posterior"] = "prior",
    qa: UnitsQA | None = None,
    coverage_cache: CoverageCache | None = None,
    blocks: Iterable[xr.Dataset] | None = None,
    hourly: Callable[[xr.Dataset], None] | None = None,
    stream: Callable[..., StreamedFields] | None = None,
) -> ZoningResult:
    """Every zoning result, in memory.

    Parameters
    ----------
    grids : xr.Dataset
        Emission grids (prior or posterior), kg h-1: ``<sp>`` ``(time, y, x)`` (or with
        ``sector``) and optional ``<sp>_point`` ``(time, point)`` for every species.
    units : GeoDataFrame
        The control units: as :func:`~gridcarbon.zoning.normalise.control_units` returns
        them (then give its ``qa``), or any unit table it accepts (then it is normalised and
        checked here, against ``region``, ``counties`` and ``cities``).
    config : ZoningConfig
        The stage's section of the run configuration.
    species : tuple of Species
        The species tallied and tested, in output order (two or more for co-location).
    covariance : PosteriorCovariance, optional
        The posterior covariance of the inversion that made ``grids``: adds the posterior σ of
        every unit total (``<sp>_posterior_std_kg``, ``<sp>_posterior_cv``) when
        ``config.posterior_std``.
    region : shapely geometry, optional
        The region in the grid's CRS (gap check of units not yet checked).
    counties, cities : GeoDataFrame, optional
        County and city boundaries in lon/lat (admin codes and the offset check of units not
        yet checked).
    grids_kind : {"prior", "posterior"}
        Which grids these are (recorded in the result).
    qa : UnitsQA, optional
        The QA of ``units`` when they were checked already.
    coverage_cache : CoverageCache, optional
        Where coverage matrices are kept between runs (e.g.
        :class:`gridcarbon.io.coverage_cache.CoverageCacheDir`); None computes it.
    blocks : iterable of xr.Dataset, optional
        The grids' emission data in consecutive blocks of whole Beijing months (e.g. read month
        by month from a store; :func:`stream_fields`): then ``grids`` (e.g. the store opened
        lazily) gives only the grid, region and point sources, and one block is in memory at a
        time.  The results equal the in-memory path's; the hourly hotspots
        (``config.hourly_hotspots``) are not computed this way (a warning says so).
    hourly : callable, optional
        With ``blocks``: called with each block's hourly unit tally (``(unit, time)`` like
        ``tally``), e.g. to write it to its file month by month; the hourly tally is then not
        kept for the period (the result's ``tally`` holds the whole-grid series
        ``<sp>_outside`` and ``<sp>_grid_total`` and the units only), and the period, day,
        month and diurnal figures are summed block by block, equal to the in-memory path's.
    stream : callable, optional
        In place of ``blocks``: ``stream(overlay, units, names, time, hourly)`` returns the
        period's :class:`StreamedFields` computed elsewhere (e.g. as tasks on Dask workers,
        :func:`gridcarbon.zoning.distributed.fields_on_workers`), equal to those of
        :func:`stream_fields`; ``hourly`` as with ``blocks``.

    Returns
    -------
    ZoningResult

    Raises
    ------
    ConfigError
        An unknown ``config.hotspot_statistic`` (the message lists the registered ones), or
        species that are not Species values.
    InputDataError
        Grids without a variable of a species; units that fail their checks.
    """
    statistic(config.hotspot_statistic)  # an unknown name is refused before any work
    if hourly is not None and blocks is None and stream is None:
        raise ConfigError(
            "hourly= hands on the hourly tally block by block: give the grids' blocks too "
            "(blocks=), or leave hourly out to keep the tally in memory"
        )
    if blocks is not None and stream is not None:
        raise ConfigError("give the grids' blocks (blocks=) or a stream (stream=), not both")
    if not isinstance(units, gpd.GeoDataFrame):
        raise InputDataError(
            f"units must be a GeoDataFrame, got {type(units).__name__}; read a unit file with "
            "gridcarbon.zoning.normalise.control_units"
        )
    names = species_names(grids, species)
    from gridcarbon.grids.dataset import total_grid
    from gridcarbon.grids.gridspec import GridSpec

    timings: dict[str, float] = {}
    t = _time.perf_counter()
    grid = GridSpec.from_dataset(grids)
    if qa is None:
        units, qa = control_units(
            units, config, grid, counties=counties, cities=cities, region=region
        )
    timings["units"] = _time.perf_counter() - t

    t = _time.perf_counter()
    overlay = overlay_units(grids, units, coverage_cache)
    timings["overlay"] = _time.perf_counter() - t

    t = _time.perf_counter()
    streamed = None
    if stream is not None:
        streamed = stream(overlay, units, names, grids["time"].values, hourly)
        tally = streamed.tally
    elif blocks is None:
        tally = zone_tally(grids, overlay, units, names)
    else:
        streamed = stream_fields(blocks, overlay, units, names, grids["time"].values, hourly=hourly)
        tally = streamed.tally
    if streamed is not None and streamed.sums is not None:
        sums = streamed.sums
        tally_day, tally_month = sums.binned("day"), sums.binned("month")
        table = period_table(tally, names, units, sums=sums.period)
        diurnal = diurnal_profile(tally, names, hour_sums=(sums.hour_sums, sums.hour_counts))
    else:
        tally_day = tally_at(tally, "day", names)
        tally_month = tally_at(tally, "month", names)
        table = period_table(tally, names, units)
        diurnal = diurnal_profile(tally, names)
    rollups = {by: rollup(table, units, by, names) for by in ROLLUPS}
    timings["tally"] = _time.perf_counter() - t
    if covariance is not None and config.posterior_std:
        t = _time.perf_counter()
        for s in names:
            std = np.asarray(
                covariance.total_std(overlay.F, s, point_unit=overlay.point_unit), np.float64
            )
            if std.shape != (overlay.n_units,):
                raise InputDataError(
                    f"the posterior covariance gave σ of shape {std.shape} for {s}, expected "
                    f"one per unit ({overlay.n_units},)"
                )
            table[f"{s}_posterior_std_kg"] = std
            with np.errstate(divide="ignore", invalid="ignore"):
                table[f"{s}_posterior_cv"] = np.where(
                    table[f"{s}_kg"] > 0, std / table[f"{s}_kg"], np.nan
                )
        timings["posterior_std"] = _time.perf_counter() - t

    t = _time.perf_counter()
    n_days = tally_day.sizes["day"]
    emerging = n_days >= MIN_BINS
    if not emerging:
        log.warning(
            "emerging-hotspot analysis skipped: the period has %d days, at least %d "
            "daily bins are needed",
            n_days,
            MIN_BINS,
        )
    hotspots: dict[str, xr.Dataset] = {}
    if streamed is not None:
        totals = None
        scored = streamed.scored or {}
        nulls = streamed.null_counts or {}
        hotspots["day"] = hotspot_level(
            grids,
            "day",
            config,
            names,
            emerging=emerging,
            fields=streamed.day,
            scored=scored.get("day"),
            null_counts=nulls.get("day"),
        )
        hotspots["month"] = hotspot_level(
            grids,
            "month",
            config,
            names,
            fields=streamed.month,
            scored=scored.get("month"),
            null_counts=nulls.get("month"),
        )
        if config.hourly_hotspots:
            log.warning(
                "hourly hotspots are not computed for grids read block by block (a long "
                "period): the daily and monthly hotspots are; run a month for hourly ones"
            )
    else:
        totals = {s: total_grid(grids, s).values for s in names}
        hotspots["day"] = hotspot_level(
            grids, "day", config, names, emerging=emerging, totals=totals
        )
        hotspots["month"] = hotspot_level(grids, "month", config, names, totals=totals)
    if config.hourly_hotspots and streamed is None:
        hotspots["hour"] = hotspot_level(
            grids, "hour", config, names, totals=totals, keep_z=config.hourly_z
        )
    del totals
    colocation = pd.DataFrame(
        [r for ds in hotspots.values() for r in json.loads(ds.attrs["colocation_json"])]
    )
    timings["hotspots"] = _time.perf_counter() - t

    t = _time.perf_counter()
    hot_table = unit_hotspot_table(
        grids,
        units,
        overlay.F,
        overlay.point_unit,
        hotspots["day"],
        hotspots.get("hour"),
        names,
        grid.cell_area,
        daily=None if streamed is None else streamed.daily,
    )
    table = table.merge(hot_table, on="unit_code")
    gdf = gpd.GeoDataFrame(units.merge(table, on="unit_code"), geometry="geometry", crs=units.crs)
    timings["unit_hotspots"] = _time.perf_counter() - t
    log.info("zoning stage: %s", ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    return ZoningResult(
        units=gdf,
        tally=tally,
        tally_day=tally_day,
        tally_month=tally_month,
        table=table,
        rollups=rollups,
        diurnal=diurnal,
        hotspots=hotspots,
        colocation=colocation,
        qa=qa,
        grids_kind=grids_kind,
        timings=timings,
        overlay=overlay,
        species=tuple(species),
    )
