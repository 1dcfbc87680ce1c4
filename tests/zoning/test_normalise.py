"""Control-unit loading: formats, encodings, column mapping, CRS handling and QA."""

import warnings

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely

from gridcarbon.config.zoning import ZoningConfig
from gridcarbon.errors import CRSError, InputDataError, InputFileError
from gridcarbon.io.units_file import detect_dbf_encoding
from gridcarbon.zoning.geometry import units_to_grid_crs
from gridcarbon.zoning.normalise import CategoryWarning, control_units
from gridcarbon.zoning.offsets import GCJ02OffsetWarning

CFG = ZoningConfig(check_offset=False)


def chinese_units(crs="EPSG:4490") -> gpd.GeoDataFrame:
    """Three units near Hangzhou with a provincial file's Chinese field names."""
    geoms = shapely.segmentize(
        [
            shapely.box(120.20, 30.00, 120.30, 30.10),
            shapely.box(120.30, 30.00, 120.40, 30.10),
            shapely.box(120.20, 30.10, 120.40, 30.20),
        ],
        0.005,
    )
    gdf = gpd.GeoDataFrame(
        {
            "单元编码": ["ZH33010910001", "ZH33010920001", "ZH33010930001"],
            "单元名称": [
                "萧山区优先保护单元1",
                "萧山区产业集聚重点管控单元",
                "萧山区一般管控单元1",
            ],
            "管控类别": ["优先保护单元", "重点管控单元", "一般管控单元"],
            "单元分类": ["生态保护红线", "产业集聚类", ""],
        },
        geometry=geoms,
        crs="EPSG:4490",
    )
    return gdf.to_crs(crs) if crs != "EPSG:4490" else gdf


def test_gbk_shapefile_without_cpg(tmp_path, small_grid, boundaries):
    path = tmp_path / "units.shp"
    chinese_units().to_file(path, encoding="GBK")
    path.with_suffix(".cpg").unlink()  # GBK attributes with no code-page file
    assert detect_dbf_encoding(path) == "GB18030"
    units, qa = control_units(path, CFG, grid=small_grid, **boundaries)
    assert units["unit_name"].tolist()[1] == "萧山区产业集聚重点管控单元"
    assert units["category"].tolist() == ["priority_protection", "key_control", "general_control"]
    assert units["subtype"].tolist() == ["ecological_red_line", "industrial_agglomeration", "none"]
    assert qa.column_map["unit_code"] == "单元编码"
    assert qa.encoding == "GB18030"
    assert units["county_code"].tolist() == ["330109"] * 3
    assert units["county_name"].iloc[0] == "萧山区"
    assert units["city_name"].iloc[0] == "杭州市"
    # without boundaries, the names stay empty and the QA says why
    units, qa = control_units(path, CFG, grid=small_grid)
    assert units["county_code"].tolist() == ["330109"] * 3
    assert units["county_name"].tolist() == [""] * 3
    assert "no county and city boundaries were given" in " ".join(qa.summary_lines())


def test_gbk_shapefile_with_cpg_and_utf8(tmp_path, small_grid):
    gbk = tmp_path / "gbk.shp"
    chinese_units().to_file(gbk, encoding="GBK")
    assert detect_dbf_encoding(gbk) == "GBK"  # the .cpg is honoured
    utf = tmp_path / "utf.shp"
    chinese_units().to_file(utf, encoding="UTF-8")
    utf.with_suffix(".cpg").unlink()
    assert detect_dbf_encoding(utf) == "UTF-8"
    for p in (gbk, utf):
        units, qa = control_units(p, CFG, grid=small_grid)
        assert units["unit_name"].iloc[0] == "萧山区优先保护单元1"
        assert units["category"].iloc[1] == "key_control"
    # UTF-8 field names were cut at the DBF 10-byte limit ("单元编码" → "单元编")
    assert qa.column_map["unit_code"] == "单元编"


def test_geojson_and_geopackage(tmp_path, small_grid):
    gj = tmp_path / "u.geojson"
    chinese_units().to_file(gj, driver="GeoJSON")
    gp = tmp_path / "u.gpkg"
    chinese_units().to_file(gp, layer="units")
    a, _ = control_units(gj, CFG, grid=small_grid)
    b, _ = control_units(gp, CFG, grid=small_grid)
    assert a["unit_code"].tolist() == b["unit_code"].tolist()
    np.testing.assert_allclose(a["area_km2"], b["area_km2"], rtol=1e-9)


@pytest.mark.parametrize("epsg", [4549, 4528])  # GK CM 120E without / with the zone prefix
def test_gauss_kruger_reprojected(tmp_path, small_grid, epsg):
    path = tmp_path / f"gk{epsg}.gpkg"
    chinese_units(f"EPSG:{epsg}").to_file(path)
    units, qa = control_units(path, CFG, grid=small_grid)
    assert "Gauss" in qa.transformation
    ref = chinese_units()
    for g, r in zip(units.geometry, ref.geometry, strict=True):
        assert shapely.hausdorff_distance(g, r) < 1e-8  # degrees, about 1 mm
    assert units.crs.to_epsg() == 4490


def test_wrong_gk_zone_rejected(tmp_path, small_grid):
    gdf = chinese_units("EPSG:4549")  # eastings without the zone prefix...
    gdf = gdf.set_crs("EPSG:4528", allow_override=True)  # ...declared as the prefixed variant
    path = tmp_path / "wrong.gpkg"
    gdf.to_file(path)
    with pytest.raises(CRSError, match="zone prefix"):
        control_units(path, CFG, grid=small_grid)


def test_wgs84_is_null_transformation(tmp_path, small_grid):
    path = tmp_path / "wgs.geojson"
    chinese_units().set_crs("EPSG:4326", allow_override=True).to_file(path, driver="GeoJSON")
    units, qa = control_units(path, CFG, grid=small_grid)
    assert "null transformation" in qa.transformation
    assert units.crs.to_epsg() == 4490
    # coordinates kept as they are (up to GeoJSON's 15 significant digits), no datum shift
    np.testing.assert_allclose(
        shapely.get_coordinates(units.geometry.values),
        shapely.get_coordinates(chinese_units().geometry.values),
        rtol=0,
        atol=1e-12,
    )


def test_axis_order_lon_lat(small_grid):
    # EPSG:4490 declares lat/lon axis order; coordinates must still be used as x = lon.
    assert pyproj.CRS.from_epsg(4490).axis_info[0].abbrev.lower().startswith("lat")
    units = chinese_units()
    g = units_to_grid_crs(units, small_grid)
    x, y = small_grid.project(120.25, 30.05)
    assert shapely.contains(g[0], shapely.Point(x, y))


def test_no_crs_rejected_with_hint(tmp_path, small_grid):
    path = tmp_path / "nocrs.shp"
    chinese_units().to_file(path, encoding="UTF-8")
    path.with_suffix(".prj").unlink()
    with pytest.raises(CRSError, match="units_assume_crs"):
        control_units(path, CFG, grid=small_grid)
    units, qa = control_units(
        path, CFG.model_copy(update={"units_assume_crs": "EPSG:4490"}), grid=small_grid
    )
    assert len(units) == 3 and "assumed" in qa.notes[0]


def test_zero_byte_geopackage_rejected(tmp_path, small_grid):
    path = tmp_path / "units.gpkg"
    path.touch()
    with pytest.raises(InputFileError) as err:
        control_units(path, CFG, grid=small_grid)
    assert str(err.value) == (
        f"control-unit file {str(path)!r} is empty (0 bytes): the export or copy did not "
        "finish; export the layer again (QGIS: right-click the layer > Export > Save Features As)"
    )


def test_empty_file_rejected(tmp_path, small_grid):
    path = tmp_path / "empty.gpkg"
    chinese_units().iloc[:0].to_file(path)
    with pytest.raises(InputDataError, match="no features"):
        control_units(path, CFG, grid=small_grid)


def test_duplicate_and_empty_codes_rejected(tmp_path, small_grid):
    g = chinese_units()
    g.loc[2, "单元编码"] = g.loc[0, "单元编码"]
    path = tmp_path / "dup.gpkg"
    g.to_file(path)
    with pytest.raises(InputDataError, match="duplicate unit code.*ZH33010910001"):
        control_units(path, CFG, grid=small_grid)
    g = chinese_units()
    g.loc[1, "单元编码"] = ""
    path = tmp_path / "empty_code.gpkg"
    g.to_file(path)
    with pytest.raises(InputDataError, match="empty code"):
        control_units(path, CFG, grid=small_grid)


def test_unknown_category_and_column_map(tmp_path, small_grid):
    g = chinese_units().rename(columns={"单元编码": "DYDM", "管控类别": "LB"})
    g["LB"] = ["优先", "重点管控单元", "一般管控单元"]
    g["DYDM"] = ["A1", "A2", "A3"]  # codes without the category digit
    path = tmp_path / "custom.gpkg"
    g.to_file(path)
    with pytest.raises(InputDataError, match="unit-code field"):
        control_units(path, CFG, grid=small_grid)
    cfg = CFG.model_copy(update={"column_map": {"unit_code": "DYDM", "category": "LB"}})
    with pytest.raises(InputDataError, match="category_values"):
        control_units(path, cfg, grid=small_grid)
    cfg = cfg.model_copy(update={"category_values": {"优先": "priority_protection"}})
    units, _ = control_units(path, cfg, grid=small_grid)
    assert units["category"].iloc[0] == "priority_protection"


def test_category_from_code_digit_only_on_request(tmp_path, small_grid):
    g = chinese_units().drop(columns=["管控类别"])
    path = tmp_path / "nocat.gpkg"
    g.to_file(path)
    with pytest.raises(InputDataError, match="has no category field .*category_check: warn"):
        control_units(path, CFG, grid=small_grid)
    cfg = CFG.model_copy(update={"category_check": "warn"})
    with pytest.warns(CategoryWarning, match="3 unit.*no category field"):
        units, qa = control_units(path, cfg, grid=small_grid)
    assert units["category"].tolist() == ["priority_protection", "key_control", "general_control"]
    assert len(qa.category_issues) == 3
    assert qa.category_issues[1] == (
        "feature 2 (FID 2) ZH33010920001: no category field; key_control from the code"
    )


def test_invalid_geometry_repaired_and_reported(tmp_path, small_grid):
    g = chinese_units()
    bowtie = shapely.Polygon([(120.2, 30.0), (120.3, 30.1), (120.3, 30.0), (120.2, 30.1)])
    assert not bowtie.is_valid
    g.loc[0, "geometry"] = bowtie
    path = tmp_path / "invalid.gpkg"
    g.to_file(path)
    units, qa = control_units(path, CFG, grid=small_grid)
    assert units.geometry.is_valid.all()
    assert len(qa.repaired) == 1 and qa.repaired[0].startswith("ZH33010910001")
    assert "Self-intersection" in qa.repaired[0]
    assert units["area_km2"].iloc[0] > 0
    with pytest.raises(InputDataError, match="invalid geometries"):
        control_units(path, CFG.model_copy(update={"repair_invalid": False}), grid=small_grid)


def test_overlaps_gaps_measured(tmp_path, small_grid):
    g = chinese_units()
    g.loc[1, "geometry"] = shapely.segmentize(shapely.box(120.28, 30.00, 120.40, 30.10), 0.005)
    path = tmp_path / "qa.gpkg"
    g.to_file(path)
    crs = small_grid.crs
    from gridcarbon.grids.gridspec import to_projected

    region = to_projected(shapely.segmentize(shapely.box(120.2, 30.0, 120.45, 30.2), 0.005), crs)
    units, qa = control_units(path, CFG, grid=small_grid, region=region)
    gm = units_to_grid_crs(units, small_grid)
    expect_overlap = shapely.area(shapely.intersection(gm[0], gm[1])) / 1e6
    assert qa.overlap_km2 == pytest.approx(expect_overlap, abs=1e-4)  # + edge slivers
    assert qa.n_overlaps == 1 and qa.overlaps[0][:2] == ("ZH33010910001", "ZH33010920001")
    gap = (
        to_projected(shapely.segmentize(shapely.box(120.40, 30.0, 120.45, 30.2), 0.005), crs).area
        / 1e6
    )
    assert qa.gap_km2 == pytest.approx(gap, rel=1e-6)
    assert qa.outside_grid == [] and qa.partly_outside_grid == []


def test_gcj02_offset_warning(small_grid):
    from gridcarbon.scenario.geography import load_boundaries

    counties = load_boundaries("county")
    c = counties[counties["city_code"] == "330100"].reset_index(drop=True)
    gdf = gpd.GeoDataFrame(
        {"unit_code": "ZH" + c["adcode"] + "30001", "category": "一般管控单元"},
        geometry=list(c.geometry),
        crs="EPSG:4490",
    )
    from gridcarbon.scenario.geography import default_grid
    from gridcarbon.zoning.normalise import normalise_units
    from gridcarbon.zoning.qa import run_qa

    grid = default_grid()
    cfg = ZoningConfig()
    units = normalise_units(gdf, cfg)
    gm = units_to_grid_crs(units, grid)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GCJ02OffsetWarning)
        qa = run_qa(units, gm, grid=grid, cfg=cfg, counties=counties)  # true boundaries
    assert qa.offset_warning is None and abs(qa.offset_m[0]) < 50 and abs(qa.offset_m[1]) < 50
    # GCJ-02-like displacement: about 480 m east, 250 m south
    shifted = shapely.transform(gm, lambda xy: xy + np.array([480.0, -250.0]))
    with pytest.warns(GCJ02OffsetWarning, match="GCJ-02"):
        qa = run_qa(units, shifted, grid=grid, cfg=cfg, counties=counties)
    assert qa.offset_m[0] == pytest.approx(480, abs=30)
    assert qa.offset_m[1] == pytest.approx(-250, abs=30)


@pytest.mark.slow
def test_gcj02_file_warned_then_converted(tmp_path):
    from gridcarbon.scenario.geography import default_grid, load_boundaries
    from gridcarbon.zoning.offsets import wgs84_to_gcj02

    counties, cities = load_boundaries("county"), load_boundaries("city")
    c = counties[counties["city_code"] == "330100"].reset_index(drop=True)
    true = gpd.GeoDataFrame(
        {"unit_code": "ZH" + c["adcode"] + "30001", "category": "一般管控单元"},
        geometry=list(c.geometry),
        crs="EPSG:4326",
    )
    mars = true.copy()
    mars["geometry"] = shapely.transform(
        true.geometry.values, lambda xy: np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1]))
    )
    path = tmp_path / "mars.gpkg"
    mars.to_file(path)  # GCJ-02 numbers labelled WGS84
    grid = default_grid()
    with pytest.warns(GCJ02OffsetWarning, match="units_offset: gcj02"):
        _, qa = control_units(path, ZoningConfig(), grid=grid, counties=counties, cities=cities)
    assert 300 < np.hypot(*qa.offset_m) < 700
    with warnings.catch_warnings():
        warnings.simplefilter("error", GCJ02OffsetWarning)
        units, qa = control_units(
            path, ZoningConfig(units_offset="gcj02"), grid=grid, counties=counties, cities=cities
        )
    assert "GCJ-02" in qa.transformation and np.hypot(*qa.offset_m) < 50
    for g, t in zip(units.geometry, true.geometry, strict=True):
        assert shapely.hausdorff_distance(g, t) < 1e-8


def _hangzhou_counties_as_units(crs: str) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Hangzhou's county polygons as control units (one per county), and all counties."""
    from gridcarbon.scenario.geography import load_boundaries

    counties = load_boundaries("county")
    c = counties[counties["city_code"] == "330100"].reset_index(drop=True)
    units = gpd.GeoDataFrame(
        {"unit_code": "ZH" + c["adcode"] + "30001", "category": "一般管控单元"},
        geometry=list(c.geometry),
        crs=crs,
    )
    return units, counties


def _to_bd09(xy: np.ndarray) -> np.ndarray:
    from gridcarbon.zoning.offsets import gcj02_to_bd09, wgs84_to_gcj02

    return np.column_stack(gcj02_to_bd09(*wgs84_to_gcj02(xy[:, 0], xy[:, 1])))


def test_bd09_units_labelled_wgs84_are_refused_naming_the_source_and_the_fix():
    from gridcarbon.scenario.geography import default_grid

    true, counties = _hangzhou_counties_as_units("EPSG:4326")
    baidu = true.copy()
    baidu["geometry"] = shapely.transform(true.geometry.values, _to_bd09)
    grid = default_grid()
    with pytest.raises(CRSError) as info:
        control_units(baidu, ZoningConfig(), grid=grid, counties=counties, source_name="bd.shp")
    message = str(info.value)
    assert message.startswith("bd.shp: the unit boundaries sit a median ")
    assert "BD-09 (Baidu map)" in message and "zoning.units_offset: bd09" in message
    median_as_read = float(message.split("median ")[1].split(" m")[0])
    assert 500 < median_as_read < 900  # the offset is ~1.2 km; its part across the lines
    # declared, the offset is removed and the units are the counties again, with no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", GCJ02OffsetWarning)
        units, qa = control_units(
            baidu, ZoningConfig(units_offset="bd09"), grid=grid, counties=counties
        )
    assert "BD-09" in qa.transformation and np.hypot(*qa.offset_m) < 50
    for g, t in zip(units.geometry, true.geometry, strict=True):
        assert shapely.hausdorff_distance(g, t) < 1e-5  # the BD-09 formula's round trip


@pytest.mark.parametrize("datum", ["wgs84", "gcj02"])
def test_bd09_check_leaves_true_and_gcj02_units_alone(datum):
    from gridcarbon.scenario.geography import default_grid
    from gridcarbon.zoning.offsets import offset_fit, wgs84_to_gcj02

    units, counties = _hangzhou_counties_as_units("EPSG:4326")
    if datum == "gcj02":
        units["geometry"] = shapely.transform(
            units.geometry.values, lambda xy: np.column_stack(wgs84_to_gcj02(*xy.T))
        )
    grid = default_grid()
    fit = offset_fit(units_to_grid_crs(units, grid), grid.crs, counties)
    assert min(fit, key=fit.get) == {"wgs84": "none", "gcj02": "gcj02"}[datum]
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        _, qa = control_units(units, ZoningConfig(), grid=grid, counties=counties)
    gcj_warned = any(issubclass(w.category, GCJ02OffsetWarning) for w in seen)
    assert gcj_warned == (datum == "gcj02")
