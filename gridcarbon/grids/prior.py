"""Hourly prior emission grids from an inventory and temporal profiles.

The prior is a function of its inputs: an :class:`~gridcarbon.grids.inventory.Inventory` (which
carries its grid), the period, the species (as :class:`~gridcarbon.species.Species` values) and
the provenance attributes to write; it knows nothing of the region that built the inventory.
:func:`iter_prior_grids` streams the period month by month so that a year stays within bounded
memory; :func:`prior_grids` returns the whole period as one Dataset.  The numeric core
(:func:`hourly_area_emissions`) runs a numba kernel over arrays
(:func:`gridcarbon.kernels.emissions.weighted_hourly_sum`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from gridcarbon.errors import InputDataError
from gridcarbon.grids.dataset import emission_dataset
from gridcarbon.grids.inventory import Inventory
from gridcarbon.grids.temporal import beijing_year_hours, hourly_weight_matrix
from gridcarbon.kernels.emissions import weighted_hourly_sum
from gridcarbon.species import Species

if TYPE_CHECKING:
    from gridcarbon.config import PeriodConfig

__all__ = [
    "prior_grids",
    "iter_prior_grids",
    "concat_time_chunks",
    "hourly_area_emissions",
    "period_hours",
    "month_slices",
]


def hourly_area_emissions(
    weights: np.ndarray, annual_maps: np.ndarray, out: np.ndarray | None = None
) -> np.ndarray:
    """Hourly gridded emissions: ``out[sp, t, c] = Σ_s weights[t, s] · annual_maps[s, sp, c]``.

    Parameters
    ----------
    weights : ndarray ``(T, S)`` float64
        Fraction of each sector's annual total emitted in each hour (columns of a full year sum
        to 1).
    annual_maps : ndarray ``(S, n_species, n_cells)`` float64
        Annual emission per sector, species and cell, kg per year.
    out : ndarray ``(n_species, T, n_cells)`` float32, optional
        Output buffer (must be zero where no sector emits).

    Returns
    -------
    ndarray ``(n_species, T, n_cells)`` float32
        kg per hour per cell.  Sums are accumulated in float64 and rounded once to float32.
    """
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    annual_maps = np.asarray(annual_maps, dtype=np.float64)
    S, nsp, n = annual_maps.shape
    if weights.shape[1] != S:
        raise ValueError(f"weights have {weights.shape[1]} sectors, maps have {S}")
    active = np.flatnonzero(np.any(annual_maps != 0.0, axis=(0, 1)))
    if out is None:
        out = np.zeros((nsp, weights.shape[0], n), dtype=np.float32)
    A = np.ascontiguousarray(annual_maps[:, :, active])
    weighted_hourly_sum(weights, A, active.astype(np.int64), out)
    return out


def period_hours(period: PeriodConfig) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """UTC hours of ``period`` (Beijing dates, inclusive) and their positions in the Beijing
    year."""
    year_hours = beijing_year_hours(period.year)
    bj = year_hours + pd.Timedelta(hours=8)
    start = pd.Timestamp(period.start)
    end = pd.Timestamp(period.end) + pd.Timedelta(days=1)
    pos = np.flatnonzero((bj >= start) & (bj < end))
    return year_hours[pos], pos


def month_slices(positions: np.ndarray, hours: pd.DatetimeIndex) -> list[slice]:
    """Split a period into Beijing calendar months (slices into ``positions``)."""
    bj_month = (hours + pd.Timedelta(hours=8)).month.to_numpy()
    edges = np.flatnonzero(np.diff(bj_month)) + 1
    bounds = [0, *edges.tolist(), positions.size]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _check_species(inventory: Inventory, species: Sequence[Species]) -> list[str]:
    names = [sp.name for sp in species]
    if not names:
        raise InputDataError("the prior needs at least one species")
    missing = [n for n in names if n not in inventory.species]
    if missing:
        raise InputDataError(
            f"the inventory holds no emissions of species {missing}; it holds "
            f"{inventory.species} (give the scenario's inventory a column per species)"
        )
    return names


def _clock_cells(
    inventory: Inventory, names: Sequence[str], shifts: np.ndarray | None, clocks: Sequence[int]
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per clock (hour shift from Beijing time), the cells on that clock where any sector emits
    any species, and their annual maps ``(S, nsp, n_cells)`` float64 kg per year, C order: what
    :func:`hourly_area_emissions` hands its kernel for the whole map masked to that clock, built
    one species at a time so that no whole map per clock is held (the same arrays, so the same
    values to the last bit)."""
    n_sectors, size = len(inventory.sectors), inventory.grid.size
    emits = np.zeros(size, bool)
    for sp in names:
        emits |= np.any(inventory.area_maps(sp).reshape(n_sectors, size) != 0.0, axis=0)
    out = {}
    for h in clocks:
        on_clock = emits if shifts is None else emits & (shifts.ravel() == h)
        cells = np.flatnonzero(on_clock).astype(np.int64)
        annual = np.empty((n_sectors, len(names), cells.size), np.float64)
        for j, sp in enumerate(names):
            annual[:, j, :] = inventory.area_maps(sp).reshape(n_sectors, size)[:, cells]
        out[h] = (cells, annual)
    return out


def iter_prior_grids(
    inventory: Inventory,
    period: PeriodConfig,
    species: Sequence[Species],
    *,
    keep_sectors: bool = False,
    attrs: Mapping[str, str] | None = None,
    progress: bool = False,
) -> Iterator[xr.Dataset]:
    """Yield the prior month by month (Beijing months) over ``period``.

    Parameters
    ----------
    inventory : Inventory
        Annual area and point-source emissions, kg per year, on the inventory's grid.
    period : PeriodConfig
        Beijing dates (inclusive) inside one inventory year.
    species : sequence of Species
        The species to grid, in output order; each must be a column of the inventory.
    keep_sectors : bool
        Keep a ``sector`` dimension on the area-source grids.
    attrs : mapping, optional
        Global attributes of every month (provenance, ``synthetic``).
    progress : bool
        Show a progress bar per month.

    Yields
    ------
    xr.Dataset
        One Beijing month of the emission Dataset (:mod:`gridcarbon.grids.dataset`), kg h-1
        per cell and per point source; memory is bounded by one month of grids.
    """
    from tqdm.auto import tqdm

    names = _check_species(inventory, species)
    grid = inventory.grid
    sectors = inventory.sectors
    hours, positions = period_hours(period)
    # One clock per distinct hour shift (local solar time); Beijing time alone by default.
    shifts = inventory.hour_shift_h
    clocks = [0] if shifts is None else [int(h) for h in np.unique(shifts)]
    W_year = {h: hourly_weight_matrix(period.year, list(sectors), hour_shift_h=h) for h in clocks}
    if keep_sectors:
        maps = np.stack([inventory.area_maps(sp) for sp in names], axis=1)  # (S, nsp, ny, nx)
        maps = maps.reshape(len(sectors), len(names), grid.size)
        clock_maps = {h: maps if shifts is None else maps * (shifts.ravel() == h) for h in clocks}
    else:  # each clock's emitting cells only: no full map per clock (a large region's memory)
        clock_cells = _clock_cells(inventory, names, shifts, clocks)
    sector_index = {s: i for i, s in enumerate(sectors)}
    pts = inventory.points
    p_sector = pts["sector"].map(sector_index).to_numpy(dtype=np.int64)
    p_clock = (
        np.zeros(len(pts), np.int64)
        if shifts is None
        else shifts[pts["row"].to_numpy(), pts["col"].to_numpy()]
    )
    chunks = month_slices(positions, hours)
    for sl in tqdm(chunks, desc="prior", unit="month", disable=not progress):
        W = {h: w[positions[sl]] for h, w in W_year.items()}
        t = hours[sl]
        nt = t.size
        if keep_sectors:
            area = {}
            for j, sp in enumerate(names):
                per_sector = np.zeros((nt, len(sectors), grid.size), np.float32)
                for si in range(len(sectors)):
                    for h in clocks:
                        per_sector[:, si, :] += np.outer(W[h][:, si], clock_maps[h][si, j]).astype(
                            np.float32
                        )
                area[sp] = per_sector.reshape(nt, len(sectors), *grid.shape)
        else:
            grids = np.zeros((len(names), nt, grid.size), np.float32)
            for h in clocks:  # the clocks' cells are disjoint: each call fills its own
                cells, annual = clock_cells[h]
                weights = np.ascontiguousarray(W[h], dtype=np.float64)
                weighted_hourly_sum(weights, annual, cells, grids)
            area = {sp: grids[j].reshape(nt, *grid.shape) for j, sp in enumerate(names)}
        Wp = np.empty((nt, len(pts)))
        for h in clocks:
            on_clock = p_clock == h
            Wp[:, on_clock] = W[h][:, p_sector[on_clock]]
        point_em = {sp: (Wp * pts[sp].to_numpy()[None, :]) for sp in names}
        yield emission_dataset(
            grid,
            t,
            area,
            points=pts,
            point_emissions=point_em,
            region_fraction=inventory.region_fraction,
            attrs=attrs,
            sector=list(sectors) if keep_sectors else None,
            species=species,
        )


def concat_time_chunks(parts: Iterable[xr.Dataset]) -> xr.Dataset:
    """One Dataset from consecutive time chunks of an emission Dataset (e.g. the months of
    :func:`iter_prior_grids`); the static variables are taken from the first."""
    parts = list(parts)
    if not parts:
        raise InputDataError("no time chunks to join")
    if len(parts) == 1:
        return parts[0]
    time_vars = [v for v in parts[0].data_vars if "time" in parts[0][v].dims]
    return xr.concat(
        parts,
        dim="time",
        data_vars=time_vars,
        coords="minimal",
        compat="override",
        join="override",
        combine_attrs="override",
    )


def prior_grids(
    inventory: Inventory,
    period: PeriodConfig,
    species: Sequence[Species],
    *,
    keep_sectors: bool = False,
    attrs: Mapping[str, str] | None = None,
    progress: bool = False,
) -> xr.Dataset:
    """Hourly prior emission grids of ``period``, in memory (parameters: :func:`iter_prior_grids`).

    Returns
    -------
    xr.Dataset
        Per species ``<name>`` ``(time, y, x)`` float32 kg h-1 (area sources) and
        ``<name>_point`` ``(time, point)`` (point sources), CF-1.10 metadata and ``attrs``.
        For a year, prefer :func:`iter_prior_grids` and the streamed writers.
    """
    return concat_time_chunks(
        iter_prior_grids(
            inventory,
            period,
            species,
            keep_sectors=keep_sectors,
            attrs=attrs,
            progress=progress,
        )
    )
