"""The synthetic Zhejiang inventory: its facility catalogue, the user's point-source CSV in its
place, and the grid of its configuration."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

import gridcarbon
from gridcarbon.errors import (
    ConfigError,
    CRSError,
    InputDataError,
    InputFileError,
    OutsideGridError,
)
from gridcarbon.grids.inventory import point_columns
from gridcarbon.scenario.zhejiang import zhejiang_grid, zhejiang_input_files, zhejiang_scenario
from gridcarbon.scenario.zhejiang_inventory import zhejiang_inventory
from tests.conftest import small_config

COLUMNS = list(point_columns(["CO2", "NOx", "VOC"]))
ROW = ["P1", "Test plant #1", "power", "none", 121.6, 29.9, 150, 5, 15, 400, 1e9, 1e6, 1e4]


def _inventory(cfg):
    return zhejiang_inventory(cfg, zhejiang_grid(cfg.grid))


def _points_csv(tmp_path, rows, drop=None):
    df = pd.DataFrame(rows, columns=COLUMNS)
    if drop:
        df = df.drop(columns=drop)
    path = tmp_path / "points.csv"
    df.to_csv(path, index=False)
    return path


def test_points_named_synthetically_and_inside_grid(small_cfg):
    inv = _inventory(small_cfg)
    pts = inv.points
    assert pts["synthetic"].all()
    assert pts["name"].str.match(r"^[A-Z][a-z]+ [a-z]+ #\d+$").all()
    # each point's cell is the one whose centre is within half a cell of it
    grid = inv.grid
    x, y = grid.project(pts["lon"].to_numpy(), pts["lat"].to_numpy())
    assert (np.abs(grid.x[pts["col"].to_numpy()] - x) <= grid.cell_size / 2).all()
    assert (np.abs(grid.y[pts["row"].to_numpy()] - y) <= grid.cell_size / 2).all()
    assert set(pts["sector"]) >= {"power", "industry_petrochemical", "industry_cement"}
    assert inv.synthetic_components == (
        "provincial sector totals (assumed)",
        "facility catalogue (synthetic)",
    )


def test_inventory_holds_the_configured_species():
    inv = _inventory(small_config(species=["VOC", "CO2"], sectors=["road_transport"]))
    assert inv.species == ["VOC", "CO2"]
    assert "NOx" not in inv.points.columns


def test_bad_config_values():
    with pytest.raises(ConfigError, match="cell_size_m"):
        small_config(grid={"cell_size_m": 0})
    with pytest.raises(ConfigError, match="before start"):
        small_config(period={"start": dt.date(2023, 2, 1), "end": dt.date(2023, 1, 1)})
    with pytest.raises(ConfigError, match="unknown sector"):
        small_config(sectors=["power", "steelworks"])
    with pytest.raises(CRSError, match="unknown CRS"):
        zhejiang_grid(small_config(grid={"crs": "EPSG:999999"}).grid)


def test_user_point_sources(tmp_path):
    path = _points_csv(tmp_path, [ROW])
    cfg = small_config(prior={"point_sources_csv": str(path)})
    inv = _inventory(cfg)
    assert list(inv.points["point_id"]) == ["P1"] and not inv.points["synthetic"].any()
    assert inv.synthetic_components == ("provincial sector totals (assumed)",)
    assert str(path) in zhejiang_input_files(cfg)
    ds = gridcarbon.build_prior(cfg)
    assert list(ds["point_id"].values) == ["P1"]
    hours = ds.sizes["time"]
    assert float(ds["CO2_point"].sum()) == pytest.approx(1e9 * hours / 8760, rel=0.3)
    assert str(path) in ds.attrs["input_checksums"]


def test_user_point_sources_need_only_the_configured_species(tmp_path):
    path = _points_csv(tmp_path, [ROW], drop=["NOx", "VOC"])
    inv = _inventory(small_config(species=["CO2"], prior={"point_sources_csv": str(path)}))
    assert inv.points["CO2"].tolist() == [1e9]


def test_missing_column_in_point_csv(tmp_path):
    path = _points_csv(tmp_path, [ROW], drop=["stack_height_m"])
    with pytest.raises(InputDataError, match=r"points.csv' lacks column\(s\) \['stack_height_m'\]"):
        _inventory(small_config(prior={"point_sources_csv": str(path)}))


def test_negative_point_emission_names_its_line_in_the_file(tmp_path):
    bad = ROW.copy()
    bad[0], bad[11] = "P2", -5.0
    path = _points_csv(tmp_path, [ROW, bad])
    # header on line 1, the bad source on line 3
    with pytest.raises(InputDataError, match=r"points.csv' line 3 \(P2\): NOx = -5.0"):
        _inventory(small_config(prior={"point_sources_csv": str(path)}))


def test_empty_or_missing_point_csv(tmp_path):
    path = _points_csv(tmp_path, [])
    with pytest.raises(InputDataError, match="has no rows"):
        _inventory(small_config(prior={"point_sources_csv": str(path)}))
    with pytest.raises(InputFileError, match="does not exist"):
        _inventory(small_config(prior={"point_sources_csv": str(tmp_path / "none.csv")}))


def test_point_outside_grid_raises_or_is_dropped(tmp_path, caplog):
    far = ROW.copy()
    far[0], far[4], far[5] = "FAR", 100.0, 40.0
    path = _points_csv(tmp_path, [ROW, far])
    with pytest.raises(OutsideGridError, match="'FAR'"):
        _inventory(small_config(prior={"point_sources_csv": str(path)}))
    with caplog.at_level("WARNING"):
        inv = _inventory(
            small_config(prior={"point_sources_csv": str(path), "drop_points_outside": True})
        )
    assert list(inv.points["point_id"]) == ["P1"]
    assert "dropped 1 point source" in caplog.text


def test_scenario_checksums_name_the_package_data(small_cfg):
    scenario = zhejiang_scenario(small_cfg, with_units=False)
    assert set(scenario.input_checksums) == set(zhejiang_input_files(small_cfg))
    assert all(len(v) == 64 for v in scenario.input_checksums.values())
    assert scenario.inventory.grid == scenario.grid


def test_truncated_place_kernel_is_the_full_one_within_its_reach():
    from gridcarbon.scenario.geography import default_grid
    from gridcarbon.scenario.zhejiang_inventory import PLACE_SIGMA_M, gaussian_kernel

    grid = default_grid()
    centres = np.array([[120.15, 30.28], [121.55, 29.87], [135.0, 45.0]])  # the last far away
    weights = np.array([2.0, 1.0, 5.0])
    full = gaussian_kernel(grid, centres[:2], weights[:2], PLACE_SIGMA_M)
    cut = gaussian_kernel(grid, centres, weights, PLACE_SIGMA_M, truncate=5.0)
    # cut only where a Gaussian is below exp(-12.5) of its peak
    np.testing.assert_allclose(cut, full, rtol=0, atol=2.0 * np.exp(-12.5))
    assert np.count_nonzero(cut) < 0.05 * cut.size
    assert cut.sum() == pytest.approx(full.sum(), rel=1e-4)
