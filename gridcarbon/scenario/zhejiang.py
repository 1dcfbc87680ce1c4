"""The embedded Zhejiang default as one :class:`~gridcarbon.contracts.Scenario` value.

Real geography (Tianditu boundaries, MODIS land cover, census population, GeoNames places, the
province's named industrial parks) carrying a synthetic inventory and facility catalogue,
synthetic stations, meteorology and control units; every synthetic part is named in
``synthetic_components`` so that every output can say so.  The stages never import this
module: the pipeline builds the value and hands it to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import xarray as xr

from gridcarbon.config import GridConfig, RunConfig
from gridcarbon.contracts import Scenario
from gridcarbon.grids.gridspec import GridSpec, default_crs, parse_crs
from gridcarbon.io.geodata import package_data_path
from gridcarbon.io.provenance import input_checksums
from gridcarbon.scenario.geography import (
    BOUNDARY_FILES,
    PLACES_FILE,
    load_boundaries,
    region_polygon,
)
from gridcarbon.scenario.landcover import LANDCOVER_FILE, landcover_fractions
from gridcarbon.scenario.meteorology import synthetic_met
from gridcarbon.scenario.stations import default_network
from gridcarbon.scenario.synthetic_units import default_units
from gridcarbon.scenario.zhejiang_inventory import zhejiang_inventory

__all__ = [
    "SyntheticMeteorology",
    "zhejiang_grid",
    "zhejiang_input_files",
    "zhejiang_scenario",
    "ZHEJIANG_CITIES",
    "PACKAGE_DATA_FILES",
]

#: Package data files the Zhejiang scenario reads (``gridcarbon/data``).
PACKAGE_DATA_FILES: tuple[str, ...] = (*BOUNDARY_FILES.values(), LANDCOVER_FILE, PLACES_FILE)

#: Cities whose CO2 totals the OSSE scores by default: Hangzhou and Ningbo (point sources are 56 %
#: and 70 % of their January CO2, the hardest case for the inversion).
ZHEJIANG_CITIES: dict[str, str] = {"330100": "Hangzhou", "330200": "Ningbo"}


@dataclass(frozen=True)
class SyntheticMeteorology:
    """Deterministic synthetic hourly meteorology (see :mod:`gridcarbon.scenario.meteorology`)."""

    seed: int
    bounds_lonlat: tuple[float, float, float, float] = (117.0, 26.0, 124.0, 32.5)
    synthetic: bool = True
    hour_shift_h: int = 0  # clock of the diurnal cycles, hours from Beijing time

    def for_hours(self, hours_utc) -> xr.Dataset:
        """ERA5-like fields (``u10``, ``v10``, ``blh``, ``tcc``, ``t2m``) for these UTC hours."""
        return synthetic_met(
            pd.DatetimeIndex(hours_utc),
            self.bounds_lonlat,
            seed=self.seed,
            hour_shift_h=self.hour_shift_h,
        )


def zhejiang_grid(config: GridConfig) -> GridSpec:
    """The grid of a grid section: its explicit extent, or Zhejiang's region (land plus
    territorial sea) plus ``buffer_m``, on the configured (default Albers/CGCS2000) CRS."""
    crs = default_crs() if config.crs is None else parse_crs(config.crs)
    if config.extent is not None:
        e = config.extent
        return GridSpec(crs.to_wkt(), e.x_min, e.y_max, config.cell_size_m, e.nx, e.ny)
    x0, y0, x1, y1 = region_polygon(crs, config.territorial_sea_m).bounds
    b = config.buffer_m
    return GridSpec.from_bounds((x0 - b, y0 - b, x1 + b, y1 + b), config.cell_size_m, crs)


def zhejiang_input_files(config: RunConfig) -> dict[str, Path]:
    """The files a Zhejiang run of ``config`` reads, by the label its outputs record them under:
    the package data (``gridcarbon/data/<name>``) and the user's point-source CSV."""
    files = {f"gridcarbon/data/{name}": package_data_path(name) for name in PACKAGE_DATA_FILES}
    csv = config.prior.point_sources_csv
    if csv is not None:
        files[str(csv)] = Path(csv)
    return files


def zhejiang_scenario(config: RunConfig | None = None, with_units: bool = True) -> Scenario:
    """The embedded Zhejiang default for ``config``.

    Parameters
    ----------
    config : RunConfig, optional
        Grid, sectors, species, seeds and the user's point-source file; default: the defaults.
    with_units : bool
        Build the synthetic control units (a few seconds); False when the run brings its own
        units file or does not tally zones.
    """
    config = RunConfig() if config is None else config
    grid = zhejiang_grid(config.grid)
    inventory = zhejiang_inventory(config, grid)
    species = config.species_values()
    components = [
        "provincial sector totals (assumed)",
        "station network",
        "meteorology",
    ]
    if config.prior.point_sources_csv is None:
        components.insert(1, "facility catalogue")
    if with_units:
        components.append("control units (gridcarbon.scenario.units)")
    return Scenario(
        name="zhejiang",
        species=species,
        grid=grid,
        region=region_polygon(grid.crs, config.grid.territorial_sea_m),
        boundaries={
            level: load_boundaries(level) for level in ("province", "city", "county", "neighbours")
        },
        landcover=landcover_fractions(grid),
        inventory=inventory,
        stations=default_network(config.inversion.n_micro_stations, config.inversion.seed),
        meteorology=SyntheticMeteorology(seed=config.inversion.seed),
        control_units=default_units(grid) if with_units else None,
        cities=dict(ZHEJIANG_CITIES),
        input_checksums=input_checksums(zhejiang_input_files(config)),
        synthetic_components=tuple(components),
    )
