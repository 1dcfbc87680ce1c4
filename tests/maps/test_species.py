"""Species are values: a map of four species (a made-up SO2 added) and of two."""

from __future__ import annotations

import dataclasses
import json
import re

from fixtures import (
    add_species,
    layer_control_names,
    small_grid,
    small_inputs,
    small_prior,
)

from gridcarbon.maps import make_map, map_html
from gridcarbon.maps.layers_hotspots import PAIRWISE_LAYER_NAME
from gridcarbon.species import CO2, DEFAULT_SPECIES, NOX, Species
from tests.seams import SO2

_DECODER = json.JSONDecoder()


def _legends(page: str) -> dict[str, list]:
    """Legend sections by their data-gc-legend key."""
    out = {}
    for m in re.finditer(r"data-gc-legend', (\"[^\"]*\")\);\s*gc\.legend\(box, ", page):
        out[json.loads(m.group(1))] = _DECODER.raw_decode(page, m.end())[0]
    return out


def _json_after(page: str, marker: str) -> list:
    return [_DECODER.raw_decode(page, m.end())[0] for m in re.finditer(marker, page)]


def _inputs(species: tuple[Species, ...], unit_columns: dict[str, list[float]]):
    grid = small_grid()
    prior = add_species(small_prior(grid), SO2, like="NOx", factor=0.8)
    inputs = small_inputs(grid, species, prior)
    units = inputs.zoning.units.assign(**unit_columns)
    return dataclasses.replace(inputs, zoning=dataclasses.replace(inputs.zoning, units=units))


def test_a_fourth_species_is_drawn_everywhere():
    species = (*DEFAULT_SPECIES, SO2)
    inputs = _inputs(species, {"SO2_kg": [1.0, 2.0, 3.0, 4.0]})
    page = map_html(make_map(inputs), self_contained=False)
    names = layer_control_names(page)
    for v in ("prior", "posterior", "posterior − prior", "uncertainty reduction"):
        assert f"SO2 {v}" in names
    assert "Hotspots: co-located CO2+NOx+VOC+SO2" in names and PAIRWISE_LAYER_NAME in names
    legends = _legends(page)
    # 4 species × 4 rasters, units, units by category, 2 hotspot layers, stations
    assert len(legends) == 16 + 5
    (colocated,) = legends["colocated"]
    assert colocated["rows"][0]["label"] == "CO2+NOx+VOC+SO2 (all four)"
    (pairwise,) = legends["pairwise"]
    pairs = [r for r in pairwise["rows"] if r.get("shape") == "box"]
    assert [r["label"] for r in pairs] == [
        "CO2+NOx",
        "CO2+VOC",
        "CO2+SO2",
        "NOx+VOC",
        "NOx+SO2",
        "VOC+SO2",
    ]
    assert len({r["color"] for r in pairs}) == 6
    # the pairwise cell (hot in the first two species on three days) and the co-located block
    hot = [f for fc in _json_after(page, r"\bgeo_json_\w+_add\(") for f in fc["features"]]
    kinds = sorted(f["properties"]["kind"] for f in hot if "kind" in f["properties"])
    assert kinds == ["CO2+NOx"] + ["CO2+NOx+VOC+SO2"] * 4
    # per-unit series and tooltip labels come from the species
    (charts,) = _json_after(page, r"var charts = ")
    titles = [v["title"] for v in charts["hour"]["vars"]]
    assert titles == [f"{s.name} by hour (Beijing)" for s in species]
    (fields, aliases) = next((f, a) for f, a in _field_tables(page) if f[0] == "unit_code")
    assert "SO₂ emission (kg)" in aliases


def _field_tables(page: str) -> list[tuple[list, list]]:
    out = []
    for m in re.finditer(r"gc\.fieldTable\(", page):
        a, pos = _DECODER.raw_decode(page, m.end())
        pos = re.compile(r"\s*,\s*").match(page, pos).end()
        out.append((a, _DECODER.raw_decode(page, pos)[0]))
    return out


def test_two_species_have_one_colocated_layer_and_no_pairs():
    species = (NOX, SO2)
    inputs = _inputs(species, {"coloc_NOx_SO2_cell_days": [3.0, 0.0, 1.0, 2.0]})
    assert set(inputs.zoning.hotspots["day"].data_vars) >= {"coloc_NOx_SO2"}
    assert "coloc_all" not in inputs.zoning.hotspots["day"]
    page = map_html(make_map(inputs), self_contained=False)
    names = layer_control_names(page)
    assert {"NOx prior", "SO2 prior", "SO2 posterior − prior"} <= set(names)
    assert not any(n.startswith(CO2.name + " ") for n in names)  # not a species of this map
    assert "Hotspots: co-located NOx+SO2" in names and PAIRWISE_LAYER_NAME not in names
    legends = _legends(page)
    assert legends["colocated"][0]["rows"][0]["label"] == "NOx+SO2 (both)"
    assert "pairwise" not in legends
    # the units are coloured by the pair's co-located cell-days
    assert legends["units"][0]["title"] == "Co-located hotspot cell-days (NOx+SO₂) (cell-days)"
    (modes,) = _json_after(page, r"var modes = ")
    assert list(modes) == ["hour:NOx", "hour:SO2", "month:NOx", "month:SO2"]
    assert modes["hour:NOx"]["label"] == "Hour of day (Beijing): NOx per km²"


def test_one_species_has_no_hotspot_layers_and_none_is_refused():
    import pytest

    from gridcarbon.contracts import MapInputs
    from gridcarbon.errors import InputDataError

    inputs = _inputs((NOX,), {})
    names = layer_control_names(map_html(make_map(inputs), self_contained=False))
    assert [n for n in names if n.startswith(("NOx ", "CO2 ", "SO2 "))] == [
        "NOx prior",
        "NOx posterior",
        "NOx posterior − prior",
        "NOx uncertainty reduction",
    ]
    assert not any(n.startswith("Hotspots") for n in names) and "Control units" in names
    with pytest.raises(InputDataError, match="species is empty"):
        make_map(MapInputs(inputs.prior, species=()))
