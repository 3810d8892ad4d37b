"""Folium maps of the planner results (the app shows them; exports save them as HTML).

Every name shown in a popup or tooltip is HTML-escaped: candidate names come from users and
uploaded files. Every map carries a banner saying which model produced the times (and that
they are ESTIMATED when they are) and which sites are real or modelled.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import MacroElement
from folium.template import Template
from jinja2.utils import htmlsafe_json_dumps

from .context import MapContext, add_context, default_context
from .leaflet import BASEMAPS, esc

if TYPE_CHECKING:
    from ..planning.caravane import CaravaneResult
    from ..planning.siting import SitingResult
    from ..planning.whatif import WhatIfResult

logger = logging.getLogger(__name__)

#: Colours per day / pick (cycled).
PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
)

_STATUS_COLOURS = {
    "newly covered": "#1a9850",
    "faster": "#91cf60",
    "slower": "#fc8d59",
    "loses cover": "#d73027",
}


def base_map(
    lon: np.ndarray,
    lat: np.ndarray,
    *,
    zoom: int = 8,
    basemap: str = "none",
    context: MapContext | bool | None = True,
) -> folium.Map:
    """Return a map centred on the given points (the region if none).

    Parameters
    ----------
    lon, lat
        Points to frame.
    zoom
        Initial zoom when there is a single point.
    basemap
        A key of :data:`analysis.mapping.BASEMAPS` (``"none"``: no tiles, works offline).
    context
        Context layers (:mod:`analysis.present.context`): ``True`` for those of the bundled
        communes (cached), a :class:`MapContext`, or ``False``. With no base map the
        department borders, commune outlines and town names are drawn; with one, the
        borders and the towns are toggles left off and the outlines are left out.

    Returns
    -------
    folium.Map
    """
    from ..errors import UnknownNameError

    if basemap not in BASEMAPS:
        raise UnknownNameError("base map", basemap, BASEMAPS)
    _, url, attribution = BASEMAPS[basemap]
    lon = np.asarray(lon, float)
    lat = np.asarray(lat, float)
    ok = np.isfinite(lon) & np.isfinite(lat)
    centre = (float(lat[ok].mean()), float(lon[ok].mean())) if ok.any() else (45.5, 4.5)
    m = folium.Map(location=centre, zoom_start=zoom, tiles=None, control_scale=True)
    if url is not None:
        folium.TileLayer(
            tiles=url, attr=attribution, name=BASEMAPS[basemap][0], control=False
        ).add_to(m)
    if ok.sum() > 1:
        m.fit_bounds(
            [
                [float(lat[ok].min()), float(lon[ok].min())],
                [float(lat[ok].max()), float(lon[ok].max())],
            ]
        )
    if context is True:
        context = default_context()
    if context:
        add_context(m, context, basemap=basemap)
    return m


def finish(m: folium.Map) -> folium.Map:
    """Add the layer control (last, so that it lists every layer)."""
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    return m


def add_banner(m: folium.Map, title: str, provenance: str, *, estimated: bool) -> None:
    """Add a fixed banner with the title, the ESTIMATED label and the provenance line."""
    tag = (
        '<b style="color:#b30000">ESTIMATED times</b> — '
        if estimated
        else "<b>Measured times</b> — "
    )
    box = (
        '<div style="position:fixed;top:10px;left:50px;z-index:9999;background:white;'
        'padding:6px 10px;border:1px solid #888;font:12px sans-serif;max-width:60%">'
        f"<b>{esc(title)}</b><br>{tag}{esc(provenance)}</div>"
    )
    root: Any = m.get_root()  # a folium Figure (typed as a plain Element)
    root.html.add_child(folium.Element(box))


def add_polygons(
    m: folium.Map,
    gdf: gpd.GeoDataFrame,
    *,
    colours: list[str],
    fields: dict[str, str],
    name: str,
    opacity: float = 0.55,
) -> None:
    """Add polygons with one fill colour each and an escaped tooltip.

    Parameters
    ----------
    m
        The map.
    gdf
        Polygons (any CRS) with the columns named in ``fields``.
    colours
        One fill colour per row.
    fields
        Column → label shown in the tooltip.
    name
        Layer name.
    opacity
        Fill opacity.
    """
    if gdf is None or len(gdf) == 0 or gdf.geometry.isna().all():
        return
    g = gdf
    if g.crs is not None:
        # Light polygons for the web: simplified in Lambert-93 (about 200 m).
        geo = g.geometry.to_crs("EPSG:2154").simplify(200.0, preserve_topology=True)
        g = g.set_geometry(geo.to_crs("EPSG:4326").to_numpy()).set_crs(
            "EPSG:4326", allow_override=True
        )
    props = pd.DataFrame({k: g[k].map(_fmt) for k in fields if k in g.columns})
    props["_fill"] = colours
    layer = gpd.GeoDataFrame(props, geometry=g.geometry.to_numpy(), crs="EPSG:4326")
    shown = [k for k in fields if k in g.columns]
    folium.GeoJson(
        layer.__geo_interface__,
        name=name,
        style_function=lambda f: {
            "fillColor": f["properties"]["_fill"],
            "color": "#555555",
            "weight": 0.5,
            "fillOpacity": opacity,
        },
        tooltip=folium.GeoJsonTooltip(fields=shown, aliases=[fields[k] for k in shown]),
    ).add_to(m)


class SiteDots(MacroElement):
    """Small circle markers with a tooltip each, from one compact array in the page.

    Parameters
    ----------
    rows
        ``[lat, lon, label]`` per dot; the labels already HTML-escaped.
    style
        Leaflet path options of the dots.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var group = {{ this._parent.get_name() }};
            var style = {{ this.style_json }};
            {{ this.rows_json }}.forEach(function (r) {
                L.circleMarker([r[0], r[1]], style)
                    .bindTooltip(r[2], {sticky: false})
                    .addTo(group);
            });
        })();
        {% endmacro %}
        """
    )

    def __init__(self, rows: list[list[Any]], *, style: dict[str, Any]) -> None:
        super().__init__()
        self._name = "SiteDots"
        self.rows_json = str(htmlsafe_json_dumps(rows, separators=(",", ":")))
        self.style_json = str(htmlsafe_json_dumps(style, separators=(",", ":")))


def add_site_dots(
    m: folium.Map,
    sites: pd.DataFrame,
    *,
    name: str,
    colour: str = "#555555",
    radius: float = 3.5,
) -> folium.FeatureGroup | None:
    """Add sites as small dots, one light layer (the name, network, provenance in a tooltip).

    One array ``[lat, lon, label]`` drawn by a loop in the page: about 100 bytes a site,
    where a folium ``CircleMarker`` each with its tooltip takes about 800 (hundreds of
    sites).

    Parameters
    ----------
    m
        The map.
    sites
        Rows with ``lon``, ``lat``, ``name``, ``network`` (``provenance`` optional); rows
        without a position are left out.
    name
        Layer name.
    colour
        Fill colour.
    radius
        Dot radius, pixels.

    Returns
    -------
    folium.FeatureGroup or None
        The layer (``None`` when no site has a position).
    """
    lons = sites["lon"].to_numpy(float)
    lats = sites["lat"].to_numpy(float)
    names = sites["name"].astype(str).to_numpy()
    nets = sites["network"].astype(str).to_numpy()
    provs = (
        sites["provenance"].fillna("").astype(str).to_numpy()
        if "provenance" in sites
        else np.full(len(sites), "", object)
    )
    rows: list[list[Any]] = []
    for lon, lat, name_, net, prov in zip(lons, lats, names, nets, provs, strict=True):
        if not (np.isfinite(lon) and np.isfinite(lat)):
            continue
        label = esc(f"{name_} ({net}{', ' + str(prov) if prov else ''})")
        # escaped: a tooltip shows it as text; braces as entities (folium runs the
        # page's scripts through Jinja again)
        label = label.replace("{", "&#123;").replace("}", "&#125;")
        rows.append([round(float(lat), 5), round(float(lon), 5), label])
    if not rows:
        return None
    group = folium.FeatureGroup(name=esc(name))
    group.add_child(
        SiteDots(
            rows,
            style={
                "radius": float(radius),
                "color": "#222222",
                "weight": 0.6,
                "fill": True,
                "fillColor": colour,
                "fillOpacity": 0.7,
            },
        )
    )
    group.add_to(m)
    return group


def _fmt(v: Any) -> str:
    if isinstance(v, float | np.floating):
        if not np.isfinite(v):
            return "unreachable" if v > 0 else ""
        return f"{v:,.1f}"
    return esc(v)


def add_point(
    m: folium.Map,
    lon: float,
    lat: float,
    *,
    popup_lines: list[str],
    colour: str,
    radius: float = 8,
    label: str | None = None,
) -> None:
    """Add a circle marker (and an optional number label) with an escaped popup."""
    text = "<br>".join(esc(line) for line in popup_lines)
    folium.CircleMarker(
        location=(float(lat), float(lon)),
        radius=radius,
        color="#222222",
        weight=1,
        fill=True,
        fill_color=colour,
        fill_opacity=0.9,
        popup=folium.Popup(text, max_width=320),
        tooltip=esc(popup_lines[0]) if popup_lines else None,
    ).add_to(m)
    if label is not None:
        folium.Marker(
            location=(float(lat), float(lon)),
            icon=folium.DivIcon(
                html=f'<div style="font:bold 11px sans-serif;color:white;'
                f'transform:translate(-4px,-8px)">{esc(label)}</div>'
            ),
        ).add_to(m)


# ---------------------------------------------------------------------------------- maps
def whatif_map(
    result: WhatIfResult,
    *,
    profile: str | None = None,
    mode: str | None = None,
    basemap: str = "none",
) -> folium.Map:
    """Map of a what-if: candidates (green), closures (red), communes whose status changes.

    Parameters
    ----------
    result
        A :class:`~analysis.planning.whatif.WhatIfResult`.
    profile, mode
        Which card's changes to draw (default: the first card's).
    basemap
        Tiles (see :func:`base_map`).

    Returns
    -------
    folium.Map
    """
    cands = result.candidates
    m = base_map(
        cands["lon"].to_numpy(float), cands["lat"].to_numpy(float), zoom=9, basemap=basemap
    )
    cards = result.cards
    if len(cards):
        profile = profile or str(cards["profile"].iloc[0])
        mode = mode or str(cards["mode"].iloc[0])
    ch = result.changes
    if len(ch) and profile is not None:
        ch = ch[(ch["profile"] == profile) & (ch["mode"] == mode)]
        ch = ch.sort_values("gain_min", key=np.abs, ascending=False).drop_duplicates("insee")
        add_polygons(
            m,
            ch,
            colours=[_STATUS_COLOURS.get(s, "#999999") for s in ch["status_change"]],
            fields={
                "nom": "Commune",
                "insee": "INSEE",
                "candidate_id": "Change by",
                "before_min": "Before (min)",
                "after_min": "After (min)",
                "status_change": "Status",
                "times_are": "Times",
            },
            name=f"changes: {profile} / {mode}",
        )
    for _, c in cands.iterrows():
        rows = cards[cards["candidate_id"] == c["candidate_id"]]
        lines = [
            f"{c['name']} ({c['network']}, {c.get('kind', '')})",
            "closure" if c["action"] == "remove" else "candidate",
        ]
        for _, r in rows.iterrows():
            lines.append(
                f"{r['profile']} / {r['mode']}: +{r['demand_newly_covered']:,.0f} covered, "
                f"-{r['demand_losing_cover']:,.0f} losing cover; rank {r['rank']:.0f} "
                f"({r['times_are']})"
            )
        add_point(
            m,
            c["lon"],
            c["lat"],
            popup_lines=lines,
            colour="#1a9850" if c["action"] == "add" else "#d73027",
        )
    add_banner(
        m, f"What-if: {profile or ''} / {mode or ''}", result.provenance, estimated=result.estimated
    )
    return finish(m)


def siting_map(result: SitingResult, *, basemap: str = "none") -> folium.Map:
    """Map of a siting result: the picks (numbered) and the communes each newly covers."""
    picks = result.picks
    lon = np.concatenate([picks["lon"].to_numpy(float), result.existing["lon"].to_numpy(float)])
    lat = np.concatenate([picks["lat"].to_numpy(float), result.existing["lat"].to_numpy(float)])
    m = base_map(lon, lat, basemap=basemap)
    cov = result.communes
    newly = cov[cov["newly_covered_by"].notna()] if len(cov) else cov
    if len(newly):
        order = {pid: i for i, pid in enumerate(picks["candidate_id"])}
        add_polygons(
            m,
            newly,
            colours=[PALETTE[order.get(p, 0) % len(PALETTE)] for p in newly["newly_covered_by"]],
            fields={
                "nom": "Commune",
                "insee": "INSEE",
                "demand": "Demand",
                "time_before_min": "Before (min)",
                "newly_covered_by": "Covered by pick",
                "times_are": "Times",
            },
            name="newly covered communes",
        )
    add_site_dots(m, result.existing, name=f"Existing sites ({len(result.existing)})", radius=3)
    for i, (_, p) in enumerate(picks.iterrows()):
        add_point(
            m,
            p["lon"],
            p["lat"],
            popup_lines=[
                f"#{p['order']}: {p['name']}",
                f"host: {p['host']}",
                f"commune: {p.get('commune', '')}",
                f"marginal gain: {p['marginal_gain']:,.0f}",
                f"cumulative: {p['cumulative_gain']:,.0f} ({p['times_are']})",
            ],
            colour=PALETTE[i % len(PALETTE)],
            radius=10,
            label=str(p["order"]),
        )
    add_banner(
        m,
        f"Permanence siting: {result.network}, k={result.k}, {result.threshold_min:g} min",
        result.provenance,
        estimated=result.estimated,
    )
    return finish(m)


def caravane_map(result: CaravaneResult, *, basemap: str = "none") -> folium.Map:
    """Map of a caravane plan: base, stops numbered per day, legs, reached communes."""
    it = result.itinerary
    stops = it[it["kind"] == "stop"]
    lon = np.append(stops["lon"].to_numpy(float), result.base["lon"])
    lat = np.append(stops["lat"].to_numpy(float), result.base["lat"])
    m = base_map(lon, lat, zoom=9, basemap=basemap)
    reached = result.communes
    reached = reached[reached["reached_by"].notna()] if len(reached) else reached
    if len(reached):
        day_of = dict(zip(stops["stop_id"], stops["day"], strict=True))
        add_polygons(
            m,
            reached,
            colours=[
                PALETTE[(int(day_of.get(s, 1)) - 1) % len(PALETTE)] for s in reached["reached_by"]
            ],
            fields={
                "nom": "Commune",
                "insee": "INSEE",
                "target": "Target people",
                "time_to_stop_min": "To the stop (min)",
                "reached_by": "Stop",
                "times_are": "Times",
            },
            name="communes reached",
            opacity=0.35,
        )
    for day_key, g in it.groupby("day", sort=True):
        day = int(str(day_key))
        colour = PALETTE[(day - 1) % len(PALETTE)]
        pts = [(result.base["lat"], result.base["lon"])]
        pts += list(zip(g["lat"].astype(float), g["lon"].astype(float), strict=True))
        folium.PolyLine(
            pts,
            color=colour,
            weight=3,
            opacity=0.8,
            tooltip=esc(f"day {day} (straight lines; driving times from the road model)"),
        ).add_to(m)
        for _, s in g[g["kind"] == "stop"].iterrows():
            add_point(
                m,
                s["lon"],
                s["lat"],
                popup_lines=[
                    f"day {day}, stop {s['seq']}: {s['name']}",
                    f"arrive {s['arrive']}, leave {s['depart']}",
                    f"target people reached: {s['target_reached']:,.0f}",
                    f"times {s['times_are']}",
                ],
                colour=colour,
                radius=10,
                label=str(s["seq"]),
            )
    add_point(
        m,
        result.base["lon"],
        result.base["lat"],
        popup_lines=[f"base: {result.base['name']}"],
        colour="#000000",
        radius=12,
        label="B",
    )
    add_banner(
        m,
        f"Caravane from {result.base['name']}: {result.days} day(s), {result.profile_key}",
        result.provenance,
        estimated=result.estimated,
    )
    return finish(m)
