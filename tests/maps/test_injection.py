"""Hostile strings in every place a user's text reaches the map; none may run, all show as text.

Places: unit code, name, category, subtype and pathway; unit column headers (tooltip labels and
the colouring metric's legend title); the units of the unit series (NetCDF attributes); station
id, name and kind; a station series' unit; boundary names; the map title; the prior's provenance
attributes; and, through ``gridcarbon map --run-dir``, the same read back from a run folder
(GeoPackage, NetCDF, the guarded CSVs, config.yaml).  Series names are species names, which
:class:`gridcarbon.species.Species` limits to letters, digits and underscores.
"""

from __future__ import annotations

import html
import json
import os
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import xarray as xr
from click.testing import CliRunner
from fixtures import (
    small_boundaries,
    small_grid,
    small_hotspots,
    small_prior,
    small_station_series,
    small_stations,
)

from gridcarbon.cli.maps import map_command
from gridcarbon.config import RunConfig
from gridcarbon.contracts import MapInputs, ZoningResult
from gridcarbon.io.tables import write_csv
from gridcarbon.maps import MapConfig, make_map, map_html, write_map
from gridcarbon.maps.assets import external_references
from gridcarbon.maps.layers_units import unit_columns
from gridcarbon.species import DEFAULT_SPECIES
from tests.payloads import canaries, canary_fired, payloads

SPECIES = [s.name for s in DEFAULT_SPECIES]
_label = unit_columns(DEFAULT_SPECIES).label

KINDS = ["background", "urban", "micro", "regional"]


def _rot(values: list[str], k: int) -> list[str]:
    return values[k:] + values[:k]


def hostile_inputs(tmp_path) -> dict:
    """Map inputs whose every user string is a payload (each payload in each place)."""
    texts = payloads(tmp_path)
    n = len(texts)
    grid = small_grid()
    prior = small_prior(grid, hours=24)
    prior.attrs["synthetic_components"] = " | ".join(texts)
    prior.attrs["input_checksums"] = texts[5]
    x0, y0, x1, y1 = grid.bounds
    cols = 6
    rows = -(-n // cols)
    xs, ys = np.linspace(x0, x1, cols + 1), np.linspace(y1, y0, rows + 1)
    boxes = [
        shapely.box(xs[k % cols], ys[k // cols + 1], xs[k % cols + 1], ys[k // cols])
        for k in range(n)
    ]
    header_cols = texts[:8]  # column headers: tooltip labels, the metric's legend title
    rng = np.random.default_rng(5)
    units = gpd.GeoDataFrame(
        {
            "unit_code": texts,
            "unit_name": _rot(texts, 1),
            "category": _rot(texts, 2),
            "subtype": _rot(texts, 3),
            "pathway": _rot(texts, 4),
            **{c: rng.uniform(0, 100, n) for c in header_cols},
        },
        geometry=boxes,
        crs=grid.crs,
    )
    h = np.arange(24)
    diurnal = xr.DataArray(
        np.einsum("u,hs->uhs", rng.uniform(1, 10, n), 1 + np.sin(h / 4)[:, None] * [1, 2, 3]),
        dims=("unit", "hour", "species"),
        coords={"unit": texts, "hour": h, "species": SPECIES},
        name="diurnal_profile",
        attrs={"units": texts[12]},
    )
    tally_month = xr.Dataset(
        {
            sp: (("unit", "month"), rng.uniform(1, 10, (n, 2)), {"units": texts[13 + i]})
            for i, sp in enumerate(SPECIES)
        },
        coords={"unit": texts, "month": pd.date_range("2023-01-01", periods=2, freq="MS")},
    )
    lon, lat = grid.cell_center_lonlat(
        np.arange(n) % grid.ny, (np.arange(n) * 5) % grid.nx
    )  # one station per payload, spread over the grid
    stations = pd.DataFrame(
        {
            "station_id": texts,
            "name": _rot(texts, 1),
            "lon": lon,
            "lat": lat,
            "kind": [KINDS[k % len(KINDS)] if k % 3 else texts[k] for k in range(n)],
        }
    )
    station_series = small_station_series(stations, days=2)
    station_series["unit"] = station_series["station_id"].map(
        dict(zip(texts, _rot(texts, 7), strict=True))
    )
    boundaries = {
        level: small_boundaries(grid, texts[i])[level]
        for i, level in enumerate(("province", "city", "county"))
    }
    cfg = MapConfig(
        title=" ".join(texts),
        unit_metric=header_cols[0],
        unit_tooltip_fields=header_cols,
        tile_layers=[],
    )
    units = units.to_crs("EPSG:4490")
    return {
        "texts": texts,
        "inputs": MapInputs(
            prior=prior,
            zoning=ZoningResult(
                units=units,
                diurnal=diurnal,
                tally_month=tally_month,
                hotspots={"day": small_hotspots(grid)},
            ),
            stations=stations,
            station_series=station_series,
            boundaries=boundaries,
        ),
        "config": cfg,
        "header_cols": header_cols,
    }


# -- reading the page's data back -------------------------------------------------------------------
_DECODER = json.JSONDecoder()


def _json_after(page: str, marker: str, count: int = 1) -> list:
    """The JSON value (``count`` > 1: the tuple of comma-separated values) after each match of
    the regular expression ``marker``."""
    out = []
    for m in re.finditer(marker, page):
        values, pos = [], m.end()
        for _ in range(count):
            value, pos = _DECODER.raw_decode(page, pos)
            values.append(value)
            pos = re.compile(r"\s*,\s*").match(page, pos).end() if len(values) < count else pos
        out.append(values[0] if count == 1 else tuple(values))
    return out


def unit_properties(page: str) -> list[dict]:
    feats = [f for fc in _json_after(page, r"\bgeo_json_\w+_add\(") for f in fc.get("features", [])]
    return [f["properties"] for f in feats if "unit_code" in f["properties"]]


def station_data(page: str) -> list[dict]:
    return _json_after(page, r"var data = (?=\{)")  # StationContent's


def page_title(page: str) -> str:
    return html.unescape(re.search(r"<title>(.*?)</title>", page, re.S).group(1))


def provenance(page: str) -> dict:
    m = re.search(r'id="gridcarbon-provenance">(.*?)</script>', page, re.S)
    return json.loads(m.group(1))


def _check_page(page: str, h: dict, tmp_path) -> None:
    texts = h["texts"]
    assert canary_fired(tmp_path) == []
    # the page's own structure only: every "</script>" ends a real script
    assert page.lower().count("</script>") == len(re.findall(r"<script\b", page, re.I))
    for t in texts:
        if "<" in t:
            assert t not in page, f"{t!r} is in the page raw"
    assert external_references(page) == []
    assert page_title(page) == h["config"].title
    prov = provenance(page)
    assert prov["synthetic_components"] == " | ".join(texts)
    assert prov["map_config"]["title"] == h["config"].title
    props = {p["unit_code"]: p for p in unit_properties(page)}
    assert sorted(props) == sorted(texts)
    for k, t in enumerate(texts):
        p = props[t]
        assert p["unit_name"] == _rot(texts, 1)[k]
        assert p["category"] == _rot(texts, 2)[k]
        assert p["subtype"] == _rot(texts, 3)[k]
        assert p["gc_info"] == f"co-control pathway: {_rot(texts, 4)[k]}"
    tooltips = _json_after(page, r"gc\.fieldTable\(", count=2)
    aliases = next(a for f, a in tooltips if f[0] == "unit_code")
    assert aliases == ["code", "name", "category", "subtype"] + [
        _label(c) for c in h["header_cols"]
    ]
    legends = [s for sections in _json_after(page, r"gc\.legend\(box, ") for s in sections]
    assert _label(h["header_cols"][0]) in [s["title"] for s in legends]
    by_id = {d["station_id"]: d for d in station_data(page)}
    assert sorted(by_id) == sorted(texts)
    for k, t in enumerate(texts):
        assert by_id[t]["name"] == _rot(texts, 1)[k]
    stations = h["inputs"].stations
    units_of = dict(zip(texts, _rot(texts, 7), strict=True))
    for sid, d in by_id.items():
        assert d["kind"] == stations.loc[stations["station_id"] == sid, "kind"].item()
        assert d["stats"]["rows"][0][0] == f"CO2 ({units_of[sid]})"
        assert d["charts"][0]["units"] == units_of[sid]


def boundary_names(page: str) -> list[str]:
    feats = [f for fc in _json_after(page, r"\bgeo_json_\w+_add\(") for f in fc.get("features", [])]
    return [f["properties"]["name"] for f in feats if set(f["properties"]) == {"name"}]


def test_hostile_strings_stay_text_in_the_map(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    h = hostile_inputs(tmp_path)
    page = map_html(make_map(h["inputs"], h["config"]))
    _check_page(page, h, tmp_path)
    assert sorted(boundary_names(page)) == sorted(h["texts"][:3])
    # the city's name is also a place label, as JSON data drawn with textContent
    assert [lab[0] for lab in _json_after(page, r"gc\.placeLabels\(")[0]] == [h["texts"][1]]
    charts = _json_after(page, r"var charts = ")[0]
    assert [v["units"] for v in charts["hour"]["vars"]] == [h["texts"][12]] * 3
    assert [v["units"] for v in charts["month"]["vars"]] == h["texts"][13:16]


def test_template_canaries_never_fire(tmp_path, monkeypatch):
    """Names that would create a directory if rendered as a template (the review's finding)."""
    monkeypatch.chdir(tmp_path)
    grid = small_grid()
    units = hostile_units_one(grid, canaries(tmp_path)[1])
    units["unit_code"] = canaries(tmp_path)[0]
    stations = small_stations(grid)
    stations["name"] = [*canaries(tmp_path), "{{7*7}}"]
    inputs = MapInputs(
        small_prior(grid, hours=2), zoning=ZoningResult(units=units), stations=stations
    )
    page = map_html(make_map(inputs))
    assert canary_fired(tmp_path) == []
    assert [d["name"] for d in station_data(page)] == [*canaries(tmp_path), "{{7*7}}"]
    assert [p["unit_name"] for p in unit_properties(page)] == [canaries(tmp_path)[1]]


@pytest.mark.parametrize("payload", ["{% raw %}", "{#", "{% if %}", "{{", "}}{{7*7}}"])
def test_template_syntax_in_a_name_does_not_break_the_map(payload):
    grid = small_grid()
    units = hostile_units_one(grid, payload)
    page = map_html(make_map(MapInputs(small_prior(grid, hours=2), zoning=ZoningResult(units))))
    assert [p["unit_name"] for p in unit_properties(page)] == [payload]


def hostile_units_one(grid, name: str) -> gpd.GeoDataFrame:
    x0, y0, x1, y1 = grid.bounds
    return gpd.GeoDataFrame(
        {"unit_code": ["U1"], "unit_name": [name], "v": [1.0]},
        geometry=[shapely.box(x0, y0, x1, y1)],
        crs=grid.crs,
    )


def test_run_folder_with_hostile_files(tmp_path, monkeypatch):
    """``gridcarbon map --run-dir`` on a folder whose every file carries payloads."""
    monkeypatch.chdir(tmp_path)
    h = hostile_inputs(tmp_path)
    inp = h["inputs"]
    run = tmp_path / "run"
    run.mkdir()
    inp.prior.to_netcdf(run / "prior.nc")
    inp.zoning.units.to_file(run / "zone_units.gpkg", layer="zone_units")
    inp.zoning.diurnal.to_dataset().to_netcdf(run / "zone_diurnal.nc")
    month = inp.zoning.tally_month
    month.rename({v: f"{v}_monthly" for v in month.data_vars}).to_netcdf(
        run / "zone_tally_daily.nc"
    )
    inp.zoning.hotspots["day"].to_netcdf(run / "hotspots_day.nc")
    # the run's own, guarded, CSVs; the stations come from the per-station statistics
    write_csv(inp.stations.assign(species="CO2"), run / "station_stats.csv")
    write_csv(inp.station_series, run / "station_series.csv")
    cfg = RunConfig.validate_dict({"maps": h["config"].model_dump(mode="json")})
    (run / "config.yaml").write_text(cfg.to_yaml(), encoding="utf-8")
    r = CliRunner().invoke(map_command, ["--run-dir", str(run), "--out", str(tmp_path / "m.html")])
    assert r.exit_code == 0, r.output
    page = (tmp_path / "m.html").read_text(encoding="utf-8")
    _check_page(page, h, tmp_path)
    # NetCDF attributes reach the charts as text
    charts = _json_after(page, r"var charts = ")[0]
    assert [v["units"] for v in charts["hour"]["vars"]] == [h["texts"][12]] * 3
    assert [v["units"] for v in charts["month"]["vars"]] == h["texts"][13:16]


def test_map_file_name_is_a_plain_name():
    from gridcarbon.errors import ConfigError

    for bad in ("../map.html", "/tmp/x.html", "a\\b.html", "map.html\x1b", "map.js"):
        with pytest.raises(ConfigError, match="plain file name"):
            RunConfig.validate_dict({"maps": {"file_name": bad}})
    assert (
        RunConfig.validate_dict({"maps": {"file_name": "地图.html"}}).maps.file_name == "地图.html"
    )


# -- in a browser ---------------------------------------------------------------------------------
def _skip() -> str | None:
    from browser import skip_reason

    return skip_reason()


FIND_MAP = "Object.values(window).find(v => v instanceof L.Map)"

OPEN_ALL = f"""() => {{
    const map = {FIND_MAP}; const units = [], stations = [];
    map.eachLayer(l => {{
        const p = l.feature && l.feature.properties;
        if (p && p.unit_code !== undefined) {{
            const parent = Object.values(l._eventParents || {{}})[0];
            const at = l.getBounds().getCenter();
            parent._tooltip._source = l; parent.openTooltip(at);
            const t = parent.getTooltip().getElement();
            const th = Array.from(t.querySelectorAll('th')).map(e => e.textContent);
            const td = Array.from(t.querySelectorAll('td')).map(e => e.textContent);
            parent.closeTooltip();
            parent._popup._source = l; parent.openPopup(at);
            const pp = parent.getPopup().getElement().querySelector('.gc-popup');
            units.push({{code: p.unit_code, th: th, td: td,
                         head: pp.querySelector('.gc-h').textContent,
                         sub: pp.children[1].textContent,
                         info: (pp.querySelector('.gc-info') || {{}}).textContent || null,
                         charts: Array.from(pp.querySelectorAll('svg > text:first-of-type')).map(e => e.textContent)}});
            map.closePopup();
        }}
        if (l instanceof L.CircleMarker && !l.feature && l.getPopup && l.getPopup()) {{
            l.openPopup();
            const pp = l.getPopup().getElement().querySelector('.gc-popup');
            const head = pp.querySelector('.gc-h').textContent, sub = pp.children[1].textContent;
            const unitCell = pp.querySelector('td').textContent;
            map.closePopup();
            l.openTooltip();
            const t = l.getTooltip().getElement().textContent;
            l.closeTooltip();
            stations.push({{head: head, sub: sub, unit: unitCell, tooltip: t}});
        }}
    }});
    return {{units: units, stations: stations}};
}}"""


@pytest.mark.browser
@pytest.mark.skipif(
    _skip() is not None and os.environ.get("CI", "").lower() not in ("1", "true", "yes"),
    reason=_skip() or "",
)
def test_hostile_map_in_browser(tmp_path, monkeypatch):
    from browser import browser, open_page

    monkeypatch.chdir(tmp_path)
    h = hostile_inputs(tmp_path)
    texts = h["texts"]
    path = write_map(make_map(h["inputs"], h["config"]), tmp_path / "hostile.html")
    with browser() as ctx:
        p = open_page(ctx, path)
        n_scripts = p.js("document.scripts.length")
        assert p.js("document.querySelector('title').textContent") == h["config"].title
        prov = p.js("JSON.parse(document.getElementById('gridcarbon-provenance').textContent)")
        got = p.js(OPEN_ALL)
        legend_titles = p.js(
            "Array.from(document.querySelectorAll('.gc-legend .gc-title')).map(e => e.textContent)"
        )
        options = p.js(
            "Array.from(document.querySelectorAll('.gc-slider option')).map(e => e.textContent)"
        )
        places = p.js(
            "Array.from(document.querySelectorAll('.gc-place')).map(e => "
            "[e.textContent, e.querySelectorAll('*').length])"
        )
        injected = p.js(
            "document.querySelectorAll('img:not(.leaflet-image-layer), iframe, object, embed,"
            " .leaflet-popup-content script, .leaflet-tooltip script').length"
        )
        assert p.js("document.scripts.length") == n_scripts
        assert p.dialogs == [], p.dialogs
        assert p.network_requests() == []
        assert p.console_errors() == []
    assert injected == 0
    assert places == [[texts[1], 1]]  # the label's one span, its text the city's name
    assert prov["synthetic_components"] == " | ".join(texts)
    assert _label(h["header_cols"][0]) in legend_titles
    assert [f"Hour of day (Beijing): {sp}" for sp in SPECIES] == options[1:4]
    units = {u["code"]: u for u in got["units"]}
    assert sorted(units) == sorted(texts)
    for k, t in enumerate(texts):
        u = units[t]
        assert u["th"] == ["code", "name", "category", "subtype"] + [
            _label(c) for c in h["header_cols"]
        ]
        assert u["td"][:4] == [t, _rot(texts, 1)[k], _rot(texts, 2)[k], _rot(texts, 3)[k]]
        assert u["head"] == _rot(texts, 1)[k] and u["sub"] == t
        assert u["info"] == f"co-control pathway: {_rot(texts, 4)[k]}"
        assert u["charts"] == [f"{sp} by hour (Beijing) ({texts[12]})" for sp in SPECIES] + [
            f"{sp} by month ({texts[13 + i]})" for i, sp in enumerate(SPECIES)
        ]
    st = h["inputs"].stations
    units_of = dict(zip(texts, _rot(texts, 7), strict=True))
    want = sorted(
        (
            r.name,
            f"{r.station_id} · {r.kind}",
            f"CO2 ({units_of[r.station_id]})",
            f"{r.name} ({r.kind})",
        )
        for r in st.itertuples()
    )
    got_st = [(s["head"], s["sub"], s["unit"], s["tooltip"]) for s in got["stations"]]
    assert sorted(got_st) == want
