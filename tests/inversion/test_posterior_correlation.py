"""Posterior error correlations of totals (gridcarbon.inversion.posterior): between units and
between each big point source and its host block, against the dense posterior covariance."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from gridcarbon.config.inversion import InversionConfig
from gridcarbon.inversion.assimilation import assimilate
from gridcarbon.inversion.observation_types import StationHourObservations
from gridcarbon.inversion.osse import make_truth, synthetic_observations
from gridcarbon.inversion.posterior import (
    _cell_period_matrix,
    big_point_host_correlation,
    city_error_correlation,
)

from .conftest import build_system


def _dense_result(case):
    system = build_system(case, InversionConfig(solver={"method": "dense"}))
    rng = np.random.default_rng(1)
    cfg = system.config
    obs = synthetic_observations(system, make_truth(system, rng, "identical", cfg), rng, cfg)
    res = assimilate(system, StationHourObservations(obs), build_posterior=False)
    assert res.covariance.P is not None
    return system, res


def _corr(P, a, c):
    return (a @ P @ c) / np.sqrt((a @ P @ a) * (c @ P @ c))


def test_unit_and_stack_correlations_equal_the_dense_posteriors(case):
    system, res = _dense_result(case)
    P = res.covariance.P
    rng = np.random.default_rng(4)
    weights = sp.csr_matrix(rng.random((3, system.ncell)) * (rng.random((3, system.ncell)) < 0.2))
    R = city_error_correlation(system, res.covariance, 0, weights)
    M = (weights @ _cell_period_matrix(system, 0, np.arange(system.nt), True)).toarray()
    expect = np.array([[_corr(P, M[i], M[j]) for j in range(3)] for i in range(3)])
    np.testing.assert_allclose(R, expect, rtol=1e-6, atol=1e-8)
    assert np.all(np.abs(R) <= 1.0) and np.allclose(np.diag(R), 1.0)

    L = system.layout
    si = 0
    got = big_point_host_correlation(system, res.covariance, si)
    assert got.size == L.point_index.size > 0
    area = _cell_period_matrix(system, si, np.arange(system.nt), include_points=False).toarray()
    cell_block = L.cell_block()
    for j, p in enumerate(L.point_index):
        stack = np.zeros(L.n)
        stack[L.segments["points"].start + si * L.point_index.size + j] = 1.0
        block = area[cell_block == cell_block[system.point_cells[p]]].sum(axis=0)
        np.testing.assert_allclose(got[j], _corr(P, stack, block), rtol=1e-6, atol=1e-8)


def test_the_dofs_of_a_total_is_one_minus_its_variance_ratio_on_the_dense_posterior(case):
    """``city_total_dofs`` of ``unit_period_stats``' σ equals ``1 − mᵀPm / mᵀBm`` with the
    dense posterior P and the dense prior B = SSᵀ, for totals over several random units."""
    from gridcarbon.inversion.osse_scores import city_total_dofs
    from gridcarbon.inversion.posterior import unit_period_stats

    system, res = _dense_result(case)
    P = res.covariance.P
    S = res.covariance.B.dense_sqrt()
    B = S @ S.T
    rng = np.random.default_rng(5)
    weights = sp.csr_matrix(rng.random((3, system.ncell)) * (rng.random((3, system.ncell)) < 0.3))
    st = unit_period_stats(system, res.covariance, res.x_post, 0, weights, True)
    M = (weights @ _cell_period_matrix(system, 0, np.arange(system.nt), True)).toarray()
    for k in range(3):
        got = city_total_dofs(st["prior_std"][k], st["posterior_std"][k])
        expect = 1.0 - (M[k] @ P @ M[k]) / (M[k] @ B @ M[k])
        np.testing.assert_allclose(got, expect, rtol=1e-6, atol=1e-9)
        assert 0.0 <= got <= 1.0
    assert np.isnan(city_total_dofs(0.0, 0.0))
