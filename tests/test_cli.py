from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from gridcarbon.cli import cli
from tests.conftest import small_config


def _invoke(*args):
    return CliRunner().invoke(cli, list(args), obj={}, catch_exceptions=False)


def test_help_teaches():
    r = _invoke("--help")
    assert r.exit_code == 0
    for word in ("run", "grid", "config", "Beijing", "--verbose", "--quiet"):
        assert word in r.output
    r = _invoke("grid", "--help")
    assert "--overwrite" in r.output and "kg h-1" in r.output


def test_grid_writes_and_refuses_to_overwrite(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(small_config().to_yaml())
    out = tmp_path / "out"
    r = _invoke("grid", "--config", str(cfg), "--out", str(out))
    assert r.exit_code == 0, r.output
    assert {p.name for p in out.iterdir()} >= {
        "prior.nc",
        "prior_totals.tif",
        "config.yaml",
        "summary.json",
        "prior_point_sources.csv",
    }
    summary = json.loads((out / "summary.json").read_text())
    assert summary["hours"] == 72 and summary["synthetic"] == "true"
    r = CliRunner().invoke(cli, ["grid", "--config", str(cfg), "--out", str(out)], obj={})
    assert r.exit_code == 1 and "already exists" in r.output and "--overwrite" in r.output
    r = _invoke("grid", "--config", str(cfg), "--out", str(out), "--overwrite", "--format", "zarr")
    assert r.exit_code == 0
    assert (out / "prior.zarr").is_dir() and not (out / "prior.nc").exists()


def test_bad_config_is_one_clear_line_and_writes_nothing(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("grid:\n  cell_size_m: -3\n")
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["grid", "--config", str(cfg), "--out", str(out)], obj={})
    assert r.exit_code == 1
    assert "grid.cell_size_m" in r.output and "greater than 0" in r.output
    assert not out.exists() and list(tmp_path.iterdir()) == [cfg]


def test_run_refuses_a_year_whose_months_are_too_long_for_the_inversion_before_any_work(
    tmp_path,
):
    # a year is inverted month by month: refused only when a month exceeds the limit
    cfg = tmp_path / "c.yaml"
    cfg.write_text("inversion: {max_period_days: 20}\n")
    out = tmp_path / "out"
    args = ["run", "--config", str(cfg), "--year", "2023", "--out", str(out)]
    r = CliRunner().invoke(cli, args, obj={})
    assert r.exit_code == 1
    assert "31 days" in r.output and "inversion.max_period_days = 20" in r.output
    assert "inversion.enabled: false" in r.output  # the way out is named
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]


def test_failure_midway_leaves_no_partial_folder(tmp_path):
    csv = tmp_path / "points.csv"
    csv.write_text("point_id,name,sector,park,lon,lat\nP1,x,power,none,121,29\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(small_config(prior={"point_sources_csv": str(csv)}).to_yaml())
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["grid", "--config", str(cfg), "--out", str(out)], obj={})
    assert r.exit_code == 1 and "lacks column(s)" in r.output
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml", "points.csv"]


def test_period_options(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(small_config().to_yaml())
    r = _invoke(
        "grid",
        "--config",
        str(cfg),
        "--start",
        "2023-02-01",
        "--end",
        "2023-02-01",
        "--out",
        str(tmp_path / "o"),
    )
    assert r.exit_code == 0
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["hours"] == 24
    r = CliRunner().invoke(
        cli,
        [
            "grid",
            "--config",
            str(cfg),
            "--year",
            "2023",
            "--start",
            "2023-01-01",
            "--out",
            str(tmp_path / "p"),
        ],
        obj={},
    )
    assert r.exit_code == 2 and "either --year" in r.output


def test_long_period_is_streamed_with_the_same_results(tmp_path, monkeypatch):
    import numpy as np
    import rasterio
    import xarray as xr

    import gridcarbon.pipeline

    cfg = tmp_path / "c.yaml"
    cfg.write_text(small_config().to_yaml())
    args = ["grid", "--config", str(cfg), "--start", "2023-01-30", "--end", "2023-02-02"]
    args += ["--format", "netcdf", "--format", "geotiff"]  # a streamed period's copy on request
    assert _invoke(*args, "--out", str(tmp_path / "mem")).exit_code == 0
    monkeypatch.setattr(gridcarbon.pipeline, "STREAM_ABOVE_HOURS", 24)  # stream 4 days, 2 months
    assert _invoke(*args, "--out", str(tmp_path / "str")).exit_code == 0
    a = xr.open_dataset(tmp_path / "mem" / "prior.nc").load()
    b = xr.open_dataset(tmp_path / "str" / "prior.nc").load()
    xr.testing.assert_identical(a.drop_attrs(deep=True), b.drop_attrs(deep=True))
    with (
        rasterio.open(tmp_path / "mem" / "prior_totals.tif") as s1,
        rasterio.open(tmp_path / "str" / "prior_totals.tif") as s2,
    ):
        np.testing.assert_allclose(s1.read(), s2.read(), rtol=1e-6)
    s_mem = json.loads((tmp_path / "mem" / "summary.json").read_text())
    s_str = json.loads((tmp_path / "str" / "summary.json").read_text())
    for sp in ("CO2", "NOx", "VOC"):
        assert s_mem["totals"][sp]["total_t"] == pytest.approx(
            s_str["totals"][sp]["total_t"], rel=1e-9
        )
    # streamed: the same files, plus the Zarr store it streams into, its month markers and the
    # run state a --resume checks
    assert sorted(p.name for p in (tmp_path / "str").iterdir()) == sorted(
        [p.name for p in (tmp_path / "mem").iterdir()]
        + ["prior.zarr", "_markers", ".gridcarbon-run.json"]
    )
    import pandas as pd

    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "mem" / "prior_point_sources.csv"),
        pd.read_csv(tmp_path / "str" / "prior_point_sources.csv"),
    )


# -- refusals before any work: one line, nothing written ------------------------------------------
def _refused(tmp_path, args, code=1):
    """Invoke, and check the refusal is one line and nothing was written next to the inputs."""
    before = sorted(p.name for p in tmp_path.iterdir())
    r = CliRunner().invoke(cli, args, obj={})
    assert r.exit_code == code, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gridcarbon: "), r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no output, temporary or lock
    return lines[0]


@pytest.mark.parametrize("year", ["0", "10000", "-5", "twenty"])
def test_an_impossible_year_is_a_usage_error(tmp_path, year):
    line = _refused(tmp_path, ["run", "--year", year, "--out", str(tmp_path / "o")], code=2)
    assert "--year" in line and "usage error" in line


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (bytes(range(256)) * 4, "is not UTF-8 text"),
        (b"grid: {cell_size_m: 3000}\x00\x01\x02", "NUL bytes"),
        (b"- grid\n- period\n", "must be a YAML mapping"),
        (b"grid: [unclosed\n", "not valid YAML"),
        (b"period: {start: 0001-01-01, end: 0001-01-02}\n", "outside the years"),
    ],
)
def test_a_bad_config_file_is_one_line(tmp_path, content, message):
    cfg = tmp_path / "c.yaml"
    cfg.write_bytes(content)
    line = _refused(tmp_path, ["run", "--config", str(cfg), "--out", str(tmp_path / "o")])
    assert message in line and "c.yaml" in line


def test_a_grid_finer_than_500_m_is_refused(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("grid: {cell_size_m: 100}\n")
    line = _refused(tmp_path, ["run", "--config", str(cfg), "--out", str(tmp_path / "o")])
    assert "grid.cell_size_m" in line and "below 500 m" in line


def test_a_run_that_needs_more_memory_than_the_machine_has_is_refused(tmp_path, monkeypatch):
    import gridcarbon.io.resources

    monkeypatch.setattr(gridcarbon.io.resources, "available_memory", lambda: int(4e9))
    cfg = tmp_path / "c.yaml"
    cfg.write_text("period: {start: 2023-01-01, end: 2023-03-31}\n")  # 3 months, inversion
    line = _refused(tmp_path, ["run", "--config", str(cfg), "--out", str(tmp_path / "o")])
    assert "needs about 7.8 GB (the inversion stage" in line
    assert "only 4.0 GB of memory is available" in line
    for way in ("shorter period", "coarser grid", "inversion.enabled: false"):
        assert way in line


def test_an_absurd_extent_is_refused_by_the_memory_estimate(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "grid: {extent: {x_min: 0, y_max: 0, nx: 1000000, ny: 1000000}}\n"
        "inversion: {enabled: false}\nzoning: {enabled: false}\n"
    )
    line = _refused(tmp_path, ["grid", "--config", str(cfg), "--out", str(tmp_path / "o")])
    assert "1,000,000,000,000 cells" in line and "GB of memory is available" in line


def test_missing_input_files_are_refused_in_the_first_second(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"zoning: {{units_path: {tmp_path / 'nope.gpkg'}}}\n")
    line = _refused(tmp_path, ["run", "--config", str(cfg), "--out", str(tmp_path / "o")])
    assert "control-unit file" in line and "nope.gpkg" in line and "does not exist" in line
    (tmp_path / "units.gpkg").write_text("not a geopackage")
    cfg.write_text(f"zoning: {{units_path: {tmp_path / 'units.gpkg'}}}\n")
    line = _refused(tmp_path, ["run", "--config", str(cfg), "--out", str(tmp_path / "o")])
    assert "is not a GeoPackage file" in line


def test_a_unit_name_of_a_megabyte_is_refused_before_any_work(tmp_path):
    from tests.runs import write_units

    units = write_units(tmp_path / "units.geojson", long_name=1 << 20)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(small_config(zoning={"units_path": str(units)}).to_yaml())
    line = _refused(tmp_path, ["run", "--config", str(cfg), "--out", str(tmp_path / "o")])
    assert "1,048,576 characters long (at most 200)" in line


@pytest.mark.parametrize("out", [".", "..", "/"])
def test_output_folders_that_hold_the_user_s_work_are_refused(tmp_path, monkeypatch, out):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    cfg = work / "c.yaml"
    cfg.write_text(small_config().to_yaml())
    r = CliRunner().invoke(cli, ["grid", "--config", str(cfg), "--out", out, "--overwrite"], obj={})
    assert r.exit_code == 1 and "refusing to write the output folder" in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]
    assert sorted(p.name for p in work.iterdir()) == ["c.yaml"]


def test_overwrite_keeps_the_user_s_files(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(small_config().to_yaml())
    out = tmp_path / "out"
    assert _invoke("grid", "--config", str(cfg), "--out", str(out)).exit_code == 0
    (out / "notes.txt").write_text("mine")
    (out / "mydata").mkdir()
    (out / "mydata" / "stations.csv").write_text("id\n")
    r = CliRunner().invoke(cli, ["grid", "--config", str(cfg), "--out", str(out), "--overwrite"])
    assert r.exit_code == 1
    assert "'mydata/'" in r.output and "'notes.txt'" in r.output
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "mydata" / "stations.csv").read_text() == "id\n"


def test_every_command_uses_one_error_prefix(tmp_path):
    r = CliRunner().invoke(
        cli, ["zones", "--grids", str(tmp_path / "nope.nc"), "--out", str(tmp_path / "z")]
    )
    assert r.exit_code == 1
    assert r.output.strip() == (
        f"gridcarbon: error: emission grids (--grids) {str(tmp_path / 'nope.nc')!r} does not exist"
    )


def test_help_states_the_exit_codes():
    r = _invoke("--help")
    for text in ("0 success", "1 a data", "2 a usage", "130 interrupted", "143 terminated"):
        assert text in r.output


@pytest.fixture
def tmpfs(tmp_path):
    """Mount a small tmpfs (needs root and mount rights; skipped where they are missing)."""
    import subprocess

    mounted = []

    def mount(size: str, read_only: bool = False):
        point = tmp_path / f"mnt{len(mounted)}"
        point.mkdir()
        opts = f"size={size}" + (",ro" if read_only else "")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(point)], check=False)
        if r.returncode != 0:
            pytest.skip("cannot mount a tmpfs here (needs root and mount rights)")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:  # lazily: a file the failed writer still holds open keeps it busy
        subprocess.run(["umount", "-l", str(point)], check=False)


def _fill(point, leave: int) -> None:
    import shutil

    free = shutil.disk_usage(point).free
    (point / "filler").write_bytes(b"\0" * (free - leave))


def test_a_read_only_folder_is_refused_before_work(tmp_path, tmpfs):
    point = tmpfs("1m", read_only=True)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(small_config().to_yaml())
    r = CliRunner().invoke(cli, ["grid", "--config", str(cfg), "--out", str(point / "out")])
    assert r.exit_code == 1
    assert r.output.strip() == (
        f"gridcarbon: error: cannot write in {str(point)!r}: the file system is read-only; "
        "choose another output folder"
    )


def test_too_little_disk_space_is_refused_before_work(tmp_path, tmpfs):
    point = tmpfs("1m")
    _fill(point, 20_000)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(small_config().to_yaml())
    r = CliRunner().invoke(cli, ["grid", "--config", str(cfg), "--out", str(point / "out")])
    assert r.exit_code == 1 and len(r.output.strip().splitlines()) == 1
    assert "GB is free on the disk of" in r.output and "choose another --out" in r.output
    assert sorted(p.name for p in point.iterdir()) == ["filler"]


def test_a_disk_that_fills_during_the_write_is_one_line_and_leaves_nothing(
    tmp_path, tmpfs, monkeypatch
):
    import gridcarbon.pipeline

    monkeypatch.setattr(gridcarbon.pipeline, "_check_disk", lambda *a: None)  # estimate fooled
    point = tmpfs("1m")
    _fill(point, 60_000)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(small_config().to_yaml())
    r = CliRunner().invoke(cli, ["grid", "--config", str(cfg), "--out", str(point / "out")])
    assert r.exit_code == 1, r.output
    line = r.output.strip()
    assert line.startswith("gridcarbon: error: no space left on the device while writing")
    assert "\n" not in line and "Traceback" not in line
    assert sorted(p.name for p in point.iterdir()) == ["filler"]


def test_config_command_writes_every_setting_with_its_description(tmp_path):
    from gridcarbon.config import RunConfig

    out = tmp_path / "my.yaml"
    res = CliRunner().invoke(cli, ["config", "-o", str(out)])
    assert res.exit_code == 0, res.output
    text = out.read_text(encoding="utf-8")
    assert RunConfig.from_yaml(text) == RunConfig()
    assert "# cell edge, metres" in text and "# first Beijing day" in text
    again = CliRunner().invoke(cli, ["config", "-o", str(out)])
    assert again.exit_code == 1 and "already exists" in again.output


def test_verbose_logging_is_gridcarbon_only():
    import logging

    from gridcarbon.cli import _setup_logging

    _setup_logging(verbose=2, quiet=0)
    assert logging.getLogger("gridcarbon").getEffectiveLevel() == logging.DEBUG
    assert logging.getLogger("rasterio").getEffectiveLevel() >= logging.WARNING
    _setup_logging(verbose=0, quiet=0)


def test_help_advertises_only_commands_that_work():
    res = CliRunner().invoke(cli, ["--help"])
    assert res.exit_code == 0
    # a year runs streamed, with the inversion month by month or without it
    assert "run --year 2023 --no-inversion" in res.output
    assert "run --year 2023 -o year-2023" in res.output
    for command in ("run", "grid", "invert", "osse", "zones", "map", "config", "synergy"):
        assert f"  {command}" in res.output


def _points_csv_with_a_control_character(tmp_path):
    csv = tmp_path / "points.csv"
    csv.write_text(
        "point_id,name,sector,park,lon,lat,stack_height_m,stack_diameter_m,exit_velocity_m_s,"
        "exit_temperature_K,CO2,NOx,VOC\n"
        "P1,plant,power,none,120.2,30.2,80,4,12,400,1e9,1e6,1e5\n"
        "P2,\x1b[31mred plant,power,none,120.3,30.2,80,4,12,400,1e9,1e6,1e5\n",
        encoding="utf-8",
    )
    cfg = tmp_path / "c.yaml"
    cfg.write_text(small_config(prior={"point_sources_csv": str(csv)}).to_yaml())
    return csv, cfg


def test_warnings_name_the_user_s_file_and_line_not_gridcarbon_s_source(tmp_path):
    csv, cfg = _points_csv_with_a_control_character(tmp_path)
    r = CliRunner().invoke(cli, ["grid", "--config", str(cfg), "-o", str(tmp_path / "o")], obj={})
    assert r.exit_code == 0, r.output
    warned = [line for line in r.stderr.splitlines() if line.startswith("gridcarbon: warning")]
    assert warned == [
        f"gridcarbon: warning: {csv}: 1 value(s) of field 'name' held control or invisible "
        "formatting characters, which were removed (first at line 3)"
    ]
    assert "names.py" not in r.stderr and "warnings.warn" not in r.stderr
    assert "NameCleanedWarning" not in r.stderr  # gridcarbon's own categories are not shown


def test_observation_warnings_and_errors_on_the_command_line_name_file_and_line(tmp_path):
    obs = tmp_path / "obs.csv"
    obs.write_text(
        "time,station_id,species,value,unit\n"
        "2023-01-21 13:00+08:00,dm01,CO2,425.0,ppm\n"
        "2023-01-21 14:00+08:00,DM01,CO2,426.0,ppm\n"
        "2023-01-21 14:30+08:00,DM01,CO2,426.5,ppm\n",
        encoding="utf-8",
    )
    cfg = tmp_path / "c.yaml"
    cfg.write_text(small_config(inversion={"observations": str(obs)}).to_yaml())
    r = CliRunner().invoke(cli, ["invert", "--config", str(cfg), "-o", str(tmp_path / "o")], obj={})
    assert r.exit_code == 1
    assert r.stderr.splitlines()[-2:] == [
        f"gridcarbon: warning: {obs}: station codes matched after removing spaces/case: matched "
        "DM01 ← 'dm01'",
        f"gridcarbon: error: {obs}, line 4, column 'time': time stamp '2023-01-21 14:30+08:00' "
        "(2023-01-21 06:30 UTC) is not on a whole hour (1 of the 3 stamps with a value are "
        "not); values are hourly means stamped at the beginning of their hour (13:00 for "
        "13:00–14:00): average sub-hourly values into hourly means, or correct the stamps",
    ]
    assert "observations.py" not in r.stderr and not (tmp_path / "o").exists()
    # -q hides warnings, not errors
    r = CliRunner().invoke(
        cli, ["-q", "invert", "--config", str(cfg), "-o", str(tmp_path / "o")], obj={}
    )
    assert r.exit_code == 1 and "gridcarbon: warning" not in r.stderr
    assert r.stderr.startswith(f"gridcarbon: error: {obs}, line 4")


def test_dry_run_sizes_a_year_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "year"
    r = _invoke("run", "--year", "2023", "--no-inversion", "--dry-run", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert list(tmp_path.iterdir()) == []  # nothing written, not even the output folder
    text = r.output
    assert "25,591 cells in the box" in text and "8,760 hours, 365 days, 12 month(s)" in text
    assert "streamed month by month" in text and "2,082 control units" in text
    assert "prior.zarr about 1.17 GB" in text  # the measured ratio of the default year
    assert "prior.nc" not in text  # a year's NetCDF copy only on request
    assert "expected peak:" in text and "would start" in text
    asked = ("run", "--year", "2023", "--no-inversion", "--format", "netcdf", "--format", "zarr")
    r = _invoke(*asked, "--dry-run", "-o", str(out))
    assert r.exit_code == 0 and "prior.nc about" in r.output and "prior.zarr about" in r.output
    r = _invoke("grid", "--year", "2023", "--dry-run", "-o", str(out))
    assert r.exit_code == 0 and "control units" not in r.output and "stages: prior\n" in r.output
    assert list(tmp_path.iterdir()) == []


def test_dry_run_names_the_refusals_of_the_run(tmp_path, monkeypatch):
    import gridcarbon.io.resources

    monkeypatch.chdir(tmp_path)
    r = _invoke("run", "--year", "2023", "--dry-run")  # the inversion over a year: by month
    assert r.exit_code == 0, r.output
    assert "runs streamed month by month" in r.output and "inverted month by month" in r.output
    assert "would be refused" not in r.output and "would start" in r.output
    short = tmp_path / "short.yaml"  # a limit below a month: each month is refused
    short.write_text("inversion: {max_period_days: 20}\n")
    r = _invoke("run", "--config", str(short), "--year", "2023", "--dry-run")
    assert r.exit_code == 0, r.output
    assert "would be refused: the period 2023-01-01 .. 2023-01-31 has 31 days" in r.output
    monkeypatch.setattr(gridcarbon.io.resources, "available_memory", lambda: int(4e9))
    cfg = tmp_path / "c.yaml"
    cfg.write_text("period: {start: 2023-01-01, end: 2023-03-31}\n")
    r = _invoke("run", "--config", str(cfg), "--dry-run")
    assert r.exit_code == 0, r.output
    # the figure the run itself refuses with (test above)
    assert "would be refused: this run needs about 7.8 GB (the inversion stage" in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml", "short.yaml"]


@pytest.mark.slow
def test_dry_run_of_the_mainland_reports_the_inversion_refused(tmp_path, monkeypatch):
    import gridcarbon.io.resources

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(gridcarbon.io.resources, "available_memory", lambda: int(24e9))
    r = _invoke("run", "--region", "mainland", "--dry-run")
    assert r.exit_code == 0, r.output
    assert "2,172,918 cells in the box, 1,051,414 with their centre in the region" in r.output
    assert "memory of the inversion: 212.06 GB per month" in r.output
    assert "would be refused: this run needs about 212.1 GB (the inversion stage" in r.output
    assert list(tmp_path.iterdir()) == []


def test_dry_run_figures_are_those_the_run_plans_with():
    from gridcarbon.pipeline import plan_run, size_run

    cfg = small_config(
        period={"start": "2023-01-01", "end": "2023-12-31"}, inversion={"enabled": False}
    )
    size = size_run(cfg)
    plan = plan_run(cfg, streamed=True)  # what run_streamed checks before any work
    assert size.streamed and (size.hours, size.days, size.months) == (8760, 365, 12)
    assert size.cells_in_box == plan.grid.size and size.units == len(plan.units)
    assert 0 < size.cells_in_region < size.cells_in_box
    assert size.prior_bytes == plan.grid.size * 8760 * 3 * 4
    assert size.prior_month_bytes == plan.grid.size * 744 * 3 * 4
    assert size.memory["peak"] == pytest.approx(plan.memory.peak_bytes)
    assert size.peak_stage == plan.memory.stage
    assert size.memory["zoning"] <= size.memory["peak"]


def test_workers_and_a_scheduler_together_are_refused(tmp_path):
    out = tmp_path / "out"
    args = ["run", "--year", "2023", "--workers", "2", "--scheduler", "tcp://x:1", "-o", str(out)]
    r = CliRunner().invoke(cli, args, obj={})
    assert r.exit_code == 1 and "not several" in r.output
    assert list(tmp_path.iterdir()) == []
    r = CliRunner().invoke(cli, ["grid", "--workers", "0", "-o", str(out)], obj={})
    assert r.exit_code == 2 and "--workers" in r.output
