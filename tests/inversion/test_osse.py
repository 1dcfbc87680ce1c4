"""Small OSSEs (CI): identical twin statistics and the perturbed-transport harness."""

import numpy as np
import pandas as pd
import pytest

from gridcarbon.config.inversion import InversionConfig
from gridcarbon.inversion.osse import run_osse

from .conftest import build_system


@pytest.mark.slow
def test_identical_twin_small(case, system):
    res = run_osse(
        case.prior,
        case.scenario,
        InversionConfig(osse={"distance_bands_km": [30.0]}),  # one band = "near"
        mode="identical",
        replicates=3,
        seed=100,
        area_shares=case.area_shares,
        city_codes=[],
        system=system,
        cross_species_zero=False,
    )
    d = res.table[res.table.label == "default"]
    m = int(d["n_obs"].iloc[0])
    chi2 = d.groupby("replicate")["reduced_chi2"].first().to_numpy()
    # each replicate: chi2 ~ 1 ± sqrt(2/m); 3 replicates: the mean within 3 sqrt(2/(3m))
    assert abs(chi2.mean() - 1) <= 3 * np.sqrt(2 / (3 * m)), (chi2, m)
    cov = d["coverage_1sigma"].to_numpy()
    assert 0.55 <= cov.mean() <= 0.80, cov  # few, spatially correlated cells: loose in CI
    assert (d["rmse_reduction_near"] > 0).mean() >= 0.6  # the data help in most cases
    np.testing.assert_allclose(d["rmse_reduction_0-30km"], d["rmse_reduction_near"], rtol=1e-12)
    # what B and R promise near stations: a gain, and not more than the posterior σ allows
    assert d["expected_rmse_reduction_near"].between(0.0, 1.0).all()
    assert res.summary["synthetic"] is True
    assert set(res.summary["species"]) == {"CO2", "NOx", "VOC"}


@pytest.mark.slow
def test_perturbed_transport_small(case, system):
    res = run_osse(
        case.prior,
        case.scenario,
        InversionConfig(),
        mode="perturbed",
        replicates=3,
        seed=200,
        area_shares=case.area_shares,
        city_codes=[],
        system=system,
    )
    t = res.table
    assert set(t["label"]) == {"default", "no_cross_species"}
    d = t[t.label == "default"]
    assert len(d) == 9 and d["reduced_chi2"].between(0.05, 5).all()
    assert np.isfinite(d["rmse_post_near_kg"]).all()
    bands = ["0-5km", "5-10km", "10-20km", "20-30km"]  # the default distance bands
    assert {f"rmse_reduction_{b}" for b in bands} <= set(d.columns)
    assert {f"rmse_reduction_{b}_mean" for b in bands} <= set(res.summary["species"]["CO2"])
    s = res.summary
    for sp_ in ("CO2", "NOx", "VOC"):
        rec = s["species"][sp_]
        assert {"near_ok", "far_ok", "chi2_ok", "coverage_ok"} <= set(rec)
    assert "CO2_no_cross_species" in s
    assert set(res.timings) == {
        "system_seconds",
        "observation_seconds",
        "solve_seconds",
        "total_seconds",
    }


def test_identical_twin_is_exact_in_the_noise_free_limit(tiny_case):
    """With no observation noise and a tiny R the posterior approaches the truth where the
    observations are sensitive (a check that H, J and the truth are consistent)."""
    from gridcarbon.inversion.assimilation import assimilate
    from gridcarbon.inversion.osse import make_truth, synthetic_observations

    cfg = InversionConfig(
        errors={
            "model_error_rel": 0.0,
            "model_error_floor": {"CO2": 1e-3, "NO2": 1e-3, "VOC": 1e-3},
            "measurement_error": {
                k: {"CO2": 1e-3, "NO2": 1e-3, "VOC": 1e-3}
                for k in ("urban", "micro", "regional", "demonstration", "background", "sink")
            },
            "model_error_wind_direction_deg": 0.0,
            "model_error_mixing_height_rel": 0.0,
            "point_dominance_max": 1.0,
        }
    )
    sysm = build_system(tiny_case, cfg)
    rng = np.random.default_rng(0)
    truth = make_truth(sysm, rng, "identical", cfg)
    obs = synthetic_observations(sysm, truth, np.random.default_rng(1), cfg)
    obs["value"] = obs["value"]  # noise of 1e-3 only
    res = assimilate(sysm, obs, build_posterior=False)
    # the posterior reproduces the observations
    meta = res.obs
    assert np.max(np.abs(meta["posterior"] - meta["observed"])) < 0.05 * np.max(
        np.abs(meta["prior"] - meta["observed"])
    )


def test_distance_bands_validated():
    from gridcarbon.config import RunConfig
    from gridcarbon.errors import ConfigError

    assert InversionConfig(osse={"distance_bands_km": [30, 5]}).osse.distance_bands_km == [5, 30]
    for bad in ([0.0, 10.0], [10.0, 10.0], []):
        with pytest.raises(ConfigError, match="distance_bands_km"):
            RunConfig.validate_dict({"inversion": {"osse": {"distance_bands_km": bad}}})
    assert InversionConfig(osse={"far_field_block_km": [27, 9]}).osse.far_field_block_km == [9, 27]
    for bad in ([0.0, 10.0], [10.0, 10.0], [-3.0]):
        with pytest.raises(ConfigError, match="far_field_block_km"):
            RunConfig.validate_dict({"inversion": {"osse": {"far_field_block_km": bad}}})


@pytest.mark.slow
def test_perfect_transport_twin_and_honest_scores(case, system):
    from gridcarbon.inversion.osse import perfect_transport_config

    cell_km = system.grid.cell_size / 1000.0
    # blocks of one cell and one block of the whole grid, beside the default's 9 km
    cfg = InversionConfig(osse={"far_field_block_km": [cell_km, 9.0, 3000.0]})
    perfect = perfect_transport_config(cfg)
    assert perfect.errors.model_error_rel == cfg.osse.perfect_transport_model_error_rel == 0.1
    assert perfect.errors.model_error_wind_direction_deg == 0.0
    assert perfect.errors.model_error_mixing_height_rel == 0.0
    assert perfect.errors.measurement_error == cfg.errors.measurement_error
    sysm = build_system(case, perfect)
    with pytest.raises(ValueError, match="perfect_transport_config"):
        run_osse(
            case.prior,
            case.scenario,
            cfg,
            mode="perfect",
            replicates=1,
            system=system,
            city_codes=[],
        )
    res = run_osse(
        case.prior,
        case.scenario,
        cfg,
        mode="perfect",
        replicates=2,
        seed=100,
        area_shares=case.area_shares,
        city_codes=[],
        system=sysm,
        cross_species_zero=False,
    )
    d = res.table[res.table.label == "default"]
    assert set(d["mode"]) == {"perfect"}
    for band in ("0-5km", "5-10km", "10-20km", "20-30km", "far", "near"):
        assert {f"own_rmse_reduction_{band}", f"own_factor_reduction_{band}"} <= set(d.columns)
    # the cells of all bands are the scored cells, once each
    bands = ("0-5km", "5-10km", "10-20km", "20-30km", "far")
    n_band = d[[f"own_n_cells_{b}" for b in bands]].sum(axis=1)
    assert (n_band == d["n_cells_near"] + d["n_cells_far"]).all()
    assert (d["cov2_blocks_hits"] >= d["cov1_blocks_hits"]).all()
    # the far field at coarser scales: one cell a block is the cells' score, one block the
    # total's (1 − |e_post| / |e_prior|)
    assert (d["own_n_cells_far"] > 0).all()
    far = d["own_rmse_reduction_far"].to_numpy(float)
    assert np.isfinite(far).all()
    np.testing.assert_allclose(d[f"own_far_block_rmse_reduction_{cell_km:g}km"], far, rtol=1e-12)
    assert np.isfinite(d["own_far_block_rmse_reduction_9km"]).all()
    total = 1 - d["own_far_total_rel_error"].abs() / d["own_far_total_rel_error_prior"].abs()
    np.testing.assert_allclose(d["own_far_block_rmse_reduction_3000km"], total, rtol=1e-9)
    assert (d["n_cells_ur20"] <= d["n_cells_constrained"]).all()
    assert d["innovation_chi2"].between(0.05, 20).all()
    iv = res.summary["intervals"]["default"]["CO2"]
    r = iv["own_rmse_reduction_near"]
    assert r["low"] <= r["estimate"] <= r["high"] and r["replicates"] == 2
    assert {"wilson_low", "wilson_high"} <= set(iv["coverage_1sigma_cells_ur20_pooled"])
    assert "chi2_ok" in res.summary["species"]["CO2"]  # the twin's consistency targets


def test_truth_lifetime_is_drawn_log_uniform_after_the_met(system):
    """osse.truth_nox_lifetime_factor_range scales the truth's NOx lifetime by one log-uniform
    factor per replicate and leaves its perturbed met as it was."""
    from gridcarbon.inversion.osse import perturbed_footprints

    def receptors(lifetime_range, seed=3):
        cfg = system.config.model_copy(deep=True)
        cfg.osse.truth_nox_lifetime_factor_range = lifetime_range
        return perturbed_footprints(system, np.random.default_rng(seed), cfg).receptors

    plain = receptors(None)
    doubled = receptors((2.0, 2.0))
    np.testing.assert_array_equal(doubled.speed, plain.speed)
    np.testing.assert_array_equal(doubled.ex, plain.ex)
    np.testing.assert_allclose(doubled.tau_nox_s, 2.0 * plain.tau_nox_s, rtol=1e-12)
    factors = [
        float(np.median(receptors((0.5, 2.0), seed).tau_nox_s / plain.tau_nox_s))
        for seed in range(40)
    ]
    assert 0.5 <= min(factors) and max(factors) <= 2.0
    # log-uniform: the log factors' mean near 0, spread near ln(4)/sqrt(12) = 0.40
    logs = np.log(factors)
    assert abs(logs.mean()) < 0.2 and 0.28 < logs.std() < 0.52
    with pytest.raises(ValueError, match="must be 0 < low <= high"):
        system.config.model_copy(deep=True).osse.truth_nox_lifetime_factor_range = (2.0, 0.5)


def test_the_perturbed_truth_does_not_read_the_inversions_b_or_r(case, system):
    """Changing the inversion's B (prior error, correlation length) or R (measurement error)
    leaves the perturbed truth and its observations as they were; the twins follow B; the
    truth's own statistics (osse.truth_covariance) move it."""
    from gridcarbon.inversion.osse import make_truth, synthetic_observations

    def truth_and_obs(sys_, cfg, mode="perturbed"):
        rng = np.random.default_rng(11)
        truth = make_truth(sys_, rng, mode, cfg, case.area_shares)
        return truth, synthetic_observations(sys_, truth, rng, cfg)

    base_cfg = system.config
    changed = base_cfg.model_copy(deep=True)
    changed.state.prior_error = 0.8
    changed.state.length_scale_km = 40.0
    changed.errors.measurement_error = {
        k: {s: 3 * v for s, v in d.items()} for k, d in base_cfg.errors.measurement_error.items()
    }
    other = build_system(case, changed)
    t0, o0 = truth_and_obs(system, base_cfg)
    t1, o1 = truth_and_obs(other, changed)
    np.testing.assert_array_equal(t1.x, t0.x)
    np.testing.assert_array_equal(o1["value"].to_numpy(), o0["value"].to_numpy())
    # the identical twin tests the inversion's own statistics: it follows B
    twin0, _ = truth_and_obs(system, base_cfg, "identical")
    twin1, _ = truth_and_obs(other, changed, "identical")
    assert np.abs(twin1.x - twin0.x).max() > 1e-3
    own = base_cfg.model_copy(deep=True)
    own.osse.truth_covariance = {"prior_error": 0.8}
    t2, _ = truth_and_obs(system, own)
    g = system.layout.segments["grid"]
    dev0, dev2 = t0.x[g] - system.layout.xb()[g], t2.x[g] - system.layout.xb()[g]
    np.testing.assert_allclose(dev2, dev0 * 0.8 / base_cfg.state.prior_error, rtol=1e-9)
    with pytest.raises(ValueError, match="not covariance settings"):
        own.osse.truth_covariance = {"block_cells": 2}


def test_truth_structure_pieces_each_alone_and_together(case, system):
    """osse.truth_structure: each piece changes only what it says, from its own random
    stream, so the pieces together are the product of the pieces alone."""
    from gridcarbon.config.inversion import TruthStructure
    from gridcarbon.inversion.osse import structured_emissions

    rng = np.random.default_rng(0)
    area = rng.uniform(1.0, 2.0, system.E.shape).astype(np.float32)
    points = rng.uniform(1.0, 2.0, system.Ep.shape).astype(np.float32)
    assert points.shape[2] > 0
    road = {s: {"road_transport": np.full(area.shape[2], 0.5)} for s in system.species}

    def apply(**pieces):
        return structured_emissions(system, area, points, TruthStructure(**pieces), 42, road)

    cells, cell_pts = apply(cell_lognormal_sigma=0.3)
    factor = cells / area
    np.testing.assert_allclose(
        factor, factor[:1, :1, :].repeat(area.shape[1], 1).repeat(area.shape[0], 0), rtol=1e-5
    )  # one factor per cell, for every hour and species
    assert 0.2 < np.log(factor[0, 0]).std() < 0.4
    np.testing.assert_array_equal(cell_pts, points)

    shifted, _ = apply(rush_hour_shift_h=1)
    moved = 0.5 * area
    later = np.allclose(shifted[:, 1:], area[:, 1:] - moved[:, 1:] + moved[:, :-1], rtol=1e-5)
    earlier = np.allclose(shifted[:, :-1], area[:, :-1] - moved[:, :-1] + moved[:, 1:], rtol=1e-5)
    assert later != earlier  # moved one hour, one way

    weekend, _ = apply(weekend_ratio_range=(0.5, 1.0))
    beijing = pd.DatetimeIndex(system.times) + pd.Timedelta(hours=8)
    is_weekend = np.asarray(beijing.day_of_week >= 5)
    assert is_weekend.any() and (~is_weekend).any()
    np.testing.assert_array_equal(weekend[:, ~is_weekend], area[:, ~is_weekend])
    ratio = weekend[:, is_weekend] / area[:, is_weekend]
    assert 0.5 <= ratio.min() and np.ptp(ratio) < 1e-5 and ratio.max() <= 1.0

    stack_area, stacks = apply(stack_daily_sigma=0.2)
    np.testing.assert_array_equal(stack_area, area)
    f = stacks / points
    day = np.asarray((beijing.normalize() - beijing.normalize()[0]).days)
    for d in np.unique(day):  # one factor per stack and Beijing day
        assert np.ptp(f[:, day == d], axis=1).max() < 1e-5
    assert len(np.unique(np.round(f[0, :, 0], 5))) == len(np.unique(day))

    both, both_pts = apply(
        cell_lognormal_sigma=0.3, weekend_ratio_range=(0.5, 1.0), stack_daily_sigma=0.2
    )
    np.testing.assert_allclose(both, cells * (weekend / area), rtol=1e-5)
    np.testing.assert_allclose(both_pts, stacks, rtol=1e-6)


def test_truth_structure_reaches_the_perturbed_truth_only(case, system):
    from gridcarbon.inversion.osse import make_truth

    cfg = system.config.model_copy(deep=True)
    plain = make_truth(system, np.random.default_rng(4), "perturbed", cfg, case.area_shares)
    cfg.osse.truth_structure.stack_daily_sigma = 0.2
    rough = make_truth(system, np.random.default_rng(4), "perturbed", cfg, case.area_shares)
    twin = make_truth(system, np.random.default_rng(4), "identical", cfg, case.area_shares)
    plain_twin = make_truth(
        system, np.random.default_rng(4), "identical", system.config, case.area_shares
    )
    np.testing.assert_array_equal(rough.x, plain.x)
    np.testing.assert_array_equal(rough.area, plain.area)
    assert np.abs(rough.points / plain.points - 1).max() > 0.05
    np.testing.assert_array_equal(twin.points, plain_twin.points)


def test_the_truths_emissions_hold_what_its_stations_see():
    """``Truth.emissions_at``: area sources, point sources in their cells, each neighbouring
    region's inflow at the truth's factor (density × W) and the biogenic flux at the truth's
    daily scale — what ``synthetic_observations`` carries to the stations, so the simulated
    satellite files see the same world."""
    from types import SimpleNamespace

    from gridcarbon.inversion.osse import Truth

    rng = np.random.default_rng(1)
    nt, ncell, npt = 30, 6, 2
    layout = SimpleNamespace(
        segments={"neighbours": slice(10, 14), "biogenic": slice(14, 16)},
        neighbours=["a", "b"],
        biogenic_species=["CO2"],
        ndays=2,
    )
    W = rng.random((3, ncell))
    system = SimpleNamespace(
        layout=layout,
        species=["CO2", "NOx"],
        point_cells=np.array([1, 1]),
        neighbour_used=[0, 2],
        neighbour_W=W,
        neighbour_density={"CO2": rng.random(nt), "NOx": rng.random(nt)},
        bio={"CO2": -rng.random((nt, ncell))},
        hour_day=np.repeat([0, 1], 15),
    )
    x = rng.random(16)
    truth = Truth(
        x=x,
        area=rng.random((2, nt, ncell)).astype(np.float32),
        points=rng.random((2, nt, npt)).astype(np.float32),
        include_biogenic=True,
    )
    hour = 20  # day 1
    got = truth.emissions_at(system, 1, hour)  # NOx: neighbours at x[12], x[13]
    want = truth.area[1][hour].astype(float)
    want[1] += truth.points[1][hour].astype(float).sum()
    want += system.neighbour_density["NOx"][hour] * (x[12] * W[0] + x[13] * W[2])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    got = truth.emissions_at(system, 0, hour)  # CO2: neighbours x[10], x[11], biogenic x[15]
    want = truth.area[0][hour].astype(float)
    want[1] += truth.points[0][hour].astype(float).sum()
    want += system.neighbour_density["CO2"][hour] * (x[10] * W[0] + x[11] * W[2])
    want += x[15] * system.bio["CO2"][hour]
    np.testing.assert_allclose(got, want, rtol=1e-12)
