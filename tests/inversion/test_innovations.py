"""Observation-error statistics from the innovations (gridcarbon.inversion.innovations) and the
``errors.innovation_tuning`` option of the inversion."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from pydantic import ValidationError

from gridcarbon.config.inversion import ErrorsConfig, InversionConfig
from gridcarbon.inversion.assimilation import INNOVATION_COLUMNS, assimilate
from gridcarbon.inversion.innovations import (
    bounded_scaling,
    desroziers_prior_scale,
    desroziers_statistics,
    distance_binned_covariance,
    fit_correlation_length,
)
from gridcarbon.inversion.observation_types import StationHourObservations
from gridcarbon.inversion.osse import make_truth, synthetic_observations
from gridcarbon.inversion.outputs import inversion_file_names
from gridcarbon.inversion.solvers import CorrelatedErrors

from .conftest import build_system

# -- a linear-Gaussian problem with a known truth of B and R -----------------------------------


def _linear_gaussian(seed: int, r_true_factor: dict[int, float], b_true_factor: float):
    """Observations of a 40-element state through a random H, in two groups of 500: the
    modelled variances R0 and B0, the true ones ``r_true_factor[g] R0`` and ``b_true_factor
    B0``."""
    rng = np.random.default_rng(seed)
    n, m = 40, 1000
    i = np.arange(n)
    B0 = 0.5**2 * 0.6 ** np.abs(i[:, None] - i[None, :])
    H = rng.standard_normal((m, n)) * (rng.random((m, n)) < 0.2)
    group = np.repeat([0, 1], m // 2)
    r0 = np.where(group == 0, 0.3, 0.8) * rng.uniform(0.5, 2.0, m)  # heterogeneous R_ii
    r_true = r0 * np.array([r_true_factor[g] for g in group])
    x_true = np.linalg.cholesky(b_true_factor * B0) @ rng.standard_normal(n)  # x_b = 0
    y = H @ x_true + np.sqrt(r_true) * rng.standard_normal(m)
    return H, B0, r0, y, group


def _fixed_point(H, B0, r0, y, group, passes: int, tune_b: bool):
    """The Desroziers–Ivanov fixed point: analyse, rescale R per group (and B), repeat."""
    s_r = {0: 1.0, 1: 1.0}
    s_b = 1.0
    for _ in range(passes):
        r = r0 * np.array([s_r[g] for g in group])
        B = s_b * B0
        HB = H @ B
        hbh = np.einsum("ij,ij->i", HB, H)
        x_a = HB.T @ np.linalg.solve(HB @ H.T + np.diag(r), y)
        stats = desroziers_statistics(y, y - H @ x_a, r, group, hbh)
        s_r, left = bounded_scaling(
            {k: v["r_ratio"] for k, v in stats.items()},
            {k: v["n"] for k, v in stats.items()},
            s_r,
            (0.01, 100.0),
            50,
        )
        assert left == []
        if tune_b:
            s_b *= float(np.mean([v["hbh_ratio"] for v in stats.values()]))
    return s_r, s_b


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_the_fixed_point_recovers_the_scale_of_r_when_b_is_right(seed):
    """R modelled 3× too small in one group and 2× too large in the other, B right: after
    six passes each group's factor is within 15 % of the truth (the sampling error of a ratio
    of 500 observations is about 6–8 %)."""
    H, B0, r0, y, group = _linear_gaussian(seed, {0: 3.0, 1: 0.5}, 1.0)
    s_r, _ = _fixed_point(H, B0, r0, y, group, passes=6, tune_b=False)
    assert s_r[0] == pytest.approx(3.0, rel=0.15)
    assert s_r[1] == pytest.approx(0.5, rel=0.15)
    # one pass already moves most of the way
    one, _ = _fixed_point(H, B0, r0, y, group, passes=1, tune_b=False)
    assert abs(np.log(one[0] / 3.0)) < abs(np.log(3.0)) / 2


@pytest.mark.parametrize("seed", [3, 4, 5, 6])
def test_with_b_mis_specified_the_scale_of_r_is_still_recovered(seed):
    """R 2× and 0.5× the modelled, B 2× the modelled.  With 25 observations per unknown the
    residuals hardly depend on B: rescaling R alone recovers both factors within 20 %.  The
    HBHᵀ ratio sees B's under-statement (the joint fixed point, B rescaled by the mean HBHᵀ
    ratio, ends above 1.2; its sampling error with 40 unknowns is about 25 %, so no tighter
    claim is made)."""
    H, B0, r0, y, group = _linear_gaussian(seed, {0: 2.0, 1: 0.5}, 2.0)
    alone, _ = _fixed_point(H, B0, r0, y, group, passes=6, tune_b=False)
    assert alone[0] == pytest.approx(2.0, rel=0.2)
    assert alone[1] == pytest.approx(0.5, rel=0.2)
    s_r, s_b = _fixed_point(H, B0, r0, y, group, passes=6, tune_b=True)
    assert s_b > 1.2
    assert s_r[0] == pytest.approx(2.0, rel=0.2)
    assert s_r[1] == pytest.approx(0.5, rel=0.2)


def _two_species_problem(seed: int, s_true: tuple[float, float]):
    """Two species of 400 emission factors each (σ 0.5, AR(1) correlation 0.3) and one
    background unknown per species (σ 1, not scaled); 1,200 rows per species, each seeing 8
    factors of its species and its background; R right.  The true emission variances are
    ``s_true`` × the modelled ones."""
    rng = np.random.default_rng(seed)
    n, m = 400, 2400
    i = np.arange(n)
    C = 0.25 * 0.3 ** np.abs(i[:, None] - i[None, :])
    N = 2 * n + 2
    B0 = np.zeros((N, N))
    B0[:n, :n] = B0[n : 2 * n, n : 2 * n] = C
    B0[2 * n, 2 * n] = B0[2 * n + 1, 2 * n + 1] = 1.0
    species = np.repeat([0, 1], m // 2)
    H = np.zeros((m, N))
    for r, s in enumerate(species):
        H[r, rng.choice(n, 8, replace=False) + s * n] = rng.uniform(0.0, 2.0, 8)
        H[r, 2 * n + s] = 0.3
    root = np.ones(N)
    root[:n], root[n : 2 * n] = np.sqrt(s_true)
    x_true = np.linalg.cholesky(root[:, None] * B0 * root[None, :]) @ rng.standard_normal(N)
    r = rng.uniform(0.2, 0.6, m)
    y = H @ x_true + np.sqrt(r) * rng.standard_normal(m)
    return H, B0, r, y, species, n


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_the_fixed_point_recovers_the_scale_of_each_species_b(seed):
    """B's emission part 2.5× too small for one species and 2.5× too large for the other,
    the background unknowns right: four passes of :func:`desroziers_prior_scale` bring each
    species' factor within 25 % of the truth (the sampling error of a variance from one
    draw of 400 correlated factors is about 10 %; the rest is the observations' noise)."""
    H, B0, r, y, species, n = _two_species_problem(seed, (2.5, 0.4))
    emission = np.zeros(B0.shape[0], dtype=bool)
    emission[: 2 * n] = True
    He = H * emission
    hbh_e = ((He @ B0) * He).sum(axis=1)
    f = {0: 1.0, 1: 1.0}
    for _ in range(4):
        root = np.ones(B0.shape[0])
        root[:n], root[n : 2 * n] = np.sqrt(f[0]), np.sqrt(f[1])
        HB = H @ (root[:, None] * B0 * root[None, :])
        x_a = HB.T @ np.linalg.solve(HB @ H.T + np.diag(r), y)
        stats = desroziers_prior_scale(
            y, He @ x_a, r, hbh_e * np.array([f[s] for s in species]), species
        )
        f, left = bounded_scaling(
            {k: v["b_ratio"] for k, v in stats.items()},
            {k: v["n"] for k, v in stats.items()},
            f,
            (0.01, 100.0),
            50,
        )
        assert left == []
    assert f[0] == pytest.approx(2.5, rel=0.25)
    assert f[1] == pytest.approx(0.4, rel=0.25)


def test_the_prior_scale_of_a_hand_made_case():
    db = np.array([2.0, 1.0, -1.0, 3.0])
    inc = np.array([1.0, 0.5, 0.0, 2.0])
    r = np.array([1.0, 2.0, 1.0, 1.0])
    hp = np.array([1.0, 0.5, 0.0, 4.0])
    out = desroziers_prior_scale(db, inc, r, hp, np.array(["a", "a", "b", "c"]))
    # a: (1*2)/1 + (0.5*1)/2 = 2.25 over 1/1 + 0.5/2 = 1.25
    assert out["a"] == {"n": 2.0, "b_ratio": pytest.approx(1.8)}
    assert np.isnan(out["b"]["b_ratio"])  # no sensitivity to the part
    assert out["c"]["b_ratio"] == pytest.approx(6.0 / 4.0)
    with pytest.raises(ValueError, match="one length"):
        desroziers_prior_scale(db, inc, r, hp[:3], np.zeros(4))


def test_the_statistics_of_a_hand_made_case():
    db = np.array([1.0, -2.0, 3.0, 0.5])
    da = np.array([0.5, -1.0, 1.0, 0.5])
    r = np.array([1.0, 2.0, 1.0, 0.25])
    hbh = np.array([1.0, 1.0, 2.0, 1.0])
    got = desroziers_statistics(db, da, r, np.array(["a", "a", "b", "b"]), hbh)
    assert list(got) == ["a", "b"]
    a = got["a"]
    assert a["n"] == 2
    assert a["mean_r"] == pytest.approx(1.5)
    assert a["desroziers_r"] == pytest.approx((0.5 + 2.0) / 2)
    assert a["r_ratio"] == pytest.approx((0.5 / 1 + 2.0 / 2) / 2)
    assert a["desroziers_hbh"] == pytest.approx((0.5 * 1 + 1.0 * 2) / 2)
    assert a["hbh_ratio"] == pytest.approx((0.5 + 2.0) / 2)
    assert a["chi2"] == pytest.approx((1 / 2 + 4 / 3) / 2)
    assert np.isnan(desroziers_statistics(db, da, r, np.zeros(4))[0.0]["hbh_ratio"])
    with pytest.raises(ValueError, match="R variances"):
        desroziers_statistics(db, da, np.zeros(4), np.zeros(4))


def test_bounded_scaling_clips_and_leaves_small_groups():
    f, left = bounded_scaling(
        {"big": 9.0, "low": 0.01, "few": 3.0, "nan": np.nan},
        {"big": 100, "low": 100, "few": 10, "nan": 100},
        {"big": 1.0, "low": 0.5, "few": 2.0},
        (0.25, 4.0),
        50,
    )
    assert f == {"big": 4.0, "low": 0.25, "few": 2.0, "nan": 1.0}
    assert left == ["few", "nan"]


def test_scaled_correlated_errors_are_d_r_d():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((6, 6))
    R = A @ A.T + 6 * np.eye(6)
    R[:3, 3:] = R[3:, :3] = 0.0
    f = rng.uniform(0.3, 3.0, 6)
    got = CorrelatedErrors(R).scaled(f)
    D = np.diag(np.sqrt(f))
    want = D @ R @ D
    full = np.zeros((6, 6))
    for idx, factor in got.blocks:
        full[np.ix_(idx, idx)] = factor @ factor.T
    np.testing.assert_allclose(full, want, rtol=1e-12)
    np.testing.assert_allclose(got.variance, np.diag(want), rtol=1e-12)
    v = rng.standard_normal(6)
    np.testing.assert_allclose(got.inverse(v), np.linalg.solve(want, v), rtol=1e-10)


def test_the_option_is_validated():
    assert ErrorsConfig().innovation_tuning == "off"
    with pytest.raises(ValidationError, match="innovation_scale_bounds"):
        ErrorsConfig(innovation_scale_bounds=[2.0, 4.0])
    with pytest.raises(ValidationError):
        ErrorsConfig(innovation_iterations=4)
    assert "innovation_statistics.csv" in inversion_file_names(innovation_statistics=True)
    assert "innovation_statistics.csv" not in inversion_file_names()


# -- the option in the inversion, on the small synthetic OSSE case ------------------------------


def _perturbed_observations(system, seed=5):
    """One perturbed-transport OSSE replicate's station observations (its own truth)."""
    rng = np.random.default_rng(seed)
    cfg = system.config
    truth = make_truth(system, rng, "perturbed", cfg)
    return StationHourObservations(synthetic_observations(system, truth, rng, cfg))


@pytest.fixture(scope="module")
def default_system(case):
    return build_system(case)


@pytest.fixture(scope="module")
def kind(default_system):
    return _perturbed_observations(default_system)


def test_off_is_bit_identical_and_statistics_alone_do_not_change_the_solution(
    case, default_system, kind
):
    base = assimilate(default_system, kind, build_posterior=False)
    assert base.innovation_statistics is None
    assert "innovation_tuning" not in base.metrics
    stats_only = assimilate(
        build_system(case, InversionConfig(errors={"innovation_statistics": True})),
        kind,
        build_posterior=False,
    )
    np.testing.assert_array_equal(stats_only.x_post, base.x_post)
    np.testing.assert_array_equal(stats_only.post_std, base.post_std)
    np.testing.assert_array_equal(stats_only.obs["r_std"], base.obs["r_std"])
    table = stats_only.innovation_statistics
    assert tuple(table.columns) == INNOVATION_COLUMNS
    assert table["n"].sum() == len(base.obs)
    assert (table["r_scale"] == 1.0).all() and not table["rescaled"].any()
    assert np.isfinite(table["hbh_ratio"]).all() and np.isfinite(table["chi2"]).all()


def _twin(system, seed=1):
    """Identical-twin observations: truth from B, errors drawn from the system's own R."""
    rng = np.random.default_rng(seed)
    cfg = system.config
    return StationHourObservations(
        synthetic_observations(system, make_truth(system, rng, "identical", cfg), rng, cfg)
    )


def test_desroziers_tuning_finds_an_overstated_r(case, default_system, caplog):
    """Identical-twin observations (errors drawn with the default R) inverted with R's model
    error doubled (errors.model_error_rel 1.0 instead of 0.5): every group with at least 30
    observations gets a factor below 1, its R is the modelled one times that factor, the
    few-observation groups keep theirs with a log line, and after two passes the rescaled
    groups' Desroziers ratio is within 5 % of 1 (the fixed point is reached)."""
    kind = _twin(default_system)
    overstated = {"model_error_rel": 1.0, "innovation_min_observations": 30}
    base = assimilate(
        build_system(case, InversionConfig(errors=overstated)), kind, build_posterior=False
    )
    cfg = InversionConfig(
        errors={**overstated, "innovation_tuning": "desroziers", "innovation_iterations": 2}
    )
    with caplog.at_level(logging.INFO, logger="gridcarbon.inversion.assimilation"):
        res = assimilate(build_system(case, cfg), kind, build_posterior=False)
    table = res.innovation_statistics.set_index(["species", "station_class"])
    few = table[table["n"] < 30]
    many = table[table["n"] >= 30]
    assert len(few) and len(many)
    assert (few["r_scale"] == 1.0).all() and not few["rescaled"].any()
    for (s, c), row in few.iterrows():
        assert any(f"|{s}|{c} has {row['n']} observations" in m for m in caplog.messages)
    assert many["rescaled"].all() and not many["r_scale_at_bound"].any()
    assert (many["r_scale"] < 0.95).all()
    assert (abs(many["r_ratio"] - 1.0) < 0.05).all()
    want = (
        base.obs["r_std"]
        * np.sqrt(
            table["r_scale"].loc[list(zip(base.obs["species"], base.obs["kind"], strict=True))]
        ).to_numpy()
    )
    np.testing.assert_allclose(res.obs["r_std"], want, rtol=1e-12)
    assert not np.array_equal(res.x_post, base.x_post)
    assert res.metrics["innovation_tuning"]["iterations"] == 2
    assert set(res.metrics["innovation_tuning"]["left_unscaled"]) == {
        f"station_hour|{s}|{c}" for s, c in few.index
    }


def test_prior_error_tuning_scales_each_species_b(case, default_system, caplog):
    """``errors.prior_error_tuning``: identical-twin observations (truth from the default B)
    inverted with B's emission σ halved (state.prior_error 0.25).  After three passes each
    species either sits at the fixed point (B ratio within 5 % of 1), at a bound (flagged), or
    is left unscaled with a log line (too few rows or a ratio that is not positive: on four
    days the background's share of HBHᵀ can swamp the emission part); the solution's prior σ
    is the configured one times √factor, the statistics table carries each group's factor,
    and R is untouched when only B is tuned."""
    kind = _twin(default_system)
    errors = {"innovation_min_observations": 30, "innovation_statistics": True}
    state = {"prior_error": 0.25}
    base = assimilate(
        build_system(case, InversionConfig(state=state, errors=errors)),
        kind,
        build_posterior=False,
    )
    cfg = InversionConfig(
        state=state,
        errors={**errors, "prior_error_tuning": "desroziers", "innovation_iterations": 3},
    )
    with caplog.at_level(logging.INFO, logger="gridcarbon.inversion.assimilation"):
        res = assimilate(build_system(case, cfg), kind, build_posterior=False)
    tuning = res.metrics["innovation_tuning"]
    assert tuning["prior_method"] == "desroziers" and tuning["r_scale"] == {}
    lo, hi = cfg.errors.prior_scale_bounds
    moved = 0
    for s, f in tuning["b_scale"].items():
        ratio = tuning["b_ratio_after"][s]
        if s in tuning["b_left_unscaled"]:
            assert f == 1.0
            assert any(f"prior error tuning: {s} has" in m for m in caplog.messages)
        else:
            assert f in (lo, hi) or abs(ratio - 1.0) < 0.05, (s, f, ratio)
            moved += 1
    assert moved >= 1
    L = res.layout
    g = L.segments["grid"]
    per_species = res.prior_std[g].reshape(L.ns, -1)
    for k, s in enumerate(L.species):
        np.testing.assert_allclose(per_species[k], 0.25 * np.sqrt(tuning["b_scale"][s]))
    np.testing.assert_array_equal(res.obs["r_std"], base.obs["r_std"])
    table = res.innovation_statistics
    assert (table["r_scale"] == 1.0).all() and not table["rescaled"].any()
    for _, row in table.iterrows():
        assert row["b_scale"] == pytest.approx(tuning["b_scale"][_species_of(row["species"])])
    assert not np.array_equal(res.x_post, base.x_post)


def _species_of(quantity: str) -> str:
    """The emitted species an observed quantity sees in the small case."""
    return {"NO2": "NOx"}.get(quantity, quantity)


def test_desroziers_tuning_on_a_perturbed_replicate_with_correlated_r(case):
    """A perturbed-transport replicate (its transport errors correlated between nearby
    stations, unlike the model's R) with the same-day correlated R: the rescaled R keeps its
    correlations and the solve runs; each rescaled group either reaches the fixed point
    (ratio within 10 % of 1) or sits at a bound, flagged."""
    errors = {
        "transport_error_model": "quadrature",
        "transport_error_correlation": "same_day",
        "innovation_min_observations": 30,
    }
    system = build_system(case, InversionConfig(errors=errors))
    kind = _perturbed_observations(system, seed=6)
    tuned = build_system(
        case,
        InversionConfig(
            errors={**errors, "innovation_tuning": "desroziers", "innovation_iterations": 3}
        ),
    )
    res = assimilate(tuned, kind, build_posterior=False)
    many = res.innovation_statistics[res.innovation_statistics["rescaled"]]
    assert len(many)
    assert ((abs(many["r_ratio"] - 1.0) < 0.1) | many["r_scale_at_bound"]).all()
    assert np.isfinite(res.x_post).all() and (res.post_std > 0).all()


def test_the_stage_writes_innovation_statistics_csv(tmp_path, tiny_case):
    """``errors.innovation_statistics``: the stage hands the table on and its documents hold
    ``innovation_statistics.csv`` (the names of ``inversion_file_names``), written by the
    CSV writer and read back with the same groups."""
    import pandas as pd

    from gridcarbon.inversion.outputs import inversion_documents
    from gridcarbon.inversion.stage import run_inversion
    from gridcarbon.io.outputs import write_documents

    config = InversionConfig(errors={"innovation_statistics": True})
    res = run_inversion(tiny_case.prior, tiny_case.scenario, config)
    table = res.innovation_statistics
    assert table is not None and tuple(table.columns) == INNOVATION_COLUMNS
    assert table["n"].sum() == res.metrics["n_observations"]
    docs = inversion_documents(res)
    assert list(docs) == inversion_file_names(
        ["netcdf"], synthetic_observations=True, innovation_statistics=True
    )
    write_documents(docs, tmp_path)
    back = pd.read_csv(tmp_path / "innovation_statistics.csv")
    assert list(back["station_class"]) == list(table["station_class"])
    assert back["synthetic"].all()
    np.testing.assert_allclose(back["r_ratio"], table["r_ratio"], rtol=1e-12)


def test_prior_error_tuning_with_satellite_columns(tiny_case):
    """B's tuning over station rows and whitened NO2 column contrasts (the blockwise column
    Jacobian, with the wind-speed and lifetime terms in its C): each group carries the factor
    of the species whose emissions it sees."""
    from gridcarbon.inversion.columns import ColumnObservations, ColumnSettings
    from gridcarbon.species import DEFAULT_SPECIES, by_name

    from .column_cases import swath_pixels, with_values

    cfg = InversionConfig(
        errors={
            "prior_error_tuning": "desroziers",
            "innovation_min_observations": 5,
            "innovation_statistics": True,
        }
    )
    system = build_system(tiny_case, cfg)
    times = [t + np.timedelta64(30, "m") for t in system.times if t.hour == 5]
    pixels = swath_pixels(system.grid, times, kernel="tropomi")
    rng = np.random.default_rng(2)
    column = ColumnObservations(
        with_values(pixels, 2e-5 + rng.normal(0, 1e-6, pixels.n)),
        by_name(DEFAULT_SPECIES, "NOx"),
        "vertical_column",
        tiny_case.scenario.meteorology,
        ColumnSettings(min_upwind_fetch_km=0.0, wind_speed_error_rel=0.3, lifetime_error_rel=0.5),
    )
    truth = make_truth(system, rng, "identical", cfg)
    stations = StationHourObservations(synthetic_observations(system, truth, rng, cfg))
    res = assimilate(system, [stations, column], build_posterior=False)
    b = res.metrics["innovation_tuning"]["b_scale"]
    assert set(b) == {"CO2", "NOx"} and all(0.25 <= v <= 4.0 for v in b.values())
    table = res.innovation_statistics
    on_columns = table[table["observation_type"] == "column"]
    assert len(on_columns) and (on_columns["b_scale"] == b["NOx"]).all()
    assert np.isfinite(res.x_post).all()


def _overpass_columns(tiny_case, system, noise: float, seed: int):
    """One NO2 column type per overpass (13:30 Beijing time each day), named like the OSSE's
    and a reader's (``tropomi_<day>``): the prior modelled columns plus 2e-5 mol m-2 of
    background and Gaussian noise of ``noise`` per pixel (the pixels' precision says 1e-5)."""
    from dataclasses import replace

    from gridcarbon.inversion.columns import ColumnObservations, ColumnSettings
    from gridcarbon.species import DEFAULT_SPECIES, by_name

    from .column_cases import swath_pixels, with_values

    nox = by_name(DEFAULT_SPECIES, "NOx")
    settings = ColumnSettings(min_upwind_fetch_km=0.0)
    rng = np.random.default_rng(seed)
    kinds = []
    for t in [t + np.timedelta64(30, "m") for t in system.times if t.hour == 5]:
        pixels = swath_pixels(system.grid, [t], kernel="tropomi")
        probe = ColumnObservations(
            pixels, nox, "vertical_column", tiny_case.scenario.meteorology, settings
        )
        table, H = probe.pixel_operator(system)
        value = 2e-5 + rng.normal(0, noise, pixels.n)
        value[table["pixel"].to_numpy()] += H @ system.layout.xb()
        kinds.append(
            ColumnObservations(
                replace(with_values(pixels, value), overpass=np.full(pixels.n, str(t)[:10])),
                nox,
                "vertical_column",
                tiny_case.scenario.meteorology,
                settings,
                name=f"tropomi_{str(t)[:10]}",
            )
        )
    return kinds


def test_column_overpasses_pooled_into_one_group_by_product(tiny_case):
    """``errors.innovation_column_groups: product``: every overpass of one observed quantity
    is the group ``columns``; with pixel noise 2× their stated precision the pooled columns'
    R is scaled up (2.4×, off its bounds, the ratio after the pass near 1) (each overpass alone has fewer rows than the minimum and keeps its R) and
    the solution changes."""
    base = {
        "innovation_tuning": "desroziers",
        "innovation_min_observations": 30,
        "innovation_statistics": True,
    }
    results = {}
    for groups in ("overpass", "product"):
        cfg = InversionConfig(errors={**base, "innovation_column_groups": groups})
        system = build_system(tiny_case, cfg)
        columns = _overpass_columns(tiny_case, system, noise=2e-5, seed=3)
        results[groups] = assimilate(system, columns, build_posterior=False)
    per_overpass = results["overpass"].innovation_statistics
    pooled = results["product"].innovation_statistics
    assert set(per_overpass["observation_type"]) == {k.name for k in columns}
    assert (per_overpass["n"] < 30).all() and not per_overpass["rescaled"].any()
    assert list(pooled["observation_type"]) == ["columns"]
    assert pooled["n"].iloc[0] == per_overpass["n"].sum() >= 30
    assert bool(pooled["rescaled"].iloc[0]) and not pooled["r_scale_at_bound"].iloc[0]
    assert 1.5 < pooled["r_scale"].iloc[0] < 4.0
    assert 0.8 < pooled["r_ratio"].iloc[0] < 1.25
    assert not np.allclose(results["product"].x_post, results["overpass"].x_post)
    with pytest.raises(ValidationError):
        ErrorsConfig(innovation_column_groups="orbit")


def test_tuning_scope_columns_leaves_the_stations_r_alone(tiny_case):
    """``errors.innovation_tuning_scope: columns``: beside stations, only the pooled columns'
    group is rescaled (the stations' groups keep factor 1 and are not flagged rescaled); with
    stations alone there is nothing to tune, and the solution is bit for bit the untuned one."""
    base = {
        "innovation_tuning": "desroziers",
        "innovation_min_observations": 30,
        "innovation_column_groups": "product",
    }
    cfg = InversionConfig(errors={**base, "innovation_tuning_scope": "columns"})
    system = build_system(tiny_case, cfg)
    rng = np.random.default_rng(4)
    stations = StationHourObservations(
        synthetic_observations(system, make_truth(system, rng, "identical", cfg), rng, cfg)
    )
    columns = _overpass_columns(tiny_case, system, noise=2e-5, seed=3)
    res = assimilate(system, [stations, *columns], build_posterior=False)
    table = res.innovation_statistics
    on_columns = table["observation_type"] == "columns"
    assert on_columns.sum() == 1 and bool(table.loc[on_columns, "rescaled"].iloc[0])
    assert table.loc[on_columns, "r_scale"].iloc[0] > 1.5
    assert (~on_columns).sum() >= 1
    assert (table.loc[~on_columns, "r_scale"] == 1.0).all()
    assert not table.loc[~on_columns, "rescaled"].any()
    assert set(res.metrics["innovation_tuning"]["r_scale"]) == set(
        table["observation_type"] + "|" + table["species"] + "|" + table["station_class"]
    )
    # with every group open to the tuning, the stations' factors move too
    every = assimilate(
        build_system(tiny_case, InversionConfig(errors=base)),
        [stations, *columns],
        build_posterior=False,
    ).innovation_statistics
    assert (every.loc[every["observation_type"] != "columns", "r_scale"] != 1.0).any()
    alone = assimilate(system, stations, build_posterior=False)
    untuned = assimilate(
        build_system(tiny_case, InversionConfig()), stations, build_posterior=False
    )
    assert "innovation_tuning" not in alone.metrics or alone.metrics["innovation_tuning"] is None
    np.testing.assert_array_equal(alone.x_post, untuned.x_post)
    with pytest.raises(ValidationError):
        ErrorsConfig(innovation_tuning_scope="stations")


def test_binned_covariance_of_a_hand_made_case():
    x = np.array([0.0, 10_000.0, 0.0])
    y = np.array([0.0, 0.0, 40_000.0])
    Q = np.array([[4.0, 1.0, 2.0], [1.0, 1.0, 0.5], [2.0, 0.5, 9.0]])
    s = np.array([2.0, 1.0, 3.0])
    sums, counts = distance_binned_covariance(x, y, Q, s, np.array([0.0, 20e3, 50e3]))
    # pairs: (0,1) 10 km → bin 1; (0,2) 40 km and (1,2) 41.2 km → bin 2
    np.testing.assert_allclose(sums, [3.0, 1.0 / 2.0, 2.0 / 6.0 + 0.5 / 3.0])
    np.testing.assert_array_equal(counts, [3, 1, 2])
    # beyond the last edge: left out
    sums, counts = distance_binned_covariance(x, y, Q, s, np.array([0.0, 20e3]))
    np.testing.assert_array_equal(counts, [3, 1])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scale": np.array([1.0, 0.0, 1.0])}, "scales must be > 0"),
        ({"edges_m": np.array([0.0, 5.0, 5.0])}, "must increase"),
        ({"Q": np.eye(2)}, "need y and scale"),
    ],
)
def test_binned_covariance_refuses_bad_arguments(kwargs, message):
    args = {
        "x": np.zeros(3),
        "y": np.arange(3.0),
        "Q": np.eye(3),
        "scale": np.ones(3),
        "edges_m": np.array([0.0, 10.0]),
    }
    with pytest.raises(ValueError, match=message):
        distance_binned_covariance(**{**args, **kwargs})


@pytest.mark.parametrize(("shape", "length_km"), [("gaussian", 80.0), ("exponential", 40.0)])
def test_the_fit_recovers_the_form_length_and_variance_of_a_correlated_error(shape, length_km):
    """Residuals drawn from white noise plus a correlated term of known form, length and
    variance: the binned statistic agrees with the covariance they were drawn from, and the
    fit picks that form and length among others, with the variance scale near its value."""
    from gridcarbon.inversion.columns import amf_correlation

    rng = np.random.default_rng(7)
    edges = np.array([0.0, 15, 30, 50, 75, 100, 150, 200, 300]) * 1000.0
    lengths = (20.0, 40.0, 80.0, 160.0)
    families = ("exponential", "gaussian")
    empirical = model = fixed = all_counts = 0
    terms: dict = {}
    for _ in range(40):  # 40 overpasses of 60 points on a 250 km square
        x, y = rng.uniform(0, 250e3, (2, 60))
        dist = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
        noise = np.eye(60)
        C = noise + 2.0 * amf_correlation(dist, length_km * 1000.0, shape)
        s = np.sqrt(np.diag(C))
        L = np.linalg.cholesky(C)
        for r in (L @ rng.standard_normal((60, 25))).T:
            empirical = (
                empirical + distance_binned_covariance(x, y, np.outer(r, r), s, edges)[0] / 25
            )
        m, counts = distance_binned_covariance(x, y, C, s, edges)
        model = model + m
        all_counts = all_counts + counts
        fixed = fixed + distance_binned_covariance(x, y, noise, s, edges)[0]
        for fam in families:
            for ell in lengths:
                t = distance_binned_covariance(
                    x, y, amf_correlation(dist, ell * 1000.0, fam), s, edges
                )[0]
                terms[(fam, ell)] = terms.get((fam, ell), 0.0) + t
    np.testing.assert_allclose(empirical / all_counts, model / all_counts, atol=0.05)
    fits = {
        fam: fit_correlation_length(
            empirical, fixed, {ell: terms[(fam, ell)] for ell in lengths}, all_counts
        )
        for fam in families
    }
    best = min(fits, key=lambda f: fits[f]["misfit"])
    assert best == shape
    assert fits[shape]["length"] == length_km
    assert fits[shape]["scale"] == pytest.approx(2.0, rel=0.15)


def test_the_fit_needs_a_candidate_and_keeps_the_scale_non_negative():
    counts = np.array([10, 5, 5])
    with pytest.raises(ValueError, match="no candidate"):
        fit_correlation_length(np.zeros(3), np.zeros(3), {}, counts)
    # a term that would need a negative variance to fit is given none
    fit = fit_correlation_length(
        np.array([10.0, 0.0, 0.0]), np.array([10.0, 1.0, 1.0]), {50.0: np.ones(3)}, counts
    )
    assert fit["scale"] == 0.0
    assert fit["length"] == 50.0
