"""Point-dominated station-hours readmitted with the elevated-plume error model
(``errors.point_dominated_pairs: elevated_plume``): the transport quadrature with a fourth
dimension, the plume rise times a log-normal factor."""

import numpy as np
import pytest

from gridcarbon.config.inversion import InversionConfig
from gridcarbon.errors import ConfigError
from gridcarbon.inversion.operator import Receptors, build_footprints
from gridcarbon.inversion.system import quadrature_moments, transport_quadrature

from .conftest import build_system

QUADRATURE = {"transport_error_model": "quadrature"}
ELEVATED = {**QUADRATURE, "point_dominated_pairs": "elevated_plume"}


@pytest.fixture(scope="module")
def excluded(case):
    return build_system(case, InversionConfig(errors=QUADRATURE))


@pytest.fixture(scope="module")
def elevated(case):
    return build_system(case, InversionConfig(errors=ELEVATED))


def _observations(system):
    from gridcarbon.inversion.osse import make_truth, synthetic_observations

    cfg = system.config
    rng = np.random.default_rng(3)
    return synthetic_observations(system, make_truth(system, rng, "perturbed", cfg), rng, cfg)


def test_off_by_default_and_needs_the_quadrature():
    assert InversionConfig().errors.point_dominated_pairs == "exclude"
    with pytest.raises((ValueError, ConfigError), match="transport_error_model 'quadrature'"):
        InversionConfig(errors={"point_dominated_pairs": "elevated_plume"})


def test_a_rise_spread_of_zero_is_the_existing_quadrature(case, excluded):
    """With model_error_plume_rise_rel 0 the quadrature, R's transport term and H are
    exactly those without the rise dimension."""
    zero = build_system(
        case, InversionConfig(errors={**ELEVATED, "model_error_plume_rise_rel": 0.0})
    )
    np.testing.assert_array_equal(zero.direction_spread, excluded.direction_spread)
    np.testing.assert_array_equal(zero.plume_mean_ratio, excluded.plume_mean_ratio)
    np.testing.assert_array_equal(zero.point_mean_ratio, excluded.plume_mean_ratio)
    np.testing.assert_array_equal(zero.transport_deviations, excluded.transport_deviations)
    np.testing.assert_array_equal(zero.elevated_plume_variance, 0.0)
    assert (zero.J != excluded.J).nnz == 0
    np.testing.assert_array_equal(zero.y_prior, excluded.y_prior)


def test_the_rise_dimension_is_the_quadrature_of_the_point_signal(excluded, elevated):
    """The elevated-plume variance is the nodes' variance of the point-source signal (≥ 0,
    zero without a point-source signal) added to the transport variance; the point-source
    columns of H take the nodes' mean of the point-source signal."""
    sd = elevated.config.errors.model_error_plume_rise_rel
    z, w = transport_quadrature(elevated.config.errors.quadrature_nodes)
    _, _, central_point = elevated.pair_signals()
    by_rise = [elevated.pair_signals(rise_scale=float(np.exp(sd * k)))[2] for k in z]
    mean, variance, _ = quadrature_moments(by_rise, w)
    var = elevated.elevated_plume_variance
    np.testing.assert_allclose(var, variance, rtol=1e-12, atol=1e-30)
    assert (var >= 0).all() and (var > 0).any()
    np.testing.assert_array_equal(var[central_point == 0], 0.0)
    np.testing.assert_allclose(
        elevated.direction_spread**2, excluded.direction_spread**2 + var, rtol=1e-10
    )
    # the area columns as before; the big points' columns scaled by the point-source ratio
    np.testing.assert_allclose(elevated.plume_mean_ratio, excluded.plume_mean_ratio, rtol=1e-12)
    with np.errstate(invalid="ignore", divide="ignore"):
        shift = np.where(central_point > 0, (mean - central_point) / central_point, 0.0)
    np.testing.assert_allclose(
        elevated.point_mean_ratio, elevated.plume_mean_ratio + shift, rtol=1e-12
    )
    pts = elevated.layout.segments["points"]
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = elevated.point_mean_ratio / excluded.plume_mean_ratio
    expect = excluded.J[:, pts].multiply(scale[:, None]).toarray()
    np.testing.assert_allclose(elevated.J[:, pts].toarray(), expect, rtol=1e-9, atol=1e-300)
    assert not np.allclose(shift[central_point > 0], 0.0)


def test_readmitted_pairs_are_the_formerly_excluded_ones(excluded, elevated):
    """Switched on, the assimilated hours are the former ones plus the point-dominated hours
    that were excluded (calm hours stay out); R stays positive definite."""
    obs = _observations(excluded)
    from gridcarbon.inversion.observation_types import StationHourObservations

    off = StationHourObservations(obs).match(excluded)
    on_kind = StationHourObservations(obs)
    on = on_kind.match(elevated)
    assert off.counts["n_excluded_point_dominated"] > 0
    assert on.counts["n_excluded_point_dominated"] == 0
    assert on.counts["n_readmitted_point_dominated"] == off.counts["n_excluded_point_dominated"]
    assert (
        on.counts["n_hourly_pairs_used"]
        == off.counts["n_hourly_pairs_used"] + off.counts["n_excluded_point_dominated"]
    )
    assert on.counts["n_excluded_calm"] == off.counts["n_excluded_calm"]
    # the point-dominance test does not depend on the switch
    np.testing.assert_array_equal(
        elevated.pairs["point_share"].to_numpy(), excluded.pairs["point_share"].to_numpy()
    )
    dominated = excluded.pairs["point_share"].to_numpy() > 0.5
    calm = excluded.pairs["calm"].to_numpy()
    has = np.isfinite(off.observed_hourly)
    np.testing.assert_array_equal(on.used, off.used | (dominated & has & ~calm))
    assert not (on.used & calm).any()
    rows = on.rows
    assert rows["n_point_dominated"].sum() == on.counts["n_readmitted_point_dominated"]
    assert (rows["n_point_dominated"] <= rows["n_hours"]).all()
    r = on_kind.error_variance(elevated)
    assert np.isfinite(r).all() and (r > 0).all()


def test_readmitted_pairs_with_correlated_transport_errors(case):
    """With the same-day correlated transport errors R (with the rise nodes' deviations) stays
    positive definite."""
    from gridcarbon.inversion.observation_types import StationHourObservations

    system = build_system(
        case, InversionConfig(errors={**ELEVATED, "transport_error_correlation": "same_day"})
    )
    kind = StationHourObservations(_observations(system))
    R = kind.error_covariance(system).toarray()
    assert kind.match(system).rows["n_point_dominated"].sum() > 0
    assert np.linalg.eigvalsh(R).min() > 0


def _single_stack(scale: float, d: np.ndarray, off: np.ndarray) -> np.ndarray:
    """Sensitivity (µg m-3 per kg h-1) at ground receptors ``d`` m downwind and ``off`` m
    crosswind of one 80 m stack (class D, 5 m/s, lid 1000 m), the rise times ``scale``."""
    n = d.size
    rec = Receptors.from_arrays(
        60e3 + d,
        -60e3 + off,
        np.full(n, 10.0),
        np.zeros(n, int),
        np.full(n, 5.0),
        np.full(n, 270.0),
        np.full(n, 3),
        np.full(n, 1000.0),
        np.full(n, 4 * 3600.0),
        np.full(n, 283.0),
    )
    stack = {
        "x": np.array([60e3]),
        "y": np.array([-60e3]),
        "height": np.array([80.0]),
        "diameter": np.array([4.0]),
        "velocity": np.array([15.0]),
        "temperature": np.array([420.0]),
        "urban": np.array([False]),
    }
    fp = build_footprints(
        rec,
        0.0,
        0.0,
        3000.0,
        2,
        2,
        np.zeros(4, bool),
        stack,
        point_direction_sd_rad=float(np.radians(30.0)),
        point_rise_scale=scale,
    )
    out = np.zeros(n)
    np.add.at(out, np.repeat(np.arange(n), np.diff(fp.pt_ptr)), fp.pt_val.astype(float))
    return out


def test_the_rise_quadrature_matches_a_monte_carlo_of_the_rise():
    """One stack, receptors 1.5-12 km downwind: the quadrature's mean and variance of the
    signal over a log-normal rise factor (log-sd 0.5) against 20,000 seeded draws — within 4
    Monte Carlo standard errors with 9 nodes, and within 5 % (mean) and 25 % (variance) with
    the default 3 nodes."""
    d = np.array([1500.0, 3000.0, 6000.0, 12000.0, 3000.0, 6000.0])
    off = np.array([0.0, 0.0, 0.0, 0.0, 300.0, 600.0])
    sd = 0.5
    n = 20_000
    draws = np.exp(sd * np.random.default_rng(20261202).standard_normal(n))
    s = np.array([_single_stack(float(k), d, off) for k in draws])
    m_mc, v_mc = s.mean(axis=0), s.var(axis=0)
    se_m = s.std(axis=0) / np.sqrt(n)
    se_v = np.sqrt(((s - m_mc) ** 4).mean(axis=0) - v_mc**2) / np.sqrt(n)
    assert (v_mc > 0).all()
    z, w = transport_quadrature(9)
    m9, v9, _ = quadrature_moments([_single_stack(float(np.exp(sd * k)), d, off) for k in z], w)
    assert (np.abs(m9 - m_mc) <= 4 * se_m).all()
    assert (np.abs(v9 - v_mc) <= 4 * se_v).all()
    z, w = transport_quadrature(3)
    m3, v3, _ = quadrature_moments([_single_stack(float(np.exp(sd * k)), d, off) for k in z], w)
    np.testing.assert_allclose(m3, m_mc, rtol=0.05)
    np.testing.assert_allclose(v3, v_mc, rtol=0.25)
    # the expected plume differs from the central one: near the stack a lower rise brings it
    # down, so the expected signal there is well above the central plume's
    central = _single_stack(1.0, d, off)
    assert m9[0] > 1.5 * central[0]
