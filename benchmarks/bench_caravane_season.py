"""Caravane season benchmark: a dated programme at the region's collèges.

    .venv/bin/python benchmarks/bench_caravane_season.py [--days 30] [--base Le Puy-en-Velay]

On the bundled region (the road model in force, the bundled directory): the first ``--days``
school days of the default season (zone A, January-March) at the 884 collèges with
coordinates, against a baseline measured in the same run — the same plan with the town halls
as candidate stops (4,025 candidates). Target: a season's programme in under 10 s. Prints
each time, the ratio, the stops and days used and the pupils met.
"""

from __future__ import annotations

import argparse
import time

from analysis import access


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--base", default="Le Puy-en-Velay")
    ap.add_argument("--profile", default="pupils")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from analysis.communes import load_communes
    from analysis.models import active_road_model
    from analysis.planning.caravane import plan_caravane
    from analysis.planning.school_days import default_season
    from analysis.planning.season import college_stop_points, season_dates
    from analysis.profiles import load_profiles
    from analysis.runs import load_sites

    t0 = time.perf_counter()
    communes = load_communes()
    model = active_road_model(communes)
    sites = load_sites()
    profiles = load_profiles()
    start, end = default_season()
    dates = season_dates(start, end, days=args.days)
    stops = college_stop_points()
    print(f"inputs loaded in {time.perf_counter() - t0:.2f} s; road model: {model.label} "
          f"({access.times_are_label(model).upper()}); season {dates[0]} → {dates[-1]}, "
          f"{len(dates)} school days; {len(stops)} collèges")  # fmt: skip

    def run(points):
        return plan_caravane(model, sites, communes, base=args.base, days=len(dates),
                             dates=dates, stop_min=90.0, max_drive_min=240.0,
                             profile=args.profile, profiles=profiles,
                             stop_points=points)  # fmt: skip

    timings: dict[str, list[float]] = {"town halls (baseline)": [], "collèges": []}
    results = {}
    for _ in range(args.repeat):
        for label, points in (("town halls (baseline)", None), ("collèges", stops)):
            t = time.perf_counter()
            results[label] = run(points)
            timings[label].append(time.perf_counter() - t)
    for label, ts in timings.items():
        s = results[label].summary
        print(f"  {label:<22} best {min(ts):6.2f} s (of {args.repeat}); {s['stops']} stops over "
              f"{s['days_used']} of {s['days']} days, {s['audience_met']:,.0f} pupils met, "
              f"{s['target_reached']:,.0f} target people reached")  # fmt: skip
    col = min(timings["collèges"])
    base = min(timings["town halls (baseline)"])
    print(
        f"collèges season / town-hall plan, same run: {col / base:.2f}x; "
        f"season programme {col:.2f} s (target < 10 s): {'OK' if col < 10 else 'SLOW'}"
    )


if __name__ == "__main__":
    main()
