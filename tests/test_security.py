"""The invariants of SECURITY.md, checked on the package's source (AST), with proof they can fail.

Each rule is a function ``rule(tree, path) -> list[str]`` of findings; the package must have
none, and each rule must find the synthetic violation written for it below.
"""

from __future__ import annotations

import ast
import functools
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gridcarbon"

#: Calls whose (first or template/html/text) argument becomes template source or raw HTML.
TEMPLATE_SINKS = {"Element", "Html", "IFrame", "Popup", "Tooltip", "Template", "MacroElement"}
SOURCE_KEYWORDS = {"template", "html", "text", "source", "data"}
#: Forbidden YAML loaders (anything but safe_load / SafeLoader).
UNSAFE_YAML = {
    "load",
    "load_all",
    "full_load",
    "full_load_all",
    "unsafe_load",
    "unsafe_load_all",
    "Loader",
    "FullLoader",
    "UnsafeLoader",
    "CLoader",
    "CFullLoader",
    "CUnsafeLoader",
}
PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "joblib", "dill", "cloudpickle", "shelve"}
PICKLE_CALLS = {"read_pickle", "to_pickle"}
NETWORK_MODULES = {
    "urllib",
    "urllib3",
    "requests",
    "httpx",
    "aiohttp",
    "http",
    "socket",
    "ftplib",
    "smtplib",
    "telnetlib",
    "xmlrpc",
    "websocket",
    "websockets",
}
#: folium classes whose rendered output carries data: branca renders a MacroElement's output a
#: second time as a template, so these are used only through the subclasses of
#: gridcarbon.maps.elements that render once (or not at all).
FOLIUM_DATA_CLASSES = {
    "GeoJson",
    "TopoJson",
    "Choropleth",
    "LayerControl",
    "GeoJsonTooltip",
    "GeoJsonPopup",
    "Marker",
    "Popup",
    "Tooltip",
    "Html",
    "IFrame",
    "DivIcon",
}
#: The one module that writes CSV and Excel files (formula guard, string cells).
TABLES_MODULE = "gridcarbon/io/tables.py"
TABLE_WRITERS = {"to_csv", "to_excel", "Workbook", "ExcelWriter"}
#: The one module allowed to make Verbatim page text (it checks what goes in).
VERBATIM_MODULE = "gridcarbon/maps/elements.py"


# -- helpers ----------------------------------------------------------------------------------------
def _name(node: ast.AST) -> str | None:
    """The called name: ``f`` of ``f(...)`` or ``x.f(...)``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "?"


def _literal_names(tree: ast.Module) -> set[str]:
    """Module-level names bound (once) to a literal string."""
    bound: dict[str, int] = {}
    literal: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for t in targets:
            if isinstance(t, ast.Name):
                bound[t.id] = bound.get(t.id, 0) + 1
                if _is_literal(value, literal):
                    literal.add(t.id)
    return {n for n in literal if bound[n] == 1}


def _is_literal(node: ast.AST, names: set[str]) -> bool:
    """A string literal: a constant, an f-string without fields, a sum of literals, or a name
    bound to one at module level."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return all(isinstance(v, ast.Constant) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _is_literal(node.left, names) and _is_literal(node.right, names)
    if isinstance(node, ast.Name):
        return node.id in names
    return False


def _source_args(call: ast.Call) -> list[ast.AST]:
    args = list(call.args[:1])
    args += [k.value for k in call.keywords if k.arg in SOURCE_KEYWORDS]
    return args


def _where(path: str, node: ast.AST) -> str:
    return f"{path}:{getattr(node, 'lineno', '?')}"


# -- rules ------------------------------------------------------------------------------------------
def rule_templates_from_literals(tree: ast.Module, path: str) -> list[str]:
    """Template sinks, ``from_string`` and ``Markup`` take literal strings only."""
    names = _literal_names(tree)
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        if name in TEMPLATE_SINKS or name in ("from_string", "Markup"):
            bad = [a for a in _source_args(node) if not _is_literal(a, names)]
            if bad:
                out.append(f"{_where(path, node)}: {name}() built from a non-literal string")
    return out


def rule_autoescape_everywhere(tree: ast.Module, path: str) -> list[str]:
    """``Environment(...)`` and ``Template(...)`` are created with autoescape on."""
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or _name(node.func) not in ("Environment", "Template"):
            continue
        kw = {k.arg: k.value for k in node.keywords}
        value = kw.get("autoescape")
        on = (isinstance(value, ast.Constant) and value.value is True) or (
            isinstance(value, ast.Call) and _name(value.func) == "select_autoescape"
        )
        if not on:
            out.append(f"{_where(path, node)}: {_name(node.func)}() without autoescape=True")
    return out


def rule_verbatim_in_one_module(tree: ast.Module, path: str) -> list[str]:
    """Raw page text (``Verbatim``) is made only in the module that checks what goes in."""
    if path.endswith(VERBATIM_MODULE):
        return []
    return [
        f"{_where(path, node)}: Verbatim() outside {VERBATIM_MODULE}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and _name(node.func) == "Verbatim"
    ]


def rule_folium_data_layers_render_once(tree: ast.Module, path: str) -> list[str]:
    """folium's data-carrying classes are used only through gridcarbon's render-once ones."""
    out = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and _dotted(node.value) == "folium"
            and node.attr in FOLIUM_DATA_CLASSES
            and not path.endswith(VERBATIM_MODULE)  # where the render-once subclasses are made
        ):
            out.append(f"{_where(path, node)}: folium.{node.attr} (use gridcarbon.maps.elements)")
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "folium":
            out += [
                f"{_where(path, node)}: from {node.module} import {a.name}"
                for a in node.names
                if a.name in FOLIUM_DATA_CLASSES
            ]
    return out


def rule_tables_written_by_io_tables(tree: ast.Module, path: str) -> list[str]:
    """Every CSV and Excel file is written by gridcarbon/io/tables.py (guarded writers)."""
    if path.endswith(TABLES_MODULE):
        return []
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _name(node.func) in TABLE_WRITERS:
            out.append(f"{_where(path, node)}: {_name(node.func)}() outside {TABLES_MODULE}")
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("openpyxl"):
            out += [
                f"{_where(path, node)}: from {node.module} import {a.name}"
                for a in node.names
                if a.name in TABLE_WRITERS or a.name == "WriteOnlyCell"
            ]
    return out


def rule_no_safe_filter(tree: ast.Module, path: str) -> list[str]:
    """No template switches escaping off (``|safe``, ``{% autoescape false %}``)."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value.replace(" ", "")
            if "|safe" in text or "{%autoescapefalse" in text.lower():
                out.append(f"{_where(path, node)}: a template turns escaping off")
    return out


def rule_yaml_safe_load_only(tree: ast.Module, path: str) -> list[str]:
    """YAML is read with ``yaml.safe_load`` only."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _dotted(node.value) == "yaml":
            if node.attr in UNSAFE_YAML:
                out.append(f"{_where(path, node)}: yaml.{node.attr}")
        if isinstance(node, ast.ImportFrom) and node.module == "yaml":
            out += [
                f"{_where(path, node)}: from yaml import {a.name}"
                for a in node.names
                if a.name in UNSAFE_YAML
            ]
    return out


def rule_no_pickle(tree: ast.Module, path: str) -> list[str]:
    """No pickle (or joblib ...) and every ``np.load`` with ``allow_pickle=False``."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [
                f"{_where(path, node)}: import {a.name}"
                for a in node.names
                if a.name.split(".")[0] in PICKLE_MODULES
            ]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in (
            PICKLE_MODULES
        ):
            out.append(f"{_where(path, node)}: from {node.module} import ...")
        elif isinstance(node, ast.Call):
            name = _name(node.func)
            if name in PICKLE_CALLS:
                out.append(f"{_where(path, node)}: {name}()")
            if name == "load" and _dotted(getattr(node.func, "value", node)) in ("np", "numpy"):
                kw = {k.arg: k.value for k in node.keywords}
                v = kw.get("allow_pickle")
                if not (isinstance(v, ast.Constant) and v.value is False):
                    out.append(f"{_where(path, node)}: np.load() without allow_pickle=False")
    return out


def rule_no_network(tree: ast.Module, path: str) -> list[str]:
    """The package imports no network client."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [
                f"{_where(path, node)}: import {a.name}"
                for a in node.names
                if a.name.split(".")[0] in NETWORK_MODULES
            ]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in (
            NETWORK_MODULES
        ):
            out.append(f"{_where(path, node)}: from {node.module} import ...")
    return out


RULES: list[Callable[[ast.Module, str], list[str]]] = [
    rule_templates_from_literals,
    rule_autoescape_everywhere,
    rule_verbatim_in_one_module,
    rule_folium_data_layers_render_once,
    rule_tables_written_by_io_tables,
    rule_no_safe_filter,
    rule_yaml_safe_load_only,
    rule_no_pickle,
    rule_no_network,
]


@functools.lru_cache(maxsize=1)
def _package_trees() -> list[tuple[ast.Module, str]]:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 40, "the package was not found"
    out = []
    for f in files:
        rel = f.relative_to(PACKAGE.parent).as_posix()
        out.append((ast.parse(f.read_text(encoding="utf-8"), filename=rel), rel))
    return out


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.__name__)
def test_package_follows_rule(rule):
    findings = [f for tree, rel in _package_trees() for f in rule(tree, rel)]
    assert findings == [], "\n".join(findings)


# -- the rules can fail -------------------------------------------------------------------------------
VIOLATIONS = {
    rule_templates_from_literals: [
        # the provenance f-string once built in maps/core.py
        "root.header.add_child(Element(f'<script id=\"p\">{prov_json}</script>'))",
        "folium.Popup(folium.Html(name))",
        "folium.Tooltip(html=label)",
        "t = jinja2.Template(source, autoescape=True)",
        "env.from_string(TEMPLATE_PREFIX + user_text)",
        "Markup(name)",
        "x = '{{ a }}'\nx = user\nElement(x)",  # rebound: no longer a literal
    ],
    rule_autoescape_everywhere: [
        "env = jinja2.Environment()",
        "env = jinja2.Environment(autoescape=False)",
        "t = Template('{{ a }}')",
    ],
    rule_verbatim_in_one_module: ["Verbatim(name)"],
    rule_folium_data_layers_render_once: [
        "folium.GeoJson(data, tooltip=folium.GeoJsonTooltip(fields=['name']))",
        "folium.LayerControl().add_to(m)",
        "from folium import GeoJsonPopup",
    ],
    rule_tables_written_by_io_tables: [
        "table.to_csv(path, index=False)",
        "df.to_excel(path)",
        "from openpyxl import Workbook",
        "wb = openpyxl.Workbook(write_only=True)",
    ],
    rule_no_safe_filter: ["T = '<td>{{ name | safe }}</td>'", "T = '{% autoescape false %}'"],
    rule_yaml_safe_load_only: [
        "yaml.load(text, Loader=yaml.Loader)",
        "yaml.unsafe_load(text)",
        "from yaml import full_load",
    ],
    rule_no_pickle: [
        "import pickle",
        "from joblib import load",
        "np.load(path)",
        "np.load(path, allow_pickle=True)",
        "pd.read_pickle(path)",
    ],
    rule_no_network: [
        "import urllib.request",
        "from http.client import HTTPSConnection",
        "import requests",
        "import socket",
    ],
}

COMPLIANT = {
    rule_templates_from_literals: [
        "T = '<b>{{ a }}</b>'\nenv.from_string(T)",
        "Element('<div>' + '</div>')",
        "Markup('<td>{}</td>').format(name)",
    ],
    rule_autoescape_everywhere: [
        "jinja2.Environment(autoescape=True)",
        "Environment(autoescape=select_autoescape())",
        "Template('x', autoescape=True)",
    ],
    rule_verbatim_in_one_module: ["Element('x')"],
    rule_folium_data_layers_render_once: [
        "from gridcarbon.maps.elements import GeoJson\nGeoJson(data)",
        "folium.FeatureGroup(name='stations')",
    ],
    rule_tables_written_by_io_tables: [
        "write_csv(table, path)",
        "pd.read_csv(path)",
        "wb = openpyxl.load_workbook(path, read_only=True, data_only=True)",
    ],
    rule_no_safe_filter: ["T = '<td>{{ name }}</td>'"],
    rule_yaml_safe_load_only: ["yaml.safe_load(text)", "yaml.safe_dump(data)"],
    rule_no_pickle: ["np.load(path, allow_pickle=False)", "import json"],
    rule_no_network: ["import json", "from pathlib import Path"],
}


@pytest.mark.parametrize(
    ("rule", "snippet"),
    [(r, s) for r, snippets in VIOLATIONS.items() for s in snippets],
    ids=lambda v: v.__name__ if callable(v) else v[:40],
)
def test_rule_finds_the_violation(rule, snippet):
    tree = ast.parse(textwrap.dedent(snippet))
    assert rule(tree, "gridcarbon/example.py"), f"{rule.__name__} missed {snippet!r}"


@pytest.mark.parametrize(
    ("rule", "snippet"),
    [(r, s) for r, snippets in COMPLIANT.items() for s in snippets],
    ids=lambda v: v.__name__ if callable(v) else v[:40],
)
def test_rule_accepts_compliant_code(rule, snippet):
    assert rule(ast.parse(snippet), "gridcarbon/example.py") == []


def test_every_rule_has_a_violation_and_a_compliant_example():
    assert set(VIOLATIONS) == set(RULES) == set(COMPLIANT)


# -- a whole run with hostile inputs ----------------------------------------------------------------
def _csv_column(path: Path, column: str) -> list[str]:
    """A column of a CSV gridcarbon wrote, each cell less its formula guard."""
    import csv

    from gridcarbon.io.tables import FORMULA_TRIGGERS, csv_text_value

    with open(path, encoding="utf-8-sig", newline="") as fh:
        cells = [row[column] for row in csv.DictReader(fh)]
    assert not [c for c in cells if c[:1] in FORMULA_TRIGGERS and not c[1:2].isdigit()], path
    return [csv_text_value(c) for c in cells]


@pytest.mark.slow
def test_whole_run_with_hostile_units_stations_and_facilities(tmp_path, monkeypatch):
    """``gridcarbon run`` (coarse grid, 3 days) on a units file, a station table and a
    point-source table whose names are payloads: no template runs, every output keeps them as
    text (CSV guarded, Excel strings, HTML escaped or JSON drawn as text)."""
    import datetime as dt
    import html as html_lib
    import json
    import re

    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import shapely
    from openpyxl import load_workbook

    from gridcarbon.config import RunConfig
    from gridcarbon.pipeline import run
    from tests.payloads import CONTROL, canary_fired, payloads

    monkeypatch.chdir(tmp_path)
    names = payloads(tmp_path)
    # as read: control characters may be cleaned, surrounding white space stripped
    plain = [t for t in names if t not in CONTROL and t == t.strip()]
    ids = payloads(tmp_path, control=False)
    n = len(names)
    # control units: a lattice over Hangzhou; a category label each, the rest hostile
    lons, lats = np.linspace(119.9, 120.7, 7), np.linspace(29.85, 30.4, -(-n // 6) + 1)
    units = gpd.GeoDataFrame(
        {
            "单元编码": [
                f"ZH330109{k % 3 + 1}{k:04d}" if k >= len(ids) else ids[k] for k in range(n)
            ],
            "单元名称": names,
            "管控类别": [["优先保护单元", "重点管控单元", "一般管控单元"][k % 3] for k in range(n)],
            "单元分类": names[1:] + names[:1],
        },
        geometry=[
            shapely.box(lons[k % 6], lats[k // 6], lons[k % 6 + 1], lats[k // 6 + 1])
            for k in range(n)
        ],
        crs="EPSG:4490",
    )
    units_file = tmp_path / "units {{7*7}}.gpkg"
    units.to_file(units_file, layer="units")
    rng = np.random.default_rng(3)
    stations = pd.DataFrame(
        {
            "station_id": ids,
            "name": names[: len(ids)],
            "lon": rng.uniform(119.5, 121.0, len(ids)),
            "lat": rng.uniform(29.2, 30.5, len(ids)),
            "kind": ["urban", "regional", "micro", "background"] * (len(ids) // 4)
            + ["urban"] * (len(ids) % 4),
            "species": "CO2,NO2",
        }
    )
    stations_csv = tmp_path / "stations.csv"  # a user's file: formulas as they are
    stations.to_csv(stations_csv, index=False)
    points = pd.DataFrame(
        {
            "point_id": [f"P{k}" for k in range(n)],
            "name": names,
            "sector": "power",
            "park": names[2:] + names[:2],
            "lon": rng.uniform(119.8, 120.8, n),
            "lat": rng.uniform(29.8, 30.4, n),
            "stack_height_m": 80.0,
            "stack_diameter_m": 4.0,
            "exit_velocity_m_s": 12.0,
            "exit_temperature_K": 400.0,
            "CO2": 1e9,
            "NOx": 1e6,
            "VOC": 1e5,
        }
    )
    points_csv = tmp_path / "points.csv"
    points.to_csv(points_csv, index=False)
    cfg = RunConfig.validate_dict(
        {
            "grid": {"cell_size_m": 30000.0},
            "period": {"start": dt.date(2023, 1, 20), "end": dt.date(2023, 1, 22)},
            "prior": {"point_sources_csv": str(points_csv)},
            "inversion": {"stations": str(stations_csv)},
            "zoning": {
                "gi_radius_m": 65000.0,
                "units_path": str(units_file),
                "check_offset": False,
                "qa_region": "none",
                "toroidal_shifts": 0,
                "hourly_hotspots": False,
                "keep_hourly": False,
                "top_n": n,
            },
            "maps": {"title": " ".join(names)},
        }
    )
    out = tmp_path / "out"
    run(cfg, out_dir=out)
    assert canary_fired(tmp_path) == []
    # CSV: every name back as it was (less the guard)
    assert set(plain) <= set(_csv_column(out / "zone_units.csv", "unit_name"))
    assert set(plain) <= set(_csv_column(out / "prior_point_sources.csv", "point_name"))
    assert set(plain) <= set(_csv_column(out / "prior_point_sources.csv", "point_park"))
    # Excel: string cells, names equal
    ws = load_workbook(out / "zone_report.xlsx")["units"]
    header = [c.value for c in ws[1]]
    col = header.index("unit_name")
    cells = [row[col] for row in ws.iter_rows(min_row=2)]
    assert all(c.data_type == "s" for c in cells)
    assert set(plain) <= {c.value for c in cells}
    # the zone report: no element made from a name
    report = (out / "zone_report.html").read_text(encoding="utf-8")
    assert not re.search(r"<(script|img|svg onload)", report.split("</style>", 1)[1], re.I)
    shown = [
        html_lib.unescape(m)
        for m in re.findall(r'<span class="unit-name">(.*?)</span>', report, re.S)
    ]
    assert set(plain) <= set(shown)
    # the map: station names and unit names as JSON text; the title escaped
    page = (out / "map.html").read_text(encoding="utf-8")
    decoder = json.JSONDecoder()
    station_names = [
        decoder.raw_decode(page, m.end())[0]["name"]
        for m in re.finditer(r"var data = (?=\{)", page)
    ]
    assert set(plain) & set(stations["name"]) <= set(station_names)
    assert len(station_names) == len(stations)
    title = html_lib.unescape(re.search(r"<title>(.*?)</title>", page, re.S).group(1))
    assert title == cfg.maps.title
    for t in plain:
        if "<" in t:
            assert t not in page and t not in report
