"""Inputs for the map tests, built in code.

* ``small_*``: a 14 × 12-cell grid near Hangzhou, 48 hours, a few units with hostile names and
  the zoning stage's columns, their diurnal and monthly series, a daily hotspot Dataset as the
  zoning stage writes it, a few stations, boundaries around the grid: fast, and every value
  known.  :func:`small_inputs` puts them into a :class:`~gridcarbon.contracts.MapInputs`.
* :func:`default_inputs`: the embedded default at full size (157 × 163 cells, January 2023,
  ~2,000 synthetic units from ``gridcarbon.scenario.synthetic_units``, the synthetic station network, the
  real boundaries), for the size budget and the browser test of the default map.  The units,
  their series and the hotspots come from the real zoning stage
  (``gridcarbon.zoning.stage.run_zoning``).  The posterior and the station series are made here
  (the real inversion takes over a minute on the default; ``test_stages.py`` runs the whole
  pipeline on a coarse grid).
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import xarray as xr

from gridcarbon.contracts import MapInputs, ZoningResult, colocation_set_name
from gridcarbon.grids.dataset import emission_dataset
from gridcarbon.grids.gridspec import GridSpec, default_crs
from gridcarbon.io.tables import write_csv
from gridcarbon.species import DEFAULT_SPECIES, Species

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


def add_species(ds: xr.Dataset, species: Species, like: str, factor: float) -> xr.Dataset:
    """``ds`` with one more species: area and point emissions ``factor`` × those of ``like``."""
    out = ds.copy()
    out[species.name] = (
        (ds[like] * factor)
        .astype(np.float32)
        .assign_attrs(long_name=f"{species.long_name} emission from area sources per grid cell")
    )
    if f"{like}_point" in ds:
        out[f"{species.name}_point"] = (ds[f"{like}_point"] * factor).astype(np.float32)
    return out


def small_posterior(prior: xr.Dataset, species: tuple[Species, ...] = DEFAULT_SPECIES):
    """Posterior = prior scaled up in the east, down in the west, with σ fields."""
    post = prior.copy(deep=True)
    nx = prior.sizes["x"]
    scale = np.linspace(0.7, 1.3, nx)[None, None, :]
    for sp in (s.name for s in species):
        post[sp] = (prior[sp] * scale).astype(np.float32)
        post[f"{sp}_prior_std"] = (("y", "x"), np.full((prior.sizes["y"], nx), 0.5))
        post[f"{sp}_std"] = (("y", "x"), np.tile(np.linspace(0.5, 0.1, nx), (prior.sizes["y"], 1)))
    return post


def small_units(grid: GridSpec) -> gpd.GeoDataFrame:
    """Four units tiling the grid, two of them with hostile names; the zoning stage's columns."""
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
            "area_km2": [81.0, 81.0, 81.0, 81.0],
            "CO2_kg": [1.5e8, 2.0e7, 3.0e6, 8.0e7],
            "CO2_t_per_km2": [4000.0, 500.0, 90.0, 2500.0],
            "coloc_all_cell_days": [12.0, 1.0, 0.0, 4.8],
            "coloc_all_hours": [120.0, 10.0, 0.0, 48.0],
            "pathway": ["park co-control", XSS_IMG, "", "living & transport <b>"],
        },
        geometry=boxes,
        crs=grid.crs,
    )
    return gdf.to_crs("EPSG:4490")


def small_diurnal(units: gpd.GeoDataFrame, species: tuple[Species, ...] = DEFAULT_SPECIES):
    """The zoning stage's diurnal profile ``(unit, hour, species)``, kg h-1."""
    codes = units["unit_code"].to_numpy()
    h = np.arange(24)
    shape = 1 + np.sin(2 * np.pi * (h - 6) / 24)
    rng = np.random.default_rng(1)
    amp = rng.uniform(1, 100, codes.size)
    scale = 10.0 ** np.arange(len(species))[::-1]
    values = amp[:, None, None] * shape[None, :, None] * scale[None, None, :]
    return xr.DataArray(
        values,
        dims=("unit", "hour", "species"),
        coords={"unit": codes, "hour": h, "species": [s.name for s in species]},
        name="diurnal_profile",
        attrs={"units": "kg h-1"},
    )


def small_tally_month(
    units: gpd.GeoDataFrame, species: tuple[Species, ...] = DEFAULT_SPECIES
) -> xr.Dataset:
    """The zoning stage's monthly tally: ``<sp> (unit, month)`` kg, twelve Beijing months."""
    codes = units["unit_code"].to_numpy()
    rng = np.random.default_rng(2)
    amp = rng.uniform(1, 100, codes.size)
    months = pd.date_range("2023-01-01", periods=12, freq="MS")
    return xr.Dataset(
        {
            s.name: (
                ("unit", "month"),
                np.outer(amp * (k + 1), np.linspace(1, 2, 12)),
                {"units": "kg"},
            )
            for k, s in enumerate(species)
        },
        coords={"unit": codes, "month": months},
    )


def colocation(bins: dict[str, np.ndarray], min_bin: int = 1) -> dict[str, np.ndarray]:
    """``coloc_<set>`` variables from per-species Gi* bins, as the zoning stage makes them:
    the weakest bin where every species of the set is hot (``all`` for three or more species
    and each pair then; the pair itself for two)."""
    names = tuple(bins)
    sets = ([names] if len(names) >= 3 else []) + list(itertools.combinations(names, 2))
    out = {}
    for combo in sets:
        stack = np.stack([bins[n] for n in combo])
        hot = (stack >= min_bin).all(axis=0)
        out[f"coloc_{colocation_set_name(combo)}"] = np.where(hot, stack.min(axis=0), 0).astype(
            np.int8
        )
    return out


def small_hotspots(
    grid: GridSpec, steps: int = 5, species: tuple[Species, ...] = DEFAULT_SPECIES
) -> xr.Dataset:
    """A daily hotspot Dataset: a 2 × 2 block hot in every species at 99 %, a cell hot in the
    first two species at 95 % on three days, a cold spot (no co-location with one species)."""
    shape = (steps, grid.ny, grid.nx)
    b = {s.name: np.zeros(shape, np.int8) for s in species}
    for sp in b:
        b[sp][:, 2:4, 2:4] = 3
    for sp in list(b)[:2]:
        b[sp][:3, 8, 10] = 2
    b[list(b)[-1]][:, 0, 0] = -3  # cold spot: not a hotspot
    t = pd.date_range("2023-01-02", periods=steps, freq="D")
    data = {f"{sp}_bin": (("time", "y", "x"), v) for sp, v in b.items()}
    data |= {k: (("time", "y", "x"), v) for k, v in colocation(b).items()}
    return xr.Dataset(data, coords={"time": t})


def small_zoning(grid: GridSpec, species: tuple[Species, ...] = DEFAULT_SPECIES) -> ZoningResult:
    """A zoning result with the fields the map reads."""
    units = small_units(grid)
    return ZoningResult(
        units=units,
        tally_month=small_tally_month(units, species),
        diurnal=small_diurnal(units, species),
        hotspots={"day": small_hotspots(grid, species=species)},
    )


def small_boundaries(grid: GridSpec, name: str = "Test province") -> dict[str, gpd.GeoDataFrame]:
    """Province, city and county outlines around the grid (lon/lat), named ``name``."""
    x0, y0, x1, y1 = grid.bounds
    out = {}
    for k, level in enumerate(("province", "city", "county")):
        d = 1000.0 * (k + 1)
        box = gpd.GeoSeries([shapely.box(x0 + d, y0 + d, x1 - d, y1 - d)], crs=grid.crs)
        out[level] = gpd.GeoDataFrame({"name": [name]}, geometry=box.to_crs("EPSG:4326"))
    return out


@functools.lru_cache(maxsize=1)
def zhejiang_boundaries() -> dict[str, gpd.GeoDataFrame]:
    """The embedded province, city and county outlines (the default map's base layer)."""
    from gridcarbon.scenario.geography import load_boundaries

    return {level: load_boundaries(level) for level in ("province", "city", "county")}


def small_inputs(
    grid: GridSpec | None = None,
    species: tuple[Species, ...] = DEFAULT_SPECIES,
    prior: xr.Dataset | None = None,
) -> MapInputs:
    """Every input of the map on the small grid (``prior``: default :func:`small_prior`)."""
    grid = grid or small_grid()
    prior = small_prior(grid) if prior is None else prior
    stations = small_stations(grid)
    return MapInputs(
        prior=prior,
        posterior=small_posterior(prior, species),
        zoning=small_zoning(grid, species),
        stations=stations,
        station_series=small_station_series(stations),
        boundaries=small_boundaries(grid),
        species=species,
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
def default_inputs() -> MapInputs:
    """Full-size inputs of the default scenario (see module docstring)."""
    from gridcarbon.config import RunConfig
    from gridcarbon.pipeline import build_prior, zoning_inputs
    from gridcarbon.scenario.stations import default_network
    from gridcarbon.zoning.stage import run_zoning

    cfg = RunConfig()
    prior = build_prior()
    grid = GridSpec.from_dataset(prior)
    inputs = zoning_inputs(cfg, grid)
    zoning = run_zoning(prior, inputs.units, cfg.zoning, species=DEFAULT_SPECIES, qa=inputs.qa)
    rng = np.random.default_rng(2023)
    # posterior: smooth multiplicative corrections with uncertainty fields (inversion-shaped)
    yy, xx = np.mgrid[0 : grid.ny, 0 : grid.nx]
    corr = 1 + 0.25 * np.sin(xx / 17.0) * np.cos(yy / 23.0)
    post = prior.copy()
    for sp in DEFAULT_SPECIES:
        post[sp.name] = (prior[sp.name] * corr[None]).astype(np.float32)
        post[f"{sp.name}_prior_std"] = (("y", "x"), np.full(grid.shape, 0.5))
        post[f"{sp.name}_std"] = (("y", "x"), 0.5 * (0.3 + 0.7 * np.abs(np.cos(xx / 9.0))))
    stations = default_network()
    return MapInputs(
        prior=prior,
        posterior=post,
        zoning=zoning,
        stations=stations,
        station_series=_station_series(stations, prior["time"].values, rng),
        boundaries=zhejiang_boundaries(),
    )


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


def write_run_folder(run: Path, inputs: MapInputs, config_yaml: str | None = None) -> None:
    """A run folder holding ``inputs`` under the file names of ``gridcarbon run`` (the daily
    tally: the monthly sums, suffixed ``_monthly``, and the daily ones of the first month)."""
    run.mkdir()
    inputs.prior.to_netcdf(run / "prior.nc")
    if inputs.posterior is not None:
        inputs.posterior.to_netcdf(run / "posterior.nc")
    z = inputs.zoning
    z.units.to_file(run / "zone_units.gpkg", layer="zone_units")
    z.diurnal.to_dataset().to_netcdf(run / "zone_diurnal.nc")
    monthly = z.tally_month.rename({v: f"{v}_monthly" for v in z.tally_month.data_vars})
    daily = z.tally_month.isel(month=0, drop=True).expand_dims(
        day=pd.date_range("2023-01-01", periods=2, freq="D")
    )
    xr.merge([monthly, daily.transpose("unit", "day") / 31.0]).to_netcdf(
        run / "zone_tally_daily.nc"
    )
    z.hotspots["day"].to_netcdf(run / "hotspots_day.nc")
    stats = inputs.stations.assign(species="CO2", n_obs=96)
    write_csv(stats, run / "station_stats.csv")
    write_csv(inputs.station_series, run / "station_series.csv")
    if config_yaml is not None:
        (run / "config.yaml").write_text(config_yaml, encoding="utf-8")


def layer_control_names(page: str) -> list[str]:
    """Overlay names in the layer control of a rendered map page."""
    m = re.search(
        r"var layer_control_\w+_layers = \{\s*base_layers : \{(.*?)\},\s*overlays :  \{(.*?)\},",
        page,
        re.S,
    )
    assert m, "no layer control in the page"
    return [json.loads(f'"{n}"') for n in re.findall(r'"((?:[^"\\]|\\.)*)" :', m.group(2))]
