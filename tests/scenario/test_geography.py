from __future__ import annotations

import numpy as np
import pytest
import shapely

from gridcarbon.scenario.geography import (
    CITY_POPULATION_2020,
    default_grid,
    load_boundaries,
    load_places,
    region_polygon,
)
from gridcarbon.scenario.landcover import landcover_fractions
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
