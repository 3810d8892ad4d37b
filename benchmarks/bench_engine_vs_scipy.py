"""Engine vs bare SciPy vs networkx on a 1,000,000-node road-like graph.

The nearest-site pass (:func:`analysis.engine.nearest_sites`, one multi-source Dijkstra)
on a perturbed 1000 x 1000 grid with random diagonal shortcuts (about 4,000,000 directed
edges) and 1,000 sites, timed against, in the same process:

- a bare ``scipy.sparse.csgraph.dijkstra(..., min_only=True)`` on the same CSR arrays
  (target: the engine within 1.5x);
- ``networkx.multi_source_dijkstra_path_length`` on the same graph (target: the engine at
  least 20x faster; run once, it takes a while).

Peak resident memory (``resource.getrusage``) is printed after the engine part (target:
under 3 GiB) and again at the end (networkx's graph included).

Run: ``.venv/bin/python benchmarks/bench_engine_vs_scipy.py [--side 1000] [--sites 1000]``.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time

import numpy as np
from scipy.sparse.csgraph import dijkstra

from analysis.engine import nearest_sites
from analysis.graph import RoadGraph


def peak_rss_gib() -> float:
    """Peak resident set size of this process so far, GiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def road_like_graph(side: int, *, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Perturbed grid (100 m spacing) + diagonal shortcuts; speeds by road class.

    Returns ``u, v, w, x, y`` with about ``4 * side**2`` directed edges.
    """
    rng = np.random.default_rng(seed)
    n = side * side
    ii, jj = np.divmod(np.arange(n), side)
    x = 700_000.0 + jj * 100.0 + rng.normal(0, 20, n)
    y = 6_400_000.0 + ii * 100.0 + rng.normal(0, 20, n)
    node = np.arange(n).reshape(side, side)
    a = np.concatenate([node[:, :-1].ravel(), node[:-1, :].ravel()])
    b = np.concatenate([node[:, 1:].ravel(), node[1:, :].ravel()])
    # shortcuts: from a random node to a node up to 5 cells away diagonally
    k = max(4 * n - 2 * len(a), 0) // 2 + n // 250
    src = rng.integers(0, n, k)
    si, sj = np.divmod(src, side)
    di = np.clip(si + rng.integers(-5, 6, k), 0, side - 1)
    dj = np.clip(sj + rng.integers(-5, 6, k), 0, side - 1)
    dst = node[di, dj]
    a = np.concatenate([a, src])
    b = np.concatenate([b, dst])
    length = np.hypot(x[a] - x[b], y[a] - y[b]) * rng.uniform(1.0, 1.3, len(a))
    speed_kmh = rng.choice([30.0, 50.0, 80.0, 110.0], len(a), p=[0.5, 0.3, 0.15, 0.05])
    w = length / (speed_kmh / 3.6)
    u = np.concatenate([a, b])
    v = np.concatenate([b, a])
    return u, v, np.concatenate([w, w * rng.uniform(1.0, 1.1, len(w))]), x, y


def interleaved(fns: dict[str, object], rounds: int) -> tuple[dict, dict, dict]:
    """Time each function ``rounds`` times, in interleaved rounds (the same background load
    for all); return the minimum wall time, the minimum CPU time and the last result of each.
    """
    wall = dict.fromkeys(fns, np.inf)
    cpu = dict.fromkeys(fns, np.inf)
    out: dict[str, object] = {}
    for _ in range(rounds):
        for name, fn in fns.items():
            gc.collect()
            t0, c0 = time.perf_counter(), time.process_time()
            out[name] = fn()
            wall[name] = min(wall[name], time.perf_counter() - t0)
            cpu[name] = min(cpu[name], time.process_time() - c0)
    return wall, cpu, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=1000, help="grid side (nodes = side^2)")
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-networkx", action="store_true", help="skip the networkx run")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    u, v, w, x, y = road_like_graph(args.side)
    g = RoadGraph.from_edges(u, v, w, x, y, label="synthetic road-like grid")
    del u, v, w
    t_build = time.perf_counter() - t0
    print(f"graph: {g.n_nodes:,} nodes, {g.n_edges:,} edges (built in {t_build:.1f} s)")
    rng = np.random.default_rng(1)
    sites = rng.choice(g.n_nodes, args.sites, replace=False)
    offsets = rng.uniform(0, 300, args.sites)

    t0 = time.perf_counter()
    rev = g.csr_reverse  # cached per graph; built once
    print(f"reverse CSR (once per graph): {time.perf_counter() - t0:.2f} s")

    fns = {
        "bare": lambda: dijkstra(rev, directed=True, indices=sites, min_only=True),
        "pred": lambda: dijkstra(
            rev, directed=True, indices=sites, min_only=True, return_predecessors=True
        ),
        "engine": lambda: nearest_sites(g, sites),
        "offsets": lambda: nearest_sites(g, sites, site_offsets_s=offsets),
    }
    wall, cpu, out = interleaved(fns, args.repeat)
    res = out["engine"]
    assert np.allclose(res.time_s, out["bare"]), "engine and scipy disagree"
    rss_engine = peak_rss_gib()
    print(f"best of {args.repeat} interleaved rounds        wall s   CPU s")
    for name, what in (
        ("bare", "bare scipy dijkstra(min_only=True)"),
        ("pred", "scipy dijkstra(min_only, predecessors)"),
        ("engine", "engine nearest_sites (no offsets)"),
        ("offsets", "engine nearest_sites (site offsets)"),
    ):
        print(f"{what:<40} {wall[name]:7.2f} {cpu[name]:7.2f}")
    t_eng, t_bare = wall["engine"], wall["bare"]
    print(
        f"RATIO engine / bare scipy: {t_eng / t_bare:.2f}x wall, "
        f"{cpu['engine'] / cpu['bare']:.2f}x CPU (with offsets {wall['offsets'] / t_bare:.2f}x "
        f"wall, {cpu['offsets'] / cpu['bare']:.2f}x CPU; target <= 1.5x)"
    )
    print(f"peak RSS after the engine runs: {rss_engine:.2f} GiB (target < 3 GiB)")

    if not args.no_networkx:
        import networkx as nx

        t0 = time.perf_counter()
        G = nx.DiGraph()
        G.add_nodes_from(range(g.n_nodes))
        tail = np.repeat(np.arange(g.n_nodes), np.diff(rev.indptr))
        # reversed graph: the time to a site is the time from it on the reversed edges
        G.add_weighted_edges_from(
            zip(tail.tolist(), rev.indices.tolist(), rev.data.tolist(), strict=True)
        )
        del tail
        t_nxbuild = time.perf_counter() - t0
        t0 = time.perf_counter()
        ref = nx.multi_source_dijkstra_path_length(G, set(sites.tolist()))
        t_nx = time.perf_counter() - t0
        ref_t = np.full(g.n_nodes, np.inf)
        ref_t[np.fromiter(ref.keys(), int, len(ref))] = np.fromiter(ref.values(), float, len(ref))
        assert np.allclose(ref_t, res.time_s), "engine and networkx disagree"
        print(f"networkx graph build: {t_nxbuild:.1f} s (not timed against)")
        print(f"networkx multi_source_dijkstra_path_length: {t_nx:7.2f} s")
        print(f"RATIO networkx / engine: {t_nx / t_eng:.1f}x (target >= 20x)")
        print(f"peak RSS at the end (networkx graph included): {peak_rss_gib():.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
