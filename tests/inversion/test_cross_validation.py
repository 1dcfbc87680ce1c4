"""Leave-stations-out cross-validation (gridcarbon.inversion.cross_validation)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from gridcarbon.config.inversion import InversionConfig
from gridcarbon.errors import InputDataError
from gridcarbon.inversion.cross_validation import (
    _restrict,
    cross_validate,
    score_withheld,
    station_folds,
)
from gridcarbon.inversion.observation_types import StationHourObservations
from gridcarbon.inversion.osse import make_truth, synthetic_observations
from gridcarbon.inversion.system import ObservationSystem

from .conftest import build_system

QUADRATURE = {"transport_error_model": "quadrature", "transport_error_correlation": "same_day"}


def _twin(system, seed=1):
    rng = np.random.default_rng(seed)
    cfg = system.config
    return StationHourObservations(
        synthetic_observations(system, make_truth(system, rng, "identical", cfg), rng, cfg)
    )


def test_folds_hold_every_station_once_and_are_reproducible():
    ids = [f"S{i:03d}" for i in range(47)]
    folds = station_folds(ids, 0.1, seed=5)
    assert len(folds) == 10
    assert sorted(np.concatenate(folds)) == sorted(ids)
    assert {len(f) for f in folds} == {4, 5}
    again = station_folds(list(reversed(ids)), 0.1, seed=5)
    assert all((a == b).all() for a, b in zip(folds, again, strict=True))
    other = station_folds(ids, 0.1, seed=6)
    assert any((a != b).any() for a, b in zip(folds, other, strict=True))
    with pytest.raises(InputDataError, match="fraction 0.8"):
        station_folds(ids, 0.8, seed=5)
    with pytest.raises(InputDataError, match="3 stations cannot be split into 10 folds"):
        station_folds(ids[:3], 0.1, seed=5)


def test_scores_of_a_hand_made_table():
    table = pd.DataFrame(
        {
            "fold": [0, 0, 1, 1],
            "station_id": ["A", "A", "B", "C"],
            "species": ["CO2"] * 4,
            "station_class": ["urban", "urban", "urban", "micro"],
            "observed": [10.0, 12.0, 8.0, 5.0],
            "prior": [6.0, 6.0, 6.0, 5.0],
            "posterior": [9.0, 11.0, 7.0, 6.0],
            "prior_var": [4.0, 4.0, 4.0, 1.0],
            "posterior_var": [1.0, 1.0, 1.0, 1.0],
        }
    )
    s = score_withheld(table).set_index(["species", "station_class"])
    urban = s.loc[("CO2", "urban")]
    assert urban["n_stations"] == 2 and urban["n_observations"] == 3
    assert urban["prior_rmse"] == pytest.approx(np.sqrt((16 + 36 + 4) / 3))
    assert urban["posterior_rmse"] == pytest.approx(1.0)
    assert urban["prior_bias"] == pytest.approx(4.0)
    assert urban["prior_chi2"] == pytest.approx((16 + 36 + 4) / 12)
    assert urban["posterior_chi2"] == pytest.approx(1.0)
    everything = s.loc[("CO2", "all")]
    assert everything["n_observations"] == 4
    assert everything["posterior_bias"] == pytest.approx((1 + 1 + 1 - 1) / 4)
    assert everything["rmse_ratio"] == pytest.approx(1.0 / np.sqrt((16 + 36 + 4) / 4))


def test_restricted_r_is_the_submatrix_of_r(case):
    system = build_system(case, InversionConfig(errors=QUADRATURE))
    kind = _twin(system)
    from gridcarbon.inversion.solvers import CorrelatedErrors

    R = kind.error_covariance(system)
    keep = np.random.default_rng(0).random(R.shape[0]) < 0.7
    got = _restrict(CorrelatedErrors(R), keep)
    full = R.toarray()
    for idx, factor in got.blocks:
        np.testing.assert_allclose(
            factor @ factor.T, full[keep][:, keep][np.ix_(idx, idx)], rtol=1e-10, atol=1e-14
        )
    assert sum(idx.size for idx, _ in got.blocks) == keep.sum()
    assert _restrict(None, keep) is None


@pytest.mark.parametrize("errors", [{}, QUADRATURE], ids=["diagonal R", "correlated R"])
def test_withheld_predictions_are_the_closed_form_posterior_of_the_kept_stations(case, errors):
    """Fold 0: the prediction of each withheld observation is ``H_out (x_b + B Hᵀ (H B Hᵀ +
    R)⁻¹ d)`` over the kept observations, and its predicted variances are ``diag(H_out B
    H_outᵀ) + σ²`` and ``diag(H_out P H_outᵀ) + σ²`` of that posterior."""
    system = build_system(case, InversionConfig(errors=errors))
    kind = _twin(system)
    cv = cross_validate(system, kind, fraction=0.25, seed=3)
    assert len(cv.folds) == 4
    rows = kind.assimilated(system)
    assert len(cv.observations) == len(rows)  # every station observation withheld once
    H = kind.jacobian_block(system).toarray()
    d = (rows["observed"] - rows["prior"]).to_numpy()
    r = kind.error_covariance(system)
    R = np.diag(kind.error_variance(system)) if r is None else r.toarray()
    out = rows["station_id"].isin(cv.folds.loc[0, "stations"].split(";")).to_numpy()
    keep = ~out
    B = system.B.sqrt_apply(system.B.sqrt_apply(np.eye(system.layout.n), transpose=True))
    Hk = H[keep]
    gain = B @ Hk.T @ np.linalg.inv(Hk @ B @ Hk.T + R[np.ix_(keep, keep)])
    x_inc = gain @ d[keep]
    P = B - gain @ Hk @ B
    fold = cv.observations[cv.observations["fold"] == 0]
    np.testing.assert_array_equal(fold["station_id"].to_numpy(), rows.loc[out, "station_id"])
    expect = rows.loc[out, "prior"].to_numpy() + H[out] @ x_inc
    np.testing.assert_allclose(fold["posterior"], expect, rtol=1e-6)
    r_out = np.diag(R)[out]
    np.testing.assert_allclose(
        fold["prior_var"], np.einsum("ij,jk,ik->i", H[out], B, H[out]) + r_out, rtol=1e-8
    )
    np.testing.assert_allclose(
        fold["posterior_var"], np.einsum("ij,jk,ik->i", H[out], P, H[out]) + r_out, rtol=1e-5
    )


def test_the_identical_twin_predicts_its_withheld_stations_within_their_sigma(case):
    """In the identical twin the withheld residuals are drawn from the distribution the
    inversion predicts: χ² of the withheld observations near 1 before and after, and the
    posterior predicts them better than the prior."""
    system = build_system(case)
    cv = cross_validate(system, _twin(system, seed=2), fraction=0.2, seed=0)
    everything = cv.summary[cv.summary["station_class"] == "all"].set_index("species")
    assert (everything["n_observations"] > 30).all()
    assert everything["prior_chi2"].between(0.6, 1.6).all()
    assert everything["posterior_chi2"].between(0.6, 1.6).all()
    assert everything.loc["CO2", "rmse_ratio"] < 1.0
    # a posterior variance taken for the prior's would not be honest: it is smaller
    assert (cv.observations["posterior_var"] <= cv.observations["prior_var"] + 1e-12).all()
    assert (cv.observations["posterior_var"] < cv.observations["prior_var"]).mean() > 0.5


@pytest.mark.slow
def test_cross_validation_of_cnemc_no2_files_with_era5_meteorology(tmp_path, tiny_case):
    """A real-format example: CNEMC daily NO2 files (µg/m³, Beijing hour-ending, wide by
    station code), the CNEMC site list and an ERA5-style NetCDF, inverted with
    inversion.cross_validation on; the run writes cross_validation.csv's table and metrics."""
    from gridcarbon.inversion.observations import read_cnemc, read_cnemc_sites, validate_stations
    from gridcarbon.inversion.stage import observation_set, run_inversion
    from gridcarbon.io.meteorology_file import DatasetMeteorology, read_era5

    era5 = tiny_case.met.rename({"time": "valid_time", "lat": "latitude", "lon": "longitude"})
    era5.attrs = {}
    era5.to_netcdf(tmp_path / "era5.nc")
    met = DatasetMeteorology(read_era5(tmp_path / "era5.nc"))
    assert met.synthetic is False

    network = tiny_case.scenario.stations
    network = network[network["kind"] != "micro"].assign(species="NO2")
    sites = tmp_path / "sites.csv"
    pd.DataFrame(
        {
            "监测点编码": network["station_id"],
            "监测点名称": network["station_id"],
            "城市": "杭州",
            "经度": network["lon"],
            "纬度": network["lat"],
        }
    ).to_csv(sites, index=False, encoding="utf-8")
    stations = validate_stations(read_cnemc_sites(sites), tiny_case.scenario.grid)
    scenario = replace(tiny_case.scenario, stations=stations, meteorology=met)
    config = InversionConfig(cross_validation={"enabled": True, "fraction": 0.25, "seed": 1})

    # the station NO2 a twin of this network would see, written as CNEMC would publish it
    system = ObservationSystem(tiny_case.prior, scenario, config)
    twin = _twin(system).table()
    no2 = twin[twin["species"] == "NO2"].copy()
    ug_per_ppb = 46.0055 / 24.465  # 25 °C, 101.325 kPa: CNEMC's reference state since 2018-09
    beijing_end = pd.to_datetime(no2["time"], utc=True).dt.tz_convert(
        "Asia/Shanghai"
    ) + pd.Timedelta(hours=1)
    no2["day"] = beijing_end.dt.strftime("%Y%m%d").astype(int)
    no2["hour"] = beijing_end.dt.hour
    files = []
    for day, g in no2.groupby("day"):
        wide = g.pivot_table(index="hour", columns="station_id", values="value") * ug_per_ppb
        wide = wide.reset_index().assign(date=day, type="NO2")
        path = tmp_path / f"china_sites_{day}.csv"
        wide[["date", "hour", "type", *network["station_id"]]].to_csv(path, index=False)
        files.append(path)
    table = read_cnemc(files, stations)
    observations = observation_set(table, scenario, config, qa=table.attrs["observation_qa"])

    res = run_inversion(tiny_case.prior, scenario, config, observations)
    cv = res.cross_validation
    assert set(cv["species"]) == {"NO2"}
    everything = cv[cv["station_class"] == "all"].iloc[0]
    assert everything["n_stations"] == len(network)
    assert everything["n_observations"] > 0
    assert np.isfinite(
        everything[["rmse_ratio", "prior_chi2", "posterior_chi2"]].astype(float)
    ).all()
    assert res.metrics["cross_validation"]["NO2"]["rmse_ratio"] == everything["rmse_ratio"]
    assert res.metrics["synthetic_observations"] is False

    from gridcarbon.inversion.outputs import inversion_documents, inversion_file_names

    docs = inversion_documents(res)
    assert "cross_validation.csv" in docs
    assert list(docs) == inversion_file_names(
        ["netcdf"], synthetic_observations=False, cross_validation=True
    )
