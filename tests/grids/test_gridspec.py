from __future__ import annotations

import numpy as np
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gridcarbon.errors import ConfigError, CRSError, OutsideGridError
from gridcarbon.grids.coverage import coverage_fraction_grid
from gridcarbon.grids.gridspec import GridSpec, default_crs
from gridcarbon.scenario.geography import default_grid, load_boundaries, region_polygon

GEOD = pyproj.Geod(ellps="GRS80")


@pytest.fixture(scope="module")
def grid() -> GridSpec:
    return default_grid()


def _geodesic_area(poly_lonlat) -> float:
    return abs(GEOD.geometry_area_perimeter(poly_lonlat)[0])


def test_default_grid_shape_and_alignment(grid):
    assert grid.cell_size == 3000.0
    assert grid.x_min % 3000 == 0 and grid.y_max % 3000 == 0
    assert 150 <= grid.ny <= 170 and 150 <= grid.nx <= 170
    assert grid.crs.is_projected
    assert "Albers" in grid.crs.to_wkt() and "2000" in grid.crs.geodetic_crs.name


def test_geodesic_cell_area_is_9_km2(grid):
    # Cells in the corners and the centre: an equal-area projection keeps 9 km² everywhere.
    polys = grid.cell_polygons().reshape(grid.shape)
    for r, c in [
        (0, 0),
        (0, grid.nx - 1),
        (grid.ny - 1, 0),
        (grid.ny - 1, grid.nx - 1),
        (grid.ny // 2, grid.nx // 2),
    ]:
        cell = shapely.segmentize(polys[r, c], 100.0)  # follow the projected straight edges
        lonlat = shapely.transform(cell, lambda xy: np.column_stack(grid.unproject(*xy.T)))
        assert _geodesic_area(lonlat) == pytest.approx(9.0e6, rel=1e-5)


def test_region_fraction_area_matches_geodesic_area(grid):
    region = region_polygon(grid.crs)
    frac = coverage_fraction_grid(grid, region)
    grid_area = float((frac * grid.cell_area).sum())
    lonlat = shapely.transform(
        shapely.segmentize(region, 500.0), lambda xy: np.column_stack(grid.unproject(*xy.T))
    )
    assert grid_area == pytest.approx(_geodesic_area(lonlat), rel=1e-5)
    # The land alone, against the geodesic area of the boundary data itself.
    land_lonlat = shapely.union_all(load_boundaries("province").geometry.values)
    from gridcarbon.grids.gridspec import to_projected

    land_frac = coverage_fraction_grid(grid, to_projected(land_lonlat, grid.crs))
    land_area = float((land_frac * grid.cell_area).sum())
    assert land_area == pytest.approx(_geodesic_area(land_lonlat), rel=1e-5)
    # Gap to the official 105,500 km² (documented in the README): about -1.3 %.
    assert abs(land_area / 105_500e6 - 1) < 0.02


@settings(max_examples=50, deadline=None)
@given(st.floats(118.2, 122.8), st.floats(27.1, 31.0))
def test_lonlat_index_round_trip(lon, lat):
    grid = default_grid()
    row, col = grid.index(lon, lat)
    clon, clat = grid.cell_center_lonlat(row, col)
    r2, c2 = grid.index(clon, clat)
    assert (int(r2), int(c2)) == (int(row), int(col))
    x, y = grid.project(lon, lat)
    lon2, lat2 = grid.unproject(x, y)
    assert lon2 == pytest.approx(lon, abs=1e-9) and lat2 == pytest.approx(lat, abs=1e-9)
    # the cell contains the point
    x0 = grid.x_min + col * grid.cell_size
    y1 = grid.y_max - row * grid.cell_size
    assert x0 <= x < x0 + grid.cell_size and y1 - grid.cell_size < y <= y1


def test_outside_grid_raises_or_flags(grid):
    with pytest.raises(OutsideGridError, match="outside the grid"):
        grid.index(100.0, 40.0)
    row, col = grid.index([100.0, 120.5], [40.0, 29.0], strict=False)
    assert row[0] == -1 and col[0] == -1 and row[1] >= 0


def test_serialisation_round_trip(grid):
    assert GridSpec.from_dict(grid.to_dict()) == grid


def test_bad_crs_and_cell_size():
    with pytest.raises(CRSError, match="unknown CRS"):
        GridSpec.from_bounds((0, 0, 10, 10), 1.0, "EPSG:999999")
    with pytest.raises(CRSError, match="not projected"):
        GridSpec.from_bounds((0, 0, 10, 10), 1.0, "EPSG:4490")
    with pytest.raises(ConfigError, match="cell_size"):
        GridSpec.from_bounds((0, 0, 10, 10), 0.0)
    with pytest.raises(ConfigError, match="cell_size"):
        GridSpec(default_crs().to_wkt(), 0.0, 0.0, -3000.0, 10, 10)
    with pytest.raises(ValueError):  # the error classes are ValueErrors too
        GridSpec.from_bounds((0, 0, 10, 10), -1.0)


def test_grid_serialises_through_the_config(grid):
    from gridcarbon.config import GridConfig, RunConfig
    from gridcarbon.scenario.zhejiang import zhejiang_grid

    cfg = RunConfig(grid=GridConfig.from_gridspec(grid))
    again = RunConfig.from_yaml(cfg.to_yaml())
    assert zhejiang_grid(again.grid) == grid
    assert zhejiang_grid(RunConfig().grid) == grid  # the default is the region's box
