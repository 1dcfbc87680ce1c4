"""Further point layers (:class:`gridcarbon.contracts.PointLayer`): drawn as markers whose names
reach the page as JSON data only, in the layer control under their group."""

from __future__ import annotations

import folium
import pandas as pd
import pytest

from gridcarbon.contracts import PointLayer
from gridcarbon.errors import InputDataError
from gridcarbon.maps.layers_points import add_point_layers
from tests.maps.test_injection import station_data

HOSTILE = "</script><script>alert(1)</script>"


def _layer(**points) -> PointLayer:
    table = pd.DataFrame(
        {
            "id": ["E1", "E2"],
            "name": [HOSTILE, "plain"],
            "lon": [120.1, 120.2],
            "lat": [30.1, 30.2],
            "colour": ["#2a9d3f", "#d1495b"],
            "kind": ["green", "red"],
            "rows": [[["score", "0.9"]], []],
            **points,
        }
    )
    return PointLayer("Enterprise rating", "Synergy", table, (("#2a9d3f", "green (1)"),))


def test_points_are_drawn_as_data_with_their_popup_rows():
    m = folium.Map(location=[30.1, 120.1])
    assert add_point_layers(m, (_layer(),)) == ["Enterprise rating"]
    page = m.get_root().render()
    assert HOSTILE not in page
    data = {d["station_id"]: d for d in station_data(page)}
    assert data["E1"]["name"] == HOSTILE and data["E1"]["kind"] == "green"
    assert data["E1"]["stats"]["rows"] == [["score", "0.9"]]
    assert data["E2"]["stats"] is None
    assert page.count("circle_marker") >= 2 and "#d1495b" in page


def test_a_point_without_a_place_is_refused():
    m = folium.Map(location=[30.1, 120.1])
    with pytest.raises(InputDataError, match="point 'E2' has no valid lon/lat"):
        add_point_layers(m, (_layer(lat=[30.1, None]),))
    with pytest.raises(InputDataError, match="lack columns \\['rows'\\]"):
        add_point_layers(m, (PointLayer("x", "g", _layer().points.drop(columns="rows")),))
