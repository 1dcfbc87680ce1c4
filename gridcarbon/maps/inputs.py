"""Adapters: turn the other stages' objects into the plain tables the map draws.

Each function takes one documented input and returns plain numpy/pandas objects, so that wiring
a new producer into the map is one call.  The accepted forms are listed in ``docs/maps.md``.

* :func:`period_mean` — period-mean total (area + point) emission per cell of a prior/posterior;
* :func:`uncertainty_reduction` — 1 − σ_post/σ_prior per cell;
* :func:`unit_frame` — control units in lon/lat with their identity and metric columns;
* :func:`unit_series_tables` — per-unit diurnal (24 Beijing hours) and monthly series;
* :func:`hotspot_cells` — per-cell co-located and pairwise hotspot counts and confidence bins;
* :func:`station_frame`, :func:`station_statistics` — stations and obs-vs-model statistics.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from gridcarbon.errors import InputDataError
from gridcarbon.grids.dataset import point_variable, species_in
from gridcarbon.grids.gridspec import GridSpec

__all__ = [
    "period_mean",
    "uncertainty_reduction",
    "unit_frame",
    "unit_series_tables",
    "hotspot_cells",
    "station_frame",
    "station_statistics",
    "UNIT_METRIC_CANDIDATES",
    "UNIT_ID_COLUMNS",
    "BEIJING_OFFSET",
]

#: Beijing time = UTC + 8 h.
BEIJING_OFFSET = np.timedelta64(8, "h")

#: Identity columns of a control unit, in tooltip order.
UNIT_ID_COLUMNS = ("unit_code", "unit_name", "category", "subtype")

#: Columns tried in turn for the unit colouring when ``MapConfig.unit_metric`` is None.
UNIT_METRIC_CANDIDATES = (
    "coloc_all_hours",
    "coloc_all_cell_hours",
    "coloc_all_cell_days",
    "colocated_hotspot_hours",
    "colocated_hotspot_cell_hours",
    "colocated_hotspot_cell_days",
    "colocated_hotspot_days",
    "colocated_hotspot_area_km2",
    "colocated_hotspot_share",
    "CO2_t_per_km2",
    "CO2_kg",
    "CO2_intensity",
    "CO2_total",
)

#: Confidence of a Gi* bin (|bin| = 1, 2, 3 → BH-significant at q = 0.10, 0.05, 0.01).
CONFIDENCE = {1: "90%", 2: "95%", 3: "99%"}

SPECIES3 = ("CO2", "NOx", "VOC")


# -- emission grids ---------------------------------------------------------------------------------
def period_mean(ds: xr.Dataset, species: str) -> np.ndarray:
    """Period-mean emission per cell (area + point sources), ``(ny, nx)`` float64, kg h-1.

    Equivalent to ``total_grid(ds, species).mean("time")`` without materialising the
    ``(time, y, x)`` total: the point sources' means are added into their cells.
    """
    if species not in ds:
        raise InputDataError(f"emission Dataset has no {species!r} variable")
    field = ds[species]
    if "sector" in field.dims:
        field = field.sum("sector")
    mean = np.asarray(field.mean("time", dtype=np.float64).values, dtype=np.float64)
    pvar = point_variable(species)
    if pvar in ds and ds.sizes.get("point", 0):
        pmean = np.asarray(ds[pvar].mean("time", dtype=np.float64).values, dtype=np.float64)
        ny, nx = mean.shape
        idx = ds["point_row"].values.astype(np.int64) * nx + ds["point_col"].values.astype(np.int64)
        ok = (idx >= 0) & (idx < ny * nx) & np.isfinite(pmean)
        mean = mean + np.bincount(idx[ok], weights=pmean[ok], minlength=ny * nx).reshape(ny, nx)
    return mean


def _std_var(ds: xr.Dataset, species: str, which: str) -> xr.DataArray | None:
    names = {
        "post": (f"{species}_std", f"{species}_posterior_std", f"{species}_sigma_post"),
        "prior": (f"{species}_prior_std", f"{species}_std_prior", f"{species}_sigma_prior"),
    }[which]
    for n in names:
        if n in ds:
            return ds[n]
    return None


def uncertainty_reduction(
    posterior: xr.Dataset, species: str, prior: xr.Dataset | None = None
) -> np.ndarray | None:
    """Uncertainty reduction ``1 − σ_post/σ_prior`` per cell, ``(ny, nx)``, or None if unknown.

    Looked up, in order: a ``<SP>_uncertainty_reduction`` variable of the posterior; else
    ``<SP>_std`` (σ_post, also ``<SP>_posterior_std``) with ``<SP>_prior_std`` from the posterior
    or the prior Dataset.  Time-resolved fields are averaged over time (σ as the RMS).  Cells
    with σ_prior = 0 (nothing to correct) are NaN.
    """
    for n in (f"{species}_uncertainty_reduction", f"{species}_ur"):
        if n in posterior:
            v = posterior[n]
            if "time" in v.dims:
                v = v.mean("time")
            return np.asarray(v.values, dtype=float)
    s_post = _std_var(posterior, species, "post")
    s_prior = _std_var(posterior, species, "prior")
    if s_prior is None and prior is not None:
        s_prior = _std_var(prior, species, "prior")
        if s_prior is None:
            s_prior = _std_var(prior, species, "post")  # a prior Dataset's own "<SP>_std"
    if s_post is None or s_prior is None:
        return None

    def rms(v: xr.DataArray) -> np.ndarray:
        if "time" in v.dims:
            return np.sqrt((v.astype(np.float64) ** 2).mean("time").values)
        return np.asarray(v.values, dtype=float)

    sp, sq = rms(s_post), rms(s_prior)
    with np.errstate(divide="ignore", invalid="ignore"):
        ur = 1.0 - sp / sq
    return np.where(sq > 0, ur, np.nan)


# -- control units -------------------------------------------------------------------------------
def _polygonal(g):
    """The polygon parts of a geometry (make_valid can return collections with lines)."""
    if g is None or g.geom_type in ("Polygon", "MultiPolygon"):
        return g
    import shapely

    polys = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
    if not polys:
        return shapely.Polygon()
    return shapely.union_all(polys) if len(polys) > 1 else polys[0]


def unit_frame(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Control units in EPSG:4326 with the identity columns as strings.

    ``units`` needs a CRS and ``unit_code``; ``unit_name``, ``category`` and ``subtype`` are
    filled with "" when missing.  Empty or invalid geometries are repaired or dropped.
    """
    if not isinstance(units, gpd.GeoDataFrame):
        raise InputDataError("units must be a GeoDataFrame (the zoning stage's control units)")
    if "unit_code" not in units.columns:
        raise InputDataError(f"units lack a 'unit_code' column (columns: {list(units.columns)})")
    if units.crs is None:
        raise InputDataError("units have no CRS; set it (e.g. EPSG:4490 for CGCS2000 lon/lat)")
    gdf = units.to_crs("EPSG:4326") if not units.crs.equals("EPSG:4326") else units.copy()
    for c in UNIT_ID_COLUMNS:
        if c not in gdf.columns:
            gdf[c] = ""
        gdf[c] = gdf[c].astype(object).where(gdf[c].notna(), "").astype(str)
    geom = gdf.geometry.make_valid().apply(_polygonal)
    keep = ~(geom.is_empty | geom.isna())
    gdf = gdf.set_geometry(geom)[keep.values]
    if gdf["unit_code"].duplicated().any():
        dup = gdf.loc[gdf["unit_code"].duplicated(), "unit_code"].iloc[0]
        raise InputDataError(f"unit_code {dup!r} occurs more than once")
    return gdf.reset_index(drop=True)


def _month_numbers(values: np.ndarray) -> list[int]:
    if np.issubdtype(np.asarray(values).dtype, np.datetime64):
        return [int(m) for m in pd.DatetimeIndex(values).month]
    return [int(c) for c in values]


def _series_from_dataset(ds: xr.Dataset, dim: str) -> dict[str, pd.DataFrame]:
    # a variable with a species dimension (the zoning stage's diurnal profile) → one per species
    if "species" in ds.dims:
        parts = {}
        for name, v in ds.data_vars.items():
            if "species" in v.dims:
                for sp in ds["species"].values:
                    parts[str(sp)] = v.sel(species=sp).drop_vars("species").assign_attrs(v.attrs)
            else:
                parts[str(name)] = v
        ds = xr.Dataset(parts)
    unit_dim = next((d for d in ("unit", "unit_code") if d in ds.dims), None)
    if unit_dim is None:
        raise InputDataError(f"unit series Dataset needs a 'unit' dimension, has {list(ds.dims)}")
    codes = ds["unit_code"].values if "unit_code" in ds.coords else ds[unit_dim].values
    out = {}
    for name, v in ds.data_vars.items():
        if set(v.dims) == {unit_dim, dim}:
            arr = v.transpose(unit_dim, dim).values.astype(float)
            out[str(name)] = pd.DataFrame(
                arr,
                index=pd.Index(np.asarray(codes).astype(str), name="unit_code"),
                columns=_month_numbers(ds[dim].values)
                if dim == "month"
                else [int(c) for c in ds[dim].values],
            )
            out[str(name)].attrs["units"] = v.attrs.get("units", "")
            out[str(name)].attrs["long_name"] = v.attrs.get("long_name", str(name))
    return out


def unit_series_tables(unit_series: Any) -> dict[str, dict[str, pd.DataFrame]]:
    """Per-unit series as ``{"hour": {var: frame}, "month": {var: frame}}``.

    Each frame has one row per ``unit_code`` and one column per Beijing hour (0–23) or month
    (1–12); ``frame.attrs['units']`` carries the unit.  Accepted ``unit_series``:

    * an ``xr.Dataset`` (or DataArray) with a ``unit`` dimension (labels = unit codes, or a
      ``unit_code`` coordinate) and variables over ``(unit, hour)`` and/or ``(unit, month)``;
      a ``species`` dimension splits a variable into one per species (the zoning stage's
      ``diurnal`` profile ``(unit, hour, species)``); ``month`` may hold dates (the zoning
      stage's ``tally_month``);
    * a mapping ``{"hour": Dataset-or-DataFrame, "month": ...}`` where a DataFrame is long, with
      ``unit_code``, ``hour`` (or ``month``) and one column per variable;
    * a long DataFrame with ``unit_code`` and ``hour`` or ``month`` and value columns.
    """
    out: dict[str, dict[str, pd.DataFrame]] = {"hour": {}, "month": {}}
    if unit_series is None:
        return out
    if isinstance(unit_series, xr.DataArray):
        unit_series = unit_series.to_dataset(name=unit_series.name or "value")
    if isinstance(unit_series, xr.Dataset):
        for dim in ("hour", "month"):
            if dim in unit_series.dims:
                out[dim] = _series_from_dataset(unit_series, dim)
        return out
    if isinstance(unit_series, Mapping):
        for dim in ("hour", "month"):
            part = unit_series.get(dim)
            if part is None:
                continue
            sub = unit_series_tables(part)
            out[dim] = sub[dim]
        return out
    if isinstance(unit_series, pd.DataFrame):
        df = unit_series
        if "unit_code" not in df.columns:
            raise InputDataError("unit series table needs a 'unit_code' column")
        for dim in ("hour", "month"):
            if dim in df.columns:
                values = [
                    c
                    for c in df.columns
                    if c not in ("unit_code", "hour", "month")
                    and pd.api.types.is_numeric_dtype(df[c])
                ]
                for v in values:
                    wide = df.pivot_table(index="unit_code", columns=dim, values=v, aggfunc="mean")
                    wide.index = wide.index.astype(str)
                    wide.columns = [int(c) for c in wide.columns]
                    wide.attrs["units"] = ""
                    wide.attrs["long_name"] = v
                    out[dim][v] = wide
        return out
    raise InputDataError(f"unit series of type {type(unit_series).__name__} not understood")


# -- hotspots --------------------------------------------------------------------------------------
def _bin_var(ds: xr.Dataset, species: str) -> xr.DataArray | None:
    for n in (f"gi_bin_{species}", f"{species}_gi_bin", f"bin_{species}", f"{species}_bin"):
        if n in ds:
            return ds[n]
    for n in ("gi_bin", "bin"):
        if n in ds and "species" in ds[n].dims:
            return ds[n].sel(species=species)
    return None


def hotspot_cells(hotspots: xr.Dataset, grid: GridSpec | None = None) -> pd.DataFrame:
    """Per-cell hotspot counts: co-located (all three species) and pairwise.

    Accepted ``hotspots``: the zoning stage's hotspot Dataset (``coloc_all``,
    ``coloc_<A>_<B>``: weakest confidence bin 0–3 per cell-step; a ``{level: Dataset}`` mapping
    gives its ``"day"`` level), or an ``xr.Dataset`` over ``(time, y, x)`` (``time`` may be hours or
    days, or absent) with per-species Gi* confidence bins ``gi_bin_<SP>`` (or ``<SP>_gi_bin``,
    or one ``gi_bin`` with a ``species`` dimension), integers −3…3 as in ArcGIS (±3/±2/±1 =
    BH-significant hot/cold at q = 0.01/0.05/0.10).  A cell-step is a *co-located* hotspot where
    all three bins are ≥ 1 and a *pairwise* one where exactly two are; its confidence is the
    weakest bin of the species involved.  Without bins, a boolean ``colocated`` variable
    (and ``colocated_<A>_<B>`` pairwise ones) is counted, with unknown confidence.

    Returns
    -------
    DataFrame
        One row per (cell, kind) with at least one hot step: ``row``, ``col``, ``kind``
        (``"CO2+NOx+VOC"`` or a pair such as ``"CO2+NOx"``), ``n_steps`` (hot steps), ``share``
        (of all steps), ``n_99``, ``n_95``, ``n_90`` (steps at each confidence), ``confidence``
        (the confidence reached in most of its hot steps: "99%", "95%", "90%" or "unknown").
    """
    if isinstance(hotspots, Mapping) and not isinstance(hotspots, xr.Dataset):  # {level: Dataset}
        hotspots = hotspots.get("day", next(iter(hotspots.values())))
    bins = {sp: _bin_var(hotspots, sp) for sp in SPECIES3}
    rows = []
    has_time = "time" in hotspots.dims
    n_steps = int(hotspots.sizes["time"]) if has_time else 1

    def add(kind: str, hot: np.ndarray, conf: np.ndarray | None) -> None:
        # hot: (t, y, x) bool; conf: (t, y, x) int 1..3 or None
        count = hot.sum(axis=0)
        rr, cc = np.nonzero(count)
        if rr.size == 0:
            return
        df = pd.DataFrame({"row": rr, "col": cc, "kind": kind, "n_steps": count[rr, cc]})
        if conf is not None:
            for level in (3, 2, 1):
                df[f"n_{CONFIDENCE[level][:2]}"] = ((conf == level) & hot).sum(axis=0)[rr, cc]
            stack = df[["n_99", "n_95", "n_90"]].to_numpy()
            df["confidence"] = np.array(["99%", "95%", "90%"])[np.argmax(stack, axis=1)]
        else:
            for c in ("n_99", "n_95", "n_90"):
                df[c] = 0
            df["confidence"] = "unknown"
        rows.append(df)

    def arr3(name: str) -> np.ndarray:
        v = hotspots[name].transpose(*(("time",) if has_time else ()), "y", "x").values
        v = np.nan_to_num(np.asarray(v, dtype=float), nan=0.0).astype(np.int8)
        return v if has_time else v[None]

    if "coloc_all" in hotspots:
        # the zoning stage's own co-location: weakest bin (0 = none) per cell-step, with its
        # hotspot_min_bin already applied; pairwise cells that are also all-three are left out
        all3 = arr3("coloc_all")
        add("CO2+NOx+VOC", all3 > 0, np.clip(all3, 0, 3))
        for a, b in itertools.combinations(SPECIES3, 2):
            name = f"coloc_{a}_{b}"
            if name in hotspots:
                pair = arr3(name)
                add(f"{a}+{b}", (pair > 0) & (all3 == 0), np.clip(pair, 0, 3))
    elif all(b is not None for b in bins.values()):
        arrs = {}
        for sp, b in bins.items():
            v = b.transpose(*(("time",) if has_time else ()), "y", "x").values
            v = np.nan_to_num(np.asarray(v, dtype=float), nan=0.0).astype(np.int8)
            arrs[sp] = v if has_time else v[None]
        hot = {sp: a >= 1 for sp, a in arrs.items()}
        pos = {sp: np.clip(a, 0, 3) for sp, a in arrs.items()}
        all3 = hot["CO2"] & hot["NOx"] & hot["VOC"]
        add("CO2+NOx+VOC", all3, np.minimum(np.minimum(pos["CO2"], pos["NOx"]), pos["VOC"]))
        for a, b in itertools.combinations(SPECIES3, 2):
            pair = hot[a] & hot[b] & ~all3
            add(f"{a}+{b}", pair, np.minimum(pos[a], pos[b]))
    elif "colocated" in hotspots:

        def arr(name: str) -> np.ndarray:
            v = np.asarray(
                hotspots[name].transpose(*(("time",) if has_time else ()), "y", "x").values
            ).astype(bool)
            return v if has_time else v[None]

        all3 = arr("colocated")
        add("CO2+NOx+VOC", all3, None)
        for a, b in itertools.combinations(SPECIES3, 2):
            name = f"colocated_{a}_{b}"
            if name in hotspots:
                add(f"{a}+{b}", arr(name) & ~all3, None)
    else:
        raise InputDataError(
            "hotspot Dataset has neither per-species Gi* bins (gi_bin_CO2, gi_bin_NOx, "
            f"gi_bin_VOC) nor a 'colocated' flag; variables: {list(hotspots.data_vars)}"
        )
    cols = ["row", "col", "kind", "n_steps", "n_99", "n_95", "n_90", "confidence"]
    if not rows:
        return pd.DataFrame(columns=[*cols, "share"])
    out = pd.concat(rows, ignore_index=True)[cols]
    out["share"] = out["n_steps"] / n_steps
    if grid is not None:
        ok = (out["row"] < grid.ny) & (out["col"] < grid.nx)
        out = out[ok]
    return out.reset_index(drop=True)


# -- stations ------------------------------------------------------------------------------------
def station_frame(stations: pd.DataFrame) -> pd.DataFrame:
    """Stations with ``station_id``, ``name``, ``lon``, ``lat``, ``kind`` (strings filled)."""
    if isinstance(stations, gpd.GeoDataFrame) and not {"lon", "lat"} <= set(stations.columns):
        g = stations.to_crs("EPSG:4326")
        stations = pd.DataFrame(g.drop(columns=g.geometry.name))
        stations["lon"], stations["lat"] = g.geometry.x.values, g.geometry.y.values
    missing = {"station_id", "lon", "lat"} - set(stations.columns)
    if missing:
        raise InputDataError(f"station table lacks column(s) {sorted(missing)}")
    df = pd.DataFrame(stations).copy()
    for c in ("station_id", "name", "kind"):
        if c not in df.columns:
            df[c] = ""
        df[c] = df[c].astype(object).where(df[c].notna(), "").astype(str)
    df["lon"] = pd.to_numeric(df["lon"], errors="coerce")
    df["lat"] = pd.to_numeric(df["lat"], errors="coerce")
    bad = ~(np.isfinite(df["lon"]) & np.isfinite(df["lat"]))
    if bad.any():
        raise InputDataError(f"station {df.loc[bad, 'station_id'].iloc[0]!r} has no valid lon/lat")
    return df.reset_index(drop=True)


def station_statistics(series: pd.DataFrame) -> pd.DataFrame:
    """Observed vs prior vs posterior statistics per station and species.

    ``series`` is long: ``station_id``, ``species``, ``observed``, ``prior`` and optionally
    ``posterior`` (modelled values in the observation's unit), optionally ``unit``.  Rows with
    a missing observation are ignored.

    Returns one row per (station_id, species): ``n``, ``unit``, and for ``m`` in prior/posterior
    ``bias_m`` (mean model − obs), ``rmse_m``, ``r_m`` (Pearson; NaN for n < 3 or constant data).
    """
    need = {"station_id", "species", "observed", "prior"}
    if not need <= set(series.columns):
        raise InputDataError(f"station series lacks column(s) {sorted(need - set(series.columns))}")
    s = series[np.isfinite(pd.to_numeric(series["observed"], errors="coerce"))]
    if "used" in s.columns:
        used = s["used"]
        if used.dtype == object:
            used = used.astype(str).str.lower().isin(["true", "1", "yes"])
        s = s[used.astype(bool)]
    models = [m for m in ("prior", "posterior") if m in s.columns]
    recs = []
    for (sid, sp), g in s.groupby(["station_id", "species"], sort=True):
        o = g["observed"].to_numpy(float)
        rec: dict[str, Any] = {
            "station_id": str(sid),
            "species": str(sp),
            "n": int(o.size),
            "unit": str(g["unit"].iloc[0]) if "unit" in g else "",
        }
        for m in models:
            x = g[m].to_numpy(float)
            ok = np.isfinite(x)
            d = x[ok] - o[ok]
            rec[f"bias_{m}"] = float(d.mean()) if d.size else np.nan
            rec[f"rmse_{m}"] = float(np.sqrt((d**2).mean())) if d.size else np.nan
            if ok.sum() >= 3 and np.std(x[ok]) > 0 and np.std(o[ok]) > 0:
                rec[f"r_{m}"] = float(np.corrcoef(x[ok], o[ok])[0, 1])
            else:
                rec[f"r_{m}"] = np.nan
        recs.append(rec)
    return pd.DataFrame(recs)


def species_of(ds: xr.Dataset, wanted: list[str] | None = None) -> list[str]:
    """Species of ``ds`` (in CO2, NOx, VOC order), restricted to ``wanted`` if given."""
    have = species_in(ds)
    return [s for s in have if wanted is None or s in wanted]
