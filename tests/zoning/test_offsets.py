"""The web-map offset formulas: GCJ-02 and BD-09, their published vectors and inverses."""

import numpy as np
import pytest

from gridcarbon.zoning.offsets import (
    bd09_to_gcj02,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    wgs84_to_gcj02,
)


def test_gcj02_formula_known_vector_and_inverse():
    # the widely published test point (Beijing): WGS84 (116.404, 39.915)
    glon, glat = wgs84_to_gcj02(116.404, 39.915)
    assert glon == pytest.approx(116.41024449916938, abs=1e-12)
    assert glat == pytest.approx(39.91640428150164, abs=1e-12)
    lon = np.linspace(118.0, 123.0, 7)
    lat = np.linspace(27.0, 31.2, 7)
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    np.testing.assert_allclose(back[0], lon, atol=1e-9)
    np.testing.assert_allclose(back[1], lat, atol=1e-9)


def test_bd09_formula_published_vectors():
    # coordtransform (github.com/wandergis/coordtransform) README: Beijing (116.404, 39.915)
    lon, lat = bd09_to_gcj02(116.404, 39.915)
    assert lon == pytest.approx(116.39762729119315, abs=1e-12)
    assert lat == pytest.approx(39.90865673957631, abs=1e-12)
    lon, lat = gcj02_to_bd09(116.404, 39.915)
    assert lon == pytest.approx(116.41036949371029, abs=1e-12)
    assert lat == pytest.approx(39.92133699351021, abs=1e-12)
    glon, glat = np.meshgrid(np.linspace(118.0, 123.0, 9), np.linspace(27.0, 31.2, 9))
    back = bd09_to_gcj02(*gcj02_to_bd09(glon, glat))
    assert np.abs(back[0] - glon).max() < 2e-6 and np.abs(back[1] - glat).max() < 2e-6
