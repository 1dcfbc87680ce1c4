"""The Gaussian-plume operator: adjoint, linearity, truncation, physics checks."""

import numpy as np
import pytest

from gridcarbon.inversion.operator import (
    Receptors,
    adjoint,
    build_footprints,
    forward,
    truncation_loss,
)

NX = NY = 50
CS = 3000.0


def _receptors(n=150, seed=0, stability=None, speed=None):
    rng = np.random.default_rng(seed)
    return Receptors.from_arrays(
        rng.uniform(40e3, 110e3, n),
        rng.uniform(-110e3, -40e3, n),
        rng.uniform(5, 60, n),
        rng.integers(0, 6, n),
        rng.uniform(0.3, 8, n) if speed is None else np.full(n, speed),
        rng.uniform(0, 360, n),
        rng.integers(0, 6, n) if stability is None else np.full(n, stability),
        rng.uniform(150, 1500, n),
        np.full(n, 4 * 3600.0),
        np.full(n, 283.0),
    )


def _points(seed=1, n=12):
    rng = np.random.default_rng(seed)
    return {
        "x": rng.uniform(30e3, 120e3, n),
        "y": rng.uniform(-120e3, -30e3, n),
        "height": rng.uniform(30, 200, n),
        "diameter": rng.uniform(1, 6, n),
        "velocity": rng.uniform(5, 20, n),
        "temperature": rng.uniform(320, 450, n),
        "urban": rng.random(n) < 0.3,
    }


@pytest.fixture(scope="module")
def fp():
    urban = np.random.default_rng(3).random(NX * NY) < 0.3
    return build_footprints(_receptors(), 0.0, 0.0, CS, NX, NY, urban, _points())


@pytest.mark.parametrize("nox", [False, True])
def test_adjoint(fp, nox):
    rng = np.random.default_rng(5)
    E = rng.random((6, NX * NY))
    P = rng.random((6, 12)) * 100
    y = rng.standard_normal(fp.receptors.n)
    Hx = forward(fp, E, P, nox=nox)
    G, Gp = adjoint(fp, y, 6, nox=nox)
    lhs = float(Hx @ y)
    rhs = float((G * E).sum() + (Gp * P).sum())
    assert abs(lhs - rhs) <= 1e-10 * abs(lhs)


def test_linearity(fp):
    rng = np.random.default_rng(6)
    E1, E2 = rng.random((2, 6, NX * NY))
    P1, P2 = rng.random((2, 6, 12))
    a, b = 2.5, -0.7
    lhs = forward(fp, a * E1 + b * E2, a * P1 + b * P2)
    rhs = a * forward(fp, E1, P1) + b * forward(fp, E2, P2)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-9, atol=1e-12)
    assert np.all(forward(fp, E1, P1) >= 0)


def test_sparse_and_counts(fp):
    assert fp.nnz < fp.receptors.n * NX * NY / 5  # truncation makes H sparse
    assert fp.kernel_evaluations > 0
    # CSR over receptor-hours: one row per receptor-hour, covering every stored value
    assert fp.area_ptr.size == fp.pt_ptr.size == fp.receptors.n + 1
    assert fp.area_ptr[0] == 0 and fp.area_ptr[-1] == fp.area_idx.size == fp.area_val.size
    assert fp.pt_ptr[-1] == fp.pt_idx.size and fp.nnz == fp.area_idx.size + fp.pt_idx.size


def test_nox_decays(fp):
    E = np.ones((6, NX * NY))
    inert = forward(fp, E)
    nox = forward(fp, E, nox=True)
    assert np.all(nox <= inert * 0.75 + 1e-12)  # NO2 share <= 0.75 and decay <= 1


def test_truncation_loss_bound():
    rec = _receptors(n=60, seed=9)
    loss = truncation_loss(rec, (0.0, 0.0, CS, NX, NY), np.zeros(NX * NY, bool), sample=60)
    # lateral cut at 3 sigma_y: 1 - erf(3/sqrt(2)) = 0.27 % of the crosswind mass; bound 1 %
    assert 0 <= loss["lateral_loss"] < 0.01
    assert 0 <= loss["distance_loss"] < 1
    assert loss["total_loss"] >= loss["lateral_loss"] - 1e-12


def test_calm_floor_and_upwind_zero():
    # one receptor, wind blowing to the east: a cell far east (downwind of the receptor) adds 0
    rec = Receptors.from_arrays(
        [75e3],
        [-75e3],
        [10.0],
        [0],
        [0.2],
        [270.0],
        [3],
        [800.0],
        [14400.0],
        [283.0],
        calm_floor=1.0,
    )
    assert rec.speed[0] == 1.0
    fp = build_footprints(rec, 0.0, 0.0, CS, NX, NY, np.zeros(NX * NY, bool))
    E = np.zeros((1, NX * NY))
    row, col = int(75e3 // CS), int(75e3 // CS) + 5  # 15 km east
    E[0, row * NX + col] = 1.0
    assert forward(fp, E)[0] == 0.0
    E[0, row * NX + col] = 0.0
    E[0, row * NX + col - 5 - 3] = 1.0  # 9 km west (upwind)
    assert forward(fp, E)[0] > 0.0


def test_well_mixed_limit():
    """Far downwind under class D the area-source plume is uniform below the lid: a crosswind
    line of cells of 1 kg/h each gives about q/(u zi) per metre of line (mass conservation)."""
    zi, u = 120.0, 5.0  # sigma_z(21 km, D) = 205 m > 1.6 zi: uniform below the lid
    rec = Receptors.from_arrays(
        [75e3 + 1500], [-75e3 - 1500], [10.0], [0], [u], [270.0], [3], [zi], [1e12], [283.0]
    )
    fp = build_footprints(
        rec, 0.0, 0.0, CS, NX, NY, np.zeros(NX * NY, bool), lateral_sigmas=4.0, subcells=9
    )
    E = np.zeros((1, NX * NY))
    col = 25 - 7  # 21 km upwind
    E[0, np.arange(NY) * NX + col] = 1.0  # a north-south line of cells, 1 kg/h each
    c = forward(fp, E)[0]  # µg/m³
    expect = (1e9 / 3600.0) / CS / (u * zi)  # q per metre of line / (u zi)
    assert c == pytest.approx(expect, rel=0.05)


def _one_stack():
    return {
        "x": np.array([60e3]),
        "y": np.array([-75e3]),
        "height": np.array([80.0]),
        "diameter": np.array([3.0]),
        "velocity": np.array([10.0]),
        "temperature": np.array([400.0]),
        "urban": np.array([False]),
    }


def _stack_conc(ys, wind_from_deg, sd_rad, x=70e3):
    n = len(ys)
    rec = Receptors.from_arrays(
        np.full(n, x),
        np.asarray(ys, float),
        np.full(n, 2.0),
        np.zeros(n, int),
        np.full(n, 5.0),
        np.full(n, wind_from_deg, float),
        np.full(n, 3),
        np.full(n, 2000.0),
        np.full(n, 1e12),
        np.full(n, 283.0),
    )
    fp = build_footprints(
        rec,
        0.0,
        0.0,
        CS,
        NX,
        NY,
        np.zeros(NX * NY, bool),
        _one_stack(),
        lateral_sigmas=5.0,
        point_direction_sd_rad=sd_rad,
    )
    return forward(fp, np.zeros((1, NX * NY)), np.ones((1, 1)))


def test_point_plume_with_direction_uncertainty_is_the_expected_plume():
    """σy² += (x·sd)²: the expected concentration when the hourly wind direction is uncertain —
    it equals the narrow plume averaged over directions drawn from N(0, sd), and it carries the
    same crosswind-integrated mass as the narrow plume."""
    sd = np.radians(10.0)
    ys = -75e3 + np.arange(-9000.0, 9000.0 + 1, 25.0)
    narrow = _stack_conc(ys, 270.0, 0.0)
    wide = _stack_conc(ys, 270.0, sd)
    assert wide.max() < 0.5 * narrow.max()
    assert wide.sum() == pytest.approx(narrow.sum(), rel=1e-3)  # same mass crosswind
    # numerical expectation over wind directions (Gauss–Hermite-like grid, ±4 sd)
    th = np.linspace(-4 * sd, 4 * sd, 161)
    w = np.exp(-0.5 * (th / sd) ** 2)
    w /= w.sum()
    for y in (-75e3, -75e3 + 1000.0, -75e3 - 2500.0):
        avg = sum(
            wk * _stack_conc([y], 270.0 + np.degrees(t), 0.0)[0]
            for t, wk in zip(th, w, strict=True)
        )
        got = _stack_conc([y], 270.0, sd)[0]
        assert got == pytest.approx(avg, rel=0.05), y
