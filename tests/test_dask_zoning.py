"""The zoning stage of a streamed run on Dask workers equals the single-process path; the
performance report and the per-task log of a run on workers.

The small test region (:mod:`tests.region`) over twelve days across a month boundary (two
months, enough daily bins for the emerging-hotspot analysis) on a two-worker ``LocalCluster``
in this process (``processes=False``: the workers need not import the test region).
"""

from __future__ import annotations

import csv
import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from gridcarbon.config import RunConfig
from gridcarbon.errors import ConfigError
from gridcarbon.pipeline import ZONING_PARTS, dask_diagnostics, plan_run, run_streamed
from gridcarbon.zoning.stage import run_zoning
from tests.region import small_region_scenario
from tests.streamed_region import ZONE_FILES, threads_cluster
from tests.streamed_region import streamed_config as _config

pytestmark = pytest.mark.slow  # a cluster and two streamed runs of the small region


@pytest.fixture(scope="module")
def scenario():
    return small_region_scenario()


@pytest.fixture(scope="module")
def client():
    with threads_cluster() as c:
        yield c


@pytest.fixture(scope="module")
def single(tmp_path_factory, scenario):
    out = tmp_path_factory.mktemp("single") / "out"
    run_streamed(_config(), out, resume=True, scenario=scenario)
    return out


@pytest.fixture(scope="module")
def on_workers(tmp_path_factory, scenario, client):
    folder = tmp_path_factory.mktemp("workers")
    out = folder / "out"
    report, log = folder / "report.html", folder / "tasks.csv"
    with dask_diagnostics(client, performance_report=report, task_log=log):
        run_streamed(_config(), out, resume=True, scenario=scenario, client=client)
    return out, report, log


def test_zones_on_workers_equal_the_single_process_run(single, on_workers):
    out = on_workers[0]
    assert not (out / ZONING_PARTS).exists()  # the tasks' scratch files are gone
    for name in ZONE_FILES:
        with xr.open_dataset(single / name) as a, xr.open_dataset(out / name) as b:
            xr.testing.assert_identical(a.load().drop_attrs(), b.load().drop_attrs())
    with xr.open_dataset(out / "hotspots_day.nc") as day:
        assert "CO2_emerging" in day and int((day["CO2_bin"] > 0).sum()) > 0
    for name in sorted(p.name for p in single.glob("*.csv")):
        pd.testing.assert_frame_equal(
            pd.read_csv(single / name), pd.read_csv(out / name), check_exact=True
        )
    with (
        xr.open_zarr(single / "prior.zarr") as a,
        xr.open_zarr(out / "prior.zarr") as b,
    ):
        np.testing.assert_array_equal(a["CO2"].values, b["CO2"].values)


def test_zoning_stream_equals_the_in_memory_stage(single, scenario, client, tmp_path):
    """The stage's result itself (hourly tally kept whole, z-scores, flags, co-location and
    its toroidal null) equals the in-memory path's."""
    from gridcarbon.zoning.distributed import zoning_stream

    config = _config()
    plan = plan_run(config, stages=("zoning",), streamed=True, scenario=scenario)
    memory = xr.open_zarr(single / "prior.zarr").load()
    kwargs = dict(species=tuple(config.species_values()), qa=plan.zoning.qa)
    a = run_zoning(memory, plan.zoning.units, config.zoning, **kwargs)
    stream = zoning_stream(client, single / "prior.zarr", config.zoning, tmp_path / "parts")
    lazy = xr.open_zarr(single / "prior.zarr")
    b = run_zoning(lazy, plan.zoning.units, config.zoning, stream=stream, **kwargs)
    xr.testing.assert_identical(a.tally, b.tally)
    for name in a.tally.data_vars:  # the same memory layout: later sums agree to the last bit
        assert a.tally[name].values.strides == b.tally[name].values.strides, name
    for level in ("day", "month"):
        xr.testing.assert_identical(a.hotspots[level], b.hotspots[level])
    for name in ("tally_day", "tally_month", "diurnal"):
        xr.testing.assert_identical(getattr(a, name), getattr(b, name))
    pd.testing.assert_frame_equal(a.table, b.table, check_exact=True)
    pd.testing.assert_frame_equal(a.colocation, b.colocation, check_exact=True)
    assert (a.colocation["n_shifts"] == 19).any()  # the toroidal null ran on the workers


def test_performance_report_is_one_offline_html_file(on_workers):
    report = on_workers[1]
    text = report.read_text(encoding="utf-8")
    assert text.lstrip().lower().startswith("<!doctype html")
    assert "Bokeh" in text and "</html>" in text
    # inline: BokehJS is in the file (about a megabyte), no script or stylesheet is fetched
    # from a network (only the page's favicon link points to one, which a browser may skip)
    assert len(text) > 500_000
    assert not re.search(r"<script[^>]+src=[\"']https?://", text)
    assert not re.search(r"<link[^>]+stylesheet[^>]+href=[\"']https?://", text)


def test_task_log_has_a_row_per_task_with_its_worker_times_and_memory(on_workers):
    from gridcarbon.io.tables import read_csv_table
    from gridcarbon.io.task_log import COLUMNS

    log = on_workers[2]
    with open(log, encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh))
    assert tuple(header) == COLUMNS
    table = read_csv_table(log)
    months = table[table["key"].str.startswith("zone-month-")]
    assert sorted(months["key"].str.slice(11, 18)) == ["2023-01", "2023-02"]
    assert table["key"].str.startswith("zone-null-").any()
    assert table["key"].str.startswith("zone-warm-up-").sum() == 2  # one on each worker
    assert table["key"].is_unique
    assert len(set(table["worker"])) == 2  # both workers ran tasks
    start = pd.to_datetime(table["start_utc"], utc=True)
    stop = pd.to_datetime(table["stop_utc"], utc=True)
    assert (stop >= start).all() and (table["duration_s"] >= 0).all()
    np.testing.assert_allclose((stop - start).dt.total_seconds(), table["duration_s"], atol=2e-3)
    assert (months["peak_rss_bytes"] > 10_000_000).all()  # a process's RSS, in bytes
    assert set(table["status"]) == {"OK"}


def test_diagnostics_need_workers(tmp_path):
    with dask_diagnostics(None):  # nothing asked: nothing recorded
        pass
    with (
        pytest.raises(ConfigError, match="--workers"),
        dask_diagnostics(None, task_log=tmp_path / "t.csv"),
    ):
        pass
    assert not (tmp_path / "t.csv").exists()


def test_cli_refuses_a_task_log_without_workers(tmp_path):
    from click.testing import CliRunner

    from gridcarbon.cli import cli

    out, log = tmp_path / "out", tmp_path / "tasks.csv"
    args = ["run", "--year", "2023", "--no-inversion", "--task-log", str(log), "-o", str(out)]
    r = CliRunner().invoke(cli, args, obj={})
    assert r.exit_code == 1 and "--workers" in r.output
    assert list(tmp_path.iterdir()) == []
    r = CliRunner().invoke(cli, ["grid", "--help"], obj={})
    assert "--performance-report" in r.output and "--task-log" in r.output


def test_zones_of_the_posterior_on_workers_equal_the_single_process_run(tmp_path, scenario, client):
    """With the inversion the zones tally ``posterior.zarr``: on workers too (four days over
    two months; each month inverted on its own in the driver)."""
    doc = _config().model_dump(mode="json")
    doc["period"] = {"start": "2023-01-30", "end": "2023-02-02"}
    doc["inversion"] = {"enabled": True}
    config = RunConfig.validate_dict(doc)
    a, b = tmp_path / "single", tmp_path / "workers"
    run_streamed(config, a, resume=True, scenario=scenario)
    run_streamed(config, b, resume=True, scenario=scenario, client=client)
    for name in ZONE_FILES:
        with xr.open_dataset(a / name) as x, xr.open_dataset(b / name) as y:
            xr.testing.assert_identical(x.load().drop_attrs(), y.load().drop_attrs())
    units = pd.read_csv(b / "zone_units.csv")
    assert "CO2_posterior_std_kg" in units
    pd.testing.assert_frame_equal(pd.read_csv(a / "zone_units.csv"), units, check_exact=True)
