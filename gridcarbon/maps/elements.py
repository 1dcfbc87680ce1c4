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
* :class:`FeatureTooltip`, :class:`FeaturePopup`, :class:`UnitSeriesPopup`,
  :class:`StationContent` — tooltips and popups drawn from feature properties or JSON data.

Their JavaScript is exercised by the browser tests (``tests/maps/test_browser.py``).
"""

from __future__ import annotations

from typing import Any

import folium
import jinja2
from branca.element import Element, Figure, MacroElement
from markupsafe import Markup

__all__ = [
    "Verbatim",
    "VerbatimRender",
    "GeoJson",
    "LayerControl",
    "TRAILING_GROUPS",
    "in_group",
    "PlaceLabels",
    "LayerLegend",
    "UnitTimeSlider",
    "CategoryFill",
    "UnitSeriesPopup",
    "FeatureTooltip",
    "FeaturePopup",
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


#: Layer groups drawn after the others in the layer control, in this order.
TRAILING_GROUPS = ("Base map (offline)", "Web basemaps (need internet)")


def in_group(layer, group: str):
    """Put ``layer`` in the layer control's group titled ``group``; returns ``layer``."""
    layer.gc_group = str(group)
    return layer


class LayerControl(folium.LayerControl, VerbatimRender):
    """``folium.LayerControl`` whose output (the layer names) is rendered once, with its
    overlays under group headings.

    A layer's group is its ``gc_group`` (:func:`in_group`; none: no heading).  The overlays are
    listed group by group in the order the groups first appear, :data:`TRAILING_GROUPS` last;
    the browser (``gc.groupLayers``) puts each group's entries under a heading that folds them.
    ``trailing_groups``: those groups' titles in the map's language.
    """

    trailing_groups: tuple[str, ...] = TRAILING_GROUPS

    _template = _ENV.from_string(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }}_layers = {
                base_layers : {
                    {%- for key, val in this.base_layers.items() %}
                    {{ key|tojson }} : {{ val }},
                    {%- endfor %}
                },
                overlays :  {
                    {%- for key, val in this.overlays.items() %}
                    {{ key|tojson }} : {{ val }},
                    {%- endfor %}
                },
            };
            let {{ this.get_name() }} = L.control.layers(
                {{ this.get_name() }}_layers.base_layers,
                {{ this.get_name() }}_layers.overlays,
                {{ this.options|tojson }}
            ).addTo({{ this._parent.get_name() }});
            gc.groupLayers({{ this.get_name() }}, {{ this.groups|tojson }});
        {% endmacro %}
        """
    )

    def render(self, **kwargs: Any) -> None:
        self.reset()
        layers = [
            item
            for item in self._parent._children.values()
            if isinstance(item, folium.map.Layer) and item.control
        ]
        groups = {item.layer_name: getattr(item, "gc_group", "") for item in layers}
        first_seen = list(dict.fromkeys(groups.values()))
        rank = {
            g: (self.trailing_groups.index(g) + 1 if g in self.trailing_groups else 0, i)
            for i, g in enumerate(first_seen)
        }
        for item in sorted(layers, key=lambda it: rank[groups[it.layer_name]]):
            target = self.overlays if item.overlay else self.base_layers
            target[item.layer_name] = item.get_name()
        self.groups = groups
        VerbatimRender.render(self, **kwargs)


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


#: The words of the synthetic-data banner.
SYNTHETIC_BANNER_TEXT = (
    "Synthetic default scenario: emission figures and facilities are made up, built on real "
    "boundaries"
)


def synthetic_banner(text: str = SYNTHETIC_BANNER_TEXT) -> Verbatim:
    """The banner of maps of synthetic data: a strip above the map (outside it, so that no
    control or legend can cover it; :data:`_CSS` lays the page out as a column); ``text``
    escaped."""
    return Verbatim(Markup('<div class="gc-synthetic" role="note">{}</div>').format(text))


class PlaceLabels(folium.map.Layer, VerbatimRender):
    """Place names written on the map as text (no marker), e.g. the cities of a province.

    Parameters
    ----------
    places : list of (name, lat, lon)
        The labels and where they go (degrees, WGS 84); the names are drawn with
        ``textContent``.
    name : str
        The layer's name in the layer control.
    show : bool
        On when the map opens.
    """

    _template = _ENV.from_string(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = gc.placeLabels({{ this.places|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, places: list[tuple[str, float, float]], name: str, show: bool = True):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "PlaceLabels"
        self.places = [[str(n), float(lat), float(lon)] for n, lat, lon in places]


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
        ``{mode: {"label": str, "prop": str, "frames": [str], "colors": [hex], "zero": hex}}``,
        one mode per series and dimension (``"hour:<species>"``, ``"month:<species>"``), in
        the selector's order.
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


class CategoryFill(VerbatimRender):
    """Fill ``group`` (an empty feature group) with the features of ``source`` (a GeoJson layer
    already on the map) coloured by their ``property``: ``colours`` maps a value to ``#rrggbb``
    (other values grey).  The features are copied in the browser, so the page holds the
    geometries once."""

    _template = _ENV.from_string(
        """
        {% macro script(this, kwargs) %}
        (function(){
            var colours = {{ this.colours|tojson }};
            var key = {{ this.property|tojson }};
            L.geoJson({{ this.source.get_name() }}.toGeoJSON(), {
                interactive: false,
                style: function(f) {
                    var c = Object.prototype.hasOwnProperty.call(colours, f.properties[key])
                        ? colours[f.properties[key]] : '#bbbbbb';
                    return {fillColor: c, fillOpacity: 0.75, color: '#ffffff', weight: 0.4};
                }
            }).addTo({{ this.group.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, source, group, property: str, colours: dict[str, str]):
        super().__init__()
        self._name = "CategoryFill"
        self.source = source
        self.group = group
        self.property = property
        self.colours = dict(colours)


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


class FeaturePopup(FeatureTooltip):
    """A popup of a GeoJson layer: a table of feature properties, drawn as text (the
    tooltip's table, opened by a click; its row labels are translated like a tooltip's)."""

    _template = _ENV.from_string(
        """
        {% macro script(this, kwargs) %}
        {{ this.layer.get_name() }}.bindPopup(function(l) {
            var box = gc.el('div', {{ this.class_name|tojson }});
            box.appendChild(gc.fieldTable({{ this.fields|tojson }}, {{ this.aliases|tojson }},
                                          (l.feature || {}).properties || {}));
            return box;
        }, {maxWidth: 420});
        {% endmacro %}
        """
    )

    def __init__(self, layer, fields: list[str], aliases: list[str], class_name: str):
        super().__init__(layer, fields, aliases, class_name)
        self._name = "FeaturePopup"


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
    empty : str
        The text of a popup without any series.
    """

    _template = _ENV.from_string(
        """
        {% macro script(this, kwargs) %}
        (function(){
            var charts = {{ this.charts|tojson }};
            {{ this.layer.get_name() }}.bindPopup(function(l) {
                return gc.unitPopup(l.feature.properties, charts, {{ this.prop|tojson }},
                                    {{ this.empty|tojson }});
            }, {maxWidth: 520, className: 'gc-unit-popup'});
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self, layer, charts: dict, prop: str = "gc_s", empty: str = "no time series for this unit"
    ):
        super().__init__()
        self._name = "UnitSeriesPopup"
        self.layer = layer
        self.charts = charts
        self.prop = prop
        self.empty = empty


class StationContent(VerbatimRender):
    """The popup and tooltip of one station marker, drawn from ``data`` as text and SVG.

    Parameters
    ----------
    data : dict
        ``name``, ``station_id``, ``kind``; ``empty`` = the text shown without statistics;
        ``stats`` = ``{"head": [str], "rows": [[str]]}`` or
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
    function unitPopup(p, charts, prop, empty) {
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
        if (!any) { el('i', null, empty, el('div', null, null, box)); }
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
            el('i', null, d.empty || 'no observations', el('div', null, null, box));
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
    function groupLayers(ctl, groups) {
        // groups: {layer name: group title}; Leaflet redraws the list on every layer change,
        // so the grouping wraps its redraw, and folded groups stay folded
        var has = function(o, k) { return Object.prototype.hasOwnProperty.call(o, k); };
        var folded = new Set();
        var draw = ctl._update;
        ctl._update = function() {
            var out = draw.apply(this, arguments);
            var list = this._overlaysList;
            var overlays = this._layers.filter(function(o) { return o.overlay; });
            var labels = Array.prototype.slice.call(list.children);
            var boxes = new Map();
            labels.forEach(function(label, i) {
                var name = overlays[i] ? overlays[i].name : '';
                var title = has(groups, name) ? String(groups[name]) : '';
                if (!boxes.has(title)) {
                    var box = el('div', 'gc-group', null, list);
                    box.setAttribute('data-gc-group', title);
                    if (title) {
                        var head = el('div', 'gc-group-title', title, box);
                        head.setAttribute('role', 'button');
                        head.tabIndex = 0;
                        if (folded.has(title)) { box.classList.add('gc-group-folded'); }
                        var fold = function() {
                            box.classList.toggle('gc-group-folded');
                            if (box.classList.contains('gc-group-folded')) { folded.add(title); } else { folded.delete(title); }
                        };
                        head.addEventListener('click', fold);
                        head.addEventListener('keydown', function(e) {
                            if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); fold(); }
                        });
                    }
                    boxes.set(title, box);
                }
                boxes.get(title).appendChild(label);
            });
            return out;
        };
        ctl._update();
    }
    function placeLabels(places) {
        var group = L.layerGroup();
        places.forEach(function(p) {
            var text = el('span', 'gc-place-text', p[0]);
            var icon = L.divIcon({className: 'gc-place', html: text, iconSize: null});
            L.marker([p[1], p[2]], {icon: icon, interactive: false, keyboard: false}).addTo(group);
        });
        return group;
    }
    return {el: el, legend: legend, chart: chart, fieldTable: fieldTable,
            unitPopup: unitPopup, stationPopup: stationPopup, groupLayers: groupLayers,
            placeLabels: placeLabels};
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
/* the page is a column: the synthetic banner (if any) is a strip above the map, never under a
   control; the map takes the rest of the window */
body { display: flex; flex-direction: column; }
body > .folium-map { flex: 1 1 0; min-height: 0; }
.gc-synthetic { order: -1; flex: 0 0 auto; padding: 3px 10px; text-align: center;
  background: #fff3cd; color: #533f03; border-bottom: 1px solid #e0c36a;
  font: bold 12px/1.35 "Helvetica Neue", Arial, sans-serif; }
/* legends stack in the bottom-right corner and share its height, below the layer control */
.leaflet-bottom.leaflet-right { display: flex; flex-direction: column; align-items: flex-end;
  max-height: calc(100% - 70px); }
.leaflet-bottom.leaflet-right > .gc-legend { flex: 0 1 auto; min-height: 3.2em; }
/* the layer control, opened, lies over the legends (Leaflet's corners share one z-index) */
.leaflet-top.leaflet-right { z-index: 1001; }
.leaflet-control-layers-list { font: 12px/1.3 "Helvetica Neue", Arial, sans-serif; }
.leaflet-control-layers-expanded .leaflet-control-layers-list { max-height: calc(100vh - 120px);
  overflow-y: auto; }
.gc-group-title { font-weight: bold; cursor: pointer; margin: 4px 0 1px; user-select: none; }
.gc-group-title::before { content: "▾ "; }
.gc-group-folded .gc-group-title::before { content: "▸ "; }
.leaflet-control-layers .gc-group-folded label { display: none; }
.leaflet-control-layers .gc-group label { margin-left: 10px; }
.gc-place { background: none; border: none; }
.gc-place-text { display: inline-block; transform: translate(-50%, -50%); white-space: nowrap;
  font: bold 12px "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", Arial, sans-serif;
  color: #222; text-shadow: 0 0 2px #fff, 0 0 2px #fff, 0 0 3px #fff; pointer-events: none; }
</style>
"""


def map_css() -> Verbatim:
    """The map's stylesheet (legends, slider, popups, crisp raster pixels)."""
    return Verbatim(_CSS)


def map_script() -> Verbatim:
    """The helpers (:data:`GC_SCRIPT`) the map's elements call in the browser."""
    return Verbatim(GC_SCRIPT)
