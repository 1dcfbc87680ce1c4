"""Chinese web-map coordinate offsets: GCJ-02 and BD-09, and the check that finds them.

Chinese web maps (Amap, Tencent, Google China: GCJ-02, "Mars coordinates"; Baidu: BD-09) shift
WGS84 coordinates by a public obfuscation formula, ~500 m (GCJ-02) or ~1 km (BD-09).  A unit file
traced on such a map but labelled WGS84/CGCS2000 carries that shift.  This module holds the
formulas both ways, :func:`remove_offset` for geometries, :func:`estimate_boundary_offset`,
which measures the systematic translation of unit boundaries against county boundaries (the
signature of a mislabelled file), and :func:`offset_fit`, which measures how well the boundaries
fit the county lines as they are and after removing each offset (BD-09's ~1.2 km in Zhejiang lies
beyond the translation search).  Pure: no file access; the county boundaries are an argument.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import shapely

__all__ = [
    "GCJ02OffsetWarning",
    "bd09_to_gcj02",
    "estimate_boundary_offset",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "offset_fit",
    "remove_offset",
    "wgs84_to_gcj02",
]


class GCJ02OffsetWarning(UserWarning):
    """Unit boundaries sit systematically 100–700 m off the county boundaries."""


# GCJ-02 ("Mars coordinates"): the public obfuscation formula used by Chinese web maps.
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323


def _gcj_delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = lon - 105.0
    y = lat - 35.0
    pi = np.pi
    dlat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
        + (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
        + (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    )
    rad = lat / 180.0 * pi
    magic = 1.0 - _GCJ_EE * np.sin(rad) ** 2
    sq = np.sqrt(magic)
    dlat = dlat * 180.0 / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sq) * pi)
    dlon = dlon * 180.0 / (_GCJ_A / sq * np.cos(rad) * pi)
    return dlon, dlat


def wgs84_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 → GCJ-02 longitude/latitude (degrees)."""
    lon = np.asarray(lon, float)
    lat = np.asarray(lat, float)
    dlon, dlat = _gcj_delta(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon, lat, tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 → WGS84 (degrees), inverting :func:`wgs84_to_gcj02` by fixed-point iteration
    (converges to ``tol`` degrees, about 10 µm, in a few steps)."""
    glon = np.asarray(lon, float)
    glat = np.asarray(lat, float)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(30):
        flon, flat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = flon - glon, flat - glat
        wlon -= elon
        wlat -= elat
        if max(np.abs(elon).max(initial=0.0), np.abs(elat).max(initial=0.0)) < tol:
            break
    return wlon, wlat


# BD-09 (Baidu): GCJ-02 with a further rotation and shift, by the formula Baidu's own converters
# use, as published with test vectors in coordtransform (github.com/wandergis/coordtransform, MIT):
# bd09togcj02(116.404, 39.915) = (116.39762729119315, 39.90865673957631).
_BD_X_PI = np.pi * 3000.0 / 180.0


def bd09_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 (Baidu) → GCJ-02 longitude/latitude, degrees (the standard closed formula).

    Its round trip with :func:`gcj02_to_bd09` is good to about 1e-6 degree (0.1 m), far below the
    1 km offset it removes.
    """
    x = np.asarray(lon, float) - 0.0065
    y = np.asarray(lat, float) - 0.006
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def gcj02_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 → BD-09 (Baidu) longitude/latitude, degrees."""
    x = np.asarray(lon, float)
    y = np.asarray(lat, float)
    z = np.hypot(x, y) + 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _offset_to_wgs84(lon: np.ndarray, lat: np.ndarray, offset: str) -> np.ndarray:
    """``(n, 2)`` WGS84 lon/lat of points carrying the ``offset`` ("gcj02" or "bd09")."""
    if offset == "bd09":
        lon, lat = bd09_to_gcj02(lon, lat)
    return np.column_stack(gcj02_to_wgs84(lon, lat))


def remove_offset(geoms: np.ndarray, offset: str) -> np.ndarray:
    """Lon/lat geometries with a GCJ-02 or BD-09 offset brought back to WGS84."""
    return shapely.transform(geoms, lambda xy: _offset_to_wgs84(xy[:, 0], xy[:, 1], offset))


def _county_vertex_tree(counties: gpd.GeoDataFrame, crs: pyproj.CRS):
    """KD-tree of points every 25 m along the county boundaries (lon/lat), projected to ``crs``."""
    from scipy.spatial import cKDTree

    from gridcarbon.grids.gridspec import to_projected

    lines = shapely.boundary(np.asarray(counties.geometry.values, dtype=object))
    lines = to_projected(lines, crs)
    dense = shapely.segmentize(lines, 25.0)
    pts = shapely.get_coordinates(dense)
    return cKDTree(pts)


def _boundary_sample(
    geoms_m: np.ndarray, tree, max_points: int, near_m: float = 1500.0
) -> np.ndarray | None:
    """Points every 200 m along the unit boundaries within ``near_m`` of a county line (at most
    ``max_points``, evenly spread), or None when fewer than 50 are."""
    pts = shapely.get_coordinates(shapely.segmentize(shapely.boundary(geoms_m), 200.0))
    if pts.shape[0] == 0:
        return None
    d0, _ = tree.query(pts, distance_upper_bound=near_m)
    pts = pts[np.isfinite(d0)]
    if pts.shape[0] < 50:
        return None
    if pts.shape[0] > max_points:
        pts = pts[np.linspace(0, pts.shape[0] - 1, max_points).astype(int)]
    return pts


def offset_fit(
    geoms_m: np.ndarray,
    crs: pyproj.CRS,
    counties: gpd.GeoDataFrame,
    max_points: int = 1500,
) -> dict[str, float] | None:
    """Median distance of unit boundaries to the county lines, as they are and after removing
    each web-map offset.

    Points are sampled along the unit boundaries that lie within 2 km of a county boundary (a
    BD-09 file sits about 1.2 km off in Zhejiang); each hypothesis moves them by the inverse
    formula and measures their median distance to the county lines.  Unit boundaries traced
    on the county lines fit best under the coordinates' true datum.

    Parameters
    ----------
    geoms_m : ndarray of shapely geometries
        Unit polygons in ``crs`` (metres), as read (labelled WGS84/CGCS2000).
    crs : pyproj.CRS
        The projected CRS of ``geoms_m`` (the grid's).
    counties : GeoDataFrame
        County boundaries in lon/lat.
    max_points : int
        Boundary points used at most.

    Returns
    -------
    dict or None
        ``{"none": m, "gcj02": m, "bd09": m}``, median distances in metres; None with too little
        unit boundary near county lines.
    """
    tree = _county_vertex_tree(counties, crs)
    pts = _boundary_sample(geoms_m, tree, max_points, near_m=2000.0)
    if pts is None:
        return None
    to_lonlat = pyproj.Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True)
    to_metres = pyproj.Transformer.from_crs(crs.geodetic_crs, crs, always_xy=True)
    lon, lat = to_lonlat.transform(pts[:, 0], pts[:, 1])

    def median(xy: np.ndarray) -> float:
        d, _ = tree.query(xy, distance_upper_bound=5000.0)
        return float(np.median(np.minimum(d, 5000.0)))

    fit = {"none": median(pts)}
    for offset in ("gcj02", "bd09"):
        moved = _offset_to_wgs84(np.asarray(lon), np.asarray(lat), offset)
        fit[offset] = median(np.column_stack(to_metres.transform(moved[:, 0], moved[:, 1])))
    return fit


def estimate_boundary_offset(
    geoms_m: np.ndarray,
    crs: pyproj.CRS,
    counties: gpd.GeoDataFrame,
    max_points: int = 1500,
    search_m: float = 1000.0,
) -> tuple[float, float, float, float] | None:
    """Systematic translation of unit boundaries relative to the county boundaries.

    Points are sampled along the unit boundaries that lie within 1.5 km of a county boundary; the
    translation minimising their median distance to the county lines is found on a 50 m then a
    10 m lattice of shifts within ``search_m``.

    Parameters
    ----------
    geoms_m : ndarray of shapely geometries
        Unit polygons in ``crs`` (metres).
    crs : pyproj.CRS
        The equal-area CRS of ``geoms_m`` (the grid's).
    counties : GeoDataFrame
        County boundaries in lon/lat.
    max_points : int
        Boundary points used at most.
    search_m : float
        Largest shift tried in each direction, metres.

    Returns
    -------
    (dx, dy, median_at_zero, median_at_best) in metres, or None with too few shared boundaries.
    """
    tree = _county_vertex_tree(counties, crs)
    pts = _boundary_sample(geoms_m, tree, max_points)
    if pts is None:
        return None

    coarse = pts[np.linspace(0, pts.shape[0] - 1, min(400, pts.shape[0])).astype(int)]

    def med(sample: np.ndarray, dx: float, dy: float) -> float:
        d, _ = tree.query(sample + np.array([dx, dy]), distance_upper_bound=3 * search_m)
        return float(np.median(np.minimum(d, 3 * search_m)))

    zero = med(pts, 0.0, 0.0)
    best = (0.0, 0.0, med(coarse, 0.0, 0.0))
    offs = np.arange(-search_m, search_m + 50.0, 100.0)
    for dx in offs:
        for dy in offs:
            m = med(coarse, dx, dy)
            if m < best[2] - 1e-9:
                best = (dx, dy, m)
    best = (best[0], best[1], med(pts, best[0], best[1]))
    for step, span in ((25.0, 100.0), (5.0, 25.0)):
        cx, cy = best[0], best[1]
        offs = np.arange(-span, span + step / 2, step)
        for dx in offs:
            for dy in offs:
                m = med(pts, cx + dx, cy + dy)
                if m < best[2] - 1e-9:
                    best = (cx + dx, cy + dy, m)
    return best[0], best[1], zero, best[2]
