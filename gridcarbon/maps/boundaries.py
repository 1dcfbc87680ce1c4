"""The offline base layer: province, city and county outlines from ``MapInputs.boundaries``."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import folium
import geopandas as gpd
import shapely

from gridcarbon.config.maps import MapConfig
from gridcarbon.grids.gridspec import GridSpec
from gridcarbon.maps.elements import GeoJson
from gridcarbon.maps.geometry import features, simplify_lonlat

__all__ = ["BOUNDARY_LAYER_NAMES", "add_boundaries"]

log = logging.getLogger(__name__)

#: Layer-control names of the boundary levels, in drawing order (the province on top).
BOUNDARY_LAYER_NAMES = {
    "county": "Boundary: counties",
    "city": "Boundary: cities",
    "province": "Boundary: province",
}

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
        GeoJson(
            features(shapely.boundary(geoms), props, cfg.coordinate_decimals),
            name=layer_name,
            style_function=lambda _f, s=style: s,
            control=True,
            show=True,
            smooth_factor=1.0,
            interactive=False,
        ).add_to(m)
        names.append(layer_name)
    return names
