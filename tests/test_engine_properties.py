"""Property-based tests of the engine's invariants (hypothesis)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.engine import nearest_sites
from analysis.graph import RoadGraph
from analysis.planning.whatif import WhatIf
from analysis.profiles import Profile
from analysis.road_model import RoadModel


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


@st.composite
def regions_with_sites(draw):
    """A random road graph with one commune per node and 1-6 sites near random nodes.

    Nodes stand 1 km apart on a line (so a site within 400 m snaps to its own node), edges
    are random and one-way (zero-time edges and unreachable nodes included); sites may
    share a node.
    """
    g, _, _ = draw(graphs_with_sites())
    n = g.n_nodes
    k = draw(st.integers(1, 6))
    at = draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k))
    dx = draw(st.lists(st.floats(-400, 400, allow_nan=False), min_size=k, max_size=k))
    pop = draw(st.lists(st.integers(0, 5_000), min_size=n, max_size=n))
    graph = RoadGraph.from_edges(
        *_edges(g), np.arange(n) * 1_000.0, np.zeros(n), model="synthetic", label="random"
    )
    access = np.asarray(draw(st.lists(st.floats(0, 300), min_size=n, max_size=n)))
    model = RoadModel(
        graph=graph,
        origin_ids=np.array([f"{i:05d}" for i in range(n)], dtype=object),
        origin_nodes=np.arange(n),
        origin_offsets_s=access,
    )
    communes = pd.DataFrame(
        {"insee": model.origin_ids, "nom": [f"C{i}" for i in range(n)], "pop_mun": pop}
    )
    sites = pd.DataFrame(
        {
            "site_id": [f"S{j}" for j in range(k)],
            "name": [f"Site {j}" for j in range(k)],
            "network": "Mission Locale",
            "kind": "permanence",
            "x_l93": np.asarray(at) * 1_000.0 + np.asarray(dx),
            "y_l93": 0.0,
            "lon": 4.0,
            "lat": 45.0,
            "provenance": "user",
        }
    )
    threshold_min = draw(st.floats(0.5, 30))
    return model, communes, sites, threshold_min


def _edges(g):
    u = np.repeat(np.arange(g.n_nodes), np.diff(g.indptr))
    return u, g.indices, g.weights


PROFILE = Profile(
    key="young", label="Young", networks=("Mission Locale",), thresholds_min={"road": 20.0}
)


def _full_pass(model, communes, sites, threshold_min):
    """Today's commune times by one full pass (``inf`` everywhere when no site is left)."""
    if len(sites) == 0:
        return np.full(len(communes), np.inf)
    session = WhatIf(model, sites, communes, [PROFILE], thresholds_min=threshold_min)
    return session.baseline("young", "road").origin_time_s


def _apply(before, change):
    after = np.array(before, dtype=float)
    after[change.rows] = change.after_s
    return after


@settings(max_examples=120, deadline=None)
@given(regions_with_sites(), st.data())
def test_removing_then_readding_a_site_restores_the_result(case, data):
    """Close a site incrementally, then re-add it incrementally: both steps match full passes.

    The closure is answered by the what-if closure pass (only the communes whose nearest
    site it was are recomputed), the re-addition by the pruned improvement pass from the
    site alone; each must equal a full multi-source pass over the same sites, and the
    round trip must give back today's times exactly.
    """
    model, communes, sites, thr = case
    pos = data.draw(st.integers(0, len(sites) - 1), label="closed site")
    today = _full_pass(model, communes, sites, thr)

    session = WhatIf(model, sites, communes, [PROFILE], thresholds_min=thr)
    base = session.baseline("young", "road")
    np.testing.assert_array_equal(base.origin_time_s, today)
    closed = _apply(today, session.change_for_closure(base, pos))
    others = sites.drop(index=pos).reset_index(drop=True)
    np.testing.assert_allclose(closed, _full_pass(model, communes, others, thr), rtol=1e-12)
    assert np.all(closed >= today - 1e-9)  # closing a site never makes a time better

    if len(others):
        session_wo = WhatIf(model, others, communes, [PROFILE], thresholds_min=thr)
        base_wo = session_wo.baseline("young", "road")
        x, y = float(sites["x_l93"].iloc[pos]), float(sites["y_l93"].iloc[pos])
        readded = _apply(base_wo.origin_time_s, session_wo.change_for_addition(base_wo, x, y))
    else:  # re-adding the only site: back to a one-site pass
        readded = _full_pass(model, communes, sites.iloc[[pos]], thr)
    np.testing.assert_allclose(readded, today, rtol=1e-12)

    # The cards agree with the round trip: what the closure loses, the re-addition wins back.
    card = session.evaluate(remove=[sites["site_id"].iloc[pos]]).cards.iloc[0]
    covered = today <= 60 * thr
    demand = communes["pop_mun"].to_numpy(float)
    lost = demand[covered & (closed > 60 * thr)].sum()
    assert card["demand_losing_cover"] == pytest.approx(lost)
