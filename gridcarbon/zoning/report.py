"""The zone report as documents: GeoPackage, CSV, Excel, NetCDF and a self-contained HTML page.

:func:`zoning_documents` turns a :class:`~gridcarbon.contracts.ZoningResult` into one
:class:`~gridcarbon.contracts.Document` per file of the run folder (names from
:data:`gridcarbon.contracts.RUN_FILES`); :func:`gridcarbon.io.outputs.write_documents` writes
them.  The HTML page is rendered here, as a string, with every value escaped.  Pure: no file is
read or written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jinja2
import numpy as np
import pandas as pd
import xarray as xr
from markupsafe import Markup

from gridcarbon.config.zoning import ZoningConfig
from gridcarbon.contracts import (
    RUN_FILES,
    UNIT_CATEGORIES,
    UNIT_CATEGORY_COLOURS,
    Document,
    ReportSection,
    ZoningResult,
    run_file_name,
)
from gridcarbon.errors import InputDataError
from gridcarbon.io.glossary import Glossary, format_number
from gridcarbon.io.layer_styles import categorized_style
from gridcarbon.io.tables import is_code_column
from gridcarbon.zoning.hotspots import DEFAULT_STATISTIC, statistic_label, whole_set_name
from gridcarbon.zoning.qa import UnitsQA
from gridcarbon.zoning.tally import utc_bin_axis

if TYPE_CHECKING:  # pragma: no cover
    from gridcarbon.species import Species

__all__ = [
    "add_sections",
    "html_context",
    "hourly_tally_attrs",
    "hourly_tally_dataset",
    "long_series",
    "output_names",
    "provenance_record",
    "render_html",
    "zoning_documents",
]

#: How file titles name a hotspot level's bins.
_BIN_TITLE = {"hour": "hour", "day": "Beijing day", "month": "Beijing month"}

#: Colour of a series without one.
_DEFAULT_COLOUR = "#377eb8"


def _svg_lines(
    series: Mapping[str, np.ndarray],
    width: int = 220,
    height: int = 70,
    title: str = "",
    colours: Mapping[str, str] | None = None,
) -> Markup:
    """Small inline SVG line chart; each series normalised to its own maximum (text escaped).

    ``series`` maps a label to its values; ``colours`` a label to its ``#rrggbb`` colour.
    """
    parts = [
        Markup(
            '<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{t}">'
            '<rect x="0" y="0" width="{w}" height="{h}" fill="#fafafa" stroke="#ddd"/>'
        ).format(w=width, h=height, t=title)
    ]
    for name, v in series.items():
        v = np.asarray(v, float)
        if v.size < 2 or not np.isfinite(v).any():
            continue
        top = np.nanmax(np.abs(v)) or 1.0
        xs = np.linspace(4, width - 4, v.size)
        ys = height - 4 - (np.nan_to_num(v) / top) * (height - 14)
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
        parts.append(
            Markup(
                '<polyline fill="none" stroke="{c}" stroke-width="1.5" points="{p}">'
                "<title>{n}</title></polyline>"
            ).format(c=(colours or {}).get(name, _DEFAULT_COLOUR), p=pts, n=name)
        )
    parts.append(
        Markup('<text x="4" y="10" font-size="9" fill="#555">{t}</text></svg>').format(t=title)
    )
    return Markup("").join(parts)


def _svg_bars(
    values: Mapping[str, float],
    width: int = 160,
    height: int = 70,
    title: str = "",
    colours: Mapping[str, str] | None = None,
) -> Markup:
    """Small inline SVG bar chart of percentages (text escaped); ``colours`` as for
    :func:`_svg_lines`."""
    parts = [
        Markup('<svg width="{w}" height="{h}" role="img" aria-label="{t}">').format(
            w=width, h=height, t=title
        )
    ]
    n = max(len(values), 1)
    bh = (height - 14) / n
    top = max([v for v in values.values() if np.isfinite(v)] + [1e-12])
    # room for the longest name at 9 px: about 5 px a Latin character, 9 px a CJK one
    x0 = max([34.0] + [4 + sum(5.0 if c.isascii() else 9.0 for c in k) for k in values])
    for i, (name, v) in enumerate(values.items()):
        w = 0 if not np.isfinite(v) else (width - x0 - 36) * v / top
        y = 12 + i * bh
        parts.append(
            Markup(
                '<rect x="{x0:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{c}"/>'
                '<text x="0" y="{ty:.1f}" font-size="9">{n}</text>'
                '<text x="{vx:.1f}" y="{ty:.1f}" font-size="9">{v}%</text>'
            ).format(
                x0=x0,
                y=y,
                w=w,
                h=bh * 0.8,
                c=(colours or {}).get(name, _DEFAULT_COLOUR),
                ty=y + bh * 0.7,
                n=name,
                vx=x0 + 2 + w,
                v=format_number(v),
            )
        )
    parts.append(
        Markup('<text x="0" y="9" font-size="9" fill="#555">{t}</text></svg>').format(t=title)
    )
    return Markup("").join(parts)


def _table(df: pd.DataFrame, glossary: Glossary, max_rows: int = 50) -> Markup:
    """An HTML table of the first ``max_rows`` rows in its own scrolling box: headers are the
    glossary's labels with units, numbers in the report's one format, every text escaped."""
    df = df.head(max_rows)
    th = Markup("<th>{}</th>")
    td = Markup("<td>{}</td>")
    head = Markup("").join(th.format(glossary.label(str(c))) for c in df.columns)
    # codes (admin codes, unit codes) are names, not quantities: shown as they are
    shown = [str if is_code_column(str(c)) else format_number for c in df.columns]
    rows = Markup("").join(
        Markup("<tr>{}</tr>").format(
            Markup("").join(td.format(f(v)) for f, v in zip(shown, r, strict=True))
        )
        for r in df.itertuples(index=False)
    )
    return Markup(
        '<div class="scroll"><table><thead><tr>{}</tr></thead><tbody>{}</tbody></table></div>'
    ).format(head, rows)


_TEMPLATE = """<!DOCTYPE html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","Microsoft YaHei",
"PingFang SC",sans-serif;margin:0 auto;padding:1.5em;color:#222;max-width:1400px;
overflow-wrap:anywhere}
h1{font-size:1.5em} h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:1.6em}
.scroll{max-width:100%;overflow-x:auto}
table{border-collapse:collapse;font-size:12px;margin:.5em 0}
th,td{border:1px solid #ddd;padding:2px 6px;text-align:right;vertical-align:top;
overflow-wrap:break-word}
th{background:#f0f0f0;font-weight:600;overflow-wrap:normal;min-width:5em}
td:first-child,th:first-child{text-align:left}
.warn{background:#fff3cd;border:1px solid #e0c36a;padding:.5em}
.synthetic{background:#fde2e2;border:1px solid #d88;padding:.5em}
.small{font-size:11px;color:#555}
pre.small{white-space:pre-wrap;overflow-wrap:anywhere}
</style></head><body>
<h1>{{ title }}</h1>
{% if figures %}<p class="figures"><b>{{ t.figures_tallied }}</b> {{ figures }}</p>{% endif %}
{% if synthetic %}<p class="synthetic"><b>{{ t.synthetic_data }}</b> {{ synthetic }}</p>{% endif %}
<h2>{{ t.section_summary }}</h2>
<ul>{% for line in summary %}<li>{{ line }}</li>{% endfor %}</ul>
<h2>{{ t.section_colocation }}</h2>
<p class="small">{{ t.colocation_note }}</p>
{{ coloc_table }}
<h2>{{ t.section_by_category }}</h2>{{ by_category }}
<h2>{{ t.section_by_subtype }}</h2>{{ by_subtype }}
<h2>{{ t.section_by_city }}</h2>{{ by_city }}
<h2>{{ t.section_by_county }}</h2>{{ by_county }}
<h2>{{ t.section_top_units }}</h2>
<p class="small">{{ t.charts_note }}
{{ legend }}</p>
<div class="scroll"><table><thead><tr><th>{{ t.col_unit }}</th><th>{{ t.col_type }}</th>
<th>{{ t.col_cell_days }}</th><th>{{ t.col_obs_exp }}</th><th>{{ t.col_shares }}</th>
<th>{{ t.col_emerging }}</th><th>{{ t.col_pathway }}</th><th>{{ t.col_diurnal }}</th>
<th>{{ t.col_daily }}</th><th>{{ t.col_share_chart }}</th></tr></thead><tbody>
{% for u in top_units %}<tr><td><span class="unit-code">{{ u.code }}</span><br>
<span class="unit-name">{{ u.name }}</span></td><td class="unit-type">{{ u.type }}</td>
<td>{{ u.cell_days }}</td><td>{{ u.obs_exp }}</td><td>{{ u.shares }}</td><td>{{ u.emerging }}</td>
<td class="small unit-pathway">{{ u.pathway }}</td><td>{{ u.diurnal }}</td><td>{{ u.daily }}</td>
<td>{{ u.bars }}</td></tr>{% endfor %}
</tbody></table></div>
<h2>{{ t.section_qa }}</h2>
{% if qa_warning %}<p class="warn">{{ qa_warning }}</p>{% endif %}
<ul>{% for line in qa %}<li>{{ line }}</li>{% endfor %}</ul>
<h2>{{ t.section_method }}</h2>
<p class="small">{{ method }}</p>
<h2>{{ t.section_provenance }}</h2>
<pre class="small">{{ provenance }}</pre>
</body></html>
"""


_REPORT_TEMPLATE = jinja2.Environment(autoescape=True).from_string(_TEMPLATE)


def render_html(context: dict[str, Any]) -> str:
    """Render the zone report (a single self-contained file: inline CSS and SVG, no scripts).

    Every value of ``context`` is HTML-escaped (autoescape) unless it is a
    :class:`markupsafe.Markup` built here with its own text escaped (the tables and charts).
    """
    return _REPORT_TEMPLATE.render(**context)


def provenance_text(attrs: Mapping[str, Any]) -> str:
    """JSON text of provenance attributes."""
    return json.dumps(dict(attrs), ensure_ascii=False, indent=1, default=str)


def provenance_record(
    grids_attrs: Mapping[str, Any],
    qa: UnitsQA,
    *,
    config_text: str,
    version: str,
    checksums: Mapping[str, str] = {},  # noqa: B006 - read only
    synthetic_units: str = "",
    figures: str = "",
) -> dict[str, str]:
    """The provenance every zoning output carries (NetCDF and GeoPackage attributes, the Excel
    sheet ``provenance``, the report).

    Parameters
    ----------
    grids_attrs : mapping
        Global attributes of the emission grids (their ``input_checksums``, ``synthetic`` and
        ``synthetic_components`` are carried on).
    qa : UnitsQA
        The units' QA (its ``source``).
    config_text : str
        The configuration of the run, as text.
    version : str
        The gridcarbon version.
    checksums : mapping of str → str
        SHA-256 of further input files (the units file, the grids file), added to the grids'.
    synthetic_units : str
        Non-empty when the units are synthetic: the component named in ``synthetic_components``.
    figures : str
        Which emissions were tallied (prior or posterior, and which inversion), said in every
        output's metadata and at the top of the report.
    """
    sums: dict[str, str] = {}
    try:
        sums.update(json.loads(grids_attrs.get("input_checksums", "{}")))
    except (TypeError, json.JSONDecodeError):
        pass
    sums.update(checksums)
    synthetic = grids_attrs.get("synthetic", "unknown")
    components = grids_attrs.get("synthetic_components", "")
    if synthetic_units:
        synthetic = "true"
        components = (components + "; " if components else "") + synthetic_units
    record = {
        "gridcarbon_version": version,
        "config": config_text,
        "input_checksums": json.dumps(sums),
        "synthetic": str(synthetic).lower(),
        "synthetic_components": components,
        "units_source": qa.source,
    }
    if figures:
        record["figures"] = figures
    return record


def _hotspot_method(config: ZoningConfig, glossary: Glossary) -> str:
    """How hot spots were found, for the report's method section."""
    radius = format_number(config.gi_radius_m)
    if config.hotspot_statistic == DEFAULT_STATISTIC:
        found = glossary.phrase("method_gistar", radius=radius)
    else:
        found = glossary.phrase(
            "method_other",
            label=statistic_label(config.hotspot_statistic),
            statistic=config.hotspot_statistic,
            radius=radius,
        )
    return glossary.phrase(
        "method",
        found=found,
        levels=config.fdr_levels,
        min_bin=config.hotspot_min_bin,
        alpha=config.emerging_alpha,
    )


def _legend(species: Sequence[Species], glossary: Glossary) -> Markup:
    """The species' colours, as a line of text."""
    item = Markup('<span style="color:{c}">■</span> {n}')
    return Markup("{} ").format(glossary.phrase("colours")) + Markup(", ").join(
        item.format(c=s.colour, n=glossary.species_name(s)) for s in species
    )


#: Tonnes per ten thousand tonnes (万吨), the unit Chinese reports give emission totals in.
TONNES_PER_10KT = 1.0e4


def report_tonnes(kg: float | np.ndarray | pd.Series, language: str) -> Any:
    """Emission totals in the report's tonne unit: t in English, 万吨 (10⁴ t) in Chinese."""
    return kg / 1000.0 / (TONNES_PER_10KT if language == "zh" else 1.0)


def _tonne_suffix(language: str) -> str:
    """Column ending of :func:`report_tonnes` figures (its glossary entry states the unit)."""
    return "_10kt" if language == "zh" else "_t"


def html_context(
    result: ZoningResult,
    config: ZoningConfig,
    provenance: Mapping[str, str],
    language: str = "en",
) -> dict[str, Any]:
    """The values :func:`render_html` fills the report with, in ``language`` (``en``/``zh``).

    Headers, section titles and category names come from the glossary
    (:mod:`gridcarbon.io.glossary`); every number has the report's one format
    (:func:`~gridcarbon.io.glossary.format_number`); emission totals are in tonnes in English
    and in 万吨 (10⁴ t) in Chinese, with the unit in the header.
    """
    species = result.species
    g = Glossary(language, species)
    names = [s.name for s in species]
    label = {s.name: g.species_name(s) for s in species}
    colours = {g.species_name(s): s.colour for s in species}
    first = names[0]
    gdf = result.units
    n_days = result.tally_day.sizes["day"]
    tot = {s: float(result.tally[f"{s}_grid_total"].values.sum()) for s in names}
    days = pd.DatetimeIndex(result.tally_day["day"].values)
    suffix = _tonne_suffix(language)
    tonne_unit = g.column(f"{first}{suffix}")
    unit = tonne_unit.unit if tonne_unit is not None else ""
    counts = gdf["category"].value_counts()
    summary = [
        g.phrase(
            "summary_period",
            start=f"{days[0]:%Y-%m-%d}",
            end=f"{days[-1]:%Y-%m-%d}",
            days=format_number(n_days),
            hours=format_number(result.tally.sizes["time"]),
        ),
        g.phrase(
            "summary_units",
            n=format_number(len(gdf)),
            source=g.translate(result.qa.source),
            counts=", ".join(f"{g.category(k)}: {format_number(v)}" for k, v in counts.items()),
        ),
        g.phrase(
            "summary_grid_totals",
            totals=", ".join(
                f"{label[s]} {format_number(report_tonnes(tot[s], language))} {unit}" for s in names
            ),
        ),
        g.phrase(
            "summary_inside",
            shares=", ".join(
                f"{label[s]} {format_number(100 * gdf[f'{s}_kg'].sum() / tot[s])} %"
                for s in names
                if tot[s] > 0
            ),
        ),
    ]
    every = whole_set_name(names)
    if every is not None and f"coloc_{every}_cell_days" in gdf:
        days_col = gdf[f"coloc_{every}_cell_days"]
        summary.append(
            g.phrase(
                "summary_coloc",
                species="+".join(label[s] for s in names),
                days=format_number(days_col.sum()),
                units=format_number(int((days_col > 0).sum())),
            )
        )
    if every is not None and f"coloc_{every}_hours" in gdf:
        summary.append(
            g.phrase("summary_coloc_hours", hours=format_number(gdf[f"coloc_{every}_hours"].mean()))
        )
    key = f"coloc_{every}_cell_days" if f"coloc_{every}_cell_days" in gdf else f"{first}_kg"
    top = gdf.sort_values([key, f"{first}_kg"], ascending=False).head(config.top_n)
    pos = {c: i for i, c in enumerate(result.tally["unit"].values)}
    top_units = []
    for _, u in top.iterrows():
        i = pos[u["unit_code"]]
        diurnal = {label[s]: result.diurnal.sel(species=s).values[i] for s in names}
        daily = {label[s]: result.tally_day[s].values[i] for s in names}
        bars = {label[s]: float(u[f"{s}_share_pct"]) for s in names}
        shares = (
            " / ".join(
                f"{format_number(100 * u.get(f'coloc_{every}_share_{s}', np.nan))}%" for s in names
            )
            if f"coloc_{every}_share_{first}" in u
            else ""
        )
        kind = (
            f"{u['category_zh']} / {u['subtype_zh']}"
            if language == "zh"
            else f"{g.category(u['category'])} / {g.subtype(u['subtype'])}"
        )
        top_units.append(
            {
                "code": u["unit_code"],
                "name": u["unit_name"],
                "type": kind,
                "cell_days": format_number(u.get(f"coloc_{every}_cell_days", np.nan)),
                "obs_exp": format_number(u.get(f"coloc_{every}_obs_exp", np.nan)),
                "shares": shares,
                "emerging": g.emerging(str(u.get(f"emerging_{first}", ""))),
                "pathway": u["pathway_zh"] if language == "zh" else u["pathway"],
                "diurnal": _svg_lines(diurnal, title=g.phrase("chart_diurnal"), colours=colours),
                "daily": _svg_lines(daily, title=g.phrase("chart_daily"), colours=colours),
                "bars": _svg_bars(bars, title=g.phrase("col_share_chart"), colours=colours),
            }
        )

    def sp_cols(df: pd.DataFrame) -> list[str]:
        return [
            c
            for c in df.columns
            if c.endswith(("_kg", "_t_per_km2")) and not c.endswith(("area_kg", "point_kg"))
        ]

    def roll(name: str, n: int = 100) -> Markup:
        df = result.rollups[name]
        cols = [c for c in df.columns if not c.startswith(tuple(names))] + sp_cols(df)
        df = df[cols].copy()
        if "category" in df:  # the category as the language writes it, once
            df["category"] = df["category"].map(g.category)
            df = df.drop(columns=[c for c in ("category_zh",) if c in df])
            df = df.rename(columns={"category": "category_zh"})
        if "subtype" in df:
            df["subtype"] = df["subtype"].map(g.subtype)
            df = df.rename(columns={"subtype": "subtype_zh"})
        for c in [c for c in df.columns if c.endswith("_kg")]:
            # tonnes (万吨 in Chinese) read better than kg here
            df[c[:-3] + suffix] = report_tonnes(df.pop(c), language)
        order = [c for c in df.columns if not c.startswith(tuple(names))] + [
            c for s in names for c in (f"{s}{suffix}", f"{s}_t_per_km2") if c in df
        ]
        return _table(df[order], g, n)

    figures = provenance.get("figures", "")
    if figures:
        figures = g.phrase(f"figures_{result.grids_kind}")
    return {
        "lang": "zh-CN" if language == "zh" else "en",
        "t": _Phrases(g, config.top_n, species, label[first]),
        "title": g.phrase("report_title", species="/".join(label[s] for s in names)),
        "figures": figures,
        "synthetic": (
            g.phrase(
                "synthetic_depends",
                components=g.components(provenance.get("synthetic_components", "")),
            )
        )
        if provenance.get("synthetic") == "true"
        else "",
        "summary": summary,
        "coloc_table": _table(_colocation_shown(result.colocation, g), g, 50),
        "by_category": roll("category"),
        "by_subtype": roll("subtype"),
        "by_city": roll("city_code"),
        "by_county": roll("county_code", config.top_n),
        "top_units": top_units,
        "legend": _legend(species, g),
        "qa": [g.translate(line) for line in result.qa.summary_lines()],
        "qa_warning": g.translate(result.qa.offset_warning or ""),
        "method": _hotspot_method(config, g),
        "provenance": provenance_text({k: v for k, v in provenance.items() if k != "config"})
        + "\n\nconfig:\n"
        + provenance.get("config", ""),
    }


def _colocation_shown(table: pd.DataFrame, glossary: Glossary) -> pd.DataFrame:
    """The co-location table with its bins and species sets in the glossary's language."""
    shown = table.copy()
    if "level" in shown:
        shown["level"] = [glossary.phrase(f"level_{v}") for v in shown["level"]]
    if "set" in shown:
        shown["set"] = [glossary.set_name(str(v).replace("+", "_")) for v in shown["set"]]
    return shown


class _Phrases:
    """The report's fixed phrases for the template (``t.section_summary``)."""

    def __init__(
        self, glossary: Glossary, top_n: int, species: Sequence[Species], first: str
    ) -> None:
        self._g = glossary
        self._fields = {
            "n": format_number(top_n),
            "species": "/".join(glossary.species_name(s) for s in species),
        }
        self._first = first

    def __getattr__(self, key: str) -> str:
        if key == "col_emerging":
            return self._g.phrase(key, species=self._first)
        return self._g.phrase(key, **self._fields)


def long_series(t: xr.Dataset, dim: str, species: list[str], area_km2: np.ndarray) -> pd.DataFrame:
    """Unit × time-bin table: kg, t km-2, share of the grid total (%) and rank in the bin."""
    labels = pd.DatetimeIndex(t[dim].values).strftime("%Y-%m-%d" if dim == "day" else "%Y-%m")
    nu, nb_ = t.sizes["unit"], t.sizes[dim]
    out = pd.DataFrame(
        {"unit_code": np.repeat(t["unit"].values, nb_), dim: np.tile(np.asarray(labels), nu)}
    )
    area = np.repeat(np.asarray(area_km2, float), nb_)
    for s in species:
        v = t[s].values  # (unit, bin)
        total = t[f"{s}_grid_total"].values  # (bin,)
        out[f"{s}_kg"] = v.ravel()
        out[f"{s}_t_per_km2"] = np.where(
            area > 0, v.ravel() / 1000.0 / np.where(area > 0, area, 1), np.nan
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"{s}_share_pct"] = (100.0 * v / np.where(total > 0, total, np.nan)).ravel()
        rank = pd.DataFrame(v).rank(axis=0, ascending=False, method="min").to_numpy()
        out[f"{s}_rank"] = rank.ravel().astype(int)
    return out


def hourly_tally_dataset(tally: xr.Dataset) -> xr.Dataset:
    """The hourly tally as ``zone_tally_hourly.nc`` holds it: the per-unit arrays in float32,
    the time axis (UTC hour-beginning) with its bounds.  Of the whole tally, or of one block
    of its hours (the file written month by month gives the same values)."""
    hours = tally["time"].values
    hourly = tally.copy()
    for v in hourly.data_vars:
        if hourly[v].ndim > 1:
            hourly[v] = hourly[v].astype(np.float32)
    hourly["time"].attrs.update(
        {"standard_name": "time", "long_name": "start of hour (UTC)", "bounds": "time_bnds"}
    )
    hourly["time_bnds"] = (
        ("time", "nv"),
        np.stack([hours, hours + np.timedelta64(1, "h")], axis=1),
    )
    return hourly


def hourly_tally_attrs(provenance: Mapping[str, str]) -> dict[str, str]:
    """The global attributes of ``zone_tally_hourly.nc``: the provenance and its title."""
    return {**provenance, "title": "gridcarbon hourly emission per control unit"}


def output_names(config: ZoningConfig) -> list[str]:
    """File names the zoning stage writes with ``config`` (from :data:`RUN_FILES`)."""
    skip = set()
    if not config.keep_hourly:
        skip.add("tally_hourly_nc")
    if not config.hourly_hotspots:
        skip.add("hotspots_hour_nc")
    return [f.name for f in RUN_FILES if f.stage == "zoning" and f.role not in skip]


def add_sections(
    page: str, sheets: dict[str, pd.DataFrame], sections: Sequence[ReportSection]
) -> str:
    """Further sections of other stages (:class:`~gridcarbon.contracts.ReportSection`) added to
    the report: their HTML before the page's end, their tables as further sheets of ``sheets``
    (changed in place; a sheet name already taken is an error).  No sections: ``page`` as it is.
    """
    if not sections:
        return page
    for section in sections:
        for name, table in section.sheets.items():
            if name in sheets:
                raise InputDataError(f"report section {section.title!r}: sheet {name!r} exists")
            sheets[name] = table
    end = page.rindex("</body>")
    return page[:end] + "".join(s.html for s in sections) + page[end:]


def zoning_documents(
    result: ZoningResult,
    config: ZoningConfig,
    provenance: Mapping[str, str],
    language: str = "en",
    *,
    sections: Sequence[ReportSection] = (),
    hourly_written: bool = False,
) -> dict[str, Document]:
    """Every file of the zone report, as documents by file name (:data:`RUN_FILES`).

    Parameters
    ----------
    result : ZoningResult
    config : ZoningConfig
        ``keep_hourly`` (the hourly tallies), ``top_n`` and the method of the report.
    provenance : mapping of str → str
        From :func:`provenance_record`: NetCDF global attributes, GeoPackage layer metadata, the
        Excel sheet ``provenance`` and the report's provenance section.
    language : {"en", "zh"}
        Language of the HTML report and of the Excel label row (words from
        :mod:`gridcarbon.io.glossary`); machine column names are the same in both.
    sections : sequence of ReportSection
        Further sections (e.g. the synergy analytics'), appended to the HTML report and the
        Excel workbook (:func:`add_sections`); none by default.
    hourly_written : bool
        The hourly tallies were written month by month already (:func:`hourly_tally_dataset`
        of each month, a run streamed through a store): no document for them.

    Returns
    -------
    dict of file name → Document
        The GeoPackage of units with every per-unit figure, the per-unit, daily, monthly,
        co-location and roll-up tables (CSV, with a byte-order mark for Excel), the Excel
        workbook, the HTML report, the NetCDF tallies, diurnal profiles and hotspot layers, and
        the units' QA (JSON).
    """
    names = [s.name for s in result.species]
    prov = dict(provenance)
    docs: dict[str, Document] = {}

    def add(role: str, kind: str, content: Any, **kw: Any) -> None:
        docs[run_file_name(role)] = Document(kind, content, **kw)

    gdf = result.units.copy()
    for c in gdf.columns:
        if gdf[c].dtype == bool:  # GeoPackage has no boolean field type
            gdf[c] = gdf[c].astype(int)
    glossary = Glossary(language, result.species)
    style = categorized_style(
        "zone_units",
        "category",
        [(c, glossary.category(c), UNIT_CATEGORY_COLOURS[c]) for c in UNIT_CATEGORIES],
        name="三线一单 categories",
        description="control units by category: priority protection green, key control red, "
        "general control yellow (the 三线一单 map convention; colours gridcarbon's)",
    )
    add("units_gpkg", "gpkg", gdf, attrs=prov, layer="zone_units", style=style)
    table = pd.DataFrame(result.units.drop(columns="geometry"))
    add("units_csv", "csv", table, bom=True)
    for by, role in (
        ("category", "rollup_category"),
        ("subtype", "rollup_subtype"),
        ("county_code", "rollup_county"),
        ("city_code", "rollup_city"),
    ):
        add(role, "csv", result.rollups[by], bom=True)
    area = result.units["area_km2"].to_numpy()
    daily = long_series(result.tally_day, "day", names, area)
    monthly = long_series(result.tally_month, "month", names, area)
    add("units_daily_csv", "csv", daily, bom=True)
    add("units_monthly_csv", "csv", monthly, bom=True)
    add("colocation_csv", "csv", result.colocation, bom=True)
    synthetic = prov.get("synthetic") == "true"
    figures = {
        "units": table,
        "by_category": result.rollups["category"],
        "by_subtype": result.rollups["subtype"],
        "by_city": result.rollups["city_code"],
        "by_county": result.rollups["county_code"],
        "colocation": result.colocation,
        "monthly": monthly,
    }
    sheets = {
        # every row of figures says whether it rests on synthetic data (filterable)
        **{name: df.assign(synthetic=synthetic) for name, df in figures.items()},
        "qa": pd.DataFrame({"finding": [glossary.translate(x) for x in result.qa.summary_lines()]}),
        "provenance": pd.DataFrame({"key": list(prov), "value": list(prov.values())}),
    }
    page = add_sections(render_html(html_context(result, config, prov, language)), sheets, sections)
    labels = {name: [glossary.label(str(c)) for c in df.columns] for name, df in sheets.items()}
    add("excel", "xlsx", sheets, labels=labels)
    add("html", "html", page)
    hours = result.tally["time"].values  # the UTC hours every bin axis is restated on

    def cf_attrs(title: str) -> dict[str, str]:
        return {**prov, "title": f"gridcarbon {title}"}

    if config.keep_hourly and not hourly_written:
        add(
            "tally_hourly_nc",
            "netcdf",
            hourly_tally_dataset(result.tally),
            attrs=hourly_tally_attrs(prov),
        )
    monthly_vars = {v: f"{v}_monthly" for v in result.tally_month.data_vars}
    add(
        "tally_daily_nc",
        "netcdf",
        xr.merge(
            [
                utc_bin_axis(result.tally_day, "day", "day", hours),
                utc_bin_axis(result.tally_month.rename(monthly_vars), "month", "month", hours),
            ],
            # the two share unit coordinates: they must agree (xarray's default, stated so
            # that its coming change of default cannot change this file)
            compat="no_conflicts",
        ),
        attrs=cf_attrs("emission per control unit by Beijing day and month"),
    )
    add(
        "diurnal_nc",
        "netcdf",
        result.diurnal.to_dataset(),
        attrs=cf_attrs("mean diurnal emission profile per control unit"),
    )
    for level, ds in result.hotspots.items():
        add(
            f"hotspots_{level}_nc",
            "netcdf",
            utc_bin_axis(ds, "time", level, hours),
            attrs=cf_attrs(
                f"hotspots and co-located hotspots by {_BIN_TITLE[level]}",
            ),
        )
    add("qa_json", "json", result.qa.to_dict())
    return docs
