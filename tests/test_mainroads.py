"""The main-road network from Travel Mapping waypoints: hand-made files with known answers,
the damaged inputs, and the real tarball of the mirror."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra

from analysis import settings
from analysis.crs import to_l93
from analysis.errors import DataMissingError, ValidationError
from analysis.mainroads.model import MainRoadParams, default_sources, timed_graph
from analysis.mainroads.network import EDGE_CLASSES, graph_from_travelmapping
from analysis.mainroads.travelmapping import read_waypoints, system_class

URL = "http://www.openstreetmap.org/?lat={lat}&lon={lon}"

# Two roads crossing at (45.70, 4.82): a departmental road west-east and a national road
# south-north; a motorway from the national road's south end to the north-east, with an
# exit "5" filed 470 m east of the departmental road's east end; an island far away.
ROUTES = {
    ("fraarad69", "fraara.d0001"): [("D1W", 45.70, 4.80), ("N1", 45.70, 4.82),
                                    ("D1E", 45.70, 4.84)],
    ("fran", "fraara.n0001"): [("A99", 45.68, 4.82), ("+x", 45.69, 4.82), ("D1", 45.70, 4.82),
                               ("N1N", 45.72, 4.82)],
    ("fraa", "fraara.a0099"): [("N1", 45.68, 4.82), ("5", 45.70, 4.846), ("A99N", 45.74, 4.86)],
    ("fraarad69", "fraara.d0002"): [("I1", 45.90, 5.20), ("I2", 45.90, 5.21)],
}  # fmt: skip


def write_hwy(root: Path, routes=ROUTES, *, systems: dict[str, list[str]] | None = None) -> Path:
    """Write a small hwy_data folder; returns its path."""
    hwy = root / "hwy_data"
    for (system, route), pts in routes.items():
        d = hwy / "FRA-ARA" / system
        d.mkdir(parents=True, exist_ok=True)
        lines = [f"{label} {URL.format(lat=lat, lon=lon)}" for label, lat, lon in pts]
        (d / f"{route}.wpt").write_text("\n".join(lines) + "\n")
    sysdir = hwy / "_systems"
    sysdir.mkdir(parents=True, exist_ok=True)
    listing = systems or {}
    for system in {s for s, _ in routes} | set(listing):
        roots = listing.get(system, [r for s, r in routes if s == system])
        rows = ["system;region;route;banner;abbreviation;city;fileNameRoot;altRouteNames"]
        rows += [f"{system};FRA-ARA;R;;;;{r};" for r in roots]
        (sysdir / f"{system}.csv").write_text("\ufeff" + "\n".join(rows) + "\n", encoding="utf-8")
    return hwy


def interchange_file(path: Path, lonlat: list[tuple[float, float]]) -> Path:
    x, y = to_l93(np.array([p[0] for p in lonlat]), np.array([p[1] for p in lonlat]))
    feats = [
        {"type": "Feature", "properties": {"NATURE": "Echangeur"},
         "geometry": {"type": "Point", "coordinates": [float(a), float(b)]}}
        for a, b in zip(x, y, strict=True)
    ]  # fmt: skip
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2154"}},
                "features": feats,
            }
        )
    )
    return path


def node_at(net, lat: float, lon: float) -> int:
    x, y = to_l93(np.array([lon]), np.array([lat]))
    d = np.hypot(net.x - x[0], net.y - y[0])
    assert d.min() < 1.0, "no node at that waypoint"
    return int(np.argmin(d))


def test_systems_map_to_road_classes():
    assert system_class("fraa") == "autoroute"
    assert system_class("frasf") == "autoroute"
    assert system_class("fran") == "nationale"
    assert system_class("fraarad38") == "departementale"
    assert system_class("frabfcd71") == "departementale"
    assert system_class("fraarad69m") == "metropole"
    assert system_class("fraaram63") == "metropole"
    assert system_class("eure") is None and system_class("fratr") is None


def test_crossing_roads_share_a_node_and_times_match_networkx(tmp_path):
    ich = interchange_file(tmp_path / "ich.geojson", [(4.846, 45.7005)])
    net = graph_from_travelmapping(write_hwy(tmp_path), interchanges=ich)
    # 3 + 4 + 3 waypoints, two shared (crossing, motorway start): 8 nodes; the island dropped.
    assert net.n_nodes == 8
    assert net.report["pieces_dropped"] == 1 and net.report["pieces_dropped_nodes"] == 2
    assert net.report["exits_joined"] == 1
    cross = node_at(net, 45.70, 4.82)
    deg = np.bincount(np.concatenate([net.u, net.v]), minlength=net.n_nodes)
    assert deg[cross] == 4  # the crossing joins both roads
    params = MainRoadParams()
    g = timed_graph(net, params)
    nxg = nx.DiGraph()
    for r in range(g.n_nodes):
        for k in range(g.indptr[r], g.indptr[r + 1]):
            nxg.add_edge(r, int(g.indices[k]), weight=float(g.weights[k]))
    ours = dijkstra(g.csr, indices=cross)
    ref = nx.single_source_dijkstra_path_length(nxg, cross)
    for node, t in ref.items():
        assert ours[node] == pytest.approx(t)
    # Edge times: straight length × seconds per km of the class.
    d1e = node_at(net, 45.70, 4.84)
    x, y = net.x, net.y
    km = np.hypot(x[cross] - x[d1e], y[cross] - y[d1e]) / 1e3
    s_d = params.s_per_km[EDGE_CLASSES.index("departementale")]
    assert ours[d1e] == pytest.approx(km * s_d, rel=1e-9)


def test_an_exit_is_joined_only_at_a_real_interchange(tmp_path):
    hwy = write_hwy(tmp_path)
    near = interchange_file(tmp_path / "near.geojson", [(4.846, 45.7005)])
    far = interchange_file(tmp_path / "far.geojson", [(5.5, 45.2)])
    joined = graph_from_travelmapping(hwy, interchanges=near)
    alone = graph_from_travelmapping(hwy, interchanges=far)
    assert joined.report["exits_joined"] == 1
    assert alone.report["exits_joined"] == 0 and alone.report["exits_without_interchange"] == 1
    params = MainRoadParams()

    def time_d1e_to_exit(net):
        g = timed_graph(net, params)
        return dijkstra(g.csr, indices=node_at(net, 45.70, 4.84))[node_at(net, 45.70, 4.846)]

    t_joined, t_alone = time_d1e_to_exit(joined), time_d1e_to_exit(alone)
    # Joined: a 470 m connector. Not joined: back to the motorway's start and up it.
    assert t_joined < 60
    assert t_alone > 5 * t_joined and np.isfinite(t_alone)


def test_tarball_and_folder_give_the_same_network(tmp_path):
    hwy = write_hwy(tmp_path / "src")
    tar = tmp_path / "hwy.tar.gz"
    with tarfile.open(tar, "w:gz") as t:
        t.add(hwy, arcname="hwy_data")
    a = graph_from_travelmapping(hwy)
    b = graph_from_travelmapping(tar)
    assert a.n_nodes == b.n_nodes
    np.testing.assert_allclose(np.sort(a.length_m), np.sort(b.length_m))


def test_buffer_keeps_only_roads_near_the_origins(tmp_path):
    hwy = write_hwy(tmp_path)
    x, y = to_l93(np.array([5.205]), np.array([45.90]))  # next to the "island"
    net = graph_from_travelmapping(hwy, origins_xy=(x, y), buffer_km=5)
    assert net.n_nodes == 2


# ---------------------------------------------------------------------- bad inputs
def test_malformed_url_names_file_and_line(tmp_path):
    hwy = write_hwy(tmp_path)
    f = hwy / "FRA-ARA" / "fran" / "fraara.n0001.wpt"
    lines = f.read_text().splitlines()
    lines[2] = "D1 http://www.openstreetmap.org/?lat=45.70&lng=4.82"
    f.write_text("\n".join(lines))
    with pytest.raises(ValidationError, match=r"fraara\.n0001\.wpt, line 3: not a waypoint line"):
        read_waypoints(hwy)


def test_waypoint_outside_france_is_refused(tmp_path):
    hwy = write_hwy(tmp_path)
    f = hwy / "FRA-ARA" / "fraa" / "fraara.a0099.wpt"
    f.write_text(f.read_text().replace("lat=45.74&lon=4.86", "lat=4.86&lon=45.74"))
    with pytest.raises(ValidationError, match=r"line 3: .*outside metropolitan France"):
        read_waypoints(hwy)


def test_truncated_tarball_is_refused(tmp_path):
    hwy = write_hwy(tmp_path / "src")
    tar = tmp_path / "hwy.tar.gz"
    with tarfile.open(tar, "w:gz") as t:
        t.add(hwy, arcname="hwy_data")
    data = tar.read_bytes()
    tar.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValidationError, match="truncated or corrupt"):
        read_waypoints(tar)
    tar.write_bytes(b"not a tarball at all")
    with pytest.raises(ValidationError, match="truncated or corrupt"):
        read_waypoints(tar)


def test_missing_source_says_where_to_get_it(tmp_path):
    with pytest.raises(DataMissingError, match="HighwayData"):
        read_waypoints(tmp_path / "nope.tar.gz")


def test_listed_route_without_file_is_reported(tmp_path, caplog):
    hwy = write_hwy(
        tmp_path, systems={"fran": ["fraara.n0001", "fraara.n0002"]}
    )  # n0002 has no file
    wp = read_waypoints(hwy)
    assert any("fraara.n0002 has no .wpt file" in m and "fran.csv, line 3" in m for m in wp.skipped)
    assert "fraara.n0002" in caplog.text


def test_duplicated_route_files(tmp_path):
    hwy = write_hwy(tmp_path)
    src = hwy / "FRA-ARA" / "fran" / "fraara.n0001.wpt"
    other = hwy / "FRA-BFC" / "fran"
    other.mkdir(parents=True)
    (other / "fraara.n0001.wpt").write_text(src.read_text())
    wp = read_waypoints(hwy)  # identical copy: read once, reported
    assert sum("identical copy" in m for m in wp.skipped) == 1
    assert wp.routes.count("fraara.n0001") == 1
    (other / "fraara.n0001.wpt").write_text(src.read_text().replace("4.82", "4.83", 1))
    with pytest.raises(ValidationError, match="filed twice with different waypoints"):
        read_waypoints(hwy)


def test_bad_buffer_is_refused(tmp_path):
    with pytest.raises(ValidationError, match="buffer_km"):
        graph_from_travelmapping(write_hwy(tmp_path), buffer_km=float("nan"))


def test_params_checked():
    with pytest.raises(ValidationError, match="one value per class"):
        MainRoadParams(s_per_km=(40.0, 60.0))
    with pytest.raises(ValidationError, match="non-negative"):
        MainRoadParams(leg_fixed_s=-1.0)


# ---------------------------------------------------------------------- the real data
real = pytest.mark.skipif(
    not default_sources()[0].exists(), reason="Travel Mapping tarball not in the mirror"
)


@pytest.fixture(scope="module")
def communes():
    from analysis.communes import load_communes

    return load_communes()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("mainroads_cache")


@pytest.fixture(scope="module")
def model(communes, cache_dir):
    from analysis.mainroads.model import load_or_build_mainroad_model

    return load_or_build_mainroad_model(communes, cache_dir=cache_dir)


@real
def test_real_network_is_the_default_road_model(communes, model, monkeypatch):
    from analysis.models import active_road_model

    m = active_road_model(communes)
    assert m.model == "mainroads" and m.times_are == "modelled"
    assert "speeds calibrated on OSRM car times" in m.label
    rep = model.graph.meta["network"]
    assert rep["km_by_class"]["autoroute"] > 1_500  # the region's motorways and around
    assert rep["exits_joined"] > 50
    assert model.meta["licence"].startswith("Travel Mapping HighwayData: no licence stated")
    # Without the tarball the commune-adjacency network stays the fallback.
    monkeypatch.setattr(settings, "shared_data_dir", Path("/nonexistent"))
    assert active_road_model(communes).model == "estimated"


@real
def test_cached_reload_is_identical(communes, model, cache_dir, monkeypatch):
    from analysis.mainroads import model as mr

    def no_build(*args, **kwargs):
        raise AssertionError("rebuilt despite a valid cache")

    monkeypatch.setattr(mr, "build_mainroad_model", no_build)
    again = mr.load_or_build_mainroad_model(communes, cache_dir=cache_dir)
    assert again.label == model.label and again.times_are == "modelled"
    np.testing.assert_array_equal(again.graph.weights, model.graph.weights)
    np.testing.assert_array_equal(again.origin_offsets_s, model.origin_offsets_s)


@real
def test_a_commune_hosting_an_eligible_site_is_covered_beyond_its_first_mile(communes, model):
    """Property: a host commune is covered whenever the threshold exceeds its first mile."""
    from analysis.access import baseline_pass
    from analysis.profiles import get_profile
    from analysis.sites.directory import load_bundled_directory

    sites = load_bundled_directory()
    for key in ("young_16_25", "job_seekers", "pupils"):
        prof = get_profile(key)
        base = baseline_pass(model, sites, communes, prof)
        hosts = np.isin(communes["insee"].astype(str), base.sites["insee"].astype(str))
        first_mile = np.asarray(model.origin_offsets_s)
        assert np.all(base.time_s[hosts] <= first_mile[hosts] + 1e-9)
        for thr_min in (5.0, 10.0, 20.0):
            p = baseline_pass(model, sites, communes, prof, threshold_min=thr_min)
            ok = hosts & (first_mile < thr_min * 60)
            assert p.covered[ok].all()


@real
def test_osrm_comparison_reproduces_the_calibration_figures(model):
    from analysis.mainroads.model import CALIBRATION_SUMMARY
    from analysis.mainroads.osrm_compare import compare_with_osrm

    cmp = compare_with_osrm(model)
    held = cmp.heldout.as_dict()
    assert held == CALIBRATION_SUMMARY["test"]  # the README's figures
    assert held["median_abs_pct"] <= 8 and held["p90_abs_pct"] <= 20
    assert abs(held["bias_pct"]) <= 3
    assert cmp.overall.n == 512 * 511


@real
def test_calibration_command_refits_the_defaults(communes):
    """One fitting round from the defaults gives the defaults back (a fixed point)."""
    from analysis.mainroads.calibrate import calibrate_mainroads

    cal = calibrate_mainroads(communes, rounds=1, compare_adjacency=False, coach_check=False)
    d = MainRoadParams()
    np.testing.assert_allclose(cal.params.s_per_km, d.s_per_km, rtol=0.02)
    assert cal.params.leg_fixed_s == pytest.approx(d.leg_fixed_s, rel=0.05)
    assert cal.params.urban_extra_s_per_km == pytest.approx(d.urban_extra_s_per_km, rel=0.05)
    t = cal.test.as_dict()
    assert t["median_abs_pct"] <= 8 and t["p90_abs_pct"] <= 20 and abs(t["bias_pct"]) <= 3
    assert set(cal.test_bands["band"]) == {"0-20 min", "20-40 min", "40-60 min", "60+ min"}


def test_transit_legs_start_from_the_residents_spread():
    """A site at the commune's point costs its residents' walk, never 0 s (best mode)."""
    from analysis.transit.access import AccessOptions, legs_within, resident_spread_m

    spread = resident_spread_m(np.array([0.0, 1.0, 400.0]))
    assert spread[0] == 0.0
    assert spread[1] == pytest.approx(2 / 3 * np.sqrt(1e6 / np.pi))  # 376 m
    assert spread[2] == 600.0  # capped
    opts = AccessOptions()
    p = np.array([0.0, 0.0])
    legs = legs_within(p, p, np.array([0.0]), np.array([0.0]), max_m=opts.max_walk_m,
                       speed_kmh=opts.walk_speed_kmh, circuity=opts.walk_circuity,
                       min_m=spread[:2])  # fmt: skip
    t, _ = legs.min_per_point()
    assert t[0] == 0
    assert t[1] == np.ceil(spread[1] * 1.3 / (4.5 / 3.6))
