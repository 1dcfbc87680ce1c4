"""The observation system's mixing-height unknowns: their Jacobian column is the derivative of
the modelled enhancement with respect to a relative change of the mixing height."""

import numpy as np
import pytest

from gridcarbon.config.inversion import InversionConfig

from .conftest import build_system


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
    inversion recovers them with a posterior σ below the prior's."""
    from gridcarbon.inversion.assimilation import assimilate
    from gridcarbon.inversion.osse import make_truth, synthetic_observations

    cfg = mh_system.config
    rng = np.random.default_rng(5)
    truth = make_truth(mh_system, rng, "identical", cfg)
    obs = synthetic_observations(mh_system, truth, rng, cfg)
    res = assimilate(mh_system, obs, build_posterior=False)
    tr = mh_system.layout.segments["transport"]
    ext = res.extras[res.extras["segment"] == "transport"]
    assert len(ext) == tr.stop - tr.start
    assert np.all(ext["posterior_std"] < ext["prior_std"])
    # the truth's scales lie within 3 posterior σ
    err = np.abs(ext["posterior"].to_numpy() - truth.x[tr])
    assert np.all(err < 3 * ext["posterior_std"].to_numpy()), (err, ext["posterior_std"])
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
