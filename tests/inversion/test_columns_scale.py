"""The overpass-wide multiplicative scale error of satellite columns
(:func:`gridcarbon.inversion.columns.scale_error_covariance`, ``errors.column_scale_error``) on
the small SYNTHETIC case: C stays symmetric positive definite, the marginalised form equals an
inversion with one explicit scale unknown per overpass, and the switch off changes nothing."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridcarbon.config.inversion import InversionConfig
from gridcarbon.errors import ConfigError, InputDataError
from gridcarbon.inversion.columns import (
    COLUMN_LIFETIME_ERROR_REL,
    REACTIVE_COLUMN_SCALE_ERROR_PARTS,
    REACTIVE_COLUMN_SCALE_ERROR_REL,
    ColumnObservations,
    ColumnSettings,
    _whitening_projection,
    plane_design,
    reactive_column_errors,
    scale_error_covariance,
    urban_share,
)
from gridcarbon.pipeline import column_transport_errors
from gridcarbon.species import DEFAULT_SPECIES, by_name

from .column_cases import noon_no2_columns, swath_pixels, with_values
from .conftest import build_system

NOX = by_name(DEFAULT_SPECIES, "NOx")
SETTINGS = ColumnSettings(min_upwind_fetch_km=0.0)


@pytest.fixture(scope="module")
def tiny_system(tiny_case):
    return build_system(tiny_case)


def test_the_a_priori_scale_error_is_the_quadrature_of_its_parts():
    parts = np.array(list(REACTIVE_COLUMN_SCALE_ERROR_PARTS.values()))
    assert REACTIVE_COLUMN_SCALE_ERROR_REL == pytest.approx(np.sqrt((parts**2).sum()), rel=1e-15)
    assert 0.40 < REACTIVE_COLUMN_SCALE_ERROR_REL < 0.42


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(4, 30),
    sigma=st.floats(0.0, 3.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_the_covariance_stays_symmetric_positive_definite(n, sigma, seed):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 2e5, (n, 2))
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    amf = 0.15 * rng.uniform(0, 1e-4, n)
    C = np.diag(rng.uniform(1e-12, 1e-10, n)) + np.outer(amf, amf) * np.exp(-d / 5e4)
    m = rng.normal(0, 1e-4, n)
    Cs = scale_error_covariance(C, m, sigma)
    assert np.array_equal(Cs, Cs.T)
    np.linalg.cholesky(Cs)  # raises unless positive definite
    # C plus a positive semi-definite rank-one term: no eigenvalue falls below C's smallest
    scale = np.abs(Cs).max()
    assert np.linalg.eigvalsh(Cs).min() >= np.linalg.eigvalsh(C).min() - 1e-12 * scale
    np.testing.assert_allclose(Cs - C, sigma**2 * np.outer(m, m), rtol=0, atol=1e-15 * scale)


def test_off_returns_the_covariance_itself_and_bad_values_are_refused():
    C = np.eye(5)
    assert scale_error_covariance(C, np.ones(5), 0.0) is C
    with pytest.raises(ConfigError, match="scale_error_rel"):
        scale_error_covariance(C, np.ones(5), -0.1)
    with pytest.raises(InputDataError, match="one per superobservation"):
        scale_error_covariance(C, np.ones(4), 0.4)
    with pytest.raises(ConfigError, match="scale_error_rel"):
        ColumnSettings(scale_error_rel=-1.0)
    assert InversionConfig().errors.column_scale_error is False
    assert ColumnSettings().scale_error_rel == 0.0


def _posterior(G: np.ndarray, d: np.ndarray, b_var: np.ndarray):
    """Increment and posterior variances of ``x`` with prior variances ``b_var`` (diagonal B)
    from whitened rows ``G`` (unit errors) and whitened innovations ``d``."""
    BG = b_var[:, None] * G.T
    S = G @ BG + np.eye(G.shape[0])
    K = np.linalg.solve(S, BG.T).T
    return K @ d, b_var - np.einsum("ij,ij->i", K, BG)


def _marginalised_and_explicit(m_off, H, y, b_var, parts, sigma):
    """Per overpass, rows whitened with C + σ² Σ_k m_k m_kᵀ (``parts`` the m_k over all
    superobservations) and rows with C plus one explicit scale unknown per part and overpass
    (prior σ, Jacobian m_k): the posteriors of both, the marginalised rows, and the explicit
    rows with their whitened innovations."""
    so = m_off.superobs
    prior = so["prior"].to_numpy()
    labels = list(m_off.covariance)
    k = len(parts)
    marg_rows, marg_d, aug_rows, aug_d = [], [], [], []
    for j, label in enumerate(labels):
        idx = np.flatnonzero((so["overpass"] == label).to_numpy())
        X = plane_design(so["x"].to_numpy()[idx], so["y"].to_numpy()[idx])
        C = m_off.covariance[label]
        modelled = np.stack([m[idx] for m in parts])
        Tm = _whitening_projection(scale_error_covariance(C, modelled, sigma), X)
        T0 = _whitening_projection(C, X)
        marg_rows.append(Tm @ H[idx])
        marg_d.append(Tm @ (y[idx] - prior[idx]))
        extra = np.zeros((T0.shape[0], k * len(labels)))
        extra[:, k * j : k * (j + 1)] = T0 @ modelled.T
        aug_rows.append(np.hstack([T0 @ H[idx], extra]))
        aug_d.append(T0 @ (y[idx] - prior[idx]))
    dx_m, var_m = _posterior(np.vstack(marg_rows), np.concatenate(marg_d), b_var)
    dz_a, var_a = _posterior(
        np.vstack(aug_rows),
        np.concatenate(aug_d),
        np.concatenate([b_var, np.full(k * len(labels), sigma**2)]),
    )
    return dx_m, var_m, dz_a, var_a, marg_rows, aug_rows, aug_d


def test_marginalised_scale_equals_an_explicit_scale_unknown_per_overpass(tiny_case, tiny_system):
    """The rows with C + σ_s² m mᵀ give the same posterior of the state as rows with C and one
    scale unknown per overpass (prior N(0, σ_s²), Jacobian m) in the state, to 1e-8."""
    sigma = REACTIVE_COLUMN_SCALE_ERROR_REL
    off = noon_no2_columns(tiny_case, tiny_system, SETTINGS)
    m_off = off.match(tiny_system)
    so = m_off.superobs
    prior = so["prior"].to_numpy()
    rng = np.random.default_rng(11)
    # superobservations: the prior model × (1 + a scale per overpass) + a background + noise
    labels = list(m_off.covariance)
    scale = dict(zip(labels, rng.normal(0, sigma, len(labels)), strict=True))
    y = prior * (1 + so["overpass"].map(scale).to_numpy()) + 2e-5
    y = y + rng.normal(0, 1e-6, y.size)
    H = m_off.H.toarray()
    xb = tiny_system.layout.xb()
    b_var = (0.5 * np.abs(xb)) ** 2 + 1e-6  # a diagonal B (kg h-1 squared)

    dx_m, var_m, dz_a, var_a, marg_rows, aug_rows, aug_d = _marginalised_and_explicit(
        m_off, H, y, b_var, [prior], sigma
    )
    n = xb.size
    seen = np.abs(dx_m) > 0
    assert seen.sum() > 10  # the columns move a part of the state
    np.testing.assert_allclose(dz_a[:n], dx_m, rtol=0, atol=1e-8 * np.abs(dx_m).max())
    np.testing.assert_allclose(var_a[:n], var_m, rtol=1e-8)
    # and the scale is not a no-op: without it the increments differ
    T0_rows = [r[:, :n] for r in aug_rows]
    dx_0, _ = _posterior(np.vstack(T0_rows), np.concatenate(aug_d), b_var)
    assert np.abs(dx_0 - dx_m).max() > 1e-3 * np.abs(dx_m).max()

    # the library's own match with the setting on carries exactly that covariance and rows
    on = noon_no2_columns(tiny_case, tiny_system, replace(SETTINGS, scale_error_rel=sigma))
    m_on = on.match(tiny_system)
    for label in labels:
        idx = np.flatnonzero((so["overpass"] == label).to_numpy())
        np.testing.assert_allclose(
            m_on.covariance[label],
            m_off.covariance[label] + sigma**2 * np.outer(prior[idx], prior[idx]),
            rtol=1e-14,
            atol=0,
        )
    np.testing.assert_allclose(
        m_on.jacobian.toarray(), np.vstack(marg_rows), rtol=1e-9, atol=1e-12 * np.abs(H).max()
    )
    np.testing.assert_allclose(
        m_on.superobs["sigma_scale"].to_numpy(), sigma * np.abs(prior), rtol=1e-15
    )


def test_switch_off_is_bit_identical(tiny_case, tiny_system):
    """The default settings and scale_error_rel = 0 give the same rows, bit for bit, and no
    new table column."""
    a = noon_no2_columns(tiny_case, tiny_system, SETTINGS)
    b = noon_no2_columns(tiny_case, tiny_system, replace(SETTINGS, scale_error_rel=0.0))
    ma, mb = a.match(tiny_system), b.match(tiny_system)
    assert "sigma_scale" not in ma.superobs
    assert list(ma.superobs.columns) == list(mb.superobs.columns)
    assert np.array_equal(ma.transform.toarray(), mb.transform.toarray())
    assert np.array_equal(ma.jacobian.toarray(), mb.jacobian.toarray())
    assert ma.rows.equals(mb.rows)
    for label, C in ma.covariance.items():
        assert np.array_equal(C, mb.covariance[label])
    # with values the rows' observed contrasts are identical too
    v = np.linspace(1e-5, 3e-5, a.pixels.n)
    ra, rb = (
        ColumnObservations(with_values(c.pixels, v), NOX, "vertical_column", c.meteorology, st_)
        .assimilated(tiny_system)["observed"]
        .to_numpy()
        for c, st_ in ((a, SETTINGS), (b, replace(SETTINGS, scale_error_rel=0.0)))
    )
    assert np.array_equal(ra, rb)


def test_urban_share_is_the_blocks_urban_cell_fraction(tiny_system):
    L = tiny_system.layout
    share = urban_share(tiny_system)
    assert share.shape == (L.n,) and ((share >= 0) & (share <= 1)).all()
    urban = tiny_system.urban.reshape(L.ny, L.nx)
    grid = share[L.segments["grid"]].reshape(L.ns, L.nw, L.nby, L.nbx)
    for by in range(L.nby):
        for bx in range(L.nbx):
            cells = urban[by * L.block : (by + 1) * L.block, bx * L.block : (bx + 1) * L.block]
            assert (grid[:, :, by, bx] == cells.mean()).all()
    assert 0 < grid.mean() < 1  # the tiny case has urban and rural blocks
    points = share[L.segments["points"]].reshape(L.ns, -1)
    want = tiny_system.urban[tiny_system.point_cells[L.point_index]]
    assert (points == want[None, :]).all()
    rest = np.ones(L.n, dtype=bool)
    rest[L.segments["grid"]] = rest[L.segments["points"]] = False
    assert (share[rest] == 0).all()


def test_the_wind_speed_error_marginalises_an_urban_and_a_rural_scale(tiny_case, tiny_system):
    """``wind_speed_error_rel``: each overpass's C gains σ_w² (m_u m_uᵀ + m_r m_rᵀ) with m_u and
    m_r the prior enhancement from urban and rural state elements (summing to the prior), the
    same posterior as two explicit scale unknowns per overpass with prior σ_w (to 1e-8), and a
    ``sigma_wind`` column; the two parts are independent, unlike one overpass-wide scale."""
    sigma = 0.3
    m_off = noon_no2_columns(tiny_case, tiny_system, SETTINGS).match(tiny_system)
    m_on = noon_no2_columns(
        tiny_case, tiny_system, replace(SETTINGS, wind_speed_error_rel=sigma)
    ).match(tiny_system)
    so = m_off.superobs
    prior = so["prior"].to_numpy()
    H = m_off.H.toarray()
    xb = tiny_system.layout.xb()
    m_u = H @ (xb * urban_share(tiny_system))
    m_r = prior - m_u
    assert np.abs(m_u).max() > 0 and np.abs(m_r).max() > 0
    labels = list(m_off.covariance)
    rng = np.random.default_rng(5)
    y = prior * (1 + rng.normal(0, sigma, prior.size)) + 2e-5
    b_var = (0.5 * np.abs(xb)) ** 2 + 1e-6
    for label in labels:
        idx = np.flatnonzero((so["overpass"] == label).to_numpy())
        C = m_off.covariance[label]
        want = C + sigma**2 * (np.outer(m_u[idx], m_u[idx]) + np.outer(m_r[idx], m_r[idx]))
        np.testing.assert_allclose(m_on.covariance[label], want, rtol=1e-14, atol=0)
    dx_m, var_m, dz_a, var_a, *_ = _marginalised_and_explicit(m_off, H, y, b_var, [m_u, m_r], sigma)
    n = xb.size
    np.testing.assert_allclose(dz_a[:n], dx_m, rtol=0, atol=1e-8 * np.abs(dx_m).max())
    np.testing.assert_allclose(var_a[:n], var_m, rtol=1e-8)
    np.testing.assert_allclose(
        m_on.superobs["sigma_wind"].to_numpy(),
        np.where(m_on.superobs["used"], sigma * np.hypot(m_u, m_r), 0.0),
        rtol=1e-12,
    )
    assert "sigma_wind" not in m_off.superobs
    with pytest.raises(ConfigError, match="wind_speed_error_rel"):
        ColumnSettings(wind_speed_error_rel=1.5)
    assert InversionConfig().errors.column_wind_speed_error is False


def _assert_rank_one_term(m_off, m_on, slope, sigma, column):
    """Each overpass's covariance of ``m_on`` is that of ``m_off`` plus σ² m mᵀ (m =
    ``slope``), and the superobservations' ``column`` is σ |m| where used."""
    so = m_off.superobs
    for label, C in m_off.covariance.items():
        idx = np.flatnonzero((so["overpass"] == label).to_numpy())
        np.testing.assert_allclose(
            m_on.covariance[label],
            C + sigma**2 * np.outer(slope[idx], slope[idx]),
            rtol=1e-6,
            atol=1e-9 * np.abs(C).max(),
        )
    np.testing.assert_allclose(
        m_on.superobs[column].to_numpy(),
        np.where(m_on.superobs["used"], sigma * np.abs(slope), 0.0),
        rtol=1e-6,
    )


def test_the_lifetime_error_is_the_central_difference_of_the_modelled_columns(
    tiny_case, tiny_system
):
    """``lifetime_error_rel``: each overpass's C gains σ_τ² m_τ m_τᵀ with m_τ the change of the
    prior modelled columns per relative change of the lifetime — checked against two
    independent operators with the lifetime handed as τ × (1 ± σ_τ); a longer lifetime leaves
    more NO2 downwind (m_τ ≥ 0, larger away from the sources than the scale's m)."""
    tau_h, sigma = 4.0, 0.5
    fixed = replace(SETTINGS, lifetime_h=tau_h)
    m_off = noon_no2_columns(tiny_case, tiny_system, fixed).match(tiny_system)
    m_on = noon_no2_columns(tiny_case, tiny_system, replace(fixed, lifetime_error_rel=sigma)).match(
        tiny_system
    )
    longer, shorter = (
        noon_no2_columns(tiny_case, tiny_system, replace(SETTINGS, lifetime_h=tau_h * f))
        .match(tiny_system)
        .superobs["prior"]
        .to_numpy()
        for f in (1 + sigma, 1 - sigma)
    )
    slope = (longer - shorter) / (2 * sigma)
    assert (slope >= -1e-12 * np.abs(slope).max()).all() and slope.max() > 0
    _assert_rank_one_term(m_off, m_on, slope, sigma, "sigma_lifetime")
    so = m_off.superobs
    # the relative change differs between superobservations: a shape, not one scale
    prior = so["prior"].to_numpy()
    rel = slope[prior > 0] / prior[prior > 0]
    assert rel.max() > 1.5 * rel.min()
    with pytest.raises(ConfigError, match="lifetime_error_rel"):
        ColumnSettings(lifetime_error_rel=1.0)


def test_the_lifetime_term_takes_the_lifetime_out_of_the_scale():
    assert reactive_column_errors(False, False) == {
        "scale_error_rel": 0.0,
        "lifetime_error_rel": 0.0,
    }
    assert reactive_column_errors(True, False)["scale_error_rel"] == REACTIVE_COLUMN_SCALE_ERROR_REL
    both = reactive_column_errors(True, True)
    assert both["scale_error_rel"] == pytest.approx(np.hypot(0.2, 0.2))
    assert both["lifetime_error_rel"] == COLUMN_LIFETIME_ERROR_REL == 0.5
    assert reactive_column_errors(False, True) == {
        "scale_error_rel": 0.0,
        "lifetime_error_rel": 0.5,
    }
    assert InversionConfig().errors.column_lifetime_error is False


class _ScaledMixingHeight:
    """The met of ``source`` with its mixing height (``blh``) times ``factor``."""

    def __init__(self, source, factor: float) -> None:
        self.source = source
        self.factor = factor

    def __getattr__(self, name):
        return getattr(self.source, name)

    def for_hours(self, hours_utc):
        met = self.source.for_hours(hours_utc)
        return met.assign(blh=met["blh"] * self.factor)


def test_the_mixing_height_error_moves_the_daily_scale_from_h_into_r(tiny_case):
    """``mixing_height_error_rel``: each overpass's C gains σ² m_z m_zᵀ, m_z the central
    difference of the prior modelled columns over the mixing height × (1 ± σ) — checked
    against columns built from met whose ``blh`` was scaled — and with the state's daily
    mixing-height scales the columns' rows no longer carry them: their column is the same m_z
    when the switch is off and zero when it is on."""
    sigma = 0.3
    config = InversionConfig.model_validate({"state": {"mixing_height_unknowns": True}})
    system = build_system(tiny_case, config)
    transport = system.layout.segments["transport"]
    times = [t + np.timedelta64(30, "m") for t in system.times if t.hour == 5]
    pixels = swath_pixels(system.grid, times, kernel="tropomi")

    def match(settings, meteorology=None):
        met = tiny_case.scenario.meteorology if meteorology is None else meteorology
        return ColumnObservations(pixels, NOX, "vertical_column", met, settings).match(system)

    m_state = match(SETTINGS)
    m_error = match(replace(SETTINGS, mixing_height_error_rel=sigma))
    deeper, shallower = (
        match(SETTINGS, _ScaledMixingHeight(tiny_case.scenario.meteorology, f))
        .superobs["prior"]
        .to_numpy()
        for f in (1 + sigma, 1 - sigma)
    )
    slope = (deeper - shallower) / (2 * sigma)
    assert slope.max() > 0
    np.testing.assert_allclose(
        m_state.H[:, transport].toarray().sum(axis=1), slope, rtol=1e-6, atol=1e-9 * slope.max()
    )
    assert m_error.H[:, transport].nnz == 0
    np.testing.assert_array_equal(
        m_error.H[:, : transport.start].toarray(), m_state.H[:, : transport.start].toarray()
    )
    _assert_rank_one_term(m_state, m_error, slope, sigma, "sigma_mixing_height")
    assert "sigma_mixing_height" not in m_state.superobs
    with pytest.raises(ConfigError, match="mixing_height_error_rel"):
        ColumnSettings(mixing_height_error_rel=1.0)
    errors = InversionConfig().errors
    assert errors.column_mixing_height_error is False
    assert column_transport_errors(errors)["mixing_height_error_rel"] == 0.0
    on = errors.model_copy(update={"column_mixing_height_error": True})
    assert column_transport_errors(on)["mixing_height_error_rel"] == (
        errors.model_error_mixing_height_rel
    )
