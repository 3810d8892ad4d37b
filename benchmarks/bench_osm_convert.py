"""CSR conversion of a 1,000,000-edge osmnx-style MultiDiGraph, and the cached reload.

Builds a synthetic graph shaped like a simplified osmnx drive graph of the region
(lon/lat nodes, edges with ``osmid``, ``highway`` (some merged lists), ``maxspeed``
(numbers, French implicit values, lists, mostly missing), ``oneway``, ``reversed``,
``length``), then times in one process:

- the conversion to the engine's graph (:func:`analysis.osm.convert.graph_to_roadgraph`:
  one read of the edge view, column-wise speeds and times, Lambert-93 projection, CSR,
  largest strongly connected component) plus the extent and the cache write: the rebuild;
- the cached reload (:func:`analysis.osm.cache.load_graph`, checksum verified)
  (target: at least 10x faster than the rebuild);
- for reference, osmnx's own edge-by-edge ``add_edge_speeds`` + ``add_edge_travel_times``
  with the same French table (``--no-osmnx`` to skip).

Run: ``.venv/bin/python benchmarks/bench_osm_convert.py [--edges 1000000]``.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import tempfile
import time
from pathlib import Path

import networkx as nx
import numpy as np

from analysis.osm import cache
from analysis.osm.convert import graph_to_roadgraph
from analysis.osm.extent import NetworkExtent

HIGHWAYS = np.array(
    ["residential", "unclassified", "tertiary", "secondary", "primary", "trunk", "motorway",
     "motorway_link", "living_street"], dtype=object,
)  # fmt: skip
HIGHWAY_P = [0.45, 0.2, 0.15, 0.08, 0.06, 0.02, 0.02, 0.01, 0.01]
MAXSPEEDS = np.array(["30", "50", "70", "80", "90", "110", "130", "FR:urban", "FR:zone30"])


def peak_rss_gib() -> float:
    """Peak resident set size of this process so far, GiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def osmnx_like_graph(n_edges: int, *, seed: int = 0) -> nx.MultiDiGraph:
    """A grid-shaped MultiDiGraph with osmnx's node and edge attributes (lon/lat)."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n_edges / 4))) + 1
    n = side * side
    ii, jj = np.divmod(np.arange(n), side)
    lon = 4.0 + jj * 0.0013 + rng.normal(0, 2e-4, n)
    lat = 45.0 + ii * 0.0009 + rng.normal(0, 2e-4, n)
    ids = rng.choice(10**10, n, replace=False) + 10**9
    node = np.arange(n).reshape(side, side)
    a = np.concatenate([node[:, :-1].ravel(), node[:-1, :].ravel()])
    b = np.concatenate([node[:, 1:].ravel(), node[1:, :].ravel()])
    u = np.concatenate([a, b])[:n_edges]
    v = np.concatenate([b, a])[:n_edges]
    m = len(u)
    hw = HIGHWAYS[rng.choice(len(HIGHWAYS), m, p=HIGHWAY_P)]
    merged = rng.random(m) < 0.03
    ms = np.full(m, None, dtype=object)
    tagged = rng.random(m) < 0.25
    ms[tagged] = MAXSPEEDS[rng.integers(0, len(MAXSPEEDS), int(tagged.sum()))]
    length = 120.0 * rng.uniform(0.8, 3.0, m)
    G = nx.MultiDiGraph(crs="EPSG:4326", simplified=True)
    G.add_nodes_from(
        (int(i), {"x": float(x), "y": float(y), "street_count": 4})
        for i, x, y in zip(ids, lon, lat, strict=True)
    )
    edges = []
    for k in range(m):
        d = {
            "osmid": int(k),
            "highway": [hw[k], "residential"] if merged[k] else hw[k],
            "oneway": False,
            "reversed": bool(k >= m // 2),
            "length": float(length[k]),
        }
        if ms[k] is not None:
            d["maxspeed"] = [ms[k], "50"] if merged[k] else ms[k]
        edges.append((int(ids[u[k]]), int(ids[v[k]]), d))
    G.add_edges_from(edges)
    return G


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, default=1_000_000)
    parser.add_argument("--no-osmnx", action="store_true", help="skip osmnx's own speeds")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    G = osmnx_like_graph(args.edges)
    print(
        f"osmnx-style MultiDiGraph: {G.number_of_nodes():,} nodes, {G.number_of_edges():,} "
        f"edges (built in {time.perf_counter() - t0:.1f} s, not timed against)"
    )
    rss_graph = peak_rss_gib()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "osm_drive_bench.npz"
        gc.collect()
        t0 = time.perf_counter()
        g = graph_to_roadgraph(G, label="bench", meta={"build_version": cache.BUILD_VERSION})
        t_convert = time.perf_counter() - t0
        extent = NetworkExtent.from_nodes(g.x, g.y)
        cache.save_graph(cache.CachedGraph(graph=g, extent=extent), path)
        t_rebuild = time.perf_counter() - t0
        size_mb = path.stat().st_size / 1e6

        gc.collect()
        t0 = time.perf_counter()
        again = cache.load_graph(path)
        t_reload = time.perf_counter() - t0
        assert again is not None and again.graph.fingerprint() == g.fingerprint()
        rss_after = peak_rss_gib()

    print(f"RoadGraph: {g.n_nodes:,} nodes, {g.n_edges:,} edges")
    print(f"conversion (edge view read, speeds, times, projection, CSR, SCC): {t_convert:6.2f} s")
    print(f"rebuild = conversion + extent + cache write ({size_mb:.0f} MB .npz): "
          f"{t_rebuild:6.2f} s")  # fmt: skip
    print(f"cached reload (checksum verified):                               {t_reload:6.2f} s")
    print(f"RATIO rebuild / cached reload: {t_rebuild / t_reload:.1f}x (target >= 10x)")
    print(f"peak RSS: {rss_after:.2f} GiB (of which the networkx graph: about {rss_graph:.2f})")

    if not args.no_osmnx:
        from analysis.osm.speeds import add_french_speeds

        gc.collect()
        t0 = time.perf_counter()
        add_french_speeds(G)
        t_ox = time.perf_counter() - t0
        print(f"osmnx add_edge_speeds + add_edge_travel_times (reference):       {t_ox:6.2f} s")
        print(f"RATIO osmnx speeds+times alone / our whole conversion: {t_ox / t_convert:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
