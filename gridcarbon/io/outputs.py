"""Write the documents a stage returns: the one place where results become files.

Each :class:`~gridcarbon.contracts.Document` names its kind; this module picks the writer
(formula-safe CSV/Excel, GeoPackage, CF NetCDF, emission grids, GeoTIFF, HTML, JSON).  Every
writer writes to a temporary name beside the target and renames it into place.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from gridcarbon.contracts import Document
from gridcarbon.errors import InputDataError
from gridcarbon.io.cf import cf_dataset, cf_encoding, merge_encoding
from gridcarbon.io.netcdf_lock import NETCDF_LOCK
from gridcarbon.io.runfolder import (
    atomic_path,
    atomic_write,
    deferred_signals,
    write_gpkg_atomic,
)
from gridcarbon.io.tables import write_csv, write_excel

__all__ = ["write_documents", "write_dataset_netcdf", "dataset_netcdf_stream", "json_default"]


def json_default(value: Any) -> Any:
    """JSON for numpy scalars and arrays, and text for anything else."""
    import numpy as np

    if isinstance(value, np.integer | np.floating | np.bool_):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _dataset_encoding(ds: Any) -> dict:
    """The NetCDF encoding of a (non-emission) Dataset: the CF coordinate encoding, arrays of 2
    or more dimensions compressed, and a missing value the stage chose (e.g. -1 of a category
    code) kept."""
    return merge_encoding(
        cf_encoding(ds),
        {
            v: {"zlib": True, "complevel": 1}
            for v in ds.data_vars
            if ds[v].ndim >= 2 and ds[v].dtype.kind in "fiu"
        },
        {
            v: {"_FillValue": ds[v].encoding["_FillValue"]}
            for v in ds.data_vars
            if "_FillValue" in ds[v].encoding
        },
    )


def write_dataset_netcdf(
    ds: Any, path: str | Path, attrs: Mapping[str, str] | None = None, overwrite: bool = False
) -> Path:
    """Write a (non-emission) Dataset as CF-1.10 NetCDF4: arrays of 2 or more dimensions
    compressed, ``attrs`` added as global attributes (a ``title`` among them names the file's
    content), the CF attributes and coordinate encoding of :mod:`gridcarbon.io.cf`."""
    ds = _cf_ready(ds, attrs)
    encoding = _dataset_encoding(ds)
    return atomic_write(Path(path), lambda tmp: _to_netcdf(ds, tmp, encoding), overwrite)


def _to_netcdf(ds: Any, path: Path, encoding: dict) -> None:
    with NETCDF_LOCK:
        ds.to_netcdf(path, engine="netcdf4", encoding=encoding)


def _cf_ready(ds: Any, attrs: Mapping[str, str] | None) -> Any:
    """``ds`` with ``attrs`` as global attributes, the CF attributes, text as ``str``."""
    ds = ds.copy()
    ds.attrs.update({k: str(v) for k, v in (attrs or {}).items()})
    ds = cf_dataset(ds)
    for v in list(ds.variables):
        if ds[v].dtype == object:
            ds[v] = ds[v].astype(str)
    return ds


#: Hours per chunk along ``time`` of a file written block by block (a month).
_STREAM_TIME_CHUNK = 24 * 31
_HOURS_SINCE_1970 = {
    "units": "hours since 1970-01-01 00:00:00",
    "calendar": "proleptic_gregorian",
    "dtype": "int64",
}


@contextlib.contextmanager
def dataset_netcdf_stream(
    path: str | Path, attrs: Mapping[str, str] | None = None, overwrite: bool = False
) -> Iterator[Callable[[Any], None]]:
    """Write a (non-emission) Dataset to one CF-1.10 NetCDF4 file in consecutive blocks of its
    hourly ``time`` axis (e.g. month by month), one block in memory at a time.

    Yields ``write(block)``: the first block creates the file as :func:`write_dataset_netcdf`
    would (the same attributes and compression; ``time`` unlimited, in whole hours since
    1970, chunks of a month), each further block is appended along ``time``; variables without
    ``time`` are written from the first block.  The file appears at ``path`` when the ``with``
    block ends without an error (:func:`~gridcarbon.io.runfolder.atomic_path`), and values read
    back equal those of the blocks concatenated and written whole.

    Raises
    ------
    InputDataError
        No block was written, or a block's variables are not the first block's.
    """
    with atomic_path(Path(path), overwrite) as tmp:
        n_written = [0]

        def write(block: Any) -> None:
            # an interrupt inside the netCDF library dead-locks
            with deferred_signals(), NETCDF_LOCK:
                if n_written[0] == 0:
                    _create_stream(tmp, _cf_ready(block, attrs))
                else:
                    _append_stream(tmp, block, n_written[0])
            n_written[0] += block.sizes["time"]

        yield write
        if n_written[0] == 0:
            raise InputDataError(f"nothing to write to {Path(path).name}: no blocks were given")


def _create_stream(tmp: Path, ds: Any) -> None:
    chunk = min(_STREAM_TIME_CHUNK, ds.sizes["time"])
    encoding = merge_encoding(
        _dataset_encoding(ds),
        {
            str(v): {"chunksizes": tuple(chunk if d == "time" else n for d, n in var.sizes.items())}
            for v, var in ds.variables.items()
            if "time" in var.dims
        },
        {v: dict(_HOURS_SINCE_1970) for v in ds.variables if ds[v].dtype.kind == "M"},
    )
    ds.to_netcdf(
        tmp, engine="netcdf4", format="NETCDF4", encoding=encoding, unlimited_dims=["time"]
    )


def _append_stream(tmp: Path, block: Any, n0: int) -> None:
    import netCDF4
    import numpy as np

    with netCDF4.Dataset(tmp, "a") as nc:
        expected = {name for name, var in nc.variables.items() if "time" in var.dimensions}
        given = {str(name) for name, var in block.variables.items() if "time" in var.dims}
        if given != expected:
            raise InputDataError(
                f"a block holds the time-dependent variables {sorted(given)}, the file "
                f"{sorted(expected)}; every block must hold the first block's"
            )
        n = block.sizes["time"]
        for name in sorted(given):
            var = block[name]
            values = var.values
            if values.dtype.kind == "M":  # the file's encoding: whole hours since 1970
                values = (values - np.datetime64("1970-01-01T00")) // np.timedelta64(1, "h")
            index = tuple(
                slice(n0, n0 + n) if d == "time" else slice(None) for d in nc[name].dimensions
            )
            if tuple(nc[name].dimensions) != var.dims:
                raise InputDataError(
                    f"{name} has the dimensions {var.dims} in a block, "
                    f"{tuple(nc[name].dimensions)} in the file"
                )
            nc[name][index] = values


def _write_one(doc: Document, path: Path, overwrite: bool) -> Path:
    from gridcarbon.io import grids as grid_files

    kind = doc.kind
    if kind == "csv":
        return write_csv(doc.content, path, overwrite, bom=doc.bom)
    if kind == "xlsx":
        return write_excel(doc.content, path, overwrite, labels=doc.labels)
    if kind == "gpkg":
        return write_gpkg_atomic(
            doc.content, path, doc.layer or path.stem, overwrite, doc.attrs, style=doc.style
        )
    if kind == "netcdf":
        return write_dataset_netcdf(doc.content, path, doc.attrs, overwrite)
    if kind == "grids":
        writer = grid_files.write_zarr if path.suffix == ".zarr" else grid_files.write_netcdf
        return writer(doc.content, path, overwrite)
    if kind == "geotiff":
        return grid_files.write_geotiff(doc.source, path, overwrite, totals=doc.content)
    if kind in ("html", "text"):
        text = str(doc.content)
        return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), overwrite)
    if kind == "json":
        text = json.dumps(doc.content, indent=2, default=json_default, ensure_ascii=False)
        return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), overwrite)
    raise InputDataError(f"unknown document kind {kind!r} for {path.name}")


def write_documents(
    documents: Mapping[str, Document], folder: str | Path, overwrite: bool = False
) -> dict[str, Path]:
    """Write each document under its file name in ``folder``; returns the paths by name.

    ``folder`` is normally a run's temporary folder (published whole by
    :func:`gridcarbon.io.runfolder.atomic_directory` or :func:`~gridcarbon.io.runfolder.output_set`).
    """
    folder = Path(folder)
    return {name: _write_one(doc, folder / name, overwrite) for name, doc in documents.items()}
