import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gridcarbon.kernels.random_fields import cosine_mode_sum


@given(seed=st.integers(0, 2**31 - 1), n=st.integers(0, 50), modes=st.integers(1, 40))
@settings(max_examples=30, deadline=None)
def test_the_mode_sum_equals_numpys(seed, n, modes):
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(-3e5, 3e5, (2, n))
    kx, ky = rng.normal(0, 1 / 3e4, (2, modes))
    phase = rng.uniform(0, 2 * np.pi, modes)
    expect = np.cos(x[:, None] * kx + y[:, None] * ky + phase).sum(axis=1)
    np.testing.assert_allclose(cosine_mode_sum(x, y, kx, ky, phase), expect, atol=1e-11)
