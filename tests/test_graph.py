import numpy as np
import pytest

from analysis.errors import ValidationError
from analysis.graph import RoadGraph, nearest_nodes


def line_graph():
    # 0 -10- 1 -20- 2, both directions, plus a slower parallel edge 0->1
    u = [0, 1, 1, 2, 0]
    v = [1, 0, 2, 1, 1]
    w = [10.0, 10.0, 20.0, 20.0, 99.0]
    return RoadGraph.from_edges(u, v, w, [0.0, 100.0, 200.0], [0.0, 0.0, 0.0])


def test_parallel_edges_keep_the_fastest_and_self_loops_dropped():
    g = RoadGraph.from_edges([0, 0, 1, 1], [1, 1, 1, 0], [5.0, 3.0, 1.0, 4.0], [0, 1], [0, 0])
    assert g.n_edges == 2
    assert g.csr[0, 1] == 3.0
    assert g.csr[1, 0] == 4.0


def test_csr_and_reverse():
    g = line_graph()
    assert g.n_nodes == 3 and g.n_edges == 4
    assert g.csr[0, 1] == 10.0
    assert g.csr_reverse[1, 0] == 10.0
    assert g.is_symmetric


def test_asymmetric_detected():
    g = RoadGraph.from_edges([0], [1], [1.0], [0, 1], [0, 0])
    assert not g.is_symmetric


def test_nearest_nodes_kdtree_matches_brute_force():
    rng = np.random.default_rng(1)
    x, y = rng.random(500) * 1e4, rng.random(500) * 1e4
    g = RoadGraph.from_edges([], [], [], x, y)
    px, py = rng.random(200) * 1e4, rng.random(200) * 1e4
    nodes, dist = nearest_nodes(g, px, py)
    d2 = (px[:, None] - x[None, :]) ** 2 + (py[:, None] - y[None, :]) ** 2
    assert np.array_equal(nodes, d2.argmin(axis=1))
    assert np.allclose(dist, np.sqrt(d2.min(axis=1)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"w": [-1.0]}, "non-negative"),
        ({"w": [np.nan]}, "finite"),
        ({"u": [5]}, "node indices"),
    ],
)
def test_bad_edges_rejected(kwargs, match):
    args = {"u": [0], "v": [1], "w": [1.0]}
    args.update(kwargs)
    with pytest.raises(ValidationError, match=match):
        RoadGraph.from_edges(args["u"], args["v"], args["w"], [0, 1], [0, 0])


def test_unknown_model_lists_valid_ones():
    with pytest.raises(ValidationError, match="estimated, mainroads, osm, synthetic"):
        RoadGraph.from_edges([0], [1], [1.0], [0, 1], [0, 0], model="magic")


def test_snapping_missing_coordinates_is_an_error():
    g = line_graph()
    with pytest.raises(ValidationError, match="missing"):
        nearest_nodes(g, np.array([np.nan]), np.array([0.0]))


def test_fingerprint_changes_with_weights():
    g1 = line_graph()
    g2 = RoadGraph.from_edges([0, 1], [1, 0], [10.0, 11.0], [0.0, 100.0], [0.0, 0.0])
    assert g1.fingerprint() != g2.fingerprint()
    assert g1.fingerprint() == line_graph().fingerprint()
