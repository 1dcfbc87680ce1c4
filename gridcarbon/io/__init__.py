"""Readers and writers: the only code that touches files.

``grids`` (NetCDF, Zarr, GeoTIFF), ``tables`` (CSV), ``runfolder`` (atomic files and folders),
``provenance`` (versions and checksums).
"""

from gridcarbon.io.grids import (
    open_grids,
    write_geotiff,
    write_netcdf,
    write_stream,
    write_zarr,
    write_zarr_stream,
)
from gridcarbon.io.runfolder import atomic_directory, atomic_path
from gridcarbon.io.tables import read_point_sources

__all__ = [
    "atomic_directory",
    "atomic_path",
    "open_grids",
    "read_point_sources",
    "write_geotiff",
    "write_netcdf",
    "write_stream",
    "write_zarr",
    "write_zarr_stream",
]
