"""The map in Chinese: every layer-control name and legend heading from the glossary."""

from __future__ import annotations

import re

from fixtures import layer_control_names

from gridcarbon.maps import make_map
from gridcarbon.maps.build import layer_names, map_html
from gridcarbon.species import DEFAULT_SPECIES

_CJK = re.compile("[\u4e00-\u9fff]")


def test_layer_names_and_legends_in_chinese(small):
    page = map_html(make_map(small["inputs"], language="zh"))
    names = layer_control_names(page)
    # every overlay is named in Chinese (web basemaps keep their own names inside)
    assert names and all(_CJK.search(n) for n in names), names
    assert set(layer_names(DEFAULT_SPECIES, "zh").values()) <= set(names)
    assert "二氧化碳先验排放" in names and "监测站点" in names
    body = page.split("<body>", 1)[1]
    for english in ("Control units", "Boundary: cities", "Hotspots:", "emission grids"):
        assert english not in body, english


def test_english_map_is_unchanged_by_default(small):
    names = layer_control_names(map_html(make_map(small["inputs"])))
    assert "Control units" in names and "CO2 prior" in names


def test_every_station_class_has_a_chinese_legend_entry():
    from gridcarbon.config.inversion import STATION_KINDS
    from gridcarbon.io.glossary import glossary

    zh = glossary("zh")
    for kind in STATION_KINDS:
        assert _CJK.search(zh.translate(f"{kind} (3)")), kind


def _elements(element):
    yield element
    for child in list(element._children.values()):
        yield from _elements(child)


def test_station_popups_and_unit_popups_in_chinese(small):
    from gridcarbon.maps.elements import FeatureTooltip, StationContent, UnitSeriesPopup

    m = make_map(small["inputs"], language="zh")
    found = list(_elements(m))
    stations = [e for e in found if isinstance(e, StationContent)]
    assert stations
    for st in stations:
        d = st.data
        # the class, the table head, the chart titles and the chart key: Chinese
        assert _CJK.search(d["kind"]) and _CJK.search(st.tooltip), d["kind"]
        assert _CJK.search(d["empty"])
        if d["stats"]:
            assert all(_CJK.search(h) for h in d["stats"]["head"]), d["stats"]["head"]
        for chart in d["charts"]:
            assert "daily mean" not in chart["title"] and _CJK.search(chart["title"])
            assert all(_CJK.search(s["name"]) for s in chart["series"])
        assert all(_CJK.search(name) for name, _ in d["legend"])
    (popup,) = [e for e in found if isinstance(e, UnitSeriesPopup)]
    assert _CJK.search(popup.empty)
    for dim, chart in popup.charts.items():
        assert all(_CJK.search(v["title"]) and " by " not in v["title"] for v in chart["vars"])
        if dim == "month":
            assert all(label.endswith("月") for label in chart["labels"])
    # the unit's pathway in Chinese (the English page has "co-control pathway")
    page = map_html(m)
    assert "co-control pathway" not in page
    tooltip = next(e for e in found if isinstance(e, FeatureTooltip))
    assert all(_CJK.search(a) for a in tooltip.aliases)


def test_english_station_popups_keep_their_words(small):
    from gridcarbon.maps.elements import StationContent

    m = make_map(small["inputs"])
    st = next(e for e in _elements(m) if isinstance(e, StationContent))
    assert st.data["empty"] == "no observations"
    assert st.tooltip.endswith(f"({st.data['kind']})")
    assert all("daily mean (Beijing days)" in c["title"] for c in st.data["charts"])
    assert "co-control pathway" in map_html(m)
