from __future__ import annotations

import hashlib

import numpy as np
import pytest
import shapely

from gridcarbon.errors import InputDataError
from gridcarbon.io.geodata import package_data_path, read_class_raster
from gridcarbon.scenario.geography import (
    CITY_POPULATION_2020,
    default_grid,
    load_boundaries,
    load_places,
    region_polygon,
)
from gridcarbon.scenario.landcover import (
    LANDCOVER_FILE,
    landcover_fractions,
    read_landcover,
)
from gridcarbon.scenario.parks import INDUSTRIAL_PARKS
from gridcarbon.scenario.zhejiang_inventory import PROVINCIAL_TOTALS, spatial_proxies


def test_boundaries_are_zhejiangs():
    assert len(load_boundaries("province")) == 1
    cities = load_boundaries("city")
    counties = load_boundaries("county")
    assert len(cities) == 11 and len(counties) == 90
    assert set(cities["adcode"]) == set(CITY_POPULATION_2020)
    assert counties["adcode"].str.startswith("33").all()
    assert cities.is_valid.all() and counties.is_valid.all()
    assert set(load_boundaries("neighbours")["name_en"]) == {
        "Shanghai",
        "Jiangsu",
        "Anhui",
        "Jiangxi",
        "Fujian",
    }
    with pytest.raises(ValueError, match="unknown boundary level"):
        load_boundaries("township")


def test_parks_sit_in_their_counties():
    counties = load_boundaries("county").set_index("adcode")
    for park in INDUSTRIAL_PARKS:
        assert counties.loc[park.county_code].geometry.contains(
            shapely.Point(park.lon, park.lat)
        ), park.key


def test_region_never_enters_neighbouring_land():
    grid = default_grid()
    from gridcarbon.grids.gridspec import to_projected

    region = region_polygon(grid.crs)
    neighbours = to_projected(
        shapely.union_all(load_boundaries("neighbours").geometry.values), grid.crs
    )
    assert shapely.intersection(region, neighbours).area < 1.0  # m²: boundary contact only
    land = region_polygon(grid.crs, 0.0)
    assert region.area > land.area * 1.2


def test_landcover_fractions_partition_cells():
    grid = default_grid()
    lc = landcover_fractions(grid)
    total = sum(lc.values())
    inside = total > 0
    np.testing.assert_allclose(total[inside], 1.0, atol=1e-6)
    assert lc["urban"].sum() * 9 > 5000  # km² of urban land: Zhejiang's cities are visible


#: sha256 of the pixels of the Zhejiang extract (116.5-124.5E, 25.5-32.5N, 160 x 140) the default
#: was built on before the China-wide extract replaced it
ZHEJIANG_PIXELS_SHA256 = "a2a85e8f9ae984106597a9798f3d1105675c0128d6a88cd05ac8767e38f1b90d"


def test_the_default_reads_the_pixels_of_its_former_zhejiang_extract():
    raster = read_landcover()
    assert raster.classes.shape == (140, 160)
    assert tuple(raster.transform)[:6] == (0.05, 0.0, 116.5, 0.0, -0.05, 32.5)
    assert hashlib.sha256(raster.classes.tobytes()).hexdigest() == ZHEJIANG_PIXELS_SHA256
    assert raster.nodata == 255


def test_the_extract_covers_every_mainland_county():
    from gridcarbon.scenario.china import china_boundaries

    whole = read_landcover(None)
    left, top = whole.transform.c, whole.transform.f
    right = left + whole.transform.a * whole.classes.shape[1]
    bottom = top + whole.transform.e * whole.classes.shape[0]
    x0, y0, x1, y1 = china_boundaries("county").total_bounds
    assert left < x0 and bottom < y0 and x1 < right and y1 < top
    assert (whole.classes != 255).all()  # no nodata pixel anywhere in it


def test_land_cover_far_from_zhejiang_partitions_cells():
    # a 60 x 60 km grid at Yinchuan, Ningxia: outside the former Zhejiang extract
    from gridcarbon.grids.gridspec import GridSpec

    crs = "+proj=aea +lat_0=38.5 +lon_0=106.3 +lat_1=36 +lat_2=41 +ellps=GRS80 +units=m"
    grid = GridSpec(crs_wkt=crs, x_min=-30_000.0, y_max=30_000.0, cell_size=3000.0, nx=20, ny=20)
    lc = landcover_fractions(grid, read_landcover(None))
    np.testing.assert_allclose(sum(lc.values()), 1.0, atol=1e-6)
    assert lc["urban"].max() > 0.5 and lc["cropland"].sum() > 10  # the city and its irrigated plain
    assert sum(landcover_fractions(grid).values()).max() == 0  # not in the default's window


@pytest.mark.parametrize(
    "bounds", [(116.52, 25.5, 124.5, 32.5), (72.0, 25.5, 124.5, 32.5), (116.5, 25.5, 140.0, 32.5)]
)
def test_a_window_off_the_pixel_edges_or_outside_the_raster_is_refused(bounds):
    with pytest.raises(InputDataError, match="not on the pixel edges"):
        read_class_raster(package_data_path(LANDCOVER_FILE), bounds)


def test_population_matches_census_and_proxies_normalised():
    grid = default_grid()
    p = spatial_proxies(grid)
    assert p["population"].sum() == pytest.approx(sum(CITY_POPULATION_2020.values()), rel=1e-9)
    for sector in PROVINCIAL_TOTALS.index:
        assert p[sector].sum() == pytest.approx(1.0, rel=1e-12)
        assert (p[sector] >= 0).all()
        # area sources sit inside the region
        assert p[sector][p["region_fraction"] == 0].sum() == 0.0, sector


def test_places_population_checked():
    places = load_places()
    puyang = places[places["geonameid"] == 1798425].iloc[0]
    assert np.isnan(puyang["population"]) and "Henan" in puyang["note"]
    assert places["population"].max() < 12_000_000
