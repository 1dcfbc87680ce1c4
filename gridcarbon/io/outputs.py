"""Write the documents a stage returns: the one place where results become files.

Each :class:`~gridcarbon.contracts.Document` names its kind; this module picks the writer
(formula-safe CSV/Excel, GeoPackage, CF NetCDF, emission grids, GeoTIFF, HTML, JSON).  Every
writer writes to a temporary name beside the target and renames it into place.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gridcarbon.contracts import Document
from gridcarbon.errors import InputDataError
from gridcarbon.io.cf import cf_dataset, cf_encoding, merge_encoding
from gridcarbon.io.runfolder import atomic_write, write_gpkg_atomic
from gridcarbon.io.tables import write_csv, write_excel

__all__ = ["write_documents", "write_dataset_netcdf", "json_default"]


def json_default(value: Any) -> Any:
    """JSON for numpy scalars and arrays, and text for anything else."""
    import numpy as np

    if isinstance(value, np.integer | np.floating | np.bool_):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def write_dataset_netcdf(
    ds: Any, path: str | Path, attrs: Mapping[str, str] | None = None, overwrite: bool = False
) -> Path:
    """Write a (non-emission) Dataset as CF-1.10 NetCDF4: arrays of 2 or more dimensions
    compressed, ``attrs`` added as global attributes (a ``title`` among them names the file's
    content), the CF attributes and coordinate encoding of :mod:`gridcarbon.io.cf`."""
    ds = ds.copy()
    ds.attrs.update({k: str(v) for k, v in (attrs or {}).items()})
    ds = cf_dataset(ds)
    for v in list(ds.variables):
        if ds[v].dtype == object:
            ds[v] = ds[v].astype(str)
    encoding = merge_encoding(
        cf_encoding(ds),
        {
            v: {"zlib": True, "complevel": 1}
            for v in ds.data_vars
            if ds[v].ndim >= 2 and ds[v].dtype.kind in "fiu"
        },
        # a missing value the stage chose (e.g. -1 of a category code) is kept
        {
            v: {"_FillValue": ds[v].encoding["_FillValue"]}
            for v in ds.data_vars
            if "_FillValue" in ds[v].encoding
        },
    )
    return atomic_write(Path(path), lambda tmp: ds.to_netcdf(tmp, encoding=encoding), overwrite)


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
