"""The synthetic prior inventory of the Zhejiang default.

Real geography (boundaries, MODIS land cover, census population by city, GeoNames places, the
locations of the named industrial areas and ports) carries **assumed** provincial sector totals
and a **synthetic** facility catalogue.  Nothing here is a measured or reported emission; every
output that uses it says so.

Provincial annual totals (:data:`PROVINCIAL_TOTALS`) are assumptions chosen inside published
ranges for Zhejiang around 2020: energy-related CO2 of roughly 0.45–0.5 Gt (provincial inventories
such as CEADs), NOx of roughly 0.6–0.9 Mt and NMVOC of roughly 1–1.5 Mt (MEIC-based studies).
The sector shares follow the structure of those inventories: power and industry dominate CO2;
road transport and shipping dominate NOx; solvent use, chemicals and petrochemicals dominate
VOCs.  Solvent use emits VOCs without CO2; combustion emits CO2 with NOx.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from gridcarbon.config import SECTORS, RunConfig
from gridcarbon.grids.coverage import coverage_matrix
from gridcarbon.grids.gridspec import GridSpec, to_projected
from gridcarbon.grids.inventory import (
    POINT_ATTRIBUTES,
    Inventory,
    locate_points,
    point_columns,
    validate_points,
)
from gridcarbon.io.tables import read_point_sources
from gridcarbon.scenario.geography import (
    CITY_POPULATION_2020,
    load_boundaries,
    load_places,
    region_polygon,
)
from gridcarbon.scenario.landcover import landcover_fractions
from gridcarbon.scenario.parks import INDUSTRIAL_PARKS, PORTS

__all__ = [
    "PROVINCIAL_TOTALS",
    "POINT_SHARE",
    "facility_catalogue",
    "zhejiang_inventory",
    "spatial_proxies",
    "population_density",
    "gaussian_kernel",
    "PLACE_SIGMA_M",
    "normalise",
    "STACK_PARAMETERS",
    "SECTOR_LABELS",
]

_KT = 1e6  # kg per kt

#: Assumed annual provincial totals by sector: CO2 in Mt, NOx (as NO2) and NMVOC in kt.
PROVINCIAL_TOTALS = pd.DataFrame(
    {
        #                         CO2 Mt  NOx kt  VOC kt
        "power": (190.0, 90.0, 5.0),
        "industry_petrochemical": (25.0, 25.0, 120.0),
        "industry_cement": (40.0, 70.0, 3.0),
        "industry_steel": (25.0, 35.0, 10.0),
        "industry_chemical": (20.0, 15.0, 150.0),
        "industry_textile": (10.0, 10.0, 60.0),
        "industry_paper": (8.0, 10.0, 15.0),
        "industry_other": (50.0, 60.0, 100.0),
        "residential_commercial": (25.0, 25.0, 60.0),
        "road_transport": (45.0, 220.0, 160.0),
        "shipping_ports": (15.0, 120.0, 20.0),
        "solvent_use": (0.0, 0.0, 420.0),
        "agriculture": (5.0, 30.0, 30.0),
    },
    index=["CO2", "NOx", "VOC"],
).T * np.array([1e9, _KT, _KT])  # → kg per year

#: Share of each sector's total emitted by the point sources of the facility catalogue.
POINT_SHARE = {
    "power": 1.0,
    "industry_petrochemical": 0.8,
    "industry_cement": 0.85,
    "industry_steel": 0.9,
    "industry_chemical": 0.5,
    "industry_textile": 0.3,
    "industry_paper": 0.5,
    "industry_other": 0.15,
}

#: Facilities per (park, sector) and stack parameters per sector:
#: (count, stack height m, stack diameter m, exit velocity m/s, exit temperature K).
STACK_PARAMETERS = {
    "power": (3, 210.0, 7.0, 20.0, 323.0),
    "industry_petrochemical": (5, 100.0, 3.0, 12.0, 430.0),
    "industry_cement": (4, 90.0, 3.5, 14.0, 400.0),
    "industry_steel": (4, 80.0, 4.0, 15.0, 420.0),
    "industry_chemical": (5, 45.0, 1.5, 10.0, 350.0),
    "industry_textile": (4, 30.0, 1.0, 8.0, 330.0),
    "industry_paper": (3, 60.0, 2.0, 10.0, 360.0),
    "industry_other": (4, 30.0, 1.0, 8.0, 320.0),
}

SECTOR_LABELS = {
    "power": "power",
    "industry_petrochemical": "petrochemical",
    "industry_cement": "cement",
    "industry_steel": "steel",
    "industry_chemical": "chemical",
    "industry_textile": "textile",
    "industry_paper": "paper",
    "industry_other": "manufacturing",
}


def _stable_seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "little")


def facility_catalogue(
    grid: GridSpec, seed: int = 20231, sectors: list[str] | None = None
) -> pd.DataFrame:
    """The synthetic facility catalogue: point sources placed in the real industrial areas.

    Each park hosts a few facilities of each of its sectors; a sector's point-source total
    (``POINT_SHARE`` × provincial total) is split between its facilities by lognormal sizes.
    Facilities are named by park, sector and number (e.g. ``"Zhenhai petrochemical #3"``), never
    after real companies.

    Returns
    -------
    DataFrame
        :func:`~gridcarbon.grids.inventory.point_columns` of the species of
        :data:`PROVINCIAL_TOTALS` plus ``row``, ``col`` (cell) and ``synthetic`` (True);
        emissions in kg per year.
    """
    sectors = list(SECTORS) if sectors is None else sectors
    species = [str(sp) for sp in PROVINCIAL_TOTALS.columns]
    rng = np.random.default_rng(seed)
    region = region_polygon(grid.crs)
    land = to_projected(shapely.union_all(load_boundaries("province").geometry.values), grid.crs)
    rows = []
    for sector in sectors:
        if sector not in POINT_SHARE:
            continue
        parks = [p for p in INDUSTRIAL_PARKS if sector in p.sectors]
        count, h, d, v, temp = STACK_PARAMETERS[sector]
        members = []
        for park in parks:
            radius = np.sqrt(park.area_km2 * 1e6 / np.pi)
            px, py = grid.project(park.lon, park.lat)
            for k in range(1, count + 1):
                # Uniform within the park's disc, kept on land (inside the province polygon).
                for _ in range(100):
                    r = radius * np.sqrt(rng.uniform())
                    a = rng.uniform(0, 2 * np.pi)
                    x, y = float(px) + r * np.cos(a), float(py) + r * np.sin(a)
                    if land.contains(shapely.Point(x, y)) or (
                        sector == "power" and region.contains(shapely.Point(x, y))
                    ):
                        break
                else:
                    x, y = float(px), float(py)
                lon, lat = grid.unproject(x, y)
                park_short = (
                    park.name.split(" (")[0] if park.key not in _SHORT else _SHORT[park.key]
                )
                members.append(
                    {
                        "point_id": f"ZJ-{park.key}-{SECTOR_LABELS[sector]}-{k:02d}",
                        "name": f"{park_short} {SECTOR_LABELS[sector]} #{k}",
                        "sector": sector,
                        "park": park.name,
                        "lon": round(float(lon), 5),
                        "lat": round(float(lat), 5),
                        "stack_height_m": round(h * rng.uniform(0.7, 1.2), 1),
                        "stack_diameter_m": round(d * rng.uniform(0.8, 1.2), 2),
                        "exit_velocity_m_s": round(v * rng.uniform(0.8, 1.2), 1),
                        "exit_temperature_K": round(temp * rng.uniform(0.95, 1.05), 1),
                        "size": rng.lognormal(0.0, 0.6),
                    }
                )
        sizes = np.array([m.pop("size") for m in members])
        shares = sizes / sizes.sum()
        for m, share in zip(members, shares, strict=True):
            for sp in species:
                m[sp] = float(PROVINCIAL_TOTALS.loc[sector, sp] * POINT_SHARE[sector] * share)
            rows.append(m)
    table = pd.DataFrame(rows, columns=list(point_columns(species)))
    points = validate_points(table, species, SECTORS, source="synthetic facility catalogue")
    points = locate_points(points, grid, species=species)
    points["synthetic"] = True
    return points


_SHORT = {
    "zhenhai": "Zhenhai",
    "zhapu": "Zhapu",
    "toumen": "Toumen",
    "shangyu": "Shangyu",
    "daishan": "Daishan",
    "beilun": "Beilun",
    "quzhou": "Quzhou",
    "jiande": "Jiande",
    "fuyang": "Fuyang",
    "changxing": "Changxing",
    "tongxiang": "Tongxiang",
    "haining": "Haining",
    "keqiao": "Keqiao",
    "jiaojiang": "Jiaojiang",
    "longwan": "Longwan",
    "leqing": "Leqing",
    "lanxi": "Lanxi",
    "xiaoshan": "Xiaoshan",
    "yiwu": "Yiwu",
    "liuheng": "Liuheng",
}


#: Spread of a GeoNames place's population kernel, metres.
PLACE_SIGMA_M = 4000.0


def gaussian_kernel(
    grid: GridSpec, centres_lonlat, weights, sigma_m: float, truncate: float | None = None
) -> np.ndarray:
    """Sum of isotropic Gaussians (σ ``sigma_m`` metres) of ``weights`` at the centres, at the
    cell centres of ``grid``.  ``truncate``: each Gaussian only within that many σ of its
    centre (a large grid with many centres; centres farther than that from the grid are
    skipped); None: over the whole grid."""
    x, y = grid.x, grid.y
    out = np.zeros(grid.shape)
    for (lon, lat), w in zip(centres_lonlat, weights, strict=True):
        cx, cy = grid.project(lon, lat)
        cols, rows = slice(None), slice(None)
        if truncate is not None:
            reach = truncate * sigma_m
            cols = np.flatnonzero(np.abs(x - cx) <= reach)
            rows = np.flatnonzero(np.abs(y - cy) <= reach)
            if cols.size == 0 or rows.size == 0:
                continue
            cols, rows = slice(cols[0], cols[-1] + 1), slice(rows[0], rows[-1] + 1)
        gx = np.exp(-0.5 * ((x[cols] - cx) / sigma_m) ** 2)
        gy = np.exp(-0.5 * ((y[rows] - cy) / sigma_m) ** 2)
        out[rows, cols] += w * np.outer(gy, gx)
    return out


def population_density(lc: dict[str, np.ndarray], place_kernel: np.ndarray | float = 0.0):
    """Relative population density of each cell from its land-cover fractions (urban 8,
    cropland 1, other 0.3, forest 0.12) plus 3 × a place kernel (peak 1)."""
    density = lc["urban"] * 8.0 + lc["cropland"] * 1.0 + lc["forest"] * 0.12 + lc["other"] * 0.3
    return density + 3.0 * place_kernel


def normalise(a: np.ndarray) -> np.ndarray:
    """``a`` divided by its float64 sum (unchanged when the sum is 0)."""
    total = a.sum(dtype=np.float64)
    return a / total if total > 0 else a


@lru_cache(maxsize=4)
def _cached_proxies(grid: GridSpec, sea_m: float) -> dict[str, np.ndarray]:
    return _build_proxies(grid, sea_m)


def spatial_proxies(grid: GridSpec, sea_m: float = 22224.0) -> dict[str, np.ndarray]:
    """Spatial proxies of the area sources, one ``(ny, nx)`` map per sector summing to 1.

    Also returns the helper layers ``region_fraction``, ``land_fraction`` and ``population``
    (persons per cell, scaled to the 2020 census totals of the 11 cities).
    """
    return {k: v.copy() for k, v in _cached_proxies(grid, sea_m).items()}


def _build_proxies(grid: GridSpec, sea_m: float) -> dict[str, np.ndarray]:
    lc = landcover_fractions(grid)
    region = region_polygon(grid.crs, sea_m)
    cities = load_boundaries("city")
    city_geoms = to_projected(cities.geometry.values, grid.crs)
    F = coverage_matrix(grid, np.append(city_geoms, region))
    city_cov = F[:-1].toarray().reshape(len(cities), *grid.shape)
    region_fraction = F[-1].toarray().reshape(grid.shape)
    land_fraction = np.clip(city_cov.sum(axis=0), 0.0, 1.0)
    sea_fraction = np.clip(region_fraction - land_fraction, 0.0, 1.0)

    places = load_places().dropna(subset=["population"])
    place_kernel = gaussian_kernel(
        grid,
        places[["lon", "lat"]].to_numpy(),
        np.sqrt(places["population"].to_numpy()),
        PLACE_SIGMA_M,
    )
    place_kernel /= place_kernel.max()
    density = population_density(lc, place_kernel)
    population = np.zeros(grid.shape)
    for i, code in enumerate(cities["adcode"]):
        w = city_cov[i] * density
        population += CITY_POPULATION_2020[code] * normalise(w)

    def industrial(sector: str, sigma: float = 8000.0) -> np.ndarray:
        parks = [p for p in INDUSTRIAL_PARKS if sector in p.sectors] or list(INDUSTRIAL_PARKS)
        k = gaussian_kernel(
            grid, [(p.lon, p.lat) for p in parks], [p.area_km2 for p in parks], sigma
        )
        return land_fraction * (k / k.max() + 0.15 * lc["urban"])

    all_parks = gaussian_kernel(
        grid,
        [(p.lon, p.lat) for p in INDUSTRIAL_PARKS],
        [p.area_km2 for p in INDUSTRIAL_PARKS],
        8000.0,
    )
    port_k = gaussian_kernel(grid, [(p[1], p[2]) for p in PORTS], [p[3] for p in PORTS], 12000.0)
    port_land = gaussian_kernel(grid, [(p[1], p[2]) for p in PORTS], [p[3] for p in PORTS], 3000.0)
    pop_n = normalise(population)
    urban_land = lc["urban"] * land_fraction
    proxies = {
        "power": land_fraction * (lc["urban"] + 0.1),  # small plants not in the catalogue
        "industry_petrochemical": industrial("industry_petrochemical"),
        "industry_cement": industrial("industry_cement"),
        "industry_steel": industrial("industry_steel"),
        "industry_chemical": industrial("industry_chemical"),
        "industry_textile": industrial("industry_textile"),
        "industry_paper": industrial("industry_paper"),
        "industry_other": land_fraction * (all_parks / all_parks.max() * 0.5 + lc["urban"]),
        "residential_commercial": pop_n,
        "road_transport": 0.7 * pop_n + 0.3 * normalise(urban_land),
        "shipping_ports": sea_fraction * (0.15 + port_k / port_k.max())
        + 0.5 * land_fraction * port_land / port_land.max(),
        "solvent_use": 0.6 * pop_n
        + 0.4 * normalise(land_fraction * (all_parks / all_parks.max() + lc["urban"])),
        "agriculture": lc["cropland"] * land_fraction,
    }
    out = {k: normalise(v) for k, v in proxies.items()}
    out["region_fraction"] = region_fraction
    out["land_fraction"] = land_fraction
    out["population"] = population
    return out


def zhejiang_inventory(config: RunConfig, grid: GridSpec) -> Inventory:
    """The default Zhejiang inventory of the configured sectors and species on ``grid``.

    With ``config.prior.point_sources_csv`` the synthetic facility catalogue is replaced by the
    user's point sources (checked here: the columns of
    :func:`~gridcarbon.grids.inventory.point_columns` of the configured species); the area
    parts stay ``(1 − POINT_SHARE)`` of the assumed totals.
    """
    sectors = list(config.sectors)
    species = list(config.species)
    proxies = spatial_proxies(grid, config.grid.territorial_sea_m)
    area_totals = PROVINCIAL_TOTALS.loc[sectors].copy()
    for s in sectors:
        area_totals.loc[s] *= 1.0 - POINT_SHARE.get(s, 0.0)
    components = ["provincial sector totals (assumed)"]
    csv = config.prior.point_sources_csv
    if csv is not None:
        source = f"point-source CSV {Path(csv).name!r}"
        points = validate_points(read_point_sources(csv), species, sectors, source=source)
        points = locate_points(
            points, grid, drop_outside=config.prior.drop_points_outside, species=species
        )
        points["synthetic"] = False
        point_note = f"user point sources from {csv}"
    else:
        points = facility_catalogue(grid, config.prior.seed, sectors)
        point_note = "synthetic facility catalogue placed in real industrial areas"
        components.append("facility catalogue (synthetic)")
    return Inventory(
        grid=grid,
        sectors=sectors,
        area_totals=area_totals[species],
        proxies=np.stack([proxies[s] for s in sectors]),
        points=points.loc[:, [*POINT_ATTRIBUTES, *species, "row", "col", "synthetic"]],
        synthetic=True,
        description={
            "area_sources": "assumed provincial sector totals (synthetic) spread over real "
            "land-cover (MODIS MCD12C1 2019), census-population and GeoNames proxies",
            "point_sources": point_note,
        },
        region_fraction=proxies["region_fraction"],
        synthetic_components=tuple(components),
    )
