"""Which communes touch: the contiguity used for under-served clusters.

Two communes are neighbours when their polygons share a border. The bundled polygons are
simplified, so borders are matched with a small tolerance (``tolerance_m``, Lambert-93).
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import scipy.sparse as sp

from . import settings

logger = logging.getLogger(__name__)


def commune_adjacency(
    communes: gpd.GeoDataFrame, *, tolerance_m: float = 50.0
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of neighbouring communes (each unordered pair once, ``i < j``).

    Parameters
    ----------
    communes
        Commune polygons (any CRS; projected to Lambert-93 internally).
    tolerance_m
        Polygons closer than this distance count as sharing a border.

    Returns
    -------
    i, j : numpy.ndarray
        Row positions of the neighbouring pairs.
    """
    geoms = communes.geometry.to_crs(settings.projected_crs).buffer(tolerance_m / 2).values
    left, right = gpd.GeoSeries(geoms).sindex.query(geoms, predicate="intersects")
    keep = left < right
    logger.debug("%d neighbouring commune pairs", int(keep.sum()))
    return left[keep].astype(np.int64), right[keep].astype(np.int64)


def adjacency_matrix(n: int, i: np.ndarray, j: np.ndarray) -> sp.csr_matrix:
    """Symmetric boolean adjacency matrix of ``n`` communes from neighbour pairs."""
    data = np.ones(2 * len(i), dtype=bool)
    rows = np.concatenate([i, j])
    cols = np.concatenate([j, i])
    return sp.csr_matrix((data, (rows, cols)), shape=(n, n))
