"""Readers of the TROPOMI/S5P L2 NO2 and OCO Lite XCO2 layouts, on small files built here with
known values (the synthetic retrievals of the default scenario are tested in
tests/scenario/test_satellite_synthetic.py)."""

from __future__ import annotations

import dataclasses
import logging

import netCDF4
import numpy as np
import pyproj
import pytest
import shapely

from gridcarbon.errors import InputDataError, InputFileError
from gridcarbon.grids.gridspec import GridSpec
from gridcarbon.io.satellite import (
    OCO_SNAPSHOT_AREA_MODE,
    OcoLiteGranule,
    TropomiNo2Granule,
    read_oco_lite,
    read_tropomi_no2,
    write_oco_lite,
    write_tropomi_no2_l2,
)

LON0, LAT0 = 120.2, 30.25
N_SCAN, N_GROUND, N_LAYER = 8, 6, 5
AEQD = pyproj.CRS.from_proj4(f"+proj=aeqd +lat_0={LAT0} +lon_0={LON0} +datum=WGS84 +units=m")
TO_LONLAT = pyproj.Transformer.from_crs(AEQD, "EPSG:4326", always_xy=True)


@pytest.fixture(scope="module")
def grid():
    """A 60 × 60 km grid of 3 km cells centred on the pixels' block."""
    return GridSpec.from_region(shapely.box(LON0 - 0.3, LAT0 - 0.27, LON0 + 0.3, LAT0 + 0.27))


def _pixel_corners(n_rows, n_cols, dx, dy, x0=None, y0=None):
    """North-up pixels of dx × dy metres, corners counter-clockwise, as lon/lat."""
    x0 = -n_cols * dx / 2 if x0 is None else x0
    y0 = -n_rows * dy / 2 if y0 is None else y0
    c, r = np.meshgrid(np.arange(n_cols), np.arange(n_rows))
    xs = x0 + np.stack([c, c + 1, c + 1, c], -1) * dx
    ys = y0 + np.stack([r, r, r + 1, r + 1], -1) * dy
    lon, lat = TO_LONLAT.transform(xs, ys)
    clon, clat = TO_LONLAT.transform(xs.mean(-1), ys.mean(-1))
    return np.asarray(lon), np.asarray(lat), np.asarray(clon), np.asarray(clat)


def tropomi_granule(**changes) -> TropomiNo2Granule:
    """A block of 8 × 6 pixels of 3.5 × 5.5 km² with known values; qa_value 1.0 except the
    first scanline (0.5, 0.74, 0.75, 0.76, 0.84, 1.0)."""
    shape = (N_SCAN, N_GROUND)
    lon_b, lat_b, lon, lat = _pixel_corners(N_SCAN, N_GROUND, 3500.0, 5500.0)
    idx = np.arange(N_SCAN * N_GROUND, dtype=float).reshape(shape)
    qa = np.ones(shape)
    qa[0] = [0.5, 0.74, 0.75, 0.76, 0.84, 1.0]
    layer = np.arange(N_LAYER)
    ak = (0.4 + 0.15 * layer)[None, None, :] * (1 + 0.01 * idx[..., None])
    a = np.array([[0, 0], [0, 2000], [2000, 8000], [8000, 5000], [5000, 0.0]])
    b = np.array([[1, 0.9], [0.9, 0.6], [0.6, 0.2], [0.2, 0], [0, 0.0]])
    fields = dict(
        time_utc=np.datetime64("2023-06-01T05:30:00")
        + np.arange(N_SCAN) * np.timedelta64(840, "ms"),
        latitude=lat,
        longitude=lon,
        latitude_bounds=lat_b,
        longitude_bounds=lon_b,
        tropospheric_column=1e-5 * (1 + idx),
        tropospheric_column_precision=1e-6 * (1 + idx),
        qa_value=qa,
        averaging_kernel=ak,
        amf_troposphere=1.2 + 0.01 * idx,
        amf_total=2.4 + 0.01 * idx,
        tropopause_layer_index=np.where(idx % 2 == 0, 2, 3),
        tm5_constant_a=a,
        tm5_constant_b=b,
        surface_pressure=100000.0 + 10.0 * idx,
        cloud_radiance_fraction=np.where(qa > 0.75, 0.1, 0.6),
        cloud_fraction=np.where(qa > 0.75, 0.05, 0.3),
        surface_altitude=np.zeros(shape),
        solar_zenith_angle=np.full(shape, 20.0),
        viewing_zenith_angle=np.full(shape, 10.0),
        attributes={
            "title": "TROPOMI/S5P NO2 1-Orbit L2 Swath 5.5x3.5km",
            "processor_version": "2.4.0",
            "synthetic": "true",
            "simulation": "test block",
        },
    )
    fields.update(changes)
    return TropomiNo2Granule(**fields)


def oco_granule(**changes) -> OcoLiteGranule:
    """Ten 2 × 2 km soundings; flag 1 on the last three; modes 0 (first five) and 4."""
    lon_b, lat_b, lon, lat = _pixel_corners(1, 10, 2000.0, 2000.0)
    n, L = 10, 20
    sigma = np.arange(L) / 19.0
    psurf = np.linspace(1000.0, 1010.0, n)
    fields = dict(
        time=np.datetime64("2023-06-01T03:30:00") + np.arange(n) * np.timedelta64(300, "ms"),
        latitude=lat[0],
        longitude=lon[0],
        vertex_latitude=lat_b[0],
        vertex_longitude=lon_b[0],
        xco2=415.0 + np.arange(n),
        xco2_uncertainty=np.full(n, 0.7),
        xco2_apriori=np.full(n, 414.0),
        xco2_quality_flag=np.array([0] * 7 + [1] * 3),
        xco2_averaging_kernel=np.tile(1.05 - 0.35 * (1 - sigma) ** 2, (n, 1)),
        pressure_weight=np.tile(np.full(L, 1 / L), (n, 1)),
        pressure_levels=psurf[:, None] * sigma[None, :],
        co2_profile_apriori=np.full((n, L), 414.0),
        psurf=psurf,
        operation_mode=np.array([0] * 5 + [OCO_SNAPSHOT_AREA_MODE] * 5),
        cloud_fraction=np.zeros(n),
        attributes={"title": "OCO-3 Lite XCO2 test", "synthetic": "false"},
    )
    fields.update(changes)
    return OcoLiteGranule(**fields)


@pytest.fixture
def tropomi_file(tmp_path):
    return write_tropomi_no2_l2(tmp_path / "S5P_TEST_L2__NO2____.nc", tropomi_granule())


@pytest.fixture
def oco_file(tmp_path):
    return write_oco_lite(tmp_path / "oco3_LtCO2_test.nc4", oco_granule())


def _edit(path, name, values=None, **attrs):
    with netCDF4.Dataset(path, "a") as ds:
        var = ds[name]
        for key, val in attrs.items():
            var.setncattr(key, val)
        if values is not None:
            var[...] = values


def _copy_without(src, dst, skip: str):
    """Copy a NetCDF-4 file leaving out the group or variable at path ``skip``."""

    def copy(a, b, prefix):
        for key in a.ncattrs():
            b.setncattr(key, a.getncattr(key))
        for name, dim in a.dimensions.items():
            b.createDimension(name, len(dim))
        for name, var in a.variables.items():
            if f"{prefix}{name}" == skip:
                continue
            fill = var.getncattr("_FillValue") if "_FillValue" in var.ncattrs() else None
            out = b.createVariable(name, var.datatype, var.dimensions, fill_value=fill)
            var.set_auto_maskandscale(False)
            out.set_auto_maskandscale(False)
            for key in var.ncattrs():
                if key != "_FillValue":
                    out.setncattr(key, var.getncattr(key))
            out[...] = var[...]
        for name, group in a.groups.items():
            if f"{prefix}{name}" != skip:
                copy(group, b.createGroup(name), f"{prefix}{name}/")

    with netCDF4.Dataset(src) as a, netCDF4.Dataset(dst, "w") as b:
        copy(a, b, "")
    return dst


# -- TROPOMI -------------------------------------------------------------------------------------


def test_tropomi_every_variable_read_as_documented(tropomi_file, grid):
    g = tropomi_granule()
    obs = read_tropomi_no2(tropomi_file, grid=grid)
    # qa_value > 0.75: first scanline keeps 0.76, 0.84, 1.0 of (0.5, 0.74, 0.75, 0.76, 0.84, 1.0)
    assert len(obs) == N_SCAN * N_GROUND - 3
    flat = np.arange(N_SCAN * N_GROUND).reshape(N_SCAN, N_GROUND)
    kept = np.setdiff1d(flat.ravel(), [0, 1, 2])
    assert np.array_equal(obs.extra["scanline"] * N_GROUND + obs.extra["ground_pixel"], kept)
    np.testing.assert_allclose(obs.value, g.tropospheric_column.ravel()[kept], rtol=1e-6)
    np.testing.assert_allclose(
        obs.precision, g.tropospheric_column_precision.ravel()[kept], rtol=1e-6
    )
    np.testing.assert_allclose(obs.extra["qa_value"][:3], [0.76, 0.84, 1.0])
    assert obs.unit == "mol m-2" and obs.product == "S5P_L2_NO2" and obs.kernel_on == "layers"
    # one UTC time per scanline
    expected_t = np.repeat(g.time_utc.astype("datetime64[ns]"), N_GROUND)[kept]
    assert np.array_equal(obs.time, expected_t)
    # surface pressure and the TM5 layer pressures p = a + b·ps (bottom, top)
    ps = g.surface_pressure.ravel()[kept]
    np.testing.assert_allclose(obs.surface_pressure_pa, ps, rtol=1e-6)
    np.testing.assert_allclose(
        obs.pressure_pa, g.tm5_constant_a[None] + g.tm5_constant_b[None] * ps[:, None, None]
    )
    assert obs.metadata["processor_version"] == "2.4.0" and obs.synthetic
    assert obs.metadata["n_pixels"] == "48" and obs.metadata["n_quality_rejected"] == "3"
    np.testing.assert_allclose(obs.extra["cloud_radiance_fraction"], 0.1, rtol=1e-6)


def test_tropomi_tropospheric_kernel_scaled_and_zero_above_tropopause(tropomi_file, grid):
    g = tropomi_granule()
    obs = read_tropomi_no2(tropomi_file, grid=grid)
    i = obs.extra["scanline"] * N_GROUND + obs.extra["ground_pixel"]
    ak = g.averaging_kernel.reshape(-1, N_LAYER)[i]
    ratio = (g.amf_total.ravel() / g.amf_troposphere.ravel())[i]
    tp = g.tropopause_layer_index.ravel()[i]
    layer = np.arange(N_LAYER)
    np.testing.assert_allclose(
        obs.kernel, np.where(layer <= tp[:, None], ak * ratio[:, None], 0.0), rtol=1e-6
    )
    assert np.all(obs.kernel[tp == 2][:, 3:] == 0) and np.all(obs.kernel[tp == 2][:, :3] > 0)
    assert np.all(obs.kernel[tp == 3][:, 4] == 0) and np.all(obs.kernel[tp == 3][:, 3] > 0)


def test_tropomi_polygons_are_the_pixels_in_the_grid_crs(tropomi_file, grid):
    obs = read_tropomi_no2(tropomi_file, grid=grid)
    assert obs.polygons.crs == grid.crs
    np.testing.assert_allclose(obs.polygons.area, 3500.0 * 5500.0, rtol=0.01)
    lonlat = read_tropomi_no2(tropomi_file)
    assert lonlat.polygons.crs.to_epsg() == 4326


def test_tropomi_pixels_outside_or_near_the_grid_edge_are_dropped(tmp_path, grid):
    # the 8 × 6 block moved to straddle the grid's eastern edge: it starts 12 km inside it
    x_east = grid.bounds[2]
    lon_e, _ = grid.unproject(x_east, 0.5 * (grid.bounds[1] + grid.bounds[3]))
    x0 = pyproj.Transformer.from_crs("EPSG:4326", AEQD, always_xy=True).transform(
        float(lon_e), LAT0
    )[0]
    lon_b, lat_b, lon, lat = _pixel_corners(N_SCAN, N_GROUND, 3500.0, 5500.0, x0=x0 - 12_000.0)
    path = write_tropomi_no2_l2(
        tmp_path / "edge.nc",
        tropomi_granule(
            latitude_bounds=lat_b,
            longitude_bounds=lon_b,
            latitude=lat,
            longitude=lon,
            qa_value=np.ones((N_SCAN, N_GROUND)),
        ),
    )
    inside = read_tropomi_no2(path, grid=grid)
    # columns 0-2 end within 10.5 km of the edge (inside); 3-5 cross or lie beyond it
    assert set(inside.extra["ground_pixel"]) == {0, 1, 2}
    assert inside.metadata["n_outside_grid"] == str(3 * N_SCAN)
    # pixel columns end 8.5, 5, 1.5 km inside the edge: 6 km keeps the first only
    far = read_tropomi_no2(path, grid=grid, min_edge_distance_m=6_000.0)
    assert set(far.extra["ground_pixel"]) == {0}
    # wind from the west: the eastern edge is downwind, no distance is kept from it
    west = read_tropomi_no2(path, grid=grid, min_edge_distance_m=6_000.0, wind_from_deg=270.0)
    assert set(west.extra["ground_pixel"]) == {0, 1, 2}
    # wind from the east: the eastern edge is upwind
    east = read_tropomi_no2(path, grid=grid, min_edge_distance_m=6_000.0, wind_from_deg=90.0)
    assert set(east.extra["ground_pixel"]) == {0}
    # one direction per pixel of the file: from the east on odd ground pixels, west on even
    per_pixel = np.where(np.arange(N_SCAN * N_GROUND) % 2 == 1, 90.0, 270.0)
    mixed = read_tropomi_no2(path, grid=grid, min_edge_distance_m=6_000.0, wind_from_deg=per_pixel)
    assert set(mixed.extra["ground_pixel"]) == {0, 2}
    with pytest.raises(InputDataError, match="wind_from_deg has 3 values"):
        read_tropomi_no2(path, grid=grid, min_edge_distance_m=6_000.0, wind_from_deg=[1, 2, 3])
    with pytest.raises(InputDataError, match="min_edge_distance_m"):
        read_tropomi_no2(path, grid=grid, min_edge_distance_m=-1.0)


@pytest.mark.parametrize(
    ("units", "factor"),
    [
        ("molecules cm-2", 6.02214076e19),
        ("molec/cm2", 6.02214076e19),
        ("mol m^-2", 1.0),
        ("mmol m-2", 1e3),
    ],
)
def test_tropomi_units_converted_to_mol_m2(tmp_path, grid, units, factor):
    g = tropomi_granule()
    path = write_tropomi_no2_l2(tmp_path / "u.nc", g)
    name = "PRODUCT/nitrogendioxide_tropospheric_column"
    _edit(path, name, (g.tropospheric_column * factor)[None], units=units)
    obs = read_tropomi_no2(path, grid=grid)
    np.testing.assert_allclose(obs.value, g.tropospheric_column.ravel()[3:], rtol=1e-6)


@pytest.mark.parametrize("units", ["K", "kg m-2", "furlong", ""])
def test_tropomi_unknown_units_refused(tropomi_file, units):
    _edit(tropomi_file, "PRODUCT/nitrogendioxide_tropospheric_column", units=units)
    with pytest.raises(InputDataError, match="nitrogendioxide_tropospheric_column") as info:
        read_tropomi_no2(tropomi_file)
    assert str(tropomi_file) in str(info.value) and "Fix" in str(info.value)


def test_tropomi_implausible_magnitude_refused(tmp_path):
    g = tropomi_granule(tropospheric_column=np.full((N_SCAN, N_GROUND), 5e15))
    path = write_tropomi_no2_l2(tmp_path / "molec_as_mol.nc", g)
    with pytest.raises(InputDataError, match="implausible"):
        read_tropomi_no2(path)


def test_tropomi_processor_below_2_2_refused(tmp_path):
    attrs = {**tropomi_granule().attributes, "processor_version": "2.1.0"}
    path = write_tropomi_no2_l2(tmp_path / "v21.nc", tropomi_granule(attributes=attrs))
    with pytest.raises(InputFileError, match=r"processor_version 2\.1\.0 is below 2\.2") as info:
        read_tropomi_no2(path)
    assert "van Geffen" in str(info.value) and str(path) in str(info.value)
    ok = {**attrs, "processor_version": "2.2.0"}
    assert (
        len(
            read_tropomi_no2(
                write_tropomi_no2_l2(tmp_path / "v22.nc", tropomi_granule(attributes=ok))
            )
        )
        == 45
    )  # noqa: E501


def test_tropomi_wrong_product_one_clear_error(oco_file, tmp_path):
    with pytest.raises(InputFileError, match="not a TROPOMI/S5P L2") as info:
        read_tropomi_no2(oco_file)
    assert str(oco_file) in str(info.value) and "read_oco_lite" in str(info.value)
    # an S5P file of another product (CO) is refused the same way
    co = tmp_path / "S5P_L2__CO_____.nc"
    with netCDF4.Dataset(co, "w") as ds:
        ds.title = "TROPOMI/S5P CO 1-Orbit L2 Swath"
        ds.processor_version = "2.4.0"
        grp = ds.createGroup("PRODUCT")
        grp.createDimension("scanline", 2)
        grp.createVariable("carbonmonoxide_total_column", "f4", ("scanline",))[:] = [1, 2]
    with pytest.raises(InputFileError, match="not a TROPOMI/S5P L2"):
        read_tropomi_no2(co)


@pytest.mark.parametrize(
    ("skip", "named"),
    [
        ("PRODUCT/SUPPORT_DATA/INPUT_DATA", "group 'PRODUCT/SUPPORT_DATA/INPUT_DATA'"),
        ("PRODUCT/SUPPORT_DATA", "group 'PRODUCT/SUPPORT_DATA'"),
        ("PRODUCT/averaging_kernel", "variable 'PRODUCT/averaging_kernel'"),
        ("PRODUCT/tm5_constant_b", "variable 'PRODUCT/tm5_constant_b'"),
    ],
)
def test_tropomi_missing_group_or_variable_one_clear_error(tropomi_file, tmp_path, skip, named):
    cut = _copy_without(tropomi_file, tmp_path / "cut.nc", skip)
    with pytest.raises(InputFileError) as info:
        read_tropomi_no2(cut)
    msg = str(info.value)
    assert named in msg and str(cut) in msg and "Fix" in msg


def test_tropomi_all_flagged_gives_zero_and_one_log_line(tmp_path, grid, caplog):
    g = tropomi_granule(qa_value=np.full((N_SCAN, N_GROUND), 0.74))
    path = write_tropomi_no2_l2(tmp_path / "cloudy.nc", g)
    with caplog.at_level(logging.DEBUG, logger="gridcarbon"):
        obs = read_tropomi_no2(path, grid=grid)
    assert len(obs) == 0 and obs.kernel.shape == (0, N_LAYER) and len(obs.polygons) == 0
    records = [r for r in caplog.records if r.name == "gridcarbon"]
    assert len(records) == 1 and "no usable pixel" in records[0].getMessage()
    assert "48 failed the quality rule qa_value > 0.75" in records[0].getMessage()


def test_not_a_netcdf_file_is_refused(tmp_path):
    path = tmp_path / "S5P_fake.nc"
    path.write_text("scanline,value\n1,2\n")
    with pytest.raises(InputFileError, match="not a NetCDF file") as info:
        read_tropomi_no2(path)
    assert str(path) in str(info.value)
    with pytest.raises(InputFileError, match="not a NetCDF file"):
        read_oco_lite(path)
    with pytest.raises(InputFileError, match="no such file"):
        read_oco_lite(tmp_path / "absent.nc4")


def test_tropomi_fill_values_are_not_used(tmp_path):
    col = tropomi_granule().tropospheric_column.copy()
    col[3, 2] = np.nan  # written as the product's fill value 9.96921e36
    path = write_tropomi_no2_l2(tmp_path / "fill.nc", tropomi_granule(tropospheric_column=col))
    obs = read_tropomi_no2(path)
    assert len(obs) == 44 and np.all(obs.value < 1e-2)


# -- OCO Lite ------------------------------------------------------------------------------------


def test_oco_every_variable_read_as_documented(oco_file, grid):
    g = oco_granule()
    obs = read_oco_lite(oco_file, grid=grid)
    assert len(obs) == 7  # quality flag 0 kept
    np.testing.assert_allclose(obs.value, 415.0 + np.arange(7))
    np.testing.assert_allclose(obs.precision, 0.7, rtol=1e-6)
    np.testing.assert_allclose(obs.apriori_value, 414.0)
    np.testing.assert_allclose(obs.apriori_profile, 414.0)
    np.testing.assert_allclose(obs.surface_pressure_pa, g.psurf[:7] * 100.0, rtol=1e-6)
    np.testing.assert_allclose(obs.pressure_pa, g.pressure_levels[:7] * 100.0, rtol=1e-6)
    np.testing.assert_allclose(obs.kernel, g.xco2_averaging_kernel[:7], rtol=1e-6)
    np.testing.assert_allclose(obs.pressure_weight.sum(axis=1), 1.0, rtol=1e-6)
    assert np.array_equal(obs.time, g.time[:7].astype("datetime64[ns]"))
    assert obs.unit == "ppm" and obs.kernel_on == "levels" and not obs.synthetic
    assert obs.extra["operation_mode"].tolist() == [0] * 5 + [4] * 2
    np.testing.assert_allclose(obs.polygons.area, 4e6, rtol=0.01)


def test_oco_snapshot_area_mode_selected(oco_file):
    obs = read_oco_lite(oco_file, operation_modes=(OCO_SNAPSHOT_AREA_MODE,))
    assert len(obs) == 2 and np.all(obs.extra["operation_mode"] == 4)


def test_oco_units_converted_and_unknown_refused(tmp_path):
    g = oco_granule()
    path = write_oco_lite(tmp_path / "molfrac.nc4", g)
    _edit(path, "xco2", g.xco2 * 1e-6, units="mol mol-1")
    np.testing.assert_allclose(read_oco_lite(path).value, 415.0 + np.arange(7), rtol=1e-6)
    _edit(path, "xco2", units="ppb")  # values in mol/mol read as ppb: implausibly small
    with pytest.raises(InputDataError, match="outside"):
        read_oco_lite(path)
    _edit(path, "xco2", units="m s-1")
    with pytest.raises(InputDataError, match="'xco2' has units 'm s-1'"):
        read_oco_lite(path)


def test_oco_wrong_product_and_missing_group(tropomi_file, oco_file, tmp_path):
    with pytest.raises(InputFileError, match="not an OCO-2/OCO-3 Lite") as info:
        read_oco_lite(tropomi_file)
    assert "read_tropomi_no2" in str(info.value)
    cut = _copy_without(oco_file, tmp_path / "cut.nc4", "Sounding")
    with pytest.raises(InputFileError, match="lacks group 'Sounding'"):
        read_oco_lite(cut)


def test_oco_all_flagged_gives_zero_and_one_log_line(tmp_path, caplog):
    path = write_oco_lite(tmp_path / "flagged.nc4", oco_granule(xco2_quality_flag=np.ones(10)))
    with caplog.at_level(logging.DEBUG, logger="gridcarbon"):
        obs = read_oco_lite(path)
    assert len(obs) == 0
    assert len([r for r in caplog.records if r.name == "gridcarbon"]) == 1


def test_granule_fields_are_all_written(tropomi_file, oco_file):
    """Every field of the granules lands in the file (the writers are the synthetic files')."""
    with netCDF4.Dataset(tropomi_file) as ds:
        names = set()
        stack = [("", ds)]
        while stack:
            prefix, node = stack.pop()
            names |= {f"{prefix}{v}" for v in node.variables}
            stack += [(f"{prefix}{k}/", grp) for k, grp in node.groups.items()]
        assert {
            "PRODUCT/qa_value",
            "PRODUCT/time_utc",
            "PRODUCT/SUPPORT_DATA/GEOLOCATIONS/latitude_bounds",
            "PRODUCT/SUPPORT_DATA/INPUT_DATA/surface_pressure",
            "PRODUCT/SUPPORT_DATA/DETAILED_RESULTS/cloud_radiance_fraction_nitrogendioxide_window",
        } <= names
        qa = ds["PRODUCT/qa_value"]
        assert qa.dtype == np.uint8 and np.isclose(qa.scale_factor, 0.01)
    assert {f.name for f in dataclasses.fields(OcoLiteGranule)} >= {"operation_mode", "psurf"}
