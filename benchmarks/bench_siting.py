"""Permanence-siting benchmark: k = 10 among every commune's town hall, bundled region.

    .venv/bin/python benchmarks/bench_siting.py [--network "France Travail"] [--k 10]

On the bundled region (4,025 communes, the road model in force, the bundled directory, the
profiles file), for one network's profile: the cost matrix candidate × commune still to
cover, within the threshold, computed both ways (one limited pass per candidate node, one
per commune to cover) and checked equal; the lazy and the plain greedy (same picks, gain
evaluations counted); the exact integer program (PuLP + HiGHS) and the greedy's gap; and
the end-to-end :func:`~analysis.planning.siting.site_permanences` call.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from analysis import access
from analysis.planning import common
from analysis.planning.siting import MCLP, candidate_hosts, cost_matrix, site_permanences


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--network", default="France Travail")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--threshold", type=float, default=None, help="minutes")
    args = ap.parse_args()

    from analysis.communes import load_communes
    from analysis.models import active_road_model
    from analysis.profiles import load_profiles
    from analysis.runs import load_sites

    t0 = time.perf_counter()
    communes = load_communes()
    model = active_road_model(communes)
    sites = load_sites()
    profiles = load_profiles()
    print(f"inputs loaded in {time.perf_counter() - t0:.2f} s: {len(communes):,} communes, "
          f"{len(sites):,} sites; road model: {model.label} "
          f"({access.times_are_label(model).upper()})")  # fmt: skip
    network = common.canonical_network(args.network)
    prof = common.profile_for_network(network, profiles)
    thr = access.threshold_s(prof, "road", args.threshold)
    hosts = candidate_hosts(communes, sites, network=network, hosts=("town_halls",))
    demand = access.profile_demand(prof, communes)
    elig = access.eligible(prof, sites, allow_empty=True)
    before = model.nearest(elig["x_l93"].to_numpy(), elig["y_l93"].to_numpy()).time_s
    todo = np.flatnonzero((before > thr) & (demand > 0))
    print(f"{network} → profile {prof.key}, threshold {thr / 60:g} min: {len(hosts):,} town "
          f"halls as candidates, {len(todo):,} communes still to cover "
          f"({demand[todo].sum():,.0f} people of {demand.sum():,.0f})")  # fmt: skip

    cx, cy = hosts["x_l93"].to_numpy(), hosts["y_l93"].to_numpy()
    mats = {}
    for method in ("candidates", "origins"):
        cm = cost_matrix(model, cx, cy, limit_s=thr, origins=todo, method=method)
        mats[method] = cm
        print(f"cost matrix by {method:<10}: {cm.passes:>5} limited passes, {cm.times_s.nnz:,} "
              f"entries, {cm.seconds:.3f} s")  # fmt: skip
    a, b = mats["candidates"].times_s, mats["origins"].times_s
    # the same paths summed in opposite directions: equal up to rounding
    assert (a.astype(bool) != b.astype(bool)).nnz == 0 and abs(a - b).max() < 1e-6
    prob = MCLP.from_cost_matrix(a, demand[todo], thr)

    for lazy in (True, False):
        t = time.perf_counter()
        g = prob.greedy(args.k, lazy=lazy)
        dt = time.perf_counter() - t
        print(f"{'lazy' if lazy else 'plain'} greedy: {dt * 1e3:.1f} ms, {g.evaluations:,} gain "
              f"evaluations, objective {g.objective:,.0f}")  # fmt: skip
    lazy_g = prob.greedy(args.k, lazy=True)
    assert lazy_g.picks == prob.greedy(args.k, lazy=False).picks

    n_c, n_p, nnz = prob.problem_size()
    ex = prob.solve_exact(args.k, solver="highs", time_limit_s=300)
    gap = max((ex.objective - lazy_g.objective) / ex.objective, 0.0) if ex.objective > 0 else 0.0
    print(f"exact IP ({n_c:,} candidates × {n_p:,} communes, {nnz:,} coverage entries): "
          f"{ex.status} by {ex.solver} in {ex.seconds:.2f} s, objective {ex.objective:,.0f}; "
          f"greedy gap {100 * gap:.2f}%")  # fmt: skip

    t = time.perf_counter()
    res = site_permanences(
        model, sites, communes, network=network, k=args.k, threshold_min=args.threshold,
        profiles=profiles, hosts=("town_halls",), exact=False,
    )  # fmt: skip
    print(f"site_permanences(k={args.k}, town halls, greedy only): "
          f"{time.perf_counter() - t:.2f} s end to end")  # fmt: skip
    t = time.perf_counter()
    res = site_permanences(
        model, sites, communes, network=network, k=args.k, threshold_min=args.threshold,
        profiles=profiles, hosts=("town_halls",), exact=True,
    )  # fmt: skip
    print(f"site_permanences(k={args.k}, town halls, with the exact IP): "
          f"{time.perf_counter() - t:.2f} s end to end")  # fmt: skip
    s = res.summary
    print(f"uncovered demand {s['demand_uncovered_before']:,.0f} → "
          f"{s['demand_uncovered_after']:,.0f} ({100 * s['share_uncovered_before']:.2f}% → "
          f"{100 * s['share_uncovered_after']:.2f}% of the profile)")  # fmt: skip
    for _, p in res.picks.iterrows():
        print(f"  {p['order']:>2}. {p['commune']:<28} +{p['marginal_gain']:>8,.0f}")


if __name__ == "__main__":
    main()
