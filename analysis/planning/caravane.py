"""Caravane and orientation bus: which stops, on which days, in what order.

An organiser gives a base (e.g. Le Puy-en-Velay), a number of days, a stop duration, a
maximum driving time per day and a target public. The target is the public's demand in
*under-served* communes (beyond the profile's threshold from every eligible site today). A
stop (a commune's town hall) *reaches* the target people of the communes within
``reach_min`` of it.

:func:`plan_caravane` picks stops greedily by the target people they newly reach, inserting
each into the day where it adds the least driving (cheapest insertion) if the day's limits
still hold, then orders each day optimally (:func:`order_stops`: exact Held-Karp dynamic
programme up to 11 stops a day, 2-opt beyond) and writes the itinerary: day, stop, arrival
and departure time, people reached.

A stop whose round trip from the base alone exceeds the daily driving limit (farther than
half a day's driving) can never be served: such stops are reported, and a stop the user
imposes that is that far is an error naming it.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import access
from ..crs import position_hint, to_l93, to_lonlat
from ..engine import nearest_sites
from ..errors import ValidationError
from ..present.outputs import OutputSet
from . import common
from .siting import cost_matrix

logger = logging.getLogger(__name__)

#: Largest number of stops a day ordered exactly (Held-Karp); 2-opt beyond.
EXACT_ORDER_MAX = 11


# ---------------------------------------------------------------------------------- ordering
def tour_length(matrix: np.ndarray, order: Sequence[int], *, base: int = 0) -> float:
    """Driving time of the closed tour ``base → order… → base`` on a time matrix."""
    seq = [base, *order, base]
    return float(sum(matrix[a, b] for a, b in itertools.pairwise(seq)))


def order_stops(
    matrix: np.ndarray,
    stops: Sequence[int] | None = None,
    *,
    base: int = 0,
    exact_max: int = EXACT_ORDER_MAX,
) -> tuple[list[int], float]:
    """Find the order of visiting stops from a base and back that minimises driving.

    Parameters
    ----------
    matrix
        Square time matrix (may be asymmetric); ``matrix[a, b]`` is the time from a to b.
    stops
        Indices of the stops to visit (default: every index except ``base``).
    base
        Index of the base.
    exact_max
        Up to this many stops the order is exact (Held-Karp dynamic programme); beyond, a
        nearest-neighbour tour improved by 2-opt and relocation moves.

    Returns
    -------
    order : list of int
        The stops in visiting order.
    total : float
        The tour's driving time (``inf`` if some leg is impossible).
    """
    m = np.asarray(matrix, dtype=float)
    if stops is None:
        stops = [i for i in range(m.shape[0]) if i != base]
    stops = list(stops)
    n = len(stops)
    if n == 0:
        return [], 0.0
    if n == 1:
        return stops, tour_length(m, stops, base=base)
    if n <= exact_max:
        return _held_karp(m, stops, base)
    return _two_opt(m, stops, base)


def _held_karp(m: np.ndarray, stops: list[int], base: int) -> tuple[list[int], float]:
    n = len(stops)
    idx = np.asarray(stops)
    sub = m[np.ix_(idx, idx)]
    start = m[base, idx]
    back = m[idx, base]
    size = 1 << n
    cost = np.full((size, n), np.inf)
    parent = np.full((size, n), -1, dtype=np.int64)
    bits = np.arange(n)
    for j in range(n):
        cost[1 << j, j] = start[j]
    # Subsets in increasing order: every subset's predecessors come first.
    for s in range(1, size):
        row = cost[s]
        if not np.isfinite(row).any():
            continue
        members = [j for j in range(n) if s >> j & 1]
        for j in members:
            if not np.isfinite(row[j]):
                continue
            outside = np.flatnonzero((s >> bits) & 1 == 0)
            if len(outside) == 0:
                continue
            via = row[j] + sub[j, outside]
            s2 = s | (1 << outside)
            better = via < cost[s2, outside]
            cost[s2[better], outside[better]] = via[better]
            parent[s2[better], outside[better]] = j
    full = size - 1
    totals = cost[full] + back
    last = int(np.argmin(totals))
    best = float(totals[last])
    if not np.isfinite(best):
        return stops, np.inf
    order = []
    s, j = full, last
    while j >= 0:
        order.append(stops[j])
        pj = int(parent[s, j])
        s ^= 1 << j
        j = pj
    order.reverse()
    return order, best


def _two_opt(m: np.ndarray, stops: list[int], base: int) -> tuple[list[int], float]:
    left = list(stops)
    order: list[int] = []
    cur = base
    while left:
        nxt = min(left, key=lambda s: (m[cur, s], s))
        order.append(nxt)
        left.remove(nxt)
        cur = nxt
    best = tour_length(m, order, base=base)
    improved = True
    while improved:
        improved = False
        for i in range(len(order) - 1):
            for j in range(i + 1, len(order)):
                cand = order[:i] + order[i : j + 1][::-1] + order[j + 1 :]
                c = tour_length(m, cand, base=base)
                if c < best - 1e-9:
                    order, best, improved = cand, c, True
        for i in range(len(order)):
            for j in range(len(order)):
                if i == j:
                    continue
                cand = order[:i] + order[i + 1 :]
                cand.insert(j, order[i])
                c = tour_length(m, cand, base=base)
                if c < best - 1e-9:
                    order, best, improved = cand, c, True
    return order, best


# ---------------------------------------------------------------------------------- result
@dataclass
class CaravaneResult:
    """A caravane plan.

    Attributes
    ----------
    base
        ``name, insee, lon, lat`` of the base.
    days, profile_key
        What was asked.
    itinerary
        One row per departure, stop and return: ``day, seq, kind, stop_id, name, insee,
        lon, lat, arrive, depart, drive_min, day_drive_min, target_reached,
        communes_reached, times_are, model``.
    communes
        Every commune: ``insee, nom, dep, target, underserved, reached_by,
        time_to_stop_min``, polygons.
    excluded
        Candidate stops with target people that were left out, and why.
    summary
        Headline figures.
    estimated, provenance, notes
        Labels.
    """

    base: dict[str, Any]
    days: int
    profile_key: str
    itinerary: pd.DataFrame
    communes: gpd.GeoDataFrame
    excluded: pd.DataFrame
    summary: dict[str, Any]
    estimated: bool
    provenance: str
    times_are: str = "estimated"
    notes: list[str] = field(default_factory=list)

    def export(self, out_dir: str | Path, *, overwrite: bool = False) -> dict[str, Path]:
        """Write itinerary, communes, excluded stops (CSV + GeoPackage) and the map."""
        from ..present.outputs import write_output_set

        return write_output_set(out_dir, self.output_set(), overwrite=overwrite)

    def output_set(self) -> OutputSet:
        """Return what :meth:`export` writes (the app's downloads are the same files)."""
        it = self.itinerary
        it_g = gpd.GeoDataFrame(
            it, geometry=gpd.points_from_xy(it["lon"], it["lat"]), crs="EPSG:4326"
        )
        return OutputSet(
            tables={
                "itinerary": it,
                "communes": self.communes,
                "excluded": self.excluded,
                "summary": pd.DataFrame([self.summary]),
            },
            layers={"itinerary": it_g, "communes": self.communes},
            kind="caravane",
            map_builder=self.map,
            documents={"programme": self.programme_html},
            metadata={
                "tool": "caravane / orientation bus tours",
                "base": self.base,
                "days": self.days,
                "profile": self.profile_key,
                "times_are": self.times_are,
                "provenance": self.provenance,
                "summary": self.summary,
                "notes": self.notes,
            },
            provenance=self.provenance,
            times_are=self.times_are,
        )

    def programme_html(self) -> str:
        """Return the printable programme (one block per day, dated in a season)."""
        from ..present.documents import caravane_programme

        return caravane_programme(self)

    def map(self, *, basemap: str = "none") -> Any:
        """Return a folium map of the tours."""
        from ..present.planner_maps import caravane_map

        return caravane_map(self, basemap=basemap)


# ---------------------------------------------------------------------------------- planning
def _parse_clock(value: str) -> int:
    try:
        h, m = str(value).strip().split(":")
        minutes = int(h) * 60 + int(m)
    except ValueError:
        raise ValidationError(f"day start must look like 09:00, not {value!r}") from None
    if not 0 <= minutes < 24 * 60:
        raise ValidationError(f"day start must lie between 00:00 and 23:59, not {value!r}")
    return minutes


def _clock(minutes: float) -> str:
    m = round(minutes)
    day, m = divmod(m, 24 * 60)
    s = f"{m // 60:02d}:{m % 60:02d}"
    return s if day == 0 else f"{s} (+{day}d)"


def resolve_base(base: Any, communes: gpd.GeoDataFrame) -> dict[str, Any]:
    """Resolve a base given as a commune (INSEE code or name) or a ``(lon, lat)`` pair.

    Raises
    ------
    ValidationError
        If the commune is unknown or the point lies outside the region.
    """
    if isinstance(base, str):
        i, x, y = common.commune_position(base, communes)
        lon, lat = to_lonlat(x, y)
        return {
            "name": str(communes["nom"].iloc[i]),
            "insee": str(communes["insee"].iloc[i]),
            "lon": float(lon),
            "lat": float(lat),
            "x_l93": x,
            "y_l93": y,
        }
    try:
        lon, lat = (float(v) for v in base)
    except (TypeError, ValueError):
        raise ValidationError(
            f"the base must be a commune (INSEE code or name) or (lon, lat), not {base!r}"
        ) from None
    if not common.in_region(np.array([lon]), np.array([lat]), communes)[0]:
        raise ValidationError(
            f"the base ({lon:.5f}, {lat:.5f}) lies outside Auvergne-Rhône-Alpes "
            f"{position_hint(lon, lat)}".rstrip()
            + "; choose a base in the region"
        )
    x, y = to_l93(lon, lat)
    x, y = float(x), float(y)
    d2 = (communes["x_l93"].to_numpy(float) - x) ** 2 + (communes["y_l93"].to_numpy(float) - y) ** 2
    i = int(np.argmin(d2))
    return {
        "name": f"point near {communes['nom'].iloc[i]}",
        "insee": str(communes["insee"].iloc[i]),
        "lon": lon,
        "lat": lat,
        "x_l93": x,
        "y_l93": y,
    }


class _Times:
    """Driving times between the base and candidate stops, computed on demand."""

    def __init__(
        self, model: Any, nodes: np.ndarray, offsets: np.ndarray, *, limit_s: float = np.inf
    ) -> None:
        self.model = model
        self.nodes = nodes  # node of each point (0 = base, 1.. = candidates)
        self.offsets = offsets
        self._rows: dict[int, np.ndarray] = {}
        g = model.graph
        self.limit = limit_s
        base = np.array([int(nodes[0])])
        fwd = nearest_sites(g, base, direction="from_sites", limit=limit_s).time_s
        rev = nearest_sites(g, base, direction="to_sites", limit=limit_s).time_s
        self.out = offsets[0] + fwd[nodes] + offsets  # base → point
        self.back = offsets + rev[nodes] + offsets[0]  # point → base
        self.out[0] = self.back[0] = 0.0

    def row(self, i: int) -> np.ndarray:
        """Time from point ``i`` to every point."""
        if i == 0:
            return self.out
        if i not in self._rows:
            d = nearest_sites(
                self.model.graph,
                np.array([int(self.nodes[i])]),
                direction="from_sites",
                limit=self.limit,
            ).time_s
            r = self.offsets[i] + d[self.nodes] + self.offsets
            r[i] = 0.0
            r[0] = self.back[i]
            self._rows[i] = r
        return self._rows[i]

    def t(self, a: int, b: int) -> float:
        """Time from point ``a`` to point ``b``."""
        if a == b:
            return 0.0
        if b == 0:
            return float(self.back[a])
        return float(self.row(a)[b])

    def matrix(self, points: Sequence[int]) -> np.ndarray:
        """Time matrix between ``points`` (first should be the base)."""
        pts = list(points)
        return np.array([[self.t(a, b) for b in pts] for a in pts])


def plan_caravane(
    model: Any,
    sites: pd.DataFrame,
    communes: gpd.GeoDataFrame,
    *,
    base: str | tuple[float, float],
    days: int,
    stop_min: float,
    max_drive_min: float,
    profile: str,
    profiles: Any = None,
    reach_min: float = 20.0,
    underserved_min: float | None = None,
    day_start: str = "09:00",
    max_day_min: float | None = 480.0,
    max_stops_per_day: int | None = None,
    stops: Sequence[str] | None = None,
    stop_points: pd.DataFrame | None = None,
    dates: Sequence[Any] | None = None,
) -> CaravaneResult:
    """Choose the stops of a caravane and order them into daily tours from a base.

    Parameters
    ----------
    model
        The road model (a bus drives).
    sites
        The site directory (the profile's eligible sites define who is under-served).
    communes
        The communes.
    base
        Commune (INSEE code or name) or ``(lon, lat)`` inside the region.
    days
        Number of days.
    stop_min
        Duration of each stop, minutes.
    max_drive_min
        Maximum driving time per day (base → stops → base), minutes.
    profile
        Target public (profile key); unknown keys list the valid ones.
    profiles
        ``{key: Profile}`` (default: the profiles file).
    reach_min
        A stop reaches the communes within this time of it.
    underserved_min
        A commune is under-served beyond this time from every eligible site (default: the
        profile's road threshold).
    day_start
        Departure time from the base, ``"HH:MM"``.
    max_day_min
        Limit of each day's length (driving + stops), minutes (default 8 hours; ``None``
        for no limit).
    max_stops_per_day
        Optional limit of stops per day.
    stops
        Impose these stops (INSEE codes or names; with ``stop_points``, their ``stop_id``)
        instead of choosing them: they are only assigned to days and ordered.
    stop_points
        Candidate stops other than the town halls, e.g. the collèges
        (:func:`college_stops`): columns ``stop_id``, ``name``, ``insee``, ``x_l93``,
        ``y_l93`` and ``audience`` (people met at the stop itself: the collège's pupils),
        added to the under-served target reached around it.
    dates
        The programme's days (e.g. :func:`analysis.planning.school_days.school_days`):
        ``days`` is then their number and the itinerary carries each day's ``date``.

    Returns
    -------
    CaravaneResult

    Raises
    ------
    ValidationError
        Base outside the region or unknown, impossible limits, an imposed stop farther than
        half a day's driving, or no stop within reach at all.
    """
    if not common.is_road_model(model):
        raise ValidationError("the caravane needs a road model (a bus drives)")
    access.check_origins(model, communes)
    if dates is not None:
        dates = [str(d) for d in dates]
        if not dates:
            raise ValidationError("the programme has no day: give at least one date")
        days = len(dates)
    if isinstance(days, bool) or int(days) != days or days < 1:
        raise ValidationError(f"the number of days must be a positive whole number, not {days}")
    days = int(days)
    for name, v in (
        ("stop duration", stop_min),
        ("maximum driving time", max_drive_min),
        ("reach", reach_min),
    ):
        if not np.isfinite(v) or v <= 0:
            raise ValidationError(f"the {name} must be a positive number of minutes, not {v}")
    if max_day_min is not None and stop_min > max_day_min:
        raise ValidationError(
            f"a stop lasts {stop_min:g} min, longer than the {max_day_min:g}-min day"
        )
    if max_stops_per_day is not None and max_stops_per_day < 1:
        raise ValidationError("max_stops_per_day must be at least 1")
    start_min = _parse_clock(day_start)
    profs = common.profile_map(profiles)
    prof = common.get_profile(profile, profs)
    b = resolve_base(base, communes)

    # Under-served target.
    base_pass = access.baseline_pass(
        model, sites, communes, prof, threshold_min=underserved_min, mode="road", allow_empty=True
    )
    thr_s = base_pass.threshold_s
    demand = base_pass.demand
    today = base_pass.time_s
    under = base_pass.underserved  # communes outside the model's data are no target
    target = np.where(under, demand, 0.0)
    tgt_rows = np.flatnonzero(target > 0)

    # Candidate stops: town halls (commune origin points), or the given stop points.
    cands = _candidate_stops(communes, stops, stop_points)
    c_x, c_y = cands["x_l93"].to_numpy(float), cands["y_l93"].to_numpy(float)
    c_names = cands["name"].astype(str).to_numpy(object)
    c_codes = cands["insee"].astype(str).to_numpy(object)
    c_ids = cands["stop_id"].astype(str).to_numpy(object)
    own = cands["audience"].to_numpy(float)
    reach_s = 60.0 * reach_min
    cm = cost_matrix(model, c_x, c_y, limit_s=reach_s, origins=tgt_rows).times_s
    reach_gain = np.asarray(cm.astype(bool).astype(float) @ target[tgt_rows]).ravel() + own
    if stops is None:
        keep = reach_gain > 0
        cm, reach_gain, own = cm[keep], reach_gain[keep], own[keep]
        c_x, c_y, c_names, c_codes, c_ids = (a[keep] for a in (c_x, c_y, c_names, c_codes, c_ids))

    # Snap base and stops; driving times from/to the base.
    snap = model.snap_sites(np.append(b["x_l93"], c_x), np.append(b["y_l93"], c_y))
    if snap.too_far[0]:
        raise ValidationError(f"the base {b['name']} is too far from the road network")
    drive_s = 60.0 * max_drive_min
    times = _Times(
        model, np.where(snap.too_far, snap.node[0], snap.node), snap.offset_s, limit_s=drive_s
    )
    day_s = None if max_day_min is None else 60.0 * max_day_min
    stop_s = 60.0 * stop_min
    round_trip = times.out[1:] + times.back[1:]
    feasible = (round_trip <= drive_s) & ~snap.too_far[1:]
    if day_s is not None:
        feasible &= round_trip + stop_s <= day_s
    names = communes["nom"].to_numpy(object)
    codes = communes["insee"].astype(str).to_numpy()
    excluded: list[dict[str, Any]] = []
    for p in np.flatnonzero(~feasible):
        why = (
            "too far from the road network"
            if snap.too_far[1 + p]
            else f"round trip from the base {round_trip[p] / 60:.0f} min > daily driving "
            f"limit {max_drive_min:g} min (farther than half a day's driving)"
            if round_trip[p] > drive_s
            else f"round trip {round_trip[p] / 60:.0f} min + stop {stop_min:g} min > day "
            f"length {max_day_min:g} min"
        )
        excluded.append(
            {
                "insee": c_codes[p],
                "nom": c_names[p],
                "target_in_reach": reach_gain[p],
                "round_trip_min": round_trip[p] / 60.0,
                "reason": why,
            }
        )
    if stops is not None and excluded:
        bad = "; ".join(f"{e['nom']} ({e['insee']}): {e['reason']}" for e in excluded)
        raise ValidationError(f"impossible stop(s) for these limits: {bad}")
    if stops is None and not feasible.any():
        if len(c_x) == 0:
            raise ValidationError(
                f"no under-served {prof.key} population within {reach_min:g} min of any "
                "commune: nothing for the caravane to reach"
            )
        best = int(np.argmin(round_trip))
        raise ValidationError(
            f"no stop can be served within {max_drive_min:g} min of driving a day: the "
            f"nearest useful stop, {c_names[best]}, is {round_trip[best] / 60:.0f} min "
            "there and back (farther than half a day's driving); raise the daily driving limit "
            "or choose another base"
        )

    # Greedy selection with cheapest insertion.
    tours: list[list[int]] = [[] for _ in range(days)]  # point indices (1-based)
    drive = [0.0] * days
    reached = np.zeros(cm.shape[1], dtype=bool)
    indptr, indices = cm.indptr, cm.indices
    w = target[tgt_rows]

    def gain(p: int) -> float:
        cols = indices[indptr[p] : indptr[p + 1]]
        return float(w[cols[~reached[cols]]].sum()) + own[p]

    def best_insertion(pt: int) -> tuple[float, int, int] | None:
        best = None
        for d in range(days):
            tour = tours[d]
            if max_stops_per_day is not None and len(tour) >= max_stops_per_day:
                continue
            seq = [0, *tour, 0]
            for pos in range(len(seq) - 1):
                a, c = seq[pos], seq[pos + 1]
                add = times.t(a, pt) + times.t(pt, c) - times.t(a, c)
                if drive[d] + add > drive_s + 1e-6:
                    continue
                if day_s is not None and drive[d] + add + stop_s * (len(tour) + 1) > day_s + 1e-6:
                    continue
                if best is None or (add, d, pos) < best:
                    best = (add, d, pos)
        return best

    no_room: list[int] = []
    if stops is not None:
        order = sorted(range(len(c_x)), key=lambda p: -round_trip[p])
        for p in order:
            ins = best_insertion(p + 1)
            if ins is None:
                no_room.append(p)
                continue
            add, d, pos = ins
            tours[d].insert(pos, p + 1)
            drive[d] += add
            reached[indices[indptr[p] : indptr[p + 1]]] = True
        if no_room:
            bad = ", ".join(f"{c_names[p]} ({c_codes[p]})" for p in no_room)
            raise ValidationError(
                f"the imposed stops do not fit in {days} day(s) within the limits: {bad} left "
                "over; add days or raise the limits"
            )
    else:
        heap = [(-reach_gain[p], p) for p in np.flatnonzero(feasible).tolist()]
        heapq.heapify(heap)
        while heap:
            _, p = heapq.heappop(heap)
            g = gain(p)
            if heap and (-g, p) > heap[0]:
                heapq.heappush(heap, (-g, p))
                continue
            if g <= 0:
                break
            ins = best_insertion(p + 1)
            if ins is None:
                no_room.append(p)
                continue
            add, d, pos = ins
            tours[d].insert(pos, p + 1)
            drive[d] += add
            reached[indices[indptr[p] : indptr[p + 1]]] = True
        for p in no_room:
            excluded.append(
                {
                    "insee": c_codes[p],
                    "nom": c_names[p],
                    "target_in_reach": reach_gain[p],
                    "round_trip_min": round_trip[p] / 60.0,
                    "reason": "no room left in the days' limits",
                }
            )

    # Order each day optimally.
    for d in range(days):
        if tours[d]:
            pts = [0, *tours[d]]
            mat = times.matrix(pts)
            order, total = order_stops(mat, base=0)
            tours[d] = [pts[i] for i in order]
            drive[d] = total

    # Itinerary, attributing each reached commune to the first stop that reaches it.
    t_are = access.times_are_label(model)
    label = getattr(model, "label", "road")
    rows: list[dict[str, Any]] = []
    reached_by = np.full(len(communes), None, dtype=object)
    t_stop = np.full(len(communes), np.nan)
    for d in range(days):
        if not tours[d]:
            continue
        clock = float(start_min)
        rows.append(
            _row(d + 1, 0, "depart", b, "", clock, clock, 0.0, drive[d], 0.0, 0, t_are, label)
        )
        day_rows_from = len(rows) - 1
        prev = 0
        for seq, pt in enumerate(tours[d], start=1):
            leg = times.t(prev, pt)
            clock += leg / 60.0
            p = pt - 1
            cols = indices[indptr[p] : indptr[p + 1]]
            com = tgt_rows[cols]
            new = np.array([reached_by[c] is None for c in com], dtype=bool)
            sid = f"D{d + 1}S{seq}-{c_ids[p]}"
            reached_by[com[new]] = sid
            t_stop[com[new]] = cm.data[indptr[p] : indptr[p + 1]][new] / 60.0
            lon, lat = to_lonlat(c_x[p], c_y[p])
            place = {"name": str(c_names[p]), "insee": c_codes[p], "lon": float(lon),
                     "lat": float(lat), "audience": float(own[p])}  # fmt: skip
            rows.append(
                _row(
                    d + 1,
                    seq,
                    "stop",
                    place,
                    sid,
                    clock,
                    clock + stop_min,
                    leg / 60.0,
                    drive[d],
                    float(target[com[new]].sum()),
                    int(new.sum()),
                    t_are,
                    label,
                )
            )
            clock += stop_min
            prev = pt
        leg = times.t(prev, 0)
        clock += leg / 60.0
        rows.append(
            _row(
                d + 1,
                len(tours[d]) + 1,
                "return",
                b,
                "",
                clock,
                clock,
                leg / 60.0,
                drive[d],
                0.0,
                0,
                t_are,
                label,
            )
        )
        if dates is not None:
            for row in rows[day_rows_from:]:
                row["date"] = dates[d]
    itinerary = pd.DataFrame(rows, columns=_ITIN_COLS)
    ctab = gpd.GeoDataFrame(
        {
            "insee": codes,
            "nom": names,
            "dep": communes["dep"].to_numpy(),
            "demand": demand,
            "time_today_min": today / 60.0,
            "underserved": under,
            "target": target,
            "reached_by": reached_by,
            "time_to_stop_min": t_stop,
            "times_are": t_are,
        },
        geometry=communes.geometry.to_numpy(),
        crs=communes.crs,
    )
    excl = pd.DataFrame(
        excluded, columns=["insee", "nom", "target_in_reach", "round_trip_min", "reason"]
    ).sort_values("target_in_reach", ascending=False, kind="stable")
    total_target = float(target.sum())
    got = float(target[pd.notna(reached_by)].sum())
    n_stops = sum(len(t) for t in tours)
    notes = []
    far = excl["reason"].str.contains("half a day").sum() if len(excl) else 0
    if far:
        notes.append(
            f"{far} candidate stop(s) with target people lie farther than half a day's driving "
            f"from {b['name']} (round trip > {max_drive_min:g} min) and cannot be served"
        )
    if t_are == "estimated":
        notes.append("Driving times come from an ESTIMATED road network; times are approximate.")
    summary = {
        "base": b["name"],
        "days": days,
        "days_used": sum(1 for t in tours if t),
        "stops": n_stops,
        "profile": prof.key,
        "underserved_threshold_min": thr_s / 60.0,
        "reach_min": reach_min,
        "stop_min": stop_min,
        "max_drive_min": max_drive_min,
        "target_total": total_target,
        "target_reached": got,
        "share_reached": got / total_target if total_target > 0 else np.nan,
        "audience_met": float(itinerary["audience"].sum()),
        "stops_kind": "town halls" if stop_points is None else "given stop points",
        "season": f"{dates[0]} → {dates[-1]} ({len(dates)} school days)" if dates else "",
        "drive_min_per_day": "; ".join(f"{v / 60:.0f}" for v in drive),
        "times_are": t_are,
        "model": label,
    }
    prov = common.provenance({"road": model}, base_pass.sites)
    return CaravaneResult(
        base=b,
        days=days,
        profile_key=prof.key,
        itinerary=itinerary,
        communes=ctab,
        excluded=excl.reset_index(drop=True),
        summary=summary,
        estimated=t_are != "measured",
        times_are=t_are,
        provenance=prov,
        notes=notes,
    )


_ITIN_COLS = [
    "date",
    "day",
    "seq",
    "kind",
    "stop_id",
    "name",
    "insee",
    "lon",
    "lat",
    "arrive",
    "depart",
    "drive_min",
    "day_drive_min",
    "target_reached",
    "audience",
    "communes_reached",
    "times_are",
    "model",
]


def _candidate_stops(
    communes: gpd.GeoDataFrame, stops: Sequence[str] | None, stop_points: pd.DataFrame | None
) -> pd.DataFrame:
    """Candidate stops: the town halls, or the given stop points; imposed ones only if any."""
    if stop_points is None:
        rows = np.arange(len(communes))
        if stops is not None:
            rows = np.array([common.commune_position(s, communes)[0] for s in stops], np.int64)
            if len(set(rows.tolist())) != len(rows):
                raise ValidationError("a stop is given twice")
        c = communes.iloc[rows]
        return pd.DataFrame(
            {
                "stop_id": c["insee"].astype(str).to_numpy(),
                "name": c["nom"].astype(str).to_numpy(),
                "insee": c["insee"].astype(str).to_numpy(),
                "x_l93": c["x_l93"].to_numpy(float),
                "y_l93": c["y_l93"].to_numpy(float),
                "audience": 0.0,
            }
        )
    need = ("stop_id", "name", "insee", "x_l93", "y_l93", "audience")
    missing = [c for c in need if c not in stop_points.columns]
    if missing:
        raise ValidationError(f"the stop points lack column(s) {', '.join(missing)}")
    pts = pd.DataFrame(stop_points[list(need)]).reset_index(drop=True)
    if stops is not None:
        wanted = [str(s) for s in stops]
        unknown = [s for s in wanted if s not in set(pts["stop_id"].astype(str))]
        if unknown:
            raise ValidationError(f"unknown stop(s) {', '.join(unknown)} among the stop points")
        if len(set(wanted)) != len(wanted):
            raise ValidationError("a stop is given twice")
        pts = pts.set_index(pts["stop_id"].astype(str)).loc[wanted].reset_index(drop=True)
    return pts


def college_stops(colleges: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return the collèges as caravane stops: their pupils are the audience met there.

    Parameters
    ----------
    colleges
        :func:`analysis.schools.load_colleges` (loaded if not given); those without a
        position are left out.

    Returns
    -------
    pandas.DataFrame
        ``stop_id`` (UAI), ``name``, ``insee``, ``x_l93``, ``y_l93``, ``audience``.
    """
    if colleges is None:
        from ..schools import load_colleges

        colleges = load_colleges()
    c = colleges[colleges["has_position"].astype(bool)]
    return pd.DataFrame(
        {
            "stop_id": c["uai"].astype(str).to_numpy(),
            "name": c["name"].astype(str).to_numpy(),
            "insee": c["insee"].astype(str).to_numpy(),
            "x_l93": c["x_l93"].to_numpy(float),
            "y_l93": c["y_l93"].to_numpy(float),
            "audience": c["pupils"].to_numpy(float),
        }
    )


def _row(
    day: int,
    seq: int,
    kind: str,
    place: dict[str, Any],
    sid: str,
    arrive: float,
    depart: float,
    leg_min: float,
    day_drive_s: float,
    target: float,
    n: int,
    t_are: str,
    label: str,
) -> dict[str, Any]:
    return {
        "date": "",
        "day": day,
        "seq": seq,
        "kind": kind,
        "stop_id": sid,
        "name": place["name"],
        "insee": place["insee"],
        "lon": place["lon"],
        "lat": place["lat"],
        "arrive": _clock(arrive) if kind != "depart" else "",
        "depart": _clock(depart) if kind != "return" else "",
        "drive_min": round(leg_min, 1),
        "day_drive_min": round(day_drive_s / 60.0, 1),
        "target_reached": target,
        "audience": place.get("audience", 0.0),
        "communes_reached": n,
        "times_are": t_are,
        "model": label,
    }
