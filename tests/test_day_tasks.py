"""Dask tasks shorter than a month (``task_days``): the prior's store, the zone tallies and the
hotspots equal those of whole months in one process, bit for bit; a month's marker only after
all its days.

The small test region (:mod:`tests.region`) over twelve days across a month boundary on a
two-worker ``LocalCluster`` in this process (``processes=False``: the workers need not import
the test region).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import gridcarbon.grids.distributed
from gridcarbon.config import RunConfig
from gridcarbon.errors import ConfigError
from gridcarbon.grids.distributed import check_task_days, day_spans
from gridcarbon.pipeline import plan_run, run_streamed
from gridcarbon.zoning.stage import run_zoning
from tests.region import small_region_scenario
from tests.streamed_region import ZONE_FILES, threads_cluster
from tests.streamed_region import streamed_config as _config

pytestmark = pytest.mark.slow  # a cluster and streamed runs of the small region


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
def in_days(tmp_path_factory, scenario, client):
    out = tmp_path_factory.mktemp("days") / "out"
    run_streamed(_config(), out, resume=True, scenario=scenario, client=client, task_days=5)
    return out


def _store(folder) -> xr.Dataset:
    return xr.open_zarr(folder / "prior.zarr", consolidated=True).load()


def test_day_spans_cover_the_month_in_whole_days():
    import datetime as dt

    period = _config().period.model_copy(
        update={"start": dt.date(2023, 1, 1), "end": dt.date(2023, 1, 31)}
    )
    spans = day_spans(period, 7)
    assert [(a.day, b.day, h) for a, b, h in spans] == [
        (1, 7, 0),
        (8, 14, 168),
        (15, 21, 336),
        (22, 28, 504),
        (29, 31, 672),
    ]
    assert len(day_spans(period, 31)) == 1


def test_task_days_must_be_days_of_a_month_and_need_workers(tmp_path, scenario):
    for bad in (0, 32, 1.5, True):
        with pytest.raises(ConfigError, match="task days"):
            check_task_days(bad)
    with pytest.raises(ConfigError, match="--workers"):
        run_streamed(_config(), tmp_path / "out", resume=True, scenario=scenario, task_days=2)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


def test_prior_store_from_day_tasks_equals_the_whole_month_store(single, in_days):
    assert sorted(p.name for p in (in_days / "_markers").iterdir()) == [
        "2023-01.json",
        "2023-02.json",
    ]
    a, b = _store(single), _store(in_days)
    xr.testing.assert_identical(a, b)
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values)


def test_zones_from_day_tasks_equal_the_single_process_run(single, in_days):
    for name in ZONE_FILES:
        with xr.open_dataset(single / name) as a, xr.open_dataset(in_days / name) as b:
            xr.testing.assert_identical(a.load().drop_attrs(), b.load().drop_attrs())
    with xr.open_dataset(in_days / "hotspots_month.nc") as month:
        assert int((month["CO2_bin"] > 0).sum()) > 0
    names = sorted(p.name for p in single.glob("*.csv"))
    assert "zone_units.csv" in names
    for name in names:
        pd.testing.assert_frame_equal(
            pd.read_csv(single / name), pd.read_csv(in_days / name), check_exact=True
        )


@pytest.mark.parametrize("task_days", [1, 4])
def test_zoning_stream_in_day_tasks_equals_the_in_memory_stage(
    single, scenario, client, tmp_path, task_days
):
    """The stage's result (hourly tally kept whole, z-scores and flags of days and months,
    co-location with its toroidal null over the day spans) equals the in-memory path's."""
    from gridcarbon.zoning.distributed import zoning_stream

    config = _config()
    plan = plan_run(config, stages=("zoning",), streamed=True, scenario=scenario)
    memory = xr.open_zarr(single / "prior.zarr").load()
    kwargs = dict(species=tuple(config.species_values()), qa=plan.zoning.qa)
    a = run_zoning(memory, plan.zoning.units, config.zoning, **kwargs)
    stream = zoning_stream(client, single / "prior.zarr", config.zoning, tmp_path, task_days)
    lazy = xr.open_zarr(single / "prior.zarr")
    b = run_zoning(lazy, plan.zoning.units, config.zoning, stream=stream, **kwargs)
    xr.testing.assert_identical(a.tally, b.tally)
    for level in ("day", "month"):
        xr.testing.assert_identical(a.hotspots[level], b.hotspots[level])
    # the month fields came from the day tasks' day fields, each file read once and removed
    assert sorted(p.name for p in tmp_path.rglob("*-fields.npz")) == []
    assert len(list(tmp_path.glob("2023-0[12]/month/*.npz"))) == 2 * len(kwargs["species"])
    for name in ("tally_day", "tally_month", "diurnal"):
        xr.testing.assert_identical(getattr(a, name), getattr(b, name))
    pd.testing.assert_frame_equal(a.table, b.table, check_exact=True)
    pd.testing.assert_frame_equal(a.colocation, b.colocation, check_exact=True)


def test_tally_sums_of_day_blocks_equal_those_of_whole_months(single, scenario):
    """A month's tally in blocks of three days, its month bins summed from the blocks joined
    (:func:`month_tally_bins`), equals the whole tally's bins."""
    from gridcarbon.grids.prior import month_slices
    from gridcarbon.zoning.overlay import overlay_units
    from gridcarbon.zoning.tally import TallySums, month_tally_bins, tally_at, zone_tally

    config = _config()
    plan = plan_run(config, stages=("zoning",), streamed=True, scenario=scenario)
    grids = xr.open_zarr(single / "prior.zarr").load()
    names = [s.name for s in config.species_values()]
    overlay = overlay_units(grids, plan.zoning.units)
    whole = zone_tally(grids, overlay, plan.zoning.units, names)
    time = grids["time"].values
    sums = TallySums(names, time)
    for month in month_slices(np.arange(time.size), pd.DatetimeIndex(time)):
        parts = []
        for a in range(month.start, month.stop, 72):
            block = grids.isel(time=slice(a, min(a + 72, month.stop)))
            parts.append(zone_tally(block, overlay, plan.zoning.units, names))
            sums.add(parts[-1], month_bins=False)
        bins = month_tally_bins(
            lambda var, parts=parts: [p[var].values for p in parts],
            time[month],
            parts[0],
            sums.per_unit,
        )
        sums.add_month_bins(bins)
    assert sums.complete()
    for freq in ("day", "month"):
        xr.testing.assert_identical(sums.binned(freq), tally_at(whole, freq, names))
    assert sums.binned("month").sizes["month"] == 2


def test_a_month_gets_its_marker_only_after_all_its_days(tmp_path, scenario, client, single):
    """A day task of February fails: January's marker is written, February's is not; the
    resumed run computes February again and the store equals the whole-month one."""
    original = gridcarbon.grids.distributed.prior_days_task

    def failing(scenario, period, keep_sectors, store, start):
        if period.start.month == 2 and period.start.day > 1:
            raise RuntimeError("injected fault in a day of February")
        return original(scenario, period, keep_sectors, store, start)

    out = tmp_path / "out"
    gridcarbon.grids.distributed.prior_days_task = failing
    try:
        with pytest.raises(RuntimeError, match="injected fault"):
            run_streamed(
                _config(),
                out,
                stages=(),
                resume=True,
                scenario=scenario,
                client=client,
                task_days=1,
            )
    finally:
        gridcarbon.grids.distributed.prior_days_task = original
    partial = tmp_path / "out.partial"
    assert sorted(p.name for p in (partial / "_markers").iterdir()) == ["2023-01.json"]
    run_streamed(
        _config(), out, stages=(), resume=True, scenario=scenario, client=client, task_days=3
    )
    xr.testing.assert_identical(_store(out), _store(single))


def test_an_inversion_of_mainland_china_is_refused_before_any_work_even_in_day_tasks(tmp_path):
    """Day tasks shrink the prior's and the zones' tasks, not the inversion (each month is
    inverted whole in the driver): a mainland month with the inversion is refused before any
    work, naming the inversion and the memory it would need."""
    from gridcarbon.io.resources import ResourceError

    config = RunConfig.validate_dict(
        {"region": "mainland", "period": {"start": "2023-01-01", "end": "2023-01-31"}}
    )
    out = tmp_path / "out"
    with pytest.raises(ResourceError, match=r"needs about \d+\.\d GB \(the inversion stage"):
        run_streamed(config, out, resume=True, client=object(), task_days=1)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["run", "grid"])
def test_cli_refuses_task_days_without_workers(tmp_path, command):
    from click.testing import CliRunner

    from gridcarbon.cli import cli

    out = tmp_path / "out"
    args = [command, "--start", "2023-01-01", "--end", "2023-01-02", "--task-days", "1"]
    r = CliRunner().invoke(cli, [*args, "-o", str(out)], obj={})
    assert r.exit_code == 1 and "--task-days 1" in r.output and "--workers" in r.output
    assert list(tmp_path.iterdir()) == []
    r = CliRunner().invoke(cli, [command, "--help"], obj={})
    assert "--task-days" in r.output


def test_auto_task_days_run_the_small_region_in_month_tasks_equal_to_one_process(
    tmp_path, scenario, client, single, caplog
):
    """``task_days="auto"`` on workers with Dask's default limit (the machine's memory over
    the workers: gigabytes): a month of the small region fits, so a task covers 31 days, the
    choice is logged, and every output equals the single-process run's."""
    out = tmp_path / "out"
    with caplog.at_level("INFO", logger="gridcarbon.pipeline"):
        run_streamed(
            _config(), out, resume=True, scenario=scenario, client=client, task_days="auto"
        )
    (line,) = [r.getMessage() for r in caplog.records if "task days auto" in r.getMessage()]
    assert "31 day(s) per task" in line and "a whole month fits" in line
    xr.testing.assert_identical(_store(out), _store(single))
    for name in ZONE_FILES:
        with xr.open_dataset(single / name) as a, xr.open_dataset(out / name) as b:
            xr.testing.assert_identical(a.load().drop_attrs(), b.load().drop_attrs())
