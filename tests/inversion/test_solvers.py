"""B, the dense and the Lanczos-CG solvers, and posterior statistics of unit totals."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from gridcarbon.config.inversion import InversionConfig
from gridcarbon.contracts import PosteriorCovariance
from gridcarbon.inversion.assimilation import assimilate
from gridcarbon.inversion.osse import make_truth, synthetic_observations
from gridcarbon.inversion.posterior import TotalsCovariance
from gridcarbon.inversion.state import (
    PriorCovariance,
    StateLayout,
    _shared_support_runs,
    exp_corr,
    species_correlation_matrix,
)

from .conftest import build_system


def _small_prior(
    ny, nx, nt, n_points, ndays, nsectors, transport_days, regions=(), **kw
) -> PriorCovariance:
    """B of a small three-species layout (neighbours, background, a micro bias, mixing-height
    days, optionally per region), species correlated, 15 km × 48 h correlation scales on 3 km
    cells."""
    L = StateLayout(
        ["CO2", "NOx", "VOC"],
        ny,
        nx,
        2,
        24,
        nt,
        np.arange(n_points),
        ["Jiangsu"],
        [],
        ["CO2", "NO2"],
        ndays,
        nsectors,
        [("m1", "CO2")],
        transport_days=transport_days,
        transport_regions=tuple(regions),
    )
    corr = {"CO2-NOx": 0.6, "CO2-VOC": 0.2, "NOx-VOC": 0.3}
    return PriorCovariance(
        L,
        0.5,
        species_correlation_matrix(L.species, corr),
        15000.0,
        3000.0,
        48.0,
        {"background": 2.0, "bias": 3.0, "transport": 0.3},
        **kw,
    )


def test_B_is_kronecker_of_exponentials():
    B = _small_prior(11, 9, 72, 2, 3, 4, 3, transport_time_scale_days=2.0)
    L = B.layout
    S = B.dense_sqrt()
    full = S @ S.T
    g = L.segments["grid"]
    expect = 0.25 * np.kron(
        np.kron(np.kron(B.Cs, exp_corr(L.nw, 24, 48.0)), exp_corr(L.nby, 6000, 15000.0)),
        exp_corr(L.nbx, 6000, 15000.0),
    )
    np.testing.assert_allclose(full[g, g], expect, atol=1e-12)
    v = np.random.default_rng(0).standard_normal((L.n, 4))
    np.testing.assert_allclose(B.sqrt_apply(v, transpose=True), S.T @ v, atol=1e-12)
    assert full[L.segments["bias"], L.segments["bias"]][0, 0] == pytest.approx(9.0)
    tr = L.segments["transport"]
    np.testing.assert_allclose(full[tr, tr], 0.09 * exp_corr(3, 1.0, 2.0), atol=1e-12)
    np.testing.assert_allclose(full[tr, : tr.start], 0.0, atol=1e-15)
    # the closed-form diag(A B Aᵀ) over a few indices per row equals the dense product
    A = sp.random(40, L.n, density=0.03, random_state=1, format="lil")
    A[0] = 0.0  # an empty row
    A[1] = 0.0
    A[1, g.start + 5] = 2.0  # a single grid element
    A[2, tr.start] = 1.0  # two correlated mixing-height days and a grid element
    A[2, tr.start + 2] = -2.0
    A[2, g.start + 7] = 0.5
    A = A.tocsr()
    np.testing.assert_allclose(
        B.aggregate_var(A),
        np.einsum("ij,jk,ik->i", A.toarray(), full, A.toarray()),
        rtol=1e-10,
        atol=1e-12,
    )
    with pytest.raises(ValueError, match="positive definite"):
        species_correlation_matrix(
            ["CO2", "NOx", "VOC"], {"CO2-NOx": 0.95, "CO2-VOC": 0.95, "NOx-VOC": -0.9}
        )


@pytest.fixture(scope="module")
def dense_vs_cg(case):
    cfg = InversionConfig(
        state={"block_cells": 1, "window_hours": 24, "n_point_unknowns": 4},
        errors={"aggregation": "hourly"},
        solver={"method": "dense", "lanczos_max_vectors": 300, "lanczos_min_vectors": 300},
    )
    prior = case.prior.isel(time=slice(0, 48))[
        ["CO2", "NOx", "CO2_point", "NOx_point", "crs", "time_bnds", "region_fraction"]
    ]
    system = build_system(case, cfg, prior)
    rng = np.random.default_rng(3)
    truth = make_truth(system, rng, "identical", cfg)
    obs = synthetic_observations(system, truth, rng, cfg)
    dense = assimilate(system, obs)
    cg = assimilate(system, obs, solver=cfg.solver.model_copy(update={"method": "cg"}))
    return system, dense, cg


@pytest.mark.slow
def test_dense_vs_cg(dense_vs_cg):
    system, dense, cg = dense_vs_cg
    n = system.layout.n
    assert 2000 <= n <= 6000, n  # "a few thousand unknowns"
    assert dense.metrics["n_observations"] > cg.solver["iterations"] / 2
    xb = dense.x_prior
    rel = np.linalg.norm(cg.x_post - dense.x_post) / np.linalg.norm(dense.x_post - xb)
    assert rel <= 1e-3, rel
    ur = 1 - dense.post_std / dense.prior_std
    m = ur >= 0.05
    assert m.sum() > 50
    err = np.abs(cg.post_std[m] - dense.post_std[m]) / dense.post_std[m]
    assert np.median(err) <= 0.03, np.median(err)
    assert np.percentile(err, 95) <= 0.10, np.percentile(err, 95)
    assert dense.dofs == pytest.approx(cg.dofs, rel=0.05)


@pytest.mark.slow
def test_total_std_closed_form_against_dense_posterior(dense_vs_cg):
    system, dense, cg = dense_vs_cg
    totals = TotalsCovariance(system, dense.covariance)
    assert isinstance(totals, PosteriorCovariance)
    nu, nc = 6, system.ncell
    F = sp.random(nu, nc, density=0.05, random_state=2, format="csr")
    F.data = np.clip(F.data, 0, 1)
    hours = np.arange(5, 40)
    got = totals.total_std(F, "CO2", hours=hours)
    # brute force: the state gradient of each unit total, then aᵀ P a with the dense P
    L = system.layout
    si = L.species.index("CO2")
    cb, hw = L.cell_block(), L.hour_window()
    A = np.zeros((nu, L.n))
    for h in hours:
        e = system.E[si][h].astype(float)
        for u in range(nu):
            row = F[u].toarray().ravel()
            np.add.at(A[u], L.grid_col(si, hw[h], cb), row * e)
        pe = system.Ep[si][h].astype(float)
        big = {int(p): k for k, p in enumerate(L.point_index)}
        for p in range(len(system.points)):
            cell = int(system.points.row[p] * system.grid.nx + system.points.col[p])
            col = (
                (L.segments["points"].start + si * L.point_index.size + big[p])
                if p in big
                else L.grid_col(si, hw[h], cb[cell])
            )
            A[:, col] += F[:, cell].toarray().ravel() * pe[p]
    P = dense.covariance.P
    expect = np.sqrt(np.einsum("ui,ij,uj->u", A, P, A))
    np.testing.assert_allclose(got, expect, rtol=1e-8)
    independent = np.sqrt(np.einsum("ui,i,ui->u", A, np.diag(P), A))
    assert np.max(np.abs(independent / expect - 1)) > 0.05  # correlations matter
    # the low-rank (Lanczos) form agrees with the dense one
    low_rank = TotalsCovariance(system, cg.covariance)
    np.testing.assert_allclose(low_rank.total_std(F, "CO2", hours=hours), expect, rtol=0.1)
    # time slice by timestamps
    ts = slice(system.times[5], system.times[39])
    np.testing.assert_allclose(totals.total_std(F, "CO2", hours=ts), expect, rtol=1e-8)
    # point sources assigned to units by point-in-polygon: each point counts in full for the
    # unit it is given to (not by its cell's coverage fraction), and in no unit for -1
    npt = len(system.points)
    point_unit = np.arange(npt) % (nu + 1) - 1
    A_area = A.copy()
    for p in range(npt):
        cell = int(system.points.row[p] * system.grid.nx + system.points.col[p])
        col_frac = F[:, cell].toarray().ravel()
        for h in hours:
            pe = float(system.Ep[si][h][p])
            col = (
                (L.segments["points"].start + si * L.point_index.size + big[p])
                if p in big
                else L.grid_col(si, hw[h], cb[cell])
            )
            A_area[:, col] -= col_frac * pe
            if point_unit[p] >= 0:
                A_area[point_unit[p], col] += pe
    expect_pip = np.sqrt(np.einsum("ui,ij,uj->u", A_area, P, A_area))
    np.testing.assert_allclose(
        totals.total_std(F, "CO2", point_unit=point_unit, hours=hours), expect_pip, rtol=1e-8
    )
    with pytest.raises(ValueError, match="point sources"):
        totals.total_std(F, "CO2", point_unit=point_unit[:-1], hours=hours)
    with pytest.raises(ValueError, match=r"point_unit\[0\] = 99 is not a unit index"):
        totals.total_std(F, "CO2", point_unit=np.r_[99, point_unit[1:]], hours=hours)
    with pytest.raises(ValueError, match="species 'VOC' is not in the inversion"):
        totals.total_std(F, "VOC", hours=hours)


def _small_problem(correlated: bool):
    from gridcarbon.inversion.solvers import CorrelatedErrors, Problem

    L = StateLayout(["CO2"], 6, 5, 2, 24, 48, np.arange(0), [], [], ["CO2"], 2, 1, [])
    B = PriorCovariance(L, 0.5, np.eye(1), 9000.0, 3000.0, 36.0, {"background": 2.0})
    rng = np.random.default_rng(7)
    m = 24
    J = sp.random(m, L.n, density=0.25, random_state=3, format="csr")
    d = rng.normal(0.0, 1.0, m)
    r_var = rng.uniform(0.2, 1.0, m)
    R = np.diag(r_var)
    if correlated:  # three blocks of 8 observations, correlation 0.6^|i-j| inside each
        for b in range(3):
            i = np.arange(8 * b, 8 * b + 8)
            sd = np.sqrt(r_var[i])
            R[np.ix_(i, i)] = np.outer(sd, sd) * 0.6 ** np.abs(np.subtract.outer(i, i))
    errors = CorrelatedErrors(sp.csr_matrix(R)) if correlated else None
    return Problem(J, d, r_var, B, errors), R


@pytest.mark.parametrize("correlated", [False, True])
def test_solvers_match_the_closed_form_with_correlated_errors(correlated):
    """x̂ - x_b = B Jᵀ (J B Jᵀ + R)⁻¹ d and P = B - B Jᵀ (J B Jᵀ + R)⁻¹ J B, for R diagonal and
    for R with correlated blocks, from the dense, state-space CG and observation-space CG
    solvers."""
    from gridcarbon.inversion.solvers import solve_dense, solve_lanczos_cg, solve_lanczos_cg_obs

    prob, R = _small_problem(correlated)
    S = prob.B.dense_sqrt()
    Bd = S @ S.T
    J = prob.J.toarray()
    gain = Bd @ J.T @ np.linalg.inv(J @ Bd @ J.T + R)
    x_inc = gain @ prob.d
    P = Bd - gain @ J @ Bd
    for solver in (solve_dense, solve_lanczos_cg, solve_lanczos_cg_obs):
        # enough vectors to span range(Jᵀ): the Lanczos variances are then exact
        kwargs = (
            {} if solver is solve_dense else {"tol": 1e-12, "max_vectors": 400, "min_vectors": 24}
        )
        sol = solver(prob, **kwargs)
        np.testing.assert_allclose(sol.x_inc, x_inc, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(sol.cov.diag(), np.diag(P), rtol=1e-5, atol=1e-9)
        # the cost at the optimum: ½ (vᵀv + rᵀ R⁻¹ r) = ½ dᵀ (J B Jᵀ + R)⁻¹ d
        assert sol.cost == pytest.approx(
            0.5 * prob.d @ np.linalg.solve(J @ Bd @ J.T + R, prob.d), rel=1e-6
        )


def test_correlated_errors_refuse_a_covariance_that_is_not_positive_definite():
    from gridcarbon.inversion.solvers import CorrelatedErrors

    with pytest.raises(ValueError, match="not positive definite"):
        CorrelatedErrors(sp.csr_matrix(np.array([[1.0, 2.0], [2.0, 1.0]])))


def test_a_species_scale_multiplies_that_species_emission_variances():
    """``with_species_scale``: B's grid, point and neighbour blocks become D B D with
    D = diag(√s) per species (their correlations kept, the other segments unchanged); S stays
    a square root (S Sᵀ = B, the transpose is Sᵀ), the closed-form diag(A B Aᵀ) and prior_std
    follow."""
    base = _small_prior(8, 6, 48, 3, 2, 2, 2)
    L = base.layout
    scale = np.array([4.0, 0.25, 1.5])
    B = base.with_species_scale(scale)
    S0, S = base.dense_sqrt(), B.dense_sqrt()
    full0, full = S0 @ S0.T, S @ S.T
    who = B.emission_species()
    root = np.where(who >= 0, np.sqrt(scale[np.maximum(who, 0)]), 1.0)
    np.testing.assert_allclose(full, root[:, None] * full0 * root[None, :], atol=1e-12)
    assert (who[L.segments["background"]] == -1).all()
    assert set(who[L.segments["points"]]) == {0, 1, 2}
    np.testing.assert_allclose(B.prior_std(), np.sqrt(np.diag(full)), rtol=1e-12)
    v = np.random.default_rng(4).standard_normal((L.n, 3))
    np.testing.assert_allclose(B.sqrt_apply(v, transpose=True), S.T @ v, atol=1e-12)
    np.testing.assert_allclose(B.sqrt_apply(v[:, 0]), S @ v[:, 0], atol=1e-12)
    A = sp.random(30, L.n, density=0.05, random_state=2, format="csr")
    np.testing.assert_allclose(
        B.aggregate_var(A), np.einsum("ij,jk,ik->i", A.toarray(), full, A.toarray()), rtol=1e-10
    )
    twice = B.with_species_scale(np.array([0.5, 2.0, 1.0]))
    np.testing.assert_allclose(twice.species_scale, [2.0, 0.5, 1.5])
    with pytest.raises(ValueError, match="3 finite factors > 0"):
        base.with_species_scale(np.array([1.0, -1.0, 1.0]))


@pytest.mark.parametrize(("width", "per_unknown"), [(0.5, 2), (1.0, 6), (4.0, 2), (4.0, 6)])
def test_observation_space_cg_stops_when_its_krylov_space_is_spanned(width, per_unknown):
    """More observations than unknowns, each a smooth (Gaussian, ``width`` cells) average of
    the state, so GᵀR⁻¹G has eigenvalues falling to rounding; Lanczos vectors are allowed up to
    the number of observations. The observation-space CG must stop once range(Gᵀ) is spanned
    instead of taking rounding for new directions (before, the DOFS of these cases came out
    97.9 for 9.9, 94.6 for 4.5 and −13.2 for 3.9), and match the dense solution."""
    from gridcarbon.inversion.solvers import Problem, solve_dense, solve_lanczos_cg_obs

    B = _small_problem(False)[0].B
    n = B.n
    m = per_unknown * n
    rng = np.random.default_rng(11)
    where = np.sort(rng.uniform(0, n, m))
    J = np.exp(-0.5 * ((where[:, None] - np.arange(n)[None, :]) / width) ** 2)
    J[J < 1e-3] = 0.0
    prob = Problem(sp.csr_matrix(J), rng.normal(0.0, 1.0, m), rng.uniform(0.2, 1.0, m), B)
    exact = solve_dense(prob)
    sol = solve_lanczos_cg_obs(prob, tol=1e-12, max_vectors=m, min_vectors=m)
    assert sol.dofs == pytest.approx(exact.dofs, rel=1e-6)
    assert sol.info["iterations"] <= n
    np.testing.assert_allclose(sol.x_inc, exact.x_inc, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(sol.cov.diag(), exact.cov.diag(), rtol=1e-5, atol=1e-9)


#: three regions' mixing-height scales, correlated
REGIONS = {
    "transport_region_correlation": np.array([[1.0, 0.6, 0.3], [0.6, 1.0, 0.5], [0.3, 0.5, 1.0]])
}


def test_regions_mixing_height_scales_are_correlated_by_region_and_day():
    """The regions' daily mixing-height scales: B = sd² (Cr ⊗ exp(−|Δday|/T)), region by region
    in the state, and S Sᵀ = B; a correlation of the wrong size is refused."""
    B = _small_prior(4, 4, 48, 1, 2, 1, 4, regions=("a", "b", "c"), **REGIONS)
    L = B.layout
    tr = L.segments["transport"]
    assert tr.stop - tr.start == 12
    assert L.transport_col(2, 1) == tr.start + 9
    assert list(L.describe().loc[tr.start : tr.start + 1, "key"]) == [
        "a/day0/mixing_height",
        "a/day1/mixing_height",
    ]
    S = B.dense_sqrt()
    full = S @ S.T
    expect = 0.09 * np.kron(REGIONS["transport_region_correlation"], exp_corr(4, 1.0, 5.0))
    np.testing.assert_allclose(full[tr, tr], expect, atol=1e-12)
    np.testing.assert_allclose(full[tr, : tr.start], 0.0, atol=1e-15)
    with pytest.raises(ValueError, match="3 regions"):
        _small_prior(
            4, 4, 48, 1, 2, 1, 4, regions=("a", "b", "c"), transport_region_correlation=np.eye(2)
        )


@given(
    seed=st.integers(0, 2**31 - 1),
    density=st.floats(0.005, 0.3),
    scale=st.lists(st.floats(0.2, 5.0), min_size=3, max_size=3),
    shared=st.integers(0, 4),
    support=st.integers(1, 300),
)
@settings(max_examples=25, deadline=None)
def test_aggregate_var_every_form_equals_the_dense_product(seed, density, scale, shared, support):
    """diag(A B Aᵀ) by the double sum over a row's non-zeros (compiled), by the Kronecker
    form per row and by one dense block of B for consecutive rows over one support (an
    overpass's whitened column rows) all equal the dense product, whatever the rows hold
    (duplicates summed)."""
    B = _small_prior(8, 6, 48, 3, 2, 2, 3, regions=("a", "b", "c"), **REGIONS).with_species_scale(
        np.array(scale)
    )
    S = B.dense_sqrt()
    full = S @ S.T
    rng = np.random.default_rng(seed)
    n = B.n
    nnz = rng.binomial(12 * n, density / 12)
    rows, cols = rng.integers(0, 12, nnz), rng.integers(0, n, nnz)
    A = sp.coo_matrix((rng.normal(size=nnz), (rows, cols)), shape=(12, n))  # duplicates kept
    # then ``shared`` rows over one support, of every kind of element the state has
    on = np.sort(rng.choice(n, min(support, n), replace=False))
    A = sp.vstack([A, sp.csr_matrix((rng.normal(size=shared * on.size), (
        np.repeat(np.arange(shared), on.size), np.tile(on, shared))), shape=(shared, n))])  # fmt: skip
    A = sp.csr_matrix(A)
    expect = np.einsum("ij,jk,ik->i", A.toarray(), full, A.toarray())
    np.testing.assert_allclose(B.aggregate_var(A), expect, rtol=1e-10, atol=1e-12)
    B.SHARED_MIN_NNZ = 1  # every run of two or more rows over one support the dense way
    runs = _shared_support_runs(sp.csr_matrix(A), 1, B.SHARED_MAX_NNZ)
    assert (shared < 2) or (12, 12 + shared) in runs
    np.testing.assert_allclose(B.aggregate_var(A), expect, rtol=1e-10, atol=1e-12)
    B.SHARED_MAX_NNZ = 0  # no dense block: the double sum and, below, the Kronecker form
    np.testing.assert_allclose(B.aggregate_var(A), expect, rtol=1e-10, atol=1e-12)
    B.PAIRWISE_MAX_NNZ = -1  # every row the Kronecker way
    np.testing.assert_allclose(B.aggregate_var(A), expect, rtol=1e-10, atol=1e-12)
