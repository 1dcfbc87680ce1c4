"""Unit geometry: polygons only, invalid ones repaired, projected to the grid, on the grid.

Invalid polygons are repaired with ``shapely.make_valid(method="structure")`` united with the
default ``linework`` method (overlapping parts of a multipolygon are dissolved, holes cut, the area
of every ring kept), each repair recorded with its area change.  Pure functions on geometries.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from gridcarbon.config.zoning import ZoningConfig
from gridcarbon.errors import CRSError, InputDataError

if TYPE_CHECKING:  # pragma: no cover
    from gridcarbon.zoning.qa import UnitsQA

__all__ = [
    "GeometryRepairedWarning",
    "grid_overlap_fraction",
    "polygonal",
    "repair_geometries",
    "require_polygons",
    "units_to_grid_crs",
]


class GeometryRepairedWarning(UserWarning):
    """Invalid unit geometries were repaired; the QA lists each with its area change."""


def polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Keep the polygonal parts of a (repaired) geometry."""
    if geom is None or geom.is_empty:
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    flat: list[shapely.Geometry] = []
    for p in parts:
        flat.extend(shapely.get_parts(p))
    if not flat:
        return shapely.Polygon()
    return flat[0] if len(flat) == 1 else shapely.MultiPolygon(flat)


def _make_valid(geom: shapely.Geometry) -> tuple[shapely.Geometry, shapely.Geometry]:
    """Repair an invalid polygon; returns (repaired, what the 'structure' method alone gives).

    ``make_valid(method="structure")`` unions the parts and subtracts the holes, so overlapping
    parts of a multipolygon are dissolved (the default 'linework' method turns the doubly covered
    area into a hole).  It trusts each ring's role, though: a "hole" lying outside its shell, or
    a shell and hole swapped (as a Shapefile with wrong winding order gives them), leaves
    nothing.  The repair is the union of both methods: every area that a ring encloses is kept,
    and overlaps are dissolved.
    """
    structure = polygonal(shapely.make_valid(geom, method="structure", keep_collapsed=False))
    linework = polygonal(shapely.make_valid(geom))
    if linework is None or linework.is_empty:
        return structure, structure
    return polygonal(shapely.union(structure, linework)), structure


def require_polygons(frame: gpd.GeoDataFrame, source: str, layer: str | None) -> None:
    """Refuse a layer that holds no polygon at all (points, lines, or no geometry)."""
    kinds = frame.geometry.geom_type.dropna()
    if len(frame) and not kinds.isin(["Polygon", "MultiPolygon"]).any():
        found = ", ".join(sorted(set(kinds))) or "no geometry"
        where = source + (f", layer {layer!r}," if layer else "")
        raise InputDataError(
            f"{where} holds {found} features, not polygons: control units must be Polygon or "
            "MultiPolygon features; give the layer with the unit polygons (zoning.units_layer)"
        )


def repair_geometries(
    gdf: gpd.GeoDataFrame,
    cfg: ZoningConfig,
    qa: UnitsQA,
    source: str,
    locate: Callable[[int], str],
    crs_m: pyproj.CRS,
) -> gpd.GeoDataFrame:
    """Refuse non-polygons, repair invalid polygons (recording the area change), drop empties."""
    geoms = np.asarray(gdf.geometry.values, dtype=object).copy()
    missing = np.array([g is None for g in geoms], dtype=bool)
    geoms[missing] = shapely.Polygon()
    codes = np.array(gdf["unit_code"].tolist(), dtype=object)
    rows = gdf.index.to_numpy()
    kinds = shapely.get_type_id(geoms)
    bad_type = ~shapely.is_empty(geoms) & ~np.isin(kinds, (3, 6))  # Polygon, MultiPolygon
    if bad_type.any():
        i = int(np.flatnonzero(bad_type)[0])
        raise InputDataError(
            f"{source}, {locate(rows[i])}: unit {codes[i]!r} is a {geoms[i].geom_type}, not a "
            f"polygon ({int(bad_type.sum())} such feature(s)); control units must be Polygon or "
            "MultiPolygon features: remove or redraw them"
        )
    invalid = np.flatnonzero(~shapely.is_valid(geoms))
    if invalid.size and not cfg.repair_invalid:
        i = int(invalid[0])
        raise InputDataError(
            f"{source}, {locate(rows[i])}: unit {codes[i]!r} has an invalid geometry "
            f"({shapely.is_valid_reason(geoms[i])}); {invalid.size} invalid geometries: set "
            "zoning.repair_invalid: true or repair them in QGIS (Vector > Geometry Tools > Fix "
            "Geometries)"
        )
    if invalid.size:
        tr = pyproj.Transformer.from_crs(gdf.crs, crs_m, always_xy=True)

        def area_km2(g: shapely.Geometry) -> float:
            projected = shapely.transform(g, lambda xy: np.column_stack(tr.transform(*xy.T)))
            return float(shapely.area(projected)) / 1e6

        for i in invalid:
            reason = shapely.is_valid_reason(geoms[i])
            fixed, structure = _make_valid(geoms[i])
            if fixed.is_empty:
                raise InputDataError(
                    f"{source}, {locate(rows[i])}: unit {codes[i]!r} has an invalid geometry "
                    f"({reason}) that cannot be repaired: no area is left (its rings collapse to "
                    "lines or points); redraw it or remove the feature"
                )
            before, after = area_km2(geoms[i]), area_km2(fixed)
            record = {
                "feature": locate(rows[i]),
                "unit_code": codes[i],
                "reason": reason,
                "area_before_km2": before,
                "area_after_km2": after,
            }
            change = f", {100.0 * (after - before) / before:+.1f} %" if before > 0 else ""
            line = (
                f"{codes[i]} at {locate(rows[i])} ({reason}; area as drawn {before:.3f} km² → "
                f"{after:.3f} km²{change}"
            )
            structure_km2 = area_km2(structure)
            if after - structure_km2 > 1e-6 * max(after, 1e-9):
                record["note"] = (
                    "a ring lies outside the ring meant to hold it (or shell and hole are "
                    "swapped): the area of every ring kept; the structure repair alone would "
                    f"leave {structure_km2:.3f} km²"
                )
                line += f"; {record['note']}"
            geoms[i] = fixed
            qa.repairs.append(record)
            qa.repaired.append(line + ")")
        warnings.warn(
            f"{source}: {invalid.size} invalid unit geometr{'y' if invalid.size == 1 else 'ies'} "
            "repaired (overlapping parts dissolved, holes cut, every ring's area kept): "
            f"{'; '.join(qa.repaired[-invalid.size :][:3])}" + (" ..." if invalid.size > 3 else ""),
            GeometryRepairedWarning,
            stacklevel=3,
        )
    empty = shapely.is_empty(geoms)
    if empty.any():
        qa.dropped_empty = [str(c) for c in codes[empty]]
        warnings.warn(
            f"{source}: {int(empty.sum())} unit(s) without geometry dropped, e.g. "
            f"{codes[empty][0]!r} at {locate(rows[np.flatnonzero(empty)[0]])}",
            GeometryRepairedWarning,
            stacklevel=3,
        )
    out = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
    return out.loc[~empty].copy()


def units_to_grid_crs(units: gpd.GeoDataFrame, grid) -> np.ndarray:
    """Unit geometries projected to the grid CRS (metres), as a shapely array.

    Units are CGCS2000 lon/lat (x = lon); the grid CRS sits on CGCS2000, so this is a pure
    projection.  Geometry made invalid by projection is repaired with ``make_valid``'s default
    (linework) method: these are valid units whose touching parts cross by rounding once
    projected (75 of the 2,082 embedded units), not overlapping parts drawn by a user, and the
    default run's areas are defined by this repair.
    """
    crs = pyproj.CRS.from_user_input(units.crs) if units.crs is not None else None
    if crs is None:
        raise CRSError("control units carry no CRS; load them with control_units()")
    tr = pyproj.Transformer.from_crs(crs, grid.crs, always_xy=True)
    geoms = shapely.transform(
        np.asarray(units.geometry.values, dtype=object),
        lambda xy: np.column_stack(tr.transform(*xy.T)),
    )
    bad = ~shapely.is_valid(geoms)
    if bad.any():
        geoms[bad] = [polygonal(shapely.make_valid(g)) for g in geoms[bad]]
    return geoms


def grid_overlap_fraction(
    geoms_m: np.ndarray, bounds: tuple[float, float, float, float]
) -> np.ndarray:
    """Fraction of each geometry's area inside the grid rectangle ``bounds`` (same CRS, metres).

    Returns
    -------
    ndarray
        1 for a geometry wholly inside, 0 for one wholly outside (or without area).
    """
    x0, y0, x1, y1 = bounds
    b = shapely.bounds(geoms_m)
    fraction = np.ones(len(geoms_m))
    inside = (b[:, 0] >= x0) & (b[:, 1] >= y0) & (b[:, 2] <= x1) & (b[:, 3] <= y1)
    disjoint = (b[:, 2] <= x0) | (b[:, 0] >= x1) | (b[:, 3] <= y0) | (b[:, 1] >= y1)
    fraction[disjoint | ~np.isfinite(b).all(axis=1)] = 0.0
    edge = np.flatnonzero(~inside & ~disjoint & np.isfinite(b).all(axis=1))
    if edge.size:
        area = shapely.area(geoms_m[edge])
        part = shapely.area(shapely.intersection(geoms_m[edge], shapely.box(*bounds)))
        fraction[edge] = np.where(area > 0, part / np.where(area > 0, area, 1.0), 0.0)
    return fraction
