"""Planner subcommands: ``whatif``, ``site-permanences`` and ``caravane``.

Each writes its tables (CSV + GeoPackage), a standalone HTML map and ``metadata.json`` to
an output folder, and prints a short summary saying which road model produced the times
(and that they are estimated when they are) and which sites are real or modelled.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from .. import settings
from ..cli import add_merge_options, output_folder, positive_minutes, sites_merge
from ..errors import ValidationError
from ..models import ROAD_CHOICES

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------- inputs
def _load_inputs(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """Communes, site directory (:func:`analysis.inputs.load_sites`) and profiles.

    ``--real-only`` leaves the modelled sites out (what the open data alone says);
    ``--profiles-file`` replaces the bundled profiles.
    """
    from ..communes import load_communes
    from ..inputs import load_sites
    from ..profiles import load_profiles

    profiles = load_profiles(args.profiles_file)  # a bad file fails before the heavy loads
    sites = load_sites(
        args.sites, include_modelled=not args.real_only, sites_layer=args.layer,
        sites_merge=sites_merge(args),
    )  # fmt: skip
    return load_communes(), sites, profiles


def _load_models(modes: list[str], communes: Any, *, road: str, date: str | None) -> dict[str, Any]:
    """Access model per mode (:func:`analysis.inputs.load_models`)."""
    from ..inputs import load_models

    return load_models(modes, communes, road=road, transit_options={"date": date} if date else None)


def _out_dir(args: argparse.Namespace, name: str) -> Path:
    return Path(args.out) if args.out else settings.output_dir / name


def print_files(files: dict[str, Path]) -> None:
    """Print the folder an output set went to and its files (every planner command)."""
    folder = next(iter(files.values())).parent
    print(f"  written to {folder}: {', '.join(sorted(p.name for p in files.values()))}")


def _common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--road", default="auto", choices=ROAD_CHOICES, help="road model (default auto)")
    p.add_argument("--sites", type=Path, help="your own directory export (CSV/GeoJSON/GPKG)")
    p.add_argument(
        "--real-only", action="store_true", help="leave out the modelled sites (open data only)"
    )
    p.add_argument("--profiles-file", type=Path, help="a profiles TOML file of your own")
    p.add_argument("--layer", help="with --sites: the GeoPackage layer holding the sites")
    add_merge_options(p)
    p.add_argument("--out", type=output_folder, help="output folder (default outputs/<command>)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")


# ---------------------------------------------------------------------------------- whatif
def _cmd_whatif(args: argparse.Namespace) -> int:
    from ..planning.candidates import candidates_from_records, read_candidates_csv
    from ..planning.whatif import what_if

    communes, sites, profiles = _load_inputs(args)
    parts = []
    problems: list[str] = []
    if args.candidates:
        load = read_candidates_csv(args.candidates, communes)
        parts.append(load.candidates)
        problems += load.messages()
    records: list[dict[str, Any]] = []
    for c in args.commune or []:
        records.append(
            {
                "name": args.name or f"candidate in {c}",
                "network": args.network,
                "kind": args.kind,
                "commune": c,
            }
        )
    for lon, lat in args.point or []:
        records.append(
            {
                "name": args.name or f"candidate at {lon:.4f},{lat:.4f}",
                "network": args.network,
                "kind": args.kind,
                "lon": lon,
                "lat": lat,
            }
        )
    if records:
        if not args.network:
            raise ValidationError("--network is required with --commune or --point")
        load = candidates_from_records(records, communes, source="command line", id_prefix="A")
        if load.problems:
            raise load.problems[0]
        parts.append(load.candidates)
    for msg in problems:
        print(f"warning: skipped {msg}", file=sys.stderr)
    cands = pd.concat(parts, ignore_index=True) if parts else None
    models = _load_models(args.mode or ["road"], communes, road=args.road, date=args.date)
    result = what_if(
        models,
        sites,
        communes,
        cands,
        remove=args.remove or [],
        profiles=profiles,
        only_profiles=args.profile,
        thresholds_min=args.threshold,
        rank_by=args.rank_by,
        incremental=not args.full,
    )
    label = f" ({result.times_are.upper()} times)" if result.estimated else ""
    print(f"What-if{label}: {result.provenance}")
    cards = result.cards
    for _, r in cards.sort_values(["action", "rank", "profile", "mode"]).iterrows():
        verb = "adds" if r["action"] == "add" else "closing loses"
        amount = r["demand_newly_covered"] if r["action"] == "add" else r["demand_losing_cover"]
        overlap = (
            f", overlap {100 * r['overlap_share']:.0f}%" if pd.notna(r["overlap_share"]) else ""
        )
        print(
            f"  #{r['rank']:.0f} {r['candidate_name']} [{r['network']}] {r['profile']}/"
            f"{r['mode']} ≤{r['threshold_min']:g} min: {verb} {amount:,.0f} people; "
            f"P50 {r['p50_before_min']:.1f}→{r['p50_after_min']:.1f}, "
            f"P90 {r['p90_before_min']:.1f}→{r['p90_after_min']:.1f} min{overlap} "
            f"({r['times_are']})"
        )
    for note in result.notes:
        print(f"  note: {note}")
    print_files(result.export(_out_dir(args, "whatif"), overwrite=args.overwrite))
    return 0


# ---------------------------------------------------------------------------------- siting
def _cmd_siting(args: argparse.Namespace) -> int:
    from ..planning.siting import site_permanences

    communes, sites, profiles = _load_inputs(args)
    model = _load_models(["road"], communes, road=args.road, date=None)["road"]
    exact: bool | str = True if args.exact == "yes" else False if args.exact == "no" else "auto"
    res = site_permanences(
        model,
        sites,
        communes,
        network=args.network,
        k=args.k,
        threshold_min=args.threshold,
        profile=args.profile,
        hosts=args.hosts,
        profiles=profiles,
        exact=exact,
        solver=args.solver,
    )
    s = res.summary
    label = f" ({res.times_are.upper()} times)" if res.estimated else ""
    print(
        f"Siting {res.network} for {res.profile_key}, k={res.k}, {res.threshold_min:g} min"
        f"{label}: {res.provenance}"
    )
    for _, p in res.picks.iterrows():
        print(
            f"  {p['order']:>2}. {p['name']} ({p['host']}, {p['commune']}): "
            f"+{p['marginal_gain']:,.0f} (cumulative {p['cumulative_gain']:,.0f})"
        )
    print(
        f"  uncovered demand {s['demand_uncovered_before']:,.0f} → "
        f"{s['demand_uncovered_after']:,.0f}; exact: {s['exact_status']}"
        + (
            f", optimum {s['exact_objective']:,.0f}, greedy gap "
            + (f"{100 * s['greedy_gap']:.2f}%" if s["greedy_gap"] > 0 else "0%")
            if s["exact_status"] != "not run"
            else ""
        )
    )
    for note in res.notes:
        print(f"  note: {note}")
    print_files(res.export(_out_dir(args, "siting"), overwrite=args.overwrite))
    return 0


# ---------------------------------------------------------------------------------- caravane
def _parse_base(text: str) -> Any:
    parts = text.replace(";", ",").split(",")
    if len(parts) == 2:
        try:
            return (float(parts[0]), float(parts[1]))
        except ValueError:
            pass
    return text


def _caravane_calendar(args: argparse.Namespace) -> tuple[Any, Any]:
    """Stop points (collèges or town halls) and dated days of a caravane run.

    ``--at colleges`` takes the region's collèges (or those of ``--colleges FILE``) on the
    school days of ``--season`` (default January-March); ``--season`` alone dates a
    town-hall tour; ``--days N`` without a season gives N undated days.
    """
    from ..planning.season import (
        college_stop_points,
        parse_season,
        read_college_list,
        season_dates,
    )

    colleges = args.at == "colleges"
    if args.colleges is not None and not colleges:
        raise ValidationError("--colleges is a list of collèges: use it with --at colleges")
    if args.wednesdays and args.season is None and not colleges:
        raise ValidationError("--wednesdays counts school days: give --season or --at colleges")
    dates = None
    if args.season is not None or colleges:
        start, end = parse_season(args.season)
        dates = [d.isoformat() for d in season_dates(
            start, end, wednesdays=args.wednesdays, days=args.days
        )]  # fmt: skip
    elif args.days is None:
        raise ValidationError("give the number of days (--days N) or a season (--season A:B)")
    stop_points = None
    if colleges:
        uai = read_college_list(args.colleges) if args.colleges is not None else None
        stop_points = college_stop_points(uai, source=args.colleges)
    return stop_points, dates


def _cmd_caravane(args: argparse.Namespace) -> int:
    from ..planning.caravane import plan_caravane

    stop_points, dates = _caravane_calendar(args)
    communes, sites, profiles = _load_inputs(args)
    model = _load_models(["road"], communes, road=args.road, date=None)["road"]
    res = plan_caravane(
        model,
        sites,
        communes,
        base=_parse_base(args.base),
        days=len(dates) if dates is not None else args.days,
        stop_points=stop_points,
        dates=dates,
        stop_min=args.stop_min,
        max_drive_min=args.max_drive_min,
        profile=args.profile,
        reach_min=args.reach_min,
        underserved_min=args.underserved_min,
        day_start=args.start,
        max_day_min=args.max_day_min or None,
        max_stops_per_day=args.max_stops_per_day,
        max_visits=args.max_visits,
        stops=args.stops,
        profiles=profiles,
    )
    s = res.summary
    label = f" ({res.times_are.upper()} times)" if res.estimated else ""
    print(f"Caravane from {res.base['name']}{label}: {res.provenance}")
    for _, r in res.itinerary.iterrows():
        if r["kind"] == "stop":
            when = f"{r['date']} (day {r['day']})" if r.get("date") else f"day {r['day']}"
            print(
                f"  {when} stop {r['seq']}: {r['name']} ({r['insee']}) "
                f"{r['arrive']}–{r['depart']}, {r['target_reached']:,.0f} people reached"
                + (f" + {r['audience']:,.0f} pupils met" if r["audience"] else "")
            )
        elif r["kind"] == "return":
            print(f"  day {r['day']}: back at {r['arrive']}, {r['day_drive_min']:.0f} min driving")
    print(
        f"  {s['target_reached']:,.0f} of {s['target_total']:,.0f} under-served target people "
        f"reached ({100 * (s['share_reached'] or 0):.0f}%)"
        + (f"; {s['audience_met']:,.0f} pupils met at the stops" if s["audience_met"] else "")
    )
    for note in res.notes:
        print(f"  note: {note}")
    print_files(res.export(_out_dir(args, "caravane"), overwrite=args.overwrite))
    return 0


# ---------------------------------------------------------------------------------- register
def register(subparsers: Any) -> None:
    """Add ``whatif``, ``site-permanences`` and ``caravane`` to the ``spro-access`` CLI."""
    from ..planning.siting import HOSTS

    p = subparsers.add_parser(
        "whatif",
        help="labelling application: what a candidate site adds (or a closure loses)",
        description="Cards per candidate site (and per closed site): newly covered demand per "
        "profile and mode, time gains, P50/P90 before/after, overlap, communes changing status, "
        "rank. Candidates from a CSV (name, network, kind, lon/lat or insee/commune), "
        "--commune or --point.",
    )
    p.add_argument("--candidates", type=Path, help="CSV of candidate sites")
    p.add_argument("--commune", action="append", help="a candidate at this commune (repeatable)")
    p.add_argument(
        "--point",
        nargs=2,
        type=float,
        action="append",
        metavar=("LON", "LAT"),
        help="a candidate at this point (repeatable)",
    )
    p.add_argument("--network", help="network of the --commune/--point candidates")
    p.add_argument("--kind", default="permanence", help="kind of those candidates")
    p.add_argument("--name", help="name of those candidates")
    p.add_argument("--remove", action="append", help="site_id of a site to close (repeatable)")
    p.add_argument("--profile", action="append", help="restrict to these profiles (repeatable)")
    p.add_argument(
        "--mode",
        action="append",
        choices=("road", "transit", "best"),
        help="modes (repeatable; default road)",
    )
    p.add_argument("--threshold", type=positive_minutes, help="minutes (default: each profile's)")
    p.add_argument("--rank-by", help="profile whose newly covered demand ranks the candidates")
    p.add_argument("--full", action="store_true", help="full recompute instead of incremental")
    p.add_argument("--date", help="transit date (YYYY-MM-DD)")
    _common_options(p)
    p.set_defaults(func=_cmd_whatif)

    p = subparsers.add_parser(
        "site-permanences",
        help="permanence siting: where a network's next k permanences go (MCLP)",
    )
    p.add_argument("--network", required=True, help="network, e.g. 'Mission Locale'")
    p.add_argument("--k", type=int, required=True, help="number of new permanences")
    p.add_argument(
        "--threshold", type=positive_minutes, help="minutes (default: the profile's road one)"
    )
    p.add_argument("--profile", help="public to cover (default: the network's own)")
    p.add_argument(
        "--hosts",
        nargs="+",
        choices=HOSTS,
        default=list(HOSTS),
        help="candidate hosts (default: all)",
    )
    p.add_argument(
        "--exact",
        choices=("auto", "yes", "no"),
        default="auto",
        help="also solve exactly (integer program) to report the greedy's gap",
    )
    p.add_argument("--solver", choices=("highs", "cbc"), default="highs")
    _common_options(p)
    p.set_defaults(func=_cmd_siting)

    p = subparsers.add_parser(
        "caravane", help="caravane / orientation bus: stops, days and order from a base"
    )
    p.add_argument("--base", required=True, help="base commune (name, or insee:CODE) or 'lon,lat'")
    p.add_argument(
        "--days",
        type=int,
        help="number of days (with --season: the first N school days of it)",
    )
    p.add_argument(
        "--at",
        choices=("town-halls", "colleges"),
        default="town-halls",
        help="candidate stops: the town halls or the region's collèges (default town-halls)",
    )
    p.add_argument(
        "--season",
        help="season window START:END (ISO dates; school days only, zone A; default with "
        "--at colleges: January-March)",
    )
    p.add_argument(
        "--wednesdays", action="store_true", help="count Wednesdays as school days (half days)"
    )
    p.add_argument(
        "--colleges", type=Path, help="with --at colleges: only these collèges (CSV with 'uai')"
    )
    p.add_argument("--stop-min", type=float, default=90.0, help="stop duration (default 90)")
    p.add_argument(
        "--max-drive-min", type=float, default=240.0, help="maximum driving per day (default 240)"
    )
    p.add_argument("--profile", required=True, help="target public (profile key)")
    p.add_argument(
        "--reach-min",
        type=float,
        default=20.0,
        help="a stop reaches the communes within this time (default 20)",
    )
    p.add_argument(
        "--underserved-min",
        type=positive_minutes,
        help="under-served beyond this time (default: the profile's threshold)",
    )
    p.add_argument("--start", default="09:00", help="departure time (default 09:00)")
    p.add_argument(
        "--max-day-min",
        type=float,
        default=480.0,
        help="maximum day length, driving + stops (default 480; 0 for no limit)",
    )
    p.add_argument("--max-stops-per-day", type=int)
    p.add_argument(
        "--max-visits",
        type=int,
        default=1,
        help="times one stop (a collège) may be visited over the plan, on different days "
        "(default 1: each collège at most once a season)",
    )
    p.add_argument(
        "--stops",
        nargs="+",
        help="impose these stops (communes; with --at colleges, UAI codes) instead of choosing",
    )
    _common_options(p)
    p.set_defaults(func=_cmd_caravane)
