"""``label-reports``: a labelling call's applications ranked, with one printable report each.

``spro-access label-reports --candidates call.csv --out DIR [--real-only] [--profiles-file F]
[--pdf]`` writes ``ranking.csv`` (the ranked table), ``cards.csv``, ``index.html`` (the table,
each row linking its report), ``report_<id>.html`` (and ``.pdf`` with ``--pdf``) per
application, ``label_reports.gpkg`` and ``metadata.json``, as one output set. A bad row of
the CSV stops the run with the one-line message naming the file, the row and the fix.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..cli import positive_minutes
from ..errors import ValidationError
from . import planning as planning_cmd


def _cmd_label_reports(args: argparse.Namespace) -> int:
    from ..planning.labelling import check_out_dir, evaluate_call, read_call_csv
    from ..present.reports import pdf_unavailable

    out = planning_cmd._out_dir(args, "label_reports")
    check_out_dir(out, overwrite=args.overwrite)  # before any work
    if args.pdf and pdf_unavailable():
        raise ValidationError(f"--pdf: {pdf_unavailable()}")
    communes, sites, profiles = planning_cmd._load_inputs(args)
    cands = read_call_csv(args.candidates, communes)
    models = planning_cmd._load_models(args.mode or ["road"], communes, road=args.road, date=None)
    call = evaluate_call(
        models,
        sites,
        communes,
        cands,
        profiles=profiles,
        thresholds_min=args.threshold,
        only_profiles=args.profile,
    )
    label = f" ({call.times_are.upper()} times)" if call.times_are != "measured" else ""
    print(f"Labelling call, {len(call.applications)} application(s){label}: {call.provenance}")
    two = call.open_data is not None
    for _, r in call.ranking.iterrows():
        extra = (
            f" ({r['demand_newly_covered_open_data_only']:,.0f} with the open-data sites only)"
            if two
            else ""
        )
        print(
            f"  #{r['rank']} {r['name']} [{r['network']}, {r['commune']}]: "
            f"{r['demand_newly_covered']:,.0f} people newly covered{extra} → {r['report']}"
        )
    for note in call.notes:
        print(f"  note: {note}")
    planning_cmd.print_files(call.export(out, overwrite=args.overwrite, pdf=args.pdf))
    return 0


def register(subparsers: Any) -> None:
    """Add ``label-reports`` to the ``spro-access`` CLI."""
    p = subparsers.add_parser(
        "label-reports",
        help="labelling call: rank the applications of a CSV, one printable report each",
        description="Evaluate every application (candidate site) of a call with the what-if, "
        "rank them by the demand newly covered, and write the ranked table (CSV + an HTML "
        "index) and one one-page report per application (HTML; PDF with --pdf). Candidates: "
        "name, network, kind, lon/lat or insee/commune.",
    )
    p.add_argument(
        "--candidates", type=Path, required=True, help="CSV of the applications (candidate sites)"
    )
    p.add_argument("--pdf", action="store_true", help="also write each report as PDF")
    p.add_argument("--profile", action="append", help="restrict to these profiles (repeatable)")
    p.add_argument(
        "--mode",
        action="append",
        choices=("road", "transit", "best"),
        help="modes (repeatable; default road; the first ranks)",
    )
    p.add_argument("--threshold", type=positive_minutes, help="minutes (default: each profile's)")
    planning_cmd._common_options(p)
    p.set_defaults(func=_cmd_label_reports)
