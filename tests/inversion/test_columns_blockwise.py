"""The column rows applied as their factors (sparse H and each overpass's dense whitening and
plane projection T, :class:`gridcarbon.inversion.solvers.BlockRowJacobian`) against the rows
``T H`` formed densely, on a small SYNTHETIC case: the same posterior mean and σ, the same
χ² and DOFS, the same per-overpass fit."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from gridcarbon.config.inversion import SolverConfig
from gridcarbon.inversion import assimilate
from gridcarbon.inversion.columns import ColumnObservations, ColumnSettings
from gridcarbon.inversion.observation_types import StationHourObservations
from gridcarbon.inversion.solvers import BlockRowJacobian
from gridcarbon.species import DEFAULT_SPECIES, by_name

from .column_cases import swath_pixels
from .conftest import build_system

NOX = by_name(DEFAULT_SPECIES, "NOx")
#: the tiny case's grid is ~50 km wide: every pixel is nearer than 150 km to an upwind edge
SETTINGS = ColumnSettings(min_upwind_fetch_km=0.0)


class DenseRows:
    """The column observations with their rows ``T H`` formed from the pieces (the block
    diagonal of each overpass's T times the superobservations' H), as the inversion did before
    the rows were applied as factors."""

    def __init__(self, columns: ColumnObservations) -> None:
        self.columns = columns
        self.name = columns.name

    def table(self) -> pd.DataFrame:
        return self.columns.table()

    def assimilated(self, system):
        return self.columns.assimilated(system)

    def jacobian_block(self, system) -> sp.csr_matrix:
        m = self.columns.match(system)
        n_so = len(m.superobs)
        order = np.concatenate([idx for idx, _ in m.blocks])
        pick = sp.csr_matrix(
            (np.ones(order.size), (np.arange(order.size), order)), shape=(order.size, n_so)
        )
        return (sp.block_diag([T for _, T in m.blocks], format="csr") @ pick @ m.H).tocsr()

    def error_variance(self, system) -> np.ndarray:
        return self.columns.error_variance(system)


@pytest.fixture(scope="module")
def system(tiny_case):
    return build_system(tiny_case)


@pytest.fixture(scope="module")
def observations(tiny_case, system):
    """Columns made from a truth drawn from B (plus a plane and noise) and the stations'
    hourly truth plus noise."""
    L = system.layout
    rng = np.random.default_rng(5)
    xb = L.xb()
    x_true = xb + system.B.sqrt_apply(rng.standard_normal(L.n))
    overpasses = [t + pd.Timedelta(minutes=30) for t in system.times if t.hour == 5]
    pixels = swath_pixels(system.grid, overpasses, kernel="tropomi")
    probe = ColumnObservations(
        pixels, NOX, "vertical_column", tiny_case.scenario.meteorology, SETTINGS
    )
    table, H_pix = probe.pixel_operator(system)
    x, _ = pixels.centres()
    values = np.zeros(pixels.n)
    precision = 3e-6
    values[table["pixel"]] = (
        H_pix @ x_true
        + 2e-5
        + 1e-10 * (x[table["pixel"]] - x.mean())
        + rng.normal(0.0, precision, len(table))
    )
    pixels = replace(pixels, value=values, precision=np.full(pixels.n, precision))
    columns = ColumnObservations(
        pixels, NOX, "vertical_column", tiny_case.scenario.meteorology, SETTINGS
    )
    P = system.pairs
    y_true = system.y_prior + system.J @ (x_true - xb)
    stations = StationHourObservations(
        pd.DataFrame(
            {
                "time": P["time"],
                "station_id": P["station_id"],
                "species": P["obs_species"],
                "value": y_true + rng.normal(0.0, 0.02 * np.abs(y_true) + 1e-3),
                "uncertainty": 0.02 * np.abs(y_true) + 1e-3,
            }
        )
    )
    return stations, columns


def test_the_operator_is_the_dense_rows(system, observations):
    _, columns = observations
    J = columns.jacobian_operator(system)
    dense = DenseRows(columns).jacobian_block(system)
    assert J.shape == dense.shape and dense.shape[0] == len(columns.assimilated(system))
    # the rows formed densely touch more of the state than H does
    assert dense.nnz > columns.match(system).H.nnz
    rng = np.random.default_rng(0)
    v = rng.standard_normal((system.layout.n, 3))
    z = rng.standard_normal((J.shape[0], 3))
    np.testing.assert_allclose(J @ v, dense @ v, rtol=1e-12, atol=1e-12 * np.abs(dense @ v).max())
    jt, dt = J.T @ z, dense.T @ z
    np.testing.assert_allclose(jt, dt, rtol=1e-12, atol=1e-12 * np.abs(dt).max())
    np.testing.assert_allclose(J.tocsr().toarray(), dense.toarray(), rtol=1e-12, atol=1e-20)
    # stacked beside other rows, each part keeps its place
    other = sp.random(5, system.layout.n, density=0.01, random_state=1, format="csr")
    both = BlockRowJacobian.stack([other, J, other])
    ref = sp.vstack([other, dense, other], format="csr")
    np.testing.assert_allclose(both @ v, ref @ v, rtol=1e-12, atol=1e-12 * np.abs(ref @ v).max())
    np.testing.assert_allclose(
        both.T @ np.ones(both.shape[0]), ref.T @ np.ones(ref.shape[0]), rtol=1e-12, atol=1e-14
    )
    # rows of it (a cross-validation fold): the same rows of the dense form
    keep = rng.random(both.shape[0]) < 0.5
    keep[:5] = True
    kept = both[keep]
    assert isinstance(kept, BlockRowJacobian) and kept.shape == (int(keep.sum()), both.shape[1])
    np.testing.assert_allclose(
        kept @ v, ref[keep] @ v, rtol=1e-12, atol=1e-12 * np.abs(ref @ v).max()
    )
    only_other = both[np.arange(5)]  # rows of no dense block: a sparse matrix
    assert sp.issparse(only_other)
    np.testing.assert_array_equal(only_other.toarray(), other.toarray())


@pytest.mark.slow
@pytest.mark.parametrize("method", ["dense", "cg"])
def test_same_posterior_as_the_dense_rows(system, observations, method):
    stations, columns = observations
    # as many Lanczos vectors as observations (339, for 320 unknowns): the CG stops once its
    # Krylov space is spanned (before, it went on into rounding, and the two row forms came out
    # σ 1.3 % apart with DOFS 105.7 / 103.2 for an exact 73.2)
    solver = SolverConfig(method=method, lanczos_max_vectors=339, lanczos_min_vectors=339)
    new = assimilate(system, [stations, columns], solver=solver, build_posterior=False)
    old = assimilate(system, [stations, DenseRows(columns)], solver=solver, build_posterior=False)
    assert new.metrics["n_observations"] == old.metrics["n_observations"]
    assert new.metrics["n_observations_by_type"]["column"] > 10
    xb = system.layout.xb()
    # the data moved the state (the comparison is not of two priors)
    assert np.abs(new.x_post - xb).max() > 1e-3
    np.testing.assert_allclose(new.x_post, old.x_post, rtol=1e-8, atol=0)
    np.testing.assert_allclose(new.post_std, old.post_std, rtol=1e-8, atol=0)
    assert new.reduced_chi2 == pytest.approx(old.reduced_chi2, rel=1e-8)
    assert new.dofs == pytest.approx(old.dofs, rel=1e-8)
    if method == "cg":
        exact = assimilate(
            system, [stations, columns], solver=SolverConfig(method="dense"), build_posterior=False
        )
        assert new.dofs == pytest.approx(exact.dofs, rel=1e-8)
        np.testing.assert_allclose(new.post_std, exact.post_std, rtol=1e-6)
    np.testing.assert_allclose(new.obs["posterior"], old.obs["posterior"], rtol=1e-8, atol=1e-12)
    # the per-overpass fit (column_fit) of the two posteriors
    _, fit_new = columns.overpass_fit(system, new.x_post - xb)
    _, fit_old = columns.overpass_fit(system, old.x_post - xb)
    assert len(fit_new) == 3
    for name in ("prior_chi2", "posterior_chi2", "posterior_rms", "background_offset"):
        np.testing.assert_allclose(fit_new[name], fit_old[name], rtol=1e-8, err_msg=name)
    # the posterior χ² of an overpass is the sum of squares of its assimilated rows
    rows = new.obs[new.obs["observation_type"] == columns.name]
    by_overpass = (rows["observed"] - rows["posterior"]).pow(2).groupby(rows["station_id"]).sum()
    np.testing.assert_allclose(
        np.sort(by_overpass.to_numpy()), np.sort(fit_new["posterior_chi2"].to_numpy()), rtol=1e-8
    )
