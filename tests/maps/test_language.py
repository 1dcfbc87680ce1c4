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
