"""Shortest-path passes the planner tools need beyond the engine's one multi-source pass.

- :func:`pruned_search`: the exact times from ONE new site to every node where it beats
  today's time (a pruned Dijkstra that never expands a node where the new time is no better
  than today's); compiled with numba, plain Python otherwise.
- :func:`closure_pass`: the exact times once a site is removed, recomputed only on the nodes
  whose nearest site it was (a Dijkstra restricted to them, seeded from their neighbours).
- :func:`limited_times`: travel times between a few sources and given targets within a
  limit (scipy ``dijkstra(..., limit=)``, in chunks), for cost matrices.

All passes run on a *search graph*: the CSR matrix along which the search relaxes edges. For
travel times *to* a site it is the reversed road graph (``RoadGraph.csr_reverse``), as in
:func:`analysis.engine.nearest_sites`.

Why the pruning is exact: today's node times ``old`` are shortest-path distances from a set of
sites, so ``old[w] <= old[v] + t(v, w)`` along every edge. If the new site's time at ``v`` is
no better than today's, no node reached through ``v`` can be improved, so ``v`` need not be
expanded; every node on the shortest path to an improved node is itself improved.
"""

from __future__ import annotations

import heapq
import logging
import math
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from ..errors import ValidationError

logger = logging.getLogger(__name__)


#: Closures affecting at most this many nodes are recomputed in Python (less overhead).
CLOSURE_PYTHON_MAX = 5_000

#: Graphs with at most this many edges get Python adjacency lists (3-4x faster searches).
ADJACENCY_LISTS_MAX_EDGES = 1_000_000

# id(matrix) → (weak reference to it, its lists); entries leave with their matrix.
_ADJ: dict[int, tuple[weakref.ref, list[list[tuple[int, float]]]]] = {}


def adjacency_lists(search: sp.csr_matrix) -> list[list[tuple[int, float]]] | None:
    """Return the search graph as Python adjacency lists (cached), or ``None`` if too large.

    Python loops over lists of ``(head, time)`` tuples are several times faster than over
    slices of the CSR arrays; the lists cost about 100 bytes per edge, so they are only built
    for graphs up to :data:`ADJACENCY_LISTS_MAX_EDGES` edges.
    """
    if search.nnz > ADJACENCY_LISTS_MAX_EDGES:
        return None
    key = id(search)
    hit = _ADJ.get(key)
    if hit is not None and hit[0]() is search:
        return hit[1]
    ptr = search.indptr.tolist()
    pairs = list(zip(search.indices.tolist(), search.data.tolist(), strict=True))
    adj = [pairs[ptr[i] : ptr[i + 1]] for i in range(search.shape[0])]
    _ADJ[key] = (weakref.ref(search, lambda _ref: _ADJ.pop(key, None)), adj)
    return adj


def pruned_search(
    search: sp.csr_matrix, source: int, offset_s: float, old: Sequence[float] | np.ndarray
) -> dict[int, float]:
    """Exact times from one new source at every node where they beat ``old`` (pruned).

    A heap-based Dijkstra that never keeps a time ``>= old`` (see the module documentation
    for why it is exact); :func:`pruned_search_arrays` returns the same as arrays.

    Parameters
    ----------
    search
        Search graph (CSR).
    source
        Node of the new source.
    offset_s
        Time between the node and the source, seconds.
    old
        Today's time at every node.

    Returns
    -------
    dict of int to float
        Node → new time, for every node improved (strictly).
    """
    nodes, times = pruned_search_arrays(search, source, offset_s, np.asarray(old, dtype=float))
    return dict(zip(nodes.tolist(), times.tolist(), strict=True))


def pruned_search_arrays(
    search: sp.csr_matrix, source: int, offset_s: float, old: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`pruned_search` returning ``(nodes, times)`` arrays (in settling order).

    Runs compiled (numba) when available, else in Python over adjacency lists.
    """
    n = search.shape[0]
    if not 0 <= source < n:
        raise ValidationError(f"source node {source} is not a node of the graph (0..{n - 1})")
    if not np.isfinite(offset_s) or offset_s < 0:
        raise ValidationError("the source offset must be a finite, non-negative time")
    old = np.asarray(old, dtype=np.float64)
    if not offset_s < old[source]:
        return np.zeros(0, np.int64), np.zeros(0)
    if HAVE_NUMBA:
        best = np.full(search.shape[0], np.inf)
        nodes = _pruned_kernel(
            search.indptr, search.indices, search.data, int(source), float(offset_s), old, best
        )
        return nodes, best[nodes]
    found = _pruned_python(search, int(source), float(offset_s), old.tolist())
    nodes = np.fromiter(found.keys(), np.int64, len(found))
    times = np.fromiter(found.values(), np.float64, len(found))
    return nodes, times


def _pruned_python(
    search: sp.csr_matrix, source: int, offset_s: float, old: Sequence[float]
) -> dict[int, float]:
    """Run the pruned search in plain Python (when numba is not installed)."""
    inf = math.inf
    best = {source: offset_s}
    heap = [(offset_s, source)]
    pop, push = heapq.heappop, heapq.heappush
    adj = adjacency_lists(search)
    if adj is not None:
        while heap:
            d, v = pop(heap)
            if d > best[v]:
                continue
            for nb, w in adj[v]:
                nd = d + w
                if nd < old[nb] and nd < best.get(nb, inf):
                    best[nb] = nd
                    push(heap, (nd, nb))
        return best
    indptr, indices, data = search.indptr, search.indices, search.data
    while heap:
        d, v = pop(heap)
        if d > best[v]:
            continue
        a, b = indptr[v], indptr[v + 1]
        for nb, w in zip(indices[a:b].tolist(), data[a:b].tolist(), strict=True):
            nd = d + w
            if nd < old[nb] and nd < best.get(nb, inf):
                best[nb] = nd
                push(heap, (nd, nb))
    return best


try:  # numba is a dependency; the plain-Python path stays as a fallback
    import numba

    HAVE_NUMBA = True

    def _jit(f: Any) -> Any:
        return numba.njit(cache=True, nogil=True)(f)

except ImportError:  # pragma: no cover
    HAVE_NUMBA = False

    def _jit(f: Any) -> Any:
        return f


@_jit
def _pruned_kernel(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    source: int,
    offset: float,
    old: np.ndarray,
    best: np.ndarray,
) -> np.ndarray:  # pragma: no cover - compiled
    """Pruned Dijkstra on CSR arrays with an array binary heap; ``best`` starts at inf."""
    cap = 64
    hd = np.empty(cap, np.float64)
    hv = np.empty(cap, np.int64)
    touched = np.empty(cap, np.int64)
    best[source] = offset
    touched[0] = source
    nt = 1
    hd[0] = offset
    hv[0] = source
    size = 1
    while size > 0:
        d = hd[0]
        v = hv[0]
        size -= 1
        if size > 0:
            hd[0] = hd[size]
            hv[0] = hv[size]
            i = 0
            while True:
                c = 2 * i + 1
                if c >= size:
                    break
                if c + 1 < size and hd[c + 1] < hd[c]:
                    c += 1
                if hd[c] < hd[i]:
                    hd[i], hd[c] = hd[c], hd[i]
                    hv[i], hv[c] = hv[c], hv[i]
                    i = c
                else:
                    break
        if d > best[v]:
            continue
        for e in range(indptr[v], indptr[v + 1]):
            nb = indices[e]
            nd = d + data[e]
            if nd < old[nb] and nd < best[nb]:
                if best[nb] == np.inf:
                    if nt == touched.shape[0]:
                        grown = np.empty(2 * nt, np.int64)
                        grown[:nt] = touched
                        touched = grown
                    touched[nt] = nb
                    nt += 1
                best[nb] = nd
                if size == hd.shape[0]:
                    hd2 = np.empty(2 * size, np.float64)
                    hv2 = np.empty(2 * size, np.int64)
                    hd2[:size] = hd
                    hv2[:size] = hv
                    hd = hd2
                    hv = hv2
                hd[size] = nd
                hv[size] = nb
                i = size
                size += 1
                while i > 0:
                    p = (i - 1) // 2
                    if hd[i] < hd[p]:
                        hd[i], hd[p] = hd[p], hd[i]
                        hv[i], hv[p] = hv[p], hv[i]
                        i = p
                    else:
                        break
    return touched[:nt]


def closure_pass(
    search: sp.csr_matrix,
    search_t: sp.csr_matrix,
    old: np.ndarray,
    old_site: np.ndarray,
    closed: int,
    site_nodes: np.ndarray,
    site_offsets_s: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Recompute times after one site closes, only where it was the nearest.

    Parameters
    ----------
    search
        Search graph (CSR).
    search_t
        Its transpose (row ``v`` lists the edges *entering* ``v`` in the search graph).
    old, old_site
        Today's time and nearest site (position in ``site_nodes``, ``-1`` if none) of every
        node, from one multi-source pass over all the sites.
    closed
        Position of the closing site in ``site_nodes``.
    site_nodes, site_offsets_s
        Node and offset of every site of today's pass (``-1`` node for sites left out).

    Returns
    -------
    nodes : numpy.ndarray
        The nodes whose nearest site was the closed one.
    time_s : numpy.ndarray
        Their new time (``inf`` if no other site is reachable).
    site : numpy.ndarray
        Their new nearest site (position in ``site_nodes``, ``-1`` if none).

    Notes
    -----
    Every other node keeps its time: its shortest-path tree branch does not go through the
    closed site. The affected nodes are seeded from their unaffected in-neighbours
    (``old[u] + t(u, v)``) and from the other sites located on them, then one Dijkstra runs
    on the subgraph they induce, from a virtual source joined to each seeded node.
    """
    old = np.asarray(old, dtype=np.float64)
    old_site = np.asarray(old_site, dtype=np.int64)
    site_nodes = np.asarray(site_nodes, dtype=np.int64)
    offsets = np.asarray(site_offsets_s, dtype=np.float64)
    aff = np.flatnonzero(old_site == closed)
    m = len(aff)
    if m == 0:
        return aff, np.zeros(0), np.zeros(0, np.int64)
    if m <= CLOSURE_PYTHON_MAX:
        adj = adjacency_lists(search)
        adj_t = adjacency_lists(search_t) if adj is not None else None
        if adj is not None and adj_t is not None:
            return _closure_python(adj, adj_t, old, old_site, closed, site_nodes, offsets, aff)
    n = search.shape[0]
    local = np.full(n, -1, dtype=np.int64)
    local[aff] = np.arange(m)

    # Seeds from unaffected in-neighbours.
    inc = search_t[aff]
    rows = np.repeat(np.arange(m), np.diff(inc.indptr))
    tails = inc.indices.astype(np.int64)
    ok = (local[tails] < 0) & np.isfinite(old[tails])
    seed_t = np.full(m, np.inf)
    seed_src = np.full(m, -1, dtype=np.int64)
    if ok.any():
        r, tl = rows[ok], tails[ok]
        t = old[tl] + inc.data[ok]
        order = np.lexsort((t, r))
        r, tl, t = r[order], tl[order], t[order]
        first = np.ones(len(r), dtype=bool)
        first[1:] = r[1:] != r[:-1]
        seed_t[r[first]] = t[first]
        seed_src[r[first]] = old_site[tl[first]]
    # Seeds from the other sites standing on affected nodes.
    others = np.flatnonzero((site_nodes >= 0) & (np.arange(len(site_nodes)) != closed))
    on = others[local[site_nodes[others]] >= 0] if len(others) else others
    for s in on.tolist():
        j = local[site_nodes[s]]
        if offsets[s] < seed_t[j]:
            seed_t[j] = offsets[s]
            seed_src[j] = s

    seeded = np.flatnonzero(np.isfinite(seed_t))
    if len(seeded) == 0:
        return aff, np.full(m, np.inf), np.full(m, -1, dtype=np.int64)
    # Subgraph on the affected nodes plus a virtual source (index m).
    sub = search[aff][:, aff].tocsr()
    k = len(seeded)
    indptr = np.concatenate([sub.indptr, [sub.indptr[-1] + k]])
    indices = np.concatenate([sub.indices, seeded.astype(sub.indices.dtype)])
    data = np.concatenate([sub.data, seed_t[seeded]])
    g = sp.csr_matrix((data, indices, indptr), shape=(m + 1, m + 1))
    dist, pred = dijkstra(g, directed=True, indices=m, return_predecessors=True)
    # The seed each reached node hangs from: follow predecessors up to the virtual source.
    reached = np.isfinite(dist[:m])
    root = np.full(m, -1, dtype=np.int64)
    pred_m = pred[:m]
    for v in np.flatnonzero(reached).tolist():
        path = []
        u = v
        while root[u] < 0 and pred_m[u] != m:
            path.append(u)
            u = int(pred_m[u])
        r = root[u] if root[u] >= 0 else u
        root[u] = r
        for p in path:
            root[p] = r
    time = dist[:m]
    site = np.where(reached, seed_src[np.maximum(root[:m], 0)], -1)
    return aff, time, site


def _closure_python(
    adj: list[list[tuple[int, float]]],
    adj_t: list[list[tuple[int, float]]],
    old: np.ndarray,
    old_site: np.ndarray,
    closed: int,
    site_nodes: np.ndarray,
    offsets: np.ndarray,
    aff: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`closure_pass` for few affected nodes: the same seeds, a Python Dijkstra."""
    inf = math.inf
    affected = set(aff.tolist())
    best: dict[int, float] = {}
    src: dict[int, int] = {}
    for v in affected:
        bt, bs = inf, -1
        for u, w in adj_t[v]:
            if u not in affected:
                t = float(old[u]) + w
                if t < bt:
                    bt, bs = t, int(old_site[u])
        if bt < inf:
            best[v], src[v] = bt, bs
    nodes = site_nodes.tolist()
    offs = offsets.tolist()
    for s_idx, v in enumerate(nodes):
        if s_idx != closed and v in affected and offs[s_idx] < best.get(v, inf):
            best[v], src[v] = offs[s_idx], s_idx
    heap = [(t, v) for v, t in best.items()]
    heapq.heapify(heap)
    pop, push = heapq.heappop, heapq.heappush
    while heap:
        d, v = pop(heap)
        if d > best[v]:
            continue
        for nb, w in adj[v]:
            if nb in affected:
                nd = d + w
                if nd < best.get(nb, inf):
                    best[nb] = nd
                    src[nb] = src[v]
                    push(heap, (nd, nb))
    order = aff.tolist()
    time_s = np.array([best.get(v, inf) for v in order])
    site = np.array([src.get(v, -1) for v in order], dtype=np.int64)
    return aff, time_s, site


def limited_times(
    search: sp.csr_matrix,
    sources: np.ndarray,
    targets: np.ndarray,
    *,
    limit_s: float,
    chunk: int = 64,
) -> sp.csr_matrix:
    """Compute times from each source to each target along the search graph, within a limit.

    Parameters
    ----------
    search
        Search graph (CSR).
    sources
        Source nodes (one row each; duplicates allowed).
    targets
        Target nodes (one column each; duplicates allowed).
    limit_s
        Only times ``<= limit_s`` are kept.
    chunk
        Sources per scipy call (memory: ``chunk × n_nodes`` floats).

    Returns
    -------
    scipy.sparse.csr_matrix
        ``len(sources) × len(targets)``; stored entries are the times within the limit
        (an explicit zero is a zero time, not a missing entry).
    """
    sources = np.asarray(sources, dtype=np.int64)
    targets = np.asarray(targets, dtype=np.int64)
    uniq, inv = np.unique(sources, return_inverse=True)
    rows_i: list[np.ndarray] = []
    cols_i: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    if limit_s >= 0 and len(uniq) and len(targets):
        for start in range(0, len(uniq), chunk):
            part = uniq[start : start + chunk]
            dist = dijkstra(search, directed=True, indices=part, limit=limit_s)
            dist = np.atleast_2d(dist)[:, targets]
            r, c = np.nonzero(np.isfinite(dist))
            rows_i.append(r + start)
            cols_i.append(c)
            vals.append(dist[r, c])
    if rows_i:
        r = np.concatenate(rows_i)
        c = np.concatenate(cols_i)
        v = np.concatenate(vals)
    else:
        r = c = np.zeros(0, np.int64)
        v = np.zeros(0)
    by_unique = sp.csr_matrix((v, (r, c)), shape=(len(uniq), len(targets)))
    by_unique.sort_indices()
    return by_unique[inv].tocsr()
