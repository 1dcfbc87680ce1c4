"""The zone report with hostile unit names, codes, labels and file names.

``render_html`` autoescapes every value; the tables and charts built beforehand escape their
own text.  End to end, a units file full of payloads goes through the zoning stage: the CSVs,
the Excel workbook and the HTML page give every string back as text, and no template runs.
"""

from __future__ import annotations

import csv
import os
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from openpyxl import load_workbook
from synthetic import synthetic_grids, zone_report

from gridcarbon.config.zoning import ZoningConfig
from gridcarbon.io.glossary import Glossary
from gridcarbon.io.tables import csv_text_value, excel_safe_text
from gridcarbon.zoning.normalise import control_units
from gridcarbon.zoning.report import _svg_bars, _svg_lines, _table, render_html
from tests.payloads import CONTROL, canary_fired, payloads

#: Elements the report may contain: anything else (script, img, iframe ...) was injected.
REPORT_TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "h1",
    "h2",
    "p",
    "b",
    "ul",
    "li",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "br",
    "div",
    "span",
    "pre",
    "svg",
    "rect",
    "polyline",
    "text",
}


class _Page(HTMLParser):
    """Tags, attributes and the text of elements by class (and of <title>)."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attrs: set[str] = set()
        self.text: dict[str, list[str]] = {}
        self._open: list[tuple[str, str | None]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs.update(a for a, _ in attrs)
        if tag in ("br", "meta", "rect"):
            return
        cls = dict(attrs).get("class")
        key = "title" if tag == "title" else cls
        if key:
            self.text.setdefault(key, []).append("")
        self._open.append((tag, key))

    def handle_endtag(self, tag):
        while self._open:
            t, _ = self._open.pop()
            if t == tag:
                break

    def handle_data(self, data):
        for _, key in self._open:
            if key:
                self.text[key][-1] += data


def _assert_inert(page: _Page) -> None:
    assert page.tags <= REPORT_TAGS, f"injected elements: {page.tags - REPORT_TAGS}"
    handlers = {a for a in page.attrs if a.lower().startswith("on")}
    assert not handlers, f"injected event handlers: {handlers}"


def test_render_html_escapes_every_value(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    texts = payloads(tmp_path)
    top = [
        {
            "code": t,
            "name": t,
            "type": f"{t} / {t}",
            "cell_days": "1.0",
            "obs_exp": "2.00",
            "shares": t,
            "emerging": t,
            "pathway": t,
            "diurnal": _svg_lines({t: np.arange(24.0)}, title=t),
            "daily": _svg_lines({"CO2": np.arange(3.0)}, title=t),
            "bars": _svg_bars({t: 1.0, "NOx": 2.0}, title=t),
        }
        for t in texts
    ]
    table = pd.DataFrame({t: [t, 1.5] for t in texts[:6]})
    words = Glossary("en")
    html = render_html(
        {
            "lang": texts[4],
            "t": {},
            "title": texts[5],
            "synthetic": texts[6],
            "summary": texts,
            "coloc_table": _table(table, words),
            "by_category": _table(table, words),
            "by_subtype": _table(table, words),
            "by_city": _table(table, words),
            "by_county": _table(table, words),
            "top_n": 3,
            "top_units": top,
            "qa": texts,
            "qa_warning": texts[7],
            "method": texts[8],
            "provenance": "\n".join(texts),
        }
    )
    page = _Page(html)
    _assert_inert(page)
    assert page.text["title"][0] == texts[5]  # the page's; the others are SVG line titles
    assert page.text["unit-name"] == texts
    assert page.text["unit-code"] == texts
    assert page.text["unit-type"] == [f"{t} / {t}" for t in texts]
    assert canary_fired(tmp_path) == []


def test_fragments_escape_their_text():
    t = "<img src=x onerror=alert(1)>"
    for fragment in (
        _table(pd.DataFrame({t: [t]}), Glossary("zh")),
        _svg_lines({t: np.arange(3.0)}, title=t),
        _svg_bars({t: 1.0}, title=t),
    ):
        assert t not in fragment and "&lt;img src=x onerror=alert(1)&gt;" in fragment
        assert "<img" not in fragment


# -- the zoning stage end to end ------------------------------------------------------------------
def _hostile_units(path: Path, names: list[str], codes: list[str]) -> None:
    """One box per name over Hangzhou–Shaoxing, with hostile names, codes and subtypes."""
    n = len(names)
    cols = 6
    rows = -(-n // cols)
    lons = np.linspace(119.9, 120.7, cols + 1)
    lats = np.linspace(29.85, 30.4, rows + 1)
    recs = []
    for k in range(n):
        i, j = k % cols, k // cols
        recs.append(
            {
                "单元编码": codes[k],
                "单元名称": names[k],
                "管控类别": ["优先保护单元", "重点管控单元", "一般管控单元"][k % 3],
                "单元分类": names[(k + 1) % n],
                "geometry": shapely.box(lons[i], lats[j], lons[i + 1], lats[j + 1]),
            }
        )
    gpd.GeoDataFrame(recs, geometry="geometry", crs="EPSG:4490").to_file(path, layer="units")


@pytest.fixture(scope="module")
def hostile_stage(small_grid, tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    names = payloads(d)
    codes = payloads(d, control=False)  # codes with control characters are refused at reading
    # the rest: codes whose category digit agrees with the unit's label (see _hostile_units)
    codes += [f"ZH330109{k % 3 + 1}{k:04d}" for k in range(len(codes), len(names))]
    units_file = d / "units {{7*7}} <b>=cmd|x.gpkg"
    _hostile_units(units_file, names, codes)
    ds = synthetic_grids(small_grid, days=3, n_points=5, seed=3)
    cfg = ZoningConfig(
        units_path=units_file,
        cache_dir=d / "cache",
        toroidal_shifts=0,
        check_offset=False,
        hourly_hotspots=False,
        keep_hourly=False,
        top_n=len(names),
        qa_region="none",
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(d)
        units, qa = control_units(units_file, cfg, small_grid)
        res, _ = zone_report(ds, units, cfg, d / "out", qa=qa, units_path=units_file)
    return {"res": res, "dir": d, "names": names, "codes": codes, "units_file": units_file}


@pytest.mark.slow
def test_zoning_outputs_keep_hostile_text_inert(hostile_stage):
    h = hostile_stage
    d, res = h["dir"], h["res"]
    out = d / "out"
    assert canary_fired(d) == []
    held = dict(zip(res.units["unit_code"], res.units["unit_name"], strict=True))
    # what the stage read: every payload arrives unchanged, except that the reader strips
    # surrounding white space and may clean control characters out of names
    plain = [t for t in h["names"] if t not in CONTROL and t == t.strip()]
    assert set(plain) <= set(held.values())
    # CSV: no cell starts a formula; less the guard, each is the name as held
    with open(out / "zone_units.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(held)
    for r in rows:
        for key in ("unit_code", "unit_name", "subtype", "subtype_zh"):
            assert r[key][:1] not in ("=", "+", "-", "@", "\t", "\r"), (key, r[key])
        code = csv_text_value(r["unit_code"])
        assert csv_text_value(r["unit_name"]) == held[code]
    with open(out / "zone_rollup_subtype.csv", encoding="utf-8-sig", newline="") as fh:
        subtypes = {csv_text_value(r["subtype"]) for r in csv.DictReader(fh)}
    assert set(res.units["subtype"]) <= subtypes
    # Excel: string cells only, equal to the names (XML-illegal characters removed)
    wb = load_workbook(out / "zone_report.xlsx")
    ws = wb["units"]
    header = [c.value for c in ws[1]]
    ci, ni = header.index("unit_code"), header.index("unit_name")
    assert [c.value for c in ws[2]][ci] == "Unit code"  # the label row
    for row in ws.iter_rows(min_row=3):
        assert row[ni].data_type == "s" and row[ci].data_type == "s"
        assert row[ni].value == excel_safe_text(held[row[ci].value])
    prov = {r[0].value: r[1].value for r in wb["provenance"].iter_rows(min_row=3)}
    assert any(h["units_file"].name in str(v) for v in prov.values())
    with zipfile.ZipFile(out / "zone_report.xlsx") as z:
        assert not any(b"<f>" in z.read(n) for n in z.namelist() if n.startswith("xl/worksheets"))
    # HTML: nothing injected; the top-N table shows every unit's code and name as text
    page = _Page((out / "zone_report.html").read_text(encoding="utf-8"))
    _assert_inert(page)
    shown = dict(zip(page.text["unit-code"], page.text["unit-name"], strict=True))
    assert shown == held
    assert h["units_file"].name in page.text["small"][-1]  # the provenance names the file


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
def test_zone_report_in_browser_runs_nothing(hostile_stage):
    from tests.maps.browser import browser, open_page

    held = dict(
        zip(
            hostile_stage["res"].units["unit_code"],
            hostile_stage["res"].units["unit_name"],
            strict=True,
        )
    )
    with browser() as ctx:
        p = open_page(ctx, hostile_stage["dir"] / "out" / "zone_report.html")
        got = p.js(
            """() => Array.from(document.querySelectorAll('.unit-code')).map(el =>
                [el.textContent, el.parentElement.querySelector('.unit-name').textContent])"""
        )
        scripts = p.js("document.querySelectorAll('script, img, iframe, object').length")
        assert p.dialogs == [], p.dialogs
        assert p.network_requests() == []
        assert p.console_errors() == []
    assert scripts == 0
    assert dict(got) == held
