"""Hourly prior emission grids from an inventory and temporal profiles.

The numeric core (:func:`hourly_area_emissions`) runs a numba kernel over arrays
(:func:`gridcarbon.kernels.emissions.weighted_hourly_sum`); it knows nothing of files.
:func:`iter_prior` streams the period month by month so that a year stays within bounded memory;
:func:`build_prior` returns the whole configured period as one Dataset.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import numpy as np
import pandas as pd
import xarray as xr

from gridcarbon import __version__
from gridcarbon.config import RunConfig
from gridcarbon.grids.dataset import emission_dataset
from gridcarbon.grids.gridspec import GridSpec
from gridcarbon.grids.inventory import Inventory
from gridcarbon.grids.temporal import beijing_year_hours, hourly_weight_matrix
from gridcarbon.kernels.emissions import weighted_hourly_sum

__all__ = [
    "build_prior",
    "iter_prior",
    "prior_inventory",
    "grid_from_config",
    "hourly_area_emissions",
    "period_hours",
    "month_slices",
]

log = logging.getLogger(__name__)


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


def grid_from_config(config: RunConfig) -> GridSpec:
    """The grid of ``config``: its explicit extent, or the region (land + territorial sea) plus
    the buffer."""
    from gridcarbon.grids.gridspec import default_crs, parse_crs
    from gridcarbon.scenario.geography import region_polygon

    g = config.grid
    crs = default_crs() if g.crs is None else parse_crs(g.crs)
    if g.extent is not None:
        e = g.extent
        return GridSpec(crs.to_wkt(), e.x_min, e.y_max, g.cell_size_m, e.nx, e.ny)
    region = region_polygon(crs, g.territorial_sea_m)
    x0, y0, x1, y1 = region.bounds
    b = g.buffer_m
    return GridSpec.from_bounds((x0 - b, y0 - b, x1 + b, y1 + b), g.cell_size_m, crs)


def prior_inventory(config: RunConfig, grid: GridSpec | None = None) -> Inventory:
    """The inventory of ``config`` on its grid (the Zhejiang default)."""
    from gridcarbon.scenario.zhejiang_inventory import zhejiang_inventory

    grid = grid_from_config(config) if grid is None else grid
    return zhejiang_inventory(config, grid)


def period_hours(config: RunConfig) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """UTC hours of the configured period and their positions in the Beijing year."""
    year_hours = beijing_year_hours(config.period.year)
    bj = year_hours + pd.Timedelta(hours=8)
    start = pd.Timestamp(config.period.start)
    end = pd.Timestamp(config.period.end) + pd.Timedelta(days=1)
    pos = np.flatnonzero((bj >= start) & (bj < end))
    return year_hours[pos], pos


def month_slices(positions: np.ndarray, hours: pd.DatetimeIndex) -> list[slice]:
    """Split a period into Beijing calendar months (slices into ``positions``)."""
    bj_month = (hours + pd.Timedelta(hours=8)).month.to_numpy()
    edges = np.flatnonzero(np.diff(bj_month)) + 1
    bounds = [0, *edges.tolist(), positions.size]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _provenance(config: RunConfig, inventory: Inventory) -> dict[str, str]:
    from gridcarbon.io.provenance import input_checksums

    return {
        "title": "gridcarbon prior emission grids (fused inventory of CO2, NOx and VOC)",
        "institution": "gridcarbon",
        "source": "gridcarbon prior inventory: " + json.dumps(inventory.description),
        "synthetic": "true" if inventory.synthetic else "false",
        "synthetic_components": (
            "provincial sector totals (assumed), facility catalogue (synthetic)"
            if inventory.synthetic
            else ""
        ),
        "gridcarbon_version": __version__,
        "config": config.to_yaml(),
        "input_checksums": json.dumps(input_checksums(config)),
        "inventory_year_beijing": str(config.period.year),
        "time_zone_note": "time is UTC, hour-beginning; the inventory year is the Beijing "
        "calendar year (UTC+8); show Beijing time to people",
    }


def iter_prior(
    config: RunConfig, inventory: Inventory | None = None, progress: bool = False
) -> Iterator[xr.Dataset]:
    """Yield the prior month by month (Beijing months) over the configured period.

    Each yielded Dataset follows the emission-Dataset layout (``docs/architecture.md``);
    memory is bounded by one month of grids.
    """
    from tqdm.auto import tqdm

    inventory = prior_inventory(config) if inventory is None else inventory
    grid = inventory.grid
    species = list(config.species)
    hours, positions = period_hours(config)
    W_year = hourly_weight_matrix(config.period.year, inventory.sectors)
    maps = np.stack([inventory.area_maps(sp) for sp in species], axis=1)  # (S, nsp, ny, nx)
    maps = maps.reshape(len(inventory.sectors), len(species), grid.size)
    sector_index = {s: i for i, s in enumerate(inventory.sectors)}
    pts = inventory.points
    p_sector = pts["sector"].map(sector_index).to_numpy(dtype=np.int64)
    attrs = _provenance(config, inventory)
    chunks = month_slices(positions, hours)
    for sl in tqdm(chunks, desc="prior", unit="month", disable=not progress):
        W = W_year[positions[sl]]
        t = hours[sl]
        if config.prior.keep_sectors:
            area = {}
            for j, sp in enumerate(species):
                per_sector = np.zeros((W.shape[0], len(inventory.sectors), grid.size), np.float32)
                for si in range(len(inventory.sectors)):
                    per_sector[:, si, :] = np.outer(W[:, si], maps[si, j]).astype(np.float32)
                area[sp] = per_sector.reshape(W.shape[0], len(inventory.sectors), *grid.shape)
        else:
            grids = hourly_area_emissions(W, maps)
            area = {sp: grids[j].reshape(W.shape[0], *grid.shape) for j, sp in enumerate(species)}
        point_em = {sp: (W[:, p_sector] * pts[sp].to_numpy()[None, :]) for sp in species}
        yield emission_dataset(
            grid,
            t,
            area,
            points=pts,
            point_emissions=point_em,
            region_fraction=inventory.region_fraction,
            attrs=attrs,
            sector=inventory.sectors if config.prior.keep_sectors else None,
        )


def build_prior(config: RunConfig | None = None, progress: bool = False) -> xr.Dataset:
    """Hourly prior emission grids of the configured period, in memory.

    Parameters
    ----------
    config : RunConfig, optional
        Default: the embedded Zhejiang default (January 2023).
    progress : bool
        Show a progress bar per month.

    Returns
    -------
    xr.Dataset
        ``CO2``, ``NOx``, ``VOC`` ``(time, y, x)`` float32 kg h-1 (area sources) and
        ``*_point`` ``(time, point)`` (point sources), CF-1.10 metadata, provenance and a
        ``synthetic`` flag.  For a year, prefer :func:`iter_prior` and the streamed writers.
    """
    config = RunConfig() if config is None else config
    parts = list(iter_prior(config, progress=progress))
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
