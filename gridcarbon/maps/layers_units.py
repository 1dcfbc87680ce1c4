"""The control-unit layer: units coloured by a per-unit figure, tooltips, popup charts of each
unit's diurnal and monthly series, and the time slider.

The unit columns are read by the names the zoning stage documents (``docs/zoning.md`` §4 and
§6): ``unit_code``, ``unit_name``, ``category``, ``subtype``, ``pathway``, ``area_km2``,
``<sp>_kg``, ``<sp>_t_per_km2``, ``coloc_<set>_*`` (``<set>`` from
:func:`gridcarbon.contracts.colocation_set_name`), ``emerging_<sp>``,
``<sp>_posterior_std_kg``; the series from ``ZoningResult.diurnal`` ``(unit, hour, species)``
and ``ZoningResult.tally_month[<sp>]`` ``(unit, month)``.  A column or series that is missing
is left out of the layer, and the log says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from gridcarbon.config.maps import MapConfig
from gridcarbon.contracts import UNIT_CATEGORY_COLOURS, ZoningResult, colocation_set_name
from gridcarbon.errors import InputDataError
from gridcarbon.grids.gridspec import GridSpec
from gridcarbon.io.glossary import Glossary
from gridcarbon.maps.charts import sig3
from gridcarbon.maps.elements import (
    CategoryFill,
    FeatureTooltip,
    GeoJson,
    LayerLegend,
    UnitSeriesPopup,
    UnitTimeSlider,
    in_group,
)
from gridcarbon.maps.geometry import features, simplify_lonlat
from gridcarbon.maps.language import map_glossary
from gridcarbon.maps.scales import (
    NODATA,
    ClassScale,
    categorical_legend_section,
    fmt,
    legend_section,
    sequential_scale,
)
from gridcarbon.species import Species

__all__ = [
    "UNITS_LAYER_NAME",
    "CATEGORY_LAYER_NAME",
    "UNIT_ID_COLUMNS",
    "TOOLTIP_LIMIT",
    "ZERO_FILL",
    "UnitColumns",
    "unit_columns",
    "unit_frame",
    "unit_series_tables",
    "add_units",
]

log = logging.getLogger(__name__)

UNITS_LAYER_NAME = "Control units"
#: Layer-control name of the units coloured by their 三线一单 category.
CATEGORY_LAYER_NAME = "Control units by category"

#: Identity columns of a control unit, in tooltip order (absent ones are shown empty).
UNIT_ID_COLUMNS = ("unit_code", "unit_name", "category", "subtype")

#: At most this many figures in a unit's tooltip.
TOOLTIP_LIMIT = 16

#: Fill of units whose value is exactly zero (not a class of the scale).
ZERO_FILL = "#e4e4e4"


# -- the unit columns the map knows ---------------------------------------------------------------
@dataclass(frozen=True)
class UnitColumns:
    """The documented unit columns of a run's species, with their labels.

    ``labels``: column → readable label (any other column is labelled by its name with
    ``_`` as spaces); ``metric``: the columns tried in turn for the colouring when
    ``MapConfig.unit_metric`` is None; ``tooltip``: the tooltip's figures, in order, when
    ``MapConfig.unit_tooltip_fields`` is None.
    """

    labels: dict[str, str] = field(default_factory=dict)
    metric: tuple[str, ...] = ()
    tooltip: tuple[str, ...] = ()

    def label(self, column: str) -> str:
        """Readable label of a unit column (``<sp>_t_per_km2`` → ``<sp> intensity (t/km²)``)."""
        return self.labels.get(column, str(column).replace("_", " "))


def unit_columns(species: tuple[Species, ...], glossary: Glossary | None = None) -> UnitColumns:
    """The unit columns the zoning stage writes for ``species``, labelled as the report and the
    Excel file label them (the glossary's column labels, in ``glossary``'s language; English
    when None)."""
    names = [s.name for s in species]
    coloc = f"coloc_{colocation_set_name(tuple(names))}"
    keys = ["area_km2"]
    for n in names:
        keys += [
            f"{n}_kg",
            f"{n}_area_kg",
            f"{n}_point_kg",
            f"{n}_t_per_km2",
            f"{n}_share_pct",
            f"{n}_rank",
            f"{coloc}_share_{n}",
            f"hot_{n}_cell_days",
            f"emerging_{n}",
            f"{n}_posterior_std_kg",
        ]
    keys += [
        f"{coloc}_{what}"
        for what in ("hours", "cell_hours", "any_hours", "cell_days", "area_km2", "obs_exp")
    ]
    if len(names) >= 3:
        keys += [f"coloc_{a}_{b}_cell_days" for i, a in enumerate(names) for b in names[i + 1 :]]
    words = glossary if glossary is not None else Glossary("en", species)
    labels = {c: words.label(c) for c in keys}
    first = names[0] if names else ""
    metric = (
        f"{coloc}_hours",
        f"{coloc}_cell_hours",
        f"{coloc}_cell_days",
        f"{first}_t_per_km2",
        f"{first}_kg",
    )
    tooltip = (
        "area_km2",
        *(f"{n}_kg" for n in names),
        *(f"{n}_t_per_km2" for n in names),
        f"{coloc}_cell_days",
        f"{coloc}_obs_exp",
        f"{coloc}_hours",
        *(f"{coloc}_share_{n}" for n in names),
        f"{coloc}_area_km2",
        *(f"emerging_{n}" for n in names),
        *(f"{n}_posterior_std_kg" for n in names),
    )
    return UnitColumns(labels=labels, metric=metric, tooltip=tooltip)


# -- inputs ---------------------------------------------------------------------------------------
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


def _frame(v: xr.DataArray, dim: str) -> pd.DataFrame:
    """``(unit, dim)`` values as a frame: one row per unit code, one column per hour/month."""
    if set(v.dims) != {"unit", dim}:
        raise InputDataError(f"unit series {v.name!r} has dimensions {v.dims}, not (unit, {dim})")
    labels = v[dim].values
    if dim == "month" and np.issubdtype(np.asarray(labels).dtype, np.datetime64):
        cols = [int(mo) for mo in pd.DatetimeIndex(labels).month]
    else:
        cols = [int(c) for c in labels]
    out = pd.DataFrame(
        v.transpose("unit", dim).values.astype(float),
        index=pd.Index(np.asarray(v["unit"].values).astype(str), name="unit_code"),
        columns=cols,
    )
    out.attrs["units"] = v.attrs.get("units", "")
    return out


def unit_series_tables(
    zoning: ZoningResult, species: tuple[Species, ...]
) -> dict[str, dict[str, pd.DataFrame]]:
    """Per-unit series of ``species``: ``{"hour": {name: frame}, "month": {name: frame}}``.

    ``hour`` from ``zoning.diurnal`` ``(unit, hour, species)`` (mean kg h-1 by Beijing hour),
    ``month`` from ``zoning.tally_month[<sp>]`` ``(unit, month)`` (kg).  Each frame has one row
    per unit code and one column per Beijing hour (0–23) or month (1–12); ``frame.attrs
    ["units"]`` carries the unit.  Species the zoning result lacks are left out (logged).
    """
    out: dict[str, dict[str, pd.DataFrame]] = {"hour": {}, "month": {}}
    diurnal = zoning.diurnal
    if diurnal is None:
        log.info("map: the zoning result has no diurnal profile; no hour-of-day series")
    else:
        have = [str(s) for s in diurnal["species"].values]
        for sp in species:
            if sp.name in have:
                v = diurnal.sel(species=sp.name).drop_vars("species").assign_attrs(diurnal.attrs)
                out["hour"][sp.name] = _frame(v, "hour")
            else:
                log.info("map: the diurnal profile has no %s", sp.name)
    month = zoning.tally_month
    if month is None:
        log.info("map: the zoning result has no monthly tally; no monthly series")
    else:
        for sp in species:
            if sp.name in month.data_vars:
                out["month"][sp.name] = _frame(month[sp.name], "month")
            else:
                log.info("map: the monthly tally has no %s", sp.name)
    return out


# -- the layer ------------------------------------------------------------------------------------
def _metric(gdf: gpd.GeoDataFrame, columns: UnitColumns, cfg: MapConfig) -> str | None:
    if cfg.unit_metric is not None:
        if cfg.unit_metric not in gdf.columns:
            raise InputDataError(
                f"unit metric {cfg.unit_metric!r} is not a column of the units "
                f"(columns: {[c for c in gdf.columns if c != 'geometry']})"
            )
        return cfg.unit_metric
    metric = next((c for c in columns.metric if c in gdf.columns), None)
    if metric is None:
        log.warning(
            "map: the units have none of the colouring columns %s; they are drawn grey "
            "(set maps.unit_metric to colour them by another column)",
            list(columns.metric),
        )
    return metric


def _tooltip_fields(
    gdf: gpd.GeoDataFrame, columns: UnitColumns, cfg: MapConfig, metric: str | None
) -> list[str]:
    """Tooltip figures: ``cfg.unit_tooltip_fields`` if given, else the documented ones present;
    the colouring metric first, at most :data:`TOOLTIP_LIMIT`."""
    if cfg.unit_tooltip_fields is not None:
        missing = [c for c in cfg.unit_tooltip_fields if c not in gdf.columns]
        if missing:
            raise InputDataError(f"unit tooltip field(s) {missing} are not unit columns")
        cols = list(cfg.unit_tooltip_fields)
    else:
        cols = [c for c in columns.tooltip if c in gdf.columns]
        absent = [c for c in columns.tooltip if c not in gdf.columns]
        if absent:
            log.info("map: unit columns not in the tooltip (absent): %s", ", ".join(absent))
    if metric is not None:
        cols = [metric] + [c for c in cols if c != metric]
    return cols[:TOOLTIP_LIMIT]


def _class_string(values: np.ndarray, scale: ClassScale) -> str:
    """One character per frame: base-36 class, ``_`` for zero, ``-`` for no data."""
    cls = scale.classify(values)
    return "".join(
        "-" if c == NODATA else "_" if v == 0 else np.base_repr(int(c), 36).lower()
        for c, v in zip(cls, values, strict=True)
    )


def _series_names(tables: dict[str, dict[str, pd.DataFrame]], cfg: MapConfig) -> list[str]:
    names = list(dict.fromkeys([*tables["hour"], *tables["month"]]))
    if cfg.unit_series_variables is not None:
        missing = [v for v in cfg.unit_series_variables if v not in names]
        if missing:
            raise InputDataError(f"unit series have no variable(s) {missing}; have {names}")
        names = list(cfg.unit_series_variables)
    return names


def _fills(
    gdf: gpd.GeoDataFrame, metric: str | None, columns: UnitColumns, cfg: MapConfig
) -> tuple[list[str], ClassScale | None, np.ndarray | None]:
    """Fill colour of each unit by its metric class, the metric's scale and values."""
    if metric is None:
        return ["#888888"] * len(gdf), None, None
    mvals = pd.to_numeric(gdf[metric], errors="coerce").to_numpy(float)
    mscale = sequential_scale(
        mvals,
        columns.label(metric),
        getattr(gdf[metric], "attrs", {}).get("units", ""),
        cfg.colormap_units,
        cfg.n_classes,
        cfg.log_scale,
        cfg.log_min_decades,
    )
    fills = [
        "#cccccc" if c == NODATA else ZERO_FILL if v == 0 else mscale.colors[c]
        for c, v in zip(mscale.classify(mvals), mvals, strict=True)
    ]
    return fills, mscale, mvals


def _unit_areas(gdf: gpd.GeoDataFrame, codes: np.ndarray) -> np.ndarray | None:
    """Each unit's ``area_km2`` (NaN where missing or not positive), or None without the
    column."""
    if "area_km2" not in gdf.columns:
        log.info("map: the units have no area_km2; the time slider shows totals, not per km²")
        return None
    area = pd.to_numeric(gdf["area_km2"], errors="coerce").to_numpy(float)
    area = pd.Series(np.where(area > 0, area, np.nan), index=gdf["unit_code"].astype(str))
    return area.reindex(codes).to_numpy(float)


def _slider_modes(
    tables: dict,
    names: list[str],
    codes: np.ndarray,
    columns: UnitColumns,
    cfg: MapConfig,
    areas: np.ndarray | None,
) -> tuple[dict[str, dict], dict[str, tuple[str, ClassScale]], dict[str, list[str]]]:
    """Time-slider modes, one per series (species) and dimension (``"hour:<sp>"``,
    ``"month:<sp>"``), their ``(dim, scale)`` and each unit's class string per mode property.

    With ``areas`` (km², one per unit in ``codes`` order) the frames are intensities (the
    series per km²), so that large units do not dominate the colours by their size alone.
    """
    modes: dict[str, dict] = {}
    scales: dict[str, tuple[str, ClassScale]] = {}
    strings: dict[str, list[str]] = {}
    for dim, label in (("hour", "Hour of day (Beijing)"), ("month", "Month")):
        for j, var in enumerate(names):
            if var not in tables[dim]:
                continue
            frame = tables[dim][var].reindex(codes)
            cols = list(frame.columns)
            if len(cols) < 2 and dim == "month":
                continue
            vals = frame.to_numpy(float)
            units = frame.attrs.get("units", "")
            what = columns.label(var)
            if areas is not None:
                vals = vals / areas[:, None]
                units = f"{units} per km²" if units else "per km²"
                what = f"{what} per km²"
            scale = sequential_scale(
                vals,
                f"{what} by {dim}",
                units,
                cfg.colormap_units,
                cfg.n_classes,
                cfg.log_scale,
                cfg.log_min_decades,
            )
            prop = f"c_{dim[0]}{j}"
            strings[prop] = [_class_string(row, scale) for row in vals]
            frames = (
                [f"{int(h):02d}:00" for h in cols]
                if dim == "hour"
                else [pd.Timestamp(2000, int(mo), 1).strftime("%b") for mo in cols]
            )
            key = f"{dim}:{var}"
            modes[key] = {
                "label": f"{label}: {what}",
                "prop": prop,
                "frames": frames,
                "colors": list(scale.colors),
                "zero": ZERO_FILL,
            }
            scales[key] = (dim, scale)
    return modes, scales, strings


def _popup_charts(
    tables: dict, names: list[str], codes: np.ndarray, columns: UnitColumns, words: Glossary
) -> tuple[dict[str, dict], dict[str, np.ndarray]]:
    """Chart layouts per dimension, in ``words``' language, and the numbers ``(unit, variable,
    frame)`` they draw."""
    charts: dict[str, dict] = {}
    rows: dict[str, np.ndarray] = {}
    for dim in ("hour", "month"):
        vars_ = [v for v in names if v in tables[dim] and len(tables[dim][v].columns) >= 2]
        if not vars_:
            continue
        cols = list(tables[dim][vars_[0]].columns)
        if dim == "hour":
            labels = [f"{int(h):02d}" for h in cols]
        elif words.language == "zh":
            labels = [f"{int(c)}月" for c in cols]
        else:
            labels = [pd.Timestamp(2000, int(c), 1).strftime("%b") for c in cols]
        by = "{} by hour (Beijing)" if dim == "hour" else "{} by month"
        charts[dim] = {
            "labels": labels,
            "every": 6 if dim == "hour" else 2,
            "vars": [
                {
                    "title": words.translate(by.format(columns.label(v))),
                    "units": tables[dim][v].attrs.get("units", ""),
                }
                for v in vars_
            ],
        }
        rows[dim] = np.stack(
            [tables[dim][v].reindex(index=codes, columns=cols).to_numpy(float) for v in vars_],
            axis=1,
        )
    return charts, rows


def _cell_text(v: Any, words: Glossary) -> str:
    if isinstance(v, bool | np.bool_):
        return words.translate("yes" if v else "no")
    if isinstance(v, int | float | np.integer | np.floating):
        return fmt(float(v)) if pd.notna(v) else "–"
    return str(v) if pd.notna(v) else "–"


def _add_category_layer(m: folium.Map, units: GeoJson, gdf: Any, species: tuple) -> None:
    """The units coloured by category (:data:`~gridcarbon.contracts.UNIT_CATEGORY_COLOURS`),
    hidden at first, with its legend; named in the map's language."""
    words = map_glossary(m, species)
    group = folium.FeatureGroup(name=CATEGORY_LAYER_NAME, show=False)
    in_group(group, UNITS_LAYER_NAME).add_to(m)
    CategoryFill(units, group, "category", dict(UNIT_CATEGORY_COLOURS)).add_to(m)
    present = set(gdf["category"].astype(str))
    items = [
        (colour, words.category(code))
        for code, colour in UNIT_CATEGORY_COLOURS.items()
        if code in present
    ]
    section = categorical_legend_section(CATEGORY_LAYER_NAME, items)
    section["note"] = CATEGORY_NOTE
    LayerLegend(group, [section], "unit_categories", position="bottomright").add_to(m)


#: Where the category colours come from, under their legend.
CATEGORY_NOTE = (
    "三线一单 categories: priority protection green, key control red, general control yellow"
)


def add_units(
    m: folium.Map,
    grid: GridSpec,
    zoning: ZoningResult,
    species: tuple[Species, ...],
    cfg: MapConfig,
) -> str:
    """Draw ``zoning.units`` with tooltip, popup charts, legend and time slider; returns the
    layer name."""
    gdf = unit_frame(zoning.units)
    words = map_glossary(m, species)
    columns = unit_columns(species, words)
    metric = _metric(gdf, columns, cfg)
    fields = _tooltip_fields(gdf, columns, cfg, metric)
    tables = unit_series_tables(zoning, species)
    names = _series_names(tables, cfg)
    codes = gdf["unit_code"].astype(str).to_numpy()
    fills, mscale, mvals = _fills(gdf, metric, columns, cfg)
    modes, mode_scales, frame_strings = _slider_modes(
        tables, names, codes, columns, cfg, _unit_areas(gdf, codes)
    )
    charts, series_rows = _popup_charts(tables, names, codes, columns, words)

    geoms = simplify_lonlat(gdf.geometry.values, grid, cfg.unit_simplify_m)
    # the users' column names are tooltip labels only, never property keys (no collisions)
    field_keys = [f"f{j}" for j in range(len(fields))]
    # the pathway as the language writes it (the zoning stage writes both)
    pathway_column = "pathway_zh" if words.language == "zh" else "pathway"
    if pathway_column not in gdf.columns:
        pathway_column = "pathway"
    has_pathway = pathway_column in gdf.columns
    emerging = {f"emerging_{s.name}" for s in species}
    props = []
    for i in range(len(gdf)):
        p: dict[str, Any] = {c: str(gdf[c].iloc[i]) for c in UNIT_ID_COLUMNS}
        for key, c in zip(field_keys, fields, strict=True):
            value = gdf[c].iloc[i]
            if c in emerging and isinstance(value, str):
                p[key] = words.emerging(value)
            else:
                p[key] = _cell_text(value, words)
        p["gc_fill"] = fills[i]
        if has_pathway:
            pathway = gdf[pathway_column].iloc[i]
            if pd.notna(pathway) and str(pathway):
                p["gc_info"] = words.translate(f"co-control pathway: {pathway}")
        if series_rows:
            p["gc_s"] = {
                dim: [[sig3(x) for x in row] for row in arr[i]] for dim, arr in series_rows.items()
            }
        for prop, strings in frame_strings.items():
            p[prop] = strings[i]
        props.append(p)

    layer = GeoJson(
        features(geoms, props, cfg.coordinate_decimals),
        name=UNITS_LAYER_NAME,
        style_function=lambda f: {
            "fillColor": f["properties"]["gc_fill"],
            "fillOpacity": 0.75,
            "color": "#ffffff",
            "weight": 0.4,
        },
        show=True,
        smooth_factor=0.5,
    )
    in_group(layer, UNITS_LAYER_NAME).add_to(m)
    _add_category_layer(m, layer, gdf, species)
    FeatureTooltip(
        layer,
        fields=[*UNIT_ID_COLUMNS, *field_keys],
        aliases=["code", "name", "category", "subtype", *[columns.label(c) for c in fields]],
        class_name="gc-tooltip",
    ).add_to(m)
    UnitSeriesPopup(layer, charts).add_to(m)

    if mscale is not None:
        extra = [(ZERO_FILL, "0")] if np.any(mvals == 0) else []
        metric_section = legend_section(mscale, "per control unit", extra)
    else:
        metric_section = {"title": "Control units", "subtitle": "no numeric metric", "rows": []}
    sections = [{**metric_section, "mode": "metric", "hidden": False}]
    for key, (dim, scale) in mode_scales.items():
        subtitle = "per control unit, " + ("Beijing hour" if dim == "hour" else "month")
        section = legend_section(scale, subtitle, [(ZERO_FILL, "0")])
        sections.append({**section, "mode": key, "hidden": True})
    LayerLegend(layer, sections, "units", position="bottomright").add_to(m)
    if modes:
        UnitTimeSlider(
            layer,
            modes,
            "units",
            metric_label=f"Total: {columns.label(metric)}" if metric else "Total",
            title="Control units over time",
        ).add_to(m)
    return UNITS_LAYER_NAME
