"""Light commune and department geometries for web maps (simplified once)."""

from __future__ import annotations

import html
import json
import logging
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from .. import settings
from ..crs import polygons_l93

logger = logging.getLogger(__name__)


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
