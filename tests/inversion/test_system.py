"""The observation system's mixing-height unknowns: their Jacobian column is the derivative of
the modelled enhancement with respect to a relative change of the mixing height."""

import numpy as np
import pytest

from gridcarbon.config.inversion import InversionConfig

from .conftest import build_system, mixing_height_twin


@pytest.fixture(scope="module")
def mh_system(case):
    return build_system(case, InversionConfig(state={"mixing_height_unknowns": True}))


def test_mixing_height_column_is_the_derivative(mh_system):
    system = mh_system
    L = system.layout
    tr = L.segments["transport"]
    assert tr.stop - tr.start == len(system.days)
    day = system.pairs["day"].to_numpy()
    sens = system.mixing_height_sensitivity
    expect = np.zeros((len(day), tr.stop - tr.start))
    expect[np.arange(len(day)), day] = sens  # each pair sees its own day only
    np.testing.assert_array_equal(system.J[:, tr].toarray(), expect)
    h = system.config.errors.model_error_mixing_height_rel
    up, _ = system.pair_signal(zscale=1 + h)
    down, _ = system.pair_signal(zscale=1 - h)
    np.testing.assert_allclose(
        sens, (up - down) / (2 * h), rtol=1e-9, atol=1e-12 * np.abs(sens).max()
    )
    # a deeper boundary layer dilutes: the signal falls, by at most the well-mixed 1/zi law
    base, _ = system.pair_signal()
    ok = base > 1e-6 * base.max()
    rel = sens[ok] / base[ok]
    assert np.mean(rel) < -0.05
    assert rel.min() >= -1.0 / (1 - h * h) - 1e-9
    # linear to second order: a +10 % lid predicted by the column within 2 % of the signal
    zi10, _ = system.pair_signal(zscale=1.1)
    err = np.abs(zi10 - (base + 0.1 * sens))
    assert err.sum() <= 0.02 * base.sum(), err.sum() / base.sum()


def test_mixing_height_unknowns_off_by_default(system):
    tr = system.layout.segments["transport"]
    assert tr.stop == tr.start == system.layout.n
    assert not np.any(system.mixing_height_sensitivity)


def test_mixing_height_unknowns_in_the_identical_twin(mh_system):
    """With the unknowns on, the identical twin draws its own mixing-height scales and the
    inversion recovers them with a posterior σ below the prior's (within 3σ)."""
    _, res, _ = mixing_height_twin(mh_system)
    assert 0.5 < res.reduced_chi2 < 1.5


def test_nox_lifetime_error_enters_the_reactive_pairs_only(system, case):
    """errors.model_error_nox_lifetime_rel adds the spread of the signal with the NOx lifetime
    scaled by 1 ± rel to the transport error of the NO2 pairs, and leaves the others alone."""
    rel = 0.5
    cfg = system.config.model_copy(deep=True)
    cfg.errors.model_error_nox_lifetime_rel = rel
    with_tau = build_system(case, cfg)
    base, _ = system.pair_signal()
    longer, _ = system.pair_signal(tau_scale=1 + rel)
    shorter, _ = system.pair_signal(tau_scale=1 - rel)
    reactive = system.pairs["obs_species"].isin(system.reactive_observed).to_numpy()
    assert reactive.any() and (~reactive).any()
    # a longer life leaves more NOx at the station, a shorter one less; other species unmoved
    assert np.all(longer[reactive] >= base[reactive] - 1e-12)
    assert np.all(shorter[reactive] <= base[reactive] + 1e-12)
    assert (longer[reactive] - shorter[reactive]).max() > 0
    np.testing.assert_array_equal(longer[~reactive], base[~reactive])
    # the lifetime's variance is the mean square deviation of the two scaled-lifetime signals
    expect = np.sqrt(
        system.direction_spread**2 + ((longer - base) ** 2 + (shorter - base) ** 2) / 2.0
    )
    np.testing.assert_allclose(with_tau.direction_spread, expect, rtol=1e-9, atol=1e-15)
    np.testing.assert_array_equal(
        with_tau.direction_spread[~reactive], system.direction_spread[~reactive]
    )


def test_transport_quadrature_integrates_a_standard_normal():
    from gridcarbon.inversion.system import transport_quadrature

    z, w = transport_quadrature(5)
    assert w.sum() == pytest.approx(1.0, abs=1e-14)
    assert (w * z).sum() == pytest.approx(0.0, abs=1e-14)
    assert (w * z**2).sum() == pytest.approx(1.0, abs=1e-12)
    # a log-normal factor: E[exp(sigma Z)] = exp(sigma^2 / 2); the well-mixed signal ~ 1/(u zi)
    # under log-sd 0.3 on speed and mixing height is raised by exp(0.09) = 9.4 %
    for sigma in (0.3, 0.5):
        assert (w * np.exp(sigma * z)).sum() == pytest.approx(np.exp(sigma**2 / 2), rel=1e-5)
    z3, w3 = transport_quadrature(3)
    assert (w3 * np.exp(-0.3 * z3)).sum() ** 2 == pytest.approx(np.exp(0.09), rel=1e-4)


def test_quadrature_error_model_is_the_mean_and_spread_over_its_nodes(system, case):
    """errors.transport_error_model 'quadrature': R's transport term is the standard deviation
    of the signal over the Gauss-Hermite nodes (one dimension at a time), and the plume
    columns of H are scaled by the nodes' mean over the central plume."""
    from gridcarbon.inversion.system import transport_quadrature

    cfg = system.config.model_copy(deep=True)
    cfg.errors.transport_error_model = "quadrature"
    cfg.errors.model_error_wind_speed_rel = 0.0  # direction and mixing height only
    quad = build_system(case, cfg)
    z, w = transport_quadrature(cfg.errors.quadrature_nodes)
    central, _ = system.pair_signal()
    by_dir = [
        system.pair_signal(angle_deg=cfg.errors.model_error_wind_direction_deg * k)[0] for k in z
    ]
    by_zi = [
        system.pair_signal(zscale=float(np.exp(cfg.errors.model_error_mixing_height_rel * k)))[0]
        for k in z
    ]
    mean_dir = sum(a * f for a, f in zip(w, by_dir, strict=True))
    mean_zi = sum(a * f for a, f in zip(w, by_zi, strict=True))
    var = sum(a * (f - mean_dir) ** 2 for a, f in zip(w, by_dir, strict=True)) + sum(
        a * (f - mean_zi) ** 2 for a, f in zip(w, by_zi, strict=True)
    )
    np.testing.assert_allclose(quad.direction_spread, np.sqrt(var), rtol=1e-9, atol=1e-14)
    mean = central + (mean_dir - central) + (mean_zi - central)
    ratio = np.where(central > 0, mean / np.where(central > 0, central, 1.0), 1.0)
    np.testing.assert_allclose(quad.plume_mean_ratio, ratio, rtol=1e-9)
    # H's plume columns scaled row by row; the background columns untouched
    g = system.layout.segments["grid"]
    np.testing.assert_allclose(
        quad.J[:, g].toarray(), (system.J[:, g].multiply(ratio[:, None])).toarray(), rtol=1e-9
    )
    bg = system.layout.segments["background"]
    np.testing.assert_array_equal(quad.J[:, bg].toarray(), system.J[:, bg].toarray())
    # the expected signal exceeds the central plume's on the whole: dilution is convex in 1/zi
    assert np.median(ratio[central > 0]) > 1.0


def test_gaspari_cohn_taper():
    from gridcarbon.inversion.errors_model import gaspari_cohn

    assert gaspari_cohn(np.array([0.0]))[0] == 1.0
    np.testing.assert_array_equal(gaspari_cohn(np.array([2.0, 2.5, 10.0])), 0.0)
    left, right = gaspari_cohn(np.array([1 - 1e-9, 1 + 1e-9]))
    assert left == pytest.approx(right, abs=1e-7) and left == pytest.approx(5 / 24, abs=1e-7)
    # positive definite on scattered points in the plane (the property the localisation needs)
    xy = np.random.default_rng(2).uniform(0, 5, (120, 2))
    dist = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    assert np.linalg.eigvalsh(gaspari_cohn(dist)).min() > -1e-10


@pytest.fixture(scope="module")
def correlated_system(case):
    cfg = InversionConfig(
        errors={"transport_error_model": "quadrature", "transport_error_correlation": "same_day"}
    )
    return build_system(case, cfg)


def test_same_day_transport_errors_are_the_quadrature_covariance(correlated_system):
    """errors.transport_error_correlation 'same_day': R's transport part is the covariance of
    the quadrature nodes' deviations of the afternoon means, tapered by distance, zero between
    days; R stays positive definite and its diagonal is the variance the solver is told."""
    from gridcarbon.inversion.errors_model import correlated_transport_covariance, gaspari_cohn
    from gridcarbon.inversion.observation_types import StationHourObservations
    from gridcarbon.inversion.osse import make_truth, synthetic_observations

    system = correlated_system
    cfg = system.config
    rng = np.random.default_rng(1)
    obs = synthetic_observations(system, make_truth(system, rng, "identical", cfg), rng, cfg)
    kind = StationHourObservations(obs)
    match = kind.match(system)
    R = kind.error_covariance(system).toarray()
    np.testing.assert_allclose(np.diag(R), kind.error_variance(system), rtol=1e-12)
    meta = match.rows
    dev = np.asarray(match.aggregation @ system.transport_deviations.T)
    xy = system.stations.set_index("station_id").loc[meta["station_id"], ["x", "y"]].to_numpy()
    dist = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    same_day = meta["day"].to_numpy()[:, None] == meta["day"].to_numpy()[None, :]
    expect = (dev @ dev.T) * gaspari_cohn(dist / (cfg.errors.transport_error_localisation_km * 1e3))
    expect[~same_day] = 0.0
    C = correlated_transport_covariance(system, match.aggregation, meta, cfg).toarray()
    np.testing.assert_allclose(C, expect, rtol=1e-10, atol=1e-14 * np.abs(expect).max())
    off = R - np.diag(np.diag(R))
    assert np.abs(off[same_day]).max() > 0 and not off[~same_day].any()
    assert np.linalg.eigvalsh(R).min() > 0


def test_an_inversion_with_correlated_transport_errors(correlated_system):
    """The assimilation with the correlated R gives the closed-form posterior mean
    ``x_b + B Jᵀ (J B Jᵀ + R)⁻¹ d`` of that R, not the diagonal R's."""
    from gridcarbon.inversion.assimilation import assimilate
    from gridcarbon.inversion.observation_types import StationHourObservations
    from gridcarbon.inversion.osse import make_truth, synthetic_observations

    system = correlated_system
    cfg = system.config
    rng = np.random.default_rng(1)
    obs = synthetic_observations(system, make_truth(system, rng, "identical", cfg), rng, cfg)
    kind = StationHourObservations(obs)
    res = assimilate(system, kind, build_posterior=False)
    J = kind.jacobian_block(system).toarray()
    rows = kind.assimilated(system)
    d = (rows["observed"] - rows["prior"]).to_numpy()
    BJt = system.B.sqrt_apply(system.B.sqrt_apply(J.T, transpose=True))
    R = kind.error_covariance(system).toarray()
    expect = BJt @ np.linalg.solve(J @ BJt + R, d)
    got = res.x_post - res.x_prior
    assert np.linalg.norm(got - expect) <= 1e-3 * np.linalg.norm(expect)
    diagonal = BJt @ np.linalg.solve(J @ BJt + np.diag(np.diag(R)), d)
    assert np.linalg.norm(diagonal - expect) > 0.01 * np.linalg.norm(expect)


def test_the_twins_draw_correlated_transport_noise_with_rs_covariance(correlated_system):
    """In the same-day mode the identical twin's transport noise has R's correlated part as
    its covariance once averaged like the observations (checked over many draws)."""
    from gridcarbon.inversion.errors_model import correlated_transport_covariance
    from gridcarbon.inversion.observation_types import StationHourObservations
    from gridcarbon.inversion.osse import (
        _correlated_transport_noise,
        make_truth,
        synthetic_observations,
    )

    system = correlated_system
    cfg = system.config
    rng = np.random.default_rng(1)
    obs = synthetic_observations(system, make_truth(system, rng, "identical", cfg), rng, cfg)
    match = StationHourObservations(obs).match(system)
    A = match.aggregation
    C = correlated_transport_covariance(system, A, match.rows, cfg).toarray()
    draws = np.array(
        [A @ _correlated_transport_noise(system, cfg, np.random.default_rng(s)) for s in range(400)]
    )
    sample = np.cov(draws.T)
    scale = np.sqrt(np.outer(np.diag(C), np.diag(C))) + 1e-30
    # 400 draws: correlations within about 3/sqrt(400) = 0.15
    assert np.abs((sample - C) / scale).max() < 0.3
    np.testing.assert_allclose(np.diag(sample), np.diag(C), rtol=0.25)


def test_osse_row_records_the_posterior_mixing_height(case, mh_system, system):
    """With the unknowns on, a randomised-OSSE row carries the posterior δ's summary next to
    the replicate's drawn mixing-height bias; with them off (the default) it carries none."""
    from gridcarbon.inversion.osse import mixing_height_scores, run_osse

    res = run_osse(
        case.prior,
        case.scenario,
        mh_system.config,
        mode="randomised",
        replicates=1,
        seed=40000,
        area_shares=case.area_shares,
        city_codes=[],
        system=mh_system,
        keep_last=True,
    )
    rows = res.table[res.table["label"] == "default"]
    assert len(rows) == len(mh_system.species)
    tr = mh_system.layout.segments["transport"]
    last = res.last_result
    ext = last.extras[last.extras["segment"] == "transport"]
    for _, row in rows.iterrows():  # the same δ on every species' row
        assert np.isfinite(row["truth_mixing_height_bias"])
        assert row["mixing_height_post_mean"] == pytest.approx(ext["posterior"].mean())
        assert row["mixing_height_post_day_sd"] == pytest.approx(np.std(last.x_post[tr]))
        assert row["mixing_height_post_std_mean"] == pytest.approx(ext["posterior_std"].mean())
        assert row["mixing_height_prior_std_mean"] == pytest.approx(
            mh_system.config.state.mixing_height_prior_error
        )
        assert row["mixing_height_post_std_mean"] < row["mixing_height_prior_std_mean"]
    assert mixing_height_scores(system.layout, last) == {}
