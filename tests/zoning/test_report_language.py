"""The zone report and its Excel labels in English and Chinese, and the report in a browser
window of 1,400 px: no sideways scrolling, Chinese text rendered with a CJK font."""

from __future__ import annotations

import os
import re
import sqlite3
import xml.etree.ElementTree as ET
from html import unescape as html_unescape
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from synthetic import synthetic_grids, zone_report
from test_stage import lattice_units

from gridcarbon.config.zoning import ZoningConfig
from gridcarbon.contracts import UNIT_CATEGORY_COLOURS
from gridcarbon.io.glossary import Glossary
from gridcarbon.zoning.normalise import control_units


@pytest.fixture(scope="module")
def reports(small_grid, tmp_path_factory):
    """One zoning result written in English and in Chinese."""
    d = tmp_path_factory.mktemp("language")
    lattice_units(d / "units.gpkg")
    ds = synthetic_grids(small_grid, days=3, n_points=8, seed=5)
    cfg = ZoningConfig(
        units_path=d / "units.gpkg",
        cache_dir=d / "cache",
        toroidal_shifts=0,
        check_offset=False,
        hourly_hotspots=False,
        keep_hourly=False,
        top_n=5,
        qa_region="none",
    )
    units, qa = control_units(d / "units.gpkg", cfg, small_grid)
    from gridcarbon.io.outputs import write_documents
    from gridcarbon.zoning.report import provenance_record, zoning_documents

    res, _ = zone_report(ds, units, cfg, d / "first", qa=qa)
    prov = provenance_record(
        {"synthetic": "true", "synthetic_components": "synthetic test grids " * 60},
        res.qa,
        config_text="zoning: {}",
        version="test",
        figures="prior emissions",
    )
    for lang in ("en", "zh"):
        docs = zoning_documents(res, cfg, prov, lang)
        write_documents(
            {k: v for k, v in docs.items() if k.endswith((".html", ".xlsx", ".gpkg"))}, d / lang
        )
    return {"res": res, "dir": d, "ds": ds, "cfg": cfg}


class _Text(HTMLParser):
    def __init__(self, html: str):
        super().__init__()
        self.parts: list[str] = []
        self.headers: list[str] = []
        self._in: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self._in.append(tag)

    def handle_endtag(self, tag):
        if self._in:
            self._in.pop()

    def handle_data(self, data):
        if self._in and self._in[-1] in ("style", "title"):
            return
        self.parts.append(data)
        if self._in and self._in[-1] == "th":
            self.headers.append(data)


def _numbers(text: str) -> list[float]:
    return [float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*\.?\d*", text)]


def test_excel_labels_every_column_in_both_languages(reports):
    for lang in ("en", "zh"):
        wb = load_workbook(reports["dir"] / lang / "zone_report.xlsx")
        words = Glossary(lang, reports["res"].species)
        for ws in wb.worksheets:
            names = [c.value for c in ws[1]]
            labels = [c.value for c in ws[2]]
            # every machine name is ASCII, the same in both languages, and the glossary knows it
            assert all(n.isascii() for n in names), ws.title
            assert all(words.column(n) is not None for n in names), (
                ws.title,
                [n for n in names if words.column(n) is None],
            )
            assert labels == [words.label(n) for n in names]
            assert ws.freeze_panes == "A3" and ws.auto_filter.ref.startswith("A2:")
    en = load_workbook(reports["dir"] / "en" / "zone_report.xlsx")["units"]
    zh = load_workbook(reports["dir"] / "zh" / "zone_report.xlsx")["units"]
    assert [c.value for c in en[1]] == [c.value for c in zh[1]]
    en_labels = dict(zip([c.value for c in en[1]], [c.value for c in en[2]], strict=True))
    zh_labels = dict(zip([c.value for c in zh[1]], [c.value for c in zh[2]], strict=True))
    assert en_labels["CO2_t_per_km2"] == "CO₂ intensity (t/km²)"
    assert zh_labels["CO2_t_per_km2"] == "二氧化碳排放强度（吨/平方公里）"
    assert zh_labels["unit_code"] == "环境管控单元编码"


def test_reports_hold_the_same_figures_in_both_languages(reports):
    res = reports["res"]
    en = _Text((reports["dir"] / "en" / "zone_report.html").read_text(encoding="utf-8"))
    zh = _Text((reports["dir"] / "zh" / "zone_report.html").read_text(encoding="utf-8"))
    en_text, zh_text = " ".join(en.parts), " ".join(zh.parts)
    # headers are labels, never machine names
    assert not [h for h in en.headers + zh.headers if re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)+", h)]
    assert "CO₂ emission (t)" in en.headers and "二氧化碳排放量（万吨）" in zh.headers
    assert "Figures tallied:" in en_text and "统计对象" in zh_text
    for category in ("优先保护", "重点管控", "一般管控"):
        assert category in zh_text
    # the grid totals: tonnes in English, 万吨 (10⁴ t) in Chinese, the same figures
    en_line = next(p for p in en.parts if p.startswith("grid totals:"))
    zh_line = next(p for p in zh.parts if p.startswith("网格总量"))
    assert "万吨" in zh_line and " t" in en_line
    en_t = _numbers(en_line.split(":", 1)[1])
    zh_10kt = _numbers(zh_line.split("：", 1)[1])
    totals = [float(res.tally[f"{s.name}_grid_total"].sum()) / 1000 for s in res.species]
    assert len(en_t) == len(zh_10kt) == len(totals)
    for t, a, b in zip(totals, en_t, zh_10kt, strict=True):
        assert a == pytest.approx(t, rel=5e-3) and b * 1e4 == pytest.approx(t, rel=5e-3)

    # the co-location table (no unit changes) holds the same figures, cell for cell
    def first_table(lang: str) -> list[str]:
        html = (reports["dir"] / lang / "zone_report.html").read_text(encoding="utf-8")
        table = re.search(r"<tbody>(.*?)</tbody>", html, re.S).group(1)
        cells = re.findall(r"<td>(.*?)</td>", table)
        return [c for c in cells if re.fullmatch(r"[\d,.]+", c)]

    assert len(first_table("en")) > 10 and first_table("en") == first_table("zh")


def test_qa_findings_and_synthetic_text_in_the_reports_language(reports):
    """The QA findings and the synthetic-data statement are in Chinese in the Chinese report
    (the English report keeps the code's own words)."""
    from gridcarbon.io.glossary import glossary
    from gridcarbon.zoning.report import zoning_documents

    res = reports["res"]
    lines = res.qa.summary_lines()
    assert any(line.startswith("overlaps between units") for line in lines)

    def qa_items(lang: str) -> list[str]:
        html = (reports["dir"] / lang / "zone_report.html").read_text(encoding="utf-8")
        section = html.split(glossary(lang).phrase("section_qa"), 1)[1]
        return re.findall(r"<li>(.*?)</li>", section.split("</ul>", 1)[0])

    assert [html_unescape(x) for x in qa_items("en")] == lines
    zh = [html_unescape(x) for x in qa_items("zh")]
    assert len(zh) == len(lines) and all(re.search("[\u4e00-\u9fff]", x) for x in zh), zh
    assert not set(zh) & set(lines), set(zh) & set(lines)
    assert not any("overlaps between" in x or "units read from" in x for x in zh)
    # a component the glossary knows is shown in Chinese; an unknown one as it is
    prov = {
        "synthetic": "true",
        "synthetic_components": "facility catalogue (synthetic); my own thing",
        "config": "",
    }
    docs = zoning_documents(res, reports["cfg"], prov, "zh")
    assert "本报告依赖合成数据：设施清单（合成）；my own thing" in docs["zone_report.html"].content
    sheet = docs["zone_report.xlsx"].content["qa"]
    assert all(re.search("[\u4e00-\u9fff]", x) for x in sheet["finding"])


def test_units_geopackage_opens_styled_by_category(reports):
    """zone_units.gpkg carries QGIS's layer_styles table: the units coloured by their 三线一单
    category, labelled in the report's language."""
    for lang, label in (("en", "key control"), ("zh", "重点管控")):
        with sqlite3.connect(reports["dir"] / lang / "zone_units.gpkg") as db:
            rows = db.execute(
                "SELECT f_table_name, styleQML, useAsDefault FROM layer_styles"
            ).fetchall()
        db.close()
        assert len(rows) == 1 and rows[0][0] == "zone_units" and rows[0][2] == 1
        qml = ET.fromstring(rows[0][1].split("\n", 1)[1])
        cats = {c.get("value"): c.get("label") for c in qml.iter("category") if c.get("value")}
        assert cats == {
            c: {"en": Glossary("en").category(c), "zh": Glossary("zh").category(c)}[lang]
            for c in UNIT_CATEGORY_COLOURS
        }
        assert cats["key_control"] == label


def test_zones_command_writes_the_chosen_language(reports, tmp_path):
    from gridcarbon.cli import cli
    from gridcarbon.config import RunConfig

    grids = tmp_path / "grids.nc"
    reports["ds"].to_netcdf(grids)
    rc = RunConfig()
    rc.zoning = reports["cfg"].model_copy(update={"units_path": None})
    (tmp_path / "run.yaml").write_text(rc.to_yaml(), encoding="utf-8")
    args = ["zones", "--config", str(tmp_path / "run.yaml"), "--grids", str(grids)]
    args += ["--units", str(reports["dir"] / "units.gpkg"), "--out", str(tmp_path / "z")]
    out = CliRunner().invoke(cli, [*args, "--lang", "zh"])
    assert out.exit_code == 0, out.output
    page = (tmp_path / "z" / "zone_report.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in page and "按管控单元类别汇总" in page
    bad = CliRunner().invoke(cli, [*args, "--lang", "fr", "--overwrite"])
    assert bad.exit_code == 2 and "fr" in bad.output


# -- in a browser ---------------------------------------------------------------------------------
def _browser_skip() -> str | None:
    from tests.maps.browser import skip_reason

    return skip_reason()


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(
    _browser_skip() is not None and os.environ.get("CI", "").lower() not in ("1", "true", "yes"),
    reason=_browser_skip() or "",
)
def test_report_fits_a_1400_px_window_in_both_languages(reports):
    from tests.maps.browser import browser, open_page

    with browser() as ctx:
        for lang in ("en", "zh"):
            p = open_page(ctx, reports["dir"] / lang / "zone_report.html", viewport=(1400, 900))
            width = p.js("document.documentElement.scrollWidth")
            assert width <= 1400, (lang, width)
            assert p.console_errors() == [] and p.network_requests() == []
            if lang == "zh":
                title = p.js("document.querySelector('h1').textContent")
                assert "环境管控单元报告" in title
                # a CJK font is there to draw it (fonts-noto-cjk), not tofu boxes
                assert p.js("document.fonts.check('16px \"Noto Sans CJK SC\"', '环境管控单元')")
                assert p.js("document.documentElement.lang") == "zh-CN"
            p.screenshot(f"zone_report_{lang}.png")
