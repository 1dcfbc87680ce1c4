"""The columns' air-mass-factor error read off their innovations (``column_errors``)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from gridcarbon.errors import ConfigError
from gridcarbon.inversion import column_errors
from gridcarbon.inversion.column_errors import amf_innovation_sums, estimate_column_amf_errors
from gridcarbon.inversion.columns import ColumnObservations, ColumnSettings
from gridcarbon.species import DEFAULT_SPECIES, by_name

from .column_cases import swath_pixels
from .conftest import build_system

NOX = by_name(DEFAULT_SPECIES, "NOx")
SETTINGS = ColumnSettings(min_upwind_fetch_km=0.0)


@pytest.fixture(scope="module")
def tiny_system(tiny_case):
    return build_system(tiny_case)


def _columns(tiny_case, system, settings=SETTINGS):
    times = [t + pd.Timedelta(minutes=30) for t in system.times if t.hour == 5]
    pixels = swath_pixels(system.grid, times, kernel="tropomi")
    return ColumnObservations(
        pixels, NOX, "vertical_column", tiny_case.scenario.meteorology, settings
    )


@pytest.fixture(scope="module")
def no2(tiny_case, tiny_system):
    return _columns(tiny_case, tiny_system)


def _draw(kind, system, truth_kind, rng):
    """``kind`` with its superobservations' values drawn from N(prior, H B Hᵀ + C) with C the
    covariance of ``truth_kind``'s match (the same superobservations)."""
    m, t = kind.match(system), truth_kind.match(system)
    B = system.B
    observed = m.superobs["prior"].to_numpy(float).copy()
    observed += m.H @ B.sqrt_apply(rng.standard_normal(B.n))
    for (idx, _), C in zip(t.blocks, t.covariance.values(), strict=True):
        observed[idx] += np.linalg.cholesky(C) @ rng.standard_normal(idx.size)
    return kind.with_observed(system, observed)


def test_another_amf_error_equals_matching_with_it(no2, tiny_case, tiny_system):
    """Swapping the AMF term gives the covariances and rows a match made with those settings
    from the start; the same settings give the same match."""
    system = tiny_system
    same = no2.with_amf_error(system, 0.15, 50.0, "exponential")
    a, b = same.match(system), no2.match(system)
    np.testing.assert_allclose(a.rows["observed"], b.rows["observed"], rtol=1e-8, atol=1e-8)
    new = {"amf_error_rel": 0.4, "amf_correlation_km": 30.0, "amf_correlation_shape": "gaussian"}
    swapped = no2.with_amf_error(system, 0.4, 30.0, "gaussian")
    fresh = _columns(tiny_case, system, replace(SETTINGS, **new))
    assert {k: getattr(swapped.settings, k) for k in new} == new
    a, b = swapped.match(system), fresh.match(system)
    assert a.covariance.keys() == b.covariance.keys()
    for label, C in a.covariance.items():
        np.testing.assert_allclose(C, b.covariance[label], rtol=1e-9, atol=1e-12 * C.max())
    np.testing.assert_allclose(a.superobs["sigma_amf"], b.superobs["sigma_amf"], rtol=1e-12)
    for key in ("observed", "prior"):
        np.testing.assert_allclose(a.rows[key], b.rows[key], rtol=1e-6, atol=1e-6)
    assert (a.H != b.H).nnz == 0
    # the AMF error needs a scale to start from
    zero = _columns(tiny_case, system, replace(SETTINGS, amf_error_rel=0.0))
    with pytest.raises(ConfigError, match="amf_error_rel = 0"):
        zero.with_amf_error(system, 0.2, 50.0, "gaussian")


def test_the_innovations_covariance_is_the_model_s_on_average(no2, tiny_system):
    """Innovations drawn from N(0, H B Hᵀ + C): their binned covariance after the plane
    averages to the binned ``P (H B Hᵀ + C) Pᵀ`` the sums predict (Hollingsworth–Lönnberg's
    identity), bin by bin."""
    system = tiny_system
    rng = np.random.default_rng(11)
    n = 400
    empirical = 0.0
    for _ in range(n):
        sums = amf_innovation_sums(
            _draw(no2, system, no2, rng).match(system), system.B, no2.settings
        )
        empirical = empirical + sums["empirical"] / n
    c = sums["counts"]
    ok = c > 0
    assert c[0] > 10 and ok[1:4].all()
    # normalised covariances, so a tolerance of a few standard errors of n draws
    np.testing.assert_allclose(empirical[ok] / c[ok], sums["model"][ok] / c[ok], atol=0.08)
    assert sums["model"][0] / c[0] == pytest.approx(1.0, rel=1e-9)
    assert 0 < sums["hbh"][0] < sums["model"][0]


def test_the_estimate_recovers_the_covariance_the_innovations_were_drawn_with(
    no2, tiny_system, monkeypatch
):
    """Overpasses whose AMF error is Gaussian of 25 km and 60 % of the column, R configured
    exponential of 50 km and 15 %: from the innovations alone the estimate finds the size and
    a form and length whose binned covariance is the truth's, puts it in every overpass's R
    and leaves other kinds.  (Which length, the test's 50 km scenes after their plane hardly
    tell; the fit's choice of form and length is tested on wide scenes in
    ``test_innovations.py``.)"""
    system = tiny_system
    truth = no2.with_amf_error(system, 0.6, 25.0, "gaussian")
    rng = np.random.default_rng(5)
    kinds = [_draw(no2, system, truth, rng) for _ in range(100)]
    out, report = estimate_column_amf_errors(system, [*kinds, "station kind"], system.B)
    (entry,) = report.values()
    assert entry["estimated"] and not entry["amf_error_rel_at_bound"]
    # size and length trade off in 50 km scenes: a longer length wants a larger size
    assert entry["amf_error_rel"] == pytest.approx(0.6, rel=0.3)
    # the truth's binned covariance: the sums without the innovations are the same each draw
    one = amf_innovation_sums(no2.match(system), system.B, no2.settings)
    c = one["counts"]
    ok = c > 0
    expected = (one["fixed"] + (0.6 / 0.15) ** 2 * one[("gaussian", 25.0)])[ok] / c[ok]
    estimated = np.asarray(entry["model_estimated"])[ok]
    configured = np.asarray(entry["model_configured"])[ok]
    w = c[ok] / c[ok].sum()

    def off(model):
        return float(np.sqrt(np.sum(w * (model - expected) ** 2)))

    # nearer the truth than the configured R, to the sampling noise of 100 draws
    assert off(estimated) < 0.5 * off(configured)
    assert entry["misfit"] < entry["misfit_configured"]
    assert out[-1] == "station kind"
    got = {
        (k.settings.amf_correlation_shape, k.settings.amf_correlation_km, k.settings.amf_error_rel)
        for k in out[:-1]
    }
    assert got == {
        (entry["amf_correlation_shape"], entry["amf_correlation_km"], entry["amf_error_rel"])
    }
    assert all(isinstance(k, ColumnObservations) for k in out[:-1])
    # too few pairs: R is left as configured
    monkeypatch.setattr(column_errors, "MIN_PAIRS", entry["n_pairs"] + 1)
    out, report = estimate_column_amf_errors(system, kinds, system.B)
    assert not next(iter(report.values()))["estimated"]
    assert all(a is b for a, b in zip(out, kinds, strict=True))


def test_the_inversion_uses_and_reports_the_estimate(tiny_case):
    """``errors.column_amf_error_estimate: innovations`` in ``assimilate``: the metrics carry
    the estimate and the solve uses the R it gives (another posterior than 'off'); stations
    alone are left as they are; a bad value is refused."""
    from pydantic import ValidationError

    from gridcarbon.config.inversion import InversionConfig
    from gridcarbon.inversion.assimilation import assimilate

    on = build_system(
        tiny_case, InversionConfig(errors={"column_amf_error_estimate": "innovations"})
    )
    off = build_system(tiny_case)
    results = {}
    for name, system in (("on", on), ("off", off)):
        column = _columns(tiny_case, system)
        truth = column.with_amf_error(system, 0.6, 25.0, "gaussian")
        kinds = [_draw(column, system, truth, np.random.default_rng(s)) for s in range(20)]
        results[name] = assimilate(system, kinds, build_posterior=False)
    (entry,) = results["on"].metrics["column_amf_error_estimate"].values()
    assert entry["estimated"] and entry["amf_error_rel"] > 0.15
    assert "column_amf_error_estimate" not in results["off"].metrics
    assert not np.allclose(results["on"].x_post, results["off"].x_post)
    with pytest.raises(ValidationError, match="column_amf_error_estimate"):
        InversionConfig(errors={"column_amf_error_estimate": "truth"})


def test_columns_of_one_product_with_other_amf_settings_are_refused(no2, tiny_system):
    other = no2.with_amf_error(tiny_system, 0.3, 50.0, "exponential")
    with pytest.raises(ConfigError, match="different AMF error settings"):
        estimate_column_amf_errors(tiny_system, [no2, other], tiny_system.B)
