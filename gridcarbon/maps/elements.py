"""The map's own elements, and the rule that keeps data out of templates.

**No runtime string is ever template source.**  branca's :class:`~branca.element.MacroElement`
renders its macros and wraps the output in ``Element(output)``, which is parsed and rendered as
a Jinja template a second time: a unit name ``{{7*7}}`` in a folium ``GeoJson`` became ``49``,
and ``{{ lipsum.__globals__.os... }}`` ran code.  Here:

* :class:`Verbatim` is page text that is never parsed (its ``render`` returns it as is);
* :class:`VerbatimRender` is a MacroElement whose macro output goes into the page as
  :class:`Verbatim`, so it is rendered exactly once.  Every element of ours derives from it, and
  so do :class:`GeoJson` and :class:`LayerControl`, the folium elements that carry names;
* every template is a literal string compiled with autoescape on; data enter it only through
  ``|tojson`` (JSON with ``<``, ``>``, ``&`` and ``'`` escaped) or autoescaped ``{{ }}``;
* the browser side (:data:`GC_SCRIPT`, literal JavaScript) builds tooltips, popups, legends and
  charts with ``createElement`` and ``textContent`` from that JSON: no name is ever HTML.

The elements:

* :class:`LayerLegend` — a Leaflet control holding a legend that is on the map exactly while its
  layer is (it listens to the layer's own ``add``/``remove`` events).  folium's Choropleth legend
  and branca's colormap legends stay on regardless, and branca's load d3 from a CDN.
* :class:`UnitTimeSlider` — a mode selector (the static unit metric, hour of day in Beijing
  time, month) and a range slider that recolours the unit layer from per-feature class strings
  (one base-36 character per frame, ``_`` = zero, ``-`` = no data) and switches the unit
  legend's section to match.
* :class:`FeatureTooltip`, :class:`UnitSeriesPopup`, :class:`StationContent` — tooltips and
  popups drawn from feature properties or JSON data.

Their JavaScript is exercised by the browser tests (``tests/maps/test_browser.py``).
"""

from __future__ import annotations

from typing import Any

import folium
import jinja2
from branca.element import Element, Figure, MacroElement

__all__ = [
    "Verbatim",
    "VerbatimRender",
    "GeoJson",
    "LayerControl",
    "LayerLegend",
    "UnitTimeSlider",
    "UnitSeriesPopup",
    "FeatureTooltip",
    "StationContent",
    "page_head",
    "map_css",
    "map_script",
    "synthetic_banner",
]

#: Every template of the map is compiled here: autoescape on.
_ENV = jinja2.Environment(autoescape=True)


class Verbatim(Element):
    """Text placed in the page as it is; unlike :class:`branca.element.Element`, never a template.

    Only this module makes them: from literal strings, from the output of an autoescaped
    literal template (:func:`page_head`) and from macro output (:class:`VerbatimRender`).
    """

    def __init__(self, text: str):
        super().__init__()
        self._name = "Verbatim"
        self._text = str(text)

    def render(self, **kwargs: Any) -> str:
        return self._text


class VerbatimRender(MacroElement):
    """A MacroElement whose rendered macros enter the page once, as :class:`Verbatim`.

    Mixed into a folium class (``class X(folium.Y, VerbatimRender)``) it takes the place of
    :meth:`branca.element.MacroElement.render` in the method order, so the folium class's own
    ``render`` still runs first.
    """

    def render(self, **kwargs: Any) -> None:
        figure = self.get_root()
        if not isinstance(figure, Figure):
            raise TypeError(f"{type(self).__name__} can only be rendered inside a Figure")
        module = self._template.module
        for part in ("header", "html", "script"):
            macro = getattr(module, part, None)
            if macro is not None:
                getattr(figure, part).add_child(Verbatim(macro(self, kwargs)), name=self.get_name())
        for child in self._children.values():
            child.render(**kwargs)


class GeoJson(folium.GeoJson, VerbatimRender):
    """``folium.GeoJson`` whose output (the features, names included) is rendered once.

    Style functions return plain values: folium's way of naming another element inside a style
    (``"{{'name'}}"``) needs the second rendering and is not available here.
    """


class LayerControl(folium.LayerControl, VerbatimRender):
    """``folium.LayerControl`` whose output (the layer names) is rendered once."""


# -- page furniture ----------------------------------------------------------------------------------
_HEAD = _ENV.from_string(
    "<title>{{ title }}</title>"
    '<meta name="generator" content="gridcarbon {{ version }}"/>'
    '<script type="application/json" id="gridcarbon-provenance">{{ provenance|tojson }}</script>'
)


def page_head(title: str, version: str, provenance: dict[str, Any]) -> Verbatim:
    """``<title>``, generator ``<meta>`` and the provenance as JSON (``id=gridcarbon-provenance``).

    The title and version are HTML-escaped; the provenance is JSON with ``<``, ``>``, ``&`` and
    ``'`` escaped, so no value can end the script element.
    """
    return Verbatim(_HEAD.render(title=title, version=version, provenance=provenance))


_BANNER = (
    '<div class="gc-synthetic">Synthetic default scenario: emission figures and '
    "facilities are made up, built on real boundaries</div>"
)


def synthetic_banner() -> Verbatim:
    """The banner of maps of synthetic data."""
    return Verbatim(_BANNER)


# -- elements ---------------------------------------------------------------------------------------
class LayerLegend(VerbatimRender):
    """A legend shown while ``layer`` is on the map.

    Parameters
    ----------
    layer : folium layer
        The layer the legend belongs to (already added to the map).
    sections : list of dict
        Legend sections from :func:`gridcarbon.maps.scales.legend_section` or
        :func:`~gridcarbon.maps.scales.categorical_legend_section` (plain text and colours;
        drawn with ``textContent``).  A section with a ``mode`` is one of the unit legend's
        per-mode parts (``hidden`` ones start hidden).
    key : str
        Identifier written to ``data-gc-legend`` (tests and the time slider find the box by it).
    position : str
        Leaflet control corner.
    """

    _template = _ENV.from_string(
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
                    gc.legend(box, {{ this.sections|tojson }});
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

    def __init__(
        self, layer, sections: list[dict[str, Any]], key: str, position: str = "bottomright"
    ):
        super().__init__()
        self._name = "LayerLegend"
        self.layer = layer
        self.sections = sections
        self.key = key
        self.position = position


class UnitTimeSlider(VerbatimRender):
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

    _template = _ENV.from_string(
        """
        {% macro script(this, kwargs) %}
        (function(){
            var map = {{ this._parent.get_name() }};
            var layer = {{ this.layer.get_name() }};
            var modes = {{ this.modes|tojson }};
            var legendKey = {{ this.legend_key|tojson }};
            var state = {mode: 'metric', k: 0};
            var ctl = L.control({position: 'bottomleft'});
            var sel, rng, lab;
            function showLegend() {
                document.querySelectorAll('[data-gc-legend] .gc-mode').forEach(function(el){
                    if (el.closest('[data-gc-legend]').getAttribute('data-gc-legend') !== legendKey) { return; }
                    el.style.display = (el.getAttribute('data-mode') === state.mode) ? '' : 'none';
                });
            }
            function apply() {
                var m = Object.prototype.hasOwnProperty.call(modes, state.mode) ? modes[state.mode] : null;
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
                gc.el('div', 'gc-title', {{ this.title|tojson }}, container);
                sel = L.DomUtil.create('select', 'gc-mode-select', container);
                var o = gc.el('option', null, {{ this.metric_label|tojson }}, sel);
                o.value = 'metric';
                Object.keys(modes).forEach(function(k){
                    var o2 = gc.el('option', null, modes[k].label, sel);
                    o2.value = k;
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


class FeatureTooltip(VerbatimRender):
    """A sticky tooltip of a GeoJson layer: a table of feature properties, drawn as text.

    Parameters
    ----------
    layer : folium.GeoJson
    fields : list of str
        Property names, in row order.
    aliases : list of str
        Row labels (column headers of users' files may be among them: shown as text).
    class_name : str
        CSS class of the tooltip.
    """

    _template = _ENV.from_string(
        """
        {% macro script(this, kwargs) %}
        {{ this.layer.get_name() }}.bindTooltip(function(l) {
            return gc.fieldTable({{ this.fields|tojson }}, {{ this.aliases|tojson }},
                                 (l.feature || {}).properties || {});
        }, {sticky: true, className: {{ this.class_name|tojson }}});
        {% endmacro %}
        """
    )

    def __init__(self, layer, fields: list[str], aliases: list[str], class_name: str):
        if len(fields) != len(aliases):
            raise ValueError(f"{len(fields)} tooltip fields but {len(aliases)} aliases")
        super().__init__()
        self._name = "FeatureTooltip"
        self.layer = layer
        self.fields = list(fields)
        self.aliases = list(aliases)
        self.class_name = class_name


class UnitSeriesPopup(VerbatimRender):
    """Popups of a GeoJson layer with small SVG line charts drawn from per-feature numbers.

    Storing a chart's SVG per unit would cost ~5 KB per unit in the HTML; the numbers cost a
    tenth of that, so the chart is drawn when a popup opens.  Each feature carries
    ``properties[prop] = {"hour": [[24 values], ...], "month": [[12 values], ...]}`` (one list
    per variable of ``charts[dim]``, null = no data); the header shows ``properties.unit_name``,
    ``properties.unit_code`` and ``properties.gc_info`` (e.g. the co-control pathway) as text.

    Parameters
    ----------
    layer : folium.GeoJson
    charts : dict
        ``{dim: {"labels": [...], "every": int, "vars": [{"title": str, "units": str}]}}``.
    prop : str
        The property holding the numbers.
    """

    _template = _ENV.from_string(
        """
        {% macro script(this, kwargs) %}
        (function(){
            var charts = {{ this.charts|tojson }};
            {{ this.layer.get_name() }}.bindPopup(function(l) {
                return gc.unitPopup(l.feature.properties, charts, {{ this.prop|tojson }});
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


class StationContent(VerbatimRender):
    """The popup and tooltip of one station marker, drawn from ``data`` as text and SVG.

    Parameters
    ----------
    data : dict
        ``name``, ``station_id``, ``kind``; ``stats`` = ``{"head": [str], "rows": [[str]]}`` or
        None; ``charts`` = list of chart specs (``title``, ``units``, ``labels``, ``every``,
        ``width``, ``series`` = ``[{"name", "color", "values"}]``); ``legend`` = ``[[name,
        colour]]`` under the charts.
    tooltip : str
        The tooltip's text.
    max_width : int
        Popup width, px.
    """

    _template = _ENV.from_string(
        """
        {% macro script(this, kwargs) %}
        (function(){
            var marker = {{ this._parent.get_name() }};
            var data = {{ this.data|tojson }};
            marker.bindPopup(function() { return gc.stationPopup(data); },
                             {maxWidth: {{ this.max_width|tojson }}});
            marker.bindTooltip(function() { return gc.el('span', null, {{ this.tooltip|tojson }}); },
                               {sticky: true});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, data: dict[str, Any], tooltip: str, max_width: int = 360):
        super().__init__()
        self._name = "StationContent"
        self.data = data
        self.tooltip = tooltip
        self.max_width = max_width


# -- page-wide script and style --------------------------------------------------------------------
#: Helpers used by the elements above: DOM built with createElement and textContent only.
GC_SCRIPT = """<script>
var gc = (function() {
    var SVG = 'http://www.w3.org/2000/svg';
    function el(tag, cls, text, parent) {
        var e = document.createElement(tag);
        if (cls) { e.className = cls; }
        if (text !== undefined && text !== null) { e.textContent = String(text); }
        if (parent) { parent.appendChild(e); }
        return e;
    }
    function svg(tag, attrs, parent, text) {
        var e = document.createElementNS(SVG, tag);
        Object.keys(attrs).forEach(function(k) { e.setAttribute(k, String(attrs[k])); });
        if (text !== undefined && text !== null) { e.textContent = String(text); }
        if (parent) { parent.appendChild(e); }
        return e;
    }
    function fmt(v) {
        // as gridcarbon.maps.scales.fmt: 3 significant figures, thousands separators, no exponent
        if (v === null || !isFinite(v)) { return '–'; }
        return v.toLocaleString('en', {maximumSignificantDigits: 3, maximumFractionDigits: 20});
    }
    function legend(box, sections) {
        sections.forEach(function(s) {
            var sec = box;
            if (s.mode) {
                sec = el('div', 'gc-mode', null, box);
                sec.setAttribute('data-mode', s.mode);
                if (s.hidden) { sec.style.display = 'none'; }
            }
            el('div', 'gc-title', s.title, sec);
            if (s.subtitle) { el('div', 'gc-sub', s.subtitle, sec); }
            if (s.units) { el('div', 'gc-units', s.units, sec); }
            (s.rows || []).forEach(function(r) {
                var row = el('div', 'gc-row', null, sec);
                var sw = el('span', r.shape === 'dot' ? 'gc-sw gc-dot' : 'gc-sw', null, row);
                sw.style.background = r.color;
                if (r.opacity !== undefined && r.opacity !== null) { sw.style.opacity = String(r.opacity); }
                el('span', 'gc-lab', r.label, row);
            });
            if (s.note) { el('div', 'gc-note', s.note, sec); }
        });
    }
    function chart(spec) {
        var W = spec.width || 240, H = 96, L = 34, R = 6, T = 14, B = 16, pw = W - L - R, ph = H - T - B;
        var fin = [];
        spec.series.forEach(function(s) { s.values.forEach(function(v) { if (v !== null && isFinite(v)) { fin.push(v); } }); });
        if (fin.length === 0) { return null; }
        var lo = Math.min.apply(null, fin), hi = Math.max.apply(null, fin);
        if (hi === lo) { var d = Math.abs(lo) || 1; lo -= 0.05 * d; hi += 0.05 * d; }
        var n = spec.labels.length;
        function px(i) { return L + (n > 1 ? Math.round(i * pw / (n - 1)) : Math.round(pw / 2)); }
        function py(v) { return T + Math.round((hi - v) / (hi - lo) * ph); }
        var s = svg('svg', {width: W, height: H, 'class': 'gc-chart', 'font-size': 9, 'font-family': 'sans-serif'});
        svg('text', {x: L, y: 10}, s, spec.title + (spec.units ? ' (' + spec.units + ')' : ''));
        svg('rect', {x: L, y: T, width: pw, height: ph, fill: 'none', stroke: '#bbb'}, s);
        svg('text', {x: L - 2, y: T + 7, 'text-anchor': 'end'}, s, fmt(hi));
        svg('text', {x: L - 2, y: T + ph, 'text-anchor': 'end'}, s, fmt(lo));
        for (var i = 0; i < n; i += Math.max(1, spec.every)) {
            svg('text', {x: px(i), y: H - 4, 'text-anchor': 'middle'}, s, spec.labels[i]);
        }
        spec.series.forEach(function(ser) {
            var segs = [], cur = [];
            ser.values.forEach(function(v, i) {
                if (v !== null && isFinite(v)) { cur.push([px(i), py(v)]); }
                else if (cur.length) { segs.push(cur); cur = []; }
            });
            if (cur.length) { segs.push(cur); }
            segs.forEach(function(seg) {
                if (seg.length === 1) {
                    svg('circle', {cx: seg[0][0], cy: seg[0][1], r: 1.5, fill: ser.color}, s);
                } else {
                    var line = svg('polyline', {fill: 'none', stroke: ser.color, 'stroke-width': 1.3,
                                                points: seg.map(function(p) { return p.join(','); }).join(' ')}, s);
                    svg('title', {}, line, ser.name);
                }
            });
        });
        return s;
    }
    function fieldTable(fields, aliases, props) {
        var t = el('table');
        fields.forEach(function(f, i) {
            var tr = el('tr', null, null, t);
            el('th', null, aliases[i], tr);
            var v = Object.prototype.hasOwnProperty.call(props, f) ? props[f] : '';
            el('td', null, v === null ? '' : v, tr);
        });
        return t;
    }
    function unitPopup(p, charts, prop) {
        var box = el('div', 'gc-popup');
        el('div', 'gc-h', p.unit_name || '', box);
        el('div', null, p.unit_code || '', box);
        if (p.gc_info) { el('div', 'gc-info', p.gc_info, box); }
        var data = p[prop] || {}, any = false;
        Object.keys(charts).forEach(function(dim) {
            var c = charts[dim], rows = data[dim] || [];
            c.vars.forEach(function(v, j) {
                if (!rows[j]) { return; }
                var s = chart({title: v.title, units: v.units, labels: c.labels, every: c.every, width: 240,
                               series: [{name: v.title, color: '#0072B2', values: rows[j]}]});
                if (s) { any = true; box.appendChild(s); }
            });
        });
        if (!any) { el('i', null, 'no time series for this unit', el('div', null, null, box)); }
        return box;
    }
    function stationPopup(d) {
        var box = el('div', 'gc-popup');
        el('div', 'gc-h', d.name, box);
        el('div', null, d.station_id + ' · ' + d.kind, box);
        if (d.stats) {
            var t = el('table', null, null, box), tr = el('tr', null, null, t);
            d.stats.head.forEach(function(h) { el('th', null, h, tr); });
            d.stats.rows.forEach(function(r) {
                var row = el('tr', null, null, t);
                r.forEach(function(c) { el('td', null, c, row); });
            });
        } else {
            el('i', null, 'no observations', el('div', null, null, box));
        }
        (d.charts || []).forEach(function(c) { var s = chart(c); if (s) { box.appendChild(s); } });
        if (d.legend && d.legend.length) {
            var key = el('div', 'gc-key', null, box);
            d.legend.forEach(function(item) {
                var sp = el('span', null, '■ ' + item[0], key);
                sp.style.color = item[1];
                key.appendChild(document.createTextNode(' '));
            });
        }
        return box;
    }
    return {el: el, legend: legend, chart: chart, fieldTable: fieldTable,
            unitPopup: unitPopup, stationPopup: stationPopup};
})();
</script>
"""

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
.gc-popup .gc-key { font-size: 10px; }
.gc-synthetic { position: absolute; left: 50%; transform: translateX(-50%); top: 6px; z-index: 1000;
  background: rgba(255,255,255,0.85); padding: 2px 8px; border-radius: 3px; font: 11px Arial, sans-serif; }
</style>
"""


def map_css() -> Verbatim:
    """The map's stylesheet (legends, slider, popups, crisp raster pixels)."""
    return Verbatim(_CSS)


def map_script() -> Verbatim:
    """The helpers (:data:`GC_SCRIPT`) the map's elements call in the browser."""
    return Verbatim(GC_SCRIPT)
