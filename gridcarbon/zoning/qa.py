"""What checking a set of control units found (:class:`UnitsQA`), and the checks.

:func:`check_grid` refuses units outside the grid (or drops them on request) before anything is
tallied; :func:`run_qa` measures overlaps between units, gaps within the region, units partly
outside the grid, and the systematic offset of unit boundaries from county boundaries (the
signature of GCJ-02 data labelled WGS84), and refuses units that fit the county boundaries far
better once a BD-09 (Baidu) offset is removed.  Pure: the region and the county boundaries are
arguments.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from gridcarbon.config.zoning import ZoningConfig
from gridcarbon.errors import CRSError, InputDataError
from gridcarbon.zoning.geometry import grid_overlap_fraction
from gridcarbon.zoning.offsets import GCJ02OffsetWarning, estimate_boundary_offset, offset_fit

__all__ = ["BD09_MARGIN_M", "UnitsQA", "UnitsOutsideGridWarning", "check_grid", "run_qa"]

#: How much closer (metres of median distance to the county lines) unit boundaries must sit after
#: removing a BD-09 offset before the file is refused as BD-09: well above the tens of metres
#: that generalised boundaries differ by, well below the ~1.2 km of the offset in Zhejiang.
BD09_MARGIN_M = 300.0


class UnitsOutsideGridWarning(UserWarning):
    """Units lie partly (or, when dropped, wholly) outside the grid."""


@dataclass
class UnitsQA:
    """What reading and checking a control-unit file found (areas in km² on the grid's CRS).

    Attributes
    ----------
    source : str
        File read (``"GeoDataFrame"`` for an in-memory table; the embedded units say so).
    n_units : int
    source_crs : str
        CRS declared by the file (or assumed).
    transformation : str
        How coordinates were brought to CGCS2000 lon/lat (and any web-map offset removed).
    encoding : str or None
        Attribute encoding used for a Shapefile.
    column_map : dict
        Standard column → source field used.
    column_evidence : dict
        Standard column → why that field (config, its name, or its name and its values).
    fields : list of str
        The source's fields as read.
    repaired : list of str
        Units whose geometry was invalid and repaired: feature, code, reason, area change.
    repairs : list of dict
        The same as records: ``feature``, ``unit_code``, ``reason``, ``area_before_km2`` (the
        rings as drawn, overlaps counted twice), ``area_after_km2``.
    dropped_empty : list of str
        Codes of units whose geometry was empty (dropped).
    category_issues : list of str
        Units whose category came from the code digit or contradicts it (``category_check:
        warn``), one line per unit.
    overlap_km2, n_overlaps : float, int
        Total area where units overlap one another, and the number of overlapping pairs above
        ``gap_tolerance_km2``; ``overlaps`` lists the largest ones (code_a, code_b, km²).
    gap_km2, n_gaps : float, int
        Area of the region covered by no unit, and the number of gap polygons above tolerance.
    outside_grid : list of str
        Codes of units wholly outside the grid; ``partly_outside_grid`` those partly outside;
        ``dropped_outside_grid`` those dropped (``zoning.units_outside_grid: drop``).
    offset_m : (dx, dy) or None
        Systematic offset of unit boundaries from the county boundaries (metres east, north);
        ``offset_warning`` the warning text if one was raised.
    """

    source: str = ""
    n_units: int = 0
    source_crs: str = ""
    transformation: str = ""
    encoding: str | None = None
    column_map: dict[str, str] = field(default_factory=dict)
    column_evidence: dict[str, str] = field(default_factory=dict)
    fields: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    repairs: list[dict[str, Any]] = field(default_factory=list)
    dropped_empty: list[str] = field(default_factory=list)
    category_issues: list[str] = field(default_factory=list)
    overlap_km2: float = 0.0
    n_overlaps: int = 0
    overlaps: list[tuple[str, str, float]] = field(default_factory=list)
    gap_km2: float = float("nan")
    n_gaps: int = 0
    region_km2: float = float("nan")
    outside_grid: list[str] = field(default_factory=list)
    dropped_outside_grid: list[str] = field(default_factory=list)
    partly_outside_grid: list[str] = field(default_factory=list)
    offset_m: tuple[float, float] | None = None
    offset_median_m: tuple[float, float] | None = None
    offset_warning: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (JSON-serialisable)."""
        return asdict(self)

    def mapping_lines(self) -> list[str]:
        """One line per mapped column: ``unit_code ← '环境管控单' (why)``."""
        return [
            f"{std} ← {src!r} ({self.column_evidence.get(std, 'field name')})"
            for std, src in self.column_map.items()
        ]

    def summary_lines(self) -> list[str]:
        """Human-readable one-line findings, for logs and the report."""
        lines = [
            f"{self.n_units} units read from {self.source} (CRS {self.source_crs}; "
            f"{self.transformation})"
        ]
        if self.encoding:
            lines.append(f"attribute encoding: {self.encoding}")
        if any(std != src for std, src in self.column_map.items()):
            lines.append("fields used: " + "; ".join(self.mapping_lines()))
        if self.category_issues:
            lines.append(
                f"{len(self.category_issues)} unit categories not confirmed by the file: "
                + "; ".join(self.category_issues[:5])
                + (" ..." if len(self.category_issues) > 5 else "")
            )
        if self.repaired:
            lines.append(
                f"{len(self.repaired)} invalid geometries repaired: "
                + "; ".join(self.repaired[:10])
                + (" ..." if len(self.repaired) > 10 else "")
            )
        if self.dropped_empty:
            lines.append(
                f"{len(self.dropped_empty)} units with empty geometry dropped: "
                + ", ".join(self.dropped_empty[:10])
            )
        lines.append(
            f"overlaps between units: {self.overlap_km2:.3f} km² "
            f"({self.n_overlaps} pairs above tolerance)"
        )
        if np.isfinite(self.gap_km2):
            lines.append(
                f"gaps within the region: {self.gap_km2:.3f} km² of {self.region_km2:.1f} km² "
                f"({self.n_gaps} gap polygons above tolerance)"
            )
        if self.outside_grid:
            lines.append(
                f"{len(self.outside_grid)} units wholly outside the grid: "
                + ", ".join(self.outside_grid[:10])
            )
        if self.dropped_outside_grid:
            lines.append(
                f"{len(self.dropped_outside_grid)} units wholly outside the grid dropped: "
                + ", ".join(self.dropped_outside_grid[:10])
            )
        if self.partly_outside_grid:
            lines.append(
                f"{len(self.partly_outside_grid)} units partly outside the grid: "
                + ", ".join(self.partly_outside_grid[:10])
            )
        if self.offset_m is not None:
            lines.append(
                f"boundary offset from county lines: dx={self.offset_m[0]:.0f} m, "
                f"dy={self.offset_m[1]:.0f} m"
            )
        if self.offset_warning:
            lines.append("WARNING: " + self.offset_warning)
        lines.extend(self.notes)
        return lines


def check_grid(
    gdf: gpd.GeoDataFrame,
    geoms_m: np.ndarray,
    grid,
    cfg: ZoningConfig,
    qa: UnitsQA,
    source: str,
    locate: Callable[[int], str],
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Refuse units outside the grid (or drop them on request); warn about those partly outside.

    Returns the units and their grid-CRS geometries without the dropped ones.
    """
    fraction = grid_overlap_fraction(geoms_m, grid.bounds)
    codes = np.array(gdf["unit_code"].tolist(), dtype=object)
    rows = gdf.index.to_numpy()
    outside = fraction <= 0
    if outside.all():
        ux0, uy0, ux1, uy1 = gdf.total_bounds
        gx0, gy0, gx1, gy1 = grid.bounds
        glon, glat = grid.unproject(np.array([gx0, gx1, gx0, gx1]), np.array([gy0, gy0, gy1, gy1]))
        raise InputDataError(
            f"{source}: none of the {len(codes)} units overlaps the grid: the units span lon "
            f"{ux0:.3f}..{ux1:.3f}, lat {uy0:.3f}..{uy1:.3f}, the grid lon "
            f"{np.min(glon):.3f}..{np.max(glon):.3f}, lat {np.min(glat):.3f}..{np.max(glat):.3f};"
            " check the file's CRS and axis order, or use a grid that covers the units"
        )
    if outside.any():
        listing = ", ".join(f"{codes[i]} at {locate(rows[i])}" for i in np.flatnonzero(outside)[:5])
        if cfg.units_outside_grid == "error":
            raise InputDataError(
                f"{source}: {int(outside.sum())} of {len(codes)} units lie wholly outside the "
                f"grid, e.g. {listing}; their emissions cannot be tallied: clip the file to the "
                "grid (QGIS: Vector > Geoprocessing > Clip) or set zoning.units_outside_grid: drop"
            )
        qa.dropped_outside_grid = [str(c) for c in codes[outside]]
        warnings.warn(
            f"{source}: {int(outside.sum())} unit(s) wholly outside the grid dropped "
            f"(zoning.units_outside_grid: drop): {listing}",
            UnitsOutsideGridWarning,
            stacklevel=3,
        )
        gdf, geoms_m, fraction = gdf.loc[~outside].copy(), geoms_m[~outside], fraction[~outside]
        codes, rows = codes[~outside], rows[~outside]
    partly = fraction < 1 - 1e-9
    if partly.any():
        worst = int(np.argmin(np.where(partly, fraction, 2.0)))
        warnings.warn(
            f"{source}: {int(partly.sum())} of {len(codes)} units lie partly outside the grid "
            f"(most: {codes[worst]} at {locate(rows[worst])}, {100 * (1 - fraction[worst]):.0f} % "
            "outside); only the part inside is tallied",
            UnitsOutsideGridWarning,
            stacklevel=3,
        )
    return gdf, geoms_m


def run_qa(
    units: gpd.GeoDataFrame,
    geoms_m: np.ndarray,
    grid=None,
    region: shapely.Geometry | None = None,
    cfg: ZoningConfig | None = None,
    qa: UnitsQA | None = None,
    counties: gpd.GeoDataFrame | None = None,
) -> UnitsQA:
    """Overlaps, gaps within ``region``, units outside ``grid``, and the web-map offset checks.

    Parameters
    ----------
    units : GeoDataFrame
        The units (``unit_code`` is used).
    geoms_m : ndarray of shapely geometries
        The unit geometries in the grid's equal-area CRS, metres.
    grid : GridSpec, optional
        The grid: units outside it, and the CRS of the offset check.
    region : shapely geometry, optional
        The region in the grid's CRS inside which gaps are measured (None: no gap check).
    cfg : ZoningConfig, optional
        ``gap_tolerance_km2``, ``check_offset``, ``offset_warning_m`` and
        ``units_offset`` (the BD-09 check runs only when no offset is declared).
    qa : UnitsQA, optional
        Receives the findings (default: a new record).
    counties : GeoDataFrame, optional
        County boundaries (lon/lat) for the offset check; without them the check is skipped and
        the QA says so.

    Raises
    ------
    CRSError
        The boundaries fit the county lines at least :data:`BD09_MARGIN_M` and twice closer
        after removing a BD-09 offset (and twice closer than after removing a GCJ-02 one): BD-09
        coordinates labelled WGS84/CGCS2000.  Nothing is converted on this guess.
    """
    cfg = cfg or ZoningConfig()
    qa = qa if qa is not None else UnitsQA()
    codes = units["unit_code"].to_numpy().astype(str)
    qa.n_units = len(units)
    tol_m2 = cfg.gap_tolerance_km2 * 1e6
    tree = shapely.STRtree(geoms_m)
    left, right = tree.query(geoms_m, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    pairs: list[tuple[str, str, float]] = []
    total = 0.0
    if left.size:
        inter = shapely.area(shapely.intersection(geoms_m[left], geoms_m[right]))
        total = float(inter.sum())
        big = np.flatnonzero(inter > tol_m2)
        order = big[np.argsort(-inter[big])]
        pairs = [(codes[left[i]], codes[right[i]], float(inter[i] / 1e6)) for i in order]
    qa.overlap_km2 = total / 1e6
    qa.n_overlaps = len(pairs)
    qa.overlaps = pairs[:50]
    union = shapely.union_all(geoms_m)
    if region is not None:
        gaps = shapely.difference(region, union)
        parts = shapely.get_parts(gaps)
        areas = shapely.area(parts) if len(parts) else np.zeros(0)
        qa.gap_km2 = float(areas.sum() / 1e6)
        qa.n_gaps = int((areas > tol_m2).sum())
        qa.region_km2 = float(shapely.area(region) / 1e6)
    if grid is not None:
        fraction = grid_overlap_fraction(geoms_m, grid.bounds)
        qa.outside_grid = [str(c) for c in codes[fraction <= 0]]
        qa.partly_outside_grid = [str(c) for c in codes[(fraction > 0) & (fraction < 1 - 1e-9)]]
    if cfg.check_offset and grid is not None and counties is None:
        qa.notes.append("offset check skipped: no county boundaries were given")
    elif cfg.check_offset and grid is not None:
        if cfg.effective_units_offset == "none":
            _refuse_bd09(geoms_m, grid.crs, counties, qa)
        est = estimate_boundary_offset(geoms_m, grid.crs, counties)
        if est is None:
            qa.notes.append("offset check skipped: too little unit boundary near county lines")
        else:
            dx, dy, m0, m1 = est
            qa.offset_m = (-dx, -dy)  # displacement of the units from the county lines
            qa.offset_median_m = (m0, m1)
            shift = float(np.hypot(dx, dy))
            lo, hi = cfg.offset_warning_m
            if lo <= shift <= hi and m1 < 0.5 * m0:
                qa.offset_warning = (
                    f"unit boundaries sit systematically {shift:.0f} m (dx={dx:.0f} m, dy={dy:.0f} m)"
                    f" off the county boundaries (median distance {m0:.0f} m, {m1:.0f} m after the "
                    "shift): the signature of GCJ-02 (Mars) coordinates labelled as WGS84/CGCS2000; "
                    "set zoning.units_offset: gcj02 to convert them, or convert the file first"
                )
                warnings.warn(qa.offset_warning, GCJ02OffsetWarning, stacklevel=3)
    return qa


def _refuse_bd09(geoms_m: np.ndarray, crs, counties: gpd.GeoDataFrame, qa: UnitsQA) -> None:
    """Refuse units that sit where BD-09 (Baidu) coordinates of the county lines would."""
    fit = offset_fit(geoms_m, crs, counties)
    if fit is None:
        return
    as_read, bd09, gcj02 = fit["none"], fit["bd09"], fit["gcj02"]
    if as_read - bd09 >= BD09_MARGIN_M and bd09 < 0.5 * as_read and bd09 < 0.5 * gcj02:
        raise CRSError(
            f"{qa.source}: the unit boundaries sit a median {as_read:.0f} m from the county "
            f"boundaries as read ({qa.source_crs or 'lon/lat'}), but {bd09:.0f} m once BD-09 "
            f"(Baidu map) coordinates are converted to WGS84 ({gcj02:.0f} m for GCJ-02): the "
            "file holds BD-09 coordinates labelled WGS84/CGCS2000. Set zoning.units_offset: "
            "bd09 to convert them (units_offset='bd09' in ZoningConfig), or convert the file "
            "to WGS84/CGCS2000 first; if the file is right, zoning.check_offset: false skips "
            "this check"
        )
