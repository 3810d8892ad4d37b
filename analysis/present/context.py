"""Map context drawn when no base map is chosen: department borders, commune outlines, towns.

Without tiles (the offline default) a map is grey space with a few dots; these layers say
where the user is. They are computed once per commune table (cached in the process) and
drawn as non-interactive layers, so they never take a click or a tooltip from the map's own
layers.

Page weight: the 4,025 commune outlines as GeoJSON are 0.6-1.5 MB whatever the
simplification (each of the ~12,000 shared edges keeps its two end points, at 17 bytes a
coordinate pair). They are written as *encoded polylines* instead (Google's polyline
algorithm: integer deltas, 5 bits a character, 3-5 bytes a point) and decoded by a dozen
lines of JavaScript in the page.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import MacroElement
from folium.template import Template
from jinja2.utils import htmlsafe_json_dumps

from .. import settings
from ..cache import UNREADABLE, cache_key, load_or_build
from ..crs import polygons_l93
from .leaflet import esc

logger = logging.getLogger(__name__)

#: Towns labelled: prefectures and communes of at least this many inhabitants.
TOWN_MIN_POP = 20_000
#: The prefectures are labelled at every zoom, the other towns from this zoom on (so the
#: labels of the Lyon and Grenoble suburbs do not pile up on the whole-region view).
MINOR_TOWN_ZOOM = 9
#: Decimal places of the encoded coordinates (4 ≈ 10 m, well under the simplification).
PRECISION = 4


# ------------------------------------------------------------------------ encoded polylines
#: The 64 characters of the encoding (base64url's), in place of Google's ASCII 63-126: no
#: character of the string needs escaping in JSON, HTML or a Jinja template (Google's
#: alphabet has ``\\``, ``{`` and ``}``; folium passes every script through Jinja again).
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
#: Separates the lines of one encoded string (not a character of :data:`ALPHABET`).
LINE_SEP = "."


def encode_lines(lines: list[np.ndarray], precision: int = PRECISION) -> str:
    """Encode lines with Google's polyline algorithm, all in one string.

    Latitude first, as the format says: each coordinate, rounded to ``precision``
    decimals, is written as its difference from the one before, in 5-bit groups with a
    continuation bit. Two changes: the 6-bit values are written with :data:`ALPHABET`
    (one line alone is Google's encoding with each character ``c`` replaced by
    ``ALPHABET[ord(c) - 63]``), and the deltas run on from one line to the next (the
    first point of a line is a small step from the last point of the one before, not a
    full coordinate), the lines separated by :data:`LINE_SEP`.

    Parameters
    ----------
    lines
        ``(n, 2)`` arrays of longitude, latitude (degrees).
    precision
        Decimal places kept (5 is the format's usual value).

    Returns
    -------
    str
        Characters of :data:`ALPHABET` and :data:`LINE_SEP`.
    """
    if not lines:
        return ""
    arrays = [np.asarray(c, float).reshape(-1, 2)[:, ::-1] for c in lines]
    ints = np.round(np.concatenate(arrays) * 10**precision).astype(np.int64)
    deltas = np.diff(ints, axis=0, prepend=np.zeros((1, 2), np.int64)).ravel().tolist()
    ends = set((2 * np.cumsum([len(a) for a in arrays])[:-1]).tolist())
    out: list[str] = []
    for i, v in enumerate(deltas):
        if i in ends:
            out.append(LINE_SEP)
        v = ~(v << 1) if v < 0 else v << 1
        while v >= 0x20:
            out.append(ALPHABET[0x20 | (v & 0x1F)])
            v >>= 5
        out.append(ALPHABET[v])
    return "".join(out)


def encode_polyline(lonlat: np.ndarray, precision: int = PRECISION) -> str:
    """Encode one line (Google's polyline algorithm; see :func:`encode_lines`)."""
    return encode_lines([lonlat], precision)


def decode_lines(text: str, precision: int = PRECISION) -> list[np.ndarray]:
    """Decode :func:`encode_lines` (the page does the same in JavaScript).

    Returns
    -------
    list of numpy.ndarray
        ``(n, 2)`` arrays of longitude, latitude.
    """
    lines: list[np.ndarray] = []
    lat = lon = 0
    for chunk in text.split(LINE_SEP) if text else []:
        values: list[int] = []
        shift = acc = 0
        for ch in chunk:
            b = _INDEX[ch]
            acc |= (b & 0x1F) << shift
            shift += 5
            if b < 0x20:
                values.append(~(acc >> 1) if acc & 1 else acc >> 1)
                shift = acc = 0
        steps = np.asarray(values, np.int64).reshape(-1, 2)
        pts = np.cumsum(steps, axis=0) + np.array([lat, lon], np.int64)
        lat, lon = (int(v) for v in pts[-1])
        lines.append(pts[:, ::-1] / 10**precision)
    return lines


def _lines(geom: Any) -> list[np.ndarray]:
    """Coordinate arrays of the lines (or polygon rings) of a geometry."""
    if geom is None or shapely.is_empty(geom):
        return []
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        geom = shapely.boundary(geom)
    return [
        shapely.get_coordinates(part)
        for part in shapely.get_parts(geom)
        if shapely.get_num_coordinates(part) >= 2
    ]


# ---------------------------------------------------------------------------- the context
@dataclass(frozen=True)
class Town:
    """A labelled town (name already HTML-escaped)."""

    insee: str
    name: str
    lon: float
    lat: float
    pop: int
    prefecture: bool

    @property
    def major(self) -> bool:
        """Labelled at every zoom (the prefectures)."""
        return self.prefecture


@dataclass(frozen=True)
class MapContext:
    """Light context geometries of a commune table (EPSG:4326).

    Attributes
    ----------
    departments
        Department code → border (polygon, simplified, coordinates rounded).
    department_lines
        Department code → its rings, encoded (:func:`encode_lines`).
    outline_lines
        The commune boundaries, each shared edge once, encoded (:func:`encode_lines`).
    towns
        The labelled towns, most populous first.
    tolerance_m
        Simplification tolerance, Lambert-93 metres.
    precision
        Decimal places of the encoded coordinates.
    """

    departments: dict[str, Any]
    department_lines: dict[str, str]
    outline_lines: str
    towns: tuple[Town, ...]
    tolerance_m: float
    precision: int = PRECISION

    def sizes(self) -> dict[str, int]:
        """Bytes each layer adds to a page (its data as written in the script)."""
        return {
            "departments": len(_json(self.department_lines)),
            "outlines": len(_json(self.outline_lines)),
            "towns": len(_json(_town_rows(self.towns))),
        }


def _json(obj: Any) -> str:
    return str(htmlsafe_json_dumps(obj, separators=(",", ":")))


def main_towns(communes: gpd.GeoDataFrame, *, min_pop: int = TOWN_MIN_POP) -> tuple[Town, ...]:
    """Prefectures and communes of at least ``min_pop`` inhabitants, most populous first.

    Parameters
    ----------
    communes
        Commune table with ``insee``, ``nom``, ``pop_mun`` and the town-hall point ``lon``,
        ``lat`` (without them, a point inside the polygon, in EPSG:4326).
    min_pop
        Population from which a commune is labelled.

    Returns
    -------
    tuple of Town
        Names HTML-escaped.
    """
    from ..sites.modelled import PREFECTURES

    pref = set(PREFECTURES.values())
    insee = communes["insee"].astype(str)
    keep = (communes["pop_mun"].to_numpy(float) >= min_pop) | insee.isin(pref).to_numpy()
    sub = communes[keep].sort_values("pop_mun", ascending=False)
    if {"lon", "lat"} <= set(sub.columns):
        lon, lat = sub["lon"].to_numpy(float), sub["lat"].to_numpy(float)
    else:
        pts = gpd.GeoSeries(sub.geometry, crs=getattr(sub, "crs", None))
        if pts.crs is not None:
            pts = pts.to_crs(settings.geographic_crs)
        pts = pts.representative_point()
        lon, lat = pts.x.to_numpy(float), pts.y.to_numpy(float)
    return tuple(
        Town(
            insee=str(code),
            # escaped: shown as text; braces as entities (folium runs scripts through Jinja)
            name=esc(name).replace("{", "&#123;").replace("}", "&#125;"),
            lon=round(float(x), 4),
            lat=round(float(y), 4),
            pop=int(pop),
            prefecture=str(code) in pref,
        )
        for code, name, pop, x, y in zip(
            sub["insee"], sub["nom"], sub["pop_mun"], lon, lat, strict=True
        )
        if np.isfinite(x) and np.isfinite(y)
    )


def map_context(
    communes: gpd.GeoDataFrame, *, tolerance_m: float = 300.0, precision: int = PRECISION
) -> MapContext:
    """Build the context layers of a commune table (simplified in Lambert-93).

    Parameters
    ----------
    communes
        Commune table with polygon ``geometry``, ``insee``, ``nom``, ``dep``, ``pop_mun``,
        ``lon``, ``lat``.
    tolerance_m
        Coverage simplification tolerance (topology kept: neighbours keep a common edge),
        Lambert-93 metres.
    precision
        Decimal places of the longitudes and latitudes.

    Returns
    -------
    MapContext
    """
    l93 = shapely.make_valid(polygons_l93(communes).to_numpy())
    try:
        simple = shapely.coverage_simplify(l93, tolerance_m)
    except shapely.errors.GEOSException:  # pragma: no cover - not a valid coverage
        simple = shapely.simplify(l93, tolerance_m / 4, preserve_topology=True)
    bad = shapely.is_empty(simple) | (shapely.area(simple) <= 0)
    simple = np.where(bad, l93, simple)

    def to_wgs(geoms: list[Any]) -> gpd.GeoSeries:
        return gpd.GeoSeries(geoms, crs=settings.projected_crs).to_crs(settings.geographic_crs)

    # every shared edge once: the union of the boundaries, merged into long lines
    lines = shapely.line_merge(shapely.union_all(shapely.boundary(simple)))
    outline_lines = encode_lines(_lines(to_wgs([lines]).iloc[0]), precision)
    deps = communes["dep"].astype(str).to_numpy()
    departments: dict[str, Any] = {}
    department_lines: dict[str, str] = {}
    for dep in sorted(set(deps)):
        part = simple[deps == dep]
        try:
            border = shapely.coverage_union_all(part)
        except shapely.errors.GEOSException:  # pragma: no cover
            border = shapely.union_all(shapely.buffer(part, 1.0))
        border = to_wgs([border]).iloc[0]
        border = shapely.transform(border, lambda c: np.round(c, precision))
        departments[dep] = border
        department_lines[dep] = encode_lines(_lines(border), precision)
    return MapContext(
        departments=departments,
        department_lines=department_lines,
        outline_lines=outline_lines,
        towns=main_towns(communes),
        tolerance_m=float(tolerance_m),
        precision=int(precision),
    )


def _context_key(communes: gpd.GeoDataFrame, tolerance_m: float, precision: int) -> str:
    return cache_key(
        f"map-context-v1|{float(tolerance_m)}|{int(precision)}|{TOWN_MIN_POP}",
        "|".join(communes["insee"].astype(str)),
        "|".join(communes["nom"].astype(str)),
        "|".join(communes["dep"].astype(str)),
        np.asarray(communes["pop_mun"], float).tobytes(),
        np.asarray(communes[["lon", "lat"]], float).tobytes(),
        *communes.geometry.to_wkb(),
    )


def _write_context(tmp: Path, c: MapContext) -> None:
    payload = {
        "departments": {
            k: shapely.to_wkt(g, rounding_precision=-1) for k, g in c.departments.items()
        },
        "department_lines": c.department_lines,
        "outline_lines": c.outline_lines,
        "towns": [dataclasses.asdict(t) for t in c.towns],
        "tolerance_m": c.tolerance_m,
        "precision": c.precision,
    }
    tmp.write_text(json.dumps(payload, separators=(",", ":")), encoding="utf-8")


def _read_context(path: Path) -> MapContext:
    d = json.loads(path.read_text(encoding="utf-8"))
    return MapContext(
        departments={k: shapely.from_wkt(w) for k, w in d["departments"].items()},
        department_lines={str(k): str(v) for k, v in d["department_lines"].items()},
        outline_lines=str(d["outline_lines"]),
        towns=tuple(Town(**t) for t in d["towns"]),
        tolerance_m=float(d["tolerance_m"]),
        precision=int(d["precision"]),
    )


def cached_map_context(
    communes: gpd.GeoDataFrame,
    *,
    cache_dir: str | Path | None = None,
    tolerance_m: float = 300.0,
    precision: int = PRECISION,
) -> MapContext:
    """:func:`map_context`, cached on disk under a hash of the communes (checksummed).

    Parameters
    ----------
    communes
        As for :func:`map_context`.
    cache_dir
        Folder of the cache file (default :data:`analysis.settings.processed_data_dir`).
    tolerance_m, precision
        As for :func:`map_context`.

    Returns
    -------
    MapContext
    """
    key = _context_key(communes, tolerance_m, precision)
    folder = Path(cache_dir) if cache_dir is not None else settings.processed_data_dir
    return load_or_build(
        folder / f"map_context_{key}.json",
        build=lambda: map_context(communes, tolerance_m=tolerance_m, precision=precision),
        read=_read_context,
        write=_write_context,
        what="map context",
        log=logger,
        unreadable=(*UNREADABLE, TypeError, shapely.errors.GEOSException),
    )


@functools.lru_cache(maxsize=1)
def default_context() -> MapContext | None:
    """Return the context of the bundled communes (built once, cached on disk and per process).

    Returns
    -------
    MapContext or None
        ``None`` (with a warning) when the commune layer cannot be read.
    """
    from ..communes import load_communes
    from ..errors import SproError

    try:
        return cached_map_context(load_communes())
    except (SproError, OSError) as exc:
        logger.warning("no map context (communes not available: %s)", exc)
        return None


# ------------------------------------------------------------------------------- drawing
def _town_rows(towns: tuple[Town, ...]) -> list[list[Any]]:
    return [[t.lat, t.lon, t.name, 1 if t.major else 0, 1 if t.prefecture else 0] for t in towns]


class EncodedLines(MacroElement):
    """Non-interactive polylines from encoded strings, added to the parent layer.

    Parameters
    ----------
    lines
        Encoded lines (:func:`encode_lines`).
    style
        Leaflet path options (``color``, ``weight``, ``opacity``, ``className``…).
    precision
        Decimal places of the encoding.
    with_decoder
        Write the JavaScript decoder (``window.sproDecodeLines``) before drawing: the
        first layer of encoded lines of a page does, the others use it.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            {%- if this.with_decoder %}
            // the decoder, once a page (the first layer of encoded lines defines it)
            window.sproDecodeLines = (function () {
                var A = {{ this.alphabet_json }}, T = {};
                var SEP = {{ this.sep_json }}.charCodeAt(0);
                for (var j = 0; j < A.length; j++) { T[A.charCodeAt(j)] = j; }
                return function (s, f) {
                    var lines = [], cur = [], lat = 0, lon = 0, i = 0;
                    while (i < s.length) {
                        if (s.charCodeAt(i) === SEP) { lines.push(cur); cur = []; i++; continue; }
                        var v = [0, 0];
                        for (var k = 0; k < 2; k++) {
                            var b, sh = 0, r = 0;
                            do { b = T[s.charCodeAt(i++)]; r |= (b & 31) << sh; sh += 5; }
                            while (b >= 32);
                            v[k] = (r & 1) ? ~(r >> 1) : (r >> 1);
                        }
                        lat += v[0]; lon += v[1];
                        cur.push([lat / f, lon / f]);
                    }
                    if (cur.length) { lines.push(cur); }
                    return lines;
                };
            })();
            {%- endif %}
            var lines = window.sproDecodeLines({{ this.lines_json }},
                                               Math.pow(10, {{ this.precision }}));
            var opts = Object.assign({interactive: false, fill: false, bubblingMouseEvents: true},
                                     {{ this.style_json }});
            L.polyline(lines, opts).addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self, lines: str, *, style: dict[str, Any], precision: int, with_decoder: bool = True
    ) -> None:
        super().__init__()
        self._name = "EncodedLines"
        self.with_decoder = bool(with_decoder)
        self.lines_json = _json(lines)
        self.alphabet_json = _json(ALPHABET)
        self.sep_json = _json(LINE_SEP)
        self.style_json = _json(style)
        self.precision = int(precision)


class TownLabels(MacroElement):
    """Town names as small, non-interactive labels (Leaflet ``divIcon`` markers).

    The names are HTML-escaped in Python (:func:`main_towns`) and written as JSON strings:
    a name is shown as text, never run as markup. Minor towns show from
    :data:`MINOR_TOWN_ZOOM` on.

    Parameters
    ----------
    towns
        From :func:`main_towns`.
    map_name
        The map's JavaScript name.
    z_index
        Of the labels' pane: 350 draws them under the map's own layers (overlay pane
        400), 450 over them (a filled choropleth would hide them otherwise).
    """

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>
        .spro-town { background: none; border: none; }
        .spro-town span { position: absolute; transform: translate(-50%, -50%);
          font: 11px/1.1 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
          color: #263238; white-space: nowrap; pointer-events: none;
          text-shadow: 0 0 2px #fff, 0 0 2px #fff, 0 0 3px #fff; }
        .spro-town.pref span { font-weight: 600; font-size: 12px; }
        .spro-town.minor { display: none; }
        .spro-towns-all .spro-town.minor { display: block; }
        </style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function () {
            var group = {{ this._parent.get_name() }};
            var map = {{ this.map_name }};
            // a pane of their own: under the map's markers (overlay pane: 400) or over a
            // filled choropleth; the labels never take a click
            var pane = map.getPane("sproTowns") || map.createPane("sproTowns");
            pane.style.zIndex = {{ this.z_index }};
            pane.style.pointerEvents = "none";
            {{ this.rows_json }}.forEach(function (t) {
                var cls = "spro-town" + (t[4] ? " pref" : "") + (t[3] ? "" : " minor");
                L.marker([t[0], t[1]], {
                    interactive: false, keyboard: false, pane: "sproTowns",
                    icon: L.divIcon({className: cls, html: "<span>" + t[2] + "</span>",
                                     iconSize: [0, 0]})
                }).addTo(group);
            });
            function zoomed() {
                var c = map.getContainer();
                if (map.getZoom() >= {{ this.minor_zoom }}) {
                    L.DomUtil.addClass(c, "spro-towns-all");
                } else {
                    L.DomUtil.removeClass(c, "spro-towns-all");
                }
            }
            map.on("zoomend", zoomed);
            map.whenReady(zoomed);
        })();
        {% endmacro %}
        """
    )

    def __init__(self, towns: tuple[Town, ...], *, map_name: str, z_index: int = 350) -> None:
        super().__init__()
        self._name = "TownLabels"
        self.z_index = int(z_index)
        self.rows_json = _json(_town_rows(towns))
        self.map_name = map_name
        self.minor_zoom = MINOR_TOWN_ZOOM


#: Style of the department borders and of the commune outlines.
DEPARTMENT_STYLE = {"color": "#37474f", "weight": 1.4, "opacity": 0.85, "className": "spro-dep"}
OUTLINE_STYLE = {"color": "#90a4ae", "weight": 0.5, "opacity": 0.7, "className": "spro-outline"}

#: Names of the context layers in the layer control.
DEPARTMENTS_LAYER = "Department borders"
OUTLINES_LAYER = "Commune outlines"
TOWNS_LAYER = "Towns"


def add_context(
    m: folium.Map,
    context: MapContext | None,
    *,
    basemap: str = "none",
    departments: bool = True,
    outlines: bool = True,
    towns: bool = True,
) -> list[folium.FeatureGroup]:
    """Add the context layers to a map, each a layer of the layer control.

    With no base map (``basemap="none"``) the layers are shown. With one, the tiles carry
    the communes and the names: the department borders and the towns are in the layer
    control, off, and the commune outlines (most of the weight) are left out.

    Parameters
    ----------
    m
        The map.
    context
        From :func:`map_context` / :func:`default_context` (``None``: nothing added).
    basemap
        The base map key.
    departments, outlines, towns
        Which layers to add (a map drawing its own communes or borders leaves them out).

    Returns
    -------
    list of folium.FeatureGroup
        The layers added, named :data:`DEPARTMENTS_LAYER`, :data:`OUTLINES_LAYER`,
        :data:`TOWNS_LAYER`.
    """
    if context is None:
        return []
    show = basemap == "none"
    added = []
    # the first layer written defines the decoder (the scripts run in the order added)
    first = [True]

    def lines_layer(lines: str, style: dict[str, Any]) -> EncodedLines:
        layer = EncodedLines(lines, style=style, precision=context.precision, with_decoder=first[0])
        first[0] = False
        return layer

    if outlines and show:
        group = folium.FeatureGroup(name=OUTLINES_LAYER, show=show)
        group.add_child(lines_layer(context.outline_lines, OUTLINE_STYLE))
        added.append(group)
    if departments:
        group = folium.FeatureGroup(name=DEPARTMENTS_LAYER, show=show)
        for dep, lines in context.department_lines.items():
            style = dict(DEPARTMENT_STYLE, className=f"spro-dep spro-dep-{esc(dep)}")
            group.add_child(lines_layer(lines, style))
        added.append(group)
    for group in added:
        group.add_to(m)
    if towns:
        added.append(add_towns(m, context.towns, show=show))
    return added


def add_towns(
    m: folium.Map, towns: tuple[Town, ...], *, show: bool = True, over: bool = False
) -> folium.FeatureGroup:
    """Add the town labels to a map, as the layer :data:`TOWNS_LAYER`.

    Parameters
    ----------
    m
        The map.
    towns
        From :func:`main_towns`.
    show
        Whether the layer starts shown (else it is in the layer control, off).
    over
        Draw the labels over the map's own layers (a filled choropleth), not under them.

    Returns
    -------
    folium.FeatureGroup
    """
    group = folium.FeatureGroup(name=TOWNS_LAYER, show=show)
    group.add_child(TownLabels(towns, map_name=m.get_name(), z_index=450 if over else 350))
    group.add_to(m)
    return group


# ----------------------------------------------------------------------------- map clicks
@dataclass(frozen=True)
class ClickedCommune:
    """What a map click selects: the commune under it, or why none."""

    lon: float
    lat: float
    insee: str | None
    name: str | None
    message: str

    @property
    def found(self) -> bool:
        """Whether a commune of the region is under the click."""
        return self.insee is not None


def commune_at_click(communes: gpd.GeoDataFrame, lon: Any, lat: Any) -> ClickedCommune:
    """Return the commune whose polygon contains a clicked point (point-in-polygon).

    Parameters
    ----------
    communes
        Commune table (EPSG:4326 polygons, full resolution; ``insee``, ``nom``).
    lon, lat
        The click, degrees (as the map sends them: possibly missing).

    Returns
    -------
    ClickedCommune
        With a message saying which commune, or that the point is outside the region.
    """
    try:
        lon, lat = float(lon), float(lat)
    except (TypeError, ValueError):
        return ClickedCommune(np.nan, np.nan, None, None, "The click gave no position.")
    if not (np.isfinite(lon) and np.isfinite(lat)):
        return ClickedCommune(lon, lat, None, None, "The click gave no position.")
    idx = communes.sindex.query(shapely.points(lon, lat), predicate="intersects")
    if len(idx):
        i = int(np.sort(idx)[0])  # a point on a shared edge: the first commune, every time
        name = str(communes["nom"].iloc[i])
        insee = str(communes["insee"].iloc[i])
        return ClickedCommune(lon, lat, insee, name, f"Commune under the click: {name} ({insee}).")
    return ClickedCommune(
        lon,
        lat,
        None,
        None,
        f"The point {lon:.5f}, {lat:.5f} is outside the region: no commune of "
        "Auvergne-Rhône-Alpes lies under it. Click inside the region's communes.",
    )


def describe_sizes(context: MapContext) -> str:
    """One line with the bytes each context layer adds to a page (for logs and docs)."""
    s = context.sizes()
    return ", ".join(f"{k} {v / 1000:,.0f} kB" for k, v in s.items()) + (
        f" (tolerance {context.tolerance_m:g} m, {context.precision} decimals)"
    )


__all__ = [
    "ClickedCommune",
    "EncodedLines",
    "MapContext",
    "Town",
    "TownLabels",
    "add_context",
    "add_towns",
    "cached_map_context",
    "commune_at_click",
    "decode_lines",
    "default_context",
    "describe_sizes",
    "encode_lines",
    "encode_polyline",
    "main_towns",
    "map_context",
]
