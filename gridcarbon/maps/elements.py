"""The few map pieces folium has no element for: a legend tied to its layer, and a time slider.

Both are small :class:`branca.element.MacroElement` templates; their JavaScript is the least
needed and is exercised by the browser tests (``tests/maps/test_browser.py``).

* :class:`LayerLegend` — a Leaflet control holding a legend that is on the map exactly while its
  layer is (it listens to the layer's own ``add``/``remove`` events, so the layer control, code
  and the initial ``show=False`` all keep it in step).  folium's Choropleth legend and branca's
  colormap legends stay on regardless, and branca's load d3 from a CDN.
* :class:`UnitTimeSlider` — a control with a mode selector (the static unit metric, hour of day
  in Beijing time, month) and a range slider that recolours the unit layer from per-feature class
  strings (one base-36 character per frame, ``_`` = zero, ``-`` = no data) and switches the unit legend's
  section to match.
"""

from __future__ import annotations

import html

from branca.element import Element, MacroElement
from jinja2 import Template

__all__ = ["LayerLegend", "UnitTimeSlider", "UnitSeriesPopup", "BindContent", "map_css", "escape"]


class LayerLegend(MacroElement):
    """A legend shown while ``layer`` is on the map.

    Parameters
    ----------
    layer : folium layer
        The layer the legend belongs to (already added to the map).
    html_content : str
        Legend body (must already be escaped, e.g. from :func:`gridcarbon.maps.scales.legend_html`).
    key : str
        Identifier written to ``data-gc-legend`` (tests and the time slider find the box by it).
    position : str
        Leaflet control corner.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function(){
            var map = {{ this._parent.get_name() }};
            var layer = {{ this.layer.get_name() }};
            var box = null;
            var ctl = L.control({position: {{ this.position|tojson }}});
            ctl.onAdd = function() {
                if (box === null) {
                    box = L.DomUtil.create('div', 'gc-legend leaflet-control');
                    box.setAttribute('data-gc-legend', {{ this.key|tojson }});
                    box.innerHTML = {{ this.html_content|tojson }};
                    L.DomEvent.disableClickPropagation(box);
                    L.DomEvent.disableScrollPropagation(box);
                }
                return box;
            };
            var shown = false;
            function sync() {
                var on = map.hasLayer(layer);
                if (on && !shown) { ctl.addTo(map); shown = true; }
                else if (!on && shown) { ctl.remove(); shown = false; }
            }
            layer.on('add', sync);
            layer.on('remove', sync);
            map.whenReady(sync);
        })();
        {% endmacro %}
        """
    )

    def __init__(self, layer, html_content: str, key: str, position: str = "bottomright"):
        super().__init__()
        self._name = "LayerLegend"
        self.layer = layer
        self.html_content = html_content
        self.key = key
        self.position = position


class UnitTimeSlider(MacroElement):
    """Mode selector + slider recolouring a GeoJson layer frame by frame.

    Parameters
    ----------
    layer : folium.GeoJson
        The unit layer; each feature's ``properties[prop]`` is a string with one base-36 class
        character per frame (``-`` = no data).
    modes : dict
        ``{mode: {"label": str, "prop": str, "frames": [str], "colors": [hex]}}`` for the
        modes ``"hour"`` and/or ``"month"``.
    legend_key : str
        ``data-gc-legend`` of the unit legend, whose ``.gc-mode[data-mode=...]`` sections are
        shown for the active mode (``"metric"`` for the static colouring).
    metric_label : str
        Label of the static mode in the selector.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function(){
            var map = {{ this._parent.get_name() }};
            var layer = {{ this.layer.get_name() }};
            var modes = {{ this.modes|tojson }};
            var state = {mode: 'metric', k: 0};
            var ctl = L.control({position: 'bottomleft'});
            var sel, rng, lab;
            function showLegend() {
                document.querySelectorAll('[data-gc-legend={{ this.legend_key|tojson }}] .gc-mode')
                    .forEach(function(el){ el.style.display = (el.getAttribute('data-mode') === state.mode) ? '' : 'none'; });
            }
            function apply() {
                var m = modes[state.mode];
                if (!m) {
                    layer.eachLayer(function(l){ layer.resetStyle(l); });
                    rng.disabled = true; lab.textContent = '';
                } else {
                    rng.disabled = false;
                    rng.max = m.frames.length - 1;
                    if (state.k > m.frames.length - 1) { state.k = 0; }
                    rng.value = state.k;
                    lab.textContent = m.frames[state.k];
                    layer.eachLayer(function(l){
                        var s = l.feature.properties[m.prop] || '';
                        var ch = s.charAt(state.k);
                        if (ch === '_') { l.setStyle({fillColor: m.zero, fillOpacity: 0.75}); return; }
                        var i = (ch === '' || ch === '-') ? -1 : parseInt(ch, 36);
                        l.setStyle(i < 0 ? {fillColor: '#cccccc', fillOpacity: 0.25}
                                         : {fillColor: m.colors[i], fillOpacity: 0.75});
                    });
                }
                showLegend();
                container.setAttribute('data-mode', state.mode);
                container.setAttribute('data-frame', String(state.k));
            }
            var container;
            ctl.onAdd = function() {
                container = L.DomUtil.create('div', 'gc-slider leaflet-control');
                var t = L.DomUtil.create('div', 'gc-title', container);
                t.textContent = {{ this.title|tojson }};
                sel = L.DomUtil.create('select', 'gc-mode-select', container);
                var o = document.createElement('option'); o.value = 'metric';
                o.textContent = {{ this.metric_label|tojson }}; sel.appendChild(o);
                Object.keys(modes).forEach(function(k){
                    var o2 = document.createElement('option'); o2.value = k;
                    o2.textContent = modes[k].label; sel.appendChild(o2);
                });
                rng = L.DomUtil.create('input', 'gc-range', container);
                rng.type = 'range'; rng.min = 0; rng.step = 1;
                lab = L.DomUtil.create('span', 'gc-frame', container);
                sel.addEventListener('change', function(){ state.mode = sel.value; state.k = 0; apply(); });
                rng.addEventListener('input', function(){ state.k = parseInt(rng.value, 10); apply(); });
                L.DomEvent.disableClickPropagation(container);
                L.DomEvent.disableScrollPropagation(container);
                setTimeout(apply, 0);
                return container;
            };
            function sync() {
                if (map.hasLayer(layer)) { ctl.addTo(map); setTimeout(apply, 0); } else { ctl.remove(); }
            }
            layer.on('add', sync);
            layer.on('remove', sync);
            map.whenReady(sync);
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        layer,
        modes: dict,
        legend_key: str,
        metric_label: str,
        title: str = "Control units over time",
    ):
        super().__init__()
        self._name = "UnitTimeSlider"
        self.layer = layer
        self.modes = modes
        self.legend_key = legend_key
        self.metric_label = metric_label
        self.title = title


class UnitSeriesPopup(MacroElement):
    """Popups of a GeoJson layer with small SVG line charts drawn from per-feature numbers.

    Storing a chart's SVG per unit would cost ~5 KB per unit in the HTML; the numbers cost a
    tenth of that, so the SVG is drawn when a popup opens.  Each feature carries
    ``properties[prop] = {"hour": [[24 values], ...], "month": [[12 values], ...]}`` (one list
    per variable of ``charts[dim]``, null = no data); the header shows ``properties.unit_name``
    and ``properties.unit_code`` (and ``properties.gc_info``, e.g. the co-control pathway), which
    must already be HTML-escaped (as the tooltip's are).

    Parameters
    ----------
    layer : folium.GeoJson
    charts : dict
        ``{dim: {"labels": [...], "every": int, "vars": [{"title": str, "units": str}]}}``.
    prop : str
        The property holding the numbers.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function(){
            var layer = {{ this.layer.get_name() }};
            var charts = {{ this.charts|tojson }};
            function esc(s) { var d = document.createElement('div'); d.textContent = String(s); return d.innerHTML; }
            function fmt(v) {
                if (!isFinite(v)) { return '–'; }
                var a = Math.abs(v);
                if (a !== 0 && (a >= 1e5 || a < 1e-3)) { return v.toExponential(2); }
                return Number(v.toPrecision(3)).toLocaleString('en');
            }
            function chart(title, units, labels, values, every) {
                var W = 240, H = 96, L = 34, R = 6, T = 14, B = 16, pw = W - L - R, ph = H - T - B;
                var fin = values.filter(function(v){ return v !== null && isFinite(v); });
                if (fin.length === 0) { return ''; }
                var lo = Math.min.apply(null, fin), hi = Math.max.apply(null, fin);
                if (hi === lo) { var d = Math.abs(lo) || 1; lo -= 0.05 * d; hi += 0.05 * d; }
                var n = values.length;
                function px(i) { return L + (n > 1 ? Math.round(i * pw / (n - 1)) : Math.round(pw / 2)); }
                function py(v) { return T + Math.round((hi - v) / (hi - lo) * ph); }
                var s = '<svg xmlns="http://www.w3.org/2000/svg" width="' + W + '" height="' + H +
                    '" class="gc-chart" font-size="9" font-family="sans-serif">' +
                    '<text x="' + L + '" y="10">' + esc(title) + (units ? ' (' + esc(units) + ')' : '') + '</text>' +
                    '<rect x="' + L + '" y="' + T + '" width="' + pw + '" height="' + ph + '" fill="none" stroke="#bbb"/>' +
                    '<text x="' + (L - 2) + '" y="' + (T + 7) + '" text-anchor="end">' + esc(fmt(hi)) + '</text>' +
                    '<text x="' + (L - 2) + '" y="' + (T + ph) + '" text-anchor="end">' + esc(fmt(lo)) + '</text>';
                for (var i = 0; i < n; i += every) {
                    s += '<text x="' + px(i) + '" y="' + (H - 4) + '" text-anchor="middle">' + esc(labels[i]) + '</text>';
                }
                var pts = [];
                values.forEach(function(v, i) { if (v !== null && isFinite(v)) { pts.push(px(i) + ',' + py(v)); } });
                s += '<polyline fill="none" stroke="#0072B2" stroke-width="1.3" points="' + pts.join(' ') + '"/>';
                return s + '</svg>';
            }
            layer.bindPopup(function(l) {
                var p = l.feature.properties, data = p[{{ this.prop|tojson }}] || {};
                var html = '<div class="gc-popup"><div class="gc-h">' + (p.unit_name || '') +
                    '</div><div>' + (p.unit_code || '') + '</div>' +
                    (p.gc_info ? '<div class="gc-info">' + p.gc_info + '</div>' : '');
                var any = false;
                Object.keys(charts).forEach(function(dim) {
                    var c = charts[dim], rows = data[dim] || [];
                    c.vars.forEach(function(v, j) {
                        if (rows[j]) { var svg = chart(v.title, v.units, c.labels, rows[j], c.every); if (svg) { any = true; html += svg; } }
                    });
                });
                if (!any) { html += '<div><i>no time series for this unit</i></div>'; }
                return html + '</div>';
            }, {maxWidth: 520, className: 'gc-unit-popup'});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, layer, charts: dict, prop: str = "gc_s"):
        super().__init__()
        self._name = "UnitSeriesPopup"
        self.layer = layer
        self.charts = charts
        self.prop = prop


class BindContent(MacroElement):
    """Bind a popup and/or tooltip of ready-made (escaped) HTML to a layer.

    folium's ``Tooltip`` and ``Popup(Html(...))`` put their text inside a JavaScript template
    literal (and ``Html`` needs jQuery), so a ``${...}`` or a backtick in a station name would be
    evaluated.  Here the HTML goes in as a JSON string literal (``tojson`` escapes ``<``, ``>``,
    ``&`` and quotes), which is never evaluated; the caller escapes the text (see :func:`escape`).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {%- if this.popup_html is not none %}
        {{ this._parent.get_name() }}.bindPopup({{ this.popup_html|tojson }}, {maxWidth: {{ this.max_width|tojson }}});
        {%- endif %}
        {%- if this.tooltip_html is not none %}
        {{ this._parent.get_name() }}.bindTooltip({{ this.tooltip_html|tojson }}, {sticky: true});
        {%- endif %}
        {% endmacro %}
        """
    )

    def __init__(
        self, popup_html: str | None = None, tooltip_html: str | None = None, max_width: int = 360
    ):
        super().__init__()
        self._name = "BindContent"
        self.popup_html = popup_html
        self.tooltip_html = tooltip_html
        self.max_width = max_width


_CSS = """
<style>
.gc-legend, .gc-slider { background: rgba(255,255,255,0.92); padding: 6px 8px; border-radius: 4px;
  box-shadow: 0 1px 4px rgba(0,0,0,0.35); font: 11px/1.3 "Helvetica Neue", Arial, sans-serif;
  max-height: 42vh; overflow-y: auto; }
.gc-legend .gc-title, .gc-slider .gc-title { font-weight: bold; margin-bottom: 2px; max-width: 220px; }
.gc-legend .gc-sub, .gc-legend .gc-units, .gc-legend .gc-note { color: #444; max-width: 220px; }
.gc-legend .gc-row { display: flex; align-items: center; gap: 5px; }
.gc-legend .gc-sw { display: inline-block; width: 16px; height: 11px; border: 1px solid #777; }
.gc-legend .gc-dot { border-radius: 50%; width: 11px; }
.gc-slider select { display: block; margin: 3px 0; }
.gc-slider .gc-range { width: 180px; vertical-align: middle; }
.gc-slider .gc-frame { display: inline-block; min-width: 52px; margin-left: 4px; font-weight: bold; }
.leaflet-image-layer { image-rendering: pixelated; image-rendering: crisp-edges; }
.gc-tooltip table, .leaflet-tooltip table { font-size: 11px; line-height: 1.25; }
.gc-tooltip th, .gc-tooltip td { padding: 0 4px; }
.gc-tooltip th { text-align: left; font-weight: normal; color: #555; }
.gc-popup table { border-collapse: collapse; font-size: 11px; }
.gc-popup th, .gc-popup td { padding: 1px 5px; text-align: right; border-bottom: 1px solid #eee; }
.gc-popup th:first-child, .gc-popup td:first-child { text-align: left; }
.gc-popup .gc-h { font-weight: bold; font-size: 12px; }
.gc-popup .gc-info { max-width: 480px; color: #333; margin: 2px 0 4px; }
.gc-synthetic { position: absolute; left: 50%; transform: translateX(-50%); top: 6px; z-index: 1000;
  background: rgba(255,255,255,0.85); padding: 2px 8px; border-radius: 3px; font: 11px Arial, sans-serif; }
</style>
"""


def map_css() -> Element:
    """The map's stylesheet (legends, slider, popups, crisp raster pixels)."""
    return Element(_CSS)


def escape(text: object) -> str:
    """HTML-escape any value for tooltips and popups (quotes included)."""
    return html.escape("" if text is None else str(text), quote=True)
