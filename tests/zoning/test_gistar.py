"""Gi* against the closed form and esda; BH against statsmodels; radius checks."""

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from gridcarbon.errors import ConfigError
from gridcarbon.zoning.gistar import (
    bh_reject,
    disc_halfwidths,
    fdr_bins,
    gi_star,
    lattice_neighbours,
    two_sided_p,
)


def region(ny=28, nx=34):
    m = np.ones((ny, nx), bool)
    m[:6, :9] = False
    m[20:, 25:] = False
    m[10:13, 15:18] = False  # a lake inside the region
    return m


def closed_form(x, mask, radius, cell=3000.0):
    cells, neigh = lattice_neighbours(mask, radius, cell)
    xv = x.ravel()[cells].astype(np.float64)
    n = xv.size
    mean = xv.mean()
    s = np.sqrt((xv**2).mean() - mean**2)
    z = np.empty(n)
    for i in range(n):
        idx = np.r_[neigh[i], i]
        W = idx.size
        z[i] = (xv[idx].sum() - mean * W) / (s * np.sqrt((n * W - W * W) / (n - 1)))
    return cells, neigh, z


@pytest.mark.parametrize("radius", [9500.0, 4500.0, 13000.0])
def test_gi_star_closed_form_and_esda(radius):
    from esda.getisord import G_Local
    from libpysal.weights import W

    rng = np.random.default_rng(11)
    mask = region()
    x = rng.gamma(0.7, 100.0, size=(3,) + mask.shape).astype(np.float32)
    x[1, 5:9, 20:26] += 2000.0  # a strong cluster
    z = gi_star(x, mask, radius, 3000.0)
    assert np.isnan(z[:, ~mask]).all()
    for t in range(3):
        cells, neigh, zc = closed_form(x[t], mask, radius)
        assert np.abs(z[t].ravel()[cells] - zc).max() <= 1e-9
        w = W({i: list(neigh[i]) for i in range(len(cells))}, silence_warnings=True)
        g = G_Local(
            x[t].ravel()[cells].astype(np.float64), w, transform="B", star=True, permutations=0
        )
        assert np.abs(z[t].ravel()[cells] - g.Zs).max() <= 1e-9
    assert z[1].ravel()[np.ravel_multi_index((7, 23), mask.shape)] > 5


def test_outside_cells_excluded_as_neighbours():
    mask = region()
    x = np.ones(mask.shape)
    x[0, 0] = 1e9  # outside the region: must not influence anything
    x[15, 15] = 5.0
    z1 = gi_star(x, mask, 9500.0, 3000.0)
    x[0, 0] = 1.0
    z2 = gi_star(x, mask, 9500.0, 3000.0)
    np.testing.assert_array_equal(np.nan_to_num(z1), np.nan_to_num(z2))


def test_constant_field_gives_zero():
    z = gi_star(np.full((2, 10, 12), 3.0), np.ones((10, 12), bool), 9500.0, 3000.0)
    assert np.all(z == 0)


def test_radius_on_lattice_distance_rejected():
    with pytest.raises(ConfigError, match="lattice distance"):
        disc_halfwidths(9000.0, 3000.0)  # 3 cells
    with pytest.raises(ConfigError, match="lattice distance"):
        disc_halfwidths(3000.0 * np.sqrt(10.0), 3000.0)  # sqrt(3²+1²)
    hw = disc_halfwidths(9500.0, 3000.0)
    assert hw.tolist() == [1, 2, 3, 3, 3, 2, 1]  # r = 3.167 cells: 37 cells incl. focal
    assert (2 * hw + 1).sum() == 37


def test_bh_bins_equal_statsmodels():
    rng = np.random.default_rng(5)
    mask = region()
    x = rng.lognormal(0, 1, size=(6,) + mask.shape)
    x[:, 14:19, 2:7] *= rng.uniform(3, 8, size=(6, 1, 1))
    x[:, 22:27, 5:10] *= 0.05  # a cold cluster
    z = gi_star(x, mask, 9500.0, 3000.0)
    bins = fdr_bins(z, mask, (0.01, 0.05, 0.10))
    cells = np.flatnonzero(mask.ravel())
    n_sig = 0
    for t in range(6):
        p = two_sided_p(z[t].ravel()[cells])
        for level, q in ((3, 0.01), (2, 0.05), (1, 0.10)):
            ref = multipletests(p, alpha=q, method="fdr_bh")[0]
            got = np.abs(bins[t].ravel()[cells]) >= level
            np.testing.assert_array_equal(got, ref)
            np.testing.assert_array_equal(ref, bh_reject(p, q))
            n_sig += ref.sum()
        sig = bins[t].ravel()[cells] != 0
        assert np.all(np.sign(bins[t].ravel()[cells][sig]) == np.sign(z[t].ravel()[cells][sig]))
    assert n_sig > 0 and (bins < 0).any() and (bins > 0).any()
    assert (bins[:, ~mask] == 0).all()


def test_p_values_two_sided():
    from scipy.stats import norm

    z = np.array([-3.0, -1.0, 0.0, 1.96, 4.0])
    np.testing.assert_allclose(two_sided_p(z), 2 * norm.sf(np.abs(z)), rtol=1e-12)
