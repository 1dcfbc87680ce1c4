"""The map stage inside ``run``: the map of the real inversion and zoning results (coarse grid,
3 days), wired by the pipeline through MapInputs."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from fixtures import layer_control_names  # noqa: E402

from gridcarbon.maps import LAYER_NAMES
from gridcarbon.maps.assets import external_references
from gridcarbon.maps.layers_stations import station_statistics


@pytest.mark.slow
def test_map_of_real_stage_results(tmp_path):
    from gridcarbon.config import RunConfig
    from gridcarbon.pipeline import run

    cfg = RunConfig.validate_dict(
        {  # the default scenario on 30 km cells over 3 days
            "grid": {"cell_size_m": 30000.0},
            "period": {"start": dt.date(2023, 1, 20), "end": dt.date(2023, 1, 22)},
            "zoning": {"gi_radius_m": 65000.0},  # a Gi* band of a few 30 km cells
        }
    )
    result = run(cfg, out_dir=tmp_path / "run")
    inv, zon = result.stages["inversion"], result.stages["zoning"]
    assert result.files["map"] == tmp_path / "run" / "map.html"
    page = result.files["map"].read_text(encoding="utf-8")
    assert external_references(page) == []
    names = layer_control_names(page)
    for name in (
        "CO2 posterior",
        "CO2 posterior − prior",
        "CO2 uncertainty reduction",
        LAYER_NAMES["units"],
        LAYER_NAMES["colocated"],
        LAYER_NAMES["stations"],
        LAYER_NAMES["province"],
    ):
        assert name in names, name
    assert page.count('"unit_code":') == len(zon.units)
    # the default colouring metric is the zoning stage's co-located hotspot hours
    assert "co-located hotspot hours" in page
    # one station marker per station, each with its statistics (a row per observed species)
    assert page.count("L.circleMarker(") == len(inv.stations)
    decoder = json.JSONDecoder()
    data = [decoder.raw_decode(page, m.end())[0] for m in re.finditer(r"var data = (?=\{)", page)]
    assert sorted(d["station_id"] for d in data) == sorted(inv.stations["station_id"])
    assert {d["name"] for d in data} == set(inv.stations["name"])
    observed = station_statistics(inv.station_series).groupby("station_id").size()
    for d in data:
        assert d["stats"] is not None, d["station_id"]
        assert len(d["stats"]["rows"]) == observed[d["station_id"]], d["station_id"]
