"""The offline base layer: boundary outlines and the cities' place labels."""

from __future__ import annotations

import geopandas as gpd
import shapely
from fixtures import small_grid, small_inputs, zhejiang_boundaries

from gridcarbon.maps import LAYER_NAMES, make_map, map_html
from gridcarbon.maps.boundaries import place_labels


def test_place_labels_name_every_city_inside_it():
    cities = zhejiang_boundaries()["city"]
    labels = place_labels(cities)
    assert len(labels) == 11
    assert [name for name, _, _ in labels] == [str(n) for n in cities["name"]]
    polygons = cities.to_crs("EPSG:4326").geometry.values
    for (name, lat, lon), polygon in zip(labels, polygons, strict=True):
        assert polygon.contains(shapely.Point(lon, lat)), name
    hangzhou = dict((n, (lat, lon)) for n, lat, lon in labels)["杭州市"]
    assert 29.2 < hangzhou[0] < 30.6 and 118.3 < hangzhou[1] < 120.8


def test_place_labels_skip_unnamed_and_reproject():
    square = shapely.box(500_000, 3_300_000, 510_000, 3_310_000)
    cities = gpd.GeoDataFrame(
        {"name": ["North", None, "  "]}, geometry=[square] * 3, crs="EPSG:32651"
    )
    labels = place_labels(cities)
    assert [n for n, _, _ in labels] == ["North"]
    lon, lat = gpd.GeoSeries([square.centroid], crs="EPSG:32651").to_crs("EPSG:4326")[0].coords[0]
    assert abs(labels[0][1] - lat) < 0.05 and abs(labels[0][2] - lon) < 0.05
    assert place_labels(None) == [] and place_labels(cities.drop(columns="name")) == []


def test_map_has_the_place_label_layer_only_with_named_cities():
    grid = small_grid()
    inputs = small_inputs(grid)
    page = map_html(make_map(inputs), self_contained=False)
    assert f'"{LAYER_NAMES["places"]}"' in page and "gc.placeLabels(" in page
    inputs.boundaries.pop("city")
    page = map_html(make_map(inputs), self_contained=False)
    assert "gc.placeLabels(" not in page and f'"{LAYER_NAMES["places"]}"' not in page
