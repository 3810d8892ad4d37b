"""One loader for a run's inputs: communes, sites, profiles and the access models.

The command line (``coverage`` and the planner commands), the app and the notebook all
load their inputs here, so a run on the same choices reads the same data the same way:

- :func:`load_sites`: the bundled directory, with a user's export replacing (or adding
  to) its networks, with or without the ``modelled`` sites;
- :func:`load_models`: one access model per mode, sharing one road model;
- :func:`load_inputs`: all of them, validated up front (cheap checks before any loading).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import geopandas as gpd

from .access import AccessModel
from .communes import load_communes
from .errors import UnknownNameError, ValidationError
from .models import MODES, ROAD_CHOICES, access_model
from .profiles import Profile, load_profiles
from .sites.directory import load_bundled_directory, load_user_directory, merge_user_directory

logger = logging.getLogger(__name__)

#: Modes that use a timetable (``--date`` and ``--gtfs`` apply to them only).
TIMETABLE_MODES = ("transit", "best")


def load_sites(
    sites_file: str | Path | None = None,
    *,
    include_modelled: bool = True,
    sites_layer: str | None = None,
    sites_merge: str = "auto",
) -> gpd.GeoDataFrame:
    """Return the bundled site directory, with a user's export replacing its networks.

    Parameters
    ----------
    sites_file
        A user's own directory export (CSV, GeoJSON or GeoPackage), or ``None``.
    include_modelled
        Keep the ``modelled`` sites that complete networks whose real rows fall short;
        ``False`` gives what the open data (and the user's file) alone say.
    sites_layer
        The layer of a GeoPackage ``sites_file`` holding the sites (``--layer``).
    sites_merge
        How ``sites_file`` joins the bundled sites: ``auto``, ``replace`` or ``add``
        (:func:`analysis.sites.merge.merge_user_directory`).

    Returns
    -------
    geopandas.GeoDataFrame
    """
    sites = load_bundled_directory()
    if sites_file is not None:
        user = load_user_directory(sites_file, layer=sites_layer)
        sites = merge_user_directory(sites, user, how=sites_merge)
    if not include_modelled:
        sites = sites[sites["provenance"] != "modelled"].reset_index(drop=True)
    return sites


def check_choices(
    modes: Sequence[str], *, road: str = "auto", transit_options: dict[str, Any] | None = None
) -> list[str]:
    """Validate the modes, the road choice and the timetable options before loading anything.

    Parameters
    ----------
    modes
        Modes asked for (duplicates dropped, order kept).
    road
        One of :data:`analysis.models.ROAD_CHOICES`.
    transit_options
        Timetable options (``date``, ``gtfs_paths``...): only meaningful for transit modes.

    Returns
    -------
    list of str
        The modes, without duplicates.

    Raises
    ------
    UnknownNameError
        An unknown mode or road model (the message lists the valid ones).
    ValidationError
        Timetable options given for road or walk modes only, where they would be ignored.
    """
    out = list(dict.fromkeys(modes))
    if not out:
        raise ValidationError("no mode was given; choose one of " + ", ".join(MODES))
    for mode in out:
        if mode not in MODES:
            raise UnknownNameError("mode", mode, MODES)
    if road not in ROAD_CHOICES:
        raise UnknownNameError("road model", road, ROAD_CHOICES)
    timetable = {
        k: v
        for k, v in (transit_options or {}).items()
        if k in ("date", "feed_dates", "gtfs_paths")
    }
    if any(v for v in timetable.values()) and not set(out) & set(TIMETABLE_MODES):
        flags = ", ".join(
            f"--{ {'gtfs_paths': 'gtfs', 'feed_dates': 'feed-date'}.get(k, k) }"
            for k, v in timetable.items()
            if v
        )
        raise ValidationError(
            f"{flags}: used by public transport only (modes transit, best), and the mode asked is "
            f"{', '.join(out)}: add --mode transit (or best), or drop {flags}"
        )
    return out


def load_models(
    modes: Sequence[str],
    communes: gpd.GeoDataFrame,
    *,
    road: str = "auto",
    transit_options: dict[str, Any] | None = None,
) -> dict[str, AccessModel]:
    """Return one access model per mode (in the order given).

    Parameters
    ----------
    modes
        Modes (see :data:`analysis.models.MODES`).
    communes
        The communes (origins).
    road
        Which road model (see :func:`analysis.models.active_road_model`).
    transit_options
        Keyword arguments for :func:`analysis.transit.build_transit_model`.

    Returns
    -------
    dict of str to access model
    """
    modes = check_choices(modes, road=road, transit_options=transit_options)
    built: dict[str, AccessModel] = {}

    def model(mode: str) -> AccessModel:
        if mode not in built:
            if mode == "best":  # the best of the road and transit models already built
                from .transit import BestOfModel, TransitModel

                transit = cast(TransitModel, model("transit"))  # built by access_model
                built[mode] = BestOfModel(model("road"), transit)
            else:
                built[mode] = access_model(
                    mode, communes, road=road, transit_options=transit_options
                )
        return built[mode]

    return {m: model(m) for m in modes}


@dataclass(eq=False)
class RunInputs:
    """Everything a run reads.

    Attributes
    ----------
    communes
        The communes (origins).
    sites
        The site directory in force.
    profiles
        ``{key: Profile}``.
    models
        ``{mode: access model}``, the first one the primary mode.
    include_modelled
        Whether the modelled sites are in ``sites``.
    sites_file
        The user's directory file, if any.
    """

    communes: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    profiles: dict[str, Profile]
    models: dict[str, AccessModel] = field(default_factory=dict)
    include_modelled: bool = True
    sites_file: Path | None = None

    @property
    def model(self) -> AccessModel:
        """The access model of the primary (first) mode."""
        return next(iter(self.models.values()))


def load_inputs(
    *,
    modes: Sequence[str] = ("road",),
    road: str = "auto",
    sites_file: str | Path | None = None,
    include_modelled: bool = True,
    profiles_file: str | Path | None = None,
    transit_options: dict[str, Any] | None = None,
    sites_layer: str | None = None,
    sites_merge: str = "auto",
) -> RunInputs:
    """Load a run's inputs, checking the cheap choices first.

    Parameters
    ----------
    modes
        Modes to build an access model for (may be empty-handed for tools that need none:
        pass ``()``).
    road
        Which road model.
    sites_file
        A user's directory export.
    include_modelled
        Keep the modelled sites.
    profiles_file
        A profiles TOML of the user's (default: the bundled one).
    transit_options
        Timetable options (``date``, ``gtfs_paths``...).
    sites_layer
        The layer of a GeoPackage ``sites_file`` holding the sites.
    sites_merge
        ``auto``, ``replace`` or ``add`` (see :func:`load_sites`).

    Returns
    -------
    RunInputs
    """
    if modes:
        modes = check_choices(modes, road=road, transit_options=transit_options)
    profiles = load_profiles(profiles_file)
    communes = load_communes()
    sites = load_sites(
        sites_file, include_modelled=include_modelled, sites_layer=sites_layer,
        sites_merge=sites_merge,
    )  # fmt: skip
    models = (
        load_models(modes, communes, road=road, transit_options=transit_options) if modes else {}
    )
    return RunInputs(
        communes=communes,
        sites=sites,
        profiles=profiles,
        models=models,
        include_modelled=include_modelled,
        sites_file=Path(sites_file) if sites_file is not None else None,
    )
