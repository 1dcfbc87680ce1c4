"""The wind turn fitted per overpass to the columns (``errors.column_wind_direction_fit``,
:func:`gridcarbon.inversion.columns.fit_plume_turn`): the fit on made-up plumes (a known turn
found, columns that cannot tell the turns apart give the prior, a background plane changes
nothing, never past the candidates) and on the small SYNTHETIC case (the columns of winds
turned by 30° give back about 30°, H is the operator of the fitted turn, the candidate plumes
are not built twice); the turn fitted as a field, one per tile (``errors.column_wind_direction_fit_tile_km``,
:func:`~gridcarbon.inversion.columns.fit_plume_turns`): two plumes turned apart are each found,
the candidates chosen are the brute-force joint optimum, a prior correlation near 1 ties the
tiles, and one tile is the overpass's fit."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import multivariate_normal

from gridcarbon.config.inversion import InversionConfig
from gridcarbon.errors import ConfigError
from gridcarbon.inversion import columns as columns_module
from gridcarbon.inversion.columns import (
    DIRECTION_FIT_NODES,
    ColumnSettings,
    _whitening_projection,
    fit_plume_turn,
    fit_plume_turns,
    plane_design,
    turn_costs,
)
from gridcarbon.pipeline import column_transport_errors

from .column_cases import noon_no2_columns
from .conftest import build_system
from .test_columns_shape import SETTINGS, TurnedMeteorology

# a transect of 30 superobservations, 3 km apart, across a plume whose place moves with the
# turn: 6 km per σ
X_KM = np.arange(30) * 3.0
Y_KM = np.sin(np.arange(30))  # off a line, so the plane is determined
DESIGN = plane_design(X_KM * 1e3, Y_KM * 1e3)
NOISE = 0.05


def _plume(z: float) -> np.ndarray:
    return np.exp(-0.5 * ((X_KM - 45.0 - 6.0 * z) / 5.0) ** 2)


PLUMES = np.stack([_plume(z) for z in DIRECTION_FIT_NODES])
COVARIANCE = NOISE**2 * np.eye(X_KM.size)


def test_a_known_turn_is_found_between_the_candidates():
    """Columns of 1.5 × the plume at a turn between or on the candidates, over a sloping
    background, with noise of 5 % of the plume's peak: the fit lies within 0.25 σ of it."""
    rng = np.random.default_rng(7)
    background = DESIGN @ np.array([3.0, 2e-5, -1e-5])
    for z_true in (0.7, 1.0, -1.4, 0.3):
        observed = 1.5 * _plume(z_true) + background + NOISE * rng.standard_normal(X_KM.size)
        got = fit_plume_turn(observed, PLUMES, COVARIANCE, DESIGN, DIRECTION_FIT_NODES)
        assert abs(got - z_true) < 0.25, (z_true, got)


def test_columns_that_cannot_tell_the_turns_apart_give_the_prior():
    """Noise 200 times the plume's peak: whatever the plume's place, the cost is the prior's
    and the turn 0 within 0.15 σ; with no noise at all a plume at ±1 σ is found there."""
    rng = np.random.default_rng(5)
    loud = (200.0 * NOISE) ** 2 * np.eye(X_KM.size)
    for z_true in (-1.5, 1.5):
        observed = _plume(z_true) + 200.0 * NOISE * rng.standard_normal(X_KM.size)
        got = fit_plume_turn(observed, PLUMES, loud, DESIGN, DIRECTION_FIT_NODES)
        assert abs(got) < 0.15, got
        on_node = np.sign(z_true)
        sharp = fit_plume_turn(_plume(on_node), PLUMES, COVARIANCE, DESIGN, DIRECTION_FIT_NODES)
        assert abs(sharp - on_node) < 0.1, sharp


@settings(max_examples=40, deadline=None)
@given(
    z_true=st.floats(-2.5, 2.5),
    strength=st.floats(0.2, 5.0),
    plane=st.tuples(st.floats(-5, 5), st.floats(-1e-4, 1e-4), st.floats(-1e-4, 1e-4)),
    seed=st.integers(0, 2**16),
)
def test_a_background_plane_changes_nothing_and_the_fit_stays_within_the_candidates(
    z_true, strength, plane, seed
):
    rng = np.random.default_rng(seed)
    observed = strength * _plume(z_true) + NOISE * rng.standard_normal(X_KM.size)
    bare = fit_plume_turn(observed, PLUMES, COVARIANCE, DESIGN, DIRECTION_FIT_NODES)
    shifted = fit_plume_turn(
        observed + DESIGN @ np.asarray(plane), PLUMES, COVARIANCE, DESIGN, DIRECTION_FIT_NODES
    )
    assert shifted == pytest.approx(bare, abs=1e-6)
    assert DIRECTION_FIT_NODES[0] <= bare <= DIRECTION_FIT_NODES[-1]


def test_the_costs_are_scipys_gaussian_evidence_plus_the_prior():
    """Each candidate's cost is −2 log of scipy's ``N(r; v_j, I + s² v_j v_jᵀ)`` plus
    ``z_j²``, up to one constant; the fit lies within half a step of the least."""
    rng = np.random.default_rng(3)
    observed = 1.5 * _plume(-0.6) + NOISE * rng.standard_normal(X_KM.size)
    T = _whitening_projection(COVARIANCE, DESIGN)
    r = T @ observed
    for s in (0.3, 1.0, 2.0):
        want = np.array(
            [
                -2.0
                * multivariate_normal(
                    T @ m, np.eye(r.size) + s * s * np.outer(T @ m, T @ m)
                ).logpdf(r)
                + z * z
                for z, m in zip(DIRECTION_FIT_NODES, PLUMES, strict=True)
            ]
        )
        got = turn_costs(observed, PLUMES, COVARIANCE, DESIGN, DIRECTION_FIT_NODES, s)
        np.testing.assert_allclose(got - got.min(), want - want.min(), rtol=1e-9, atol=1e-9)
        # a prior of σ 0.5 (an overpass's mean turn) adds (z / 0.5)² instead of z²
        narrow = turn_costs(observed, PLUMES, COVARIANCE, DESIGN, DIRECTION_FIT_NODES, s, 0.5)
        np.testing.assert_allclose(
            narrow - got, 3.0 * DIRECTION_FIT_NODES**2, rtol=1e-12, atol=1e-9
        )
        fitted = fit_plume_turn(observed, PLUMES, COVARIANCE, DESIGN, DIRECTION_FIT_NODES, s)
        assert abs(fitted - DIRECTION_FIT_NODES[np.argmin(want)]) <= 0.5
    with pytest.raises(ConfigError, match="strength_sd"):
        turn_costs(observed, PLUMES, COVARIANCE, DESIGN, DIRECTION_FIT_NODES, 0.0)
    with pytest.raises(ConfigError, match="prior_sd"):
        turn_costs(observed, PLUMES, COVARIANCE, DESIGN, DIRECTION_FIT_NODES, 1.0, 0.0)


# two tiles of the transect, each with its own plume: tile 0 the first 15 superobservations
# (plume at 21 km), tile 1 the others (plume at 66 km)
TILES = (np.arange(30) >= 15).astype(np.int64)


def _two_plumes(z0: float, z1: float) -> np.ndarray:
    return np.where(
        TILES == 0,
        np.exp(-0.5 * ((X_KM - 21.0 - 6.0 * z0) / 5.0) ** 2),
        np.exp(-0.5 * ((X_KM - 66.0 - 6.0 * z1) / 5.0) ** 2),
    )


TWO_PLUMES = np.stack([_two_plumes(z, z) for z in DIRECTION_FIT_NODES])


def _fit_two_tiles(observed: np.ndarray, rho: float) -> np.ndarray:
    """The two tiles' turns fitted with unit prior σ and prior correlation ``rho``."""
    prior = np.array([[1.0, rho], [rho, 1.0]])
    return fit_plume_turns(
        observed, TWO_PLUMES, COVARIANCE, DESIGN, DIRECTION_FIT_NODES, TILES, prior
    )


def test_two_plumes_turned_apart_are_each_found_by_their_tile():
    """Each tile's plume turned its own way (+1.2 σ and −0.8 σ; priors independent): the
    field fit finds each within 0.25 σ; one turn for the whole overpass cannot."""
    rng = np.random.default_rng(11)
    observed = 1.3 * _two_plumes(1.2, -0.8) + NOISE * rng.standard_normal(X_KM.size)
    got = _fit_two_tiles(observed, 0.0)
    np.testing.assert_allclose(got, [1.2, -0.8], atol=0.25)
    one = fit_plume_turn(observed, TWO_PLUMES, COVARIANCE, DESIGN, DIRECTION_FIT_NODES)
    assert max(abs(one - 1.2), abs(one + 0.8)) > 0.5
    # a prior correlation near 1 ties the tiles' turns, which then move together
    rho = 1.0 - 1e-7
    tied = _fit_two_tiles(observed, rho)
    assert abs(tied[0] - tied[1]) < 0.1 < 1.0 < abs(got[0] - got[1])
    both = 1.3 * _two_plumes(1.3, 1.3) + NOISE * rng.standard_normal(X_KM.size)
    moved = _fit_two_tiles(both, rho)
    np.testing.assert_allclose(moved, [1.3, 1.3], atol=0.25)


@settings(max_examples=25, deadline=None)
@given(
    z=st.tuples(st.floats(-2.0, 2.0), st.floats(-2.0, 2.0)),
    strength=st.floats(0.3, 3.0),
    rho=st.floats(-0.6, 0.999),
    seed=st.integers(0, 2**16),
)
def test_the_tiles_candidates_are_the_brute_force_joint_optimum(z, strength, rho, seed):
    """The candidates chosen by coordinate descent are those of least joint cost over all 25
    pairs, the cost −2 log of scipy's evidence ``N(r; v, I + s² v vᵀ)`` plus ``zᵀ P⁻¹ z``; the
    refined turns lie within half a step of them."""
    rng = np.random.default_rng(seed)
    observed = strength * _two_plumes(*z) + NOISE * rng.standard_normal(X_KM.size)
    prior = np.array([[1.0, rho], [rho, 1.0]])
    T = _whitening_projection(COVARIANCE, DESIGN)
    r = T @ observed
    best, least = None, np.inf
    for j0, z0 in enumerate(DIRECTION_FIT_NODES):
        for j1, z1 in enumerate(DIRECTION_FIT_NODES):
            v = T @ np.where(TILES == 0, TWO_PLUMES[j0], TWO_PLUMES[j1])
            zz = np.array([z0, z1])
            cost = -2.0 * multivariate_normal(v, np.eye(r.size) + np.outer(v, v)).logpdf(r)
            cost += zz @ np.linalg.solve(prior, zz)
            if cost < least:
                best, least = zz, cost
    got = fit_plume_turns(
        observed, TWO_PLUMES, COVARIANCE, DESIGN, DIRECTION_FIT_NODES, TILES, prior
    )
    assert np.all(np.abs(got - best) <= 0.5 + 1e-12), (got, best)


def test_one_tile_is_the_overpass_fit_and_bad_tiles_are_refused():
    rng = np.random.default_rng(2)
    observed = 1.5 * _plume(0.4) + NOISE * rng.standard_normal(X_KM.size)
    one = np.zeros(X_KM.size, np.int64)
    for prior_sd in (1.0, 0.6):
        field = fit_plume_turns(
            observed, PLUMES, COVARIANCE, DESIGN, DIRECTION_FIT_NODES, one, [[prior_sd**2]]
        )
        want = fit_plume_turn(
            observed, PLUMES, COVARIANCE, DESIGN, DIRECTION_FIT_NODES, prior_sd=prior_sd
        )
        assert field.shape == (1,) and field[0] == pytest.approx(want, abs=1e-12)
    with pytest.raises(ValueError, match="one row and column per tile"):
        fit_plume_turns(observed, PLUMES, COVARIANCE, DESIGN, DIRECTION_FIT_NODES, TILES, [[1]])
    with pytest.raises(ValueError, match="at least one superobservation"):
        fit_plume_turns(
            observed, PLUMES, COVARIANCE, DESIGN, DIRECTION_FIT_NODES, 2 * TILES, np.eye(3)
        )


@pytest.fixture(scope="module")
def tiny_system(tiny_case):
    return build_system(tiny_case)


FIT = replace(SETTINGS, wind_direction_error_deg=30.0, wind_direction_fit=True)


def test_the_columns_of_turned_winds_give_back_the_turn(tiny_case, tiny_system):
    """Hand the fitting columns the prior enhancement of an operator whose met was turned by
    +30° (one σ): every overpass fits a turn within 8° of it, H is the operator of the winds
    turned by each overpass's fitted turn, the footprints stay the unturned operator's, and
    the columns of the unturned winds fit within 8° of none."""
    xb = tiny_system.layout.xb()
    met = tiny_case.scenario.meteorology
    turned = noon_no2_columns(tiny_case, tiny_system, SETTINGS, TurnedMeteorology(met, 30.0))
    plain = noon_no2_columns(tiny_case, tiny_system, SETTINGS).match(tiny_system)
    fitting = noon_no2_columns(tiny_case, tiny_system, FIT)
    fitting.match(tiny_system)
    got = fitting.with_observed(tiny_system, turned.match(tiny_system).H @ xb).match(tiny_system)
    fitted = got.superobs.loc[got.superobs["used"], "wind_turn_deg"].to_numpy()
    assert fitted.size and np.all(np.abs(fitted - 30.0) < 8.0), np.unique(fitted)
    # H: the operator with each overpass's winds turned by its fitted turn
    for turn in np.unique(fitted):
        rows = np.flatnonzero(got.superobs["wind_turn_deg"].to_numpy() == turn)
        other = noon_no2_columns(tiny_case, tiny_system, SETTINGS, TurnedMeteorology(met, turn))
        want = other.match(tiny_system).H[rows].toarray()
        scale = np.abs(want).max()
        np.testing.assert_allclose(got.H[rows].toarray(), want, rtol=0, atol=1e-9 * scale)
    assert (got.footprints.area_val == plain.footprints.area_val).all()
    back = fitting.with_observed(tiny_system, plain.H @ xb).match(tiny_system)
    still = back.superobs.loc[back.superobs["used"], "wind_turn_deg"].to_numpy()
    assert np.all(np.abs(still) < 8.0), np.unique(still)


def test_a_turn_per_tile_gives_back_the_turn_and_h_is_each_tiles_operator(tiny_case, tiny_system):
    """``wind_direction_fit_tile_km`` 20 (about nine tiles over the small case): the columns of
    winds turned by +30° give each tile a turn within 15° of it, several per overpass, and each
    superobservation's row of H is the operator of the winds turned by its tile's turn; a tile
    wider than the grid gives the overpass's one turn (the overpass-mean prior's σ then equals
    the fit per overpass's, to its nugget)."""
    xb = tiny_system.layout.xb()
    met = tiny_case.scenario.meteorology
    values = noon_no2_columns(tiny_case, tiny_system, SETTINGS, TurnedMeteorology(met, 30.0))
    values = values.match(tiny_system).H @ xb
    tiled = replace(FIT, wind_direction_fit_tile_km=20.0)
    got = noon_no2_columns(tiny_case, tiny_system, tiled).with_observed(tiny_system, values)
    found = got.match(tiny_system)
    used = found.superobs[found.superobs["used"]]
    assert np.all(np.abs(used["wind_turn_deg"] - 30.0) < 15.0), used["wind_turn_deg"].unique()
    assert used.groupby("overpass")["wind_turn_deg"].nunique().min() >= 2
    turns = found.superobs["wind_turn_deg"].to_numpy()
    for turn in np.unique(used["wind_turn_deg"])[:4]:
        rows = np.flatnonzero(turns == turn)
        other = noon_no2_columns(tiny_case, tiny_system, SETTINGS, TurnedMeteorology(met, turn))
        want = other.match(tiny_system).H[rows].toarray()
        scale = np.abs(want).max()
        np.testing.assert_allclose(found.H[rows].toarray(), want, rtol=0, atol=1e-9 * scale)
    for prior in ("pointwise", "overpass_mean"):
        one = replace(FIT, wind_direction_fit_prior=prior)
        wide = replace(one, wind_direction_fit_tile_km=1000.0)
        a, b = (
            noon_no2_columns(tiny_case, tiny_system, x).with_observed(tiny_system, values)
            for x in (one, wide)
        )
        np.testing.assert_allclose(
            b.match(tiny_system).superobs["wind_turn_deg"],
            a.match(tiny_system).superobs["wind_turn_deg"],
            rtol=0,
            atol=1e-6,
        )


def test_the_tiles_need_the_fit_and_reach_the_settings():
    errors = InversionConfig().errors.model_copy(
        update={
            "column_wind_direction_error": True,
            "column_wind_direction_fit": True,
            "column_wind_direction_fit_tile_km": 150.0,
        }
    )
    assert ColumnSettings(**column_transport_errors(errors)).wind_direction_fit_tile_km == 150.0
    assert InversionConfig().errors.column_wind_direction_fit_tile_km is None
    with pytest.raises(ValueError, match="column_wind_direction_fit: true"):
        InversionConfig(
            errors={"column_wind_direction_error": True, "column_wind_direction_fit_tile_km": 150}
        )
    with pytest.raises(ValueError, match="greater than 0"):
        InversionConfig(errors={"column_wind_direction_fit_tile_km": 0})
    with pytest.raises(ConfigError, match="needs wind_direction_fit = True"):
        ColumnSettings(wind_direction_error_deg=30.0, wind_direction_fit_tile_km=150.0)
    with pytest.raises(ConfigError, match="wind_direction_fit_tile_km"):
        ColumnSettings(
            wind_direction_error_deg=30.0, wind_direction_fit=True, wind_direction_fit_tile_km=-1
        )


def test_the_candidate_plumes_are_built_once_per_system(tiny_case, tiny_system, monkeypatch):
    """A copy with other values (:meth:`with_observed`) fits again on the candidate plumes of
    the first match: six operator builds for the first match's fit (five candidates and the
    turned H), one (the turned H) for the copy's, beside the central plume and the plume-shape
    nodes each builds."""
    columns = noon_no2_columns(tiny_case, tiny_system, FIT)
    calls = []
    real = columns_module.ColumnObservations._operator

    def counting(self, *args, **kwargs):
        calls.append(np.ndim(kwargs.get("turn_rad", 0.0)))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(columns_module.ColumnObservations, "_operator", counting)
    found = columns.match(tiny_system)
    first = len(calls)
    columns.with_observed(tiny_system, found.superobs["observed"].to_numpy() * 1.1).match(
        tiny_system
    )
    # the central plume, five candidates, the turned H and the plume-shape nodes at ±√3 σ
    # (full sampling: the central node is H); then the central plume, the turned H and the
    # two nodes again
    assert first == 1 + 5 + 1 + 2
    assert len(calls) - first == 1 + 1 + 2


def test_the_switch_is_off_by_default_and_needs_the_direction_error():
    errors = InversionConfig().errors
    assert errors.column_wind_direction_fit is False
    assert column_transport_errors(errors)["wind_direction_fit"] is False
    on = errors.model_copy(
        update={"column_wind_direction_error": True, "column_wind_direction_fit": True}
    )
    assert ColumnSettings(**column_transport_errors(on)).wind_direction_fit is True
    with pytest.raises(ValueError, match="column_wind_direction_error: true"):
        InversionConfig(errors={"column_wind_direction_fit": True})
    with pytest.raises(ConfigError, match="wind_direction_fit"):
        ColumnSettings(wind_direction_fit=True)


def test_the_overpass_mean_prior_pulls_the_fit_towards_none(tiny_case, tiny_system):
    """``wind_direction_fit_prior`` 'overpass_mean': the prior's σ is that of an overpass's
    mean turn (below the pointwise σ), so the turn fitted to the columns of winds turned by
    30° is nearer 0 than the pointwise prior's, and still of the same sign; the
    configuration's switch reaches the settings."""
    xb = tiny_system.layout.xb()
    met = tiny_case.scenario.meteorology
    values = noon_no2_columns(tiny_case, tiny_system, SETTINGS, TurnedMeteorology(met, 30.0))
    values = values.match(tiny_system).H @ xb

    def fitted(settings):
        columns = noon_no2_columns(tiny_case, tiny_system, settings)
        found = columns.with_observed(tiny_system, values).match(tiny_system).superobs
        return found.loc[found["used"], "wind_turn_deg"].to_numpy()

    pointwise = fitted(FIT)
    mean = fitted(replace(FIT, wind_direction_fit_prior="overpass_mean"))
    assert np.all(mean > 0) and np.all(mean <= pointwise + 1e-9)
    assert np.any(mean < pointwise - 0.1)
    errors = InversionConfig().errors.model_copy(
        update={
            "column_wind_direction_error": True,
            "column_wind_direction_fit": True,
            "column_wind_direction_fit_prior": "overpass_mean",
        }
    )
    got = ColumnSettings(**column_transport_errors(errors))
    assert got.wind_direction_fit_prior == "overpass_mean"
    with pytest.raises(ConfigError, match="wind_direction_fit_prior"):
        ColumnSettings(wind_direction_error_deg=30.0, wind_direction_fit_prior="regional")
