"""Cap allocation: exact sums, entropy weights by hand, new entrants and bad bases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridcarbon.errors import ConfigError, InputDataError
from gridcarbon.synergy.allocation import (
    NewEntrantWarning,
    allocate,
    carbon_account,
    entropy_weights,
    largest_remainder,
)


def _entities() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "base_t": [500.0, 300.0, 200.0],
            "activity": [10.0, 20.0, 30.0],
            "sector": ["cement", "steel", "cement"],
            "gdp": [1.0, 2.0, 3.0],
            "intensity": [3.0, 1.0, 2.0],
        },
        index=pd.Index(["A", "B", "C"], name="entity"),
    )


@pytest.mark.parametrize("method", ["historical", "benchmark", "entropy"])
@pytest.mark.filterwarnings("ignore::gridcarbon.synergy.allocation.NewEntrantWarning")
def test_each_method_sums_to_the_cap(method):
    alloc = allocate(
        _entities(),
        1001,
        method,
        benchmarks={"cement": 0.8, "steel": 1.9},
        indicators={"gdp": "+", "intensity": "-"},
    )
    assert abs(alloc.table["allocation_t"].sum() - 1001) <= 1e-9
    assert alloc.table["allocation_t"].dtype.kind == "i"
    assert abs(alloc.table["share"].sum() - 1) <= 1e-12


def test_historical_largest_remainder_by_hand():
    alloc = allocate(_entities(), 1001, "historical")
    # quotas 500.5, 300.3, 200.2 → floors 500, 300, 200; one tonne left to the largest
    # remainder (A, 0.5)
    assert alloc.table["allocation_t"].tolist() == [501, 300, 200]


def test_benchmark_by_hand():
    alloc = allocate(_entities(), 100, "benchmark", benchmarks={"cement": 0.8, "steel": 1.9})
    # A·b: 8, 38, 24 → shares 8/70, 38/70, 24/70; quotas 11.43, 54.29, 34.29 → 11, 54, 34 + 1
    assert alloc.table["share"].tolist() == pytest.approx([8 / 70, 38 / 70, 24 / 70])
    assert alloc.table["allocation_t"].tolist() == [12, 54, 34]


def test_entropy_weights_hand_computed():
    # gdp (+): 1,2,3 → x' = 0, .5, 1 → p = 0, 1/3, 2/3; e1 = −(1/3 ln 1/3 + 2/3 ln 2/3)/ln 3
    # intensity (−): 3,1,2 → x' = 0, 1, .5 → same p multiset → e2 = e1 → w = 0.5, 0.5
    x = np.array([[1.0, 3.0], [2.0, 1.0], [3.0, 2.0]])
    w, p = entropy_weights(x, ["+", "-"])
    e1 = -(1 / 3 * np.log(1 / 3) + 2 / 3 * np.log(2 / 3)) / np.log(3)
    assert e1 == pytest.approx(0.5793801642856950)
    assert w.tolist() == pytest.approx([0.5, 0.5])
    assert p[:, 0].tolist() == pytest.approx([0, 1 / 3, 2 / 3])
    # a third indicator 4, 2, 2 (+): x' = 1, 0, 0 → p = 1, 0, 0 → e3 = 0 (0 ln 0 = 0)
    w3, _ = entropy_weights(np.column_stack([x, [4.0, 2.0, 2.0]]), ["+", "-", "+"])
    d = np.array([1 - e1, 1 - e1, 1.0])
    assert w3.tolist() == pytest.approx((d / d.sum()).tolist())
    with pytest.raises(InputDataError, match="at least two entities"):
        entropy_weights(x[:1], ["+", "-"])


def test_entropy_allocation_shares():
    with pytest.warns(NewEntrantWarning, match="'A' is the worst"):
        alloc = allocate(_entities(), 1000, "entropy", indicators={"gdp": "+", "intensity": "-"})
    # shares = 0.5·p_gdp + 0.5·p_int = (0, 1/3+2/3, 2/3+1/3)/2 → A 0, B 0.5, C 0.5
    assert alloc.table["share"].tolist() == pytest.approx([0.0, 0.5, 0.5])
    assert alloc.weights.tolist() == pytest.approx([0.5, 0.5])


def test_zero_base_is_a_new_entrant_and_negative_base_an_error():
    table = _entities()
    table.loc["B", "base_t"] = 0.0
    with pytest.warns(NewEntrantWarning, match="'B'"):
        alloc = allocate(table, 700, "historical")
    assert alloc.table.loc["B", "allocation_t"] == 0
    table.loc["C", "base_t"] = -5.0
    with pytest.raises(InputDataError, match="entity 'C': base_t -5 is negative"):
        allocate(table, 700, "historical")
    table["base_t"] = table["base_t"].astype(object)
    table.loc["C", "base_t"] = "abc"
    with pytest.raises(InputDataError, match="entity 'C': base_t 'abc' is not a number"):
        allocate(table, 700, "historical")


def test_cap_must_be_whole_tonnes_and_method_known():
    with pytest.raises(ConfigError, match="whole number"):
        allocate(_entities(), 100.5, "historical")
    with pytest.raises(ConfigError, match="not historical"):
        allocate(_entities(), 100, "auction")


def test_carbon_account_surplus_and_not_compared():
    alloc = allocate(_entities(), 1000, "historical")
    acc = carbon_account(alloc, pd.Series({"A": 450.0, "B": 320.0}))
    assert acc.loc["A", "surplus_t"] == pytest.approx(50.0) and acc.loc["A", "status"] == "surplus"
    assert acc.loc["B", "status"] == "deficit"
    assert acc.loc["C", "status"] == "not compared" and not acc.loc["C", "compared"]


@given(
    st.lists(st.floats(0.0, 1e6, allow_nan=False), min_size=1, max_size=40).filter(
        lambda v: sum(v) > 0
    ),
    st.integers(0, 10**9),
)
def test_largest_remainder_always_sums_exactly(weights, cap):
    shares = np.asarray(weights) / np.sum(weights)
    out = largest_remainder(cap, shares)
    assert int(out.sum()) == cap
    assert np.all(out >= np.floor(cap * shares) - 1e-9)
    assert np.all(out <= np.floor(cap * shares) + 1)
