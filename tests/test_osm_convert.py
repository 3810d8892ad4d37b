"""osmnx-style MultiDiGraph → CSR RoadGraph: parallel edges, components, lengths, filters."""

import networkx as nx
import numpy as np
import pytest

from analysis.errors import ValidationError
from analysis.osm.convert import (
    edge_table,
    graph_to_roadgraph,
    great_circle_m,
    largest_strong_component,
    network_mask,
)
from analysis.osm.speeds import FRENCH_SPEEDS_KMH


def small_graph():
    G = nx.MultiDiGraph(crs="EPSG:4326")
    coords = {10: (4.80, 45.75), 20: (4.81, 45.75), 30: (4.82, 45.75), 40: (4.90, 45.80),
              50: (4.91, 45.80)}  # fmt: skip
    for n, (x, y) in coords.items():
        G.add_node(n, x=x, y=y)
    # two parallel edges 10->20: the faster one is kept
    G.add_edge(10, 20, length=1000.0, highway="residential")  # 120 s at 30 km/h
    G.add_edge(10, 20, length=1000.0, highway="primary", maxspeed="90")  # 40 s
    G.add_edge(20, 10, length=1000.0, highway="residential")
    G.add_edge(20, 30, highway="secondary")  # no length: great-circle distance
    G.add_edge(30, 20, length=500.0, highway=["tertiary", "residential"], maxspeed=["50", "70"])
    G.add_edge(40, 50, length=100.0, highway="residential")  # another component
    G.add_edge(50, 40, length=100.0, highway="residential")
    return G


def weight(g, a, b):
    ids = g.node_ids.tolist()
    i, j = ids.index(a), ids.index(b)
    row = slice(g.indptr[i], g.indptr[i + 1])
    hit = np.flatnonzero(g.indices[row] == j)
    assert len(hit) == 1
    return float(g.weights[row][hit[0]])


def test_conversion_values():
    g = graph_to_roadgraph(small_graph(), label="test")
    assert g.model == "osm" and g.label == "test"
    assert sorted(g.node_ids.tolist()) == [10, 20, 30]  # largest strong component
    assert g.meta["n_nodes_dropped"] == 2
    assert weight(g, 10, 20) == pytest.approx(40.0)
    assert weight(g, 20, 10) == pytest.approx(1000 / (FRENCH_SPEEDS_KMH["residential"] / 3.6))
    d = great_circle_m(4.81, 45.75, 4.82, 45.75)
    assert weight(g, 20, 30) == pytest.approx(d / (FRENCH_SPEEDS_KMH["secondary"] / 3.6))
    assert weight(g, 30, 20) == pytest.approx(500 / (60 / 3.6))  # mean of the list
    # Lambert-93 coordinates
    assert 700_000 < g.x.min() < g.x.max() < 900_000
    assert 6_400_000 < g.y.min() < 6_600_000


def test_keep_all_components():
    g = graph_to_roadgraph(small_graph(), largest_scc=False)
    assert g.n_nodes == 5


def test_walk_uses_one_speed():
    g = graph_to_roadgraph(small_graph(), network="walk", walk_speed_kmh=5.0)
    assert weight(g, 10, 20) == pytest.approx(1000 / (5 / 3.6))


def test_projected_graph_and_string_ids():
    G = nx.MultiDiGraph(crs="EPSG:2154")
    G.add_node("a", x=800_000.0, y=6_500_000.0)
    G.add_node("b", x=801_000.0, y=6_500_000.0)
    G.add_edge("a", "b", highway="primary")
    G.add_edge("b", "a", highway="primary")
    g = graph_to_roadgraph(G)
    assert weight(g, "a", "b") == pytest.approx(1000 / (80 / 3.6))
    np.testing.assert_allclose(sorted(g.x), [800_000.0, 801_000.0])


def test_empty_graph_is_an_error():
    G = nx.MultiDiGraph(crs="EPSG:4326")
    G.add_node(1, x=4.8, y=45.7)
    with pytest.raises(ValidationError, match="no edge"):
        graph_to_roadgraph(G)


def test_largest_component_keeps_times():
    g = graph_to_roadgraph(small_graph(), largest_scc=False)
    sub = largest_strong_component(g)
    assert sub.n_nodes == 3
    assert weight(sub, 10, 20) == weight(g, 10, 20)


def test_drive_and_walk_filters_follow_osmnx():
    G = nx.MultiDiGraph(crs="EPSG:4326")
    tags = [
        {"highway": "primary"},
        {"highway": "footway"},
        {"highway": "service"},
        {"highway": "residential", "access": "private"},
        {"highway": "residential", "motor_vehicle": "no"},
        {"highway": "motorway_link"},
        {"highway": "pedestrian", "area": "yes"},
        {"highway": "cycleway"},
        {"highway": "residential", "foot": "no"},
        {},
    ]
    for i, t in enumerate(tags):
        G.add_node(2 * i, x=4.8, y=45.7)
        G.add_node(2 * i + 1, x=4.81, y=45.7)
        G.add_edge(2 * i, 2 * i + 1, length=10.0, **t)
    attrs = ["highway", "access", "area", "service", "motor_vehicle", "motorcar", "foot"]
    table = edge_table(G, attrs=attrs)
    drive = network_mask(table, "drive").tolist()
    walk = network_mask(table, "walk").tolist()
    assert drive == [True, False, False, False, False, True, False, False, True, False]
    assert walk == [True, True, True, False, True, False, False, False, False, False]
