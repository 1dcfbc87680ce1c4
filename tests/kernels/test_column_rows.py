"""Rows of the column operator (:func:`gridcarbon.kernels.column.column_rows_fill`) against a
direct evaluation written out here: every area sub-source against every lattice sample of a
pixel, as the operator was first written (the kernel computes each source-sample offset once
per pixel and looks it up)."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridcarbon.kernels.column import (
    _cell_reaches,
    _cone_half_width,
    _cone_row_columns,
    _erf,
    _solve_between,
    area_vertical_tables,
    column_rows_fill,
    plume_depth_wind,
    polygon_lattice_counts,
    polygon_lattice_fill,
    rows_nonzero,
)
from gridcarbon.kernels.dispersion import sigmas
from gridcarbon.kernels.plume import _KGH_TO_UGS, no2_weight

CS = 3000.0
X0, Y1 = 10_000.0, 500_000.0
NX, NY = 30, 26
Z_EDGES = np.array([0, 60, 150, 300, 500, 800, 1200, 1700, 2300, 3000, 4500, 7000, 11000, np.inf])
KERNEL = np.linspace(0.4, 1.2, Z_EDGES.size - 1)
TAU, R0, REQ, TAUC = 4 * 3600.0, 0.1, 0.75, 1800.0
H_SRC, LID, DEPTH, RMAX, LATK = 10.0, 1.6, 500.0, 150_000.0, 4.0


def _pixels(rng, n):
    """Tilted quadrilaterals of ~3.5 × 5.5 km inside the grid."""
    a = np.radians(12.0)
    ux = np.array([np.cos(a), np.sin(a)]) * 3500.0
    uy = np.array([-np.sin(a), np.cos(a)]) * 5500.0
    ox = rng.uniform(X0 + 20e3, X0 + NX * CS - 20e3, n)
    oy = rng.uniform(Y1 - NY * CS + 20e3, Y1 - 20e3, n)
    cx = np.stack([ox, ox + ux[0], ox + ux[0] + uy[0], ox + uy[0]], axis=1)
    cy = np.stack([oy, oy + ux[1], oy + ux[1] + uy[1], oy + uy[1]], axis=1)
    return cx, cy


def _direct(p, sx, sy, sw, ptr, met, tab_r, tab_u, lx0, dlx, urban, nsub, near_m, reach_p):
    """The area-source columns of pixel ``p``, sub-source by sub-source, sample by sample."""
    u10, ex, ey, k, tau = (met[name][p] for name in ("u10", "ex", "ey", "k", "tau"))
    cxp, cyp = met["cx"][p], met["cy"][p]
    hd = CS * 0.7072
    reach = reach_p + hd
    acc = np.zeros(NX * NY)
    accn = np.zeros(NX * NY)
    u_rural = plume_depth_wind(u10, k, False, H_SRC, DEPTH)
    u_urban = plume_depth_wind(u10, k, True, H_SRC, DEPTH)
    if met["uplume"][p] > 0:  # a wind given for every plume of the pixel
        u_rural = u_urban = met["uplume"][p]
    for row in range(NY):
        cy_ = Y1 - (row + 0.5) * CS
        for col in range(NX):
            cx_ = X0 + (col + 0.5) * CS
            dcx, dcy = cxp - cx_, cyp - cy_
            xd = dcx * ex + dcy * ey
            yd = -dcx * ey + dcy * ex
            if xd < -reach or xd > RMAX + reach:
                continue
            wide = max(sigmas(k, xd + reach, False)[0], sigmas(k, xd + reach, True)[0])
            if abs(yd) > LATK * wide + reach:
                continue
            ns = nsub if abs(xd) <= near_m + reach else 1
            w = CS / ns
            cell = row * NX + col
            is_urban = bool(urban[cell])
            u = u_urban if is_urban else u_rural
            tab = tab_u[p] if is_urban else tab_r[p]
            a_sum = n_sum = 0.0
            for i in range(ns):
                ox = cx_ - 0.5 * CS + (i + 0.5) * w
                for j in range(ns):
                    oy = cy_ - 0.5 * CS + (j + 0.5) * w
                    for q in range(ptr[p], ptr[p + 1]):
                        dx, dy = sx[q] - ox, sy[q] - oy
                        xs = dx * ex + dy * ey
                        if xs < 1.0 or xs > RMAX:
                            continue
                        ys = -dx * ey + dy * ex
                        s_y = sigmas(k, xs, is_urban)[0]
                        lim = LATK * s_y
                        a, b = max(ys - 0.5 * w, -lim), min(ys + 0.5 * w, lim)
                        if b <= a:
                            continue
                        lat = (
                            math.erf(b / (math.sqrt(2) * s_y)) - math.erf(a / (math.sqrt(2) * s_y))
                        ) / (2.0 * w)
                        t = (math.log(xs) - lx0) / dlx
                        if t <= 0:
                            vert = tab[0]
                        elif t >= tab.size - 1:
                            vert = tab[-1]
                        else:
                            i0 = int(t)
                            vert = tab[i0] * (1 - (t - i0)) + tab[i0 + 1] * (t - i0)
                        v = sw[q] * lat * vert / u
                        a_sum += v
                        n_sum += v * no2_weight(xs / u, tau, R0, REQ, TAUC)
            if a_sum > 0:
                acc[cell] += a_sum * _KGH_TO_UGS / (ns * ns)
                accn[cell] += n_sum * _KGH_TO_UGS / (ns * ns)
    return acc, accn


@pytest.mark.parametrize(
    ("sample_cells", "nsub", "given_wind"),
    [(2, 3, False), (1, 2, False), (3, 3, False), (2, 3, True)],
)
def test_rows_equal_the_direct_evaluation(sample_cells, nsub, given_wind):
    """``given_wind``: a plume wind given per pixel (``pix_uplume``, one pixel left at 0: the
    profile's) in place of the ISC3 profile's plume-depth wind."""
    rng = np.random.default_rng(sample_cells * 10 + nsub)
    n = 4
    cx, cy = _pixels(rng, n)
    s = CS / sample_cells
    nc = np.full(n, 4, np.int64)
    counts = polygon_lattice_counts(cx, cy, nc, X0, Y1, s)
    ptr_cap = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    sx, sy, sw = (np.empty(ptr_cap[-1]) for _ in range(3))
    sn = np.zeros(n, np.int64)
    polygon_lattice_fill(cx, cy, nc, X0, Y1, s, ptr_cap, sx, sy, sw, sn)
    keep = np.arange(ptr_cap[-1]) - np.repeat(ptr_cap[:-1], counts) < np.repeat(sn, counts)
    owner = np.repeat(np.arange(n), counts)[keep]
    sx, sy = sx[keep], sy[keep]
    sw = sw[keep] * rng.uniform(0.5, 2.0, n)[owner]  # a weight per pixel, as in a row
    ptr = np.concatenate([[0], np.cumsum(sn)]).astype(np.int64)
    pcx, pcy = cx.mean(1), cy.mean(1)
    reach = np.zeros(n)
    np.maximum.at(reach, owner, np.hypot(sx - pcx[owner], sy - pcy[owner]))
    reach += s
    th = rng.uniform(0, 2 * np.pi, n)
    met = {
        "u10": rng.uniform(1.0, 8.0, n),
        "ex": np.sin(th),
        "ey": np.cos(th),
        "k": np.array([0, 3, 5, 2])[:n].astype(np.int64),
        "zi": rng.uniform(300, 1500, n),
        "tau": np.full(n, TAU),
        "t2m": np.full(n, 285.0),
        "uplume": rng.uniform(2.0, 9.0, n) * (np.arange(n) > 0) if given_wind else np.zeros(n),
        "cx": pcx,
        "cy": pcy,
    }
    nl = Z_EDGES.size - 1
    z = np.tile(Z_EDGES, (n, 1))
    ak = np.tile(KERNEL, (n, 1))
    nodes = np.geomspace(1.0, RMAX, 128)
    tab_r, tab_u = np.zeros((n, nodes.size)), np.zeros((n, nodes.size))
    area_vertical_tables(
        met["k"], met["zi"], H_SRC, LID, z, ak, np.full(n, nl, np.int64), nodes, tab_r, tab_u
    )
    lx0, dlx = 0.0, float(np.log(nodes[1] / nodes[0]))
    urban = rng.random(NX * NY) < 0.3
    near_m = 15_000.0
    rows = np.arange(n + 1, dtype=np.int64)  # one pixel per row
    acc, accn = np.zeros((n, NX * NY)), np.zeros((n, NX * NY))
    none = np.zeros(0)
    column_rows_fill(
        rows, np.arange(n, dtype=np.int64), ptr, sx, sy, sw, 0.5 * s, pcx, pcy, reach,
        met["u10"], met["ex"], met["ey"], met["k"], met["zi"], met["tau"], met["t2m"],
        met["uplume"], tab_r, tab_u, lx0, dlx, z, ak, np.full(n, nl, np.int64), X0, Y1, CS, NX, NY, urban,
        nsub, near_m, H_SRC, LID, DEPTH, RMAX, LATK, none, none, none, none, none, none,
        np.zeros(0, np.bool_), 0.0, R0, REQ, TAUC * 1.0, acc, accn, np.zeros((n, 0)),
        np.zeros((n, 0)),
    )  # fmt: skip
    for p in range(n):
        ref, refn = _direct(
            p, sx, sy, sw, ptr, met, tab_r, tab_u, lx0, dlx, urban, nsub, near_m, reach[p]
        )
        assert np.count_nonzero(ref) > 20  # a plume over many cells
        assert np.array_equal(acc[p] != 0, ref != 0)
        np.testing.assert_allclose(acc[p], ref, rtol=1e-10, atol=0)
        np.testing.assert_allclose(accn[p], refn, rtol=1e-10, atol=0)


def test_sigma_y_grows_with_distance():
    """The kernel bounds each pixel's cone by its crosswind width at the far end, which holds
    only while sigma_y grows with distance: every class, rural and urban, 1 m to 1,000 km."""
    x = np.geomspace(1.0, 1e6, 2000)
    for k in range(6):
        for urban in (False, True):
            sy = np.array([sigmas(k, xi, urban)[0] for xi in x])
            assert np.all(np.diff(sy) > 0), (k, urban)


@numba.njit
def _numba_erf(x):
    return math.erf(x)


def test_saturated_erf_is_math_erf_bit_for_bit():
    """The kernels called numba's ``math.erf`` before; the saturated one gives the same bits."""
    x = np.concatenate([np.linspace(-8.0, 8.0, 20001), [-6.0, 6.0, 5.92, -5.92, 1e300, -1e300]])
    assert all(_erf(v) == _numba_erf(v) for v in x)


@settings(max_examples=300, deadline=None)
@given(
    a=st.floats(-1, 1),
    b=st.floats(-1e6, 1e6),
    lo=st.floats(-1e6, 1e6),
    width=st.floats(0, 1e6),
    t=st.floats(-1e7, 1e7),
)
def test_solve_between_keeps_every_value_in_band(a, b, lo, width, t):
    """As the kernel uses it: the band widened by a metre holds every t whose computed
    a t + b is in the band, whatever the rounding (a is a component of a unit vector, b and
    the band are metres); and nothing far outside it."""
    hi = lo + width
    first, last = _solve_between(a, b, lo - 1.0, hi + 1.0)
    slack = 1e-9 * max(1.0, abs(t))  # the division's rounding; the kernel adds a cell
    if lo <= a * t + b <= hi:
        assert first - slack <= t <= last + slack
    if first <= t <= last:
        assert lo - 1.0 - 1e-6 <= a * t + b <= hi + 1.0 + 1e-6


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    nrow=st.integers(0, 6),
    ncol=st.integers(0, 40),
    density=st.floats(0, 1),
)
def test_rows_nonzero_is_flatnonzero_of_each_row(seed, nrow, ncol, density):
    rng = np.random.default_rng(seed)
    acc = np.where(rng.random((8, ncol)) < density, rng.normal(size=(8, ncol)), 0.0)
    accn = rng.normal(size=(8, ncol))
    ptr, idx, val, valn = rows_nonzero(acc, accn, nrow)
    assert ptr[0] == 0 and ptr.size == nrow + 1
    for r in range(nrow):
        nz = np.flatnonzero(acc[r])
        np.testing.assert_array_equal(idx[ptr[r] : ptr[r + 1]], nz)
        np.testing.assert_array_equal(val[ptr[r] : ptr[r + 1]], acc[r, nz])
        np.testing.assert_array_equal(valn[ptr[r] : ptr[r + 1]], accn[r, nz])
    assert ptr[-1] == idx.size == val.size == valn.size


@numba.njit
def _cone_cells_outside_rows(n, pcx, pcy, ex, ey, reach, k):
    """Over an n × n grid: the cells ``_cell_reaches`` keeps, and those of them outside the
    columns ``_cone_row_columns`` gives for their row."""
    half = _cone_half_width(k, RMAX + reach, reach, LATK)
    kept = outside = 0
    for row in range(n):
        dcy = pcy - (Y1 - (row + 0.5) * CS)
        first, end = _cone_row_columns(pcx, dcy, ex, ey, reach, RMAX, half, X0, CS, 0, n)
        for col in range(n):
            dcx = pcx - (X0 + (col + 0.5) * CS)
            if _cell_reaches(dcx, dcy, ex, ey, RMAX, reach, k, LATK):
                kept += 1
                if col < first or col >= end:
                    outside += 1
    return kept, outside


@settings(max_examples=200, deadline=None)
@given(
    k=st.integers(0, 5),
    theta=st.one_of(
        st.sampled_from([0.0, math.pi / 2, math.pi, 3 * math.pi / 2]), st.floats(0, 2 * math.pi)
    ),
    reach=st.floats(1000.0, 9000.0),
    fx=st.floats(0.25, 0.75),
    fy=st.floats(0.25, 0.75),
)
def test_cone_rows_hold_every_cell_the_cone_keeps(k, theta, reach, fx, fy):
    """The kernel tests only the columns ``_cone_row_columns`` gives for each row: on a grid
    wider than the cone (390 km), every cell ``_cell_reaches`` keeps is among them, whatever
    the wind (also exactly along a grid axis), class and pixel position."""
    n = 130
    kept, outside = _cone_cells_outside_rows(
        n, X0 + fx * n * CS, Y1 - fy * n * CS, math.sin(theta), math.cos(theta), reach, k
    )
    assert kept > 100 and outside == 0
