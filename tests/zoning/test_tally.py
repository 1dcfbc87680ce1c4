"""Time aggregation, roll-ups, diurnal profiles, posterior std of unit totals, co-location nulls."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from gridcarbon.errors import InputDataError
from gridcarbon.zoning.hotspots import toroidal_null
from gridcarbon.zoning.tally import (
    aggregate_time,
    sparse_time_matmul,
    sparse_time_matmul_many,
    unit_total_std_from_covariance,
)


def test_sparse_time_matmul_equals_scipy():
    rng = np.random.default_rng(0)
    F = sp.random(50, 300, density=0.05, random_state=1, format="csr")
    x = rng.normal(size=(17, 300)).astype(np.float32)
    np.testing.assert_allclose(
        sparse_time_matmul(F, x), (F @ x.astype(np.float64).T).T, rtol=1e-12, atol=1e-12
    )
    with pytest.raises(InputDataError):
        sparse_time_matmul(F, x[:, :10])
    # whole cells (fraction exactly 1, one unit) in runs, mixed with shared cells
    lab = np.repeat(np.arange(30), 10)
    G = sp.csr_matrix((np.ones(300), (lab, np.arange(300))), shape=(50, 300)).tolil()
    G[3, 5] = 0.25
    G[40, 5] = 0.75
    G[41, 299] = 0.5
    G = G.tocsr()
    np.testing.assert_allclose(
        sparse_time_matmul(G, x), (G @ x.astype(np.float64).T).T, rtol=1e-12, atol=1e-12
    )
    xs = [x, 2 * x + 1, x**2]
    for got, xi in zip(sparse_time_matmul_many(G, xs), xs, strict=True):  # fused 3-field pass
        np.testing.assert_allclose(got, (G @ xi.astype(np.float64).T).T, rtol=1e-12, atol=1e-12)


def test_beijing_day_and_month_bins():
    # UTC hours from 2023-01-30 16:00 (= Beijing Jan 31 00:00) for 3 Beijing days
    time = pd.date_range("2023-01-30 16:00", periods=72, freq="h").values
    v = np.arange(72, dtype=float)[None]
    d, lab = aggregate_time(v, time, "day")
    assert [str(x)[:10] for x in lab] == ["2023-01-31", "2023-02-01", "2023-02-02"]
    np.testing.assert_allclose(d[0], [v[0, :24].sum(), v[0, 24:48].sum(), v[0, 48:].sum()])
    m, lab = aggregate_time(v, time, "month")
    assert [str(x)[:7] for x in lab] == ["2023-01", "2023-02"]
    np.testing.assert_allclose(m[0], [v[0, :24].sum(), v[0, 24:].sum()])
    p, _ = aggregate_time(v, time, "period")
    assert p[0, 0] == v.sum()


def test_posterior_std_forms_agree_and_keep_correlations():
    rng = np.random.default_rng(4)
    n = 8
    A = rng.normal(size=(n, n))
    B = A @ A.T / n + 0.1 * np.eye(n)  # prior covariance of scaling factors
    H = rng.normal(size=(3, n))
    K = B @ H.T @ np.linalg.inv(H @ B @ H.T + 0.5 * np.eye(3))
    P = B - K @ H @ B  # posterior
    F = sp.csr_matrix(rng.uniform(0, 1, size=(2, n)) * (rng.uniform(size=(2, n)) > 0.3))
    e = rng.uniform(10, 100, size=n)
    dense = unit_total_std_from_covariance(F, e, P=P)
    c = F.toarray() * e
    np.testing.assert_allclose(dense, np.sqrt(np.einsum("ij,jk,ik->i", c, P, c)), rtol=1e-12)
    # square-root form P = S Sᵀ
    S = np.linalg.cholesky(P + 1e-12 * np.eye(n))
    np.testing.assert_allclose(unit_total_std_from_covariance(F, e, P_sqrt=S), dense, rtol=1e-6)
    # low-rank update form P = B − U Uᵀ with U = K (H B Hᵀ + R)^½
    M = H @ B @ H.T + 0.5 * np.eye(3)
    U = K @ np.linalg.cholesky(M)
    Bs = np.linalg.cholesky(B)
    np.testing.assert_allclose(
        unit_total_std_from_covariance(F, e, P_sqrt=Bs, U=U), dense, rtol=1e-9
    )
    # ensemble form: anomalies / sqrt(m-1) of samples from N(0, P) converge to the same
    X = rng.multivariate_normal(np.zeros(n), P, size=200_000)
    Xa = (X - X.mean(axis=0)) / np.sqrt(X.shape[0] - 1)
    np.testing.assert_allclose(unit_total_std_from_covariance(F, e, P_sqrt=Xa.T), dense, rtol=0.02)
    # an independence assumption gives a different answer
    indep = unit_total_std_from_covariance(F, e, P_diag=np.diag(P))
    assert np.abs(indep - dense).max() > 0.05 * dense.max()


def _blob(shape, r, c, rad=2):
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    return (yy - r) ** 2 + (xx - c) ** 2 <= rad * rad


def test_toroidal_null_detects_colocation_only_when_real():
    rng = np.random.default_rng(9)
    T, ny, nx = 20, 40, 40
    a = np.zeros((T, ny, nx), bool)
    b = np.zeros_like(a)
    c = np.zeros_like(a)
    for t in range(T):
        r, q = rng.integers(5, 35, 2)
        a[t] |= _blob((ny, nx), r, q)
        b[t] |= _blob((ny, nx), r, q)  # b sits on a: real co-location
        r2, q2 = rng.integers(5, 35, 2)
        c[t] |= _blob((ny, nx), r2, q2)  # c independent of a
    obs_ab = int((a & b).sum())
    null_ab = toroidal_null([a, b], 199, 6.0, seed=1)
    p_ab = (1 + (null_ab >= obs_ab).sum()) / 200
    assert p_ab <= 0.01
    obs_ac = int((a & c).sum())
    null_ac = toroidal_null([a, c], 199, 6.0, seed=1)
    p_ac = (1 + (null_ac >= obs_ac).sum()) / 200
    assert p_ac > 0.05
    # the triple version counts a & shift(b) & shift'(c)
    null_abc = toroidal_null([a, b, c], 49, 6.0, seed=2)
    assert null_abc.shape == (49,) and (null_abc <= a.sum()).all()


def test_toroidal_counts_equal_numpy_roll():
    from gridcarbon.zoning.hotspots import _random_shifts

    rng = np.random.default_rng(2)
    maps = [rng.random((5, 13, 17)) < p for p in (0.2, 0.3, 0.4, 0.5)]
    for n in (2, 3, 4):  # the unrolled kernel for pairs and triples, the general one beyond
        got = toroidal_null(maps[:n], 7, 3.0, seed=5)
        shifts = _random_shifts(13, 17, 7, 3.0, np.random.default_rng(5), n)
        assert shifts.shape == (7, 2 * max(n - 1, 2))
        for k, row in enumerate(shifts):
            # map 1's cell (r, c) meets map i's cell (r + dy_i, c + dx_i), wrapping around
            hit = maps[0].copy()
            for i in range(1, n):
                dy, dx = row[2 * (i - 1)], row[2 * (i - 1) + 1]
                hit &= np.roll(maps[i], (-dy, -dx), axis=(1, 2))
            assert got[k] == int(hit.sum()), (n, k)
    # a pair and a triple draw the same shifts: the pair's are the triple's first two columns
    np.testing.assert_array_equal(
        _random_shifts(13, 17, 7, 3.0, np.random.default_rng(5), 2),
        _random_shifts(13, 17, 7, 3.0, np.random.default_rng(5), 3),
    )


def test_toroidal_shifts_need_room():
    hot = [np.ones((2, 6, 6), bool)] * 4
    with pytest.raises(InputDataError, match="toroidal_shifts: 0"):
        toroidal_null(hot, 5, 3.0, seed=1)


def test_fused_tallies_of_any_number_of_fields():
    rng = np.random.default_rng(1)
    F = sp.random(40, 200, density=0.05, random_state=3, format="csr")
    for n in (1, 2, 3, 4, 7):
        xs = [rng.random((6, 200), dtype=np.float32) for _ in range(n)]
        xs.append(rng.random((6, 200)))  # another dtype: one by one
        got = sparse_time_matmul_many(F, xs)
        assert len(got) == len(xs)
        for g, x in zip(got, xs, strict=True):
            np.testing.assert_array_equal(g, sparse_time_matmul(F, x))  # bit for bit


def test_sector_tallies(small_grid):
    import shapely

    from gridcarbon.grids.dataset import emission_dataset
    from gridcarbon.zoning.overlay import Overlay, assign_points, unit_coverage
    from gridcarbon.zoning.tally import zone_tally

    rng = np.random.default_rng(8)
    nt, sectors = 5, ["power", "solvent_use", "road_transport"]
    area = {
        s: rng.random((nt, len(sectors)) + small_grid.shape).astype(np.float32)
        for s in ("CO2", "NOx", "VOC")
    }
    x0, y0, x1, y1 = small_grid.bounds
    pts = pd.DataFrame(
        {
            "point_id": ["A", "B", "C"],
            "name": "p",
            "sector": ["power", "power", "solvent_use"],
            "park": "",
            "stack_height_m": 50.0,
            "stack_diameter_m": 2.0,
            "exit_velocity_m_s": 10.0,
            "exit_temperature_K": 400.0,
        }
    )
    px = np.array([x0 + 10000, x0 + 40000, x0 + 70000])
    py = np.array([y1 - 10000, y1 - 30000, y1 - 60000])
    pts["lon"], pts["lat"] = small_grid.unproject(px, py)
    pts["row"], pts["col"] = small_grid.xy_to_index(px, py)
    pe = {s: rng.random((nt, 3)).astype(np.float32) * 100 for s in area}
    time = pd.date_range("2023-01-01", periods=nt, freq="h")
    ds = emission_dataset(small_grid, time, area, points=pts, point_emissions=pe, sector=sectors)
    geoms = np.array(
        [shapely.box(x0, y1 - 45000, x0 + 45000, y1), shapely.box(x0 + 45000, y0, x1, y1 - 20000)],
        dtype=object,
    )
    F = unit_coverage(small_grid, geoms, np.array(["U1", "U2"]))
    ov = Overlay(small_grid, F, geoms, np.array(["U1", "U2"]), assign_points(geoms, px, py))
    t = zone_tally(ds, ov, None, list(area))
    for s in area:
        np.testing.assert_allclose(t[f"{s}_sector"].sum("sector").values, t[s].values, rtol=1e-9)
        # U1 holds points A and B (power), U2 point C (solvent use)
        a = area[s].astype(np.float64)
        u1_power = a[:, 0, :15, :15].sum(axis=(1, 2)) + pe[s][:, 0] + pe[s][:, 1]
        np.testing.assert_allclose(
            t[f"{s}_sector"].sel(sector="power").values[0], u1_power, rtol=1e-6
        )
        # U2 starts 20 km below the top edge: a third of row 6, then rows 7.. in full
        u2_solvent = (
            a[:, 1, 7:, 15:].sum(axis=(1, 2)) + a[:, 1, 6, 15:].sum(axis=1) / 3 + pe[s][:, 2]
        )
        np.testing.assert_allclose(
            t[f"{s}_sector"].sel(sector="solvent_use").values[1], u2_solvent, rtol=1e-6
        )
        assert ov.point_unit.tolist() == [0, 0, 1]


def test_month_fields_are_the_day_fields_summed_in_day_order(small_grid):
    """A month field is its days' fields summed in float64 one day after another, in memory
    (``species_fields``), from day fields handed on block by block (``add_day_fields``, as
    the stage on Dask workers sums them) and from ``month_fields_of_days``: equal to the last
    bit; and it is the month's hours summed, up to rounding."""
    from gridcarbon.grids.dataset import total_grid
    from gridcarbon.zoning.hotspots import add_day_fields, month_fields_of_days, species_fields
    from tests.zoning.synthetic import synthetic_grids

    ds = synthetic_grids(small_grid, start="2023-01-28", days=8, n_points=5)
    # float64 hours with full mantissas: their sums are rounded, so the order of the sum shows
    # in the last bits (float32 hours, like the default's, often sum exactly in float64)
    ds["NOx"] = ds["NOx"].astype(np.float64) / 3.0
    days, day_labels = species_fields(ds, "NOx", "day")
    month, labels = species_fields(ds, "NOx", "month")
    assert days.dtype == month.dtype == np.float64
    assert [str(x)[:7] for x in labels] == ["2023-01", "2023-02"]
    assert labels.dtype == day_labels.dtype
    np.testing.assert_array_equal(month_fields_of_days(days, day_labels)[0], month)
    acc = None
    for a, b in ((0, 1), (1, 4)):  # January's days in spans of one and three days
        acc = add_day_fields(acc, days[a:b])
    np.testing.assert_array_equal(acc, month[0])
    running = days[4].copy()
    for d in days[5:]:
        running = running + d
    np.testing.assert_array_equal(running, month[1])
    hourly = total_grid(ds, "NOx").values.astype(np.float64)
    by_hour = np.stack([hourly[:96].sum(axis=0), hourly[96:].sum(axis=0)])
    np.testing.assert_allclose(month, by_hour, rtol=1e-12)
    assert not np.array_equal(month, by_hour)  # the day order is a choice: it shows
    with pytest.raises(InputDataError, match="at least one day"):
        add_day_fields(None, days[:0])
    with pytest.raises(InputDataError, match="sorted"):
        month_fields_of_days(days[::-1], day_labels[::-1])
