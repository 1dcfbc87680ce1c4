"""The zoning stage of a streamed run on ``dask.distributed``: tasks over time chunks.

Gi* standardises each field by the region's mean and variance, and Benjamini–Hochberg ranks
whole fields, so the tasks split the period in **time**, never in space: each task takes one
Beijing month of the grids, over the whole region, read from the store by its path
(:func:`zone_month_task`), and computes

* the month's hourly unit tally (:func:`~gridcarbon.zoning.tally.zone_tally`);
* per species, the day and month fields (area + points) and their hotspot z-scores and BH bins
  (each field's statistic uses that field alone, so a month's fields give what the whole
  period's give), and the daily area and point sums of the unit table;

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
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from gridcarbon.config.zoning import ZoningConfig
from gridcarbon.errors import InputDataError
from gridcarbon.zoning.overlay import Overlay
from gridcarbon.zoning.stage import StreamedFields, place_tally_part
from gridcarbon.zoning.tally import TallySums, beijing_labels, month_tally_bins

__all__ = [
    "fields_on_workers",
    "zone_days_task",
    "zone_month_fields_task",
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
        store,
        hours,
        label,
        overlay,
        units,
        names,
        zoning,
        mask,
        cell_size_m,
        parts_dir,
        ("day", "month"),
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
    area and point sums.  The month's fields are summed over all its hours by
    :func:`zone_month_fields_task`.

    Parameters as :func:`zone_month_task`; ``label`` names the span's folder (e.g.
    ``2023-01/h0000``).  Returns ``label``, ``hours``, ``tally`` and ``species`` (species → file
    of ``day_z``, ``day_bin``, ``day_labels``, ``area`` and, with point sources, ``points``).
    """
    return _zone_parts(
        store, hours, label, overlay, units, names, zoning, mask, cell_size_m, parts_dir, ("day",)
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
    levels: tuple[str, ...],
) -> dict[str, Any]:
    """The work of :func:`zone_month_task` (``levels`` day and month) and of
    :func:`zone_days_task` (day only) on the hours ``hours`` of the store."""
    from gridcarbon.grids.dataset import total_grid
    from gridcarbon.io.zone_parts import write_arrays, write_dataset_npz
    from gridcarbon.zoning.gistar import fdr_bins
    from gridcarbon.zoning.hotspots import daily_area_and_points, species_fields, statistic_z
    from gridcarbon.zoning.tally import zone_tally

    block = _read_hours(store, hours)
    folder = Path(parts_dir) / label
    folder.mkdir(parents=True, exist_ok=True)
    part = zone_tally(block, overlay, units, list(names))
    tally = write_dataset_npz(part, folder / "tally.npz")
    del part
    files: dict[str, str] = {}
    for s in names:
        arrays: dict[str, np.ndarray] = {}
        total = total_grid(block, s).values.astype(np.float64)
        for level in levels:
            fields, labels = species_fields(block, s, level, total)
            z = statistic_z(zoning.hotspot_statistic, fields, mask, zoning.gi_radius_m, cell_size_m)
            del fields
            arrays[f"{level}_z"] = z
            arrays[f"{level}_bin"] = fdr_bins(z, mask, zoning.fdr_levels)
            arrays[f"{level}_labels"] = labels
        del total
        area, pts = daily_area_and_points(block, s, overlay.point_unit is not None)
        arrays["area"] = area
        if pts is not None:
            arrays["points"] = pts
        files[s] = str(write_arrays(folder / f"{s}.npz", arrays))
        del arrays, area, pts
    return {"label": label, "hours": hours, "tally": str(tally), "species": files}


def zone_month_fields_task(
    store: str,
    hours: tuple[int, int],
    label: str,
    names: Sequence[str],
    zoning: ZoningConfig,
    mask: np.ndarray,
    cell_size_m: float,
    parts_dir: str,
    task_days: int,
) -> dict[str, Any]:
    """On a worker: the month fields (area + points, kg) of the hours ``hours`` (one Beijing
    month) of the store and their z-scores and BH bins over the whole region.

    The month is read ``task_days`` days at a time and each cell's field summed in float64
    hour after hour, as :func:`~gridcarbon.zoning.hotspots.species_fields` sums the month held
    whole (``np.add.reduceat`` along time runs row after row), so the fields, z-scores and bins
    equal the whole month's to the last bit.  Returns ``label`` and ``species`` (species → file
    of ``month_z``, ``month_bin``, ``month_labels``).
    """
    from gridcarbon.grids.dataset import total_grid
    from gridcarbon.io.zone_parts import write_arrays
    from gridcarbon.zoning.gistar import fdr_bins
    from gridcarbon.zoning.hotspots import statistic_z
    from gridcarbon.zoning.tally import beijing_labels

    start, stop = hours
    sums: dict[str, np.ndarray] = {}
    stamps = []
    for a in range(start, stop, 24 * task_days):
        block = _read_hours(store, (a, min(a + 24 * task_days, stop)))
        stamps.append(block["time"].values)
        for s in names:
            total = total_grid(block, s).values
            rows = total.reshape(total.shape[0], -1)
            acc = sums.get(s)
            for i in range(rows.shape[0]):  # float64, one hour after another
                if acc is None:
                    acc = rows[i].astype(np.float64)
                else:
                    acc += rows[i].astype(np.float64)
            sums[s] = acc
            del total, rows
        del block
    time = np.concatenate(stamps)
    labels = beijing_labels(time, "month")
    month_labels = labels[np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])]
    if month_labels.size != 1:
        raise InputDataError(
            f"hours {start}..{stop} of the store span {month_labels.size} Beijing months, not one"
        )
    folder = Path(parts_dir) / label
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    ny, nx = mask.shape
    for s in names:
        fields = sums.pop(s).reshape(1, ny, nx)
        z = statistic_z(zoning.hotspot_statistic, fields, mask, zoning.gi_radius_m, cell_size_m)
        arrays = {
            "month_z": z,
            "month_bin": fdr_bins(z, mask, zoning.fdr_levels),
            "month_labels": month_labels,
        }
        files[s] = str(write_arrays(folder / f"{s}-month.npz", arrays))
    return {"label": label, "hours": hours, "species": files}


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
    tasks of that many days, :func:`zone_days_task`, and one task of its month fields,
    :func:`zone_month_fields_task`).

    The months are submitted at once and read back in order; one month's files are in memory
    at a time.  ``hourly`` gets each month's hourly tally as in
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
    remote_overlay, remote_units = (
        client.scatter(overlay, broadcast=True),
        client.scatter(table, broadcast=True),
    )
    if task_days is not None:
        entries = _submit_day_spans(
            client,
            store,
            slices,
            hours,
            remote_overlay,
            remote_units,
            list(names),
            zoning,
            mask,
            cell,
            str(parts_dir),
            task_days,
            token,
        )
        futures = [f for days, month in entries for f in (*days, month)]
        try:
            return _gather_months(client, entries, names, time, units, zoning, cell, hourly, token)
        except BaseException:
            client.cancel(futures)
            raise
    futures = [
        client.submit(
            zone_month_task,
            store,
            (sl.start, sl.stop),
            (hours[sl.start] + pd.Timedelta(hours=8)).strftime("%Y-%m"),
            remote_overlay,
            remote_units,
            list(names),
            zoning,
            mask,
            cell,
            str(parts_dir),
            key=f"zone-month-{(hours[sl.start] + pd.Timedelta(hours=8)):%Y-%m}-{token}",
            pure=False,
        )
        for sl in slices
    ]
    try:
        entries = [([f], f) for f in futures]
        return _gather_months(client, entries, names, time, units, zoning, cell, hourly, token)
    except BaseException:
        client.cancel(futures)
        raise


def _submit_day_spans(
    client: Any,
    store: str,
    slices: list[slice],
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
) -> list[tuple[list[Any], Any]]:
    """Submit each month's day spans (:func:`zone_days_task`) and its month fields
    (:func:`zone_month_fields_task`); returns, by month in order, the spans' futures in order
    and the month's."""
    step = 24 * task_days
    entries = []
    for sl in slices:
        month = f"{(hours[sl.start] + pd.Timedelta(hours=8)):%Y-%m}"
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
        whole = client.submit(
            zone_month_fields_task,
            store,
            (sl.start, sl.stop),
            f"{month}/month",
            names,
            zoning,
            mask,
            cell,
            parts_dir,
            task_days,
            key=f"zone-month-fields-{month}-{token}",
            pure=False,
        )
        entries.append((days, whole))
    return entries


def _gather_months(
    client: Any,
    entries: list[tuple[list[Any], Any]],
    names: list[str],
    time: np.ndarray,
    units: pd.DataFrame,
    zoning: ZoningConfig,
    cell: float,
    hourly: Callable[[xr.Dataset], None] | None,
    token: str,
) -> StreamedFields:
    """Read the months' files in order and sum them as :func:`stream_fields` sums its blocks.

    ``entries``: by month, the futures of its time blocks in order (their tallies, day fields
    and daily sums) and the future of its month fields (the same future when one task did the
    whole month)."""
    from gridcarbon.io.zone_parts import read_arrays, read_dataset_npz, read_dataset_npz_variable

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

    for blocks, whole in entries:
        split = len(blocks) > 1 or blocks[0] is not whole  # days of the month: bins apart
        month_at, tallies, template = at, [], None
        for future in blocks:
            done = future.result()  # raises the worker's error
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
                arrays = read_arrays(path)  # (a whole month's file holds its month fields too)
                put((s, "z"), arrays["day_z"])
                put((s, "bin"), arrays["day_bin"])
                put((s, "area"), arrays["area"])
                if "points" in arrays:
                    put((s, "pts"), arrays["points"])
                day_labels[s].append(arrays["day_labels"])
                nd = arrays["day_labels"].size
                del arrays
            day_at += nd
            log.info("zoning %s: read back from its worker", done["label"])
        if split and sums is not None:
            sums.add_month_bins(
                month_tally_bins(
                    lambda var, paths=tallies: [read_dataset_npz_variable(p, var) for p in paths],
                    time[month_at:at],
                    template,
                    sums.per_unit,
                )
            )
        done = whole.result()
        for s in names:
            path = done["species"][s]
            paths["month"][s].append(path)
            arrays = read_arrays(path, ["month_z", "month_bin", "month_labels"])
            for k in ("z", "bin"):
                months[s][k].append(arrays[f"month_{k}"])
            months[s]["lab"].append(arrays["month_labels"])
            del arrays
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
        counts = [f.result() for f in futures]
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
