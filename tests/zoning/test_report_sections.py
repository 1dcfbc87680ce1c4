"""Further sections of the zone report (:class:`gridcarbon.contracts.ReportSection`): none
leaves the report as it was; given ones are appended to the HTML page and the workbook."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from synthetic import synthetic_grids

from gridcarbon.config.zoning import ZoningConfig
from gridcarbon.contracts import ReportSection
from gridcarbon.errors import InputDataError
from gridcarbon.species import DEFAULT_SPECIES
from gridcarbon.zoning.normalise import control_units
from gridcarbon.zoning.report import add_sections, zoning_documents
from gridcarbon.zoning.stage import run_zoning

PROVENANCE = {"synthetic": "true", "config": ""}


@pytest.fixture(scope="module")
def small_result(small_grid, tmp_path_factory):
    d = tmp_path_factory.mktemp("sections")
    boxes = [shapely.box(120.0 + 0.2 * i, 29.9, 120.2 + 0.2 * i, 30.3) for i in range(3)]
    gpd.GeoDataFrame(
        {
            "单元编码": [f"ZH33010920{i:03d}" for i in range(3)],
            "单元名称": [f"单元{i}" for i in range(3)],
            "管控类别": ["重点管控单元"] * 3,
            "单元分类": ["产业集聚类"] * 3,
        },
        geometry=boxes,
        crs="EPSG:4490",
    ).to_file(d / "units.gpkg", layer="units")
    cfg = ZoningConfig(
        units_path=d / "units.gpkg",
        cache_dir=d / "cache",
        toroidal_shifts=0,
        check_offset=False,
        hourly_hotspots=False,
        keep_hourly=False,
        qa_region="none",
    )
    units, qa = control_units(d / "units.gpkg", cfg, small_grid)
    grids = synthetic_grids(small_grid, days=3, n_points=5, seed=3)
    return run_zoning(grids, units, cfg, species=DEFAULT_SPECIES, qa=qa), cfg


def _section() -> ReportSection:
    table = pd.DataFrame({"unit_code": ["ZH330109200000"], "rho": [0.75]})
    return ReportSection("co-control", "<section><h2>co-control</h2></section>", {"cc": table})


def test_no_sections_leave_the_report_as_it_was(small_result):
    result, cfg = small_result
    before = zoning_documents(result, cfg, PROVENANCE)
    after = zoning_documents(result, cfg, PROVENANCE, sections=())
    assert before.keys() == after.keys()
    assert after["zone_report.html"].content == before["zone_report.html"].content
    assert list(after["zone_report.xlsx"].content) == list(before["zone_report.xlsx"].content)
    for name, sheet in before["zone_report.xlsx"].content.items():
        pd.testing.assert_frame_equal(after["zone_report.xlsx"].content[name], sheet)


def test_sections_are_appended_to_the_page_and_the_workbook(small_result):
    result, cfg = small_result
    plain = zoning_documents(result, cfg, PROVENANCE)
    docs = zoning_documents(result, cfg, PROVENANCE, sections=[_section()])
    page, old = docs["zone_report.html"].content, plain["zone_report.html"].content
    # the old page with the fragment just before its end, nothing else changed
    assert page == old.replace("</body>", "<section><h2>co-control</h2></section></body>")
    sheets = docs["zone_report.xlsx"].content
    assert list(sheets) == [*plain["zone_report.xlsx"].content, "cc"]
    assert sheets["cc"]["rho"].iloc[0] == 0.75
    # the other documents do not change
    for name in set(plain) - {"zone_report.html", "zone_report.xlsx"}:
        assert type(docs[name].content) is type(plain[name].content)


def test_a_section_may_not_replace_a_sheet():
    sheets = {"units": pd.DataFrame({"a": [1]})}
    clash = ReportSection("x", "<section></section>", {"units": pd.DataFrame({"b": [2]})})
    with pytest.raises(InputDataError, match="sheet 'units' exists"):
        add_sections("<html><body></body></html>", sheets, [clash])
    assert list(sheets["units"].columns) == ["a"]
    assert add_sections("<body>x</body>", sheets, []) == "<body>x</body>"
    assert np.array_equal(sheets["units"]["a"], [1])
