"""The ``spro-access`` command line: ``prepare``, ``coverage``, ``app`` and more.

Feature modules add their own subcommands: every module in :mod:`analysis.commands`
defines ``register(subparsers)``. User mistakes print a one-line error (exit code 2), never
a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import math
import pkgutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from . import settings
from .errors import EmptyProfileError, SproError, UnknownNameError, ValidationError
from .io import out_folder_problem
from .models import MODES, ROAD_CHOICES

logger = logging.getLogger(__name__)


def _cmd_prepare(args: argparse.Namespace) -> int:
    from . import settings
    from .prepare import prepare

    previous = settings.travelmapping_source
    if args.travelmapping is not None:
        from .errors import DataMissingError

        if not args.travelmapping.exists():
            raise DataMissingError(
                f"{args.travelmapping}: no such file or folder; give the Travel Mapping "
                "hwy_data tarball or an unpacked hwy_data folder"
            )
        settings.travelmapping_source = args.travelmapping.resolve()
    try:
        report = prepare(
            osm_file=args.osm,
            place=args.place,
            transit=args.transit,
            transit_date=args.date,
            walk=args.walk,
            refresh=args.refresh,
            verbose=not args.quiet,
            osm_reader=args.osm_reader,
        )
    finally:  # for this run only: SPRO_TRAVELMAPPING makes it last
        settings.travelmapping_source = previous
    for line in report:
        print(line)
    return 0


def _cmd_coverage(args: argparse.Namespace) -> int:
    from .inputs import load_inputs
    from .profiles import load_profiles
    from .runs import run_coverage

    known = load_profiles(args.profiles_file)
    profiles = list(dict.fromkeys(args.profile))
    if "all" in profiles:
        profiles = list(known)
    for key in profiles:  # checked before loading anything
        if key not in known:
            raise UnknownNameError("profile", key, [*known, "all"])

    options: dict[str, object] = {"verbose": not args.quiet}
    if args.date is not None:
        options["date"] = args.date
    if getattr(args, "feed_date", None):
        from .transit.service_days import parse_feed_dates

        options["feed_dates"] = parse_feed_dates(args.feed_date)
    if args.gtfs:
        from .transit.timetable import default_gtfs_paths

        options["gtfs_paths"] = [*default_gtfs_paths(), *args.gtfs]
    inputs = load_inputs(
        modes=[args.mode],
        road=args.road,
        sites_file=args.sites,
        sites_layer=args.layer,
        sites_merge=sites_merge(args),
        include_modelled=not args.real_only,
        profiles_file=args.profiles_file,
        transit_options=options,
    )
    communes, sites, model = inputs.communes, inputs.sites, inputs.model
    for key in profiles:
        out = args.out
        if out is not None and len(profiles) > 1:
            out = out / key
        try:
            result, files = run_coverage(
                known[key],
                threshold_min=args.threshold,
                include_modelled=not args.real_only,
                sites_file=args.sites,
                sites_layer=args.layer,
                sites_merge=sites_merge(args),
                out_dir=out,
                overwrite=args.overwrite,
                communes=communes,
                sites=sites,
                model=model,
            )
        except EmptyProfileError as exc:
            if "all" not in args.profile:
                raise
            print(f"{key}: skipped — {exc}")
            continue
        h = result.headline()
        label = f"{result.times_are.upper()} " if result.estimated else ""
        open_only = (
            f" [open-data sites only: {100 * h['share_beyond_open_data_only']:.1f}%, "
            f"{h['demand_beyond_open_data_only']:,.0f} people; the first figure counts "
            f"{result.modelled_sites} modelled sites]"
            if result.rests_on_modelled
            else ""
        )
        print(
            f"{result.profile.key} / {result.mode} / {result.threshold_min:g} min: "
            f"{100 * h['share_beyond']:.1f}% of demand ({h['demand_beyond']:,.0f} people) "
            f"beyond{open_only}; "
            f"{label}P50 {_minutes(h['p50_min'])}, P90 {_minutes(h['p90_min'])}; "
            f"{len(result.clusters())} under-served clusters"
        )
        print(f"  {result.provenance}")
        print(f"  written to {files['metadata'].parent}")
    return 0


def _minutes(value: float) -> str:
    return f"{value:.1f} min" if math.isfinite(value) else "no time (unreachable or no service)"


def _cmd_profiles(args: argparse.Namespace) -> int:
    from .profiles import load_profiles

    for p in load_profiles(args.profiles_file).values():
        thr = ", ".join(f"{m} {v:g} min" for m, v in p.thresholds_min.items())
        print(f"{p.key:<22} {p.label} — networks: {', '.join(p.networks)}; thresholds: {thr}")
    return 0


def _cmd_app(args: argparse.Namespace) -> int:
    import subprocess

    app = settings.project_dir / "app" / "Home.py"
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(args.port)]
    cmd += ["--server.maxUploadSize", str(settings.max_upload_mb)]
    if args.headless:
        cmd += ["--server.headless", "true"]
    return subprocess.call(cmd)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (what is wrong, where to read more)."""

    def error(self, message: str) -> NoReturn:
        """Print ``<prog>: error: <message>`` and a pointer to ``--help``; exit with code 2."""
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def positive_minutes(text: str) -> float:
    """Parse a threshold in minutes: a finite number above 0 (an ``argparse`` type).

    The rule is :func:`analysis.access.check_minutes`; this only turns its error into
    argparse's one-line message.
    """
    from .access import check_minutes

    try:
        return check_minutes(text)
    except ValidationError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a positive number of minutes (e.g. 30)"
        ) from None


def port_number(text: str) -> int:
    """Parse a TCP port (1-65535) for ``app --port`` (an ``argparse`` type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (e.g. 8501)") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number: use 1 to 65535")
    return value


def add_merge_options(p: argparse.ArgumentParser) -> None:
    """Add ``--replace`` / ``--add``: how a ``--sites`` file joins the bundled sites."""
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--replace",
        action="store_true",
        help="with --sites: your file replaces the bundled sites of its networks, even when "
        "it has far fewer (by default more than half a network dropped is refused)",
    )
    g.add_argument(
        "--add",
        action="store_true",
        help="with --sites: add your sites to the bundled ones instead of replacing them",
    )


def sites_merge(args: argparse.Namespace) -> str:
    """Return the merge mode ``--replace`` / ``--add`` ask for (``auto`` otherwise).

    Raises
    ------
    ValidationError
        If ``--replace`` or ``--add`` is given without ``--sites``.
    """
    how = "replace" if getattr(args, "replace", False) else "auto"
    how = "add" if getattr(args, "add", False) else how
    if how != "auto" and getattr(args, "sites", None) is None:
        raise ValidationError(
            f"--{how} says how a --sites file joins the bundled sites: give --sites"
        )
    return how


def output_folder(text: str) -> Path:
    """Parse an ``--out`` folder (an ``argparse`` type): :func:`analysis.io.out_folder_problem`."""
    why = out_folder_problem(text)
    if why:
        raise argparse.ArgumentTypeError(why)
    return Path(text)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser, with the subcommands of every feature module."""
    parser = _Parser(
        prog="spro-access",
        description="Travel time to the SPRO career-guidance sites of Auvergne-Rhône-Alpes.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("prepare", help="build the derived data (directory, road model, transit)")
    p.add_argument("--osm", type=Path, help="OpenStreetMap extract (.osm.pbf or .osm) to use")
    p.add_argument("--place", help="place name to download OSM roads for (needs internet)")
    p.add_argument("--walk", action="store_true", help="with --osm/--place: also the walk network")
    p.add_argument(
        "--osm-reader",
        choices=("stream", "osmnx", "pyrosm"),
        default=None,
        help="reader of a .osm.pbf: stream (default, pyosmium into arrays: a regional extract "
        "fits a laptop) or osmnx/pyrosm (the reference path, ~6x the memory); default "
        "$SPRO_OSM_READER, else stream",
    )
    p.add_argument(
        "--refresh", action="store_true", help="rebuild the OSM graph, ignoring its cache"
    )
    p.add_argument("--transit", action="store_true", help="also compile the TER timetable")
    p.add_argument("--date", help="transit date (YYYY-MM-DD) inside the feed's calendar")
    p.add_argument(
        "--travelmapping",
        type=Path,
        help="Travel Mapping hwy_data tarball or folder for the main-road model "
        "(default: the mirror's; set SPRO_TRAVELMAPPING to keep using another)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_prepare)

    p = sub.add_parser("coverage", help="coverage of one or more profiles, written to files")
    p.add_argument("--profile", nargs="+", required=True, help="profile key(s), or 'all'")
    p.add_argument(
        "--mode", default="road", choices=MODES, help="road, transit or best (default road)"
    )
    p.add_argument("--threshold", type=positive_minutes, help="minutes (default: the profile's)")
    p.add_argument(
        "--road",
        default="auto",
        choices=ROAD_CHOICES,
        help="auto (OSM if prepared, else main roads, else estimated), mainroads, estimated or osm",
    )
    p.add_argument("--sites", type=Path, help="your own directory export (CSV/GeoJSON/GPKG)")
    p.add_argument("--layer", help="with --sites: the GeoPackage layer holding the sites")
    add_merge_options(p)
    p.add_argument(
        "--real-only", action="store_true", help="leave out the modelled sites (open data only)"
    )
    p.add_argument("--profiles-file", type=Path, help="a profiles TOML file of your own")
    p.add_argument("--date", help="transit date (YYYY-MM-DD) for every feed")
    p.add_argument(
        "--feed-date",
        nargs="+",
        metavar="FEED=YYYY-MM-DD",
        help="a feed's own service day (default: each feed's school-term day, same weekday)",
    )
    p.add_argument(
        "--gtfs",
        type=Path,
        nargs="+",
        help="more GTFS feeds (zip or folder: urban networks, coaches) combined with the TER feed",
    )
    p.add_argument(
        "--out", type=output_folder, help="output folder (default outputs/<profile>_<mode>)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_coverage)

    p = sub.add_parser("profiles", help="list the profiles")
    p.add_argument("--profiles-file", type=Path, help="a profiles TOML file of your own")
    p.set_defaults(func=_cmd_profiles)

    p = sub.add_parser("app", help="start the Streamlit app")
    p.add_argument("--port", type=port_number, default=8501, help="1-65535 (default 8501)")
    p.add_argument("--headless", action="store_true", help="do not open a browser")
    p.set_defaults(func=_cmd_app)

    from . import commands

    for mod in pkgutil.iter_modules(commands.__path__):
        module = importlib.import_module(f"{commands.__name__}.{mod.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a bad argument (one line printed already)
        return exc.code if isinstance(exc.code, int) else 2
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    else:
        _show_warnings()
    try:
        return int(args.func(args) or 0)
    except SproError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # a path the user gave is a folder, unreadable, on a full disk...
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "interrupted; outputs already written are complete, nothing was half-written",
            file=sys.stderr,
        )
        return 130


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Print the library's warnings on the *current* ``sys.stderr`` as ``warning: ...``."""

    def __init__(self) -> None:
        super().__init__()
        self.setLevel(logging.WARNING)
        self.setFormatter(logging.Formatter("warning: %(message)s"))

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def _show_warnings() -> None:
    """Show the library's warnings (rows left out of a file, sites off the network...).

    The package logger only has a ``NullHandler``, so without this the command line would
    drop rows of a user's file without saying so.
    """
    pkg = logging.getLogger("analysis")
    if not any(isinstance(h, _StderrHandler) for h in pkg.handlers):
        pkg.addHandler(_StderrHandler())


def _one_line(exc: BaseException) -> str:
    """Return the exception's message on one line (line breaks folded)."""
    text = str(exc) or type(exc).__name__
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
