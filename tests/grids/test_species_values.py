"""Species are values: a new one flows through the prior into every prior output, and the grids
and io layers spell no species name."""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr

import gridcarbon
from gridcarbon.config import PeriodConfig, RunConfig
from gridcarbon.grids.dataset import species_attrs, species_in
from gridcarbon.grids.prior import prior_grids
from gridcarbon.io import open_grids
from gridcarbon.io.tables import read_csv_table
from gridcarbon.pipeline import write_prior
from gridcarbon.scenario.zhejiang import zhejiang_grid
from gridcarbon.scenario.zhejiang_inventory import zhejiang_inventory
from gridcarbon.species import CO2, DEFAULT_SPECIES, NOX, VOC
from tests.conftest import small_config

#: A made-up fourth species with its own sector totals (kg per year).
from tests.seams import SO2

SO2_AREA_KG = {"power": 0.0, "road_transport": 3.0e6}
SO2_POINT_SHARE = 0.25  # of each stack's CO2 mass, to give the stacks an SO2 total

PACKAGE = Path(gridcarbon.__file__).parent
SPECIES_NAMES = {sp.name for sp in DEFAULT_SPECIES} | {sp.observed_as for sp in DEFAULT_SPECIES}


def _with_so2(inventory):
    """The inventory with an SO2 column in its area totals and its point-source table."""
    area = inventory.area_totals.copy()
    area["SO2"] = [SO2_AREA_KG[s] for s in inventory.sectors]
    points = inventory.points.copy()
    points["SO2"] = SO2_POINT_SHARE * points["CO2"]
    return dataclasses.replace(inventory, area_totals=area, points=points)


@pytest.fixture(scope="module")
def so2_prior():
    cfg = small_config(sectors=["power", "road_transport"])
    inventory = _with_so2(zhejiang_inventory(cfg, zhejiang_grid(cfg.grid)))
    species = (*DEFAULT_SPECIES, SO2)
    return cfg, inventory, prior_grids(inventory, cfg.period, species, attrs={"synthetic": "true"})


def test_a_fourth_species_is_gridded_with_its_cf_attributes(so2_prior):
    cfg, inventory, ds = so2_prior
    assert species_in(ds) == ["CO2", "NOx", "VOC", "SO2"]
    assert ds["SO2"].dims == ("time", "y", "x") and ds["SO2"].dtype == np.float32
    assert ds["SO2"].attrs == {
        "long_name": "sulphur dioxide emission from area sources per grid cell",
        "units": "kg h-1",
        "cell_methods": "area: sum time: mean",
        "grid_mapping": "crs",
        "coordinates": "lat lon",
    }
    assert ds["SO2_point"].attrs["long_name"] == "SO2 emission from point sources"
    # stacks follow the same hourly profiles as their CO2, scaled by the SO2 share
    np.testing.assert_allclose(
        ds["SO2_point"].values, SO2_POINT_SHARE * ds["CO2_point"].values, rtol=1e-6
    )
    # the area part: the road-transport total spread over the year (3 of 365 days here)
    road = float(ds["SO2"].sum(dtype=np.float64))
    assert SO2_AREA_KG["road_transport"] * 1 / 365 < road < SO2_AREA_KG["road_transport"] * 6 / 365
    # the other species are unchanged by the new one
    alone = prior_grids(inventory, cfg.period, DEFAULT_SPECIES)
    for sp in ("CO2", "NOx", "VOC", "CO2_point"):
        xr.testing.assert_identical(alone[sp], ds[sp])


def test_a_fourth_species_reaches_every_prior_output(so2_prior, tmp_path):
    cfg, _, ds = so2_prior
    files = write_prior(RunConfig(output={"formats": ["netcdf", "geotiff"]}), ds, tmp_path)
    back = open_grids(files["prior_netcdf"])
    assert species_in(back) == ["CO2", "NOx", "VOC", "SO2"]
    assert back["SO2"].attrs["long_name"] == ds["SO2"].attrs["long_name"]
    np.testing.assert_array_equal(back["SO2_point"].values, ds["SO2_point"].values)
    back.close()
    with rasterio.open(files["prior_geotiff"]) as src:
        assert src.count == 4
        assert src.descriptions[3] == "SO2 total emission over the period (kg per cell)"
        assert src.tags(4)["species"] == "SO2"
        band = src.read(4).astype(np.float64)
    expected = float(ds["SO2"].sum(dtype=np.float64)) + float(ds["SO2_point"].sum(dtype=np.float64))
    np.testing.assert_allclose(np.nansum(band), expected, rtol=1e-5)
    table = read_csv_table(files["prior_points"])
    assert "SO2_kg_period" in table.columns
    np.testing.assert_allclose(
        table["SO2_kg_period"].to_numpy(),
        ds["SO2_point"].sum("time", dtype=np.float64).values,
        rtol=1e-6,
    )


def test_cf_long_names_come_from_the_species_values():
    assert species_attrs(SO2)["long_name"].startswith("sulphur dioxide emission")
    assert species_attrs(NOX)["long_name"] == (
        "nitrogen oxides emission (as NO2 mass) from area sources per grid cell"
    )
    assert species_attrs(CO2)["long_name"].startswith("carbon dioxide emission")
    assert species_attrs(VOC)["long_name"].startswith("non-methane volatile organic compounds")


def test_an_undeclared_species_is_refused():
    from gridcarbon.errors import InputDataError
    from gridcarbon.grids.dataset import emission_dataset

    grid = zhejiang_grid(small_config().grid)
    time = pd.date_range("2023-01-01", periods=2, freq="h")
    area = {"SO2": np.zeros((2, *grid.shape))}
    with pytest.raises(InputDataError, match="unknown species 'SO2'"):
        emission_dataset(grid, time, area)
    ds = emission_dataset(grid, time, area, species=(SO2,))
    assert species_in(ds) == ["SO2"]


def test_the_period_shapes_the_prior_not_the_species():
    cfg = small_config(sectors=["road_transport"])
    inventory = _with_so2(zhejiang_inventory(cfg, zhejiang_grid(cfg.grid)))
    day = PeriodConfig(start=dt.date(2023, 3, 1), end=dt.date(2023, 3, 1))
    ds = prior_grids(inventory, day, (SO2,))
    assert list(ds.data_vars) == ["crs", "time_bnds", "SO2", "SO2_point", "region_fraction"]
    assert ds.sizes["time"] == 24


def _spelled_species(path: Path) -> list[str]:
    """String constants (docstrings included) of ``path`` that name a default species."""
    names = "|".join(sorted(SPECIES_NAMES, key=len, reverse=True))
    pattern = re.compile(rf"(?<![A-Za-z0-9])(?:{names})(?![A-Za-z0-9])")
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for name in sorted(set(pattern.findall(node.value))):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {name}")
    return found


@pytest.mark.parametrize("layer", ["grids", "io"])
def test_layer_spells_no_species_name(layer):
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert files
    problems = [p for f in files for p in _spelled_species(f)]
    assert problems == []
