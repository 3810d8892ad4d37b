"""The one-pass engine against a naive reference: networkx Dijkstra from every node."""

import networkx as nx
import numpy as np
import pytest

from analysis.engine import nearest_sites, times_for_origins
from analysis.errors import EmptyProfileError, ValidationError
from analysis.graph import RoadGraph


def random_case(seed, *, n=30, m=90, zero_share=0.1):
    rng = np.random.default_rng(seed)
    u = rng.integers(0, n, m)
    v = rng.integers(0, n, m)
    w = rng.uniform(0, 100, m)
    w[rng.random(m) < zero_share] = 0.0
    g = RoadGraph.from_edges(u, v, w, rng.uniform(0, 1e4, n), rng.uniform(0, 1e4, n))
    # reference graph: the fastest of parallel edges, no self-loops
    G = nx.DiGraph()
    G.add_nodes_from(range(n))
    for a, b, t in zip(u.tolist(), v.tolist(), w.tolist(), strict=True):
        if a != b and (not G.has_edge(a, b) or G[a][b]["weight"] > t):
            G.add_edge(a, b, weight=t)
    k = int(rng.integers(1, 6))
    sites = rng.integers(0, n, k)
    offsets = rng.uniform(0, 50, k)
    return g, G, sites, offsets


def reference(G, sites, offsets, direction):
    """Time of every node to (or from) its nearest site, by brute force."""
    n = G.number_of_nodes()
    d = np.full((n, len(sites)), np.inf)
    for j, s in enumerate(sites.tolist()):
        if direction == "to_sites":
            lengths = nx.single_source_dijkstra_path_length(G.reverse(copy=False), s)
        else:
            lengths = nx.single_source_dijkstra_path_length(G, s)
        for node, t in lengths.items():
            d[node, j] = t + offsets[j]
    return d


@pytest.mark.parametrize("direction", ["to_sites", "from_sites"])
@pytest.mark.parametrize("with_offsets", [False, True])
@pytest.mark.parametrize("seed", range(12))
def test_nearest_sites_matches_reference(seed, direction, with_offsets):
    g, G, sites, offsets = random_case(seed)
    if not with_offsets:
        offsets = np.zeros(len(sites))
    res = nearest_sites(
        g, sites, site_offsets_s=offsets if with_offsets else None, direction=direction
    )
    d = reference(G, sites, offsets, direction)
    best = d.min(axis=1)
    np.testing.assert_allclose(res.time_s, best, rtol=1e-12, atol=1e-9)
    reach = np.isfinite(best)
    assert np.all((res.site >= 0) == reach)
    # the site reported is one of the nearest (ties allowed)
    idx = np.flatnonzero(reach)
    np.testing.assert_allclose(d[idx, res.site[idx]], best[idx], rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_limit_cuts_farther_nodes(seed):
    g, _, sites, offsets = random_case(seed, n=40, m=140, zero_share=0.0)
    full = nearest_sites(g, sites, site_offsets_s=offsets)
    finite = full.time_s[np.isfinite(full.time_s)]
    limit = float(np.median(finite)) + 1e-6
    cut = nearest_sites(g, sites, site_offsets_s=offsets, limit=limit)
    keep = full.time_s <= limit
    np.testing.assert_allclose(cut.time_s[keep], full.time_s[keep])
    assert np.all(np.isinf(cut.time_s[~keep]))
    assert np.all(cut.site[~keep] == -1)


def test_sites_sharing_a_node_and_origins():
    g, *_ = random_case(99)
    sites = np.array([3, 3, 7])
    res = nearest_sites(g, sites)
    assert not np.any(res.site == 1)  # the first of two sites on one node answers
    origins = np.array([0, 5, 9])
    t, s = times_for_origins(res, origins, np.array([10.0, 0.0, 1.0]))
    np.testing.assert_allclose(t, res.time_s[origins] + [10.0, 0.0, 1.0])
    np.testing.assert_array_equal(s, res.site[origins])


def test_bad_arguments():
    g, *_ = random_case(1)
    with pytest.raises(EmptyProfileError):
        nearest_sites(g, np.array([], dtype=int))
    with pytest.raises(ValidationError, match="valid directions"):
        nearest_sites(g, np.array([0]), direction="sideways")
    with pytest.raises(ValidationError, match=r"\[0, 30\)"):
        nearest_sites(g, np.array([30]))
    with pytest.raises(ValidationError, match="non-negative"):
        nearest_sites(g, np.array([0]), site_offsets_s=np.array([-1.0]))
    with pytest.raises(ValidationError, match="one value per site"):
        nearest_sites(g, np.array([0, 1]), site_offsets_s=np.array([1.0]))
