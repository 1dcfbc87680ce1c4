"""Layer styles stored in a GeoPackage, the way QGIS keeps them: a ``layer_styles`` table.

QGIS reads a layer's default style from the table ``layer_styles`` of its GeoPackage (columns
``f_table_catalog``, ``f_table_schema``, ``f_table_name``, ``f_geometry_column``, ``styleName``,
``styleQML``, ``styleSLD``, ``useAsDefault``, ``description``, ``owner``, ``ui``,
``update_time``), so a file opened there is drawn styled.  :func:`categorized_style` builds a
style that colours polygons by the values of one column (QML for QGIS, SLD 1.1 for other
tools); :func:`add_layer_style` writes it into a GeoPackage.  The XML is built with
:mod:`xml.etree.ElementTree`, so every label is escaped.
"""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from gridcarbon.contracts import LayerStyle

__all__ = ["categorized_style", "add_layer_style", "LAYER_STYLES_TABLE"]

LAYER_STYLES_TABLE = "layer_styles"

#: The table as QGIS creates it in a GeoPackage.
_CREATE = f"""
CREATE TABLE IF NOT EXISTS {LAYER_STYLES_TABLE} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    f_table_catalog TEXT(256),
    f_table_schema TEXT(256),
    f_table_name TEXT(256),
    f_geometry_column TEXT(256),
    styleName TEXT(30),
    styleQML TEXT,
    styleSLD TEXT,
    useAsDefault BOOLEAN,
    description TEXT,
    owner TEXT(30),
    ui TEXT(30),
    update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
)
"""

_OUTLINE = "#ffffff"
_OTHER = "#bbbbbb"


def _rgba(colour: str) -> str:
    """``#rrggbb`` as QGIS's ``r,g,b,255``."""
    return ",".join(str(int(colour[i : i + 2], 16)) for i in (1, 3, 5)) + ",255"


def _fill_symbol(parent: ET.Element, name: str, colour: str) -> None:
    symbol = ET.SubElement(
        parent,
        "symbol",
        {"type": "fill", "name": name, "alpha": "1", "clip_to_extent": "1", "force_rhr": "0"},
    )
    layer = ET.SubElement(
        symbol, "layer", {"class": "SimpleFill", "enabled": "1", "locked": "0", "pass": "0"}
    )
    props = {
        "color": _rgba(colour),
        "outline_color": _rgba(_OUTLINE),
        "outline_style": "solid",
        "outline_width": "0.1",
        "outline_width_unit": "MM",
        "style": "solid",
    }
    # QGIS 3.26+ reads the Option map, earlier 3.x releases the prop elements: both are written
    options = ET.SubElement(layer, "Option", {"type": "Map"})
    for key, value in props.items():
        ET.SubElement(options, "Option", {"type": "QString", "name": key, "value": value})
    for key, value in props.items():
        ET.SubElement(layer, "prop", {"k": key, "v": value})


def _qml(column: str, categories: Sequence[tuple[str, str, str]]) -> str:
    root = ET.Element("qgis", {"version": "3.22.0", "styleCategories": "Symbology"})
    renderer = ET.SubElement(
        root,
        "renderer-v2",
        {
            "type": "categorizedSymbol",
            "attr": column,
            "symbollevels": "0",
            "enableorderby": "0",
            "forceraster": "0",
        },
    )
    cats = ET.SubElement(renderer, "categories")
    symbols = ET.SubElement(renderer, "symbols")
    for i, (value, label, colour) in enumerate(categories):
        ET.SubElement(
            cats, "category", {"value": value, "label": label, "symbol": str(i), "render": "true"}
        )
        _fill_symbol(symbols, str(i), colour)
    # any other value (an unmapped category): grey
    ET.SubElement(cats, "category", {"value": "", "label": "", "symbol": "other", "render": "true"})
    _fill_symbol(symbols, "other", _OTHER)
    ET.SubElement(root, "layerGeometryType").text = "2"  # polygons
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(
        root, encoding="unicode"
    )


_SLD = "http://www.opengis.net/sld"
_SE = "http://www.opengis.net/se"
_OGC = "http://www.opengis.net/ogc"


def _sld(layer: str, column: str, categories: Sequence[tuple[str, str, str]]) -> str:
    ET.register_namespace("sld", _SLD)
    ET.register_namespace("se", _SE)
    ET.register_namespace("ogc", _OGC)
    # the tag spelled out: element names are literals, never built from strings
    root = ET.Element("{http://www.opengis.net/sld}StyledLayerDescriptor", {"version": "1.1.0"})
    named = ET.SubElement(root, f"{{{_SLD}}}NamedLayer")
    ET.SubElement(named, f"{{{_SE}}}Name").text = layer
    user = ET.SubElement(named, f"{{{_SLD}}}UserStyle")
    ET.SubElement(user, f"{{{_SE}}}Name").text = layer
    fts = ET.SubElement(user, f"{{{_SE}}}FeatureTypeStyle")
    for value, label, colour in categories:
        rule = ET.SubElement(fts, f"{{{_SE}}}Rule")
        ET.SubElement(rule, f"{{{_SE}}}Name").text = value
        desc = ET.SubElement(rule, f"{{{_SE}}}Description")
        ET.SubElement(desc, f"{{{_SE}}}Title").text = label
        flt = ET.SubElement(rule, f"{{{_OGC}}}Filter")
        eq = ET.SubElement(flt, f"{{{_OGC}}}PropertyIsEqualTo")
        ET.SubElement(eq, f"{{{_OGC}}}PropertyName").text = column
        ET.SubElement(eq, f"{{{_OGC}}}Literal").text = value
        sym = ET.SubElement(rule, f"{{{_SE}}}PolygonSymbolizer")
        fill = ET.SubElement(sym, f"{{{_SE}}}Fill")
        ET.SubElement(fill, f"{{{_SE}}}SvgParameter", {"name": "fill"}).text = colour
        stroke = ET.SubElement(sym, f"{{{_SE}}}Stroke")
        ET.SubElement(stroke, f"{{{_SE}}}SvgParameter", {"name": "stroke"}).text = _OUTLINE
        ET.SubElement(stroke, f"{{{_SE}}}SvgParameter", {"name": "stroke-width"}).text = "0.3"
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def categorized_style(
    layer: str,
    column: str,
    categories: Sequence[tuple[str, str, str]],
    name: str,
    description: str = "",
) -> LayerStyle:
    """A style colouring ``layer``'s polygons by the values of ``column``.

    Parameters
    ----------
    layer : str
        The layer's name (named in the SLD).
    column : str
        The column whose values pick the colour.
    categories : sequence of (value, label, colour)
        Each value of ``column``, its legend label and its ``#rrggbb`` colour; other values are
        grey.
    name, description : str
        The style's name and description in ``layer_styles``.
    """
    for value, _, colour in categories:
        if not (len(colour) == 7 and colour.startswith("#")):
            raise ValueError(f"colour {colour!r} of {value!r} is not #rrggbb")
    return LayerStyle(
        name=name,
        qml=_qml(column, categories),
        sld=_sld(layer, column, categories),
        description=description,
    )


def add_layer_style(path: str | Path, layer: str, style: LayerStyle) -> None:
    """Store ``style`` as the default style of ``layer`` in the GeoPackage ``path``.

    Creates the ``layer_styles`` table when it is missing and registers it in
    ``gpkg_contents`` (as QGIS does: an attribute table); an earlier default style of the layer
    stops being the default.  Meant for a GeoPackage being written (a temporary file).
    """
    with sqlite3.connect(path) as db:
        found = db.execute(
            "SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (layer,)
        ).fetchone()
        if found is None:
            raise ValueError(f"{Path(path).name} has no geometry layer {layer!r} to style")
        geometry_column = found[0]
        db.execute(_CREATE)
        db.execute(
            "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, "
            "last_change) VALUES (?, 'attributes', ?, strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
            (LAYER_STYLES_TABLE, LAYER_STYLES_TABLE),
        )
        db.execute(
            f"UPDATE {LAYER_STYLES_TABLE} SET useAsDefault = 0 WHERE f_table_name = ?", (layer,)
        )
        db.execute(
            f"INSERT INTO {LAYER_STYLES_TABLE} (f_table_catalog, f_table_schema, f_table_name, "
            "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, owner) "
            "VALUES ('', '', ?, ?, ?, ?, ?, 1, ?, 'gridcarbon')",
            (layer, geometry_column, style.name, style.qml, style.sld, style.description),
        )
    db.close()
