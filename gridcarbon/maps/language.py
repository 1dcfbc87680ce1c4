"""The map in the language of the run's outputs (``output.language``: ``en`` or ``zh``).

The layers are drawn with English names; :func:`translate_map` then puts every text a reviewer
reads — layer-control names and groups, legend titles, subtitles, units and class labels, the
time slider's labels, tooltip headings, the stations' popups and the synthetic-data banner —
into the chosen language with the glossary's map phrases
(:meth:`gridcarbon.io.glossary.Glossary.translate`).  The unit columns, their values (emerging
categories, pathways) and their popup charts are put in the language where they are drawn
(:func:`map_glossary`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import folium

from gridcarbon.io.glossary import Glossary
from gridcarbon.maps.elements import (
    SYNTHETIC_BANNER_TEXT,
    TRAILING_GROUPS,
    FeatureTooltip,
    LayerControl,
    LayerLegend,
    StationContent,
    UnitSeriesPopup,
    UnitTimeSlider,
    synthetic_banner,
)
from gridcarbon.species import Species

__all__ = ["map_glossary", "set_map_language", "translate_map"]


def set_map_language(m: folium.Map, language: str) -> None:
    """Record the language ``m`` is drawn in (read by :func:`map_glossary`)."""
    m.gc_language = language


def map_glossary(m: folium.Map, species: tuple[Species, ...]) -> Glossary:
    """The glossary in the language of ``m`` (English when none was set)."""
    return Glossary(getattr(m, "gc_language", "en"), species)


def _elements(element: Any) -> Iterator[Any]:
    yield element
    for child in list(element._children.values()):
        yield from _elements(child)


def _section(section: dict, glossary: Glossary) -> dict:
    out = dict(section)
    for key in ("title", "subtitle", "units", "note"):
        if isinstance(out.get(key), str):
            out[key] = glossary.translate(out[key])
    if "rows" in out:
        out["rows"] = [
            {**row, "label": glossary.translate(row["label"])}
            if isinstance(row, dict) and isinstance(row.get("label"), str)
            else row
            for row in out["rows"]
        ]
    return out


def _chart(chart: dict, glossary: Glossary) -> dict:
    series = [{**x, "name": glossary.translate(x["name"])} for x in chart.get("series", [])]
    return {**chart, "title": glossary.translate(chart["title"]), "series": series}


def _station(element: StationContent, glossary: Glossary) -> None:
    """A station's popup and tooltip in the glossary's language (its name is the table's)."""
    data = dict(element.data)
    kind = glossary.translate(data["kind"])
    data["kind"] = kind
    data["empty"] = glossary.translate(data.get("empty", ""))
    if data.get("stats"):
        head = [glossary.translate(h) for h in data["stats"]["head"]]
        data["stats"] = {**data["stats"], "head": head}
    data["charts"] = [_chart(c, glossary) for c in data.get("charts", [])]
    data["legend"] = [[glossary.translate(n), colour] for n, colour in data.get("legend", [])]
    element.data = data
    element.tooltip = f"{data['name']}（{kind}）" if kind else str(data["name"])


def translate_map(m: folium.Map, glossary: Glossary) -> None:
    """Put the texts of ``m`` (and its page) into ``glossary``'s language, in place."""
    if glossary.language == "en":
        return
    root = m.get_root()
    for element in [*_elements(m), *_elements(root.html)]:
        if isinstance(getattr(element, "layer_name", None), str):
            element.layer_name = glossary.translate(element.layer_name)
        if isinstance(getattr(element, "gc_group", None), str):
            element.gc_group = glossary.translate(element.gc_group)
        if isinstance(element, LayerLegend):
            element.sections = [_section(s, glossary) for s in element.sections]
        elif isinstance(element, UnitTimeSlider):
            element.title = glossary.translate(element.title)
            element.metric_label = glossary.translate(element.metric_label)
            element.modes = {
                key: {**mode, "label": glossary.translate(mode["label"])}
                if isinstance(mode.get("label"), str)
                else mode
                for key, mode in element.modes.items()
            }
        elif isinstance(element, LayerControl):
            element.trailing_groups = tuple(glossary.translate(g) for g in TRAILING_GROUPS)
        elif isinstance(element, FeatureTooltip):
            element.aliases = [glossary.translate(a) for a in element.aliases]
        elif isinstance(element, StationContent):
            _station(element, glossary)
        elif isinstance(element, UnitSeriesPopup):
            element.empty = glossary.translate(element.empty)
    if "gc_banner" in root.html._children:
        banner = synthetic_banner(glossary.translate(SYNTHETIC_BANNER_TEXT))
        root.html.add_child(banner, name="gc_banner")
