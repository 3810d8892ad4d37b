"""End-to-end runs used by the command line, the notebook and the benchmarks."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import geopandas as gpd

from . import settings
from .access import AccessModel, check_minutes
from .access import threshold_min as threshold_for
from .communes import load_communes
from .coverage import CoverageResult, compute_coverage
from .errors import EmptyProfileError, UnknownNameError, ValidationError
from .inputs import load_models, load_sites
from .io import out_folder_problem
from .models import MODES, ROAD_CHOICES
from .present.outputs import write_output_set
from .present.sets import check_coverage_outputs, coverage_output_set
from .profiles import Profile, get_profile, key_problem, load_profiles

logger = logging.getLogger(__name__)


def default_out_dir(
    profile_key: str,
    mode: str,
    threshold_min: float,
    *,
    include_modelled: bool = True,
    sites_file: str | Path | None = None,
    sites_layer: str | None = None,
    sites_merge: str = "auto",
) -> Path:
    """Return the default output folder of a coverage run.

    Runs on different inputs never share a folder: a real-only run ends in ``_real-only``
    and a run on a user's directory in ``_sites-<file name>``.

    Parameters
    ----------
    profile_key, mode, threshold_min
        What was asked.
    include_modelled
        Whether the modelled sites were kept.
    sites_file
        The user's directory file, if any.
    sites_layer
        The layer of that file read (GeoPackage), if one was named.
    sites_merge
        How that file joined the bundled sites (``add`` gets its own folder).

    Returns
    -------
    pathlib.Path
        ``outputs/<profile>_<mode>_<threshold>min[_real-only][_sites[-add]-<stem>[-<layer>]]``.
    """
    why = key_problem(profile_key)
    if why:
        raise ValidationError(
            f"the profile key {profile_key!r} cannot name an output folder ({why}): use "
            "letters, digits, '-' and '_' in the profiles file, or give the folder with --out"
        )
    name = f"{profile_key}_{mode}_{float(threshold_min):g}min"
    if not include_modelled:
        name += "_real-only"
    if sites_file is not None:
        stem = Path(sites_file).name.split(".")[0] or "user"
        if sites_layer is not None:  # two layers of one file never share a folder
            stem += f"-{sites_layer}"
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in stem)
        name += f"_sites-add-{safe}" if sites_merge == "add" else f"_sites-{safe}"
    return Path(settings.output_dir) / name


def run_coverage(
    profile: str | Profile,
    *,
    mode: str = "road",
    threshold_min: float | None = None,
    road: str = "auto",
    sites_file: str | Path | None = None,
    sites_layer: str | None = None,
    sites_merge: str = "auto",
    include_modelled: bool = True,
    out_dir: str | Path | None = None,
    overwrite: bool = False,
    transit_date: str | None = None,
    verbose: bool = False,
    communes: gpd.GeoDataFrame | None = None,
    sites: gpd.GeoDataFrame | None = None,
    model: AccessModel | None = None,
) -> tuple[CoverageResult, dict[str, Path]]:
    """Compute one profile's coverage and write it to files.

    Parameters
    ----------
    profile
        Profile key (see ``spro-access profiles``) or a :class:`~analysis.profiles.Profile`.
    mode
        ``road``, ``transit`` or ``best``.
    threshold_min
        Minutes; default the profile's threshold for the mode.
    road
        ``auto``, ``estimated`` or ``osm``.
    sites_file
        A user's directory export replacing the bundled sites of the networks it covers.
    sites_layer
        The GeoPackage layer of ``sites_file`` holding the sites (``--layer``).
    sites_merge
        How ``sites_file`` joins the bundled sites: ``auto``, ``replace`` or ``add``.
    include_modelled
        Keep the ``modelled`` sites (default); ``False`` for real sites only.
    out_dir
        Output folder (default ``outputs/<profile>_<mode>_<threshold>``).
    overwrite
        Replace existing output files.
    transit_date
        Date for transit, inside the feed's calendar.
    verbose
        Show progress.
    communes, sites, model
        Already loaded inputs (skip loading them again).

    Returns
    -------
    result : CoverageResult
    files : dict of str to pathlib.Path
    """
    # Check the cheap arguments before loading anything.
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    mode = model.mode if model is not None else mode
    if mode not in MODES:
        raise UnknownNameError("mode", mode, MODES)
    if road not in ROAD_CHOICES:
        raise UnknownNameError("road model", road, ROAD_CHOICES)
    if threshold_min is not None:
        threshold_min = check_minutes(threshold_min)
    if out_dir is None and (threshold_min is not None or mode in prof.thresholds_min):
        out_dir = default_out_dir(
            prof.key,
            mode,
            threshold_for(prof, mode, threshold_min),
            include_modelled=include_modelled,
            sites_file=sites_file,
            sites_layer=sites_layer,
            sites_merge=sites_merge,
        )
    if out_dir is not None:  # refuse to overwrite before the work, not after it
        why = out_folder_problem(str(out_dir))
        if why:
            raise ValidationError(why)
        check_coverage_outputs(out_dir, overwrite=overwrite)
    communes = load_communes() if communes is None else communes
    if sites is None:
        sites = load_sites(
            sites_file, include_modelled=include_modelled, sites_layer=sites_layer,
            sites_merge=sites_merge,
        )  # fmt: skip
    if model is None:
        transit_options: dict[str, Any] = {"verbose": verbose}
        if transit_date is not None:
            transit_options["date"] = transit_date
        model = load_models([mode], communes, road=road, transit_options=transit_options)[mode]
    result = compute_coverage(model, sites, communes, prof, threshold_min=threshold_min)
    if out_dir is None:
        out_dir = default_out_dir(
            prof.key,
            mode,
            result.threshold_min,
            include_modelled=include_modelled,
            sites_file=sites_file,
            sites_layer=sites_layer,
            sites_merge=sites_merge,
        )
    files = write_output_set(out_dir, coverage_output_set(result), overwrite=overwrite)
    return result, files


def all_profiles(
    model: AccessModel,
    sites: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame,
    *,
    profiles: dict[str, Profile] | None = None,
    skip_empty: bool = True,
) -> dict[str, CoverageResult]:
    """Coverage of every profile on one model (one pass each), sharing the adjacency.

    Parameters
    ----------
    model
        The access model.
    sites
        Site directory.
    communes
        Communes.
    profiles
        Profiles (default: the bundled profiles file).
    skip_empty
        Leave out (with a warning) profiles that have no eligible site, instead of raising.

    Returns
    -------
    dict of str to CoverageResult
        Keyed by profile; profiles without an eligible site are absent when skipped.
    """
    profiles = load_profiles() if profiles is None else profiles
    out: dict[str, CoverageResult] = {}
    adjacency = None
    for key, prof in profiles.items():
        try:
            res = compute_coverage(model, sites, communes, prof, adjacency=adjacency)
        except EmptyProfileError as exc:
            if not skip_empty:
                raise
            logger.warning("%s", exc)
            continue
        adjacency = res._adjacency
        out[key] = res
    return out
