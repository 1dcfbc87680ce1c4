from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr

from gridcarbon.config import SECTORS
from gridcarbon.errors import ConfigError, CRSError, InputDataError, OutsideGridError
from gridcarbon.grids.dataset import total_grid
from gridcarbon.grids.inventory import POINT_COLUMNS, Inventory
from gridcarbon.grids.prior import build_prior, grid_from_config, iter_prior, prior_inventory
from gridcarbon.io import open_grids, write_geotiff, write_netcdf, write_zarr
from gridcarbon.scenario.zhejiang_inventory import PROVINCIAL_TOTALS
from tests.conftest import small_config


def _year(year: int) -> dict:
    return {"start": dt.date(year, 1, 1), "end": dt.date(year, 12, 31)}


@pytest.mark.parametrize("year", [2023, 2024])
def test_annual_mass_per_sector_and_species(year):
    for sector in SECTORS:
        cfg = small_config(period=_year(year), sectors=[sector])
        area = {sp: 0.0 for sp in cfg.species}
        point = {sp: 0.0 for sp in cfg.species}
        for part in iter_prior(cfg):
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
    cfg = small_config(
        period=_year(2024),
        prior={"keep_sectors": True},
        sectors=["road_transport", "solvent_use", "power"],
    )
    sums = 0.0
    for part in iter_prior(cfg):
        assert part["CO2"].dims == ("time", "sector", "y", "x")
        sums = sums + part["VOC"].sum(("time", "y", "x"), dtype=np.float64).values
    expected_area = PROVINCIAL_TOTALS.loc[
        ["road_transport", "solvent_use", "power"], "VOC"
    ].to_numpy()
    expected_area = expected_area * np.array([1.0, 1.0, 0.0])  # power is all point sources
    np.testing.assert_allclose(sums, expected_area, rtol=1e-6)


@pytest.mark.slow
def test_annual_mass_on_default_grid_leap_year():
    """The streamed full year on the real 3 km grid, all sectors summed (2.7 GB if held at once)."""
    cfg = small_config(grid={"cell_size_m": 3000.0}, period=_year(2024))
    total = {sp: 0.0 for sp in cfg.species}
    hours = 0
    for part in iter_prior(cfg):
        hours += part.sizes["time"]
        for sp in cfg.species:
            total[sp] += float(total_grid(part, sp).sum(dtype=np.float64))
    assert hours == 8784
    for sp in cfg.species:
        assert total[sp] == pytest.approx(PROVINCIAL_TOTALS[sp].sum(), rel=1e-6)


def test_prior_layout_and_metadata(small_cfg):
    ds = build_prior(small_cfg)
    assert ds["CO2"].dims == ("time", "y", "x") and ds["CO2"].dtype == np.float32
    assert ds["CO2"].attrs["units"] == "kg h-1"
    assert ds["CO2"].attrs["cell_methods"] == "area: sum time: mean"
    assert ds["CO2"].attrs["grid_mapping"] == "crs"
    assert "crs_wkt" in ds["crs"].attrs
    assert ds.attrs["Conventions"] == "CF-1.10" and ds.attrs["synthetic"] == "true"
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


def test_solvent_emits_voc_without_co2():
    ds = build_prior(small_config(sectors=["solvent_use"]))
    assert float(ds["CO2"].sum()) == 0.0 and float(ds["VOC"].sum()) > 0


def test_points_named_synthetically_and_inside_grid(small_cfg):
    inv = prior_inventory(small_cfg)
    pts = inv.points
    assert pts["synthetic"].all()
    assert pts["name"].str.match(r"^[A-Z][a-z]+ [a-z]+ #\d+$").all()
    # each point's cell is the one whose centre is within half a cell of it
    grid = grid_from_config(small_cfg)
    x, y = grid.project(pts["lon"].to_numpy(), pts["lat"].to_numpy())
    assert (np.abs(grid.x[pts["col"].to_numpy()] - x) <= grid.cell_size / 2).all()
    assert (np.abs(grid.y[pts["row"].to_numpy()] - y) <= grid.cell_size / 2).all()
    assert set(pts["sector"]) >= {"power", "industry_petrochemical", "industry_cement"}


def test_round_trip_netcdf_zarr_geotiff(tmp_path, small_cfg):
    ds = build_prior(small_cfg)
    nc = open_grids(write_netcdf(ds, tmp_path / "p.nc")).load()
    zr = open_grids(write_zarr(ds, tmp_path / "p.zarr")).load()
    for back in (nc, zr):
        xr.testing.assert_identical(back.drop_attrs(deep=True), ds.drop_attrs(deep=True))
        for v in ("CO2", "NOx", "VOC", "crs"):
            for k, val in ds[v].attrs.items():
                if k != "coordinates":
                    assert np.array_equal(np.asarray(back[v].attrs[k]), np.asarray(val)), (v, k)
        assert back.attrs["config"] == ds.attrs["config"]
    tif = write_geotiff(ds, tmp_path / "t.tif")
    grid = grid_from_config(small_cfg)
    with rasterio.open(tif) as src:
        assert src.crs == rasterio.crs.CRS.from_wkt(grid.crs_wkt)
        assert src.transform == grid.transform
        assert src.count == 3
        co2 = src.read(1)
    np.testing.assert_allclose(
        co2.sum(dtype=np.float64), float(ds["CO2"].sum()) + float(ds["CO2_point"].sum()), rtol=1e-5
    )


def test_writers_refuse_overwrite(tmp_path, small_cfg):
    from gridcarbon.errors import OutputExistsError

    ds = build_prior(small_cfg)
    write_netcdf(ds, tmp_path / "p.nc")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        write_netcdf(ds, tmp_path / "p.nc")
    write_netcdf(ds, tmp_path / "p.nc", overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["p.nc"]  # no temporary leftovers


# -- bad input ---------------------------------------------------------------------------------
def test_bad_config_values():
    with pytest.raises(ConfigError, match="cell_size_m"):
        small_config(grid={"cell_size_m": 0})
    with pytest.raises(ConfigError, match="before start"):
        small_config(period={"start": dt.date(2023, 2, 1), "end": dt.date(2023, 1, 1)})
    with pytest.raises(ConfigError, match="unknown sector"):
        small_config(sectors=["power", "steelworks"])
    with pytest.raises(CRSError, match="unknown CRS"):
        grid_from_config(small_config(grid={"crs": "EPSG:999999"}))


def test_negative_or_nan_emissions_rejected(small_cfg):
    inv = prior_inventory(small_cfg)
    for bad in (-1.0, np.nan):
        totals = inv.area_totals.copy()
        totals.iloc[2, 1] = bad
        with pytest.raises(InputDataError, match="finite and non-negative"):
            Inventory(inv.grid, inv.sectors, totals, inv.proxies, inv.points)


def _points_csv(tmp_path, rows, drop=None):
    df = pd.DataFrame(rows, columns=list(POINT_COLUMNS))
    if drop:
        df = df.drop(columns=drop)
    path = tmp_path / "points.csv"
    df.to_csv(path, index=False)
    return path


ROW = ["P1", "Test plant #1", "power", "none", 121.6, 29.9, 150, 5, 15, 400, 1e9, 1e6, 1e4]


def test_user_point_sources(tmp_path):
    path = _points_csv(tmp_path, [ROW])
    ds = build_prior(small_config(prior={"point_sources_csv": str(path)}))
    assert list(ds["point_id"].values) == ["P1"]
    hours = ds.sizes["time"]
    assert float(ds["CO2_point"].sum()) == pytest.approx(1e9 * hours / 8760, rel=0.3)


def test_missing_column_in_point_csv(tmp_path):
    path = _points_csv(tmp_path, [ROW], drop=["stack_height_m"])
    with pytest.raises(InputDataError, match=r"lacks column\(s\) \['stack_height_m'\]"):
        build_prior(small_config(prior={"point_sources_csv": str(path)}))


def test_negative_point_emission_names_row(tmp_path):
    bad = ROW.copy()
    bad[0], bad[11] = "P2", -5.0
    path = _points_csv(tmp_path, [ROW, bad])
    with pytest.raises(InputDataError, match=r"row 1 \(P2\): NOx"):
        build_prior(small_config(prior={"point_sources_csv": str(path)}))


def test_point_outside_grid_raises_or_is_dropped(tmp_path, caplog):
    far = ROW.copy()
    far[0], far[4], far[5] = "FAR", 100.0, 40.0
    path = _points_csv(tmp_path, [ROW, far])
    with pytest.raises(OutsideGridError, match="'FAR'"):
        build_prior(small_config(prior={"point_sources_csv": str(path)}))
    with caplog.at_level("WARNING"):
        ds = build_prior(
            small_config(prior={"point_sources_csv": str(path), "drop_points_outside": True})
        )
    assert list(ds["point_id"].values) == ["P1"]
    assert "dropped 1 point source" in caplog.text
