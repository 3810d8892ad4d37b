"""The coverage map: times per commune, sites, clusters, legend (a folium.Map)."""

from __future__ import annotations

import html
import json
import logging
from typing import TYPE_CHECKING, Any

import folium
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from folium.template import Template

from .context import add_towns, main_towns
from .leaflet import BASEMAPS, StyledGeoJson, esc
from .styles import (
    BEYOND_OUTLINE,
    NO_TIME_COLOUR,
    TimeBands,
    _fmt_min,
    network_colours,
    provenance_label,
    time_bands,
    time_text,
)
from .webbase import WebBase, _polygon_union, _round_coords

if TYPE_CHECKING:
    from ..coverage import CoverageResult

logger = logging.getLogger(__name__)


class _Legend(MacroElement):
    """A legend drawn as a Leaflet control (HTML built, and escaped, in Python)."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>
        .spro-legend { background: rgba(255,255,255,0.94); padding: 7px 9px; font: 11px/1.3
          system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
          border-radius: 4px; box-shadow: 0 1px 4px rgba(0,0,0,0.3); max-width: 340px; }
        .spro-legend h4 { margin: 0 0 2px 0; font-size: 11.5px; font-weight: 600; }
        .spro-legend .sub { color: #555; margin-bottom: 4px; }
        .spro-legend .bands { display: flex; gap: 1px; margin-bottom: 4px; }
        .spro-legend .band { display: flex; flex-direction: column; align-items: center;
          font-size: 9px; color: #333; width: 34px; white-space: nowrap; }
        .spro-legend .band span { display: block; width: 100%; height: 11px; }
        .spro-legend .band.beyond { font-weight: 600; }
        .spro-legend .row { display: flex; align-items: center; gap: 5px; margin: 1px 0; }
        .spro-legend .sw { width: 14px; height: 9px; flex: none; }
        .spro-legend .dot { display: inline-block; width: 9px; height: 9px; flex: none;
          border-radius: 50%; margin-right: 3px; vertical-align: -1px; }
        .spro-legend .nets { display: flex; flex-wrap: wrap; gap: 2px 9px; }
        .spro-legend .net { white-space: nowrap; }
        .spro-legend .sep { border-top: 1px solid #ddd; margin: 4px 0; }
        .spro-legend .est { color: #8a4b00; font-weight: 600; }
        .leaflet-container { background: #eef1f4; }
        .leaflet-control-layers { font: 12px/1.4 system-ui, -apple-system, "Segoe UI", Roboto,
          sans-serif; }
        .leaflet-control-layers label { margin: 0; }
        </style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control({position: {{ this.position|tojson }}});
        {{ this.get_name() }}.onAdd = function (map) {
            var div = L.DomUtil.create('div', 'spro-legend');
            div.innerHTML = {{ this.html|tojson }};
            L.DomEvent.disableClickPropagation(div);
            L.DomEvent.disableScrollPropagation(div);
            return div;
        };
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, html_text: str, *, position: str = "bottomright") -> None:
        super().__init__()
        self._name = "SproLegend"
        self.html = html_text
        self.position = position


def legend_html(
    bands: TimeBands,
    colours: dict[str, str],
    *,
    estimated: bool,
    profile_label: str,
    mode: str,
    n_modelled: int,
    classes: tuple[str, list[tuple[str, str]]] | None = None,
    filtered: str | None = None,
) -> str:
    """Return the HTML of the map legend (every name escaped).

    Parameters
    ----------
    bands
        The time bands.
    colours
        Colour per network shown.
    estimated
        Whether the times are estimated (said in the title).
    profile_label, mode
        What the map shows.
    n_modelled
        Number of modelled sites shown (the hollow-marker entry appears when positive).
    classes
        When the fill shows a commune class instead of the time: (title, [(label,
        colour)…]).
    filtered
        What a filter keeps (the other communes are drawn faint), e.g. ``"FRR only"``.

    Returns
    -------
    str
    """
    est = ' <span class="est">(estimated)</span>' if estimated else ""
    if classes is None:
        parts = [
            f"<h4>Time to the nearest site, min{est}</h4>",
            f'<div class="sub">{esc(profile_label)} · {esc(mode)}</div>',
            '<div class="bands">',
        ]
        for label, colour, beyond in zip(bands.labels, bands.colours, bands.beyond(), strict=True):
            cls = "band beyond" if beyond else "band"
            parts.append(
                f'<div class="{cls}"><span style="background:{colour}"></span>{esc(label)}</div>'
            )
        parts.append(
            f'<div class="band"><span style="background:{NO_TIME_COLOUR}"></span>none</div></div>'
        )
    else:
        title, rows = classes
        parts = [
            f"<h4>{esc(title)}</h4>",
            f'<div class="sub">{esc(profile_label)} · {esc(mode)}{est}</div>',
        ]
        for label, colour in rows:
            parts.append(
                f'<div class="row"><span class="sw" style="background:{colour}"></span>'
                f"{esc(label)}</div>"
            )
    if filtered:
        parts.append(
            f'<div class="row"><span class="sw" style="background:{FILTERED_OUT_COLOUR}">'
            f"</span>left out by the filter (shown: {esc(filtered)})</div>"
        )
    parts.append(
        f'<div class="row"><span class="sw" style="background:none;border:2px dashed '
        f'{BEYOND_OUTLINE}"></span>beyond {_fmt_min(bands.threshold_min)} min: '
        "outlined; dashed = under-served cluster</div>"
    )
    parts.append('<div class="sep"></div><h4>Sites by network</h4><div class="nets">')
    for name in sorted(colours):
        parts.append(
            f'<span class="net"><span class="dot" style="background:{colours[name]};'
            f'border:1px solid #333"></span>{esc(name)}</span>'
        )
    if n_modelled:
        parts.append(
            '<span class="net"><span class="dot" style="background:none;border:1.5px dashed '
            f'#333"></span>modelled ({n_modelled}): hollow, dashed</span>'
        )
    parts.append("</div>")
    return "".join(parts)


#: What the commune fill can show: key → label (the legend's title).
COLOUR_BY = {
    "time": "Time to the nearest site",
    "density": "INSEE density level (7)",
    "frr": "France Ruralités Revitalisation",
}
#: Fill per INSEE density level, 1 (large urban centres, purple) → 7 (very sparse rural,
#: dark green); 0 (unknown) grey.
DENSITY_COLOURS = ("#bdbdbd", "#54278f", "#807dba", "#bcbddc", "#fdd0a2", "#a1d99b", "#41ab5d",
                   "#006d2c")  # fmt: skip
FRR_COLOURS = {"FRR": "#e6550d", "outside FRR": "#c6dbef"}
#: Fill of the communes a filter leaves out (drawn faint, still named in the tooltip).
FILTERED_OUT_COLOUR = "#e0e0e0"


def commune_filter(
    communes: pd.DataFrame,
    *,
    density: tuple[int, ...] | list[int] | None = None,
    frr_only: bool = False,
) -> np.ndarray:
    """Which communes a map filter keeps (all when no filter is set).

    Parameters
    ----------
    communes
        A coverage result's commune table (``density7``, ``frr_zone``).
    density
        INSEE density levels (1-7) kept; empty or ``None``: every level.
    frr_only
        Keep only the communes of the France Ruralités Revitalisation zoning.

    Returns
    -------
    numpy.ndarray of bool
    """
    keep = np.ones(len(communes), bool)
    if density:
        levels = {int(v) for v in density}
        keep &= communes["density7"].astype(int).isin(levels).to_numpy()
    if frr_only:
        keep &= (communes["frr_zone"].astype(str) == "FRR").to_numpy()
    return keep


def _commune_features(
    result: CoverageResult,
    base: WebBase,
    bands: TimeBands,
    keep: np.ndarray | None = None,
    colour_by: str = "time",
) -> dict[str, Any]:
    df = result.communes
    if not np.array_equal(df["insee"].astype(str).to_numpy(), base.insee):
        raise ValueError("the web geometries were built for other communes")
    keep = np.ones(len(df), bool) if keep is None else np.asarray(keep, bool)
    d7 = df["density7"].astype(int).to_numpy() if "density7" in df else np.zeros(len(df), int)
    frr = (
        (df["frr_zone"].astype(str) == "FRR").to_numpy()
        if "frr_zone" in df
        else np.zeros(len(df), bool)
    )
    t = df["time_min"].to_numpy(float)
    band = bands.band(t)
    covered = df["covered"].to_numpy(bool)
    names = df["nom"].to_numpy(object)
    deps = df["dep"].to_numpy(object)
    sites = df["nearest_site_name"].to_numpy(object)
    nets = df["nearest_network"].to_numpy(object)
    pops = df["pop_mun"].to_numpy(float)
    dem = df["demand"].to_numpy(float)
    insee = base.insee
    feats: list[dict[str, Any]] = []
    for i in range(len(df)):
        feats.append(
            {
                "type": "Feature",
                "properties": {
                    "insee": str(insee[i]),
                    "b": int(band[i]),
                    "x": 0 if covered[i] else 1,
                    "name": f"{esc(names[i])} ({esc(deps[i])})",
                    "time": time_text(t[i]),
                    "site": esc(sites[i]) or "none",
                    "network": esc(nets[i]),
                    "pop": f"{pops[i]:,.0f}",
                    "demand": f"{dem[i]:,.0f}",
                    "status": "covered" if covered[i] else "beyond the threshold",
                },
                "geometry": base.geometries[i],
            }
        )
    # the class and filter properties only when used (4,025 communes: ~25 kB each)
    if colour_by == "density":
        for f, d in zip(feats, d7.tolist(), strict=True):
            f["properties"]["d"] = d if 0 <= d <= 7 else 0
    elif colour_by == "frr":
        for f, r in zip(feats, frr.tolist(), strict=True):
            f["properties"]["r"] = 1 if r else 0
    if not keep.all():
        for f, k in zip(feats, keep.tolist(), strict=True):
            f["properties"]["k"] = 1 if k else 0
    return {"type": "FeatureCollection", "features": feats}


def _site_features(sites: pd.DataFrame) -> dict[str, Any]:
    feats = []
    for row in sites.itertuples(index=False):
        prov = str(getattr(row, "provenance", ""))
        addr = ", ".join(
            s
            for s in (
                esc(getattr(row, "address", None)),
                esc(getattr(row, "postcode", None)),
                esc(getattr(row, "commune_name", None)),
            )
            if s
        )
        feats.append(
            {
                "type": "Feature",
                "properties": {
                    "site_id": esc(row.site_id),
                    "name": esc(row.name),
                    "network": esc(row.network),
                    "kind": esc(getattr(row, "kind", "")),
                    "r": _SITE_RADIUS.get(str(getattr(row, "kind", "")), 4.5),
                    "address": addr or "—",
                    "source": esc(provenance_label(prov)),
                    "flags": esc(str(getattr(row, "flags", "") or "").replace(";", "; ")) or "none",
                    "m": 1 if prov == "modelled" else 0,
                    "used": int(bool(getattr(row, "nearest_for_communes", 0))),
                    "served": int(getattr(row, "nearest_for_communes", 0) or 0),
                },
                "geometry": {
                    "type": "Point",
                    "coordinates": [round(_num(row.lon), 5), round(_num(row.lat), 5)],
                },
            }
        )
    return {"type": "FeatureCollection", "features": feats}


def _num(v: Any) -> float:
    return float(v)


def _cluster_features(result: CoverageResult, base: WebBase) -> dict[str, Any]:
    clusters = result.clusters()
    cid = result.communes["cluster_id"].to_numpy()
    feats = []
    for row in clusters.itertuples(index=False):
        geom = _polygon_union(base.shapes[cid == row.cluster_id])
        geom = _round_coords(np.array([geom]), 4)[0]
        feats.append(
            {
                "type": "Feature",
                "properties": {
                    "cluster": int(row.cluster_id),
                    "name": esc(row.name),
                    "communes": int(row.communes),
                    "population": f"{row.population:,.0f}",
                    "demand": f"{row.demand:,.0f}",
                    "max_time": time_text(float(row.max_time_min)),
                    "rural": "rural" if row.rural else "not mainly rural",
                },
                "geometry": json.loads(shapely.to_geojson(geom)),
            }
        )
    return {"type": "FeatureCollection", "features": feats}


def _legend_classes(colour_by: str, communes: pd.DataFrame) -> Any:
    if colour_by == "density":
        from ..territory import DENSITY7_LABELS

        return (
            COLOUR_BY["density"],
            [(f"{k} {v}", DENSITY_COLOURS[k]) for k, v in DENSITY7_LABELS.items()],
        )
    if colour_by == "frr":
        return (COLOUR_BY["frr"], list(FRR_COLOURS.items()))
    return None


def _filter_text(density: Any, frr_only: bool) -> str:
    parts = []
    if density:
        parts.append("density level " + ", ".join(str(int(v)) for v in sorted(density)))
    if frr_only:
        parts.append("FRR only")
    return "; ".join(parts)


#: Marker radius (pixels) per site kind: permanences smaller than main sites.
_SITE_RADIUS = {"site": 5.5, "main site": 5.5, "antenne": 4.5, "permanence": 3.5, "mobile": 3.5}


_TOOLTIP_STYLE = "font: 12px system-ui, sans-serif; max-width: 320px;"


def coverage_map(
    result: CoverageResult,
    base: WebBase,
    *,
    basemap: str = "none",
    height: int | str = "100%",
    show_departments: bool = True,
    defer_data: bool = False,
    colour_by: str = "time",
    density: tuple[int, ...] | list[int] | None = None,
    frr_only: bool = False,
) -> folium.Map:
    """Draw a coverage result as a folium map.

    Parameters
    ----------
    result
        A :class:`~analysis.coverage.CoverageResult`.
    base
        Web geometries of the same communes (:func:`web_base`).
    basemap
        A key of :data:`BASEMAPS`; ``"none"`` draws no tiles (works offline).
    height
        Height of the map element.
    show_departments
        Draw the department borders (a reference when there are no tiles).
    defer_data
        Render placeholders instead of the GeoJSON (much faster to render); the caller
        must pass the rendered text through :func:`fill_data`. :func:`map_html` does.
    colour_by
        What the commune fill shows: a key of :data:`COLOUR_BY` (the time, the INSEE
        density level, the FRR zoning). The beyond-threshold outline stays.
    density, frr_only
        A filter (:func:`commune_filter`): the communes it leaves out are drawn faint.

    Returns
    -------
    folium.Map
        Layers: travel time (choropleth, beyond-threshold communes outlined), under-served
        clusters, one layer per network of sites, department borders, the names of the
        main towns (``Towns``: shown with no base map, off in the layer control with one);
        a legend and a layer control. The map's GeoJSON layers are named so they can be found in the
        rendered page: ``Travel time``, ``Under-served clusters``, ``Sites — <network>``.
    """
    from ..errors import UnknownNameError

    if basemap not in BASEMAPS:
        raise UnknownNameError("base map", basemap, BASEMAPS)
    if colour_by not in COLOUR_BY:
        raise UnknownNameError("map colouring", colour_by, COLOUR_BY)
    _, tiles_url, attribution = BASEMAPS[basemap]
    m = folium.Map(
        location=[45.6, 4.6],
        zoom_start=8,
        tiles=None,
        control_scale=True,
        height=height,
        prefer_canvas=False,
        zoom_snap=0.25,
    )
    if tiles_url is not None:
        folium.TileLayer(
            tiles=tiles_url, attr=attribution, name=BASEMAPS[basemap][0], control=False
        ).add_to(m)
    # leave room at the bottom right for the legend
    m.fit_bounds(base.bounds, padding_top_left=(10, 10), padding_bottom_right=(10, 110))
    bands = time_bands(result.threshold_min)
    palette = json.dumps(list(bands.colours))

    # travel-time choropleth: a small JS styler reads the band index of each feature
    keep = commune_filter(result.communes, density=density, frr_only=frr_only)
    communes = _commune_features(result, base, bands, keep, colour_by)
    if colour_by == "time":
        fill = f'(p.b >= 0 ? {palette}[p.b] : "{NO_TIME_COLOUR}")'
    elif colour_by == "density":
        fill = f"{json.dumps(list(DENSITY_COLOURS))}[p.d]"
    else:
        fill = f'(p.r ? "{FRR_COLOURS["FRR"]}" : "{FRR_COLOURS["outside FRR"]}")'
    js_style = f"""function(feature) {{
        var p = feature.properties;
        var beyond = p.x === 1;
        var kept = p.k !== 0;
        return {{fillColor: kept ? {fill} : "{FILTERED_OUT_COLOUR}",
                 fillOpacity: kept ? 0.8 : 0.45,
                 color: beyond && kept ? "{BEYOND_OUTLINE}" : "#ffffff",
                 weight: beyond && kept ? 0.6 : 0.3, opacity: beyond && kept ? 0.55 : 0.7}};
    }}"""
    StyledGeoJson(
        communes,
        js_style=js_style,
        js_highlight='function(f) { return {weight: 2.5, color: "#000000", fillOpacity: 0.92}; }',
        name="Travel time" if colour_by == "time" else f"Communes: {COLOUR_BY[colour_by]}",
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "time", "site", "network", "pop", "demand", "status"],
            aliases=[
                "Commune",
                "Time to nearest site",
                "Nearest site",
                "Network",
                "Population",
                "Demand (profile)",
                "Status",
            ],
            style=_TOOLTIP_STYLE,
            sticky=True,
        ),
        smooth_factor=0.5,
    ).add_to(m)

    # under-served clusters, outlined, population in the tooltip
    clusters = _cluster_features(result, base)
    cluster_tooltip = (
        folium.GeoJsonTooltip(
            fields=["name", "communes", "population", "demand", "max_time", "rural"],
            aliases=[
                "Under-served cluster",
                "Communes",
                "Population",
                "Demand (profile)",
                "Longest time",
                "Character",
            ],
            style=_TOOLTIP_STYLE,
        )
        if clusters["features"]
        else None  # folium checks the fields against the first feature
    )
    StyledGeoJson(
        clusters,
        js_style=(
            f'function(f) {{ return {{fill: false, color: "{BEYOND_OUTLINE}", weight: 2.2, '
            'dashArray: "5 3", opacity: 1.0}; }'
        ),
        name=f"Under-served clusters ({len(clusters['features'])})",
        tooltip=cluster_tooltip,
    ).add_to(m)

    # department borders (reference; not interactive)
    if show_departments:
        folium.GeoJson(
            base.departments,
            name="Department borders",
            style_function=lambda _f: {
                "fill": False,
                "color": "#37474f",
                "weight": 1.4,
                "opacity": 0.8,
            },
            interactive=False,
        ).add_to(m)

    # names of the main towns: shown with no base map (the tiles carry them otherwise)
    if {"insee", "nom", "pop_mun"} <= set(result.communes.columns):
        add_towns(m, main_towns(result.communes), show=basemap == "none", over=True)

    # sites: one layer per network; modelled ones hollow and dashed
    sites = result.sites
    colours = network_colours(sites["network"].astype(str).unique()) if len(sites) else {}
    n_modelled = int((sites["provenance"].astype(str) == "modelled").sum()) if len(sites) else 0
    for net in sorted(colours):
        sub = sites[sites["network"].astype(str) == net]
        colour = colours[net]
        n_mod = int((sub["provenance"].astype(str) == "modelled").sum())
        label = f"Sites — {net} ({len(sub)}{f', {n_mod} modelled' if n_mod else ''})"
        site_style = f"""function(feature) {{
            var mod = feature.properties.m === 1;
            return {{radius: feature.properties.r, color: mod ? "{colour}" : "#1b1b1b",
                     weight: mod ? 1.8 : 0.7, dashArray: mod ? "2 2" : null,
                     fill: true, fillColor: "{colour}", fillOpacity: mod ? 0.0 : 0.95}};
        }}"""
        StyledGeoJson(
            _site_features(sub),
            js_style=site_style,
            name=f'<span style="color:{colour}">&#9679;</span> {html.escape(label)}',
            marker=folium.CircleMarker(radius=5),
            popup=folium.GeoJsonPopup(
                fields=["name", "network", "kind", "address", "source", "flags", "served"],
                aliases=[
                    "Site",
                    "Network",
                    "Kind",
                    "Address",
                    "Source",
                    "Data-quality flags",
                    "Nearest site for (communes)",
                ],
                style=_TOOLTIP_STYLE,
            ),
            tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False, style=_TOOLTIP_STYLE),
        ).add_to(m)

    m.add_child(
        _Legend(
            legend_html(
                bands,
                colours,
                estimated=bool(result.estimated),
                profile_label=getattr(result.profile, "label", str(result.profile)),
                mode=result.mode,
                n_modelled=n_modelled,
                classes=_legend_classes(colour_by, result.communes),
                filtered=_filter_text(density, frr_only) if not keep.all() else None,
            )
        )
    )
    # many networks (e.g. "everyone"): a collapsed control keeps the map visible
    folium.LayerControl(collapsed=len(colours) > 5, position="topright").add_to(m)
    if defer_data:
        for layer in m._children.values():
            if isinstance(layer, StyledGeoJson):
                layer.defer_data()
    return m
