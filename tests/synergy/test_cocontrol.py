"""Co-control: elasticities, quadrants, trend and correlation flags against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymannkendall as mk
import pytest
from scipy import stats

from gridcarbon.errors import InputDataError
from gridcarbon.synergy.cocontrol import (
    benjamini_hochberg,
    change_table,
    departure_correlation,
    distribution_table,
    hamed_rao_trend,
    spearman_rows,
    trend_table,
)


def _tables():
    index = pd.Index(["u1", "u2", "u3", "u4", "u5", "u6"], name="unit")
    base = pd.DataFrame(
        {
            "CO2": [100.0, 100.0, 100.0, 100.0, 1000.0, 100.0],
            "NOx": [10.0, 10.0, 10.0, 10.0, 10.0, 0.0],
            "VOC": [5.0, 5.0, 5.0, 5.0, 5.0, 5.0],
        },
        index=index,
    )
    new = pd.DataFrame(
        {
            "CO2": [90.0, 80.0, 110.0, 120.0, 1004.0, 90.0],
            "NOx": [8.0, 11.0, 11.0, 9.0, 9.0, 1.0],
            "VOC": [4.5, 5.0, 6.0, 5.0, 4.0, 5.0],
        },
        index=index,
    )
    return base, new


def test_elasticities_and_quadrants_hand_computed():
    out = change_table(*_tables())
    # u1: CO2 −10 %, NOx −20 % → Els 2, both reduced; VOC −10 % → Els 1
    assert out.loc["u1", "Els_NOx"] == pytest.approx(2.0)
    assert out.loc["u1", "Els_VOC"] == pytest.approx(1.0)
    assert out.loc["u1", "quadrant_NOx"] == "I"
    assert out.loc["u1", "CO2_reduction_pct"] == pytest.approx(10.0)
    # u2: CO2 −20 %, NOx +10 % → Els −0.5, CO2 reduced / pollutant increased; VOC flat
    assert out.loc["u2", "Els_NOx"] == pytest.approx(-0.5)
    assert out.loc["u2", "quadrant_NOx"] == "II"
    assert out.loc["u2", "quadrant_VOC"] == "pollutant_unchanged"
    # u3: both +10 % → Els 1, both increased
    assert out.loc["u3", "quadrant_NOx"] == "III"
    assert out.loc["u3", "Els_NOx"] == pytest.approx(1.0)
    # u4: CO2 +20 %, NOx −10 % → Els −0.5, pollutant reduced / CO2 increased
    assert out.loc["u4", "quadrant_NOx"] == "IV"
    assert out.loc["u4", "Els_NOx"] == pytest.approx(-0.5)


def test_unchanged_co2_is_reported_not_divided():
    with np.errstate(all="raise"):  # any division by ~0 would raise here
        out = change_table(*_tables())
    # u5: CO2 +0.4 % (< 0.5 %) → "CO2 unchanged", no elasticity
    assert bool(out.loc["u5", "co2_unchanged"])
    assert np.isnan(out.loc["u5", "Els_NOx"])
    assert out.loc["u5", "quadrant_NOx_label"] == "CO2 unchanged"
    # u6: no base NOx → no change rate, no elasticity
    assert np.isnan(out.loc["u6", "NOx_change"])
    assert out.loc["u6", "quadrant_NOx"] == "no_base"
    zero = pd.DataFrame({"CO2": [100.0], "NOx": [10.0], "VOC": [1.0]}, index=["z"])
    same = change_table(zero, zero)
    assert bool(same.loc["z", "co2_unchanged"]) and np.isnan(same.loc["z", "Els_NOx"])


def test_change_table_errors_name_the_entity():
    base, new = _tables()
    new.loc["u2", "CO2"] = -1.0
    with pytest.raises(InputDataError, match="'u2': negative CO2"):
        change_table(base, new)
    with pytest.raises(InputDataError, match="different entities"):
        change_table(base, new.drop(index="u3"))


@pytest.mark.parametrize("n", [10, 31, 60])
def test_hamed_rao_matches_pymannkendall(n):
    rng = np.random.default_rng(n)
    for k in range(4):
        x = np.cumsum(rng.normal(size=n)) + 0.05 * np.arange(n)
        if k == 1:
            x = np.round(x)  # ties
        ref = mk.hamed_rao_modification_test(x)
        got = hamed_rao_trend(x)
        assert got["s"] == ref.s
        assert got["var_s"] == pytest.approx(ref.var_s, rel=1e-12)
        assert got["z"] == pytest.approx(ref.z, rel=1e-12)
        assert got["p"] == pytest.approx(ref.p, rel=1e-9, abs=1e-15)
        assert got["slope"] == pytest.approx(ref.slope, rel=1e-12)


def test_trend_table_flags_hand_built_series():
    t = np.arange(31, dtype=float)
    series = np.vstack([10 + 2.0 * t, 80 - 1.5 * t, np.tile([1.0, 3.0], 16)[:31]])
    out = trend_table(series, pd.Index(["up", "down", "flat"]), species="CO2")
    assert out.loc["up", "CO2_trend"] == "increasing"
    assert out.loc["up", "CO2_sen_slope"] == pytest.approx(2.0)
    assert out.loc["down", "CO2_trend"] == "decreasing"
    assert out.loc["down", "CO2_sen_slope"] == pytest.approx(-1.5)
    assert out.loc["flat", "CO2_trend"] == "no trend"


def test_spearman_and_bh_match_scipy():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(20, 31))
    b = a * 0.5 + rng.normal(size=(20, 31))
    rho, p = spearman_rows(a, b)
    for i in range(20):
        ref = stats.spearmanr(a[i], b[i])
        assert rho[i] == pytest.approx(ref.statistic, abs=1e-12)
        assert p[i] == pytest.approx(ref.pvalue, rel=1e-9)
    ref_q = stats.false_discovery_control(p, method="bh")
    assert benjamini_hochberg(p) == pytest.approx(ref_q, rel=1e-12)


def test_departure_correlation_flags_priorities_on_departures():
    rng = np.random.default_rng(7)
    n_days = 31
    prior_shape = 100 + 10 * np.sin(np.arange(n_days))  # shared profile: correlated by design
    prior = {
        sp: np.tile(prior_shape * s, (4, 1)) for sp, s in (("CO2", 100), ("NOx", 1), ("VOC", 2))
    }
    shock = rng.normal(size=(4, n_days))
    post = {
        # u0: NOx departures follow CO2's; u1: independent; u2: anti-correlated; u3: no departure
        "CO2": prior["CO2"] * (1 + 0.02 * shock),
        "NOx": prior["NOx"]
        * (
            1
            + np.vstack(
                [
                    0.02 * shock[0],
                    0.02 * rng.normal(size=n_days),
                    -0.02 * shock[2],
                    np.zeros(n_days),
                ]
            )
        ),
        "VOC": prior["VOC"].copy(),
    }
    post["CO2"][3] = prior["CO2"][3]
    out = departure_correlation(post, prior, pd.Index(["u0", "u1", "u2", "u3"]))
    assert out.loc["u0", "rho_NOx"] == pytest.approx(1.0)
    assert bool(out.loc["u0", "priority_NOx"]) and bool(out.loc["u0", "priority"])
    assert not out.loc["u1", "priority_NOx"]
    assert out.loc["u2", "rho_NOx"] == pytest.approx(-1.0) and not out.loc["u2", "priority"]
    # constant departures (VOC everywhere, everything at u3): not tested, never flagged
    assert out["rho_VOC"].isna().all() and np.isnan(out.loc["u3", "rho_NOx"])
    # the raw posteriors, and their absolute departures, correlate through the shared prior
    # profile; the relative departures do not
    assert stats.spearmanr(post["CO2"][1], post["NOx"][1]).statistic > 0.6
    constant_factor = {sp: prior[sp] * 1.1 for sp in ("CO2", "NOx")}
    absolute = [constant_factor[sp][1] - prior[sp][1] for sp in ("CO2", "NOx")]
    assert stats.spearmanr(*absolute).statistic == pytest.approx(1.0)
    out2 = departure_correlation(constant_factor, prior, pd.Index(["u0", "u1", "u2", "u3"]))
    assert out2["rho_NOx"].isna().all() and not out2["priority"].any()


def test_distribution_quintiles_and_shares():
    totals = pd.DataFrame(
        {"CO2": np.arange(1.0, 11.0), "NOx": np.arange(1.0, 11.0), "VOC": np.arange(10.0, 0, -1)},
        index=[f"u{i}" for i in range(10)],
    )
    table, summary = distribution_table(totals)
    assert table["CO2_share_pct"].sum() == pytest.approx(100.0)
    assert table.loc["u9", "CO2_quintile"] == 5 and table.loc["u0", "CO2_quintile"] == 1
    nox = summary.set_index("pollutant").loc["NOx"]
    assert nox["spearman_rho"] == pytest.approx(1.0) and nox["same_quintile"] == 1.0
    assert summary.set_index("pollutant").loc["VOC", "spearman_rho"] == pytest.approx(-1.0)


def test_autocorrelated_series_use_fewer_effective_days():
    t = np.arange(31.0)
    a = np.sin(t / 2.0)[None, :]
    b = np.sin(t / 2.0 + 0.3)[None, :]
    rho, p_naive = spearman_rows(a, b)
    rho2, p_eff = spearman_rows(a, b, autocorrelation=True)
    assert rho2[0] == rho[0] and p_eff[0] > p_naive[0]
    # by hand: lag-1 autocorrelation of the centred ranks, n_eff = n (1 − r_a r_b)/(1 + r_a r_b)
    ra = stats.rankdata(a[0]) - 16.0
    rb = stats.rankdata(b[0]) - 16.0
    r1a = (ra[1:] * ra[:-1]).sum() / (ra * ra).sum()
    r1b = (rb[1:] * rb[:-1]).sum() / (rb * rb).sum()
    n_eff = 31 * (1 - r1a * r1b) / (1 + r1a * r1b)
    assert 3 < n_eff < 31
    t_stat = rho[0] * np.sqrt((n_eff - 2) / (1 - rho[0] ** 2))
    assert p_eff[0] == pytest.approx(2 * stats.t.sf(abs(t_stat), n_eff - 2), rel=1e-12)
