"""Incremental passes of the planner tools against full recomputes (random instances)."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from analysis.engine import nearest_sites
from analysis.errors import ValidationError
from analysis.graph import RoadGraph
from analysis.planning import paths
from analysis.planning.paths import closure_pass, limited_times, pruned_search


def random_graph(rng, n, m, *, integer=True, zero_share=0.0):
    u = rng.integers(0, n, m)
    v = rng.integers(0, n, m)
    w = rng.integers(1, 50, m).astype(float) if integer else rng.uniform(0.5, 50, m)
    if zero_share:
        w[rng.random(m) < zero_share] = 0.0
    # make it mostly connected: a random spanning path both ways
    perm = rng.permutation(n)
    pu = np.concatenate([perm[:-1], perm[1:]])
    pv = np.concatenate([perm[1:], perm[:-1]])
    pw = rng.integers(1, 50, len(pu)).astype(float)
    return RoadGraph.from_edges(
        np.concatenate([u, pu]), np.concatenate([v, pv]), np.concatenate([w, pw]),
        np.arange(n, dtype=float), np.zeros(n),
    )  # fmt: skip


def test_hand_built_line_graph():
    # 0 -1- 1 -1- 2 -1- 3 -1- 4 (symmetric); site at 0; new site at 4.
    u = [0, 1, 1, 2, 2, 3, 3, 4]
    v = [1, 0, 2, 1, 3, 2, 4, 3]
    g = RoadGraph.from_edges(u, v, np.ones(8), np.arange(5.0), np.zeros(5))
    old = nearest_sites(g, np.array([0])).time_s
    assert old.tolist() == [0, 1, 2, 3, 4]
    assert pruned_search(g.csr_reverse, 4, 0.0, old) == {4: 0.0, 3: 1.0}
    # with an access time of 0.5 s, node 2 (2.5 s against 2 s today) is not improved
    assert pruned_search(g.csr_reverse, 4, 0.5, old) == {4: 0.5, 3: 1.5}
    # a new site no better than today at its own node changes nothing
    assert pruned_search(g.csr_reverse, 1, 1.0, old) == {}
    with pytest.raises(ValidationError, match="not a node"):
        pruned_search(g.csr_reverse, 5, 0.0, old)
    with pytest.raises(ValidationError, match="non-negative"):
        pruned_search(g.csr_reverse, 1, -1.0, old)


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("seed", range(40))
def test_pruned_search_equals_full_recompute(seed, compiled, monkeypatch):
    # the compiled search and the plain-Python one
    monkeypatch.setattr(paths, "HAVE_NUMBA", compiled and paths.HAVE_NUMBA)
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 60))
    g = random_graph(rng, n, int(rng.integers(n, 4 * n)), integer=seed % 2 == 0)
    k = int(rng.integers(1, 5))
    sites = rng.integers(0, n, k)
    offsets = rng.uniform(0, 20, k) if seed % 3 else np.zeros(k)
    base = nearest_sites(g, sites, site_offsets_s=offsets)
    new_node = int(rng.integers(0, n))
    new_off = float(rng.uniform(0, 20))
    found = pruned_search(g.csr_reverse, new_node, new_off, base.time_s)
    full = nearest_sites(g, np.append(sites, new_node), site_offsets_s=np.append(offsets, new_off))
    incr = base.time_s.copy()
    for v, t in found.items():
        incr[v] = t
    np.testing.assert_allclose(incr, full.time_s, rtol=0, atol=1e-9)
    # improved nodes: exactly those where the full recompute is strictly better
    better = full.time_s < base.time_s - 1e-9
    assert set(found) == set(np.flatnonzero(better))
    assert all(t < base.time_s[v] for v, t in found.items())


@pytest.mark.parametrize("python_path", [True, False])
@pytest.mark.parametrize("seed", range(40))
def test_closure_pass_equals_full_recompute(seed, python_path, monkeypatch):
    # both implementations: the Python Dijkstra (few affected nodes) and the scipy subgraph
    monkeypatch.setattr(paths, "CLOSURE_PYTHON_MAX", 10**9 if python_path else 0)
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(5, 60))
    g = random_graph(rng, n, int(rng.integers(n, 4 * n)), zero_share=0.1 if seed % 4 == 0 else 0)
    k = int(rng.integers(2, 6))
    sites = rng.integers(0, n, k)
    offsets = rng.uniform(0, 20, k) if seed % 3 else np.zeros(k)
    if seed % 5 == 0:
        sites[1] = sites[0]  # two sites on one node
    # the engine keeps positions when offsets are given; force offsets for stable positions
    offsets = offsets + 1e-3 * np.arange(k)
    base = nearest_sites(g, sites, site_offsets_s=offsets)
    closed = int(rng.integers(0, k))
    nodes, t, s = closure_pass(g.csr_reverse, g.csr, base.time_s, base.site, closed, sites, offsets)
    keep = np.arange(k) != closed
    full = nearest_sites(g, sites[keep], site_offsets_s=offsets[keep])
    new = base.time_s.copy()
    new[nodes] = t
    np.testing.assert_allclose(new, full.time_s, atol=1e-9)
    # the new nearest site is one at exactly that time
    pos = np.flatnonzero(keep)
    for v, tv, sv in zip(nodes, t, s, strict=True):
        if np.isfinite(tv):
            assert sv != closed and sv >= 0
            alone = nearest_sites(g, sites[[sv]], site_offsets_s=offsets[[sv]]).time_s[v]
            assert alone == pytest.approx(tv)
        else:
            assert sv == -1
    assert np.array_equal(np.isfinite(full.time_s), full.site >= 0)
    assert len(pos) == k - 1


def test_limited_times_matches_dense_dijkstra():
    rng = np.random.default_rng(7)
    g = random_graph(rng, 40, 120)
    sources = np.array([3, 5, 3, 39])
    targets = np.array([0, 1, 2, 3, 10, 3])
    m = limited_times(g.csr, sources, targets, limit_s=60.0, chunk=2)
    dense = dijkstra(g.csr, indices=sources)[:, targets]
    ref = np.where(dense <= 60.0, dense, np.inf)
    got = np.full(m.shape, np.inf)
    coo = m.tocoo()
    got[coo.row, coo.col] = coo.data
    np.testing.assert_allclose(got, ref)
    # a zero time (source == target) is kept as an explicit entry
    assert isinstance(m, sp.csr_matrix)
    assert got[0, 3] == 0.0 and m[0, 3] == 0.0 and m.nnz == np.isfinite(ref).sum()


@pytest.mark.parametrize("compiled", [True, False])
def test_pruned_search_on_a_larger_grid(compiled, monkeypatch):
    # thousands of improved nodes: the compiled heap and lists grow past their first size
    monkeypatch.setattr(paths, "HAVE_NUMBA", compiled and paths.HAVE_NUMBA)
    rng = np.random.default_rng(11)
    side = 60
    ids = np.arange(side * side).reshape(side, side)
    u = np.concatenate([ids[:, :-1].ravel(), ids[:-1, :].ravel()])
    v = np.concatenate([ids[:, 1:].ravel(), ids[1:, :].ravel()])
    w = rng.uniform(1, 10, len(u))
    g = RoadGraph.from_edges(
        np.concatenate([u, v]), np.concatenate([v, u]), np.concatenate([w, w]),
        (ids % side).ravel().astype(float), (ids // side).ravel().astype(float),
    )  # fmt: skip
    base = nearest_sites(g, np.array([0]))
    new = int(ids[side - 1, side - 1])
    fast = pruned_search(g.csr_reverse, new, 0.0, base.time_s)
    full = nearest_sites(g, np.array([0, new]))
    better = np.flatnonzero(full.time_s < base.time_s)
    assert len(better) > 1000
    assert set(fast) == set(better)
    got = np.array([fast[i] for i in better])
    np.testing.assert_allclose(got, full.time_s[better], rtol=1e-12)
