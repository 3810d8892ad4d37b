"""OSM XML written here with known answers: travel times computed by hand from the tags."""

import math

import numpy as np
import pytest

from analysis.engine import nearest_sites
from analysis.osm import build_osm_graph

R = 6_371_009.0  # mean Earth radius used by osmnx for edge lengths

# Nodes on a small grid near Lyon (lon, lat).
NODES = {
    1: (4.80, 45.75),  # A
    2: (4.81, 45.75),  # B
    3: (4.815, 45.75),  # X (inside way B-X-C)
    4: (4.82, 45.75),  # C
    5: (4.82, 45.76),  # D
    6: (4.81, 45.76),  # E (end of a footway)
    7: (4.85, 45.78),  # F (disconnected street)
    8: (4.86, 45.78),  # G
    9: (4.83, 45.75),  # H (end of a service road)
    10: (4.80, 45.74),  # I (end of a private road)
}
WAYS = [
    (101, [1, 2], {"highway": "primary", "maxspeed": "90"}),
    (102, [2, 3, 4], {"highway": "residential"}),  # no tag: French default 30
    (103, [4, 5], {"highway": "secondary", "maxspeed": "FR:urban"}),  # 50
    (104, [5, 1], {"highway": "tertiary", "oneway": "yes", "maxspeed": "30 mph"}),
    (105, [2, 6], {"highway": "footway"}),
    (106, [7, 8], {"highway": "residential"}),
    (107, [4, 9], {"highway": "service"}),
    (108, [1, 10], {"highway": "unclassified", "access": "private"}),
]


def hav(a, b):
    (lon1, lat1), (lon2, lat2) = NODES[a], NODES[b]
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * R * math.asin(math.sqrt(h))


def secs(a, b, kmh):
    return hav(a, b) / (kmh / 3.6)


def write_xml(path, *, timestamp="2025-03-01T20:21:02Z"):
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<osm version="0.6" generator="test" timestamp="{timestamp}">',
        '  <bounds minlat="45.73" minlon="4.79" maxlat="45.79" maxlon="4.87"/>',
    ]
    for i, (lon, lat) in NODES.items():
        lines.append(f'  <node id="{i}" lat="{lat}" lon="{lon}" version="1"/>')
    for wid, nds, tags in WAYS:
        lines.append(f'  <way id="{wid}" version="1">')
        lines += [f'    <nd ref="{n}"/>' for n in nds]
        lines += [f'    <tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        lines.append("  </way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def xml_file(tmp_path_factory):
    return write_xml(tmp_path_factory.mktemp("xml") / "lyon_test.osm")


def edge_time(g, a, b):
    ids = list(g.node_ids)
    i, j = ids.index(a), ids.index(b)
    row = slice(g.indptr[i], g.indptr[i + 1])
    hit = np.flatnonzero(g.indices[row] == j)
    return float(g.weights[row][hit[0]]) if len(hit) else None


def test_drive_graph_times_match_hand_computation(xml_file, tmp_path):
    cached, _ = build_osm_graph(osm_file=xml_file, cache_dir=tmp_path)
    g = cached.graph
    # footway, service, private and the disconnected street are gone
    assert sorted(g.node_ids.tolist()) == [1, 2, 3, 4, 5]
    assert g.n_edges == 9  # 4 two-way segments + 1 one-way
    assert edge_time(g, 1, 2) == pytest.approx(secs(1, 2, 90), rel=1e-9)
    assert edge_time(g, 2, 1) == pytest.approx(secs(1, 2, 90), rel=1e-9)
    assert edge_time(g, 2, 3) == pytest.approx(secs(2, 3, 30), rel=1e-9)
    assert edge_time(g, 3, 4) == pytest.approx(secs(3, 4, 30), rel=1e-9)
    assert edge_time(g, 4, 5) == pytest.approx(secs(4, 5, 50), rel=1e-9)
    assert edge_time(g, 5, 1) == pytest.approx(secs(5, 1, 30 * 1.60934), rel=1e-9)
    assert edge_time(g, 1, 5) is None  # one-way
    # the engine's answers: to a site at A, and from it
    ids = g.node_ids.tolist()
    a, d = ids.index(1), ids.index(5)
    to_a = nearest_sites(g, np.array([a]))
    assert to_a.time_s[d] == pytest.approx(secs(5, 1, 30 * 1.60934), rel=1e-9)
    from_a = nearest_sites(g, np.array([a]), direction="from_sites")
    loop = secs(1, 2, 90) + secs(2, 3, 30) + secs(3, 4, 30) + secs(4, 5, 50)
    assert from_a.time_s[d] == pytest.approx(loop, rel=1e-9)


def test_label_names_file_and_extract_timestamp(xml_file, tmp_path):
    cached, _ = build_osm_graph(osm_file=xml_file, cache_dir=tmp_path)
    g = cached.graph
    assert g.model == "osm"
    assert g.label == (
        "OpenStreetMap drive network (file lyon_test.osm, extract timestamp 2025-03-01T20:21:02Z)"
    )
    assert g.meta["source"]["timestamp"] == "2025-03-01T20:21:02Z"
    assert g.meta["n_nodes_dropped"] >= 2  # the disconnected street


def test_walk_graph_is_two_way_at_walking_speed(xml_file, tmp_path):
    cached, _ = build_osm_graph(osm_file=xml_file, network="walk", cache_dir=tmp_path)
    g = cached.graph
    # footway and service road are walkable, the private road is not, F-G is cut off
    assert sorted(g.node_ids.tolist()) == [1, 2, 3, 4, 5, 6, 9]
    assert edge_time(g, 1, 5) == pytest.approx(secs(5, 1, 4.5), rel=1e-9)
    assert edge_time(g, 2, 6) == pytest.approx(secs(2, 6, 4.5), rel=1e-9)
    assert g.label.startswith("OpenStreetMap walk network (file lyon_test.osm")


def test_overpass_osm_base_timestamp(tmp_path):
    p = write_xml(tmp_path / "x.osm")
    text = (
        p.read_text()
        .replace("  <bounds", '  <meta osm_base="2024-11-02T10:00:00Z"/>\n  <bounds', 1)
        .replace(' timestamp="2025-03-01T20:21:02Z"', "")
    )
    p.write_text(text)
    cached, _ = build_osm_graph(osm_file=p, cache_dir=tmp_path)
    assert "extract timestamp 2024-11-02T10:00:00Z" in cached.graph.label


def test_xml_without_drivable_road_is_a_clear_error(tmp_path):
    from analysis.errors import ValidationError

    p = tmp_path / "paths.osm"
    p.write_text(
        '<?xml version="1.0"?>\n<osm version="0.6">\n'
        '<node id="1" lat="45.75" lon="4.80"/><node id="2" lat="45.75" lon="4.81"/>\n'
        '<way id="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="footway"/></way>\n'
        "</osm>\n"
    )
    with pytest.raises(ValidationError, match="no drivable road"):
        build_osm_graph(osm_file=p, cache_dir=tmp_path)
