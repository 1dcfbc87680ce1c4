"""Readers and writers: the only code that touches files.

``grids`` (NetCDF, Zarr, GeoTIFF of emission grids), ``tables`` (formula-safe CSV and Excel; the
user's point-source CSV), ``runfolder`` (atomic files and folders, manifests, locks),
``outputs`` (the documents a stage returns), ``provenance`` (versions and checksums),
``geodata`` (boundaries, class rasters, places), ``inputs`` (input files checked before a run),
``resources`` (memory and disk a run needs and the machine has), ``units_file`` (control-unit
files), ``observations_file`` (station observations), ``synergy_files`` (the synergy tables and
the run folders the synergy analyses read).
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
