"""Which communes touch: the contiguity shared by the estimated network and the clusters.

Two communes are neighbours when their polygons (Lambert-93) lie within ``tolerance_m`` of
each other along at least ``min_shared_m`` of border. The bundled polygons are simplified,
so a small tolerance lets touching borders count; the minimum shared length drops corner
contacts (four communes meeting at a point), where no road passes. See
``docs/estimated_network.md`` for the measurements behind the defaults.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import scipy.sparse as sp
import shapely

from . import settings

logger = logging.getLogger(__name__)

#: Default tolerance (metres) within which two borders count as shared.
TOLERANCE_M = 1.0

#: Default minimum length (metres) of shared border for two communes to be neighbours.
MIN_SHARED_M = 10.0


def adjacent_pairs(
    geoms: np.ndarray, *, tolerance_m: float = TOLERANCE_M, min_shared_m: float = MIN_SHARED_M
) -> tuple[np.ndarray, np.ndarray, int]:
    """Neighbouring polygons (projected): pairs ``i < j`` sharing enough border.

    Parameters
    ----------
    geoms
        Polygons in a projected CRS (metres).
    tolerance_m
        Borders closer than this count as shared.
    min_shared_m
        Minimum length of shared border; ``0`` keeps corner contacts.

    Returns
    -------
    i, j : numpy.ndarray
        Positions of the neighbouring pairs.
    n_corner : int
        Pairs dropped as corner contacts.
    """
    tree = shapely.STRtree(geoms)
    if tolerance_m > 0:
        left, right = tree.query(geoms, predicate="dwithin", distance=tolerance_m)
    else:
        left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep].astype(np.int64), right[keep].astype(np.int64)
    if min_shared_m <= 0 or len(left) == 0:
        return left, right, 0
    # Length of i's border lying within the tolerance of j: a corner contact measures
    # about 2 × tolerance, a true shared border its own length.
    near = shapely.buffer(geoms[right], max(tolerance_m, 1e-3))
    shared = shapely.length(shapely.intersection(shapely.boundary(geoms[left]), near))
    ok = shared >= min_shared_m
    return left[ok], right[ok], int((~ok).sum())


def commune_adjacency(communes: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of neighbouring communes (each unordered pair once, ``i < j``).

    Parameters
    ----------
    communes
        Commune polygons (any CRS; projected to Lambert-93 internally).

    Returns
    -------
    i, j : numpy.ndarray
        Row positions of the neighbouring pairs.
    """
    geoms = communes.geometry.to_crs(settings.projected_crs).to_numpy()
    i, j, _ = adjacent_pairs(geoms)
    logger.debug("%d neighbouring commune pairs", len(i))
    return i, j


def adjacency_matrix(n: int, i: np.ndarray, j: np.ndarray) -> sp.csr_matrix:
    """Symmetric boolean adjacency matrix of ``n`` communes from neighbour pairs."""
    data = np.ones(2 * len(i), dtype=bool)
    rows = np.concatenate([i, j])
    cols = np.concatenate([j, i])
    return sp.csr_matrix((data, (rows, cols)), shape=(n, n))
