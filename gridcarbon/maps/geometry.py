"""GeoJSON features and lon/lat geometry of the map's vector layers."""

from __future__ import annotations

import json

import numpy as np
import shapely

from gridcarbon.grids.gridspec import GridSpec, to_projected

__all__ = [
    "features",
    "simplify_lonlat",
    "cell_polygons_lonlat",
    "grid_latlon_bounds",
]


def features(geoms: np.ndarray, props: list[dict], decimals: int) -> dict:
    """A GeoJSON FeatureCollection of ``geoms`` (lon/lat, rounded to ``decimals``) with one
    property dict each; empty geometries are left out (feature ids keep their row number)."""
    rounded = shapely.transform(np.asarray(geoms, dtype=object), lambda c: np.round(c, decimals))
    feats = []
    for i, (g, p) in enumerate(zip(shapely.to_geojson(rounded), props, strict=True)):
        if g is None:
            continue
        feats.append({"type": "Feature", "id": str(i), "geometry": json.loads(g), "properties": p})
    return {"type": "FeatureCollection", "features": feats}


def simplify_lonlat(geoms: np.ndarray, grid: GridSpec, tol_m: float) -> np.ndarray:
    """Lon/lat geometry simplified with a tolerance in metres (done in the grid's CRS,
    topology-preserving); ``tol_m`` ≤ 0 returns it unchanged."""
    if tol_m <= 0:
        return geoms
    simp = shapely.simplify(to_projected(geoms, grid.crs), tol_m, preserve_topology=True)
    return shapely.transform(simp, lambda xy: np.column_stack(grid.unproject(*xy.T)))


def cell_polygons_lonlat(grid: GridSpec, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The outlines of grid cells ``(rows, cols)`` as lon/lat polygons (their four corners)."""
    x0 = grid.x_min + cols * grid.cell_size
    y1 = grid.y_max - rows * grid.cell_size
    xs = np.stack([x0, x0 + grid.cell_size, x0 + grid.cell_size, x0, x0], axis=1)
    ys = np.stack([y1, y1, y1 - grid.cell_size, y1 - grid.cell_size, y1], axis=1)
    lon, lat = grid.unproject(xs, ys)
    return shapely.polygons(np.stack([lon, lat], axis=-1))


def grid_latlon_bounds(grid: GridSpec) -> list[list[float]]:
    """``[[south, west], [north, east]]`` of the grid's outline (20 points per side), degrees."""
    x0, y0, x1, y1 = grid.bounds
    xs = np.concatenate(
        [np.linspace(x0, x1, 20), np.full(20, x1), np.linspace(x0, x1, 20), np.full(20, x0)]
    )
    ys = np.concatenate(
        [np.full(20, y0), np.linspace(y0, y1, 20), np.full(20, y1), np.linspace(y0, y1, 20)]
    )
    lon, lat = grid.unproject(xs, ys)
    return [[float(lat.min()), float(lon.min())], [float(lat.max()), float(lon.max())]]
