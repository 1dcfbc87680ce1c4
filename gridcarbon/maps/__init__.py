"""Interactive Folium maps for reviewers (self-contained HTML by default).

Public API: :func:`make_map`, :func:`write_map`, :func:`map_html`, :class:`MapConfig`, the input
adapters of :mod:`gridcarbon.maps.inputs`, and :func:`gridcarbon.maps.pipeline.run_map_stage`.
"""

from gridcarbon.config.maps import MapConfig
from gridcarbon.maps.core import LAYER_NAMES, make_map, map_html, raster_layer_name, write_map

__all__ = ["MapConfig", "make_map", "write_map", "map_html", "LAYER_NAMES", "raster_layer_name"]
