"""Satellite column layers: the superobservations of one overpass (the inversion's
``column_observations.csv``), observed, posterior fit and residual, as coloured squares.

One overpass is drawn (``MapConfig.column_overpass``: the one with the most superobservations
by default, the first, an overpass id or the nearest UTC time).  Each square is the area a
superobservation averages (``box_*`` columns, grid metres; the grid of the map's prior).  The
observed and posterior-fit layers share one colour scale; the posterior fit is the modelled
column plus the overpass's fitted background plane, the residual is observed − posterior fit.
Popups list the values with their units and the overpass time in UTC and Beijing time; names
from files (the overpass id) reach the page as JSON and are drawn as text.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import folium
import numpy as np
import pandas as pd
import shapely

from gridcarbon.config.maps import MapConfig
from gridcarbon.errors import InputDataError
from gridcarbon.grids.gridspec import GridSpec
from gridcarbon.maps.elements import FeaturePopup, GeoJson, LayerLegend, in_group
from gridcarbon.maps.geometry import features
from gridcarbon.maps.scales import diverging_scale, fmt, legend_section, sequential_scale

__all__ = [
    "COLUMN_GROUP",
    "COLUMN_LAYER_NAMES",
    "overpasses",
    "choose_overpass",
    "add_column_layers",
]

log = logging.getLogger(__name__)

#: The layer-control group of the column layers.
COLUMN_GROUP = "Column observations"
#: The three layers, by key.
COLUMN_LAYER_NAMES = {
    "observed": "Columns: observed",
    "posterior_fit": "Columns: posterior fit",
    "residual": "Columns: residual (obs − posterior)",
}
#: The columns a table of superobservations needs.
_NEEDED = ("overpass", "time", "observed", "posterior_fit", "residual", "x", "y")
#: How far a UTC time given as ``column_overpass`` may be from the overpass it picks.
_NEAREST_WITHIN = pd.Timedelta(hours=3)
#: Units shown in the map instead of the file's (same quantity, readable magnitudes).
_DISPLAY_UNITS = {"mol m-2": ("umol / m ** 2", "µmol m⁻²")}
_POPUP = (
    ("overpass", "overpass"),
    ("product", "product"),
    ("time_utc", "time (UTC)"),
    ("time_bj", "time (Beijing)"),
    ("observed", "observed"),
    ("posterior_fit", "posterior fit (model + background)"),
    ("background", "fitted background plane"),
    ("prior_fit", "prior fit (model + background)"),
    ("residual", "residual (obs − posterior fit)"),
    ("sigma", "superobservation σ"),
    ("n_pixels", "pixels"),
)


@lru_cache(maxsize=8)
def _display(unit: str) -> tuple[float, str]:
    """Factor and label of the unit a column in ``unit`` is shown in (pint)."""
    if unit not in _DISPLAY_UNITS:
        return 1.0, unit
    import pint

    target, label = _DISPLAY_UNITS[unit]
    ureg = pint.UnitRegistry()
    return float(ureg.Quantity(1.0, unit.replace(" m-2", " / m ** 2")).to(target).magnitude), label


def overpasses(table: pd.DataFrame) -> pd.DataFrame:
    """The overpasses of the assimilated superobservations: ``overpass``, ``time`` (mean, UTC),
    ``n`` (superobservations), earliest first."""
    used = _used(table)
    return (
        used.groupby("overpass", sort=False)
        .agg(time=("time", "mean"), n=("observed", "size"))
        .reset_index()
        .sort_values(["time", "overpass"], kind="stable")
        .reset_index(drop=True)
    )


def _used(table: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in _NEEDED if c not in table.columns]
    if missing:
        raise InputDataError(
            f"the column observations lack column(s) {missing}; give the inversion's "
            "column_observations.csv"
        )
    t = table.copy()
    t["overpass"] = t["overpass"].astype(str)
    t["time"] = pd.to_datetime(t["time"])
    if "used" in t.columns:
        used = t["used"]
        if not pd.api.types.is_bool_dtype(used):  # text of a CSV
            used = used.astype(str).str.lower().isin(["true", "1", "yes"])
        t = t[used.to_numpy(bool)]
    return t[np.isfinite(pd.to_numeric(t["residual"], errors="coerce"))]


def choose_overpass(table: pd.DataFrame, choice: str) -> str:
    """The overpass ``choice`` names (``MapConfig.column_overpass``).

    ``"largest"``: the most superobservations (the earliest of equals); ``"first"``: the
    earliest; an overpass id of the table; otherwise a UTC time (ISO 8601): the nearest
    overpass within 3 hours.

    Raises
    ------
    InputDataError
        No assimilated overpass, or ``choice`` matches none (the message lists them).
    """
    ov = overpasses(table)
    if ov.empty:
        raise InputDataError("the column observations hold no assimilated overpass")
    if choice == "largest":
        return str(ov.loc[ov["n"].idxmax(), "overpass"])
    if choice == "first":
        return str(ov["overpass"].iloc[0])
    if choice in set(ov["overpass"]):
        return choice
    listing = ", ".join(
        f"{o} ({t:%Y-%m-%dT%H:%M} UTC)" for o, t in zip(ov["overpass"], ov["time"], strict=True)
    )
    try:
        when = pd.Timestamp(choice)
    except (ValueError, TypeError):
        when = None
    if when is None or when is pd.NaT:
        raise InputDataError(
            f"maps.column_overpass {choice!r} is neither 'largest', 'first', an overpass id nor "
            f"a UTC time; the overpasses are: {listing}"
        )
    if when.tzinfo is not None:
        when = when.tz_convert("UTC").tz_localize(None)
    gap = (ov["time"] - when).abs()
    k = int(gap.to_numpy().argmin())
    if gap.iloc[k] > _NEAREST_WITHIN:
        raise InputDataError(
            f"maps.column_overpass {choice!r}: no overpass within 3 hours of that UTC time; "
            f"the overpasses are: {listing}"
        )
    return str(ov["overpass"].iloc[k])


def _squares(grid: GridSpec, t: pd.DataFrame) -> np.ndarray:
    """Lon/lat squares of the superobservations (their ``box_*`` edges; a grid cell around
    the centre when a table has none)."""
    x, y = t["x"].to_numpy(float), t["y"].to_numpy(float)
    half = grid.cell_size / 2
    edges = {
        "box_x_min": x - half,
        "box_x_max": x + half,
        "box_y_min": y - half,
        "box_y_max": y + half,
    }
    e = {}
    for name, fallback in edges.items():
        v = pd.to_numeric(t[name], errors="coerce").to_numpy(float) if name in t else fallback
        e[name] = np.where(np.isfinite(v), v, fallback)
    xs = np.stack([e["box_x_min"], e["box_x_max"], e["box_x_max"], e["box_x_min"]], axis=1)
    ys = np.stack([e["box_y_min"], e["box_y_min"], e["box_y_max"], e["box_y_max"]], axis=1)
    lon, lat = grid.unproject(xs, ys)
    return shapely.polygons(np.stack([lon, lat], axis=-1))


def add_column_layers(
    m: folium.Map, grid: GridSpec, table: pd.DataFrame, cfg: MapConfig
) -> list[str]:
    """Draw the chosen overpass's observed, posterior-fit and residual layers (the observed
    one shown when the map opens) with popups and legends; returns the layer names (none when
    no overpass was assimilated)."""
    if overpasses(table).empty:
        log.info("map: no column overpass was assimilated; no column layers")
        return []
    label = choose_overpass(table, cfg.column_overpass)
    t = _used(table)
    t = t[t["overpass"] == label].reset_index(drop=True)
    unit = str(t["unit"].iloc[0]) if "unit" in t.columns else ""
    factor, shown = _display(unit)

    def values(name: str) -> np.ndarray:
        if name not in t.columns:
            return np.full(len(t), np.nan)
        return pd.to_numeric(t[name], errors="coerce").to_numpy(float) * factor

    when = pd.Timestamp(t["time"].mean())
    utc = f"{when:%Y-%m-%d %H:%M}"
    bj = f"{when + pd.Timedelta(hours=8):%Y-%m-%d %H:%M}"
    subtitle = f"{utc} UTC ({bj} Beijing time)"
    species = str(t["species"].iloc[0]) if "species" in t.columns else ""
    note = f"{len(t)} superobservations ({species})" if species else f"{len(t)} superobservations"
    observed, post_fit, residual = values("observed"), values("posterior_fit"), values("residual")
    shared = sequential_scale(
        np.concatenate([observed, post_fit]),
        COLUMN_LAYER_NAMES["observed"],
        shown,
        cfg.colormap_sequential,
        cfg.n_classes,
        log="never",
    )
    scales = {
        "observed": shared,
        "posterior_fit": shared,
        "residual": diverging_scale(
            residual, COLUMN_LAYER_NAMES["residual"], shown, cfg.colormap_diverging, log="never"
        ),
    }
    times = pd.to_datetime(t["time"])

    def text(v: float) -> str:
        return f"{fmt(v)} {shown}".strip() if np.isfinite(v) else "–"

    base = []
    numbers = {k: values(k) for k in ("observed", "posterior_fit", "background", "prior_fit")}
    numbers["residual"] = residual
    numbers["sigma"] = values("sigma")
    for i in range(len(t)):
        t_i = times.iloc[i]
        props = {
            "overpass": label,
            "product": str(t["product"].iloc[i]) if "product" in t.columns else "",
            "time_utc": f"{t_i:%Y-%m-%d %H:%M}",
            "time_bj": f"{t_i + pd.Timedelta(hours=8):%Y-%m-%d %H:%M}",
            "n_pixels": str(t["n_pixels"].iloc[i]) if "n_pixels" in t.columns else "",
        }
        props.update({k: text(v[i]) for k, v in numbers.items()})
        base.append(props)
    geoms = _squares(grid, t)
    names = []
    for key, layer_name in COLUMN_LAYER_NAMES.items():
        scale = scales[key]
        v = {"observed": observed, "posterior_fit": post_fit, "residual": residual}[key]
        colours = np.asarray(scale.colors)[np.minimum(scale.classify(v), scale.n - 1)]
        props = [{**p, "gc_fill": str(c)} for p, c in zip(base, colours, strict=True)]

        def style(f):
            return {
                "fillColor": f["properties"]["gc_fill"],
                "fillOpacity": 0.8,
                "color": "#555555",
                "weight": 0.4,
            }

        layer = GeoJson(
            features(geoms, props, cfg.coordinate_decimals + 1),
            name=layer_name,
            style_function=style,
            show=key == "observed",
        )
        in_group(layer, COLUMN_GROUP).add_to(m)
        fields = [f for f, _ in _POPUP]
        FeaturePopup(
            layer, fields=fields, aliases=[a for _, a in _POPUP], class_name="gc-popup"
        ).add_to(m)
        section = legend_section(scale, subtitle)
        section["title"] = layer_name
        section["note"] = note
        LayerLegend(layer, [section], f"columns:{key}", position="bottomright").add_to(m)
        names.append(layer_name)
    log.info("map: column layers of overpass %s (%d superobservations)", label, len(t))
    return names
