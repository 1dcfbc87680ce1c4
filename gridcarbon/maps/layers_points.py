"""Further point layers handed to the map (:class:`gridcarbon.contracts.PointLayer`): coloured
markers with a popup table each, e.g. the enterprise rating or the co-control priority units.

Names and values reach the page as JSON data and are drawn with ``textContent`` (the station
popup's helpers), never as markup.
"""

from __future__ import annotations

import folium
import numpy as np
import pandas as pd

from gridcarbon.contracts import PointLayer
from gridcarbon.errors import InputDataError
from gridcarbon.maps.elements import LayerLegend, StationContent, in_group
from gridcarbon.maps.scales import categorical_legend_section

__all__ = ["add_point_layers"]

_COLUMNS = ("id", "name", "lon", "lat", "colour", "kind", "rows")


def _popup_data(row: pd.Series) -> dict:
    """The popup of one point in the form the station popup draws (all text)."""
    rows = [[str(label), str(value)] for label, value in row["rows"]]
    return {
        "name": str(row["name"]),
        "station_id": str(row["id"]),
        "kind": str(row["kind"]),
        "stats": {"head": ["", ""], "rows": rows} if rows else None,
        "charts": [],
        "legend": [],
    }


def add_point_layers(m: folium.Map, layers: tuple[PointLayer, ...]) -> list[str]:
    """Draw each layer as circle markers with popups and a legend; returns the layer names.

    Raises
    ------
    InputDataError
        A layer whose points lack a column of ``id, name, lon, lat, colour, kind, rows`` or
        have no valid lon/lat.
    """
    names = []
    for layer in layers:
        pts = layer.points
        missing = [c for c in _COLUMNS if c not in pts.columns]
        if missing:
            raise InputDataError(f"map layer {layer.name!r}: its points lack columns {missing}")
        lon = pd.to_numeric(pts["lon"], errors="coerce").to_numpy(float)
        lat = pd.to_numeric(pts["lat"], errors="coerce").to_numpy(float)
        bad = ~(np.isfinite(lon) & np.isfinite(lat))
        if bad.any():
            raise InputDataError(
                f"map layer {layer.name!r}: point {pts['id'].iloc[int(np.argmax(bad))]!r} "
                "has no valid lon/lat"
            )
        group = folium.FeatureGroup(name=layer.name, show=layer.show)
        for k, (_, row) in enumerate(pts.iterrows()):
            marker = folium.CircleMarker(
                location=[float(lat[k]), float(lon[k])],
                radius=5,
                color="#222222",
                weight=1,
                fill=True,
                fill_color=str(row["colour"]),
                fill_opacity=0.9,
            )
            marker.add_child(
                StationContent(_popup_data(row), tooltip=f"{row['name']} ({row['kind']})")
            )
            marker.add_to(group)
        in_group(group, layer.group).add_to(m)
        if layer.legend:
            LayerLegend(
                group,
                [categorical_legend_section(layer.name, list(layer.legend), shape="dot")],
                f"points-{len(names)}",
                position="bottomleft",
            ).add_to(m)
        names.append(layer.name)
    return names
