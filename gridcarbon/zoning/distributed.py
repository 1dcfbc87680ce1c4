"""The zoning stage of a streamed run on ``dask.distributed``: tasks over time chunks.

Gi* standardises each field by the region's mean and variance, and Benjamini–Hochberg ranks
whole fields, so the tasks split the period in **time**, never in space: each task takes one
Beijing month of the grids, over the whole region, read from the store by its path
(:func:`zone_month_task`), and computes

* the month's hourly unit tally (:func:`~gridcarbon.zoning.tally.zone_tally`);
* per species, the day and month fields (area + points) and their hotspot z-scores and BH bins
  (each field's statistic uses that field alone, so a month's fields give what the whole
  period's give), and the daily area and point sums of the unit table;

or, in tasks of a few days (:func:`zone_days_task`), the same for those days, with their day
fields handed on: the process that runs the stage sums each month's fields from them in day
order (:func:`~gridcarbon.zoning.hotspots.add_day_fields`, as every path sums a month) and
scores them itself, so no task reads a month whole;

writes them into ``.npz`` files under a scratch folder (:mod:`gridcarbon.io.zone_parts`) and
returns their paths.  The process that runs the stage reads the months back **in order**
(:func:`fields_on_workers`) and sums them exactly as
:func:`~gridcarbon.zoning.stage.stream_fields` sums the blocks it reads itself, so the tallies,
the hotspot flags and every sum equal the single-process path's to the last bit.  The toroidal
null of co-location runs on the same time chunks (:func:`toroidal_null_task`: the shifts depend
on the grid and the seed only, the counts are integers, summed over the chunks); the
emerging-hotspot analysis (a Mann–Kendall test of each cell over the period) takes the z-scores
and bins the tasks returned.
"""

from __future__ import annotations

import functools
import logging
import time as _time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from gridcarbon.config.zoning import ZoningConfig
from gridcarbon.errors import InputDataError
from gridcarbon.io.cluster import shared_with_workers, task_result
from gridcarbon.zoning.overlay import Overlay
from gridcarbon.zoning.stage import StreamedFields, place_tally_part
from gridcarbon.zoning.tally import TallySums, beijing_labels, month_tally_bins

__all__ = [
    "fields_on_workers",
    "zone_days_task",
    "toroidal_null_task",
    "warm_up",
    "warm_workers",
    "zone_month_task",
    "zoning_stream",
]

log = logging.getLogger(__name__)

#: The columns of the units table a task needs (the tally's coordinates along ``unit``).
_UNIT_COLUMNS = ("unit_code", "unit_name", "category", "subtype", "county_code", "city_code")


def zone_month_task(
    store: str,
    hours: tuple[int, int],
    label: str,
    overlay: Overlay,
    units: pd.DataFrame,
    names: Sequence[str],
    zoning: ZoningConfig,
    mask: np.ndarray,
    cell_size_m: float,
    parts_dir: str,
) -> dict[str, Any]:
    """On a worker: the zoning work of the hours ``hours`` (a Beijing month) of the store.

    Parameters
    ----------
    store : str
        Path of the Zarr store of the grids (``prior.zarr`` or ``posterior.zarr``).
    hours : (start, stop)
        The month's hours, positions along the store's time axis.
    label : str
        The month (``YYYY-MM``): its files go to ``parts_dir/label/``.
    overlay : Overlay
        The units on the grid (coverage matrix, point units).
    units : DataFrame
        The units' table columns that label the tally.
    names : sequence of str
        The species.
    zoning : ZoningConfig
        The statistic, radius and BH levels.
    mask : ndarray ``(ny, nx)`` bool
        The region cells of the hotspot statistic.
    cell_size_m : float
        Cell size, metres.
    parts_dir : str
        The scratch folder of the stage's files.

    Returns
    -------
    dict
        ``label``, ``hours`` and the paths of the month's files: ``tally`` (the hourly unit
        tally, a Dataset) and ``species`` (species → file of ``day_z``, ``day_bin``,
        ``day_labels``, ``month_z``, ``month_bin``, ``month_labels``, ``area`` and, with point
        sources, ``points``).
    """
    return _zone_parts(
        store, hours, label, overlay, units, names, zoning, mask, cell_size_m, parts_dir, True
    )


def zone_days_task(
    store: str,
    hours: tuple[int, int],
    label: str,
    overlay: Overlay,
    units: pd.DataFrame,
    names: Sequence[str],
    zoning: ZoningConfig,
    mask: np.ndarray,
    cell_size_m: float,
    parts_dir: str,
) -> dict[str, Any]:
    """On a worker: the zoning work of the hours ``hours`` (whole Beijing days inside one
    month) of the store that needs those days alone: the hourly unit tally, the day fields'
    z-scores and BH bins (each day's field on its own over the whole region), and the daily
    area and point sums.  The day fields themselves (float64 kg) go into a file of their own,
    from which the process that gathers the days sums the month's fields
    (:func:`fields_on_workers`) and which it removes once read.

    Parameters as :func:`zone_month_task`; ``label`` names the span's folder (e.g.
    ``2023-01/h0000``).  Returns ``label``, ``hours``, ``tally``, ``species`` (species → file
    of ``day_z``, ``day_bin``, ``day_labels``, ``area`` and, with point sources, ``points``)
    and ``fields`` (species → file of ``day_fields``, ``(ndays, ny, nx)`` float64).
    """
    return _zone_parts(
        store, hours, label, overlay, units, names, zoning, mask, cell_size_m, parts_dir, False
    )


def _zone_parts(
    store: str,
    hours: tuple[int, int],
    label: str,
    overlay: Overlay,
    units: pd.DataFrame,
    names: Sequence[str],
    zoning: ZoningConfig,
    mask: np.ndarray,
    cell_size_m: float,
    parts_dir: str,
    whole_month: bool,
) -> dict[str, Any]:
    """The work of :func:`zone_month_task` (``whole_month``: day and month fields scored) and
    of :func:`zone_days_task` (day fields scored and handed on) on the hours ``hours`` of the
    store."""
    from gridcarbon.grids.dataset import total_grid
    from gridcarbon.io.zone_parts import write_arrays, write_dataset_npz
    from gridcarbon.zoning.hotspots import (
        daily_area_and_points,
        month_fields_of_days,
        species_fields,
    )
    from gridcarbon.zoning.tally import zone_tally

    block = _read_hours(store, hours)
    folder = Path(parts_dir) / label
    folder.mkdir(parents=True, exist_ok=True)
    part = zone_tally(block, overlay, units, list(names))
    tally = write_dataset_npz(part, folder / "tally.npz")
    del part
    files: dict[str, str] = {}
    handed: dict[str, str] = {}
    for s in names:
        arrays: dict[str, np.ndarray] = {}
        total = total_grid(block, s).values.astype(np.float64)
        days, labels = species_fields(block, s, "day", total)
        del total
        arrays.update(_scored("day", days, labels, zoning, mask, cell_size_m))
        if whole_month:
            month, month_labels = month_fields_of_days(days, labels)
            del days
            arrays.update(_scored("month", month, month_labels, zoning, mask, cell_size_m))
            del month
        else:
            handed[s] = str(write_arrays(folder / f"{s}-fields.npz", {"day_fields": days}))
            del days
        area, pts = daily_area_and_points(block, s, overlay.point_unit is not None)
        arrays["area"] = area
        if pts is not None:
            arrays["points"] = pts
        files[s] = str(write_arrays(folder / f"{s}.npz", arrays))
        del arrays, area, pts
    out = {"label": label, "hours": hours, "tally": str(tally), "species": files}
    if not whole_month:
        out["fields"] = handed
    return out


def _scored(
    level: str,
    fields: np.ndarray,
    labels: np.ndarray,
    zoning: ZoningConfig,
    mask: np.ndarray,
    cell_size_m: float,
) -> dict[str, np.ndarray]:
    """``<level>_z``, ``<level>_bin`` and ``<level>_labels`` of the fields ``fields``
    ``(nbin, ny, nx)``: the hotspot statistic's z-scores and their BH bins, field by field."""
    from gridcarbon.zoning.gistar import fdr_bins
    from gridcarbon.zoning.hotspots import statistic_z

    z = statistic_z(zoning.hotspot_statistic, fields, mask, zoning.gi_radius_m, cell_size_m)
    return {
        f"{level}_z": z,
        f"{level}_bin": fdr_bins(z, mask, zoning.fdr_levels),
        f"{level}_labels": labels,
    }


def _read_hours(store: str, hours: tuple[int, int]) -> xr.Dataset:
    """Hours ``hours`` of the grids in the Zarr store ``store``, in memory."""
    from gridcarbon.io import open_grids
    from gridcarbon.io.year_store import read_time_block

    ds = open_grids(store, chunked=False)
    try:
        return read_time_block(store, ds, slice(*hours))
    finally:
        ds.close()


def warm_up() -> str:
    """On a worker: import the zoning stage's modules and load its numba kernels (from numba's
    cache when it holds them) on tiny arrays of the dtypes the months use, so the first month's
    task does not pay for them.  Returns ``"warm"``."""
    import scipy.sparse as sp

    from gridcarbon.io import year_store, zone_parts  # noqa: F401  (imported: the point)
    from gridcarbon.zoning.gistar import fdr_bins, gi_star
    from gridcarbon.zoning.tally import add_points, sparse_time_matmul_many

    rng = np.random.default_rng(0)
    fields = rng.random((2, 6, 6))
    mask = np.ones((6, 6), bool)
    z = gi_star(fields, mask, 4000.0, 3000.0, out=np.empty(fields.shape, np.float32))
    fdr_bins(z, mask)
    F = sp.csr_matrix(np.eye(2, 36))
    hours = [rng.random((3, 36)).astype(np.float32) for _ in range(3)]
    per_unit = sparse_time_matmul_many(F, hours)
    add_points(np.array([0, -1]), rng.random((3, 2)).astype(np.float32), per_unit[0])
    return "warm"


def warm_workers(client: Any) -> list[Any]:
    """Start :func:`warm_up` on every worker of ``client`` (one task each, not waited for), e.g.
    while the driver builds the prior's first month; returns the futures."""
    workers = list(client.scheduler_info()["workers"])
    token = uuid.uuid4().hex[:8]
    return [
        client.submit(warm_up, workers=[w], key=f"zone-warm-up-{i}-{token}", pure=False)
        for i, w in enumerate(workers)
    ]


def toroidal_null_task(
    paths: Sequence[str], level: str, min_bin: int, n_shifts: int, min_shift_cells: float, seed: int
) -> np.ndarray:
    """On a worker: the toroidal-null counts of one time chunk of a species set.

    ``paths``: the chunk's file of each species of the set (:func:`zone_month_task`), in the
    set's order; the hot maps are its ``<level>_bin ≥ min_bin``.  The shifts are drawn from
    ``seed`` for the grid alone (:func:`~gridcarbon.zoning.hotspots.toroidal_null`), so the
    counts of the chunks sum to those of the whole period.
    """
    from gridcarbon.io.zone_parts import read_arrays
    from gridcarbon.zoning.hotspots import toroidal_null

    key = f"{level}_bin"
    hot = [read_arrays(p, [key])[key] >= min_bin for p in paths]
    return toroidal_null(hot, n_shifts, min_shift_cells, seed)


def fields_on_workers(
    client: Any,
    store: str | Path,
    zoning: ZoningConfig,
    parts_dir: str | Path,
    overlay: Overlay,
    units: pd.DataFrame,
    names: list[str],
    time: np.ndarray,
    hourly: Callable[[xr.Dataset], None] | None = None,
    task_days: int | None = None,
) -> StreamedFields:
    """The period's :class:`~gridcarbon.zoning.stage.StreamedFields`, its months computed as
    tasks on ``client``'s workers (:func:`zone_month_task`; with ``task_days``, each month as
    tasks of that many days, :func:`zone_days_task`, its month fields summed here from their
    day fields in day order and scored here: no task reads a month whole).

    The months are submitted at once and read back in order; one month's files are in memory
    at a time (with ``task_days``, one span's, and one month field per species).  ``hourly`` gets each month's hourly tally as in
    :func:`~gridcarbon.zoning.stage.stream_fields`.  The result carries the z-scores and bins
    of the day and month fields (``scored``) and the toroidal null over the months'
    chunks (``null_counts``), for :func:`~gridcarbon.zoning.stage.run_zoning`.

    Parameters
    ----------
    client : distributed.Client
    store : path
        The Zarr store of the grids (its completion markers written: every month is there).
    zoning : ZoningConfig
    parts_dir : path
        Scratch folder for the tasks' files, on a file system the workers and this process
        share; the caller removes it when the stage is done (the toroidal null reads it).
    overlay, units, names, time, hourly
        As :func:`~gridcarbon.zoning.stage.stream_fields` takes them (``time``: the hours
        of the store).
    """
    from gridcarbon.grids.prior import month_slices
    from gridcarbon.io import open_grids
    from gridcarbon.zoning.hotspots import region_mask

    store = str(store)
    grids = open_grids(store, chunked=False)
    try:
        stamps = grids["time"].values
        mask = region_mask(grids, zoning.region_min_fraction)
        cell = float(grids.attrs.get("cell_size_m", abs(float(grids.x[1] - grids.x[0]))))
    finally:
        grids.close()
    if not np.array_equal(stamps, time):
        raise InputDataError(f"the store {store!r} is not at the hours of the period")
    hours = pd.DatetimeIndex(time)
    slices = month_slices(np.arange(hours.size), hours)
    columns = [c for c in _UNIT_COLUMNS + ("area_km2",) if c in units]
    table = pd.DataFrame(units[columns])
    token = uuid.uuid4().hex[:8]
    with shared_with_workers(client, overlay=overlay, units=table) as shared:
        # what every month's task gets after its hours, whether whole or in day spans
        month_args = (
            shared["overlay"],
            shared["units"],
            list(names),
            zoning,
            mask,
            cell,
            str(parts_dir),
        )
        months = [f"{(hours[sl.start] + pd.Timedelta(hours=8)):%Y-%m}" for sl in slices]
        if task_days is not None:
            entries = _submit_day_spans(
                client,
                store,
                slices,
                months,
                hours,
                *month_args,
                task_days,
                token,
            )
        else:
            entries = [
                (
                    month,
                    [
                        client.submit(
                            zone_month_task,
                            store,
                            (sl.start, sl.stop),
                            month,
                            *month_args,
                            key=f"zone-month-{month}-{token}",
                            pure=False,
                        )
                    ],
                )
                for sl, month in zip(slices, months, strict=True)
            ]
        futures = [f for _, blocks in entries for f in blocks]
        try:
            return _gather_months(
                client,
                entries,
                names,
                time,
                units,
                zoning,
                mask,
                cell,
                str(parts_dir),
                hourly,
                token,
                split=task_days is not None,
            )
        except BaseException:
            client.cancel(futures)
            raise


def _submit_day_spans(
    client: Any,
    store: str,
    slices: list[slice],
    months: list[str],
    hours: pd.DatetimeIndex,
    overlay: Any,
    units: Any,
    names: list[str],
    zoning: ZoningConfig,
    mask: np.ndarray,
    cell: float,
    parts_dir: str,
    task_days: int,
    token: str,
) -> list[tuple[str, list[Any]]]:
    """Submit each month's day spans (:func:`zone_days_task`); returns, by month in order,
    the month (``YYYY-MM``) and its spans' futures in order."""
    step = 24 * task_days
    entries = []
    for sl, month in zip(slices, months, strict=True):
        days = []
        for a in range(sl.start, sl.stop, step):
            span = (a, min(a + step, sl.stop))
            first = hours[a] + pd.Timedelta(hours=8)
            days.append(
                client.submit(
                    zone_days_task,
                    store,
                    span,
                    f"{month}/h{a - sl.start:04d}",
                    overlay,
                    units,
                    names,
                    zoning,
                    mask,
                    cell,
                    parts_dir,
                    key=f"zone-days-{first:%Y-%m-%d}-{span[1] - span[0]}h-{token}",
                    pure=False,
                )
            )
        entries.append((month, days))
    return entries


def _gather_months(
    client: Any,
    entries: list[tuple[str, list[Any]]],
    names: list[str],
    time: np.ndarray,
    units: pd.DataFrame,
    zoning: ZoningConfig,
    mask: np.ndarray,
    cell: float,
    parts_dir: str,
    hourly: Callable[[xr.Dataset], None] | None,
    token: str,
    split: bool,
) -> StreamedFields:
    """Read the months' files in order and sum them as :func:`stream_fields` sums its blocks.

    ``entries``: by month, its label (``YYYY-MM``) and the futures of its time blocks in order
    (their tallies, day fields and daily sums).  ``split``: the blocks are spans of days
    (:func:`zone_days_task`): the month's tally bins are summed from their tally files, and
    its fields from their day fields in day order
    (:func:`~gridcarbon.zoning.hotspots.add_day_fields`, the order of every path), then scored
    here and written where the toroidal null reads them; else each block is a whole month
    (:func:`zone_month_task`) whose file holds its month's scores."""
    from gridcarbon.io.zone_parts import (
        read_arrays,
        read_dataset_npz,
        read_dataset_npz_variable,
        take_arrays,
        write_arrays,
    )
    from gridcarbon.zoning.hotspots import add_day_fields

    n_days = np.unique(beijing_labels(time, "day")).size
    tally: xr.Dataset | None = None
    sums = None if hourly is None else TallySums(names, time)
    at = day_at = 0
    days: dict[tuple[str, str], np.ndarray] = {}
    months: dict[str, dict[str, list[np.ndarray]]] = {
        s: {"z": [], "bin": [], "lab": []} for s in names
    }
    day_labels: dict[str, list[np.ndarray]] = {s: [] for s in names}
    paths: dict[str, dict[str, list[str]]] = {
        level: {s: [] for s in names} for level in ("day", "month")
    }

    def put(key: tuple[str, str], values: np.ndarray) -> None:
        if key not in days:
            days[key] = np.empty((n_days, *values.shape[1:]), values.dtype)
        days[key][day_at : day_at + values.shape[0]] = values

    for month, blocks in entries:
        month_at, tallies, template = at, [], None
        month_sums: dict[str, np.ndarray | None] = dict.fromkeys(names)
        summing = 0.0  # seconds spent reading the day fields and adding them up
        for future in blocks:
            done = task_result(future, f"zones {month}")  # raises the worker's error
            part = read_dataset_npz(done["tally"])
            tally, n = place_tally_part(
                part,
                time,
                at,
                tally,
                sums,
                hourly,
                f"block {done['label']}",
                month_bins=not split,
            )
            at += n
            tallies.append(done["tally"])
            template = part.isel(time=slice(0, 0))
            del part
            nd = 0
            for s in names:
                path = done["species"][s]
                paths["day"][s].append(path)
                arrays = read_arrays(path)
                put((s, "z"), arrays["day_z"])
                put((s, "bin"), arrays["day_bin"])
                put((s, "area"), arrays["area"])
                if "points" in arrays:
                    put((s, "pts"), arrays["points"])
                day_labels[s].append(arrays["day_labels"])
                nd = arrays["day_labels"].size
                if split:
                    started = _time.perf_counter()
                    fields = take_arrays(done["fields"][s])["day_fields"]
                    month_sums[s] = add_day_fields(month_sums[s], fields)
                    del fields
                    summing += _time.perf_counter() - started
                else:  # a whole month's file holds its month's scores
                    paths["month"][s].append(path)
                    for k in ("z", "bin"):
                        months[s][k].append(arrays[f"month_{k}"])
                    months[s]["lab"].append(arrays["month_labels"])
                del arrays
            day_at += nd
            log.info("zoning %s: read back from its worker", done["label"])
        if not split:
            continue
        if sums is not None:
            sums.add_month_bins(
                month_tally_bins(
                    lambda var, paths=tallies: [read_dataset_npz_variable(p, var) for p in paths],
                    time[month_at:at],
                    template,
                    sums.per_unit,
                )
            )
        started = _time.perf_counter()
        label = np.unique(beijing_labels(time[month_at:at], "month"))
        for s in names:
            field = month_sums.pop(s)
            if field is None or label.size != 1:
                raise InputDataError(
                    f"the day tasks of {month} hold hours of {label.size} Beijing months, not one"
                )
            arrays = _month_scores(field, label, zoning, mask, cell)
            path = write_arrays(Path(parts_dir) / month / "month" / f"{s}.npz", arrays)
            paths["month"][s].append(str(path))
            for k in ("z", "bin"):
                months[s][k].append(arrays[f"month_{k}"])
            months[s]["lab"].append(arrays["month_labels"])
            del field, arrays
        log.info(
            "zoning %s: month fields summed from its days in %.2f s, scored in %.2f s",
            month,
            summing,
            _time.perf_counter() - started,
        )
    if sums is not None and sums.complete():
        tally = sums.lines
    if tally is None or at != time.size or day_at != n_days:
        raise InputDataError(f"the months of the grids hold {at} of the period's {time.size} hours")
    scored = {
        "day": {
            s: (days[(s, "z")], days[(s, "bin")], np.concatenate(day_labels[s])) for s in names
        },
        "month": {
            s: (
                np.concatenate(months[s]["z"]),
                np.concatenate(months[s]["bin"]),
                np.concatenate(months[s]["lab"]),
            )
            for s in names
        },
    }
    null = functools.partial(_null_on_workers, client, paths, zoning, cell, token)
    return StreamedFields(
        tally=tally,
        day={},
        month={},
        daily={s: (days[(s, "area")], days.get((s, "pts"))) for s in names},
        sums=sums,
        scored=scored,
        null_counts={level: functools.partial(null, level) for level in ("day", "month")},
    )


def _month_scores(
    field: np.ndarray,
    label: np.ndarray,
    zoning: ZoningConfig,
    mask: np.ndarray,
    cell_size_m: float,
) -> dict[str, np.ndarray]:
    """``month_z``, ``month_bin`` and ``month_labels`` of one month's field ``field``
    (``(ny, nx)`` float64 kg, summed from its days) labelled ``label`` (one Beijing month)."""
    ny, nx = mask.shape
    return _scored("month", field.reshape(1, ny, nx), label, zoning, mask, cell_size_m)


def _null_on_workers(
    client: Any,
    paths: dict[str, dict[str, list[str]]],
    zoning: ZoningConfig,
    cell: float,
    token: str,
    level: str,
    combo: tuple[str, ...],
) -> np.ndarray:
    """The toroidal-null counts of ``combo`` at ``level``: one task per time block of that
    level's files (``paths[level]``), summed."""
    paths = paths[level]
    futures = [
        client.submit(
            toroidal_null_task,
            [paths[s][i] for s in combo],
            level,
            zoning.hotspot_min_bin,
            zoning.toroidal_shifts,
            2 * zoning.gi_radius_m / cell,
            zoning.seed,
            key=f"zone-null-{level}-{'+'.join(combo)}-{i}-{token}",
            pure=False,
        )
        for i in range(len(paths[combo[0]]))
    ]
    try:
        counts = [task_result(f, f"co-location null ({level}, {'+'.join(combo)})") for f in futures]
    except BaseException:
        client.cancel(futures)
        raise
    return np.sum(counts, axis=0, dtype=np.int64)


def zoning_stream(
    client: Any,
    store: str | Path,
    zoning: ZoningConfig,
    parts_dir: str | Path,
    task_days: int | None = None,
) -> Callable[..., StreamedFields]:
    """The ``stream`` of :func:`~gridcarbon.zoning.stage.run_zoning` that computes the store's
    months on ``client``'s workers (:func:`fields_on_workers`; ``task_days``: in tasks of that
    many days)."""
    if task_days is None:
        return functools.partial(fields_on_workers, client, store, zoning, parts_dir)

    def stream(*args: Any) -> StreamedFields:
        return fields_on_workers(client, store, zoning, parts_dir, *args, task_days=task_days)

    return stream
