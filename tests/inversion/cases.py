"""Small SYNTHETIC cases for the inversion's tests and benchmarks (not the default scenario).

:func:`small_case` builds a window of the Zhejiang grid around Hangzhou–Shaoxing with a
synthetic prior (urban-weighted area sources with a diurnal profile, a few stacks), the default
network's stations inside the window, synthetic met and land cover, and the
:class:`~gridcarbon.contracts.Scenario` that carries them to the stage (no neighbouring regions,
no cities, no inventory: the sector shares of the area sources are given with the case).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
import xarray as xr

from gridcarbon.contracts import Scenario
from gridcarbon.grids.dataset import emission_dataset
from gridcarbon.grids.gridspec import GridSpec, default_crs
from gridcarbon.io.meteorology_file import DatasetMeteorology
from gridcarbon.scenario.meteorology import synthetic_met
from gridcarbon.scenario.stations import default_network
from gridcarbon.species import DEFAULT_SPECIES, Species, by_name

__all__ = ["SmallCase", "small_case"]


@dataclass
class SmallCase:
    prior: xr.Dataset
    stations: pd.DataFrame
    met: xr.Dataset
    landcover: dict
    area_shares: dict
    scenario: Scenario


def small_case(
    lon=(119.85, 120.75),
    lat=(29.85, 30.55),
    days: int = 7,
    species=("CO2", "NOx", "VOC"),
    n_points: int = 8,
    seed: int = 7,
    cell_size: float = 3000.0,
    max_stations: int | None = None,
    extra_species: tuple[Species, ...] = (),
) -> SmallCase:
    """A small synthetic case (see module docstring); ``extra_species`` get area emissions shaped
    like the industrial part of the first species (a thousandth of it)."""
    crs = default_crs()
    import pyproj

    tr = pyproj.Transformer.from_crs(crs.geodetic_crs, crs, always_xy=True)
    xs, ys = tr.transform([lon[0], lon[1], lon[0], lon[1]], [lat[0], lat[0], lat[1], lat[1]])
    grid = GridSpec.from_bounds((min(xs), min(ys), max(xs), max(ys)), cell_size, crs)
    rng = np.random.default_rng(seed)
    lonc, latc = grid.lonlat()
    # urban "cores" at Hangzhou and Shaoxing
    urb = np.zeros(grid.shape)
    for cx, cy, r in ((120.17, 30.27, 0.12), (120.58, 30.0, 0.08)):
        urb += np.exp(-(((lonc - cx) / r) ** 2 + ((latc - cy) / r) ** 2))
    urb = np.clip(urb, 0, 1)
    forest = np.clip(1 - urb - 0.3, 0, 1) * (latc < 30.15)
    crop = np.clip(1 - urb - forest, 0, 1)
    lc = {"urban": urb, "forest": forest, "cropland": crop, "water": 0 * urb, "other": 0 * urb}
    base = (0.15 + 3.0 * urb) * rng.lognormal(0, 0.5, grid.shape)
    traffic = (0.05 + 1.5 * urb) * rng.lognormal(0, 0.3, grid.shape)
    start = pd.Timestamp("2023-01-01") - pd.Timedelta(hours=8)
    times = pd.date_range(start, periods=24 * days, freq="h")
    bj = ((times.hour + 8) % 24).to_numpy()
    diurnal_ind = 0.8 + 0.4 * np.clip(np.sin(np.pi * (bj - 6) / 14), 0, None)
    diurnal_tr = (
        0.4
        + 1.2 * (np.exp(-(((bj - 8) / 2.0) ** 2)) + np.exp(-(((bj - 18) / 2.0) ** 2)))
        + 0.4 * ((bj > 6) & (bj < 21))
    )
    per_sp = {"CO2": (20000.0, 6000.0), "NOx": (40.0, 25.0), "VOC": (30.0, 8.0)}
    area, shares = {}, {}
    for s in species:
        a, b = per_sp[s]
        ind = a * base
        tra = b * traffic
        area[s] = (
            diurnal_ind[:, None, None] * ind[None] + diurnal_tr[:, None, None] * tra[None]
        ).astype(np.float32)
        tot = ind * diurnal_ind.sum() + tra * diurnal_tr.sum()
        shares[s] = {
            "industry_other": (ind * diurnal_ind.sum() / tot).ravel(),
            "road_transport": (tra * diurnal_tr.sum() / tot).ravel(),
        }
    pts = None
    pem = None
    if n_points:
        prow = rng.integers(2, grid.ny - 2, n_points)
        pcol = rng.integers(2, grid.nx - 2, n_points)
        plon, plat = lonc[prow, pcol], latc[prow, pcol]
        sectors = np.array(
            ["power", "industry_petrochemical", "industry_cement", "industry_other"]
        )[np.arange(n_points) % 4]
        pts = pd.DataFrame(
            {
                "point_id": [f"P{i:03d}" for i in range(n_points)],
                "name": [f"Synthetic stack #{i}" for i in range(n_points)],
                "sector": sectors,
                "park": "synthetic",
                "lon": plon,
                "lat": plat,
                "row": prow,
                "col": pcol,
                "stack_height_m": rng.uniform(40, 150, n_points),
                "stack_diameter_m": rng.uniform(2, 5, n_points),
                "exit_velocity_m_s": rng.uniform(8, 20, n_points),
                "exit_temperature_K": rng.uniform(350, 450, n_points),
            }
        )
        strength = rng.lognormal(0, 0.7, n_points)
        pem = {}
        for s in species:
            k = {"CO2": 150000.0, "NOx": 300.0, "VOC": 60.0}[s]
            pem[s] = np.repeat((k * strength)[None, :], times.size, axis=0).astype(np.float32)
    prior = emission_dataset(
        grid,
        times,
        area,
        points=pts,
        point_emissions=pem,
        region_fraction=np.ones(grid.shape),
        attrs={"synthetic": "true", "title": "small synthetic test prior"},
    )
    net = default_network()
    x, y = grid.project(net.lon.to_numpy(), net.lat.to_numpy())
    x0, y0, x1, y1 = grid.bounds
    inside = (x > x0 + 2000) & (x < x1 - 2000) & (y > y0 + 2000) & (y < y1 - 2000)
    st = net[inside].reset_index(drop=True)
    if max_stations is not None:
        st = st.iloc[:max_stations].reset_index(drop=True)
    for extra in extra_species:
        prior[extra.name] = (
            ("time", "y", "x"),
            (1e-3 * area[species[0]]).astype(np.float32),
            {**prior[species[0]].attrs, "long_name": f"{extra.long_name} emission per cell"},
        )
    met = synthetic_met(times, seed=seed)
    scenario = Scenario(
        name="small synthetic case",
        species=(*(by_name(DEFAULT_SPECIES, s) for s in species), *extra_species),
        grid=grid,
        region=shapely.box(*grid.bounds),
        boundaries={},
        landcover=lc,
        inventory=None,
        stations=st,
        meteorology=DatasetMeteorology(met),
        control_units=None,
        synthetic_components=("prior", "station network", "meteorology", "land cover"),
    )
    return SmallCase(prior, st, met, lc, shares, scenario)
