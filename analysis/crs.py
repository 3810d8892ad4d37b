"""Coordinate helpers: cached pyproj transformers, lon/lat ⇄ Lambert-93, projected polygons."""

from __future__ import annotations

import weakref
from functools import lru_cache
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import ArrayLike
from pyproj import Transformer

from . import settings


@lru_cache(maxsize=16)
def transformer(src: str, dst: str) -> Transformer:
    """Return the (cached) ``always_xy`` transformer from ``src`` to ``dst``.

    Building a :class:`pyproj.Transformer` costs a few milliseconds; analyses that project
    a handful of points many times (what-if candidates, snapping) reuse this one.

    Parameters
    ----------
    src, dst
        CRS identifiers, e.g. ``"EPSG:4326"`` and ``"EPSG:2154"``.

    Returns
    -------
    pyproj.Transformer
    """
    return Transformer.from_crs(src, dst, always_xy=True)


def to_l93(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Project longitudes/latitudes (EPSG:4326) to Lambert-93 (EPSG:2154).

    Parameters
    ----------
    lon, lat
        Degrees.

    Returns
    -------
    x, y : numpy.ndarray
        Metres.
    """
    tr = transformer(settings.geographic_crs, settings.projected_crs)
    x, y = tr.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def to_lonlat(x: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Lambert-93 metres to longitude/latitude degrees.

    Parameters
    ----------
    x, y
        Metres (EPSG:2154).

    Returns
    -------
    lon, lat : numpy.ndarray
    """
    tr = transformer(settings.projected_crs, settings.geographic_crs)
    lon, lat = tr.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


#: Projected geometries per GeoDataFrame (by ``id``, with a weak reference to check identity).
_PROJECTED: dict[int, tuple[weakref.ref[Any], gpd.GeoSeries]] = {}


def polygons_l93(frame: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """Return the geometries of ``frame`` in Lambert-93, projected once per table.

    The commune polygons are projected by the estimated network, the adjacency, the site
    placement, the candidate checks, the maps and the coach hops: this is the one place
    that does it, and it remembers the result (with its spatial index) for as long as the
    table lives. The table is recognised by identity and length: it must not be modified
    in place afterwards, which the project never does.

    Parameters
    ----------
    frame
        A GeoDataFrame with a CRS (e.g. the communes).

    Returns
    -------
    geopandas.GeoSeries
        The geometries in EPSG:2154, in the order of ``frame``, with the spatial index
        built (do not modify them).
    """
    key = id(frame)
    hit = _PROJECTED.get(key)
    if hit is not None:
        ref, cached = hit
        if len(cached.index) == len(frame.index) and ref() is frame:
            return cached
    geoms = frame.geometry.to_crs(settings.projected_crs)
    geoms.sindex  # noqa: B018 - build the spatial index once, with the projection
    for k in [k for k, (ref, _) in _PROJECTED.items() if ref() is None]:
        del _PROJECTED[k]
    _PROJECTED[key] = (weakref.ref(frame), geoms)
    return geoms


#: The coordinate systems a French planner's file is likely to be in, tried in this order
#: by :func:`likely_crs` (code, name as the messages say it).
KNOWN_CRS: tuple[tuple[str, str], ...] = (
    ("EPSG:4326", "longitude/latitude in degrees (WGS84, EPSG:4326)"),
    ("EPSG:2154", "Lambert-93 (EPSG:2154)"),
    ("EPSG:27572", "Lambert II étendu (EPSG:27572)"),
    ("EPSG:27562", "Lambert II zone centre (EPSG:27562)"),
    ("EPSG:27563", "Lambert III zone sud (EPSG:27563)"),
    ("EPSG:32631", "UTM zone 31N (EPSG:32631)"),
    ("EPSG:32632", "UTM zone 32N (EPSG:32632)"),
    ("EPSG:3857", "Web Mercator (EPSG:3857)"),
    *(
        (f"EPSG:{3900 + z}", f"Lambert conique conforme CC{z} (EPSG:{3900 + z})")
        for z in range(43, 49)
    ),
)

#: Margin around the region's bounding box for :func:`region_box` (degrees).
_BOX_MARGIN_DEG = 0.3


@lru_cache(maxsize=32)
def region_box(crs: str) -> tuple[float, float, float, float]:
    """Return the region's bounding box (small margin) in ``crs``: min x, min y, max x, max y.

    The box's edges are sampled densely and projected, so a curved image is bounded too.
    """
    minx, miny, maxx, maxy = settings.region_bbox_lonlat
    m = _BOX_MARGIN_DEG
    t = np.linspace(0.0, 1.0, 41)
    lon = np.concatenate(
        [minx - m + (maxx - minx + 2 * m) * t] * 2 + [np.full(41, minx - m), np.full(41, maxx + m)]
    )
    lat = np.concatenate(
        [np.full(41, miny - m), np.full(41, maxy + m)] + [miny - m + (maxy - miny + 2 * m) * t] * 2
    )
    if crs == settings.geographic_crs:
        x, y = lon, lat
    else:
        x, y = transformer(settings.geographic_crs, crs).transform(lon, lat)
    return float(np.min(x)), float(np.min(y)), float(np.max(x)), float(np.max(y))


def likely_crs(x: np.ndarray, y: np.ndarray, *, share: float = 0.9) -> list[tuple[str, str, bool]]:
    """List the coordinate systems in which the points fall in the region.

    Parameters
    ----------
    x, y
        The coordinates as the file gives them (first column, second column).
    share
        The share of the finite points that must fall in the region's box.

    Returns
    -------
    list of (code, name, swapped)
        From :data:`KNOWN_CRS`, in its order; ``swapped`` when the points fit with the two
        columns exchanged (and not as given). Empty when nothing fits.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if not len(x):
        return []
    out: list[tuple[str, str, bool]] = []
    for code, name in KNOWN_CRS:
        x0, y0, x1, y1 = region_box(code)
        for swapped, (a, b) in ((False, (x, y)), (True, (y, x))):
            inside = (a >= x0) & (a <= x1) & (b >= y0) & (b <= y1)
            if inside.mean() >= share:
                out.append((code, name, swapped))
                break
    return out


def describe_crs(found: list[tuple[str, str, bool]]) -> str:
    """Say the result of :func:`likely_crs` in words ("Lambert II étendu (EPSG:27572)")."""
    return " or ".join(
        f"{name}{' with the two columns swapped' if sw else ''}" for _, name, sw in found
    )


def position_hint(lon: float, lat: float) -> str:
    """Say what a lon/lat position outside the region probably is, in parentheses, or "".

    Degrees swapped ("(lon/lat swapped?)"), metres of a known projection (named, see
    :func:`likely_crs`), or values that are no degrees at all.
    """
    found = likely_crs(np.array([lon]), np.array([lat]), share=1.0)
    if any(code == "EPSG:4326" and swapped for code, _, swapped in found):
        return "(lon/lat swapped?)"
    if found and found[0][0] != "EPSG:4326":
        return (
            f"(these are metres of {describe_crs(found)}, not degrees: give lon and lat in "
            "degrees, WGS84 EPSG:4326)"
        )
    if abs(lon) > 180 or abs(lat) > 90:
        return "(lon and lat must be degrees, WGS84 EPSG:4326)"
    return "(lon/lat swapped?)" if abs(lon) > abs(lat) else ""  # France: lat > lon


def locate_points(communes: gpd.GeoDataFrame, x: ArrayLike, y: ArrayLike) -> np.ndarray:
    """Row position of the commune containing each Lambert-93 point (``-1`` if none).

    Parameters
    ----------
    communes
        Commune polygons (any CRS).
    x, y
        Point coordinates, Lambert-93 metres.

    Returns
    -------
    numpy.ndarray
        One row position per point; a point on a shared border gets the lowest row.
    """
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    pts = shapely.points(xs, ys)
    ip, ic = polygons_l93(communes).sindex.query(pts, predicate="intersects")
    out = np.full(xs.shape[0], -1, dtype=np.int64)
    order = np.lexsort((ic, ip))[::-1]  # the last write (lowest commune row) wins
    out[ip[order]] = ic[order]
    return out
