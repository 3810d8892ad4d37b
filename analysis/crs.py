"""Coordinate helpers: cached pyproj transformers, lon/lat ⇄ Lambert-93, projected polygons."""

from __future__ import annotations

import weakref
from functools import lru_cache
from typing import Any

import geopandas as gpd
import numpy as np
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
