"""The inversion stage, its documents and the `invert` / `osse` commands on a small synthetic
case."""

import json
import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import xarray as xr
import yaml
from click.testing import CliRunner

from gridcarbon.cli.inversion import invert_command, osse_command
from gridcarbon.config import RunConfig
from gridcarbon.contracts import RUN_FILES, InversionResult, PosteriorCovariance
from gridcarbon.errors import OutputExistsError
from gridcarbon.inversion.observations import ObservationWarning
from gridcarbon.inversion.outputs import inversion_documents, inversion_file_names
from gridcarbon.inversion.stage import run_inversion
from gridcarbon.io.outputs import write_documents


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
def test_stage_result_and_documents(tmp_path, tiny_case):
    config = RunConfig().inversion
    res = run_inversion(tiny_case.prior, tiny_case.scenario, config)
    assert isinstance(res, InversionResult)
    assert isinstance(res.covariance, PosteriorCovariance)
    docs = inversion_documents(res, ["netcdf", "zarr"])
    assert list(docs) == inversion_file_names(["netcdf", "zarr"], synthetic_observations=True)
    assert set(docs) <= {f.name for f in RUN_FILES}
    write_documents(docs, tmp_path)
    post = xr.open_dataset(tmp_path / "posterior.nc")
    assert post.attrs["synthetic"] == "true"
    assert "observations (synthetic OSSE" in post.attrs["synthetic_components"]
    for name in ("CO2", "NOx"):
        assert post[name].shape == tiny_case.prior[name].shape
        expected = {k: v for k, v in tiny_case.prior[name].attrs.items() if k != "coordinates"}
        # the prior's metadata (coordinates: decoded), linked to its σ as CF asks
        assert post[name].attrs == {**expected, "ancillary_variables": f"{name}_std"}
        assert f"{name}_std" in post and f"{name}_uncertainty_reduction" in post
        assert float(post[name].min()) >= 0  # negative factors clipped (and counted)
    assert (tmp_path / "posterior.zarr").is_dir()
    m = json.loads((tmp_path / "inversion_metrics.json").read_text())
    assert m["synthetic"] is True and "SYNTHETIC" in m["note"]
    assert m["n_observations"] == res.metrics["n_observations"] > 0
    assert m["n_observations_by_type"] == {"station_hour": m["n_observations"]}
    # no satellite columns: no column tables, no "columns" metrics
    assert res.column_observations is None and res.overpass_stats is None
    assert "columns" not in m
    assert not (tmp_path / "overpass_stats.csv").exists()
    assert m["layout"]["species"] == ["CO2", "NOx"]
    assert len(m["osse_scores_vs_synthetic_truth"]) == 2  # scored against the truth
    for name in (
        "station_stats.csv",
        "station_series.csv",
        "inversion_metrics.csv",
        "observations.csv",
        "inversion_extras.csv",
    ):
        assert (tmp_path / name).exists()
    # station table and series for the map
    assert {"station_id", "name", "lon", "lat", "height", "kind", "species"} <= set(res.stations)
    assert {"time", "station_id", "species", "observed", "prior", "posterior", "used"} <= set(
        res.station_series
    )
    # σ of a total through the protocol: the whole grid, one hour
    F = np.ones((1, tiny_case.prior.sizes["y"] * tiny_case.prior.sizes["x"]))
    sigma = res.covariance.total_std(sp.csr_matrix(F), "CO2", hours=[0])
    assert sigma.shape == (1,) and sigma[0] > 0
    # a value a scheduler can ship between processes
    again = pickle.loads(pickle.dumps(res))
    np.testing.assert_array_equal(
        again.covariance.total_std(sp.csr_matrix(F), "CO2", hours=[0]), sigma
    )
    with pytest.raises(OutputExistsError):
        write_documents(docs, tmp_path)


@pytest.mark.slow
def test_observations_as_a_table_are_checked_and_counted(tiny_case):
    """Observations given as a table: normalised against the scenario's stations, their QA in
    the metrics, nothing said to be synthetic about them, and no observations.csv."""
    config = RunConfig().inversion
    synthetic = run_inversion(tiny_case.prior, tiny_case.scenario, config)
    table = synthetic.observations.drop(columns="synthetic")
    table["time"] = table["time"].dt.tz_localize("UTC")
    # micro sensors with a negative bias read NO2 medians below the plausible range: warned
    with pytest.warns(ObservationWarning, match="station medians outside the plausible range"):
        res = run_inversion(tiny_case.prior, tiny_case.scenario, config, table)
    assert res.metrics["synthetic_observations"] is False
    assert res.observations is None and "observations.csv" not in inversion_documents(res)
    qa = res.metrics["observation_qa"]
    assert qa["sources"]["DataFrame"]["values_read"] == len(table)
    # the same values, so the same fit
    np.testing.assert_allclose(
        res.station_stats["posterior_rmse"], synthetic.station_stats["posterior_rmse"]
    )


@pytest.mark.slow
def test_configured_files_read_by_the_pipeline(tmp_path, files, tiny_case):
    """inversion.stations and inversion.observations: read through gridcarbon.io by the
    pipeline and handed to the stage; the reading's QA names the file."""
    from gridcarbon.config import load_config
    from gridcarbon.pipeline import inversion_inputs

    _, _, c = files
    config = load_config(c)
    synthetic = run_inversion(tiny_case.prior, tiny_case.scenario, config.inversion)
    table = synthetic.observations.drop(columns="synthetic")
    table["time"] = table["time"].dt.strftime("%Y-%m-%d %H:%M+00:00")
    obs_csv = tmp_path / "obs.csv"
    table.to_csv(obs_csv, index=False)
    data = config.model_dump(mode="json")
    data["inversion"]["observations"] = str(obs_csv)
    config = RunConfig.validate_dict(data)
    with pytest.warns(ObservationWarning, match="station medians outside the plausible range"):
        scenario, observations = inversion_inputs(config, tiny_case.prior)
    assert list(scenario.stations["station_id"]) == list(tiny_case.stations["station_id"])
    assert "station network" not in scenario.synthetic_components
    assert observations.synthetic is False
    res = run_inversion(tiny_case.prior, scenario, config.inversion, observations)
    qa = res.metrics["observation_qa"]
    assert qa["sources"][str(obs_csv)]["values_kept"] == len(table)
    assert res.metrics["synthetic_observations"] is False
    # the same values handed in as a table give the same fit
    table["time"] = pd.to_datetime(table["time"])
    with pytest.warns(ObservationWarning, match="station medians outside the plausible range"):
        same = run_inversion(tiny_case.prior, scenario, config.inversion, table)
    np.testing.assert_allclose(
        res.station_stats["posterior_rmse"], same.station_stats["posterior_rmse"], rtol=1e-9
    )


@pytest.mark.slow
def test_configured_era5_file_is_the_scenario_meteorology(tmp_path, files, tiny_case):
    """inversion.meteorology: an ERA5-style file read by the pipeline becomes the scenario's
    meteorology (no longer called synthetic), with the same result as the same fields given
    in memory."""
    from dataclasses import replace

    from gridcarbon.config import load_config
    from gridcarbon.io.meteorology_file import DatasetMeteorology
    from gridcarbon.pipeline import inversion_inputs

    _, _, c = files
    era5 = tiny_case.met.rename({"time": "valid_time", "lat": "latitude", "lon": "longitude"})
    era5.attrs = {}
    era5.to_netcdf(tmp_path / "era5.nc")
    data = load_config(c).model_dump(mode="json")
    data["inversion"]["meteorology"] = str(tmp_path / "era5.nc")
    config = RunConfig.validate_dict(data)
    scenario, observations = inversion_inputs(config, tiny_case.prior)
    assert observations is None
    assert isinstance(scenario.meteorology, DatasetMeteorology)
    assert scenario.meteorology.synthetic is False
    assert "meteorology" not in scenario.synthetic_components
    from_file = run_inversion(tiny_case.prior, scenario, config.inversion)
    in_memory = replace(scenario, meteorology=DatasetMeteorology(tiny_case.met))
    same = run_inversion(tiny_case.prior, in_memory, config.inversion)
    np.testing.assert_array_equal(from_file.posterior["CO2"].values, same.posterior["CO2"].values)


@pytest.mark.slow
def test_cli_invert_and_osse(tmp_path, files):
    _, prior, c = files
    r = CliRunner().invoke(
        invert_command,
        ["--config", str(c), "--prior", str(prior), "--out", str(tmp_path / "o")],
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output[r.output.index("{") :])
    assert out["synthetic"] is True and out["n_observations"] > 0
    assert (tmp_path / "o" / "observations.csv").exists()
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
