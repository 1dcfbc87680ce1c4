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


def test_run_refuses_a_period_too_long_for_the_inversion_before_any_work(tmp_path):
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["run", "--year", "2023", "--out", str(out)], obj={})
    assert r.exit_code == 1
    assert "365 days" in r.output and "inversion.max_period_days = 92" in r.output
    assert "inversion.enabled: false" in r.output  # the way out is named
    assert list(tmp_path.iterdir()) == []


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

    import gridcarbon.cli

    cfg = tmp_path / "c.yaml"
    cfg.write_text(small_config().to_yaml())
    args = ["grid", "--config", str(cfg), "--start", "2023-01-30", "--end", "2023-02-02"]
    assert _invoke(*args, "--out", str(tmp_path / "mem")).exit_code == 0
    monkeypatch.setattr(gridcarbon.cli, "STREAM_ABOVE_HOURS", 24)  # stream 4 days, 2 months
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
    assert sorted(p.name for p in (tmp_path / "str").iterdir()) == sorted(
        p.name for p in (tmp_path / "mem").iterdir()
    )
    import pandas as pd

    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "mem" / "prior_point_sources.csv"),
        pd.read_csv(tmp_path / "str" / "prior_point_sources.csv"),
    )
