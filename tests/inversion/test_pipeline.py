"""The inversion stage and the `invert` / `osse` commands on a small synthetic case."""

import json

import numpy as np
import pytest
import xarray as xr
import yaml
from click.testing import CliRunner

from gridcarbon.config import RunConfig
from gridcarbon.errors import OutputExistsError
from gridcarbon.inversion.cli import invert_command, osse_command
from gridcarbon.inversion.stage import run_inversion_stage


@pytest.fixture(scope="module")
def files(tmp_path_factory, tiny_case):
    d = tmp_path_factory.mktemp("inv")
    prior = d / "prior.nc"
    from gridcarbon.io import write_netcdf

    write_netcdf(tiny_case.prior, prior)
    st = d / "stations.csv"
    tiny_case.stations.to_csv(st, index=False)
    cfg = RunConfig().model_dump(mode="json")
    cfg["inversion"]["stations"] = str(st)
    cfg["inversion"]["osse"]["cities"] = []
    cfg["output"]["formats"] = ["netcdf"]
    c = d / "run.yaml"
    c.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return d, prior, c


@pytest.mark.slow
def test_stage_writes_posterior_and_metrics(tmp_path, files, tiny_case):
    _, _, c = files
    from gridcarbon.config import load_config

    config = load_config(c)
    res = run_inversion_stage(config, tiny_case.prior, tmp_path)
    post = xr.open_dataset(tmp_path / "posterior.nc")
    assert post.attrs["synthetic"] == "true"
    assert "observations (synthetic OSSE" in post.attrs["synthetic_components"]
    for sp in ("CO2", "NOx"):
        assert post[sp].shape == tiny_case.prior[sp].shape
        assert f"{sp}_std" in post and f"{sp}_uncertainty_reduction" in post
        assert float(post[sp].min()) >= 0  # negative factors clipped (and counted)
    m = json.loads((tmp_path / "inversion_metrics.json").read_text())
    assert m["synthetic"] is True and "SYNTHETIC" in m["note"]
    assert m["n_observations"] == res.metrics["n_observations"] > 0
    for name in (
        "station_stats.csv",
        "station_series.csv",
        "inversion_metrics.csv",
        "observations.csv",
    ):
        assert (tmp_path / name).exists()
    # station table and series for the map
    assert {"station_id", "name", "lon", "lat", "height", "kind", "species"} <= set(res.stations)
    assert {"time", "station_id", "species", "observed", "prior", "posterior", "used"} <= set(
        res.station_series
    )
    with pytest.raises(OutputExistsError):
        run_inversion_stage(config, tiny_case.prior, tmp_path)


@pytest.mark.slow
def test_cli_invert_and_osse(tmp_path, files):
    _, prior, c = files
    r = CliRunner().invoke(
        invert_command,
        ["--config", str(c), "--prior", str(prior), "--out", str(tmp_path / "o")],
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["synthetic"] is True and out["n_observations"] > 0
    r = CliRunner().invoke(
        osse_command,
        [
            "--config",
            str(c),
            "--prior",
            str(prior),
            "--out",
            str(tmp_path / "o"),
            "--mode",
            "identical",
            "--replicates",
            "2",
        ],
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "o" / "osse_identical.csv").exists()
    s = json.loads((tmp_path / "o" / "osse_identical_summary.json").read_text())
    assert s["replicates"] == 2 and "SYNTHETIC" in s["note"]
    assert np.isfinite(s["species"]["CO2"]["reduced_chi2_mean"])
