"""The OSSE's score functions (gridcarbon.inversion.scores) on hand-made cases, and the
intervals against scipy and statsmodels."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from gridcarbon.inversion import scores
from gridcarbon.inversion.osse_scores import interval_summary


def _layout():
    """Cells every km along a line (x = 0..40 km, y = 0); three stations: A at x = 0 measures
    CO2 and NO2, B at x = 12 km only CO2, C at x = 35 km only VOC."""
    cell_x = np.arange(41) * 1000.0
    cell_y = np.zeros(41)
    st_x = np.array([0.0, 12000.0, 35000.0])
    st_y = np.zeros(3)
    measures = {
        "CO2": np.array([True, True, False]),
        "NOx": np.array([True, False, False]),
        "VOC": np.array([False, False, True]),
        "SO2": np.array([False, False, False]),
    }
    return cell_x, cell_y, st_x, st_y, measures


def test_species_specific_distances_use_only_the_stations_measuring_the_species():
    cx, cy, sx, sy, measures = _layout()
    d = scores.species_distance_km(cx, cy, sx, sy, measures)
    # cell at 20 km: CO2 from B (8 km), NOx from A (20 km), VOC from C (15 km)
    assert d["CO2"][20] == pytest.approx(8.0)
    assert d["NOx"][20] == pytest.approx(20.0)
    assert d["VOC"][20] == pytest.approx(15.0)
    assert np.isinf(d["SO2"]).all()  # no station measures it: every cell is far
    # all stations together (the old mask) put the cell at 8 km for every species
    assert scores.nearest_distance_km(cx, cy, sx, sy)[20] == pytest.approx(8.0)
    np.testing.assert_allclose(d["NOx"], np.arange(41.0))
    with pytest.raises(ValueError, match="measures"):
        scores.species_distance_km(cx, cy, sx, sy, {"CO2": np.array([True, False])})


def test_distance_bands_cover_every_cell_once_with_closed_upper_edges():
    d = np.array([0.0, 5.0, 5.0001, 10.0, 12.0, 20.0, 29.9, 30.0, 30.1, np.inf])
    m = scores.band_masks(d, [5, 10, 20, 30])
    assert list(m) == ["0-5km", "5-10km", "10-20km", "20-30km", "far"]
    assert np.flatnonzero(m["0-5km"]).tolist() == [0, 1]
    assert np.flatnonzero(m["5-10km"]).tolist() == [2, 3]
    assert np.flatnonzero(m["10-20km"]).tolist() == [4, 5]
    assert np.flatnonzero(m["20-30km"]).tolist() == [6, 7]
    assert np.flatnonzero(m["far"]).tolist() == [8, 9]
    assert (np.sum(list(m.values()), axis=0) == 1).all()
    with pytest.raises(ValueError, match="increasing"):
        scores.band_masks(d, [10, 5])


def test_species_masks_on_the_layout_give_the_bands_by_hand():
    cx, cy, sx, sy, measures = _layout()
    d = scores.species_distance_km(cx, cy, sx, sy, measures)
    voc = scores.band_masks(d["VOC"], [5, 10, 20, 30])
    # VOC station at 35 km: cells 30..40 within 5 km, 25..29 and 41- none, 15..24 10-20 km
    assert np.flatnonzero(voc["0-5km"]).tolist() == list(range(30, 41))
    assert np.flatnonzero(voc["5-10km"]).tolist() == list(range(25, 30))
    assert np.flatnonzero(voc["10-20km"]).tolist() == list(range(15, 25))
    assert np.flatnonzero(voc["20-30km"]).tolist() == list(range(5, 15))
    assert np.flatnonzero(voc["far"]).tolist() == list(range(0, 5))


def test_kg_and_factor_reductions_weight_cells_differently():
    prior = np.array([1000.0, 1.0, 1.0, 1.0])
    truth = np.array([1500.0, 2.0, 2.0, 2.0])  # factors 1.5, 2, 2, 2
    post = np.array([1500.0, 1.0, 1.0, 1.0])  # fixes only the big cell
    m = np.ones(4, bool)
    # kg: the big cell holds almost all the error, so the gain is almost complete
    e_prior = np.sqrt((500**2 + 3) / 4)
    e_post = np.sqrt(3 / 4)
    assert scores.rmse_reduction(prior, post, truth, m) == pytest.approx(1 - e_post / e_prior)
    # factors: each cell alike; the prior factor errors 0.5, 1, 1, 1 and the posterior 0, 1, 1, 1
    f = 1 - np.sqrt(3 / 4) / np.sqrt((0.25 + 3) / 4)
    assert scores.factor_rmse_reduction(prior, post, truth, m) == pytest.approx(f)
    assert scores.factor_rmse_reduction(prior, post, truth, m) < 0.05
    assert np.isnan(scores.rmse_reduction(prior, post, truth, np.zeros(4, bool)))
    # a cell without prior has no factor and is skipped
    assert scores.factor_rmse_reduction(
        np.r_[prior, 0.0], np.r_[post, 3.0], np.r_[truth, 1.0], np.ones(5, bool)
    ) == pytest.approx(f)


def test_coverage_counts_and_calibration():
    truth = np.zeros(5)
    est = np.array([0.5, -1.0, 1.5, -2.5, 0.0])
    std = np.ones(5)
    assert scores.coverage_count(truth, est, std, np.ones(5, bool), 1) == (3, 5)
    assert scores.coverage_count(truth, est, std, np.ones(5, bool), 2) == (4, 5)
    assert scores.coverage_count(truth, est, std, np.array([1, 0, 1, 0, 0], bool), 1) == (1, 2)
    assert scores.calibration_rms(est - truth, std) == pytest.approx(np.sqrt(np.mean(est**2)))
    assert scores.calibration_rms([1.0, np.nan], [0.5, 1.0]) == pytest.approx(2.0)


def test_innovation_chi2_is_one_for_draws_from_its_variances_per_group():
    rng = np.random.default_rng(5)
    n = 40_000
    hbh = rng.uniform(0.5, 4.0, n)
    r = rng.uniform(0.1, 2.0, n)
    groups = np.where(np.arange(n) % 3 == 0, "urban", "micro")
    d = rng.standard_normal(n) * np.sqrt(hbh + r)
    d[groups == "urban"] *= 2.0  # this group's errors are twice what B and R say
    chi = scores.innovation_chi2(d, hbh, r, groups)
    assert chi["micro"][1] == np.count_nonzero(groups == "micro")
    assert chi["micro"][0] == pytest.approx(1.0, abs=4 * np.sqrt(2 / chi["micro"][1]))
    assert chi["urban"][0] == pytest.approx(4.0, abs=16 * np.sqrt(2 / chi["urban"][1]))
    with pytest.raises(ValueError, match="> 0"):
        scores.innovation_chi2(d[:2], np.zeros(2), np.zeros(2), groups[:2])


def test_block_labels_tile_the_grid_row_major_with_partial_edge_blocks():
    labels = scores.block_labels((5, 7), 3)
    # 2 block rows × 3 block columns; the last row and column of blocks are partial
    expected = np.array([[(r // 3) * 3 + c // 3 for c in range(7)] for r in range(5)]).ravel()
    np.testing.assert_array_equal(labels, expected)
    np.testing.assert_array_equal(scores.block_labels((4, 6), 1), np.arange(24))
    with pytest.raises(ValueError, match="cells_per_block 0"):
        scores.block_labels((4, 6), 0)


def test_block_reduction_agrees_with_scipy_binned_sums():
    rng = np.random.default_rng(3)
    ny, nx, k = 11, 13, 4
    truth, prior, post = rng.gamma(2.0, 5.0, (3, ny * nx))
    mask = rng.random(ny * nx) < 0.6
    row, col = np.divmod(np.arange(ny * nx), nx)
    edges_r, edges_c = np.arange(0, ny + k, k), np.arange(0, nx + k, k)

    def sums(v):
        return stats.binned_statistic_2d(
            row[mask], col[mask], v[mask], "sum", bins=[edges_r, edges_c]
        ).statistic.ravel()

    used = (
        stats.binned_statistic_2d(
            row[mask], col[mask], None, "count", bins=[edges_r, edges_c]
        ).statistic.ravel()
        > 0
    )
    t, p, q = (sums(v)[used] for v in (truth, prior, post))
    expected = 1 - np.sqrt(np.mean((q - t) ** 2)) / np.sqrt(np.mean((p - t) ** 2))
    got = scores.block_rmse_reduction(prior, post, truth, mask, scores.block_labels((ny, nx), k))
    assert got == pytest.approx(expected, rel=1e-12)
    # one cell a block: the cells' score; one block: the total's
    one = scores.block_labels((ny, nx), 1)
    assert scores.block_rmse_reduction(prior, post, truth, mask, one) == pytest.approx(
        scores.rmse_reduction(prior, post, truth, mask), rel=1e-12
    )
    whole = scores.block_labels((ny, nx), max(ny, nx))
    e_post, e_prior = (abs(v[mask].sum() - truth[mask].sum()) for v in (post, prior))
    assert scores.block_rmse_reduction(prior, post, truth, mask, whole) == pytest.approx(
        1 - e_post / e_prior, rel=1e-12
    )
    assert np.isnan(scores.block_rmse_reduction(prior, post, truth, mask & False, one))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    k=st.integers(1, 5),
    shape=st.tuples(st.integers(1, 12), st.integers(1, 12)),
)
def test_a_posterior_that_moves_mass_within_blocks_is_perfect_at_their_scale(seed, k, shape):
    """The truth's cells shuffled within each block (a plume put a few cells off, inside the
    block): every block total is right, so the block score is 1 whatever the cells' is."""
    rng = np.random.default_rng(seed)
    n = shape[0] * shape[1]
    truth = rng.gamma(2.0, 5.0, n)
    prior = truth * rng.uniform(0.2, 3.0, n)
    labels = scores.block_labels(shape, k)
    post = truth.copy()
    for b in np.unique(labels):
        cells = np.flatnonzero(labels == b)
        post[cells] = truth[rng.permutation(cells)]
    mask = np.ones(n, bool)
    assume(np.bincount(labels, weights=prior - truth).any())
    assert scores.block_rmse_reduction(prior, post, truth, mask, labels) == pytest.approx(1.0)
    assert scores.rmse_reduction(prior, post, truth, mask) <= 1.0


def test_percentile_bootstrap_agrees_with_scipy():
    x = np.random.default_rng(3).gamma(2.0, 1.5, 25)
    est, lo, hi = scores.percentile_bootstrap(x, n_resamples=40_000, seed=1)
    ref = stats.bootstrap(
        (x,), np.mean, n_resamples=40_000, method="percentile", random_state=2
    ).confidence_interval
    se = x.std(ddof=1) / np.sqrt(x.size)
    assert est == pytest.approx(x.mean())
    # two independent Monte Carlo estimates of the same percentiles: within a few % of the SE
    assert lo == pytest.approx(ref.low, abs=0.05 * se)
    assert hi == pytest.approx(ref.high, abs=0.05 * se)
    # same seed, same interval; a statistic over rows of pairs (a pooled ratio)
    assert scores.percentile_bootstrap(x, n_resamples=999, seed=4) == scores.percentile_bootstrap(
        x, n_resamples=999, seed=4
    )
    pairs = np.column_stack([x, np.full(x.size, 2.0)])
    e2, lo2, hi2 = scores.percentile_bootstrap(
        pairs, lambda b: b[..., 0].sum(axis=1) / b[..., 1].sum(axis=1), seed=1
    )
    assert e2 == pytest.approx(x.mean() / 2)
    assert lo2 < e2 < hi2
    # NaN rows dropped; one replicate: no spread; none: NaN
    assert scores.percentile_bootstrap(np.array([2.0, np.nan])) == (2.0, 2.0, 2.0)
    assert np.isnan(scores.percentile_bootstrap(np.array([np.nan]))[0])


@pytest.mark.parametrize(("hits", "n"), [(0, 10), (7, 10), (10, 10), (34, 50), (680, 1000)])
def test_wilson_interval_agrees_with_statsmodels(hits, n):
    p, lo, hi = scores.wilson_interval(hits, n)
    ref_lo, ref_hi = proportion_confint(hits, n, alpha=0.05, method="wilson")
    assert p == pytest.approx(hits / n)
    assert lo == pytest.approx(ref_lo, abs=1e-12)
    assert hi == pytest.approx(ref_hi, abs=1e-12)


def test_wilson_interval_refuses_impossible_counts():
    assert np.isnan(scores.wilson_interval(0, 0)[0])
    with pytest.raises(ValueError, match="between 0 and n"):
        scores.wilson_interval(11, 10)


def test_interval_summary_pools_coverage_and_scores_cities():
    rng = np.random.default_rng(0)
    rows = []
    for i in range(12):
        rows.append(
            {
                "label": "default",
                "species": "CO2",
                "replicate": i,
                "rmse_reduction_near": 0.2 + 0.01 * rng.standard_normal(),
                "own_rmse_change_far": 0.01 * i,
                "cov1_blocks_hits": 7,
                "n_blocks": 10,
                "city_A_prior_err": 0.2,
                "city_A_post_err": 0.05 if i < 9 else 0.2,
                "city_A_post_z": 1.0 if i % 2 else -1.0,
            }
        )
    out = interval_summary(pd.DataFrame(rows), "CO2", n_resamples=2000)["default"]
    r = out["CO2"]["rmse_reduction_near"]
    assert r["low"] <= r["estimate"] <= r["high"] and r["replicates"] == 12
    cov = out["CO2"]["coverage_1sigma_blocks_pooled"]
    assert cov["estimate"] == pytest.approx(0.7) and (cov["hits"], cov["n"]) == (84, 120)
    assert cov["wilson_low"] == pytest.approx(
        proportion_confint(84, 120, method="wilson")[0], abs=1e-12
    )
    assert out["CO2"]["own_rmse_change_far_p90"]["estimate"] == pytest.approx(
        np.percentile(0.01 * np.arange(12), 90)
    )
    city = out["cities"]["A"]
    assert city["fraction_within_10pct"]["estimate"] == pytest.approx(0.75)
    assert city["calibration_rms"]["estimate"] == pytest.approx(1.0)
    assert city["coverage_1sigma"]["estimate"] == pytest.approx(1.0)
    ratio = np.sqrt((9 * 0.05**2 + 3 * 0.2**2) / 12) / 0.2
    assert city["rms_error_ratio"]["estimate"] == pytest.approx(ratio)


def test_targets_are_judged_by_point_estimate_and_interval():
    from gridcarbon.inversion.osse_scores import judge_targets

    def score(e, lo, hi):
        return {"estimate": e, "low": lo, "high": hi, "replicates": 50}

    summary = {
        "CO2": {
            "innovation_chi2": score(1.0, 0.9, 1.1),
            "innovation_chi2_class_urban": score(0.5, 0.4, 0.6),
            "own_factor_reduction_near": score(0.09, 0.05, 0.13),
        },
        "NOx": {"innovation_chi2": score(1.5, 1.3, 1.7)},
        "cities": {
            "330100": {
                "posterior_bias": score(0.01, -0.02, 0.04),
                "fraction_within_10pct": {
                    **score(0.9, 0.8, 1.0),
                    "wilson_low": 0.79,
                    "wilson_high": 0.95,
                },
            },
            "all_cities_calibration_rms": score(1.0, 0.8, 1.2),
        },
    }
    t = judge_targets(summary, focus_species="CO2").set_index(["score", "for"])
    assert t.loc[("innovation_chi2", "CO2"), "passes"]
    # the estimate outside the band fails even when the interval reaches into it
    assert not t.loc[("innovation_chi2", "NOx"), "passes"]
    assert not t.loc[("innovation_chi2_class_*", "urban"), "passes"]
    assert not t.loc[("own_factor_reduction_near", "CO2"), "passes"]
    assert t.loc[("city:posterior_bias", "330100"), "passes"]
    within = t.loc[("city:fraction_within_10pct", "330100")]
    assert within["passes"] and within["low"] == 0.79  # proportions carry Wilson intervals
    # a score the summary lacks is reported as not measured, not as a pass or a fail
    assert t.loc[("city:calibration_rms", "330100"), "passes"] is None
    assert t.loc[("coverage_1sigma_counties_pooled", "NOx"), "passes"] is None


def test_stack_targets_judge_the_ratio_and_the_readmitted_chi2():
    """The targets of the readmitted point-dominated hours; a species without readmitted
    observations (a NaN estimate) is not measured, not failed."""
    from gridcarbon.inversion.osse_scores import STACK_TARGETS, judge_targets

    def score(e, lo, hi):
        return {"estimate": e, "low": lo, "high": hi, "replicates": 4}

    summary = {
        "CO2": {
            "point_factor_rmse_ratio": score(0.75, 0.7, 0.85),
            "innovation_chi2_readmitted": score(1.5, 1.3, 1.6),
        },
        "VOC": {"innovation_chi2_readmitted": score(np.nan, np.nan, np.nan)},
    }
    t = judge_targets(summary, STACK_TARGETS, focus_species="CO2").set_index(["score", "for"])
    assert t.loc[("point_factor_rmse_ratio", "CO2"), "passes"]
    assert not t.loc[("innovation_chi2_readmitted", "CO2"), "passes"]
    assert t.loc[("innovation_chi2_readmitted", "VOC"), "passes"] is None


def test_near_band_targets_against_the_perfect_twin():
    """The near bands judged against the floor and against the perfect-transport twin's gain
    (the ratio of the mean gains over shared replicates), the outer bands against the issue's
    floors; without the twin the ratio is not measured."""
    from gridcarbon.inversion.osse_scores import near_band_target_rows

    def rows(gains: dict[str, dict[str, float]], seeds=range(40000, 40010)):
        out = []
        for seed in seeds:
            for species, by_band in gains.items():
                out.append(
                    {
                        "replicate": seed,
                        "label": "default",
                        "species": species,
                        **{f"own_rmse_reduction_{b}": g for b, g in by_band.items()},
                    }
                )
        return pd.DataFrame(out)

    bands = {"0-5km": 0.25, "5-10km": 0.15, "10-20km": 0.10, "20-30km": 0.05}
    randomised = rows({"CO2": bands, "NOx": {**bands, "0-5km": 0.30}})
    perfect = rows({"CO2": {"0-5km": 0.30, "5-10km": 0.30}, "NOx": {"0-5km": 0.60}})
    floors = {"CO2": {"10-20km": 0.095}, "NOx": {"10-20km": 0.132}}
    kw = {"species": ("CO2", "NOx"), "outer_floors": floors, "n_resamples": 199}
    t = near_band_target_rows(randomised, perfect, **kw).set_index(["score", "for"])
    assert t.loc[("own_rmse_reduction_0-5km", "CO2 0-5km"), "passes"]
    assert not t.loc[("own_rmse_reduction_5-10km", "CO2 5-10km"), "passes"]  # 0.15 < 0.20
    ratio = t.loc[("gain_over_perfect_twin", "CO2 0-5km")]
    assert ratio["estimate"] == pytest.approx(0.25 / 0.30) and ratio["passes"]
    assert not t.loc[("gain_over_perfect_twin", "CO2 5-10km"), "passes"]  # 0.5 × the twin's
    assert not t.loc[("gain_over_perfect_twin", "NOx 0-5km"), "passes"]  # 0.5 × the twin's
    assert t.loc[("gain_over_perfect_twin", "NOx 5-10km"), "passes"] is None  # twin lacks it
    # outer bands: CO2 10-20 km 0.10 ≥ 0.095 passes, NOx 10-20 km 0.10 < 0.132 fails; a band
    # without a floor is not judged
    assert t.loc[("own_rmse_reduction_10-20km", "CO2 10-20km"), "passes"]
    assert not t.loc[("own_rmse_reduction_10-20km", "NOx 10-20km"), "passes"]
    assert ("own_rmse_reduction_20-30km", "CO2 20-30km") not in t.index
    alone = near_band_target_rows(randomised, None, **kw)
    assert alone[alone["score"] == "gain_over_perfect_twin"]["passes"].isna().all()
    # twins from other seeds: the ratio is still measured, from the two tables apart
    other = near_band_target_rows(randomised, rows({"CO2": {"0-5km": 0.30}}, range(5)), **kw)
    other = other.set_index(["score", "for"]).loc[("gain_over_perfect_twin", "CO2 0-5km")]
    assert other["estimate"] == pytest.approx(0.25 / 0.30)
