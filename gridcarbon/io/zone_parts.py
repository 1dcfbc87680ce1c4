"""The files a zoning task on a worker hands back to the process that runs the stage.

A task of the zoning stage on Dask (:mod:`gridcarbon.zoning.distributed`) writes what it computed
of its time chunk into ``.npz`` files (NumPy arrays, no pickle) and returns their paths; the
stage reads them back one chunk at a time.  Arrays keep their memory layout (a transposed
array comes back transposed), so sums taken over them later run in the same order as over the
arrays the task held, to the last bit.  A Dataset goes through :func:`write_dataset_npz` and
:func:`read_dataset_npz`: its variables, coordinates, dimensions and attributes (text and
numbers) come back identical.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from gridcarbon.errors import InputDataError, InputFileError

__all__ = [
    "read_arrays",
    "read_dataset_npz",
    "take_arrays",
    "write_arrays",
    "write_dataset_npz",
]

_HEADER = "__header__"


def write_arrays(path: str | Path, arrays: Mapping[str, np.ndarray]) -> Path:
    """Write ``arrays`` by name into the ``.npz`` file ``path``, replacing it.

    Written under a temporary name and renamed, so a reader never sees half a file; not
    flushed to disk (a scratch file: a run killed before the stage ends computes it again).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **{k: np.asarray(v) for k, v in arrays.items()})
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_arrays(path: str | Path, names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """The arrays of the ``.npz`` file ``path`` (those of ``names`` only, when given)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = z.files if names is None else list(names)
            return {k: z[k] for k in keys}
    except (OSError, KeyError, ValueError) as exc:
        raise InputFileError(f"cannot read the zoning part {str(path)!r}: {exc}") from None


def take_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of the ``.npz`` file ``path``, which is then removed (a scratch file read
    once, e.g. the day fields a task hands on to be summed to its month)."""
    arrays = read_arrays(path)
    Path(path).unlink()
    return arrays


def _plain(value: Any, where: str) -> Any:
    """An attribute value as JSON holds it (text, numbers, lists of them)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v, where) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise InputDataError(
        f"attribute {where} holds a {type(value).__name__}; only text and numbers go into a "
        "zoning part"
    )


def _entry(name: str, var: xr.Variable) -> tuple[dict[str, Any], np.ndarray]:
    values = var.values
    kind = "plain"
    if values.dtype == object:
        if not all(isinstance(v, str) for v in values.ravel()):
            raise InputDataError(f"variable {name!r} holds objects other than text")
        values = values.astype(str)
        kind = "text"
    attrs = {k: _plain(v, f"{name}.{k}") for k, v in var.attrs.items()}
    return {"dims": list(var.dims), "attrs": attrs, "kind": kind}, values


def write_dataset_npz(ds: xr.Dataset, path: str | Path) -> Path:
    """Write ``ds`` (numeric or text variables and coordinates) into the ``.npz`` file ``path``.

    Raises
    ------
    InputDataError
        A variable of Python objects other than text, or an attribute that is not text or
        numbers.
    """
    header: dict[str, Any] = {"data_vars": {}, "coords": {}, "attrs": {}}
    arrays: dict[str, np.ndarray] = {}
    for group, items in (("coords", ds.coords.items()), ("data_vars", ds.data_vars.items())):
        for i, (name, var) in enumerate(items):
            entry, values = _entry(str(name), var.variable)
            entry["name"] = str(name)
            key = f"{group[0]}{i}"
            header[group][key] = entry
            arrays[key] = values
    header["attrs"] = {k: _plain(v, k) for k, v in ds.attrs.items()}
    arrays[_HEADER] = np.asarray(json.dumps(header))
    return write_arrays(path, arrays)


def read_dataset_npz(path: str | Path) -> xr.Dataset:
    """The Dataset written by :func:`write_dataset_npz` into ``path``."""
    arrays = read_arrays(path)
    if _HEADER not in arrays:
        raise InputFileError(f"{str(path)!r} is not a Dataset written by write_dataset_npz")
    header = json.loads(str(arrays[_HEADER]))

    def variables(group: str) -> dict[str, xr.Variable]:
        out = {}
        for key, entry in header[group].items():
            values = arrays[key]
            if entry["kind"] == "text":
                values = values.astype(object)
            out[entry["name"]] = xr.Variable(entry["dims"], values, entry["attrs"])
        return out

    return xr.Dataset(variables("data_vars"), coords=variables("coords"), attrs=header["attrs"])


def read_dataset_npz_variable(path: str | Path, name: str) -> np.ndarray:
    """The values of the data variable ``name`` of the Dataset written by
    :func:`write_dataset_npz` into ``path``, read alone (in the layout it was written in)."""
    header = json.loads(str(read_arrays(path, [_HEADER])[_HEADER]))
    for key, entry in header["data_vars"].items():
        if entry["name"] == name:
            return read_arrays(path, [key])[key]
    raise InputFileError(f"the zoning part {str(path)!r} holds no variable {name!r}")
