"""What-if benchmark: one candidate's card, incremental vs full recompute, in one run.

    .venv/bin/python benchmarks/bench_whatif.py [--skip-1m] [--candidates 30]

Part 1, the bundled region: the 4,025 communes, the road model in force (the estimated
network unless an OSM model was prepared), the bundled site directory and the profiles file.
Part 2, the 1M-node synthetic graph: a jittered 1000 × 1000 grid over a 4,032-commune
synthetic region (about the region's size), ~1,000 synthetic sites, three profiles.

For each random candidate, its *card* (every profile its network serves × road) is computed
incrementally (snap once, one pruned pass per profile, figures from the changed communes)
and by a full recompute (``model.nearest`` over every eligible site + the candidate, the
same figures code); the two must be identical. Reported: the ratio full / incremental per
candidate (median, worst), and the ratio to the pass alone (the cheapest conceivable full
recompute: snapping cached, no figures). Closures (restricted pass vs full recompute) too.
Timings are the best of a few repetitions; the full recompute of the 1M graph runs once.
"""

from __future__ import annotations

import argparse
import gc
import time

import numpy as np

from analysis import access
from analysis.planning.whatif import WhatIf
from analysis.road_model import SiteSnap


def best_time(f, reps: int) -> float:
    f()
    best = np.inf
    for _ in range(reps):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def same(a: dict, b: dict) -> bool:
    return all(
        (np.isnan(a[k]) and np.isnan(b[k])) or np.isclose(a[k], b[k], rtol=1e-12, atol=1e-9)
        for k in a
    )


def pass_only(session: WhatIf, keys: list[str], x: float, y: float):
    """The pass alone for each profile (cached snapping): the cheapest full recompute."""
    model = session.models["road"]
    cs = model.snap_sites(np.array([x]), np.array([y]))
    snaps = []
    for k in keys:
        sn = session.baseline(k, "road").snap
        snaps.append(
            SiteSnap(
                np.append(sn.node, cs.node),
                np.append(sn.offset_s, cs.offset_s),
                np.append(sn.dist_m, cs.dist_m),
                np.append(sn.too_far, cs.too_far),
            )
        )

    def run():
        for s in snaps:
            model.pass_from_snap(s)

    return run


def bench(name, model, sites, communes, profiles, *, n_cand, reps, full_reps, seed=0):
    print(f"\n== {name}: {model.graph.n_nodes:,} nodes, {model.graph.n_edges:,} edges, "
          f"{len(communes):,} communes, {len(sites):,} sites; model: {model.label} "
          f"({access.times_are_label(model).upper()})")  # fmt: skip
    inc = WhatIf(model, sites, communes, profiles)
    full = WhatIf(model, sites, communes, profiles, incremental=False)
    t0 = time.perf_counter()
    for k in profiles:
        inc.baseline(k, "road")
        full.baseline(k, "road")
    print(f"baselines (one pass per profile, both sessions): {time.perf_counter() - t0:.2f} s")
    rng = np.random.default_rng(seed)
    networks = sorted({n for p in profiles.values() for n in p.networks} & set(sites["network"]))
    rows = rng.choice(len(communes), n_cand, replace=False)
    ratios, ratios_pass, changed, t_inc_all = [], [], [], []
    for i, r in enumerate(rows):
        x = float(communes["x_l93"].iloc[r]) + rng.uniform(-300, 300)
        y = float(communes["y_l93"].iloc[r]) + rng.uniform(-300, 300)
        net = networks[i % len(networks)]
        a = inc.addition_card(x, y, net)
        b = full.addition_card(x, y, net)
        assert len(a) == len(b) and all(
            same(fa, fb) for (_, _, _, fa), (_, _, _, fb) in zip(a, b, strict=True)
        ), "incremental and full cards differ"
        keys = [k for k, _, _, _ in a]
        t_inc = best_time(lambda x=x, y=y, net=net: inc.addition_card(x, y, net), reps)
        t_full = best_time(lambda x=x, y=y, net=net: full.addition_card(x, y, net), full_reps)
        t_pass = best_time(pass_only(full, keys, x, y), full_reps)
        ratios.append(t_full / t_inc)
        ratios_pass.append(t_pass / t_inc)
        changed.append(sum(len(ch.rows) for _, _, ch, _ in a))
        t_inc_all.append(t_inc)
        gc.collect()
    ratios = np.array(ratios)
    print(
        f"addition card ({n_cand} random candidates, {len(networks)} networks): incremental "
        f"median {1e3 * np.median(t_inc_all):.3f} ms; full recompute / incremental: median "
        f"{np.median(ratios):.1f}x, worst {ratios.min():.1f}x, best {ratios.max():.1f}x; "
        f"pass alone / incremental: median {np.median(ratios_pass):.1f}x, worst "
        f"{np.min(ratios_pass):.1f}x; communes changed per card: median {np.median(changed):.0f}, "
        f"max {max(changed)}"
    )
    # Closures.
    cl_ratios = []
    ids = sites["site_id"].astype(str).to_numpy()
    for sid in rng.choice(ids, min(n_cand, len(ids)), replace=False):
        keys = [k for k in profiles if sid in set(inc.baseline(k, "road").sites["site_id"])]
        if not keys:
            continue
        k = keys[0]
        a = inc.figures(k, "road", remove=sid)
        b = full.figures(k, "road", remove=sid)
        assert same(a, b), "incremental and full closure cards differ"
        t_inc = best_time(lambda sid=sid, k=k: inc.figures(k, "road", remove=sid), reps)
        t_full = best_time(lambda sid=sid, k=k: full.figures(k, "road", remove=sid), full_reps)
        cl_ratios.append(t_full / t_inc)
    cl = np.array(cl_ratios)
    print(
        f"closure card ({len(cl)} random sites, one profile): full recompute / restricted pass: "
        f"median {np.median(cl):.1f}x, worst {cl.min():.1f}x"
    )
    return ratios, cl


def bundled(n_cand: int) -> None:
    from analysis.communes import load_communes
    from analysis.models import active_road_model
    from analysis.profiles import load_profiles

    communes = load_communes()
    model = active_road_model(communes)
    try:
        from analysis.runs import load_sites

        sites = load_sites()
        what = "bundled directory"
    except ImportError:
        from analysis.testing import synthetic_sites

        sites = synthetic_sites(communes, per_network=150, seed=3)
        what = "SYNTHETIC sites (bundled directory not available in this copy)"
    print(f"sites: {what}")
    profiles = load_profiles()
    bench("bundled region", model, sites, communes, profiles, n_cand=n_cand, reps=20,
          full_reps=5)  # fmt: skip


def million(n_cand: int) -> None:
    from analysis.testing import (
        grid_road_model,
        synthetic_communes,
        synthetic_profiles,
        synthetic_sites,
    )

    t0 = time.perf_counter()
    communes = synthetic_communes(64, 63, seed=0)
    model = grid_road_model(communes, n_nodes=1_000_000, seed=0)
    sites = synthetic_sites(communes, per_network=250, seed=1)
    print(f"\n1M-node synthetic graph built in {time.perf_counter() - t0:.1f} s")
    bench("1M-node synthetic graph", model, sites, communes, synthetic_profiles(),
          n_cand=n_cand, reps=3, full_reps=1)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=30)
    ap.add_argument("--skip-1m", action="store_true")
    args = ap.parse_args()
    bundled(args.candidates)
    if not args.skip_1m:
        million(min(args.candidates, 12))


if __name__ == "__main__":
    main()
