"""Choose the access model for a mode: the road model in force, transit, or the best of both.

The road model in force is the OSM model last prepared (``spro-access prepare --osm`` or
``--place``) when its cache is valid; otherwise the real main-road network (Travel Mapping,
speeds calibrated on OSRM car times, :mod:`analysis.mainroads`) when its data is in the
mirror; otherwise the estimated commune-adjacency network.
"""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd

from .access import AccessModel
from .errors import UnknownNameError
from .road_model import RoadModel

logger = logging.getLogger(__name__)

#: Modes of travel the tool answers ("walk" needs a prepared OSM walk network).
MODES = ("road", "transit", "best", "walk")

#: Road models the user can ask for.
ROAD_CHOICES = ("auto", "mainroads", "estimated", "osm")


def active_road_model(communes: gpd.GeoDataFrame, *, road: str = "auto") -> RoadModel:
    """Return the road model in force.

    Parameters
    ----------
    communes
        The communes (origins), see :func:`analysis.communes.load_communes`.
    road
        ``"auto"`` (OSM if prepared, else main roads if their data is there, else
        estimated), ``"mainroads"``, ``"estimated"`` or ``"osm"``.

    Returns
    -------
    RoadModel

    Raises
    ------
    UnknownNameError
        If ``road`` is not a known choice.
    analysis.errors.DataMissingError
        If ``road="osm"`` and no OSM model was prepared, or ``road="mainroads"`` and the
        Travel Mapping data is missing.
    """
    if road not in ROAD_CHOICES:
        raise UnknownNameError("road model", road, ROAD_CHOICES)
    if road in ("auto", "osm"):
        from .osm import load_cached_osm_model

        osm_model = load_cached_osm_model(communes)
        if osm_model is not None:
            return osm_model
        if road == "osm":
            from .errors import DataMissingError

            raise DataMissingError(
                "no OpenStreetMap road model has been prepared; run "
                "`spro-access prepare --osm FILE.osm.pbf` or `prepare --place NAME` first"
            )
    from .mainroads.model import load_or_build_mainroad_model, mainroads_available

    if road == "mainroads" or (road == "auto" and mainroads_available()):
        return load_or_build_mainroad_model(communes)
    from .estimated.network import load_or_build_estimated_network

    if road == "auto":
        logger.info("no Travel Mapping data in the mirror: using the estimated network")
    return load_or_build_estimated_network(communes)


def access_model(
    mode: str,
    communes: gpd.GeoDataFrame,
    *,
    road: str = "auto",
    transit_options: dict[str, Any] | None = None,
) -> AccessModel:
    """Return the access model answering ``mode``.

    Parameters
    ----------
    mode
        One of :data:`MODES`.
    communes
        The communes (origins).
    road
        Which road model (see :func:`active_road_model`).
    transit_options
        Keyword arguments for :func:`analysis.transit.build_transit_model`.

    Returns
    -------
    RoadModel or a transit / best-of model, all with ``.nearest(x, y)``.
    """
    if mode not in MODES:
        raise UnknownNameError("mode", mode, MODES)
    if mode == "road":
        return active_road_model(communes, road=road)
    if mode == "walk":
        from .errors import DataMissingError
        from .osm import load_cached_osm_model

        walk = load_cached_osm_model(communes, network="walk")
        if walk is None:
            raise DataMissingError(
                "walking times need an OpenStreetMap walk network; run "
                "`spro-access prepare --osm FILE.osm.pbf --walk` first"
            )
        return walk
    from .transit import BestOfModel, build_transit_model

    transit = build_transit_model(communes, **(transit_options or {}))
    if mode == "transit":
        return transit
    return BestOfModel(active_road_model(communes, road=road), transit)
