"""Writing the zone report: GeoPackage, CSV, Excel, NetCDF and a self-contained HTML page.

Every file is written to a temporary path in the same folder and renamed into place
(:func:`gridcarbon.io.runfolder.atomic_write`); an existing file is never replaced unless
``overwrite`` is true (:class:`~gridcarbon.errors.OutputExistsError`).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from gridcarbon.io.runfolder import atomic_write

__all__ = ["render_html"]


def write_csv(df: pd.DataFrame, path: Path, overwrite: bool) -> Path:
    """CSV in UTF-8 with BOM (so Excel shows Chinese names correctly)."""
    return atomic_write(
        path, lambda tmp: df.to_csv(tmp, index=False, encoding="utf-8-sig"), overwrite
    )


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


def write_excel(sheets: dict[str, pd.DataFrame], path: Path, overwrite: bool) -> Path:
    from openpyxl import Workbook

    def cell(v: Any) -> Any:
        if v is None or v is pd.NA:
            return None
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float) and not np.isfinite(v):
            return None
        if isinstance(v, pd.Timestamp):
            return v.to_pydatetime()
        return v

    def w(tmp: Path) -> None:
        wb = Workbook(write_only=True)  # streaming writer: fast for large sheets
        for name, df in sheets.items():
            ws = wb.create_sheet(title=name[:31])
            ws.append([str(c) for c in df.columns])
            for row in df.itertuples(index=False, name=None):
                ws.append([cell(v) for v in row])
        wb.save(tmp)

    return atomic_write(path, w, overwrite)


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------
_COLORS = {"CO2": "#4d4d4d", "NOx": "#d95f02", "VOC": "#1b9e77"}


def _svg_lines(
    series: dict[str, np.ndarray], width: int = 220, height: int = 70, title: str = ""
) -> str:
    """Small inline SVG line chart; each series normalised to its own maximum."""
    parts = [
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{html.escape(title)}">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fafafa" stroke="#ddd"/>',
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
            f'<polyline fill="none" stroke="{_COLORS.get(name, "#377eb8")}" '
            f'stroke-width="1.5" points="{pts}"><title>{html.escape(name)}</title>'
            "</polyline>"
        )
    parts.append(f'<text x="4" y="10" font-size="9" fill="#555">{html.escape(title)}</text></svg>')
    return "".join(parts)


def _svg_bars(values: dict[str, float], width: int = 160, height: int = 70, title: str = "") -> str:
    parts = [
        f'<svg width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}">'
    ]
    n = max(len(values), 1)
    bh = (height - 14) / n
    top = max([v for v in values.values() if np.isfinite(v)] + [1e-12])
    for i, (name, v) in enumerate(values.items()):
        w = 0 if not np.isfinite(v) else (width - 70) * v / top
        y = 12 + i * bh
        parts.append(
            f'<rect x="34" y="{y:.1f}" width="{w:.1f}" height="{bh * 0.8:.1f}" '
            f'fill="{_COLORS.get(name, "#377eb8")}"/>'
        )
        parts.append(f'<text x="0" y="{y + bh * 0.7:.1f}" font-size="9">{html.escape(name)}</text>')
        parts.append(f'<text x="{36 + w:.1f}" y="{y + bh * 0.7:.1f}" font-size="9">{v:.2g}%</text>')
    parts.append(f'<text x="0" y="9" font-size="9" fill="#555">{html.escape(title)}</text></svg>')
    return "".join(parts)


def _table(df: pd.DataFrame, max_rows: int = 50) -> str:
    df = df.head(max_rows)

    def fmt(v: Any) -> str:
        if isinstance(v, float | np.floating):
            if not np.isfinite(v):
                return ""
            return f"{v:,.0f}" if abs(v) >= 1e4 else f"{v:.4g}"
        if isinstance(v, int | np.integer):
            return f"{v:,}"
        return html.escape(str(v))

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{fmt(v)}</td>" for v in r) + "</tr>"
        for r in df.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


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
{% for u in top_units %}<tr><td>{{ u.code }}<br>{{ u.name }}</td><td>{{ u.type }}</td>
<td>{{ u.cell_days }}</td><td>{{ u.obs_exp }}</td><td>{{ u.shares }}</td><td>{{ u.emerging }}</td>
<td class="small">{{ u.pathway }}</td><td>{{ u.diurnal }}</td><td>{{ u.daily }}</td>
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


def render_html(context: dict[str, Any]) -> str:
    """Render the zone report (a single self-contained file: inline CSS and SVG, no scripts)."""
    import jinja2

    env = jinja2.Environment(autoescape=False)
    ctx = dict(context)
    for k in ("summary", "qa"):
        ctx[k] = [html.escape(str(x)) for x in ctx.get(k, [])]
    for k in ("title", "synthetic", "method", "provenance", "qa_warning"):
        if ctx.get(k):
            ctx[k] = html.escape(str(ctx[k]))
    return env.from_string(_TEMPLATE).render(**ctx)


def provenance_text(attrs: dict[str, Any]) -> str:
    """JSON text of provenance attributes."""
    return json.dumps(attrs, ensure_ascii=False, indent=1, default=str)
