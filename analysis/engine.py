"""The travel-time engine: one multi-source shortest-path pass per question.

For a set of sites, :func:`nearest_sites` gives every node of a :class:`~analysis.graph.RoadGraph`
the travel time to its nearest site and which site that is, in ONE call of
``scipy.sparse.csgraph.dijkstra(..., min_only=True)``. Sites may carry an access offset
(the time from the road node they snap to, to the door), which is honoured exactly by
giving each site a virtual node joined to its road node by an edge of that time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from .errors import EmptyProfileError, ValidationError
from .graph import RoadGraph

logger = logging.getLogger(__name__)

#: The two directions of travel the engine answers.
DIRECTIONS = ("to_sites", "from_sites")


@dataclass(frozen=True)
class NearestResult:
    """Per-node answer of one multi-source pass.

    Attributes
    ----------
    time_s
        Travel time in seconds from each node to its nearest site (``inf`` if none is
        reachable, or none within ``limit``).
    site
        Position (in the ``site_nodes`` given) of that nearest site, ``-1`` if none.
    """

    time_s: np.ndarray
    site: np.ndarray


def _augmented(base: sp.csr_matrix, heads: np.ndarray, offsets: np.ndarray) -> sp.csr_matrix:
    """Append one virtual node per site, with a single edge to its road node."""
    n = base.shape[0]
    k = len(heads)
    indptr = np.concatenate([base.indptr, base.indptr[-1] + np.arange(1, k + 1)])
    indices = np.concatenate([base.indices, heads.astype(base.indices.dtype)])
    data = np.concatenate([base.data, offsets.astype(base.data.dtype)])
    return sp.csr_matrix((data, indices, indptr), shape=(n + k, n + k))


def nearest_sites(
    graph: RoadGraph,
    site_nodes: np.ndarray,
    *,
    site_offsets_s: np.ndarray | None = None,
    direction: str = "to_sites",
    limit: float = np.inf,
) -> NearestResult:
    """Time from every node to its nearest site, and which site, in one pass.

    Parameters
    ----------
    graph
        The road graph.
    site_nodes
        Node index of each site (several sites may share a node).
    site_offsets_s
        Extra time in seconds between each site's node and the site itself (snap or
        access time); zero if not given.
    direction
        ``"to_sites"`` (default): time travelling from each node to the site, computed on
        the reversed graph. ``"from_sites"``: time from the site to each node.
    limit
        Stop the search beyond this time (seconds); nodes farther away get ``inf``.

    Returns
    -------
    NearestResult

    Raises
    ------
    EmptyProfileError
        If ``site_nodes`` is empty: there is no site to be near to.
    ValidationError
        If a site node is not a node of the graph, an offset is negative, or the direction
        is unknown.
    """
    if direction not in DIRECTIONS:
        raise ValidationError(
            f"unknown direction {direction!r}; valid directions are: {', '.join(DIRECTIONS)}"
        )
    site_nodes = np.asarray(site_nodes, dtype=np.int64)
    k = len(site_nodes)
    if k == 0:
        raise EmptyProfileError("no site to compute travel times to (the site list is empty)")
    n = graph.n_nodes
    if site_nodes.min() < 0 or site_nodes.max() >= n:
        raise ValidationError(f"site node indices must lie in [0, {n})")
    if site_offsets_s is None:
        offsets = np.zeros(k)
    else:
        offsets = np.asarray(site_offsets_s, dtype=np.float64)
        if offsets.shape != (k,):
            raise ValidationError("site_offsets_s must have one value per site")
        if not np.all(np.isfinite(offsets)) or offsets.min() < 0:
            raise ValidationError("site offsets must be finite and non-negative")

    base = graph.csr_reverse if direction == "to_sites" else graph.csr
    if not np.any(offsets):
        # Sites sharing a node are equivalent; keep the first of each node.
        uniq, first = np.unique(site_nodes, return_index=True)
        dist, _pred, src = dijkstra(
            base, directed=True, indices=uniq, min_only=True,
            return_predecessors=True, limit=limit,
        )  # fmt: skip
        owner = np.full(n, -1, dtype=np.int64)
        owner[uniq] = first
        site = np.where(src >= 0, owner[np.maximum(src, 0)], -1)
        return NearestResult(time_s=dist, site=site)

    aug = _augmented(base, site_nodes, offsets)
    virtual = np.arange(n, n + k)
    dist, _pred, src = dijkstra(
        aug, directed=True, indices=virtual, min_only=True,
        return_predecessors=True, limit=limit,
    )  # fmt: skip
    site = np.where(src >= 0, src - n, -1)
    return NearestResult(time_s=dist[:n], site=site[:n])


def times_for_origins(
    result: NearestResult,
    origin_nodes: np.ndarray,
    origin_offsets_s: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Read a pass's answer at origin points (communes), adding their access time.

    Parameters
    ----------
    result
        The answer of :func:`nearest_sites`.
    origin_nodes
        Node index of each origin.
    origin_offsets_s
        Time in seconds from the origin (its residents) to its node; zero if not given.

    Returns
    -------
    time_s : numpy.ndarray
        Door-to-door time of each origin to its nearest site (``inf`` if unreachable).
    site : numpy.ndarray
        Position of that site in the pass's ``site_nodes`` (``-1`` if none).
    """
    origin_nodes = np.asarray(origin_nodes, dtype=np.int64)
    t = result.time_s[origin_nodes].astype(float)
    if origin_offsets_s is not None:
        t = t + np.asarray(origin_offsets_s, dtype=float)
    return t, result.site[origin_nodes]
