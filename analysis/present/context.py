"""Map context drawn when no base map is chosen: department borders, commune outlines, towns.

Computed once per commune table (cached in the process), drawn as non-interactive layers so
they never take a click or a tooltip from the map's own layers.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import shapely

from .. import settings
from ..crs import polygons_l93
from .leaflet import esc

logger = logging.getLogger(__name__)

#: Towns labelled: prefectures and communes of at least this many inhabitants.
TOWN_MIN_POP = 20_000


@dataclass(frozen=True)
class Town:
    """A labelled town (name already HTML-escaped)."""

    insee: str
    name: str
    lon: float
    lat: float
    pop: int
    prefecture: bool


@dataclass(frozen=True)
class MapContext:
    """Light context geometries (EPSG:4326, rounded).

    Attributes
    ----------
    departments
        GeoJSON FeatureCollection of the department borders (property ``dep``).
    outlines
        GeoJSON geometry (MultiLineString) of the commune boundaries, each edge once.
    towns
        The labelled towns.
    """

    departments: dict[str, Any]
    outlines: dict[str, Any]
    towns: tuple[Town, ...]
    tolerance_m: float

    def sizes(self) -> dict[str, int]:
        """Compact JSON size of each layer, bytes."""
        return {
            "departments": len(json.dumps(self.departments, separators=(",", ":"))),
            "outlines": len(json.dumps(self.outlines, separators=(",", ":"))),
        }


def _round(geoms: np.ndarray, decimals: int) -> np.ndarray:
    return shapely.transform(geoms, lambda c: np.round(c, decimals))


def main_towns(communes: gpd.GeoDataFrame, *, min_pop: int = TOWN_MIN_POP) -> tuple[Town, ...]:
    """Prefectures and communes of at least ``min_pop`` inhabitants, most populous first."""
    from ..sites.modelled import PREFECTURES

    pref = set(PREFECTURES.values())
    insee = communes["insee"].astype(str)
    keep = (communes["pop_mun"].to_numpy(float) >= min_pop) | insee.isin(pref).to_numpy()
    sub = communes[keep].sort_values("pop_mun", ascending=False)
    return tuple(
        Town(
            insee=str(r.insee),
            name=esc(r.nom),
            lon=round(float(r.lon), 5),
            lat=round(float(r.lat), 5),
            pop=int(r.pop_mun),
            prefecture=str(r.insee) in pref,
        )
        for r in sub.itertuples(index=False)
    )


def map_context(
    communes: gpd.GeoDataFrame, *, tolerance_m: float = 150.0, decimals: int = 5
) -> MapContext:
    """Build the context layers of a commune table (simplified in Lambert-93).

    Parameters
    ----------
    communes
        Commune table with polygon ``geometry``, ``insee``, ``nom``, ``dep``, ``pop_mun``,
        ``lon``, ``lat``.
    tolerance_m
        Coverage simplification tolerance, Lambert-93 metres.
    decimals
        Decimal places of the longitudes and latitudes.

    Returns
    -------
    MapContext
    """
    l93 = shapely.make_valid(polygons_l93(communes).to_numpy())
    try:
        simple = shapely.coverage_simplify(l93, tolerance_m)
    except Exception:  # pragma: no cover - invalid coverage
        simple = shapely.simplify(l93, tolerance_m / 4, preserve_topology=True)
    bad = shapely.is_empty(simple) | (shapely.area(simple) <= 0)
    simple = np.where(bad, l93, simple)
    to_wgs = functools.partial(
        lambda g: (
            gpd.GeoSeries(g, crs=settings.projected_crs).to_crs(settings.geographic_crs).to_numpy()
        )
    )
    lines = shapely.line_merge(shapely.union_all(shapely.boundary(simple)))
    outlines = _round(to_wgs([lines]), decimals)[0]
    deps = communes["dep"].astype(str).to_numpy()
    feats = []
    for dep in sorted(set(deps)):
        part = simple[deps == dep]
        try:
            border = shapely.coverage_union_all(part)
        except Exception:  # pragma: no cover
            border = shapely.union_all(shapely.buffer(part, 1.0))
        border = _round(to_wgs([border]), decimals)[0]
        feats.append(
            {
                "type": "Feature",
                "properties": {"dep": esc(dep)},
                "geometry": json.loads(shapely.to_geojson(border)),
            }
        )
    return MapContext(
        departments={"type": "FeatureCollection", "features": feats},
        outlines=json.loads(shapely.to_geojson(outlines)),
        towns=main_towns(communes),
        tolerance_m=float(tolerance_m),
    )


@functools.lru_cache(maxsize=1)
def default_context() -> MapContext | None:
    """Return the context of the bundled communes (cached per process; None without them)."""
    from ..communes import load_communes
    from ..errors import SproError

    try:
        return map_context(load_communes())
    except (SproError, OSError) as exc:
        logger.warning("no map context (communes not available: %s)", exc)
        return None


_TOWN_CSS = (
    "<style>.spro-town{background:none;border:none;box-shadow:none;padding:0;"
    "font:11px/1.1 system-ui,sans-serif;color:#263238;white-space:nowrap;"
    "text-shadow:0 0 2px #fff,0 0 2px #fff,0 0 3px #fff;}"
    ".spro-town.pref{font-weight:600;font-size:12px;}"
    ".spro-town:before{display:none;}</style>"
)


def add_context(
    m: folium.Map, context: MapContext | None, *, basemap: str = "none", outlines: bool = True
) -> list[folium.FeatureGroup]:
    """Add the context layers to a map (with a base map: departments only, as a hidden toggle).

    Parameters
    ----------
    m
        The map.
    context
        From :func:`map_context` / :func:`default_context` (``None``: nothing added).
    basemap
        The base map key: ``"none"`` draws the whole context.
    outlines
        Draw the commune outlines (off when the map draws the communes itself).

    Returns
    -------
    list of folium.FeatureGroup
        The layers added (named ``Department borders``, ``Commune outlines``, ``Towns``).
    """
    if context is None:
        return []
    plain = basemap == "none"
    added = []
    dep_group = folium.FeatureGroup(name="Department borders", show=plain, control=True)
    folium.GeoJson(
        context.departments,
        style_function=lambda _f: {
            "fill": False,
            "color": "#37474f",
            "weight": 1.4,
            "opacity": 0.8,
        },
        interactive=False,
        control=False,
    ).add_to(dep_group)
    dep_group.add_to(m)
    added.append(dep_group)
    if not plain:
        return added
    if outlines:
        out_group = folium.FeatureGroup(name="Commune outlines", show=True, control=True)
        folium.GeoJson(
            {"type": "Feature", "properties": {}, "geometry": context.outlines},
            style_function=lambda _f: {"color": "#90a4ae", "weight": 0.5, "opacity": 0.7},
            interactive=False,
            control=False,
        ).add_to(out_group)
        out_group.add_to(m)
        added.append(out_group)
    town_group = folium.FeatureGroup(name="Towns", show=True, control=True)
    m.get_root().header.add_child(folium.Element(_TOWN_CSS), name="spro_town_css")
    for t in context.towns:
        folium.Marker(
            location=(t.lat, t.lon),
            icon=folium.DivIcon(
                html=f'<span class="spro-town{" pref" if t.prefecture else ""}">{t.name}</span>',
                class_name="spro-town-icon",
                icon_size=(0, 0),
            ),
            interactive=False,
        ).add_to(town_group)
    town_group.add_to(m)
    added.append(town_group)
    return added


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


def commune_at_click(communes: gpd.GeoDataFrame, lon: float, lat: float) -> ClickedCommune:
    """Return the commune whose polygon contains a clicked point (point-in-polygon).

    Parameters
    ----------
    communes
        Commune table (EPSG:4326 polygons, ``insee``, ``nom``).
    lon, lat
        The click, degrees.

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
        i = int(np.sort(idx)[0])
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
