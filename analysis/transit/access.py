"""Access and egress legs: walking (or driving) between points and stops.

A leg is a straight line × a circuity factor, at a constant speed, rounded up to the
second (so that the router works on whole seconds and its answers are exact):

- access (commune origin point → stop): walking, up to ``max_walk_m`` metres of walking;
  with park-and-ride, also driving up to ``max_drive_m`` plus a parking time;
- egress (stop → site): walking, up to ``max_walk_m``;
- direct (origin → site): walking only, up to ``max_walk_m`` (a site next door needs no
  vehicle).

Legs from an origin start where its residents live, not at the commune's point: every
leg from an origin is at least its *resident spread* (:func:`resident_spread_m`) long, so
a site or stop at the commune's point costs the residents' walk, never 0 s (the rule that
keeps the "best" mode from reporting 0.0 min in every commune hosting a site).

Legs are returned as CSR arrays (:class:`Legs`): the stops (or sites) within reach of each
point and the time to each.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ..errors import ValidationError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AccessOptions:
    """How people get to and from the stops.

    Parameters
    ----------
    walk_speed_kmh
        Walking speed (default 4.5 km/h).
    walk_circuity
        Walking distance over straight-line distance (default 1.3).
    max_walk_m
        Longest walk to or from a stop, metres of walking (default 1,500 m, about 20 min).
    park_and_ride
        Also allow driving from the origin to a stop.
    drive_speed_kmh
        Driving speed on the road distance (default 50 km/h; with the circuity of 1.3 this
        is 38 km/h as the crow flies, the scheduled speed of the region's TER coaches).
    drive_circuity
        Road distance over straight-line distance.
    max_drive_m
        Longest drive to a stop, metres of road (default 20 km).
    park_time_s
        Time to park and walk to the platform after driving (default 5 min).
    """

    walk_speed_kmh: float = 4.5
    walk_circuity: float = 1.3
    max_walk_m: float = 1_500.0
    park_and_ride: bool = False
    drive_speed_kmh: float = 50.0
    drive_circuity: float = 1.3
    max_drive_m: float = 20_000.0
    park_time_s: float = 300.0

    def __post_init__(self) -> None:
        for name in ("walk_speed_kmh", "drive_speed_kmh"):
            if not np.isfinite(getattr(self, name)) or getattr(self, name) <= 0:
                raise ValidationError(f"{name} must be a positive number")
        for name in ("walk_circuity", "drive_circuity"):
            if not np.isfinite(getattr(self, name)) or getattr(self, name) < 1:
                raise ValidationError(f"{name} must be at least 1")
        for name in ("max_walk_m", "max_drive_m", "park_time_s"):
            if not np.isfinite(getattr(self, name)) or getattr(self, name) < 0:
                raise ValidationError(f"{name} must be a non-negative number")

    def describe(self) -> str:
        """Short text for labels, e.g. ``"walk ≤ 1,500 m at 4.5 km/h"``."""
        text = f"walk ≤ {self.max_walk_m:,.0f} m at {self.walk_speed_kmh:g} km/h"
        if self.park_and_ride:
            text += (
                f"; park-and-ride: drive ≤ {self.max_drive_m / 1000:g} km at "
                f"{self.drive_speed_kmh:g} km/h + {self.park_time_s / 60:g} min parking"
            )
        return text


@dataclass(frozen=True)
class Legs:
    """Legs from points to targets, as CSR arrays.

    Attributes
    ----------
    indptr
        The legs of point ``i`` are ``target[indptr[i]:indptr[i + 1]]``.
    target
        Target index (stop or site).
    time_s
        Leg time in whole seconds.
    """

    indptr: np.ndarray
    target: np.ndarray
    time_s: np.ndarray

    @property
    def n_points(self) -> int:
        """Number of points."""
        return len(self.indptr) - 1

    def counts(self) -> np.ndarray:
        """Return the number of legs of each point."""
        return np.diff(self.indptr)

    def min_per_point(self) -> tuple[np.ndarray, np.ndarray]:
        """Quickest leg of each point: ``(time_s, target)``, ``(inf, -1)`` if none."""
        n = self.n_points
        best = np.full(n, np.inf)
        arg = np.full(n, -1, dtype=np.int64)
        if len(self.target):
            point = np.repeat(np.arange(n), self.counts())
            order = np.lexsort((self.target, self.time_s, point))
            first = np.ones(len(order), dtype=bool)
            first[1:] = point[order][1:] != point[order][:-1]
            o = order[first]
            best[point[o]] = self.time_s[o]
            arg[point[o]] = self.target[o]
        return best, arg


def legs_within(
    px: np.ndarray,
    py: np.ndarray,
    qx: np.ndarray,
    qy: np.ndarray,
    *,
    max_m: float,
    speed_kmh: float,
    circuity: float,
    extra_s: float = 0.0,
    min_m: np.ndarray | None = None,
) -> Legs:
    """Legs from every point P to every target Q within ``max_m`` of travelled distance.

    Parameters
    ----------
    px, py
        Points, Lambert-93 metres.
    qx, qy
        Targets, Lambert-93 metres.
    max_m
        Longest leg, metres travelled (straight line × ``circuity``).
    speed_kmh
        Speed on the travelled distance.
    circuity
        Travelled distance over straight-line distance.
    extra_s
        Fixed time added to every leg (e.g. parking).
    min_m
        Shortest straight distance of a leg from each point (the resident spread of an
        origin); ``None`` for none.

    Returns
    -------
    Legs
        Times are ``ceil(distance × circuity / speed + extra_s)`` seconds.
    """
    p = np.column_stack([np.asarray(px, dtype=float), np.asarray(py, dtype=float)])
    q = np.column_stack([np.asarray(qx, dtype=float), np.asarray(qy, dtype=float)])
    n = len(p)
    if len(p) and not np.all(np.isfinite(p)):
        raise ValidationError("points with missing or infinite coordinates cannot be routed")
    if len(q) == 0 or n == 0 or max_m <= 0:
        return Legs(np.zeros(n + 1, dtype=np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
    lists = cKDTree(q).query_ball_point(p, r=max_m / circuity)
    counts = np.fromiter((len(x) for x in lists), dtype=np.int64, count=n)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    target = (
        np.fromiter((j for x in lists for j in sorted(x)), dtype=np.int64, count=int(indptr[-1]))
        if indptr[-1]
        else np.zeros(0, np.int64)
    )
    point = np.repeat(np.arange(n), counts)
    straight = np.hypot(p[point, 0] - q[target, 0], p[point, 1] - q[target, 1])
    if min_m is not None:
        straight = np.maximum(straight, np.asarray(min_m, dtype=float)[point])
    dist = straight * circuity
    # Points exactly on the radius may fall either side after rounding: keep the rule exact.
    keep = dist <= max_m
    if not keep.all():
        counts = np.bincount(point[keep], minlength=n)
        np.cumsum(counts, out=indptr[1:])
        target, dist = target[keep], dist[keep]
    time = np.ceil(dist / (speed_kmh / 3.6) + extra_s).astype(np.int64)
    return Legs(indptr=indptr, target=target, time_s=time)


def merge_legs(a: Legs, b: Legs) -> Legs:
    """Union of two leg sets over the same points, keeping the quicker leg per target."""
    if a.n_points != b.n_points:
        raise ValidationError("leg sets cover different points")
    n = a.n_points
    ids = np.arange(n)
    point = np.concatenate([np.repeat(ids, a.counts()), np.repeat(ids, b.counts())])
    target = np.concatenate([a.target, b.target])
    time = np.concatenate([a.time_s, b.time_s])
    order = np.lexsort((time, target, point))
    point, target, time = point[order], target[order], time[order]
    first = np.ones(len(point), dtype=bool)
    first[1:] = (point[1:] != point[:-1]) | (target[1:] != target[:-1])
    point, target, time = point[first], target[first], time[first]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(point, minlength=n), out=indptr[1:])
    return Legs(indptr=indptr, target=target, time_s=time)


def access_legs(
    px: np.ndarray,
    py: np.ndarray,
    sx: np.ndarray,
    sy: np.ndarray,
    options: AccessOptions,
    *,
    min_m: np.ndarray | None = None,
) -> Legs:
    """Legs from origin points to stops: walking, plus driving with park-and-ride.

    Parameters
    ----------
    px, py
        Origin points, Lambert-93.
    sx, sy
        Stops, Lambert-93.
    options
        Access options.
    min_m
        Resident spread of each origin (:func:`resident_spread_m`).

    Returns
    -------
    Legs
    """
    walk = legs_within(
        px, py, sx, sy,
        max_m=options.max_walk_m, speed_kmh=options.walk_speed_kmh,
        circuity=options.walk_circuity, min_m=min_m,
    )  # fmt: skip
    if not options.park_and_ride:
        return walk
    drive = legs_within(
        px, py, sx, sy,
        max_m=options.max_drive_m, speed_kmh=options.drive_speed_kmh,
        circuity=options.drive_circuity, extra_s=options.park_time_s, min_m=min_m,
    )  # fmt: skip
    return merge_legs(walk, drive)


def walk_legs(
    px: np.ndarray,
    py: np.ndarray,
    qx: np.ndarray,
    qy: np.ndarray,
    options: AccessOptions,
    *,
    min_m: np.ndarray | None = None,
) -> Legs:
    """Return walking legs (egress from stops to sites, or direct from origins to sites)."""
    return legs_within(
        px, py, qx, qy,
        max_m=options.max_walk_m, speed_kmh=options.walk_speed_kmh,
        circuity=options.walk_circuity, min_m=min_m,
    )  # fmt: skip


#: Largest resident spread, metres: beyond a small town's centre, residents live near
#: stops of their own (the single origin point cannot say where), so the spread stops
#: growing with the commune's area.
MAX_RESIDENT_SPREAD_M = 600.0


def resident_spread_m(
    surface_km2: np.ndarray, *, cap_m: float = MAX_RESIDENT_SPREAD_M
) -> np.ndarray:
    """Mean straight distance of a commune's residents from its point, metres.

    The commune as a disc of its area with uniform residents: ``(2/3) × sqrt(A / π)`` (the
    estimated network's access rule), capped at ``cap_m``.

    Parameters
    ----------
    surface_km2
        Area of each commune, km².
    cap_m
        Cap, metres.

    Returns
    -------
    numpy.ndarray
    """
    a = np.nan_to_num(np.asarray(surface_km2, dtype=float), nan=0.0).clip(min=0.0)
    return np.minimum((2.0 / 3.0) * np.sqrt(a * 1e6 / np.pi), cap_m)
