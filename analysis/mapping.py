"""Maps and view helpers for coverage results: web choropleth, sites, clusters, legend.

This module builds, without any Streamlit, everything the coverage page shows and every
export of the current view, so the command line can write the same standalone HTML map:

- :func:`web_base` simplifies the commune polygons once, in Lambert-93, with a *coverage*
  simplification (shared borders stay shared, no slivers), and rounds coordinates, so the
  4,025-commune choropleth stays around 2 MB;
- :func:`coverage_map` draws a :class:`~analysis.coverage.CoverageResult` as a
  :class:`folium.Map`: travel time per commune in bands around the threshold, communes
  beyond the threshold outlined, under-served clusters (population in the tooltip), sites by
  network with modelled sites hollow and dashed, department borders, a legend and a layer
  control. It works without a tile server (``basemap="none"``) and, with
  :func:`inline_leaflet`, without any network access at all: Leaflet itself ships in
  ``analysis/assets/leaflet`` (BSD-2-Clause);
- :func:`commune_card`, :func:`band_table`, :func:`provenance_facts` and the ``*_bytes``
  helpers feed the page's details panel, map data table, banner and downloads.

Every name or address placed in a tooltip, popup or legend is HTML-escaped: site names
come from files users upload.
"""

from __future__ import annotations

import base64
import html
import itertools
import json
import logging
import math
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from folium.template import Template
from jinja2.utils import htmlsafe_json_dumps

from . import settings
from .crs import polygons_l93
from .io import neutralise_formulas

logger = logging.getLogger(__name__)

#: Folder holding the vendored Leaflet build.
LEAFLET_DIR = Path(__file__).resolve().parent / "assets" / "leaflet"

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

#: Standard band edges (minutes); the threshold is always added as an edge.
TIME_EDGES_MIN: tuple[float, ...] = (10, 20, 30, 45, 60, 90, 120)

#: Colours of bands within the threshold (fast → threshold): greens to pale yellow.
_WITHIN_COLOURS = ("#006837", "#1a9850", "#66bd63", "#a6d96a", "#d9ef8b")
#: Colours of bands beyond the threshold (just beyond → far): oranges to dark red.
_BEYOND_COLOURS = ("#fdae61", "#f46d43", "#d73027", "#a50026", "#67001f")
#: Colour of communes without a time (unreachable, no service).
NO_TIME_COLOUR = "#9e9e9e"
#: Outline of communes beyond the threshold and of under-served clusters.
BEYOND_OUTLINE = "#5c0011"

#: Colour per network (known SPRO networks); others get :data:`_FALLBACK_COLOURS`.
NETWORK_COLOURS: dict[str, str] = {
    "Mission Locale": "#1f77b4",
    "Info Jeunes": "#ff7f0e",
    "CIO": "#2ca02c",
    "SCUIO": "#17becf",
    "France Travail": "#d62728",
    "Cap Emploi": "#9467bd",
    "APEC": "#8c564b",
    "Avenir Actifs": "#e377c2",
    "CCI": "#7f7f7f",
    "CMA": "#bcbd22",
    "Chambre d'agriculture": "#556b2f",
    "CIDFF": "#ad494a",
    "MIFE": "#6b6ecf",
    "Cité des métiers": "#e7969c",
    "Maison de l'emploi": "#637939",
    "Labelled structure": "#393b79",
    "Campus connecté": "#9edae5",
    "France Services": "#000080",
}
_FALLBACK_COLOURS = (
    "#393b79", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1",
    "#636363", "#bd9e39", "#ad494a",
)  # fmt: skip


# --------------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class WebBase:
    """Light geometries of the communes and departments for web maps.

    Attributes
    ----------
    insee
        INSEE code of each commune, in the order of the commune table.
    geometries
        GeoJSON geometry dict of each commune (simplified, rounded, EPSG:4326).
    shapes
        The same geometries as shapely objects (for cluster outlines and clicks).
    departments
        GeoJSON FeatureCollection of the department borders (property ``dep``).
    bounds
        ``[[lat_min, lon_min], [lat_max, lon_max]]`` of the communes.
    tolerance_m
        Simplification tolerance used, metres.
    """

    insee: np.ndarray
    geometries: list[dict[str, Any]]
    shapes: np.ndarray
    departments: dict[str, Any]
    bounds: list[list[float]]
    tolerance_m: float

    def geojson_bytes(self) -> int:
        """Size of the commune geometries as compact GeoJSON, bytes."""
        return len(json.dumps(self.geometries, separators=(",", ":")))


def _round_coords(geoms: np.ndarray, decimals: int) -> np.ndarray:
    return shapely.transform(geoms, lambda c: np.round(c, decimals))


def _polygon_union(shapes: np.ndarray) -> Any:
    """Union of (possibly slightly invalid, after rounding) polygons, polygonal parts only."""
    try:
        out = shapely.union_all(shapes)
    except shapely.errors.GEOSException:
        out = shapely.union_all(shapely.make_valid(shapes))
    if out.geom_type == "GeometryCollection":
        parts = [g for g in shapely.get_parts(out) if g.geom_type in ("Polygon", "MultiPolygon")]
        out = shapely.union_all(parts)
    return out


def web_base(
    communes: gpd.GeoDataFrame, *, tolerance_m: float = 600.0, decimals: int = 4
) -> WebBase:
    """Simplify the commune polygons for a web map, once.

    Parameters
    ----------
    communes
        Commune table with polygon ``geometry`` (any CRS) and ``insee``, ``dep`` columns.
    tolerance_m
        Coverage simplification tolerance in Lambert-93 metres (about the square root of the
        area of the vertex triangles removed). 600 m keeps the 4,025 communes near 1.5 MB.
    decimals
        Decimal places kept in the longitudes and latitudes (4 ≈ 10 m).

    Returns
    -------
    WebBase
    """
    l93 = polygons_l93(communes).to_numpy()
    l93 = shapely.make_valid(l93)
    try:
        simple = shapely.coverage_simplify(l93, tolerance_m)
    except Exception:  # pragma: no cover - invalid coverage: fall back per polygon
        simple = shapely.simplify(l93, tolerance_m / 4, preserve_topology=True)
    # A polygon that collapses keeps its original shape.
    bad = shapely.is_empty(simple) | (shapely.area(simple) <= 0)
    simple = np.where(bad, l93, simple)
    wgs = gpd.GeoSeries(simple, crs=settings.projected_crs).to_crs(settings.geographic_crs)
    shapes = _round_coords(wgs.to_numpy(), decimals)
    geometries = [json.loads(s) for s in shapely.to_geojson(shapes)]
    deps = communes["dep"].astype(str).to_numpy()
    dep_features = []
    for dep in sorted(set(deps)):
        border = _polygon_union(shapely.buffer(shapes[deps == dep], 1e-5))
        border = _round_coords(np.array([shapely.simplify(border, 1e-4)]), decimals)[0]
        dep_features.append(
            {
                "type": "Feature",
                "properties": {"dep": html.escape(dep)},
                "geometry": json.loads(shapely.to_geojson(border)),
            }
        )
    xmin, ymin, xmax, ymax = shapely.total_bounds(shapes)
    return WebBase(
        insee=communes["insee"].astype(str).to_numpy(),
        geometries=geometries,
        shapes=shapes,
        departments={"type": "FeatureCollection", "features": dep_features},
        bounds=[[float(ymin), float(xmin)], [float(ymax), float(xmax)]],
        tolerance_m=float(tolerance_m),
    )


def commune_at(base: WebBase, lon: float, lat: float) -> str | None:
    """Return the INSEE code of the commune containing a point of the web map, if any.

    Parameters
    ----------
    base
        The web geometries.
    lon, lat
        The point, degrees.

    Returns
    -------
    str or None
    """
    hits = np.flatnonzero(shapely.contains_xy(base.shapes, lon, lat))
    return str(base.insee[hits[0]]) if len(hits) else None


# --------------------------------------------------------------------------- time bands


@dataclass(frozen=True)
class TimeBands:
    """Colour bands of travel time, with the threshold as an edge.

    Attributes
    ----------
    edges
        Band edges in minutes, starting at 0 and ending with ``inf``.
    colours
        One colour per band.
    labels
        One label per band (e.g. ``"20–30"``, ``"> 120"``).
    threshold_min
        The threshold (an edge): bands after it are beyond.
    """

    edges: tuple[float, ...]
    colours: tuple[str, ...]
    labels: tuple[str, ...]
    threshold_min: float

    def beyond(self) -> np.ndarray:
        """Whether each band lies beyond the threshold."""
        return np.asarray(self.edges[:-1]) >= self.threshold_min

    def band(self, time_min: np.ndarray) -> np.ndarray:
        """Band index of each time; ``-1`` where the time is missing or infinite."""
        t = np.asarray(time_min, dtype=float)
        idx = np.searchsorted(np.asarray(self.edges[1:-1]), t, side="left")
        return np.where(np.isfinite(t), idx, -1)

    def colour(self, time_min: np.ndarray) -> np.ndarray:
        """Colour of each time (grey where missing)."""
        b = self.band(time_min)
        pal = np.asarray([*self.colours, NO_TIME_COLOUR], dtype=object)
        return pal[np.where(b >= 0, b, len(self.colours))]


def _fmt_min(v: float) -> str:
    return f"{v:g}"


def time_bands(threshold_min: float) -> TimeBands:
    """Bands for a threshold: fine below it (greens), coarser beyond (oranges to red).

    Parameters
    ----------
    threshold_min
        The threshold of the view, minutes.

    Returns
    -------
    TimeBands
        A time equal to the threshold falls in the last band within it (covered means
        ``time <= threshold``).
    """
    thr = float(threshold_min)
    within = [e for e in TIME_EDGES_MIN if e < thr]
    within = within[-(len(_WITHIN_COLOURS) - 1) :]
    beyond = [e for e in TIME_EDGES_MIN if e > thr]
    # keep at least one band beyond, and no more than the palette
    if not beyond:
        beyond = [thr * 1.5, thr * 2]
    beyond = beyond[: len(_BEYOND_COLOURS) - 1]
    inner = [*within, thr, *beyond]
    edges = (0.0, *[float(e) for e in inner], math.inf)
    n_within = len(within) + 1
    n_beyond = len(edges) - 1 - n_within
    if n_within >= len(_WITHIN_COLOURS):
        within_colours = list(_WITHIN_COLOURS)
    else:  # spread the greens, from fast (dark) to the threshold (light)
        picks = np.linspace(1, len(_WITHIN_COLOURS) - 1, n_within).round().astype(int)
        within_colours = [_WITHIN_COLOURS[i] for i in picks]
    colours = (*within_colours, *_BEYOND_COLOURS[:n_beyond])
    labels = []
    for lo, hi in itertools.pairwise(edges):
        if math.isinf(hi):
            labels.append(f"> {_fmt_min(lo)}")
        elif lo == 0:
            labels.append(f"≤ {_fmt_min(hi)}")
        else:
            labels.append(f"{_fmt_min(lo)}–{_fmt_min(hi)}")
    return TimeBands(edges=edges, colours=colours, labels=tuple(labels), threshold_min=thr)


def band_table(result: Any, bands: TimeBands | None = None) -> pd.DataFrame:
    """Count communes, population and demand per time band: the data behind the map's colours.

    Parameters
    ----------
    result
        A :class:`~analysis.coverage.CoverageResult`.
    bands
        The bands (default: :func:`time_bands` of the result's threshold).

    Returns
    -------
    pandas.DataFrame
        One row per band (plus ``no time`` if any): ``band`` (minutes), ``beyond``,
        ``colour``, ``communes``, ``population``, ``demand``, ``share_of_demand``.
    """
    bands = time_bands(result.threshold_min) if bands is None else bands
    df = result.communes
    b = bands.band(df["time_min"].to_numpy(float))
    pop = df["pop_mun"].to_numpy(float)
    dem = df["demand"].to_numpy(float)
    total = max(float(dem.sum()), 1e-12)
    rows = []
    for i, (label, colour, beyond) in enumerate(
        zip(bands.labels, bands.colours, bands.beyond(), strict=True)
    ):
        m = b == i
        rows.append((label, bool(beyond), colour, int(m.sum()), pop[m].sum(), dem[m].sum()))
    m = b < 0
    if m.any():
        rows.append(("no time", True, NO_TIME_COLOUR, int(m.sum()), pop[m].sum(), dem[m].sum()))
    out = pd.DataFrame(
        rows, columns=["band", "beyond", "colour", "communes", "population", "demand"]
    )
    out["share_of_demand"] = out["demand"] / total
    return out


# --------------------------------------------------------------------------- networks


def network_colours(networks: Any) -> dict[str, str]:
    """Return a stable colour for each network name.

    Parameters
    ----------
    networks
        Network names.

    Returns
    -------
    dict of str to str
        Known SPRO networks keep their colour; others get a fallback colour by sorted name.
    """
    out: dict[str, str] = {}
    unknown = sorted({str(n) for n in networks} - set(NETWORK_COLOURS))
    for n in {str(n) for n in networks}:
        if n in NETWORK_COLOURS:
            out[n] = NETWORK_COLOURS[n]
    for i, n in enumerate(unknown):
        out[n] = _FALLBACK_COLOURS[i % len(_FALLBACK_COLOURS)]
    return out


def _esc(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    try:
        if pd.isna(v):
            return ""
    except (TypeError, ValueError):
        pass
    return html.escape(str(v))


def _provenance_label(p: Any) -> str:
    p = str(p)
    if p == "modelled":
        return "modelled (not a real address: completes a network short of its known size)"
    if p == "user":
        return "user directory"
    if p.startswith("open-data:"):
        return "real (open data: " + p.split(":", 1)[1] + ")"
    return p


def _time_text(t: float) -> str:
    if not np.isfinite(t):
        return "unreachable"
    return f"{t:.0f} min"


# --------------------------------------------------------------------------- legend


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

    Returns
    -------
    str
    """
    est = ' <span class="est">(estimated)</span>' if estimated else ""
    parts = [
        f"<h4>Time to the nearest site, min{est}</h4>",
        f'<div class="sub">{_esc(profile_label)} · {_esc(mode)}</div>',
        '<div class="bands">',
    ]
    for label, colour, beyond in zip(bands.labels, bands.colours, bands.beyond(), strict=True):
        cls = "band beyond" if beyond else "band"
        parts.append(
            f'<div class="{cls}"><span style="background:{colour}"></span>{_esc(label)}</div>'
        )
    parts.append(
        f'<div class="band"><span style="background:{NO_TIME_COLOUR}"></span>none</div></div>'
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
            f'border:1px solid #333"></span>{_esc(name)}</span>'
        )
    if n_modelled:
        parts.append(
            '<span class="net"><span class="dot" style="background:none;border:1.5px dashed '
            f'#333"></span>modelled ({n_modelled}): hollow, dashed</span>'
        )
    parts.append("</div>")
    return "".join(parts)


# --------------------------------------------------------------------------- the map


def _commune_features(result: Any, base: WebBase, bands: TimeBands) -> dict[str, Any]:
    df = result.communes
    if not np.array_equal(df["insee"].astype(str).to_numpy(), base.insee):
        raise ValueError("the web geometries were built for other communes")
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
    feats = []
    for i in range(len(df)):
        feats.append(
            {
                "type": "Feature",
                "properties": {
                    "insee": str(insee[i]),
                    "b": int(band[i]),
                    "x": 0 if covered[i] else 1,
                    "name": f"{_esc(names[i])} ({_esc(deps[i])})",
                    "time": _time_text(t[i]),
                    "site": _esc(sites[i]) or "none",
                    "network": _esc(nets[i]),
                    "pop": f"{pops[i]:,.0f}",
                    "demand": f"{dem[i]:,.0f}",
                    "status": "covered" if covered[i] else "beyond the threshold",
                },
                "geometry": base.geometries[i],
            }
        )
    return {"type": "FeatureCollection", "features": feats}


def _site_features(sites: pd.DataFrame) -> dict[str, Any]:
    feats = []
    for row in sites.itertuples(index=False):
        prov = str(getattr(row, "provenance", ""))
        addr = ", ".join(
            s
            for s in (
                _esc(getattr(row, "address", None)),
                _esc(getattr(row, "postcode", None)),
                _esc(getattr(row, "commune_name", None)),
            )
            if s
        )
        feats.append(
            {
                "type": "Feature",
                "properties": {
                    "site_id": _esc(row.site_id),
                    "name": _esc(row.name),
                    "network": _esc(row.network),
                    "kind": _esc(getattr(row, "kind", "")),
                    "r": _SITE_RADIUS.get(str(getattr(row, "kind", "")), 4.5),
                    "address": addr or "—",
                    "source": _esc(_provenance_label(prov)),
                    "flags": _esc(str(getattr(row, "flags", "") or "").replace(";", "; "))
                    or "none",
                    "m": 1 if prov == "modelled" else 0,
                    "used": int(bool(getattr(row, "nearest_for_communes", 0))),
                    "served": int(getattr(row, "nearest_for_communes", 0) or 0),
                },
                "geometry": {
                    "type": "Point",
                    "coordinates": [round(float(row.lon), 5), round(float(row.lat), 5)],
                },
            }
        )
    return {"type": "FeatureCollection", "features": feats}


def _cluster_features(result: Any, base: WebBase) -> dict[str, Any]:
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
                    "name": _esc(row.name),
                    "communes": int(row.communes),
                    "population": f"{row.population:,.0f}",
                    "demand": f"{row.demand:,.0f}",
                    "max_time": _time_text(float(row.max_time_min)),
                    "rural": "rural" if row.rural else "not mainly rural",
                },
                "geometry": json.loads(shapely.to_geojson(geom)),
            }
        )
    return {"type": "FeatureCollection", "features": feats}


#: Marker radius (pixels) per site kind: permanences smaller than main sites.
_SITE_RADIUS = {"site": 5.5, "main site": 5.5, "antenne": 4.5, "permanence": 3.5, "mobile": 3.5}

_TOOLTIP_STYLE = "font: 12px system-ui, sans-serif; max-width: 320px;"


def coverage_map(
    result: Any,
    base: WebBase,
    *,
    basemap: str = "none",
    height: int | str = "100%",
    show_departments: bool = True,
    defer_data: bool = False,
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

    Returns
    -------
    folium.Map
        Layers: travel time (choropleth, beyond-threshold communes outlined), under-served
        clusters, one layer per network of sites, department borders; a legend and a
        layer control. The map's GeoJSON layers are named so they can be found in the
        rendered page: ``Travel time``, ``Under-served clusters``, ``Sites — <network>``.
    """
    if basemap not in BASEMAPS:
        from .errors import UnknownNameError

        raise UnknownNameError("base map", basemap, BASEMAPS)
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
    communes = _commune_features(result, base, bands)
    js_style = f"""function(feature) {{
        var pal = {palette};
        var b = feature.properties.b;
        var beyond = feature.properties.x === 1;
        return {{fillColor: b >= 0 ? pal[b] : "{NO_TIME_COLOUR}", fillOpacity: 0.8,
                 color: beyond ? "{BEYOND_OUTLINE}" : "#ffffff",
                 weight: beyond ? 0.6 : 0.3, opacity: beyond ? 0.55 : 0.7}};
    }}"""
    StyledGeoJson(
        communes,
        js_style=js_style,
        js_highlight='function(f) { return {weight: 2.5, color: "#000000", fillOpacity: 0.92}; }',
        name="Travel time",
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

    def render(self, **kwargs: Any) -> None:
        """Render the layer (no per-feature style map: the style is JavaScript)."""
        self.parent_map = folium.utilities.get_obj_in_upper_tree(self, folium.Map)
        folium.map.Layer.render(self, **kwargs)


# --------------------------------------------------------------------------- offline assets


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
    out = []
    stack = [m]
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


# --------------------------------------------------------------------------- page helpers


@dataclass(frozen=True)
class ProvenanceFacts:
    """What a view rests on, in three sentences for the banner.

    Attributes
    ----------
    real, modelled, estimated
        What is real (open data), modelled (sites) and estimated (times).
    n_real, n_modelled, n_user
        Site counts among the sites of the view.
    estimated_times
        Whether the times are estimated.
    """

    real: str
    modelled: str
    estimated: str
    n_real: int
    n_modelled: int
    n_user: int
    estimated_times: bool


def provenance_facts(result: Any, directory: pd.DataFrame | None = None) -> ProvenanceFacts:
    """Say what is real, modelled and estimated in a coverage view.

    Parameters
    ----------
    result
        A :class:`~analysis.coverage.CoverageResult`.
    directory
        The whole site directory (to give its modelled networks), optional.

    Returns
    -------
    ProvenanceFacts
    """
    prov = result.sites["provenance"].astype(str)
    n_mod = int((prov == "modelled").sum())
    n_user = int((prov == "user").sum())
    n_real = len(prov) - n_mod - n_user
    sources = sorted({p.split(":", 1)[1] for p in prov if p.startswith("open-data:")})
    n_communes = len(result.communes)
    pop = float(result.communes["pop_mun"].sum())
    real = (
        f"{n_real} sites from open data ({', '.join(sources) or 'none'})"
        + (f", {n_user} from the loaded directory" if n_user else "")
        + f"; {n_communes:,} communes (COG 2026) and their {pop:,.0f} inhabitants "
        "(INSEE legal population 2023)."
    )
    if n_mod:
        nets = (
            result.sites.loc[prov == "modelled", "network"].astype(str).value_counts().sort_index()
        )
        detail = ", ".join(f"{k} {v}" for k, v in nets.items())
        modelled = (
            f"{n_mod} of the {len(prov)} sites serving this public are modelled ({detail}): "
            "they complete networks whose real rows fall short of their known size and are "
            "not real addresses. Load a real directory export to replace them."
        )
    else:
        modelled = "No modelled site serves this public: every site is from a real file."
    if directory is not None and len(directory):
        tot_mod = int((directory["provenance"].astype(str) == "modelled").sum())
        modelled += f" (Whole directory: {tot_mod} modelled of {len(directory)} sites.)"
    if result.estimated:
        estimated = (
            f"Travel times are estimated ({result.model_label}), not measured on a real road "
            "graph: use them to compare places, not as exact durations."
        )
    else:
        estimated = f"Travel times are not estimated: they are computed on {result.model_label}."
    profile = result.profile
    if getattr(profile, "estimated", False):
        src = getattr(profile, "demand_source", "")
        estimated += " The demand of this public per commune is estimated" + (
            f" ({src})." if src else "."
        )
    return ProvenanceFacts(
        real=real,
        modelled=modelled,
        estimated=estimated,
        n_real=n_real,
        n_modelled=n_mod,
        n_user=n_user,
        estimated_times=bool(result.estimated),
    )


def commune_options(result: Any) -> list[str]:
    """Return labels ``"Name (dep) — INSEE"`` of every commune, sorted by name, for a picker."""
    df = result.communes
    lab = df["nom"].astype(str) + " (" + df["dep"].astype(str) + ") — " + df["insee"].astype(str)
    return sorted(lab.tolist(), key=lambda s: (s.casefold(), s))


def default_commune(result: Any) -> str:
    """Return the INSEE code of the commune to show first in a view.

    The commune beyond the threshold with the most demand, or, when every commune is
    covered, the farthest one.

    Parameters
    ----------
    result
        A :class:`~analysis.coverage.CoverageResult`.

    Returns
    -------
    str
    """
    df = result.communes
    beyond = df[~df["covered"].to_numpy(bool)]
    if len(beyond):
        return str(beyond.loc[beyond["demand"].idxmax(), "insee"])
    t = df["time_min"].to_numpy(float)
    return str(df["insee"].iloc[int(np.nanargmax(np.where(np.isfinite(t), t, -1.0)))])


def commune_card(result: Any, insee: str) -> dict[str, str]:
    """Return the details of one commune in a view, as label → text.

    Parameters
    ----------
    result
        A :class:`~analysis.coverage.CoverageResult`.
    insee
        The commune's INSEE code.

    Returns
    -------
    dict of str to str
        Commune, department, EPCI, class, population, demand, time, nearest site, network,
        site source, covered, status, cluster. Plain text (escape it before any HTML use).

    Raises
    ------
    KeyError
        If the INSEE code is not in the view.
    """
    df = result.communes
    hit = df.index[df["insee"].astype(str) == str(insee)]
    if not len(hit):
        raise KeyError(f"commune {insee!r} is not in this view")
    r = df.loc[hit[0]]
    t = float(r["time_min"])
    est = " (estimated)" if result.estimated else ""
    cluster = int(r["cluster_id"])

    def text(col: str, missing: str = "—") -> str:
        v = r[col]
        return missing if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)

    return {
        "Commune": f"{r['nom']} ({r['insee']})",
        "Department": str(r["dep"]),
        "EPCI": str(r["epci_nom"]),
        "Urban/rural class": str(r["urban_class"]),
        "Population": f"{float(r['pop_mun']):,.0f}",
        f"Demand ({result.profile.key})": f"{float(r['demand']):,.0f}",
        "Time to nearest site": _time_text(t) + est,
        "Nearest site": text("nearest_site_name", "none reachable"),
        "Network": text("nearest_network"),
        "Site source": (
            _provenance_label(r["nearest_provenance"]) if text("nearest_provenance") != "—" else "—"
        ),
        "Covered": (
            f"yes (≤ {result.threshold_min:g} min)"
            if bool(r["covered"])
            else f"no (> {result.threshold_min:g} min)"
        ),
        "Status": str(r["status"]),
        "Under-served cluster": f"#{cluster}" if cluster >= 0 else "—",
    }


def csv_bytes(df: pd.DataFrame, *, provenance: str | None = None) -> bytes:
    """Return a table as CSV bytes, with spreadsheet formulas neutralised (see :mod:`analysis.io`).

    Parameters
    ----------
    df
        The table (a geometry column is dropped).
    provenance
        A provenance line added as a ``provenance`` column, if given.

    Returns
    -------
    bytes
        UTF-8 CSV.
    """
    table = pd.DataFrame(df.drop(columns="geometry", errors="ignore"))
    if provenance is not None:
        table["provenance"] = provenance
    return neutralise_formulas(table).to_csv(index=False).encode("utf-8")


def gpkg_bytes(layers: dict[str, gpd.GeoDataFrame]) -> bytes:
    """Return GeoPackage bytes with one layer per entry.

    The file is written in a private temporary folder removed before returning (so no
    atomic rename is needed, and nothing is left behind). Neutralise text first, e.g. with
    :func:`view_layers`.

    Parameters
    ----------
    layers
        Layer name → GeoDataFrame (empty layers are skipped).

    Returns
    -------
    bytes

    Raises
    ------
    ValueError
        If every layer is empty.
    """
    with tempfile.TemporaryDirectory(prefix="spro-gpkg-") as tmp:
        path = Path(tmp) / "view.gpkg"
        written = 0
        for name, gdf in layers.items():
            if gdf is None or gdf.empty:
                continue
            gdf.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
            written += 1
        if not written:
            raise ValueError("no layer to write")
        return path.read_bytes()


def view_layers(result: Any) -> dict[str, gpd.GeoDataFrame]:
    """Return the layers of a view for a GeoPackage: coverage, clusters, sites."""
    communes = result.communes.copy()
    communes["provenance"] = result.provenance
    sites = result.sites.copy()
    if "geometry" not in sites or sites.geometry.isna().all():
        sites = gpd.GeoDataFrame(
            sites,
            geometry=gpd.points_from_xy(sites["lon"], sites["lat"]),
            crs=settings.geographic_crs,
        )
    out = {}
    for name, gdf in (("coverage", communes), ("clusters", result.clusters()), ("sites", sites)):
        geo = gdf.geometry
        table = neutralise_formulas(pd.DataFrame(gdf.drop(columns=geo.name)))
        for col in table.columns:  # GPKG has no object columns of mixed types
            if table[col].dtype == object:
                table[col] = table[col].map(lambda v: None if v is None else str(v))
        out[name] = gpd.GeoDataFrame(table, geometry=geo.to_numpy(), crs=gdf.crs)
    return out


def summary_table(result: Any, by: str) -> pd.DataFrame:
    """Summarise a view, rounded for display (shares in %, times in minutes).

    Parameters
    ----------
    result
        A :class:`~analysis.coverage.CoverageResult`.
    by
        ``region``, ``dep``, ``epci`` or ``urban_class``.

    Returns
    -------
    pandas.DataFrame
        ``group, grouping, communes, demand, demand_beyond, share_beyond_pct,
        share_beyond_open_data_only_pct, communes_beyond, p50_min, p90_min, times_are``.
    """
    s = result.summary(by).copy()
    s["share_beyond_pct"] = (100 * s["share_beyond"]).round(1)
    s["share_beyond_open_data_only_pct"] = (100 * s["share_beyond_open_data_only"]).round(1)
    for col in ("demand", "demand_beyond"):
        s[col] = s[col].round(0)
    for col in ("p50_min", "p90_min"):
        s[col] = s[col].round(1)
    cols = [
        "group", "grouping", "communes", "demand", "demand_beyond", "share_beyond_pct",
        "share_beyond_open_data_only_pct", "communes_beyond", "p50_min", "p90_min", "times_are",
    ]  # fmt: skip
    return s[cols]


def headline_figures(result: Any) -> dict[str, float]:
    """Regional headline figures of a view.

    Parameters
    ----------
    result
        A :class:`~analysis.coverage.CoverageResult`.

    Returns
    -------
    dict of str to float
        ``demand``, ``demand_beyond``, ``share_beyond`` (0-1), ``communes_beyond``,
        ``population_beyond``, ``p50_min``, ``p90_min`` (demand-weighted), ``clusters``,
        ``rural_clusters``, and the open-data-only counterparts
        ``share_beyond_open_data_only``, ``demand_beyond_open_data_only`` with
        ``sites_modelled`` (the figures above count that many modelled sites).
    """
    row = result.summary("region").iloc[0]
    df = result.communes
    beyond = ~df["covered"].to_numpy(bool)
    cid = df["cluster_id"].to_numpy()
    rural = df["urban_class"].to_numpy() == "rural"
    pop = df["pop_mun"].to_numpy(float)
    n_rural = 0
    for c in np.unique(cid[cid >= 0]):
        m = cid == c
        total = pop[m].sum()
        n_rural += int(total > 0 and pop[m & rural].sum() / total >= 0.5)
    return {
        "demand": float(row["demand"]),
        "demand_beyond": float(row["demand_beyond"]),
        "share_beyond": float(row["share_beyond"]),
        "communes_beyond": float(row["communes_beyond"]),
        "population_beyond": float(pop[beyond].sum()),
        "p50_min": float(row["p50_min"]),
        "p90_min": float(row["p90_min"]),
        "clusters": float(len(np.unique(cid[cid >= 0]))),
        "rural_clusters": float(n_rural),
        "share_beyond_open_data_only": float(row["share_beyond_open_data_only"]),
        "demand_beyond_open_data_only": float(row["demand_beyond_open_data_only"]),
        "sites_modelled": float(row["sites_modelled"]),
    }
