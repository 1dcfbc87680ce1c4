"""The maps in a real browser: headless Chromium driven by Playwright (system Chromium).

Skipped with the reason when Playwright or Chromium is missing; CI installs both (see
docs/maps.md).  Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from browser import browser, open_page, skip_reason
from fixtures import XSS_IMG, XSS_SCRIPT, small_grid, small_prior, small_stations, small_units

from gridcarbon.contracts import UNIT_CATEGORY_COLOURS, MapInputs, ZoningResult
from gridcarbon.maps import LAYER_NAMES, MapConfig, make_map, raster_layer_name, write_map
from gridcarbon.scenario.geography import default_grid
from gridcarbon.species import DEFAULT_SPECIES

SPECIES = [s.name for s in DEFAULT_SPECIES]

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Locally the browser tests skip when Chromium or Playwright is missing; in CI they must run, so
# there a missing browser fails (test_browser_is_available_in_ci) instead of skipping quietly.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(skip_reason() is not None and not IN_CI, reason=skip_reason() or ""),
]


def test_browser_is_available_in_ci():
    assert skip_reason() is None, f"browser tests cannot run: {skip_reason()}"


@pytest.fixture(scope="module")
def ctx():
    with browser() as c:
        yield c


# JavaScript helpers evaluated in the page ------------------------------------------------------
FIND_MAP = "Object.values(window).find(v => v instanceof L.Map)"

COUNT_LAYERS = f"""() => {{
    const map = {FIND_MAP};
    const out = {{paths: 0, units: 0, images: 0, loaded_images: 0}};
    map.eachLayer(l => {{
        if (l instanceof L.Path) {{ out.paths += 1; }}
        if (l.feature && l.feature.properties && l.feature.properties.unit_code !== undefined) {{ out.units += 1; }}
    }});
    document.querySelectorAll('img.leaflet-image-layer').forEach(img => {{
        out.images += 1;
        if (img.complete && img.naturalWidth > 0) {{ out.loaded_images += 1; }}
    }});
    return out;
}}"""

CANVAS_INK = """() => {
    // share of non-transparent pixels on the vector canvas (boundaries, units, hotspots)
    const c = document.querySelector('.leaflet-overlay-pane canvas');
    if (!c) { return 0; }
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let ink = 0;
    for (let i = 3; i < d.length; i += 4 * 7) { if (d[i] > 0) { ink += 1; } }
    return ink / (d.length / (4 * 7));
}"""


def _unit_fills() -> str:
    return f"""() => {{
        const map = {FIND_MAP}; const out = [];
        map.eachLayer(l => {{ if (l.feature && l.feature.properties && l.feature.properties.unit_code !== undefined) {{ out.push(l.options.fillColor); }} }});
        return out;
    }}"""


# the default map --------------------------------------------------------------------------------
@pytest.mark.slow
def test_default_map_in_browser(ctx, default_map):
    p = open_page(ctx, default_map["path"], settle_ms=1500)
    shot = p.screenshot("default_map.png")
    assert shot.stat().st_size > 10_000
    assert p.console_errors() == []
    assert p.network_requests() == [], "the map made network requests"
    assert p.cdp_requests, "the DevTools protocol saw no request at all (not even the page)"

    names = p.layer_names()
    expected = [
        raster_layer_name(v, sp)
        for sp in ("CO2", "NOx", "VOC")
        for v in ("prior", "posterior", "difference", "uncertainty_reduction")
    ]
    expected += [
        LAYER_NAMES[k]
        for k in ("units", "province", "city", "county", "colocated", "pairwise", "stations")
    ]
    missing = [n for n in expected if n not in names]
    assert not missing, f"missing from the layer control: {missing}"
    # a scale bar
    assert p.js("!!document.querySelector('.leaflet-control-scale-line')")

    counts = p.js(COUNT_LAYERS)
    assert counts["units"] == len(default_map["inputs"].zoning.units)
    assert counts["paths"] > counts["units"]  # boundaries, hotspots and stations too
    assert p.js(CANVAS_INK) > 0.2  # units and boundaries are drawn

    # toggling a raster toggles its legend, and the raster image decodes
    key = "raster:posterior:CO2"
    assert not p.legend_visible(key)
    p.set_layer("CO2 posterior", True)
    assert p.legend_visible(key)
    counts = p.js(COUNT_LAYERS)
    assert counts["images"] == 1 and counts["loaded_images"] == 1
    p.set_layer(LAYER_NAMES["units"], False)
    assert not p.legend_visible("units")
    p.screenshot("default_map_co2_posterior.png")
    p.set_layer("CO2 posterior", False)
    assert not p.legend_visible(key)
    assert p.js(COUNT_LAYERS)["images"] == 0
    # the offline base layer: with units, hotspots and stations off, the canvas still shows the
    # province/city/county boundaries, and switching them off clears it
    for k in ("colocated", "stations"):
        p.set_layer(LAYER_NAMES[k], False)
    with_boundaries = p.js(CANVAS_INK)
    for k in ("province", "city", "county"):
        p.set_layer(LAYER_NAMES[k], False)
    without = p.js(CANVAS_INK)
    assert with_boundaries > 0.005 and without < with_boundaries / 5, (with_boundaries, without)
    for k in ("province", "city", "county", "units", "colocated", "stations"):
        p.set_layer(LAYER_NAMES[k], True)
    assert p.legend_visible("units")
    assert p.console_errors() == [] and p.network_requests() == []


# XSS ----------------------------------------------------------------------------------------------
def test_hostile_names_show_as_text_and_run_nothing(ctx, small_map_path):
    p = open_page(ctx, small_map_path)
    # a payload that ran would raise a dialog (alert) – none may appear, and no error
    assert p.dialogs == []
    assert p.console_errors() == []
    assert p.network_requests() == []
    # open every unit's tooltip and popup and every station's: text shows, no element injected
    texts = p.js(f"""() => {{
        const map = {FIND_MAP}; const out = [];
        map.eachLayer(l => {{
            if (l.feature && l.feature.properties && l.feature.properties.unit_code !== undefined) {{
                const parent = Object.values(l._eventParents || {{}})[0];
                const at = l.getBounds().getCenter();
                parent._tooltip._source = l;
                parent.openTooltip(at);
                const t = document.querySelector('.leaflet-tooltip');
                out.push({{kind: 'unit-tooltip', text: t.textContent, imgs: t.querySelectorAll('img,script').length}});
                parent.closeTooltip();
                parent._popup._source = l;
                parent.openPopup(at);
                const pp = document.querySelector('.leaflet-popup-content');
                out.push({{kind: 'unit-popup', text: pp.textContent, imgs: pp.querySelectorAll('img,script').length,
                           svgs: pp.querySelectorAll('svg polyline').length}});
                map.closePopup();
            }}
            if (l instanceof L.CircleMarker && l.getPopup && l.getPopup()) {{
                l.openPopup();
                const pp = document.querySelector('.leaflet-popup-content');
                out.push({{kind: 'station-popup', text: pp.textContent, imgs: pp.querySelectorAll('img,script').length,
                           svgs: pp.querySelectorAll('svg polyline').length}});
                map.closePopup();
                l.openTooltip();
                const t = document.querySelector('.leaflet-tooltip');
                out.push({{kind: 'station-tooltip', text: t ? t.textContent : '', imgs: t ? t.querySelectorAll('img,script').length : -1}});
                l.closeTooltip();
            }}
        }});
        return out;
    }}""")
    p.screenshot("small_map_after_popups.png")
    assert p.dialogs == [] and p.console_errors() == []
    kinds = {t["kind"] for t in texts}
    assert kinds == {"unit-tooltip", "unit-popup", "station-popup", "station-tooltip"}
    assert all(t["imgs"] == 0 for t in texts), [t for t in texts if t["imgs"]]
    joined = "\n".join(t["text"] for t in texts)
    for payload in (XSS_IMG, XSS_SCRIPT, "<b>ZH4</b>", '" onmouseover="alert(1)" x="'):
        assert payload in joined, f"{payload!r} is not shown as text"
    # popups carry their charts
    assert all(t["svgs"] >= 1 for t in texts if t["kind"] in ("unit-popup", "station-popup"))
    assert p.js("document.querySelectorAll('img:not(.leaflet-image-layer)').length") == 0


def test_template_literal_payloads_do_not_run(ctx, tmp_path):
    """Names that would break out of a JavaScript template literal or string stay inert."""
    grid = small_grid()
    prior = small_prior(grid)
    units = small_units(grid)
    units.loc[0, "unit_name"] = "${window.__pwned = 1}"
    units.loc[1, "unit_name"] = "`; window.__pwned = 2; `"
    units.loc[2, "subtype"] = "'); window.__pwned = 3; ('"
    st = small_stations(grid)
    st.loc[0, "name"] = "${window.__pwned = 4}"
    st.loc[1, "name"] = "`+(window.__pwned = 5)+`"
    st.loc[2, "kind"] = "</script><script>window.__pwned = 6</script>"
    inputs = MapInputs(prior, zoning=ZoningResult(units=units), stations=st)
    path = write_map(make_map(inputs), tmp_path / "tpl.html")
    p = open_page(ctx, path)
    p.js(f"""() => {{ const map = {FIND_MAP};
        map.eachLayer(l => {{ if (l.getPopup && l.getPopup()) {{ try {{ l.openPopup(); }} catch (e) {{}} map.closePopup(); }}
                             if (l.getTooltip && l.getTooltip()) {{ try {{ l.openTooltip(); l.closeTooltip(); }} catch (e) {{}} }} }}); }}""")
    assert p.js("window.__pwned === undefined")
    assert p.console_errors() == [] and p.dialogs == []


# raster placement ---------------------------------------------------------------------------------
def test_raster_cell_appears_at_its_lon_lat(ctx, tmp_path):
    """A hot cell at a known lon/lat is drawn at that place on the map, within one cell."""
    # the whole default grid, cell near its south-east corner: there Albers and Web Mercator
    # disagree most (an image stretched to the grid's lon/lat box would be ~3 cells off)
    grid = default_grid()
    r, c = grid.ny - 3, grid.nx - 3
    prior = small_prior(grid, hours=2, hot=(r, c))
    cfg = MapConfig(
        raster_species=["CO2"],
        raster_variants=["prior"],
        raster_initial="prior CO2",
        tile_layers=[],
        raster_opacity=1.0,
    )
    path = write_map(make_map(MapInputs(prior), cfg), tmp_path / "placement.html")
    p = open_page(ctx, path)
    lon, lat = (float(v) for v in grid.cell_center_lonlat(r, c))
    lon2, lat2 = (float(v) for v in grid.cell_center_lonlat(r, c + 1))
    got = p.js(
        f"""([lat, lon, lat2, lon2]) => {{
        const map = {FIND_MAP};
        map.setView([lat, lon], 11, {{animate: false}});
        return new Promise(resolve => setTimeout(() => {{
            const img = document.querySelector('img.leaflet-image-layer');
            const rect = img.getBoundingClientRect();
            const mrect = map.getContainer().getBoundingClientRect();
            const cv = document.createElement('canvas');
            cv.width = img.naturalWidth; cv.height = img.naturalHeight;
            const g = cv.getContext('2d'); g.drawImage(img, 0, 0);
            const d = g.getImageData(0, 0, cv.width, cv.height).data;
            // the hot cell is the only class above the lowest: classes run light to dark, so
            // its pixels are the darkest drawn
            let dark = 765;
            for (let i = 0; i < d.length; i += 4) {{ if (d[i + 3] > 0) {{ dark = Math.min(dark, d[i] + d[i + 1] + d[i + 2]); }} }}
            let sx = 0, sy = 0, n = 0;
            for (let y = 0; y < cv.height; y++) for (let x = 0; x < cv.width; x++) {{
                const i = 4 * (y * cv.width + x);
                if (d[i + 3] > 0 && d[i] + d[i + 1] + d[i + 2] === dark) {{ sx += x + 0.5; sy += y + 0.5; n++; }}
            }}
            const px = rect.left - mrect.left + sx / n * rect.width / cv.width;
            const py = rect.top - mrect.top + sy / n * rect.height / cv.height;
            const want = map.latLngToContainerPoint([lat, lon]);
            const next = map.latLngToContainerPoint([lat2, lon2]);
            resolve({{n: n, px: px, py: py, wx: want.x, wy: want.y,
                      cell: Math.hypot(next.x - want.x, next.y - want.y)}});
        }}, 400));
    }}""",
        [lat, lon, lat2, lon2],
    )
    p.screenshot("raster_placement.png")
    assert got["n"] > 0, "hot cell not found in the image"
    off = float(np.hypot(got["px"] - got["wx"], got["py"] - got["wy"]))
    assert got["cell"] > 20  # zoomed in enough for the check to mean something
    assert off < got["cell"], (
        f"cell drawn {off:.1f} px from its place (one cell = {got['cell']:.1f} px)"
    )
    assert off < 0.5 * got["cell"]


# time slider --------------------------------------------------------------------------------------
def test_time_slider_recolours_units_and_switches_legend(ctx, small_map_path):
    p = open_page(ctx, small_map_path)
    static = p.js(_unit_fills())
    options = p.js(
        "Array.from(document.querySelector('.gc-slider select').options).map(o => o.value)"
    )
    # the metric, then hour of day and month for every species
    assert options == ["metric"] + [f"{d}:{sp}" for d in ("hour", "month") for sp in SPECIES]

    def choose(mode: str) -> None:
        p.js(
            """(m) => { const s = document.querySelector('.gc-slider select');
                       s.value = m; s.dispatchEvent(new Event('change')); }""",
            mode,
        )

    choose("hour:CO2")
    frames = []
    for k in (0, 6, 12, 18):
        p.js(f"""() => {{ const r = document.querySelector('.gc-slider .gc-range');
                        r.value = {k}; r.dispatchEvent(new Event('input')); }}""")
        frames.append(p.js(_unit_fills()))
        assert p.js("document.querySelector('.gc-slider .gc-frame').textContent") == f"{k:02d}:00"
    assert len({tuple(f) for f in frames}) > 1, "the frames do not change the colours"
    vis = p.js("""() => Array.from(document.querySelectorAll('[data-gc-legend="units"] .gc-mode'))
                    .map(e => [e.getAttribute('data-mode'), e.style.display !== 'none'])""")
    assert dict(vis) == {m: m == "hour:CO2" for m in options}
    p.screenshot("small_map_hour_18.png")
    # another species: its own legend section, titled per km²
    choose("hour:NOx")
    shown = p.js("""() => Array.from(document.querySelectorAll('[data-gc-legend="units"] .gc-mode'))
                    .filter(e => e.style.display !== 'none').map(e => e.querySelector('.gc-title').textContent)""")
    assert shown == ["NOx per km² by hour"]
    choose("month:VOC")
    assert p.js("document.querySelector('.gc-slider .gc-frame').textContent") == "Jan"
    choose("metric")
    assert p.js(_unit_fills()) == static
    assert p.console_errors() == []


# layout at a small window -------------------------------------------------------------------------
LAYOUT = """() => {
    function box(e) {
        const r = e.getBoundingClientRect();
        // visible: inside the window, and the element itself is what shows at its centre
        const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
        return {left: r.left, top: r.top, right: r.right, bottom: r.bottom,
                inside: r.width > 0 && r.height > 0 && r.left >= 0 && r.top >= 0
                        && r.right <= innerWidth && r.bottom <= innerHeight,
                on_top: !!top && e.contains(top)};
    }
    const one = sel => { const e = document.querySelector(sel); return e ? box(e) : null; };
    const boxes = {banner: one('.gc-synthetic'), control: one('.leaflet-control-layers'),
                   slider: one('.gc-slider')};
    document.querySelectorAll('[data-gc-legend]').forEach(e => {
        if (e.isConnected && e.offsetParent !== null) { boxes['legend ' + e.getAttribute('data-gc-legend')] = box(e); }
    });
    return boxes;
}"""


def _overlaps(boxes: dict) -> list[tuple[str, str]]:
    names = [n for n, b in boxes.items() if b is not None]
    out = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            p, q = boxes[a], boxes[b]
            if (
                p["left"] < q["right"]
                and q["left"] < p["right"]
                and p["top"] < q["bottom"]
                and q["top"] < p["bottom"]
            ):
                out.append((a, b))
    return out


def test_banner_control_and_legends_fit_apart_at_1024_by_700(ctx, small_map_path):
    """A reviewer's laptop window: the synthetic banner, the layer control and every legend
    shown are inside the window, uncovered, and do not overlap; so with a raster legend too."""
    p = open_page(ctx, small_map_path, viewport=(1024, 700))
    p.screenshot("small_map_1024x700.png")
    assert not p.js("!!document.querySelector('.leaflet-control-layers-expanded')"), (
        "the layer control opens expanded"
    )
    boxes = p.js(LAYOUT)
    assert boxes["banner"] is not None and boxes["control"] is not None
    assert {"legend units", "legend colocated", "legend stations"} <= set(boxes), sorted(boxes)
    for name, b in boxes.items():
        assert b["inside"] and b["on_top"], (name, b)
    assert _overlaps(boxes) == []
    # the banner is a strip above the map: nothing of the map can cover it
    assert boxes["banner"]["top"] == 0
    map_top = p.js("document.querySelector('.folium-map').getBoundingClientRect().top")
    assert map_top >= boxes["banner"]["bottom"]

    p.set_layer("CO2 posterior", True)
    boxes = p.js(LAYOUT)
    assert "legend raster:posterior:CO2" in boxes
    for name, b in boxes.items():
        assert b["inside"] and b["on_top"], (name, b)
    assert _overlaps(boxes) == []
    p.screenshot("small_map_1024x700_raster.png")
    assert p.console_errors() == [] and p.network_requests() == []


def test_chinese_map_fits_at_1024_by_700_with_cjk_text(ctx, small_map_zh_path):
    """The map in Chinese: layer names and legends in Chinese, drawn with a CJK font, and the
    banner, layer control and legends still inside the window and apart."""
    p = open_page(ctx, small_map_zh_path, viewport=(1024, 700))
    p.screenshot("small_map_zh_1024x700.png")
    names = p.layer_names()
    assert "环境管控单元" in names and "二氧化碳后验排放" in names, names
    assert p.js("document.querySelector('.gc-synthetic').textContent").startswith("合成默认情景")
    assert p.js("document.fonts.check('12px \"Noto Sans CJK SC\"', '环境管控单元')")
    boxes = p.js(LAYOUT)
    assert boxes["banner"] is not None and boxes["control"] is not None
    for name, b in boxes.items():
        assert b["inside"] and b["on_top"], (name, b)
    assert _overlaps(boxes) == []
    legend = p.js("document.querySelector('[data-gc-legend=\"colocated\"]').textContent")
    assert "置信度" in legend
    assert p.console_errors() == [] and p.network_requests() == []


def test_units_by_category_in_the_conventional_colours(ctx, small_map_path):
    p = open_page(ctx, small_map_path)
    p.set_layer(LAYER_NAMES["units"], False)
    p.set_layer(LAYER_NAMES["unit_categories"], True)
    fills = p.js(
        f"""() => {{ const out = []; {FIND_MAP}.eachLayer(l => {{
            if (l.feature && l.options.interactive === false && l.options.fillColor) {{
                out.push([l.feature.properties.category, l.options.fillColor]); }} }});
            return out; }}"""
    )
    assert fills, "no unit drawn by category"
    for category, colour in fills:
        assert colour == UNIT_CATEGORY_COLOURS.get(category, "#bbbbbb"), (category, colour)
    assert p.legend_visible("unit_categories")
    assert p.console_errors() == []


def test_layer_control_groups_fold_and_keep_working(ctx, small_map_path):
    p = open_page(ctx, small_map_path, viewport=(1024, 700))
    p.page.hover(".leaflet-control-layers")
    p.page.wait_for_timeout(200)
    assert p.js("!!document.querySelector('.leaflet-control-layers-expanded')")
    groups = p.js("""() => Array.from(document.querySelectorAll('.gc-group')).map(g =>
        [g.getAttribute('data-gc-group'), Array.from(g.querySelectorAll('label')).map(l => l.textContent.trim())])""")
    titles = [t for t, _ in groups]
    assert titles == [
        "CO2: emission grids",
        "NOx: emission grids",
        "VOC: emission grids",
        "Control units",
        "Hotspots",
        "Stations",
        "Base map (offline)",
        "Web basemaps (need internet)",
    ]
    members = dict(groups)
    assert members["Base map (offline)"] == [
        LAYER_NAMES[k] for k in ("county", "city", "province", "places")
    ]
    assert raster_layer_name("difference", "NOx") in members["NOx: emission grids"]
    boxes = p.js(LAYOUT)
    # opened, the control is inside the window and over the legends; the banner stays uncovered
    assert boxes["control"]["inside"] and boxes["control"]["on_top"] and boxes["banner"]["on_top"]
    p.screenshot("small_map_1024x700_layers.png")
    # folding a group hides its entries; a layer switched off stays off through the redraw
    p.js("""() => Array.from(document.querySelectorAll('.gc-group-title'))
                 .find(h => h.textContent === 'Hotspots').click()""")
    shown = p.js("""() => Array.from(document.querySelectorAll('.gc-group[data-gc-group="Hotspots"] label'))
                   .map(l => l.offsetParent !== null)""")
    assert shown and not any(shown)
    p.set_layer(LAYER_NAMES["units"], False)
    assert not p.legend_visible("units")
    assert p.js("""() => document.querySelector('.gc-group[data-gc-group="Hotspots"]')
                   .classList.contains('gc-group-folded')""")
    p.set_layer(LAYER_NAMES["units"], True)
    assert p.legend_visible("units")
    assert p.console_errors() == []


def test_column_layers_in_browser(ctx, small, tmp_path):
    """The column layers of one overpass: drawn, no request, legends follow their layers, the
    popup shows the values and the (hostile) overpass id as text."""
    from dataclasses import replace

    from test_layers_columns import column_table

    from gridcarbon.maps.layers_columns import COLUMN_LAYER_NAMES

    inputs = replace(small["inputs"], column_observations=column_table(small["grid"]))
    path = write_map(make_map(inputs), tmp_path / "columns.html")
    p = open_page(ctx, path)
    assert p.dialogs == [] and p.console_errors() == [] and p.network_requests() == []
    names = p.layer_names()
    assert set(COLUMN_LAYER_NAMES.values()) <= set(names), names
    assert p.legend_visible("columns:observed")
    assert not p.legend_visible("columns:residual")
    p.set_layer(COLUMN_LAYER_NAMES["residual"], True)
    assert p.legend_visible("columns:residual")
    popup = p.js(f"""() => {{
        const map = {FIND_MAP}; let out = null;
        map.eachLayer(l => {{
            if (out === null && l.feature && l.feature.properties && l.feature.properties.time_bj !== undefined) {{
                const parent = Object.values(l._eventParents || {{}})[0];
                parent._popup._source = l;
                parent.openPopup(l.getBounds().getCenter());
                const pp = document.querySelector('.leaflet-popup-content');
                out = {{text: pp.textContent, bad: pp.querySelectorAll('img,script').length,
                        fill: l.options.fillColor}};
                map.closePopup();
            }}
        }});
        return out;
    }}""")
    p.screenshot("small_map_columns.png")
    assert popup is not None and popup["bad"] == 0
    assert XSS_SCRIPT in popup["text"]  # the overpass id, as text
    for text in (
        "time (Beijing)",
        "2023-01-02 18:31",
        "µmol m⁻²",
        "residual (obs − posterior fit)",
    ):
        assert text in popup["text"], popup["text"]
    assert popup["fill"].startswith("#")
    assert p.dialogs == [] and p.console_errors() == []
