"""The monitoring-station layer: markers by station class, popups with the fit of prior and
posterior to the observations and daily-mean charts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from gridcarbon.errors import InputDataError
from gridcarbon.maps.charts import PALETTE, chart_spec
from gridcarbon.maps.elements import LayerLegend, StationContent, in_group
from gridcarbon.maps.scales import categorical_legend_section, fmt

__all__ = [
    "STATIONS_LAYER_NAME",
    "STATION_COLORS",
    "station_frame",
    "station_statistics",
    "add_stations",
]

STATIONS_LAYER_NAME = "Monitoring stations"

#: Station kinds and their colours (Okabe–Ito); unknown kinds get grey.
STATION_COLORS = {
    "background": "#009E73",
    "regional": "#0072B2",
    "urban": "#D55E00",
    "urban high-precision": "#D55E00",
    "urban_high_precision": "#D55E00",
    "micro": "#CC79A7",
    "sink": "#56B4E9",
    "demonstration": "#E69F00",
    "mobile": "#F0E442",
}


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
    ``posterior`` (modelled values in the observation's unit), optionally ``unit`` and
    ``used``.  Rows with a missing observation, and rows not ``used``, are ignored.

    Returns one row per (station_id, species): ``n``, ``unit``, and for ``m`` in prior/posterior
    ``bias_m`` (mean model − obs), ``rmse_m``, ``r_m`` (Pearson; NaN for n < 3 or constant data).
    """
    need = {"station_id", "species", "observed", "prior"}
    if not need <= set(series.columns):
        raise InputDataError(f"station series lacks column(s) {sorted(need - set(series.columns))}")
    s = series[np.isfinite(pd.to_numeric(series["observed"], errors="coerce"))]
    if "used" in s.columns:
        used = s["used"]
        if not pd.api.types.is_bool_dtype(used):  # text ("True"/"False") of a CSV
            used = used.astype(str).str.lower().isin(["true", "1", "yes"])
        s = s[used.to_numpy(bool)]
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


def _station_data(row: pd.Series, st: pd.DataFrame, s: pd.DataFrame) -> dict:
    """What a station's popup shows, as text and numbers (drawn by ``gc.stationPopup``), from
    the station's rows ``st`` of the statistics and ``s`` of the hourly series."""
    data: dict[str, Any] = {
        "name": row["name"],
        "station_id": row["station_id"],
        "kind": row["kind"],
        "empty": "no observations",
        "stats": None,
        "charts": [],
        "legend": [],
    }
    if len(st):
        has_post = "bias_posterior" in st.columns
        models = ("prior", "posterior") if has_post else ("prior",)
        short = {"prior": "prior", "posterior": "post."}
        head = ["species", "n"]
        for stat in ("bias", "RMSE", "r"):
            head += [f"{stat} {short[m]}" for m in models]
        rows = []
        for r in st.itertuples():
            cells = [f"{r.species} ({r.unit})" if r.unit else str(r.species), str(r.n)]
            for stat, digits in (("bias", 3), ("rmse", 3), ("r", 2)):
                cells += [fmt(getattr(r, f"{stat}_{m}"), digits) for m in models]
            rows.append(cells)
        data["stats"] = {"head": head, "rows": rows}
    if len(s):
        for sp, g in s.groupby("species", sort=True):
            t = pd.DatetimeIndex(g["time"]) + pd.Timedelta(hours=8)
            day = t.floor("D")
            cols = [c for c in ("observed", "prior", "posterior") if c in g.columns]
            daily = g[cols].groupby(day.values).mean()
            if len(daily) < 2:
                continue
            xl = [d.strftime("%m-%d") for d in pd.DatetimeIndex(daily.index)]
            unit = str(g["unit"].iloc[0]) if "unit" in g.columns else ""
            data["charts"].append(
                chart_spec(
                    xl,
                    [(c, daily[c].to_numpy(float), PALETTE[c]) for c in cols],
                    title=f"{sp} daily mean (Beijing days)",
                    units=unit,
                    width=300,
                    tick_every=max(1, len(xl) // 5),
                )
            )
        data["legend"] = [[c, PALETTE[c]] for c in ("observed", "prior", "posterior")]
    return data


def _rows_by_station(table: pd.DataFrame | None) -> Callable[[str], pd.DataFrame]:
    """A lookup of ``table``'s rows by ``station_id`` (an empty frame for a station without)."""
    if table is None or not len(table):
        return lambda _sid: pd.DataFrame()
    groups = dict(list(table.groupby("station_id", sort=False)))
    empty = table.iloc[:0]
    return lambda sid: groups.get(sid, empty)


def add_stations(m: folium.Map, stations: pd.DataFrame, station_series: pd.DataFrame | None) -> str:
    """One circle marker per station with its popup and tooltip, and the class legend;
    returns the layer name."""
    st = station_frame(stations)
    stats = station_statistics(station_series) if station_series is not None else pd.DataFrame()
    # each station's rows picked once (a mask per station over a month's series took seconds)
    stats_of = _rows_by_station(stats)
    series_of = _rows_by_station(station_series)
    group = folium.FeatureGroup(name=STATIONS_LAYER_NAME, show=True)
    for _, row in st.iterrows():
        colour = STATION_COLORS.get(row["kind"].lower(), "#666666")
        marker = folium.CircleMarker(
            location=[float(row["lat"]), float(row["lon"])],
            radius=4 if row["kind"].lower() == "micro" else 6,
            color="#222222",
            weight=1,
            fill=True,
            fill_color=colour,
            fill_opacity=0.95,
        )
        marker.add_child(
            StationContent(
                _station_data(row, stats_of(row["station_id"]), series_of(row["station_id"])),
                tooltip=f"{row['name']} ({row['kind']})",
            )
        )
        marker.add_to(group)
    in_group(group, "Stations").add_to(m)
    kinds = list(dict.fromkeys(st["kind"].tolist()))
    items = [
        (STATION_COLORS.get(k.lower(), "#666666"), f"{k or 'unknown'} ({(st['kind'] == k).sum()})")
        for k in kinds
    ]
    LayerLegend(
        group,
        [categorical_legend_section(STATIONS_LAYER_NAME, items, shape="dot")],
        "stations",
        position="bottomleft",
    ).add_to(m)
    return STATIONS_LAYER_NAME
