"""Coordinates of control units: the declared CRS, plausibility checks, and CGCS2000 lon/lat.

:func:`to_cgcs2000` brings units to CGCS2000 longitude/latitude (EPSG:4490, x = longitude): a
null transformation from WGS84, PROJ from anything else (Gauss–Krüger zones named in messages),
and the web-map offset removed on request (:mod:`gridcarbon.zoning.offsets`).  Swapped axes,
projected metres labelled as degrees and reprojections that land outside China are refused, each
with the fix.  Pure functions on GeoDataFrames.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from gridcarbon.config.zoning import ZoningConfig
from gridcarbon.errors import CRSError
from gridcarbon.zoning.offsets import remove_offset

if TYPE_CHECKING:  # pragma: no cover
    from gridcarbon.zoning.qa import UnitsQA

__all__ = ["CGCS2000_GEOGRAPHIC", "GAUSS_KRUGER_EPSG", "to_cgcs2000"]

#: CGCS2000 geographic and its 3-degree Gauss–Krüger projections (with and without zone prefix).
CGCS2000_GEOGRAPHIC = 4490
GAUSS_KRUGER_EPSG = range(4513, 4555)
#: Mainland China and its islands, degrees: where 三线一单 units can lie.
_CHINA_LON = (73.0, 136.0)
_CHINA_LAT = (3.0, 54.0)


def _in_china(x0: float, y0: float, x1: float, y1: float) -> bool:
    return _CHINA_LON[0] <= x0 <= x1 <= _CHINA_LON[1] and _CHINA_LAT[0] <= y0 <= y1 <= _CHINA_LAT[1]


def _declared_crs(gdf: gpd.GeoDataFrame, cfg: ZoningConfig, qa: UnitsQA, source: str):
    if gdf.crs is not None:
        return pyproj.CRS.from_user_input(gdf.crs)
    if cfg.units_assume_crs is None:
        how = (
            "set it with gdf.set_crs('EPSG:4490')"
            if source == "GeoDataFrame"
            else "the file has no .prj? set one with"
        )
        raise CRSError(
            f"{source} has no CRS; {how} zoning.units_assume_crs: 'EPSG:4490' (CGCS2000 lon/lat) "
            "or the EPSG code of its Gauss–Krüger zone (4513–4554) in the config, or --units-crs "
            "on the command line"
        )
    try:
        crs = pyproj.CRS.from_user_input(cfg.units_assume_crs)
    except pyproj.exceptions.CRSError as exc:
        raise CRSError(
            f"zoning.units_assume_crs {cfg.units_assume_crs!r} is not a CRS: {exc}"
        ) from None
    qa.notes.append(f"the file has no CRS; assumed {cfg.units_assume_crs}")
    return crs


def _check_degrees(geoms: np.ndarray, crs: pyproj.CRS, source: str) -> None:
    """Refuse lon/lat that are not degrees or that are (lat, lon)."""
    x0, y0, x1, y1 = shapely.total_bounds(geoms)
    if not np.isfinite([x0, y0, x1, y1]).all():
        return
    if _in_china(y0, x0, y1, x1) and not _in_china(x0, y0, x1, y1):
        raise CRSError(
            f"{source}: coordinates look like (lat, lon): x runs {x0:.3f}..{x1:.3f} (latitudes) "
            f"and y {y0:.3f}..{y1:.3f} (longitudes); swap the axes (QGIS: Processing > Swap X "
            "and Y coordinates; shapely: shapely.transform(g, lambda xy: xy[:, ::-1])) or set "
            "the right CRS: gridcarbon reads x as longitude"
        )
    if x0 < -180 or x1 > 180 or y0 < -90 or y1 > 90:
        raise CRSError(
            f"{source}: coordinates run x {x0:,.0f}..{x1:,.0f}, y {y0:,.0f}..{y1:,.0f}, which "
            f"cannot be longitude/latitude although the CRS is {crs.name}: they look like "
            "projected metres; assign the real CRS (e.g. EPSG:4549, CGCS2000 3-degree "
            "Gauss–Krüger CM 120E, for Zhejiang; QGIS: Layer > Set CRS of Layer, then save)"
        )


def _check_reprojected(
    out: np.ndarray, geoms: np.ndarray, tr: pyproj.Transformer, crs: pyproj.CRS, epsg, source: str
) -> None:
    """Refuse a reprojection that lands outside China, naming swapped axes or the GK zone."""
    if shapely.is_empty(out).all():
        return
    x0, y0, x1, y1 = shapely.total_bounds(out)
    if np.isfinite([x0, y0, x1, y1]).all() and _in_china(x0, y0, x1, y1):
        return
    hint = ""
    swapped = shapely.transform(geoms, lambda xy: np.column_stack(tr.transform(xy[:, 1], xy[:, 0])))
    if _in_china(*shapely.total_bounds(swapped)):
        hint = (
            " — the coordinates look like (northing, easting): swap the axes (QGIS: Processing > "
            "Swap X and Y coordinates)"
        )
    elif epsg in GAUSS_KRUGER_EPSG:
        hint = (
            " — a Gauss–Krüger file whose eastings carry (or lack) the zone prefix "
            "needs the matching EPSG code (4513–4533 with the zone number, 4534–4554 "
            "without)"
        )
    raise CRSError(
        f"{source}: units in {crs.name} land at lon {x0:.2f}..{x1:.2f}, lat {y0:.2f}..{y1:.2f} "
        f"after reprojection (inf: beyond the projection's domain), outside China: the declared CRS is wrong{hint}; fix the .prj or "
        "set zoning.units_assume_crs"
    )


def _datum_family(crs: pyproj.CRS | None) -> str | None:
    """ "wgs84" or "cgcs2000" for those datums (centimetres apart: one null transformation)."""
    if crs is None:
        return None
    epsg = crs.to_epsg(min_confidence=70)
    datum = ((crs.datum.name if crs.datum else "") or "").upper()
    if epsg == CGCS2000_GEOGRAPHIC or "CHINA 2000" in datum or "CHINA_2000" in datum:
        return "cgcs2000"
    if epsg == 4326 or "WGS" in datum:
        return "wgs84"
    return None


def to_cgcs2000(
    gdf: gpd.GeoDataFrame, cfg: ZoningConfig, qa: UnitsQA, source: str
) -> gpd.GeoDataFrame:
    """Units in CGCS2000 lon/lat (x = lon), any web-map offset removed; implausible data refused."""
    crs = _declared_crs(gdf, cfg, qa, source)
    qa.source_crs = crs.to_string()
    epsg = crs.to_epsg(min_confidence=70)
    target = pyproj.CRS.from_epsg(CGCS2000_GEOGRAPHIC)
    offset = cfg.effective_units_offset
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    attrs = gdf.drop(columns=gdf.geometry.name)
    if not (crs.is_geographic or crs.is_projected):
        raise CRSError(f"{source}: CRS {crs.name!r} is neither geographic nor projected")
    # Web-map offsets live in WGS84-labelled lon/lat and in web mercator (a WGS84 projection).
    family = _datum_family(crs if crs.is_geographic else crs.geodetic_crs)
    carries_offset = family is not None if crs.is_geographic else family == "wgs84"
    if offset != "none" and not carries_offset:
        raise CRSError(
            f"zoning.units_offset is {offset}, but {source} is in {crs.name}: GCJ-02 and BD-09 "
            "offsets exist only in WGS84/CGCS2000 longitude/latitude and web-mercator "
            "(EPSG:3857) data; unset zoning.units_offset, or check the file's CRS"
        )
    if crs.is_geographic and carries_offset:
        _check_degrees(geoms, crs, source)
        lonlat = geoms  # geopandas geometry is always x = lon, whatever the CRS's axis order
        qa.transformation = (
            "CGCS2000 lon/lat (no transformation)"
            if epsg == CGCS2000_GEOGRAPHIC
            else "WGS84 → CGCS2000 as a null transformation (coordinates kept)"
        )
    elif carries_offset:
        # web mercator and other WGS84 projections: back to their lon/lat, relabelled CGCS2000
        tr = pyproj.Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True)
        lonlat = shapely.transform(geoms, lambda xy: np.column_stack(tr.transform(*xy.T)))
        _check_reprojected(lonlat, geoms, tr, crs, epsg, source)
        qa.transformation = f"{crs.name} → WGS84 lon/lat → CGCS2000 (null transformation)"
    else:
        tr = pyproj.Transformer.from_crs(crs, target, always_xy=True)
        lonlat = shapely.transform(geoms, lambda xy: np.column_stack(tr.transform(*xy.T)))
        _check_reprojected(lonlat, geoms, tr, crs, epsg, source)
        if crs.is_geographic:
            qa.transformation = f"{crs.name} → CGCS2000 with PROJ"
        else:
            kind = "Gauss–Krüger" if epsg in GAUSS_KRUGER_EPSG else "projected"
            qa.transformation = f"{kind} {crs.name} (EPSG:{epsg}) → CGCS2000 lon/lat"
    if offset != "none":
        lonlat = remove_offset(lonlat, offset)
        label = "GCJ-02" if offset == "gcj02" else "BD-09 → GCJ-02"
        qa.transformation += f"; {label} → WGS84 (zoning.units_offset: {offset})"
    return gpd.GeoDataFrame(attrs, geometry=lonlat, crs=target)
