"""The fit of satellite columns per overpass (:mod:`gridcarbon.inversion.column_fit`) on
hand-built superobservations whose residuals are known, and the tables the outputs write."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridcarbon.inversion.column_fit import (
    OVERPASS_COLUMNS,
    SUPEROBSERVATION_COLUMNS,
    column_summary,
    overpass_fit_tables,
    plane_fit,
)
from gridcarbon.inversion.columns import _whitening_projection, plane_design


def _orthogonal(X: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``v`` with its projection on the columns of ``X`` removed."""
    beta, *_ = np.linalg.lstsq(X, v, rcond=None)
    return v - X @ beta


def _overpass(rng, n, label, sigma, plane, hour):
    """Superobservations of one overpass: observed = posterior + plane + e, with e orthogonal
    to the plane (so the fitted plane is ``plane`` and the residual is e exactly)."""
    x = rng.uniform(0, 60e3, n)
    y = rng.uniform(0, 60e3, n)
    X = plane_design(x, y)
    e = _orthogonal(X, rng.normal(0.0, sigma, n))
    post = rng.uniform(0, 4e-5, n)
    prior = 0.5 * post
    observed = post + X @ np.asarray(plane) + e
    table = pd.DataFrame(
        {
            "overpass": label,
            "x": x,
            "y": y,
            "lon": 120.0,
            "lat": 30.0,
            "time": pd.Timestamp("2023-06-03") + pd.Timedelta(hours=hour),
            "pixel_time": pd.Timestamp("2023-06-03") + pd.Timedelta(hours=hour, minutes=31),
            "n_pixels": np.arange(n) % 3 + 1,
            "observed": observed,
            "prior": prior,
            "posterior": post,
            "sigma_retrieval": sigma,
            "sigma_representativeness": 0.0,
            "sigma_amf": 0.0,
        }
    )
    return table, np.eye(n) * sigma**2, e


def test_known_residuals_give_known_rms_chi2_and_plane():
    rng = np.random.default_rng(7)
    a, C_a, e_a = _overpass(rng, 12, "orbit-a", 2e-6, (1.5e-5, 2e-6, -1e-6), 5)
    b, C_b, e_b = _overpass(rng, 7, "orbit-b", 5e-6, (3e-5, 0.0, 4e-6), 29)
    table = pd.concat([a, b], ignore_index=True)
    so, stats = overpass_fit_tables(
        table,
        {"orbit-a": C_a, "orbit-b": C_b},
        observation_type="column",
        product="S5P_L2__NO2___",
        species="NO2",
        unit="mol m-2",
        box=(0.0, 60e3, 9e3),
        unproject=lambda x, y: (np.asarray(x) / 1e5 + 120.0, np.asarray(y) / 1e5 + 29.0),
    )
    assert list(so.columns) == list(SUPEROBSERVATION_COLUMNS)
    assert list(stats.columns) == list(OVERPASS_COLUMNS)
    assert list(stats["overpass"]) == ["orbit-a", "orbit-b"]  # one row per overpass
    for (label, e, sigma, plane), row in zip(
        [("orbit-a", e_a, 2e-6, (1.5e-5, 2e-6, -1e-6)), ("orbit-b", e_b, 5e-6, (3e-5, 0.0, 4e-6))],
        stats.itertuples(),
        strict=True,
    ):
        n = e.size
        assert row.n_superobservations == n and row.n_contrasts == n - 3
        assert row.posterior_rms == pytest.approx(np.sqrt(np.mean(e**2)), rel=1e-9)
        assert row.posterior_chi2 == pytest.approx(np.sum(e**2) / sigma**2, rel=1e-9)
        assert row.posterior_reduced_chi2 == pytest.approx(
            np.sum(e**2) / sigma**2 / (n - 3), rel=1e-9
        )
        assert row.posterior_bias == pytest.approx(-e.mean(), abs=1e-12)
        np.testing.assert_allclose(
            [
                row.background_offset,
                row.background_gradient_x_per_100km,
                row.background_gradient_y_per_100km,
            ],
            plane,
            rtol=1e-8,
            atol=1e-15,
        )
        # the prior (half the posterior) fits worse
        assert row.prior_rms > row.posterior_rms
        assert row.posterior_r > row.prior_r - 1e-12 and row.posterior_r > 0.9
        sub = so[so["overpass"] == label]
        np.testing.assert_allclose(sub["residual"], e, atol=1e-15)
        np.testing.assert_allclose(sub["sigma"], sigma)
        np.testing.assert_allclose(sub["observed"] - sub["posterior_fit"], sub["residual"])
        assert row.mean_observed_enhancement == pytest.approx(
            (sub["observed"] - sub["background"]).mean()
        )
        assert row.time == pd.Timestamp("2023-06-03 05:31") + pd.Timedelta(
            hours=0 if label == "orbit-a" else 24
        )
    # the squares the superobservations average: 9 km boxes holding their centres
    assert np.all(so["box_x_min"] <= so["x"]) and np.all(so["x"] < so["box_x_max"])
    assert np.all(so["box_y_min"] <= so["y"]) and np.all(so["y"] < so["box_y_max"])
    np.testing.assert_allclose(so["box_x_max"] - so["box_x_min"], 9e3)
    summary = column_summary(so, stats, [{"n_pixels": 40, "n_pixels_used": 30}])
    assert summary["n_overpasses"] == 2 and summary["n_superobservations"] == 19
    assert summary["n_contrasts"] == 13 and summary["n_pixels"] == 40
    chi2 = np.sum(e_a**2) / 2e-6**2 + np.sum(e_b**2) / 5e-6**2
    assert summary["posterior_reduced_chi2"] == pytest.approx(chi2 / 13, rel=1e-9)
    pooled = np.concatenate([e_a, e_b])
    by = summary["by_type"]["column"]
    assert by["unit"] == "mol m-2" and by["n_superobservations"] == 19
    assert by["posterior_rms"] == pytest.approx(np.sqrt(np.mean(pooled**2)), rel=1e-9)


def test_chi2_is_the_sum_of_squares_of_the_assimilated_rows():
    """With a correlated C, rᵀC⁻¹r of the GLS residual equals |T d|² of the whitened,
    plane-projected rows that the inversion assimilates."""
    rng = np.random.default_rng(3)
    n = 15
    x, y = rng.uniform(0, 1e5, n), rng.uniform(0, 1e5, n)
    d = np.hypot(x[:, None] - x[None], y[:, None] - y[None])
    s = rng.uniform(1, 2, n)
    C = np.diag(s**2) + 0.5 * np.outer(s, s) * np.exp(-d / 5e4)
    dep = rng.normal(size=n)
    _, r, chi2 = plane_fit(x, y, dep, C)
    T = _whitening_projection(C, plane_design(x, y))
    assert chi2 == pytest.approx(float(np.sum((T @ dep) ** 2)), rel=1e-9)
    # the GLS residual is C-orthogonal to the plane
    np.testing.assert_allclose(plane_design(x, y).T @ np.linalg.solve(C, r), 0.0, atol=1e-9)


def test_no_assimilated_overpass_gives_empty_tables_with_their_columns():
    so, stats = overpass_fit_tables(
        pd.DataFrame(),
        {},
        observation_type="column",
        product="",
        species="NO2",
        unit="mol m-2",
    )
    assert len(so) == 0 and list(so.columns) == list(SUPEROBSERVATION_COLUMNS)
    assert len(stats) == 0 and list(stats.columns) == list(OVERPASS_COLUMNS)
    summary = column_summary(so, stats)
    assert summary["n_overpasses"] == 0 and summary["posterior_reduced_chi2"] is None
