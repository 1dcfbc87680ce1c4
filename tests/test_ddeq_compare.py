"""The pure helpers of ``benchmarks/ddeq_compare.py`` (the ddeq anchor comparison): merging of
sources within 10 km, the NO2-to-NOx factor handed to ddeq, cropping and scoring."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "ddeq_compare.py"


@pytest.fixture(scope="module")
def dc():
    spec = importlib.util.spec_from_file_location("ddeq_compare", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_merge_within_groups_chains_and_keeps_far_sources_apart(dc):
    # 0-1 9 km apart, 1-2 9.5 km apart (0-2 18.5 km: merged through 1), 3 far, 4 exactly 10 km
    # from 3 (inclusive)
    x = np.array([0.0, 9.0, 18.5, 100.0, 110.0, 300.0])
    y = np.zeros(6)
    labels = dc.merge_within(x, y, 10.0)
    assert labels.tolist() == [0, 0, 0, 1, 1, 2]
    assert dc.merge_within(x, y, 5.0).tolist() == [0, 1, 2, 3, 4, 5]
    # diagonal distance, order-independent labels numbered by first member
    assert dc.merge_within(np.array([50.0, 0.0, 7.0]), np.array([0.0, 0.0, 7.0])).tolist() == [
        0,
        1,
        1,
    ]


def test_nox_per_no2_inverts_the_operator_chemistry(dc):
    from gridcarbon.kernels.plume import no2_weight

    tau, r0, req, tc = 4 * 3600.0, 0.1, 0.75, 1800.0
    t = np.array([0.0, 60.0, 1800.0, 3 * 3600.0, 10 * 3600.0])
    f = dc.nox_per_no2(t, tau, r0, req, tc)
    w = np.array([no2_weight(ti, tau, r0, req, tc) for ti in t])
    np.testing.assert_allclose(f * w, 1.0, rtol=1e-12)
    assert f[0] == pytest.approx(1 / r0)


def test_crop_window_holds_the_pixels_of_the_box(dc):
    lon, lat = np.meshgrid(np.linspace(119.0, 123.0, 81), np.linspace(28.0, 31.0, 61))
    rows, cols = dc.crop_window(lon, lat, 121.0, 29.5, 50.0)
    sub_lon, sub_lat = lon[rows, cols], lat[rows, cols]
    dx = (sub_lon - 121.0) * 111.32 * math.cos(math.radians(29.5))
    dy = (sub_lat - 29.5) * 110.57
    assert np.abs(dx).max() <= 50.0 and np.abs(dy).max() <= 50.0
    # one more row or column on either side leaves the box
    assert abs((lon[0, cols.stop] - 121.0) * 111.32 * math.cos(math.radians(29.5))) > 50.0
    assert abs((lat[rows.start - 1, 0] - 29.5) * 110.57) > 50.0
    assert dc.crop_window(lon, lat, 130.0, 29.5, 50.0) is None


def test_median_abs_rel_error_skips_missing_estimates(dc):
    est = np.array([1.1, np.nan, 0.5, 2.0])
    truth = np.array([1.0, 1.0, 1.0, 1.0])
    assert dc.median_abs_rel_error(est, truth) == pytest.approx(0.5)
    assert np.isnan(dc.median_abs_rel_error(np.array([np.nan]), np.array([1.0])))


def test_closed_form_plume_line_density(dc):
    """The crosswind integral of the closed-form column is Q r(t) e^(-t/τ) / u."""
    q, u = 0.5, 4.0
    chem = {"tau_s": 4 * 3600.0, "r0": 0.1, "req": 0.75, "tconv_s": 1800.0}
    y = np.linspace(-60e3, 60e3, 24001)
    for x in (5e3, 30e3, 80e3):
        col = dc.gaussian_plume_column(np.full_like(y, x), y, q, u, **chem)
        line = np.sum(col) * (y[1] - y[0])
        assert line == pytest.approx(q / u / dc.nox_per_no2(x / u, **chem), rel=1e-6)
    assert np.all(dc.gaussian_plume_column(np.full(3, -1.0), np.zeros(3), q, u, **chem) == 0)


def test_isolated_stacks_counts_other_points_and_city_disks(dc):
    # points (m): 0-1 one group; 2 a small plant 4 km from it; 3 alone; 4 alone but 12 km from a
    # city core of 5 km radius (disk edge 7 km away); 5 alone, 30 km from the core
    px = np.array([0.0, 1e3, 5e3, 100e3, 212e3, 230e3])
    py = np.zeros(6)
    table = [
        {"name": "a", "kind": "stack", "points": [0, 1]},
        {"name": "b", "kind": "stack", "points": [3]},
        {"name": "c", "kind": "stack", "points": [4]},
        {"name": "d", "kind": "stack", "points": [5]},
        {"name": "city", "kind": "city", "x": 200e3, "y": 0.0, "diameter_m": 10e3},
    ]
    assert dc.isolated_stacks(table, px, py, 10.0) == ["b", "d"]
    # the small plant 2 not counted as another source: the group is isolated
    counted = np.array([True, True, False, True, True, True])
    assert dc.isolated_stacks(table, px, py, 10.0, counted=counted) == ["a", "b", "d"]
    assert dc.isolated_stacks(table, px, py, 3.0, counted=counted) == ["a", "b", "c", "d"]


def test_widen_reaches_the_minimum_inside_the_array(dc):
    assert dc.widen(slice(60, 89), 50, 183) == slice(49, 99)
    assert dc.widen(slice(0, 29), 50, 183) == slice(0, 50)
    assert dc.widen(slice(170, 183), 50, 183) == slice(133, 183)
    assert dc.widen(slice(3, 60), 50, 183) == slice(3, 60)  # already wide enough
    assert dc.widen(slice(0, 10), 50, 30) == slice(0, 30)  # the array is narrower


def test_site_disks_hold_the_cells_within_the_radius_of_each_stack(dc):
    from types import SimpleNamespace

    grid = SimpleNamespace(x=np.arange(10) * 3000.0 + 1500.0, y=np.arange(8) * 3000.0 + 1500.0)
    stacks = [
        {"name": "stack_A+B", "kind": "stack", "x": 13500.0, "y": 10500.0},
        {"name": "city_C", "kind": "city", "x": 0.0, "y": 0.0},
    ]
    (site,) = dc.site_disks(SimpleNamespace(grid=grid), stacks, 5.0)
    assert site["name"] == "site_A+B" and site["kind"] == "site"
    ex, ey = np.meshgrid(grid.x, grid.y)
    d = np.hypot(ex.ravel() - 13500.0, ey.ravel() - 10500.0)
    # the stack's own cell and its 4 edge neighbours (3 km); the diagonals (4.24 km) too
    assert sorted(site["cells"]) == np.flatnonzero(d <= 5000.0).tolist()
    assert len(site["cells"]) == 9 and int(np.argmin(d)) in site["cells"]
