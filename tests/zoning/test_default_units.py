"""The embedded synthetic control units."""

import re

import numpy as np
import pytest
import shapely

from gridcarbon.scenario.geography import default_grid, region_polygon
from gridcarbon.scenario.parks import INDUSTRIAL_PARKS


@pytest.fixture(scope="module")
def units():
    from gridcarbon.scenario.synthetic_units import default_units

    return default_units(default_grid())


@pytest.mark.slow
def test_default_units_shape_and_codes(units):
    assert 1000 <= len(units) <= 2500
    assert units["unit_code"].is_unique
    pat = re.compile(r"^ZH(\d{6})([123])(\d{4})$")
    m = units["unit_code"].str.extract(pat)
    assert m.notna().all().all()
    assert (m[0] == units["county_code"]).all()
    digit = {"priority_protection": "1", "key_control": "2", "general_control": "3"}
    assert (m[1] == units["category"].map(digit)).all()
    assert set(units["subtype"]) == {
        "industrial_agglomeration",
        "urban_living",
        "general_ecological_space",
        "agricultural",
        "sea",
    }
    assert units["synthetic"].all()
    assert set(units.loc[units["subtype"] == "industrial_agglomeration", "park"]) == {
        p.key for p in INDUSTRIAL_PARKS
    }
    assert units.geometry.is_valid.all()


@pytest.mark.slow
def test_default_units_tile_the_region(units):
    grid = default_grid()
    g = units.to_crs(grid.crs).geometry.make_valid().values
    region = region_polygon(grid.crs)
    total = shapely.area(g).sum()
    assert total == pytest.approx(region.area, rel=1e-4)  # no big gaps or overlaps
    # parks sit inside their industrial units
    tree = shapely.STRtree(g)
    for park in INDUSTRIAL_PARKS:
        x, y = grid.project(park.lon, park.lat)
        hit = tree.query(shapely.Point(float(x), float(y)), predicate="within")
        assert len(hit) == 1
        assert units["subtype"].iloc[hit[0]] == "industrial_agglomeration"


@pytest.mark.slow
def test_default_units_deterministic(units):
    from gridcarbon.scenario.synthetic_units import default_units

    again = default_units(default_grid())
    assert (again["unit_code"] == units["unit_code"]).all()
    assert all(
        shapely.equals_exact(a, b, 0) for a, b in zip(again.geometry, units.geometry, strict=True)
    )


@pytest.mark.slow
def test_written_as_geopackage(tmp_path):
    import geopandas as gpd

    from gridcarbon.errors import OutputExistsError
    from gridcarbon.scenario.synthetic_units import write_default_units

    p = write_default_units(tmp_path / "units.gpkg")
    g = gpd.read_file(p, layer="control_units")
    assert len(g) > 1000 and g.crs.to_epsg() == 4490
    with pytest.raises(OutputExistsError):
        write_default_units(tmp_path / "units.gpkg")


@pytest.mark.slow
def test_facilities_fall_in_industrial_units(units):
    from gridcarbon.scenario.zhejiang_inventory import facility_catalogue

    grid = default_grid()
    fac = facility_catalogue(grid)
    g = units.to_crs(grid.crs).geometry.values
    x, y = grid.project(fac["lon"].to_numpy(), fac["lat"].to_numpy())
    pi, ui = shapely.STRtree(g).query(shapely.points(x, y), predicate="intersects")
    assert np.unique(pi).size == len(fac)  # every facility is in some unit
    industrial = units["subtype"].to_numpy()[ui] == "industrial_agglomeration"
    assert industrial.mean() >= 0.95  # a few island power stations sit in sea units
