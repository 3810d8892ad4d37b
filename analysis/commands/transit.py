"""``spro-access transit-check``: validate GTFS feeds and summarise a service day.

Reads each feed (the SNCF TER feed of the shared data folder by default, or ``--gtfs``
files / folders), validates it (errors name the file and row), prints its calendar, and,
for ``--date`` (default: a representative Tuesday), the trips, connections and stops of
that day inside the region, and how many communes have a stop within walking distance.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _cmd_transit_check(args: argparse.Namespace) -> int:
    from ..transit.gtfs import read_gtfs
    from ..transit.model import build_transit_model
    from ..transit.service_days import parse_feed_dates
    from ..transit.timetable import default_gtfs_paths

    paths = list(args.gtfs) if args.gtfs else default_gtfs_paths()
    for p in paths:
        feed = read_gtfs(p)
        s = feed.summary()
        print(
            f"{s['name']}: valid GTFS; {s['stops']:,} stops, {s['routes']:,} routes, "
            f"{s['trips']:,} trips; calendar {s['start_date']} to {s['end_date']}"
        )
        for note in s["notes"]:
            print(f"  note: {note}")
    from ..communes import load_communes

    communes = load_communes()
    model = build_transit_model(
        communes,
        gtfs_paths=paths,
        date=args.date,
        feed_dates=parse_feed_dates(args.feed_date),
        window=(args.window[0], args.window[1]),
        max_walk_m=args.max_walk,
        park_and_ride=args.park_and_ride,
        verbose=not args.quiet,
    )
    tt = model.timetable
    access = model.origin_access()
    n_reach = int((access["n_stops"] > 0).sum())
    print(f"{model.label}")
    for f, d in zip(tt.feeds, tt.feed_days, strict=True):
        print(
            f"  {f['name']}: valid {f['start_date']} to {f['end_date']}; service day "
            f"{d.strftime('%a')} {d.isoformat()}, {f.get('trips_that_day', 0):,} trips that day"
            + (
                f" ({f['service_label']}: {f.get('trips_used', 0):,} used, what "
                f"{f['supplements']} lacks)"
                if f.get("supplements")
                else ""
            )
            + (
                f"; {f['trips_in_an_earlier_feed']:,} already in an earlier feed, counted once"
                if f.get("trips_in_an_earlier_feed")
                else ""
            )
        )
    for w in tt.meta.get("warnings", []):
        print(f"  warning: {w}")
    print(
        f"  region (+ buffer): {tt.n_stops:,} stops, {tt.n_trips:,} trips, "
        f"{tt.n_connections:,} connections that day"
    )
    print(
        f"  {n_reach:,} of {len(communes):,} communes have a stop within reach of their origin "
        f"point; the others are reported as '{model.beyond_status}'"
    )
    return 0


def register(subparsers: Any) -> None:
    """Add the ``transit-check`` subcommand.

    Parameters
    ----------
    subparsers
        The object returned by ``ArgumentParser.add_subparsers``.
    """
    p = subparsers.add_parser(
        "transit-check", help="validate GTFS feeds and summarise a service day in the region"
    )
    p.add_argument(
        "--gtfs", type=Path, nargs="+", help="GTFS zip(s) or folder(s) (default: the TER feed)"
    )
    p.add_argument(
        "--date",
        help="service day YYYY-MM-DD for every feed (default: each feed's term Tuesday)",
    )
    p.add_argument(
        "--feed-date", nargs="+", metavar="FEED=YYYY-MM-DD", help="a feed's own service day"
    )
    p.add_argument(
        "--window", nargs=2, default=("07:00", "09:00"), metavar=("START", "END"),
        help="departure window (default 07:00 09:00)",
    )  # fmt: skip
    p.add_argument("--max-walk", type=float, default=1500.0, help="metres (default 1500)")
    p.add_argument("--park-and-ride", action="store_true", help="also drive to stations")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_transit_check)
