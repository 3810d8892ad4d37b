"""Timetable router: a backward profile Connection Scan towards every eligible site at once.

The question is "from every commune, for every departure time of a window, how soon can I
be at the nearest eligible site?". Every commune asks about the *same* set of sites, so
the router runs ONE backward scan from all the sites together (a multi-target profile
Connection Scan, Dibbelt et al. 2013/2018) and gets, for every stop, the complete
*profile*: for each time ``t``, the earliest arrival at any eligible site when ready to
board at that stop at ``t``. Answering a commune and a departure time is then a
binary search in the profiles of the stops within its access reach.

Scan (connections in decreasing departure time, ties in reverse trip order):

- ``T_trip[c.trip]`` = earliest site arrival when sitting in the trip at connection ``c``:
  the better of staying on (later connections, already scanned) and alighting at ``c``'s
  arrival stop ``v`` (if allowed), then either walking to a site (egress leg of ``v``) or
  changing: for every footpath ``v → w`` of time ``f`` (``v → v`` being the minimum
  transfer time), the profile of ``w`` evaluated at ``c.arr + f``;
- if boarding is allowed at ``c``'s departure stop ``u``, the pair
  ``(c.dep, T_trip)`` enters ``u``'s profile unless dominated. Entries of a profile are
  added in decreasing departure time with strictly decreasing arrival (a Pareto set), so
  evaluating a profile at ``t`` is a binary search for the last entry leaving at or
  after ``t``.

Footpaths have positive times and are one hop, so every profile read during the scan is
already complete for the times read. The answers are exact earliest arrivals per
departure time, in whole seconds; :mod:`analysis.transit.reference` checks them against a
brute-force search. The loops run under numba when it is installed (plain Python
otherwise: same answers, ~100x slower).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ValidationError
from .access import Legs
from .timetable import Footpaths, Timetable

logger = logging.getLogger(__name__)

#: "Never" in integer time arrays (about 35 years in seconds; sums stay far from overflow).
INF = np.int64(1 << 40)

try:  # pragma: no cover - exercised through whichever branch is installed
    import numba

    def _jit(f: Callable[..., Any]) -> Any:
        return numba.njit(cache=True, nogil=True)(f)

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    HAVE_NUMBA = False

    def _jit(f: Callable[..., Any]) -> Any:
        return f


@_jit
def _last_at_or_after(dep: np.ndarray, off: int, n: int, t: int) -> int:
    """Index (relative to ``off``) of the last entry with ``dep >= t``, -1 if none."""
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) >> 1
        if dep[off + mid] >= t:
            lo = mid + 1
        else:
            hi = mid
    return lo - 1


@_jit
def _profile_scan(
    c_dep_stop: np.ndarray,
    c_arr_stop: np.ndarray,
    c_dep: np.ndarray,
    c_arr: np.ndarray,
    c_trip: np.ndarray,
    c_pickup: np.ndarray,
    c_dropoff: np.ndarray,
    lo: int,
    hi: int,
    n_trips: int,
    fp_indptr: np.ndarray,
    fp_to: np.ndarray,
    fp_time: np.ndarray,
    egress_time: np.ndarray,
    egress_site: np.ndarray,
    prof_offset: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n_stops = len(prof_offset) - 1
    total = prof_offset[n_stops]
    prof_dep = np.empty(total, dtype=np.int64)
    prof_arr = np.empty(total, dtype=np.int64)
    prof_site = np.empty(total, dtype=np.int64)
    prof_n = np.zeros(n_stops, dtype=np.int64)
    trip_t = np.full(n_trips, INF, dtype=np.int64)
    trip_s = np.full(n_trips, -1, dtype=np.int64)
    for i in range(hi - 1, lo - 1, -1):
        tr = c_trip[i]
        if c_dropoff[i]:
            v = c_arr_stop[i]
            a = np.int64(c_arr[i])
            best = trip_t[tr]
            best_s = trip_s[tr]
            e = egress_time[v]
            if e < INF and a + e < best:
                best = a + e
                best_s = egress_site[v]
            for k in range(fp_indptr[v], fp_indptr[v + 1]):
                w = fp_to[k]
                n = prof_n[w]
                if n == 0:
                    continue
                off = prof_offset[w]
                j = _last_at_or_after(prof_dep, off, n, a + fp_time[k])
                if j >= 0 and prof_arr[off + j] < best:
                    best = prof_arr[off + j]
                    best_s = prof_site[off + j]
            trip_t[tr] = best
            trip_s[tr] = best_s
        if c_pickup[i]:
            t_on = trip_t[tr]
            if t_on < INF:
                u = c_dep_stop[i]
                off = prof_offset[u]
                n = prof_n[u]
                if n == 0 or t_on < prof_arr[off + n - 1]:
                    if n > 0 and prof_dep[off + n - 1] == c_dep[i]:
                        prof_arr[off + n - 1] = t_on
                        prof_site[off + n - 1] = trip_s[tr]
                    else:
                        prof_dep[off + n] = c_dep[i]
                        prof_arr[off + n] = t_on
                        prof_site[off + n] = trip_s[tr]
                        prof_n[u] = n + 1
    return prof_dep, prof_arr, prof_site, prof_n


@_jit
def _evaluate(
    prof_dep: np.ndarray,
    prof_arr: np.ndarray,
    prof_site: np.ndarray,
    prof_offset: np.ndarray,
    prof_n: np.ndarray,
    acc_indptr: np.ndarray,
    acc_stop: np.ndarray,
    acc_time: np.ndarray,
    departures: np.ndarray,
    direct_time: np.ndarray,
    direct_site: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    n_o = len(acc_indptr) - 1
    n_k = len(departures)
    out = np.full((n_o, n_k), INF, dtype=np.int64)
    site = np.full((n_o, n_k), -1, dtype=np.int64)
    for o in range(n_o):
        for k in range(n_k):
            tau = departures[k]
            best = INF
            best_s = -1
            if direct_time[o] < INF:
                best = tau + direct_time[o]
                best_s = direct_site[o]
            for j in range(acc_indptr[o], acc_indptr[o + 1]):
                s = acc_stop[j]
                n = prof_n[s]
                if n == 0:
                    continue
                off = prof_offset[s]
                idx = _last_at_or_after(prof_dep, off, n, tau + acc_time[j])
                if idx >= 0 and prof_arr[off + idx] < best:
                    best = prof_arr[off + idx]
                    best_s = prof_site[off + idx]
            out[o, k] = best
            site[o, k] = best_s
    return out, site


@dataclass(frozen=True)
class Profiles:
    """Earliest-arrival profiles of every stop towards one set of sites.

    Attributes
    ----------
    offset, count
        Entries of stop ``s`` are positions ``offset[s] : offset[s] + count[s]``.
    dep, arr, site
        Each entry: boarding at the stop at ``dep`` or later gets to site ``site`` at
        ``arr``; along a stop's entries ``dep`` and ``arr`` both decrease.
    t_min, t_max
        Connections leaving in ``[t_min, t_max]`` were scanned.
    """

    offset: np.ndarray
    count: np.ndarray
    dep: np.ndarray
    arr: np.ndarray
    site: np.ndarray
    t_min: int
    t_max: int

    def at(self, stop: int, t: int) -> tuple[int, int]:
        """Earliest site arrival and site when ready to board at ``stop`` at time ``t``.

        Returns ``(INF, -1)`` when nothing leaves at or after ``t`` that gets there.
        """
        off, n = int(self.offset[stop]), int(self.count[stop])
        j = _last_at_or_after(self.dep, off, n, int(t))
        if j < 0:
            return int(INF), -1
        return int(self.arr[off + j]), int(self.site[off + j])


def build_profiles(
    tt: Timetable,
    footpaths: Footpaths,
    egress_time: np.ndarray,
    egress_site: np.ndarray,
    *,
    t_min: int = 0,
    t_max: int | None = None,
) -> Profiles:
    """Run the backward profile scan towards the sites.

    Parameters
    ----------
    tt
        The timetable.
    footpaths
        Transfers between stops (:func:`analysis.transit.timetable.build_footpaths`).
    egress_time
        Per stop, the walking time to its nearest site (``INF`` if none within reach).
    egress_site
        Per stop, that site (``-1`` if none).
    t_min, t_max
        Only connections leaving in ``[t_min, t_max]`` are scanned: ``t_min`` is the
        earliest departure of interest; journeys needing a connection after ``t_max``
        count as not found.

    Returns
    -------
    Profiles
    """
    n = tt.n_stops
    egress_time = np.asarray(egress_time, dtype=np.int64)
    egress_site = np.asarray(egress_site, dtype=np.int64)
    if egress_time.shape != (n,) or egress_site.shape != (n,):
        raise ValidationError("egress arrays must have one value per stop")
    if footpaths.n_stops != n:
        raise ValidationError("footpaths were built for another timetable")
    if len(footpaths.time_s) and int(footpaths.time_s.min()) < 1:
        raise ValidationError("transfer times must be at least one second")
    hi_t = int(INF) if t_max is None else int(t_max)
    lo = int(np.searchsorted(tt.c_dep, t_min, side="left"))
    hi = int(np.searchsorted(tt.c_dep, hi_t, side="right"))
    sel = slice(lo, hi)
    board = tt.c_pickup[sel]
    counts = np.bincount(tt.c_dep_stop[sel][board], minlength=n).astype(np.int64)
    offset = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offset[1:])
    dep, arr, site, count = _profile_scan(
        tt.c_dep_stop, tt.c_arr_stop, tt.c_dep, tt.c_arr, tt.c_trip, tt.c_pickup,
        tt.c_dropoff, lo, hi, tt.n_trips, footpaths.indptr, footpaths.to,
        footpaths.time_s, egress_time, egress_site, offset,
    )  # fmt: skip
    return Profiles(
        offset=offset, count=count, dep=dep, arr=arr, site=site, t_min=int(t_min), t_max=hi_t
    )


def earliest_arrivals(
    profiles: Profiles,
    access: Legs,
    departures: np.ndarray,
    direct_time: np.ndarray,
    direct_site: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Earliest arrival at a site from every origin, for every departure time.

    Parameters
    ----------
    profiles
        From :func:`build_profiles`.
    access
        Legs from the origins to the stops (walking, or driving with park-and-ride).
    departures
        Departure times from the origin, seconds after midnight (all ``>= t_min``).
    direct_time
        Per origin, walking time straight to its nearest site (``INF`` if beyond reach).
    direct_site
        Per origin, that site (``-1`` if none).

    Returns
    -------
    arrival : numpy.ndarray
        ``(n_origins, n_departures)`` arrival times (``INF`` if none).
    site : numpy.ndarray
        The site reached (``-1`` if none).
    """
    departures = np.asarray(departures, dtype=np.int64)
    if len(departures) and int(departures.min()) < profiles.t_min:
        raise ValidationError("a departure time precedes the scanned time range")
    return _evaluate(
        profiles.dep, profiles.arr, profiles.site, profiles.offset, profiles.count,
        access.indptr.astype(np.int64), access.target.astype(np.int64),
        access.time_s.astype(np.int64), departures,
        np.asarray(direct_time, dtype=np.int64), np.asarray(direct_site, dtype=np.int64),
    )  # fmt: skip
