"""The zoning stage on the real default prior (January, default grid, embedded units)."""

import numpy as np
import pytest

from gridcarbon.zoning.hotspots import set_name

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    from gridcarbon.config import RunConfig
    from gridcarbon.grids.gridspec import GridSpec
    from gridcarbon.pipeline import build_prior, zone_report, zoning_inputs

    cfg = RunConfig()
    cfg.period.end = cfg.period.start.replace(day=12)  # 12 days: emerging analysis runs
    d = tmp_path_factory.mktemp("default_stage")
    cfg.zoning.cache_dir = d / "cache"
    cfg.zoning.toroidal_shifts = 49
    prior = build_prior(cfg)
    inputs = zoning_inputs(cfg, GridSpec.from_dataset(prior))
    (d / "out").mkdir()
    res, _ = zone_report(cfg, prior, inputs, d / "out")
    return cfg, prior, res, d


def test_default_stage_conserves_and_reports(default_run):
    cfg, prior, res, d = default_run
    assert 1000 <= len(res.units) <= 2500
    assert res.qa.n_overlaps == 0 and res.qa.gap_km2 < 1.0
    for s in ("CO2", "NOx", "VOC"):
        area = prior[s].values.astype(np.float64).sum()
        points = prior[f"{s}_point"].values.astype(np.float64).sum()
        inside = res.table[f"{s}_kg"].sum()
        outside = float(res.tally[f"{s}_outside"].sum())
        assert inside + outside == pytest.approx(area + points, rel=1e-6)
        # point sources: exact, each in the unit that contains it (or outside)
        pu = res.overlay.point_unit
        pts = prior[f"{s}_point"].values.astype(np.float64).sum(axis=0)
        assert res.table[f"{s}_point_kg"].sum() == pytest.approx(pts[pu >= 0].sum(), rel=1e-12)
    ind = res.units[res.units["subtype"] == "industrial_agglomeration"]
    assert ind["CO2_point_kg"].sum() > 0.5 * res.table["CO2_point_kg"].sum()
    assert set(res.hotspots) == {"hour", "day", "month"}
    # the table's observed counts are the co-located cell-steps of the hotspot layers
    for r in res.colocation.itertuples():
        coloc = res.hotspots[r.level][f"coloc_{set_name(tuple(r.set.split('+')))}"]
        assert r.observed_cell_steps == int((coloc.values > 0).sum()), (r.level, r.set)
    all3 = res.colocation.set_index(["level", "set"])["observed_cell_steps"]
    assert all3["day", "CO2+NOx+VOC"] > 0  # the default has co-located hotspots
    assert "CO2_emerging" in res.hotspots["day"]
    assert (d / "out" / "zone_report.html").stat().st_size > 10_000
