"""Leaflet plumbing: the vendored Leaflet build inlined, styled GeoJSON layers, base maps."""

from __future__ import annotations

import base64
import html
import logging
import math
import uuid
from pathlib import Path
from typing import Any

import folium
import pandas as pd
from folium.template import Template
from jinja2.utils import htmlsafe_json_dumps

logger = logging.getLogger(__name__)


#: Folder holding the vendored Leaflet build.
LEAFLET_DIR = Path(__file__).resolve().parents[1] / "assets" / "leaflet"


#: Base maps offered: key → (label, tile URL or ``None``, attribution).
BASEMAPS: dict[str, tuple[str, str | None, str | None]] = {
    "none": ("No base map (works offline)", None, None),
    "positron": (
        "CartoDB Positron (needs internet)",
        "https://{s}.basemaps.cartocdn.com/light_all/{z}/{x}/{y}{r}.png",
        "&copy; OpenStreetMap contributors &copy; CARTO",
    ),
    "osm": (
        "OpenStreetMap (needs internet)",
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "&copy; OpenStreetMap contributors",
    ),
}


def esc(v: Any) -> str:
    """HTML-escape any value for a tooltip, popup or legend (``""`` for missing values)."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    try:
        if pd.isna(v):
            return ""
    except (TypeError, ValueError):
        pass
    return html.escape(str(v), quote=True)


class StyledGeoJson(folium.GeoJson):
    """A :class:`folium.GeoJson` styled by a JavaScript function of the feature.

    folium writes one ``case`` per feature for a Python style function; a JavaScript
    function reading the feature's properties keeps the page small and fast to render.

    Parameters
    ----------
    data
        GeoJSON FeatureCollection (dict).
    js_style
        JavaScript source of ``function(feature) { return {...}; }``.
    **kwargs
        Passed to :class:`folium.GeoJson` (``name``, ``tooltip``, ``popup``, ``marker``,
        ``highlight_function``…); ``style_function`` is not accepted.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }}_styler = {{ this.js_style }};
        {%- if this.highlight %}
        var {{ this.get_name() }}_highlighter = {{ this.js_highlight }};
        {%- endif %}
        {%- if this.marker %}
        function {{ this.get_name() }}_pointToLayer(feature, latlng) {
            var opts = {{ this.marker.options | tojavascript }};
            Object.assign(opts, {{ this.get_name() }}_styler(feature));
            return new L.{{ this.marker._name }}(latlng, opts);
        }
        {%- endif %}
        function {{ this.get_name() }}_onEachFeature(feature, layer) {
            {%- if this.highlight %}
            layer.on({
                mouseout: function(e) {
                    if (typeof e.target.setStyle === "function") {
                        {{ this.get_name() }}.resetStyle(e.target);
                    }
                },
                mouseover: function(e) {
                    if (typeof e.target.setStyle === "function") {
                        e.target.setStyle({{ this.get_name() }}_highlighter(e.target.feature));
                    }
                },
            });
            {%- endif %}
        };
        var {{ this.get_name() }} = L.geoJson(null, {
            {%- if this.smooth_factor is not none %}
            smoothFactor: {{ this.smooth_factor|tojson }},
            {%- endif %}
            onEachFeature: {{ this.get_name() }}_onEachFeature,
            style: {{ this.get_name() }}_styler,
            {%- if this.marker %}
            pointToLayer: {{ this.get_name() }}_pointToLayer,
            {%- endif %}
            ...{{ this.options | tojavascript }}
        });
        {%- if this.data_token %}
        {{ this.get_name() }}.addData({{ this.data_token }});
        {%- else %}
        {{ this.get_name() }}.addData({{ this.data|tojson }});
        {%- endif %}
        {% endmacro %}
        """
    )

    def __init__(
        self,
        data: dict[str, Any],
        *,
        js_style: str,
        js_highlight: str | None = None,
        **kwargs: Any,
    ) -> None:
        if "style_function" in kwargs or "highlight_function" in kwargs:
            raise TypeError("StyledGeoJson takes js_style/js_highlight, not Python functions")
        super().__init__(data, **kwargs)
        self.js_style = folium.utilities.JsCode(js_style)
        self.js_highlight = folium.utilities.JsCode(js_highlight) if js_highlight else None
        self.style = True
        self.highlight = js_highlight is not None
        self.data_token: str | None = None

    def defer_data(self) -> str:
        """Write a placeholder instead of the data; :func:`fill_data` puts the data back.

        Rendering a folium map passes every script through Jinja more than once; with
        2 MB of GeoJSON that is most of the rendering time. A placeholder keeps the
        templates small; the data is serialised once, when filled in.

        Returns
        -------
        str
            The placeholder (a JavaScript identifier, unique to this layer).
        """
        if self.data_token is None:
            self.data_token = f"__spro_data_{uuid.uuid4().hex}__"
        return self.data_token

    def data_json(self) -> str:
        """Return the layer's GeoJSON, compact and safe inside a ``<script>`` element."""
        return str(htmlsafe_json_dumps(self.data, separators=(",", ":")))

    def render(self, **kwargs: Any) -> Any:
        """Render the layer (no per-feature style map: the style is JavaScript)."""
        parent: Any = folium.utilities.get_obj_in_upper_tree(self, folium.Map)
        self.parent_map = parent
        return folium.map.Layer.render(self, **kwargs)


def _data_uri(mime: str, payload: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(payload).decode('ascii')}"


def leaflet_assets() -> tuple[str, str]:
    """Return the vendored Leaflet as ``data:`` URIs: (JavaScript, CSS with its images inlined).

    Returns
    -------
    tuple of str
        URIs usable as ``<script src>`` and ``<link href>``: no network needed.
    """
    js = (LEAFLET_DIR / "leaflet.js").read_bytes()
    css = (LEAFLET_DIR / "leaflet.css").read_text(encoding="utf-8")
    for img in ("layers.png", "layers-2x.png"):
        css = css.replace(
            f"url(images/{img})", f"url({_data_uri('image/png', (LEAFLET_DIR / img).read_bytes())})"
        )
    return _data_uri("text/javascript", js), _data_uri("text/css", css.encode("utf-8"))


def inline_leaflet(m: folium.Map) -> folium.Map:
    """Make a map load Leaflet from the package instead of a CDN (works offline).

    Only Leaflet itself is kept: the maps of this module use no other JavaScript library
    (no jQuery, Bootstrap or marker-icon fonts).

    Parameters
    ----------
    m
        A map from :func:`coverage_map`.

    Returns
    -------
    folium.Map
        The same map, changed in place.
    """
    try:
        js, css = leaflet_assets()
    except OSError as exc:  # an install without the package data: fall back to the CDN
        logger.warning("vendored Leaflet not found (%s): the map will need internet", exc)
        return m
    m.default_js = [("leaflet", js), ("dollar_shim", _DOLLAR_SHIM)]
    m.default_css = [("leaflet_css", css)]
    return m


#: folium's ``Popup`` builds its content with ``$(`<div>…</div>`)[0]`` (jQuery), which is not
#: loaded offline: this shim gives ``$(html)`` that one use, so popups work without jQuery.
_DOLLAR_SHIM = "data:text/javascript;base64," + base64.b64encode(
    b"window.$ = window.$ || function (html) {"
    b" var t = document.createElement('template'); t.innerHTML = String(html).trim();"
    b" return [t.content.firstElementChild]; };"
).decode("ascii")


def _deferred_layers(m: folium.Map) -> list[StyledGeoJson]:
    out: list[StyledGeoJson] = []
    stack: list[Any] = [m]
    while stack:
        el = stack.pop()
        if isinstance(el, StyledGeoJson) and el.data_token is not None:
            out.append(el)
        stack.extend(getattr(el, "_children", {}).values())
    return out


def fill_data(text: str, m: folium.Map) -> str:
    """Put the data of the map's deferred layers back into rendered HTML or script.

    Parameters
    ----------
    text
        Rendered output of ``m`` (a page, or streamlit-folium's script).
    m
        The map, drawn with ``coverage_map(..., defer_data=True)``.

    Returns
    -------
    str
    """
    for layer in _deferred_layers(m):
        if layer.data_token is not None:
            text = text.replace(layer.data_token, layer.data_json())
    return text


def map_html(m: folium.Map) -> str:
    """Return a standalone HTML page of a map that opens offline (Leaflet inlined).

    Parameters
    ----------
    m
        A map from :func:`coverage_map`.

    Returns
    -------
    str
    """
    inline_leaflet(m)
    return fill_data(m.get_root().render(), m)
