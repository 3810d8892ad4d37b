"""The compiled timetable of one service day: connections, stops and transfers as arrays.

:func:`compile_timetable` turns one or more validated feeds (:mod:`analysis.transit.gtfs`)
into a :class:`Timetable` for a date: every elementary *connection* (a vehicle leaving
one stop and arriving at the next stop of its trip) as numpy arrays sorted by departure
time, which is what the router (:mod:`analysis.transit.router`) scans.

Times are seconds after midnight of the chosen date. Trips of the day before that run
past midnight (GTFS times of ``24:00:00`` and more) appear shifted by −24 h, and trips of
the next day by +24 h, so a window or a journey that crosses midnight is exact.

Several feeds combine: stop and trip ids are prefixed by the feed name
(``sncf_ter_2025-01:StopPoint:…``) and walking transfers between nearby stops of different
feeds are built like any other (:func:`build_footpaths`).

:func:`load_timetable` caches the compiled arrays in ``data/processed/transit`` under a key
made of the feeds' SHA-256, the date and the clip polygon.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from .. import settings
from ..cache import cache_key, load_npz, load_or_build, save_npz
from ..errors import DataMissingError, ValidationError
from ..io import write_json, write_with_checksum
from .gtfs import (
    GtfsFeed,
    check_date,
    feed_checksum,
    parse_gtfs_date,
    read_calendar_range,
    read_gtfs,
)

logger = logging.getLogger(__name__)

#: Bump when the compiled format or its semantics change (invalidates caches).
TIMETABLE_VERSION = 5

#: Seconds in a day.
DAY = 86_400

_ARRAYS = (
    "stop_id", "stop_name", "stop_x", "stop_y", "stop_lon", "stop_lat", "stop_feed",
    "trip_id", "c_dep_stop", "c_arr_stop", "c_dep", "c_arr", "c_trip", "c_pickup",
    "c_dropoff", "tr_from", "tr_to", "tr_type", "tr_time",
)  # fmt: skip


@dataclass(eq=False)
class Timetable:
    """The connections of one service day, sorted by departure time.

    Attributes
    ----------
    date
        The service day; times are seconds after its midnight.
    feeds
        One dict per feed: ``name, path, sha256, start_date, end_date``.
    stop_id, stop_name
        Stop identifiers (prefixed by the feed name) and names.
    stop_x, stop_y
        Lambert-93 coordinates of the stops, metres.
    stop_lon, stop_lat
        WGS84 coordinates.
    stop_feed
        Feed position of each stop.
    trip_id
        Identifier of each trip *instance* (``<feed>:<trip_id>`` and ``@-1``/``@+1`` for
        trips of the day before/after).
    c_dep_stop, c_arr_stop
        Stop of departure and arrival of each connection.
    c_dep, c_arr
        Departure and arrival times, seconds after midnight of ``date``.
    c_trip
        Trip instance of each connection.
    c_pickup, c_dropoff
        Whether boarding at the departure stop / alighting at the arrival stop is allowed.
    tr_from, tr_to, tr_type, tr_time
        Transfers from ``transfers.txt`` between stops of the timetable (GTFS
        ``transfer_type`` and ``min_transfer_time``, ``-1`` if not given).
    meta
        Provenance (feeds, date, clip, counts).
    """

    date: dt.date
    feeds: list[dict[str, Any]]
    stop_id: np.ndarray
    stop_name: np.ndarray
    stop_x: np.ndarray
    stop_y: np.ndarray
    stop_lon: np.ndarray
    stop_lat: np.ndarray
    stop_feed: np.ndarray
    trip_id: np.ndarray
    c_dep_stop: np.ndarray
    c_arr_stop: np.ndarray
    c_dep: np.ndarray
    c_arr: np.ndarray
    c_trip: np.ndarray
    c_pickup: np.ndarray
    c_dropoff: np.ndarray
    tr_from: np.ndarray
    tr_to: np.ndarray
    tr_type: np.ndarray
    tr_time: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_stops(self) -> int:
        """Number of stops."""
        return len(self.stop_id)

    @property
    def n_trips(self) -> int:
        """Number of trip instances."""
        return len(self.trip_id)

    @property
    def n_connections(self) -> int:
        """Number of connections."""
        return len(self.c_dep)

    @property
    def label(self) -> str:
        """Feeds and days, e.g. ``"GTFS sncf_ter_2025-01 on Tue 2025-02-04"``.

        Feeds on different days each state theirs: ``"GTFS a on Tue 2025-02-04 + b on Tue
        2023-05-16"``.
        """
        days = self.feed_days
        if len(set(days)) <= 1 and not any(f.get("supplements") for f in self.feeds):
            names = " + ".join(f["name"] for f in self.feeds)
            return f"GTFS {names} on {self.date.strftime('%a')} {self.date.isoformat()}"
        return "GTFS " + " + ".join(
            f"{f['name']} on {d.strftime('%a')} {d.isoformat()}"
            + (
                f" ({f['service_label']}, what {f['supplements']} lacks)"
                if f.get("supplements")
                else ""
            )
            for f, d in zip(self.feeds, days, strict=True)
        )

    @property
    def feed_days(self) -> list[dt.date]:
        """The service day of each feed (``date`` for feeds compiled on the common day)."""
        return [
            dt.date.fromisoformat(f["service_date"]) if f.get("service_date") else self.date
            for f in self.feeds
        ]

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the arrays to ``path`` (``.npz``) with a checksum side file."""
        return write_with_checksum(path, self.write_arrays)

    def write_arrays(self, tmp: Path) -> None:
        """Write the arrays and metadata to ``tmp`` (``.npz``; see :meth:`save`)."""
        meta = {
            "version": TIMETABLE_VERSION,
            "date": self.date.isoformat(),
            "feeds": self.feeds,
            "meta": self.meta,
        }
        save_npz(
            tmp,
            {
                "_meta": np.array(json.dumps(meta, default=str)),
                **{k: getattr(self, k) for k in _ARRAYS},
            },
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Timetable:
        """Read a timetable written by :meth:`save`."""
        z = load_npz(Path(path))
        meta = json.loads(str(z["_meta"]))
        if meta.get("version") != TIMETABLE_VERSION:
            raise ValidationError("cached timetable has an old format", source=str(path))
        arrays = {k: z[k] for k in _ARRAYS}
        return cls(
            date=dt.date.fromisoformat(meta["date"]),
            feeds=meta["feeds"],
            meta=meta["meta"],
            **arrays,
        )


def _trip_signatures(feed: GtfsFeed, grid_m: float = 250.0) -> np.ndarray:
    """One 64-bit hash per trip of ``feed``: its stops' places (``grid_m`` cells) and times.

    Two trips of different feeds with the same signature are the same vehicle run.
    """
    st = feed.stop_times
    n = len(feed.trips)
    if not len(st):
        return np.zeros(n, dtype=np.uint64)
    stop = st["stop"].to_numpy()
    gx = np.floor(feed.stops["x_l93"].to_numpy(float)[stop] / grid_m).astype(np.int64)
    gy = np.floor(feed.stops["y_l93"].to_numpy(float)[stop] / grid_m).astype(np.int64)
    trip = st["trip"].to_numpy()
    start = np.r_[0, np.flatnonzero(trip[1:] != trip[:-1]) + 1]
    k = np.arange(len(st)) - np.repeat(start, np.diff(np.r_[start, len(st)]))
    with np.errstate(over="ignore"):
        v = (
            gx.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
            ^ gy.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)
            ^ st["dep"].to_numpy().astype(np.uint64) * np.uint64(0x165667B19E3779F9)
            ^ (k.astype(np.uint64) + np.uint64(1)) * np.uint64(0x27D4EB2F165667C5)
        )
        v ^= v >> np.uint64(31)
        v *= np.uint64(0xBF58476D1CE4E5B9)
        v ^= v >> np.uint64(29)
        sig = np.zeros(n, dtype=np.uint64)
        np.add.at(sig, trip, v)
    return sig


def supplement_trips(
    feed: GtfsFeed, primary: GtfsFeed, primary_day: dt.date, *, radius_m: float = 300.0
) -> np.ndarray:
    """Trips of an older ``feed`` that a newer ``primary`` feed lacks (boolean per trip).

    Kept: bus/coach trips (route types 3, 200-299, 700-799) calling at a stop with no stop of
    ``primary`` served on ``primary_day`` within ``radius_m`` — the coach lines the newer
    feed no longer carries. Trains and coaches over served places are left out (they would
    be counted twice).
    """
    st = feed.stop_times
    used = primary.active_trips(primary_day)[primary.stop_times["trip"].to_numpy()]
    pst = np.unique(primary.stop_times["stop"].to_numpy()[used])
    tree = cKDTree(
        np.column_stack(
            [
                primary.stops["x_l93"].to_numpy(float)[pst],
                primary.stops["y_l93"].to_numpy(float)[pst],
            ]
        )
        if len(pst)
        else np.zeros((0, 2))
    )
    xy = np.column_stack([feed.stops["x_l93"].to_numpy(float), feed.stops["y_l93"].to_numpy(float)])
    if len(pst):
        d, _ = tree.query(xy, distance_upper_bound=radius_m)
        lacking = ~np.isfinite(d)
    else:
        lacking = np.ones(len(xy), dtype=bool)
    rt = pd.to_numeric(feed.routes["route_type"], errors="coerce").fillna(-1).to_numpy(int)
    coach_route = (rt == 3) | ((rt >= 200) & (rt < 300)) | ((rt >= 700) & (rt < 800))
    coach_trip = coach_route[feed.trips["route"].to_numpy()]
    keep = np.zeros(len(feed.trips), dtype=bool)
    np.logical_or.at(keep, st["trip"].to_numpy(), lacking[st["stop"].to_numpy()])
    return keep & coach_trip


#: A service day with fewer trips than this share of the feed's usual same weekday warns.
LOW_SERVICE_SHARE = 0.6


def service_level(feed: GtfsFeed, day: dt.date) -> dict[str, Any]:
    """Trips of ``feed`` on ``day`` against its usual (median) same weekday.

    Returns
    -------
    dict
        ``trips``, ``usual_same_weekday`` (median over the same weekdays of the calendar),
        ``weekdays_compared`` and ``warning`` (a sentence, or ``None``).
    """
    lo, hi = feed.date_range
    # trips with at least one connection in the (clipped) feed
    timed = np.bincount(feed.stop_times["trip"].to_numpy(), minlength=len(feed.trips)) >= 2
    d = lo + dt.timedelta(days=(day.weekday() - lo.weekday()) % 7)
    counts = []
    while d <= hi:
        counts.append(int((feed.active_trips(d) & timed).sum()))
        d += dt.timedelta(days=7)
    trips = int((feed.active_trips(day) & timed).sum())
    usual = float(np.median(counts)) if counts else float(trips)
    warning = None
    if usual > 0 and trips < LOW_SERVICE_SHARE * usual:
        warning = (
            f"feed {feed.name!r} runs {trips:,} trips on {day.strftime('%a')} {day.isoformat()}, "
            f"{trips / usual:.0%} of its usual {day.strftime('%A')} ({usual:,.0f} trips, median "
            f"of {len(counts)}); choose another day with --feed-date {feed.name}=YYYY-MM-DD"
        )
    return {
        "trips": trips,
        "usual_same_weekday": usual,
        "weekdays_compared": len(counts),
        "warning": warning,
    }


def compile_timetable(
    feeds: Sequence[GtfsFeed],
    date: str | dt.date,
    feed_days: Sequence[str | dt.date] | None = None,
    supplement_of: Sequence[int | None] | None = None,
) -> Timetable:
    """Compile the connections of one service day from one or more feeds.

    Parameters
    ----------
    feeds
        Validated feeds (see :func:`analysis.transit.gtfs.read_gtfs`); their names must
        differ.
    date
        The service day; must lie inside every feed's calendar unless ``feed_days`` is
        given.
    feed_days
        One service day per feed (see :mod:`analysis.transit.service_days`), each inside
        its feed's calendar; times of every feed are then seconds after the midnight of
        its own day, and ``date`` is the requested (reference) day.
    supplement_of
        Per feed, ``None`` or the position of the newer feed it supplements (an older
        vintage of the same network): only the trips that feed lacks are kept
        (:func:`supplement_trips`), and the feed is labelled "<year> service".

    A trip present in two feeds (same stops, to 250 m, and times) is counted once, in the
    first feed.

    Returns
    -------
    Timetable

    Raises
    ------
    ValidationError
        If the date is outside a feed's calendar (the message names the valid range) or
        two feeds share a name.
    """
    if not feeds:
        raise ValidationError("no GTFS feed given")
    names = [f.name for f in feeds]
    if len(set(names)) != len(names):
        raise ValidationError(f"feeds must have different names, got {names}")
    if feed_days is None:
        day = check_date(feeds, date)
        days = [day] * len(feeds)
    else:
        if len(feed_days) != len(feeds):
            raise ValidationError("feed_days needs one day per feed")
        day = parse_gtfs_date(date)  # type: ignore[arg-type]
        days = [check_date([f], d) for f, d in zip(feeds, feed_days, strict=True)]

    stop_parts: list[pd.DataFrame] = []
    conn_parts: list[dict[str, np.ndarray]] = []
    trip_ids: list[np.ndarray] = []
    tr_parts: list[tuple[np.ndarray, ...]] = []
    n_stops = 0
    n_trip_inst = 0
    roles = list(supplement_of) if supplement_of is not None else [None] * len(feeds)
    seen: set[int] = set()
    kept_trips: list[int] = []
    dropped_dup: list[int] = []
    for fi, feed in enumerate(feeds):
        fday = days[fi]
        trip_keep = np.ones(len(feed.trips), dtype=bool)
        main = roles[fi]
        if main is not None:
            trip_keep &= supplement_trips(feed, feeds[main], days[main])
        sig = _trip_signatures(feed)
        # trips with fewer than two timed stops in the clip have no connection to compare
        timed = np.bincount(feed.stop_times["trip"].to_numpy(), minlength=len(feed.trips)) >= 2
        today = feed.active_trips(fday) & trip_keep & timed
        dup = today & np.isin(sig, np.fromiter(seen, dtype=np.uint64, count=len(seen)))
        trip_keep &= ~dup
        seen.update(int(x) for x in sig[today & ~dup])
        kept_trips.append(int((today & ~dup).sum()))
        dropped_dup.append(int(dup.sum()))
        st = feed.stop_times
        used = np.unique(st["stop"].to_numpy()[trip_keep[st["trip"].to_numpy()]])
        local = np.full(len(feed.stops), -1, dtype=np.int64)
        local[used] = np.arange(len(used)) + n_stops
        s = feed.stops.iloc[used]
        stop_parts.append(
            pd.DataFrame(
                {
                    "stop_id": feed.name + ":" + s["stop_id"].astype(str),
                    "stop_name": s["stop_name"].astype(str),
                    "x": s["x_l93"].to_numpy(),
                    "y": s["y_l93"].to_numpy(),
                    "lon": s["lon"].to_numpy(),
                    "lat": s["lat"].to_numpy(),
                    "feed": fi,
                }
            )
        )
        n_stops += len(used)

        trip = st["trip"].to_numpy()
        same = trip[1:] == trip[:-1]
        i = np.flatnonzero(same)  # connection from row i to row i + 1
        for offset in (-1, 0, 1):
            active = feed.active_trips(fday + dt.timedelta(days=offset)) & trip_keep
            sel = i[active[trip[i]]]
            dep = st["dep"].to_numpy()[sel] + offset * DAY
            arr = st["arr"].to_numpy()[sel + 1] + offset * DAY
            if offset == -1:
                keep = dep >= 0
                sel, dep, arr = sel[keep], dep[keep], arr[keep]
            if not len(sel):
                continue
            trips_here, inst = np.unique(trip[sel], return_inverse=True)
            suffix = {-1: "@-1", 0: "", 1: "@+1"}[offset]
            trip_ids.append(
                feed.name + ":" + feed.trips["trip_id"].to_numpy(str)[trips_here] + suffix
            )
            conn_parts.append(
                {
                    "dep_stop": local[st["stop"].to_numpy()[sel]],
                    "arr_stop": local[st["stop"].to_numpy()[sel + 1]],
                    "dep": dep,
                    "arr": arr,
                    "trip": inst + n_trip_inst,
                    "pos": sel,
                    "pickup": st["pickup"].to_numpy()[sel],
                    "dropoff": st["dropoff"].to_numpy()[sel + 1],
                }
            )
            n_trip_inst += len(trips_here)

        if feed.transfers is not None and len(feed.transfers):
            tr_parts.append(_map_transfers(feed, local))

    levels = [service_level(f, d) for f, d in zip(feeds, days, strict=True)]
    for lv in levels:
        if lv["warning"]:
            logger.warning("%s", lv["warning"])
    stops = pd.concat(stop_parts, ignore_index=True) if stop_parts else pd.DataFrame()
    if conn_parts:
        c = {k: np.concatenate([p[k] for p in conn_parts]) for k in conn_parts[0]}
    else:
        c = {
            k: np.zeros(0, dtype=bool if k in ("pickup", "dropoff") else np.int64)
            for k in ("dep_stop", "arr_stop", "dep", "arr", "trip", "pos", "pickup", "dropoff")
        }
    # Sort by departure; ties within a trip keep the trip's order (the router scans
    # backwards and needs a trip's later connections first).
    order = np.lexsort((c["pos"], c["trip"], c["dep"]))
    if tr_parts:
        tr = [np.concatenate([p[k] for p in tr_parts]) for k in range(4)]
    else:
        tr = [np.zeros(0, dtype=np.int32) for _ in range(4)]
    tt = Timetable(
        date=day,
        feeds=[
            {
                "name": f.name,
                "path": str(f.path),
                "sha256": f.sha256,
                "start_date": f.date_range[0].isoformat(),
                "end_date": f.date_range[1].isoformat(),
                "service_date": d.isoformat(),
                "trips_that_day": levels[i]["trips"],
                "usual_same_weekday_trips": levels[i]["usual_same_weekday"],
                "trips_used": kept,
                "trips_in_an_earlier_feed": dup,
                **(
                    {"supplements": feeds[r].name, "service_label": f"{d.year} service"}
                    if r is not None
                    else {}
                ),
            }
            for i, (f, d, kept, dup, r) in enumerate(
                zip(feeds, days, kept_trips, dropped_dup, roles, strict=True)
            )
        ],
        stop_id=stops["stop_id"].to_numpy(str) if len(stops) else np.zeros(0, dtype="U1"),
        stop_name=stops["stop_name"].to_numpy(str) if len(stops) else np.zeros(0, dtype="U1"),
        stop_x=stops["x"].to_numpy(float) if len(stops) else np.zeros(0),
        stop_y=stops["y"].to_numpy(float) if len(stops) else np.zeros(0),
        stop_lon=stops["lon"].to_numpy(float) if len(stops) else np.zeros(0),
        stop_lat=stops["lat"].to_numpy(float) if len(stops) else np.zeros(0),
        stop_feed=stops["feed"].to_numpy(np.int32) if len(stops) else np.zeros(0, np.int32),
        trip_id=np.concatenate(trip_ids) if trip_ids else np.zeros(0, dtype="U1"),
        c_dep_stop=c["dep_stop"][order].astype(np.int32),
        c_arr_stop=c["arr_stop"][order].astype(np.int32),
        c_dep=c["dep"][order].astype(np.int32),
        c_arr=c["arr"][order].astype(np.int32),
        c_trip=c["trip"][order].astype(np.int32),
        c_pickup=c["pickup"][order].astype(bool),
        c_dropoff=c["dropoff"][order].astype(bool),
        tr_from=tr[0].astype(np.int32),
        tr_to=tr[1].astype(np.int32),
        tr_type=tr[2].astype(np.int32),
        tr_time=tr[3].astype(np.int32),
        meta={
            "notes": [n for f in feeds for n in f.notes],
            "warnings": [lv["warning"] for lv in levels if lv["warning"]],
        },
    )
    logger.info(
        "%s: %d stops, %d trip instances, %d connections",
        tt.label, tt.n_stops, tt.n_trips, tt.n_connections,
    )  # fmt: skip
    return tt


def _map_transfers(feed: GtfsFeed, local: np.ndarray) -> tuple[np.ndarray, ...]:
    """Transfers between used stops; a station stands for each of its platforms."""
    stops = feed.stops
    members: dict[int, list[int]] = {}
    parent_pos = pd.Index(stops["stop_id"]).get_indexer(stops["parent_station"])
    for child, parent in enumerate(parent_pos):
        if local[child] >= 0:
            members.setdefault(child, []).append(int(local[child]))
            if parent >= 0:
                members.setdefault(int(parent), []).append(int(local[child]))
    fr, to, ty, tm = [], [], [], []
    t = feed.transfers
    assert t is not None
    for a, b, k, m in zip(
        t["from_stop"], t["to_stop"], t["transfer_type"], t["min_transfer_time"], strict=True
    ):
        for u in members.get(int(a), []):
            for v in members.get(int(b), []):
                fr.append(u)
                to.append(v)
                ty.append(int(k))
                tm.append(int(m))
    return (np.array(fr), np.array(to), np.array(ty), np.array(tm))


# ---------------------------------------------------------------------------------- footpaths
@dataclass(frozen=True)
class Footpaths:
    """Transfers between stops as CSR arrays (one hop; the stop itself included).

    Attributes
    ----------
    indptr
        Footpaths leaving stop ``s`` are ``to[indptr[s]:indptr[s + 1]]``.
    to
        Stop reached.
    time_s
        Time needed between alighting at ``s`` and boarding at ``to`` (seconds, >= 1).
    """

    indptr: np.ndarray
    to: np.ndarray
    time_s: np.ndarray

    @property
    def n_stops(self) -> int:
        """Number of stops."""
        return len(self.indptr) - 1

    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(from, to, time_s)`` edge arrays."""
        frm = np.repeat(np.arange(self.n_stops), np.diff(self.indptr))
        return frm, self.to, self.time_s


def build_footpaths(
    tt: Timetable,
    *,
    min_transfer_s: int = 180,
    max_transfer_walk_m: float = 400.0,
    walk_speed_kmh: float = 4.5,
    walk_circuity: float = 1.3,
) -> Footpaths:
    """Transfers between stops: staying at a stop, or walking to a nearby one.

    A transfer from a vehicle arriving at stop ``s`` to another vehicle leaving stop ``t``
    needs ``max(min_transfer_s, walking time from s to t)`` seconds, where the walking
    distance is the straight line × ``walk_circuity`` and is at most
    ``max_transfer_walk_m``. ``transfers.txt`` overrides this per stop pair: type 2 sets
    the time to ``min_transfer_time``, type 3 forbids the transfer, types 0 and 1 add the
    pair if it was farther apart. Footpaths are one hop: a transfer is one walk.

    Parameters
    ----------
    tt
        The timetable.
    min_transfer_s
        Minimum time to change vehicles at one stop, seconds (>= 1).
    max_transfer_walk_m
        Longest transfer walk, metres of walking.
    walk_speed_kmh
        Walking speed.
    walk_circuity
        Walking distance over straight-line distance.

    Returns
    -------
    Footpaths
    """
    if min_transfer_s < 1:
        raise ValidationError("min_transfer_s must be at least 1 second")
    if walk_speed_kmh <= 0 or walk_circuity < 1:
        raise ValidationError("walking speed must be positive and circuity at least 1")
    n = tt.n_stops
    speed = walk_speed_kmh / 3.6
    pts = np.column_stack([tt.stop_x, tt.stop_y])
    pairs = np.zeros((0, 2), dtype=np.int64)
    if n and max_transfer_walk_m > 0:
        radius = max_transfer_walk_m / walk_circuity
        pairs = cKDTree(pts).query_pairs(r=radius, output_type="ndarray")
    u = np.concatenate([np.arange(n), pairs[:, 0], pairs[:, 1]]).astype(np.int64)
    v = np.concatenate([np.arange(n), pairs[:, 1], pairs[:, 0]]).astype(np.int64)
    d = np.hypot(tt.stop_x[u] - tt.stop_x[v], tt.stop_y[u] - tt.stop_y[v]) * walk_circuity
    t = np.maximum(np.ceil(d / speed), min_transfer_s).astype(np.int64)
    table = pd.DataFrame({"u": u, "v": v, "t": t})
    if len(tt.tr_from):
        ov = pd.DataFrame(
            {"u": tt.tr_from, "v": tt.tr_to, "type": tt.tr_type, "m": tt.tr_time}
        ).drop_duplicates(["u", "v"], keep="last")
        dist = np.hypot(
            tt.stop_x[ov["u"]] - tt.stop_x[ov["v"]], tt.stop_y[ov["u"]] - tt.stop_y[ov["v"]]
        )
        walk = np.maximum(np.ceil(dist * walk_circuity / speed), min_transfer_s)
        ov["t"] = np.where((ov["type"] == 2) & (ov["m"] >= 0), np.maximum(ov["m"], 1), walk)
        table = table.merge(
            ov[["u", "v", "type", "t"]], on=["u", "v"], how="outer", suffixes=("", "_o")
        )
        table["t"] = table["t_o"].fillna(table["t"])
        table = table[table["type"].fillna(0) != 3]
    table = table.sort_values(["u", "v"])
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(indptr, table["u"].to_numpy(np.int64) + 1, 1)
    np.cumsum(indptr, out=indptr)
    return Footpaths(
        indptr=indptr,
        to=table["v"].to_numpy(np.int64),
        time_s=table["t"].to_numpy().astype(np.int64),
    )


# ---------------------------------------------------------------------------------- loading
def default_gtfs_paths() -> list[Path]:
    """Return the GTFS feeds of the shared data mirror.

    Every ``.zip`` of ``<shared>/gtfs`` (the SNCF TER 2025 feed) then of ``<shared>/gtfs/extra``
    (TGV 2025, TER 2019, TAG, T2C): each runs on its own service day, and an older vintage of
    a network (TER 2019) only for what the newer one lacks (:func:`feed_roles`).
    """
    folder = settings.shared_data_dir / "gtfs"
    paths = sorted(folder.glob("*.zip")) if folder.is_dir() else []
    if (folder / "extra").is_dir():
        paths += sorted((folder / "extra").glob("*.zip"))
    if not paths:
        raise DataMissingError(
            f"no GTFS feed found in {folder}; pass gtfs_paths=[...] (a .zip or a folder of "
            "GTFS .txt files), e.g. the SNCF TER feed from transport.data.gouv.fr"
        )
    return paths


def feed_roles(names: Sequence[str]) -> list[int | None]:
    """Per feed, ``None`` or the position of the newer vintage of the same network.

    Names ``<network>_<YYYY>-<MM>`` of one network (``sncf_ter_2019-09``,
    ``sncf_ter_2025-01``): the newest vintage runs as it is, each older one supplements it.
    """
    import re

    vintage: dict[int, tuple[str, str]] = {}
    for i, n in enumerate(names):
        m = re.fullmatch(r"(.+)_(\d{4}-\d{2})", str(n))
        if m:
            vintage[i] = (m.group(1), m.group(2))
    roles: list[int | None] = [None] * len(names)
    for i, (net, v) in vintage.items():
        newer = [j for j, (n2, v2) in vintage.items() if n2 == net and v2 > v]
        if newer:
            roles[i] = max(newer, key=lambda j: vintage[j][1])
    return roles


def _cache_dir() -> Path:
    return settings.processed_data_dir / "transit"


def _clip_key(clip_l93: Any | None) -> str:
    if clip_l93 is None:
        return "none"
    import shapely

    return hashlib.blake2b(shapely.to_wkb(clip_l93), digest_size=8).hexdigest()


def _calendar_cache(sha256: str) -> Path:
    return _cache_dir() / f"calendar_{sha256[:24]}.json"


def feed_calendar(
    path: str | os.PathLike[str], *, sha256: str | None = None, use_cache: bool = True
) -> dict[str, Any]:
    """Name, checksum and calendar range of a feed (only its calendar files are read).

    Parameters
    ----------
    path
        The feed.
    sha256
        Its checksum if already known.
    use_cache
        Read and write the answer in ``data/processed/transit``.

    Returns
    -------
    dict
        ``name, path, sha256, start_date, end_date`` (ISO dates).
    """
    p = Path(path)
    if not p.exists():
        raise DataMissingError(f"GTFS feed not found: {p}")
    digest = sha256 or feed_checksum(p)
    cache = _calendar_cache(digest)
    if use_cache and cache.exists():
        try:
            info = json.loads(cache.read_text(encoding="utf-8"))
            info["path"] = str(p)
            return info
        except (OSError, ValueError):
            pass
    name, lo, hi = read_calendar_range(p)
    info = {
        "name": name,
        "path": str(p),
        "sha256": digest,
        "start_date": lo.isoformat(),
        "end_date": hi.isoformat(),
    }
    if use_cache:
        write_json(info, cache)
    return info


def load_timetable(
    gtfs_paths: Sequence[str | os.PathLike[str]] | None,
    date: str | dt.date | None,
    *,
    feed_dates: Mapping[str, str | dt.date] | None = None,
    clip_l93: Any | None = None,
    use_cache: bool = True,
) -> Timetable:
    """Read, validate, clip and compile feeds for one date, through the cache.

    Parameters
    ----------
    gtfs_paths
        GTFS feeds (zip or folder); ``None`` for :func:`default_gtfs_paths`.
    date
        Service day for every feed (inside every feed's calendar), or ``None``: each feed
        on its own day (:func:`analysis.transit.service_days.choose_service_days`).
    feed_dates
        Explicit day per feed name (or file stem).
    clip_l93
        Optional polygon (Lambert-93) to clip the feeds to.
    use_cache
        Read and write the compiled timetable in ``data/processed/transit``.

    Returns
    -------
    Timetable

    Raises
    ------
    ValidationError
        Bad feed, or a date outside a feed's calendar (the message names the valid range).
    DataMissingError
        A feed file is missing.
    """
    paths = [Path(p) for p in (gtfs_paths if gtfs_paths is not None else default_gtfs_paths())]
    if not paths:
        raise ValidationError("no GTFS feed given")
    for p in paths:
        if not p.exists():
            raise DataMissingError(f"GTFS feed not found: {p}")
    from .service_days import choose_service_days

    sums = [feed_checksum(p) for p in paths]
    # Choose and check the days against the (cached) calendars before any heavy work.
    infos = [
        feed_calendar(p, sha256=s, use_cache=use_cache) for p, s in zip(paths, sums, strict=True)
    ]
    day, days = choose_service_days(infos, date, feed_dates)
    key = cache_key(
        json.dumps(
            [
                TIMETABLE_VERSION,
                sums,
                day.isoformat(),
                [d.isoformat() for d in days],
                _clip_key(clip_l93),
            ]
        ),
        size=10,
    )
    cache = _cache_dir() / f"timetable_{day.isoformat()}_{key}.npz"

    def build() -> Timetable:
        names: list[str] = []
        feeds = []
        for p in paths:
            feed = read_gtfs(p, clip_l93=clip_l93)
            base, k = feed.name, 2
            while feed.name in names:
                feed.name = f"{base}_{k}"
                k += 1
            names.append(feed.name)
            feeds.append(feed)
        tt = compile_timetable(feeds, day, days, feed_roles(names))
        tt.meta["clip"] = _clip_key(clip_l93)
        return tt

    if not use_cache:
        return build()
    tt = load_or_build(
        cache,
        build=build,
        read=Timetable.load,
        write=lambda tmp, t: t.write_arrays(tmp),
        what="timetable",
        log=logger,
    )
    for f, p in zip(tt.feeds, paths, strict=True):
        f["path"] = str(p)
    return tt
