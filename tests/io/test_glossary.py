"""The committed glossary: labels and units in English and Chinese, the map's phrases, the one
number format of the report."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from gridcarbon.contracts import EMERGING_CATEGORIES, UNIT_CATEGORY_ZH
from gridcarbon.errors import ConfigError
from gridcarbon.io.glossary import Glossary, _table, format_number
from gridcarbon.species import DEFAULT_SPECIES


def test_every_entry_has_both_languages():
    table = _table()
    assert not table.duplicated(["kind", "key"]).any()
    assert (table["en"] != "").all() and (table["zh"] != "").all()
    # a unit stated in one language is stated in the other
    assert ((table["unit_en"] == "") == (table["unit_zh"] == "")).all()


def test_column_labels_with_units():
    en, zh = Glossary("en", DEFAULT_SPECIES), Glossary("zh", DEFAULT_SPECIES)
    assert en.label("CO2_kg") == "CO₂ emission (kg)"
    assert zh.label("CO2_kg") == "二氧化碳排放量（千克）"
    assert zh.label("VOC_10kt") == "挥发性有机物排放量（万吨）"
    assert en.label("coloc_CO2_NOx_obs_exp") == "Co-located hotspots observed / expected (CO₂+NOx)"
    assert zh.label("coloc_all_share_NOx").startswith("单元氮氧化物位于协同热点的比例（全部物种）")
    assert en.label("hot_VOC_cell_days") == "VOCs hotspot cell-days (cell-days)"
    assert en.column("no_such_column") is None
    assert en.label("no_such_column") == "no such column"
    # a species not of the run is not matched
    assert Glossary("en", DEFAULT_SPECIES[:1]).column("NOx_kg") is None


def test_categories_as_the_documents_write_them():
    zh = Glossary("zh", DEFAULT_SPECIES)
    assert {c: zh.category(c) for c in UNIT_CATEGORY_ZH} == dict(UNIT_CATEGORY_ZH)
    assert all(zh.emerging(c) != c for c in EMERGING_CATEGORIES)


def test_map_phrases():
    zh = Glossary("zh", DEFAULT_SPECIES)
    assert zh.translate("CO2 posterior − prior") == "二氧化碳后验−先验"
    assert (
        zh.translate("Hotspots: co-located CO2+NOx+VOC")
        == "热点：二氧化碳+氮氧化物+挥发性有机物协同"
    )
    assert zh.translate("Total: co-located hotspot hours") == "合计：协同热点小时数"
    assert zh.translate("95% confidence") == "95% 置信度"
    assert zh.translate("a user's own words") == "a user's own words"
    assert Glossary("en", DEFAULT_SPECIES).translate("CO2 prior") == "CO2 prior"


def test_unknown_language_is_refused():
    with pytest.raises(ConfigError, match="'fr'"):
        Glossary("fr")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1234567.0, "1,230,000"),
        (33224, "33,224"),
        (2464.4, "2,460"),
        (0.012345, "0.0123"),
        (999.6, "1,000"),
        (-5.0, "-5.00"),
        (0.0, "0"),
        (float("nan"), ""),
        (pd.NA, ""),
        ("ZH33010920001", "ZH33010920001"),
    ],
)
def test_one_number_format(value, shown):
    assert format_number(value) == shown


def test_subtypes_and_users_own_labels():
    zh = Glossary("zh", DEFAULT_SPECIES)
    assert zh.subtype("urban_living") == "城镇生活类"
    assert zh.subtype("=a user's <b>label") == "=a user's <b>label"  # kept; escaped where shown


def test_synthetic_components_and_qa_findings_in_chinese():
    from gridcarbon.io.glossary import glossary

    zh, en = glossary("zh"), glossary("en")
    components = (
        "provincial sector totals (assumed), facility catalogue (synthetic);observations "
        "(synthetic OSSE: perturbed transport, synthetic truth);station network and/or "
        "meteorology; control units (gridcarbon.scenario.units)"
    )
    shown = zh.components(components)
    # five parts (the comma inside the parentheses belongs to its part), none left in English
    assert shown.count("；") == 4
    assert not re.search(r"[a-z]{3,} [a-z]{3,}", shown.replace("gridcarbon.scenario.units", ""))
    assert en.components(components) == components
    lines = [
        "2082 units read from embedded synthetic units (gridcarbon.scenario.units) "
        "(CRS EPSG:4490; CGCS2000 lon/lat (no transformation))",
        "overlaps between units: 0.009 km² (0 pairs above tolerance)",
        "gaps within the region: 0.017 km² of 137201.5 km² (0 gap polygons above tolerance)",
        "offset check skipped: no county boundaries were given",
        "WARNING: something a reader must see",
    ]
    out = [zh.translate(line) for line in lines]
    assert out[0] == (
        "从内置合成管控单元（gridcarbon.scenario.units）读取 2082 个单元"
        "（坐标系 EPSG:4490；CGCS2000 经纬度（无需转换））"
    )
    assert "0.009" in out[1] and "137201.5" in out[2]
    assert out[4].startswith("警告：")
    assert all(re.search("[\u4e00-\u9fff]", o) for o in out)


def test_every_text_of_the_glossary_has_both_languages():
    table = _table()
    texts = table[table["kind"].isin(["map", "text"])]
    assert len(texts) > 100
    assert texts["zh"].map(lambda s: isinstance(s, str) and s.strip() != "").all()
    assert (texts["key"] == texts["en"]).all()
    assert not texts.duplicated(["kind", "key"]).any()
    assert isinstance(table, pd.DataFrame)
