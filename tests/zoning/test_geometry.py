"""Control-unit coordinates and geometry: swapped axes, web-map offsets on every CRS that can carry
them, repairs that dissolve overlapping parts, units outside the grid."""

import warnings

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gridcarbon.config.zoning import ZoningConfig
from gridcarbon.errors import CRSError, InputDataError
from gridcarbon.grids.gridspec import to_projected
from gridcarbon.zoning.normalise import control_units
from gridcarbon.zoning.offsets import wgs84_to_gcj02

CFG = ZoningConfig(check_offset=False)
CODES = ["ZH33010910001", "ZH33010920001", "ZH33010930001"]


def units(geoms=None, crs="EPSG:4490") -> gpd.GeoDataFrame:
    if geoms is None:
        geoms = shapely.segmentize(
            [
                shapely.box(120.20, 30.00, 120.30, 30.10),
                shapely.box(120.30, 30.00, 120.40, 30.10),
                shapely.box(120.20, 30.10, 120.40, 30.20),
            ],
            0.005,
        )
    return gpd.GeoDataFrame(
        {
            "单元编码": CODES[: len(geoms)],
            "单元名称": ["甲", "乙", "丙"][: len(geoms)],
            "管控类别": ["优先保护单元", "重点管控单元", "一般管控单元"][: len(geoms)],
        },
        geometry=list(geoms),
        crs=crs,
    )


def shifted(gdf: gpd.GeoDataFrame, to_offset) -> gpd.GeoDataFrame:
    out = gdf.copy()
    out["geometry"] = shapely.transform(
        gdf.geometry.values, lambda xy: np.column_stack(to_offset(xy[:, 0], xy[:, 1]))
    )
    return out


def max_distance_deg(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> float:
    return max(
        shapely.hausdorff_distance(x, y) for x, y in zip(a.geometry, b.geometry, strict=True)
    )


def test_overlapping_multipolygon_parts_dissolved(tmp_path, small_grid):
    parts = [shapely.box(120.20, 30.00, 120.30, 30.10), shapely.box(120.28, 30.02, 120.34, 30.08)]
    g = units([shapely.MultiPolygon(parts)])
    path = tmp_path / "mp.gpkg"
    g.to_file(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out, qa = control_units(path, CFG, grid=small_grid)
    union = to_projected(shapely.union_all(parts), small_grid.crs)
    drawn = sum(to_projected(p, small_grid.crs).area for p in parts)
    assert out["area_km2"].iloc[0] == pytest.approx(union.area / 1e6, rel=1e-9)
    assert [str(w.message) for w in caught] == [
        f"{path}: 1 invalid unit geometry repaired (overlapping parts dissolved, holes cut, "
        "every ring's area kept): " + qa.repaired[0]
    ]
    assert len(qa.repairs) == 1
    record = qa.repairs[0]
    assert record["feature"] == "feature 1 (FID 1)" and record["unit_code"] == CODES[0]
    assert record["area_before_km2"] == pytest.approx(drawn / 1e6, rel=1e-9)
    assert record["area_after_km2"] == pytest.approx(union.area / 1e6, rel=1e-9)
    assert qa.repaired[0].startswith(f"{CODES[0]} at feature 1 (FID 1) (Self-intersection")


def test_swapped_shell_and_hole_keep_their_area(small_grid):
    # As a Shapefile with wrong winding order can give it: the unit's outline read as a hole of
    # a sliver. The structure repair alone leaves nothing of it.
    outline = shapely.box(120.30, 30.00, 120.40, 30.10)
    sliver = shapely.box(120.35, 30.05, 120.3501, 30.0501)
    g = units()
    g.loc[1, "geometry"] = shapely.Polygon(sliver.exterior.coords, [outline.exterior.coords])
    assert shapely.make_valid(g.geometry[1], method="structure", keep_collapsed=False).is_empty
    with pytest.warns(UserWarning, match="every ring's area kept"):
        out, qa = control_units(g, CFG, grid=small_grid)
    expected = to_projected(outline.difference(sliver), small_grid.crs).area / 1e6
    assert out["area_km2"].iloc[1] == pytest.approx(expected, rel=1e-9)
    assert qa.repairs[0]["note"].endswith("the structure repair alone would leave 0.000 km²")


def test_irreparable_geometry_refused(small_grid):
    g = units()
    g.loc[1, "geometry"] = shapely.Polygon([(120.3, 30.0), (120.4, 30.0), (120.5, 30.0)])
    with pytest.raises(
        InputDataError,
        match=r"GeoDataFrame, row 2: unit 'ZH33010920001' has an "
        r"invalid geometry .* cannot be repaired",
    ):
        control_units(g, CFG, grid=small_grid)


def test_swapped_lon_lat_refused(tmp_path, small_grid):
    g = units()
    g["geometry"] = shapely.transform(g.geometry.values, lambda xy: xy[:, ::-1])
    path = tmp_path / "swapped.geojson"
    g.to_file(path, driver="GeoJSON")
    with pytest.raises(CRSError) as err:
        control_units(path, CFG, grid=small_grid)
    assert str(err.value) == (
        f"{path}: coordinates look like (lat, lon): x runs 30.000..30.200 (latitudes) and y "
        "120.200..120.400 (longitudes); swap the axes (QGIS: Processing > Swap X and Y "
        "coordinates; shapely: shapely.transform(g, lambda xy: xy[:, ::-1])) or set the right "
        "CRS: gridcarbon reads x as longitude"
    )


def test_projected_metres_labelled_as_degrees_refused(small_grid):
    g = units().to_crs("EPSG:4549").set_crs("EPSG:4490", allow_override=True)
    with pytest.raises(CRSError, match="cannot be longitude/latitude .* EPSG:4549"):
        control_units(g, CFG, grid=small_grid)


def test_swapped_gauss_kruger_axes_named(small_grid):
    g = units().to_crs("EPSG:4549")
    g["geometry"] = shapely.transform(g.geometry.values, lambda xy: xy[:, ::-1])
    with pytest.raises(CRSError, match=r"look like \(northing, easting\): swap the axes"):
        control_units(g, CFG, grid=small_grid)


def test_units_wholly_outside_the_grid(small_grid):
    g = units()
    g.loc[3] = ["ZH33010930002", "远处", "一般管控单元", shapely.box(125, 35, 125.1, 35.1)]
    with pytest.raises(InputDataError) as err:
        control_units(g, CFG, grid=small_grid)
    assert str(err.value) == (
        "GeoDataFrame: 1 of 4 units lie wholly outside the grid, e.g. ZH33010930002 at row 4; "
        "their emissions cannot be tallied: clip the file to the grid (QGIS: Vector > "
        "Geoprocessing > Clip) or set zoning.units_outside_grid: drop"
    )
    from gridcarbon.zoning.qa import UnitsOutsideGridWarning

    cfg = CFG.model_copy(update={"units_outside_grid": "drop"})
    with pytest.warns(UnitsOutsideGridWarning, match="1 unit.* dropped"):
        out, qa = control_units(g, cfg, grid=small_grid)
    assert out["unit_code"].tolist() == CODES
    assert qa.dropped_outside_grid == ["ZH33010930002"]


def test_no_unit_on_the_grid_refused(small_grid):
    g = shifted(units(), lambda lon, lat: (lon + 5.0, lat + 5.0))
    with pytest.raises(InputDataError, match="none of the 3 units overlaps the grid"):
        control_units(g, CFG, grid=small_grid)


def test_units_partly_outside_the_grid_warned(small_grid):
    x0, y0, x1, y1 = small_grid.bounds
    lon, lat = small_grid.unproject(np.array([x1]), np.array([(y0 + y1) / 2]))
    edge = shapely.box(
        float(lon[0]) - 0.05, float(lat[0]) - 0.05, float(lon[0]) + 0.05, float(lat[0]) + 0.05
    )
    g = units([*units().geometry[:2], edge])
    from gridcarbon.zoning.qa import UnitsOutsideGridWarning

    with pytest.warns(
        UnitsOutsideGridWarning,
        match=r"1 of 3 units lie partly outside the grid "
        r"\(most: ZH33010930001 at row 3, 5\d % outside\)",
    ):
        _, qa = control_units(g, CFG, grid=small_grid)
    assert qa.partly_outside_grid == ["ZH33010930001"]


def test_gcj02_alias_on_web_mercator(tmp_path, small_grid):
    true = units()
    mars = shifted(true, wgs84_to_gcj02).set_crs("EPSG:4326", allow_override=True)
    path = tmp_path / "amap.gpkg"
    mars.to_crs("EPSG:3857").to_file(path)  # the usual web-map export
    out, qa = control_units(path, CFG.model_copy(update={"units_gcj02": True}), grid=small_grid)
    assert max_distance_deg(out, true) < 1e-8
    assert qa.transformation == (
        "WGS 84 / Pseudo-Mercator → WGS84 lon/lat → CGCS2000 (null transformation); "
        "GCJ-02 → WGS84 (zoning.units_offset: gcj02)"
    )


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:4490", "EPSG:3857"])
def test_bd09_offset_removed(crs, small_grid):
    from gridcarbon.zoning.offsets import gcj02_to_bd09

    true = units()
    baidu = shifted(true, lambda lon, lat: gcj02_to_bd09(*wgs84_to_gcj02(lon, lat)))
    baidu = baidu.set_crs("EPSG:4326", allow_override=True).to_crs(crs)
    before = max_distance_deg(units(list(baidu.to_crs(4326).geometry)), true)
    assert 0.008 < before < 0.02  # about 1 km
    out, qa = control_units(baidu, CFG.model_copy(update={"units_offset": "bd09"}), grid=small_grid)
    assert max_distance_deg(out, true) < 2e-6  # the BD-09 formula's round trip: ~0.2 m
    assert qa.transformation.endswith("; BD-09 → GCJ-02 → WGS84 (zoning.units_offset: bd09)")


def test_offset_refused_on_gauss_kruger(small_grid):
    g = units().to_crs("EPSG:4549")
    with pytest.raises(
        CRSError,
        match=r"units_offset is gcj02, but GeoDataFrame is in CGCS2000 / "
        r"3-degree Gauss-Kruger CM 120E: GCJ-02 and BD-09 offsets exist only",
    ):
        control_units(g, CFG.model_copy(update={"units_offset": "gcj02"}), grid=small_grid)


def test_offset_options_contradicting():
    with pytest.raises(ValueError, match="units_gcj02: true contradicts units_offset: bd09"):
        ZoningConfig(units_gcj02=True, units_offset="bd09")
    assert ZoningConfig(units_gcj02=True).effective_units_offset == "gcj02"


def test_geodataframe_matches_file(tmp_path, small_grid):
    g = units().to_crs("EPSG:4549")
    path = tmp_path / "gk.gpkg"
    g.to_file(path)
    a, qa_file = control_units(path, CFG, grid=small_grid)
    b, qa_frame = control_units(g, CFG, grid=small_grid)
    assert qa_frame.source == "GeoDataFrame" and qa_file.transformation == qa_frame.transformation
    assert a.drop(columns="geometry").equals(b.drop(columns="geometry"))
    assert max_distance_deg(a, b) < 1e-9


def test_no_stray_warnings_on_a_clean_file(tmp_path, small_grid):
    path = tmp_path / "clean.gpkg"
    units().to_file(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, _ = control_units(path, CFG, grid=small_grid)
    assert len(out) == 3


def test_layer_without_polygons_refused(tmp_path, small_grid):
    path = tmp_path / "points.gpkg"
    g = units()
    g["geometry"] = g.geometry.centroid
    g.to_file(path, layer="units")
    with pytest.raises(InputDataError) as err:
        control_units(path, CFG, grid=small_grid)
    assert str(err.value) == (
        f"{path} holds Point features, not polygons: control units must be "
        "Polygon or MultiPolygon features; give the layer with the unit polygons "
        "(zoning.units_layer)"
    )
