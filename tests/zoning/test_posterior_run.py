"""The posterior σ of unit totals in a real run: the inversion's covariance, handed to the zoning
stage by the pipeline through ``contracts.PosteriorCovariance`` (coarse grid, 3 days)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow


def test_posterior_std_of_a_run(tmp_path):
    import gridcarbon
    from gridcarbon.config import RunConfig
    from gridcarbon.contracts import ZoningResult

    cfg = RunConfig.validate_dict(
        {  # the default scenario on 30 km cells over 3 days
            "grid": {"cell_size_m": 30000.0},
            "period": {"start": dt.date(2023, 1, 20), "end": dt.date(2023, 1, 22)},
            "zoning": {
                "gi_radius_m": 65000.0,
                "toroidal_shifts": 0,
                "hourly_hotspots": False,
                "cache_dir": str(tmp_path / "cache"),
            },
            "maps": {"enabled": False},
        }
    )
    result = gridcarbon.run(cfg, out_dir=tmp_path / "run")
    inversion, zoning = result.stages["inversion"], result.stages["zoning"]
    assert isinstance(zoning, ZoningResult) and zoning.grids_kind == "posterior"
    table = pd.read_csv(tmp_path / "run" / "zone_units.csv", dtype={"unit_code": str})
    assert table["unit_code"].tolist() == zoning.table["unit_code"].tolist()
    for sp in ("CO2", "NOx", "VOC"):
        expect = inversion.covariance.total_std(
            zoning.overlay.F, sp, point_unit=zoning.overlay.point_unit
        )
        got = zoning.table[f"{sp}_posterior_std_kg"].to_numpy()
        np.testing.assert_allclose(got, expect, rtol=1e-12)
        np.testing.assert_allclose(table[f"{sp}_posterior_std_kg"], got, rtol=1e-12)
        # σ of a unit's total: positive where it emits, and below its total for most units
        emits = zoning.table[f"{sp}_kg"] > 0
        assert (got[emits] > 0).all()
        assert np.median(zoning.table.loc[emits, f"{sp}_posterior_cv"]) < 1.0
    # every zone output says what it tallied: the report visibly, the files in their metadata
    html = (tmp_path / "run" / "zone_report.html").read_text(encoding="utf-8")
    assert "<b>Figures tallied:</b> posterior emissions" in html
    import xarray as xr

    with xr.open_dataset(tmp_path / "run" / "zone_tally_daily.nc") as daily:
        assert daily.attrs["figures"].startswith("posterior emissions")


def test_a_prior_only_run_says_its_zone_figures_are_the_prior(tmp_path):
    import gridcarbon
    from gridcarbon.config import RunConfig

    cfg = RunConfig.validate_dict(
        {
            "grid": {"cell_size_m": 30000.0},
            "period": {"start": dt.date(2023, 1, 20), "end": dt.date(2023, 1, 22)},
            "inversion": {"enabled": False},
            "zoning": {"gi_radius_m": 65000.0, "toroidal_shifts": 0, "hourly_hotspots": False},
            "maps": {"enabled": False},
        }
    )
    gridcarbon.run(cfg, out_dir=tmp_path / "run")
    html = (tmp_path / "run" / "zone_report.html").read_text(encoding="utf-8")
    assert "<b>Figures tallied:</b> prior emissions (the inventory" in html
