"""One lock for every NetCDF (HDF5) call gridcarbon makes in a process.

The HDF5 library inside the netCDF4 wheels is built without thread safety. xarray holds a lock
around reading and around writing array values, but not around creating variables and attaching
their dimension scales, and gridcarbon also appends to files and reads satellite products with
netCDF4 directly. Two threads writing NetCDF at once, as two tasks on one Dask worker with
several threads do, then corrupt HDF5's state: CI saw ``RuntimeError: NetCDF: Problem with HDF5
dimscales.`` and a loop of threaded writes crashes the interpreter. Every NetCDF open, read and
write of gridcarbon therefore holds :data:`NETCDF_LOCK` for its whole length.

The lock is re-entrant (a writer may read) and pickles as "the lock of the process it lands in",
so a lazily opened Dataset that carries it can still be sent to another process.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

__all__ = ["NETCDF_LOCK", "open_netcdf"]


class _ProcessNetcdfLock:
    """A re-entrant lock with the ``acquire``/``release`` interface xarray's file managers use."""

    _lock = threading.RLock()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __reduce__(self) -> str:
        # unpickled as this module's NETCDF_LOCK of the receiving process
        return "NETCDF_LOCK"


NETCDF_LOCK = _ProcessNetcdfLock()


def open_netcdf(path: str | Path, **kwargs: Any) -> Any:
    """``xarray.open_dataset(path, **kwargs)`` with the netCDF4 engine and :data:`NETCDF_LOCK`
    held for the open and for every later lazy read and close of the file."""
    import xarray as xr

    with NETCDF_LOCK:
        return xr.open_dataset(path, engine="netcdf4", lock=NETCDF_LOCK, **kwargs)
