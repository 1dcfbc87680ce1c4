"""Environmental control units (三线一单 环境管控单元): reading, column mapping, CRS and QA.

:func:`control_units` reads a GeoPackage, Shapefile (UTF-8 or GBK attributes, ``.cpg`` honoured)
or GeoJSON, maps provincial field names (单元编码, 单元名称, 管控类别, ...) onto the standard
columns, brings the geometry to CGCS2000 longitude/latitude (EPSG:4490, x = longitude), repairs
invalid geometry and returns the units with a :class:`UnitsQA` report.

Standard columns: ``unit_code``, ``unit_name``, ``category`` (``priority_protection``,
``key_control``, ``general_control``), ``subtype`` (e.g. ``industrial_agglomeration``,
``urban_living``), ``category_zh``/``subtype_zh`` (the source labels), ``county_code``,
``county_name``, ``city_code``, ``city_name``, ``area_km2``, ``geometry``.
"""

from __future__ import annotations

import logging
import re
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gridcarbon.errors import CRSError, InputDataError, InputFileError
from gridcarbon.zoning.config import (
    DEFAULT_CATEGORY_VALUES,
    DEFAULT_COLUMN_CANDIDATES,
    DEFAULT_SUBTYPE_VALUES,
    ZoningConfig,
)

__all__ = [
    "control_units",
    "normalise_units",
    "units_to_grid_crs",
    "UnitsQA",
    "CATEGORIES",
    "CATEGORY_ZH",
    "CATEGORY_DIGIT",
    "STANDARD_COLUMNS",
    "GCJ02OffsetWarning",
    "detect_dbf_encoding",
    "estimate_boundary_offset",
    "gcj02_to_wgs84",
    "wgs84_to_gcj02",
]

log = logging.getLogger(__name__)

CATEGORIES = ("priority_protection", "key_control", "general_control")
CATEGORY_ZH = {
    "priority_protection": "优先保护",
    "key_control": "重点管控",
    "general_control": "一般管控",
}
#: The category digit of a 三线一单 unit code (ZH + county code + digit + sequence).
CATEGORY_DIGIT = {"priority_protection": "1", "key_control": "2", "general_control": "3"}
STANDARD_COLUMNS = (
    "unit_code",
    "unit_name",
    "category",
    "subtype",
    "category_zh",
    "subtype_zh",
    "county_code",
    "county_name",
    "city_code",
    "city_name",
    "area_km2",
)

#: CGCS2000 geographic and its 3-degree Gauss–Krüger projections (with and without zone prefix).
CGCS2000_GEOGRAPHIC = 4490
GAUSS_KRUGER_EPSG = range(4513, 4555)
_SUPPORTED_FILES = {".gpkg", ".shp", ".geojson", ".json", ".zip"}
_CODE_RE = re.compile(r"^ZH(\d{6})([123])\d+$")


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


@dataclass
class UnitsQA:
    """What the QA of a control-unit file found (all areas in km², on the grid's equal-area CRS).

    Attributes
    ----------
    source : str
        File read (or ``"embedded"``).
    n_units : int
    source_crs : str
        CRS declared by the file (or assumed).
    transformation : str
        How coordinates were brought to CGCS2000 lon/lat.
    encoding : str or None
        Attribute encoding used for a Shapefile.
    column_map : dict
        Standard column → source field used.
    repaired : list of str
        Codes of units whose geometry was invalid and repaired, with the reason.
    dropped_empty : list of str
        Codes of units whose geometry was empty (dropped).
    overlap_km2, n_overlaps : float, int
        Total area where units overlap one another, and the number of overlapping pairs above
        ``gap_tolerance_km2``; ``overlaps`` lists the largest ones (code_a, code_b, km²).
    gap_km2, n_gaps : float, int
        Area of the region covered by no unit, and the number of gap polygons above tolerance.
    outside_grid : list of str
        Codes of units wholly outside the grid; ``partly_outside_grid`` those partly outside.
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
    repaired: list[str] = field(default_factory=list)
    dropped_empty: list[str] = field(default_factory=list)
    overlap_km2: float = 0.0
    n_overlaps: int = 0
    overlaps: list[tuple[str, str, float]] = field(default_factory=list)
    gap_km2: float = float("nan")
    n_gaps: int = 0
    region_km2: float = float("nan")
    outside_grid: list[str] = field(default_factory=list)
    partly_outside_grid: list[str] = field(default_factory=list)
    offset_m: tuple[float, float] | None = None
    offset_median_m: tuple[float, float] | None = None
    offset_warning: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (JSON-serialisable)."""
        return asdict(self)

    def summary_lines(self) -> list[str]:
        """Human-readable one-line findings, for logs and the report."""
        lines = [
            f"{self.n_units} units read from {self.source} (CRS {self.source_crs}; "
            f"{self.transformation})"
        ]
        if self.encoding:
            lines.append(f"attribute encoding: {self.encoding}")
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


# ---------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------
def detect_dbf_encoding(shp_path: Path) -> str:
    """Attribute encoding of a Shapefile: its ``.cpg`` if present, else UTF-8 or GB18030.

    The ``.dbf`` records are decoded as UTF-8; if that fails they are taken as GB18030 (a
    superset of GBK/GB2312, the usual encoding of Chinese Shapefiles without a ``.cpg``).
    """
    cpg = shp_path.with_suffix(".cpg")
    if not cpg.exists():
        cpg = shp_path.with_suffix(".CPG")
    if cpg.exists():
        label = cpg.read_text(encoding="ascii", errors="ignore").strip()
        if label:
            return label
    dbf = shp_path.with_suffix(".dbf")
    if not dbf.exists():
        dbf = shp_path.with_suffix(".DBF")
    if not dbf.exists():
        raise InputFileError(f"shapefile {str(shp_path)!r} has no .dbf attribute file next to it")
    raw = dbf.read_bytes()
    header_len = int.from_bytes(raw[8:10], "little") if len(raw) >= 10 else 0
    body = raw[header_len:]
    try:
        body.decode("utf-8")
        return "UTF-8"
    except UnicodeDecodeError:
        return "GB18030"


def _read_file(path: Path, cfg: ZoningConfig) -> tuple[gpd.GeoDataFrame, str | None]:
    if not path.exists():
        raise InputFileError(f"control-unit file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix not in _SUPPORTED_FILES:
        raise InputFileError(
            f"control-unit file {str(path)!r} has suffix {suffix!r}; give a GeoPackage (.gpkg), "
            "Shapefile (.shp) or GeoJSON (.geojson/.json)"
        )
    import pyogrio

    kwargs: dict[str, Any] = {}
    encoding = None
    if suffix == ".shp":
        encoding = cfg.units_encoding or detect_dbf_encoding(path)
        kwargs["encoding"] = encoding
    if cfg.units_layer is not None:
        kwargs["layer"] = cfg.units_layer
    elif suffix == ".gpkg":
        layers = pyogrio.list_layers(path)
        polys = [name for name, gt in layers if gt is None or "Polygon" in str(gt)]
        if len(layers) > 1:
            if not polys:
                raise InputFileError(
                    f"{str(path)!r} has no polygon layer; layers: {[n for n, _ in layers]}"
                )
            kwargs["layer"] = polys[0]
            log.info(
                "reading layer %r of %s (set zoning.units_layer to choose another)", polys[0], path
            )
    try:
        gdf = pyogrio.read_dataframe(path, **kwargs)
    except UnicodeDecodeError:
        # DBF field names are limited to 10 bytes: UTF-8 Chinese names get cut mid-character.
        # Read the bytes as Latin-1 and decode them ourselves, dropping the cut characters.
        kwargs["encoding"] = "latin1"
        try:
            gdf = pyogrio.read_dataframe(path, **kwargs)
        except Exception as exc:
            raise InputFileError(f"cannot read control units from {str(path)!r}: {exc}") from None

        def fix(v):
            return (
                v.encode("latin1").decode(encoding or "utf-8", errors="ignore")
                if isinstance(v, str)
                else v
            )

        gdf = gdf.rename(columns={c: fix(c) for c in gdf.columns if c != gdf.geometry.name})
        for c in gdf.columns:
            if c != gdf.geometry.name and not pd.api.types.is_numeric_dtype(gdf[c]):
                gdf[c] = gdf[c].map(fix).astype(object)
        encoding = f"{encoding} (field names cut at the DBF 10-byte limit)"
    except Exception as exc:  # pyogrio raises DataSourceError, DataLayerError, ...
        raise InputFileError(f"cannot read control units from {str(path)!r}: {exc}") from None
    return gdf, encoding


def _find_columns(columns: list[str], cfg: ZoningConfig) -> dict[str, str]:
    lower = {c.lower().strip(): c for c in columns}
    found: dict[str, str] = {}
    for std, candidates in DEFAULT_COLUMN_CANDIDATES.items():
        if std in cfg.column_map:
            src = cfg.column_map[std]
            if src not in columns:
                raise InputDataError(
                    f"column_map names field {src!r} for {std}, but the file's fields are "
                    f"{columns}; fix zoning.column_map"
                )
            found[std] = src
            continue
        for cand in candidates:
            if cand.lower() in lower:
                found[std] = lower[cand.lower()]
                break
    # Shapefile field names are cut at 10 bytes (e.g. UTF-8 "单元编码" → "单元编"): accept a
    # field that is a prefix (>= 3 characters) of a candidate name.
    used = set(found.values())
    for std, candidates in DEFAULT_COLUMN_CANDIDATES.items():
        if std in found:
            continue
        for col in columns:
            key = col.strip()
            if col in used or len(key) < 3:
                continue
            if any(c.startswith(key) and c != key for c in candidates):
                found[std] = col
                used.add(col)
                break
    return found


def _clean_str(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip().fillna("")


def normalise_units(
    gdf: gpd.GeoDataFrame, cfg: ZoningConfig | None = None, qa: UnitsQA | None = None
) -> gpd.GeoDataFrame:
    """Map source fields and labels onto the standard columns and validate codes.

    Raises :class:`InputDataError` for an empty table, a missing code column, empty codes and
    duplicate codes.  Categories are taken from the category field, else from the unit code's
    category digit (ZH + 6-digit county code + 1/2/3 + sequence).
    """
    cfg = cfg or ZoningConfig()
    qa = qa if qa is not None else UnitsQA()
    if len(gdf) == 0:
        raise InputDataError(
            f"control-unit file {qa.source or ''} holds no features; give a file with the unit "
            "polygons"
        )
    cols = [c for c in gdf.columns if c != gdf.geometry.name]
    found = _find_columns(cols, cfg)
    qa.column_map = dict(found)
    if "unit_code" not in found:
        raise InputDataError(
            f"no unit-code field among {cols}; name it with zoning.column_map, e.g. "
            "{unit_code: 单元编码}"
        )
    out = pd.DataFrame(index=gdf.index)
    for std in DEFAULT_COLUMN_CANDIDATES:
        out[std] = (
            _clean_str(gdf[found[std]])
            if std in found
            else pd.Series("", index=gdf.index, dtype="string")
        )
    codes = out["unit_code"]
    empty = np.flatnonzero(
        (codes == "").to_numpy() | codes.str.lower().isin(["nan", "none", "null"]).to_numpy()
    )
    if empty.size:
        raise InputDataError(
            f"{empty.size} unit(s) have an empty code (first at row {int(empty[0])}) in field "
            f"{found['unit_code']!r}; every unit needs a unique code"
        )
    dup = codes[codes.duplicated(keep=False)]
    if len(dup):
        first = sorted(set(dup))[:5]
        raise InputDataError(
            f"{dup.nunique()} duplicate unit code(s), e.g. {first}; unit codes must be unique "
            "(merge the parts into one multipolygon or give them distinct codes)"
        )
    cat_map = {**DEFAULT_CATEGORY_VALUES, **cfg.category_values}
    sub_map = {**DEFAULT_SUBTYPE_VALUES, **cfg.subtype_values}
    raw_cat = out["category"].astype(str).str.replace(r"\s+", "", regex=True)
    category = raw_cat.map(lambda v: cat_map.get(v, ""))
    # fall back on the unit code's category digit
    digit = codes.str.extract(_CODE_RE)[1].fillna("")
    from_code = digit.map({"1": "priority_protection", "2": "key_control", "3": "general_control"})
    category = category.where(category != "", from_code.fillna(""))
    bad = np.flatnonzero((category == "").to_numpy())
    if bad.size:
        i = int(bad[0])
        raise InputDataError(
            f"unit {codes.iloc[i]!r} has category {raw_cat.iloc[i]!r}, which is not a known "
            f"label ({sorted(k for k in cat_map if not k.isdigit())[:6]}...); add it to "
            "zoning.category_values"
        )
    raw_sub = out["subtype"].astype(str).str.replace(r"\s+", "", regex=True)
    subtype = raw_sub.map(lambda v: sub_map.get(v, v))
    res = pd.DataFrame(
        {
            "unit_code": codes.astype(str),
            "unit_name": out["unit_name"].astype(str),
            "category": category.astype(str),
            "subtype": subtype.astype(str).replace("", "none"),
            "category_zh": category.map(CATEGORY_ZH).astype(str),
            "subtype_zh": (
                _clean_str(gdf["subtype_zh"]) if "subtype_zh" in gdf.columns else raw_sub
            ).astype(str),
            "county_code": out["county_code"].astype(str),
            "county_name": out["county_name"].astype(str),
            "city_code": out["city_code"].astype(str),
            "city_name": out["city_name"].astype(str),
        },
        index=gdf.index,
    )
    # county code from the unit code when the file has none
    code_county = codes.str.extract(_CODE_RE)[0].fillna("")
    res["county_code"] = res["county_code"].where(res["county_code"] != "", code_county)
    res["city_code"] = res["city_code"].where(
        res["city_code"] != "",
        res["county_code"].map(lambda c: c[:4] + "00" if len(c) == 6 and c.isdigit() else ""),
    )
    return gpd.GeoDataFrame(res, geometry=gdf.geometry.values, crs=gdf.crs)


def _to_cgcs2000(
    gdf: gpd.GeoDataFrame, cfg: ZoningConfig, qa: UnitsQA, source: str
) -> gpd.GeoDataFrame:
    crs = gdf.crs
    if crs is None:
        if cfg.units_assume_crs is None:
            raise CRSError(
                f"control-unit file {source} has no CRS (missing .prj?); set one with "
                "zoning.units_assume_crs: 'EPSG:4490' (CGCS2000 lon/lat) or the EPSG code of its "
                "Gauss–Krüger zone (4513–4554) in the config, or --units-crs on the command line"
            )
        try:
            crs = pyproj.CRS.from_user_input(cfg.units_assume_crs)
        except pyproj.exceptions.CRSError as exc:
            raise CRSError(
                f"zoning.units_assume_crs {cfg.units_assume_crs!r} is not a CRS: {exc}"
            ) from None
        qa.notes.append(f"the file has no CRS; assumed {cfg.units_assume_crs}")
        gdf = gdf.set_crs(crs)
    crs = pyproj.CRS.from_user_input(crs)
    qa.source_crs = crs.to_string()
    epsg = crs.to_epsg(min_confidence=70)
    target = pyproj.CRS.from_epsg(CGCS2000_GEOGRAPHIC)
    if crs.is_geographic:
        datum = crs.datum.name if crs.datum else ""
        if epsg == CGCS2000_GEOGRAPHIC:
            qa.transformation = "CGCS2000 lon/lat (no transformation)"
        elif epsg == 4326 or "WGS" in datum.upper() or "China 2000" in datum:
            qa.transformation = "WGS84 → CGCS2000 as a null transformation (coordinates kept)"
        else:
            gdf = gdf.to_crs(target)
            qa.transformation = f"{crs.name} → CGCS2000 with PROJ"
            return gdf
        # same numbers, CGCS2000 label; geopandas/pyproj geometry is always lon, lat (x, y)
        gdf = gdf.set_crs(target, allow_override=True)
        if cfg.units_gcj02:
            geoms = shapely.transform(
                gdf.geometry.values, lambda xy: np.column_stack(gcj02_to_wgs84(xy[:, 0], xy[:, 1]))
            )
            gdf = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=target))
            qa.transformation += "; GCJ-02 → WGS84 (zoning.units_gcj02)"
        return gdf
    if crs.is_projected:
        base = crs.geodetic_crs
        base_epsg = base.to_epsg(min_confidence=70) if base is not None else None
        if base_epsg in (4326,) or (base is not None and "WGS" in (base.datum.name or "").upper()):
            # project back to the base lon/lat and relabel (null datum transformation)
            tr = pyproj.Transformer.from_crs(crs, base, always_xy=True)
            geoms = shapely.transform(
                gdf.geometry.values, lambda xy: np.column_stack(tr.transform(*xy.T))
            )
            qa.transformation = f"{crs.name} → WGS84 lon/lat → CGCS2000 (null transformation)"
            return gpd.GeoDataFrame(gdf.drop(columns=gdf.geometry.name), geometry=geoms, crs=target)
        tr = pyproj.Transformer.from_crs(crs, target, always_xy=True)
        geoms = shapely.transform(
            gdf.geometry.values, lambda xy: np.column_stack(tr.transform(*xy.T))
        )
        kind = "Gauss–Krüger" if epsg in GAUSS_KRUGER_EPSG else "projected"
        qa.transformation = f"{kind} {crs.name} (EPSG:{epsg}) → CGCS2000 lon/lat"
        out = gpd.GeoDataFrame(gdf.drop(columns=gdf.geometry.name), geometry=geoms, crs=target)
        x0, y0, x1, y1 = out.total_bounds
        if not (70 < x0 < 140 and 70 < x1 < 140 and 0 < y0 < 60 and 0 < y1 < 60):
            hint = ""
            if epsg in GAUSS_KRUGER_EPSG:
                hint = (
                    " — a Gauss–Krüger file whose eastings carry (or lack) the zone prefix "
                    "needs the matching EPSG code (4513–4533 with the zone number, 4534–4554 "
                    "without)"
                )
            raise CRSError(
                f"units in {crs.name} land at lon {x0:.2f}..{x1:.2f}, lat {y0:.2f}..{y1:.2f} after "
                f"reprojection, outside China: the declared CRS is wrong{hint}; fix the .prj or "
                "set zoning.units_assume_crs"
            )
        return out
    raise CRSError(f"control-unit CRS {crs.name!r} is neither geographic nor projected")


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
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


def _repair(gdf: gpd.GeoDataFrame, cfg: ZoningConfig, qa: UnitsQA) -> gpd.GeoDataFrame:
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    missing = np.array([g is None for g in geoms])
    if missing.any():
        geoms[missing] = shapely.Polygon()
    bad_type = [
        str(gdf["unit_code"].iloc[i])
        for i, g in enumerate(geoms)
        if not g.is_empty and g.geom_type not in ("Polygon", "MultiPolygon")
    ]
    if bad_type:
        raise InputDataError(
            f"{len(bad_type)} unit(s) are not polygons (e.g. {bad_type[:3]}); control units must be "
            "Polygon or MultiPolygon features"
        )
    valid = shapely.is_valid(geoms)
    if not valid.all():
        idx = np.flatnonzero(~valid)
        if not cfg.repair_invalid:
            raise InputDataError(
                f"{idx.size} invalid geometries (e.g. unit {gdf['unit_code'].iloc[idx[0]]!r}: "
                f"{shapely.is_valid_reason(geoms[idx[0]])}); set zoning.repair_invalid: true or "
                "repair them in QGIS (Vector > Geometry Tools > Fix Geometries)"
            )
        for i in idx:
            reason = shapely.is_valid_reason(geoms[i])
            before = shapely.area(geoms[i])
            geoms[i] = _polygonal(shapely.make_valid(geoms[i]))
            qa.repaired.append(
                f"{gdf['unit_code'].iloc[i]} ({reason}; area {before:.6g} → "
                f"{shapely.area(geoms[i]):.6g} in source units)"
            )
    empty = shapely.is_empty(geoms)
    if empty.any():
        qa.dropped_empty = [str(c) for c in gdf["unit_code"].to_numpy()[empty]]
    out = gdf.copy()
    out = out.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
    return out.loc[~empty].copy()


def units_to_grid_crs(units: gpd.GeoDataFrame, grid) -> np.ndarray:
    """Unit geometries projected to the grid CRS (metres), as a shapely array.

    Units are CGCS2000 lon/lat (x = lon); the grid CRS sits on CGCS2000, so this is a pure
    projection.  Geometry made invalid by projection is repaired.
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
        geoms[bad] = [_polygonal(shapely.make_valid(g)) for g in geoms[bad]]
    return geoms


# ---------------------------------------------------------------------------------------------
# QA
# ---------------------------------------------------------------------------------------------
def _county_vertex_tree(crs: pyproj.CRS):
    from scipy.spatial import cKDTree

    from gridcarbon.grids.gridspec import to_projected
    from gridcarbon.scenario.geography import load_boundaries

    counties = load_boundaries("county")
    lines = shapely.boundary(np.asarray(counties.geometry.values, dtype=object))
    lines = to_projected(lines, crs)
    dense = shapely.segmentize(lines, 25.0)
    pts = shapely.get_coordinates(dense)
    return cKDTree(pts)


def estimate_boundary_offset(
    geoms_m: np.ndarray, crs: pyproj.CRS, max_points: int = 1500, search_m: float = 1000.0
) -> tuple[float, float, float, float] | None:
    """Systematic translation of unit boundaries relative to the embedded county boundaries.

    Points are sampled along the unit boundaries that lie within 1.5 km of a county boundary; the
    translation minimising their median distance to the county lines is found on a 50 m then a
    10 m lattice of shifts within ``search_m``.

    Returns
    -------
    (dx, dy, median_at_zero, median_at_best) in metres, or None with too few shared boundaries.
    """
    tree = _county_vertex_tree(crs)
    lines = shapely.boundary(geoms_m)
    dense = shapely.segmentize(lines, 200.0)
    pts = shapely.get_coordinates(dense)
    if pts.shape[0] == 0:
        return None
    d0, _ = tree.query(pts, distance_upper_bound=1500.0)
    pts = pts[np.isfinite(d0)]
    if pts.shape[0] < 50:
        return None
    if pts.shape[0] > max_points:
        pts = pts[np.linspace(0, pts.shape[0] - 1, max_points).astype(int)]

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


def run_qa(
    units: gpd.GeoDataFrame,
    geoms_m: np.ndarray,
    grid=None,
    region_m: shapely.Geometry | None = None,
    cfg: ZoningConfig | None = None,
    qa: UnitsQA | None = None,
) -> UnitsQA:
    """Overlaps, gaps within ``region_m``, units outside ``grid``, and the GCJ-02 offset check.

    ``geoms_m`` are the unit geometries in an equal-area CRS in metres (the grid's).
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
    if region_m is not None:
        gaps = shapely.difference(region_m, union)
        parts = shapely.get_parts(gaps)
        areas = shapely.area(parts) if len(parts) else np.zeros(0)
        qa.gap_km2 = float(areas.sum() / 1e6)
        qa.n_gaps = int((areas > tol_m2).sum())
        qa.region_km2 = float(shapely.area(region_m) / 1e6)
    if grid is not None:
        gbox = shapely.box(*grid.bounds)
        inside = shapely.area(shapely.intersection(geoms_m, gbox))
        area = shapely.area(geoms_m)
        qa.outside_grid = [str(c) for c in codes[inside <= 0]]
        partly = (inside > 0) & (inside < area * (1 - 1e-9))
        qa.partly_outside_grid = [str(c) for c in codes[partly]]
    if cfg.check_offset and grid is not None:
        est = estimate_boundary_offset(geoms_m, grid.crs)
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
                    "set zoning.units_gcj02: true to convert them, or convert the file first"
                )
                warnings.warn(qa.offset_warning, GCJ02OffsetWarning, stacklevel=3)
    return qa


def _add_admin(units: gpd.GeoDataFrame, geoms_m: np.ndarray, crs: pyproj.CRS) -> None:
    """Fill county/city codes and names from the embedded boundaries where missing."""
    from gridcarbon.grids.gridspec import to_projected
    from gridcarbon.scenario.geography import load_boundaries

    need = (
        (units["county_code"] == "").to_numpy()
        | (units["county_name"] == "").to_numpy()
        | (units["city_name"] == "").to_numpy()
    )
    if not need.any():
        return
    counties = load_boundaries("county")
    cities = load_boundaries("city")
    cgeo = to_projected(np.asarray(counties.geometry.values, dtype=object), crs)
    ctree = shapely.STRtree(cgeo)
    pts = shapely.point_on_surface(geoms_m)
    names = dict(zip(counties["adcode"], counties["name"], strict=True))
    city_names = dict(zip(cities["adcode"], cities["name"], strict=True))
    pi, ci = ctree.query(pts, predicate="within")
    county_of = np.full(len(units), "", dtype=object)
    county_of[pi] = counties["adcode"].to_numpy()[ci]
    cc = units["county_code"].to_numpy().astype(object)
    cc = np.where(cc == "", county_of, cc)
    units["county_code"] = cc.astype(str)
    units["county_name"] = np.where(
        units["county_name"] == "", [names.get(c, "") for c in cc], units["county_name"]
    )
    city = np.array([c[:4] + "00" if len(c) == 6 else "" for c in cc], dtype=object)
    units["city_code"] = np.where(units["city_code"] == "", city, units["city_code"])
    units["city_name"] = np.where(
        units["city_name"] == "",
        [city_names.get(c, "") for c in units["city_code"]],
        units["city_name"],
    )


def control_units(
    path: str | Path | None = None,
    config: ZoningConfig | None = None,
    grid=None,
    region_m: shapely.Geometry | None = None,
    qa_checks: bool = True,
) -> tuple[gpd.GeoDataFrame, UnitsQA]:
    """Read, normalise and check control units.

    Parameters
    ----------
    path : path, optional
        GeoPackage, Shapefile or GeoJSON; None = the embedded synthetic Zhejiang units (built on
        ``grid`` or the default grid).
    config : ZoningConfig, optional
        Column mapping, encoding, CRS assumption, QA options.
    grid : GridSpec, optional
        The grid: used for the area column, the outside-grid and the offset checks.
    region_m : shapely geometry, optional
        The region (grid CRS) inside which gaps are measured; None = no gap check.
    qa_checks : bool
        Run the overlap/gap/offset checks (they take a few seconds for ~2,000 units).

    Returns
    -------
    (GeoDataFrame in EPSG:4490 lon/lat with the standard columns, UnitsQA)
    """
    cfg = config or ZoningConfig()
    if grid is None:
        from gridcarbon.scenario.geography import default_grid

        grid = default_grid()
    if path is None:
        from gridcarbon.scenario.units import default_units

        raw = default_units(grid)
        qa = UnitsQA(source="embedded synthetic units (gridcarbon.scenario.units)")
        gdf = normalise_units(raw, cfg, qa)
        qa.source_crs = "EPSG:4490"
        qa.transformation = "CGCS2000 lon/lat (no transformation)"
    else:
        path = Path(path)
        qa = UnitsQA(source=str(path))
        raw, encoding = _read_file(path, cfg)
        qa.encoding = encoding
        gdf = normalise_units(raw, cfg, qa)
        gdf = _to_cgcs2000(gdf, cfg, qa, str(path))
    gdf = _repair(gdf, cfg, qa)
    if len(gdf) == 0:
        raise InputDataError(f"every unit in {qa.source} has an empty geometry")
    geoms_m = units_to_grid_crs(gdf, grid)
    _add_admin(gdf, geoms_m, grid.crs)
    gdf["area_km2"] = shapely.area(geoms_m) / 1e6
    gdf = gdf[[*STANDARD_COLUMNS, "geometry"]]
    gdf = gdf.reset_index(drop=True)
    qa.n_units = len(gdf)
    if qa_checks:
        run_qa(gdf, geoms_m, grid=grid, region_m=region_m, cfg=cfg, qa=qa)
    for line in qa.summary_lines():
        log.info(line)
    return gdf, qa
