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
    assert np.all(np.diff(fp.area_ptr) >= 0)


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
