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


# A valid polygon whose hole touches its shell at one vertex, just above a row boundary: GEOS
# rectangle clipping returns the complement of the sliver between shell and hole (found in the
# default control units by the zoning stage's area check).
HOLE_TOUCHING_SHELL = shapely.from_wkb(
    "0103000000020000000A0000005426B55AF786FEC023000000004CED405777A5E19F32FEC00F1D1ACF6B7CEC40"
    "000000008007FEC03D59608657E8EC40000000008007FEC00000000000D5EB40FE9EA61274C1FEC00000000000"
    "D5EB40BF4AD37836BDFEC047D1B410DADEEB400000000000C3FEC04538593DF516EC400000000000C3FEC06785"
    "24000F16ED407D5CA1C4558BFEC00D74FC99C056ED405426B55AF786FEC023000000004CED4004000000E451B9"
    "CF94C1FEC089AC0C19B517ED4012CA11369694FEC09EFEFFFFFF4BED407D5CA1C4558BFEC00D74FC99C056ED40"
    "E451B9CF94C1FEC089AC0C19B517ED40"
)
# A valid 6e-8 m² sliver on which rectangle clipping raises.
SLIVER = shapely.from_wkt(
    "POLYGON ((113943.39547388615 95181.49216867537, 115426.84508107812 96000, "
    "115426.84508107827 96000, 113943.39547388615 95181.49216867537))"
)


def test_degenerate_polygons_fall_back_to_the_general_overlay():
    from gridcarbon.grids.gridspec import default_crs

    two_cells = GridSpec(default_crs().to_wkt(), -126000.0, 63000.0, 3000.0, 1, 2)
    F = coverage_matrix(two_cells, [HOLE_TOUCHING_SHELL])
    assert F.sum() * 9e6 == pytest.approx(HOLE_TOUCHING_SHELL.area, rel=1e-9, abs=1e-6)
    top = shapely.intersection(HOLE_TOUCHING_SHELL, shapely.box(-126000, 60000, -123000, 63000))
    assert F[0, 0] == pytest.approx(top.area / 9e6, abs=1e-12)
    grid = GridSpec(default_crs().to_wkt(), 108000.0, 99000.0, 3000.0, 4, 3)
    F = coverage_matrix(grid, [SLIVER])
    assert F.sum() * 9e6 == pytest.approx(SLIVER.area, rel=1e-9, abs=1e-6)
