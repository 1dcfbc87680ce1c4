"""The zoning stage end to end on a small grid, its documents, and the `gridcarbon zones` command."""

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import xarray as xr
from click.testing import CliRunner
from synthetic import FactorCovariance, synthetic_grids, zone_report

from gridcarbon.config.zoning import ZoningConfig
from gridcarbon.contracts import EMERGING_CATEGORIES, RUN_FILES, ZoningResult
from gridcarbon.errors import InputDataError, OutputExistsError
from gridcarbon.species import DEFAULT_SPECIES
from gridcarbon.zoning.normalise import control_units
from gridcarbon.zoning.report import output_names, zoning_documents
from gridcarbon.zoning.stage import run_zoning

CATS = ["优先保护单元", "重点管控单元", "一般管控单元"]


def lattice_units(path):
    lons = np.linspace(119.9, 120.7, 6)
    lats = np.linspace(29.85, 30.4, 5)
    rows = []
    k = 0
    for i in range(len(lons) - 1):
        for j in range(len(lats) - 1):
            k += 1
            cat = CATS[k % 3]
            digit = str(k % 3 + 1)
            sub = ["生态保护红线", "产业集聚类" if k % 2 else "城镇生活类", ""][k % 3]
            rows.append(
                {
                    "单元编码": f"ZH330109{digit}{k:04d}",
                    "单元名称": f"测试单元{k}",
                    "管控类别": cat,
                    "单元分类": sub,
                    "geometry": shapely.segmentize(
                        shapely.box(lons[i], lats[j], lons[i + 1], lats[j + 1]), 0.01
                    ),
                }
            )
    # a unit smaller than a cell, cut out of the lattice unit around it
    tiny = shapely.box(120.30, 30.10, 120.304, 30.103)
    for r in rows:
        if r["geometry"].intersects(tiny):
            r["geometry"] = shapely.difference(r["geometry"], tiny)
    rows.append(
        {
            "单元编码": "ZH33010920999",
            "单元名称": "小单元",
            "管控类别": "重点管控单元",
            "单元分类": "产业集聚类",
            "geometry": tiny,
        }
    )
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4490")
    gdf.to_file(path, layer="units")
    return gdf


@pytest.fixture(scope="module")
def stage_run(small_grid, tmp_path_factory):
    d = tmp_path_factory.mktemp("stage")
    lattice_units(d / "units.gpkg")
    ds = synthetic_grids(small_grid, days=12, n_points=25, seed=3)
    cfg = ZoningConfig(
        units_path=d / "units.gpkg",
        cache_dir=d / "cache",
        toroidal_shifts=19,
        check_offset=False,
        top_n=5,
        qa_region="none",
    )
    units, qa = control_units(d / "units.gpkg", cfg, small_grid)
    res, files = zone_report(
        ds, units, cfg, d / "out", qa=qa, units_path=d / "units.gpkg", grids_kind="posterior"
    )
    return res, ds, cfg, d


def test_outputs_written(stage_run):
    res, ds, cfg, d = stage_run
    assert isinstance(res, ZoningResult) and res.grids_kind == "posterior"
    assert res.species == DEFAULT_SPECIES
    zoning_files = [f.name for f in RUN_FILES if f.stage == "zoning"]
    assert output_names(cfg) == zoning_files
    assert sorted(p.name for p in (d / "out").iterdir()) == sorted(zoning_files)
    quiet = cfg.model_copy(update={"keep_hourly": False, "hourly_hotspots": False})
    assert set(zoning_files) - set(output_names(quiet)) == {
        "zone_tally_hourly.nc",
        "hotspots_hour.nc",
    }
    assert (d / "out" / "zone_units.csv").read_bytes()[:3] == b"\xef\xbb\xbf"  # for Excel
    g = gpd.read_file(d / "out" / "zone_units.gpkg")
    assert len(g) == 21 and g.crs.to_epsg() == 4490
    for col in (
        "unit_code",
        "unit_name",
        "category",
        "subtype",
        "CO2_kg",
        "NOx_t_per_km2",
        "VOC_share_pct",
        "CO2_rank",
        "coloc_all_cell_days",
        "coloc_all_area_km2",
        "coloc_all_share_NOx",
        "coloc_all_obs_exp",
        "emerging_CO2",
        "pathway",
        "coloc_all_hours",
    ):
        assert col in g.columns, col
    assert set(g["emerging_VOC"]) <= set(EMERGING_CATEGORIES)
    html = (d / "out" / "zone_report.html").read_text(encoding="utf-8")
    assert "Synthetic data" in html and "<svg" in html and "ZH330109" in html
    assert "http" not in html.split("<body>")[1].split("Provenance")[0]  # self-contained
    xl = pd.ExcelFile(d / "out" / "zone_report.xlsx")
    assert {
        "units",
        "by_category",
        "by_subtype",
        "by_county",
        "by_city",
        "colocation",
        "qa",
        "provenance",
    } <= set(xl.sheet_names)
    daily = pd.read_csv(d / "out" / "zone_units_daily.csv", dtype={"unit_code": str})
    assert len(daily) == 21 * 12
    first = daily[daily["day"] == daily["day"].iloc[0]]
    assert sorted(first["CO2_rank"]) == sorted(
        first["CO2_kg"].rank(ascending=False, method="min").astype(int)
    )
    qa = json.loads((d / "out" / "zone_units_qa.json").read_text(encoding="utf-8"))
    assert qa["n_units"] == 21 and qa["n_overlaps"] == 0


def test_totals_and_rollups_consistent(stage_run):
    res, ds, cfg, d = stage_run
    t = res.table
    for s in ("CO2", "NOx", "VOC"):
        grid_total = float(res.tally[f"{s}_grid_total"].sum())
        direct = float(
            ds[s].values.sum(dtype=np.float64) + ds[f"{s}_point"].values.sum(dtype=np.float64)
        )
        assert grid_total == pytest.approx(direct, rel=1e-9)
        inside = t[f"{s}_kg"].sum()
        outside = float(res.tally[f"{s}_outside"].sum())
        assert inside + outside == pytest.approx(grid_total, rel=1e-6)
        assert t[f"{s}_share_pct"].sum() == pytest.approx(100 * inside / grid_total, rel=1e-9)
        for by in ("category", "subtype", "county_code", "city_code"):
            assert res.rollups[by][f"{s}_kg"].sum() == pytest.approx(inside, rel=1e-9)
        day = res.tally_day[s].values.sum(axis=1)
        np.testing.assert_allclose(day, t[f"{s}_kg"], rtol=1e-9)
        assert sorted(t[f"{s}_rank"]) == list(range(1, len(t) + 1)) or t[f"{s}_rank"].min() == 1
    small = t.set_index("unit_code").loc["ZH33010920999"]
    assert small["CO2_area_kg"] > 0  # smaller than a cell, still gets its share


def test_diurnal_and_hotspot_layers(stage_run):
    res, ds, cfg, d = stage_run
    di = xr.open_dataset(d / "out" / "zone_diurnal.nc")["diurnal_profile"]
    assert di.shape == (21, 24, 3)
    # the mean over Beijing hours equals the mean hourly rate (whole days)
    np.testing.assert_allclose(
        di.values.mean(axis=1)[:, 0], res.tally["CO2"].values.mean(axis=1), rtol=1e-9
    )
    day = xr.open_dataset(d / "out" / "hotspots_day.nc")
    assert day.sizes["time"] == 12
    for v in (
        "CO2_bin",
        "NOx_bin",
        "VOC_bin",
        "coloc_all",
        "coloc_CO2_NOx",
        "CO2_emerging",
        "CO2_z",
        "n_coloc_all",
        "expected_coloc_all",
    ):
        assert v in day, v
    both = (day["CO2_bin"] >= 1) & (day["NOx_bin"] >= 1) & (day["VOC_bin"] >= 1)
    np.testing.assert_array_equal((day["coloc_all"] > 0).values, both.values)
    weakest = np.minimum(np.minimum(day["CO2_bin"], day["NOx_bin"]), day["VOC_bin"])
    np.testing.assert_array_equal(day["coloc_all"].values[both.values], weakest.values[both.values])
    hour = xr.open_dataset(d / "out" / "hotspots_hour.nc")
    assert hour.sizes["time"] == 12 * 24 and "CO2_z" not in hour and "coloc_all" in hour
    assert res.colocation["set"].tolist()[:4] == ["CO2+NOx+VOC", "CO2+NOx", "CO2+VOC", "NOx+VOC"]


def test_unit_hotspot_figures(stage_run):
    res, ds, cfg, d = stage_run
    day = res.hotspots["day"]
    F = res.overlay.F
    flag = (day["coloc_all"].values > 0).reshape(12, -1).astype(float)
    expect = np.asarray((F @ flag.T).sum(axis=1)).ravel()
    np.testing.assert_allclose(res.table["coloc_all_cell_days"], expect, rtol=1e-12)
    share = res.table["coloc_all_share_CO2"]
    assert ((share >= 0) & (share <= 1 + 1e-12)).all()
    t = res.table.set_index("unit_code")
    assert (t.loc[t.index.str[8] == "1", "pathway"].str.contains("carbon-sink")).all()


def test_refuses_to_overwrite(stage_run):
    from gridcarbon.io.outputs import write_documents

    res, ds, cfg, d = stage_run
    with pytest.raises(OutputExistsError, match="overwrite"):
        write_documents(zoning_documents(res, cfg, {"synthetic": "true", "config": ""}), d / "out")


def test_units_are_a_geodataframe(stage_run):
    res, ds, cfg, d = stage_run
    with pytest.raises(InputDataError, match="GeoDataFrame.*control_units"):
        run_zoning(ds, d / "units.gpkg", cfg, species=DEFAULT_SPECIES)


def test_zones_command(stage_run, small_grid, tmp_path):
    from gridcarbon.cli import cli
    from gridcarbon.config import RunConfig

    res, ds, cfg, d = stage_run
    grids = tmp_path / "grids.nc"
    ds.to_netcdf(grids)
    rc = RunConfig()
    rc.zoning = cfg.model_copy(update={"units_path": None, "hourly_hotspots": False})
    (tmp_path / "run.yaml").write_text(rc.to_yaml(), encoding="utf-8")
    runner = CliRunner()
    args = [
        "zones",
        "--config",
        str(tmp_path / "run.yaml"),
        "--grids",
        str(grids),
        "--units",
        str(d / "units.gpkg"),
        "--out",
        str(tmp_path / "z"),
    ]
    out = runner.invoke(cli, args)
    assert out.exit_code == 0, out.output
    assert (tmp_path / "z" / "zone_units.gpkg").exists()
    assert not (tmp_path / "z" / "hotspots_hour.nc").exists()
    again = runner.invoke(cli, args)
    assert again.exit_code == 1 and "overwrite" in again.output
    assert runner.invoke(cli, args + ["--overwrite"]).exit_code == 0
    # Zarr input
    ds.to_zarr(tmp_path / "grids.zarr")
    z = runner.invoke(
        cli,
        [
            "zones",
            "--config",
            str(tmp_path / "run.yaml"),
            "--grids",
            str(tmp_path / "grids.zarr"),
            "--units",
            str(d / "units.gpkg"),
            "--out",
            str(tmp_path / "zz"),
        ],
    )
    assert z.exit_code == 0, z.output
    a = pd.read_csv(tmp_path / "z" / "zone_units.csv", dtype={"unit_code": str})
    b = pd.read_csv(tmp_path / "zz" / "zone_units.csv", dtype={"unit_code": str})
    np.testing.assert_allclose(a["CO2_kg"], b["CO2_kg"], rtol=1e-12)
    bad = runner.invoke(
        cli, ["zones", "--grids", str(tmp_path / "missing.nc"), "--out", str(tmp_path / "z2")]
    )
    assert bad.exit_code == 1 and "does not exist" in bad.output


def test_posterior_std_through_the_covariance_protocol(stage_run, small_grid):
    """run_zoning asks the covariance for σ of each unit total, with the units' coverage and
    point assignment, and reports it beside the total."""
    from gridcarbon.contracts import PosteriorCovariance
    from gridcarbon.zoning.stage import run_zoning

    res, ds, cfg, d = stage_run
    # scaling factors per cell with exponential spatial correlation (30 km), 20 % std
    xx, yy = np.meshgrid(small_grid.x, small_grid.y)
    pos = np.column_stack([xx.ravel(), yy.ravel()])
    dist = np.hypot(*(pos[:, None, :] - pos[None, :, :]).transpose(2, 0, 1))
    P = 0.04 * np.exp(-dist / 30000.0)
    covariance = FactorCovariance(ds, P)
    assert isinstance(covariance, PosteriorCovariance)
    quick = cfg.model_copy(update={"hourly_hotspots": False, "toroidal_shifts": 0})
    units = res.units[[*res.qa.column_map, "geometry"]]
    out = run_zoning(ds, units, quick, species=DEFAULT_SPECIES, covariance=covariance)
    assert [c[1] for c in covariance.calls] == ["CO2", "NOx", "VOC"]
    for F, _, point_unit, hours in covariance.calls:
        assert F is out.overlay.F and point_unit is out.overlay.point_unit and hours is None
    F = out.overlay.F.toarray()
    e = ds["NOx"].values.astype(np.float64).sum(axis=0).ravel()
    c = F * e
    expect = np.sqrt(np.einsum("ij,jk,ik->i", c, P, c))
    np.testing.assert_allclose(out.table["NOx_posterior_std_kg"], expect, rtol=1e-10)
    np.testing.assert_allclose(
        out.table["NOx_posterior_cv"], expect / out.table["NOx_kg"], rtol=1e-10
    )
    assert "posterior_std" in out.timings
    # correlated errors add up: more than the independent-cells figure for every big unit
    indep = np.sqrt((c**2) @ np.diag(P))
    big = out.table["NOx_area_kg"] > out.table["NOx_area_kg"].median()
    assert (expect[big] > indep[big]).all()
    # a covariance that answers with the wrong shape is refused, naming the species
    wrong = FactorCovariance(ds, P)
    wrong.total_std = lambda *a, **k: np.ones(3)
    with pytest.raises(InputDataError, match="shape"):
        run_zoning(ds, units, quick, species=DEFAULT_SPECIES, covariance=wrong)
