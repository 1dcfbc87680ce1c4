"""Environmental control units (三线一单 环境管控单元): field mapping, CRS, plausibility and QA.

:func:`control_units` takes a unit file (read by :mod:`gridcarbon.io.units_file`: GeoPackage,
Shapefile in any DBF encoding, GeoJSON, zip) or a GeoDataFrame, maps its fields onto the standard
columns, brings the geometry to CGCS2000 longitude/latitude (EPSG:4490, x = longitude), checks
that the result is plausible, repairs invalid geometry and returns the units with a
:class:`UnitsQA` record.  Everything after reading is pure functions on GeoDataFrames.

* **Fields** are recognised by the committed table ``gridcarbon/data/control_unit_fields.csv``
  (the 三线一单 field codes such as HJGKDYBM, the Chinese names of local exports, and both as
  Shapefile exports cut them at 10 bytes).  A name that fits several columns (环境管控单 is the
  cut of 环境管控单元编码 *and* 环境管控单元名称) is resolved by the field's values: codes look
  like ``ZH`` + 11 digits, categories are known labels, names are free text; never by order.
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

import itertools
import logging
import re
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

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
from gridcarbon.errors import CRSError, InputDataError
from gridcarbon.io.units_file import UnitsFile, detect_dbf_encoding, field_table, read_units_file
from gridcarbon.names import clean_text_values

__all__ = [
    "control_units",
    "normalise_units",
    "map_fields",
    "FieldMapping",
    "units_to_grid_crs",
    "grid_overlap_fraction",
    "UnitsQA",
    "CATEGORIES",
    "CATEGORY_ZH",
    "CATEGORY_DIGIT",
    "STANDARD_COLUMNS",
    "CategoryWarning",
    "GCJ02OffsetWarning",
    "GeometryRepairedWarning",
    "UnitsOutsideGridWarning",
    "bd09_to_gcj02",
    "detect_dbf_encoding",
    "estimate_boundary_offset",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "run_qa",
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
_CODE_RE = re.compile(r"^ZH(\d{6})([123])\d+$")
#: A 三线一单 unit code: ZH + 6-digit county code + category digit + 4-digit sequence.
_UNIT_CODE_RE = re.compile(r"^ZH\d{11}$")
_ADMIN_CODE_RE = re.compile(r"^\d{6}(\d{3}|\d{6})?$")
_NUMBER_RE = re.compile(r"^[+-]?\d+(\.\d+)?$")
#: Mainland China and its islands, degrees: where 三线一单 units can lie.
_CHINA_LON = (73.0, 136.0)
_CHINA_LAT = (3.0, 54.0)


class GCJ02OffsetWarning(UserWarning):
    """Unit boundaries sit systematically 100–700 m off the county boundaries."""


class CategoryWarning(UserWarning):
    """Unit categories were taken from the code digit or kept against it (category_check: warn)."""


class GeometryRepairedWarning(UserWarning):
    """Invalid unit geometries were repaired; the QA lists each with its area change."""


class UnitsOutsideGridWarning(UserWarning):
    """Units lie partly (or, when dropped, wholly) outside the grid."""


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


def _remove_offset(geoms: np.ndarray, offset: str) -> np.ndarray:
    """Lon/lat geometries with a GCJ-02 or BD-09 offset brought back to WGS84."""

    def to_wgs84(xy: np.ndarray) -> np.ndarray:
        lon, lat = xy[:, 0], xy[:, 1]
        if offset == "bd09":
            lon, lat = bd09_to_gcj02(lon, lat)
        return np.column_stack(gcj02_to_wgs84(lon, lat))

    return shapely.transform(geoms, to_wgs84)


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


# ---------------------------------------------------------------------------------------------
# field mapping (pure: on the attribute table)
# ---------------------------------------------------------------------------------------------
def _label_key(value: str) -> str:
    """A label compared without spaces, underscores, hyphens and case."""
    return re.sub(r"[\s_\-]+", "", value).casefold()


def _label_lookup(defaults: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    return {_label_key(k): v for k, v in {**defaults, **extra}.items()}


def _text(values: pd.Series) -> np.ndarray:
    """A column as stripped strings ('' where missing); whole-number floats lose their '.0'."""
    if pd.api.types.is_float_dtype(values):
        finite = values.dropna()
        if len(finite) and bool(np.all(np.mod(finite.to_numpy(), 1) == 0)):
            values = values.astype("Int64")
    return values.astype("string").str.strip().fillna("").to_numpy(dtype=object)


@dataclass(frozen=True)
class _Profile:
    """What a field's values look like (empty values ignored)."""

    n: int
    rows: int
    unit_codes: bool
    admin_codes: bool
    numbers: bool
    category_share: float
    subtype_labels: bool
    unique: bool
    spaced: bool

    @classmethod
    def of(cls, texts: np.ndarray, categories: dict[str, str], subtypes: dict[str, str]):
        values = [v for v in texts if v and v.lower() not in ("nan", "none", "null")]
        n = len(values)
        keys = [_label_key(v) for v in values]
        return cls(
            n=n,
            rows=len(texts),
            unit_codes=n > 0 and all(_UNIT_CODE_RE.match(v) for v in values),
            admin_codes=n > 0 and all(_ADMIN_CODE_RE.match(v) for v in values),
            numbers=n > 0 and all(_NUMBER_RE.match(v) for v in values),
            category_share=sum(k in categories for k in keys) / n if n else 0.0,
            subtype_labels=n > 0 and all(k in subtypes for k in keys),
            unique=len(set(values)) == n,
            spaced=any(re.search(r"\s", v) for v in values),
        )

    @property
    def text(self) -> bool:
        return self.n > 0 and not (self.unit_codes or self.numbers or self.category_share == 1)

    def fit(self, column: str) -> int:
        """How well the values fit a standard column: 2 = its signature, 1 = plausible, 0 = not."""
        if self.n == 0:
            return 0
        if column == "unit_code":
            if self.unit_codes:
                return 2
            plausible = self.unique and self.n == self.rows and not self.spaced
            return int(plausible and self.category_share < 1)
        if column == "category":
            return 2 if self.category_share == 1 else int(self.category_share >= 0.5)
        if column == "subtype":
            return 2 if self.subtype_labels and self.category_share < 1 else int(self.text)
        if column in ("county_code", "city_code"):
            return 2 if self.admin_codes else 0
        return int(self.text)  # names: free text

    def describe(self) -> str:
        if self.n == 0:
            return "no values"
        if self.unit_codes:
            return "values are unit codes (ZH + 11 digits)"
        if self.category_share == 1:
            return "values are category labels"
        if self.admin_codes:
            return "values are administrative codes"
        if self.subtype_labels:
            return "values are subtype labels"
        if self.numbers:
            return "values are numbers"
        return "values are free text"


@dataclass
class FieldMapping:
    """Which source field feeds each standard column, and why.

    Attributes
    ----------
    columns : dict
        Standard column → source field.
    evidence : dict
        Standard column → how the field was chosen.
    rejected : dict
        Source field → why a name match was not used (its values fit no column it could be).
    """

    columns: dict[str, str] = field(default_factory=dict)
    evidence: dict[str, str] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)


def _name_evidence(row: Any) -> str:
    if row.form == "name":
        return f"field name ({row.source})"
    return f"field name: {row.of} cut at the DBF 10-byte limit"


def _components(candidates: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Groups of fields linked by a standard column they could both be (sorted, for messages)."""
    groups: list[tuple[set[str], set[str]]] = []
    for name, columns in candidates.items():
        linked = [g for g in groups if g[1] & set(columns)]
        fields, cols = {name}, set(columns)
        for g in linked:
            fields |= g[0]
            cols |= g[1]
            groups.remove(g)
        groups.append((fields, cols))
    return [sorted(g[0]) for g in groups]


def map_fields(
    table: pd.DataFrame, config: ZoningConfig | None = None, source: str = "the control units"
) -> FieldMapping:
    """Map the fields of a control-unit table onto gridcarbon's standard columns.

    Fields named in ``config.column_map`` are used as given.  Others are looked up (case-
    insensitively) in the committed field table ``gridcarbon/data/control_unit_fields.csv``:
    the 三线一单 field codes (HJGKDYBM ...), the Chinese names of local exports, and both as
    Shapefile exports cut them at 10 bytes.  A field named exactly as a standard column takes it.
    When a name fits several columns, or several fields fit one column, the fields' values decide:
    unit codes look like ``ZH`` + 11 digits, categories are known labels, names are free text.
    The order of fields or of the table's rows never decides.

    Parameters
    ----------
    table : DataFrame
        The attribute table (a geometry column is ignored).
    config : ZoningConfig, optional
        ``column_map``, ``category_values`` and ``subtype_values`` are used.
    source : str
        The file, for messages.

    Returns
    -------
    FieldMapping

    Raises
    ------
    InputDataError
        A ``column_map`` field the table does not have, or fields whose names and values fit
        more than one assignment (the message lists them and asks for ``zoning.column_map``).
    """
    cfg = config or ZoningConfig()
    geometry = table.geometry.name if isinstance(table, gpd.GeoDataFrame) else None
    fields = [str(c) for c in table.columns if c != geometry]
    mapping = FieldMapping()
    for column, name in cfg.column_map.items():
        match = [f for f in fields if f == name] or [
            f for f in fields if f.strip().casefold() == name.strip().casefold()
        ]
        if not match:
            raise InputDataError(
                f"{source}: zoning.column_map maps {column} to field {name!r}, which is not "
                f"among the fields {fields}; correct zoning.column_map"
            )
        mapping.columns[column] = match[0]
        mapping.evidence[column] = "zoning.column_map"
    known = field_table()
    keys = known["field"].str.casefold()
    candidates: dict[str, dict[str, Any]] = {}
    for name in fields:
        if name in mapping.columns.values():
            continue
        rows = known[keys == name.strip().casefold()]
        columns = {r.column: r for r in rows.itertuples() if r.column not in mapping.columns}
        if name.strip().casefold() in columns:  # named exactly as a standard column
            column = name.strip().casefold()
            mapping.columns[column] = name
            mapping.evidence[column] = "standard column name"
        elif columns:
            candidates[name] = columns
    candidates = {
        f: {c: r for c, r in cols.items() if c not in mapping.columns}
        for f, cols in candidates.items()
    }
    candidates = {f: cols for f, cols in candidates.items() if cols}
    if not candidates:
        return mapping
    categories = _label_lookup(DEFAULT_CATEGORY_VALUES, cfg.category_values)
    subtypes = _label_lookup(DEFAULT_SUBTYPE_VALUES, cfg.subtype_values)
    subtypes.pop("", None)
    texts = {f: _text(table[f]) for f in candidates}
    profiles = {f: _Profile.of(texts[f], categories, subtypes) for f in candidates}
    for group in _components(candidates):
        if len(group) == 1 and len(candidates[group[0]]) == 1:
            (column, row), name = next(iter(candidates[group[0]].items())), group[0]
            mapping.columns[column] = name
            mapping.evidence[column] = _name_evidence(row)
            continue
        _resolve_by_values(group, candidates, profiles, texts, mapping, source)
    return mapping


def _resolve_by_values(
    group: list[str],
    candidates: dict[str, dict[str, Any]],
    profiles: dict[str, _Profile],
    texts: dict[str, np.ndarray],
    mapping: FieldMapping,
    source: str,
) -> None:
    """Assign fields whose names are ambiguous by how well their values fit each column."""
    options = [[c for c in sorted(candidates[f]) if profiles[f].fit(c) > 0] + [None] for f in group]
    if np.prod([len(o) for o in options], dtype=float) > 2e5:
        raise InputDataError(
            f"{source}: too many fields ({', '.join(group)}) could be the same columns; name "
            "them with zoning.column_map"
        )
    best, ties = 0, []
    for combo in itertools.product(*options):
        chosen = [c for c in combo if c is not None]
        if len(chosen) != len(set(chosen)):
            continue
        score = sum(profiles[f].fit(c) for f, c in zip(group, combo, strict=True) if c)
        if score > best:
            best, ties = score, [combo]
        elif score == best and score > 0:
            ties.append(combo)
    if not ties:
        for f in group:
            mapping.rejected[f] = (
                f"name fits {', '.join(sorted(candidates[f]))}, but {profiles[f].describe()}"
            )
        return
    # Tied assignments that feed every column the same values are one and the same answer.
    outcomes = {
        frozenset((c, tuple(texts[f])) for f, c in zip(group, combo, strict=True) if c)
        for combo in ties
    }
    if len(outcomes) > 1:
        # name only the fields the tied answers disagree about
        open_fields = [(k, f) for k, f in enumerate(group) if len({combo[k] for combo in ties}) > 1]
        described = "; ".join(
            f"{f!r} (name fits {', '.join(sorted(candidates[f]))}; {profiles[f].describe()})"
            for _, f in open_fields
        )
        example = ", ".join(
            f"{ties[0][k]}: {f!r}" for k, f in open_fields if ties[0][k] is not None
        )
        raise InputDataError(
            f"{source}: cannot tell which field is which: {described}; name them with "
            f"zoning.column_map, e.g. {{{example}}}"
        )
    for f, column in zip(group, ties[0], strict=True):
        if column is None:
            mapping.rejected[f] = (
                f"name fits {', '.join(sorted(candidates[f]))}, but another field fits better"
            )
            continue
        row = candidates[f][column]
        mapping.columns[column] = f
        mapping.evidence[column] = f"{_name_evidence(row)}; {profiles[f].describe()}"


# ---------------------------------------------------------------------------------------------
# normalisation (pure)
# ---------------------------------------------------------------------------------------------
_DIGIT_CATEGORY = {digit: category for category, digit in CATEGORY_DIGIT.items()}
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
    lookup = _label_lookup(DEFAULT_CATEGORY_VALUES, cfg.category_values)
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
    from_label = np.array([lookup.get(_label_key(v), "") for v in labels], dtype=object)
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
                f"{CATEGORY_DIGIT[from_code[i]]} means {from_code[i]}; "
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
            f"{CATEGORY_DIGIT[from_code[i]]}"
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
        values = _text(gdf[name])
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
    subtypes = _label_lookup(DEFAULT_SUBTYPE_VALUES, cfg.subtype_values)
    raw_sub = np.array([re.sub(r"\s+", "", v) for v in col["subtype"]], dtype=object)
    subtype = np.array([subtypes.get(_label_key(v), v) for v in raw_sub], dtype=object)
    subtype_zh = _text(gdf["subtype_zh"]) if "subtype_zh" in gdf.columns else raw_sub
    res = pd.DataFrame(
        {
            "unit_code": pd.Series(codes).astype(str),
            "unit_name": pd.Series(col["unit_name"]).astype(str),
            "category": pd.Series(category).astype(str),
            "subtype": pd.Series(subtype).astype(str).replace("", "none"),
            "category_zh": pd.Series(category).map(CATEGORY_ZH).astype(str),
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


# ---------------------------------------------------------------------------------------------
# CRS and coordinates (pure)
# ---------------------------------------------------------------------------------------------
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


def _to_cgcs2000(
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
        lonlat = _remove_offset(lonlat, offset)
        label = "GCJ-02" if offset == "gcj02" else "BD-09 → GCJ-02"
        qa.transformation += f"; {label} → WGS84 (zoning.units_offset: {offset})"
    return gpd.GeoDataFrame(attrs, geometry=lonlat, crs=target)


# ---------------------------------------------------------------------------------------------
# geometry (pure)
# ---------------------------------------------------------------------------------------------
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


def _make_valid(geom: shapely.Geometry) -> tuple[shapely.Geometry, shapely.Geometry]:
    """Repair an invalid polygon; returns (repaired, what the 'structure' method alone gives).

    ``make_valid(method="structure")`` unions the parts and subtracts the holes, so overlapping
    parts of a multipolygon are dissolved (the default 'linework' method turns the doubly covered
    area into a hole).  It trusts each ring's role, though: a "hole" lying outside its shell, or
    a shell and hole swapped (as a Shapefile with wrong winding order gives them), leaves
    nothing.  The repair is the union of both methods: every area that a ring encloses is kept,
    and overlaps are dissolved.
    """
    structure = _polygonal(shapely.make_valid(geom, method="structure", keep_collapsed=False))
    linework = _polygonal(shapely.make_valid(geom))
    if linework is None or linework.is_empty:
        return structure, structure
    return _polygonal(shapely.union(structure, linework)), structure


def _require_polygons(frame: gpd.GeoDataFrame, source: str, layer: str | None) -> None:
    """Refuse a layer that holds no polygon at all (points, lines, or no geometry)."""
    kinds = frame.geometry.geom_type.dropna()
    if len(frame) and not kinds.isin(["Polygon", "MultiPolygon"]).any():
        found = ", ".join(sorted(set(kinds))) or "no geometry"
        where = source + (f", layer {layer!r}," if layer else "")
        raise InputDataError(
            f"{where} holds {found} features, not polygons: control units must be Polygon or "
            "MultiPolygon features; give the layer with the unit polygons (zoning.units_layer)"
        )


def _repair(
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
        geoms[bad] = [_polygonal(shapely.make_valid(g)) for g in geoms[bad]]
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


def _check_grid(
    gdf: gpd.GeoDataFrame,
    geoms_m: np.ndarray,
    grid,
    cfg: ZoningConfig,
    qa: UnitsQA,
    source: str,
    locate: Callable[[int], str],
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Refuse units outside the grid (or drop them on request); warn about those partly outside."""
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
        fraction = grid_overlap_fraction(geoms_m, grid.bounds)
        qa.outside_grid = [str(c) for c in codes[fraction <= 0]]
        qa.partly_outside_grid = [str(c) for c in codes[(fraction > 0) & (fraction < 1 - 1e-9)]]
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
                    "set zoning.units_offset: gcj02 to convert them, or convert the file first"
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


def _frame_locator(frame: gpd.GeoDataFrame) -> Callable[[int], str]:
    """Row locations of an in-memory table: 1-based row, and its index label if not 0..n-1."""
    labels = frame.index
    if isinstance(labels, pd.RangeIndex) and labels.start == 0 and labels.step == 1:
        return _row
    return lambda i: f"row {i + 1} (index {labels[i]!r})"


def control_units(
    path: str | Path | gpd.GeoDataFrame | None = None,
    config: ZoningConfig | None = None,
    grid=None,
    region_m: shapely.Geometry | None = None,
    qa_checks: bool = True,
) -> tuple[gpd.GeoDataFrame, UnitsQA]:
    """Read (or take), normalise and check control units.

    Parameters
    ----------
    path : path or GeoDataFrame, optional
        GeoPackage, Shapefile, GeoJSON or a zip of one (read by
        :func:`gridcarbon.io.units_file.read_units_file`), or a GeoDataFrame with the same
        fields (checked the same way; messages name it ``"GeoDataFrame"``); None = the embedded
        synthetic Zhejiang units (built on ``grid`` or the default grid).
    config : ZoningConfig, optional
        Field mapping, encoding, CRS assumption, web-map offset, category and QA options.
    grid : GridSpec, optional
        The grid: used for the area column, the outside-grid and the offset checks.
    region_m : shapely geometry, optional
        The region (grid CRS) inside which gaps are measured; None = no gap check.
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
        No CRS, a CRS that puts the units outside China, swapped axes, or a web-map offset on a
        CRS that cannot carry one.
    """
    cfg = config or ZoningConfig()
    if grid is None:
        from gridcarbon.scenario.geography import default_grid

        grid = default_grid()
    if path is None:
        from gridcarbon.scenario.synthetic_units import default_units

        raw = default_units(grid)
        qa = UnitsQA(source="embedded synthetic units (gridcarbon.scenario.units)")
        locate = _row
        gdf = normalise_units(raw, cfg, qa)
        qa.source_crs = "EPSG:4490"
        qa.transformation = "CGCS2000 lon/lat (no transformation)"
    else:
        if isinstance(path, gpd.GeoDataFrame):
            source = UnitsFile(frame=path.reset_index(drop=True), source="GeoDataFrame")
            locate = _frame_locator(path)
        else:
            source = read_units_file(path, cfg.units_layer, cfg.units_encoding)
            locate = source.location
        qa = UnitsQA(source=source.source, encoding=source.encoding)
        _require_polygons(source.frame, source.source, source.layer)
        gdf = normalise_units(source.frame, cfg, qa, source=source.source, location=locate)
        gdf = _to_cgcs2000(gdf, cfg, qa, source.source)
    gdf = _repair(gdf, cfg, qa, qa.source, locate, grid.crs)
    if len(gdf) == 0:
        raise InputDataError(f"every unit in {qa.source} has an empty geometry")
    geoms_m = units_to_grid_crs(gdf, grid)
    gdf, geoms_m = _check_grid(gdf, geoms_m, grid, cfg, qa, qa.source, locate)
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
