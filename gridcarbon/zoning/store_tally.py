"""Zone tallies read straight from a Zarr store: each chunk decoded and tallied at once.

:func:`zone_tally` on grids read from a store first builds a month (or a year) of grids in
memory, then passes over it several times (the coverage matrix, the part outside every unit,
the grid total, each with its float64 copy).  :func:`zone_tally_store` instead decodes one time
chunk of one species (24 hours of the default grid: 2.5 MB) into a buffer it reuses and tallies
it while it is in the processor's cache, in one pass (:func:`~gridcarbon.kernels.tally.
tally_rows`); chunks go to a few threads (the decoder and the kernel release the GIL), so no
month or year array is ever built.  The point sources (a few hundred columns) are read whole
and summed as :func:`zone_tally` sums them.

The result equals ``zone_tally(read_time_block(store, ds, hours), overlay, units, species)``:
every per-unit array bit for bit, ``<sp>_outside`` and ``<sp>_grid_total`` to float64 rounding
(summed in another order; relative differences below 1e-12).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from gridcarbon.errors import InputDataError
from gridcarbon.io.runfolder import deferred_signals
from gridcarbon.io.year_store import TimeChunks, _read_chunks, read_time_block, time_chunks
from gridcarbon.kernels.tally import tally_rows
from gridcarbon.zoning.overlay import Overlay
from gridcarbon.zoning.tally import _UNIT_COORDS, _prepare, add_points, zone_tally

__all__ = ["zone_tally_store", "tally_plan", "tally_threads"]


def tally_threads() -> int:
    """Threads for :func:`zone_tally_store` by default: the cores this process may use, at
    most 4 (``GRIDCARBON_TALLY_THREADS`` overrides it)."""
    env = os.environ.get("GRIDCARBON_TALLY_THREADS")
    if env:
        try:
            n = int(env)
        except ValueError:
            n = 0
        if n < 1:
            raise InputDataError(
                f"GRIDCARBON_TALLY_THREADS={env!r} is not a positive whole number; set it to "
                "e.g. 2 or unset it"
            )
        return n
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def tally_plan(F, w_out: np.ndarray) -> tuple[np.ndarray, ...]:
    """The arguments of :func:`~gridcarbon.kernels.tally.tally_rows` before the field: F split
    as :func:`~gridcarbon.zoning.tally.zone_tally` splits it (runs of whole cells, partial
    entries in cell order) and the cells in no run, ascending, with their partial entries and
    their fraction outside every unit ``w_out``."""
    starts, ends, runit, pcell, punit, pdata = _prepare(F)
    in_run = np.zeros(F.shape[1], bool)
    for a, b in zip(starts, ends, strict=True):
        in_run[a:b] = True
    rcell = np.flatnonzero(~in_run).astype(np.int64)
    if not np.isin(pcell, rcell).all():  # cannot happen: a cell in a run has one entry
        raise InputDataError("the coverage matrix split left a partial entry in a run")
    rptr = np.r_[np.searchsorted(pcell, rcell, "left"), pcell.size].astype(np.int64)
    rweight = np.ascontiguousarray(w_out[rcell], dtype=np.float64)
    return starts, ends, runit, rptr, rcell, rweight, punit, pdata


def _area_tallies(
    chunks: list[TimeChunks],
    start: int,
    stop: int,
    overlay: Overlay,
    threads: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per species: area per unit ``(nt, nu)``, a copy of it (to which the caller adds the
    points), outside ``(nt,)`` and grid total ``(nt,)`` of hours ``start:stop``, each chunk
    decoded into a per-thread buffer and tallied at once."""
    F = overlay.F
    plan = tally_plan(F, overlay.outside_weight())
    n, nu, ns = stop - start, F.shape[0], len(chunks)
    area = np.empty((ns, n, nu), np.float64)
    total = np.empty((ns, n, nu), np.float64)  # area + points: the area copied here while hot
    outside = np.empty((ns, n), np.float64)
    grid = np.empty((ns, n), np.float64)
    local = threading.local()
    ncell = int(np.prod(chunks[0].rest))
    if ncell != F.shape[1]:
        raise InputDataError(f"fields have {ncell} cells, the coverage matrix {F.shape[1]}")

    def one(k: int) -> None:
        bufs = getattr(local, "bufs", None)
        if bufs is None:
            bufs = local.bufs = [c.buffer() for c in chunks]
            local.scratch = bytearray()
        for i, c in enumerate(chunks):
            a, b = max(k * c.step, start), min((k + 1) * c.step, stop)
            x = c.read(k, bufs[i], local.scratch).reshape(c.step, ncell)[
                a - k * c.step : b - k * c.step
            ]
            tally_rows(
                *plan,
                x,
                area[i, a - start : b - start],
                outside[i, a - start : b - start],
                grid[i, a - start : b - start],
            )
            total[i, a - start : b - start] = area[i, a - start : b - start]

    ks = chunks[0].chunks(start, stop)
    if threads <= 1:
        for k in ks:
            one(k)
    else:
        with ThreadPoolExecutor(threads) as pool:
            for _ in pool.map(one, ks):
                pass
    return area, total, outside, grid


def zone_tally_store(
    store: str | Path,
    ds: xr.Dataset,
    overlay: Overlay,
    units: pd.DataFrame | None,
    species: Sequence[str],
    hours: slice = slice(None),
    threads: int | None = None,
) -> xr.Dataset:
    """Hourly per-unit totals of each species of hours ``hours`` of a Zarr store, each chunk
    decoded and tallied at once.

    Parameters
    ----------
    store : the store's folder (Zarr format 2, as :func:`gridcarbon.io.year_store.create_store`
        writes it)
    ds : the store opened lazily (``xr.open_zarr(store, chunks=None)``)
    overlay, units, species : as for :func:`~gridcarbon.zoning.tally.zone_tally`
    hours : consecutive hours of the store (default: all)
    threads : threads decoding and tallying chunks (default :func:`tally_threads`)

    Returns
    -------
    xr.Dataset
        What ``zone_tally(read_time_block(store, ds, hours), overlay, units, species)`` returns
        (kg h-1): the per-unit arrays bit for bit, ``<sp>_outside`` and ``<sp>_grid_total`` to
        float64 rounding.  Grids this path does not know (with sectors, tiled in space, another
        codec layout) are tallied by exactly that expression.
    """
    from gridcarbon.grids.dataset import point_variable

    store = Path(store)
    start, stop, step = hours.indices(ds.sizes["time"])
    if step != 1:
        raise InputDataError(f"zone_tally_store tallies consecutive hours, got a step of {step}")
    chunks = [
        None
        if "sector" in ds[s].dims or ds[s].dims != ("time", "y", "x")
        else time_chunks(store, ds, s)
        for s in species
    ]
    if any(c is None for c in chunks) or len({(c.step, c.rest) for c in chunks}) != 1:
        block = read_time_block(store, ds, slice(start, stop))
        return zone_tally(block, overlay, units, species)
    nu = overlay.F.shape[0]
    with deferred_signals():  # an interrupted read can dead-lock like a write
        area, totals, out_area, grid_area = _area_tallies(
            chunks, start, stop, overlay, tally_threads() if threads is None else threads
        )
        pts: dict[str, np.ndarray] = {}
        for s in species:
            pvar = point_variable(s)
            if pvar in ds and overlay.point_unit is not None:
                pc = time_chunks(store, ds, pvar)
                if pc is not None:
                    pts[s] = _read_chunks(pc.path, pc.codec, _meta(pc), start, stop)
                else:
                    pts[s] = ds[pvar].isel(time=slice(start, stop)).transpose("time", "point")
                    pts[s] = pts[s].values
    time = ds["time"].values[start:stop]
    data: dict[str, tuple] = {}
    for i, s in enumerate(species):
        a = area[i]
        total = totals[i]
        point = np.zeros((nu, a.shape[0]))  # (unit, time): untouched rows cost no memory
        if s in pts:
            cols, sums, out_point = _point_tallies(overlay.point_unit, pts[s])
            point[cols] = sums.T
            total[:, cols] += sums  # = a + point: adding the zeros elsewhere changes no bit
            grid_point = pts[s].sum(axis=1, dtype=np.float64)
        else:
            out_point = np.zeros(a.shape[0])
            grid_point = np.zeros(a.shape[0])
        attrs = {"units": "kg h-1", "cell_methods": "time: mean"}
        data[s] = (
            ("unit", "time"),
            total.T,
            {**attrs, "long_name": f"{s} emission in the unit (area + point sources)"},
        )
        data[f"{s}_area"] = (
            ("unit", "time"),
            a.T,
            {**attrs, "long_name": f"{s} area sources in the unit (F @ grid)"},
        )
        data[f"{s}_point"] = (
            ("unit", "time"),
            point,
            {**attrs, "long_name": f"{s} point sources inside the unit"},
        )
        data[f"{s}_outside"] = (
            ("time",),
            out_area[i] + out_point,
            {**attrs, "long_name": f"{s} outside every unit (area + points)"},
        )
        data[f"{s}_grid_total"] = (
            ("time",),
            grid_area[i] + grid_point,
            {**attrs, "long_name": f"{s} whole grid (area + points)"},
        )
    coords: dict[str, tuple] = {"time": ("time", time)}
    if units is not None:
        for col, cattrs in _UNIT_COORDS.items():
            if col in units:
                name = col if col != "unit_code" else "unit"
                coords[name] = ("unit", units[col].to_numpy(), cattrs)
    else:
        coords["unit"] = ("unit", np.asarray(overlay.codes).astype(str), _UNIT_COORDS["unit_code"])
    out = xr.Dataset(data, coords=coords)
    out.attrs["note"] = (
        "area sources by exact coverage fractions (F @ grid); point sources by "
        "point-in-polygon; <sp>_outside = grid total - units"
    )
    if nu != out.sizes["unit"]:
        raise InputDataError(f"the overlay has {nu} units, the units table {out.sizes['unit']}")
    return out


def _point_tallies(
    point_unit: np.ndarray, pts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The units holding points, the points' sums per hour in those units ``(nt, k)`` and the
    sum of the points outside every unit ``(nt,)``: :func:`~gridcarbon.zoning.tally.add_points`
    into ``k`` columns instead of one per unit (the sums in the same order, bit for bit)."""
    point_unit = np.asarray(point_unit, np.int64)
    cols = np.unique(point_unit[point_unit >= 0])
    where = np.searchsorted(cols, point_unit)
    remap = np.where(point_unit >= 0, where, -1).astype(np.int64)
    sums = np.zeros((pts.shape[0], cols.size))
    outside = add_points(remap, pts, sums)
    return cols, sums, outside


def _meta(c: TimeChunks) -> dict:
    """The Zarr metadata :func:`~gridcarbon.io.year_store._read_chunks` reads of ``c``."""
    return {
        "chunks": [c.step, *c.rest],
        "shape": [c.hours, *c.rest],
        "dtype": c.dtype.str,
        "dimension_separator": c.sep,
    }
