"""Units on the grid: the exact coverage matrix F and point-in-polygon assignment.

``F[u, c] = area(unit_u ∩ cell_c) / cell_area`` (dimensionless) comes from
:func:`gridcarbon.grids.coverage.coverage_matrix`; area-source unit totals are ``F @ field``.
Point sources are **not** spread by area: each goes to the unit that contains it.  A
:class:`CoverageCache` (e.g. :class:`gridcarbon.io.coverage_cache.CoverageCacheDir`) keeps F
between runs, under a key of the grid, the unit codes and their geometries.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Protocol

import geopandas as gpd
import numpy as np
import scipy.sparse as sp
import shapely
import xarray as xr

from gridcarbon.errors import InputDataError
from gridcarbon.grids.coverage import coverage_matrix
from gridcarbon.grids.gridspec import GridSpec
from gridcarbon.zoning.geometry import units_to_grid_crs

__all__ = [
    "CoverageCache",
    "Overlay",
    "assign_points",
    "coverage_cache_key",
    "overlay_units",
    "unit_coverage",
]

_CACHE_VERSION = "2"


class CoverageCache(Protocol):
    """Where coverage matrices are kept between runs, by key."""

    def load(self, key: str, shape: tuple[int, int]) -> sp.csr_matrix | None:
        """The matrix stored under ``key`` if it has ``shape``, else None."""
        ...

    def save(self, key: str, F: sp.csr_matrix) -> None:
        """Keep ``F`` under ``key``."""
        ...


def coverage_cache_key(grid: GridSpec, geoms_m: np.ndarray, codes: np.ndarray) -> str:
    """SHA-256 of the grid description, the unit codes and the projected geometries (WKB)."""
    h = hashlib.sha256()
    h.update(json.dumps(grid.to_dict(), sort_keys=True).encode())
    h.update(_CACHE_VERSION.encode())
    for code, wkb in zip(codes, shapely.to_wkb(geoms_m, hex=False), strict=True):
        h.update(str(code).encode())
        h.update(b"\0")
        h.update(wkb)
    return h.hexdigest()[:32]


def unit_coverage(
    grid: GridSpec,
    geoms_m: np.ndarray,
    codes: np.ndarray,
    cache: CoverageCache | None = None,
) -> sp.csr_matrix:
    """The (units × cells) exact coverage matrix, taken from ``cache`` when it holds it.

    Parameters
    ----------
    grid : GridSpec
    geoms_m : array of shapely polygons in the grid CRS (metres), valid
    codes : array of unit codes (part of the cache key)
    cache : CoverageCache, optional
        Asked first, and given the matrix when it had to be computed; None: always computed.

    Returns
    -------
    csr_matrix, float64, shape ``(n_units, grid.size)``; ``F[u, row*nx+col]`` in [0, 1].
    """
    geoms_m = np.asarray(geoms_m, dtype=object)
    if geoms_m.ndim != 1 or len(geoms_m) != len(codes):
        raise InputDataError(f"{len(geoms_m)} geometries for {len(codes)} unit codes")
    key = coverage_cache_key(grid, geoms_m, np.asarray(codes)) if cache is not None else ""
    if cache is not None:
        F = cache.load(key, (len(geoms_m), grid.size))
        if F is not None:
            return F
    # coverage_matrix checks every set of clipped pieces against the area it must add up to and
    # falls back to the general overlay on degenerate input (tests/grids/test_coverage.py).
    F = coverage_matrix(grid, geoms_m).tocsr()
    F.sort_indices()
    if cache is not None:
        cache.save(key, F)
    return F


def assign_points(geoms_m: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Index of the unit containing each point (-1 if none).

    A point on a boundary shared by two units, or inside overlapping units, goes to the unit
    listed first (the lowest index), so every point is counted exactly once.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    out = np.full(x.size, -1, np.int64)
    if x.size == 0 or len(geoms_m) == 0:
        return out
    tree = shapely.STRtree(np.asarray(geoms_m, dtype=object))
    pi, ui = tree.query(shapely.points(x, y), predicate="intersects")
    order = np.lexsort((ui, pi))
    pi, ui = pi[order], ui[order]
    first = np.ones(pi.size, bool)
    first[1:] = pi[1:] != pi[:-1]
    out[pi[first]] = ui[first]
    return out


@dataclass
class Overlay:
    """Units placed on a grid.

    Attributes
    ----------
    grid : GridSpec
    F : csr_matrix (units × cells) of coverage fractions
    geoms_m : unit polygons in the grid CRS
    codes : unit codes
    point_unit : unit index of each point source of the grids (-1 outside every unit), or None
    """

    grid: GridSpec
    F: sp.csr_matrix
    geoms_m: np.ndarray
    codes: np.ndarray
    point_unit: np.ndarray | None = None

    @property
    def n_units(self) -> int:
        return self.F.shape[0]

    @property
    def unit_area_m2(self) -> np.ndarray:
        """Area of each unit inside the grid, m² (``F`` row sums × cell area)."""
        return np.asarray(self.F.sum(axis=1)).ravel() * self.grid.cell_area

    def outside_weight(self) -> np.ndarray:
        """Per cell, the fraction not covered by any unit (``1 − Σ_u F``, clipped at 0)."""
        return np.clip(1.0 - np.asarray(self.F.sum(axis=0)).ravel(), 0.0, None)


def overlay_units(
    grids: xr.Dataset, units: gpd.GeoDataFrame, cache: CoverageCache | None = None
) -> Overlay:
    """Coverage matrix and point-in-polygon assignment of ``grids``' point sources.

    Parameters
    ----------
    grids : xr.Dataset
        Emission grids (their grid, and ``point_lon``/``point_lat`` when they hold points).
    units : GeoDataFrame
        Control units in lon/lat with ``unit_code``.
    cache : CoverageCache, optional
        See :func:`unit_coverage`.
    """
    grid = GridSpec.from_dataset(grids)
    geoms_m = units_to_grid_crs(units, grid)
    codes = units["unit_code"].to_numpy().astype(str)
    F = unit_coverage(grid, geoms_m, codes, cache)
    point_unit = None
    if "point_lon" in grids.coords and grids.sizes.get("point", 0) > 0:
        x, y = grid.project(grids["point_lon"].values, grids["point_lat"].values)
        point_unit = assign_points(geoms_m, x, y)
    return Overlay(grid=grid, F=F, geoms_m=geoms_m, codes=codes, point_unit=point_unit)
