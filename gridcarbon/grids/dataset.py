"""The emission Dataset: gridded area sources plus a point-source table, with CF metadata.

Layout (see also ``docs/architecture.md``), one variable pair per species (named by its name):

* ``<species>`` ``(time, y, x)`` float32, kg h-1 per cell: **area sources**;
* ``<species>_point`` ``(time, point)`` float32, kg h-1: **point sources**, kept as a table so
  that later stages can place them exactly (``point_row``/``point_col`` give their cell,
  ``point_lon``/``point_lat`` their location);
* ``time`` UTC, hour-beginning, with ``time_bnds``; ``x``/``y`` cell centres in metres, 2-D
  ``lon``/``lat``; ``region_fraction (y, x)``; a ``crs`` grid-mapping variable with ``crs_wkt``.

The species are :class:`~gridcarbon.species.Species` values; their CF attributes come from them.
:func:`total_grid` adds the point sources into their cells when a single field is wanted, and
:func:`period_totals` sums that over the period.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from gridcarbon.errors import ConfigError, InputDataError
from gridcarbon.grids.gridspec import GridSpec
from gridcarbon.grids.inventory import POINT_ATTRIBUTES
from gridcarbon.species import DEFAULT_SPECIES, Species, by_name

__all__ = [
    "emission_dataset",
    "total_grid",
    "period_totals",
    "grid_mapping_variable",
    "species_attrs",
    "point_variable",
    "species_in",
    "AREA_CELL_METHODS",
]

#: ``cell_methods`` of a species' area-source variable: a sum over the cell, a mean over the
#: hour.  It marks the species variables of an emission Dataset (:func:`species_in`).
AREA_CELL_METHODS = "area: sum time: mean"

# The CF standard names of emissions (tendency_of_atmosphere_mass_content_of_..._due_to_emission)
# are per unit area; ours are per cell, so only a long_name is given.

#: Point-source attribute columns carried as ``point_*`` coordinates (``row``/``col``: the cell).
POINT_COORDS = (*POINT_ATTRIBUTES, "row", "col")

#: CF attributes of the point-source coordinates, by column of :data:`POINT_COORDS`.
_POINT_COORD_ATTRS: dict[str, dict[str, str]] = {
    "point_id": {"long_name": "point source identifier"},
    "name": {"long_name": "point source name"},
    "sector": {"long_name": "emission sector of the point source"},
    "park": {"long_name": "industrial park of the point source"},
    "lon": {
        "standard_name": "longitude",
        "long_name": "point source longitude",
        "units": "degrees_east",
    },
    "lat": {
        "standard_name": "latitude",
        "long_name": "point source latitude",
        "units": "degrees_north",
    },
    "stack_height_m": {"long_name": "stack height above ground", "units": "m"},
    "stack_diameter_m": {"long_name": "stack inner diameter at the top", "units": "m"},
    "exit_velocity_m_s": {"long_name": "flue-gas exit velocity", "units": "m s-1"},
    "exit_temperature_K": {"long_name": "flue-gas exit temperature", "units": "K"},
    "row": {
        "long_name": "grid row (y index, 0 = north) of the cell holding the point source",
        "units": "1",
    },
    "col": {
        "long_name": "grid column (x index, 0 = west) of the cell holding the point source",
        "units": "1",
    },
}


def point_variable(species: str) -> str:
    """Name of the point-source variable of the species called ``species`` (``<name>_point``)."""
    return f"{species}_point"


def species_in(ds: xr.Dataset) -> list[str]:
    """Names of the species that ``ds`` holds as gridded area-source variables, in its order.

    A species variable has dimensions ``(time, [sector,] y, x)`` and the ``cell_methods``
    :data:`AREA_CELL_METHODS` that :func:`emission_dataset` gives it.
    """
    return [
        str(name)
        for name, var in ds.data_vars.items()
        if var.attrs.get("cell_methods") == AREA_CELL_METHODS
        and var.dims[:1] == ("time",)
        and var.dims[-2:] == ("y", "x")
    ]


def species_attrs(species: Species) -> dict[str, str]:
    """CF attributes of the area-source variable of ``species`` (kg h-1 per cell)."""
    return {
        "long_name": f"{species.emission_long_name} from area sources per grid cell",
        "units": species.unit,
        "cell_methods": AREA_CELL_METHODS,
        "grid_mapping": "crs",
        "coordinates": "lat lon",
    }


def _species_by_name(names: Sequence[str], species: Sequence[Species] | None) -> dict[str, Species]:
    known = DEFAULT_SPECIES if species is None else tuple(species)
    try:
        return {name: by_name(known, name) for name in names}
    except ConfigError as exc:
        raise InputDataError(f"emission Dataset: {exc}") from None


def grid_mapping_variable(grid: GridSpec) -> xr.DataArray:
    """The CF grid-mapping variable ``crs`` for ``grid`` (with ``crs_wkt`` and GDAL's ``spatial_ref``)."""
    attrs = grid.crs.to_cf()
    attrs["crs_wkt"] = grid.crs_wkt
    attrs["spatial_ref"] = grid.crs_wkt
    attrs["GeoTransform"] = " ".join(str(v) for v in grid.transform.to_gdal())
    return xr.DataArray(np.int32(0), attrs=attrs)


def emission_dataset(
    grid: GridSpec,
    time: pd.DatetimeIndex | np.ndarray,
    area: Mapping[str, np.ndarray],
    points: pd.DataFrame | None = None,
    point_emissions: Mapping[str, np.ndarray] | None = None,
    region_fraction: np.ndarray | None = None,
    attrs: Mapping[str, Any] | None = None,
    sector: Sequence[str] | None = None,
    species: Sequence[Species] | None = None,
) -> xr.Dataset:
    """Assemble an emission Dataset with CF-1.10 metadata.

    Parameters
    ----------
    grid : GridSpec
        The grid.
    time : DatetimeIndex
        Hour-beginning UTC time stamps (naive, or tz-aware UTC).
    area : mapping species name → array
        ``(time, y, x)`` (or ``(time, sector, y, x)`` with ``sector``), kg h-1 per cell.
    points : DataFrame, optional
        Point-source table with the columns of :data:`POINT_COORDS` (``row``/``col`` = cell).
    point_emissions : mapping species name → array, optional
        ``(time, point)`` kg h-1.
    region_fraction : array, optional
        ``(y, x)`` fraction of each cell inside the region.
    attrs : mapping, optional
        Global attributes (``synthetic``, provenance, ...).  Non-string values are stored as JSON.
    sector : sequence of str, optional
        Sector labels when the area arrays carry a sector dimension.
    species : sequence of Species, optional
        The species named in ``area``, whose values give the variables' CF attributes;
        default: :data:`gridcarbon.species.DEFAULT_SPECIES`.  A name not among them is refused.
    """
    time = pd.DatetimeIndex(time)
    if time.tz is not None:
        time = time.tz_convert("UTC").tz_localize(None)
    nt = time.size
    lon, lat = grid.lonlat()
    coords: dict[str, Any] = {
        "time": (
            "time",
            time.values,
            {"standard_name": "time", "long_name": "start of hour (UTC)", "bounds": "time_bnds"},
        ),
        "y": (
            "y",
            grid.y,
            {
                "standard_name": "projection_y_coordinate",
                "units": "m",
                "long_name": "cell-centre y",
            },
        ),
        "x": (
            "x",
            grid.x,
            {
                "standard_name": "projection_x_coordinate",
                "units": "m",
                "long_name": "cell-centre x",
            },
        ),
        "lon": (("y", "x"), lon, {"standard_name": "longitude", "units": "degrees_east"}),
        "lat": (("y", "x"), lat, {"standard_name": "latitude", "units": "degrees_north"}),
    }
    dims = ("time", "y", "x") if sector is None else ("time", "sector", "y", "x")
    if sector is not None:
        coords["sector"] = ("sector", np.asarray(sector, dtype=str))
    data_vars: dict[str, Any] = {"crs": grid_mapping_variable(grid)}
    step = np.timedelta64(1, "h")
    data_vars["time_bnds"] = (
        ("time", "nv"),
        np.stack([time.values, time.values + step], axis=1),
    )
    values = _species_by_name(list(area), species)
    for sp, arr in area.items():
        arr = np.asarray(arr)
        expect = (nt, grid.ny, grid.nx) if sector is None else (nt, len(sector), grid.ny, grid.nx)
        if arr.shape != expect:
            raise InputDataError(f"{sp} array has shape {arr.shape}, expected {expect}")
        data_vars[sp] = (dims, arr.astype(np.float32, copy=False), species_attrs(values[sp]))
    if points is not None:
        missing = [c for c in POINT_COORDS if c not in points.columns]
        if missing:
            raise InputDataError(f"point-source table lacks column(s) {missing}")
        for c in POINT_COORDS:
            values = points[c].to_numpy()
            if values.dtype == object:
                values = values.astype(str)
            coords[f"point_{c}" if c != "point_id" else "point_id"] = (
                "point",
                values,
                _POINT_COORD_ATTRS[c],
            )
        for sp, arr in (point_emissions or {}).items():
            arr = np.asarray(arr)
            if arr.shape != (nt, len(points)):
                raise InputDataError(
                    f"{point_variable(sp)} has shape {arr.shape}, expected {(nt, len(points))}"
                )
            data_vars[point_variable(sp)] = (
                ("time", "point"),
                arr.astype(np.float32, copy=False),
                {
                    "long_name": f"{sp} emission from point sources",
                    "units": "kg h-1",
                    "cell_methods": "time: mean",
                },
            )
    if region_fraction is not None:
        data_vars["region_fraction"] = (
            ("y", "x"),
            np.asarray(region_fraction, dtype=np.float64),
            {
                "long_name": "fraction of the cell inside the region (land + territorial sea)",
                "units": "1",
                "grid_mapping": "crs",
            },
        )
    ds = xr.Dataset(data_vars, coords=coords)
    ds.attrs.update({"Conventions": "CF-1.10", "cell_size_m": grid.cell_size})
    for k, v in (attrs or {}).items():
        ds.attrs[k] = (
            v if isinstance(v, str | int | float | np.integer | np.floating) else json.dumps(v)
        )
    return ds


def total_grid(ds: xr.Dataset, species: str) -> xr.DataArray:
    """Area plus point sources of ``species`` on the grid, ``(time, y, x)`` float32, kg h-1.

    Point sources are added to the cell that contains them.  With a ``sector`` dimension the
    sectors are summed first.
    """
    field = ds[species]
    if "sector" in field.dims:
        field = field.sum("sector", dtype=np.float64).astype(np.float32)
    out = field.values.copy()
    pvar = point_variable(species)
    if pvar in ds:
        rows = ds["point_row"].values.astype(np.int64)
        cols = ds["point_col"].values.astype(np.int64)
        ny, nx = out.shape[-2:]
        flat = out.reshape(out.shape[0], ny * nx)
        idx = rows * nx + cols
        pts = ds[pvar].values
        for j in range(idx.size):  # few hundred points: a loop is clear and cheap
            flat[:, idx[j]] += pts[:, j]
    da = xr.DataArray(out, dims=("time", "y", "x"), coords=field.coords, attrs=dict(field.attrs))
    da.attrs["long_name"] = da.attrs.get("long_name", "").replace(
        "from area sources", "from area and point sources"
    )
    da.name = species
    return da


def period_totals(ds: xr.Dataset, species: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Period totals of area plus point sources per cell, ``(ny, nx)`` float64 kg, by species
    name (default: every species of ``ds``)."""
    species = species_in(ds) if species is None else species
    return {sp: total_grid(ds, sp).sum("time", dtype=np.float64).values for sp in species}
