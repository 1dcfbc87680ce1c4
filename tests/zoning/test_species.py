"""The zoning stage carries any tuple of species: two, the default three, or a made-up fourth.

Species are values (:class:`gridcarbon.species.Species`): the tallies, hotspots, co-location
sets, unit tables, roll-ups, diurnal profiles and the report follow the species given, and the
package code of ``gridcarbon.zoning`` spells no species name.
"""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

import numpy as np
import pytest
from synthetic import synthetic_grids, zone_report

import gridcarbon.zoning
from gridcarbon.config.zoning import ZoningConfig
from gridcarbon.errors import ConfigError, InputDataError
from gridcarbon.species import CO2, NOX, VOC
from gridcarbon.zoning.hotspots import colocation_sets, set_name
from gridcarbon.zoning.normalise import control_units
from gridcarbon.zoning.stage import run_zoning

#: A made-up fourth species, for these tests only.
from tests.seams import SO2

SPELLED = re.compile(r"\b(CO2|NOx|VOC|NO2)\b")


def test_no_species_name_in_zoning_code():
    """No string constant (docstrings included) of the package spells a species name."""
    root = Path(gridcarbon.zoning.__file__).parent
    found = []
    for path in sorted(root.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if SPELLED.search(node.value):
                    found.append(f"{path.name}:{node.lineno}: {node.value[:60]!r}")
    assert found == []


def with_so2(ds):
    """The grids plus SO2: area and point sources unlike the other species (seeded)."""
    rng = np.random.default_rng(11)
    out = ds.copy()
    out["SO2"] = (ds["CO2"] * 1e-3 * rng.lognormal(0, 0.5, ds["CO2"].shape)).astype(np.float32)
    out["SO2"].attrs = {"units": "kg h-1", "long_name": "made-up SO2 emission"}
    out["SO2_point"] = (ds["NOx_point"] * 2.0).astype(np.float32)
    return out


@pytest.fixture(scope="module")
def four(small_grid, tmp_path_factory):
    from test_stage import lattice_units

    d = tmp_path_factory.mktemp("species")
    lattice_units(d / "units.gpkg")
    ds = with_so2(synthetic_grids(small_grid, days=12, n_points=25, seed=3))
    cfg = ZoningConfig(
        toroidal_shifts=9, check_offset=False, top_n=5, qa_region="none", hourly_hotspots=True
    )
    units, qa = control_units(d / "units.gpkg", cfg, small_grid)
    return {"ds": ds, "cfg": cfg, "units": units, "qa": qa, "dir": d}


def run(four, species, out=None):
    if out is None:
        return run_zoning(four["ds"], four["units"], four["cfg"], species=species, qa=four["qa"])
    return zone_report(four["ds"], four["units"], four["cfg"], out, species=species, qa=four["qa"])


def test_colocation_sets_of_any_number():
    assert colocation_sets(["a", "b"]) == [("a", "b")]
    sets = colocation_sets(["a", "b", "c", "d"])
    assert sets[0] == ("a", "b", "c", "d") and set_name(sets[0]) == "all"
    assert sets[1:] == list(itertools.combinations("abcd", 2))
    assert [set_name(s) for s in sets[1:3]] == ["a_b", "a_c"]


def test_four_species_everywhere(four):
    species = (CO2, NOX, VOC, SO2)
    res, files = run(four, species, four["dir"] / "out4")
    names = [s.name for s in species]
    assert res.species == species
    # tallies: SO2 conserved like the others
    t = res.tally
    grid_total = four["ds"]["SO2"].values.sum(dtype=np.float64) + four["ds"][
        "SO2_point"
    ].values.sum(dtype=np.float64)
    assert float(t["SO2_grid_total"].sum()) == pytest.approx(grid_total, rel=1e-9)
    assert float(t["SO2"].sum() + t["SO2_outside"].sum()) == pytest.approx(grid_total, rel=1e-6)
    assert list(res.diurnal["species"].values) == names
    for col in ("SO2_kg", "SO2_t_per_km2", "SO2_share_pct", "SO2_rank", "emerging_SO2"):
        assert col in res.units, col
    for by, roll in res.rollups.items():
        assert roll["SO2_kg"].sum() == pytest.approx(res.table["SO2_kg"].sum(), rel=1e-9), by
    # co-location: all four together and the six pairs, at every level
    day = res.hotspots["day"]
    assert "SO2_bin" in day and "SO2_emerging" in day
    allhot = np.logical_and.reduce([day[f"{s}_bin"].values >= 1 for s in names])
    np.testing.assert_array_equal(day["coloc_all"].values > 0, allhot)
    for a, b in itertools.combinations(names, 2):
        pair = (day[f"{a}_bin"].values >= 1) & (day[f"{b}_bin"].values >= 1)
        np.testing.assert_array_equal(day[f"coloc_{a}_{b}"].values > 0, pair)
    sets = res.colocation[res.colocation["level"] == "day"]["set"].tolist()
    assert sets == ["+".join(names)] + ["+".join(p) for p in itertools.combinations(names, 2)]
    seen = res.colocation["observed_cell_steps"] > 0
    assert seen.any() and (res.colocation["n_shifts"] == np.where(seen, 9, 0)).all()
    four_maps = res.colocation[(res.colocation["set"] == "+".join(names)) & seen]
    assert len(four_maps) and (four_maps["toroidal_p"] > 0).all()  # the four-map null ran
    assert "coloc_all_share_SO2" in res.units and "coloc_all_hours" in res.units
    # the report: display names and colours of the species
    html = (four["dir"] / "out4" / "zone_report.html").read_text(encoding="utf-8")
    assert "co-located CO₂/NOx/VOCs/SO₂ hotspots" in html and "#7570b3" in html
    assert "SO2_kg" in (four["dir"] / "out4" / "zone_units.csv").read_text(encoding="utf-8-sig")


def test_the_first_three_unchanged_by_a_fourth(four):
    three = run(four, (CO2, NOX, VOC))
    res = run(four, (CO2, NOX, VOC, SO2))
    for s in ("CO2", "NOx", "VOC"):
        np.testing.assert_array_equal(res.tally[s].values, three.tally[s].values)
        np.testing.assert_array_equal(res.table[f"{s}_kg"].values, three.table[f"{s}_kg"].values)
        for level in ("hour", "day", "month"):
            np.testing.assert_array_equal(
                res.hotspots[level][f"{s}_bin"].values, three.hotspots[level][f"{s}_bin"].values
            )
    for pair in ("CO2_NOx", "CO2_VOC", "NOx_VOC"):
        np.testing.assert_array_equal(
            res.hotspots["hour"][f"coloc_{pair}"].values,
            three.hotspots["hour"][f"coloc_{pair}"].values,
        )


def test_two_species(four, tmp_path):
    res, files = run(four, (NOX, VOC), tmp_path / "out2")
    assert set(res.diurnal["species"].values) == {"NOx", "VOC"}
    assert "CO2_kg" not in res.units and "NOx_kg" in res.units
    day = res.hotspots["day"]
    assert "coloc_all" not in day and "coloc_NOx_VOC" in day
    assert res.colocation["set"].unique().tolist() == ["NOx+VOC"]
    # with two species the pair is the whole set: its shares and hours are reported
    assert {"coloc_NOx_VOC_share_VOC", "coloc_NOx_VOC_hours"} <= set(res.units.columns)
    html = (tmp_path / "out2" / "zone_report.html").read_text(encoding="utf-8")
    assert "co-located NOx/VOCs hotspots" in html


def test_species_must_be_values_in_the_grids(four):
    with pytest.raises(ConfigError, match="Species values"):
        run_zoning(four["ds"], four["units"], four["cfg"], species=("CO2",), qa=four["qa"])
    with pytest.raises(ConfigError, match="at least one species"):
        run_zoning(four["ds"], four["units"], four["cfg"], species=(), qa=four["qa"])
    lonely = SO2.__class__(**{**SO2.to_dict(), "name": "PM25"})
    with pytest.raises(InputDataError, match=r"no variable for species \['PM25'\]"):
        run_zoning(four["ds"], four["units"], four["cfg"], species=(CO2, lonely), qa=four["qa"])


def test_one_species_has_no_colocation(four, tmp_path):
    res, files = run(four, (VOC,), tmp_path / "out1")
    assert list(res.diurnal["species"].values) == ["VOC"]
    assert res.colocation.empty and not any(c.startswith("coloc_") for c in res.units.columns)
    assert "VOC_bin" in res.hotspots["day"] and "VOC_emerging" in res.hotspots["day"]
    assert (tmp_path / "out1" / "zone_report.html").stat().st_size > 1000
