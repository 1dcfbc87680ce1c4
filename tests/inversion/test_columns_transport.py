"""The persistent column transport unknowns (``state.column_transport_unknowns``) on the small
SYNTHETIC case: their place in the state and in B, their columns of H (the prior enhancement
from urban and from rural sources, the central difference over the lifetime), the equivalence
with the per-overpass marginalised terms when there is one overpass, and a linear twin that
recovers a persistent urban mismatch shared by every overpass."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from gridcarbon.config.inversion import InversionConfig
from gridcarbon.errors import ConfigError
from gridcarbon.inversion import assimilate
from gridcarbon.inversion.assimilation import column_transport_summary
from gridcarbon.inversion.columns import (
    ColumnObservations,
    ColumnSettings,
    urban_share,
)
from gridcarbon.inversion.osse import column_transport_scores
from gridcarbon.inversion.solvers import PosteriorCovariance
from gridcarbon.inversion.state import COLUMN_TERMS
from gridcarbon.species import DEFAULT_SPECIES, by_name

from .column_cases import swath_pixels, with_values
from .conftest import build_system

NOX = by_name(DEFAULT_SPECIES, "NOx")
CO2 = by_name(DEFAULT_SPECIES, "CO2")
#: a fixed lifetime, so that the central difference can be checked against two operators with
#: the lifetime handed as τ × (1 ± step)
SETTINGS = ColumnSettings(min_upwind_fetch_km=0.0, lifetime_h=4.0)
ON = InversionConfig.model_validate({"state": {"column_transport_unknowns": True}})


@pytest.fixture(scope="module")
def off_system(tiny_case):
    return build_system(tiny_case)


@pytest.fixture(scope="module")
def on_system(tiny_case):
    return build_system(tiny_case, ON)


def _columns(tiny_case, system, settings=SETTINGS, species=NOX, days=None) -> ColumnObservations:
    """Columns at 13:30 Beijing time (05:30 UTC) of each day of the case, or of ``days``."""
    times = [t + pd.Timedelta(minutes=30) for t in system.times if t.hour == 5]
    times = times if days is None else [times[d] for d in days]
    pixels = swath_pixels(system.grid, times, kernel="tropomi")
    return ColumnObservations(
        pixels, species, "vertical_column", tiny_case.scenario.meteorology, settings
    )


def _posterior(G: np.ndarray, d: np.ndarray, b_var: np.ndarray):
    """Increment and posterior variances with a diagonal B from whitened rows ``G``."""
    BG = b_var[:, None] * G.T
    K = np.linalg.solve(G @ BG + np.eye(G.shape[0]), BG.T).T
    return K @ d, b_var - np.einsum("ij,ij->i", K, BG)


def test_the_lifetime_check_is_refused_beside_the_lifetime_unknown(tiny_case, on_system):
    """With the state's lifetime scale the rows carry the model linearised at its reference,
    so the lifetime check (two fixed lifetimes) is refused, naming both settings."""
    with pytest.raises(ConfigError, match="column_transport_unknowns"):
        _columns(tiny_case, on_system).lifetime_rows(on_system, 0.5)


def test_the_unknowns_sit_at_the_end_of_the_state_with_their_prior(off_system, on_system):
    off, on = off_system.layout, on_system.layout
    assert InversionConfig().state.column_transport_unknowns is False
    assert off.column_terms == () and off.segments["column_transport"] == slice(off.n, off.n)
    assert on.column_terms == COLUMN_TERMS and on.n == off.n + 3
    seg = on.segments["column_transport"]
    assert seg == slice(off.n, off.n + 3)
    for name, sl in off.segments.items():  # nothing before them moves
        assert on.segments[name] == sl or name == "column_transport"
    np.testing.assert_array_equal(on_system.B.prior_std()[seg], [0.3, 0.3, 0.5])
    assert (on.xb()[seg] == 0).all()
    described = on.describe().loc[seg.start : seg.stop - 1]
    assert list(described["segment"]) == ["column_transport"] * 3
    assert list(described["key"]) == list(COLUMN_TERMS)
    # B is diagonal there and independent of the rest
    v = np.zeros(on.n)
    v[seg.start] = 1.0
    out = on_system.B.sqrt_apply(v)
    assert np.flatnonzero(out).tolist() == [seg.start] and out[seg.start] == pytest.approx(0.3)
    assert on.to_dict()["column_terms"] == list(COLUMN_TERMS)
    # the emission part of B is the same with the unknowns on
    w = np.random.default_rng(1).normal(size=off.n)
    np.testing.assert_array_equal(
        on_system.B.sqrt_apply(np.concatenate([w, np.zeros(3)]))[: off.n],
        off_system.B.sqrt_apply(w),
    )


def test_their_columns_are_the_urban_and_rural_enhancement_and_the_lifetime_slope(
    tiny_case, off_system, on_system
):
    n = off_system.layout.n
    seg = on_system.layout.segments["column_transport"]
    m_off = _columns(tiny_case, off_system).match(off_system)
    m_on = _columns(tiny_case, on_system).match(on_system)
    H_on = m_on.H.toarray()
    np.testing.assert_array_equal(H_on[:, :n], m_off.H.toarray())
    xb = off_system.layout.xb()
    prior = m_off.superobs["prior"].to_numpy()
    m_u = m_off.H.toarray() @ (xb * urban_share(off_system))
    np.testing.assert_allclose(H_on[:, seg.start], m_u, rtol=1e-12, atol=0)
    np.testing.assert_allclose(H_on[:, seg.start + 1], prior - m_u, rtol=1e-9, atol=1e-20)
    assert np.abs(m_u).max() > 0 and np.abs(prior - m_u).max() > 0
    longer, shorter = (
        _columns(tiny_case, off_system, replace(SETTINGS, lifetime_h=4.0 * f))
        .match(off_system)
        .superobs["prior"]
        .to_numpy()
        for f in (1.5, 0.5)
    )
    np.testing.assert_allclose(H_on[:, seg.start + 2], (longer - shorter) / 1.0, rtol=1e-6)
    assert H_on[:, seg.start + 2].max() > 0
    # the prior modelled columns and the error model are unchanged by the unknowns
    np.testing.assert_array_equal(m_on.superobs["prior"], m_off.superobs["prior"])
    for label, C in m_off.covariance.items():
        np.testing.assert_array_equal(m_on.covariance[label], C)
    # an inert species' columns do not depend on the lifetime
    inert = _columns(tiny_case, on_system, species=CO2).match(on_system).H.toarray()
    assert (inert[:, seg.start + 2] == 0).all() and np.abs(inert[:, seg.start]).max() > 0


def test_with_one_overpass_they_equal_the_marginalised_per_overpass_terms(
    tiny_case, off_system, on_system
):
    """One overpass: a persistent unknown and a per-overpass one are the same unknown, so the
    state's urban, rural and lifetime scales (prior σ 0.3, 0.3, 0.5) give the emissions the
    same posterior as the marginalised wind-speed and lifetime terms of R (to 1e-8); with every
    overpass they do not."""
    n = off_system.layout.n
    xb = off_system.layout.xb()
    b_var = (0.5 * np.abs(xb)) ** 2 + 1e-6
    b_on = np.concatenate([b_var, [0.3**2, 0.3**2, 0.5**2]])
    marginalised = replace(SETTINGS, wind_speed_error_rel=0.3, lifetime_error_rel=0.5)
    increments = {}
    for days in ([1], None):
        m_marg = _columns(tiny_case, off_system, marginalised, days=days).match(off_system)
        m_on = _columns(tiny_case, on_system, days=days).match(on_system)
        prior = m_marg.superobs["prior"].to_numpy()
        rng = np.random.default_rng(3)
        y = prior * 1.3 + 2e-5 + rng.normal(0, 1e-6, prior.size)
        got = {}
        for name, m, bv in (("marginalised", m_marg, b_var), ("state", m_on, b_on)):
            T = m.transform
            dx, var = _posterior(m.jacobian.toarray(), T @ (y - prior), bv)
            got[name] = (dx[:n], var[:n])
        increments[days is None] = got
    one = increments[False]
    dx_m, var_m = one["marginalised"]
    dx_s, var_s = one["state"]
    assert np.abs(dx_m).max() > 0
    np.testing.assert_allclose(dx_s, dx_m, rtol=0, atol=1e-8 * np.abs(dx_m).max())
    np.testing.assert_allclose(var_s, var_m, rtol=1e-8)
    every = increments[True]
    assert (
        np.abs(every["state"][0] - every["marginalised"][0]).max()
        > 1e-3 * np.abs(every["marginalised"][0]).max()
    )


def test_the_overpass_table_reports_what_the_state_scales_would_be(tiny_case, off_system):
    """The marginalised two scales' posterior that ``overpass_fit`` reports (mean and σ, the
    emissions' uncertainty included) is the posterior of the state's urban and rural scales
    when there is one overpass (to 1e-8)."""
    terms = ["urban_transport_scale", "rural_transport_scale"]
    two = InversionConfig.model_validate(
        {"state": {"column_transport_unknowns": True, "column_transport_terms": terms}}
    )
    state_system = build_system(tiny_case, two)
    n = off_system.layout.n
    xb = off_system.layout.xb()
    b_var = (0.5 * np.abs(xb)) ** 2 + 1e-6
    marginalised = _columns(
        tiny_case, off_system, replace(SETTINGS, wind_speed_error_rel=0.3), days=[1]
    )
    m_marg = marginalised.match(off_system)
    m_on = _columns(tiny_case, state_system, days=[1]).match(state_system)
    prior = m_marg.superobs["prior"].to_numpy()
    rng = np.random.default_rng(4)
    urban = m_marg.superobs["prior_urban"].to_numpy()
    y = prior + 0.25 * urban + 2e-5 + rng.normal(0, 1e-6, prior.size)
    posterior = {}
    for name, m, bv in (
        ("marginalised", m_marg, b_var),
        ("state", m_on, np.concatenate([b_var, [0.3**2, 0.3**2]])),
    ):
        G = m.jacobian.toarray()
        P = np.linalg.inv(np.diag(1.0 / bv) + G.T @ G)
        posterior[name] = (P @ (G.T @ (m.transform @ (y - prior))), P)
    dx, P_x = posterior["marginalised"]
    dz, P_z = posterior["state"]
    np.testing.assert_allclose(dz[:n], dx, rtol=0, atol=1e-8 * np.abs(dx).max())
    _, stats = marginalised.with_observed(off_system, y).overpass_fit(
        off_system, dx, PosteriorCovariance(None, P=P_x)
    )
    assert len(stats) == 1
    got = stats.iloc[0]
    assert dz[n] > 0.05  # the data moved the urban scale
    for i, term in enumerate(terms):
        assert got[term] == pytest.approx(dz[n + i], rel=1e-8, abs=1e-10)
        assert got[f"{term}_std"] == pytest.approx(np.sqrt(P_z[n + i, n + i]), rel=1e-8)


def test_a_linear_twin_recovers_a_mismatch_every_overpass_shares(tiny_case, on_system):
    """Columns made by the linear model with the urban enhancement 40 % stronger on every day
    (a plume-depth wind 1/1.4 of the operator's over the city) and the emissions at the prior:
    the urban scale moves towards +0.4, by more than its posterior σ, and explains the
    mismatch better than the emissions do."""
    L = on_system.layout
    seg = L.segments["column_transport"]
    m = _columns(tiny_case, on_system).match(on_system)
    x_true = L.xb().copy()
    x_true[seg.start] = 0.4
    prior = m.superobs["prior"].to_numpy()
    rng = np.random.default_rng(7)
    y = m.H @ x_true + 2e-5 + rng.normal(0, 2e-7, prior.size)
    b_var = on_system.B.prior_std() ** 2
    dx, var = _posterior(m.jacobian.toarray(), m.transform @ (y - prior), b_var)
    urban, urban_sd = dx[seg.start], np.sqrt(var[seg.start])
    # the same rows without the three unknowns: the emissions alone must explain the mismatch
    dx_off, _ = _posterior(
        m.jacobian.toarray()[:, : seg.start], m.transform @ (y - prior), b_var[: seg.start]
    )
    moved = {
        "with the unknowns": np.sqrt(np.mean(dx[: seg.start] ** 2)),
        "without": np.sqrt(np.mean(dx_off**2)),
    }
    print(f"\nposterior urban scale {urban:.3f} ± {urban_sd:.3f} (truth 0.4); RMS emission "
          f"increment {moved}")  # fmt: skip
    assert 0.1 < urban < 0.6 and urban_sd < 0.8 * 0.3
    assert moved["with the unknowns"] < 0.8 * moved["without"]
    # and the result reports it
    res = type("R", (), {"x_post": L.xb() + dx, "post_std": np.sqrt(var)})()
    scores = column_transport_scores(L, res)
    assert scores["column_urban_transport_scale_post"] == pytest.approx(urban)
    assert set(scores) == {f"column_{t}_post{s}" for t in COLUMN_TERMS for s in ("", "_std")}


def test_the_inversion_reports_them_and_warns_outside_the_linear_range(
    tiny_case, on_system, caplog
):
    """``inversion_metrics.json`` gains ``column_transport`` (each term's posterior, prior and
    posterior σ and a flag); a value at or below −1 (a negative enhancement or lifetime) or a
    lifetime beyond the central difference's ±step is flagged and logged."""
    L = on_system.layout
    seg = L.segments["column_transport"]
    columns = _columns(tiny_case, on_system)
    m = columns.match(on_system)
    # flat columns of 3e-5 mol m-2: the plane takes the level, and the modelled plumes have
    # nothing to match, so the unknowns move
    observed = with_values(columns.pixels, np.full(columns.pixels.n, 3e-5))
    fitted = ColumnObservations(
        observed, NOX, "vertical_column", tiny_case.scenario.meteorology, SETTINGS
    )
    res = assimilate(on_system, [fitted], build_posterior=False)
    report = res.metrics["column_transport"]
    assert list(report) == list(COLUMN_TERMS)
    for i, term in enumerate(COLUMN_TERMS):
        assert report[term]["posterior"] == pytest.approx(res.x_post[seg.start + i])
        assert report[term]["posterior_std"] < report[term]["prior_std"]
    assert len(m.superobs) > 0
    x = np.zeros(L.n)
    x[seg] = [-1.2, 0.1, 0.6]
    sd = np.full(L.n, 0.3)
    with caplog.at_level("WARNING"):
        flags = column_transport_summary(L, x, sd, 0.5 * sd, 0.5)
    assert [flags[t]["outside_linear_range"] for t in COLUMN_TERMS] == [True, False, True]
    warned = [
        r.getMessage() for r in caplog.records if "column transport unknown" in r.getMessage()
    ]
    assert len(warned) == 2 and "urban_transport_scale = -1.20" in warned[0]
    assert "-0.50 to +0.50" in warned[1]


def test_a_subset_of_the_terms(tiny_case):
    config = InversionConfig.model_validate(
        {
            "state": {
                "column_transport_unknowns": True,
                "column_transport_terms": ["lifetime_scale", "urban_transport_scale"],
            }
        }
    )
    system = build_system(tiny_case, config)
    assert system.layout.column_terms == ("urban_transport_scale", "lifetime_scale")
    np.testing.assert_array_equal(
        system.B.prior_std()[system.layout.segments["column_transport"]], [0.3, 0.5]
    )
    # the configuration offers exactly the state's terms
    assert list(InversionConfig().state.column_transport_terms) == list(COLUMN_TERMS)
    with pytest.raises(ValueError, match="column_transport_terms"):
        InversionConfig.model_validate({"state": {"column_transport_terms": ["wind"]}})
    with pytest.raises(ValueError, match="column_transport_terms"):
        InversionConfig.model_validate({"state": {"column_transport_terms": []}})


def test_gauss_newton_recovers_a_halved_lifetime(tiny_case):
    """Columns made by the operator itself with the lifetime halved (2 h against 4 h) and the
    emissions at the prior (held there by a tight B): one linearisation at the prior reads the lifetime scale off a
    secant and misses −0.5; outer iterations that rebuild the operator at the posterior
    lifetime (``state.column_lifetime_iterations``) land near it, and the report lists the
    references they were linearised at."""
    truth_h, model_h = 2.0, 4.0
    results = {}
    for iterations in (0, 3):
        config = InversionConfig.model_validate(
            {
                "state": {
                    "column_transport_unknowns": True,
                    "column_transport_terms": ["lifetime_scale"],
                    "column_lifetime_iterations": iterations,
                    # the emissions held near the prior: the lifetime alone explains the columns
                    "prior_error": 0.01,
                    "point_prior_error": 0.01,
                }
            }
        )
        system = build_system(tiny_case, config)
        truth = _columns(tiny_case, system, replace(SETTINGS, lifetime_h=truth_h))
        _, H_pix = truth.pixel_operator(system)
        n = system.layout.n
        values = H_pix[:, :n] @ system.layout.xb() + 2e-5
        observed = ColumnObservations(
            with_values(truth.pixels, values), NOX, "vertical_column",
            tiny_case.scenario.meteorology, replace(SETTINGS, lifetime_h=model_h),
        )  # fmt: skip
        res = assimilate(system, [observed], build_posterior=False)
        results[iterations] = res.metrics["column_transport"]["lifetime_scale"]
    once, iterated = results[0]["posterior"], results[3]["posterior"]
    path = results[3]["linearised_at"]
    print(f"\nlifetime scale (truth −0.5): once {once:+.3f}, Gauss–Newton {iterated:+.3f} ± "
          f"{results[3]['posterior_std']:.3f}, linearised at {path}")  # fmt: skip
    # closer than one linearisation, within its posterior σ (the prior pulls the rest)
    assert abs(iterated + 0.5) < abs(once + 0.5)
    assert abs(iterated + 0.5) < results[3]["posterior_std"]
    # the outer iterations converge: each step shorter than half the one before
    steps = np.abs(np.diff([*path, iterated]))
    assert (steps[1:] < 0.5 * steps[:-1]).all() and steps[-1] < 0.01
    assert results[0]["linearised_at"] == [0.0] and len(path) == 4
