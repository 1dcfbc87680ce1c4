"""Regression cases for coverage_matrix, and the zoning overlay's guard around it.

Both geometries come from the default control units: a 6e-8 m² sliver on which GEOS
``clip_by_rect`` raises, and a polygon whose hole touches the shell at one vertex just above a row
boundary (coverage_matrix once gave its upper cell 0.99896 instead of 0.00104; fixed in the grids
package).  The overlay checks every row's area anyway and recomputes bad rows exactly.
"""

import numpy as np
import pytest
import scipy.sparse as sp
import shapely

from gridcarbon.grids.coverage import coverage_matrix
from gridcarbon.grids.gridspec import GridSpec, default_crs
from gridcarbon.zoning import overlay
from gridcarbon.zoning.overlay import _exact_by_boxes

SLIVER = shapely.from_wkt(
    "POLYGON ((113943.39547388615 95181.49216867537, 115426.84508107812 96000, "
    "115426.84508107827 96000, 113943.39547388615 95181.49216867537))"
)
GRID = GridSpec(default_crs().to_wkt(), 108000.0, 99000.0, 3000.0, 4, 3)
HOLE_TOUCHING_SHELL = shapely.from_wkb(
    "0103000000020000000A0000005426B55AF786FEC023000000004CED405777A5E19F32FEC00F1D1ACF6B7CEC40"
    "000000008007FEC03D59608657E8EC40000000008007FEC00000000000D5EB40FE9EA61274C1FEC00000000000"
    "D5EB40BF4AD37836BDFEC047D1B410DADEEB400000000000C3FEC04538593DF516EC400000000000C3FEC06785"
    "24000F16ED407D5CA1C4558BFEC00D74FC99C056ED405426B55AF786FEC023000000004CED4004000000E451B9"
    "CF94C1FEC089AC0C19B517ED4012CA11369694FEC09EFEFFFFFF4BED407D5CA1C4558BFEC00D74FC99C056ED40"
    "E451B9CF94C1FEC089AC0C19B517ED40"
)
TWO_CELLS = GridSpec(default_crs().to_wkt(), -126000.0, 63000.0, 3000.0, 1, 2)


def test_geos_clip_by_rect_fails_on_sliver():
    with pytest.raises(shapely.errors.GEOSException):
        shapely.clip_by_rect(SLIVER, 111000.0, 93000.0, 114000.0, 96000.0)


@pytest.mark.parametrize("geom,grid", [(SLIVER, GRID), (HOLE_TOUCHING_SHELL, TWO_CELLS)])
def test_coverage_matrix_regressions(geom, grid):
    assert shapely.is_valid(geom)
    F = coverage_matrix(grid, [geom])
    assert F.sum() * grid.cell_area == pytest.approx(geom.area, rel=1e-9, abs=1e-6)
    idx, frac = _exact_by_boxes(geom, grid)
    dense = np.zeros(grid.size)
    dense[idx] = frac
    assert np.abs(F.toarray()[0] - dense).max() <= 1e-12


def test_guard_recomputes_failing_and_wrong_rows(monkeypatch):
    good = shapely.box(108500.0, 92500.0, 113000.0, 97000.0)
    real = overlay.coverage_matrix

    def flaky(grid, geoms):
        if any(g.equals(SLIVER) for g in geoms):
            raise shapely.errors.GEOSException("IllegalArgumentException: Invalid number of points")
        F = real(grid, geoms).tolil()
        for i, g in enumerate(geoms):
            if g.equals(good):  # lose a cell, as the hole-touching-shell bug did
                F[i, F.rows[i][0]] = 0.0
        return F.tocsr()

    monkeypatch.setattr(overlay, "coverage_matrix", flaky)
    F, fallback = overlay._coverage_robust(GRID, np.array([good, SLIVER], dtype=object))
    assert fallback == [0, 1]
    assert sp.issparse(F) and F.shape == (2, GRID.size)
    assert F[0].sum() * 9e6 == pytest.approx(good.area, rel=1e-12)
    assert F[1].sum() * 9e6 == pytest.approx(SLIVER.area, rel=1e-9, abs=1e-6)
