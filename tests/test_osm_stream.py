"""The streaming PBF reader (analysis.osm.stream) against the osmnx/pyrosm path and by hand.

- Real fixtures (pyrosm's ``test_pbf`` and ``helsinki_pbf``, offline in the package): the
  graph of the streaming reader and the graph of the osmnx/pyrosm path (``reader="osmnx"``)
  have the same nodes (tolerance: 0.5 % of the nodes; measured: identical OSM node ids)
  and the same shortest-path times between sampled node pairs (tolerance: 0.1 %
  relative; measured: under 0.007 %, pyrosm rounds lengths to the millimetre).
- Small PBF files written here with pyosmium: oneway values, roundabouts, the drive filter,
  simplification and its times, against hand-computed answers.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra

from analysis.errors import ValidationError
from analysis.osm import build_osm_graph
from analysis.osm.model import resolve_reader
from analysis.osm.stream import (
    READER_NAME,
    describe_estimate,
    estimate_cost,
    way_passes,
)

pyrosm = pytest.importorskip("pyrosm")
osmium = pytest.importorskip("osmium")

NODE_TOLERANCE = 0.005  # share of nodes the two readers may differ by
TIME_RTOL = 1e-3  # relative tolerance of shortest-path times


def _both(name: str, tmp_path: Path, network: str = "drive"):
    path = pyrosm.get_data(name)
    new = build_osm_graph(osm_file=path, cache_dir=tmp_path, reader="stream", network=network)
    old = build_osm_graph(osm_file=path, cache_dir=tmp_path, reader="osmnx", network=network)
    return new[0].graph, old[0].graph


@pytest.mark.parametrize("name", ["test_pbf", "helsinki_pbf"])
def test_same_graph_as_the_osmnx_path_on_real_fixtures(name, tmp_path):
    new, old = _both(name, tmp_path)
    assert new.meta["reader"] == READER_NAME
    assert old.meta.get("reader") is None and old.meta["pyrosm_version"]
    assert old.n_nodes > 100
    assert abs(new.n_nodes - old.n_nodes) <= NODE_TOLERANCE * old.n_nodes
    common = np.intersect1d(new.node_ids, old.node_ids)
    assert len(common) >= (1 - NODE_TOLERANCE) * old.n_nodes
    # Shortest-path times between sampled pairs of common nodes.
    pos_new = {int(k): i for i, k in enumerate(new.node_ids)}
    pos_old = {int(k): i for i, k in enumerate(old.node_ids)}
    rng = np.random.default_rng(0)
    src = rng.choice(common, 25, replace=False)
    t_old = dijkstra(old.csr, indices=[pos_old[int(k)] for k in src])
    t_new = dijkstra(new.csr, indices=[pos_new[int(k)] for k in src])
    cols_old = [pos_old[int(k)] for k in common]
    cols_new = [pos_new[int(k)] for k in common]
    a, b = t_new[:, cols_new], t_old[:, cols_old]
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(b))  # both strongly connected
    assert (b > 0).sum() > 2000
    np.testing.assert_allclose(a, b, rtol=TIME_RTOL, atol=1e-6)


def test_reader_choice(tmp_path, monkeypatch):
    assert resolve_reader(None) == "stream"
    monkeypatch.setenv("SPRO_OSM_READER", "pyrosm")
    assert resolve_reader(None) == "osmnx"
    assert resolve_reader("stream") == "stream"
    g = build_osm_graph(osm_file=pyrosm.get_data("test_pbf"), cache_dir=tmp_path)[0].graph
    assert g.meta.get("reader") is None  # the environment chose the osmnx path
    with pytest.raises(ValidationError, match="unknown OSM reader 'fast'"):
        resolve_reader("fast")


def test_readers_have_separate_cache_entries(tmp_path):
    path = pyrosm.get_data("test_pbf")
    _, p_new = build_osm_graph(osm_file=path, cache_dir=tmp_path, reader="stream")
    _, p_old = build_osm_graph(osm_file=path, cache_dir=tmp_path, reader="osmnx")
    assert p_new != p_old and p_new.exists() and p_old.exists()
    again, p_again = build_osm_graph(osm_file=path, cache_dir=tmp_path, reader="stream")
    assert p_again == p_new and again.graph.meta["reader"] == READER_NAME


# ------------------------------------------------------------------ hand-made extracts
def write_pbf(path: Path, nodes: dict[int, tuple[float, float]], ways: list) -> Path:
    """Write nodes ``{id: (lon, lat)}`` and ways ``[(id, [refs], {tags})]`` as a PBF."""
    from osmium.osm.mutable import Node, Way

    w = osmium.SimpleWriter(str(path))
    try:
        for nid in sorted(nodes):
            w.add_node(Node(id=nid, location=nodes[nid]))
        for wid, refs, tags in ways:
            w.add_way(Way(id=wid, nodes=refs, tags=tags))
    finally:
        w.close()
    return path


def haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance, written out independently (osmnx's Earth radius)."""
    (lon1, lat1), (lon2, lat2) = a, b
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_009.0 * math.asin(math.sqrt(h))


def edges_of(g) -> dict[tuple[int, int], float]:
    """The graph's edges as ``{(osm_u, osm_v): seconds}``."""
    out = {}
    for i in range(g.n_nodes):
        for k in range(g.indptr[i], g.indptr[i + 1]):
            out[(int(g.node_ids[i]), int(g.node_ids[g.indices[k]]))] = float(g.weights[k])
    return out


LINE = {1: (5.000, 45.0), 2: (5.001, 45.0005), 3: (5.002, 45.0), 4: (5.0035, 45.0004)}


def build(tmp_path, nodes, ways, name="x.osm.pbf"):
    p = write_pbf(tmp_path / name, nodes, ways)
    return build_osm_graph(osm_file=p, cache_dir=tmp_path / "cache", reader="stream")[0].graph


def test_chain_is_merged_and_its_time_is_the_sum(tmp_path):
    # Two residential ways 1-2-3 and 3-4: 2 and 3 are neither dead ends nor junctions.
    g = build(tmp_path, LINE, [(10, [1, 2, 3], {"highway": "residential"}),
                               (11, [3, 4], {"highway": "residential"})])  # fmt: skip
    d = sum(haversine_m(LINE[a], LINE[b]) for a, b in ((1, 2), (2, 3), (3, 4)))
    t = d / (30 / 3.6)  # residential: 30 km/h French default
    assert edges_of(g) == pytest.approx({(1, 4): t, (4, 1): t}, rel=1e-9)


def test_a_change_of_speed_limit_keeps_the_node(tmp_path):
    # osmnx/pyrosm keep a node where highway or maxspeed change (edge_attrs_differ).
    ways = [(10, [1, 2, 3], {"highway": "residential"}),
            (11, [3, 4], {"highway": "residential", "maxspeed": "50"})]  # fmt: skip
    g = build(tmp_path, LINE, ways)
    t13 = (haversine_m(LINE[1], LINE[2]) + haversine_m(LINE[2], LINE[3])) / (30 / 3.6)
    t34 = haversine_m(LINE[3], LINE[4]) / (50 / 3.6)
    assert edges_of(g) == pytest.approx(
        {(1, 3): t13, (3, 1): t13, (3, 4): t34, (4, 3): t34}, rel=1e-9
    )


TRIANGLE = {1: (5.0, 45.0), 2: (5.01, 45.0), 3: (5.005, 45.008), 4: (4.99, 44.99),
            5: (5.02, 45.0), 6: (5.005, 45.02), 7: (4.99, 45.01), 8: (5.02, 45.01),
            9: (5.0, 45.02)}  # fmt: skip


def test_oneway_values_roundabouts_and_the_drive_filter(tmp_path):
    ways = [
        (1, [1, 2], {"highway": "primary", "oneway": "yes"}),  # 1 -> 2
        (2, [3, 2], {"highway": "secondary", "oneway": "-1"}),  # against its order: 2 -> 3
        (3, [3, 1], {"highway": "tertiary", "junction": "roundabout"}),  # implied: 3 -> 1
        # Two-way spurs the project's osmnx drive filter drops (they would join the SCC):
        (4, [1, 4], {"highway": "footway"}),
        (5, [2, 5], {"highway": "service", "service": "driveway"}),
        (6, [3, 6], {"highway": "track"}),
        (7, [1, 7], {"highway": "residential", "access": "private"}),
        (8, [2, 8], {"highway": "residential", "motor_vehicle": "no"}),
        (9, [3, 9], {"highway": "residential", "area": "yes"}),
    ]
    g = build(tmp_path, TRIANGLE, ways)
    assert sorted(edges_of(g)) == [(1, 2), (2, 3), (3, 1)]
    t12 = haversine_m(TRIANGLE[1], TRIANGLE[2]) / (80 / 3.6)  # primary: 80 km/h
    assert edges_of(g)[(1, 2)] == pytest.approx(t12, rel=1e-9)


def test_way_filter_is_the_projects_osmnx_filter():
    # Overpass semantics: unanchored regex, absent optional tags pass.
    assert way_passes({"highway": "residential"}, "drive")
    assert not way_passes({"highway": "residential", "service": "parking_aisle"}, "drive")
    assert not way_passes({"highway": "services"}, "drive")
    assert way_passes({"highway": "unclassified", "access": "no"}, "drive")  # osmnx keeps it
    assert not way_passes({"name": "no highway tag"}, "drive")
    assert way_passes({"highway": "footway"}, "walk")
    assert not way_passes({"highway": "footway", "foot": "no"}, "walk")


def test_a_way_cut_by_a_missing_node_is_not_joined_across_the_gap(tmp_path):
    nodes = {k: v for k, v in LINE.items() if k != 3}  # node 3 is not in the extract
    ways = [(10, [1, 2, 3, 4], {"highway": "residential"}),
            (11, [4, 1], {"highway": "residential", "maxspeed": "50"})]  # fmt: skip
    g = build(tmp_path, nodes, ways)
    e = edges_of(g)
    assert (2, 4) not in e and (4, 2) not in e
    assert set(g.node_ids.tolist()) <= {1, 2, 4}


def test_estimate_and_progress(tmp_path, capsys):
    p = tmp_path / "big.osm.pbf"
    with open(p, "wb") as f:  # a sparse 640 MB file: only its size is read
        f.truncate(640 * 10**6)
    minutes, gib = estimate_cost(p)
    assert 0 < minutes and 0 < gib
    text = describe_estimate(p)
    assert text.startswith("reading big.osm.pbf (610 MiB): ")
    assert f"about {minutes:.0f} minutes, {gib:.1f} GiB of memory" in text
    src = pyrosm.get_data("test_pbf")
    build_osm_graph(osm_file=src, cache_dir=tmp_path, reader="stream", verbose=True)
    out, err = capsys.readouterr()
    assert "reading test.osm.pbf" in out and "GiB of memory" in out
    assert "ways kept" in err  # the tqdm bar (bytes read, ways kept)


@pytest.mark.parametrize("name", ["test_pbf", "helsinki_pbf"])
def test_walk_network_close_to_the_osmnx_path(name, tmp_path):
    # The walk filters differ slightly (the project's osmnx filter against pyrosm's own):
    # measured 290 = 290 and 2,469 vs 2,459 nodes; tolerance 1 %.
    new, old = _both(name, tmp_path, network="walk")
    assert old.n_nodes > 200
    assert abs(new.n_nodes - old.n_nodes) <= 0.01 * old.n_nodes
    assert abs(new.n_edges - old.n_edges) <= 0.01 * old.n_edges
    common = np.intersect1d(new.node_ids, old.node_ids)
    assert len(common) >= 0.99 * old.n_nodes


def test_prepare_passes_the_osm_reader_flag(tmp_path, monkeypatch, capsys):
    """``prepare --osm FILE --osm-reader osmnx`` reaches prepare_osm_model; a bad one is exit 2."""
    import analysis.osm as osm_pkg
    from analysis.cli import main

    seen = {}

    class Stop(Exception):
        pass

    def fake(**kw):
        seen.update(kw)
        raise Stop

    monkeypatch.setattr(osm_pkg, "prepare_osm_model", fake)
    with pytest.raises(Stop):
        main(["prepare", "--osm", str(pyrosm.get_data("test_pbf")), "--osm-reader", "osmnx",
              "--quiet"])  # fmt: skip
    assert seen["reader"] == "osmnx"
    assert main(["prepare", "--osm-reader", "fast"]) == 2
    assert "invalid choice: 'fast'" in capsys.readouterr().err
