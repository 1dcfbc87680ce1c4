"""The GeoPackage's ``layer_styles`` table (QGIS's convention), read back with Debian's ogrinfo
and parsed as XML."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import xml.etree.ElementTree as ET

import geopandas as gpd
import pytest
import shapely

from gridcarbon.contracts import Document
from gridcarbon.io.layer_styles import add_layer_style, categorized_style
from gridcarbon.io.outputs import write_documents

OGRINFO = shutil.which("ogrinfo")
CATEGORIES = [
    ("priority_protection", "优先保护", "#4daf4a"),
    ("key_control", "重点管控 <b>&", "#e41a1c"),
    ("general_control", "一般管控", "#ffd92f"),
]


def _units() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"category": ["key_control", "general_control"]},
        geometry=[shapely.box(120, 30, 120.1, 30.1), shapely.box(120.1, 30, 120.2, 30.1)],
        crs="EPSG:4326",
    )


def _ogr_sql(path, sql: str) -> str:
    done = subprocess.run(
        [OGRINFO, "-ro", "-q", str(path), "-sql", sql], capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.mark.skipif(OGRINFO is None, reason="ogrinfo (gdal-bin) is not installed")
def test_geopackage_holds_a_default_qgis_style(tmp_path):
    style = categorized_style("units", "category", CATEGORIES, name="categories")
    doc = Document("gpkg", _units(), layer="units", style=style)
    path = write_documents({"units.gpkg": doc}, tmp_path)["units.gpkg"]
    listing = subprocess.run([OGRINFO, "-ro", "-so", str(path)], capture_output=True, text=True)
    assert "layer_styles" in listing.stdout and "units (Polygon)" in listing.stdout
    rows = _ogr_sql(path, "SELECT f_table_name, f_geometry_column, useAsDefault FROM layer_styles")
    assert "f_table_name (String) = units" in rows
    assert "f_geometry_column (String) = geom" in rows
    assert "useAsDefault (Integer(Boolean)) = 1" in rows
    # the QML and SLD as stored parse, and colour the categories as asked
    with sqlite3.connect(path) as db:
        qml, sld = db.execute("SELECT styleQML, styleSLD FROM layer_styles").fetchone()
    db.close()
    root = ET.fromstring(qml.split("\n", 1)[1])  # after the DOCTYPE line
    renderer = root.find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == "category"
    cats = {c.get("value"): c for c in renderer.iter("category")}
    assert cats["key_control"].get("label") == "重点管控 <b>&"  # escaped in the XML, intact here
    symbols = {s.get("name"): s for s in renderer.iter("symbol")}
    colour = symbols[cats["key_control"].get("symbol")].find("layer/prop[@k='color']").get("v")
    assert colour == "228,26,28,255"
    ns = {"se": "http://www.opengis.net/se", "ogc": "http://www.opengis.net/ogc"}
    rules = ET.fromstring(sld.encode()).findall(".//se:Rule", ns)
    assert [r.find("se:Name", ns).text for r in rules] == [c[0] for c in CATEGORIES]
    fill = rules[2].find(".//se:Fill/se:SvgParameter", ns).text
    assert fill == "#ffd92f"
    # the layer's data are untouched
    assert list(gpd.read_file(path, layer="units")["category"]) == [
        "key_control",
        "general_control",
    ]


def test_a_second_style_becomes_the_default(tmp_path):
    path = tmp_path / "u.gpkg"
    _units().to_file(path, layer="units")
    first = categorized_style("units", "category", CATEGORIES, name="first")
    second = categorized_style("units", "category", CATEGORIES[:1], name="second")
    add_layer_style(path, "units", first)
    add_layer_style(path, "units", second)
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT styleName, useAsDefault FROM layer_styles ORDER BY id").fetchall()
    db.close()
    assert rows == [("first", 0), ("second", 1)]
    with pytest.raises(ValueError, match="no geometry layer 'other'"):
        add_layer_style(path, "other", first)
    with pytest.raises(ValueError, match="not #rrggbb"):
        categorized_style("units", "category", [("a", "a", "green")], name="x")


def test_a_styled_geopackage_reads_back_as_units(tmp_path):
    """The style table is no second layer: a styled GeoPackage (QGIS's or ours) is still read
    as one layer of units."""
    from gridcarbon.io.units_file import read_units_file

    path = tmp_path / "u.gpkg"
    _units().to_file(path, layer="units")
    add_layer_style(path, "units", categorized_style("units", "category", CATEGORIES, name="c"))
    read = read_units_file(path)
    assert list(read.frame["category"]) == ["key_control", "general_control"]
