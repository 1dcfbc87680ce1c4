"""The overlay's fallback for geometries on which GEOS ``clip_by_rect`` fails.

GEOS ``clip_by_rect`` raises "Invalid number of points in LinearRing found 3" on this valid,
6e-8 m² sliver.  Once, a run of ``coverage_matrix`` on the default units failed this way (not
reproduced since); the zoning overlay then falls back to exact box intersection for that unit.
"""

import numpy as np
import pytest
import scipy.sparse as sp
import shapely

from gridcarbon.grids.gridspec import GridSpec, default_crs
from gridcarbon.zoning import overlay
from gridcarbon.zoning.overlay import _exact_by_boxes

SLIVER = shapely.from_wkt(
    "POLYGON ((113943.39547388615 95181.49216867537, 115426.84508107812 96000, "
    "115426.84508107827 96000, 113943.39547388615 95181.49216867537))"
)
GRID = GridSpec(default_crs().to_wkt(), 108000.0, 99000.0, 3000.0, 4, 3)


def test_geos_clip_by_rect_fails_on_sliver():
    with pytest.raises(shapely.errors.GEOSException):
        shapely.clip_by_rect(SLIVER, 111000.0, 93000.0, 114000.0, 96000.0)


def test_fallback_on_sliver():
    idx, frac = _exact_by_boxes(SLIVER, GRID)
    assert np.isclose(frac.sum() * GRID.cell_area, SLIVER.area, rtol=1e-9, atol=1e-6)


def test_robust_coverage_uses_fallback(monkeypatch):
    good = shapely.box(108500.0, 92500.0, 113000.0, 97000.0)
    real = overlay.coverage_matrix

    def flaky(grid, geoms):
        if any(g.equals(SLIVER) for g in geoms):
            raise shapely.errors.GEOSException("IllegalArgumentException: Invalid number of points")
        return real(grid, geoms)

    monkeypatch.setattr(overlay, "coverage_matrix", flaky)
    F, fallback = overlay._coverage_robust(GRID, np.array([good, SLIVER], dtype=object))
    assert fallback == [1]
    assert sp.issparse(F) and F.shape == (2, GRID.size)
    assert np.isclose(F[0].sum() * 9e6, good.area, rtol=1e-12)
    assert np.isclose(F[1].sum() * 9e6, SLIVER.area, rtol=1e-9, atol=1e-6)
