"""The plume-shape error of satellite columns (``errors.column_wind_direction_error``,
:func:`gridcarbon.inversion.columns.plume_shape_covariance`) on the small SYNTHETIC case: the
turned operator equals an operator handed met whose wind is turned, C gains exactly the tapered
covariance of the quadrature nodes, the term is positive semi-definite, and off changes
nothing."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridcarbon.config.inversion import InversionConfig
from gridcarbon.errors import ConfigError, InputDataError
from gridcarbon.inversion.columns import ColumnSettings, plume_shape_covariance
from gridcarbon.inversion.errors_model import gaspari_cohn
from gridcarbon.inversion.osse import overpass_counts
from gridcarbon.pipeline import column_transport_errors
from gridcarbon.species import DEFAULT_SPECIES, by_name

from .column_cases import noon_no2_columns
from .conftest import build_system

NOX = by_name(DEFAULT_SPECIES, "NOx")
SETTINGS = ColumnSettings(min_upwind_fetch_km=0.0)


class TurnedMeteorology:
    """The met of ``source`` with every wind turned by ``degrees``: the direction it blows
    from grows by that angle, its speed and everything else unchanged."""

    def __init__(self, source, degrees: float) -> None:
        self.source = source
        self.turn = np.radians(degrees)

    def __getattr__(self, name):
        return getattr(self.source, name)

    def for_hours(self, hours_utc):
        met = self.source.for_hours(hours_utc)
        c, s = np.cos(self.turn), np.sin(self.turn)
        u, v = met["u10"], met["v10"]
        return met.assign(u10=c * u + s * v, v10=c * v - s * u)


@pytest.fixture(scope="module")
def tiny_system(tiny_case):
    return build_system(tiny_case)


def test_the_turned_operator_is_the_operator_of_turned_winds(tiny_case, tiny_system):
    """The operator with every wind turned by 25° (``turn_rad``) equals the operator built
    from met whose u10 and v10 were turned by 25° (to 1e-9 of its largest value), differs
    from the central one, and a whole turn gives the central one back."""
    central = noon_no2_columns(tiny_case, tiny_system, SETTINGS)
    central.match(tiny_system)  # sets the pixels' met
    turned_met = noon_no2_columns(
        tiny_case, tiny_system, SETTINGS, TurnedMeteorology(tiny_case.scenario.meteorology, 25.0)
    )
    handed = turned_met.match(tiny_system).H
    want = handed.toarray()
    n_so = want.shape[0]

    def build(turn_rad: float) -> np.ndarray:
        # the groups of ``_build``: one row per superobservation, in the same order
        so = central.match(tiny_system).superobs
        sel, labels, hours = central._usable(tiny_system)
        xc, yc = central.pixels.centres()
        g = tiny_system.grid
        size = central.settings.superobservation_km * 1000.0
        key = (
            labels[sel],
            np.floor((xc[sel] - g.x_min) / size).astype(np.int64),
            np.floor((g.y_max - yc[sel]) / size).astype(np.int64),
        )
        gid = pd.DataFrame(dict(zip("abc", key, strict=True))).groupby(list("abc")).ngroup()
        gid = gid.to_numpy()
        n_in = np.bincount(gid)
        order = np.argsort(gid, kind="stable")
        groups = np.split(order, np.cumsum(n_in)[:-1])
        assert len(groups) == len(so) == n_so
        return central._operator(
            tiny_system, groups, 1.0 / n_in[gid], so["hour"].to_numpy(), sel, turn_rad=turn_rad
        )[0].toarray()

    got = build(np.radians(25.0))
    scale = np.abs(want).max()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9 * scale)
    base = central.match(tiny_system).H.toarray()
    assert np.abs(got - base).max() > 1e-2 * scale
    np.testing.assert_allclose(build(2 * np.pi), base, rtol=0, atol=1e-9 * scale)


def test_the_covariance_gains_the_tapered_covariance_of_the_quadrature(tiny_case, tiny_system):
    """With ``wind_direction_error_deg`` σ and 3 nodes, each overpass's C gains
    ``(Σ_k w_k (m_k − m̄)(m_k − m̄)ᵀ) ∘ GC(d/c)``, the m_k the prior enhancement from
    operators handed met turned by 0 and ±√3 σ (the Gauss–Hermite nodes, weights 2/3, 1/6,
    1/6), and the table gains ``sigma_shape``, the square root of that variance."""
    sigma, c_km = 20.0, 60.0
    on = noon_no2_columns(
        tiny_case,
        tiny_system,
        replace(SETTINGS, wind_direction_error_deg=sigma, shape_localisation_km=c_km),
    ).match(tiny_system)
    off = noon_no2_columns(tiny_case, tiny_system, SETTINGS).match(tiny_system)
    xb = tiny_system.layout.xb()
    nodes = np.array([-np.sqrt(3.0), 0.0, np.sqrt(3.0)]) * sigma
    weights = np.array([1.0, 4.0, 1.0]) / 6.0
    signals = [
        noon_no2_columns(
            tiny_case,
            tiny_system,
            SETTINGS,
            TurnedMeteorology(tiny_case.scenario.meteorology, float(t)),
        )
        .match(tiny_system)
        .H
        @ xb
        for t in nodes
    ]
    mean = sum(w * m for w, m in zip(weights, signals, strict=True))
    dev = np.stack([np.sqrt(w) * (m - mean) for w, m in zip(weights, signals, strict=True)])
    so = off.superobs
    assert so["prior"].to_numpy() == pytest.approx(signals[1], rel=1e-12, abs=0)
    assert list(on.covariance) == list(off.covariance)
    for label, C in off.covariance.items():
        idx = np.flatnonzero((so["overpass"] == label).to_numpy())
        d = np.hypot(
            *(
                np.stack([so["x"], so["y"]], 1)[idx, None]
                - np.stack([so["x"], so["y"]], 1)[None, idx]
            ).transpose(2, 0, 1)
        )
        want = C + (dev[:, idx].T @ dev[:, idx]) * gaspari_cohn(d / (c_km * 1000.0))
        np.testing.assert_allclose(
            on.covariance[label], want, rtol=1e-9, atol=1e-9 * np.abs(want).max()
        )
        np.linalg.cholesky(on.covariance[label])
        # the plume-shape term is a real part of the error, not a rounding
        assert np.abs(on.covariance[label] - C).max() > 1e-3 * np.abs(C).max()
    used = on.superobs["used"].to_numpy()
    np.testing.assert_allclose(
        on.superobs["sigma_shape"].to_numpy(),
        np.where(used, np.sqrt((dev**2).sum(0)), 0.0),
        rtol=1e-9,
        atol=1e-9 * np.abs(dev).max(),
    )
    assert "sigma_shape" not in off.superobs
    np.testing.assert_allclose(on.superobs["prior_nodes_mean"], mean, rtol=1e-9)
    np.testing.assert_allclose(on.superobs["prior_central"], signals[1], rtol=1e-12)
    # the OSSE's record of the nodes' mean against the central plume
    kind_on = noon_no2_columns(
        tiny_case,
        tiny_system,
        replace(SETTINGS, wind_direction_error_deg=sigma, shape_localisation_km=c_km),
    )
    ratio = overpass_counts(tiny_system, [kind_on])["column_shape_mean_ratio"]
    assert ratio == pytest.approx(mean[used].sum() / signals[1][used].sum(), rel=1e-9)
    assert "column_shape_mean_ratio" not in overpass_counts(
        tiny_system, [noon_no2_columns(tiny_case, tiny_system, SETTINGS)]
    )
    # the rows' prior and H do not change: the term is in the error model only
    np.testing.assert_array_equal(on.superobs["prior"], off.superobs["prior"])
    assert (on.H != off.H).nnz == 0


def test_the_expected_plume_is_the_nodes_mean_of_the_operator(tiny_case, tiny_system):
    """``expected_plume``: H is Σ w_k H_k over the operators handed met turned by the nodes
    (to 1e-9), the superobservations' prior its value at x_b, the same plume-shape σ as
    without it (the spread about the nodes' mean) and the representativeness of the mean
    plume; the mean plume is wider: its largest modelled column is lower than the central
    plume's."""
    sigma = 20.0
    settings_on = replace(SETTINGS, wind_direction_error_deg=sigma)
    on = noon_no2_columns(tiny_case, tiny_system, settings_on).match(tiny_system)
    mean = noon_no2_columns(
        tiny_case, tiny_system, replace(settings_on, expected_plume=True)
    ).match(tiny_system)
    nodes = np.array([-np.sqrt(3.0), 0.0, np.sqrt(3.0)]) * sigma
    weights = np.array([1.0, 4.0, 1.0]) / 6.0
    want = sum(
        w
        * noon_no2_columns(
            tiny_case, tiny_system, SETTINGS, TurnedMeteorology(tiny_case.scenario.meteorology, t)
        )
        .match(tiny_system)
        .H.toarray()
        for w, t in zip(weights, nodes, strict=True)
    )
    scale = np.abs(want).max()
    np.testing.assert_allclose(mean.H.toarray(), want, rtol=0, atol=1e-9 * scale)
    xb = tiny_system.layout.xb()
    np.testing.assert_allclose(mean.superobs["prior"], want @ xb, rtol=1e-9)
    # the same spread about the nodes' mean; the representativeness follows the mean plume
    np.testing.assert_allclose(mean.superobs["sigma_shape"], on.superobs["sigma_shape"], rtol=1e-9)
    np.testing.assert_allclose(
        mean.superobs["sigma_representativeness"],
        SETTINGS.representativeness_rel * np.abs(want @ xb),
        rtol=1e-9,
    )
    for label in on.covariance:
        np.linalg.cholesky(mean.covariance[label])
    assert mean.superobs["prior"].max() < on.superobs["prior"].max()
    with pytest.raises(ConfigError, match="needs wind_direction_error_deg"):
        ColumnSettings(expected_plume=True)
    with pytest.raises(ValueError, match="column_wind_direction_error"):
        InversionConfig(errors={"column_expected_plume": True})


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(2, 25),
    k=st.integers(2, 7),
    c_km=st.floats(1.0, 300.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_the_plume_shape_term_is_positive_semidefinite(n, k, c_km, seed):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 2e5, (n, 2))
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    dev = rng.normal(0, 1e-5, (k, n))
    P = plume_shape_covariance(dev, d, c_km * 1000.0)
    assert np.array_equal(P, P.T)
    np.testing.assert_allclose(np.diag(P), (dev**2).sum(0), rtol=1e-12)
    assert np.linalg.eigvalsh(P).min() >= -1e-10 * max(np.abs(P).max(), 1e-300)


def test_bad_settings_are_refused_and_the_switch_is_off_by_default():
    with pytest.raises(ConfigError, match="wind_direction_error_deg"):
        ColumnSettings(wind_direction_error_deg=120.0)
    with pytest.raises(ConfigError, match="quadrature_nodes"):
        ColumnSettings(quadrature_nodes=1)
    with pytest.raises(ConfigError, match="shape_localisation_km"):
        ColumnSettings(shape_localisation_km=0.0)
    with pytest.raises(ConfigError, match="localisation"):
        plume_shape_covariance(np.ones((2, 3)), np.zeros((3, 3)), 0.0)
    with pytest.raises(InputDataError, match="one value per superobservation"):
        plume_shape_covariance(np.ones((2, 3)), np.zeros((4, 4)), 1e4)
    errors = InversionConfig().errors
    assert errors.column_wind_direction_error is False
    assert column_transport_errors(errors)["wind_direction_error_deg"] == 0.0
    on = errors.model_copy(
        update={"column_wind_direction_error": True, "column_wind_speed_error": True}
    )
    got = column_transport_errors(on)
    assert got["wind_direction_error_deg"] == errors.model_error_wind_direction_deg == 30.0
    assert got["wind_speed_error_rel"] == errors.model_error_wind_speed_rel
    assert got["quadrature_nodes"] == errors.quadrature_nodes
    assert got["shape_localisation_km"] == errors.column_shape_localisation_km == 100.0
    ColumnSettings(**got)  # the settings accept what the configuration gives


def test_coarse_auxiliary_operators_leave_h_and_size_the_terms_as_coarse_ones(
    tiny_case, tiny_system
):
    """``auxiliary_sampling`` 'coarse': H and the prior columns are those of full sampling (bit
    for bit), while the plume-shape and mixing-height σ are those of an operator sampled
    coarse throughout (one sample point per cell, no source sub-cells), and differ from the
    full ones."""
    terms = {"wind_direction_error_deg": 30.0, "mixing_height_error_rel": 0.3}
    full = replace(SETTINGS, **terms)
    mixed = noon_no2_columns(
        tiny_case, tiny_system, replace(full, auxiliary_sampling="coarse")
    ).match(tiny_system)
    fine = noon_no2_columns(tiny_case, tiny_system, full).match(tiny_system)
    coarse = noon_no2_columns(
        tiny_case, tiny_system, replace(full, sample_cells=1, source_subcells=1)
    ).match(tiny_system)
    assert (mixed.H != fine.H).nnz == 0
    np.testing.assert_array_equal(mixed.superobs["prior"], fine.superobs["prior"])
    for column in ("sigma_shape", "sigma_mixing_height", "prior_central", "prior_nodes_mean"):
        got, want = mixed.superobs[column].to_numpy(), coarse.superobs[column].to_numpy()
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * np.abs(want).max())
    other = fine.superobs["sigma_shape"].to_numpy()
    assert np.abs(mixed.superobs["sigma_shape"].to_numpy() - other).max() > 1e-6 * other.max()
    # the configuration's switch reaches the settings; the expected plume refuses it
    errors = InversionConfig().errors
    assert column_transport_errors(errors)["auxiliary_sampling"] == "full"
    on = errors.model_copy(update={"column_auxiliary_sampling": "coarse"})
    assert ColumnSettings(**column_transport_errors(on)).auxiliary_sampling == "coarse"
    with pytest.raises(ConfigError, match="auxiliary_sampling"):
        ColumnSettings(
            wind_direction_error_deg=30.0, expected_plume=True, auxiliary_sampling="coarse"
        )
    with pytest.raises(ValueError, match="column_auxiliary_sampling"):
        InversionConfig(
            errors={
                "column_wind_direction_error": True,
                "column_expected_plume": True,
                "column_auxiliary_sampling": "coarse",
            }
        )
