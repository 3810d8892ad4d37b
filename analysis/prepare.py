"""``spro-access prepare``: build every derived artefact the app and the analyses read.

Each step writes atomically with a checksum, so an interrupted ``prepare`` leaves the
previous good state usable, and a corrupt artefact is detected and rebuilt.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import geopandas as gpd
from tqdm import tqdm

logger = logging.getLogger(__name__)


def prepare(
    *,
    osm_file: Path | None = None,
    place: str | None = None,
    transit: bool = False,
    transit_date: str | None = None,
    walk: bool = False,
    refresh: bool = False,
    verbose: bool = True,
    osm_reader: str | None = None,
) -> list[str]:
    """Load and validate the inputs, and build the road (and transit) models.

    Parameters
    ----------
    osm_file
        An OpenStreetMap extract to build the OSM road model from.
    place
        A place name to download OSM roads for (needs internet).
    transit
        Also compile the TER timetable.
    transit_date
        Transit date (YYYY-MM-DD).
    walk
        Also build the OSM walk network (walking times), with ``osm_file`` or ``place``.
    refresh
        Rebuild the OSM graph even if a valid cache exists.
    verbose
        Show progress bars.
    osm_reader
        Reader of a ``.osm.pbf`` file: ``"stream"`` or ``"osmnx"`` (see
        :func:`analysis.osm.model.resolve_reader`; default ``$SPRO_OSM_READER``, else stream).

    Returns
    -------
    list of str
        One line per step, with what it built and how long it took.
    """
    from .communes import load_communes
    from .estimated.network import load_or_build_estimated_network
    from .mainroads.model import mainroads_available
    from .runs import load_sites

    steps = ["communes", "commune contiguity", "site directory", "estimated road network"]
    if mainroads_available():
        steps.append("main-road network")
    if osm_file is not None or place is not None:
        steps.append("OSM road network")
    if transit:
        steps.append("transit timetable")
    report: list[str] = []
    stale = _remove_stale_temp_files()
    if stale:
        report.append(f"removed {stale} temporary file(s) left by an interrupted run")
    bar = tqdm(steps, desc="prepare", disable=not verbose, unit="step")
    communes: gpd.GeoDataFrame | None = None  # the first step loads them
    for step in bar:
        bar.set_postfix_str(step)
        t0 = time.perf_counter()
        if step == "communes":
            communes = load_communes()
            what = f"{len(communes):,} communes, {int(communes['pop_mun'].sum()):,} inhabitants"
        elif step == "commune contiguity":
            from .adjacency import commune_adjacency

            i, _ = commune_adjacency(communes)
            what = f"{len(i):,} neighbouring pairs"
        elif step == "site directory":
            sites = load_sites()
            n_mod = int((sites["provenance"] == "modelled").sum())
            what = f"{len(sites):,} sites ({len(sites) - n_mod:,} real, {n_mod:,} modelled)"
        elif step == "estimated road network":
            model = load_or_build_estimated_network(communes)
            what = f"{model.graph.n_nodes:,} nodes, {model.graph.n_edges:,} edges"
        elif step == "main-road network":
            from .mainroads.model import load_or_build_mainroad_model

            model = load_or_build_mainroad_model(communes)
            rep = model.graph.meta["network"]
            what = (
                f"{model.graph.n_nodes:,} nodes, {model.graph.n_edges:,} edges, "
                f"{rep.get('exits_joined', 0)} motorway exits joined, "
                f"{rep.get('pieces_dropped', 0)} small pieces dropped; "
                f"{len(rep.get('skipped_files', []))} file problem(s) reported"
            )
        elif step == "OSM road network":
            from .osm import prepare_osm_model

            model = prepare_osm_model(
                osm_file=osm_file,
                place=place,
                communes=communes,
                verbose=verbose,
                walk=walk,
                refresh=refresh,
                reader=osm_reader,
            )
            what = f"{model.label}: {model.graph.n_nodes:,} nodes, {model.graph.n_edges:,} edges"
        else:
            from .transit import build_transit_model

            assert communes is not None
            tm = build_transit_model(communes, verbose=verbose, date=transit_date)
            what = tm.label
        report.append(f"{step}: {what} ({time.perf_counter() - t0:.1f} s)")
    return report


def _remove_stale_temp_files() -> int:
    """Delete temporary files a killed run left in the processed-data folders.

    Writes go to a temporary file renamed into place (:func:`analysis.io.atomic_path`); a
    run killed mid-write leaves that file behind. It is never read (artefacts are found by
    their exact name), only wasted space. Files younger than an hour are kept: another
    ``prepare`` may be writing them.
    """
    from . import settings
    from .io import stale_temp_files

    root = Path(settings.processed_data_dir)
    folders = [root, *(d for d in root.glob("*") if d.is_dir())] if root.is_dir() else []
    n = 0
    for folder in folders:
        for f in stale_temp_files(folder):
            try:
                f.unlink()
                n += 1
            except OSError as exc:  # pragma: no cover - e.g. a read-only checkout
                logger.info("could not remove %s (%s)", f, exc)
    if n:
        logger.info("removed %d stale temporary file(s) from %s", n, root)
    return n
