"""Environmental control units (三线一单 环境管控单元): normalised, checked, on the grid.

:func:`control_units` takes a unit file (read by :mod:`gridcarbon.io.units_file`: GeoPackage,
Shapefile in any DBF encoding, GeoJSON, zip) or a GeoDataFrame, maps its fields onto the standard
columns (:mod:`.fields`), brings the geometry to CGCS2000 longitude/latitude (EPSG:4490, x =
longitude; :mod:`.crs`, :mod:`.offsets`), repairs invalid geometry (:mod:`.geometry`), checks that
the result is plausible and returns the units with a :class:`~gridcarbon.zoning.qa.UnitsQA`
record (:mod:`.qa`).  Everything after reading is pure functions on GeoDataFrames; the region and
the county and city boundaries used by the checks are arguments, handed in by the caller.

* **Categories**: an unknown label, a missing category field and a label contradicting the unit
  code's category digit are errors (``zoning.category_check: warn`` accepts them with warnings).
* **Coordinates**: swapped axes, projected metres labelled as degrees and units outside the grid
  are refused; GCJ-02 and BD-09 web-map offsets are removed on request (``zoning.units_offset``).
* **Geometry**: invalid polygons are repaired with ``shapely.make_valid(method="structure")``
  (overlapping parts of a multipolygon are dissolved, not turned into holes), each repair
  recorded with its area change.

Standard columns: ``unit_code``, ``unit_name``, ``category`` (``priority_protection``,
``key_control``, ``general_control``), ``subtype`` (e.g. ``industrial_agglomeration``,
``urban_living``), ``category_zh``/``subtype_zh`` (the source labels), ``county_code``,
``county_name``, ``city_code``, ``city_name``, ``area_km2``, ``geometry``.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gridcarbon.config.zoning import (
    DEFAULT_CATEGORY_VALUES,
    DEFAULT_SUBTYPE_VALUES,
    MAPPED_COLUMNS,
    ZoningConfig,
)
from gridcarbon.contracts import UNIT_CATEGORY_DIGIT, UNIT_CATEGORY_ZH
from gridcarbon.errors import InputDataError
from gridcarbon.io.units_file import UnitsFile, read_units_file
from gridcarbon.names import clean_text_values
from gridcarbon.zoning.crs import to_cgcs2000
from gridcarbon.zoning.fields import label_key, label_lookup, map_fields, text_values
from gridcarbon.zoning.geometry import repair_geometries, require_polygons, units_to_grid_crs
from gridcarbon.zoning.qa import UnitsQA, check_grid, run_qa

__all__ = [
    "STANDARD_COLUMNS",
    "CategoryWarning",
    "add_admin_codes",
    "control_units",
    "normalise_units",
]

log = logging.getLogger(__name__)

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
#: A unit code's county code and category digit (ZH + county code + digit + sequence).
_CODE_RE = re.compile(r"^ZH(\d{6})([123])\d+$")


class CategoryWarning(UserWarning):
    """Unit categories were taken from the code digit or kept against it (category_check: warn)."""


_DIGIT_CATEGORY = {digit: category for category, digit in UNIT_CATEGORY_DIGIT.items()}
_KNOWN_LABELS = (
    "优先保护单元, 重点管控单元, 一般管控单元 or priority_protection, key_control, general_control"
)


def _row(position: int) -> str:
    return f"row {position + 1}"


def _categories(
    labels: np.ndarray | None,
    codes: np.ndarray,
    label_field: str | None,
    cfg: ZoningConfig,
    source: str,
    locate: Callable[[int], str],
    fields: list[str],
    qa: UnitsQA,
) -> np.ndarray:
    """Standard category of every unit from its label, checked against the code's digit."""
    n = len(codes)
    lookup = label_lookup(DEFAULT_CATEGORY_VALUES, cfg.category_values)
    from_code = np.array(
        [_DIGIT_CATEGORY[m.group(2)] if (m := _CODE_RE.match(c)) else "" for c in codes],
        dtype=object,
    )
    fix_warn = "or set zoning.category_check: warn to take the category from the unit code"
    if labels is None:
        if cfg.category_check == "error":
            raise InputDataError(
                f"{source} has no category field (fields: {fields}); name it with "
                "zoning.column_map, e.g. {category: 管控单元类别}, " + fix_warn + " (ZH + county "
                "code + 1/2/3 + sequence)"
            )
        labels = np.full(n, "", dtype=object)
    from_label = np.array([lookup.get(label_key(v), "") for v in labels], dtype=object)
    unknown = from_label == ""
    conflict = ~unknown & (from_code != "") & (from_label != from_code)
    where = f" in field {label_field!r}" if label_field else ""

    def unknown_message(i: int) -> str:
        bad = sorted({str(v) for v in labels[unknown]})
        said = f"category {labels[i]!r}" if labels[i] else "an empty category"
        example = next((b for b in bad if b), "其他")
        return (
            f"{source}, {locate(i)}: unit {codes[i]!r} has {said}{where}, which is not a known "
            f"label ({_KNOWN_LABELS}); {int(unknown.sum())} unit(s) have such labels "
            f"{bad[:6]}: add them to zoning.category_values, e.g. {{{example}: key_control}}"
        )

    if cfg.category_check == "error":
        if unknown.any():
            raise InputDataError(unknown_message(int(np.flatnonzero(unknown)[0])) + ", " + fix_warn)
        if conflict.any():
            i = int(np.flatnonzero(conflict)[0])
            raise InputDataError(
                f"{source}, {locate(i)}: unit {codes[i]!r} is labelled {labels[i]!r} "
                f"({from_label[i]}){where}, but its code's category digit "
                f"{UNIT_CATEGORY_DIGIT[from_code[i]]} means {from_code[i]}; "
                f"{int(conflict.sum())} unit(s) disagree: correct the label or the code, or set "
                "zoning.category_check: warn to keep the labels"
            )
        return from_label
    hopeless = unknown & (from_code == "")
    if hopeless.any():
        i = int(np.flatnonzero(hopeless)[0])
        raise InputDataError(
            unknown_message(i) + " (its code carries no category digit to fall back on)"
        )
    why = "no category field" if label_field is None else "unknown label"
    for i in np.flatnonzero(unknown):
        said = f"{why} {labels[i]!r}" if label_field else why
        qa.category_issues.append(f"{locate(i)} {codes[i]}: {said}; {from_code[i]} from the code")
    for i in np.flatnonzero(conflict):
        qa.category_issues.append(
            f"{locate(i)} {codes[i]}: label {labels[i]!r} kept against the code digit "
            f"{UNIT_CATEGORY_DIGIT[from_code[i]]}"
        )
    for mask, what in (
        (unknown, f"{why}: category taken from the unit code's digit"),
        (conflict, "label contradicts the unit code's category digit: label kept"),
    ):
        if mask.any():
            warnings.warn(
                f"{source}: {int(mask.sum())} unit(s) with {what} (zoning.category_check: warn), "
                f"first at {locate(int(np.flatnonzero(mask)[0]))}; the QA lists each",
                CategoryWarning,
                stacklevel=4,
            )
    return np.where(unknown, from_code, from_label)


def normalise_units(
    gdf: gpd.GeoDataFrame,
    config: ZoningConfig | None = None,
    qa: UnitsQA | None = None,
    *,
    source: str | None = None,
    location: Callable[[int], str] | None = None,
) -> gpd.GeoDataFrame:
    """Map a unit table's fields and labels onto the standard columns and check codes and names.

    Parameters
    ----------
    gdf : GeoDataFrame
        The units as read (any fields; geometry untouched, in any CRS).
    config : ZoningConfig, optional
        ``column_map``, ``category_values``, ``subtype_values`` and ``category_check``.
    qa : UnitsQA, optional
        Receives the fields, the mapping used and why (``column_map``, ``column_evidence``), and
        the units whose category was not confirmed.
    source : str, optional
        The file (or ``"GeoDataFrame"``), for messages; default ``qa.source``.
    location : callable, optional
        Maps a row's 0-based position to where the user finds it (e.g. ``"feature 3 (FID
        2)"``); default ``"row N"`` (1-based).

    Returns
    -------
    GeoDataFrame
        The standard columns except ``area_km2`` (``unit_code``, ``unit_name``, ``category``,
        ``subtype``, ``category_zh``, ``subtype_zh``, ``county_code``, ``county_name``,
        ``city_code``, ``city_name``) and the geometry, indexed by row position.  Missing county
        codes come from the unit code (``ZH`` + 6-digit county code), city codes from county
        codes.  The mapping is logged at INFO.

    Raises
    ------
    InputDataError
        An empty table; no unit-code field; an empty, duplicate or control-character code; a
        name or code over 200 characters; fields that cannot be told apart; an unknown or
        missing category, or one contradicting the code's category digit (unless
        ``category_check: warn``).  Messages name the source, the feature and the fix.

    Warns
    -----
    NameCleanedWarning
        Control characters were removed from names.
    CategoryWarning
        With ``category_check: warn``, categories taken from the code digit or kept against it.
    """
    cfg = config or ZoningConfig()
    qa = qa if qa is not None else UnitsQA()
    source = source or qa.source or "the control units"
    locate = location or _row
    if len(gdf) == 0:
        raise InputDataError(f"{source} holds no features; give a file with the unit polygons")
    gdf = gdf.reset_index(drop=True)
    fields = [str(c) for c in gdf.columns if c != gdf.geometry.name]
    mapping = map_fields(gdf, cfg, source)
    qa.fields = fields
    qa.column_map = {c: mapping.columns[c] for c in MAPPED_COLUMNS if c in mapping.columns}
    qa.column_evidence = {c: mapping.evidence[c] for c in qa.column_map}
    log.info("control-unit fields of %s: %s", source, "; ".join(qa.mapping_lines()) or "none")
    if "unit_code" not in mapping.columns:
        rejected = "".join(f"; {f!r}: {why}" for f, why in mapping.rejected.items())
        raise InputDataError(
            f"{source}: no unit-code field among {fields}{rejected}; name it with "
            "zoning.column_map, e.g. {unit_code: 单元编码}"
        )
    n = len(gdf)
    col: dict[str, np.ndarray] = {}
    for std in MAPPED_COLUMNS:
        name = mapping.columns.get(std)
        if name is None:
            col[std] = np.full(n, "", dtype=object)
            continue
        kind = "code" if std.endswith("code") else "name"
        values = text_values(gdf[name])
        if std != "category":
            values = np.array(
                clean_text_values(values, field=name, kind=kind, source=source, location=locate),
                dtype=object,
            )
        col[std] = values
    codes = col["unit_code"]
    empty = np.flatnonzero([c == "" or c.lower() in ("nan", "none", "null") for c in codes])
    if empty.size:
        raise InputDataError(
            f"{source}, {locate(int(empty[0]))}: the unit code in field "
            f"{mapping.columns['unit_code']!r} is empty ({empty.size} unit(s) have an empty "
            "code); every unit needs a unique code"
        )
    seen: dict[str, int] = {}
    duplicates: list[tuple[int, int]] = []
    for i, code in enumerate(codes):
        if code in seen:
            duplicates.append((seen[code], i))
        else:
            seen[code] = i
    if duplicates:
        a, b = duplicates[0]
        raise InputDataError(
            f"{source}: duplicate unit code {codes[a]!r} at {locate(a)} and {locate(b)} "
            f"({len(duplicates)} repeated code(s)); unit codes must be unique (merge the parts "
            "into one multipolygon or give them distinct codes)"
        )
    category_field = mapping.columns.get("category")
    category = _categories(
        col["category"] if category_field else None,
        codes,
        category_field,
        cfg,
        source,
        locate,
        fields,
        qa,
    )
    subtypes = label_lookup(DEFAULT_SUBTYPE_VALUES, cfg.subtype_values)
    raw_sub = np.array([re.sub(r"\s+", "", v) for v in col["subtype"]], dtype=object)
    subtype = np.array([subtypes.get(label_key(v), v) for v in raw_sub], dtype=object)
    subtype_zh = text_values(gdf["subtype_zh"]) if "subtype_zh" in gdf.columns else raw_sub
    res = pd.DataFrame(
        {
            "unit_code": pd.Series(codes).astype(str),
            "unit_name": pd.Series(col["unit_name"]).astype(str),
            "category": pd.Series(category).astype(str),
            "subtype": pd.Series(subtype).astype(str).replace("", "none"),
            "category_zh": pd.Series(category).map(UNIT_CATEGORY_ZH).astype(str),
            "subtype_zh": pd.Series(subtype_zh).astype(str),
            "county_code": pd.Series(col["county_code"]).astype(str),
            "county_name": pd.Series(col["county_name"]).astype(str),
            "city_code": pd.Series(col["city_code"]).astype(str),
            "city_name": pd.Series(col["city_name"]).astype(str),
        }
    )
    # county code from the unit code when the file has none; city code from the county code
    code_county = pd.Series([m.group(1) if (m := _CODE_RE.match(c)) else "" for c in codes])
    res["county_code"] = res["county_code"].where(res["county_code"] != "", code_county)
    res["city_code"] = res["city_code"].where(
        res["city_code"] != "",
        res["county_code"].map(lambda c: c[:4] + "00" if len(c) == 6 and c.isdigit() else ""),
    )
    return gpd.GeoDataFrame(res, geometry=gdf.geometry.values, crs=gdf.crs)


def add_admin_codes(
    units: gpd.GeoDataFrame,
    geoms_m: np.ndarray,
    crs: pyproj.CRS,
    counties: gpd.GeoDataFrame | None,
    cities: gpd.GeoDataFrame | None,
    qa: UnitsQA,
) -> None:
    """Fill missing county codes and county/city names from the boundaries, in place.

    Parameters
    ----------
    units : GeoDataFrame
        Units with the standard columns; empty strings are missing values.
    geoms_m : ndarray of shapely geometries
        The unit geometries in ``crs`` (metres).
    crs : pyproj.CRS
        The grid's CRS.
    counties, cities : GeoDataFrame or None
        County and city boundaries in lon/lat with ``adcode`` and ``name``; a unit takes the
        county holding a point on its surface.  Without them nothing is filled and the QA says so.
    qa : UnitsQA
        Receives a note when names are missing and no boundaries were given.
    """
    from gridcarbon.grids.gridspec import to_projected

    need = (
        (units["county_code"] == "").to_numpy()
        | (units["county_name"] == "").to_numpy()
        | (units["city_name"] == "").to_numpy()
    )
    if not need.any():
        return
    if counties is None or cities is None:
        qa.notes.append(
            f"{int(need.sum())} unit(s) lack a county code or a county or city name, and no "
            "county and city boundaries were given to fill them"
        )
        return
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


def _frame_locator(frame: gpd.GeoDataFrame) -> Callable[[int], str]:
    """Row locations of an in-memory table: 1-based row, and its index label if not 0..n-1."""
    labels = frame.index
    if isinstance(labels, pd.RangeIndex) and labels.start == 0 and labels.step == 1:
        return _row
    return lambda i: f"row {i + 1} (index {labels[i]!r})"


def control_units(
    source: str | Path | gpd.GeoDataFrame,
    config: ZoningConfig | None = None,
    grid=None,
    *,
    counties: gpd.GeoDataFrame | None = None,
    cities: gpd.GeoDataFrame | None = None,
    region: shapely.Geometry | None = None,
    source_name: str | None = None,
    qa_checks: bool = True,
) -> tuple[gpd.GeoDataFrame, UnitsQA]:
    """Read (or take), normalise and check control units.

    Parameters
    ----------
    source : path or GeoDataFrame
        GeoPackage, Shapefile, GeoJSON or a zip of one (read by
        :func:`gridcarbon.io.units_file.read_units_file`), or a GeoDataFrame with the same
        fields (checked the same way).
    config : ZoningConfig, optional
        Field mapping, encoding, CRS assumption, web-map offset, category and QA options.
    grid : GridSpec
        The grid: its CRS gives the area column; units outside it are refused or dropped.
    counties, cities : GeoDataFrame, optional
        County and city boundaries (lon/lat, ``adcode`` and ``name``): they fill missing county
        codes and names, and the offset check (``config.check_offset``) measures unit boundaries
        against the county lines.  Without them neither happens, and the QA says so.
    region : shapely geometry, optional
        The region in the grid's CRS inside which gaps between units are measured; None = no
        gap check.
    source_name : str, optional
        How messages and the QA name a GeoDataFrame (default ``"GeoDataFrame"``); a file is
        named by its path.
    qa_checks : bool
        Run the overlap/gap/offset checks (they take a few seconds for ~2,000 units).

    Returns
    -------
    (GeoDataFrame, UnitsQA)
        The units in EPSG:4490 lon/lat with the standard columns (``area_km2`` in km² on the
        grid's equal-area CRS), and the QA record (fields used, transformation, repairs, ...).

    Raises
    ------
    InputFileError
        The file is missing, empty, damaged or of another format.
    InputDataError
        Empty layer, no polygons, no code field, bad codes or categories, irreparable geometry,
        units wholly outside the grid (see :func:`normalise_units`).
    CRSError
        No CRS, a CRS that puts the units outside China, swapped axes, a web-map offset on a
        CRS that cannot carry one, or boundaries that fit the county lines only as BD-09
        coordinates (``config.check_offset``; declare ``units_offset="bd09"``).

    Examples
    --------
    Two units as a provincial file names its fields, on a small grid around Hangzhou:

    >>> import geopandas as gpd
    >>> import shapely
    >>> import gridcarbon
    >>> from gridcarbon.config.zoning import ZoningConfig
    >>> grid = gridcarbon.GridSpec.from_region(shapely.box(120.0, 30.0, 120.5, 30.4))
    >>> units = gpd.GeoDataFrame(
    ...     {"单元编码": ["ZH33010920001", "ZH33010930001"],
    ...      "单元名称": ["萧山区产业集聚重点管控单元", "萧山区一般管控单元1"],
    ...      "管控类别": ["重点管控单元", "一般管控单元"]},
    ...     geometry=[shapely.box(120.2, 30.1, 120.3, 30.2), shapely.box(120.3, 30.1, 120.4, 30.2)],
    ...     crs="EPSG:4490",
    ... )
    >>> config = ZoningConfig(check_offset=False)
    >>> gdf, qa = gridcarbon.control_units(units, config, grid=grid)
    >>> gdf[["unit_code", "category", "area_km2"]].round(1)
           unit_code         category  area_km2
    0  ZH33010920001      key_control     106.8
    1  ZH33010930001  general_control     106.8
    >>> qa.column_map
    {'unit_code': '单元编码', 'unit_name': '单元名称', 'category': '管控类别'}

    A label the 三线一单 documents do not use is refused, naming the row:

    >>> units.loc[1, "管控类别"] = "其他"
    >>> gridcarbon.control_units(units, config, grid=grid)
    Traceback (most recent call last):
    ...
    gridcarbon.errors.InputDataError: GeoDataFrame, row 2: unit 'ZH33010930001' has category \
'其他' in field '管控类别', which is not a known label ...
    """
    cfg = config or ZoningConfig()
    if grid is None:
        raise InputDataError("control_units needs the grid the units are tallied on (grid=)")
    if isinstance(source, gpd.GeoDataFrame):
        units_file = UnitsFile(
            frame=source.reset_index(drop=True), source=source_name or "GeoDataFrame"
        )
        locate = _frame_locator(source)
    else:
        units_file = read_units_file(source, cfg.units_layer, cfg.units_encoding)
        locate = units_file.location
    qa = UnitsQA(source=units_file.source, encoding=units_file.encoding)
    require_polygons(units_file.frame, units_file.source, units_file.layer)
    gdf = normalise_units(units_file.frame, cfg, qa, source=units_file.source, location=locate)
    gdf = to_cgcs2000(gdf, cfg, qa, units_file.source)
    gdf = repair_geometries(gdf, cfg, qa, qa.source, locate, grid.crs)
    if len(gdf) == 0:
        raise InputDataError(f"every unit in {qa.source} has an empty geometry")
    geoms_m = units_to_grid_crs(gdf, grid)
    gdf, geoms_m = check_grid(gdf, geoms_m, grid, cfg, qa, qa.source, locate)
    add_admin_codes(gdf, geoms_m, grid.crs, counties, cities, qa)
    gdf["area_km2"] = shapely.area(geoms_m) / 1e6
    gdf = gdf[[*STANDARD_COLUMNS, "geometry"]]
    gdf = gdf.reset_index(drop=True)
    qa.n_units = len(gdf)
    if qa_checks:
        run_qa(gdf, geoms_m, grid=grid, region=region, cfg=cfg, qa=qa, counties=counties)
    for line in qa.summary_lines():
        log.info(line)
    return gdf, qa
