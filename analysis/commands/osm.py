"""``spro-access compare-models``: how far the estimated network is from real roads.

Runs the same nearest-site question on the estimated network and on an OSM road model
(the prepared one, or one built from ``--osm FILE`` / ``--place NAME``) and reports, for
the communes both cover, the median and P90 of the time ratio estimated / OSM.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from ..cli import output_folder

logger = logging.getLogger(__name__)


def run_compare_models(
    *,
    osm_file: str | Path | None = None,
    place: str | None = None,
    profile: str | None = None,
    sites_file: str | Path | None = None,
    sites_layer: str | None = None,
    out_dir: str | Path | None = None,
    overwrite: bool = False,
    verbose: bool = False,
    communes: Any | None = None,
    sites: Any | None = None,
    estimated: Any | None = None,
    osm_model: Any | None = None,
) -> tuple[Any, dict[str, Path]]:
    """Compare the estimated network with an OSM road model and write the report.

    Parameters
    ----------
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
    comparison : analysis.osm.compare.ModelComparison
        Model A is the estimated network, model B the OSM one.
    files : dict
        The written files.

    Raises
    ------
    analysis.errors.DataMissingError
        If no OSM model was prepared and none is given.
    """
    from .. import settings
    from ..errors import DataMissingError
    from ..osm import build_osm_graph, compare_models, load_cached_osm_model, osm_road_model

    if communes is None:
        from ..communes import load_communes

        communes = load_communes()
    if osm_model is None:
        if osm_file is not None or place is not None:
            cached, _ = build_osm_graph(osm_file=osm_file, place=place, verbose=verbose)
            osm_model = osm_road_model(cached, communes)
        else:
            osm_model = load_cached_osm_model(communes)
            if osm_model is None:
                raise DataMissingError(
                    "no OpenStreetMap road model has been prepared; pass --osm FILE.osm.pbf "
                    "or --place NAME, or run `spro-access prepare --osm FILE` first"
                )
    if estimated is None:
        from ..estimated_network import load_or_build_estimated_network

        estimated = load_or_build_estimated_network(communes)
    if sites is None:
        from ..runs import load_sites

        sites = load_sites(sites_file, sites_layer=sites_layer)
    if profile is not None:
        from ..profiles import eligible_sites, get_profile

        sites = eligible_sites(get_profile(profile), sites)
    comparison = compare_models(estimated, osm_model, sites, communes)
    out = Path(out_dir) if out_dir is not None else settings.output_dir / "compare_models"
    files = comparison.write(out, overwrite=overwrite)
    return comparison, files


def _cmd_compare_models(args: argparse.Namespace) -> int:
    comparison, files = run_compare_models(
        osm_file=args.osm,
        place=args.place,
        profile=args.profile,
        sites_file=args.sites,
        sites_layer=args.layer,
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
        help="estimated vs OpenStreetMap travel times (median and P90 of the ratio)",
        description=(
            "Compare the estimated road network with an OpenStreetMap road model on the "
            "communes both cover: ratio estimated / OSM of the time to the nearest site."
        ),
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--osm", type=Path, help="OSM extract (.osm.pbf or .osm) to compare with")
    src.add_argument("--place", help="place name to download OSM roads for (needs internet)")
    p.add_argument("--profile", help="only the sites eligible for this profile (default: all)")
    p.add_argument("--sites", type=Path, help="your own directory export (CSV/GeoJSON/GPKG)")
    p.add_argument("--layer", help="with --sites: the GeoPackage layer holding the sites")
    p.add_argument(
        "--out", type=output_folder, help="output folder (default outputs/compare_models)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_compare_models)
