"""The offline base layer: province, city and county outlines from ``MapInputs.boundaries``, and
the cities' names written on the map (nothing is fetched)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import folium
import geopandas as gpd
import pandas as pd
import shapely

from gridcarbon.config.maps import MapConfig
from gridcarbon.grids.gridspec import GridSpec
from gridcarbon.maps.elements import TRAILING_GROUPS, GeoJson, PlaceLabels, in_group
from gridcarbon.maps.geometry import features, simplify_lonlat

__all__ = ["BOUNDARY_LAYER_NAMES", "PLACES_LAYER_NAME", "add_boundaries", "place_labels"]

log = logging.getLogger(__name__)

#: Layer-control names of the boundary levels, in drawing order (the province on top).
BOUNDARY_LAYER_NAMES = {
    "county": "Boundary: counties",
    "city": "Boundary: cities",
    "province": "Boundary: province",
}

#: Layer-control name of the city names.
PLACES_LAYER_NAME = "Place names: cities"

_STYLES = {
    "county": {"color": "#777777", "weight": 0.6, "fill": False, "interactive": False},
    "city": {"color": "#333333", "weight": 1.2, "fill": False, "interactive": False},
    "province": {"color": "#000000", "weight": 2.2, "fill": False, "interactive": False},
}


def add_boundaries(
    m: folium.Map, boundaries: Mapping[str, gpd.GeoDataFrame], grid: GridSpec, cfg: MapConfig
) -> list[str]:
    """Draw the outlines of each level of ``boundaries`` present; returns the layer names.

    A level that is missing is left out (logged).  Geometries are taken as lon/lat when the
    frame has no CRS, else transformed to EPSG:4326; the ``name`` column (when present) goes
    into each feature's properties as text.
    """
    names = []
    for level, layer_name in BOUNDARY_LAYER_NAMES.items():
        gdf = boundaries.get(level)
        if gdf is None:
            log.info("map: no %s boundaries given; the %r layer is left out", level, layer_name)
            continue
        if gdf.crs is not None and not gdf.crs.equals("EPSG:4326"):
            gdf = gdf.to_crs("EPSG:4326")
        geoms = simplify_lonlat(gdf.geometry.values, grid, cfg.boundary_simplify_m)
        labels = gdf["name"] if "name" in gdf.columns else [""] * len(gdf)
        props = [{"name": str(n)} for n in labels]
        style = _STYLES[level]
        layer = GeoJson(
            features(shapely.boundary(geoms), props, cfg.coordinate_decimals),
            name=layer_name,
            style_function=lambda _f, s=style: s,
            control=True,
            show=True,
            smooth_factor=1.0,
            interactive=False,
        )
        in_group(layer, TRAILING_GROUPS[0]).add_to(m)
        names.append(layer_name)
    places = place_labels(boundaries.get("city"))
    if places:
        in_group(PlaceLabels(places, PLACES_LAYER_NAME), TRAILING_GROUPS[0]).add_to(m)
        names.append(PLACES_LAYER_NAME)
    else:
        log.info("map: no named city boundaries; no place names on the map")
    return names


def place_labels(cities: gpd.GeoDataFrame | None) -> list[tuple[str, float, float]]:
    """``(name, lat, lon)`` of each named city: a point inside its polygon (shapely's
    representative point, in degrees), for the label.  Rows without a name or geometry are
    skipped; None or a frame without a ``name`` column gives no labels."""
    if cities is None or "name" not in cities.columns or len(cities) == 0:
        return []
    if cities.crs is not None and not cities.crs.equals("EPSG:4326"):
        cities = cities.to_crs("EPSG:4326")
    out = []
    for name, geom in zip(cities["name"], cities.geometry.values, strict=True):
        if pd.isna(name) or geom is None or geom.is_empty or not str(name).strip():
            continue
        point = geom.representative_point()
        out.append((str(name).strip(), round(point.y, 5), round(point.x, 5)))
    return out
