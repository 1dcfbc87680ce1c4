"""Configuration of the zoning stage (a section of :class:`gridcarbon.config.RunConfig`).

Every choice the zoning stage makes is a field here with a documented default; see
``docs/zoning.md`` for what each one does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "ZoningConfig",
    "DEFAULT_COLUMN_CANDIDATES",
    "DEFAULT_CATEGORY_VALUES",
    "DEFAULT_SUBTYPE_VALUES",
]

#: Candidate source field names (first match wins, case-insensitive) for each standard column.
DEFAULT_COLUMN_CANDIDATES: dict[str, list[str]] = {
    "unit_code": [
        "unit_code",
        "单元编码",
        "管控单元编码",
        "环境管控单元编码",
        "单元编号",
        "HJGKDYBM",
        "DYBM",
        "code",
    ],
    "unit_name": [
        "unit_name",
        "单元名称",
        "管控单元名称",
        "环境管控单元名称",
        "HJGKDYMC",
        "DYMC",
        "name",
    ],
    "category": [
        "category",
        "管控类别",
        "单元类别",
        "管控单元类别",
        "环境管控单元类别",
        "GKLB",
        "DYLB",
    ],
    "subtype": [
        "subtype",
        "单元分类",
        "管控单元分类",
        "单元类型",
        "单元子类",
        "管控分类",
        "GKFL",
        "DYFL",
    ],
    "county_code": [
        "county_code",
        "区县编码",
        "县级行政区划代码",
        "行政区划代码",
        "XZQDM",
        "XZQHDM",
    ],
    "county_name": ["county_name", "区县", "区县名称", "县区", "XZQMC"],
    "city_code": ["city_code", "地市编码", "市级行政区划代码"],
    "city_name": ["city_name", "地市", "地市名称", "所属地市", "城市"],
}

#: Source category labels (after stripping spaces) → standard category.
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
    units_gcj02: bool = Field(
        False,
        description="the file's lon/lat are GCJ-02 ('Mars' coordinates of Chinese web maps) "
        "although labelled WGS84/CGCS2000: convert them to WGS84 (iteratively inverted public "
        "formula, ~1e-10 degree)",
    )
    column_map: dict[str, str] = Field(
        default_factory=dict,
        description="explicit source field for a standard column, e.g. {'unit_code': '单元编码'}; "
        "columns not given are found among DEFAULT_COLUMN_CANDIDATES",
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
        description="repair invalid geometries (shapely.make_valid) and report them; "
        "False = reject the file",
    )
    offset_warning_m: tuple[float, float] = Field(
        (100.0, 700.0),
        description="warn when unit boundaries sit systematically this far (metres) from the "
        "county boundaries: the signature of GCJ-02 data mislabelled as WGS84",
    )
    check_offset: bool = Field(
        True, description="run the GCJ-02 offset check against the embedded county boundaries"
    )
    qa_region: Literal["zhejiang", "none"] = Field(
        "zhejiang",
        description="region inside which gaps between units are measured: the embedded Zhejiang "
        "land + territorial sea, or none (for a file covering only part of the province)",
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
        description="with an inversion result, add the posterior std of unit totals "
        "(gridcarbon.inversion unit_total_std, with the full posterior covariance)",
    )

    # -- hotspots ------------------------------------------------------------------------------
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
        description="random toroidal shifts of the NOx and VOC hot maps forming the null "
        "distribution of co-location counts (0 = skip)",
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

    @field_validator("column_map")
    @classmethod
    def _colmap(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(DEFAULT_COLUMN_CANDIDATES))
        if unknown:
            raise ValueError(
                f"column_map keys {unknown} are not standard columns; use "
                f"{sorted(DEFAULT_COLUMN_CANDIDATES)}"
            )
        return v
