"""The page around the layers: head (title, generator, provenance), style and script, the
synthetic-data banner, the web basemaps and the layer control."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import folium
import xarray as xr

from gridcarbon._version import __version__
from gridcarbon.config.maps import MapConfig
from gridcarbon.maps.assets import LEAFLET_CSS, LEAFLET_JS
from gridcarbon.maps.elements import (
    TRAILING_GROUPS,
    LayerControl,
    in_group,
    map_css,
    map_script,
    page_head,
    synthetic_banner,
)
from gridcarbon.maps.language import map_glossary

__all__ = ["page_provenance", "new_map", "add_page", "add_tile_layers", "add_layer_control"]

#: Provenance keys shown in the page, and the prior attribute each defaults to.
_PROVENANCE_FROM_PRIOR = {
    "synthetic": "unknown",
    "synthetic_components": "",
    "input_checksums": "",
}


def page_provenance(
    provenance: Mapping[str, Any], prior: xr.Dataset, cfg: MapConfig
) -> dict[str, Any]:
    """The provenance written into the page as JSON.

    ``gridcarbon_version`` from ``provenance`` (default: this gridcarbon's version);
    ``synthetic``, ``synthetic_components`` and ``input_checksums`` from ``provenance``, else
    the prior's attributes of those names; and the map configuration.
    """
    prov: dict[str, Any] = {
        "gridcarbon_version": str(provenance.get("gridcarbon_version", __version__))
    }
    for key, default in _PROVENANCE_FROM_PRIOR.items():
        prov[key] = str(provenance.get(key, prior.attrs.get(key, default)))
    prov["map_config"] = cfg.model_dump(mode="json")
    return prov


def new_map(bounds: list[list[float]], cfg: MapConfig) -> folium.Map:
    """An empty map fitted to ``bounds`` (``[[south, west], [north, east]]``) that loads only
    Leaflet (inlined by :func:`gridcarbon.maps.build.map_html` unless ``cfg.self_contained``
    is False)."""
    centre = [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]
    m = folium.Map(
        location=centre, zoom_start=7, tiles=None, control_scale=True, prefer_canvas=True
    )
    m.default_js = [("leaflet", LEAFLET_JS)]
    m.default_css = [("leaflet_css", LEAFLET_CSS)]
    m.gc_config = cfg
    return m


def _title(m: folium.Map, cfg: MapConfig) -> str:
    """The page title in the map's language (the default title is in the glossary; a title of
    one's own is kept as written)."""
    return map_glossary(m, ()).translate(cfg.title)


def add_page(m: folium.Map, cfg: MapConfig, provenance: dict[str, Any]) -> None:
    """Title, generator and provenance in the head, the map's style and script, and the banner
    of synthetic data (``provenance["synthetic"] == "true"``)."""
    root = m.get_root()
    # the title goes through the head's autoescaping template, never folium's raw <title>
    root.title = None
    root.header.add_child(
        page_head(_title(m, cfg), provenance["gridcarbon_version"], provenance), name="gc_head"
    )
    root.header.add_child(map_css(), name="gc_css")
    root.header.add_child(map_script(), name="gc_script")
    if provenance["synthetic"] == "true":
        root.html.add_child(synthetic_banner(), name="gc_banner")


def add_tile_layers(m: folium.Map, cfg: MapConfig) -> None:
    """The optional web basemaps of ``cfg.tile_layers``, off when the map opens."""
    for tile in cfg.tile_layers:
        layer = folium.TileLayer(
            tile,
            name=f"Web basemap: {tile} (needs internet)",
            overlay=True,
            show=False,
            control=True,
        )
        in_group(layer, TRAILING_GROUPS[1]).add_to(m)


def add_layer_control(m: folium.Map, cfg: MapConfig) -> None:
    """The layer control (top right), its overlays under group headings; collapsed into an
    icon unless ``cfg.layer_control_collapsed`` is False."""
    LayerControl(collapsed=cfg.layer_control_collapsed, position="topright").add_to(m)
