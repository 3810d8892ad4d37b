"""A road model: a graph plus the rules that put communes and sites on it.

Every road model (estimated, OSM) is a :class:`RoadModel`. The coverage, what-if, siting and
tour analyses only talk to this class, so they run unchanged on any road model.

Access legs
-----------
- Origins (communes): each commune has a node and an *access time*, the mean time from its
  residents to that node (the estimated model derives it from the commune's area; an OSM
  model from the snap distance of the commune's origin point).
- Host communes: a commune that hosts an eligible site is never reported farther from it
  than its own access time (:meth:`RoadModel.apply_host_rule`): a site inside the commune
  is reached as the commune's residents reach their road, not through a neighbour's node.
- Sites: snapped to the nearest node with a KD-tree in Lambert-93; the straight-line snap
  distance × ``snap_circuity`` / ``snap_speed_kmh`` is added as the site's offset. Sites
  farther than ``max_snap_m`` from any node are flagged ``too_far`` and left out of the
  pass (never silently snapped).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from .engine import NearestResult, nearest_sites, times_for_origins
from .errors import EmptyProfileError, ValidationError
from .graph import RoadGraph, nearest_nodes

logger = logging.getLogger(__name__)

#: What the times of each road model are, as every table and export says it
#: (``times_are``): the commune-adjacency network is *estimated*; the main roads are real
#: roads with *modelled* (calibrated) speeds; OSM is street-level routing (*measured*).
TIMES_ARE = {"estimated": "estimated", "mainroads": "modelled", "osm": "measured"}


@dataclass(frozen=True)
class SiteSnap:
    """Where each site joins the road graph.

    Attributes
    ----------
    node
        Node index of each site (``-1`` where ``too_far``).
    offset_s
        Time from the node to the site's door, seconds.
    dist_m
        Straight-line snap distance, metres.
    too_far
        Sites farther than the model's ``max_snap_m`` from any node: excluded and flagged.
    """

    node: np.ndarray
    offset_s: np.ndarray
    dist_m: np.ndarray
    too_far: np.ndarray


@dataclass(frozen=True)
class OriginTimes:
    """The answer for every origin (commune) of one pass.

    Attributes
    ----------
    time_s
        Door-to-door time to the nearest eligible site, seconds (``inf`` if unreachable).
    site
        Row position of that site in the site table given (``-1`` if none).
    status
        ``"ok"``, or a reason the time is missing (e.g. ``"unreachable"``,
        ``"no_service"`` for transit).
    """

    time_s: np.ndarray
    site: np.ndarray
    status: np.ndarray


@dataclass(eq=False)
class RoadModel:
    """A road graph with its origin and site access rules.

    Parameters
    ----------
    graph
        The road graph.
    origin_ids
        INSEE code of each origin commune, in the order of the commune table.
    origin_nodes
        Node of each origin.
    origin_offsets_s
        Access time of each origin to its node, seconds.
    snap_speed_kmh
        Speed of the leg between a site and its node.
    snap_circuity
        Detour factor applied to the straight snap distance.
    snap_fixed_s
        Fixed time of the leg between a site and its node (parking, last metres), seconds.
    max_snap_m
        Sites farther than this from any node are flagged and excluded.
    meta
        Provenance shown in outputs (road model, parameters, extract date…).
    """

    graph: RoadGraph
    origin_ids: np.ndarray
    origin_nodes: np.ndarray
    origin_offsets_s: np.ndarray
    snap_speed_kmh: float = 30.0
    snap_circuity: float = 1.3
    snap_fixed_s: float = 0.0
    max_snap_m: float = 5_000.0
    meta: dict[str, Any] = field(default_factory=dict)

    mode: str = "road"

    @property
    def model(self) -> str:
        """Name of the road model (``estimated`` or ``osm``)."""
        return self.graph.model

    @property
    def estimated(self) -> bool:
        """Whether results from this model are not street-level routing (labelled so)."""
        return self.graph.model != "osm"

    @property
    def times_are(self) -> str:
        """What every result of this model says its times are (see :data:`TIMES_ARE`)."""
        return TIMES_ARE.get(self.graph.model, "estimated")

    @property
    def label(self) -> str:
        """Human-readable provenance of the numbers this model produces."""
        return self.graph.label or self.graph.model

    def snap_sites(self, x_l93: np.ndarray, y_l93: np.ndarray) -> SiteSnap:
        """Snap sites (Lambert-93 coordinates) to the graph.

        Parameters
        ----------
        x_l93, y_l93
            Site coordinates in Lambert-93 metres.

        Returns
        -------
        SiteSnap
        """
        node, dist = nearest_nodes(self.graph, x_l93, y_l93)
        too_far = dist > self.max_snap_m
        offset = self.snap_fixed_s + dist * self.snap_circuity / (self.snap_speed_kmh / 3.6)
        node = np.where(too_far, -1, node)
        if too_far.any():
            logger.warning(
                "%d site(s) lie farther than %.0f m from the road graph and are left out",
                int(too_far.sum()), self.max_snap_m,
            )  # fmt: skip
        return SiteSnap(node=node, offset_s=offset, dist_m=dist, too_far=too_far)

    def pass_from_snap(self, snap: SiteSnap, *, limit: float = np.inf) -> NearestResult:
        """Run the one multi-source pass for snapped sites (too-far ones excluded).

        The returned ``site`` indices refer to the rows of ``snap``.
        """
        ok = np.flatnonzero(~snap.too_far)
        if len(ok) == 0:
            raise EmptyProfileError(
                "no eligible site lies on the road network (all are too far from it)"
            )
        res = nearest_sites(
            self.graph, snap.node[ok], site_offsets_s=snap.offset_s[ok], limit=limit
        )
        site = np.where(res.site >= 0, ok[np.maximum(res.site, 0)], -1)
        return NearestResult(time_s=res.time_s, site=site)

    @cached_property
    def _origin_row(self) -> dict[str, int]:
        return {str(c): r for r, c in enumerate(self.origin_ids)}

    def origin_rows(self, ids: Iterable[object]) -> np.ndarray:
        """Row of each INSEE code among the origins (``-1`` if not an origin)."""
        return np.array([self._origin_row.get(str(h), -1) for h in ids], dtype=np.int64)

    def apply_host_rule(
        self, time_s: np.ndarray, site: np.ndarray, host_ids: Sequence[object] | np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Cap the time of every commune hosting a site at its own access time.

        Parameters
        ----------
        time_s, site
            Time and nearest site of every origin.
        host_ids
            INSEE code of the commune hosting each site (positions as in ``site``);
            unknown or missing codes are ignored.

        Returns
        -------
        time_s, site : numpy.ndarray
            Copies with the host communes capped (their site is then the hosted one).
        """
        time_s = np.array(time_s, dtype=float)
        site = np.array(site, dtype=np.int64)
        rows = self.origin_rows(host_ids)
        ok = np.flatnonzero(rows >= 0)
        if len(ok):
            r = rows[ok]
            cap = np.asarray(self.origin_offsets_s, dtype=float)[r]
            better = cap < time_s[r]
            time_s[r[better]] = cap[better]
            site[r[better]] = ok[better]
        return time_s, site

    def nearest(
        self, x_l93: np.ndarray, y_l93: np.ndarray, *, host_ids: np.ndarray | None = None
    ) -> OriginTimes:
        """Time from every origin commune to the nearest of the given sites.

        Parameters
        ----------
        x_l93, y_l93
            Coordinates of the eligible sites, Lambert-93 metres.
        host_ids
            INSEE code of each site's commune: those communes are capped at their own
            access time (:meth:`apply_host_rule`). Not applied if ``None``.

        Returns
        -------
        OriginTimes
            ``site`` refers to the positions in ``x_l93``/``y_l93``.
        """
        if len(x_l93) == 0:
            raise EmptyProfileError("no eligible site: the profile's networks have no site")
        snap = self.snap_sites(x_l93, y_l93)
        res = self.pass_from_snap(snap)
        t, s = times_for_origins(res, self.origin_nodes, self.origin_offsets_s)
        if host_ids is not None:
            t, s = self.apply_host_rule(t, s, host_ids)
        status = np.where(np.isfinite(t), "ok", "unreachable").astype(object)
        return OriginTimes(time_s=t, site=s, status=status)

    def __post_init__(self) -> None:
        n = len(self.origin_ids)
        if len(self.origin_nodes) != n or len(self.origin_offsets_s) != n:
            raise ValidationError("origin ids, nodes and offsets must have the same length")
