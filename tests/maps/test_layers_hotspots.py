"""The hotspot layers' cells, from the zoning stage's hotspot Dataset."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from fixtures import colocation, small_grid, small_hotspots

from gridcarbon.errors import InputDataError
from gridcarbon.maps.layers_hotspots import hotspot_cells, hotspot_kinds
from gridcarbon.species import DEFAULT_SPECIES


def test_hotspot_cells_counts_and_confidence():
    grid = small_grid()
    cells = hotspot_cells(small_hotspots(grid, steps=5), DEFAULT_SPECIES, grid)
    co = cells[cells["kind"] == "CO2+NOx+VOC"]
    assert sorted(zip(co["row"], co["col"], strict=True)) == [(2, 2), (2, 3), (3, 2), (3, 3)]
    assert (co["n_steps"] == 5).all() and (co["confidence"] == "99%").all()
    assert (co["share"] == 1.0).all()
    pair = cells[cells["kind"] == "CO2+NOx"]
    assert len(pair) == 1 and pair.iloc[0][["row", "col", "n_steps", "n_95"]].tolist() == [
        8,
        10,
        3,
        3,
    ]
    assert pair.iloc[0]["confidence"] == "95%"
    # the co-located block is not counted again as pairs; the cold spot is not a hotspot
    assert set(cells["kind"]) == {"CO2+NOx+VOC", "CO2+NOx"}
    assert not ((cells["row"] == 0) & (cells["col"] == 0)).any()


def test_hotspot_confidence_is_the_weakest_species():
    t = pd.date_range("2023-01-01", periods=3, freq="D")
    b = {sp.name: np.zeros((3, 3, 4), np.int8) for sp in DEFAULT_SPECIES}
    b["CO2"][:, 1, 1] = 3
    b["NOx"][:, 1, 1] = [3, 2, 1]
    b["VOC"][:, 1, 1] = [1, 1, 3]
    ds = xr.Dataset(
        {k: (("time", "y", "x"), v) for k, v in colocation(b).items()}, coords={"time": t}
    )
    c = hotspot_cells(ds, DEFAULT_SPECIES).iloc[0]
    assert (c.n_99, c.n_95, c.n_90, c.n_steps) == (0, 0, 3, 3)
    # one step without a time dimension; a Dataset without the co-located variable is refused
    one = ds.isel(time=1)
    got = hotspot_cells(one, DEFAULT_SPECIES)
    assert len(got) == 1 and got.iloc[0].n_steps == 1 and got.iloc[0].confidence == "90%"
    with pytest.raises(InputDataError, match="coloc_all"):
        hotspot_cells(xr.Dataset({"z": (("y", "x"), np.zeros((2, 2)))}), DEFAULT_SPECIES)


def test_hotspot_kinds_follow_the_species():
    kinds = hotspot_kinds(DEFAULT_SPECIES)
    assert list(kinds) == ["CO2+NOx+VOC", "CO2+NOx", "CO2+VOC", "NOx+VOC"]
    assert [v for v, _ in kinds.values()] == [
        "coloc_all",
        "coloc_CO2_NOx",
        "coloc_CO2_VOC",
        "coloc_NOx_VOC",
    ]
    assert len({c for _, c in kinds.values()}) == 4
    # two species: the pair is the co-located set, and there is no pairwise kind
    assert {k: v for k, (v, _) in hotspot_kinds(DEFAULT_SPECIES[:2]).items()} == {
        "CO2+NOx": "coloc_CO2_NOx"
    }
