"""Exact polygon–cell coverage fractions.

The coverage of polygon *i* over cell *j* is ``area(polygon_i ∩ cell_j) / cell_area``: the same
quantity exactextract calls ``coverage``.  It is computed with GEOS rectangle clipping, first of
each polygon to a row strip and then of the strip to each cell, so that the cost grows with the
polygon's vertices per strip rather than with its vertices times its cells; every set of pieces
is checked against the area it must add up to, and recomputed with the general overlay when
rectangle clipping got a degenerate case wrong.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import shapely

from gridcarbon.errors import InputDataError
from gridcarbon.grids.gridspec import GridSpec

__all__ = ["coverage_matrix", "coverage_fraction_grid"]


def _tolerance(area: float) -> float:
    return 1e-10 * area + 1e-7  # m²: far below any real sliver, far above rounding


def _clip_pieces(
    geom: shapely.Geometry,
    original: shapely.Geometry,
    x0: np.ndarray,
    y0: np.ndarray,
    x1: np.ndarray,
    y1: np.ndarray,
    expected_area: float,
) -> np.ndarray:
    """Areas of ``geom`` ∩ each rectangle, for rectangles that tile a region of known area.

    GEOS rectangle clipping is fast but fails on some degenerate input: it can raise, and it can
    return the complement of a sliver between a shell and a hole that touches it (reproduced in
    ``tests/zoning/test_coverage_bugs.py``).  The pieces tile the clipped region, so their areas
    must add up to ``expected_area``; when they do not, every piece is recomputed with the general
    (robust) overlay of the ``original`` valid polygon (``geom`` may be an earlier clip's output,
    which need not be valid).
    """
    try:
        pieces = np.array(
            [shapely.clip_by_rect(geom, *r) for r in zip(x0, y0, x1, y1, strict=True)], dtype=object
        )
        areas = shapely.area(pieces)
        if abs(areas.sum() - expected_area) <= _tolerance(expected_area):
            return pieces
    except shapely.errors.GEOSException:
        pass
    return shapely.intersection(original, shapely.box(x0, y0, x1, y1))


def _polygon_coverage(geom: shapely.Geometry, grid: GridSpec) -> tuple[np.ndarray, np.ndarray]:
    """Flat cell indices and fractions (intersection area / cell area) of one polygon."""
    cs = grid.cell_size
    gx0, gy0, gx1, gy1 = grid.bounds
    bx0, by0, bx1, by1 = shapely.bounds(geom)
    c0 = max(int(np.floor((bx0 - gx0) / cs)), 0)
    c1 = min(int(np.ceil((bx1 - gx0) / cs)), grid.nx)
    r0 = max(int(np.floor((gy1 - by1) / cs)), 0)
    r1 = min(int(np.ceil((gy1 - by0) / cs)), grid.ny)
    if c0 >= c1 or r0 >= r1:
        return np.empty(0, np.int64), np.empty(0)
    xs = gx0 + np.arange(c0, c1 + 1) * cs
    y_tops = gy1 - np.arange(r0, r1) * cs
    window = (xs[0], y_tops[-1] - cs, xs[-1], y_tops[0])
    inside = bx0 >= window[0] and by0 >= window[1] and bx1 <= window[2] and by1 <= window[3]
    total = (
        shapely.area(geom)
        if inside
        else shapely.area(shapely.intersection(geom, shapely.box(*window)))
    )
    n = y_tops.size
    strips = _clip_pieces(
        geom, geom, np.full(n, xs[0]), y_tops - cs, np.full(n, xs[-1]), y_tops, total
    )
    strip_areas = shapely.area(strips)
    full_row = (xs[-1] - xs[0]) * cs
    cells: list[np.ndarray] = []
    fracs: list[np.ndarray] = []
    for i in np.flatnonzero(strip_areas > 0.0):
        strip, y_top, r = strips[i], y_tops[i], r0 + i
        if strip_areas[i] >= full_row * (1 - 1e-12):
            frac = np.ones(c1 - c0)
        else:
            # Narrow the column range to the strip's own bounds before clipping cell by cell.
            sx0, _, sx1, _ = shapely.bounds(strip)
            k0 = max(int(np.floor((sx0 - xs[0]) / cs)), 0)
            k1 = min(int(np.ceil((sx1 - xs[0]) / cs)), c1 - c0)
            m = k1 - k0
            pieces = _clip_pieces(
                strip,
                geom,
                xs[k0:k1],
                np.full(m, y_top - cs),
                xs[k0 + 1 : k1 + 1],
                np.full(m, y_top),
                strip_areas[i],
            )
            frac = np.zeros(c1 - c0)
            frac[k0:k1] = shapely.area(pieces) / (cs * cs)
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
