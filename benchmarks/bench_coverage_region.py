"""All profiles' coverage on the bundled region, after ``prepare``.

Target: every profile's coverage (one engine pass each + tables + clusters) in under 2 s.
Baseline measured in the same run: the same nearest-site question answered with networkx
(``multi_source_dijkstra`` on the same graph, per profile), the pure-Python approach the
engine replaces. Prints the times and the ratio.

Run: ``.venv/bin/python benchmarks/bench_coverage_region.py``
"""

from __future__ import annotations

import statistics
import time

import networkx as nx
import numpy as np

from analysis import access
from analysis.communes import load_communes
from analysis.inputs import load_sites
from analysis.models import active_road_model
from analysis.profiles import eligible_sites, load_profiles
from analysis.runs import all_profiles


def timed(fn, repeat=5):
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def main() -> None:
    t0 = time.perf_counter()
    communes = load_communes()
    sites = load_sites()
    profiles = load_profiles()
    model = active_road_model(communes)  # the default: the main roads when their data is there
    print(f"road model: {model.label}")
    print(f"loading after prepare: {time.perf_counter() - t0:.2f} s")

    all_profiles(model, sites, communes, profiles=profiles)  # warm-up (adjacency, caches)
    t_all = timed(lambda: all_profiles(model, sites, communes, profiles=profiles))
    print(f"all {len(profiles)} profiles, full coverage results: {t_all:.3f} s (target < 2 s)")

    # Eligible sites selected once per profile, as arrays (the selection is not the engine).
    x_all = sites["x_l93"].to_numpy(float)
    y_all = sites["y_l93"].to_numpy(float)

    def select():
        return {
            k: (x_all[r], y_all[r])
            for k, r in ((k, access.eligible_rows(p, sites)) for k, p in profiles.items())
        }

    t_select = timed(select)
    coords = select()
    t_pandas = timed(lambda: [eligible_sites(p, sites) for p in profiles.values()])
    print(
        f"eligible sites of {len(profiles)} profiles as arrays: {t_select * 1000:.2f} ms "
        f"(pandas row filter: {t_pandas * 1000:.1f} ms, {t_pandas / t_select:.0f}x slower)"
    )

    def engine_passes():
        for x, y in coords.values():
            model.nearest(x, y)

    t_engine = timed(engine_passes)

    g = model.graph
    rows = np.repeat(np.arange(g.n_nodes), np.diff(g.indptr))
    G = nx.DiGraph()
    G.add_weighted_edges_from(
        zip(g.indices.tolist(), rows.tolist(), g.weights.tolist(), strict=True)
    )

    def networkx_passes():
        for x, y in coords.values():
            snap = model.snap_sites(x, y)
            nx.multi_source_dijkstra_path_length(G, set(snap.node[~snap.too_far].tolist()))

    t_nx = timed(networkx_passes, repeat=3)
    print(f"engine passes only ({len(profiles)} profiles): {t_engine * 1000:.1f} ms")
    print(f"networkx multi-source Dijkstra (same graph, same sites): {t_nx * 1000:.1f} ms")
    print(f"ratio networkx / engine: {t_nx / t_engine:.1f}x")


if __name__ == "__main__":
    main()
