"""The column plume kernel: line density Q/ū (inert) and Q r e^(-t/τ)/ū (NOx) across the plume,
independence of the mixing height under a uniform averaging kernel, and mass-conserving pixel
integration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridcarbon.kernels.column import (
    point_column,
    polygon_lattice_counts,
    polygon_lattice_fill,
    vertical_kernel_weight,
)
from gridcarbon.kernels.dispersion import (
    WIND_PROFILE_EXPONENT_RURAL,
    WIND_PROFILE_EXPONENT_URBAN,
    sigmas,
)

#: layer edges (m) from the ground to the top of the atmosphere
Z_EDGES = np.array([0, 60, 150, 300, 500, 800, 1200, 1700, 2300, 3000, 4500, 7000, 11000, np.inf])
UNIFORM = np.ones(Z_EDGES.size - 1)
U10, ZI, DEPTH, LID = 3.0, 800.0, 500.0, 1.6
TAU, R0, REQ, TAUC = 4 * 3600.0, 0.1, 0.75, 1800.0
UG_PER_KG_H = 1e9 / 3600.0


def _line_density(x, k, urban, he, zi=ZI, kernel=UNIFORM, dh=0.0, dir_sd=0.0):
    """∫ column dy across the plume at ``x`` m downwind (trapezoid over ±9 sigma_y)."""
    sy, _ = sigmas(k, x, urban)
    sy = math.sqrt(sy**2 + (dh / 3.5) ** 2 + (x * dir_sd) ** 2)
    ys = np.linspace(-9 * sy, 9 * sy, 4001)
    vals = np.array(
        [
            point_column(
                x, y, k, urban, U10, he, dh, zi, LID, DEPTH, dir_sd, Z_EDGES, kernel,
                kernel.size, TAU, R0, REQ, TAUC,
            )
            for y in ys
        ]
    )  # fmt: skip
    return np.trapezoid(vals[:, 0], ys), np.trapezoid(vals[:, 1], ys)


def _depth_wind(k, urban, he):
    """The plume-depth wind written out: mean of u10 (z/10)^p over 0..max(500 m, 2 he)."""
    p = (WIND_PROFILE_EXPONENT_URBAN if urban else WIND_PROFILE_EXPONENT_RURAL)[k]
    d = max(DEPTH, 2 * he)
    z = np.linspace(0.0, d, 200_001)
    return float(np.trapezoid(U10 * (z / 10.0) ** p, z) / d)


@pytest.mark.parametrize("k", range(6))
@pytest.mark.parametrize("he", [60.0, 1500.0], ids=["below_lid", "above_lid"])
@pytest.mark.parametrize("urban", [False, True], ids=["rural", "urban"])
def test_line_density_is_q_over_u_and_decays_for_nox(k, he, urban):
    for x in (1_000.0, 10_000.0, 100_000.0):
        inert, nox = _line_density(x, k, urban, he, dh=20.0, dir_sd=0.1)
        u = _depth_wind(k, urban, he)
        t = x / u
        r = REQ - (REQ - R0) * math.exp(-t / TAUC)
        assert inert == pytest.approx(UG_PER_KG_H / u, rel=1e-3)
        assert nox == pytest.approx(UG_PER_KG_H * r * math.exp(-t / TAU) / u, rel=1e-3)


@pytest.mark.parametrize("k", range(6))
def test_uniform_kernel_column_does_not_depend_on_mixing_height(k):
    for he in (10.0, 200.0, 900.0):
        for x in (500.0, 5_000.0, 50_000.0, 150_000.0):
            base = point_column(
                x, 300.0, k, False, U10, he, 0.0, 1000.0, LID, DEPTH, 0.0, Z_EDGES, UNIFORM,
                UNIFORM.size, TAU, R0, REQ, TAUC,
            )  # fmt: skip
            for zi in (150.0, 400.0, 700.0, 1500.0, 2500.0):
                other = point_column(
                    x, 300.0, k, False, U10, he, 0.0, zi, LID, DEPTH, 0.0, Z_EDGES, UNIFORM,
                    UNIFORM.size, TAU, R0, REQ, TAUC,
                )  # fmt: skip
                assert other[0] == pytest.approx(base[0], rel=1e-6)
                assert other[1] == pytest.approx(base[1], rel=1e-6)


@given(
    k=st.integers(0, 5),
    h=st.floats(0.0, 3000.0),
    sz=st.floats(1.0, 5000.0),
    zi=st.floats(50.0, 4000.0),
    cuts=st.lists(st.floats(1.0, 15000.0), min_size=1, max_size=30, unique=True),
)
@settings(max_examples=300, deadline=None)
def test_layer_shares_add_up_to_one(k, h, sz, zi, cuts):
    # any layering from the ground to the top of the atmosphere: the plume is all somewhere
    z = np.array([0.0, *sorted(cuts), np.inf])
    v = vertical_kernel_weight(k, h, sz, sz, zi, LID, z, np.ones(z.size - 1), z.size - 1)
    assert v == pytest.approx(1.0, abs=1e-9)


def test_kernel_weights_layers_by_their_share():
    # a well-mixed plume (sigma_z >> zi) below the lid fills [0, zi] evenly: the weight is the
    # mean of the kernel over [0, zi]
    kernel = np.linspace(0.4, 1.2, Z_EDGES.size - 1)
    zi = 1000.0
    v = vertical_kernel_weight(3, 10.0, 5000.0, 5000.0, zi, LID, Z_EDGES, kernel, kernel.size)
    width = np.clip(np.minimum(Z_EDGES[1:], zi) - Z_EDGES[:-1], 0, None)
    assert v == pytest.approx(float((kernel * width).sum() / zi), rel=1e-12)
    # a stable plume near the ground sits in the lowest layer
    v_low = vertical_kernel_weight(5, 5.0, 5.0, 5.0, zi, LID, Z_EDGES, kernel, kernel.size)
    assert v_low == pytest.approx(kernel[0], rel=1e-6)


def _tiling(nx, ny, size, jitter, seed):
    """Quadrilaterals tiling [0, nx size] × [0, ny size] from a lattice of vertices moved at
    random inside (the boundary stays straight)."""
    rng = np.random.default_rng(seed)
    vx, vy = np.meshgrid(np.arange(nx + 1) * size, np.arange(ny + 1) * size)
    vx, vy = vx.astype(float), vy.astype(float)
    inner = (slice(1, -1), slice(1, -1))
    vx[inner] += rng.uniform(-jitter, jitter, vx[inner].shape) * size
    vy[inner] += rng.uniform(-jitter, jitter, vy[inner].shape) * size
    cx, cy = [], []
    for j in range(ny):
        for i in range(nx):
            cx.append([vx[j, i], vx[j, i + 1], vx[j + 1, i + 1], vx[j + 1, i]])
            cy.append([vy[j, i], vy[j, i + 1], vy[j + 1, i + 1], vy[j + 1, i]])
    return np.array(cx), np.array(cy)


def _lattice_samples(cx, cy, s):
    n = np.full(cx.shape[0], cx.shape[1], np.int64)
    counts = polygon_lattice_counts(cx, cy, n, 0.0, 0.0, s)
    ptr = np.zeros(cx.shape[0] + 1, np.int64)
    np.cumsum(counts, out=ptr[1:])
    ox, oy, ow = (np.zeros(ptr[-1]) for _ in range(3))
    on = np.zeros(cx.shape[0], np.int64)
    polygon_lattice_fill(cx, cy, n, 0.0, 0.0, s, ptr, ox, oy, ow, on)
    return ptr, on, ox, oy, ow


def _field(x, y):
    """A plume-like column field, mol m-2."""
    return 1e-4 * np.exp(-(((x - 7e3) / 4e3) ** 2) - ((y + 5e3) / 2e3) ** 2) + 2e-6


@given(seed=st.integers(0, 10_000), jitter=st.floats(0.0, 0.3))
@settings(max_examples=25, deadline=None)
def test_pixel_means_conserve_the_integral(seed, jitter):
    # pixels 3.5 km tiling 35 km × 21 km below the origin; lattice 1.5 km (the grid's y1 = 0)
    size, s = 3500.0, 1500.0
    cx, cy = _tiling(10, 6, size, jitter, seed)
    cy = cy - 6 * size
    ptr, on, ox, oy, ow = _lattice_samples(cx, cy, s)
    area = 0.5 * np.abs((cx * np.roll(cy, -1, axis=1) - np.roll(cx, -1, axis=1) * cy).sum(axis=1))
    total = 0.0
    for p in range(cx.shape[0]):
        sl = slice(ptr[p], ptr[p] + on[p])
        assert ow[sl].sum() == pytest.approx(1.0, abs=1e-12)
        total += area[p] * float((ow[sl] * _field(ox[sl], oy[sl])).sum())
    # the field taken as constant on each lattice square, integrated over the tiled rectangle
    xs = np.arange(0.0, 35_000.0, s)
    ys = -np.arange(0.0, 21_000.0, s)
    qx, qy = np.meshgrid(xs, ys)
    w = (np.minimum(qx + s, 35_000.0) - qx) * (np.minimum(-qy + s, 21_000.0) + qy)
    exact = float((_field(qx + s / 2, qy - s / 2) * w).sum())
    assert total == pytest.approx(exact, rel=1e-6)
    assert area.sum() == pytest.approx(35_000.0 * 21_000.0, rel=1e-12)
