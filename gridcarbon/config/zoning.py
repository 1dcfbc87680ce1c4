"""Configuration of the zoning stage (a section of :class:`gridcarbon.config.RunConfig`).

Every choice the zoning stage makes is a field here with a documented default; see
``docs/zoning.md`` for what each one does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "ZoningConfig",
    "MAPPED_COLUMNS",
    "DEFAULT_CATEGORY_VALUES",
    "DEFAULT_SUBTYPE_VALUES",
]

#: The standard columns a source field is mapped to.  The source field names recognised for each
#: (in full, and as Shapefile exports cut them) are in the committed table
#: ``gridcarbon/reference/control_unit_fields.csv`` (:func:`gridcarbon.io.units_file.field_table`).
MAPPED_COLUMNS: tuple[str, ...] = (
    "unit_code",
    "unit_name",
    "category",
    "subtype",
    "county_code",
    "county_name",
    "city_code",
    "city_name",
)

#: Source category labels → standard category.  Labels are compared without spaces, underscores
#: and hyphens, case-insensitively ("Key control" = "key_control").
DEFAULT_CATEGORY_VALUES: dict[str, str] = {
    "优先保护单元": "priority_protection",
    "优先保护": "priority_protection",
    "优先保护类": "priority_protection",
    "priority_protection": "priority_protection",
    "重点管控单元": "key_control",
    "重点管控": "key_control",
    "重点管控类": "key_control",
    "key_control": "key_control",
    "一般管控单元": "general_control",
    "一般管控": "general_control",
    "一般管控类": "general_control",
    "general_control": "general_control",
    "priority protection unit": "priority_protection",
    "key control unit": "key_control",
    "general control unit": "general_control",
    "1": "priority_protection",
    "2": "key_control",
    "3": "general_control",
}

#: Source subtype labels → standard subtype (unknown labels are kept verbatim).
DEFAULT_SUBTYPE_VALUES: dict[str, str] = {
    "产业集聚类": "industrial_agglomeration",
    "产业集聚": "industrial_agglomeration",
    "产业集聚类重点管控单元": "industrial_agglomeration",
    "工业园区": "industrial_agglomeration",
    "industrial_agglomeration": "industrial_agglomeration",
    "城镇生活类": "urban_living",
    "城镇生活": "urban_living",
    "城镇生活类重点管控单元": "urban_living",
    "urban_living": "urban_living",
    "生态保护红线": "ecological_red_line",
    "ecological_red_line": "ecological_red_line",
    "一般生态空间": "general_ecological_space",
    "general_ecological_space": "general_ecological_space",
    "农业空间": "agricultural",
    "农业农村": "agricultural",
    "agricultural": "agricultural",
    "海域": "sea",
    "近岸海域": "sea",
    "sea": "sea",
    "": "none",
    "none": "none",
}


class ZoningConfig(BaseModel):
    """Settings of the zoning stage; every field has a documented default."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = Field(True, description="run this stage in `gridcarbon run`")

    # -- control units -------------------------------------------------------------------------
    units_path: Path | None = Field(
        None,
        description="control-unit file (GeoPackage, Shapefile, GeoJSON); None = the embedded "
        "synthetic Zhejiang units (gridcarbon.scenario.units)",
    )
    units_layer: str | None = Field(None, description="layer of a multi-layer GeoPackage")
    units_encoding: str | None = Field(
        None,
        description="attribute encoding of a Shapefile; None = the .cpg file if present, else "
        "UTF-8 when the .dbf decodes as UTF-8, else GB18030 (a superset of GBK)",
    )
    units_assume_crs: str | None = Field(
        None,
        description="CRS to assume when the file has none (e.g. 'EPSG:4490'); never overrides a "
        "CRS the file declares",
    )
    units_offset: Literal["none", "gcj02", "bd09"] = Field(
        "none",
        description="the file's coordinates carry a Chinese web-map offset although labelled "
        "WGS84/CGCS2000 (lon/lat, or EPSG:3857 web mercator): gcj02 = GCJ-02 ('Mars' "
        "coordinates of Amap, Tencent, Google China; ~500 m), bd09 = BD-09 (Baidu; ~1 km); they "
        "are converted to WGS84 (public formulas, inverted to ~1e-10 degree); refused for any "
        "other CRS",
    )
    units_gcj02: bool = Field(
        False,
        description="older spelling of units_offset: gcj02 (true = units_offset: gcj02)",
    )
    category_check: Literal["error", "warn"] = Field(
        "error",
        description="a unit whose category label is unknown or empty, a file with no category "
        "field, and a label contradicting the unit code's category digit (ZH + county + 1/2/3 "
        "+ sequence) are errors; warn = take the label when known, else the code's digit, and "
        "record every such unit in the QA (one warning per kind)",
    )
    units_outside_grid: Literal["error", "drop"] = Field(
        "error",
        description="units lying wholly outside the grid are an error (their emissions cannot be "
        "tallied); drop = drop them with a warning, listed in the QA. Units partly outside are "
        "always kept, with a warning",
    )
    column_map: dict[str, str] = Field(
        default_factory=dict,
        description="explicit source field for a standard column, e.g. {'unit_code': '单元编码'}; "
        "columns not given are found by the field table control_unit_fields.csv (ambiguous "
        "names resolved by the fields' values)",
    )
    category_values: dict[str, str] = Field(
        default_factory=dict,
        description="extra source label → category (priority_protection/key_control/"
        "general_control) entries, added to DEFAULT_CATEGORY_VALUES",
    )
    subtype_values: dict[str, str] = Field(
        default_factory=dict,
        description="extra source label → subtype entries, added to DEFAULT_SUBTYPE_VALUES",
    )
    repair_invalid: bool = Field(
        True,
        description="repair invalid geometries (shapely.make_valid 'structure' united with "
        "'linework': overlapping parts dissolved, holes cut, the area of every ring kept) and "
        "report them with the area change; False = reject the file",
    )
    offset_warning_m: tuple[float, float] = Field(
        (100.0, 700.0),
        description="warn when unit boundaries sit systematically this far (metres) from the "
        "county boundaries: the signature of GCJ-02 data mislabelled as WGS84",
    )
    check_offset: bool = Field(
        True,
        description="run the web-map offset checks against the scenario's county boundaries: "
        "GCJ-02 warned, BD-09 refused (the embedded units are not checked)",
    )
    qa_region: Literal["scenario", "zhejiang", "none"] = Field(
        "scenario",
        description="region inside which gaps between units are measured: the scenario's region "
        "(for the embedded default, Zhejiang's land + territorial sea; `zhejiang` is the older "
        "name of the same choice), or none (for a file covering only part of the region)",
    )
    gap_tolerance_km2: float = Field(
        0.01,
        ge=0,
        description="gaps or overlaps smaller than this (km²) are not listed one by "
        "one (their total area is still reported)",
    )

    # -- coverage ------------------------------------------------------------------------------
    cache_dir: Path | None = Field(
        None,
        description="folder of the coverage-matrix cache; None = $GRIDCARBON_CACHE or "
        "~/.cache/gridcarbon/coverage",
    )

    # -- tallies -------------------------------------------------------------------------------
    top_n: int = Field(20, ge=1, description="units listed in the report's top-N tables")
    keep_hourly: bool = Field(
        True, description="write the hourly per-unit tallies (NetCDF) besides daily/monthly"
    )

    posterior_std: bool = Field(
        True,
        description="after an inversion, add the posterior std of unit totals, from the "
        "inversion's full posterior covariance (contracts.PosteriorCovariance.total_std)",
    )

    # -- hotspots ------------------------------------------------------------------------------
    hotspot_statistic: str = Field(
        "gi_star",
        min_length=1,
        description="the hotspot statistic, by the name it is registered under "
        "(gridcarbon.zoning.hotspots.register_statistic); gi_star = Getis-Ord Gi* with the "
        "distance band gi_radius_m. Checked when the zoning stage starts",
    )
    gi_radius_m: float = Field(
        9500.0,
        gt=0,
        description="distance band of the Gi* weights, metres (cell centres within the radius are "
        "neighbours; binary weights, focal cell included); must not fall on a lattice distance",
    )
    region_min_fraction: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="cells with region_fraction <= this are outside the region and excluded from "
        "Gi* (as data and as neighbours)",
    )
    fdr_levels: tuple[float, float, float] = Field(
        (0.01, 0.05, 0.10),
        description="Benjamini–Hochberg q levels giving bins ±3/±2/±1",
    )
    hotspot_min_bin: int = Field(
        1,
        ge=1,
        le=3,
        description="a cell-time is hot when its bin >= this (1 = BH q 0.10, 2 = 0.05, 3 = 0.01)",
    )
    hourly_hotspots: bool = Field(
        True, description="compute Gi* for every hour as well as for daily and monthly bins"
    )
    hourly_z: bool = Field(
        False,
        description="keep hourly Gi* z-scores in hotspots_hour.nc (bins and co-location "
        "flags are always kept; the z-scores of every hour are large)",
    )
    toroidal_shifts: int = Field(
        199,
        ge=0,
        description="random toroidal shifts of the hot maps of every species but the first, "
        "forming the null distribution of co-location counts (0 = skip)",
    )
    emerging_bins: Literal["day"] = Field(
        "day", description="time bins of the emerging-hotspot analysis"
    )
    emerging_alpha: float = Field(
        0.05, gt=0, lt=1, description="significance of the Mann–Kendall trend (two-sided)"
    )
    emerging_min_bin: int = Field(
        2,
        ge=1,
        le=3,
        description="a bin counts as a significant hot (cold) spot in the emerging analysis "
        "when its Gi* bin is >= this (<= -this)",
    )
    seed: int = Field(20234, description="seed of the toroidal-shift null")

    @field_validator("fdr_levels")
    @classmethod
    def _levels(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if not (0 < v[0] < v[1] < v[2] < 1):
            raise ValueError(f"fdr_levels must be increasing in (0, 1), got {v}")
        return v

    @field_validator("offset_warning_m")
    @classmethod
    def _offset(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not (0 <= v[0] < v[1]):
            raise ValueError(f"offset_warning_m must be (low, high) with low < high, got {v}")
        return v

    @model_validator(mode="after")
    def _offset_alias(self) -> ZoningConfig:
        if self.units_gcj02 and self.units_offset not in ("none", "gcj02"):
            raise ValueError(
                f"units_gcj02: true contradicts units_offset: {self.units_offset}; "
                "set only units_offset"
            )
        return self

    @property
    def effective_units_offset(self) -> str:
        """The web-map offset to remove: ``units_offset``, or gcj02 for ``units_gcj02: true``."""
        return "gcj02" if self.units_gcj02 else self.units_offset

    @field_validator("column_map")
    @classmethod
    def _colmap(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(MAPPED_COLUMNS))
        if unknown:
            raise ValueError(
                f"column_map keys {unknown} are not standard columns; use {list(MAPPED_COLUMNS)}"
            )
        return v
