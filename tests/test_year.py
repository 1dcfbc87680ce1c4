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

import gridcarbon.inversion.stage
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


# -- the inversion, month by month -----------------------------------------------------------------
def _inverted_config(**inversion) -> RunConfig:
    doc = _config().model_dump(mode="json")
    doc["inversion"] = {"enabled": True, **inversion}
    doc["output"]["formats"] = ["geotiff", "netcdf"]
    return RunConfig.validate_dict(doc)


@pytest.fixture(scope="module")
def inverted(tmp_path_factory, scenario):
    out = tmp_path_factory.mktemp("inverted") / "out"
    run_streamed(_inverted_config(), out, resume=True, scenario=scenario)
    return out


def _posterior(folder: Path) -> xr.Dataset:
    return xr.open_zarr(folder / "posterior.zarr", consolidated=True).load()


def test_long_periods_with_the_inversion_run_streamed_beyond_its_period_limit():
    from gridcarbon.pipeline import _streams

    def config(start, end, inversion):
        return RunConfig.validate_dict(
            {"period": {"start": start, "end": end}, "inversion": {"enabled": inversion}}
        )

    assert _streams(config("2023-01-01", "2023-12-31", True))  # a year: month by month
    assert _streams(config("2023-01-01", "2023-12-31", False))
    assert not _streams(config("2023-01-01", "2023-03-31", True))  # ≤ 92 days: at once
    assert _streams(config("2023-01-01", "2023-03-31", False))
    assert not _streams(config("2023-01-01", "2023-01-31", True))  # the default month


def test_streamed_inversion_writes_every_month_its_marker_and_its_figures(inverted):
    assert sorted(p.name for p in (inverted / "_markers").iterdir()) == [
        "2023-01.json",
        "2023-02.json",
        "posterior-2023-01.json",
        "posterior-2023-02.json",
    ]
    post, prior = _posterior(inverted), _store(inverted)
    assert post.sizes["time"] == prior.sizes["time"] == 96
    np.testing.assert_array_equal(post["time"].values, prior["time"].values)
    lazy = xr.open_zarr(inverted / "posterior.zarr", consolidated=True)
    assert set(lazy.chunks["time"]) == {24}
    for name in ("CO2", "CO2_std", "NOx_point", "VOC_point_std"):
        assert np.isfinite(post[name].values).all(), name  # every month's hours written
    assert not (post["CO2"].values == prior["CO2"].values).all()  # the prior was corrected
    table = pd.read_csv(inverted / "inversion_months.csv")
    assert table["month"].tolist() == ["2023-01", "2023-02", "period"]
    assert (table["dofs"].iloc[:2] > 0).all() and (table["n_observations"].iloc[:2] > 0).all()
    months, period = table.iloc[:2], table.iloc[2]
    for sp in ("CO2", "NOx", "VOC"):
        assert period[f"{sp}_posterior_t"] == pytest.approx(months[f"{sp}_posterior_t"].sum())
        sigma = np.sqrt((months[f"{sp}_posterior_std_t"] ** 2).sum())
        assert period[f"{sp}_posterior_std_t"] == pytest.approx(sigma)
        assert period[f"{sp}_posterior_std_t"] < period[f"{sp}_prior_std_t"]
        # the table's totals are the store's (area + point sources), t
        total = float(post[sp].sum(dtype=np.float64) + post[f"{sp}_point"].sum(dtype=np.float64))
        assert period[f"{sp}_posterior_t"] == pytest.approx(total / 1e3, rel=1e-5)
    with xr.open_dataset(inverted / "posterior.nc") as copy:  # the NetCDF copy, month by month
        for name in ("CO2", "CO2_std", "NOx_point"):
            np.testing.assert_array_equal(copy[name].values, post[name].values)
    for month in ("2023-01", "2023-02"):
        assert (inverted / "inversion" / month / "station_stats.csv").is_file()
        with xr.open_dataset(inverted / "inversion" / month / "posterior_maps.nc") as maps:
            assert "CO2_factor" in maps and "CO2_factor" not in post
    summary = json.loads((inverted / "summary.json").read_text())
    assert summary["stages"] == ["inversion", "zoning"]
    # the zones tally the posterior; σ of a unit's period total = sqrt(Σ monthly variances)
    units = pd.read_csv(inverted / "zone_units.csv")
    records = [
        json.loads((inverted / "inversion" / m / "month.json").read_text())
        for m in ("2023-01", "2023-02")
    ]
    for sp in ("CO2", "NOx"):
        variance = sum(np.asarray(r["unit_variance_kg2"][sp]) for r in records)
        np.testing.assert_allclose(units[f"{sp}_posterior_std_kg"], np.sqrt(variance))
    with xr.open_dataset(inverted / "zone_tally_hourly.nc") as tally:
        assert "posterior" in json.dumps(dict(tally.attrs)).lower()


def test_a_month_of_the_streamed_inversion_equals_a_run_of_that_month_alone(
    tmp_path, inverted, scenario
):
    doc = _inverted_config().model_dump(mode="json")
    doc["period"] = {"start": "2023-01-30", "end": "2023-01-31"}
    doc["zoning"]["enabled"] = False
    gridcarbon.pipeline.run(RunConfig.validate_dict(doc), tmp_path / "jan", scenario=scenario)
    alone = xr.open_dataset(tmp_path / "jan" / "posterior.nc").load()
    year = _posterior(inverted).isel(time=slice(0, 48))
    for name in year.data_vars:
        if "time" in year[name].dims and name != "time_bnds":
            np.testing.assert_allclose(year[name].values, alone[name].values, rtol=1e-6)
    np.testing.assert_array_equal(year["time"].values, alone["time"].values)


def test_a_month_killed_before_its_posterior_marker_is_inverted_again_on_resume(
    tmp_path, scenario, inverted, monkeypatch
):
    out = tmp_path / "out"
    real = gridcarbon.io.year_store.write_marker

    def fault(folder, month, hours, fingerprint):
        if month == "posterior-2023-02":
            raise RuntimeError("injected fault after the posterior of 2023-02")
        return real(folder, month, hours, fingerprint)

    monkeypatch.setattr(gridcarbon.io.year_store, "write_marker", fault)
    with pytest.raises(RuntimeError, match="injected fault"):
        run_streamed(_inverted_config(), out, scenario=scenario)
    partial = Path(f"{out}.partial")
    assert sorted(p.name for p in (partial / "_markers").iterdir()) == [
        "2023-01.json",
        "2023-02.json",
        "posterior-2023-01.json",
    ]
    monkeypatch.setattr(gridcarbon.io.year_store, "write_marker", real)

    def written():  # every file of the run (the folder's own lock file aside)
        return {
            p: p.stat().st_mtime_ns for p in partial.rglob("*") if p.name != ".gridcarbon-partial"
        }

    before = written()
    with pytest.raises(ConfigError, match="configuration changed"):
        run_streamed(_inverted_config(seed=7), out, scenario=scenario, resume=True)
    assert written() == before

    months = []
    original = gridcarbon.inversion.stage.run_inversion

    def counted(prior, *args, **kwargs):
        months.append(str(prior["time"].values[-1])[:7])
        return original(prior, *args, **kwargs)

    monkeypatch.setattr(gridcarbon.inversion.stage, "run_inversion", counted)
    run_streamed(_inverted_config(), out, scenario=scenario, resume=True)
    assert months == ["2023-02"]  # January was proven done by its posterior marker
    assert out.is_dir() and not partial.exists()
    xr.testing.assert_identical(_posterior(out), _posterior(inverted))
    _assert_same_run(out, inverted)
    pd.testing.assert_frame_equal(
        pd.read_csv(out / "inversion_months.csv"),
        pd.read_csv(inverted / "inversion_months.csv"),
        check_exact=True,
    )


# -- Dask: the prior's months as tasks -------------------------------------------------------------
def test_prior_months_as_tasks_on_two_workers_equal_the_single_process_store(
    tmp_path, scenario, uninterrupted, monkeypatch
):
    from gridcarbon.pipeline import dask_client

    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the workers unpickle the test region
    out = tmp_path / "out"
    with dask_client(workers=2) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        run_streamed(_config(), out, stages=(), resume=True, scenario=scenario, client=client)
    assert sorted(p.name for p in (out / "_markers").iterdir()) == [
        "2023-01.json",
        "2023-02.json",
    ]
    a, b = _store(out), _store(uninterrupted)
    xr.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_array_equal(a["CO2"].values, b["CO2"].values)
    assert a.attrs == b.attrs


def _streamed_on_workers(out: Path, scenario, act) -> tuple[list[BaseException], object]:
    """The streamed prior of :func:`_config` on two local workers, in a thread, while
    ``act(client)`` is called every 20 ms until it returns something true (or 300 s pass);
    returns the run's errors and what ``act`` returned."""
    import threading
    import time

    from gridcarbon.pipeline import dask_client

    errors: list[BaseException] = []
    done = None
    with dask_client(workers=2) as client:

        def run() -> None:
            try:
                run_streamed(
                    _config(), out, stages=(), resume=True, scenario=scenario, client=client
                )
            except BaseException as error:  # reported by the caller's assertions
                errors.append(error)

        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 300
        while not done and thread.is_alive() and time.monotonic() < deadline:
            done = act(client)
            time.sleep(0.02)
        thread.join(600)
        assert not thread.is_alive(), "the streamed run did not end within 600 s (a hang)"
    return errors, done


def _processing_day_task(client) -> str | None:
    for keys in client.processing().values():
        for key in keys:
            if "prior-days-" in str(key):
                return str(key)
    return None


def test_a_worker_killed_during_its_month_is_replaced_and_the_store_is_the_same(
    tmp_path, scenario, uninterrupted, monkeypatch
):
    """A worker process killed (SIGKILL) while it computes a month: the scheduler gives the
    month to a worker again, the marker is written only after the month's data, and the store
    equals the uninterrupted single-process one."""
    import os
    import signal

    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    out = tmp_path / "out"

    pids: dict[str, int] = {}

    def kill_a_worker(client) -> str | None:
        pids.update(pids or client.run(os.getpid))  # asked once, before the months start
        for address, keys in client.processing().items():
            if any("prior-days-" in str(k) for k in keys):
                os.kill(pids[address], signal.SIGKILL)
                return address
        return None

    errors, killed = _streamed_on_workers(out, scenario, kill_a_worker)
    assert killed is not None, "no month was seen running on a worker"
    assert not errors, errors
    assert sorted(p.name for p in (out / "_markers").iterdir()) == ["2023-01.json", "2023-02.json"]
    a, b = _store(out), _store(uninterrupted)
    np.testing.assert_array_equal(a["CO2"].values, b["CO2"].values)
    xr.testing.assert_allclose(a, b, rtol=1e-6)


def test_every_worker_holding_the_scenario_killed_and_the_store_is_the_same(
    tmp_path, scenario, uninterrupted, monkeypatch
):
    """Every worker that holds the shared scenario is killed (SIGKILL) while a month is computed:
    the scheduler computes the scenario again (it is a task, not scattered data, which Dask
    cannot recompute and whose loss cancelled the months: dask/distributed#3149), and the
    store equals the uninterrupted one."""
    import os
    import signal

    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    out = tmp_path / "out"

    pids: dict[str, int] = {}

    def kill_the_holders(client) -> list[str] | None:
        pids.update(pids or client.run(os.getpid))  # asked once, before the months start
        if _processing_day_task(client) is None:
            return None
        # the scenario is the only key in memory that is not a day task's (whatever its name)
        held = [v for k, v in client.who_has().items() if "prior-days-" not in str(k)]
        holders = sorted({a for addresses in held for a in addresses})
        for address in holders:
            os.kill(pids[address], signal.SIGKILL)
        return holders

    errors, killed = _streamed_on_workers(out, scenario, kill_the_holders)
    assert killed, "no month was seen running on a worker holding the scenario"
    assert not errors, errors
    assert sorted(p.name for p in (out / "_markers").iterdir()) == ["2023-01.json", "2023-02.json"]
    a, b = _store(out), _store(uninterrupted)
    np.testing.assert_array_equal(a["CO2"].values, b["CO2"].values)


def test_a_day_task_cancelled_by_the_cluster_fails_its_month_and_not_silently(
    tmp_path, scenario, monkeypatch
):
    """A day task that Dask cancels (as it does when the task's inputs are lost or its workers
    died too often) computed nothing: the run raises TaskCancelledError naming the month after
    the other month has finished with its marker; the cancelled month has none."""
    from distributed import Future

    from gridcarbon.io.cluster import TaskCancelledError

    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    out = tmp_path / "out"

    def cancel_one(client) -> str | None:
        key = _processing_day_task(client)
        if key is not None:
            client.cancel([Future(key, client)])
        return key

    errors, key = _streamed_on_workers(out, scenario, cancel_one)
    assert key, "no day task was seen running on a worker"
    month = key.removeprefix("prior-days-")[:7]
    assert len(errors) == 1 and isinstance(errors[0], TaskCancelledError), errors
    assert f"prior {month}: Dask cancelled its task" in str(errors[0])
    assert "--resume" in str(errors[0])
    other = {"2023-01": "2023-02.json", "2023-02": "2023-01.json"}[month]
    assert sorted(p.name for p in (out.parent / "out.partial" / "_markers").iterdir()) == [other]


def test_a_dask_client_is_one_of_workers_or_a_scheduler():
    from gridcarbon.pipeline import dask_client

    with dask_client() as client:
        assert client is None
    with pytest.raises(ConfigError, match="not several"), dask_client(2, "tcp://x:1"):
        pass
    for bad in ("eight gigs", "-3GB", "1MB"):
        with pytest.raises(ConfigError, match="is not a size of at least 256 MiB"):
            with dask_client(workers=1, worker_memory=bad):
                pass
    with pytest.raises(ConfigError, match="dask worker --memory-limit"):
        with dask_client(scheduler="tcp://x:1", worker_memory="8GiB"):
            pass


def test_local_workers_get_the_memory_limit_asked_for():
    from gridcarbon.pipeline import dask_client

    with dask_client(workers=1, worker_memory="1.5GiB") as client:
        (worker,) = client.scheduler_info()["workers"].values()
        assert worker["memory_limit"] == int(1.5 * 2**30)


def test_the_map_of_a_streamed_inversion_draws_its_posterior(tmp_path, scenario):
    """A streamed run with the inversion draws the posterior and posterior − prior rasters
    from ``posterior.zarr``; the uncertainty reduction, which needs σ of the period totals that
    the store does not hold, is left out rather than drawn from something else."""
    from gridcarbon.io import open_grids
    from gridcarbon.maps.layers_rasters import period_mean, raster_layer_name

    doc = _inverted_config().model_dump(mode="json")
    doc["maps"] = {"enabled": True}
    out = tmp_path / "out"
    run_streamed(RunConfig.validate_dict(doc), out, resume=True, scenario=scenario)
    html = (out / "map.html").read_text(encoding="utf-8")

    def drawn(name: str) -> bool:  # in the page as written, or as escaped in its scripts
        return name in html or json.dumps(name)[1:-1] in html

    for species in ("CO2", "NOx"):
        for variant in ("prior", "posterior", "difference"):
            assert drawn(raster_layer_name(variant, species)), (variant, species)
        assert not drawn(raster_layer_name("uncertainty_reduction", species))
    post, prior = open_grids(out / "posterior.zarr"), open_grids(out / "prior.zarr")
    assert not np.allclose(period_mean(post, "CO2"), period_mean(prior, "CO2"))


@pytest.mark.parametrize(
    ("settings", "formats"),
    [
        ({}, ["netcdf", "geotiff"]),  # a month, held in memory
        ({"period": {"start": "2023-01-01", "end": "2023-12-31"}}, ["zarr", "geotiff"]),
        ({"period": {"start": "2023-01-01", "end": "2023-03-03"}}, ["netcdf", "geotiff"]),
        ({"period": {"start": "2023-01-01", "end": "2023-03-04"}}, ["zarr", "geotiff"]),
        (
            {
                "period": {"start": "2023-01-01", "end": "2023-12-31"},
                "output": {"formats": ["netcdf"]},
            },
            ["netcdf"],
        ),
        ({"output": {"formats": ["zarr"]}}, ["zarr"]),
    ],
)
def test_grid_formats_leave_a_long_periods_netcdf_copy_to_a_request(settings, formats):
    config = RunConfig.validate_dict(settings)
    assert gridcarbon.pipeline.grid_formats(config) == formats
    # the default survives the round trip through a written configuration
    again = RunConfig.validate_dict(config.model_dump())
    assert gridcarbon.pipeline.grid_formats(again) == formats
