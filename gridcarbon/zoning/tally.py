"""Zone tallies: per-unit emission totals for every hour, day, month and the period.

Area sources go to units through the coverage matrix (``F @ field`` for every hour at once, a
numba kernel over time, :mod:`gridcarbon.kernels.tally`); point sources go to the unit that
contains them.  Everything not in a unit (area outside every unit, points outside every unit) is
kept as the ``outside`` remainder, so that units + outside = grid total.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
import xarray as xr

from gridcarbon.errors import InputDataError
from gridcarbon.io.cf import BEIJING_LABELS
from gridcarbon.kernels.tally import (
    add_points_to_units,
    coverage_apply,
    coverage_apply3,
    scatter_add_columns,
)
from gridcarbon.zoning.overlay import Overlay

__all__ = [
    "sparse_time_matmul",
    "sparse_time_matmul_many",
    "add_points",
    "zone_tally",
    "aggregate_time",
    "beijing_labels",
    "period_table",
    "rollup",
    "diurnal_profile",
    "TallySums",
    "month_tally_bins",
    "unit_total_std_from_covariance",
]

log = logging.getLogger(__name__)
BEIJING = np.timedelta64(8, "h")


def _prepare(F: sp.spmatrix) -> tuple[np.ndarray, ...]:
    """Split F into runs of consecutive cells wholly inside one unit (fraction exactly 1, no other
    unit) and the remaining entries sorted by cell."""
    C = sp.csc_matrix(F)
    C.sum_duplicates()
    C.sort_indices()
    n = C.shape[1]
    cnt = np.diff(C.indptr)
    one = np.flatnonzero(cnt == 1)
    first = C.indptr[one]
    is_full = C.data[first] == 1.0
    full = np.zeros(n, bool)
    unit = np.full(n, -1, np.int64)
    full[one[is_full]] = True
    unit[one[is_full]] = C.indices[first[is_full]]
    fc = np.flatnonzero(full)
    if fc.size:
        brk = np.r_[True, (np.diff(fc) != 1) | (np.diff(unit[fc]) != 0)]
        starts = fc[brk]
        ends = np.r_[fc[np.flatnonzero(brk)[1:] - 1], fc[-1]] + 1
        runit = unit[starts]
    else:
        starts = ends = runit = np.empty(0, np.int64)
    coo = C.tocoo()
    keep = ~full[coo.col]
    order = np.lexsort((coo.row[keep], coo.col[keep]))
    return (
        starts.astype(np.int64),
        ends.astype(np.int64),
        runit.astype(np.int64),
        coo.col[keep][order].astype(np.int64),
        coo.row[keep][order].astype(np.int64),
        coo.data[keep][order].astype(np.float64),
    )


def sparse_time_matmul(
    F: sp.csr_matrix, x: np.ndarray, prepared: tuple | None = None
) -> np.ndarray:
    """``(F @ x[t].ravel())`` for every time step: ``(nt, ny*nx)`` → ``(nt, n_units)`` float64.

    ``x`` may be float32 or float64 (any (nt, ...) shape whose trailing dims flatten to the
    cells); sums are accumulated in float64.  ``prepared`` is ``_prepare(F)`` when reused.
    """
    x = np.ascontiguousarray(x)
    x2 = x.reshape(x.shape[0], -1)
    if x2.shape[1] != F.shape[1]:
        raise InputDataError(f"fields have {x2.shape[1]} cells, the coverage matrix {F.shape[1]}")
    prep = prepared if prepared is not None else _prepare(F)
    out = np.empty((x2.shape[0], F.shape[0]), np.float64)
    coverage_apply(*prep, x2, out)
    return out


def sparse_time_matmul_many(
    F: sp.csr_matrix, xs: list[np.ndarray], prepared: tuple | None = None
) -> list[np.ndarray]:
    """:func:`sparse_time_matmul` of several fields, in the order given.

    Fields of one shape and dtype go three to a pass of the fused kernel (the split of F is
    read once for three fields); the rest one by one.  Each field's sums are accumulated in the
    same order either way, so the grouping does not change a single bit.
    """
    prep = prepared if prepared is not None else _prepare(F)
    x2 = [np.ascontiguousarray(x).reshape(x.shape[0], -1) for x in xs]
    for a in x2:
        if a.shape[1] != F.shape[1]:
            raise InputDataError(
                f"fields have {a.shape[1]} cells, the coverage matrix {F.shape[1]}"
            )
    outs: list[np.ndarray | None] = [None] * len(x2)
    alike: dict[tuple, list[int]] = {}
    for i, a in enumerate(x2):
        alike.setdefault((a.shape, a.dtype), []).append(i)
    for group in alike.values():
        n_fused = len(group) - len(group) % 3
        for k in range(0, n_fused, 3):
            trio = group[k : k + 3]
            fused = [np.empty((x2[i].shape[0], F.shape[0]), np.float64) for i in trio]
            coverage_apply3(*prep, *(x2[i] for i in trio), *fused)
            for i, out in zip(trio, fused, strict=True):
                outs[i] = out
        for i in group[n_fused:]:
            outs[i] = sparse_time_matmul(F, x2[i], prep)
    return outs


def add_points(point_unit: np.ndarray, pts: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Add point sources ``pts`` (nt, n_points) into per-unit totals ``out`` (nt, n_units) in
    place, each to the unit that contains it; returns the (nt,) sum of points outside all units."""
    outside = np.zeros(pts.shape[0])
    add_points_to_units(np.asarray(point_unit, np.int64), np.ascontiguousarray(pts), out, outside)
    return outside


def _point_sums(
    point_unit: np.ndarray, pts: np.ndarray, n_units: int, out: np.ndarray | None = None
) -> np.ndarray:
    """(nt, n_points) → (nt, n_units + 1): per-unit sums, last column = outside every unit.

    With ``out`` (nt, n_units + 1) the sums are added into it in place.
    """
    idx = np.where(point_unit >= 0, point_unit, n_units).astype(np.int64)
    if out is None:
        out = np.zeros((pts.shape[0], n_units + 1))
    scatter_add_columns(idx, np.ascontiguousarray(pts), out)
    return out


def zone_tally(
    grids: xr.Dataset,
    overlay: Overlay,
    units: pd.DataFrame | None,
    species: Sequence[str],
) -> xr.Dataset:
    """Hourly per-unit totals of each species.

    Parameters
    ----------
    grids : emission Dataset (prior or posterior; area ``(time, y, x)`` [or with ``sector``] and
        optional ``<sp>_point`` ``(time, point)``), kg h-1
    overlay : Overlay with ``F`` and ``point_unit`` (unit index of each point, -1 outside)
    units : the units table (its ``unit_code``, ``category``, ``subtype``, ``county_code``,
        ``city_code``, ``area_km2`` become coordinates)
    units : None: the overlay's codes label the units
    species : names of the species (variables of ``grids``)

    Returns
    -------
    xr.Dataset with dims ``(unit, time)``:
        ``<sp>`` area + point sources in the unit (kg h-1), ``<sp>_area``, ``<sp>_point``;
        ``<sp>_outside (time)``: area outside every unit plus points outside every unit;
        ``<sp>_grid_total (time)``: the whole grid (area + points);
        ``<sp>_sector (unit, time, sector)`` when the grids keep sectors.
    """
    from gridcarbon.grids.dataset import point_variable

    F = overlay.F
    nu = F.shape[0]
    w_out = overlay.outside_weight()
    time = grids["time"].values
    data: dict[str, tuple] = {}
    prep = _prepare(F)
    plain = [s for s in species if "sector" not in grids[s].dims]
    fused = dict(
        zip(
            plain,
            sparse_time_matmul_many(
                F, [grids[s].transpose("time", "y", "x").values for s in plain], prep
            ),
            strict=True,
        )
    )
    for s in species:
        field = grids[s]
        if "sector" in field.dims:
            arr = field.transpose("time", "sector", "y", "x").values
            nt, ns = arr.shape[:2]
            per_sector = sparse_time_matmul(F, arr.reshape(nt * ns, -1), prep).reshape(nt, ns, nu)
            area = per_sector.sum(axis=1)
            out_area = arr.reshape(nt, ns, -1).astype(np.float64) @ w_out
            out_area = out_area.sum(axis=1)
            grid_area = arr.reshape(nt, -1).astype(np.float64).sum(axis=1)
            data[f"{s}_sector"] = (
                ("unit", "time", "sector"),
                per_sector.transpose(2, 0, 1),
                {"units": "kg h-1", "long_name": f"{s} area sources by sector"},
            )
        else:
            arr = field.transpose("time", "y", "x").values
            area = fused[s]
            flat = arr.reshape(arr.shape[0], -1)
            out_area = flat.astype(np.float64) @ w_out
            grid_area = flat.sum(axis=1, dtype=np.float64)
        pvar = point_variable(s)
        if pvar in grids and overlay.point_unit is not None:
            pts = grids[pvar].transpose("time", "point").values
            point = np.zeros_like(area)
            out_point = add_points(overlay.point_unit, pts, point)
            grid_point = pts.sum(axis=1, dtype=np.float64)
            if "sector" in grids[s].dims and "point_sector" in grids.coords:
                sectors = list(grids["sector"].values)
                psec = grids["point_sector"].values.astype(str)
                add = np.zeros((nu, len(time), len(sectors)))
                for j, name in enumerate(sectors):
                    sel = psec == name
                    if sel.any():
                        pu = overlay.point_unit[sel]
                        add[:, :, j] = _point_sums(pu, pts[:, sel], nu)[:, :nu].T
                data[f"{s}_sector"] = (
                    data[f"{s}_sector"][0],
                    data[f"{s}_sector"][1] + add,
                    data[f"{s}_sector"][2],
                )
        else:
            point = np.zeros_like(area)
            out_point = np.zeros(area.shape[0])
            grid_point = np.zeros(area.shape[0])
        attrs = {"units": "kg h-1", "cell_methods": "time: mean"}
        data[s] = (
            ("unit", "time"),
            (area + point).T,
            {**attrs, "long_name": f"{s} emission in the unit (area + point sources)"},
        )
        data[f"{s}_area"] = (
            ("unit", "time"),
            area.T,
            {**attrs, "long_name": f"{s} area sources in the unit (F @ grid)"},
        )
        data[f"{s}_point"] = (
            ("unit", "time"),
            point.T,
            {**attrs, "long_name": f"{s} point sources inside the unit"},
        )
        data[f"{s}_outside"] = (
            ("time",),
            out_area + out_point,
            {**attrs, "long_name": f"{s} outside every unit (area + points)"},
        )
        data[f"{s}_grid_total"] = (
            ("time",),
            grid_area + grid_point,
            {**attrs, "long_name": f"{s} whole grid (area + points)"},
        )
    coords: dict[str, tuple] = {"time": ("time", time)}
    if "sector" in grids.dims:
        coords["sector"] = ("sector", grids["sector"].values)
    if units is not None:
        for col, attrs in _UNIT_COORDS.items():
            if col in units:
                name = col if col != "unit_code" else "unit"
                coords[name] = ("unit", units[col].to_numpy(), attrs)
    else:
        coords["unit"] = ("unit", np.asarray(overlay.codes).astype(str), _UNIT_COORDS["unit_code"])
    ds = xr.Dataset(data, coords=coords)
    ds.attrs["note"] = (
        "area sources by exact coverage fractions (F @ grid); point sources by "
        "point-in-polygon; <sp>_outside = grid total - units"
    )
    return ds


#: The units-table columns a tally carries as coordinates along ``unit``, with their attributes.
_UNIT_COORDS: dict[str, dict[str, str]] = {
    "unit_code": {"long_name": "control unit code"},
    "unit_name": {"long_name": "control unit name"},
    "category": {"long_name": "control unit category (三线一单)"},
    "subtype": {"long_name": "control unit subtype"},
    "county_code": {"long_name": "county administrative code"},
    "city_code": {"long_name": "city administrative code"},
    "area_km2": {"long_name": "area of the control unit", "units": "km2"},
}


# ---------------------------------------------------------------------------------------------
# time aggregation
# ---------------------------------------------------------------------------------------------
def beijing_labels(time: np.ndarray, freq: str) -> np.ndarray:
    """Beijing-time bin label of each UTC hour: ``"day"`` → date, ``"month"`` → first of month,
    ``"hour"`` → the Beijing hour itself, ``"period"`` → one label."""
    t = pd.DatetimeIndex(time) + pd.Timedelta(hours=8)
    if freq == "hour":
        return t.values
    if freq == "day":
        return t.floor("D").values
    if freq == "month":
        return t.to_period("M").to_timestamp().values
    if freq == "period":
        return np.full(len(t), t[0].floor("D").to_datetime64())
    raise InputDataError(f"unknown time aggregation {freq!r}; use hour, day, month or period")


def utc_bin_axis(ds: xr.Dataset, dim: str, level: str, hours_utc: np.ndarray) -> xr.Dataset:
    """``ds`` with its Beijing-labelled bin axis ``dim`` restated in UTC, for the files.

    In memory the zoning stage labels its bins by Beijing time (naive, UTC+8: the Beijing hour,
    the date, the first of the month).  In a file every time coordinate is UTC: ``dim`` becomes
    the start of the bin's first hour (UTC) with ``<dim>_bnds`` (start of the first, end of the
    last hour of the period in the bin), and day and month bins keep their meaning in a
    ``beijing_date`` (``YYYY-MM-DD``) or ``beijing_month`` (``YYYY-MM``) coordinate.  Hour bins
    then equal the emission grids' hourly axis; the bounds of day and month bins tile it.

    Parameters
    ----------
    ds : Dataset
        With the coordinate ``dim`` of Beijing bin labels (:func:`beijing_labels`).
    dim : str
        The bin dimension (``time``, ``day``, ``month``).
    level : "hour", "day" or "month"
    hours_utc : array of datetime64
        The hour-beginning UTC stamps of the period the bins were summed over.

    Raises
    ------
    InputDataError
        A bin holds none of the hours (the bins and the hours are not of one period).
    """
    labels = pd.DatetimeIndex(ds[dim].values)
    hours = pd.Series(
        pd.DatetimeIndex(hours_utc), index=pd.DatetimeIndex(beijing_labels(hours_utc, level))
    )
    step = pd.Timedelta(hours=1)
    grouped = hours.groupby(level=0)
    first, last = grouped.min(), grouped.max()
    missing = labels.difference(first.index)
    if len(missing):
        raise InputDataError(
            f"{level} bin(s) {[str(m) for m in missing[:3]]} hold none of the period's hours "
            f"{hours.iloc[0]} .. {hours.iloc[-1]} UTC; the bins and the hours are of different runs"
        )
    start = pd.DatetimeIndex(first.loc[labels].to_numpy())
    end = pd.DatetimeIndex(last.loc[labels].to_numpy()) + step
    what = {"hour": "hour", "day": "Beijing day (UTC+8)", "month": "Beijing month (UTC+8)"}[level]
    out = ds.assign_coords(
        {
            dim: (
                dim,
                start.values,
                {
                    "standard_name": "time",
                    "long_name": f"start of the {what} (UTC)"
                    if level == "hour"
                    else f"start of the first hour of the period in the {what}, UTC",
                    "bounds": f"{dim}_bnds",
                    "axis": "T",
                },
            )
        }
    )
    out[f"{dim}_bnds"] = ((dim, "nv"), np.stack([start.values, end.values], axis=1))
    if level in BEIJING_LABELS:
        name, fmt = BEIJING_LABELS[level]
        out = out.assign_coords(
            {
                name: (
                    dim,
                    np.asarray(labels.strftime(fmt), dtype=str),
                    {"long_name": f"the {what} of the bin"},
                )
            }
        )
    return out


def aggregate_time(
    arr: np.ndarray, time: np.ndarray, freq: str, axis: int = -1
) -> tuple[np.ndarray, np.ndarray]:
    """Sum hourly kg h-1 values over Beijing days/months/the period → kg per bin.

    Returns ``(sums, labels)``; ``axis`` is the time axis of ``arr``.
    """
    labels = beijing_labels(time, freq)
    if freq == "hour":
        return np.asarray(arr, np.float64), labels
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    if not np.all(np.diff(pd.DatetimeIndex(labels[starts]).asi8) > 0):
        raise InputDataError("time must be sorted to aggregate it")
    sums = np.add.reduceat(np.asarray(arr, np.float64), starts, axis=axis)
    return sums, labels[starts]


def tally_at(
    tally: xr.Dataset, freq: str, species: Sequence[str], per_unit: bool = True
) -> xr.Dataset:
    """The hourly tally summed to Beijing ``day``/``month``/``period`` bins (kg per bin).

    ``per_unit=False``: only the whole-grid series (``<sp>_outside``, ``<sp>_grid_total``).
    """
    time = tally["time"].values
    out = {}
    for s in species:
        for var in (s, f"{s}_area", f"{s}_point") if per_unit else ():
            v, lab = aggregate_time(tally[var].values, time, freq, axis=1)
            out[var] = (("unit", freq), v, _binned_attrs(tally[var], var, freq))
        for var in (f"{s}_outside", f"{s}_grid_total"):
            v, lab = aggregate_time(tally[var].values, time, freq, axis=0)
            what = "outside every unit" if var.endswith("_outside") else "whole grid"
            out[var] = (
                (freq,),
                v,
                {"units": "kg", "long_name": f"{s} {what} (area + points) per Beijing {freq}"},
            )
    coords = {k: v for k, v in tally.coords.items() if "time" not in v.dims}
    coords[freq] = (freq, lab)
    ds = xr.Dataset(out, coords=coords)
    ds[freq].attrs["long_name"] = f"Beijing {freq} (UTC+8)"
    return ds


def period_table(
    tally: xr.Dataset,
    species: Sequence[str],
    units: pd.DataFrame,
    sums: Mapping[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Per-unit period totals (kg), intensity (t km-2), share of the grid total and rank.

    ``sums``: the per-unit period sums (kg) of ``<sp>``, ``<sp>_area`` and ``<sp>_point``, when
    they were summed block by block (:class:`TallySums`) and ``tally`` holds only the whole-grid
    series (``<sp>_grid_total``).
    """
    df = pd.DataFrame({"unit_code": units["unit_code"].to_numpy()})
    area = units["area_km2"].to_numpy(float)

    def total(var: str) -> np.ndarray:
        return tally[var].values.sum(axis=1) if sums is None else sums[var]

    for s in species:
        tot = total(s)
        grid_total = float(tally[f"{s}_grid_total"].values.sum())
        df[f"{s}_kg"] = tot
        df[f"{s}_area_kg"] = total(f"{s}_area")
        df[f"{s}_point_kg"] = total(f"{s}_point")
        df[f"{s}_t_per_km2"] = np.where(
            area > 0, tot / 1000.0 / np.where(area > 0, area, 1), np.nan
        )
        df[f"{s}_share_pct"] = 100.0 * tot / grid_total if grid_total > 0 else np.nan
        df[f"{s}_rank"] = pd.Series(tot).rank(ascending=False, method="min").astype(int).to_numpy()
    return df


def rollup(
    table: pd.DataFrame, units: pd.DataFrame, by: str, species: Sequence[str]
) -> pd.DataFrame:
    """Sum a per-unit period table by ``category``/``subtype``/``county_code``/``city_code``."""
    df = table.merge(units.drop(columns="geometry", errors="ignore"), on="unit_code")
    agg: dict[str, tuple[str, str]] = {
        "n_units": ("unit_code", "size"),
        "area_km2": ("area_km2", "sum"),
    }
    for s in species:
        for suffix in ("kg", "area_kg", "point_kg", "share_pct"):
            agg[f"{s}_{suffix}"] = (f"{s}_{suffix}", "sum")
    keys = [by]
    extra = {"county_code": "county_name", "city_code": "city_name", "category": "category_zh"}
    if by in extra and extra[by] in df:
        keys.append(extra[by])
    out = df.groupby(keys, dropna=False).agg(**agg).reset_index()
    for s in species:
        out[f"{s}_t_per_km2"] = out[f"{s}_kg"] / 1000.0 / out["area_km2"].where(out["area_km2"] > 0)
    return out.sort_values(f"{species[0]}_kg", ascending=False).reset_index(drop=True)


def diurnal_profile(
    tally: xr.Dataset,
    species: Sequence[str],
    hour_sums: tuple[np.ndarray, np.ndarray] | None = None,
) -> xr.DataArray:
    """Mean emission rate (kg h-1) of each unit by Beijing hour of day: ``(unit, hour, species)``.

    ``hour_sums``: ``(sums, counts)``, the per-unit sums ``(unit, 24, species)`` (kg h-1 summed
    over the hours) and the number of hours ``(24,)`` of each Beijing hour of day, when they were
    summed block by block (:class:`TallySums`) and ``tally`` holds no per-unit hourly arrays.
    """
    t = pd.DatetimeIndex(tally["time"].values) + pd.Timedelta(hours=8)
    hour = t.hour.to_numpy()
    nu = tally.sizes["unit"]
    out = np.full((nu, 24, len(species)), np.nan)
    for j, s in enumerate(species):
        if hour_sums is not None:
            sums, counts = hour_sums
            for h in np.flatnonzero(counts):
                out[:, h, j] = sums[:, h, j] / counts[h]
            continue
        v = tally[s].values
        for h in range(24):
            sel = hour == h
            if sel.any():
                out[:, h, j] = v[:, sel].mean(axis=1)
    return xr.DataArray(
        out,
        dims=("unit", "hour", "species"),
        coords={
            "unit": ("unit", tally["unit"].values, {"long_name": "control unit code"}),
            "hour": ("hour", np.arange(24), {"long_name": "hour of day, Beijing time (UTC+8)"}),
            "hour_of_day_beijing": (
                "hour",
                np.arange(24),
                {
                    "long_name": "hour of day in Beijing time (UTC+8), hour-beginning: 0 = 00:00-01:00"
                },
            ),
            "species": ("species", list(species), {"long_name": "emitted species"}),
        },
        name="diurnal_profile",
        attrs={
            "units": "kg h-1",
            "long_name": "mean emission rate by Beijing hour of day "
            "(hour-beginning, UTC+8), area + point sources",
        },
    )


class TallySums:
    """What the zoning stage needs of an hourly tally, summed block by block (e.g. month by
    month), so that the per-unit hourly arrays need not be kept for the period.

    Each block (:func:`zone_tally` of whole Beijing months of the period, in order) is
    :meth:`add`-ed once; the per-unit period sums, the sums by Beijing hour of day (the diurnal
    profile), and the day and month bins are taken from it in the order the whole tally's sums
    take them (row after row of the hours), so they equal the sums of the whole tally to the
    last bit.  The whole-grid series (``<sp>_outside``, ``<sp>_grid_total``, one value per hour)
    are kept for the period and summed from it as :func:`tally_at` sums them.

    Parameters
    ----------
    species : names of the species tallied
    time : the hours (UTC) of every block together
    """

    def __init__(self, species: Sequence[str], time: np.ndarray) -> None:
        self.species = list(species)
        self.time = np.asarray(time)
        self.per_unit = [v for s in self.species for v in (s, f"{s}_area", f"{s}_point")]
        self.lines: xr.Dataset | None = None
        self.period: dict[str, np.ndarray] = {}
        self.hour_sums: np.ndarray | None = None
        self.hour_counts = np.zeros(24, np.int64)
        self._day: list[xr.Dataset] = []
        self._month: list[xr.Dataset] = []
        self._at = 0

    def add(self, part: xr.Dataset, month_bins: bool = True) -> None:
        """Sum one block's tally (dims ``(unit, time)``, hours ``time[at : at + n]``).

        ``month_bins=False``: the block is part of a month (whole days of it), whose month
        bins are handed in by :meth:`add_month_bins` once the month is complete."""
        n = part.sizes["time"]
        if not np.array_equal(self.time[self._at : self._at + n], part["time"].values):
            raise InputDataError(
                f"block {self._at}..{self._at + n} of the tally is not at the hours the "
                "period has there"
            )
        if self.lines is None:
            series = [v for v, var in part.data_vars.items() if var.dims == ("time",)]
            data = {v: (("time",), np.empty(self.time.size), part[v].attrs) for v in series}
            coords = {k: c for k, c in part.coords.items() if "time" not in c.dims}
            self.lines = xr.Dataset(data, coords={**coords, "time": ("time", self.time)})
            self.lines.attrs = part.attrs
            self.hour_sums = np.zeros((part.sizes["unit"], 24, len(self.species)))
        for v in self.lines.data_vars:
            self.lines[v].values[self._at : self._at + n] = part[v].values
        for v in self.per_unit:
            rows = part[v].transpose("time", "unit").values  # (time, unit): the hours in order
            # the running sum first, then the hours one after another (what ``sum`` does)
            start = self.period.get(v, np.zeros(rows.shape[1]))
            self.period[v] = np.vstack([start[None, :], rows]).sum(axis=0)
        hour = (pd.DatetimeIndex(part["time"].values) + pd.Timedelta(hours=8)).hour.to_numpy()
        for j, s in enumerate(self.species):
            rows = part[s].transpose("time", "unit").values
            for h in np.unique(hour):
                sel = rows[hour == h]
                self.hour_sums[:, h, j] = np.vstack([self.hour_sums[None, :, h, j], sel]).sum(
                    axis=0
                )
        self.hour_counts += np.bincount(hour, minlength=24)
        self._day.append(_binned(part, "day", self.per_unit))
        if month_bins:
            self._month.append(_binned(part, "month", self.per_unit))
        self._at += n

    def add_month_bins(self, binned: xr.Dataset) -> None:
        """The month bins (dims ``(unit, month)``, as :func:`month_tally_bins` makes them) of
        the blocks added last with ``month_bins=False``."""
        self._month.append(binned)

    def complete(self) -> bool:
        """Whether the blocks added cover every hour of ``time``."""
        return self.lines is not None and self._at == self.time.size

    def binned(self, freq: str) -> xr.Dataset:
        """The tally by Beijing ``day`` or ``month`` (kg per bin), as :func:`tally_at` of the
        whole tally gives it."""
        lines = tally_at(self.lines, freq, self.species, per_unit=False)
        parts = self._day if freq == "day" else self._month
        per_unit = xr.concat(parts, dim=freq, data_vars="all", coords="minimal", compat="override")
        data = {}
        for s in self.species:
            for v in (s, f"{s}_area", f"{s}_point"):
                data[v] = per_unit[v]
            for v in (f"{s}_outside", f"{s}_grid_total"):
                data[v] = lines[v]
        ds = xr.Dataset(data)
        ds[freq].attrs["long_name"] = f"Beijing {freq} (UTC+8)"
        return ds


def month_tally_bins(
    var_parts: Callable[[str], list[np.ndarray]],
    time: np.ndarray,
    template: xr.Dataset,
    names: Sequence[str],
) -> xr.Dataset:
    """The per-unit variables ``names`` of a month's tally summed to the Beijing month, from the
    month's blocks of whole days, one variable in memory at a time.

    ``var_parts(name)`` gives that variable's blocks in order, each ``(unit, hours)``;
    ``time`` the month's hours; ``template`` one block's tally (coordinates and attributes).
    The variable's blocks are joined into the layout the tally of a whole month has (hours
    outer in memory) and summed by :func:`aggregate_time` as the whole month's tally is (a
    segment sum of ``np.add.reduceat`` is no running sum: it cannot be continued block by
    block), so the bins equal the whole month's to the last bit.
    """
    coords = {k: v for k, v in template.coords.items() if "time" not in v.dims}
    out = {}
    lab = None
    for var in names:
        rows = np.concatenate([np.asarray(p).T for p in var_parts(var)], axis=0)
        if rows.shape[0] != np.asarray(time).size:
            raise InputDataError(
                f"the blocks of {var!r} hold {rows.shape[0]} hours, the month {np.asarray(time).size}"
            )
        v, lab = aggregate_time(rows.T, time, "month", axis=1)
        del rows
        out[var] = (("unit", "month"), v, _binned_attrs(template[var], var, "month"))
    coords["month"] = ("month", lab)
    return xr.Dataset(out, coords=coords)


def _binned(part: xr.Dataset, freq: str, names: Sequence[str]) -> xr.Dataset:
    """The per-unit variables ``names`` of one block's tally summed to Beijing ``freq`` bins."""
    time = part["time"].values
    out = {}
    lab = None
    for var in names:
        v, lab = aggregate_time(part[var].values, time, freq, axis=1)
        out[var] = (("unit", freq), v, _binned_attrs(part[var], var, freq))
    coords = {k: v for k, v in part.coords.items() if "time" not in v.dims}
    coords[freq] = (freq, lab)
    return xr.Dataset(out, coords=coords)


def _binned_attrs(var: xr.DataArray, name: str, freq: str) -> dict[str, str]:
    return {"units": "kg", "long_name": var.attrs.get("long_name", name) + f" per Beijing {freq}"}


# ---------------------------------------------------------------------------------------------
# posterior uncertainty of unit totals
# ---------------------------------------------------------------------------------------------
def unit_total_std_from_covariance(
    C: sp.spmatrix | np.ndarray,
    e: np.ndarray,
    P: np.ndarray | None = None,
    P_sqrt: np.ndarray | None = None,
    P_diag: np.ndarray | None = None,
    U: np.ndarray | None = None,
) -> np.ndarray:
    """Standard deviation of unit totals ``T = C diag(e) s`` for scaling factors ``s`` ~ cov P.

    ``σ_u² = c_uᵀ diag(e) P diag(e) c_u`` for each row ``c_u`` of ``C`` (units × state), where
    ``e`` is the prior emission of each state element over the period (kg).  ``P`` may be given

    * densely (``P``);
    * as a factor ``P = P_sqrt P_sqrtᵀ`` (ensemble anomalies / sqrt(m−1), or a square root);
    * in low-rank-update form ``P = diag(P_diag) − U Uᵀ``;
    * or as ``P = P_sqrt P_sqrtᵀ − U Uᵀ``.

    Correlations between cells (shared scaling factors, correlated errors) are kept, not
    assumed away.
    """
    A = sp.csr_matrix(C) @ sp.diags(np.asarray(e, np.float64))  # units × state
    A = sp.csr_matrix(A)
    if P is not None:
        AP = A @ np.asarray(P, np.float64)
        var = np.asarray(A.multiply(AP).sum(axis=1)).ravel()
    else:
        var = np.zeros(A.shape[0])
        if P_sqrt is not None:
            AS = A @ np.asarray(P_sqrt, np.float64)
            var += np.einsum("ij,ij->i", AS, AS)
        if P_diag is not None:
            var += np.asarray(A.multiply(A) @ np.asarray(P_diag, np.float64)).ravel()
        if U is not None:
            AU = A @ np.asarray(U, np.float64)
            var -= np.einsum("ij,ij->i", AU, AU)
        if P_sqrt is None and P_diag is None:
            raise InputDataError("give P, P_sqrt or P_diag (with optional U)")
    return np.sqrt(np.clip(var, 0.0, None))
