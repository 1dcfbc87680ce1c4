"""The synergy sections of a whole run (``synergy.zone_report``), on the small region built in
code (:mod:`tests.region`: 4 units, 4 stacks, 14 days).

The pipeline tallies the prior over the zoning stage's overlay; the co-control figures in the
zone report are checked against the same analysis on the run folder's files
(:func:`gridcarbon.synergy.unit_series.read_unit_daily`, which tallies both grids itself).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

import gridcarbon
from gridcarbon.config import RunConfig
from gridcarbon.errors import ConfigError
from gridcarbon.pipeline import check_zone_synergy
from gridcarbon.synergy.sections import cocontrol_analysis
from gridcarbon.synergy.unit_series import read_unit_daily
from tests.region import small_region_scenario

CAP_T = 5000
UNITS = ["ZH51010410001", "ZH51010420001", "ZH51010520001", "ZH51010530001"]


def _sheet(path, name) -> pd.DataFrame:
    """A sheet of the zone report: machine names in row 1, the people's labels in row 2."""
    rows = list(load_workbook(path, read_only=True)[name].iter_rows(values_only=True))
    return pd.DataFrame(rows[2:], columns=rows[0])


@pytest.fixture(scope="module")
def synergy_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("synergy_run")
    pd.DataFrame({"entity": UNITS, "base_t": [1.0, 2.0, 3.0, 4.0]}).to_csv(
        d / "allocation.csv", index=False
    )
    config = RunConfig.validate_dict(
        {
            "period": {"start": "2023-03-01", "end": "2023-03-14"},
            "synergy": {
                "zone_report": {
                    "enabled": True,
                    "rate_run_point_sources": True,
                    "allocation": {
                        "table": str(d / "allocation.csv"),
                        "cap_t": CAP_T,
                        "method": "historical",
                    },
                }
            },
        }
    )
    out = d / "out"
    result = gridcarbon.run(config, out_dir=out, scenario=small_region_scenario())
    return out, result


@pytest.mark.slow
def test_the_zone_report_and_map_carry_the_synergy_sections(synergy_run):
    out, result = synergy_run
    assert sorted(result.stages) == ["inversion", "maps", "synergy", "zoning"]
    page = (out / "zone_report.html").read_text(encoding="utf-8")
    for title in ("协同控制分析 co-control analysis", "企业红黄绿评价", "碳排放配额分配"):
        assert title in page
    assert page.index("<h2>Provenance</h2>") < page.index("协同控制分析")
    xlsx = out / "zone_report.xlsx"
    names = load_workbook(xlsx, read_only=True).sheetnames
    for sheet in (
        "cocontrol_correlation",
        "cocontrol_trend",
        "synergy_rating",
        "synergy_allocation",
    ):
        assert sheet in names
    alloc = _sheet(xlsx, "synergy_allocation").set_index("entity")
    assert alloc["allocation_t"].sum() == CAP_T
    assert list(alloc["allocation_t"]) == [500, 1000, 1500, 2000]
    # the carbon account compares with the zoning stage's posterior totals of the units
    units = pd.read_csv(out / "zone_units.csv", dtype={"unit_code": str}).set_index("unit_code")
    np.testing.assert_allclose(
        alloc["posterior_t"], units.loc[alloc.index, "CO2_kg"] / 1e3, rtol=1e-9
    )
    rating = _sheet(xlsx, "synergy_rating")
    assert len(rating) == 4 and set(rating["rating"]) <= {"green", "yellow", "red", "not rated"}
    assert "SYNTHETIC" in page
    summary = json.loads((out / "summary.json").read_text())
    assert "synergy" in summary["stages"]
    map_page = (out / "map.html").read_text(encoding="utf-8")
    assert "Enterprise rating" in map_page and "Carbon account" in map_page


@pytest.mark.slow
def test_the_report_s_co_control_figures_match_the_run_folder_s(synergy_run):
    out, _ = synergy_run
    series = read_unit_daily(out)
    tables = cocontrol_analysis(series.units, series.days, series.prior, series.posterior)
    expected = tables["correlation"]
    got = _sheet(out / "zone_report.xlsx", "cocontrol_correlation").set_index("unit_code")
    got = got.loc[expected.index]
    for column in [c for c in expected.columns if c.startswith(("rho_", "q_"))]:
        np.testing.assert_allclose(
            got[column].astype(float), expected[column].astype(float), rtol=1e-6, atol=1e-9
        )
    assert list(got["priority"]) == list(expected["priority"])


def test_zone_synergy_is_refused_without_the_inversion():
    config = RunConfig.validate_dict({"synergy": {"zone_report": {"enabled": True}}})
    with pytest.raises(ConfigError, match="needs the inversion stage"):
        check_zone_synergy(config, ("zoning", "maps"))
    check_zone_synergy(config, ("inversion", "zoning"))
    check_zone_synergy(RunConfig(), ("zoning",))  # off: nothing to check
    assert RunConfig().synergy.zone_report.enabled is False
