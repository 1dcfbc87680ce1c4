"""The columns' wind-speed error as a plume-shape term (``errors.column_wind_speed_shape``) on
the small SYNTHETIC case: the operator at a speed scale equals the operator of met whose wind
is that much faster, C gains exactly the tapered covariance of the speed nodes in place of
the two per-overpass scales, the direction's and the speed's terms add, and the switch needs
the speed error and reaches the settings."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from gridcarbon.config.inversion import InversionConfig
from gridcarbon.errors import ConfigError
from gridcarbon.inversion.columns import (
    ColumnSettings,
    plume_shape_covariance,
    scale_error_covariance,
    urban_share,
)
from gridcarbon.pipeline import column_transport_errors
from gridcarbon.species import DEFAULT_SPECIES, by_name

from .column_cases import noon_no2_columns
from .conftest import build_system

NOX = by_name(DEFAULT_SPECIES, "NOx")
SETTINGS = ColumnSettings(min_upwind_fetch_km=0.0)
SIGMA = 0.3
C_KM = 60.0
SHAPE = replace(
    SETTINGS, wind_speed_error_rel=SIGMA, wind_speed_shape=True, shape_localisation_km=C_KM
)


class FasterMeteorology:
    """The met of ``source`` with every 10 m wind ``factor`` times as fast, its direction and
    everything else unchanged (the Turner class follows the speed in the reader)."""

    def __init__(self, source, factor: float) -> None:
        self.source = source
        self.factor = factor

    def __getattr__(self, name):
        return getattr(self.source, name)

    def for_hours(self, hours_utc):
        met = self.source.for_hours(hours_utc)
        # in double precision: a float32 file's rounding of the faster wind is not the
        # operator's own product
        return met.assign(
            u10=self.factor * met["u10"].astype(float), v10=self.factor * met["v10"].astype(float)
        )


@pytest.fixture(scope="module")
def tiny_system(tiny_case):
    return build_system(tiny_case)


def _distances(so, idx: np.ndarray) -> np.ndarray:
    xy = np.stack([so["x"], so["y"]], 1)[idx]
    return np.hypot(*(xy[:, None] - xy[None, :]).transpose(2, 0, 1))


def _node_deviations(tiny_case, system, sigma: float) -> np.ndarray:
    """``√w_k (m_k − m̄)`` of the prior enhancement of operators handed met whose wind is
    ``exp(σ z_k)`` times as fast, at the 3 Gauss–Hermite nodes (0, ±√3; weights 2/3, 1/6)."""
    xb = system.layout.xb()
    weights = np.array([1.0, 4.0, 1.0]) / 6.0
    signals = [
        noon_no2_columns(
            tiny_case,
            system,
            SETTINGS,
            FasterMeteorology(tiny_case.scenario.meteorology, float(np.exp(sigma * z))),
        )
        .match(system)
        .H
        @ xb
        for z in np.array([-np.sqrt(3.0), 0.0, np.sqrt(3.0)])
    ]
    mean = sum(w * m for w, m in zip(weights, signals, strict=True))
    return np.stack([np.sqrt(w) * (m - mean) for w, m in zip(weights, signals, strict=True)])


def test_the_covariance_gains_the_speed_nodes_in_place_of_the_scales(tiny_case, tiny_system):
    """Each overpass's C is the C without a speed term plus ``(Σ_k δ_k δ_kᵀ) ∘ GC(d/c)``, δ_k
    from operators of met 0.59, 1 and 1.68 × as fast; not the two scales' term; the table's
    ``sigma_wind`` is the nodes' spread; H and the prior columns do not change."""
    on = noon_no2_columns(tiny_case, tiny_system, SHAPE).match(tiny_system)
    scales = noon_no2_columns(
        tiny_case, tiny_system, replace(SETTINGS, wind_speed_error_rel=SIGMA)
    ).match(tiny_system)
    off = noon_no2_columns(tiny_case, tiny_system, SETTINGS).match(tiny_system)
    dev = _node_deviations(tiny_case, tiny_system, SIGMA)
    so = off.superobs
    assert list(on.covariance) == list(off.covariance)
    for label, C in off.covariance.items():
        idx = np.flatnonzero((so["overpass"] == label).to_numpy())
        want = C + plume_shape_covariance(dev[:, idx], _distances(so, idx), C_KM * 1000.0)
        got = on.covariance[label]
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * np.abs(want).max())
        np.linalg.cholesky(got)
        # a real part of the error, and not the scales' term
        assert np.abs(got - C).max() > 1e-3 * np.abs(C).max()
        assert np.abs(got - scales.covariance[label]).max() > 1e-3 * np.abs(C).max()
    used = on.superobs["used"].to_numpy()
    np.testing.assert_allclose(
        on.superobs["sigma_wind"].to_numpy(),
        np.where(used, np.sqrt((dev**2).sum(0)), 0.0),
        rtol=1e-9,
        atol=1e-9 * np.abs(dev).max(),
    )
    np.testing.assert_array_equal(on.superobs["prior"], off.superobs["prior"])
    assert (on.H != off.H).nnz == 0


def test_the_overpass_correlation_takes_the_nodes_whole(tiny_case, tiny_system):
    """``wind_speed_shape_correlation`` 'overpass': C gains ``Σ_k δ_k δ_kᵀ`` untapered (one
    speed error per overpass), with the same ``sigma_wind`` as the tapered term."""
    whole = noon_no2_columns(
        tiny_case, tiny_system, replace(SHAPE, wind_speed_shape_correlation="overpass")
    ).match(tiny_system)
    short = replace(SHAPE, shape_localisation_km=10.0)
    tapered = noon_no2_columns(tiny_case, tiny_system, short).match(tiny_system)
    off = noon_no2_columns(tiny_case, tiny_system, SETTINGS).match(tiny_system)
    dev = _node_deviations(tiny_case, tiny_system, SIGMA)
    so = off.superobs
    for label, C in off.covariance.items():
        idx = np.flatnonzero((so["overpass"] == label).to_numpy())
        want = C + dev[:, idx].T @ dev[:, idx]
        np.testing.assert_allclose(
            whole.covariance[label], want, rtol=1e-9, atol=1e-9 * np.abs(want).max()
        )
        # superobservations farther apart than 2c are correlated here, not with a taper
        far = _distances(so, idx) > 2 * short.shape_localisation_km * 1000.0
        assert far.any()
        gap = np.abs(whole.covariance[label] - tapered.covariance[label])[far]
        np.testing.assert_allclose(gap, np.abs(dev[:, idx].T @ dev[:, idx])[far], rtol=1e-9)
    np.testing.assert_allclose(whole.superobs["sigma_wind"], tapered.superobs["sigma_wind"])


def test_a_faster_wind_thins_the_plume_but_not_in_proportion(tiny_case, tiny_system):
    """The nodes are not one scale of the plume: the prior enhancement at 1.68 × the speed is
    lower than at 1 ×, but its ratio to it varies over the superobservations by more than
    rounding (stability and the NOx decay length change with the speed), so the term carries
    what the scales' cannot."""
    xb = tiny_system.layout.xb()
    base, fast = (
        noon_no2_columns(
            tiny_case,
            tiny_system,
            SETTINGS,
            FasterMeteorology(tiny_case.scenario.meteorology, f),
        )
        .match(tiny_system)
        .H
        @ xb
        for f in (1.0, float(np.exp(SIGMA * np.sqrt(3.0))))
    )
    big = base > 0.05 * base.max()
    ratio = fast[big] / base[big]
    assert fast.sum() < base.sum()
    assert ratio.max() - ratio.min() > 0.02


def test_the_direction_and_speed_terms_add(tiny_case, tiny_system):
    """With both on, C is the C with the direction's term alone plus the speed nodes' term,
    and ``sigma_shape`` is the direction's own: the terms are independent errors."""
    direction = replace(SETTINGS, wind_direction_error_deg=20.0, shape_localisation_km=C_KM)
    both = noon_no2_columns(
        tiny_case, tiny_system, replace(SHAPE, wind_direction_error_deg=20.0)
    ).match(tiny_system)
    alone = noon_no2_columns(tiny_case, tiny_system, direction).match(tiny_system)
    dev = _node_deviations(tiny_case, tiny_system, SIGMA)
    so = alone.superobs
    for label, C in alone.covariance.items():
        idx = np.flatnonzero((so["overpass"] == label).to_numpy())
        want = C + plume_shape_covariance(dev[:, idx], _distances(so, idx), C_KM * 1000.0)
        np.testing.assert_allclose(
            both.covariance[label], want, rtol=1e-9, atol=1e-9 * np.abs(want).max()
        )
    np.testing.assert_allclose(both.superobs["sigma_shape"], so["sigma_shape"], rtol=1e-12)


def test_the_scales_term_is_unchanged_without_the_switch(tiny_case, tiny_system):
    """Without ``wind_speed_shape`` the speed term is still ``σ_w² (m_u m_uᵀ + m_r m_rᵀ)``."""
    scales = noon_no2_columns(
        tiny_case, tiny_system, replace(SETTINGS, wind_speed_error_rel=SIGMA)
    ).match(tiny_system)
    off = noon_no2_columns(tiny_case, tiny_system, SETTINGS).match(tiny_system)
    so = off.superobs
    xb = tiny_system.layout.xb()
    m_u = off.H @ (xb * urban_share(tiny_system))
    m_r = off.H @ xb - m_u
    assert tiny_system.urban.any()
    for label, C in off.covariance.items():
        idx = np.flatnonzero((so["overpass"] == label).to_numpy())
        want = scale_error_covariance(C, np.stack([m_u[idx], m_r[idx]]), SIGMA)
        np.testing.assert_allclose(
            scales.covariance[label], want, rtol=1e-9, atol=1e-9 * np.abs(want).max()
        )


def test_the_switch_needs_the_speed_error_and_reaches_the_settings():
    with pytest.raises(ConfigError, match="needs wind_speed_error_rel"):
        ColumnSettings(wind_speed_shape=True)
    with pytest.raises(ValueError, match="column_wind_speed_error: true"):
        InversionConfig(errors={"column_wind_speed_shape": True})
    with pytest.raises(ConfigError, match="needs wind_speed_shape = True"):
        ColumnSettings(wind_speed_error_rel=0.3, wind_speed_shape_correlation="overpass")
    with pytest.raises(ConfigError, match="wind_speed_shape_correlation"):
        replace(SHAPE, wind_speed_shape_correlation="global")
    with pytest.raises(ValueError, match="column_wind_speed_shape: true"):
        InversionConfig(errors={"column_wind_speed_shape_correlation": "overpass"})
    errors = InversionConfig().errors
    assert errors.column_wind_speed_shape is False
    assert column_transport_errors(errors)["wind_speed_shape"] is False
    on = errors.model_copy(
        update={"column_wind_speed_error": True, "column_wind_speed_shape": True}
    )
    got = ColumnSettings(**column_transport_errors(on))
    assert got.wind_speed_shape is True
    assert got.wind_speed_shape_correlation == "tapered"
    whole = on.model_copy(update={"column_wind_speed_shape_correlation": "overpass"})
    assert ColumnSettings(**column_transport_errors(whole)).wind_speed_shape_correlation == (
        "overpass"
    )
    assert got.wind_speed_error_rel == errors.model_error_wind_speed_rel
