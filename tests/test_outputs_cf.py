"""The files a run writes are CF-1.10 clean, georeferenced for GDAL, on one UTC time base, and
the Excel report is laid out for analysts.

A small whole run (coarse grid, three days, NetCDF + Zarr + GeoTIFF) is made once for the
module; the IOOS compliance-checker (``cf:1.10``, ``normal`` criteria, offline) runs on every
NetCDF it holds and on the Zarr stores' metadata, and Debian's ``/usr/bin/gdalinfo`` (GDAL 3.6,
not rasterio's bundled GDAL) opens every grid output.  The default run (no configuration: the
run the fingerprint freezes) is made too, for the compliance-checker on each of its NetCDF
files; CI runs it with the rest (``.ci/run``: the README's ``python -m pytest -q``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from tests.runs import write_run_config

SYSTEM_GDALINFO = "/usr/bin/gdalinfo"
# Beside this interpreter first: a venv's scripts are found even when the venv is not activated.
COMPLIANCE_CHECKER = shutil.which(
    "compliance-checker", path=str(Path(sys.executable).parent)
) or shutil.which("compliance-checker")


def compliance_errors(path: Path) -> tuple[int, str]:
    """Exit code and report of ``compliance-checker --test cf:1.10 --criteria normal path``."""
    assert COMPLIANCE_CHECKER, "compliance-checker (the dev extra) is not installed"
    done = subprocess.run(
        [COMPLIANCE_CHECKER, "--test", "cf:1.10", "--criteria", "normal", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.returncode, done.stdout + done.stderr


def zarr_metadata_as_netcdf(store: Path, target: Path) -> Path:
    """The Zarr store's metadata (every variable's dimensions, type and attributes, exactly as
    stored, with the first day of data) as a NetCDF file the compliance-checker can read: it
    opens Zarr only through netCDF-C's NCZarr, which reads no text arrays, and wants a path
    ending in ``.nc``.  GDAL's ``_CRS`` (a JSON object NetCDF cannot hold) is left out; the
    GDAL test checks it."""
    ds = xr.open_zarr(store, decode_cf=False, consolidated=None)
    if "time" in ds.dims:
        ds = ds.isel(time=slice(0, 24))
    ds = ds.load()
    encoding = {}
    for name, var in ds.variables.items():
        var.attrs.pop("_CRS", None)
        fill = var.attrs.pop("_FillValue", None)
        encoding[name] = {"_FillValue": fill}
        if var.dtype.kind in "UO":
            encoding[name].update({"dtype": "S1", "char_dim_name": f"{name}_strlen"})
            encoding[name].pop("_FillValue")
    # every Zarr array can grow (the store is appended month by month, like the NetCDF's
    # unlimited time): the copy keeps time unlimited as the NetCDF twin has it
    unlimited = ["time"] if "time" in ds.dims else []
    ds.to_netcdf(target, encoding=encoding, unlimited_dims=unlimited)
    return target


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A small whole run with every grid format."""
    work = tmp_path_factory.mktemp("cf-run")
    write_run_config(work, output={"formats": ["netcdf", "zarr", "geotiff"]})
    subprocess.run(
        [sys.executable, "-m", "gridcarbon.cli", "run", "--config", "run.yaml", "--out", "out"],
        cwd=work,
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    return work / "out"


@pytest.mark.slow
def test_every_netcdf_of_a_run_passes_the_cf_checker(run_dir):
    files = sorted(run_dir.glob("*.nc"))
    names = {p.name for p in files}
    assert {"prior.nc", "posterior.nc", "hotspots_day.nc", "zone_tally_daily.nc"} <= names
    failed = {}
    for path in files:
        code, report = compliance_errors(path)
        if code != 0:
            failed[path.name] = report[-3000:]
    assert not failed, failed


@pytest.mark.slow
def test_every_netcdf_of_the_default_run_passes_the_cf_checker(default_run):
    """The compliance-checker (cf:1.10, normal criteria, offline) on every NetCDF the default
    run writes: exit 0 for each."""
    files = sorted(default_run.glob("*.nc"))
    names = {p.name for p in files}
    assert {"prior.nc", "posterior.nc", "hotspots_day.nc", "zone_tally_daily.nc"} <= names
    failed = {}
    for path in files:
        code, report = compliance_errors(path)
        if code != 0:
            failed[path.name] = report[-3000:]
    assert not failed, failed


@pytest.mark.slow
def test_zarr_store_metadata_passes_the_cf_checker(run_dir, tmp_path):
    for store in ("prior.zarr", "posterior.zarr"):
        copy = zarr_metadata_as_netcdf(run_dir / store, tmp_path / f"{store}.nc")
        code, report = compliance_errors(copy)
        assert code == 0, report[-3000:]
        with xr.open_zarr(run_dir / store) as z, xr.open_dataset(run_dir / "prior.nc") as nc:
            for key in ("Conventions", "title", "history", "source", "institution"):
                assert z.attrs[key], key
            assert z.attrs["Conventions"] == nc.attrs["Conventions"] == "CF-1.10"


def _gdalinfo(target: str) -> str:
    done = subprocess.run([SYSTEM_GDALINFO, target], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _georeferenced_arrays(path: Path) -> list[tuple[str, int]]:
    """``(variable, number of leading dimensions)`` of every array over ``(y, x)``."""
    opener = xr.open_zarr if path.is_dir() else xr.open_dataset
    with opener(path) as ds:
        return [(str(n), v.ndim - 2) for n, v in ds.data_vars.items() if v.dims[-2:] == ("y", "x")]


@pytest.mark.slow
@pytest.mark.skipif(not Path(SYSTEM_GDALINFO).exists(), reason="Debian's gdalinfo is absent")
def test_system_gdal_finds_crs_and_geotransform_in_every_grid_output(run_dir):
    targets = []
    for name in ("prior.nc", "posterior.nc", "hotspots_hour.nc", "hotspots_day.nc"):
        for var, _lead in _georeferenced_arrays(run_dir / name):
            targets.append(f"NETCDF:{run_dir / name}:{var}")
    for store in ("prior.zarr", "posterior.zarr"):
        for var, lead in _georeferenced_arrays(run_dir / store):
            # GDAL 3.6 opens a slice of an array with leading dimensions by index
            targets.append(f'ZARR:"{run_dir / store}":/{var}' + ":0" * lead)
    targets.append(str(run_dir / "prior_totals.tif"))
    assert len(targets) > 20
    with xr.open_dataset(run_dir / "prior.nc") as prior:
        x0 = float(prior["x"][0]) - float(prior.attrs["cell_size_m"]) / 2
    for target in targets:
        info = _gdalinfo(target)
        assert "PROJCRS" in info and "Albers" in info, f"{target}: no CRS\n{info[:400]}"
        assert f"Origin = ({x0:.15f}" in info, f"{target}: no geotransform\n{info[:400]}"


@pytest.mark.slow
def test_rioxarray_finds_the_crs_and_transform_of_every_grid_output(run_dir):
    """rioxarray (a modeller's usual reader) sees the CRS and the cell size of every grid, the
    NetCDF files and the Zarr stores alike, by their ``grid_mapping`` (opened as rioxarray's
    documentation says, with ``decode_coords="all"``)."""
    rioxarray = pytest.importorskip("rioxarray")
    assert rioxarray  # registers the .rio accessor
    with xr.open_dataset(run_dir / "prior.nc") as prior:
        cell = float(prior.attrs["cell_size_m"])
        x0 = float(prior["x"][0]) - cell / 2
    checked = 0
    for name in ("prior.nc", "posterior.nc", "hotspots_day.nc", "prior.zarr", "posterior.zarr"):
        engine = "zarr" if name.endswith(".zarr") else None
        with xr.open_dataset(run_dir / name, engine=engine, decode_coords="all") as ds:
            for var, _lead in _georeferenced_arrays(run_dir / name):
                da = ds[var]
                crs = da.rio.crs
                assert crs is not None, f"{name}:{var}: rioxarray finds no CRS"
                assert "Albers" in crs.to_wkt(), f"{name}:{var}: {crs}"
                t = da.rio.transform()
                assert t.a == pytest.approx(cell) and t.c == pytest.approx(x0), f"{name}:{var}"
                checked += 1
    assert checked > 20


@pytest.mark.slow
def test_geotiff_marks_cells_outside_the_region_nodata(run_dir):
    import rasterio

    with rasterio.open(run_dir / "prior_totals.tif") as src:
        assert all(np.isnan(v) for v in src.nodatavals)
        bands = src.read()
    with xr.open_dataset(run_dir / "prior.nc") as prior:
        outside = prior["region_fraction"].values <= 0
    assert outside.any() and (~outside).any()
    assert np.isnan(bands[:, outside]).all()
    assert np.isfinite(bands[:, ~outside]).all()


def _bounds(ds: xr.Dataset, dim: str) -> np.ndarray:
    return ds[ds[dim].attrs["bounds"]].values


@pytest.mark.slow
def test_every_time_axis_is_utc_on_the_priors_hours(run_dir):
    with xr.open_dataset(run_dir / "prior.nc") as prior:
        hours = prior["time"].values
        hour_bounds = prior["time_bnds"].values
    for name in ("posterior.nc", "hotspots_hour.nc", "zone_tally_hourly.nc"):
        with xr.open_dataset(run_dir / name) as ds:
            np.testing.assert_array_equal(ds["time"].values, hours, err_msg=name)
            np.testing.assert_array_equal(_bounds(ds, "time"), hour_bounds, err_msg=name)
    period = (hour_bounds[0, 0], hour_bounds[-1, 1])
    bins = [
        ("hotspots_day.nc", "time", "beijing_date"),
        ("hotspots_month.nc", "time", "beijing_month"),
        ("zone_tally_daily.nc", "day", "beijing_date"),
        ("zone_tally_daily.nc", "month", "beijing_month"),
    ]
    for name, dim, label in bins:
        with xr.open_dataset(run_dir / name) as ds:
            b = _bounds(ds, dim)
            # the bins tile the hourly bounds: contiguous, from the first hour to the last
            assert (b[0, 0], b[-1, 1]) == period, name
            np.testing.assert_array_equal(b[1:, 0], b[:-1, 1], err_msg=name)
            assert np.isin(b, hour_bounds).all(), name
            np.testing.assert_array_equal(ds[dim].values, b[:, 0], err_msg=name)
            # each bin keeps its Beijing meaning: its start is Beijing midnight of its label
            starts = pd.DatetimeIndex(b[:, 0]) + pd.Timedelta(hours=8)
            fmt = "%Y-%m-%d" if label == "beijing_date" else "%Y-%m"
            assert list(starts.strftime(fmt)) == [str(v) for v in ds[label].values], name
    with xr.open_dataset(run_dir / "hotspots_day.nc") as day:
        assert str(day["beijing_date"].values[0]) == "2023-01-20"
        assert pd.Timestamp(day["time"].values[0]) == pd.Timestamp("2023-01-19T16:00")
    with xr.open_dataset(run_dir / "zone_diurnal.nc") as diurnal:
        assert diurnal["hour_of_day_beijing"].values.tolist() == list(range(24))
        assert "Beijing" in diurnal["hour_of_day_beijing"].attrs["long_name"]


@pytest.mark.slow
def test_excel_first_sheet_is_laid_out_for_analysts(run_dir):
    from openpyxl import load_workbook

    path = run_dir / "zone_report.xlsx"
    ws = load_workbook(path).worksheets[0]
    # row 1: machine column names; row 2: labels with their units (the filter row); data below
    assert ws.freeze_panes == "A3"
    assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A2:")
    header = [c.value for c in ws[1]]
    labels = dict(zip(header, [c.value for c in ws[2]], strict=True))
    assert "synthetic" in header
    assert labels["CO2_kg"] == "CO₂ emission (kg)"
    assert labels["area_km2"] == "Area (km²)"
    widths = {ws.column_dimensions[c].width for c in ("A", "B", "C")}
    assert len(widths) > 1  # from the content, not one default
    for code in ("unit_code", "county_code", "city_code"):
        col = header.index(code) + 1
        cells = [ws.cell(row=r, column=col) for r in range(3, ws.max_row + 1)]
        assert all(c.data_type == "s" and c.number_format == "@" for c in cells), code
    kg = ws.cell(row=3, column=header.index("CO2_kg") + 1)
    assert "#,##0" in kg.number_format and ws.cell(row=1, column=kg.column).comment is not None
    table = pd.read_excel(path, sheet_name=0, dtype=str, skiprows=[1])
    assert table["county_code"].str.fullmatch(r"\d{6}").all()
    assert set(table["synthetic"]) == {"True"}


@pytest.mark.slow
def test_emerging_hotspot_codes_carry_flags_and_a_missing_value(tmp_path):
    """A period of 12 Beijing days (enough for the emerging-hotspot analysis): the category
    codes are CF flags, −1 outside the region its missing value, and the file passes the
    checker."""
    import netCDF4

    from gridcarbon.config.zoning import ZoningConfig
    from gridcarbon.grids.gridspec import GridSpec, default_crs
    from gridcarbon.io.outputs import write_dataset_netcdf
    from gridcarbon.zoning.hotspots import hotspot_level
    from gridcarbon.zoning.tally import utc_bin_axis
    from tests.zoning.synthetic import default_region_fraction, synthetic_grids

    grid = GridSpec(default_crs().to_wkt(), -36000.0, 246000.0, 3000.0, 30, 24)  # the north border
    grids = synthetic_grids(grid, days=12, n_points=5)
    grids["region_fraction"] = (("y", "x"), default_region_fraction(grid))
    cfg = ZoningConfig(gi_radius_m=9500.0, toroidal_shifts=0)
    species = ["CO2", "NOx"]
    day = hotspot_level(grids, "day", cfg, species=species, emerging=True)
    written = write_dataset_netcdf(
        utc_bin_axis(day, "time", "day", grids["time"].values),
        tmp_path / "hotspots_day.nc",
        attrs={"title": "emerging hotspots"},
    )
    code, report = compliance_errors(written)
    assert code == 0, report[-3000:]
    outside = default_region_fraction(grid) <= 0
    assert outside.any()
    with netCDF4.Dataset(written) as nc:
        var = nc["CO2_emerging"]
        var.set_auto_mask(False)
        assert var._FillValue == -1
        assert list(var.flag_values) == list(range(17))
        assert (var[:][outside] == -1).all() and (var[:][~outside] >= 0).all()
        assert nc["CO2_emerging"].grid_mapping == "crs"


@pytest.mark.slow
def test_run_folder_reads_back_with_beijing_bins(run_dir):
    """The map reads the files back: the bins are Beijing-labelled again, as the stage held
    them, and the bounds and labels of the files are gone."""
    from gridcarbon.io.run_folder_reader import read_map_inputs

    zoning = read_map_inputs(run_dir).zoning
    assert [str(d)[:10] for d in zoning.tally_day["day"].values] == [
        "2023-01-20",
        "2023-01-21",
        "2023-01-22",
    ]
    assert pd.DatetimeIndex(zoning.tally_month["month"].values).month.tolist() == [1]
    assert "CO2" in zoning.tally_month and "month_bnds" not in zoning.tally_month
    assert str(zoning.hotspots["day"]["time"].values[0])[:10] == "2023-01-20"
