"""The one graph abstraction every road model produces.

A :class:`RoadGraph` holds node coordinates in Lambert-93 (metres) and the directed edges
as CSR arrays of travel times in seconds. Road models (the estimated regional network, OSM
networks) build one; the engine (:mod:`analysis.engine`) runs on it; snapping
(:func:`nearest_nodes`) uses a KD-tree on its coordinates.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from .errors import ValidationError

logger = logging.getLogger(__name__)

#: The road models a graph can come from; every result carries its model.
ROAD_MODELS = ("estimated", "mainroads", "osm", "synthetic")


@dataclass(frozen=True, eq=False)
class RoadGraph:
    """A directed road graph: node coordinates and CSR edge travel times.

    Parameters
    ----------
    x, y
        Node coordinates in Lambert-93 metres, shape ``(n,)``.
    indptr, indices, weights
        CSR adjacency: the edges leaving node ``i`` go to ``indices[indptr[i]:indptr[i+1]]``
        with travel times ``weights[...]`` in seconds. At most one edge per ordered pair.
    model
        Which road model produced it: one of :data:`ROAD_MODELS`.
    label
        Human-readable description shown in the app and exports (e.g. the OSM extract and
        its date, or "estimated regional network").
    node_ids
        Optional identifiers of the nodes in the source model (INSEE codes, OSM ids).
    meta
        Free-form provenance (parameters, input hashes).
    """

    x: np.ndarray
    y: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    model: str = "synthetic"
    label: str = ""
    node_ids: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.x)
        if len(self.y) != n:
            raise ValidationError("x and y must have the same length")
        if len(self.indptr) != n + 1:
            raise ValidationError(
                f"indptr must have n + 1 = {n + 1} entries, not {len(self.indptr)}"
            )
        if len(self.indices) != len(self.weights):
            raise ValidationError("indices and weights must have the same length")
        if self.model not in ROAD_MODELS:
            raise ValidationError(
                f"unknown road model {self.model!r}; valid models are: {', '.join(ROAD_MODELS)}"
            )
        if len(self.weights) and (
            not np.all(np.isfinite(self.weights)) or float(self.weights.min()) < 0
        ):
            raise ValidationError("edge travel times must be finite and non-negative")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_edges(
        cls,
        u: np.ndarray,
        v: np.ndarray,
        w: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        *,
        model: str = "synthetic",
        label: str = "",
        node_ids: np.ndarray | None = None,
        meta: dict[str, Any] | None = None,
    ) -> RoadGraph:
        """Build a graph from edge arrays; parallel edges keep their fastest time.

        Parameters
        ----------
        u, v
            Tail and head node indices (``0 <= u, v < len(x)``) of each directed edge.
        w
            Travel time of each edge in seconds.
        x, y
            Node coordinates in Lambert-93 metres.
        model, label, node_ids, meta
            See :class:`RoadGraph`.

        Returns
        -------
        RoadGraph
        """
        u = np.asarray(u, dtype=np.int64)
        v = np.asarray(v, dtype=np.int64)
        w = np.asarray(w, dtype=np.float64)
        n = len(x)
        if len(u) and (u.min() < 0 or v.min() < 0 or u.max() >= n or v.max() >= n):
            raise ValidationError(f"edge endpoints must be node indices in [0, {n})")
        # Drop self-loops (useless for shortest paths) and keep the fastest parallel edge.
        keep = u != v
        u, v, w = u[keep], v[keep], w[keep]
        order = np.lexsort((w, v, u))
        u, v, w = u[order], v[order], w[order]
        if len(u):
            first = np.ones(len(u), dtype=bool)
            first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
            u, v, w = u[first], v[first], w[first]
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.add.at(indptr, u + 1, 1)
        np.cumsum(indptr, out=indptr)
        index_dtype = np.int32 if n < 2**31 - 1 else np.int64
        return cls(
            x=np.asarray(x, dtype=np.float64),
            y=np.asarray(y, dtype=np.float64),
            indptr=indptr.astype(index_dtype),
            indices=v.astype(index_dtype),
            weights=w,
            model=model,
            label=label,
            node_ids=node_ids,
            meta=dict(meta or {}),
        )

    # ------------------------------------------------------------------ views
    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.x)

    @property
    def n_edges(self) -> int:
        """Number of directed edges."""
        return len(self.indices)

    @cached_property
    def csr(self) -> sp.csr_matrix:
        """The adjacency as a SciPy CSR matrix (row = tail, column = head)."""
        n = self.n_nodes
        return sp.csr_matrix((self.weights, self.indices, self.indptr), shape=(n, n))

    @cached_property
    def csr_reverse(self) -> sp.csr_matrix:
        """The transposed adjacency, for times *to* a set of targets."""
        return self.csr.T.tocsr()

    @cached_property
    def is_symmetric(self) -> bool:
        """Whether every edge has a reverse edge with the same time."""
        diff = self.csr - self.csr_reverse
        return diff.count_nonzero() == 0 and self.csr.nnz == self.csr_reverse.nnz

    @cached_property
    def kdtree(self) -> cKDTree:
        """KD-tree on the node coordinates (Lambert-93)."""
        return cKDTree(np.column_stack([self.x, self.y]))

    def fingerprint(self) -> str:
        """Return a short hash of the graph's structure and weights (for caches)."""
        h = hashlib.blake2b(digest_size=12)
        for a in (self.x, self.y, self.indptr, self.indices, self.weights):
            h.update(np.ascontiguousarray(a).tobytes())
        h.update(self.model.encode())
        return h.hexdigest()


def nearest_nodes(
    graph: RoadGraph,
    x: np.ndarray,
    y: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Snap points to their nearest graph node.

    Parameters
    ----------
    graph
        The road graph.
    x, y
        Point coordinates in Lambert-93 metres.

    Returns
    -------
    nodes : numpy.ndarray
        Index of the nearest node of each point.
    dist : numpy.ndarray
        Straight-line snap distance in metres.
    """
    pts = np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])
    if len(pts) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    if not np.all(np.isfinite(pts)):
        raise ValidationError("cannot snap points with missing or infinite coordinates")
    dist, idx = graph.kdtree.query(pts, k=1)
    return idx.astype(np.int64), dist
