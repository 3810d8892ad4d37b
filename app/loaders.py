"""Cached loaders shared by the app's pages (the only place the app touches data).

Heavy, read-only objects (communes, sites, models, coverage results, web geometries) are
cached with ``st.cache_resource``: every rerun gets the same object, without a copy, so
callers must not modify them. Small tables use ``st.cache_data``.
"""

from __future__ import annotations

import importlib.util
import socket
import threading
from typing import Any

import streamlit as st

from analysis import communes as _communes
from analysis import present as _present
from analysis import profiles as _profiles
from analysis import settings as _settings
from analysis.sites import directory as _directory

#: Modes the app offers (walking needs a prepared OSM walk network: command line only).
APP_MODES = ("road", "transit", "best")


@st.cache_resource(show_spinner="Loading communes…")
def load_communes():
    """Communes of the region (GeoDataFrame, EPSG:4326). Do not modify."""
    return _communes.load_communes()


@st.cache_resource(show_spinner="Loading the site directory…")
def load_sites(include_modelled: bool = True):
    """Bundled site directory (real + modelled, or real only). Do not modify."""
    from analysis.inputs import load_sites as _load_sites

    return _load_sites(include_modelled=include_modelled)


@st.cache_data
def quality_table(include_modelled: bool = True):
    """Data-quality flags over the site directory: code, meaning, number of sites."""
    import pandas as pd

    from analysis.sites.quality import FLAGS, flag_counts

    counts = flag_counts(load_sites(include_modelled))
    return pd.DataFrame(
        {
            "flag": counts.index,
            "meaning": [FLAGS.get(code, "") for code in counts.index],
            "sites": counts.to_numpy(),
        }
    )


@st.cache_resource(show_spinner="Loading the France Services sites…")
def load_france_services():
    """France Services sites (candidate hosts for permanences, not SPRO sites)."""
    return _directory.load_france_services()


@st.cache_resource(show_spinner="Loading the collèges…")
def load_college_stops():
    """The region's collèges as caravane stops (:func:`analysis.planning.season`)."""
    from analysis.planning.season import college_stop_points

    return college_stop_points()


@st.cache_data
def load_profiles():
    """Profiles from the default profiles file (key → Profile)."""
    return _profiles.load_profiles()


@st.cache_resource(show_spinner="Loading the road network…")
def load_road_model(road: str = "auto"):
    """Return the road model in force (:func:`analysis.models.active_road_model`)."""
    from analysis.models import active_road_model

    return active_road_model(load_communes(), road=road)


def upload_error(size: int, name: str) -> str | None:
    """Say why an upload is refused (too large), or ``None`` if it may be read.

    Parameters
    ----------
    size
        Size of the upload in bytes (``UploadedFile.size``, or the pasted text's length).
    name
        The file name, for the message.

    Returns
    -------
    str or None
        The message to show with ``st.error``, or ``None``.
    """
    limit = _settings.max_upload_mb
    if size <= limit * 1_000_000:
        return None
    return (
        f"{name}: {size / 1_000_000:,.1f} MB, more than the {limit} MB accepted for an upload "
        "(a candidates CSV is a few kB); check that this is the right file"
    )


def transit_available() -> bool:
    """Whether this copy has the transit module (transit and best-of-two modes)."""
    try:
        return importlib.util.find_spec("analysis.transit") is not None
    except (ImportError, ValueError):
        return False


@st.cache_resource(show_spinner="Building the transit model (timetable router)…")
def load_transit_model():
    """The transit model on the bundled timetables."""
    from analysis.inputs import load_models

    return load_models(["transit"], load_communes())["transit"]


@st.cache_resource
def load_access_model(mode: str, road: str = "auto"):
    """The access model answering ``mode`` (``road``, ``transit`` or ``best``).

    The same models as :func:`analysis.inputs.load_models`, each built once per server:
    ``best`` reuses the cached road and transit models.
    """
    from analysis.errors import UnknownNameError
    from analysis.inputs import check_choices

    check_choices([mode], road=road)
    if mode not in APP_MODES:
        raise UnknownNameError("mode", mode, APP_MODES)
    if mode == "road":
        return load_road_model(road)
    if mode == "transit":
        return load_transit_model()
    from analysis.transit import BestOfModel

    return BestOfModel(load_road_model(road), load_transit_model())


@st.cache_resource(show_spinner="Finding neighbouring communes…")
def load_adjacency():
    """Commune adjacency matrix (shared by every coverage result)."""
    from analysis.adjacency import adjacency_matrix, commune_adjacency

    communes = load_communes()
    i, j = commune_adjacency(communes)
    return adjacency_matrix(len(communes), i, j)


@st.cache_resource(show_spinner="Simplifying the commune polygons for the map…")
def load_web_base():
    """Light commune and department geometries for the map (simplified once)."""
    return _present.web_base(load_communes())


@st.cache_resource(show_spinner="Computing travel times…", max_entries=48)
def coverage(
    profile_key: str,
    mode: str,
    threshold: float,
    road: str = "auto",
    include_modelled: bool = True,
):
    """Coverage of a profile by a mode at a threshold (one pass; cached per arguments).

    Do not modify the result: it is shared by every session.
    """
    from analysis.coverage import compute_coverage

    profile = load_profiles()[profile_key]
    return compute_coverage(
        load_access_model(mode, road),
        load_sites(include_modelled),
        load_communes(),
        profile,
        threshold_min=float(threshold),
        adjacency=load_adjacency(),
    )


@st.cache_resource(max_entries=16, show_spinner="Drawing the map…")
def map_payload(
    profile_key: str,
    mode: str,
    threshold: float,
    road: str,
    basemap: str,
    include_modelled: bool = True,
    colour_by: str = "time",
    density: tuple[int, ...] = (),
    frr_only: bool = False,
):
    """The rendered map of a view (drawn once per view, sent as is on every rerun)."""
    from app import components

    result = coverage(profile_key, mode, threshold, road, include_modelled)
    fmap = _present.coverage_map(
        result,
        load_web_base(),
        basemap=basemap,
        height=700,
        defer_data=True,
        colour_by=colour_by,
        density=density,
        frr_only=frr_only,
    )
    return components.map_payload(_present.inline_leaflet(fmap), height=700)


@st.cache_data(max_entries=48)
def view_tables(
    profile_key: str, mode: str, threshold: float, road: str, include_modelled: bool = True
) -> dict[str, Any]:
    """Small tables of a view: headline, time bands, clusters (no geometry), options."""
    result = coverage(profile_key, mode, threshold, road, include_modelled)
    clusters = result.clusters()
    return {
        "headline": _present.headline_figures(result),
        "bands": _present.band_table(result),
        "clusters": clusters.drop(columns="geometry"),
        "commune_options": _present.commune_options(result),
    }


def _reachable(host: str, port: int, timeout_s: float) -> bool:
    box: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                box.append(True)
        except OSError:
            box.append(False)

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout_s + 0.5)  # DNS may hang longer than the socket timeout
    return bool(box and box[0])


@st.cache_data(ttl=600, show_spinner=False)
def tiles_reachable() -> bool:
    """Whether a tile server answers (else the map defaults to no base map).

    Returns ``False`` at once when network use is off (``SPRO_OFFLINE=1``).
    """
    if not _settings.use_network:
        return False
    return _reachable("tile.openstreetmap.org", 443, 1.5)
