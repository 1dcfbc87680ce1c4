"""Report and map sections: the tables and figures the zone report and the map need.

The co-control analysis of a run (:func:`cocontrol_analysis`) and an HTML fragment of any set of
synergy tables (:func:`html_fragment`, a fixed jinja2 template with autoescape on: every name
from users' files is escaped). :func:`rating_features` gives the rating as GeoJSON features
for a map layer.
"""

from __future__ import annotations

import base64
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from gridcarbon.config.synergy import CocontrolSettings
from gridcarbon.errors import InputDataError
from gridcarbon.synergy.cocontrol import (
    change_table,
    departure_correlation,
    distribution_table,
    trend_table,
)
from gridcarbon.synergy.index import UNOFFICIAL_LABEL

__all__ = [
    "LEVELS",
    "aggregate",
    "cocontrol_analysis",
    "html_fragment",
    "rating_features",
]

#: Entity levels of the co-control analysis → the unit-table column that groups units.
LEVELS = {"unit": "unit_code", "county": "county_code", "city": "city_code"}
RATING_COLOURS = {"green": "#2a9d3f", "yellow": "#e9c46a", "red": "#d1495b", "not rated": "#999999"}


def aggregate(
    units: pd.DataFrame, arrays: dict[str, np.ndarray], level: str
) -> tuple[pd.Index, dict[str, np.ndarray]]:
    """Sum ``(unit, time)`` arrays to counties or cities (``level``); units stay as they are."""
    if level not in LEVELS:
        raise InputDataError(f"level {level!r} is not one of {list(LEVELS)}")
    keys = units[LEVELS[level]].astype(str).to_numpy()
    index, inverse = np.unique(keys, return_inverse=True)
    out = {}
    for sp, a in arrays.items():
        summed = np.zeros((index.size, a.shape[1]))
        np.add.at(summed, inverse, a)
        out[sp] = summed
    return pd.Index(index, name=LEVELS[level]), out


def _monthly(days: pd.DatetimeIndex, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    months = days.to_period("M")
    uniq, inverse = np.unique(months.astype(str), return_inverse=True)
    out = {}
    for sp, a in arrays.items():
        m = np.zeros((a.shape[0], uniq.size))
        np.add.at(m, (slice(None), inverse), a)
        out[sp] = m
    return out


def cocontrol_analysis(
    units: pd.DataFrame,
    days: pd.DatetimeIndex,
    prior: dict[str, np.ndarray],
    posterior: dict[str, np.ndarray],
    level: str = "unit",
    settings: CocontrolSettings | None = None,
    base_posterior: dict[str, np.ndarray] | None = None,
) -> dict[str, pd.DataFrame]:
    """The co-control section of a run at one level (unit, county or city).

    Parameters
    ----------
    units : DataFrame
        The run's units (``unit_code``, ``county_code``, ``city_code``), in the arrays' order.
    days : DatetimeIndex
        Beijing days of the arrays' columns.
    prior, posterior : dict
        Species → ``(unit, day)`` totals, kg.
    level : {"unit", "county", "city"}
    settings : CocontrolSettings
    base_posterior : dict, optional
        Species → ``(unit, day)`` totals of a base period or scenario (another run on the same
        units): adds the ``change`` table (reduction rates, elasticities, quadrants).

    Returns
    -------
    dict of DataFrames
        ``distribution``, ``distribution_summary``, ``trend``, ``correlation`` and, with a base,
        ``change``; every table carries the ``label`` 非官方测算.
    """
    settings = settings or CocontrolSettings()
    index, post = aggregate(units, posterior, level)
    _, pri = aggregate(units, prior, level)
    totals = pd.DataFrame({sp: a.sum(axis=1) / 1e3 for sp, a in post.items()}, index=index)
    dist, summary = distribution_table(totals)
    dist = totals.add_suffix("_t").join(dist)
    resolution = settings.trend_resolution
    if resolution == "auto":
        resolution = "daily" if len(days) <= 92 else "monthly"
    series = post if resolution == "daily" else _monthly(days, post)
    trend = pd.concat(
        [trend_table(series[sp], index, settings.trend_alpha, sp) for sp in post], axis=1
    )
    trend.attrs["resolution"] = resolution
    corr = departure_correlation(post, pri, index, settings.rho_min, settings.q_max)
    out = {
        "distribution": dist,
        "distribution_summary": summary,
        "trend": trend,
        "correlation": corr,
    }
    if base_posterior is not None:
        _, base = aggregate(units, base_posterior, level)
        base_totals = pd.DataFrame({sp: a.sum(axis=1) for sp, a in base.items()}, index=index)
        new_totals = pd.DataFrame({sp: a.sum(axis=1) for sp, a in post.items()}, index=index)
        out["change"] = change_table(base_totals, new_totals, tol=settings.co2_unchanged)
    for table in out.values():
        table["label"] = UNOFFICIAL_LABEL
    return out


_TEMPLATE = """\
<section class="synergy">
<h2>{{ title }}</h2>
<p class="label"><strong>{{ label }}</strong>{% if synthetic %} — computed on synthetic grids
(模拟数据){% endif %}</p>
{% for note in notes %}<p class="note">{{ note }}</p>
{% endfor %}
{% for name, figure in figures %}<figure><figcaption>{{ name }}</figcaption><img alt="{{ name }}" src="{{ figure }}"></figure>
{% endfor %}
{% for name, table in tables %}<h3>{{ name }}</h3>
<table>
<thead><tr>{% for c in table.columns %}<th>{{ c }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in table.rows %}<tr>{% for v in row %}<td>{{ v }}</td>{% endfor %}</tr>
{% endfor %}</tbody>
</table>
{% if table.truncated %}<p class="note">first {{ table.rows|length }} of {{ table.n }} rows</p>
{% endif %}{% endfor %}
</section>
"""
_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
_COMPILED = _ENV.from_string(_TEMPLATE)


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return ""
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.4g}"
    return str(v)


def _svg_data_url(svg: str) -> str:
    # An SVG shown through <img> is an image: nothing in it runs, whatever text it holds.
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def html_fragment(
    title: str,
    tables: dict[str, pd.DataFrame],
    figures: dict[str, str] | None = None,
    notes: list[str] | None = None,
    synthetic: bool = False,
    max_rows: int = 50,
) -> str:
    """An HTML ``<section>`` with the given tables and SVG figures (autoescaped).

    Table cells, headers, titles and notes are escaped; figures (SVG text, e.g. from
    the peak plot) are embedded as images (data URLs), never as markup (:func:`gridcarbon.synergy.peak.peak_svg`, which escapes its own labels).
    """
    rendered = []
    for name, df in tables.items():
        shown = df.reset_index() if df.index.name else df
        rows = [[_cell(v) for v in r] for r in shown.head(max_rows).itertuples(index=False)]
        rendered.append(
            (
                name,
                {
                    "columns": [str(c) for c in shown.columns],
                    "rows": rows,
                    "n": len(shown),
                    "truncated": len(shown) > max_rows,
                },
            )
        )
    return _COMPILED.render(
        title=title,
        label=UNOFFICIAL_LABEL,
        synthetic=synthetic,
        notes=notes or [],
        figures=[(k, _svg_data_url(v)) for k, v in (figures or {}).items()],
        tables=rendered,
    )


def rating_features(rating: pd.DataFrame, locations: pd.DataFrame, anonymise: bool = False) -> dict:
    """The rating as a GeoJSON FeatureCollection of points for a map layer.

    ``locations`` has ``facility_id``, ``lon``, ``lat`` (WGS84). Properties: ``name`` (plain
    text: the map must escape it, as for every name), ``industry``, ``rating``, ``colour``,
    ``score`` and the dimension colours. ``anonymise`` replaces ids and names by the labels
    of :func:`gridcarbon.synergy.rating.anonymise` (``E0001`` … in the rating's row order).
    """
    loc = locations.set_index("facility_id")[["lon", "lat"]]
    features = []
    for k, (fid, r) in enumerate(rating.iterrows()):
        if fid not in loc.index:
            continue
        lon, lat = (float(v) for v in loc.loc[fid])
        hidden = f"E{k + 1:04d}"
        props = {
            "facility_id": hidden if anonymise else str(fid),
            "name": hidden if anonymise else str(r.get("name", "")),
            "industry": str(r.get("industry", "")),
            "rating": str(r["rating"]),
            "colour": RATING_COLOURS.get(str(r["rating"]), "#999999"),
            "score": None if pd.isna(r["score"]) else float(r["score"]),
            "label": UNOFFICIAL_LABEL,
        }
        for dim in ("reduction", "decarbonisation", "synergy", "efficiency"):
            props[f"colour_{dim}"] = str(r.get(f"colour_{dim}", ""))
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": props,
            }
        )
    return {"type": "FeatureCollection", "features": features}
