"""Public-transport times from all 4,025 communes, on the five feeds of the mirror.

What is timed (one profile, a 12-departure window 07:00-08:50, each feed on its own day:
TER 2025 and TGV 2025 on Tuesday 2025-02-04, TAG, T2C and TER 2019 on their term Tuesdays):

1. loading: read + validate + clip + compile the five feeds (no cache), then the
   cached load; and, for the gain, the TER 2025 feed alone (the former default);
2. the full run: ``TransitModel.nearest`` for every commune and every departure (one
   backward profile scan + the per-commune evaluation), walk-only and park-and-ride;
3. the baseline, measured in the same run: the brute-force earliest-arrival search
   (:mod:`analysis.transit.reference`) on a sample of (commune, departure) queries, whose
   answers must equal the router's.

Prints the times, the time per query of both, their ratio, and the brute force's projected
time for the full run. Targets (issue 11): loading (incl. compiling) + the full run < 10 s,
< 3 s cached.

Run: ``.venv/bin/python benchmarks/bench_transit.py [--sample 60] [--profile young_16_25]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import settings
from analysis.transit import AccessOptions, TransitModel, build_transit_model, router
from analysis.transit.reference import brute_force_earliest_arrival, trip_order
from analysis.transit.router import INF


def communes_frame() -> pd.DataFrame:
    try:
        from analysis.communes import load_communes

        return load_communes()
    except Exception as exc:  # the commune layer may not be prepared yet
        import geopandas as gpd
        from pyproj import Transformer

        print(f"(load_communes unavailable: {exc}; reading the shared commune layer)")
        c = gpd.read_file(settings.shared_data_dir / "communes" / "communes_84_cog2026.gpkg")
        c = c.sort_values("insee").reset_index(drop=True)
        tr = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
        c["x_l93"], c["y_l93"] = tr.transform(c["lon_pos"].to_numpy(), c["lat_pos"].to_numpy())
        return c


def profile_sites(key: str) -> tuple[str, np.ndarray, np.ndarray]:
    try:
        from analysis.profiles import eligible_sites, get_profile
        from analysis.runs import load_sites

        el = eligible_sites(get_profile(key), load_sites())
        return f"profile {key}", el["x_l93"].to_numpy(float), el["y_l93"].to_numpy(float)
    except Exception as exc:  # the site directory may not be prepared yet
        from pyproj import Transformer

        print(f"(site directory unavailable: {exc}; using the France Travail 2019 sites)")
        s = pd.read_csv(settings.shared_data_dir / "access_points" / "france_travail_2019.csv")
        tr = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
        x, y = tr.transform(s["lon"].to_numpy(), s["lat"].to_numpy())
        return "job seekers (France Travail 2019)", np.asarray(x), np.asarray(y)


def timed(fn, repeat: int = 5) -> tuple[float, object]:
    out, res = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out), res


def brute_sample(model: TransitModel, sx, sy, arrival, n: int, seed: int) -> tuple[float, int]:
    """Time the brute force on n random (commune, departure) queries; count mismatches."""
    eg_t, eg_s, di_t, di_s = model.site_legs(sx, sy)
    legs = model.origin_legs
    order = trip_order(model.timetable)
    rng = np.random.default_rng(seed)
    cands = np.flatnonzero(legs.counts() > 0)
    cap = model.departures[-1] + model.max_journey_s
    mismatches, spent = 0, 0.0
    for o in rng.choice(cands, size=min(n, len(cands)), replace=False):
        k = int(rng.integers(len(model.departures)))
        sl = slice(legs.indptr[o], legs.indptr[o + 1])
        t0 = time.perf_counter()
        want, _ = brute_force_earliest_arrival(
            model.timetable, model.footpaths, departure=int(model.departures[k]),
            access_stops=legs.target[sl], access_times=legs.time_s[sl],
            egress_time=eg_t, egress_site=eg_s, direct_time=int(di_t[o]),
            direct_site=int(di_s[o]), order=order,
        )  # fmt: skip
        spent += time.perf_counter() - t0
        got = int(arrival[o, k])
        same = got == want if want <= cap else (got == int(INF) or got > cap)
        mismatches += not same
    return spent / min(n, len(cands)), mismatches


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sample", type=int, default=60, help="brute-force queries per mode")
    ap.add_argument("--profile", default="young_16_25")
    args = ap.parse_args()

    t_start = time.perf_counter()
    communes = communes_frame()
    label, sx, sy = profile_sites(args.profile)
    print(f"{len(communes):,} communes; {label}: {len(sx):,} sites")

    ter = settings.shared_data_dir / "gtfs" / "sncf_ter_2025-01.zip"
    with tempfile.TemporaryDirectory() as tmp:
        settings.processed_data_dir = Path(tmp)
        t0 = time.perf_counter()
        model = build_transit_model(communes)
        t_cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        model = build_transit_model(communes)
        t_warm = time.perf_counter() - t0
        before = build_transit_model(communes, gtfs_paths=[ter])
    tt = model.timetable
    print(
        f"load, {len(tt.feeds)} feeds -> region (read, validate, clip, compile): {t_cold:.2f} s; "
        f"from cache: {t_warm:.2f} s"
    )
    for f, d in zip(tt.feeds, tt.feed_days, strict=True):
        print(
            f"  {f['name']}: {d.strftime('%a')} {d.isoformat()}, {f['trips_that_day']:,} trips "
            f"in the clip that day, {f['trips_used']:,} used"
            + (f" ({f['service_label']})" if f.get("supplements") else "")
        )
    pop = (
        communes["pop_mun"].to_numpy(float)
        if "pop_mun" in communes.columns
        else np.ones(len(communes))
    )
    for name, m in (("TER 2025 alone (before)", before), ("five feeds (after)", model)):
        reach = m.origin_access()["n_stops"].to_numpy() > 0
        r = m.nearest(sx, sy)
        ok = r.status == "ok"
        print(
            f"  {name}: {reach.sum():,} communes / {pop[reach].sum() / pop.sum():.1%} of the "
            f"population with a stop within the walk limit; 'ok' for {label}: {ok.sum():,} "
            f"communes / {pop[ok].sum() / pop.sum():.1%} of the population"
        )
    print(
        f"  {tt.n_stops:,} stops, {tt.n_trips:,} trip instances, {tt.n_connections:,} "
        f"connections; departures {len(model.departures)} ({model.window[0]}-{model.window[1]})"
    )

    t0 = time.perf_counter()
    model.nearest(sx[:1], sy[:1])  # JIT compilation (cached on disk after the first run)
    print(f"first call incl. numba compilation / cache load: {time.perf_counter() - t0:.2f} s")

    pr = TransitModel(
        timetable=tt, origin_ids=model.origin_ids, origin_x=model.origin_x,
        origin_y=model.origin_y, access=AccessOptions(park_and_ride=True),
    )  # fmt: skip
    n_queries = len(communes) * len(model.departures)
    total_router = t_last = 0.0
    for name, m in (("walk", model), ("park-and-ride", pr)):
        t_full, res = timed(lambda m=m: m.nearest(sx, sy))
        total_router += t_full
        t_last = t_full
        counts = pd.Series(res.status).value_counts().to_dict()  # type: ignore[union-attr]
        ok = res.status == "ok"  # type: ignore[union-attr]
        med = np.median(res.time_s[ok]) / 60 if ok.any() else float("nan")  # type: ignore[union-attr]
        arrival, _ = m.arrivals(sx, sy)
        per_brute, bad = brute_sample(m, sx, sy, arrival, args.sample, seed=1)
        per_router = t_full / n_queries
        print(f"\n[{name}] full run, {len(communes):,} communes x {len(m.departures)} departures")
        print(f"  router: {t_full * 1000:.1f} ms ({per_router * 1e6:.2f} us per query)")
        print(f"  statuses: {counts}; median of 'ok' communes {med:.1f} min")
        print(
            f"  brute force: {per_brute * 1000:.2f} ms per query on {args.sample} sampled "
            f"queries; mismatches with the router: {bad}"
        )
        print(
            f"  ratio brute force / router per query: {per_brute / per_router:,.0f}x "
            f"(brute force for the full run: ~{per_brute * n_queries:,.0f} s)"
        )
    if router.HAVE_NUMBA:
        # What numba earns: the same loops run as plain Python.
        jitted = {
            k: getattr(router, k) for k in ("_profile_scan", "_evaluate", "_last_at_or_after")
        }
        try:
            for k, f in jitted.items():
                setattr(router, k, f.py_func)
            t_py, res_py = timed(lambda: pr.nearest(sx, sy), repeat=1)
        finally:
            for k, f in jitted.items():
                setattr(router, k, f)
        same = np.array_equal(res_py.time_s, pr.nearest(sx, sy).time_s)  # type: ignore[union-attr]
        print(
            f"\nwithout numba (plain Python loops), park-and-ride full run: {t_py:.2f} s "
            f"(same answers: {same}); numba speed-up {t_py / t_last:,.0f}x"
        )
    total = time.perf_counter() - t_start
    print(
        f"\nwhole benchmark (both modes, loading, brute-force samples): {total:.1f} s; "
        f"load + one full run: {t_cold + total_router / 2:.2f} s (target < 10 s); cached: "
        f"{t_warm + total_router / 2:.2f} s (target < 3 s)"
    )


if __name__ == "__main__":
    main()
