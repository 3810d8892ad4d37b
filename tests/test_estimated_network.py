"""Estimated regional road network: hand-checked lattices, repairs, cache, real data."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.sparse.csgraph import connected_components, dijkstra

from analysis.errors import ValidationError
from analysis.estimated.network import (
    LABEL,
    LABEL_CUSTOM,
    EstimatedNetworkParams,
    access_times,
    build_estimated_network,
    commune_skeleton,
    load_or_build_estimated_network,
)

X0, Y0 = 840_000.0, 6_500_000.0  # near Lyon, Lambert-93


def lattice(nx: int, ny: int, *, side: float = 1_000.0, deg3=None) -> gpd.GeoDataFrame:
    """Square "communes" of ``side`` metres, row-major from the south-west corner."""
    rows = []
    k = 0
    for j in range(ny):
        for i in range(nx):
            x, y = X0 + i * side, Y0 + j * side
            rows.append(
                {
                    "insee": f"99{k:03d}",
                    "x_l93": x + side / 2,
                    "y_l93": y + side / 2,
                    "surface_km2": side * side / 1e6,
                    "deg3": 3 if deg3 is None else deg3[k],
                    "geometry": shapely.box(x, y, x + side, y + side),
                }
            )
            k += 1
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:2154")


SPEEDS = EstimatedNetworkParams(
    speed_urban_kmh=30.0, speed_intermediate_kmh=45.0, speed_rural_kmh=60.0
)


def edge_dict(model) -> dict[tuple[str, str], float]:
    g = model.graph
    out = {}
    for a in range(g.n_nodes):
        for e in range(g.indptr[a], g.indptr[a + 1]):
            out[(g.node_ids[a], g.node_ids[g.indices[e]])] = float(g.weights[e])
    return out


# ---------------------------------------------------------------------- hand-built lattice
def test_lattice_adjacency_is_rook_not_queen():
    m = build_estimated_network(lattice(3, 3), params=SPEEDS)
    # 3 x 3 grid: 6 horizontal + 6 vertical borders, both directions; corners dropped.
    assert m.graph.n_edges == 24
    assert m.graph.meta["n_adjacent_pairs"] == 12
    assert m.graph.meta["n_corner_contacts_dropped"] == 8
    edges = edge_dict(m)
    assert ("99000", "99001") in edges and ("99000", "99003") in edges
    assert ("99000", "99004") not in edges  # diagonal: corner contact only


def test_corner_contacts_kept_when_no_minimum_border():
    params = EstimatedNetworkParams(min_shared_border_m=0.0)
    m = build_estimated_network(lattice(3, 3), params=params)
    assert m.graph.meta["n_adjacent_pairs"] == 20  # 12 rook + 8 diagonal


def test_edge_times_by_hand():
    # classes of the 3 x 1 strip: urban, intermediate, rural
    m = build_estimated_network(lattice(3, 1, deg3=[1, 2, 3]), params=SPEEDS)
    edges = edge_dict(m)
    # 1000 m x 1.3 = 1300 m road; half at 30 km/h (8.333 m/s), half at 45 (12.5 m/s)
    assert edges[("99000", "99001")] == pytest.approx(650 / (30 / 3.6) + 650 / 12.5)  # 130 s
    assert edges[("99000", "99001")] == pytest.approx(130.0)
    # intermediate-rural: 650 / 12.5 + 650 / (60 / 3.6) = 52 + 39
    assert edges[("99001", "99002")] == pytest.approx(91.0)
    assert edges[("99002", "99001")] == edges[("99001", "99002")]
    assert m.graph.is_symmetric


def test_access_time_is_two_thirds_radius_of_equal_disc():
    m = build_estimated_network(lattice(3, 1, deg3=[1, 2, 3]), params=SPEEDS)
    r = math.sqrt(1e6 / math.pi)  # 564.19 m for 1 km²
    expected = [2 * r / 3 * 1.3 / (v / 3.6) for v in (30.0, 45.0, 60.0)]
    np.testing.assert_allclose(m.origin_offsets_s, expected)
    assert m.origin_offsets_s[0] == pytest.approx(58.68, abs=0.01)
    # 4 km² → radius doubles → time doubles
    assert access_times(np.array([4.0]), np.array([1]), SPEEDS)[0] == pytest.approx(2 * expected[0])


def test_mean_distance_to_centre_of_uniform_disc_is_two_thirds_radius():
    # midpoint rule on the radial density 2r / R²
    r = np.linspace(0, 1, 200_001)
    mid = (r[1:] + r[:-1]) / 2
    assert np.sum(mid * 2 * mid * np.diff(r)) == pytest.approx(2 / 3, rel=1e-6)


def test_path_times_and_nearest_site_by_hand():
    m = build_estimated_network(lattice(3, 3), params=SPEEDS)  # all rural, 60 km/h
    edge = 1300 / (60 / 3.6)  # 78 s per edge
    dist = dijkstra(m.graph.csr, indices=[0])[0]
    assert dist[8] == pytest.approx(4 * edge)  # opposite corner: 4 rook steps
    # a site 300 m east of the centre node of the middle commune
    res = m.nearest(np.array([X0 + 1_800.0]), np.array([Y0 + 1_500.0]))
    snap = 300 * 1.3 / (30 / 3.6)  # default snap leg: 30 km/h, circuity 1.3
    access = 2 / 3 * math.sqrt(1e6 / math.pi) * 1.3 / (60 / 3.6)
    expected = np.array([2, 1, 2, 1, 0, 1, 2, 1, 2]) * edge + snap + access
    np.testing.assert_allclose(res.time_s, expected)
    assert (res.site == 0).all() and (res.status == "ok").all()


def test_model_metadata():
    m = build_estimated_network(lattice(2, 2))
    assert m.model == "estimated" and m.estimated and m.mode == "road"
    assert m.label == LABEL and "estimated" in m.graph.label
    assert list(m.graph.node_ids) == ["99000", "99001", "99002", "99003"]
    assert list(m.origin_ids) == list(m.graph.node_ids)
    np.testing.assert_array_equal(m.origin_nodes, np.arange(4))
    assert m.graph.meta["params"] == EstimatedNetworkParams().to_dict()
    assert "test" in m.meta["calibration"] and m.meta["calibrated"]
    custom = build_estimated_network(lattice(2, 2), params=SPEEDS)
    assert custom.label == LABEL_CUSTOM and not custom.meta["calibrated"]
    assert "estimated" in custom.label
    p = EstimatedNetworkParams()
    assert (m.snap_speed_kmh, m.snap_circuity, m.max_snap_m) == (
        p.snap_speed_kmh,
        p.snap_circuity,
        p.max_snap_m,
    )


def test_any_crs_and_touching_within_tolerance():
    g = lattice(2, 1)
    # shrink the second box by 0.5 m: a gap smaller than the 1 m tolerance
    g.loc[1, "geometry"] = shapely.box(X0 + 1_000.5, Y0, X0 + 2_000, Y0 + 1_000)
    m = build_estimated_network(g.to_crs("EPSG:4326"))
    assert m.graph.meta["n_adjacent_pairs"] == 1
    assert m.graph.meta["connectivity_repairs"] == []


# ---------------------------------------------------------------------- connectivity repair
def test_disconnected_toy_is_repaired_to_nearest_commune():
    g = lattice(2, 1)
    far = lattice(1, 1)
    far["insee"] = "99100"
    far["geometry"] = far.geometry.translate(5_000, 0)
    far["x_l93"] += 5_000
    g = gpd.GeoDataFrame(pd.concat([g, far], ignore_index=True), crs="EPSG:2154")
    m = build_estimated_network(g, params=SPEEDS)
    reps = m.graph.meta["connectivity_repairs"]
    assert reps == [{"from": "99001", "to": "99100", "dist_m": 4000.0}]
    assert connected_components(m.graph.csr, directed=True, connection="strong")[0] == 1
    edges = edge_dict(m)
    assert edges[("99100", "99001")] == pytest.approx(4000 * 1.3 / (60 / 3.6))


def test_repair_joins_smallest_component_first_until_connected():
    # three islands: a 2x2 block, a single box 3 km east, a single box 10 km north
    block = lattice(2, 2)
    east = lattice(1, 1)
    east["insee"], east["x_l93"] = "99200", east["x_l93"] + 4_000
    east["geometry"] = east.geometry.translate(4_000, 0)
    north = lattice(1, 1)
    north["insee"], north["y_l93"] = "99300", north["y_l93"] + 10_000
    north["geometry"] = north.geometry.translate(0, 10_000)
    g = gpd.GeoDataFrame(pd.concat([block, east, north], ignore_index=True), crs="EPSG:2154")
    sk = commune_skeleton(g)
    assert len(sk.repairs) == 2
    assert sk.repaired.sum() == 2
    pairs = {(r["from"], r["to"]) for r in sk.repairs}
    # east joins the block's east column at 3 km; north joins the block's top row at 9 km
    assert pairs == {("99001", "99200"), ("99002", "99300")}
    m = build_estimated_network(g)
    assert connected_components(m.graph.csr, directed=True, connection="strong")[0] == 1


# ---------------------------------------------------------------------- validation
def test_invalid_tables_raise_validation_errors():
    g = lattice(2, 1)
    with pytest.raises(ValidationError, match="deg3"):
        build_estimated_network(g.drop(columns="deg3"))
    bad = g.copy()
    bad.loc[1, "deg3"] = 7
    with pytest.raises(ValidationError, match="row 2"):
        build_estimated_network(bad)
    dup = g.copy()
    dup.loc[1, "insee"] = dup.loc[0, "insee"]
    with pytest.raises(ValidationError, match="duplicate"):
        build_estimated_network(dup)
    with pytest.raises(ValidationError, match="positive"):
        EstimatedNetworkParams(speed_rural_kmh=0.0)
    with pytest.raises(ValidationError, match="circuity"):
        EstimatedNetworkParams(circuity=0.9)


# ---------------------------------------------------------------------- cache
def test_cache_round_trip_and_corruption(tmp_path):
    g = lattice(3, 2, deg3=[1, 2, 3, 3, 2, 1])
    built = build_estimated_network(g)
    first = load_or_build_estimated_network(g, cache_dir=tmp_path)
    files = sorted(tmp_path.glob("estimated_network_*.npz"))
    assert len(files) == 1 and files[0].with_name(files[0].name + ".sha256").exists()
    again = load_or_build_estimated_network(g, cache_dir=tmp_path)
    for m in (first, again):
        np.testing.assert_array_equal(m.graph.indptr, built.graph.indptr)
        np.testing.assert_array_equal(m.graph.indices, built.graph.indices)
        np.testing.assert_allclose(m.graph.weights, built.graph.weights)
        np.testing.assert_allclose(m.origin_offsets_s, built.origin_offsets_s)
        assert list(m.graph.node_ids) == list(built.graph.node_ids)
        assert m.model == "estimated" and m.label == LABEL
        assert m.meta["params"] == built.meta["params"]
    # a corrupt file fails its checksum and is rebuilt
    files[0].write_bytes(b"garbage")
    fixed = load_or_build_estimated_network(g, cache_dir=tmp_path)
    np.testing.assert_allclose(fixed.graph.weights, built.graph.weights)
    # other parameters → another file
    load_or_build_estimated_network(
        g, params=EstimatedNetworkParams(circuity=1.4), cache_dir=tmp_path
    )
    assert len(list(tmp_path.glob("estimated_network_*.npz"))) == 2


# ---------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def real():
    from analysis.communes import load_communes

    communes = load_communes()
    return communes, build_estimated_network(communes)


def test_real_network_shape_and_connectivity(real):
    communes, m = real
    g = m.graph
    assert g.n_nodes == 4025 == len(communes)
    assert list(g.node_ids) == list(communes["insee"])
    assert connected_components(g.csr, directed=True, connection="strong")[0] == 1
    assert g.meta["connectivity_repairs"] == []  # the bundled polygons all touch
    assert g.is_symmetric
    assert np.isfinite(m.origin_offsets_s).all() and (m.origin_offsets_s > 0).all()
    deg = np.diff(g.indptr)
    assert deg.min() >= 1 and 5 <= np.median(deg) <= 7  # planar-like adjacency


def test_real_lyon_villeurbanne_direct_edge(real):
    _, m = real
    ids = list(m.graph.node_ids)
    lyon, villeurbanne = ids.index("69123"), ids.index("69266")
    row = m.graph.indices[m.graph.indptr[lyon] : m.graph.indptr[lyon + 1]]
    assert villeurbanne in row


def test_real_every_point_of_the_region_snaps_within_max_distance(real):
    communes, m = real
    xy = shapely.get_coordinates(communes.geometry.to_crs("EPSG:2154").to_numpy())
    dist, _ = m.graph.kdtree.query(xy)
    assert dist.max() < m.max_snap_m
