"""Mann–Kendall against pymannkendall; a hand-built fixture for every emerging category."""

import numpy as np
import pymannkendall as pmk
import pytest

from gridcarbon.contracts import EMERGING_CATEGORIES
from gridcarbon.errors import InputDataError
from gridcarbon.zoning.emerging import classify_emerging, mann_kendall, mann_kendall_many


@pytest.mark.parametrize("seed", range(6))
def test_mann_kendall_equals_pymannkendall(seed):
    rng = np.random.default_rng(seed)
    n = [10, 12, 31, 45, 100, 365][seed]
    x = np.round(rng.normal(size=n) + 0.02 * np.arange(n), 1)  # rounding makes ties
    ref = pmk.original_test(x)
    got = mann_kendall(x)
    assert got["s"] == ref.s
    assert got["var_s"] == pytest.approx(ref.var_s, rel=1e-12)
    assert got["z"] == pytest.approx(ref.z, rel=1e-12, abs=1e-12)
    assert got["Tau"] == pytest.approx(ref.Tau, rel=1e-12, abs=1e-12)
    assert got["p"] == pytest.approx(ref.p, rel=1e-9, abs=1e-12)
    many = mann_kendall_many(np.column_stack([x, x[::-1]]))
    assert many["s"][0] == ref.s and many["s"][1] == -ref.s


def test_mann_kendall_all_ties():
    ref = pmk.original_test(np.ones(12))
    got = mann_kendall(np.ones(12))
    assert got["s"] == ref.s == 0 and got["z"] == ref.z == 0


H, C, N = 3, -3, 0  # significant hot, significant cold, not significant
UP = np.linspace(2, 6, 20)
DOWN = UP[::-1]
FLAT = np.tile([3.0, 3.2, 2.9, 3.1], 5)

# name → (bins over 20 bins, z-scores over the bins)
FIXTURES = {
    "new hot spot": ([N] * 19 + [H], np.r_[np.zeros(19), 3.0]),
    "consecutive hot spot": ([N] * 16 + [H] * 4, np.r_[np.zeros(16), [3, 3, 3, 3]]),
    "intensifying hot spot": ([H] * 20, UP),
    "persistent hot spot": ([H] * 20, FLAT),
    "diminishing hot spot": ([H] * 20, DOWN),
    "sporadic hot spot": (
        [N, H, N, N, H, N, N, N, N, H] * 2,
        np.tile([0, 3, 0, 0, 3, 0, 0, 0, 0, 3], 2),
    ),
    "oscillating hot spot": (
        [N, C, N, H, N, N, C, N, N, H] * 2,
        np.tile([0, -3, 0, 3, 0, 0, -3, 0, 0, 3], 2),
    ),
    "historical hot spot": ([H] * 19 + [N], np.r_[np.full(19, 3.0), 0.5]),
    "new cold spot": ([N] * 19 + [C], np.r_[np.zeros(19), -3.0]),
    "consecutive cold spot": ([N] * 15 + [C] * 5, np.r_[np.zeros(15), [-3] * 5]),
    "intensifying cold spot": ([C] * 20, -UP),
    "persistent cold spot": ([C] * 20, -FLAT),
    "diminishing cold spot": ([C] * 20, -DOWN),
    "sporadic cold spot": (
        [N, C, N, C, N, N, N, N, N, C] * 2,
        np.tile([0, -3, 0, -3, 0, 0, 0, 0, 0, -3], 2),
    ),
    "oscillating cold spot": (
        [H, N, N, C, N, H, N, N, N, C] * 2,
        np.tile([3, 0, 0, -3, 0, 3, 0, 0, 0, -3], 2),
    ),
    "historical cold spot": ([C] * 19 + [N], np.r_[np.full(19, -3.0), -0.5]),
    "no pattern detected": ([N] * 10 + [H] + [N] * 9, np.r_[np.zeros(10), 3.0, np.zeros(9)]),
}


def test_fixture_for_every_category():
    assert set(FIXTURES) == set(EMERGING_CATEGORIES)
    names = list(FIXTURES)
    bins = np.array([FIXTURES[k][0] for k in names], dtype=np.int8).T  # (20, 17)
    z = np.array([FIXTURES[k][1] for k in names], dtype=float).T
    codes, mk = classify_emerging(z, bins, alpha=0.05, min_bin=2)
    got = [EMERGING_CATEGORIES[c] for c in codes]
    assert got == names
    # the trend categories really rest on the Mann–Kendall test
    i = names.index("intensifying hot spot")
    assert mk["p"][i] < 0.05 and mk["z"][i] > 0
    assert mk["p"][names.index("persistent hot spot")] >= 0.05


def test_ninety_percent_rule():
    # 18 of 20 bins hot (90 %) with the last hot: persistent; 17 of 20 (85 %): sporadic
    b18 = np.array([N, N] + [H] * 18, dtype=np.int8)
    b17 = np.array([N, H, N, N] + [H] * 16, dtype=np.int8)
    bins = np.column_stack([b18, b17])
    z = np.column_stack([np.where(b18 == H, 3.0, 0.0) + FLAT * 0.01, np.where(b17 == H, 3.0, 0.0)])
    z[:, 0] = np.r_[3.1, 2.9, FLAT[:18]]  # no trend
    codes, _ = classify_emerging(z, bins)
    assert [EMERGING_CATEGORIES[c] for c in codes] == ["persistent hot spot", "sporadic hot spot"]


def test_min_bin_threshold():
    bins = np.array([[N] * 19 + [1]], dtype=np.int8).T  # only q=0.10 significant
    z = np.r_[np.zeros(19), 1.8][:, None]
    assert classify_emerging(z, bins, min_bin=2)[0][0] == 0
    assert EMERGING_CATEGORIES[classify_emerging(z, bins, min_bin=1)[0][0]] == "new hot spot"


def test_fewer_than_ten_bins_is_an_error():
    with pytest.raises(InputDataError, match="at least 10"):
        classify_emerging(np.zeros((9, 4)), np.zeros((9, 4), np.int8))
