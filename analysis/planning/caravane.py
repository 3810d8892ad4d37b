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
from ..access import AccessModel
from ..crs import position_hint, to_l93, to_lonlat
from ..engine import nearest_sites
from ..errors import ValidationError
from ..present.documents import caravane_programme
from ..present.outputs import OutputSet, write_output_set
from ..present.planner_maps import caravane_map
from ..road_model import RoadModel
from ..schools import load_colleges
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
        return caravane_programme(self)

    def map(self, *, basemap: str = "none") -> Any:
        """Return a folium map of the tours."""
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
        lo, la = to_lonlat(x, y)
        return {
            "name": str(communes["nom"].iloc[i]),
            "insee": str(communes["insee"].iloc[i]),
            "lon": float(lo),
            "lat": float(la),
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
    xa, ya = to_l93(lon, lat)
    x, y = float(xa), float(ya)
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
        self, model: RoadModel, nodes: np.ndarray, offsets: np.ndarray, *, limit_s: float = np.inf
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
    model: AccessModel,
    sites: pd.DataFrame,
    communes: gpd.GeoDataFrame,
    *,
    base: str | tuple[float, float],
    days: int,
    stop_min: float,
    max_drive_min: float,
    profile: str,
    profiles: common.ProfilesArg = None,
    reach_min: float = 20.0,
    underserved_min: float | None = None,
    day_start: str = "09:00",
    max_day_min: float | None = 480.0,
    max_stops_per_day: int | None = None,
    max_visits: int = 1,
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
    max_visits
        How many times one stop (e.g. a collège) may be visited over the plan, on different
        days (default once a season). A revisit meets the stop's own people again (its
        ``audience``) but reaches no new under-served target; ``audience_met`` in the
        summary counts each stop's people once.
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
    days, dates = _check_limits(
        days, dates, stop_min, max_drive_min, reach_min, max_day_min, max_stops_per_day
    )
    if isinstance(max_visits, bool) or int(max_visits) != max_visits or max_visits < 1:
        raise ValidationError(
            f"the visits per stop must be a whole number of at least 1, not {max_visits}"
        )
    start_min = _parse_clock(day_start)
    profs = common.profile_map(profiles)
    prof = common.get_profile(profile, profs)
    b = resolve_base(base, communes)

    # 1. The under-served target (communes outside the model's data are no target).
    base_pass = access.baseline_pass(
        model, sites, communes, prof, threshold_min=underserved_min, mode="road", allow_empty=True
    )
    target = np.where(base_pass.underserved, base_pass.demand, 0.0)
    tgt_rows = np.flatnonzero(target > 0)

    # 2. Candidate stops and whom each reaches.
    cands = _reachable_candidates(
        model, communes, stops, stop_points, target, tgt_rows, reach_s=60.0 * reach_min
    )

    # 3. Driving times from and to the base; stops the limits rule out.
    snap = model.snap_sites(np.append(b["x_l93"], cands.x), np.append(b["y_l93"], cands.y))
    if snap.too_far[0]:
        raise ValidationError(f"the base {b['name']} is too far from the road network")
    limits = _Limits(
        drive_s=60.0 * max_drive_min,
        day_s=None if max_day_min is None else 60.0 * max_day_min,
        stop_s=60.0 * stop_min,
        max_stops=max_stops_per_day,
    )
    times = _Times(
        model,
        np.where(snap.too_far, snap.node[0], snap.node),
        snap.offset_s,
        limit_s=limits.drive_s,
    )
    round_trip = times.out[1:] + times.back[1:]
    feasible = (round_trip <= limits.drive_s) & ~snap.too_far[1:]
    if limits.day_s is not None:
        feasible &= round_trip + limits.stop_s <= limits.day_s
    excluded = [
        cands.excluded_row(p, round_trip[p], _why_out(snap.too_far[1 + p], round_trip[p],
                                                     max_drive_min, stop_min, max_day_min))
        for p in np.flatnonzero(~feasible).tolist()
    ]  # fmt: skip
    if stops is not None and excluded:
        bad = "; ".join(f"{e['nom']} ({e['insee']}): {e['reason']}" for e in excluded)
        raise ValidationError(f"impossible stop(s) for these limits: {bad}")
    if stops is None and not feasible.any():
        raise _nothing_feasible(cands, round_trip, prof.key, reach_min, max_drive_min)

    # 4. Stops into days: imposed ones by cheapest insertion, else greedy by target reached.
    plan = _DayPlan(days, times, limits, cands, target[tgt_rows], max_visits=int(max_visits))
    if stops is not None:
        no_room = plan.place_all(sorted(range(len(cands.x)), key=lambda p: -round_trip[p]))
        if no_room:
            bad = ", ".join(f"{cands.names[p]} ({cands.codes[p]})" for p in no_room)
            raise ValidationError(
                f"the imposed stops do not fit in {days} day(s) within the limits: {bad} left "
                "over; add days or raise the limits"
            )
    else:
        no_room = plan.choose_greedily(np.flatnonzero(feasible).tolist())
        excluded += [
            cands.excluded_row(p, round_trip[p], "no room left in the days' limits")
            for p in no_room
        ]
    plan.order_each_day()

    # 5. The dated itinerary and the communes' table.
    t_are = access.times_are_label(model)
    label = getattr(model, "label", "road")
    itinerary, reached_by, t_stop = _itinerary(
        plan, cands, b, tgt_rows, target, len(communes), start_min, stop_min, dates, t_are, label
    )
    ctab = gpd.GeoDataFrame(
        {
            "insee": communes["insee"].astype(str).to_numpy(),
            "nom": communes["nom"].to_numpy(object),
            "dep": communes["dep"].to_numpy(),
            "demand": base_pass.demand,
            "time_today_min": base_pass.time_s / 60.0,
            "underserved": base_pass.underserved,
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
        "days_used": sum(1 for t in plan.tours if t),
        "stops": sum(len(t) for t in plan.tours),
        "profile": prof.key,
        "underserved_threshold_min": base_pass.threshold_s / 60.0,
        "reach_min": reach_min,
        "stop_min": stop_min,
        "max_drive_min": max_drive_min,
        "target_total": total_target,
        "target_reached": got,
        "share_reached": got / total_target if total_target > 0 else np.nan,
        "audience_met": plan.audience_met(),
        "visits_max": int(max_visits),
        "stops_kind": "town halls" if stop_points is None else "given stop points",
        "season": f"{dates[0]} → {dates[-1]} ({len(dates)} school days)" if dates else "",
        "drive_min_per_day": "; ".join(f"{v / 60:.0f}" for v in plan.drive),
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


# ----------------------------------------------------------------------- plan_caravane's steps
def _check_limits(
    days: int,
    dates: Sequence[Any] | None,
    stop_min: float,
    max_drive_min: float,
    reach_min: float,
    max_day_min: float | None,
    max_stops_per_day: int | None,
) -> tuple[int, list[str] | None]:
    """Check the plan's limits; return the number of days and the dates as text."""
    out_dates = None
    if dates is not None:
        out_dates = [str(d) for d in dates]
        if not out_dates:
            raise ValidationError("the programme has no day: give at least one date")
        days = len(out_dates)
    if isinstance(days, bool) or int(days) != days or days < 1:
        raise ValidationError(f"the number of days must be a positive whole number, not {days}")
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
    return int(days), out_dates


@dataclass
class _Candidates:
    """Candidate stops and whom they reach.

    ``reach`` is sparse: a row per stop, a column per target commune (``tgt_rows``), the
    driving time in seconds where within the reach; ``gain`` is the target within reach
    plus the people met at the stop itself (``own``, e.g. a collège's pupils).
    """

    x: np.ndarray
    y: np.ndarray
    names: np.ndarray
    codes: np.ndarray
    ids: np.ndarray
    own: np.ndarray
    reach: Any  # scipy.sparse CSR matrix
    gain: np.ndarray

    def reached(self, p: int) -> tuple[np.ndarray, np.ndarray]:
        """Target columns stop ``p`` reaches, and the times (seconds)."""
        sl = slice(self.reach.indptr[p], self.reach.indptr[p + 1])
        return self.reach.indices[sl], self.reach.data[sl]

    def excluded_row(self, p: int, round_trip_s: float, reason: str) -> dict[str, Any]:
        """Return a row of the result's ``excluded`` table."""
        return {
            "insee": self.codes[p],
            "nom": self.names[p],
            "target_in_reach": self.gain[p],
            "round_trip_min": round_trip_s / 60.0,
            "reason": reason,
        }


def _reachable_candidates(
    model: RoadModel,
    communes: pd.DataFrame,
    stops: Sequence[str] | None,
    stop_points: pd.DataFrame | None,
    target: np.ndarray,
    tgt_rows: np.ndarray,
    *,
    reach_s: float,
) -> _Candidates:
    """Town halls or the given stop points, with whom each reaches (useless ones dropped)."""
    cands = _candidate_stops(communes, stops, stop_points)
    x, y = cands["x_l93"].to_numpy(float), cands["y_l93"].to_numpy(float)
    own = cands["audience"].to_numpy(float)
    cm = cost_matrix(model, x, y, limit_s=reach_s, origins=tgt_rows).times_s
    gain = np.asarray(cm.astype(bool).astype(float) @ target[tgt_rows]).ravel() + own
    out = _Candidates(
        x=x,
        y=y,
        names=cands["name"].astype(str).to_numpy(object),
        codes=cands["insee"].astype(str).to_numpy(object),
        ids=cands["stop_id"].astype(str).to_numpy(object),
        own=own,
        reach=cm,
        gain=gain,
    )
    if stops is not None:  # imposed stops are kept whatever they reach
        return out
    keep = gain > 0
    return _Candidates(
        x=x[keep], y=y[keep], names=out.names[keep], codes=out.codes[keep], ids=out.ids[keep],
        own=own[keep], reach=cm[keep], gain=gain[keep],
    )  # fmt: skip


def _why_out(
    too_far: bool,
    round_trip_s: float,
    max_drive_min: float,
    stop_min: float,
    max_day_min: float | None,
) -> str:
    """Why a candidate stop cannot be served within the limits."""
    if too_far:
        return "too far from the road network"
    if round_trip_s > 60.0 * max_drive_min:
        return (
            f"round trip from the base {round_trip_s / 60:.0f} min > daily driving "
            f"limit {max_drive_min:g} min (farther than half a day's driving)"
        )
    return (
        f"round trip {round_trip_s / 60:.0f} min + stop {stop_min:g} min > day "
        f"length {max_day_min:g} min"
    )


def _nothing_feasible(
    cands: _Candidates,
    round_trip: np.ndarray,
    profile_key: str,
    reach_min: float,
    max_drive_min: float,
) -> ValidationError:
    """Return the error when no candidate stop can be served at all."""
    if len(cands.x) == 0:
        return ValidationError(
            f"no under-served {profile_key} population within {reach_min:g} min of any "
            "commune: nothing for the caravane to reach"
        )
    best = int(np.argmin(round_trip))
    return ValidationError(
        f"no stop can be served within {max_drive_min:g} min of driving a day: the "
        f"nearest useful stop, {cands.names[best]}, is {round_trip[best] / 60:.0f} min "
        "there and back (farther than half a day's driving); raise the daily driving limit "
        "or choose another base"
    )


@dataclass(frozen=True)
class _Limits:
    """A day's limits, in seconds (``day_s``: driving + stops; ``None``: no limit)."""

    drive_s: float
    day_s: float | None
    stop_s: float
    max_stops: int | None


class _DayPlan:
    """Stops assigned to days by cheapest insertion (points: 0 = base, ``p + 1`` = stop p)."""

    def __init__(
        self,
        days: int,
        times: _Times,
        limits: _Limits,
        cands: _Candidates,
        weight: np.ndarray,
        *,
        max_visits: int = 1,
    ) -> None:
        self.max_visits = max_visits
        self.visits = np.zeros(len(cands.x), dtype=np.int64)
        self.tours: list[list[int]] = [[] for _ in range(days)]
        self.drive = [0.0] * days
        self.times = times
        self.limits = limits
        self.cands = cands
        self.weight = weight  # target of each reach column
        self.reached = np.zeros(cands.reach.shape[1], dtype=bool)

    def gain(self, p: int) -> float:
        """Target stop ``p`` would newly reach, plus the people met there."""
        cols, _ = self.cands.reached(p)
        return float(self.weight[cols[~self.reached[cols]]].sum()) + self.cands.own[p]

    def best_insertion(self, pt: int) -> tuple[float, int, int] | None:
        """Cheapest (added driving, day, position) for point ``pt`` within the limits."""
        lim, t = self.limits, self.times.t
        best = None
        for d, tour in enumerate(self.tours):
            if lim.max_stops is not None and len(tour) >= lim.max_stops:
                continue
            if pt in tour:  # a revisit goes to another day
                continue
            seq = [0, *tour, 0]
            for pos in range(len(seq) - 1):
                a, c = seq[pos], seq[pos + 1]
                add = t(a, pt) + t(pt, c) - t(a, c)
                if self.drive[d] + add > lim.drive_s + 1e-6:
                    continue
                day = self.drive[d] + add + lim.stop_s * (len(tour) + 1)
                if lim.day_s is not None and day > lim.day_s + 1e-6:
                    continue
                if best is None or (add, d, pos) < best:
                    best = (add, d, pos)
        return best

    def insert(self, p: int) -> bool:
        """Insert stop ``p`` where it costs least; ``False`` if no day has room."""
        ins = self.best_insertion(p + 1)
        if ins is None:
            return False
        add, d, pos = ins
        self.tours[d].insert(pos, p + 1)
        self.drive[d] += add
        self.reached[self.cands.reached(p)[0]] = True
        self.visits[p] += 1
        return True

    def audience_met(self) -> float:
        """People met at the stops themselves, each stop's counted once."""
        return float(self.cands.own[self.visits > 0].sum())

    def place_all(self, order: Sequence[int]) -> list[int]:
        """Insert every stop of ``order``; return those with no room."""
        return [p for p in order if not self.insert(p)]

    def choose_greedily(self, feasible: Sequence[int]) -> list[int]:
        """Add the stop reaching the most new target while any does (lazy greedy).

        Returns the stops that would have reached new target but found no room.
        """
        no_room: list[int] = []
        heap = [(-float(self.cands.gain[p]), p) for p in feasible]
        heapq.heapify(heap)
        while heap:
            _, p = heapq.heappop(heap)
            g = self.gain(p)
            if heap and (-g, p) > heap[0]:
                heapq.heappush(heap, (-g, p))
                continue
            if g <= 0:
                break
            if not self.insert(p):
                if self.visits[p] == 0:  # a revisit with no room is just not made
                    no_room.append(p)
            elif self.visits[p] < self.max_visits:
                heapq.heappush(heap, (-self.gain(p), p))  # may come back another day
        return no_room

    def order_each_day(self) -> None:
        """Order each day's stops optimally (:func:`order_stops`)."""
        for d, tour in enumerate(self.tours):
            if tour:
                pts = [0, *tour]
                order, total = order_stops(self.times.matrix(pts), base=0)
                self.tours[d] = [pts[i] for i in order]
                self.drive[d] = total


def _itinerary(
    plan: _DayPlan,
    cands: _Candidates,
    b: dict[str, Any],
    tgt_rows: np.ndarray,
    target: np.ndarray,
    n_communes: int,
    start_min: float,
    stop_min: float,
    dates: list[str] | None,
    t_are: str,
    label: str,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Build the dated itinerary; a reached commune goes to the first stop reaching it.

    Returns the itinerary, the stop reaching each commune (``None`` if none) and the time
    to it (minutes).
    """
    rows: list[dict[str, Any]] = []
    reached_by = np.full(n_communes, None, dtype=object)
    t_stop = np.full(n_communes, np.nan)
    t = plan.times.t
    for d, tour in enumerate(plan.tours):
        if not tour:
            continue
        drive = plan.drive[d]
        clock = float(start_min)
        day_rows = [_row(d + 1, 0, "depart", b, "", clock, clock, 0.0, drive, 0.0, 0, t_are, label)]
        prev = 0
        for seq, pt in enumerate(tour, start=1):
            leg = t(prev, pt)
            clock += leg / 60.0
            p = pt - 1
            cols, secs = cands.reached(p)
            com = tgt_rows[cols]
            new = np.array([reached_by[c] is None for c in com], dtype=bool)
            sid = f"D{d + 1}S{seq}-{cands.ids[p]}"
            reached_by[com[new]] = sid
            t_stop[com[new]] = secs[new] / 60.0
            lon, lat = to_lonlat(cands.x[p], cands.y[p])
            place = {"name": str(cands.names[p]), "insee": cands.codes[p], "lon": float(lon),
                     "lat": float(lat), "audience": float(cands.own[p])}  # fmt: skip
            day_rows.append(
                _row(d + 1, seq, "stop", place, sid, clock, clock + stop_min, leg / 60.0, drive,
                     float(target[com[new]].sum()), int(new.sum()), t_are, label)
            )  # fmt: skip
            clock += stop_min
            prev = pt
        leg = t(prev, 0)
        clock += leg / 60.0
        day_rows.append(
            _row(d + 1, len(tour) + 1, "return", b, "", clock, clock, leg / 60.0, drive, 0.0, 0,
                 t_are, label)
        )  # fmt: skip
        if dates is not None:
            for row in day_rows:
                row["date"] = dates[d]
        rows += day_rows
    return pd.DataFrame(rows, columns=_ITIN_COLS), reached_by, t_stop


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
