"""The hotspot statistic is a callable chosen by name (``zoning.hotspot_statistic``).

Gi* is registered as ``gi_star``; a toy statistic registered through the public API runs the
whole zoning stage in a subprocess (so that the registry of this process stays as it was).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from gridcarbon.config.zoning import ZoningConfig
from gridcarbon.errors import ConfigError
from gridcarbon.zoning.gistar import gi_star
from gridcarbon.zoning.hotspots import (
    DEFAULT_STATISTIC,
    register_statistic,
    statistic,
    statistic_label,
    statistic_names,
)

ROOT = Path(__file__).resolve().parents[2]


def test_gi_star_is_the_default():
    assert ZoningConfig().hotspot_statistic == DEFAULT_STATISTIC == "gi_star"
    assert "gi_star" in statistic_names() and statistic_label("gi_star") == "Getis-Ord Gi*"
    rng = np.random.default_rng(3)
    fields = rng.random((2, 12, 14))
    mask = np.ones((12, 14), bool)
    z = statistic("gi_star")(fields, mask, 6500.0, 3000.0)
    assert z.dtype == np.float32
    np.testing.assert_array_equal(z, gi_star(fields, mask, 6500.0, 3000.0).astype(np.float32))


def test_unknown_and_bad_registrations_refused():
    with pytest.raises(ConfigError, match=r"'nope' is not a registered .*\['gi_star'"):
        statistic("nope")
    with pytest.raises(ConfigError, match="letters, digits and underscores"):
        register_statistic("no spaces", lambda *a: None)
    with pytest.raises(ConfigError, match="not callable"):
        register_statistic("toy", 42)
    with pytest.raises(ConfigError, match="registered already"):
        register_statistic("gi_star", lambda *a: None)
    assert "toy" not in statistic_names()


def test_unknown_statistic_refused_before_any_work(small_grid):
    from synthetic import synthetic_grids

    from gridcarbon.species import DEFAULT_SPECIES
    from gridcarbon.zoning.stage import run_zoning

    ds = synthetic_grids(small_grid, days=1, n_points=0)
    cfg = ZoningConfig(hotspot_statistic="getis_ord")
    with pytest.raises(ConfigError, match=r"getis_ord.*registered: \['gi_star'"):
        run_zoning(ds, object(), cfg, species=DEFAULT_SPECIES)


TOY = textwrap.dedent(
    """
    import json, sys
    import geopandas as gpd
    import numpy as np
    import shapely
    from synthetic import synthetic_grids

    from gridcarbon.config.zoning import ZoningConfig
    from gridcarbon.grids.gridspec import GridSpec
    from gridcarbon.species import DEFAULT_SPECIES
    from gridcarbon.zoning.normalise import control_units
    from gridcarbon.zoning.gistar import fdr_bins
    from gridcarbon.zoning.hotspots import register_statistic, species_fields, statistic_names
    from gridcarbon.zoning.report import html_context
    from gridcarbon.zoning.stage import run_zoning


    def cell_z(fields, mask, radius_m, cell_size_m):
        # each region cell's value standardised over the region cells of its time step
        inside = fields[:, mask]
        mean = inside.mean(axis=1)[:, None, None]
        sd = inside.std(axis=1)[:, None, None]
        return np.where(mask, (fields - mean) / sd, np.nan)


    register_statistic("cell_z", cell_z, "region z-score")
    grid = GridSpec(**json.loads(sys.argv[1]))
    ds = synthetic_grids(grid, days=10, n_points=10, seed=5)
    x0, y0, x1, y1 = grid.bounds
    xs = np.linspace(x0, x1, 4)
    units = gpd.GeoDataFrame(
        {"unit_code": [f"ZH33010930{k:03d}" for k in range(3)], "category": "一般管控单元"},
        geometry=[shapely.box(xs[i], y0, xs[i + 1], y1) for i in range(3)],
        crs=grid.crs,
    ).to_crs("EPSG:4490")
    cfg = ZoningConfig(
        hotspot_statistic="cell_z", toroidal_shifts=5, check_offset=False, qa_region="none"
    )
    units, qa = control_units(units, cfg, grid)
    res = run_zoning(ds, units, cfg, species=DEFAULT_SPECIES, qa=qa)
    day = res.hotspots["day"]
    mask = day["region_mask"].values.astype(bool)
    checks = {}
    for s in ("CO2", "NOx", "VOC"):
        fields, _ = species_fields(ds, s, "day")
        z = day[f"{s}_z"].values
        toy = cell_z(fields, mask, cfg.gi_radius_m, grid.cell_size).astype(np.float32)
        checks[f"{s} z is the toy's"] = bool(np.array_equal(z, toy, equal_nan=True))
        bins = fdr_bins(z, mask, cfg.fdr_levels)
        checks[f"{s} bins from its z"] = bool(np.array_equal(day[f"{s}_bin"].values, bins))
        checks[f"{s} z names it"] = day[f"{s}_z"].attrs.get("statistic") == "cell_z"
        checks[f"{s} has hot spots"] = bool((bins >= 1).any())
    hot = np.logical_and.reduce([day[f"{s}_bin"].values >= 1 for s in ("CO2", "NOx", "VOC")])
    checks["co-location of its bins"] = bool(np.array_equal(day["coloc_all"].values > 0, hot))
    checks["emerging analysis ran"] = "CO2_emerging" in day
    checks["unit figures"] = bool(res.units["coloc_all_cell_days"].notna().all())
    checks["the report names it"] = "region z-score" in html_context(res, cfg, {})["method"]
    checks["registered"] = list(statistic_names())
    print(json.dumps(checks))
    """
)


def test_a_toy_statistic_runs_the_stage(small_grid):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "tests" / "zoning")])
    grid = {
        "crs_wkt": small_grid.crs_wkt,
        "x_min": small_grid.x_min,
        "y_max": small_grid.y_max,
        "cell_size": small_grid.cell_size,
        "nx": small_grid.nx,
        "ny": small_grid.ny,
    }
    done = subprocess.run(
        [sys.executable, "-c", TOY, json.dumps(grid)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    checks = json.loads(done.stdout.strip().splitlines()[-1])
    assert checks.pop("registered") == ["cell_z", "gi_star"]
    assert checks == dict.fromkeys(checks, True) and len(checks) == 16
    assert "cell_z" not in statistic_names()  # nothing leaked into this process
