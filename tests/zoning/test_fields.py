"""Control-unit fields as analysts have them: official long names cut by Shapefile exports,
ambiguous names resolved by values, category checks, codes and names from hostile files."""

import shutil
import subprocess

import geopandas as gpd
import pytest
import shapely

from gridcarbon.config.zoning import ZoningConfig
from gridcarbon.errors import InputDataError
from gridcarbon.names import NameCleanedWarning
from gridcarbon.zoning.normalise import control_units

CFG = ZoningConfig(check_offset=False)
CODES = ["ZH33010910001", "ZH33010920001", "ZH33010930001"]
NAMES = ["萧山区优先保护单元1", "萧山区产业集聚重点管控单元", "萧山区一般管控单元1"]
CATEGORIES = ["priority_protection", "key_control", "general_control"]
OGR2OGR = shutil.which("ogr2ogr")
needs_ogr2ogr = pytest.mark.skipif(
    OGR2OGR is None, reason="ogr2ogr (GDAL command-line tools, Debian gdal-bin) is not installed"
)


def official_units(order=("code", "name", "category", "subtype")) -> gpd.GeoDataFrame:
    """Three units with the official long Chinese field names of provincial unit lists."""
    columns = {
        "code": ("环境管控单元编码", CODES),
        "name": ("环境管控单元名称", NAMES),
        "category": ("管控单元类别", ["优先保护单元", "重点管控单元", "一般管控单元"]),
        "subtype": ("管控单元分类", ["生态保护红线", "产业集聚类", ""]),
    }
    geoms = shapely.segmentize(
        [
            shapely.box(120.20, 30.00, 120.30, 30.10),
            shapely.box(120.30, 30.00, 120.40, 30.10),
            shapely.box(120.20, 30.10, 120.40, 30.20),
        ],
        0.005,
    )
    return gpd.GeoDataFrame(
        {columns[k][0]: columns[k][1] for k in order}, geometry=geoms, crs="EPSG:4490"
    )


def arcgis_style_shapefile(gdf: gpd.GeoDataFrame, path, encoding: str = "GBK"):
    """Write ``gdf`` as GDAL's Shapefile driver does (as an ArcGIS export does): field names cut
    at 10 bytes in ``encoding``, repeated cut names renamed ``..._1``."""
    src = path.with_suffix(".src.gpkg")
    gdf.to_file(src, layer="units")
    subprocess.run(
        [OGR2OGR, "-f", "ESRI Shapefile", "-lco", f"ENCODING={encoding}", str(path), str(src)],
        check=True,
        capture_output=True,
    )
    return path


@needs_ogr2ogr
def test_official_long_names_in_gbk_shapefile(tmp_path, small_grid):
    path = arcgis_style_shapefile(official_units(), tmp_path / "units.shp")
    units, qa = control_units(path, CFG, grid=small_grid)
    assert units["unit_code"].tolist() == CODES
    assert units["unit_name"].tolist() == NAMES
    assert units["category"].tolist() == CATEGORIES
    assert units["subtype"].tolist() == ["ecological_red_line", "industrial_agglomeration", "none"]
    assert qa.fields == ["环境管控单", "环境管控_1", "管控单元类", "管控单元分"]
    assert qa.column_map == {
        "unit_code": "环境管控单",
        "unit_name": "环境管控_1",
        "category": "管控单元类",
        "subtype": "管控单元分",
    }
    assert qa.column_evidence["unit_code"] == (
        "field name: 环境管控单元编码 cut at the DBF 10-byte limit; values are unit codes "
        "(ZH + 11 digits)"
    )
    assert qa.column_evidence["unit_name"].endswith("values are free text")
    assert "fields used: unit_code ← '环境管控单'" in "\n".join(qa.summary_lines())


@needs_ogr2ogr
def test_gbk_shapefile_without_cpg_and_name_first(tmp_path, small_grid):
    # the name field first: GDAL now renames the code field 环境管控_1; the values still decide
    gdf = official_units(order=("name", "code", "category", "subtype"))
    path = arcgis_style_shapefile(gdf, tmp_path / "units.shp")
    path.with_suffix(".cpg").unlink()
    units, qa = control_units(path, CFG, grid=small_grid)
    assert units["unit_code"].tolist() == CODES
    assert units["unit_name"].tolist() == NAMES
    assert qa.encoding == "GB18030"
    assert qa.column_map["unit_code"] == "环境管控_1"
    assert qa.column_map["unit_name"] == "环境管控单"


def test_official_long_names_in_utf8_shapefile(tmp_path, small_grid):
    # UTF-8 DBF: the 10-byte cut splits a 3-byte character; GDAL renames the repeats
    path = tmp_path / "units.shp"
    official_units().to_file(path, encoding="UTF-8")
    units, qa = control_units(path, CFG, grid=small_grid)
    assert units["unit_name"].tolist() == NAMES
    assert units["category"].tolist() == CATEGORIES
    assert units["subtype"].tolist() == ["ecological_red_line", "industrial_agglomeration", "none"]
    assert qa.fields == ["环境管", "环境_1", "管控单", "管控_1"]
    assert qa.column_map == {
        "unit_code": "环境管",
        "unit_name": "环境_1",
        "category": "管控单",
        "subtype": "管控_1",
    }


def test_field_order_never_decides():
    from gridcarbon.zoning.fields import map_fields

    a = map_fields(official_units(order=("code", "name", "category", "subtype")).iloc[:, :4])
    renamed = {"环境管控单元编码": "环境_1", "环境管控单元名称": "环境管"}
    t = official_units().rename(columns=renamed)
    b = map_fields(t[["环境管", "环境_1", "管控单元类别", "管控单元分类"]])
    c = map_fields(t[["管控单元分类", "管控单元类别", "环境_1", "环境管"]])
    assert a.columns["unit_code"] == "环境管控单元编码"
    assert b.columns == c.columns
    assert b.columns["unit_code"] == "环境_1" and b.columns["unit_name"] == "环境管"


def test_indistinguishable_fields_refused():
    from gridcarbon.zoning.fields import map_fields

    # UTF-8 cuts of 管控单元名称 and 管控单元分类, both holding free text: name or subtype?
    t = official_units().drop(columns=["环境管控单元名称", "管控单元类别", "管控单元分类"])
    t["管控单"] = ["甲类 单元", "乙类 单元", "丙类 单元"]
    t["管控_1"] = ["名 一", "名 二", "名 三"]
    with pytest.raises(InputDataError) as err:
        map_fields(t, source="u.shp")
    assert str(err.value) == (
        "u.shp: cannot tell which field is which: '管控_1' (name fits category, subtype, "
        "unit_code, unit_name; values are free text); '管控单' (name fits category, subtype, "
        "unit_code, unit_name; values are free text); name them with zoning.column_map, e.g. "
        "{subtype: '管控_1', unit_name: '管控单'}"
    )
    cfg = ZoningConfig(column_map={"unit_name": "管控_1", "subtype": "管控单"})
    assert map_fields(t, cfg).columns["unit_name"] == "管控_1"


def test_identical_fields_are_one_answer():
    from gridcarbon.zoning.fields import map_fields

    t = official_units()
    t["HJGKDYBM"] = t["环境管控单元编码"]
    m = map_fields(t)
    assert m.columns["unit_code"] in ("HJGKDYBM", "环境管控单元编码")


def test_spec_field_codes(small_grid):
    t = gpd.GeoDataFrame(
        {
            "HJGKDYBM": CODES,
            "HJGKDYMC": NAMES,
            "ZHGKDYFL": ["1", "2", "3"],
            "COUNTY": ["萧山区"] * 3,
        },
        geometry=official_units().geometry,
        crs="EPSG:4490",
    )
    units, qa = control_units(t, CFG, grid=small_grid)
    assert qa.source == "GeoDataFrame"
    assert units["category"].tolist() == CATEGORIES
    assert units["unit_name"].tolist() == NAMES
    assert qa.column_map["county_name"] == "COUNTY"


def test_unknown_category_label_refused(tmp_path, small_grid):
    g = official_units()
    g.loc[1, "管控单元类别"] = "其他"
    path = tmp_path / "units.gpkg"
    g.to_file(path)
    with pytest.raises(InputDataError) as err:
        control_units(path, CFG, grid=small_grid)
    assert str(err.value) == (
        f"{path}, feature 2 (FID 2): unit 'ZH33010920001' has category '其他' in field "
        "'管控单元类别', which is not a known label (优先保护单元, 重点管控单元, 一般管控单元 or "
        "priority_protection, key_control, general_control); 1 unit(s) have such labels "
        "['其他']: add them to zoning.category_values, e.g. {其他: key_control}, or set "
        "zoning.category_check: warn to take the category from the unit code"
    )
    cfg = CFG.model_copy(update={"category_check": "warn"})
    from gridcarbon.zoning.normalise import CategoryWarning

    with pytest.warns(CategoryWarning, match="1 unit.*unknown label"):
        units, qa = control_units(path, cfg, grid=small_grid)
    assert units["category"].tolist() == CATEGORIES
    assert qa.category_issues == [
        "feature 2 (FID 2) ZH33010920001: unknown label '其他'; key_control from the code"
    ]


def test_missing_category_field_refused(tmp_path, small_grid):
    path = tmp_path / "units.gpkg"
    official_units().drop(columns=["管控单元类别"]).to_file(path)
    with pytest.raises(InputDataError) as err:
        control_units(path, CFG, grid=small_grid)
    assert str(err.value) == (
        f"{path} has no category field (fields: ['环境管控单元编码', '环境管控单元名称', "
        "'管控单元分类']); name it with zoning.column_map, e.g. {category: 管控单元类别}, or set "
        "zoning.category_check: warn to take the category from the unit code (ZH + county code "
        "+ 1/2/3 + sequence)"
    )


def test_label_contradicting_code_digit(small_grid):
    t = official_units()
    t.loc[2, "管控单元类别"] = "重点管控单元"  # code ZH...3...: general control
    with pytest.raises(
        InputDataError,
        match=r"GeoDataFrame, row 3: unit 'ZH33010930001' is "
        r"labelled '重点管控单元' \(key_control\) .* digit 3 means general_control",
    ):
        control_units(t, CFG, grid=small_grid)
    from gridcarbon.zoning.normalise import CategoryWarning

    with pytest.warns(CategoryWarning, match="contradicts"):
        units, qa = control_units(
            t, CFG.model_copy(update={"category_check": "warn"}), grid=small_grid
        )
    assert units["category"].tolist() == ["priority_protection", "key_control", "key_control"]
    assert qa.category_issues == [
        "row 3 ZH33010930001: label '重点管控单元' kept against the code digit 3"
    ]


def test_english_category_labels(small_grid):
    t = official_units()
    t["管控单元类别"] = ["Priority protection", "KEY_CONTROL", "general control unit"]
    units, _ = control_units(t, CFG, grid=small_grid)
    assert units["category"].tolist() == CATEGORIES


def test_codes_and_names_from_hostile_files(small_grid):
    t = official_units()
    t.loc[1, "环境管控单元编码"] = "ZH3301092\u202e0001"
    with pytest.raises(InputDataError, match=r"GeoDataFrame, row 2: the code .* control"):
        control_units(t, CFG, grid=small_grid)
    t = official_units()
    t.loc[0, "环境管控单元名称"] = "萧山区\t优先保护单元1\x00"
    with pytest.warns(NameCleanedWarning, match="first at row 1"):
        units, _ = control_units(t, CFG, grid=small_grid)
    assert units["unit_name"].iloc[0] == "萧山区 优先保护单元1"
    t = official_units()
    t.loc[2, "环境管控单元名称"] = "单" * 201
    with pytest.raises(InputDataError, match="GeoDataFrame, row 3: the name .* 201 characters"):
        control_units(t, CFG, grid=small_grid)


def test_geodataframe_locations_use_its_index(small_grid):
    t = official_units().set_index(gpd.pd.Index([10, 20, 30]))
    t.loc[20, "环境管控单元编码"] = ""
    with pytest.raises(InputDataError, match=r"GeoDataFrame, row 2 \(index 20\): the unit code"):
        control_units(t, CFG, grid=small_grid)


def test_duplicate_codes_name_both_features(tmp_path, small_grid):
    g = official_units()
    g.loc[2, "环境管控单元编码"] = CODES[0]
    path = tmp_path / "dup.gpkg"
    g.to_file(path)
    with pytest.raises(InputDataError) as err:
        control_units(path, CFG, grid=small_grid)
    assert str(err.value).startswith(
        f"{path}: duplicate unit code 'ZH33010910001' at feature 1 (FID 1) and feature 3 (FID 3)"
    )
