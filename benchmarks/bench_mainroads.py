"""The main-road model: build from the tarball, cached reload, peak memory.

Targets (issue 10): build from the Travel Mapping tarball < 15 s; cached reload < 0.2 s.
Baseline measured in the same run: the commune-adjacency network (the previous default)
built from scratch and reloaded from its cache, on the same communes. Prints the times, the
ratios and the peak RSS of the build.

Run: ``.venv/bin/python benchmarks/bench_mainroads.py``
"""

from __future__ import annotations

import resource
import statistics
import tempfile
import time
from pathlib import Path

from analysis.communes import load_communes
from analysis.estimated.network import build_estimated_network, load_or_build_estimated_network
from analysis.mainroads.model import build_mainroad_model, load_or_build_mainroad_model


def timed(fn, repeat=3):
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def main() -> None:
    communes = load_communes()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t_build = timed(lambda: build_mainroad_model(communes))
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t_est = timed(lambda: build_estimated_network(communes))
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        model = load_or_build_mainroad_model(communes, cache_dir=cache)
        load_or_build_estimated_network(communes, cache_dir=cache)
        t_reload = timed(lambda: load_or_build_mainroad_model(communes, cache_dir=cache), 7)
        t_est_reload = timed(lambda: load_or_build_estimated_network(communes, cache_dir=cache), 7)
    g = model.graph
    print(f"main roads: {g.n_nodes:,} nodes, {g.n_edges:,} directed edges")
    print(f"build from the tarball: {t_build:.2f} s (target < 15 s); "
          f"commune-adjacency build {t_est:.2f} s; ratio {t_build / t_est:.2f}x")  # fmt: skip
    print(f"cached reload: {t_reload * 1e3:.1f} ms (target < 200 ms); "
          f"commune-adjacency reload {t_est_reload * 1e3:.1f} ms; "
          f"ratio {t_reload / t_est_reload:.2f}x")  # fmt: skip
    print(f"peak RSS: {rss1:.0f} MB after the build ({rss1 - rss0:+.0f} MB over the communes)")


if __name__ == "__main__":
    main()
