"""A brute-force earliest-arrival search, the yardstick of the router.

:func:`brute_force_earliest_arrival` answers one query (one origin, one departure time)
by repeating a relaxation of *every* connection of the day until nothing changes. It
shares no code with :mod:`analysis.transit.router` and makes no use of the order of the
connections, so it is slow but obviously right:

- ``ready[s]``: earliest time one can be at stop ``s`` ready to board (``departure`` +
  access leg for the stops within reach of the origin);
- a connection can be boarded if boarding is allowed there and ``ready[dep_stop] <=
  dep``; one then rides every later connection of its trip;
- from every connection ridden whose arrival stop allows alighting, one reaches its
  arrival stop ``v`` at ``arr``, then every stop ``w`` of a footpath ``v → w`` at
  ``arr + f`` (one walk per transfer; ``v → v`` is the minimum transfer time), and the
  nearest site of ``v`` by its egress leg;
- repeat until the set of boardable connections is stable (each round adds at least
  one, so it ends).

The answer is the earliest of the direct walk to a site and every egress arrival.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .router import INF
from .timetable import Footpaths, Timetable


@dataclass(frozen=True)
class TripOrder:
    """Connections regrouped by trip, in trip order (built once per timetable)."""

    order: np.ndarray
    trip_start: np.ndarray


def trip_order(tt: Timetable) -> TripOrder:
    """Group the connections of a timetable by trip, each trip in travel order.

    Parameters
    ----------
    tt
        The timetable.

    Returns
    -------
    TripOrder
    """
    # Travel order within a trip: by departure, then arrival (times never go back along
    # a trip, and a zero-duration hop arrives before the next one leaves).
    order = np.lexsort((tt.c_arr, tt.c_dep, tt.c_trip))
    trips = tt.c_trip[order]
    start = np.ones(len(order), dtype=bool)
    start[1:] = trips[1:] != trips[:-1]
    # Index of the first connection of each connection's trip (in the grouped order).
    first = np.maximum.accumulate(np.where(start, np.arange(len(order)), 0))
    return TripOrder(order=order, trip_start=first)


def brute_force_earliest_arrival(
    tt: Timetable,
    footpaths: Footpaths,
    *,
    departure: int,
    access_stops: np.ndarray,
    access_times: np.ndarray,
    egress_time: np.ndarray,
    egress_site: np.ndarray,
    direct_time: int = int(INF),
    direct_site: int = -1,
    order: TripOrder | None = None,
) -> tuple[int, int]:
    """Earliest arrival at any site for one origin and one departure time.

    Parameters
    ----------
    tt
        The timetable.
    footpaths
        Transfers between stops.
    departure
        Departure time from the origin, seconds after midnight.
    access_stops, access_times
        Stops within reach of the origin and the leg times to them.
    egress_time, egress_site
        Per stop, walking time to its nearest site (``INF`` if none) and that site.
    direct_time, direct_site
        Walking time from the origin straight to its nearest site, and that site.
    order
        :func:`trip_order` of ``tt`` (computed if not given).

    Returns
    -------
    arrival : int
        Earliest arrival time at a site (``INF`` if none).
    site : int
        The site reached (``-1`` if none).
    """
    order = order or trip_order(tt)
    o = order.order
    dep_stop, arr_stop = tt.c_dep_stop[o], tt.c_arr_stop[o]
    dep, arr = tt.c_dep[o].astype(np.int64), tt.c_arr[o].astype(np.int64)
    pickup, dropoff = tt.c_pickup[o], tt.c_dropoff[o]
    fp_from, fp_to, fp_time = footpaths.edges()

    ready = np.full(tt.n_stops, INF, dtype=np.int64)
    np.minimum.at(
        ready,
        np.asarray(access_stops, dtype=np.int64),
        departure + np.asarray(access_times, dtype=np.int64),
    )
    ridden = np.zeros(len(o), dtype=bool)
    while True:
        boardable = pickup & (ready[dep_stop] <= dep)
        # Once boarded, every later connection of the trip is ridden.
        cum = np.cumsum(boardable)
        before_trip = np.where(order.trip_start > 0, cum[order.trip_start - 1], 0)
        now = (cum - before_trip) > 0
        if np.array_equal(now, ridden):
            break
        ridden = now
        alight = ridden & dropoff
        at_stop = np.full(tt.n_stops, INF, dtype=np.int64)
        np.minimum.at(at_stop, arr_stop[alight], arr[alight])
        reach = at_stop[fp_from] < INF
        np.minimum.at(ready, fp_to[reach], at_stop[fp_from[reach]] + fp_time[reach])

    best, best_site = int(direct_time), int(direct_site)
    if best < INF:
        best = int(departure) + best
    alight = ridden & dropoff
    e = np.asarray(egress_time, dtype=np.int64)[arr_stop[alight]]
    ok = e < INF
    if ok.any():
        cand = arr[alight][ok] + e[ok]
        j = int(np.argmin(cand))
        if cand[j] < best:
            best = int(cand[j])
            best_site = int(np.asarray(egress_site)[arr_stop[alight][ok][j]])
    return best, best_site
