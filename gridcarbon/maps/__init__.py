"""Interactive Folium maps for reviewers (self-contained HTML by default).

Public API: :func:`make_map` (a :class:`~gridcarbon.contracts.MapInputs` value → folium.Map),
:func:`map_documents`, :func:`map_html`, :func:`write_map`, :func:`layer_names`,
:data:`LAYER_NAMES`, :func:`raster_layer_name`, :class:`MapConfig` and the stage,
:func:`run_map_stage`.  Names are loaded on first use (PEP 562): importing ``gridcarbon.maps``
loads no folium until a verb is used.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "MapConfig",
    "make_map",
    "map_documents",
    "map_html",
    "write_map",
    "layer_names",
    "LAYER_NAMES",
    "raster_layer_name",
    "run_map_stage",
]


def __getattr__(name: str) -> Any:
    # Each branch imports one module on first use; the names are then cached in globals().
    if name == "MapConfig":
        from gridcarbon.config import maps as module
    elif name in (
        "make_map",
        "map_documents",
        "map_html",
        "write_map",
        "layer_names",
        "LAYER_NAMES",
    ):
        from gridcarbon.maps import build as module
    elif name == "raster_layer_name":
        from gridcarbon.maps import layers_rasters as module
    elif name == "run_map_stage":
        from gridcarbon.maps import stage as module
    else:
        raise AttributeError(f"module 'gridcarbon.maps' has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
