"""``--task-days auto``: the most days per Dask task whose estimated peak fits 60 % of a worker's
memory limit (:mod:`gridcarbon.io.task_memory`), the refusal when one day does not fit, and the
per-task lines of ``--dry-run``.

The expected numbers of days are worked out by hand below from the calibration
(:mod:`gridcarbon.io.task_memory`): a task peaks at ``0.5 GB + per_cell × cells × species +
per_grid_byte × N days of float32 grids``, the per-cell terms set by the measured one-day tasks
of mainland China (prior 1.84 GiB, zones 1.83 GiB).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from gridcarbon.cli import cli
from gridcarbon.config import RunConfig
from gridcarbon.io.resources import ResourceError
from gridcarbon.io.task_memory import choose_task_days, estimate_task_memory, tasks_per_month
from gridcarbon.pipeline import resolve_task_days, run_streamed

GIB = 2**30
MAINLAND = 2_172_918  # cells of mainland China at 3 km
ZHEJIANG = 25_591  # cells of the default grid


def test_a_one_day_task_of_the_mainland_is_estimated_at_its_measured_peak():
    one = estimate_task_memory(MAINLAND, 1, 3)
    assert one.grid_bytes == MAINLAND * 24 * 3 * 4  # 0.626 GB of float32 grids a day
    assert one.prior_bytes == pytest.approx(1.84 * GIB)
    assert one.zone_bytes == pytest.approx(1.83 * GIB)
    assert one.kind == "prior"


@pytest.mark.parametrize(
    ("cells", "limit", "zones", "days"),
    [
        # mainland, day grids G = 625.8 MB; a task of N days: prior 1.976 GB + 1.31 G (N - 1),
        # zones 1.965 GB + 2.0 G (N - 1).
        # 4 GiB: 60 % is 2.577 GB; two days: prior 2.796, zones 3.216 GB > 2.577 -> 1
        (MAINLAND, 4 * GIB, True, 1),
        # 8 GiB: 5.154 GB; zones 1.965 + 1.2516 (N - 1) <= 5.154 -> N <= 3.55 -> 3
        (MAINLAND, 8 * GIB, True, 3),
        # the prior alone: 1.976 + 0.8198 (N - 1) <= 5.154 -> N <= 4.88 -> 4
        (MAINLAND, 8 * GIB, False, 4),
        # 16 GiB: 10.308 GB; zones: N - 1 <= 6.66 -> 7
        (MAINLAND, 16 * GIB, True, 7),
        # Zhejiang, 76,773 cells x species, G = 7.37 MB a day; per cell and species 32.7 B
        # (zones) and 100.6 B (prior): zones 502.5 MB + 14.74 MB N, prior 507.7 MB + 9.655 MB N;
        # 1 GiB: 60 % is 644.2 MB; zones N <= 9.6 -> 9; the prior alone N <= 14.1 -> 14
        (ZHEJIANG, 1 * GIB, True, 9),
        (ZHEJIANG, 1 * GIB, False, 14),
        # 4 GiB: a month of zones is 0.96 GB, far below 2.577 GB -> 31 (whole months)
        (ZHEJIANG, 4 * GIB, True, 31),
    ],
)
def test_auto_chooses_the_most_days_that_fit_60_percent_of_the_limit(cells, limit, zones, days):
    choice = choose_task_days(cells, 3, limit, zones)
    assert choice.task_days == days
    assert choice.estimate.peak_bytes <= 0.6 * limit
    if days < 31:  # one day more would not fit
        assert estimate_task_memory(cells, days + 1, 3, zones).peak_bytes > 0.6 * limit
    assert f"{days} day(s) per task" in choice.reason()


def test_a_worker_too_small_for_one_day_is_refused_naming_the_need_and_the_fix():
    # a one-day mainland task: 1.976 GB; 60 % of 3 GiB is 1.93 GB; 1.976 / 0.6 = 3.07 GiB
    with pytest.raises(ResourceError) as refused:
        choose_task_days(MAINLAND, 3, 3 * GIB)
    text = str(refused.value)
    assert "needs about 1.98 GB" in text and "3.00 GiB" in text and "1.93 GB" in text
    assert "--worker-memory 3.25GiB or more" in text
    choose_task_days(MAINLAND, 3, 3.25 * GIB)  # the limit it names fits


def test_tasks_per_month_by_kind():
    assert tasks_per_month(31, 3) == {"prior days": 11, "zone days": 11}
    assert tasks_per_month(28, 7, zones=False) == {"prior days": 4}


class _Cluster:
    """The part of a ``distributed.Client`` that sizing reads: the workers' memory limits."""

    def __init__(self, *limits: int | None) -> None:
        self.limits = limits

    def scheduler_info(self, n_workers: int = -1) -> dict:
        return {"workers": {f"w{i}": {"memory_limit": x} for i, x in enumerate(self.limits)}}


def _mainland_month() -> tuple[RunConfig, SimpleNamespace]:
    config = RunConfig.validate_dict(
        {"region": "mainland", "period": {"start": "2023-01-01", "end": "2023-01-31"}}
    )
    return config, SimpleNamespace(grid=SimpleNamespace(size=MAINLAND))


def test_auto_takes_the_smallest_worker_limit_and_logs_why(caplog):
    config, region = _mainland_month()
    with caplog.at_level("INFO", logger="gridcarbon.pipeline"):
        days = resolve_task_days(_Cluster(16 * GIB, 8 * GIB), config, "auto", region)
    assert days == 3
    (line,) = [r.getMessage() for r in caplog.records if "task days auto" in r.getMessage()]
    assert "3 day(s) per task" in line and "8.00 GiB" in line and "4 days would need" in line
    assert resolve_task_days(_Cluster(None, 0), config, "auto", region) is None  # no limit
    assert resolve_task_days(_Cluster(4 * GIB), config, 5, region) == 5  # given: kept


def test_auto_refuses_before_any_work(tmp_path):
    config, region = _mainland_month()
    config.inversion.enabled = False
    out = tmp_path / "out"
    with pytest.raises(ResourceError, match=r"--worker-memory 3\.25GiB"):
        run_streamed(
            config, out, resume=True, scenario=region, client=_Cluster(3 * GIB), task_days="auto"
        )
    assert list(tmp_path.iterdir()) == []


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args), obj={})


def test_dry_run_sizes_the_tasks_on_the_workers(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    year = ("run", "--year", "2023", "--no-inversion", "--dry-run")
    r = _invoke(*year, "--workers", "2", "--worker-memory", "1GiB")  # auto: the default
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    # 9 days (above): prior 507.7 + 9 x 9.655 = 594.6 MB, zones 502.5 + 9 x 14.74 = 635.2 MB
    assert (
        "Dask tasks: 9 day(s) per task (auto); per month of 31 days: 4 prior days, 4 zone days"
    ) in lines
    assert (
        "memory per task: prior about 0.59 GB, zones about 0.64 GB; workers' limit 1.00 GiB, "
        "its 60% line 0.64 GB per task: fits"
    ) in lines
    assert any(line.startswith("task days auto: 9 day(s) per task") for line in lines)
    assert "the run would start (nothing was written: a dry run)" in lines
    r = _invoke(*year, "--workers", "2", "--worker-memory", "300MiB")
    assert r.exit_code == 0, r.output
    assert "Dask tasks: 1 day(s) per task (auto: even one day does not fit)" in r.output
    assert "would be refused: a Dask task of one day" in r.output
    # one day: 517.4 MB / 0.6 = 0.80 GiB, in quarters of a GiB: 1
    assert "--worker-memory 1GiB or more" in r.output
    r = _invoke("grid", "--year", "2023", "--dry-run", "--workers", "1", "--task-days", "5")
    assert r.exit_code == 0, r.output
    assert "Dask tasks: 5 day(s) per task (given); per month of 31 days: 7 prior days\n" in (
        r.output
    )
    r = _invoke(*year)  # no workers: no tasks
    assert r.exit_code == 0 and "Dask tasks" not in r.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["run", "grid"])
def test_cli_takes_task_days_auto_and_refuses_bad_values_in_one_line(tmp_path, command):
    out = tmp_path / "out"
    period = ("--start", "2023-01-01", "--end", "2023-01-02")
    r = _invoke(command, *period, "--workers", "1", "--task-days", "auto", "--dry-run")
    assert r.exit_code == 0, r.output
    assert "Dask workers: unused" in r.output and "Dask tasks" not in r.output  # in memory
    r = _invoke(command, *period, "--workers", "1", "--dry-run", "--resume")  # streamed
    assert r.exit_code == 0 and "per month of 2 days: 1 prior days" in r.output
    for bad in ("0", "32", "abc"):
        r = _invoke(command, *period, "--workers", "1", "--task-days", bad, "-o", str(out))
        assert r.exit_code == 2
        assert r.stderr.splitlines() == [
            f"gridcarbon: usage error: Invalid value for '--task-days': {bad!r} is not auto nor "
            f"a whole number of days from 1 to 31 (see 'cli {command} --help')"
        ]
    r = _invoke(command, *period, "--task-days", "auto", "-o", str(out))  # no workers
    assert r.exit_code == 1 and "--task-days auto splits" in r.output
    assert list(tmp_path.iterdir()) == []
