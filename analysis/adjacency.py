"""Which communes touch: the contiguity shared by the estimated network and the clusters.

Two communes are neighbours when their polygons (Lambert-93) lie within ``tolerance_m`` of
each other along at least ``min_shared_m`` of border. The bundled polygons are simplified,
so a small tolerance lets touching borders count; the minimum shared length drops corner
contacts (four communes meeting at a point), where no road passes. See
``docs/estimated_network.md`` for the measurements behind the defaults.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import scipy.sparse as sp
import shapely

from . import settings
from .cache import cache_key, load_npz, load_or_build, save_npz
from .crs import polygons_l93

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


_MEMO: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def _communes_key(communes: gpd.GeoDataFrame) -> str:
    return cache_key(
        f"adjacency-v1|{TOLERANCE_M}|{MIN_SHARED_M}",
        "|".join(communes["insee"].astype(str)),
        *communes.geometry.to_wkb(),
    )


def commune_adjacency(
    communes: gpd.GeoDataFrame, *, cache_dir: str | Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of neighbouring communes (each unordered pair once, ``i < j``).

    The pairs are cached in memory and in ``cache_dir`` (default
    :data:`analysis.settings.processed_data_dir`) under a hash of the codes and polygons,
    with a checksum; a corrupt cache file is rebuilt.

    Parameters
    ----------
    communes
        Commune polygons (any CRS; projected to Lambert-93 internally) with ``insee``.
    cache_dir
        Folder of the cache file.

    Returns
    -------
    i, j : numpy.ndarray
        Row positions of the neighbouring pairs.
    """
    key = _communes_key(communes)
    if key in _MEMO:
        return _MEMO[key]
    folder = Path(cache_dir) if cache_dir is not None else settings.processed_data_dir
    path = folder / f"commune_adjacency_{key}.npz"
    pair = load_or_build(
        path,
        build=lambda: _build(communes),
        read=_read,
        write=lambda tmp, ij: save_npz(tmp, {"i": ij[0], "j": ij[1]}),
        what="commune adjacency",
        log=logger,
    )
    logger.debug("%d neighbouring commune pairs", len(pair[0]))
    _MEMO[key] = pair
    return pair


def _build(communes: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    i, j, _ = adjacent_pairs(polygons_l93(communes).to_numpy())
    return i, j


def _read(path: Path) -> tuple[np.ndarray, np.ndarray]:
    z = load_npz(path)
    return z["i"], z["j"]


def adjacency_matrix(n: int, i: np.ndarray, j: np.ndarray) -> sp.csr_matrix:
    """Symmetric boolean adjacency matrix of ``n`` communes from neighbour pairs."""
    data = np.ones(2 * len(i), dtype=bool)
    rows = np.concatenate([i, j])
    cols = np.concatenate([j, i])
    return sp.csr_matrix((data, (rows, cols)), shape=(n, n))
