"""Long periods streamed month by month: resumable runs into ``OUT.partial/``, and zone tallies
and hotspots from the store equal to the in-memory path.

A small region (:mod:`tests.region`) over a few days across a month boundary stands in for a
year; ``resume=True`` makes a short period run the streamed way.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import gridcarbon.io.year_store
import gridcarbon.pipeline
from gridcarbon.config import RunConfig
from gridcarbon.errors import ConfigError, OutputExistsError
from gridcarbon.pipeline import build_prior, month_blocks, plan_run, run_streamed
from gridcarbon.zoning.stage import run_zoning
from tests.region import small_region_scenario

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # each run of the small region takes several seconds
PERIOD = {"start": "2023-01-30", "end": "2023-02-02"}


def _config(**zoning) -> RunConfig:
    return RunConfig.validate_dict(
        {
            "period": PERIOD,
            "inversion": {"enabled": False},
            "maps": {"enabled": False},
            "zoning": {"hourly_hotspots": False, "toroidal_shifts": 19, **zoning},
            "output": {"formats": ["geotiff"]},
        }
    )


@pytest.fixture(scope="module")
def scenario():
    return small_region_scenario()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, scenario):
    out = tmp_path_factory.mktemp("whole") / "out"
    run_streamed(_config(), out, resume=True, scenario=scenario)
    return out


def _store(folder: Path) -> xr.Dataset:
    return xr.open_zarr(folder / "prior.zarr", consolidated=True).load()


def _assert_same_run(a: Path, b: Path) -> None:
    """The stores equal bit for bit, the tallies and the unit tables equal."""
    xr.testing.assert_identical(_store(a), _store(b))
    for name in ("zone_tally_hourly.nc", "hotspots_day.nc"):
        with xr.open_dataset(a / name) as x, xr.open_dataset(b / name) as y:
            xr.testing.assert_identical(x.load().drop_attrs(), y.load().drop_attrs())
    pd.testing.assert_frame_equal(
        pd.read_csv(a / "zone_units.csv"), pd.read_csv(b / "zone_units.csv"), check_exact=True
    )


def test_streamed_run_writes_every_month_and_its_marker(uninterrupted):
    assert sorted(p.name for p in (uninterrupted / "_markers").iterdir()) == [
        "2023-01.json",
        "2023-02.json",
    ]
    assert not Path(f"{uninterrupted}.partial").exists()
    ds = xr.open_zarr(uninterrupted / "prior.zarr", consolidated=True)
    assert set(ds.chunks["time"]) == {24}
    # summary.json as `gridcarbon run` writes it (the synergy analyses read its prior period)
    summary = json.loads((uninterrupted / "summary.json").read_text())
    assert summary["prior"]["period_utc"] == ["2023-01-29T16:00", "2023-02-02T16:00"]
    assert summary["stages"] == ["zoning"]


def test_fault_between_data_and_marker_then_resume_equals_uninterrupted(
    tmp_path, scenario, uninterrupted, monkeypatch
):
    out = tmp_path / "out"
    real = gridcarbon.io.year_store.write_marker

    def fault(folder, month, hours, fingerprint):
        if month == "2023-02":
            raise RuntimeError("injected fault after the data of 2023-02")
        return real(folder, month, hours, fingerprint)

    monkeypatch.setattr(gridcarbon.io.year_store, "write_marker", fault)
    with pytest.raises(RuntimeError, match="injected fault"):
        run_streamed(_config(), out, scenario=scenario)
    partial = Path(f"{out}.partial")
    assert not out.exists() and partial.is_dir()
    assert sorted(p.name for p in (partial / "_markers").iterdir()) == ["2023-01.json"]
    monkeypatch.setattr(gridcarbon.io.year_store, "write_marker", real)

    with pytest.raises(OutputExistsError, match="--resume"):  # a partial run is not replaced
        run_streamed(_config(), out, scenario=scenario, overwrite=True)
    months = []
    original = gridcarbon.pipeline.iter_prior

    def counted(config, *args, **kwargs):
        months.append(str(config.period.start)[:7])
        return original(config, *args, **kwargs)

    monkeypatch.setattr(gridcarbon.pipeline, "iter_prior", counted)
    run_streamed(_config(), out, scenario=scenario, resume=True)
    assert months == ["2023-02"]  # January was proven done by its marker
    assert out.is_dir() and not partial.exists()
    _assert_same_run(out, uninterrupted)


def test_killed_process_resumes_to_the_uninterrupted_result(tmp_path, uninterrupted):
    out = tmp_path / "out"
    code = f"""
import os, signal, sys
sys.path.insert(0, {str(ROOT)!r})
import gridcarbon.io.year_store as ys
from gridcarbon.pipeline import run_streamed
from tests.test_year import _config
from tests.region import small_region_scenario

real = ys.write_marker
def kill_before_february(folder, month, hours, fingerprint):
    if month == "2023-02":
        os.kill(os.getpid(), signal.SIGKILL)  # the data of February written, not its marker
    return real(folder, month, hours, fingerprint)
ys.write_marker = kill_before_february
run_streamed(_config(), {str(out)!r}, scenario=small_region_scenario())
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, timeout=600)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert not out.exists() and Path(f"{out}.partial").is_dir()
    run_streamed(_config(), out, scenario=small_region_scenario(), resume=True)
    _assert_same_run(out, uninterrupted)


def test_resume_refused_when_the_configuration_changed(tmp_path, scenario, monkeypatch):
    out = tmp_path / "out"

    def fault(*args):
        raise RuntimeError("stop")

    monkeypatch.setattr(gridcarbon.io.year_store, "write_marker", fault)
    with pytest.raises(RuntimeError):
        run_streamed(_config(), out, scenario=scenario)
    monkeypatch.undo()
    before = sorted(p.name for p in Path(f"{out}.partial").rglob("*"))
    with pytest.raises(ConfigError, match="configuration changed"):
        run_streamed(_config(gi_radius_m=9000.0), out, scenario=scenario, resume=True)
    assert sorted(p.name for p in Path(f"{out}.partial").rglob("*")) == before


def test_finished_run_refused_without_overwrite_and_left_alone_with_resume(uninterrupted, scenario):
    before = {p: p.stat().st_mtime_ns for p in uninterrupted.rglob("*")}
    with pytest.raises(OutputExistsError, match="--overwrite"):
        run_streamed(_config(), uninterrupted, scenario=scenario)
    result = run_streamed(_config(), uninterrupted, scenario=scenario, resume=True)
    assert result.summary["hours"] == 96
    assert {p: p.stat().st_mtime_ns for p in uninterrupted.rglob("*")} == before
    with pytest.raises(ConfigError, match="configuration changed"):
        run_streamed(_config(gi_radius_m=9000.0), uninterrupted, scenario=scenario, resume=True)


def test_tallies_and_hotspots_from_the_store_equal_the_in_memory_ones(uninterrupted, scenario):
    config = RunConfig.validate_dict(
        {
            **_config().model_dump(mode="json"),
            "period": {"start": "2023-01-25", "end": "2023-02-05"},
        }
    )  # 12 days: the emerging-hotspot analysis runs too
    plan = plan_run(config, stages=("zoning",), streamed=True, scenario=scenario)
    memory = build_prior(config, scenario)
    store = memory.copy()
    kwargs = dict(
        species=tuple(config.species_values()),
        region=plan.zoning.region,
        qa=plan.zoning.qa,
    )
    a = run_zoning(memory, plan.zoning.units, config.zoning, **kwargs)
    months = [memory.isel(time=slice(0, 7 * 24)), memory.isel(time=slice(7 * 24, None))]
    b = run_zoning(store, plan.zoning.units, config.zoning, blocks=iter(months), **kwargs)
    xr.testing.assert_identical(a.tally, b.tally)
    for level in ("day", "month"):
        xr.testing.assert_identical(a.hotspots[level], b.hotspots[level])
    assert "CO2_emerging" in b.hotspots["day"]
    pd.testing.assert_frame_equal(a.table, b.table, check_exact=True)
    pd.testing.assert_frame_equal(a.colocation, b.colocation, check_exact=True)
    for name in a.tally.data_vars:  # the same memory layout: later sums agree to the last bit
        assert a.tally[name].values.strides == b.tally[name].values.strides, name


def test_zone_tally_of_a_lazily_opened_store_reads_month_by_month(uninterrupted, scenario):
    config = _config()
    plan = plan_run(config, stages=("zoning",), streamed=True, scenario=scenario)
    lazy = xr.open_zarr(uninterrupted / "prior.zarr", consolidated=True)
    loaded = []

    def months():
        for block in month_blocks(lazy):
            loaded.append(block.sizes["time"])
            yield block

    kwargs = dict(species=tuple(config.species_values()), qa=plan.zoning.qa)
    b = run_zoning(lazy, plan.zoning.units, config.zoning, blocks=months(), **kwargs)
    assert loaded == [48, 48]
    assert lazy["CO2"].chunks is not None  # the store itself was never loaded whole
    a = run_zoning(build_prior(config, scenario), plan.zoning.units, config.zoning, **kwargs)
    np.testing.assert_array_equal(a.tally["CO2"].values, b.tally["CO2"].values)


def test_hourly_tally_written_month_by_month_equals_the_in_memory_one(tmp_path, scenario):
    """The streamed zones hand each month's hourly tally to ``zone_tally_hourly.nc`` and keep
    only its sums: every file of the zones equals the in-memory path's (three months)."""
    from gridcarbon.pipeline import zone_report

    config = RunConfig.validate_dict(
        {
            **_config().model_dump(mode="json"),
            "period": {"start": "2023-01-29", "end": "2023-03-02"},
        }
    )
    plan = plan_run(config, stages=("zoning",), streamed=True, scenario=scenario)
    memory = build_prior(config, scenario)
    a, files_a = zone_report(config, memory, plan.zoning, tmp_path / "a")
    blocks = list(month_blocks(memory))
    assert len(blocks) == 3
    written = []

    def months():
        for block in blocks:
            written.append(block.sizes["time"])
            yield block

    b, files_b = zone_report(config, memory, plan.zoning, tmp_path / "b", blocks=months())
    assert written == [72, 672, 48]
    assert sorted(files_a) == sorted(files_b)
    # the per-unit hourly arrays were not kept, only the whole-grid series
    assert "CO2" not in b.tally and "CO2_grid_total" in b.tally
    for name in b.tally.data_vars:
        xr.testing.assert_identical(a.tally[name], b.tally[name])
    xr.testing.assert_identical(a.tally["unit"], b.tally["unit"])
    for name in ("tally_day", "tally_month", "diurnal"):
        xr.testing.assert_identical(getattr(a, name), getattr(b, name))
    pd.testing.assert_frame_equal(a.table, b.table, check_exact=True)
    for name in sorted(files_a):
        if name.endswith(".nc"):
            with xr.open_dataset(files_a[name]) as x, xr.open_dataset(files_b[name]) as y:
                xr.testing.assert_identical(x.load(), y.load())
        elif name.endswith(".csv"):
            pd.testing.assert_frame_equal(
                pd.read_csv(files_a[name]), pd.read_csv(files_b[name]), check_exact=True
            )
    with xr.open_dataset(files_b["zone_tally_hourly.nc"]) as hourly:
        assert hourly.sizes["time"] == memory.sizes["time"] == 792
        np.testing.assert_array_equal(
            hourly["CO2"].values, a.tally["CO2"].values.astype(np.float32)
        )


def test_streamed_zones_without_hourly_file_keep_no_hourly_tally(tmp_path, scenario):
    from gridcarbon.pipeline import zone_report

    config = _config(keep_hourly=False)
    plan = plan_run(config, stages=("zoning",), streamed=True, scenario=scenario)
    memory = build_prior(config, scenario)
    a, files_a = zone_report(config, memory, plan.zoning, tmp_path / "a")
    b, files_b = zone_report(
        config, memory, plan.zoning, tmp_path / "b", blocks=month_blocks(memory)
    )
    assert "zone_tally_hourly.nc" not in files_b and sorted(files_a) == sorted(files_b)
    assert not (tmp_path / "b" / "zone_tally_hourly.nc").exists()
    assert "CO2" not in b.tally
    pd.testing.assert_frame_equal(a.table, b.table, check_exact=True)


def test_hourly_sink_needs_blocks(scenario):
    config = _config()
    plan = plan_run(config, stages=("zoning",), streamed=True, scenario=scenario)
    with pytest.raises(ConfigError, match="blocks="):
        run_zoning(
            build_prior(config, scenario),
            plan.zoning.units,
            config.zoning,
            species=tuple(config.species_values()),
            qa=plan.zoning.qa,
            hourly=lambda part: None,
        )


def test_store_months_decoded_from_their_chunk_files_equal_xarray_reads(uninterrupted, tmp_path):
    import shutil

    from gridcarbon.io import open_grids
    from gridcarbon.io.year_store import read_time_block

    store = tmp_path / "prior.zarr"
    shutil.copytree(uninterrupted / "prior.zarr", store)
    (store / "CO2" / "2.0.0").unlink()  # a chunk never written: Zarr reads its fill value
    ds = open_grids(store, chunked=False)
    for hours in (slice(0, 48), slice(48, 96), slice(30, 77), slice(0, 96)):
        direct = read_time_block(store, ds, hours)
        plain = ds.isel(time=hours).load()
        xr.testing.assert_identical(direct, plain)
        assert list(direct.data_vars) == list(plain.data_vars)
        for name in plain.variables:
            assert direct[name].encoding == plain[name].encoding, name
    assert np.isnan(read_time_block(store, ds, slice(48, 72))["CO2"].values).all()
    blocks = list(month_blocks(ds))  # a store's months go through read_time_block
    assert [b.sizes["time"] for b in blocks] == [48, 48]
    xr.testing.assert_identical(blocks[1], ds.isel(time=slice(48, 96)).load())
