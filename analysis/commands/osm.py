"""``spro-access compare-models``: how far two road models are from each other.

Any two of the commune-adjacency network (``estimated``), the main roads (``mainroads``),
an OSM road model (``osm``: the prepared one, or one built from ``--osm FILE`` /
``--place NAME``) and the OSRM car times of Isère (``osrm``). Two road models answer the
same nearest-site question, compared commune by commune (median and P90 of the ratio
A / B); against ``osrm``, the model times the OSRM town-hall pairs.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from ..cli import add_merge_options, output_folder, sites_merge

logger = logging.getLogger(__name__)


#: What compare-models can compare.
COMPARABLE = ("estimated", "mainroads", "osm", "osrm")


def _road_model(name: str, communes: Any, *, osm_file: Any, place: Any, verbose: bool) -> Any:
    """Load one road model of :data:`COMPARABLE` (not ``osrm``)."""
    from ..errors import DataMissingError

    if name == "estimated":
        from ..estimated.network import load_or_build_estimated_network

        return load_or_build_estimated_network(communes)
    if name == "mainroads":
        from ..mainroads.model import load_or_build_mainroad_model

        return load_or_build_mainroad_model(communes)
    from ..osm import build_osm_graph, load_cached_osm_model, osm_road_model

    if osm_file is not None or place is not None:
        cached, _ = build_osm_graph(osm_file=osm_file, place=place, verbose=verbose)
        return osm_road_model(cached, communes)
    model = load_cached_osm_model(communes)
    if model is None:
        raise DataMissingError(
            "no OpenStreetMap road model has been prepared; pass --osm FILE.osm.pbf "
            "or --place NAME, or run `spro-access prepare --osm FILE` first"
        )
    return model


def run_compare_models(
    *,
    a: str = "estimated",
    b: str = "osm",
    osm_file: str | Path | None = None,
    place: str | None = None,
    profile: str | None = None,
    sites_file: str | Path | None = None,
    sites_layer: str | None = None,
    sites_merge: str = "auto",
    out_dir: str | Path | None = None,
    overwrite: bool = False,
    verbose: bool = False,
    communes: Any | None = None,
    sites: Any | None = None,
    estimated: Any | None = None,
    osm_model: Any | None = None,
) -> tuple[Any, dict[str, Path]]:
    """Compare two road models (or one with the OSRM times) and write the report.

    Parameters
    ----------
    a, b
        Two different names of :data:`COMPARABLE` (default: estimated against OSM).
    osm_file
        Build the OSM model from this extract (without making it the active model).
    place
        Or download it for this place.
    profile
        Restrict the sites to a profile's eligible ones (default: every site).
    sites_file
        A user's directory export replacing the bundled sites of its networks.
    sites_layer
        The GeoPackage layer of ``sites_file`` holding the sites.
    sites_merge
        How ``sites_file`` joins the bundled sites: ``auto``, ``replace`` or ``add``.
    out_dir
        Output folder (default ``outputs/compare_models``).
    overwrite
        Replace existing output files.
    verbose
        Show progress bars.
    communes, sites, estimated, osm_model
        Already loaded inputs (skip loading or building them).

    Returns
    -------
    comparison : analysis.osm.compare.ModelComparison or OsrmComparison
        Commune by commune (two road models), or pair by pair against OSRM.
    files : dict
        The written files.

    Raises
    ------
    analysis.errors.DataMissingError
        If no OSM model was prepared and none is given.
    """
    from .. import settings
    from ..errors import UnknownNameError, ValidationError
    from ..osm import compare_models

    for name in (a, b):
        if name not in COMPARABLE:
            raise UnknownNameError("model to compare", name, COMPARABLE)
    if a == b:
        raise ValidationError(f"compare two different models, not {a} with itself")
    if communes is None:
        from ..communes import load_communes

        communes = load_communes()
    out = Path(out_dir) if out_dir is not None else settings.output_dir / "compare_models"
    given = {"estimated": estimated, "osm": osm_model}

    def model(name: str) -> Any:
        if given.get(name) is not None:
            return given[name]
        return _road_model(name, communes, osm_file=osm_file, place=place, verbose=verbose)

    if "osrm" in (a, b):
        from ..mainroads.osrm_compare import compare_with_osrm

        other = model(b if a == "osrm" else a)
        result = compare_with_osrm(other)
        return result, result.write(out, overwrite=overwrite)
    model_a, model_b = model(a), model(b)
    if sites is None:
        from ..runs import load_sites

        sites = load_sites(sites_file, sites_layer=sites_layer, sites_merge=sites_merge)
    if profile is not None:
        from ..profiles import eligible_sites, get_profile

        sites = eligible_sites(get_profile(profile), sites)
    comparison = compare_models(model_a, model_b, sites, communes)
    files = comparison.write(out, overwrite=overwrite)
    return comparison, files


def _cmd_compare_models(args: argparse.Namespace) -> int:
    comparison, files = run_compare_models(
        a=args.a,
        b=args.b,
        osm_file=args.osm,
        place=args.place,
        profile=args.profile,
        sites_file=args.sites,
        sites_layer=args.layer,
        sites_merge=sites_merge(args),
        out_dir=args.out,
        overwrite=args.overwrite,
        verbose=not args.quiet,
    )
    print(comparison.to_text())
    print(f"written to {files['report_txt'].parent}")
    return 0


def register(subparsers: Any) -> None:
    """Add the ``compare-models`` subcommand.

    Parameters
    ----------
    subparsers
        The ``add_subparsers()`` object of the main parser.
    """
    p = subparsers.add_parser(
        "compare-models",
        help="compare two road models, or one with the OSRM car times (ratio quantiles)",
        description=(
            "Compare two of: the commune-adjacency network (estimated), the main roads "
            "(mainroads), an OpenStreetMap model (osm), the OSRM car times of Isère (osrm). "
            "Two road models: ratio A / B of the time to the nearest site on the communes "
            "both cover. Against osrm: the model's times between Isère's town halls."
        ),
    )
    p.add_argument("--a", choices=COMPARABLE, default="estimated", help="model A")
    p.add_argument("--b", choices=COMPARABLE, default="osm", help="model B")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--osm", type=Path, help="OSM extract (.osm.pbf or .osm) to compare with")
    src.add_argument("--place", help="place name to download OSM roads for (needs internet)")
    p.add_argument("--profile", help="only the sites eligible for this profile (default: all)")
    p.add_argument("--sites", type=Path, help="your own directory export (CSV/GeoJSON/GPKG)")
    p.add_argument("--layer", help="with --sites: the GeoPackage layer holding the sites")
    add_merge_options(p)
    p.add_argument(
        "--out", type=output_folder, help="output folder (default outputs/compare_models)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_compare_models)
