"""Emission grids on disk: NetCDF, Zarr and GeoTIFF writers, and the reader of all three.

Every writer writes to a temporary path beside the target and renames it into place
(:func:`gridcarbon.io.runfolder.atomic_path`), so a failure never leaves a half-written result.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from gridcarbon.errors import InputDataError, InputFileError
from gridcarbon.io.cf import cf_dataset, cf_encoding, merge_encoding
from gridcarbon.io.netcdf_lock import NETCDF_LOCK, open_netcdf
from gridcarbon.io.runfolder import atomic_path, deferred_signals

__all__ = [
    "write_netcdf",
    "write_zarr",
    "write_zarr_stream",
    "write_stream",
    "write_geotiff",
    "open_grids",
]


def _encoding(ds: xr.Dataset, zarr: bool) -> dict:
    enc: dict = {}
    nt = ds.sizes.get("time", 1)
    for name, var in ds.data_vars.items():
        if "time" in var.dims and var.dtype.kind == "f":
            # Zarr: weekly chunks, Blosc-LZ4 with byte shuffle — 3x faster to write than the
            # zstd default for 25 % more bytes (benchmarks/README.md).  NetCDF: monthly chunks.
            t_chunk = min(24 * 7 if zarr else 24 * 31, nt)
            chunks = tuple(t_chunk if d == "time" else ds.sizes[d] for d in var.dims)
            if zarr:
                enc[name] = {"chunks": chunks, "dtype": "float32", "compressors": [_blosc()]}
            else:
                enc[name] = {
                    "zlib": True,
                    "complevel": 4,
                    "shuffle": True,
                    "chunksizes": chunks,
                    "dtype": "float32",
                }
    enc["time"] = {
        "units": "hours since 1970-01-01 00:00:00",
        "calendar": "proleptic_gregorian",
        "dtype": "int64",
    }
    if "time_bnds" in ds:
        enc["time_bnds"] = {
            "units": "hours since 1970-01-01 00:00:00",
            "calendar": "proleptic_gregorian",
            "dtype": "int64",
        }
    return merge_encoding(cf_encoding(ds, netcdf=not zarr), enc)


def _blosc():
    import numcodecs

    return numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)


def _prepare(ds: xr.Dataset) -> xr.Dataset:
    # String coordinates must be fixed-width unicode for both backends.
    ds = ds.copy()
    for name, coord in ds.coords.items():
        if coord.dtype == object:
            ds.coords[name] = coord.astype(str)
    return ds


def _append_zarr(tmp: Path, part: xr.Dataset, first: bool) -> None:
    if first:
        part.to_zarr(
            tmp, mode="w", encoding=_encoding(part, True), consolidated=True, zarr_format=2
        )
    else:
        static = [v for v in part.variables if "time" not in part[v].dims]
        part.drop_vars(static).to_zarr(tmp, append_dim="time", consolidated=True, zarr_format=2)


def _append_netcdf(tmp: Path, part: xr.Dataset, first: bool) -> None:
    with NETCDF_LOCK:
        if first:
            part.to_netcdf(
                tmp,
                engine="netcdf4",
                format="NETCDF4",
                encoding=_encoding(part, False),
                unlimited_dims=["time"],
            )
            return
        import netCDF4

        # xarray cannot append along a dimension of a NetCDF file; netCDF4 can, and the time
        # encoding is ours (integer hours since 1970), so the new stamps are written directly.
        hours = (part["time"].values - np.datetime64("1970-01-01T00")) // np.timedelta64(1, "h")
        with netCDF4.Dataset(tmp, "a") as nc:
            n0, n = len(nc.dimensions["time"]), hours.size
            nc["time"][n0 : n0 + n] = hours
            if "time_bnds" in nc.variables:
                nc["time_bnds"][n0 : n0 + n, :] = np.stack([hours, hours + 1], axis=1)
            for name, var in part.data_vars.items():
                if "time" in var.dims and name != "time_bnds":
                    nc[name][n0 : n0 + n, ...] = var.values


_APPENDERS = {"netcdf": _append_netcdf, "zarr": _append_zarr}


def write_stream(
    parts: Iterable[xr.Dataset],
    targets: dict[str, str | Path],
    overwrite: bool = False,
) -> dict[str, Path]:
    """Write consecutive time chunks (e.g. the months of :func:`gridcarbon.iter_prior`) to one
    NetCDF file and/or one Zarr store in a single pass; only one chunk is in memory at a time.

    Both carry the CF attributes of :func:`gridcarbon.io.cf.cf_dataset`; the Zarr store's
    georeferenced arrays also GDAL's ``_CRS``, so GDAL 3.6 and rioxarray find the CRS.

    Parameters
    ----------
    parts : iterable of Dataset
        Emission Datasets with the same static variables, consecutive in time.
    targets : dict
        ``{"netcdf": path, "zarr": path}`` (either or both).
    """
    unknown = set(targets) - set(_APPENDERS)
    if unknown:
        raise InputDataError(f"unknown output format(s) {sorted(unknown)}; use netcdf or zarr")
    paths = {fmt: Path(p) for fmt, p in targets.items()}
    with contextlib.ExitStack() as stack:
        tmps = {fmt: stack.enter_context(atomic_path(p, overwrite)) for fmt, p in paths.items()}
        first = True
        for part in parts:
            part = _prepare(part)
            for fmt, tmp in tmps.items():
                cf_part = cf_dataset(part, zarr=fmt == "zarr")
                with deferred_signals():  # an interrupt inside xarray's writer dead-locks
                    _APPENDERS[fmt](tmp, cf_part, first)
            first = False
        if first:
            raise InputDataError("nothing to write: no time chunks were given")
    return paths


def write_netcdf(ds: xr.Dataset, path: str | Path, overwrite: bool = False) -> Path:
    """Write an emission Dataset as compressed NetCDF4, chunked by time (at most a month)."""
    return write_stream([ds], {"netcdf": path}, overwrite)["netcdf"]


def write_zarr(ds: xr.Dataset, path: str | Path, overwrite: bool = False) -> Path:
    """Write an emission Dataset as a compressed Zarr store, chunked by week."""
    return write_stream([ds], {"zarr": path}, overwrite)["zarr"]


def write_zarr_stream(
    parts: Iterable[xr.Dataset], path: str | Path, overwrite: bool = False
) -> Path:
    """Write consecutive time chunks to one Zarr store (see :func:`write_stream`)."""
    return write_stream(parts, {"zarr": path}, overwrite)["zarr"]


def _grid_georeference(ds: xr.Dataset) -> tuple[str, Any]:
    """The CRS (WKT) and the affine transform of the cell corners of an emission Dataset, read
    off its ``crs`` variable and its ``x``/``y`` cell centres (metres)."""
    from affine import Affine

    x = np.asarray(ds["x"].values, dtype=float)
    y = np.asarray(ds["y"].values, dtype=float)
    cell = float(ds.attrs.get("cell_size_m", abs(x[1] - x[0]) if x.size > 1 else np.nan))
    if not np.isfinite(cell) or cell <= 0:
        raise InputDataError(
            "the emission grids give no cell size (attribute cell_size_m) and have one column; "
            "write them with gridcarbon"
        )
    west, north = float(x[0] - cell / 2), float(y[0] + cell / 2)
    return str(ds["crs"].attrs["crs_wkt"]), Affine(cell, 0.0, west, 0.0, -cell, north)


def _outside_region(ds: xr.Dataset) -> np.ndarray | None:
    """Cells entirely outside the region (``region_fraction`` 0), or None without the field."""
    if "region_fraction" not in ds:
        return None
    return np.asarray(ds["region_fraction"].values) <= 0


def write_geotiff(
    ds: xr.Dataset,
    path: str | Path,
    overwrite: bool = False,
    *,
    totals: Mapping[str, np.ndarray],
) -> Path:
    """Write period totals (area + point sources, kg per cell) as a GeoTIFF, one band per species.

    Parameters
    ----------
    ds : Dataset
        The emission grids the totals come from: they give the CRS and transform (``crs``
        variable, ``x``/``y`` cell centres), the period and the provenance tags; their grids
        are not read.
    path : path
        The file (written under a temporary name and renamed into place).
    overwrite : bool
        Replace an existing file.
    totals : mapping species name → ``(ny, nx)`` array
        Period totals in kg per cell (:func:`gridcarbon.grids.dataset.period_totals`, or
        accumulated while streaming); the bands follow its order.

    Band descriptions name the species; the CRS and transform are the grid's, so GDAL and QGIS
    place it correctly.  Cells outside the region (``region_fraction`` 0, when the grids have
    it) without emission hold the nodata value NaN, not 0: "no emission" and "not part of the
    region" differ.
    """
    import rasterio

    crs_wkt, transform = _grid_georeference(ds)
    ny, nx = ds.sizes["y"], ds.sizes["x"]
    species = list(totals)
    bands = [np.array(totals[sp], dtype=np.float32) for sp in species]  # copies: NaN set below
    for sp, band in zip(species, bands, strict=True):
        if band.shape != (ny, nx):
            raise InputDataError(
                f"period total of {sp} has shape {band.shape}; the grid has {(ny, nx)}"
            )
    outside = _outside_region(ds)
    if outside is not None:
        for band in bands:
            # an emission placed outside the region (a user's point source) stays visible
            band[outside & (band == 0)] = np.nan
    profile = {
        "driver": "GTiff",
        "width": nx,
        "height": ny,
        "count": len(bands),
        "dtype": "float32",
        "nodata": np.nan,
        "crs": crs_wkt,
        "transform": transform,
        "compress": "deflate",
        "predictor": 3,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
    }
    path = Path(path)
    with atomic_path(path, overwrite) as tmp:
        with rasterio.open(tmp, "w", **profile) as dst:
            for i, (sp, band) in enumerate(zip(species, bands, strict=True), start=1):
                dst.write(band, i)
                dst.set_band_description(i, f"{sp} total emission over the period (kg per cell)")
                dst.update_tags(
                    i, species=sp, units="kg", long_name=f"{sp} emission, area + point sources"
                )
            dst.update_tags(
                synthetic=ds.attrs.get("synthetic", "unknown"),
                gridcarbon_version=ds.attrs.get("gridcarbon_version", ""),
                period_start_utc=str(ds["time"].values[0]),
                period_end_utc=str(ds["time"].values[-1] + np.timedelta64(1, "h")),
                input_checksums=ds.attrs.get("input_checksums", ""),
            )
    return path


def open_grids(path: str | Path, chunked: bool = True) -> xr.Dataset:
    """Open emission grids written by gridcarbon (NetCDF file or Zarr store).

    ``chunked``: a Zarr store's arrays as dask arrays (reductions run chunk by chunk); False:
    lazily indexed arrays, so that a selection (e.g. a month) is read straight into one array.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"grids {str(path)!r} do not exist; write them with `gridcarbon grid`")
    try:
        if path.is_dir():
            ds = xr.open_zarr(path, consolidated=None, chunks={} if chunked else None)
        else:
            ds = open_netcdf(path)
    except Exception as exc:  # the backends raise many kinds of error for a wrong file
        raise InputFileError(
            f"{str(path)!r} is not a NetCDF file or Zarr store gridcarbon can read ({exc})"
        ) from None
    missing = [v for v in ("crs", "x", "y", "time") if v not in ds.variables]
    if missing:
        raise InputFileError(f"{str(path)!r} is not gridcarbon emission grids: it lacks {missing}")
    return ds
