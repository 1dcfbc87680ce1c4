"""Zone tallies read straight from a Zarr store, each chunk decoded and tallied at once, equal
the tallies of the same hours read into memory first (``zone_tally(read_time_block(...))``)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import scipy.sparse as sp
import shapely
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from gridcarbon.config import RunConfig
from gridcarbon.grids.prior import period_hours
from gridcarbon.io.year_store import (
    TIME_CHUNK,
    consolidate_store,
    create_store,
    read_time_block,
    write_month,
)
from gridcarbon.kernels.tally import coverage_apply, tally_rows
from gridcarbon.pipeline import iter_prior
from gridcarbon.zoning.overlay import overlay_units
from gridcarbon.zoning.store_tally import tally_plan, zone_tally_store
from gridcarbon.zoning.tally import _prepare, zone_tally
from tests.region import _lonlat, small_region_scenario

#: Summed in another order than numpy sums them: the outside part and the grid total.
REORDERED = ("outside", "grid_total")
RTOL = 1e-12


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Four days across the end of January (two Beijing months) of the small test region, in a
    store of 24-hour chunks, and an overlay whose units cut cells (partial coverage)."""
    config = RunConfig.validate_dict({"period": {"start": "2023-01-30", "end": "2023-02-02"}})
    scenario = small_region_scenario()
    parts = list(iter_prior(config, scenario))
    assert len(parts) == 2
    hours = period_hours(config.period)[0]
    path = tmp_path_factory.mktemp("store") / "prior.zarr"
    create_store(parts[0], hours.values, path)
    at = 0
    for part in parts:
        write_month(path, part, at)
        at += part.sizes["time"]
    consolidate_store(path)
    shapes = [  # edges off the 3 km cell lines, one unit a disc: cells split between units
        shapely.box(-28700.0, -26500.0, -1300.0, 27700.0),
        shapely.Point(14000.0, 2000.0).buffer(9500.0),
        shapely.box(-1300.0, -29000.0, 29000.0, -9000.0),
    ]
    units = gpd.GeoDataFrame(
        {"unit_code": ["U1", "U2", "U3"]}, geometry=[_lonlat(g) for g in shapes], crs=4326
    )
    ds = xr.open_zarr(path, consolidated=True, chunks=None)
    overlay = overlay_units(ds, units)
    assert overlay.point_unit is not None and (overlay.point_unit >= 0).any()
    assert 0 < overlay.F.data.min() < 1  # partial cells
    return path, ds, overlay, [s.name for s in scenario.species]


def _same_tallies(new: xr.Dataset, ref: xr.Dataset, species) -> None:
    reordered = [f"{s}_{k}" for s in species for k in REORDERED]
    xr.testing.assert_identical(new.drop_vars(reordered), ref.drop_vars(reordered))
    for name in reordered:
        assert new[name].attrs == ref[name].attrs
        np.testing.assert_allclose(new[name].values, ref[name].values, rtol=RTOL, atol=0)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(
    "hours",
    [
        slice(None),  # the whole store: four chunks, two months
        slice(13, 61),  # starts and ends inside chunks, across the month boundary
        slice(24, 48),  # one whole chunk
        slice(30, 31),  # one hour inside a chunk
    ],
)
def test_store_tally_equals_the_tally_of_the_block_read_first(store, hours, threads):
    path, ds, overlay, species = store
    ref = zone_tally(read_time_block(path, ds, hours), overlay, None, species)
    new = zone_tally_store(path, ds, overlay, None, species, hours, threads=threads)
    _same_tallies(new, ref, species)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 95), st.integers(1, 96))
def test_store_tally_of_any_hours(store, a, n):
    path, ds, overlay, species = store
    hours = slice(a, min(a + n, 96))
    ref = zone_tally(read_time_block(path, ds, hours), overlay, None, species)
    _same_tallies(zone_tally_store(path, ds, overlay, None, species, hours), ref, species)


def test_a_chunk_never_written_reads_as_nan_as_in_zarr(store, tmp_path):
    path, ds, overlay, species = store
    import shutil

    copy = tmp_path / "prior.zarr"
    shutil.copytree(path, copy)
    for s in species:
        (copy / s / "2.0.0").unlink()  # hours 48..72: only fill values, as Zarr skips them
    lazy = xr.open_zarr(copy, consolidated=True, chunks=None)
    ref = zone_tally(read_time_block(copy, lazy, slice(None)), overlay, None, species)
    new = zone_tally_store(copy, lazy, overlay, None, species)
    assert np.isnan(new[species[0]].values[:, 2 * TIME_CHUNK : 3 * TIME_CHUNK]).all()
    assert not np.isnan(new[species[0]].values[:, : 2 * TIME_CHUNK]).any()
    _same_tallies(new, ref, species)


@pytest.mark.parametrize("nt", [1, 4, 7])  # four rows side by side, and the rows left over
def test_tally_rows_equals_coverage_apply_bit_for_bit(nt):
    rng = np.random.default_rng(3)
    ncell, nu = 300, 7
    F = sp.random(nu, ncell, density=0.02, random_state=4, format="csr")
    full = rng.choice(ncell, 150, replace=False)  # cells wholly in one unit, in runs
    F = sp.lil_matrix(F)
    for c in full:
        F[:, c] = 0
        F[rng.integers(nu), c] = 1.0
    F = sp.csr_matrix(F)
    w_out = np.clip(1.0 - np.asarray(F.sum(axis=0)).ravel(), 0.0, None)
    x = (rng.random((nt, ncell)) * 100).astype(np.float32)
    ref = np.empty((nt, nu))
    coverage_apply(*_prepare(F), x, ref)
    area, outside, grid = np.empty((nt, nu)), np.empty(nt), np.empty(nt)
    tally_rows(*tally_plan(F, w_out), x, area, outside, grid)
    np.testing.assert_array_equal(area, ref)
    np.testing.assert_allclose(grid, x.sum(axis=1, dtype=np.float64), rtol=RTOL)
    np.testing.assert_allclose(outside, x.astype(np.float64) @ w_out, rtol=RTOL)


def test_a_store_tiled_in_space_is_tallied_through_the_block(store, tmp_path):
    path, ds, overlay, species = store
    full = ds.load()
    tiled = create_store(
        full.isel(time=slice(0, 48)), full["time"].values, tmp_path / "t.zarr", tile=8
    )
    write_month(tiled, full.isel(time=slice(0, 48)), 0)
    write_month(tiled, full.isel(time=slice(48, 96)), 48)
    lazy = xr.open_zarr(tiled, consolidated=False, chunks=None)
    hours = slice(5, 70)
    ref = zone_tally(read_time_block(tiled, lazy, hours), overlay, None, species)
    xr.testing.assert_identical(zone_tally_store(tiled, lazy, overlay, None, species, hours), ref)
