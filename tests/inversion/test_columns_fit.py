"""The fit of satellite columns per overpass (:mod:`gridcarbon.inversion.column_fit`) on
hand-built superobservations whose residuals are known, and the tables the outputs write."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridcarbon.inversion.column_fit import (
    EVIDENCE_MIN_OVERPASSES,
    OVERPASS_COLUMNS,
    PERSISTENCE_Z,
    SUPEROBSERVATION_COLUMNS,
    column_summary,
    innovation_evidence,
    overpass_fit_tables,
    persistence_warnings,
    plane_fit,
    transport_scale_persistence,
    transport_scales,
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


def _plane_precision(C: np.ndarray, X: np.ndarray) -> np.ndarray:
    """``C⁻¹ − C⁻¹X (XᵀC⁻¹X)⁻¹ XᵀC⁻¹``, dense."""
    Ci = np.linalg.inv(C)
    CiX = Ci @ X
    return Ci - CiX @ np.linalg.solve(X.T @ CiX, CiX.T)


@pytest.mark.parametrize("r_factor", [1.0, 1.7])
def test_transport_scales_are_those_of_per_overpass_state_unknowns(r_factor):
    # two overpasses share 9 emission unknowns; each has an urban and a rural scale of its
    # prior enhancement and a plane.  Integrating the scales and planes out (as the
    # assimilation does) and recovering the scales afterwards must give exactly the joint
    # posterior of (x, s) with the scales as unknowns, mean and σ.
    rng = np.random.default_rng(11)
    n_x, sigma = 9, 0.35
    xb = rng.uniform(0.5, 1.5, n_x)
    B = np.diag(rng.uniform(0.1, 0.4, n_x) ** 2)
    urban = (np.arange(n_x) % 3 == 0).astype(float)
    blocks = []
    for n in (14, 11):
        x = rng.uniform(0, 80e3, n)
        y = rng.uniform(0, 80e3, n)
        H = rng.uniform(0, 1, (n, n_x)) * (rng.random((n, n_x)) < 0.6)
        d = np.hypot(x[:, None] - x[None], y[:, None] - y[None])
        C0 = (0.05**2) * np.exp(-d / 20e3) + np.diag(rng.uniform(0.02, 0.05, n) ** 2)
        M = np.stack([H @ (xb * urban), H @ (xb * (1 - urban))])
        obs = H @ (xb * rng.uniform(0.6, 1.4, n_x)) + rng.normal(0, 0.05, n)
        blocks.append((x, y, H, C0, M, obs, plane_design(x, y)))
    # the assimilation's problem: the scales' term in C, planes integrated out, R × f
    prec = np.linalg.inv(B)
    rhs = np.zeros(n_x)
    for _x, _y, H, C0, M, obs, X in blocks:
        Pi = _plane_precision(r_factor * (C0 + sigma**2 * M.T @ M), X)
        prec = prec + H.T @ Pi @ H
        rhs = rhs + H.T @ Pi @ (obs - H @ xb)
    P_x = np.linalg.inv(prec)
    x_hat = xb + P_x @ rhs
    # the joint problem: z = (x, s_1, s_2), planes integrated out of C0 f; the factor
    # multiplies the whole of C, the scales' term too, so their prior is N(0, f σ²)
    n_z = n_x + 2 * len(blocks)
    prec_z = np.zeros((n_z, n_z))
    prec_z[:n_x, :n_x] = np.linalg.inv(B)
    prec_z[n_x:, n_x:] = np.eye(n_z - n_x) / (r_factor * sigma**2)
    rhs_z = np.zeros(n_z)
    for i, (_x, _y, H, C0, M, obs, X) in enumerate(blocks):
        K = np.zeros((len(obs), n_z))
        K[:, :n_x] = H
        K[:, n_x + 2 * i : n_x + 2 * i + 2] = M.T
        Pi0 = _plane_precision(r_factor * C0, X)
        prec_z += K.T @ Pi0 @ K
        rhs_z += K.T @ Pi0 @ (obs - H @ xb)
    P_z = np.linalg.inv(prec_z)
    z_hat = P_z @ rhs_z
    np.testing.assert_allclose(z_hat[:n_x] + xb, x_hat, rtol=1e-9)
    for i, (x, y, H, C0, M, obs, X) in enumerate(blocks):
        scales, std = transport_scales(
            x,
            y,
            obs - H @ x_hat,
            C0 + sigma**2 * M.T @ M,
            M,
            sigma,
            r_factor,
            lambda G, H=H: np.diag(G @ H @ P_x @ H.T @ G.T),
        )
        joint = slice(n_x + 2 * i, n_x + 2 * i + 2)
        np.testing.assert_allclose(scales, z_hat[joint], rtol=1e-8)
        np.testing.assert_allclose(std, np.sqrt(np.diag(P_z)[joint]), rtol=1e-8)
        # given the emissions (no emission_variance) the σ is smaller
        _, given = transport_scales(
            x, y, obs - H @ x_hat, C0 + sigma**2 * M.T @ M, M, sigma, r_factor
        )
        assert np.all(given < std)
        # a plane added to the residual changes nothing
        moved, _ = transport_scales(
            x,
            y,
            obs - H @ x_hat + X @ [3.0, -1.0, 0.5],
            C0 + sigma**2 * M.T @ M,
            M,
            sigma,
            r_factor,
        )
        np.testing.assert_allclose(moved, scales, rtol=1e-8, atol=1e-12)


def test_overpass_table_gains_the_scales_only_with_their_parts():
    rng = np.random.default_rng(5)
    table, C, _ = _overpass(rng, 12, "orbit-a", 2e-6, (1.5e-5, 2e-6, -1e-6), 5)
    common = dict(observation_type="no2", product="p", species="NO2", unit="mol m-2")
    _, plain = overpass_fit_tables(table, {"orbit-a": C}, **common)
    assert plain[["urban_transport_scale", "rural_transport_scale"]].isna().all().all()
    with pytest.raises(ValueError, match="prior_urban"):
        overpass_fit_tables(table, {"orbit-a": C}, transport_scale_sd=0.3, **common)
    urban = table["posterior"].to_numpy() * (np.arange(12) % 3 == 0)
    # observed = posterior + 30 % of the urban part: the urban scale moves up, the rural less
    table = table.assign(
        prior_urban=urban,
        prior_rural=table["posterior"].to_numpy() - urban,
        observed=table["observed"] + 0.3 * urban,
    )
    C = C + 0.3**2 * (np.outer(urban, urban) + np.outer(table["prior_rural"], table["prior_rural"]))
    _, fit = overpass_fit_tables(table, {"orbit-a": C}, transport_scale_sd=0.3, **common)
    row = fit.iloc[0]
    assert row["urban_transport_scale"] > 0.1
    assert abs(row["urban_transport_scale"]) > abs(row["rural_transport_scale"])
    assert 0 < row["urban_transport_scale_std"] < 0.3


def test_the_r_factor_of_each_overpass_is_read_from_its_rows():
    from gridcarbon.inversion.stage import overpass_r_factors

    obs = pd.DataFrame(
        {
            "observation_type": ["S5P:x", "S5P:x", "S5P:x", "stations"],
            "station_id": ["S5P:x:orbit-1", "S5P:x:orbit-1", "S5P:x:orbit-2", "S5P:x:orbit-1"],
            "r_std": [1.2, 1.2, 0.5, 9.0],
        }
    )
    assert overpass_r_factors(obs, "S5P:x") == pytest.approx({"orbit-1": 1.44, "orbit-2": 0.25})
    assert overpass_r_factors(obs, "other") == {}


def _scale_month(rng, n_overpasses, r_factor, shift):
    """Overpass rows of one month whose data follow the scales' model exactly: per overpass
    the scales drawn from N(shift, f σ²), the rest of the error from f C₀, a plane; the
    emissions known (residual = y − H x_true)."""
    sigma, rows = 0.3, []
    for k in range(n_overpasses):
        n = 12
        x, y = rng.uniform(0, 90e3, n), rng.uniform(0, 90e3, n)
        d = np.hypot(x[:, None] - x[None], y[:, None] - y[None])
        C0 = 0.04 * np.exp(-d / 25e3) + np.diag(rng.uniform(0.02, 0.06, n))
        M = np.stack([rng.gamma(1.5, 0.5, n) * (rng.random(n) < 0.5), rng.gamma(1.5, 0.3, n)])
        s = shift + np.sqrt(r_factor) * sigma * rng.standard_normal(2)
        noise = np.linalg.cholesky(r_factor * C0) @ rng.standard_normal(n)
        residual = M.T @ s + plane_design(x, y) @ rng.normal(0, 1, 3) + noise
        scales, std = transport_scales(x, y, residual, C0 + sigma**2 * M.T @ M, M, sigma, r_factor)
        rows.append(
            {
                "overpass": f"orbit-{k}",
                "urban_transport_scale": scales[0],
                "urban_transport_scale_std": std[0],
                "rural_transport_scale": scales[1],
                "rural_transport_scale_std": std[1],
                "transport_scale_prior_std": np.sqrt(r_factor) * sigma,
            }
        )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("r_factor", [1.0, 1.8])
def test_the_persistence_z_is_standard_normal_without_a_shared_error(r_factor):
    # the law of total variance: with the scales' prior right and independent overpasses,
    # Σ ŝ / √Σ(f σ² − σ_post²) has mean 0 and variance 1 (Monte Carlo over 250 months)
    rng = np.random.default_rng(23)
    z = np.array(
        [
            [
                transport_scale_persistence(_scale_month(rng, 5, r_factor, 0.0))[p]["z"]
                for p in ("urban", "rural")
            ]
            for _ in range(250)
        ]
    )
    assert np.abs(z.mean(axis=0)).max() < 0.2
    np.testing.assert_allclose(z.std(axis=0), 1.0, atol=0.12)
    # at the 1 % level about 1 % are called persistent
    assert (np.abs(z) > PERSISTENCE_Z).mean() < 0.03


def test_a_shared_transport_error_is_called_persistent_and_warned_of():
    rng = np.random.default_rng(4)
    month = _scale_month(rng, 30, 1.6, -0.3)  # every overpass's scales 0.3 low
    cue = transport_scale_persistence(month)
    assert cue["urban"]["n_overpasses"] == 30
    assert cue["urban"]["z"] < -PERSISTENCE_Z and cue["urban"]["persistent"]
    assert cue["urban"]["mean"] == pytest.approx(month["urban_transport_scale"].mean())
    summary = {"by_type": {"S5P:no2": {"transport_scales": cue}}}
    messages = persistence_warnings(summary)
    assert any("S5P:no2: the urban wind-speed scales of its 30 overpasses" in m for m in messages)
    assert all("check the winds behind the column operator" in m for m in messages)
    # with the state's own urban term the message says what is left
    urban_in_state, rural = persistence_warnings(summary, ("urban_transport_scale",))
    assert "after the state's own urban transport scale" in urban_in_state
    assert "check the winds behind the column operator" in rural
    # empty scales (the term off) give no cue and no message
    off = month.assign(urban_transport_scale=np.nan, rural_transport_scale=np.nan)
    assert transport_scale_persistence(off) == {}
    assert persistence_warnings({"by_type": {"S5P:no2": {}}}) == []


def test_innovation_evidence_is_statsmodels_cluster_robust_least_squares():
    """The fit of the operator checks (``inversion.columns.no2_conversion_check``,
    ``truncation_check_km``) is
    ordinary least squares without intercept, its standard errors and 95 % interval those of
    statsmodels' cluster-robust covariance by overpass with Student's t (G − 1 dof)."""
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(3)
    n, n_groups = 240, 12
    group = rng.integers(0, n_groups, n)
    X = rng.normal(size=(n, 2))
    # an error shared by the rows of an overpass, which the interval must allow for
    d = 0.3 * X[:, 0] + 0.9 * X[:, 1] + rng.normal(size=n) + rng.normal(size=n_groups)[group]
    ref = sm.OLS(d, X).fit(cov_type="cluster", cov_kwds={"groups": group}, use_t=True)
    got = innovation_evidence(X[:, 0], X[:, 1], d, group)
    np.testing.assert_allclose([got["a"], got["b"]], ref.params, rtol=1e-10)
    np.testing.assert_allclose([got["a_se"], got["b_se"]], ref.bse, rtol=1e-10)
    np.testing.assert_allclose([got["b_low"], got["b_high"]], ref.conf_int()[1], rtol=1e-10)
    assert got["n_rows"] == n and got["n_overpasses"] == n_groups
    assert got["rms_difference"] == pytest.approx(np.sqrt(np.mean(X[:, 1] ** 2)))


@pytest.mark.parametrize(
    ("b_true", "n_groups", "noise", "verdict"),
    [
        (1.0, 30, 0.3, "other"),
        (0.3, 30, 0.3, "partly"),
        (0.0, 30, 0.3, "in use"),
        (0.5, 30, 30.0, "inconclusive"),
        (1.0, 4, 0.3, "inconclusive"),
    ],
)
def test_the_verdict_needs_its_interval_and_five_overpasses(b_true, n_groups, noise, verdict):
    """The verdict: 'other' when the columns hold most of the other operator's difference
    (b ≥ 0.5, interval above 0), 'partly' a part (b < 0.5, interval above 0), 'in use' none
    (interval reaching 0 and below 1), else — an interval from 0 to 1, or fewer than five
    overpasses — 'inconclusive'."""
    rng = np.random.default_rng(5)
    group = np.repeat(np.arange(n_groups), 40)
    m, delta = rng.normal(size=(2, group.size))
    d = 0.2 * m + b_true * delta + noise * rng.normal(size=group.size)
    got = innovation_evidence(m, delta, d, group)
    assert got["verdict"] == verdict
    assert got["b_low"] < b_true < got["b_high"]
    assert EVIDENCE_MIN_OVERPASSES == 5


def test_innovation_evidence_is_none_when_the_fit_is_not_defined():
    """One overpass (no spread between overpasses) or a difference proportional to the
    enhancement (``a`` and ``b`` not separable) gives no fit rather than a number."""
    m = np.arange(1.0, 11.0)
    assert innovation_evidence(m, m[::-1], m, np.zeros(10)) is None
    assert innovation_evidence(m, 2 * m, m, np.arange(10) % 3) is None
