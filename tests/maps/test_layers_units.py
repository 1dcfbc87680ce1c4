"""The unit layer's inputs: units, their documented columns and their series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from gridcarbon.contracts import ZoningResult
from gridcarbon.errors import InputDataError
from gridcarbon.maps.layers_units import unit_columns, unit_frame, unit_series_tables
from gridcarbon.species import DEFAULT_SPECIES


def test_unit_series_from_the_zoning_result(small):
    z = small["inputs"].zoning
    t = unit_series_tables(z, DEFAULT_SPECIES)
    assert list(t["hour"]) == ["CO2", "NOx", "VOC"] and list(t["month"]) == ["CO2", "NOx", "VOC"]
    assert t["hour"]["CO2"].shape == (4, 24) and t["hour"]["CO2"].attrs["units"] == "kg h-1"
    np.testing.assert_allclose(
        t["hour"]["NOx"].to_numpy(), z.diurnal.sel(species="NOx").transpose("unit", "hour")
    )
    assert list(t["hour"]["CO2"].index) == list(z.units["unit_code"])
    # months given as dates become month numbers
    assert list(t["month"]["VOC"].columns) == list(range(1, 13))
    assert t["month"]["VOC"].attrs["units"] == "kg"
    # a species the result lacks is left out; a result without series gives none
    assert list(unit_series_tables(z, DEFAULT_SPECIES[1:])["hour"]) == ["NOx", "VOC"]
    assert unit_series_tables(ZoningResult(units=z.units), DEFAULT_SPECIES) == {
        "hour": {},
        "month": {},
    }
    bad = ZoningResult(units=z.units, tally_month=z.tally_month.rename({"unit": "zone"}))
    with pytest.raises(InputDataError, match="not \\(unit, month\\)"):
        unit_series_tables(bad, DEFAULT_SPECIES)


def test_unit_columns_are_named_by_the_species():
    cols = unit_columns(DEFAULT_SPECIES)
    assert cols.metric[:3] == ("coloc_all_hours", "coloc_all_cell_hours", "coloc_all_cell_days")
    assert cols.metric[3:] == ("CO2_t_per_km2", "CO2_kg")
    assert cols.tooltip[:4] == ("area_km2", "CO2_kg", "NOx_kg", "VOC_kg")
    # the labels of the report and the Excel file (the glossary's), species by display name
    assert cols.label("NOx_t_per_km2") == "NOx intensity (t/km²)"
    assert cols.label("coloc_CO2_VOC_cell_days") == (
        "Co-located hotspot cell-days (CO₂+VOCs) (cell-days)"
    )
    assert cols.label("coloc_all_share_VOC") == (
        "Share of the unit's VOCs in co-located hotspots (all species) (fraction)"
    )
    assert cols.label("some_user_column") == "some user column"
    # two species: their pair is the co-located set
    two = unit_columns(DEFAULT_SPECIES[1:])
    assert two.metric[0] == "coloc_NOx_VOC_hours"
    assert two.label("coloc_NOx_VOC_cell_days") == (
        "Co-located hotspot cell-days (NOx+VOCs) (cell-days)"
    )


def test_unit_frame_validates(small):
    units = small["inputs"].zoning.units
    u = unit_frame(units)
    assert u.crs.to_epsg() == 4326 and list(u["unit_code"])[0] == "ZH33010220001"
    with pytest.raises(InputDataError):
        unit_frame(units.drop(columns=["unit_code"]))
    dup = pd.concat([units, units.iloc[:1]])
    with pytest.raises(InputDataError, match="more than once"):
        unit_frame(dup)


def test_unit_frame_keeps_polygon_parts_only(small):
    u = small["inputs"].zoning.units.copy()
    bow = shapely.Polygon(
        [(120.2, 30.2), (120.3, 30.3), (120.3, 30.2), (120.2, 30.3)]
    )  # self-crossing
    coll = shapely.GeometryCollection(
        [u.geometry.iloc[1], shapely.LineString([(120, 30), (121, 31)])]
    )
    u.loc[0, "geometry"] = bow
    u.loc[1, "geometry"] = coll
    u.loc[2, "geometry"] = shapely.LineString([(120, 30), (121, 31)])  # no area: dropped
    got = unit_frame(u)
    assert len(got) == 3 and set(got.geom_type) <= {"Polygon", "MultiPolygon"}
    assert got.geometry.is_valid.all()


def _hour_strings(page: str) -> dict[str, str]:
    """unit code → the first species' hour class string (feature properties, keys sorted)."""
    import re

    found = re.findall(r'"c_h0": "([0-9a-z_-]+)".*?"unit_code": "([^"]+)"', page)
    return {code: s for s, code in found}


def test_slider_colours_units_by_intensity_per_km2(small):
    """Two units with the same series: the one 100 times larger is classed lower (per km²)."""
    from gridcarbon.contracts import MapInputs
    from gridcarbon.maps import make_map, map_html

    z = small["inputs"].zoning
    units = z.units.copy()
    codes = list(units["unit_code"])
    diurnal = z.diurnal.copy()
    diurnal.loc[{"unit": codes[1]}] = diurnal.sel(unit=codes[0]).values
    units.loc[1, "area_km2"] = units.loc[0, "area_km2"] * 100
    zoning = ZoningResult(units=units, diurnal=diurnal)
    page = map_html(make_map(MapInputs(small["inputs"].prior, zoning=zoning)), False)
    strings = _hour_strings(page)
    big, small_ = strings[codes[1]], strings[codes[0]]
    pairs = list(zip(big, small_, strict=True))
    assert all((b == "_") == (s == "_") for b, s in pairs)  # zero stays zero
    classed = [(int(b, 36), int(s, 36)) for b, s in pairs if b.isalnum()]
    assert classed and all(b < s for b, s in classed), (big, small_)
    # without areas the same series get the same classes
    page = map_html(
        make_map(
            MapInputs(
                small["inputs"].prior,
                zoning=ZoningResult(units=units.drop(columns="area_km2"), diurnal=diurnal),
            )
        ),
        False,
    )
    strings = _hour_strings(page)
    assert strings[codes[1]] == strings[codes[0]]
