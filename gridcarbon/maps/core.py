"""``make_map``: one Folium map with rasters, control units, hotspots and stations.

See ``docs/maps.md`` for what each layer shows and the accepted inputs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import xarray as xr
from folium.map import CustomPane

from gridcarbon.config.maps import MapConfig
from gridcarbon.errors import InputDataError
from gridcarbon.grids.gridspec import GridSpec
from gridcarbon.maps.assets import LEAFLET_CSS, LEAFLET_JS, inline_assets
from gridcarbon.maps.charts import PALETTE, chart_spec, sig3
from gridcarbon.maps.elements import (
    FeatureTooltip,
    GeoJson,
    LayerControl,
    LayerLegend,
    StationContent,
    UnitSeriesPopup,
    UnitTimeSlider,
    map_css,
    map_script,
    page_head,
    synthetic_banner,
)
from gridcarbon.maps.inputs import (
    UNIT_ID_COLUMNS,
    UNIT_METRIC_CANDIDATES,
    hotspot_cells,
    period_mean,
    species_of,
    station_frame,
    station_statistics,
    uncertainty_reduction,
    unit_frame,
    unit_series_tables,
)
from gridcarbon.maps.raster import png_data_url, warp_to_mercator
from gridcarbon.maps.scales import (
    NODATA,
    ClassScale,
    categorical_legend_section,
    diverging_scale,
    fixed_scale,
    fmt,
    legend_section,
    sequential_scale,
)

__all__ = ["make_map", "write_map", "map_html", "LAYER_NAMES"]

log = logging.getLogger(__name__)

#: Names of the fixed layers in the layer control.
LAYER_NAMES = {
    "province": "Boundary: province",
    "city": "Boundary: cities",
    "county": "Boundary: counties",
    "units": "Control units",
    "hot3": "Hotspots: co-located CO2+NOx+VOC",
    "hot2": "Hotspots: pairwise",
    "stations": "Monitoring stations",
}

VARIANT_LABEL = {
    "prior": "prior",
    "posterior": "posterior",
    "difference": "posterior − prior",
    "uncertainty_reduction": "uncertainty reduction",
}

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

HOTSPOT_COLORS = {
    "CO2+NOx+VOC": "#b2182b",
    "CO2+NOx": "#ef8a62",
    "CO2+VOC": "#7b3294",
    "NOx+VOC": "#2166ac",
}
CONF_OPACITY = {"99%": 0.85, "95%": 0.6, "90%": 0.35, "unknown": 0.5}


def raster_layer_name(variant: str, species: str) -> str:
    """Layer-control name of a raster layer, e.g. ``"CO2 posterior − prior"``."""
    return f"{species} {VARIANT_LABEL[variant]}"


# -- helpers --------------------------------------------------------------------------------------
def _round_geoms(geoms: np.ndarray, decimals: int) -> np.ndarray:
    return shapely.transform(geoms, lambda c: np.round(c, decimals))


def _features(geoms: np.ndarray, props: list[dict], decimals: int) -> dict:
    geoms = _round_geoms(np.asarray(geoms, dtype=object), decimals)
    gj = shapely.to_geojson(geoms)
    feats = []
    for i, (g, p) in enumerate(zip(gj, props, strict=True)):
        if g is None:
            continue
        feats.append({"type": "Feature", "id": str(i), "geometry": json.loads(g), "properties": p})
    return {"type": "FeatureCollection", "features": feats}


def _simplify_lonlat(geoms: np.ndarray, grid: GridSpec, tol_m: float) -> np.ndarray:
    """Simplify lon/lat geometry with a tolerance in metres (done in the grid's CRS)."""
    if tol_m <= 0:
        return geoms
    from gridcarbon.grids.gridspec import to_projected

    proj = to_projected(geoms, grid.crs)
    simp = shapely.simplify(proj, tol_m, preserve_topology=True)
    back = shapely.transform(simp, lambda xy: np.column_stack(grid.unproject(*xy.T)))
    return back


def _period_label(ds: xr.Dataset) -> str:
    t = pd.DatetimeIndex(ds["time"].values)
    if t.size == 0:
        return ""
    a = (t.min() + pd.Timedelta(hours=8)).strftime("%Y-%m-%d %H:00")
    b = (t.max() + pd.Timedelta(hours=9)).strftime("%Y-%m-%d %H:00")
    return f"mean of {t.size} hours, {a} – {b} Beijing time"


def _grid_latlon_bounds(grid: GridSpec) -> list[list[float]]:
    x0, y0, x1, y1 = grid.bounds
    xs = np.concatenate(
        [np.linspace(x0, x1, 20), np.full(20, x1), np.linspace(x0, x1, 20), np.full(20, x0)]
    )
    ys = np.concatenate(
        [np.full(20, y0), np.linspace(y0, y1, 20), np.full(20, y1), np.linspace(y0, y1, 20)]
    )
    lon, lat = grid.unproject(xs, ys)
    return [[float(lat.min()), float(lon.min())], [float(lat.max()), float(lon.max())]]


# -- layers ---------------------------------------------------------------------------------------
def _add_boundaries(m: folium.Map, grid: GridSpec, cfg: MapConfig) -> None:
    from gridcarbon.scenario.geography import load_boundaries

    styles = {
        "county": {"color": "#777777", "weight": 0.6, "fill": False, "interactive": False},
        "city": {"color": "#333333", "weight": 1.2, "fill": False, "interactive": False},
        "province": {"color": "#000000", "weight": 2.2, "fill": False, "interactive": False},
    }
    for level in ("county", "city", "province"):
        gdf = load_boundaries(level)
        geoms = _simplify_lonlat(gdf.geometry.values, grid, cfg.boundary_simplify_m)
        props = [{"name": str(n)} for n in gdf["name"]]
        data = _features(shapely.boundary(geoms), props, cfg.coordinate_decimals)
        style = styles[level]
        GeoJson(
            data,
            name=LAYER_NAMES[level],
            style_function=lambda _f, s=style: s,
            control=True,
            show=True,
            smooth_factor=1.0,
            interactive=False,
        ).add_to(m)


def _raster_fields(prior: xr.Dataset, posterior: xr.Dataset | None, cfg: MapConfig) -> list[dict]:
    """The raster layers to draw: variant, species, values (ny, nx), scale."""
    species = species_of(prior, cfg.raster_species)
    region = None
    if "region_fraction" in prior:
        region = np.asarray(prior["region_fraction"].values) > 0
    out = []
    period = _period_label(prior)
    units = "kg h⁻¹ per cell (area + point sources)"
    for sp in species:
        prior_mean = period_mean(prior, sp)
        post_mean = (
            period_mean(posterior, sp) if posterior is not None and sp in posterior else None
        )
        # one scale for prior and posterior of a species, so the two compare directly
        both = (
            prior_mean
            if post_mean is None
            else np.concatenate([prior_mean.ravel(), post_mean.ravel()])
        )
        for variant in cfg.raster_variants:
            if variant == "prior":
                values = prior_mean
            elif variant == "posterior":
                values = post_mean
            elif variant == "difference":
                values = None if post_mean is None else post_mean - prior_mean
            else:
                values = None if posterior is None else uncertainty_reduction(posterior, sp, prior)
            if values is None:
                continue
            title = f"{sp} {VARIANT_LABEL[variant]}"
            if variant in ("prior", "posterior"):
                scale = sequential_scale(
                    both,
                    title,
                    units,
                    cfg.colormap_sequential,
                    cfg.n_classes,
                    cfg.log_scale,
                    cfg.log_min_decades,
                )
                mask = values > 0
            elif variant == "difference":
                scale = diverging_scale(
                    values, title, units, cfg.colormap_diverging, cfg.log_scale, cfg.log_min_decades
                )
                mask = (prior_mean > 0) | (values != 0)
            else:
                scale = fixed_scale(
                    np.round(np.linspace(0, 1, 11), 2).tolist(),
                    title,
                    "1 − σ_posterior / σ_prior (0 = not constrained)",
                    cfg.colormap_reduction,
                    open_low=True,
                    open_high=False,
                )
                mask = np.isfinite(values)
            if region is not None:
                mask = mask & region
            out.append(
                {
                    "variant": variant,
                    "species": sp,
                    "values": values,
                    "mask": mask,
                    "scale": scale,
                    "subtitle": period,
                }
            )
    return out


def _add_rasters(
    m: folium.Map, grid: GridSpec, fields: list[dict], cfg: MapConfig, initial: str | None
) -> list[str]:
    CustomPane("gc_rasters", z_index=350, pointer_events=False).add_to(m)
    names = []
    for f in fields:
        scale: ClassScale = f["scale"]
        classes = scale.classify(f["values"])
        classes[~f["mask"]] = NODATA
        img = warp_to_mercator(classes, grid, cfg.raster_pixels_per_cell)
        name = raster_layer_name(f["variant"], f["species"])
        layer = folium.raster_layers.ImageOverlay(
            image=png_data_url(img, scale),
            bounds=img.bounds_latlon,
            name=name,
            opacity=cfg.raster_opacity,
            interactive=False,
            show=(name == initial),
            pane="gc_rasters",
            className="gc-raster",
        )
        layer.add_to(m)
        key = f"raster:{f['variant']}:{f['species']}"
        LayerLegend(layer, [legend_section(scale, f["subtitle"])], key).add_to(m)
        names.append(name)
    return names


_ALIAS_PATTERNS = [
    (r"^(CO2|NOx|VOC)_kg$", r"\1 total (kg)"),
    (r"^(CO2|NOx|VOC)_area_kg$", r"\1 area sources (kg)"),
    (r"^(CO2|NOx|VOC)_point_kg$", r"\1 point sources (kg)"),
    (r"^(CO2|NOx|VOC)_t_per_km2$", r"\1 intensity (t km⁻²)"),
    (r"^(CO2|NOx|VOC)_share_pct$", r"\1 share of province (%)"),
    (r"^(CO2|NOx|VOC)_rank$", r"\1 rank"),
    (r"^coloc_all_hours$", "co-located hotspot hours"),
    (r"^coloc_all_cell_hours$", "co-located hotspot cell-hours"),
    (r"^coloc_all_any_hours$", "hours with any co-located hotspot"),
    (r"^coloc_all_cell_days$", "co-located hotspot cell-days"),
    (r"^coloc_all_area_km2$", "co-located hotspot area (km²)"),
    (r"^coloc_all_obs_exp$", "co-located: observed / expected"),
    (r"^coloc_all_share_(CO2|NOx|VOC)$", r"\1 share inside co-located hotspots"),
    (r"^coloc_(CO2|NOx|VOC)_(CO2|NOx|VOC)_cell_days$", r"\1+\2 hotspot cell-days"),
    (r"^hot_(CO2|NOx|VOC)_cell_days$", r"\1 hotspot cell-days"),
    (r"^emerging_(CO2|NOx|VOC)$", r"\1 emerging-hotspot category"),
    (r"^area_km2$", "area (km²)"),
]

#: Columns shown in a unit's tooltip when ``MapConfig.unit_tooltip_fields`` is None, in order
#: (regular expressions; the colouring metric comes first).
TOOLTIP_PATTERNS = [
    r"^area_km2$",
    r"^(CO2|NOx|VOC)_kg$",
    r"^(CO2|NOx|VOC)_total.*",
    r"^(CO2|NOx|VOC)_t_per_km2$",
    r"^(CO2|NOx|VOC)_intensity.*",
    r"^coloc_all_(hours|cell_days|obs_exp)$",
    r"^coloc_all_share_.*",
    r"^coloc_all_area_km2$",
    r"^colocated_.*",
    r"^emerging_(CO2|NOx|VOC)$",
    r"^(CO2|NOx|VOC)_posterior_std_kg$",
    r"^persistent_.*",
]


def _pretty(col: str) -> str:
    """Readable label of a unit column (e.g. ``CO2_t_per_km2`` → ``CO2 intensity (t km⁻²)``)."""
    import re

    for pat, rep in _ALIAS_PATTERNS:
        if re.match(pat, col):
            return re.sub(pat, rep, col)
    return col.replace("_", " ")


def _unit_fields(
    gdf: gpd.GeoDataFrame, wanted: list[str] | None, metric: str | None, limit: int = 16
) -> list[str]:
    """Tooltip columns: ``wanted`` if given, else :data:`TOOLTIP_PATTERNS` then other numbers."""
    import re

    if wanted is not None:
        missing = [c for c in wanted if c not in gdf.columns]
        if missing:
            raise InputDataError(f"unit tooltip field(s) {missing} are not unit columns")
        cols = list(wanted)
    else:
        skip = {"geometry", *UNIT_ID_COLUMNS}
        avail = [c for c in gdf.columns if c not in skip and not str(c).startswith("_")]
        cols = []
        for pat in TOOLTIP_PATTERNS:
            cols += [c for c in avail if re.match(pat, str(c)) and c not in cols]
        if not cols:  # unknown producer: its numeric columns
            cols = [
                c
                for c in avail
                if pd.api.types.is_numeric_dtype(gdf[c]) and not pd.api.types.is_bool_dtype(gdf[c])
            ]
    if metric is not None:
        cols = [metric] + [c for c in cols if c != metric]
    return cols[:limit]


#: Fill of units whose value is exactly zero (not a class of the scale).
ZERO_FILL = "#e4e4e4"


def _class_string(values: np.ndarray, scale: ClassScale) -> str:
    """One character per frame: base-36 class, ``_`` for zero, ``-`` for no data."""
    cls = scale.classify(values)
    return "".join(
        "-" if c == NODATA else "_" if v == 0 else np.base_repr(int(c), 36).lower()
        for c, v in zip(cls, values, strict=True)
    )


def _series_frames_for(tables: dict, cfg: MapConfig) -> tuple[list[str], dict]:
    names = []
    for dim in ("hour", "month"):
        for v in tables[dim]:
            if v not in names:
                names.append(v)
    if cfg.unit_series_variables is not None:
        missing = [v for v in cfg.unit_series_variables if v not in names]
        if missing:
            raise InputDataError(f"unit series have no variable(s) {missing}; have {names}")
        names = list(cfg.unit_series_variables)
    return names, tables


def _add_units(
    m: folium.Map, grid: GridSpec, units: gpd.GeoDataFrame, unit_series: Any, cfg: MapConfig
) -> None:
    gdf = unit_frame(units)
    metric = cfg.unit_metric
    if metric is None:
        metric = next((c for c in UNIT_METRIC_CANDIDATES if c in gdf.columns), None)
        if metric is None:
            numeric = [
                c
                for c in gdf.columns
                if c not in ("geometry", *UNIT_ID_COLUMNS)
                and pd.api.types.is_numeric_dtype(gdf[c])
                and not pd.api.types.is_bool_dtype(gdf[c])
            ]
            metric = numeric[0] if numeric else None
    elif metric not in gdf.columns:
        raise InputDataError(
            f"unit metric {metric!r} is not a column of the units "
            f"(columns: {[c for c in gdf.columns if c != 'geometry']})"
        )
    fields = _unit_fields(gdf, cfg.unit_tooltip_fields, metric)

    tables = unit_series_tables(unit_series)
    series_names, tables = _series_frames_for(tables, cfg)
    codes = gdf["unit_code"].astype(str).to_numpy()

    # static metric colouring
    if metric is not None:
        mvals = pd.to_numeric(gdf[metric], errors="coerce").to_numpy(float)
        mscale = sequential_scale(
            mvals,
            _pretty(metric),
            getattr(gdf[metric], "attrs", {}).get("units", ""),
            cfg.colormap_units,
            cfg.n_classes,
            cfg.log_scale,
            cfg.log_min_decades,
        )
        mcls = mscale.classify(mvals)
        fills = [
            "#cccccc" if c == NODATA else ZERO_FILL if v == 0 else mscale.colors[c]
            for c, v in zip(mcls, mvals, strict=True)
        ]
    else:
        mscale = None
        fills = ["#888888"] * len(gdf)

    # time frames (slider) from the first series variable that has them
    modes: dict[str, dict] = {}
    mode_scales: dict[str, ClassScale] = {}
    frame_strings: dict[str, list[str]] = {}
    for dim, prop, label in (("hour", "c_h", "Hour of day (Beijing)"), ("month", "c_m", "Month")):
        var = next((v for v in series_names if v in tables[dim]), None)
        if var is None:
            continue
        frame = tables[dim][var].reindex(codes)
        cols = list(frame.columns)
        if len(cols) < 2 and dim == "month":
            continue
        vals = frame.to_numpy(float)
        units_txt = frame.attrs.get("units", "")
        scale = sequential_scale(
            vals,
            f"{_pretty(var)} by {dim}",
            units_txt,
            cfg.colormap_units,
            cfg.n_classes,
            cfg.log_scale,
            cfg.log_min_decades,
        )
        frame_strings[prop] = [_class_string(row, scale) for row in vals]
        frames = (
            [f"{int(h):02d}:00" for h in cols]
            if dim == "hour"
            else [pd.Timestamp(2000, int(mo), 1).strftime("%b") for mo in cols]
        )
        modes[dim] = {
            "label": f"{label}: {_pretty(var)}",
            "prop": prop,
            "frames": frames,
            "colors": list(scale.colors),
            "zero": ZERO_FILL,
        }
        mode_scales[dim] = scale

    # popups: numbers of every series variable, drawn as charts in the browser
    charts: dict[str, dict] = {}
    series_rows: dict[str, np.ndarray] = {}
    for dim in ("hour", "month"):
        vars_ = [v for v in series_names if v in tables[dim] and len(tables[dim][v].columns) >= 2]
        if not vars_:
            continue
        cols = list(tables[dim][vars_[0]].columns)
        labels = (
            [f"{int(h):02d}" for h in cols]
            if dim == "hour"
            else [pd.Timestamp(2000, int(c), 1).strftime("%b") for c in cols]
        )
        charts[dim] = {
            "labels": labels,
            "every": 6 if dim == "hour" else 2,
            "vars": [
                {
                    "title": f"{_pretty(v)} by {'hour (Beijing)' if dim == 'hour' else 'month'}",
                    "units": tables[dim][v].attrs.get("units", ""),
                }
                for v in vars_
            ],
        }
        series_rows[dim] = np.stack(
            [tables[dim][v].reindex(index=codes, columns=cols).to_numpy(float) for v in vars_],
            axis=1,
        )  # (unit, var, frame)

    geoms = _simplify_lonlat(gdf.geometry.values, grid, cfg.unit_simplify_m)
    # the users' column names are tooltip labels only, never property keys (no collisions)
    field_keys = [f"f{j}" for j in range(len(fields))]
    props = []
    for i in range(len(gdf)):
        p: dict[str, Any] = {c: str(gdf[c].iloc[i]) for c in UNIT_ID_COLUMNS}
        for key, c in zip(field_keys, fields, strict=True):
            v = gdf[c].iloc[i]
            if isinstance(v, bool | np.bool_):
                p[key] = "yes" if v else "no"
            elif isinstance(v, int | float | np.integer | np.floating):
                p[key] = fmt(float(v)) if pd.notna(v) else "–"
            else:
                p[key] = str(v) if pd.notna(v) else "–"
        p["gc_fill"] = fills[i]
        info = [
            f"{lab}: {gdf[c].iloc[i]}"
            for c, lab in (("pathway", "co-control pathway"),)
            if c in gdf.columns and pd.notna(gdf[c].iloc[i]) and str(gdf[c].iloc[i])
        ]
        if info:
            p["gc_info"] = "; ".join(info)
        if series_rows:
            p["gc_s"] = {
                dim: [[sig3(x) for x in row] for row in arr[i]] for dim, arr in series_rows.items()
            }
        for prop, strings in frame_strings.items():
            p[prop] = strings[i]
        props.append(p)
    data = _features(geoms, props, cfg.coordinate_decimals)

    layer = GeoJson(
        data,
        name=LAYER_NAMES["units"],
        style_function=lambda f: {
            "fillColor": f["properties"]["gc_fill"],
            "fillOpacity": 0.75,
            "color": "#ffffff",
            "weight": 0.4,
        },
        show=True,
        smooth_factor=0.5,
    )
    layer.add_to(m)
    FeatureTooltip(
        layer,
        fields=[*UNIT_ID_COLUMNS, *field_keys],
        aliases=["code", "name", "category", "subtype", *[_pretty(c) for c in fields]],
        class_name="gc-tooltip",
    ).add_to(m)
    UnitSeriesPopup(layer, charts).add_to(m)

    if mscale is not None:
        extra = [(ZERO_FILL, "0")] if np.any(mvals == 0) else []
        metric_section = legend_section(mscale, "per control unit", extra)
    else:
        metric_section = {"title": "Control units", "subtitle": "no numeric metric", "rows": []}
    sections = [{**metric_section, "mode": "metric", "hidden": False}]
    for dim, scale in mode_scales.items():
        subtitle = "per control unit, " + ("Beijing hour" if dim == "hour" else "month")
        section = legend_section(scale, subtitle, [(ZERO_FILL, "0")])
        sections.append({**section, "mode": dim, "hidden": True})
    LayerLegend(layer, sections, "units", position="bottomright").add_to(m)
    if modes:
        UnitTimeSlider(
            layer,
            modes,
            "units",
            metric_label=f"Total: {_pretty(metric)}" if metric else "Total",
            title="Control units over time",
        ).add_to(m)


def _cell_polygons_lonlat(grid: GridSpec, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    x0 = grid.x_min + cols * grid.cell_size
    y1 = grid.y_max - rows * grid.cell_size
    xs = np.stack([x0, x0 + grid.cell_size, x0 + grid.cell_size, x0, x0], axis=1)
    ys = np.stack([y1, y1, y1 - grid.cell_size, y1 - grid.cell_size, y1], axis=1)
    lon, lat = grid.unproject(xs, ys)
    return shapely.polygons(np.stack([lon, lat], axis=-1))


def _add_hotspots(m: folium.Map, grid: GridSpec, hotspots: Any, cfg: MapConfig) -> None:
    if isinstance(hotspots, Mapping) and not isinstance(hotspots, xr.Dataset):  # {level: Dataset}
        if cfg.hotspot_level in hotspots:
            hotspots = hotspots[cfg.hotspot_level]
        else:
            level, hotspots = next(iter(hotspots.items()))
            log.warning("no %r hotspot level; drawing %r", cfg.hotspot_level, level)
    cells = hotspots if isinstance(hotspots, pd.DataFrame) else hotspot_cells(hotspots, grid)
    cells = cells[cells["n_steps"] >= cfg.hotspot_min_steps]
    for key, kinds in (("hot3", ["CO2+NOx+VOC"]), ("hot2", ["CO2+NOx", "CO2+VOC", "NOx+VOC"])):
        sub = cells[cells["kind"].isin(kinds)].reset_index(drop=True)
        geoms = _cell_polygons_lonlat(grid, sub["row"].to_numpy(), sub["col"].to_numpy())
        props = [
            {
                "kind": str(r.kind),
                "hot_steps": int(r.n_steps),
                "share": f"{100 * r.share:.1f}%",
                "confidence": str(r.confidence),
                "n_99_95_90": f"{int(r.n_99)} / {int(r.n_95)} / {int(r.n_90)}",
                "cell": f"row {int(r.row)}, col {int(r.col)}",
            }
            for r in sub.itertuples()
        ]
        data = _features(geoms, props, cfg.coordinate_decimals + 1)
        is3 = key == "hot3"

        def style(f, is3=is3):
            p = f["properties"]
            return {
                "fillColor": HOTSPOT_COLORS.get(p["kind"], "#999999"),
                "fillOpacity": CONF_OPACITY.get(p["confidence"], 0.5),
                "color": "#3b0000" if is3 else HOTSPOT_COLORS.get(p["kind"], "#999999"),
                "weight": 1.2 if is3 else 0.6,
                "dashArray": None if is3 else "3 2",
            }

        layer = GeoJson(data, name=LAYER_NAMES[key], style_function=style, show=is3)
        layer.add_to(m)
        FeatureTooltip(
            layer,
            fields=["kind", "confidence", "hot_steps", "share", "n_99_95_90", "cell"],
            aliases=[
                "hotspot",
                "confidence (most steps)",
                "hot time steps",
                "share of steps",
                "steps at 99 / 95 / 90 %",
                "grid cell",
            ],
            class_name="gc-tooltip",
        ).add_to(m)
        items = [(HOTSPOT_COLORS[k], k + (" (all three)" if is3 else "")) for k in kinds]
        section = categorical_legend_section(LAYER_NAMES[key], items)
        section["rows"] += [
            {
                "color": HOTSPOT_COLORS[kinds[0]],
                "label": f"{c} confidence",
                "opacity": CONF_OPACITY[c],
            }
            for c in ("99%", "95%", "90%")
        ]
        section["note"] = f"{len(sub)} cell(s); Gi* with BH false-discovery control"
        LayerLegend(layer, [section], key, position="bottomright").add_to(m)


def _station_data(row: pd.Series, stats: pd.DataFrame, series: pd.DataFrame | None) -> dict:
    """What a station's popup shows, as text and numbers (drawn by ``gc.stationPopup``)."""
    data: dict[str, Any] = {
        "name": row["name"],
        "station_id": row["station_id"],
        "kind": row["kind"],
        "stats": None,
        "charts": [],
        "legend": [],
    }
    st = stats[stats["station_id"] == row["station_id"]] if len(stats) else stats
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
    if series is not None and len(series):
        s = series[series["station_id"] == row["station_id"]]
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


def _add_stations(
    m: folium.Map, stations: pd.DataFrame, station_series: pd.DataFrame | None
) -> None:
    st = station_frame(stations)
    stats = station_statistics(station_series) if station_series is not None else pd.DataFrame()
    group = folium.FeatureGroup(name=LAYER_NAMES["stations"], show=True)
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
                _station_data(row, stats, station_series),
                tooltip=f"{row['name']} ({row['kind']})",
            )
        )
        marker.add_to(group)
    group.add_to(m)
    kinds = list(dict.fromkeys(st["kind"].tolist()))
    items = [
        (STATION_COLORS.get(k.lower(), "#666666"), f"{k or 'unknown'} ({(st['kind'] == k).sum()})")
        for k in kinds
    ]
    LayerLegend(
        group,
        [categorical_legend_section(LAYER_NAMES["stations"], items, shape="dot")],
        "stations",
        position="bottomleft",
    ).add_to(m)


# -- the map --------------------------------------------------------------------------------------
def make_map(
    prior: xr.Dataset,
    posterior: xr.Dataset | None = None,
    units: gpd.GeoDataFrame | None = None,
    unit_series: Any = None,
    hotspots: Any = None,
    stations: pd.DataFrame | None = None,
    station_series: pd.DataFrame | None = None,
    config: MapConfig | None = None,
) -> folium.Map:
    """Build the reviewers' map.

    Parameters
    ----------
    prior : xr.Dataset
        Prior emission Dataset (``docs/architecture.md``); gives the grid and the base rasters.
    posterior : xr.Dataset, optional
        Posterior emission Dataset on the same grid (posterior, difference and, with σ
        variables, uncertainty-reduction rasters).
    units : GeoDataFrame, optional
        Control units with ``unit_code``, ``unit_name``, ``category``, ``subtype`` and numeric
        per-unit figures (any CRS).
    unit_series : optional
        Per-unit diurnal/monthly series; see :func:`gridcarbon.maps.inputs.unit_series_tables`.
    hotspots : xr.Dataset or DataFrame, optional
        Hotspot bins (see :func:`gridcarbon.maps.inputs.hotspot_cells`) or its result.
    stations : DataFrame, optional
        ``station_id``, ``name``, ``lon``, ``lat``, ``kind``.
    station_series : DataFrame, optional
        Long table ``time`` (UTC), ``station_id``, ``species``, ``observed``, ``prior``,
        ``posterior`` [, ``unit``].
    config : MapConfig, optional
        Map settings; default ``MapConfig()``.

    Returns
    -------
    folium.Map
        Write it with :func:`write_map` (self-contained by default).
    """
    cfg = config or MapConfig()
    grid = GridSpec.from_dataset(prior)
    if posterior is not None:
        pg = GridSpec.from_dataset(posterior)
        if (
            pg.shape != grid.shape
            or not np.isclose(pg.x_min, grid.x_min)
            or not np.isclose(pg.y_max, grid.y_max)
        ):
            raise InputDataError(
                f"posterior grid {pg.shape} does not match the prior grid {grid.shape}"
            )
    bounds = _grid_latlon_bounds(grid)
    centre = [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]
    m = folium.Map(
        location=centre, zoom_start=7, tiles=None, control_scale=True, prefer_canvas=True
    )
    m.default_js = [("leaflet", LEAFLET_JS)]
    m.default_css = [("leaflet_css", LEAFLET_CSS)]
    m.gc_config = cfg
    root = m.get_root()
    from gridcarbon import __version__

    synthetic = str(prior.attrs.get("synthetic", "unknown"))
    prov = {
        "gridcarbon_version": __version__,
        "synthetic": synthetic,
        "synthetic_components": str(prior.attrs.get("synthetic_components", "")),
        "input_checksums": str(prior.attrs.get("input_checksums", "")),
        "map_config": cfg.model_dump(mode="json"),
    }
    # the title goes through the head's autoescaping template, never folium's raw <title>
    root.title = None
    root.header.add_child(page_head(cfg.title, __version__, prov), name="gc_head")
    root.header.add_child(map_css(), name="gc_css")
    root.header.add_child(map_script(), name="gc_script")
    if synthetic == "true":
        root.html.add_child(synthetic_banner(), name="gc_banner")

    for tile in cfg.tile_layers:
        folium.TileLayer(
            tile,
            name=f"Web basemap: {tile} (needs internet)",
            overlay=True,
            show=False,
            control=True,
        ).add_to(m)

    fields = _raster_fields(prior, posterior, cfg)
    initial = cfg.raster_initial
    if initial is None and (units is None or not len(units)) and fields:
        # no unit layer on top: open on the posterior (else prior) CO2 or the first species
        first = next((f for f in fields if f["variant"] == "posterior"), fields[0])
        initial = f"{first['variant']} {first['species']}"
    if initial is not None:
        variant, _, sp = initial.partition(" ")
        if variant not in VARIANT_LABEL:
            raise InputDataError(
                f"raster_initial {initial!r}: variant must be one of {list(VARIANT_LABEL)}"
            )
        initial = raster_layer_name(variant, sp)
    _add_rasters(m, grid, fields, cfg, initial)

    if units is not None and len(units):
        _add_units(m, grid, units, unit_series, cfg)
    _add_boundaries(m, grid, cfg)
    if hotspots is not None:
        _add_hotspots(m, grid, hotspots, cfg)
    if stations is not None and len(stations):
        _add_stations(m, stations, station_series)

    LayerControl(collapsed=cfg.layer_control_collapsed, position="topright").add_to(m)
    m.fit_bounds(bounds)
    return m


def map_html(m: folium.Map, self_contained: bool | None = None) -> str:
    """The map's HTML; self-contained (assets inlined) unless ``self_contained=False``.

    ``None`` follows the ``MapConfig`` the map was made with (default: self-contained).
    """
    if self_contained is None:
        cfg = getattr(m, "gc_config", None)
        self_contained = True if cfg is None else cfg.self_contained
    page = m.get_root().render()
    return inline_assets(page) if self_contained else page


def write_map(
    m: folium.Map, path: str | Path, overwrite: bool = False, self_contained: bool | None = None
) -> Path:
    """Write the map to ``path`` atomically (temporary file, then rename).

    Raises :class:`~gridcarbon.errors.OutputExistsError` if ``path`` exists and ``overwrite``
    is False.
    """
    from gridcarbon.io import atomic_path

    page = map_html(m, self_contained)
    path = Path(path)
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path
