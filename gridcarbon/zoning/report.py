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
from gridcarbon.contracts import RUN_FILES, Document, ReportSection, ZoningResult, run_file_name
from gridcarbon.errors import InputDataError
from gridcarbon.zoning.hotspots import DEFAULT_STATISTIC, statistic_label, whole_set_name
from gridcarbon.zoning.qa import UnitsQA
from gridcarbon.zoning.tally import utc_bin_axis

if TYPE_CHECKING:  # pragma: no cover
    from gridcarbon.species import Species

__all__ = [
    "add_sections",
    "html_context",
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
    for i, (name, v) in enumerate(values.items()):
        w = 0 if not np.isfinite(v) else (width - 70) * v / top
        y = 12 + i * bh
        parts.append(
            Markup(
                '<rect x="34" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{c}"/>'
                '<text x="0" y="{ty:.1f}" font-size="9">{n}</text>'
                '<text x="{vx:.1f}" y="{ty:.1f}" font-size="9">{v:.2g}%</text>'
            ).format(
                y=y,
                w=w,
                h=bh * 0.8,
                c=(colours or {}).get(name, _DEFAULT_COLOUR),
                ty=y + bh * 0.7,
                n=name,
                vx=36 + w,
                v=v,
            )
        )
    parts.append(
        Markup('<text x="0" y="9" font-size="9" fill="#555">{t}</text></svg>').format(t=title)
    )
    return Markup("").join(parts)


def _table(df: pd.DataFrame, max_rows: int = 50) -> Markup:
    """An HTML table of the first ``max_rows`` rows; every header and text cell escaped."""
    df = df.head(max_rows)

    def fmt(v: Any) -> str:
        if isinstance(v, float | np.floating):
            if not np.isfinite(v):
                return ""
            return f"{v:,.0f}" if abs(v) >= 1e4 else f"{v:.4g}"
        if isinstance(v, int | np.integer):
            return f"{v:,}"
        return str(v)

    th = Markup("<th>{}</th>")
    td = Markup("<td>{}</td>")
    head = Markup("").join(th.format(str(c)) for c in df.columns)
    rows = Markup("").join(
        Markup("<tr>{}</tr>").format(Markup("").join(td.format(fmt(v)) for v in r))
        for r in df.itertuples(index=False)
    )
    return Markup("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>").format(head, rows)


_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ title }}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI","Microsoft YaHei",sans-serif;margin:1.5em;
color:#222;max-width:1400px}
h1{font-size:1.5em} h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:1.6em}
table{border-collapse:collapse;font-size:12px;margin:.5em 0}
th,td{border:1px solid #ddd;padding:2px 6px;text-align:right}
th{background:#f0f0f0} td:first-child,th:first-child{text-align:left}
.warn{background:#fff3cd;border:1px solid #e0c36a;padding:.5em}
.synthetic{background:#fde2e2;border:1px solid #d88;padding:.5em}
.small{font-size:11px;color:#555}
</style></head><body>
<h1>{{ title }}</h1>
{% if figures %}<p class="figures"><b>Figures tallied:</b> {{ figures }}</p>{% endif %}
{% if synthetic %}<p class="synthetic"><b>Synthetic data.</b> {{ synthetic }}</p>{% endif %}
<h2>Summary</h2>
<ul>{% for line in summary %}<li>{{ line }}</li>{% endfor %}</ul>
<h2>Co-location compared with chance</h2>
<p class="small">Observed co-located hotspot cell-steps against (a) the count expected if each
species' hot cells were placed independently at random each time step, and (b) a toroidal-shift
null that keeps each species' spatial clustering.</p>
{{ coloc_table }}
<h2>Roll-ups by category</h2>{{ by_category }}
<h2>Roll-ups by subtype</h2>{{ by_subtype }}
<h2>Roll-ups by city</h2>{{ by_city }}
<h2>Roll-ups by county (top {{ top_n }})</h2>{{ by_county }}
<h2>Top {{ top_n }} units by co-located hotspot cell-days</h2>
<p class="small">Charts: diurnal profile (Beijing hours 0–23, mean kg/h, each species scaled to its
maximum), daily series of the period, and the unit's share of the provincial total per species.
{{ legend }}</p>
<table><thead><tr><th>unit</th><th>type</th><th>co-located cell-days</th><th>obs/exp</th>
<th>share of unit {{ shares_of }} in co-located hotspots</th><th>emerging ({{ emerging_of }})</th>
<th>pathway</th><th>diurnal</th><th>daily</th><th>shares</th></tr></thead><tbody>
{% for u in top_units %}<tr><td><span class="unit-code">{{ u.code }}</span><br>
<span class="unit-name">{{ u.name }}</span></td><td class="unit-type">{{ u.type }}</td>
<td>{{ u.cell_days }}</td><td>{{ u.obs_exp }}</td><td>{{ u.shares }}</td><td>{{ u.emerging }}</td>
<td class="small unit-pathway">{{ u.pathway }}</td><td>{{ u.diurnal }}</td><td>{{ u.daily }}</td>
<td>{{ u.bars }}</td></tr>{% endfor %}
</tbody></table>
<h2>Control-unit QA</h2>
{% if qa_warning %}<p class="warn">{{ qa_warning }}</p>{% endif %}
<ul>{% for line in qa %}<li>{{ line }}</li>{% endfor %}</ul>
<h2>Method</h2>
<p class="small">{{ method }}</p>
<h2>Provenance</h2>
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


def _hotspot_method(config: ZoningConfig) -> str:
    """How hot spots were found, for the report's method section."""
    if config.hotspot_statistic == DEFAULT_STATISTIC:
        found = (
            f"Getis-Ord Gi* with binary distance-band weights (radius {config.gi_radius_m:.0f} m, "
            "focal cell included, cells outside the region excluded)"
        )
    else:
        found = (
            f"the statistic {statistic_label(config.hotspot_statistic)} "
            f"(zoning.hotspot_statistic: {config.hotspot_statistic}; radius "
            f"{config.gi_radius_m:.0f} m, cells outside the region excluded)"
        )
    return (
        f"Area sources are allocated to units by exact polygon–cell coverage fractions "
        f"(F @ grid); point sources by point-in-polygon. Hotspots: {found}, two-sided "
        f"p = 2·sf(|z|), Benjamini–Hochberg per species and time step; bins ±3/±2/±1 at "
        f"q = {config.fdr_levels}. A cell-time is hot at bin ≥ {config.hotspot_min_bin}. "
        f"Emerging-hotspot categories (ArcGIS definitions) come from a Mann–Kendall trend "
        f"(α = {config.emerging_alpha}) of each cell's daily z-scores: a within-period trend. "
        f"Per-unit figures come from daily aggregates; 'obs/exp' compares the unit's co-located "
        f"cell-days with those expected if the species' daily hot areas in the unit were "
        f"independent."
    )


def _legend(species: Sequence[Species]) -> Markup:
    """The species' colours, as a line of text."""
    item = Markup('<span style="color:{c}">■</span> {n}')
    return Markup("Colours: ") + Markup(", ").join(
        item.format(c=s.colour, n=s.display_en) for s in species
    )


def html_context(
    result: ZoningResult, config: ZoningConfig, provenance: Mapping[str, str]
) -> dict[str, Any]:
    """The values :func:`render_html` fills the report with."""
    species = result.species
    names = [s.name for s in species]
    label = {s.name: s.display_en for s in species}
    colours = {s.display_en: s.colour for s in species}
    first = names[0]
    gdf = result.units
    n_days = result.tally_day.sizes["day"]
    tot = {s: float(result.tally[f"{s}_grid_total"].values.sum()) for s in names}
    days = pd.DatetimeIndex(result.tally_day["day"].values)
    summary = [
        f"period: Beijing {days[0]:%Y-%m-%d} to {days[-1]:%Y-%m-%d} ({n_days} days, "
        f"{result.tally.sizes['time']} hours)",
        f"{len(gdf)} control units ({result.qa.source}); "
        + ", ".join(f"{k}: {v}" for k, v in gdf["category"].value_counts().items()),
        "grid totals: " + ", ".join(f"{label[s]} {tot[s] / 1000:,.0f} t" for s in names),
        "inside units: "
        + ", ".join(
            f"{label[s]} {100 * gdf[f'{s}_kg'].sum() / tot[s]:.2f} %" for s in names if tot[s] > 0
        ),
    ]
    every = whole_set_name(names)
    if every is not None and f"coloc_{every}_cell_days" in gdf:
        days_col = gdf[f"coloc_{every}_cell_days"]
        summary.append(
            f"co-located ({'+'.join(label[s] for s in names)}) hotspot cell-days inside units: "
            f"{days_col.sum():,.1f}; units with any: {int((days_col > 0).sum())}"
        )
    if every is not None and f"coloc_{every}_hours" in gdf:
        summary.append(
            f"mean co-located hotspot hours per unit (area-weighted): "
            f"{gdf[f'coloc_{every}_hours'].mean():.1f}"
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
            " / ".join(f"{100 * u.get(f'coloc_{every}_share_{s}', np.nan):.0f}%" for s in names)
            if f"coloc_{every}_share_{first}" in u
            else ""
        )
        top_units.append(
            {
                "code": u["unit_code"],
                "name": u["unit_name"],
                "type": f"{u['category_zh']} / {u['subtype_zh']}",
                "cell_days": f"{u.get(f'coloc_{every}_cell_days', np.nan):.1f}",
                "obs_exp": f"{u.get(f'coloc_{every}_obs_exp', np.nan):.2f}",
                "shares": shares,
                "emerging": u.get(f"emerging_{first}", ""),
                "pathway": u["pathway"],
                "diurnal": _svg_lines(diurnal, title="diurnal (Beijing h)", colours=colours),
                "daily": _svg_lines(daily, title="daily", colours=colours),
                "bars": _svg_bars(bars, title="share of province", colours=colours),
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
        for c in [c for c in df.columns if c.endswith("_kg")]:
            df[c[:-3] + "_t"] = df.pop(c) / 1000.0  # tonnes read better than kg here
        order = [c for c in df.columns if not c.startswith(tuple(names))] + [
            c for s in names for c in (f"{s}_t", f"{s}_t_per_km2") if c in df
        ]
        return _table(df[order], n)

    return {
        "title": "gridcarbon zone report — co-located "
        + "/".join(label[s] for s in names)
        + " hotspots by control unit",
        "figures": provenance.get("figures", ""),
        "synthetic": (
            "This report depends on synthetic data: " + provenance.get("synthetic_components", "")
        )
        if provenance.get("synthetic") == "true"
        else "",
        "summary": summary,
        "coloc_table": _table(result.colocation, 50),
        "by_category": roll("category"),
        "by_subtype": roll("subtype"),
        "by_city": roll("city_code"),
        "by_county": roll("county_code", config.top_n),
        "top_n": config.top_n,
        "top_units": top_units,
        "legend": _legend(species),
        "shares_of": " / ".join(label[s] for s in names),
        "emerging_of": label[first],
        "qa": result.qa.summary_lines(),
        "qa_warning": result.qa.offset_warning or "",
        "method": _hotspot_method(config),
        "provenance": provenance_text({k: v for k, v in provenance.items() if k != "config"})
        + "\n\nconfig:\n"
        + provenance.get("config", ""),
    }


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
    sections: Sequence[ReportSection] = (),
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
    sections : sequence of ReportSection
        Further sections (e.g. the synergy analytics'), appended to the HTML report and the
        Excel workbook (:func:`add_sections`); none by default.

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
    add("units_gpkg", "gpkg", gdf, attrs=prov, layer="zone_units")
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
        "qa": pd.DataFrame({"finding": result.qa.summary_lines()}),
        "provenance": pd.DataFrame({"key": list(prov), "value": list(prov.values())}),
    }
    page = add_sections(render_html(html_context(result, config, prov)), sheets, sections)
    add("excel", "xlsx", sheets)
    add("html", "html", page)
    hours = result.tally["time"].values  # the UTC hours every bin axis is restated on

    def cf_attrs(title: str) -> dict[str, str]:
        return {**prov, "title": f"gridcarbon {title}"}

    if config.keep_hourly:
        hourly = result.tally.copy()
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
        add(
            "tally_hourly_nc",
            "netcdf",
            hourly,
            attrs=cf_attrs("hourly emission per control unit"),
        )
    monthly_vars = {v: f"{v}_monthly" for v in result.tally_month.data_vars}
    add(
        "tally_daily_nc",
        "netcdf",
        xr.merge(
            [
                utc_bin_axis(result.tally_day, "day", "day", hours),
                utc_bin_axis(result.tally_month.rename(monthly_vars), "month", "month", hours),
            ]
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
