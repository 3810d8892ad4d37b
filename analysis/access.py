"""Who is covered, at what threshold: the one home of the access rules.

Every analysis that asks "is this commune within reach of a site serving this public?"
(coverage, the labelling what-if, permanence siting, the caravane) goes through this
module:

- :func:`threshold_min` / :func:`threshold_s`: the threshold of a profile for a mode (or
  the user's override), validated once. Minutes at the edges (CLI flags, app sliders,
  exports), seconds inside (the engine's unit).
- :func:`covered`: the covered flag (a finite time within the threshold).
- :data:`UNASSESSED` / :func:`assessed`: communes the model has no data for (outside an
  OSM extract) are neither covered nor under-served; they carry no weight anywhere.
- :func:`eligible`: the sites serving a profile, selected once per profile as arrays.
- :func:`profile_demand`: the profile's demand per commune, checked against the communes.
- :func:`baseline_pass`: today's times from every commune to the nearest eligible site,
  with the status, the covered flag and the nearest site's provenance.

Statuses of a commune (column ``status`` of the results): ``"ok"`` (a time exists; it is
then ``covered`` or beyond the threshold), ``"unreachable"`` (no road path),
``"outside_network"`` (outside the model's data), and the transit reasons
``"no_service"``, ``"sparse_service"``, ``"beyond_walk"``, ``"beyond_drive"``.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from .errors import EmptyProfileError, UnknownNameError, ValidationError
from .profiles import Profile, valid_share
from .profiles import profile_demand as _profile_demand
from .road_model import OriginTimes

#: Statuses of communes the model cannot assess (e.g. outside an OSM extract): they are
#: neither covered nor under-served, and left out of the shares, clusters and targets.
UNASSESSED = ("outside_network",)

#: Every status a commune can have (see the module's docstring).
STATUSES = (
    "ok",
    "unreachable",
    "outside_network",
    "no_service",
    "sparse_service",
    "beyond_walk",
    "beyond_drive",
)

#: Modes whose threshold falls back to another mode's when the profile has none.
THRESHOLD_FALLBACK = {"best": "road"}


class AccessModel(Protocol):
    """What the access rules need from a road, transit or best-of model."""

    mode: str

    @property
    def estimated(self) -> bool:
        """Whether the times are estimated (labelled so everywhere)."""
        ...

    @property
    def label(self) -> str:
        """Human-readable provenance of the times."""
        ...

    def nearest(
        self, x_l93: np.ndarray, y_l93: np.ndarray, *, host_ids: np.ndarray | None = None
    ) -> OriginTimes:
        """Time from every origin commune to the nearest of the given sites.

        ``host_ids`` (INSEE code of each site's commune) lets a model apply the
        host-commune rule; a model may ignore it.
        """
        ...


# ---------------------------------------------------------------------------- thresholds
def check_minutes(value: Any, *, what: str = "threshold") -> float:
    """Return ``value`` as a positive, finite number of minutes.

    Parameters
    ----------
    value
        A number of minutes (from a CLI flag, an app slider, an API call).
    what
        What the number is, for the message.

    Returns
    -------
    float

    Raises
    ------
    ValidationError
        If the value is not a positive finite number.
    """
    try:
        minutes = float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"the {what} must be a number of minutes, not {value!r}") from None
    if not math.isfinite(minutes) or minutes <= 0:
        raise ValidationError(f"the {what} must be a positive number of minutes, not {value}")
    return minutes


def threshold_min(profile: Profile, mode: str, override_min: float | None = None) -> float:
    """Return the coverage threshold of ``profile`` for ``mode``, minutes.

    Parameters
    ----------
    profile
        The public (its ``thresholds_min`` per mode).
    mode
        ``road``, ``transit``, ``best`` or ``walk``; ``best`` falls back to the road
        threshold when the profile has none of its own.
    override_min
        The user's threshold, which wins when given.

    Returns
    -------
    float
        Minutes, validated.

    Raises
    ------
    UnknownNameError
        If the profile has no threshold for the mode (the message lists those it has).
    ValidationError
        If the threshold is not a positive number.
    """
    if override_min is not None:
        return check_minutes(override_min)
    thresholds = dict(getattr(profile, "thresholds_min", {}))
    if mode not in thresholds and THRESHOLD_FALLBACK.get(mode) in thresholds:
        mode = THRESHOLD_FALLBACK[mode]
    if mode not in thresholds:
        raise UnknownNameError("mode", mode, thresholds)
    return check_minutes(thresholds[mode])


def threshold_s(profile: Profile, mode: str, override_min: float | None = None) -> float:
    """Return :func:`threshold_min` in seconds (the engine's unit)."""
    return 60.0 * threshold_min(profile, mode, override_min)


def covered(time_s: np.ndarray, threshold_s: float) -> np.ndarray:
    """Whether each time (seconds) is within the threshold (seconds): the covered flag."""
    t = np.asarray(time_s, dtype=float)
    return np.isfinite(t) & (t <= float(threshold_s))


def assessed(status: np.ndarray) -> np.ndarray:
    """Whether the model could assess each commune (its status is not in :data:`UNASSESSED`)."""
    return ~np.isin(np.asarray(status, dtype=object), UNASSESSED)


def origin_assessed(model: AccessModel, n: int) -> np.ndarray:
    """Communes a model can assess whatever the sites (``origin_status`` where it has one).

    Parameters
    ----------
    model
        An access model; OSM road models carry ``origin_status`` (``"outside_network"``
        for communes their extract does not cover).
    n
        Number of communes.

    Returns
    -------
    numpy.ndarray of bool
    """
    status = getattr(model, "origin_status", None)
    if status is None:
        return np.ones(n, dtype=bool)
    out = assessed(np.asarray(status, dtype=object))
    if out.shape != (n,):
        raise ValidationError("the access model was built for other communes; rebuild it")
    return out


# ---------------------------------------------------------------------- sites and demand
#: Per site table: the ``network`` column factorised once (codes, names), by ``id`` with a
#: weak reference to check identity — selecting a profile's sites is then integer work.
_NETWORK_CODES: dict[int, tuple[weakref.ref[Any], int, np.ndarray, np.ndarray]] = {}


def _network_codes(sites: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(codes, names)`` of the sites' networks, computed once per table."""
    key = id(sites)
    hit = _NETWORK_CODES.get(key)
    if hit is not None and hit[0]() is sites and hit[1] == len(sites):
        return hit[2], hit[3]
    codes, names = pd.factorize(sites["network"], use_na_sentinel=True)
    names_arr = np.asarray(names, dtype=object)

    def forget(ref: weakref.ref[Any], key: int = key) -> None:
        if _NETWORK_CODES.get(key, (None,))[0] is ref:
            del _NETWORK_CODES[key]

    try:
        _NETWORK_CODES[key] = (weakref.ref(sites, forget), len(sites), codes, names_arr)
    except TypeError:  # pragma: no cover - tables that refuse weak references
        pass
    return codes, names_arr


def eligible_rows(profile: Profile, sites: pd.DataFrame) -> np.ndarray:
    """Row positions of the sites serving ``profile`` (networks factorised once per table).

    Parameters
    ----------
    profile
        The public (its ``networks``).
    sites
        The site directory (``network`` column with canonical names).

    Returns
    -------
    numpy.ndarray of int

    Raises
    ------
    ValidationError
        If ``sites`` has no ``network`` column.
    """
    if "network" not in sites.columns:
        raise ValidationError("the site table has no `network` column")
    codes, names = _network_codes(sites)
    wanted = np.flatnonzero(np.isin(names, list(profile.networks)))
    return np.flatnonzero(np.isin(codes, wanted))


def eligible(profile: Profile, sites: pd.DataFrame, *, allow_empty: bool = False) -> pd.DataFrame:
    """Return the sites serving ``profile``, renumbered from 0 (the engine's site index).

    Parameters
    ----------
    profile
        The public.
    sites
        The site directory.
    allow_empty
        Return an empty table instead of raising when no site serves the profile (e.g. to
        site the first permanences of a network).

    Returns
    -------
    pandas.DataFrame or geopandas.GeoDataFrame
        The matching rows, index ``0..n-1``.

    Raises
    ------
    EmptyProfileError
        If no site serves the profile and ``allow_empty`` is false; the message lists the
        networks present.
    """
    rows = eligible_rows(profile, sites)
    if len(rows) == 0 and not allow_empty:
        present = sorted(set(sites["network"].dropna().astype(str)))
        raise EmptyProfileError(
            f"profile {profile.key!r} has no eligible site: none of its networks "
            f"({', '.join(profile.networks)}) has a site in the directory (networks present: "
            f"{', '.join(present) or 'none'}); load a directory that includes them"
        )
    return sites.take(rows).reset_index(drop=True)


def profile_demand(profile: Profile, communes: pd.DataFrame) -> np.ndarray:
    """Return the profile's demand per commune, one float per row of ``communes``.

    Parameters
    ----------
    profile
        The public.
    communes
        The communes.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    ValidationError
        If the profile's share is not in (0, 1], or the demand does not have one value
        per commune or is negative or not finite somewhere.
    """
    if not valid_share(profile.share):
        raise ValidationError(
            f"profile {profile.key!r}: share must be above 0 and at most 1, not "
            f"{profile.share!r} (a share of 0 makes every share of its demand undefined)"
        )
    d = np.asarray(_profile_demand(profile, communes), dtype=float)
    if d.shape != (len(communes),):
        raise ValidationError("the profile's demand must have one value per commune")
    bad = ~np.isfinite(d) | (d < 0)
    if bad.any():
        raise ValidationError(
            f"profile {profile.key!r}: the demand is not a non-negative number in "
            f"{int(bad.sum()):,} commune(s) (first {communes['insee'].iloc[int(np.argmax(bad))]}); "
            "check the profile's share, rate or demand file"
        )
    return d


def check_origins(model: AccessModel, communes: pd.DataFrame) -> None:
    """Refuse an access model built for other communes than ``communes``.

    Raises
    ------
    ValidationError
        If the model's ``origin_ids`` are not the communes' INSEE codes in order.
    """
    ids = getattr(model, "origin_ids", None)
    if ids is None:
        return
    if len(ids) != len(communes) or not np.array_equal(
        np.asarray(ids).astype(str), communes["insee"].to_numpy().astype(str)
    ):
        raise ValidationError(
            "the access model was built for other communes than the ones given; rebuild it"
        )


# ------------------------------------------------------------------------- the baseline
@dataclass(eq=False)
class AccessPass:
    """Today's access of one profile by one mode: the pass every analysis starts from.

    Attributes
    ----------
    profile
        The public.
    mode
        The access model's mode.
    threshold_s
        Coverage threshold, seconds.
    demand
        The profile's demand per commune.
    sites
        The profile's eligible sites (row positions are the ``site`` values).
    time_s
        Time from every commune to its nearest eligible site, seconds (``inf`` if none).
    site
        Row of that site in ``sites`` (``-1`` if none).
    status
        Per commune (see :data:`STATUSES`).
    """

    profile: Profile
    mode: str
    threshold_s: float
    demand: np.ndarray
    sites: pd.DataFrame
    time_s: np.ndarray
    site: np.ndarray
    status: np.ndarray

    @property
    def threshold_min(self) -> float:
        """The threshold in minutes."""
        return self.threshold_s / 60.0

    @property
    def assessed(self) -> np.ndarray:
        """Communes the model could assess."""
        return assessed(self.status)

    @property
    def covered(self) -> np.ndarray:
        """Communes within the threshold today."""
        return covered(self.time_s, self.threshold_s)

    @property
    def underserved(self) -> np.ndarray:
        """Assessed communes beyond the threshold (or with no time at all)."""
        return ~self.covered & self.assessed

    @property
    def weight(self) -> np.ndarray:
        """The demand of assessed communes (0 where the model has no data)."""
        return np.where(self.assessed, self.demand, 0.0)

    def nearest(self, column: str) -> np.ndarray:
        """Return a column of each commune's nearest site (``None`` where there is none)."""
        has = self.site >= 0
        if column not in self.sites.columns or len(self.sites) == 0:
            return np.full(len(self.site), None, dtype=object)
        vals = self.sites[column].to_numpy(object)[np.where(has, self.site, 0)]
        out = np.full(len(self.site), None, dtype=object)
        out[has] = vals[has]
        return out

    def share_beyond(self) -> float:
        """Share of the assessed demand beyond the threshold (``nan`` without demand)."""
        total = float(self.weight.sum())
        if total <= 0:
            return float("nan")
        return float(self.weight[self.underserved].sum() / total)


def baseline_pass(
    model: AccessModel,
    sites: pd.DataFrame,
    communes: pd.DataFrame,
    profile: Profile,
    *,
    threshold_min: float | None = None,
    mode: str | None = None,
    allow_empty: bool = False,
    eligible_sites: pd.DataFrame | None = None,
) -> AccessPass:
    """Run today's pass of ``model`` from the sites serving ``profile``.

    Parameters
    ----------
    model
        The access model; its origins must be ``communes`` in the same order.
    sites
        The site directory (all networks).
    communes
        The communes.
    profile
        The public.
    threshold_min
        The user's threshold (minutes); default the profile's for the mode.
    mode
        The mode whose threshold applies (default the model's).
    allow_empty
        With no eligible site, every commune gets no time instead of an error.
    eligible_sites
        The eligible sites when already selected (rows ``0..n-1``).

    Returns
    -------
    AccessPass

    Raises
    ------
    EmptyProfileError
        If no site serves the profile and ``allow_empty`` is false.
    ValidationError
        If the threshold is invalid or the model was built for other communes.
    """
    mode = str(mode or getattr(model, "mode", "road"))
    thr_s = threshold_s(profile, mode, threshold_min)
    check_origins(model, communes)
    elig = (
        eligible(profile, sites, allow_empty=allow_empty)
        if eligible_sites is None
        else eligible_sites
    )
    demand = profile_demand(profile, communes)
    n = len(communes)
    if len(elig) == 0:
        status = np.where(origin_assessed(model, n), "unreachable", UNASSESSED[0]).astype(object)
        return AccessPass(
            profile, mode, thr_s, demand, elig, np.full(n, np.inf), np.full(n, -1), status
        )
    ans = nearest_to(model, elig)
    return AccessPass(
        profile=profile,
        mode=mode,
        threshold_s=thr_s,
        demand=demand,
        sites=elig,
        time_s=np.asarray(ans.time_s, dtype=float),
        site=np.asarray(ans.site, dtype=np.int64),
        status=np.asarray(ans.status, dtype=object),
    )


#: What a result's times can be, from least to most trustworthy: *estimated* (the
#: commune-adjacency network, park-and-ride legs), *modelled* (real roads, calibrated
#: speeds), *measured* (street-level routing on OSM, timetables).
TIMES_ARE = ("estimated", "modelled", "measured")


def times_are_label(*models: AccessModel) -> str:
    """Say what the times of one or several access models are (the ``times_are`` column).

    Parameters
    ----------
    *models
        Access models; a model says it through ``.times_are`` (road models) or
        ``.estimated`` (transit).

    Returns
    -------
    str
        One of :data:`TIMES_ARE`: the least trustworthy of the models.
    """
    ranks = []
    for m in models:
        t = getattr(m, "times_are", None)
        if not isinstance(t, str):
            t = "estimated" if bool(getattr(m, "estimated", True)) else "measured"
        ranks.append(TIMES_ARE.index(t))
    return TIMES_ARE[min(ranks)] if ranks else "estimated"


def host_ids(sites: pd.DataFrame) -> np.ndarray | None:
    """INSEE code of the commune hosting each site (the host-commune rule), if known."""
    if "insee" not in sites.columns:
        return None
    return sites["insee"].astype(str).to_numpy(dtype=object)


def nearest_to(model: AccessModel, sites: pd.DataFrame) -> OriginTimes:
    """Ask ``model`` for the nearest of ``sites`` from every origin, with the host rule.

    The one call of ``model.nearest`` for a site table: the sites' coordinates and the
    communes hosting them (:func:`host_ids`), so every pass applies the same rules.

    Parameters
    ----------
    model
        Any access model.
    sites
        Sites with ``x_l93``, ``y_l93`` (and ``insee`` for the host rule).

    Returns
    -------
    OriginTimes
        As the model's ``nearest``; ``site`` refers to the rows of ``sites``.
    """
    return model.nearest(
        sites["x_l93"].to_numpy(float), sites["y_l93"].to_numpy(float), host_ids=host_ids(sites)
    )
