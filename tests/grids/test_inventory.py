"""The generic inventory: its checks, and the point-source table of any species."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pyproj
import pytest

from gridcarbon.errors import InputDataError, OutsideGridError
from gridcarbon.grids.gridspec import GridSpec, default_crs
from gridcarbon.grids.inventory import (
    POINT_ATTRIBUTES,
    Inventory,
    locate_points,
    point_columns,
    validate_points,
)

ROW = ["P1", "Test plant #1", "power", "none", 121.6, 29.9, 150, 5, 15, 400, 1e9, 1e6]


@pytest.fixture(scope="module")
def grid() -> GridSpec:
    """5 × 4 cells of 3 km on the default CRS; the point ``ROW`` lies in row 1, column 2."""
    crs = default_crs()
    x, y = pyproj.Transformer.from_crs(crs.geodetic_crs, crs, always_xy=True).transform(121.6, 29.9)
    return GridSpec(crs.to_wkt(), float(x) - 7500.0, float(y) + 4500.0, 3000.0, 5, 4)


def _inventory(grid: GridSpec, **changes) -> Inventory:
    proxies = np.zeros((2, *grid.shape))
    proxies[0, 1, 2] = 1.0
    proxies[1] = 1.0 / grid.size
    points = validate_points(
        pd.DataFrame([ROW], columns=list(point_columns(["A", "B"]))), ["A", "B"]
    )
    values = {
        "grid": grid,
        "sectors": ["power", "road_transport"],
        "area_totals": pd.DataFrame(
            {"A": [1.0, 2.0], "B": [3.0, 4.0]}, index=["power", "road_transport"]
        ),
        "proxies": proxies,
        "points": locate_points(points, grid, species=["A", "B"]),
    }
    values.update(changes)
    return Inventory(**values)


def test_point_columns_follow_the_species():
    assert point_columns(["X", "Y"]) == (*POINT_ATTRIBUTES, "X", "Y")


def test_inventory_is_a_frozen_value(grid):
    inv = _inventory(grid)
    assert inv.sectors == ("power", "road_transport")
    assert inv.species == ["A", "B"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        inv.synthetic = False
    np.testing.assert_allclose(inv.annual_totals().to_numpy(), [[1.0 + 1e9, 3.0 + 1e6], [2.0, 4.0]])


def test_negative_or_nan_emissions_rejected(grid):
    inv = _inventory(grid)
    for bad in (-1.0, np.nan):
        totals = inv.area_totals.copy()
        totals.iloc[1, 0] = bad
        with pytest.raises(InputDataError, match="finite and non-negative"):
            _inventory(grid, area_totals=totals)


def test_points_without_a_species_column_are_refused(grid):
    inv = _inventory(grid)
    with pytest.raises(InputDataError, match=r"species \['B'\]"):
        _inventory(grid, points=inv.points.drop(columns=["B"]))


def test_proxy_not_summing_to_one_is_refused(grid):
    inv = _inventory(grid)
    with pytest.raises(InputDataError, match="'power' sums to 2"):
        _inventory(grid, proxies=inv.proxies * np.array([2.0, 1.0])[:, None, None])


def test_validate_points_names_the_missing_column_and_bad_row():
    table = pd.DataFrame([ROW], columns=list(point_columns(["A", "B"])))
    with pytest.raises(InputDataError, match=r"lacks column\(s\) \['C'\]"):
        validate_points(table, ["A", "B", "C"], source="t.csv")
    bad = table.copy()
    bad.loc[1] = ["P2", *ROW[1:10], 1.0, -5.0]
    with pytest.raises(InputDataError, match=r"t.csv row 2 \(P2\): B = -5.0"):
        validate_points(bad, ["A", "B"], source="t.csv")
    with pytest.raises(InputDataError, match="unknown sector 'power'"):
        validate_points(table, ["A"], sectors=["road_transport"])
    # only the species asked for are kept
    assert list(validate_points(table, ["B"]).columns) == list(point_columns(["B"]))


def test_locate_points_raises_or_drops_outside(grid, caplog):
    table = pd.DataFrame(
        [ROW, ["FAR", *ROW[1:4], 100.0, 40.0, *ROW[6:]]], columns=list(point_columns(["A", "B"]))
    )
    points = validate_points(table, ["A", "B"])
    with pytest.raises(OutsideGridError, match="'FAR'"):
        locate_points(points, grid)
    with caplog.at_level("WARNING"):
        kept = locate_points(points, grid, drop_outside=True, species=["A"])
    assert list(kept["point_id"]) == ["P1"]
    assert (int(kept["row"].iloc[0]), int(kept["col"].iloc[0])) == (1, 2)
    assert "dropped 1 point source" in caplog.text and "'A': 1000000000.0" in caplog.text
