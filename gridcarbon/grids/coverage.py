"""Exact polygon–cell coverage fractions.

The coverage of polygon *i* over cell *j* is ``area(polygon_i ∩ cell_j) / cell_area``: the same
quantity exactextract calls ``coverage``.  It is computed with GEOS rectangle clipping, first of
each polygon to a row strip and then of the strip to each cell, so that the cost grows with the
polygon's vertices per strip rather than with its vertices times its cells.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import shapely

from gridcarbon.errors import InputDataError
from gridcarbon.grids.gridspec import GridSpec

__all__ = ["coverage_matrix", "coverage_fraction_grid"]


def _clip(geom: shapely.Geometry, x0: float, y0: float, x1: float, y1: float) -> shapely.Geometry:
    """Intersection of ``geom`` with a rectangle: GEOS rectangle clipping, which is fast, with
    the general overlay as the fallback for the rare degenerate input it rejects."""
    try:
        return shapely.clip_by_rect(geom, x0, y0, x1, y1)
    except shapely.errors.GEOSException:
        return shapely.intersection(geom, shapely.box(x0, y0, x1, y1))


def _polygon_coverage(geom: shapely.Geometry, grid: GridSpec) -> tuple[np.ndarray, np.ndarray]:
    """Flat cell indices and fractions (intersection area / cell area) of one polygon."""
    cs = grid.cell_size
    gx0, gy0, gx1, gy1 = grid.bounds
    bx0, by0, bx1, by1 = shapely.bounds(geom)
    c0 = max(int(np.floor((bx0 - gx0) / cs)), 0)
    c1 = min(int(np.ceil((bx1 - gx0) / cs)), grid.nx)
    r0 = max(int(np.floor((gy1 - by1) / cs)), 0)
    r1 = min(int(np.ceil((gy1 - by0) / cs)), grid.ny)
    cells: list[np.ndarray] = []
    fracs: list[np.ndarray] = []
    if c0 >= c1 or r0 >= r1:
        return np.empty(0, np.int64), np.empty(0)
    xs = gx0 + np.arange(c0, c1 + 1) * cs
    full_row = (xs[-1] - xs[0]) * cs
    for r in range(r0, r1):
        y_top = gy1 - r * cs
        strip = _clip(geom, xs[0], y_top - cs, xs[-1], y_top)
        strip_area = shapely.area(strip)
        if strip_area <= 0.0:
            continue
        if strip_area >= full_row * (1 - 1e-12):
            frac = np.ones(c1 - c0)
        else:
            # Narrow the column range to the strip's own bounds before clipping cell by cell.
            sx0, _, sx1, _ = shapely.bounds(strip)
            k0 = max(int(np.floor((sx0 - xs[0]) / cs)), 0)
            k1 = min(int(np.ceil((sx1 - xs[0]) / cs)), c1 - c0)
            frac = np.zeros(c1 - c0)
            for k in range(k0, k1):
                piece = _clip(strip, xs[k], y_top - cs, xs[k + 1], y_top)
                frac[k] = shapely.area(piece) / (cs * cs)
        nz = np.flatnonzero(frac > 0)
        cells.append(r * grid.nx + c0 + nz)
        fracs.append(frac[nz])
    if not cells:
        return np.empty(0, np.int64), np.empty(0)
    return np.concatenate(cells), np.concatenate(fracs)


def coverage_matrix(
    grid: GridSpec, geometries: Sequence[shapely.Geometry] | np.ndarray
) -> sp.csr_matrix:
    """Sparse ``(n_geometries, grid.size)`` matrix of exact coverage fractions.

    Parameters
    ----------
    grid : GridSpec
        The grid.
    geometries : sequence of shapely (Multi)Polygons
        Polygons in the grid's CRS (metres).  Invalid polygons are rejected: repair them first
        (``shapely.make_valid``).

    Returns
    -------
    scipy.sparse.csr_matrix
        ``F[i, row*nx + col]`` = area(geometry_i ∩ cell) / cell_area, dimensionless, float64.
        ``F @ grid.ravel()`` gives area-weighted totals of an extensive field per geometry.
    """
    geoms = np.asarray(geometries, dtype=object)
    if geoms.ndim != 1:
        geoms = geoms.ravel()
    valid = shapely.is_valid(geoms)
    if not np.all(valid):
        bad = int(np.flatnonzero(~valid)[0])
        raise InputDataError(
            f"geometry {bad} is invalid ({shapely.is_valid_reason(geoms[bad])}); "
            "repair it with shapely.make_valid before computing coverage"
        )
    indptr = [0]
    indices: list[np.ndarray] = []
    data: list[np.ndarray] = []
    for geom in geoms:
        if geom is None or shapely.is_empty(geom):
            idx, frac = np.empty(0, np.int64), np.empty(0)
        else:
            idx, frac = _polygon_coverage(geom, grid)
        indices.append(idx)
        data.append(frac)
        indptr.append(indptr[-1] + idx.size)
    return sp.csr_matrix(
        (
            np.concatenate(data) if data else np.empty(0),
            np.concatenate(indices) if indices else np.empty(0, np.int64),
            np.asarray(indptr, np.int64),
        ),
        shape=(geoms.size, grid.size),
    )


def coverage_fraction_grid(grid: GridSpec, geometry: shapely.Geometry) -> np.ndarray:
    """Fraction of each cell covered by one geometry, shape ``(ny, nx)``, float64 in [0, 1]."""
    return np.asarray(coverage_matrix(grid, [geometry]).toarray()).reshape(grid.shape)
