"""Writing the zone report: GeoPackage, CSV, Excel, NetCDF and a self-contained HTML page.

Every file is written to a temporary path in the same folder and renamed into place
(:func:`gridcarbon.io.runfolder.atomic_write`); an existing file is never replaced unless
``overwrite`` is true (:class:`~gridcarbon.errors.OutputExistsError`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
import xarray as xr
from markupsafe import Markup

from gridcarbon.io.runfolder import atomic_write

__all__ = ["render_html"]


def write_netcdf(ds: xr.Dataset, path: Path, overwrite: bool, attrs: dict[str, str]) -> Path:
    ds = ds.copy()
    ds.attrs.update({k: str(v) for k, v in attrs.items()})
    enc = {}
    for v in ds.data_vars:
        if ds[v].ndim >= 2 and ds[v].dtype.kind in "fiu":
            enc[v] = {"zlib": True, "complevel": 1}
    for v in list(ds.variables):
        if ds[v].dtype == object:
            ds[v] = ds[v].astype(str)
    return atomic_write(path, lambda tmp: ds.to_netcdf(tmp, encoding=enc), overwrite)


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------
_COLORS = {"CO2": "#4d4d4d", "NOx": "#d95f02", "VOC": "#1b9e77"}


def _svg_lines(
    series: dict[str, np.ndarray], width: int = 220, height: int = 70, title: str = ""
) -> Markup:
    """Small inline SVG line chart; each series normalised to its own maximum (text escaped)."""
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
            ).format(c=_COLORS.get(name, "#377eb8"), p=pts, n=name)
        )
    parts.append(
        Markup('<text x="4" y="10" font-size="9" fill="#555">{t}</text></svg>').format(t=title)
    )
    return Markup("").join(parts)


def _svg_bars(
    values: dict[str, float], width: int = 160, height: int = 70, title: str = ""
) -> Markup:
    """Small inline SVG bar chart of percentages (text escaped)."""
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
                c=_COLORS.get(name, "#377eb8"),
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
Grey CO2, orange NOx, green VOC.</p>
<table><thead><tr><th>unit</th><th>type</th><th>co-located cell-days</th><th>obs/exp</th>
<th>share of unit CO2 / NOx / VOC in co-located hotspots</th><th>emerging (CO2)</th>
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


def provenance_text(attrs: dict[str, Any]) -> str:
    """JSON text of provenance attributes."""
    return json.dumps(attrs, ensure_ascii=False, indent=1, default=str)
