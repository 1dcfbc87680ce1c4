"""Inputs for the map tests, built in code.

* ``small_*``: a 14 × 12-cell grid near Hangzhou, 48 hours, a few units with hostile names, a few
  stations, hotspot bins: fast, and every value known.
* :func:`default_inputs`: the embedded default at full size (157 × 163 cells, January 2023,
  ~2,000 synthetic units from ``gridcarbon.scenario.synthetic_units``, the synthetic station
  network), for the size budget and the browser test of the default map.  The units, their series and the
  hotspots come from the real zoning stage (``gridcarbon.zoning.stage.run_zoning``).  The
  posterior and the station series are made here (the real inversion takes over a minute on the
  default; the integration test ``test_stages.py`` runs it on a coarse grid).
"""

from __future__ import annotations

import functools
import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import xarray as xr

from gridcarbon.grids.dataset import emission_dataset
from gridcarbon.grids.gridspec import GridSpec, default_crs

XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_SCRIPT = "</script><script>alert(1)</script>"
XSS_ATTR = '" onmouseover="alert(1)" x="\'&amp;'


def small_grid(nx: int = 14, ny: int = 12, lon: float = 120.15, lat: float = 30.25) -> GridSpec:
    """A small grid whose north-west corner cell is near ``lon``/``lat``."""
    crs = default_crs()
    g0 = GridSpec.from_bounds((0, 0, 3000, 3000), 3000.0, crs)
    x, y = g0.project(lon, lat)
    x0 = np.floor(float(x) / 3000) * 3000
    y1 = np.ceil(float(y) / 3000) * 3000
    return GridSpec(crs.to_wkt(), x0, y1, 3000.0, nx, ny)


def small_prior(
    grid: GridSpec | None = None,
    hours: int = 48,
    hot: tuple[int, int] | None = None,
) -> xr.Dataset:
    """Prior Dataset on ``grid``: smooth fields spanning three decades, two point sources.

    With ``hot=(row, col)`` every field is 0 except that cell (for the placement test).
    """
    grid = grid or small_grid()
    time = pd.date_range("2023-01-01T16:00", periods=hours, freq="h")  # Beijing Jan 2 00:00
    rr, cc = np.mgrid[0 : grid.ny, 0 : grid.nx]
    base = 10.0 ** (3.0 * (rr + cc) / (grid.ny + grid.nx - 2))  # 1 … 1000
    diurnal = 1 + 0.5 * np.sin(2 * np.pi * (np.arange(hours) % 24) / 24)
    area = {}
    for k, sp in enumerate(("CO2", "NOx", "VOC")):
        f = base * (1000.0, 1.0, 0.5)[k]
        if hot is not None:
            f = np.zeros_like(base)
            f[hot] = 100.0
        area[sp] = (diurnal[:, None, None] * f[None]).astype(np.float32)
    points = None
    pe = None
    if hot is None:
        lon, lat = grid.cell_center_lonlat(np.array([3, 8]), np.array([4, 10]))
        points = pd.DataFrame(
            {
                "point_id": ["P1", "P2"],
                "name": ["Test plant #1", "Test plant #2"],
                "sector": ["power", "industry_chemical"],
                "park": ["", ""],
                "lon": lon,
                "lat": lat,
                "row": [3, 8],
                "col": [4, 10],
                "stack_height_m": [100.0, 40.0],
                "stack_diameter_m": [5.0, 2.0],
                "exit_velocity_m_s": [15.0, 8.0],
                "exit_temperature_K": [400.0, 330.0],
            }
        )
        pe = {
            sp: np.full((hours, 2), (5e5, 300.0, 20.0)[k], np.float32)
            for k, sp in enumerate(("CO2", "NOx", "VOC"))
        }
    rf = np.ones(grid.shape)
    return emission_dataset(
        grid,
        time,
        area,
        points,
        pe,
        rf,
        attrs={"synthetic": "true", "synthetic_components": "test fixture"},
    )


def small_posterior(prior: xr.Dataset) -> xr.Dataset:
    """Posterior = prior scaled up in the east, down in the west, with σ fields."""
    post = prior.copy(deep=True)
    nx = prior.sizes["x"]
    scale = np.linspace(0.7, 1.3, nx)[None, None, :]
    for sp in ("CO2", "NOx", "VOC"):
        post[sp] = (prior[sp] * scale).astype(np.float32)
        post[f"{sp}_prior_std"] = (("y", "x"), np.full((prior.sizes["y"], nx), 0.5))
        post[f"{sp}_std"] = (("y", "x"), np.tile(np.linspace(0.5, 0.1, nx), (prior.sizes["y"], 1)))
    return post


def small_units(grid: GridSpec) -> gpd.GeoDataFrame:
    """Four units tiling the grid, two of them with hostile names."""
    x0, y0, x1, y1 = grid.bounds
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    boxes = [
        shapely.box(x0, ym, xm, y1),
        shapely.box(xm, ym, x1, y1),
        shapely.box(x0, y0, xm, ym),
        shapely.box(xm, y0, x1, ym),
    ]
    gdf = gpd.GeoDataFrame(
        {
            "unit_code": ["ZH33010220001", "ZH33010230002", "ZH33010210003", "<b>ZH4</b>"],
            "unit_name": [XSS_IMG, XSS_SCRIPT, "上城区优先保护单元1", XSS_ATTR],
            "category": ["key_control", "general_control", "priority_protection", "key_control"],
            "subtype": ["industrial_agglomeration", "general", "ecological", "urban_living"],
            "CO2_total_t": [1.5e5, 2.0e4, 3.0e3, 8.0e4],
            "CO2_intensity_t_km2": [4000.0, 500.0, 90.0, 2500.0],
            "colocated_hotspot_hours": [120.0, 10.0, 0.0, 48.0],
            "pathway": ["park co-control", XSS_IMG, "", "living & transport <b>"],
        },
        geometry=boxes,
        crs=grid.crs,
    )
    return gdf.to_crs("EPSG:4490")


def small_unit_series(units: gpd.GeoDataFrame) -> xr.Dataset:
    codes = units["unit_code"].to_numpy()
    h = np.arange(24)
    shape = 1 + np.sin(2 * np.pi * (h - 6) / 24)
    rng = np.random.default_rng(1)
    amp = rng.uniform(1, 100, codes.size)
    return xr.Dataset(
        {
            "colocated_hotspot_hours": (
                ("unit", "hour"),
                np.outer(amp / 10, shape),
                {"units": "h"},
            ),
            "CO2": (("unit", "hour"), np.outer(amp * 1000, shape), {"units": "kg h-1"}),
            "NOx_month": (
                ("unit", "month"),
                np.outer(amp, np.linspace(1, 2, 12)),
                {"units": "kg h-1"},
            ),
        },
        coords={"unit": codes, "hour": h, "month": np.arange(1, 13)},
    )


def small_hotspots(grid: GridSpec, steps: int = 5) -> xr.Dataset:
    """Gi* bins: a 2 × 2 co-located block at 99 %, a CO2+NOx pair cell at 95 %."""
    shape = (steps, grid.ny, grid.nx)
    b = {sp: np.zeros(shape, np.int8) for sp in ("CO2", "NOx", "VOC")}
    for sp in b:
        b[sp][:, 2:4, 2:4] = 3
    b["CO2"][:3, 8, 10] = 2
    b["NOx"][:3, 8, 10] = 2
    b["VOC"][:, 0, 0] = -3  # cold spot: not a hotspot
    t = pd.date_range("2023-01-02", periods=steps, freq="D")
    return xr.Dataset(
        {f"gi_bin_{sp}": (("time", "y", "x"), v) for sp, v in b.items()}, coords={"time": t}
    )


def small_stations(grid: GridSpec) -> pd.DataFrame:
    lon, lat = grid.cell_center_lonlat(np.array([2, 6, 9]), np.array([2, 7, 12]))
    return pd.DataFrame(
        {
            "station_id": ["BG01", "U01", "M01"],
            "name": ["Damingshan background", XSS_IMG, XSS_SCRIPT],
            "lon": lon,
            "lat": lat,
            "kind": ["background", "urban", "micro"],
        }
    )


def small_station_series(stations: pd.DataFrame, days: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    t = pd.date_range("2023-01-01T16:00", periods=24 * days, freq="h")
    recs = []
    for sid in stations["station_id"]:
        obs = 420 + 10 * np.sin(np.arange(t.size) / 4) + rng.normal(0, 1, t.size)
        recs.append(
            pd.DataFrame(
                {
                    "time": t,
                    "station_id": sid,
                    "species": "CO2",
                    "unit": "ppm",
                    "observed": obs,
                    "prior": obs + 5 + rng.normal(0, 3, t.size),
                    "posterior": obs + 1 + rng.normal(0, 1, t.size),
                }
            )
        )
    return pd.concat(recs, ignore_index=True)


# -- full-size default ----------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def default_inputs() -> dict:
    """Full-size inputs of the default scenario (see module docstring)."""
    from gridcarbon.config import RunConfig
    from gridcarbon.maps.pipeline import from_zoning_result
    from gridcarbon.pipeline import build_prior
    from gridcarbon.scenario.stations import default_network
    from gridcarbon.zoning.stage import run_zoning

    prior = build_prior()
    grid = GridSpec.from_dataset(prior)
    zoning = from_zoning_result(run_zoning(prior, RunConfig().zoning))
    rng = np.random.default_rng(2023)
    # posterior: smooth multiplicative corrections with uncertainty fields (inversion-shaped)
    yy, xx = np.mgrid[0 : grid.ny, 0 : grid.nx]
    corr = 1 + 0.25 * np.sin(xx / 17.0) * np.cos(yy / 23.0)
    post = prior.copy()
    for sp in ("CO2", "NOx", "VOC"):
        post[sp] = (prior[sp] * corr[None]).astype(np.float32)
        post[f"{sp}_prior_std"] = (("y", "x"), np.full(grid.shape, 0.5))
        post[f"{sp}_std"] = (("y", "x"), 0.5 * (0.3 + 0.7 * np.abs(np.cos(xx / 9.0))))
    stations = default_network()
    return {
        "prior": prior,
        "posterior": post,
        "units": zoning["units"],
        "unit_series": zoning["unit_series"],
        "hotspots": zoning["hotspots"],
        "stations": stations,
        "station_series": _station_series(stations, prior["time"].values, rng),
    }


def _station_series(stations: pd.DataFrame, t: np.ndarray, rng) -> pd.DataFrame:
    recs = []
    for sid in stations["station_id"]:
        obs = 420 + 8 * np.sin(np.arange(t.size) * 2 * np.pi / 24) + rng.normal(0, 2, t.size)
        recs.append(
            pd.DataFrame(
                {
                    "time": t,
                    "station_id": sid,
                    "species": "CO2",
                    "unit": "ppm",
                    "observed": obs,
                    "prior": obs + rng.normal(4, 3, t.size),
                    "posterior": obs + rng.normal(1, 1.5, t.size),
                }
            )
        )
    return pd.concat(recs, ignore_index=True)


def layer_control_names(page: str) -> list[str]:
    """Overlay names in the layer control of a rendered map page."""
    m = re.search(
        r"var layer_control_\w+_layers = \{\s*base_layers : \{(.*?)\},\s*overlays :  \{(.*?)\},",
        page,
        re.S,
    )
    assert m, "no layer control in the page"
    return [json.loads(f'"{n}"') for n in re.findall(r'"((?:[^"\\]|\\.)*)" :', m.group(2))]
