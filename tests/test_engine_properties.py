"""Property-based tests of the engine's invariants (hypothesis)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.engine import nearest_sites
from analysis.graph import RoadGraph


@st.composite
def graphs_with_sites(draw):
    n = draw(st.integers(2, 25))
    m = draw(st.integers(0, 80))
    u = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    v = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    w = draw(st.lists(st.floats(0, 1000, allow_nan=False), min_size=m, max_size=m))
    k = draw(st.integers(1, 5))
    sites = draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k))
    offsets = draw(st.lists(st.floats(0, 100, allow_nan=False), min_size=k, max_size=k))
    g = RoadGraph.from_edges(u, v, w, np.arange(n, dtype=float), np.zeros(n))
    return g, np.array(sites), np.array(offsets)


@settings(max_examples=150, deadline=None)
@given(graphs_with_sites(), st.integers(0, 24), st.floats(0, 100, allow_nan=False))
def test_adding_a_site_never_makes_any_time_worse(case, new_node, new_offset):
    g, sites, offsets = case
    new_node = new_node % g.n_nodes
    before = nearest_sites(g, sites, site_offsets_s=offsets)
    after = nearest_sites(
        g, np.append(sites, new_node), site_offsets_s=np.append(offsets, new_offset)
    )
    assert np.all(after.time_s <= before.time_s + 1e-9)
    # where the time improved, the new site is the nearest one
    better = after.time_s < before.time_s - 1e-9
    assert np.all(after.site[better] == len(sites))


@settings(max_examples=150, deadline=None)
@given(graphs_with_sites())
def test_times_never_negative_and_sites_reach_themselves(case):
    g, sites, offsets = case
    res = nearest_sites(g, sites, site_offsets_s=offsets)
    assert np.all(res.time_s >= 0)
    for s, o in zip(sites, offsets, strict=True):
        assert res.time_s[s] <= o + 1e-9
    assert np.all((res.site >= 0) == np.isfinite(res.time_s))


@settings(max_examples=100, deadline=None)
@given(graphs_with_sites())
def test_removing_then_readding_a_site_restores_the_result(case):
    g, sites, offsets = case
    full = nearest_sites(g, sites, site_offsets_s=offsets)
    if len(sites) > 1:
        nearest_sites(g, sites[1:], site_offsets_s=offsets[1:])
    again = nearest_sites(g, sites, site_offsets_s=offsets)
    assert np.array_equal(full.time_s, again.time_s)
    assert np.array_equal(full.site, again.site)
