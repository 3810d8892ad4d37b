"""The output set of a coverage result: the same files from the command line and the app."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

from .. import settings
from .outputs import OutputSet, check_output_set

if TYPE_CHECKING:
    from ..coverage import CoverageResult

#: Groupings of the coverage summary table, in its order.
SUMMARY_GROUPINGS = ("region", "dep", "urban_class", "density", "frr", "epci")


def coverage_output_set(result: CoverageResult) -> OutputSet:
    """Return the output set of a :class:`~analysis.coverage.CoverageResult`.

    Tables ``communes``, ``clusters``, ``summary`` (every grouping), ``sites``; layers
    ``communes``, ``clusters``, ``sites`` of ``coverage.gpkg``; metadata with the profile,
    mode, threshold, models, labels and headline figures.
    """
    sites = result.sites
    if "geometry" not in sites or sites.geometry.isna().all():
        sites = gpd.GeoDataFrame(
            sites,
            geometry=gpd.points_from_xy(sites["lon"], sites["lat"]),
            crs=settings.geographic_crs,
        )
    clusters = result.clusters()
    summary = pd.concat([result.summary(by) for by in SUMMARY_GROUPINGS], ignore_index=True)
    times_are = result.times_are
    return OutputSet(
        kind="coverage",
        tables={
            "communes": result.communes,
            "clusters": clusters,
            "summary": summary,
            "sites": result.sites,
        },
        layers={"communes": result.communes, "clusters": clusters, "sites": sites},
        metadata={
            "profile": result.profile.key,
            "profile_label": result.profile.label,
            "mode": result.mode,
            "threshold_min": result.threshold_min,
            "model": result.model_label,
            "times_are": times_are,
            "demand_is": result.profile.demand_status,  # official, estimated or mixed
            "demand_source": result.profile.demand_source,
            "provenance": result.provenance,
            "headline": result.headline(),
        },
        provenance=result.provenance,
        times_are=times_are,
    )


def _skeleton() -> OutputSet:
    empty = pd.DataFrame()
    layer = gpd.GeoDataFrame(geometry=[])
    return OutputSet(
        kind="coverage",
        tables=dict.fromkeys(("communes", "clusters", "summary", "sites"), empty),
        layers=dict.fromkeys(("communes", "clusters", "sites"), layer),
        metadata={},
        provenance="",
        times_are="",
    )


def coverage_files(out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Return the files a coverage run writes in ``out_dir``, by key."""
    return _skeleton().files(out_dir)


def check_coverage_outputs(out_dir: str | os.PathLike[str], *, overwrite: bool) -> dict[str, Path]:
    """Check, before any work, that a coverage run may write in ``out_dir``.

    Raises
    ------
    ValidationError
        If ``out_dir`` is an existing file.
    OverwriteRefusedError
        If one of the files exists and ``overwrite`` is false.
    """
    return check_output_set(out_dir, _skeleton(), overwrite=overwrite)
