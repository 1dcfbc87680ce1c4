"""A small region that is not Zhejiang, built entirely in code, as a Scenario value.

A 60 × 60 km box around Chengdu (Sichuan) on a local Albers grid of 3 km cells (400 cells), two
counties, four control units, five sectors, four stacks, four stations and steady synthetic
meteorology.  Nothing here reads a file: the tests use it to show that the engine can be handed
another region.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
import xarray as xr

from gridcarbon.contracts import Scenario
from gridcarbon.grids.gridspec import GridSpec
from gridcarbon.grids.inventory import Inventory
from gridcarbon.species import DEFAULT_SPECIES

CRS = pyproj.CRS.from_proj4(
    "+proj=aea +lat_1=29 +lat_2=32 +lat_0=30.6 +lon_0=104.05 +ellps=GRS80 +units=m +no_defs"
)
SECTORS = ("power", "industry_other", "residential_commercial", "road_transport", "solvent_use")
N = 20  # cells a side
CELL = 3000.0


@dataclass(frozen=True)
class SteadyMeteorology:
    """A south-westerly 4 m/s wind turning slowly, a daily mixing-height cycle: synthetic."""

    bounds_lonlat: tuple[float, float, float, float]
    synthetic: bool = True

    def for_hours(self, hours_utc) -> xr.Dataset:
        t = pd.DatetimeIndex(hours_utc)
        lon = np.arange(self.bounds_lonlat[0], self.bounds_lonlat[2] + 1e-9, 0.25)
        lat = np.arange(self.bounds_lonlat[1], self.bounds_lonlat[3] + 1e-9, 0.25)
        local = (t.hour.to_numpy() + 7) % 24
        days = np.arange(t.size) / 24.0
        direction = np.radians(225.0 + 40.0 * np.sin(2 * np.pi * days / 5.0))
        speed = 4.0 + 1.5 * np.sin(2 * np.pi * (local - 9) / 24.0)
        blh = 300.0 + 900.0 * np.clip(np.sin(np.pi * (local - 7) / 12.0), 0, None)
        shape = (t.size, lat.size, lon.size)

        def field(v):
            return (("time", "lat", "lon"), np.broadcast_to(v[:, None, None], shape).copy())

        return xr.Dataset(
            {
                "u10": field(-speed * np.sin(direction)),
                "v10": field(-speed * np.cos(direction)),
                "blh": field(blh),
                "tcc": field(np.full(t.size, 0.4)),
                "t2m": field(285.0 + 5.0 * np.sin(2 * np.pi * (local - 9) / 24.0)),
            },
            coords={"time": t.values, "lat": lat, "lon": lon},
            attrs={"synthetic": "true"},
        )


def _lonlat(geom_m):
    to_ll = pyproj.Transformer.from_crs(CRS, 4326, always_xy=True)
    return shapely.transform(geom_m, lambda xy: np.column_stack(to_ll.transform(*xy.T)))


def small_region_scenario() -> Scenario:
    """The scenario (see the module docstring)."""
    grid = GridSpec.from_bounds((-30000.0, -30000.0, 30000.0, 30000.0), CELL, CRS)
    assert grid.shape == (N, N)
    region_m = shapely.box(-28500.0, -28500.0, 28500.0, 28500.0)
    x = np.asarray(grid.x)
    y = np.asarray(grid.y)
    xx, yy = np.meshgrid(x, y)
    r = np.hypot(xx, yy)
    urban = np.exp(-((r / 9000.0) ** 2))
    rural = 1.0 - urban
    proxies = np.stack(
        [np.zeros_like(r), urban * 0.6 + 0.1, urban + 0.3 * rural, urban, urban * 0.8 + 0.05]
    )
    proxies = np.where(proxies.sum(axis=(1, 2), keepdims=True) > 0, proxies, 0.0)
    proxies = proxies / np.maximum(proxies.sum(axis=(1, 2), keepdims=True), 1e-300)
    species = [s.name for s in DEFAULT_SPECIES]
    kt = 1e6
    area = pd.DataFrame(
        [
            [0.0, 0.0, 0.0],
            [3000 * kt, 4 * kt, 6 * kt],
            [2000 * kt, 2 * kt, 3 * kt],
            [2500 * kt, 6 * kt, 4 * kt],
            [0.0, 0.0, 8 * kt],
        ],
        index=list(SECTORS),
        columns=species,
    )
    to_ll = pyproj.Transformer.from_crs(CRS, 4326, always_xy=True)
    px = np.array([-9000.0, 6000.0, 12000.0, -15000.0])
    py = np.array([4500.0, -7500.0, 10500.0, -12000.0])
    plon, plat = to_ll.transform(px, py)
    row, col = grid.index(plon, plat)
    points = pd.DataFrame(
        {
            "point_id": [f"P{i}" for i in range(4)],
            "name": [f"Test power #{i}" for i in range(4)],
            "sector": ["power"] * 4,
            "park": ["test park"] * 4,
            "lon": plon,
            "lat": plat,
            "stack_height_m": [120.0, 80.0, 60.0, 150.0],
            "stack_diameter_m": [6.0, 4.0, 3.0, 7.0],
            "exit_velocity_m_s": [15.0, 12.0, 10.0, 18.0],
            "exit_temperature_K": [410.0, 390.0, 380.0, 420.0],
            species[0]: [2000 * kt, 800 * kt, 500 * kt, 1500 * kt],
            species[1]: [3 * kt, 1 * kt, 0.8 * kt, 2 * kt],
            species[2]: [0.2 * kt, 0.1 * kt, 0.05 * kt, 0.1 * kt],
            "row": np.asarray(row, dtype=np.int64),
            "col": np.asarray(col, dtype=np.int64),
            "synthetic": True,
        }
    )
    inventory = Inventory(
        grid=grid,
        sectors=list(SECTORS),
        area_totals=area,
        proxies=proxies,
        points=points,
        synthetic=True,
        description={"area_sources": "test region (synthetic)"},
        region_fraction=np.ones(grid.shape),
    )
    west = shapely.box(-30000.0, -30000.0, 0.0, 30000.0)
    east = shapely.box(0.0, -30000.0, 30000.0, 30000.0)
    counties = gpd.GeoDataFrame(
        {
            "adcode": ["510104", "510105"],
            "name": ["West test county", "East test county"],
            "city_code": ["510100", "510100"],
        },
        geometry=[_lonlat(west), _lonlat(east)],
        crs=4326,
    )
    city = gpd.GeoDataFrame(
        {"adcode": ["510100"], "name": ["Test city"]},
        geometry=[_lonlat(shapely.box(-30000.0, -30000.0, 30000.0, 30000.0))],
        crs=4326,
    )
    units_m = [
        shapely.box(-30000.0, -30000.0, -12000.0, 30000.0),
        shapely.box(-12000.0, -30000.0, 0.0, 30000.0),
        shapely.box(0.0, -12000.0, 15000.0, 12000.0),
        shapely.difference(east, shapely.box(0.0, -12000.0, 15000.0, 12000.0)),
    ]
    units = gpd.GeoDataFrame(
        {
            "unit_code": ["ZH51010410001", "ZH51010420001", "ZH51010520001", "ZH51010530001"],
            "unit_name": ["West hills", "West town", "East park", "East farmland"],
            "category": ["优先保护单元", "重点管控单元", "重点管控单元", "一般管控单元"],
            "subtype": ["一般生态空间", "城镇生活类", "产业集聚类", "农业农村"],
        },
        geometry=[_lonlat(g) for g in units_m],
        crs=4490,
    )
    slon, slat = to_ll.transform(
        np.array([-3000.0, 9000.0, -18000.0, 21000.0]),
        np.array([3000.0, -3000.0, 15000.0, 18000.0]),
    )
    stations = pd.DataFrame(
        {
            "station_id": ["T1", "T2", "T3", "T4"],
            "name": ["Centre", "East", "North-west background", "North-east"],
            "lon": slon,
            "lat": slat,
            "height": [30.0, 30.0, 10.0, 10.0],
            "kind": ["urban", "urban", "background", "regional"],
            "species": ["CO2,NO2,VOC", "CO2,NO2", "CO2,NO2", "CO2,NO2"],
            "synthetic": True,
        }
    )
    lon0, lat0 = to_ll.transform(-30000.0, -30000.0)
    lon1, lat1 = to_ll.transform(30000.0, 30000.0)
    bounds = (np.floor(lon0) - 1, np.floor(lat0) - 1, np.ceil(lon1) + 1, np.ceil(lat1) + 1)
    landcover = {
        "urban": urban,
        "cropland": rural * 0.6,
        "forest": rural * 0.4,
        "water": np.zeros_like(r),
        "other": np.zeros_like(r),
    }
    empty = gpd.GeoDataFrame({"adcode": [], "name": []}, geometry=[], crs=4326)
    return Scenario(
        name="test-region",
        species=DEFAULT_SPECIES,
        grid=grid,
        region=region_m,
        boundaries={
            "province": gpd.GeoDataFrame(
                {"adcode": ["510000"], "name": ["Test province"]},
                geometry=[_lonlat(region_m)],
                crs=4326,
            ),
            "city": city,
            "county": counties,
            "neighbours": empty,
        },
        landcover=landcover,
        inventory=inventory,
        stations=stations,
        meteorology=SteadyMeteorology(bounds),
        control_units=units,
        cities={"510100": "Test city"},
        input_checksums={},
        synthetic_components=("everything (a test region built in code)",),
    )
