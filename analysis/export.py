"""Write a coverage result to GeoPackage and CSV, every file saying what is estimated."""

from __future__ import annotations

import logging
from pathlib import Path

from . import __version__
from .coverage import CoverageResult
from .errors import ValidationError
from .io import check_can_write, write_csv, write_gpkg, write_json

logger = logging.getLogger(__name__)


def coverage_outputs(out_dir: Path) -> dict[str, Path]:
    """Return the files :func:`export_coverage` writes in ``out_dir``."""
    return {
        "communes_gpkg": out_dir / "communes.gpkg",
        "communes_csv": out_dir / "communes.csv",
        "clusters_gpkg": out_dir / "clusters.gpkg",
        "clusters_csv": out_dir / "clusters.csv",
        "summary_csv": out_dir / "summary.csv",
        "sites_csv": out_dir / "sites.csv",
        "metadata": out_dir / "metadata.json",
    }


def check_coverage_outputs(out_dir: str | Path, *, overwrite: bool) -> dict[str, Path]:
    """Check that :func:`export_coverage` may write in ``out_dir``, before any work.

    Parameters
    ----------
    out_dir
        The output folder (need not exist yet).
    overwrite
        Whether files already there may be replaced.

    Returns
    -------
    dict of str to pathlib.Path
        The files that will be written.

    Raises
    ------
    ValidationError
        If ``out_dir`` is an existing file.
    OverwriteRefusedError
        If one of the files exists and ``overwrite`` is false.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValidationError(f"{out} is a file, not a folder; give an output folder with --out")
    files = coverage_outputs(out)
    for p in files.values():
        check_can_write(p, overwrite=overwrite)
    return files


def export_coverage(
    result: CoverageResult, out_dir: str | Path, *, overwrite: bool = False
) -> dict[str, Path]:
    """Write communes, clusters, summaries, sites and metadata of a coverage result.

    Parameters
    ----------
    result
        The coverage result.
    out_dir
        Output folder (created if needed).
    overwrite
        Replace files already there; otherwise refuse before writing anything.

    Returns
    -------
    dict of str to pathlib.Path
        The files written.
    """
    out = Path(out_dir)
    files = check_coverage_outputs(out, overwrite=overwrite)  # up front: nothing half-written
    out.mkdir(parents=True, exist_ok=True)
    communes = result.communes.copy()
    communes["provenance"] = result.provenance
    write_gpkg(communes, files["communes_gpkg"], layer="coverage", overwrite=True)
    write_csv(communes, files["communes_csv"], overwrite=True)
    clusters = result.clusters()
    write_gpkg(clusters, files["clusters_gpkg"], layer="clusters", overwrite=True)
    write_csv(clusters, files["clusters_csv"], overwrite=True)
    import pandas as pd

    summary = pd.concat(
        [result.summary(by) for by in ("region", "dep", "urban_class", "epci")], ignore_index=True
    )
    summary["provenance"] = result.provenance
    write_csv(summary, files["summary_csv"], overwrite=True)
    write_csv(result.sites, files["sites_csv"], overwrite=True)
    write_json(
        {
            "tool": f"spro-access {__version__}",
            "profile": result.profile.key,
            "profile_label": result.profile.label,
            "mode": result.mode,
            "threshold_min": result.threshold_min,
            "model": result.model_label,
            "times_are": "estimated" if result.estimated else "measured",
            "demand_is": "estimated" if result.profile.estimated else "official",
            "demand_source": result.profile.demand_source,
            "provenance": result.provenance,
            "headline": result.headline(),
        },
        files["metadata"],
    )
    logger.info("coverage written to %s", out)
    return files
