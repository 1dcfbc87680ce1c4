"""The prior grids: a function of an inventory, a period and species (``grids.prior``), and the
public verbs that build them for a scenario (``gridcarbon.build_prior``/``iter_prior``)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import numpy as np
import pytest
import rasterio
import xarray as xr

import gridcarbon
from gridcarbon.config import SECTORS, PeriodConfig
from gridcarbon.errors import InputDataError
from gridcarbon.grids.dataset import period_totals, species_in, total_grid
from gridcarbon.grids.prior import iter_prior_grids, prior_grids
from gridcarbon.io import open_grids, write_geotiff, write_netcdf, write_zarr
from gridcarbon.scenario.zhejiang import zhejiang_grid
from gridcarbon.scenario.zhejiang_inventory import PROVINCIAL_TOTALS, zhejiang_inventory
from gridcarbon.species import DEFAULT_SPECIES, resolve_species
from tests.conftest import small_config


def _year(year: int) -> dict:
    return {"start": dt.date(year, 1, 1), "end": dt.date(year, 12, 31)}


def _inventory(cfg):
    return zhejiang_inventory(cfg, zhejiang_grid(cfg.grid))


@pytest.mark.parametrize("year", [2023, 2024])
def test_annual_mass_per_sector_and_species(year):
    for sector in SECTORS:
        cfg = small_config(period=_year(year), sectors=[sector])
        species = resolve_species(cfg.species)
        area = {sp: 0.0 for sp in cfg.species}
        point = {sp: 0.0 for sp in cfg.species}
        for part in iter_prior_grids(_inventory(cfg), cfg.period, species):
            for sp in cfg.species:
                area[sp] += float(part[sp].sum(dtype=np.float64))
                point[sp] += float(part[f"{sp}_point"].sum(dtype=np.float64))
        assert part.sizes["time"] > 0
        for sp in cfg.species:
            expected = PROVINCIAL_TOTALS.loc[sector, sp]
            got = area[sp] + point[sp]
            if expected == 0:
                assert got == 0
            else:
                assert got == pytest.approx(expected, rel=1e-6), (sector, sp)


def test_sector_dimension_keeps_sector_totals():
    sectors = ["road_transport", "solvent_use", "power"]
    cfg = small_config(period=_year(2024), sectors=sectors)
    sums = 0.0
    parts = iter_prior_grids(
        _inventory(cfg), cfg.period, resolve_species(cfg.species), keep_sectors=True
    )
    for part in parts:
        assert part["CO2"].dims == ("time", "sector", "y", "x")
        sums = sums + part["VOC"].sum(("time", "y", "x"), dtype=np.float64).values
    expected_area = PROVINCIAL_TOTALS.loc[sectors, "VOC"].to_numpy()
    expected_area = expected_area * np.array([1.0, 1.0, 0.0])  # power is all point sources
    np.testing.assert_allclose(sums, expected_area, rtol=1e-6)


@pytest.mark.slow
def test_annual_mass_on_default_grid_leap_year():
    """The streamed full year on the real 3 km grid, all sectors summed (2.7 GB if held at once)."""
    cfg = small_config(grid={"cell_size_m": 3000.0}, period=_year(2024))
    total = {sp: 0.0 for sp in cfg.species}
    hours = 0
    for part in gridcarbon.iter_prior(cfg):
        hours += part.sizes["time"]
        for sp in cfg.species:
            total[sp] += float(total_grid(part, sp).sum(dtype=np.float64))
    assert hours == 8784
    for sp in cfg.species:
        assert total[sp] == pytest.approx(PROVINCIAL_TOTALS[sp].sum(), rel=1e-6)


def test_prior_layout_and_metadata(small_cfg):
    ds = gridcarbon.build_prior(small_cfg)
    assert ds["CO2"].dims == ("time", "y", "x") and ds["CO2"].dtype == np.float32
    assert ds["CO2"].attrs["units"] == "kg h-1"
    assert ds["CO2"].attrs["cell_methods"] == "area: sum time: mean"
    assert ds["CO2"].attrs["grid_mapping"] == "crs"
    assert "crs_wkt" in ds["crs"].attrs
    assert ds.attrs["Conventions"] == "CF-1.10" and ds.attrs["synthetic"] == "true"
    assert ds.attrs["title"] == (
        "gridcarbon prior emission grids (fused inventory of CO2, NOx and VOC)"
    )
    assert ds.attrs["synthetic_components"] == (
        "provincial sector totals (assumed), facility catalogue (synthetic)"
    )
    assert ds.attrs["gridcarbon_version"] == gridcarbon.__version__
    assert ds["time"].values[0] == np.datetime64("2023-01-19T16:00")
    assert ds.sizes["time"] == 72
    np.testing.assert_array_equal(
        ds["time_bnds"].values[:, 1] - ds["time_bnds"].values[:, 0], np.timedelta64(1, "h")
    )
    assert {"lon", "lat"} <= set(ds.coords)
    # Hours differ in spatial pattern (sector-specific profiles): normalised maps are not equal.
    co2 = total_grid(ds, "CO2").values
    a = co2[2] / co2[2].sum()
    b = co2[14] / co2[14].sum()
    assert np.abs(a - b).max() > 1e-4


def test_long_names_of_the_default_species():
    """The CF long_names come from the Species values and keep their texts."""
    cfg = small_config(sectors=["road_transport"])
    ds = prior_grids(_inventory(cfg), cfg.period, DEFAULT_SPECIES)
    assert {sp: ds[sp].attrs["long_name"] for sp in ("CO2", "NOx", "VOC")} == {
        "CO2": "carbon dioxide emission from area sources per grid cell",
        "NOx": "nitrogen oxides emission (as NO2 mass) from area sources per grid cell",
        "VOC": "non-methane volatile organic compounds emission from area sources per grid cell",
    }


def test_prior_grids_are_a_function_of_their_inputs(small_cfg):
    """Same inventory, period and species: the public verb and the grids function agree, and
    the attributes handed in are the Dataset's."""
    ds = gridcarbon.build_prior(small_cfg)
    direct = prior_grids(
        _inventory(small_cfg),
        small_cfg.period,
        resolve_species(small_cfg.species),
        attrs={"title": "handed in"},
    )
    assert direct.attrs["title"] == "handed in" and "synthetic" not in direct.attrs
    xr.testing.assert_identical(direct.drop_attrs(), ds.drop_attrs())
    for sp in small_cfg.species:
        assert direct[sp].attrs == ds[sp].attrs


def test_species_order_and_subset_follow_the_species_given():
    cfg = small_config(sectors=["road_transport"])
    inv = _inventory(cfg)
    voc, co2 = resolve_species(["VOC", "CO2"])
    ds = prior_grids(inv, cfg.period, (voc, co2))
    assert species_in(ds) == ["VOC", "CO2"]
    assert "NOx" not in ds and "NOx_point" not in ds


def test_species_missing_from_the_inventory_is_refused():
    cfg = small_config(species=["CO2"], sectors=["road_transport"])
    inv = _inventory(cfg)
    with pytest.raises(InputDataError, match=r"no emissions of species \['NOx'\]"):
        prior_grids(inv, cfg.period, resolve_species(["CO2", "NOx"]))
    with pytest.raises(InputDataError, match="at least one species"):
        prior_grids(inv, cfg.period, ())


def test_period_is_an_input():
    cfg = small_config(sectors=["road_transport"])
    inv = _inventory(cfg)
    period = PeriodConfig(start=dt.date(2023, 7, 1), end=dt.date(2023, 7, 1))
    ds = prior_grids(inv, period, resolve_species(["CO2"]))
    assert ds.sizes["time"] == 24
    assert ds["time"].values[0] == np.datetime64("2023-06-30T16:00")


def test_solvent_emits_voc_without_co2():
    ds = gridcarbon.build_prior(small_config(sectors=["solvent_use"]))
    assert float(ds["CO2"].sum()) == 0.0 and float(ds["VOC"].sum()) > 0


def test_round_trip_netcdf_zarr_geotiff(tmp_path, small_cfg):
    ds = gridcarbon.build_prior(small_cfg)
    nc = open_grids(write_netcdf(ds, tmp_path / "p.nc")).load()
    zr = open_grids(write_zarr(ds, tmp_path / "p.zarr")).load()
    for back in (nc, zr):
        xr.testing.assert_identical(back.drop_attrs(deep=True), ds.drop_attrs(deep=True))
        for v in ("CO2", "NOx", "VOC", "crs"):
            for k, val in ds[v].attrs.items():
                if k != "coordinates":
                    assert np.array_equal(np.asarray(back[v].attrs[k]), np.asarray(val)), (v, k)
        assert back.attrs["config"] == ds.attrs["config"]
    tif = write_geotiff(ds, tmp_path / "t.tif", totals=period_totals(ds))
    grid = zhejiang_grid(small_cfg.grid)
    with rasterio.open(tif) as src:
        assert src.crs == rasterio.crs.CRS.from_wkt(grid.crs_wkt)
        assert src.transform == grid.transform
        assert src.count == 3
        assert src.descriptions[0] == "CO2 total emission over the period (kg per cell)"
        co2 = src.read(1)
        assert np.isnan(src.nodata)
    # cells outside the region are nodata, the rest hold the period totals
    outside = ds["region_fraction"].values <= 0
    assert np.isnan(co2[outside]).all() and np.isfinite(co2[~outside]).all()
    np.testing.assert_allclose(
        np.nansum(co2, dtype=np.float64),
        float(ds["CO2"].sum()) + float(ds["CO2_point"].sum()),
        rtol=1e-5,
    )


def test_writers_refuse_overwrite(tmp_path, small_cfg):
    from gridcarbon.errors import OutputExistsError

    ds = gridcarbon.build_prior(small_cfg)
    write_netcdf(ds, tmp_path / "p.nc")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        write_netcdf(ds, tmp_path / "p.nc")
    write_netcdf(ds, tmp_path / "p.nc", overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["p.nc"]  # no temporary leftovers


def test_grids_import_no_scenario_and_no_pipeline():
    """The prior of the grids layer loads neither the scenario, the pipeline nor the package
    root's verbs."""
    code = (
        "import sys, gridcarbon.grids.prior, gridcarbon.grids.dataset, gridcarbon.io.grids, "
        "gridcarbon.io.tables, gridcarbon.io.provenance, gridcarbon.io.runfolder\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('gridcarbon.scenario', "
        "'gridcarbon.pipeline', 'gridcarbon.inversion', 'gridcarbon.zoning', 'gridcarbon.maps')))\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_a_cell_on_a_solar_clock_is_the_beijing_series_shifted():
    """``Inventory.hour_shift_h`` moves a cell's (and its stacks') hourly series, not its total."""
    from dataclasses import replace

    from gridcarbon.grids.prior import prior_grids
    from gridcarbon.species import DEFAULT_SPECIES
    from tests.region import small_region_scenario

    inventory = small_region_scenario().inventory
    shift = np.zeros(inventory.grid.shape, np.int64)
    shift[:, : inventory.grid.nx // 2] = -3  # the western half on a clock 3 h behind
    period = PeriodConfig(start=dt.date(2023, 3, 14), end=dt.date(2023, 3, 16))
    beijing = prior_grids(inventory, period, DEFAULT_SPECIES)
    solar = prior_grids(replace(inventory, hour_shift_h=shift), period, DEFAULT_SPECIES)
    co2 = DEFAULT_SPECIES[0].name
    west, east = slice(0, inventory.grid.nx // 2), slice(inventory.grid.nx // 2, None)
    b, s = beijing[co2].to_numpy(), solar[co2].to_numpy()
    assert np.array_equal(s[:, :, east], b[:, :, east])
    assert np.allclose(s[3:, :, west], b[:-3, :, west], rtol=1e-3)
    assert not np.allclose(s[3:, :, west], b[3:, :, west], rtol=1e-2)
    west_points = inventory.points["col"].to_numpy() < inventory.grid.nx // 2
    bp, sp_ = beijing[f"{co2}_point"].to_numpy(), solar[f"{co2}_point"].to_numpy()
    assert np.array_equal(sp_[:, ~west_points], bp[:, ~west_points])
    assert np.allclose(sp_[3:, west_points], bp[:-3, west_points], rtol=1e-3)
