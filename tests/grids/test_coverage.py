from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gridcarbon.errors import InputDataError
from gridcarbon.grids.coverage import coverage_matrix
from gridcarbon.grids.gridspec import GridSpec

GRID = GridSpec.from_bounds((0.0, 0.0, 30000.0, 24000.0), 3000.0)


@st.composite
def polygons(draw):
    """Random valid polygons inside the grid: star-shaped rings, possibly with holes."""
    cx = draw(st.floats(5000, 25000))
    cy = draw(st.floats(5000, 19000))
    n = draw(st.integers(3, 24))
    angles = np.sort(
        np.array(draw(st.lists(st.floats(0, 2 * np.pi), min_size=n, max_size=n, unique=True)))
    )
    radii = np.array(draw(st.lists(st.floats(10, 4900), min_size=n, max_size=n)))
    ring = np.column_stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)])
    poly = shapely.make_valid(shapely.Polygon(ring))
    if draw(st.booleans()):
        poly = shapely.difference(poly, shapely.Point(cx, cy).buffer(draw(st.floats(1, 300))))
    return poly


@settings(max_examples=150, deadline=None)
@given(polygons())
def test_coverage_sums_to_polygon_area(poly):
    F = coverage_matrix(GRID, [poly])
    total = float(F.sum()) * GRID.cell_area
    assert abs(total - poly.area) <= 1e-9 * poly.area + 1e-6
    assert F.max() <= 1 + 1e-12 and F.min() >= 0


def test_small_polygon_gets_its_share_not_centre_rule():
    # A 1 ha square straddling four cells, far from every cell centre.
    sq = shapely.box(2950.0, 2950.0, 3050.0, 3050.0)
    F = coverage_matrix(GRID, [sq]).toarray().reshape(GRID.shape)
    assert np.count_nonzero(F) == 4
    assert F.sum() * GRID.cell_area == pytest.approx(10000.0, rel=1e-12)


def test_full_cell_and_outside():
    cell = shapely.box(3000.0, 21000.0, 6000.0, 24000.0)  # row 0, col 1
    F = coverage_matrix(GRID, [cell, shapely.box(-5000, -5000, -1000, -1000)])
    assert F[0, 1] == pytest.approx(1.0) and F[0].nnz == 1
    assert F[1].nnz == 0


def test_invalid_geometry_rejected():
    bowtie = shapely.Polygon([(0, 0), (3000, 3000), (3000, 0), (0, 3000)])
    with pytest.raises(InputDataError, match="invalid"):
        coverage_matrix(GRID, [bowtie])
