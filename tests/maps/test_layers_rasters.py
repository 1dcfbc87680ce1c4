"""The raster layers' values: period means and the uncertainty reduction."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures import small_prior

from gridcarbon.grids.dataset import total_grid
from gridcarbon.maps.layers_rasters import period_mean, uncertainty_reduction


def test_period_mean_matches_total_grid(small):
    prior = small["inputs"].prior
    for sp in ("CO2", "NOx", "VOC"):
        ref = total_grid(prior, sp).mean("time", dtype=np.float64).values
        np.testing.assert_allclose(period_mean(prior, sp), ref, rtol=1e-6)
    # the point sources are in: cell (3, 4) holds P1
    area = prior["CO2"].mean("time").values[3, 4]
    assert period_mean(prior, "CO2")[3, 4] == pytest.approx(area + 5e5, rel=1e-6)


def test_uncertainty_reduction_forms(small):
    post = small["inputs"].posterior
    prior = small["inputs"].prior
    ur = uncertainty_reduction(post, "CO2")
    expect = 1 - np.linspace(0.5, 0.1, post.sizes["x"]) / 0.5
    np.testing.assert_allclose(ur[0], expect)
    # given directly (the inversion's own)
    p2 = post.copy()
    p2["NOx_uncertainty_reduction"] = (("y", "x"), np.full(ur.shape, 0.3))
    assert np.allclose(uncertainty_reduction(p2, "NOx"), 0.3)
    # σ_prior from the prior Dataset, time-resolved σ_post averaged as RMS, σ_prior = 0 → NaN
    prior = prior.copy()
    prior["VOC_std"] = (
        ("y", "x"),
        np.where(np.arange(post.sizes["x"]) == 0, 0.0, 2.0)[None].repeat(post.sizes["y"], 0),
    )
    p3 = post.drop_vars(["VOC_prior_std", "VOC_std"])
    p3["VOC_std"] = (
        ("time", "y", "x"),
        np.ones((post.sizes["time"], post.sizes["y"], post.sizes["x"])),
    )
    got = uncertainty_reduction(p3, "VOC", prior)
    assert np.isnan(got[:, 0]).all() and np.allclose(got[:, 1:], 0.5)
    assert uncertainty_reduction(small["inputs"].prior, "CO2") is None
    # σ under another name is not taken for the posterior's
    p4 = post.rename({"CO2_std": "CO2_sigma_post"})
    assert uncertainty_reduction(p4, "CO2") is None


def test_small_prior_hot_cell_fixture():
    ds = small_prior(hot=(5, 7))
    m = period_mean(ds, "CO2")
    assert m[5, 7] > 0 and (m > 0).sum() == 1
