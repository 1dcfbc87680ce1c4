"""Meteorology files: ERA5-style single-level NetCDF, read and checked, and a meteorology source
(:class:`~gridcarbon.contracts.MeteorologySource`) made of a Dataset in memory.

The reader checks the file's layout and names; what the fields mean (cloud cover from the
sensible heat flux, stability) is the inversion's business
(:mod:`gridcarbon.inversion.meteorology`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from gridcarbon.errors import InputDataError, InputFileError
from gridcarbon.io.netcdf_lock import open_netcdf

__all__ = ["read_era5", "DatasetMeteorology"]

_RENAME = {"valid_time": "time", "latitude": "lat", "longitude": "lon"}

#: 2 m temperature used when a file has none, K.
DEFAULT_T2M_K = 283.15


def read_era5(path: str | Path) -> xr.Dataset:
    """Read ERA5-style single-level NetCDF (``u10``, ``v10``, ``blh``, and ``tcc`` or ``sshf``).

    Returns ``u10``, ``v10`` (m/s), ``blh`` (m), ``tcc`` (0–1) or ``sshf`` (J m-2 over the
    hour), ``t2m`` (K; 283.15 K when the file has none) and, when the file has it, the surface
    pressure ``sp`` (Pa; a file in hPa is converted) on ``(time, lat, lon)``, sorted by each
    coordinate, with the attribute ``synthetic`` (``"false"`` unless the file says otherwise).
    ``sp`` feeds the ambient-state conversion of modelled concentrations
    (``inversion.chemistry.model_conversion_state = "ambient"``); without it that conversion
    uses the standard atmosphere at the station's elevation.

    Raises
    ------
    InputFileError
        The file is missing or unreadable.
    InputDataError
        A coordinate or variable is missing, a variable has other dimensions, the times are
        not dates, or the surface pressure is not a surface pressure (outside 40–110 kPa).
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"meteorology file {str(path)!r} does not exist")
    try:
        ds = open_netcdf(path)
    except (OSError, ValueError) as exc:
        raise InputFileError(f"cannot read meteorology {str(path)!r}: {exc}") from None
    ds = ds.rename({k: v for k, v in _RENAME.items() if k in ds.variables or k in ds.dims})
    for extra in ("number", "expver"):
        if extra in ds.dims:
            ds = ds.isel({extra: 0})
    coords = [c for c in ("time", "lat", "lon") if c not in ds.coords and c not in ds.variables]
    if coords:
        raise InputDataError(
            f"meteorology {str(path)!r} lacks the coordinate(s) {coords} (found "
            f"{sorted(map(str, ds.dims))}); give ERA5-style time, latitude, longitude"
        )
    miss = [v for v in ("u10", "v10", "blh") if v not in ds]
    if miss:
        raise InputDataError(
            f"meteorology {str(path)!r} lacks {miss}; need u10, v10, blh and tcc or sshf"
        )
    if "tcc" not in ds and "sshf" not in ds:
        raise InputDataError(f"meteorology {str(path)!r} has neither tcc (cloud cover) nor sshf")
    for name in ("u10", "v10", "blh", "tcc", "sshf", "t2m", "sp"):
        if name in ds and set(ds[name].dims) != {"time", "lat", "lon"}:
            raise InputDataError(
                f"meteorology {str(path)!r}: {name} has dimensions {ds[name].dims}; expected "
                "(time, latitude, longitude)"
            )
    if not np.issubdtype(ds["time"].dtype, np.datetime64):
        raise InputDataError(
            f"meteorology {str(path)!r}: its time coordinate could not be read as dates "
            f"({ds['time'].dtype}); give CF time units (e.g. 'hours since 1900-01-01')"
        )
    ds = ds.sortby("lat").sortby("lon").sortby("time")
    if "t2m" not in ds:
        ds["t2m"] = xr.full_like(ds["u10"], DEFAULT_T2M_K)
    if "sp" in ds:
        ds["sp"] = _surface_pressure_pa(ds["sp"], path)
    ds.attrs.setdefault("synthetic", "false")
    cloud = "tcc" if "tcc" in ds else "sshf"
    return ds[["u10", "v10", "blh", cloud, "t2m", *(["sp"] if "sp" in ds else [])]]


#: Surface pressures (Pa) a file's ``sp`` must lie within: Mount Everest's summit (~33 kPa) is
#: outside any grid gridcarbon models; 40 kPa is above the Tibetan plateau's highest stations.
_SURFACE_PRESSURE_RANGE_PA = (40_000.0, 110_000.0)


def _surface_pressure_pa(sp: xr.DataArray, path: Path) -> xr.DataArray:
    """``sp`` in Pa, from Pa (ERA5's unit) or hPa, refused when its magnitude is not a surface
    pressure's (e.g. a mean-sea-level or a geopotential field under the wrong name)."""
    unit = str(sp.attrs.get("units", "Pa")).strip()
    scale = {"Pa": 1.0, "pa": 1.0, "hPa": 100.0, "hpa": 100.0, "mbar": 100.0, "kPa": 1000.0}
    if unit not in scale:
        raise InputDataError(
            f"meteorology {str(path)!r}: sp has units {unit!r}; give the surface pressure in "
            "Pa (ERA5's unit) or hPa"
        )
    out = sp.astype("float64") * scale[unit]
    lo, hi = float(out.min()), float(out.max())
    if not (_SURFACE_PRESSURE_RANGE_PA[0] <= lo and hi <= _SURFACE_PRESSURE_RANGE_PA[1]):
        raise InputDataError(
            f"meteorology {str(path)!r}: sp runs {lo:.0f}..{hi:.0f} Pa after its units "
            f"({unit!r}), not a surface pressure (40,000..110,000 Pa); check the variable and "
            "its units attribute"
        )
    out.attrs = {**sp.attrs, "units": "Pa"}
    return out


@dataclass(frozen=True, eq=False)
class DatasetMeteorology:
    """A meteorology source made of one Dataset (e.g. :func:`read_era5`) covering the period."""

    dataset: xr.Dataset

    @property
    def synthetic(self) -> bool:
        """Whether the Dataset says it is synthetic (attribute ``synthetic = "true"``)."""
        return self.dataset.attrs.get("synthetic") == "true"

    def for_hours(self, hours_utc) -> xr.Dataset:
        """The Dataset (checked to cover ``hours_utc``)."""
        t = pd.DatetimeIndex(hours_utc)
        have = pd.DatetimeIndex(self.dataset["time"].values)
        if len(t) and (t.min() < have.min() or t.max() > have.max()):
            raise InputDataError(
                f"meteorology covers {have.min()}..{have.max()}, not {t.min()}..{t.max()}"
            )
        return self.dataset
