"""OSM road models on the real extracts shipped with pyrosm: model, cache, bad inputs."""

import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyrosm
import pytest

from analysis import settings
from analysis.errors import DataMissingError, EmptyProfileError, ValidationError
from analysis.osm import (
    OUTSIDE,
    build_osm_graph,
    load_cached_osm_model,
    osm_road_model,
    prepare_osm_model,
)
from analysis.osm import cache as osm_cache
from analysis.osm import model as osm_model_mod


@pytest.fixture(scope="module")
def test_pbf():
    return pyrosm.get_data("test_pbf")


@pytest.fixture(scope="module")
def built(test_pbf, tmp_path_factory):
    cache_dir = tmp_path_factory.mktemp("osm_cache")
    cached, path = build_osm_graph(osm_file=test_pbf, cache_dir=cache_dir)
    return cached, path, cache_dir


def communes_near(cached, *, far=()):
    """Commune origin points: a few on the network (100 m off a node) and some far away."""
    graph = cached.graph
    rng = np.random.default_rng(1)
    # nodes inside the extract's bounding box (complete ways stick out of it)
    inside = np.flatnonzero(cached.extent.contains(graph.x + 100.0, graph.y))
    idx = rng.choice(inside, 6, replace=False)
    x = np.r_[graph.x[idx] + 100.0, [graph.x.mean() + d for d in far]]
    y = np.r_[graph.y[idx], [graph.y.mean() for _ in far]]
    return pd.DataFrame(
        {
            "insee": [f"{i:05d}" for i in range(len(x))],
            "nom": [f"c{i}" for i in range(len(x))],
            "x_l93": x,
            "y_l93": y,
            "pop_mun": np.arange(1, len(x) + 1) * 100,
        }
    )


def test_graph_from_pbf_is_osm_and_strongly_connected(built):
    from scipy.sparse.csgraph import connected_components

    cached, _, _ = built
    g = cached.graph
    assert g.model == "osm"
    assert g.label.startswith("OpenStreetMap drive network (file test.osm.pbf, ")
    assert "latest edit" in g.label  # this file's header has no replication timestamp
    assert g.n_nodes > 100 and g.n_edges > g.n_nodes
    n, _ = connected_components(g.csr, directed=True, connection="strong")
    assert n == 1
    assert np.all(g.weights > 0)
    assert g.node_ids.dtype == np.int64


def test_model_flags_communes_outside_the_extract(built):
    cached, _, _ = built
    g = cached.graph
    communes = communes_near(cached, far=(60_000.0,))
    model = osm_road_model(cached, communes)
    assert not model.estimated
    assert model.label == g.label
    assert list(model.origin_status) == ["ok"] * 6 + [OUTSIDE]
    assert np.isinf(model.origin_offsets_s[-1])
    # snapped communes: access time = 100 m * 1.3 at 30 km/h
    assert model.origin_offsets_s[0] == pytest.approx(model.origin_snap_m[0] * 1.3 / (30 / 3.6))
    sites_x, sites_y = g.x[[0, 5]], g.y[[0, 5]]
    ans = model.nearest(sites_x, sites_y)
    assert list(ans.status) == ["ok"] * 6 + [OUTSIDE]
    assert np.all(np.isfinite(ans.time_s[:6]))
    assert np.isinf(ans.time_s[-1]) and ans.site[-1] == -1


def test_sites_off_the_extract_are_flagged_and_all_off_is_a_clear_error(built, caplog):
    cached, _, _ = built
    g = cached.graph
    model = osm_road_model(cached, communes_near(cached))
    far_x = g.x.mean() + 80_000.0
    with caplog.at_level(logging.WARNING):
        snap = model.snap_sites(np.r_[g.x[3], far_x], np.r_[g.y[3], g.y.mean()])
    assert list(snap.too_far) == [False, True]
    assert "farther than" in caplog.text
    with pytest.raises(EmptyProfileError, match="does not cover the sites"):
        model.nearest(np.r_[far_x], np.r_[g.y.mean()])


def test_engine_agrees_with_networkx_on_the_osm_graph(built):
    nx = pytest.importorskip("networkx")
    cached, _, _ = built
    g = cached.graph
    G = nx.DiGraph()
    u = np.repeat(np.arange(g.n_nodes), np.diff(g.indptr))
    G.add_weighted_edges_from(zip(u.tolist(), g.indices.tolist(), g.weights.tolist(), strict=True))
    from analysis.engine import nearest_sites

    sites = np.array([2, 40, 100])
    res = nearest_sites(g, sites)
    ref = nx.multi_source_dijkstra_path_length(G.reverse(copy=True), set(sites.tolist()))
    np.testing.assert_allclose(res.time_s, [ref[i] for i in range(g.n_nodes)], rtol=1e-12)


def test_cache_hit_skips_reading_the_file(built, test_pbf, monkeypatch):
    _, path, cache_dir = built

    def boom(*a, **k):
        raise AssertionError("the extract was read again")

    monkeypatch.setattr(osm_model_mod, "read_pbf_graph", boom)
    cached, again = build_osm_graph(osm_file=test_pbf, cache_dir=cache_dir)
    assert again == path
    assert cached.graph.fingerprint() == built[0].graph.fingerprint()


def test_corrupt_cache_is_detected_and_rebuilt(built, test_pbf, tmp_path, caplog):
    _, path, _ = built
    shutil.copy(path, tmp_path / path.name)
    shutil.copy(path.with_name(path.name + ".sha256"), tmp_path / (path.name + ".sha256"))
    bad = tmp_path / path.name
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        cached, p = build_osm_graph(osm_file=test_pbf, cache_dir=tmp_path)
    assert "fails its checksum" in caplog.text
    assert p == bad
    assert cached.graph.fingerprint() == built[0].graph.fingerprint()
    assert osm_cache.load_graph(p) is not None  # rewritten and valid


@pytest.mark.parametrize(
    "garbage", [b"", b"not an npz" * 10, b"PK\x03\x04" + bytes(100)], ids=["empty", "text", "zip"]
)
def test_unreadable_cache_with_a_matching_checksum_is_rebuilt(built, test_pbf, tmp_path, garbage):
    """A writer bug (garbage recorded with its own checksum) means rebuild, not a traceback."""
    from analysis.io import write_with_checksum

    _, path, _ = built
    bad = tmp_path / path.name
    write_with_checksum(bad, lambda t: t.write_bytes(garbage))
    assert osm_cache.load_graph(bad) is None  # empty: EOFError; broken zip: BadZipFile
    cached, p = build_osm_graph(osm_file=test_pbf, cache_dir=tmp_path)
    assert p == bad and cached.graph.fingerprint() == built[0].graph.fingerprint()


def test_cache_key_depends_on_file_content_and_parameters(built, test_pbf, tmp_path):
    _, path, cache_dir = built
    other_speeds = dict(osm_model_mod.FRENCH_SPEEDS_KMH, residential=40.0)
    _, p2 = build_osm_graph(osm_file=test_pbf, cache_dir=cache_dir, hwy_speeds=other_speeds)
    assert p2 != path
    copy = tmp_path / "copy.osm.pbf"
    shutil.copy(test_pbf, copy)
    _, p3 = build_osm_graph(osm_file=copy, cache_dir=cache_dir)
    assert p3 == path  # same content, same key
    shutil.copy(pyrosm.get_data("helsinki_pbf"), copy)  # same name, other data
    _, p4 = build_osm_graph(osm_file=copy, cache_dir=cache_dir)
    assert p4 not in (path, p2)


def test_prepare_records_the_active_model_and_load_finds_it(test_pbf, tmp_path):
    extract = tmp_path / "extract.osm.pbf"
    shutil.copy(test_pbf, extract)
    cache_dir = tmp_path / "processed"
    cached, _ = build_osm_graph(osm_file=extract, cache_dir=tmp_path / "scratch")
    communes = communes_near(cached, far=(70_000.0,))
    assert load_cached_osm_model(communes, cache_dir=cache_dir) is None
    model = prepare_osm_model(osm_file=extract, communes=communes, cache_dir=cache_dir)
    assert model.label.startswith("OpenStreetMap drive network (file extract.osm.pbf")
    again = load_cached_osm_model(communes, cache_dir=cache_dir)
    assert again is not None and again.label == model.label
    np.testing.assert_array_equal(again.origin_nodes, model.origin_nodes)
    assert list(again.origin_status) == list(model.origin_status)

    # a corrupt graph file is rebuilt from the extract
    graph_file = next(cache_dir.glob("osm_drive_*.npz"))
    graph_file.write_bytes(b"garbage")
    rebuilt = load_cached_osm_model(communes, cache_dir=cache_dir)
    assert rebuilt is not None
    assert rebuilt.graph.fingerprint() == model.graph.fingerprint()

    # a changed extract makes the prepared model stale
    shutil.copy(pyrosm.get_data("helsinki_pbf"), extract)
    assert load_cached_osm_model(communes, cache_dir=cache_dir) is None


def test_walk_model_from_pbf(test_pbf, tmp_path):
    cached, _ = build_osm_graph(osm_file=test_pbf, network="walk", cache_dir=tmp_path)
    g = cached.graph
    assert g.label.startswith("OpenStreetMap walk network")
    # two-way everywhere (up to rounding of simplified lengths)
    assert g.csr.nnz == g.csr_reverse.nnz
    assert abs(g.csr - g.csr_reverse).max() < 1e-6
    model = osm_road_model(cached, communes_near(cached))
    assert model.mode == "walk"
    assert model.snap_speed_kmh == pytest.approx(4.5)


# ---------------------------------------------------------------------- bad inputs
def test_file_that_is_not_osm(tmp_path):
    p = tmp_path / "notes.osm.pbf"
    p.write_text("this is not an OSM file\n" * 20)
    with pytest.raises(ValidationError, match="not OpenStreetMap data"):
        build_osm_graph(osm_file=p, cache_dir=tmp_path)
    csv = tmp_path / "communes.csv"
    csv.write_text("insee,nom\n01001,L'Abergement\n")
    with pytest.raises(ValidationError, match="not OpenStreetMap data"):
        build_osm_graph(osm_file=csv, cache_dir=tmp_path)


def test_missing_file(tmp_path):
    with pytest.raises(DataMissingError, match="not found"):
        build_osm_graph(osm_file=tmp_path / "nope.osm.pbf", cache_dir=tmp_path)


def test_truncated_pbf(test_pbf, tmp_path):
    p = tmp_path / "cut.osm.pbf"
    p.write_bytes(Path(test_pbf).read_bytes()[:5000])
    with pytest.raises(ValidationError, match="truncated"):
        build_osm_graph(osm_file=p, cache_dir=tmp_path)


def test_pbf_without_drivable_road(test_pbf, tmp_path):
    osm = pyrosm.OSM(test_pbf)
    buildings = osm.get_buildings()
    p = tmp_path / "buildings_only.osm.pbf"
    osm.write_pbf(buildings, str(p), subset_only=True)
    with pytest.raises(ValidationError, match="no drivable road"):
        build_osm_graph(osm_file=p, cache_dir=tmp_path)


def test_extract_that_covers_no_commune(tmp_path):
    communes = pd.DataFrame(
        {"insee": ["69123", "01001"], "x_l93": [842_000.0, 870_000.0],
         "y_l93": [6_519_000.0, 6_560_000.0]}
    )  # fmt: skip
    with pytest.raises(ValidationError, match="covers none of the 2 communes"):
        prepare_osm_model(osm_file=pyrosm.get_data("test_pbf"), communes=communes,
                          cache_dir=tmp_path)  # fmt: skip


def test_place_while_offline(tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "use_network", False)
    with pytest.raises(ValidationError, match="needs internet access"):
        build_osm_graph(place="Rhône, France", cache_dir=tmp_path)


def test_exactly_one_source(tmp_path):
    with pytest.raises(ValidationError, match="exactly one"):
        build_osm_graph(cache_dir=tmp_path)
    with pytest.raises(ValidationError, match="exactly one"):
        build_osm_graph(osm_file="a.osm", place="Lyon", cache_dir=tmp_path)


def test_unknown_network(tmp_path):
    with pytest.raises(ValidationError, match="valid networks are: drive, walk"):
        build_osm_graph(osm_file=pyrosm.get_data("test_pbf"), network="bike", cache_dir=tmp_path)


def test_communes_without_coordinates(built):
    cached, _, _ = built
    with pytest.raises(ValidationError, match="x_l93"):
        osm_road_model(cached, pd.DataFrame({"insee": ["1"]}))
