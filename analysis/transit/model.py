"""Transit and best-of-two access models, with the same ``.nearest`` as the road model.

:class:`TransitModel` answers, for every commune, the door-to-door public-transport time
to the nearest of a set of sites: for each departure time of the window (default a
weekday 07:00-09:00 every 10 minutes, 12 departures), the earliest arrival at any of the
sites (walk or drive to a stop, timetable, walk to the site; or walk straight to a site),
minus the departure time; then the median and a chosen percentile over the window.

Each commune gets a status:

- ``"ok"``: the chosen percentile of the window's travel times is finite;
- ``"sparse_service"``: some departures of the window reach a site within
  ``max_journey_min``, too few for the percentile (time ``inf``);
- ``"no_service"``: stops are within reach, but no departure of the window reaches an
  eligible site within ``max_journey_min`` (time ``inf``): *no usable service*, not *far*;
- ``"beyond_walk"`` (``"beyond_drive"`` with park-and-ride): no stop and no eligible site
  within reach of the commune's origin point (time ``inf``).

:class:`BestOfModel` takes, per commune, the quicker of a road model and a transit model.
:func:`build_transit_model` is the factory the command line and the app use.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..errors import EmptyProfileError, ValidationError
from ..road_model import OriginTimes
from .access import AccessOptions, Legs, access_legs, resident_spread_m, walk_legs
from .gtfs import format_clock, parse_clock, parse_gtfs_date
from .router import INF, build_profiles, earliest_arrivals
from .timetable import (
    Footpaths,
    Timetable,
    build_footpaths,
    default_gtfs_paths,
    feed_calendar,
    load_timetable,
)

logger = logging.getLogger(__name__)

#: Statuses a transit answer can carry.
TRANSIT_STATUSES = ("ok", "sparse_service", "no_service", "beyond_walk", "beyond_drive")


@dataclass(frozen=True)
class TransitTimes(OriginTimes):
    """:class:`~analysis.road_model.OriginTimes` with the detail of the window.

    Attributes
    ----------
    time_s, site, status
        As for every model: ``time_s`` is the chosen percentile of the door-to-door
        times over the window (the median by default), ``site`` the site reached most
        often over the window, ``status`` one of :data:`TRANSIT_STATUSES`.
    median_s
        Median door-to-door time over the window (``inf`` when more than half the
        departures have no usable journey).
    percentile_s
        The chosen percentile (same as ``time_s``).
    percentile
        Which percentile (50 is the median).
    served
        Number of departures of the window with a usable journey.
    departures
        Departure times of the window, seconds after midnight.
    by_departure_s
        ``(n_origins, n_departures)`` door-to-door time per departure (``inf`` if none).
    """

    median_s: np.ndarray
    percentile_s: np.ndarray
    percentile: float
    served: np.ndarray
    departures: np.ndarray
    by_departure_s: np.ndarray


@dataclass(frozen=True)
class BestOfTimes(OriginTimes):
    """:class:`~analysis.road_model.OriginTimes` of the best of two modes.

    Attributes
    ----------
    winner
        ``"road"``, ``"transit"``, or ``"none"`` where neither reaches a site.
    road, transit
        The answers of the two models.
    """

    winner: np.ndarray
    road: OriginTimes
    transit: OriginTimes


def departure_times(window: tuple[str, str] | Sequence[str], step_min: float) -> np.ndarray:
    """Departure times of a window, end excluded.

    Parameters
    ----------
    window
        ``("HH:MM", "HH:MM")``; hours up to 47 allowed for windows past midnight.
    step_min
        Minutes between departures.

    Returns
    -------
    numpy.ndarray
        Seconds after midnight, e.g. 07:00, 07:10, …, 08:50 for ``("07:00", "09:00")``
        every 10 minutes (12 departures).

    Raises
    ------
    ValidationError
        If the window is empty or the step not positive.
    """
    if len(window) != 2:
        raise ValidationError(
            f"window must be (start, end) like ('07:00', '09:00'), not {window!r}"
        )
    start = parse_clock(window[0], what="window start")
    end = parse_clock(window[1], what="window end")
    if not np.isfinite(step_min) or step_min <= 0:
        raise ValidationError(f"step_min must be a positive number of minutes, not {step_min}")
    if end <= start:
        raise ValidationError(f"the window end {window[1]} must come after its start {window[0]}")
    if end > 2 * 86_400:
        raise ValidationError("the window must end within 48 hours of midnight")
    step = max(1, round(step_min * 60))
    return np.arange(start, end, step, dtype=np.int64)


def window_percentile(values: np.ndarray, q: float) -> np.ndarray:
    """Percentile of each row, with ``inf`` for missing journeys.

    Linear interpolation between order statistics (numpy's default); the result is
    ``inf`` as soon as an order statistic it needs is ``inf``.

    Parameters
    ----------
    values
        ``(n, k)`` times, ``inf`` where there is no journey.
    q
        Percentile in ``[0, 100]``.

    Returns
    -------
    numpy.ndarray
    """
    v = np.sort(np.asarray(values, dtype=float), axis=1)
    k = v.shape[1]
    if k == 0:
        return np.full(v.shape[0], np.inf)
    pos = q / 100.0 * (k - 1)
    lo, hi = int(np.floor(pos)), int(np.ceil(pos))
    a, b = v[:, lo], v[:, hi]
    frac = pos - lo
    with np.errstate(invalid="ignore"):
        out = np.where(np.isfinite(b), a + (b - a) * frac, np.inf)
    return out


def _as_int_times(t: np.ndarray) -> np.ndarray:
    t = np.asarray(t, dtype=float)
    return np.where(np.isfinite(t), t, float(INF)).astype(np.int64)


def _most_frequent(site: np.ndarray, time: np.ndarray) -> np.ndarray:
    """Per row, the site reached most often where the time is finite (ties: quickest)."""
    n, k = site.shape
    out = np.full(n, -1, dtype=np.int64)
    ok = np.isfinite(time) & (site >= 0)
    if not ok.any():
        return out
    row = np.repeat(np.arange(n), k).reshape(n, k)[ok]
    s = site[ok]
    t = time[ok]
    table = pd.DataFrame({"row": row, "site": s, "t": t})
    g = table.groupby(["row", "site"], sort=False).agg(n=("t", "size"), best=("t", "min"))
    g = g.reset_index().sort_values(
        ["row", "n", "best", "site"], ascending=[True, False, True, True]
    )
    first = g.drop_duplicates("row", keep="first")
    out[first["row"].to_numpy()] = first["site"].to_numpy()
    return out


@dataclass(eq=False)
class TransitModel:
    """Public-transport door-to-door times from the communes, over a departure window.

    Parameters
    ----------
    timetable
        The compiled timetable of the chosen day.
    origin_ids
        INSEE code of each origin commune, in the order of the commune table.
    origin_x, origin_y
        Origin point of each commune, Lambert-93 metres.
    access
        Walking / park-and-ride options of the access and egress legs.
    window
        Departure window ``("HH:MM", "HH:MM")``, end excluded.
    step_min
        Minutes between departures.
    percentile
        Which percentile of the window's times is ``time_s`` (50: the median).
    max_journey_min
        Journeys longer than this (door to door) are not usable; ``None`` for no limit.
    min_transfer_s
        Minimum time to change vehicles at one stop.
    max_transfer_walk_m
        Longest walk between two stops during a transfer, metres of walking.
    meta
        Provenance for outputs.
    origin_spread_m
        Resident spread of each origin (:func:`analysis.transit.access.resident_spread_m`):
        the shortest leg from it; zeros if not given.
    """

    timetable: Timetable
    origin_ids: np.ndarray
    origin_x: np.ndarray
    origin_y: np.ndarray
    access: AccessOptions = field(default_factory=AccessOptions)
    window: tuple[str, str] = ("07:00", "09:00")
    step_min: float = 10.0
    percentile: float = 50.0
    max_journey_min: float | None = 240.0
    min_transfer_s: int = 180
    max_transfer_walk_m: float = 400.0
    meta: dict[str, Any] = field(default_factory=dict)
    origin_spread_m: np.ndarray | None = None

    mode: str = "transit"

    def __post_init__(self) -> None:
        self.origin_ids = np.asarray(self.origin_ids)
        self.origin_x = np.asarray(self.origin_x, dtype=float)
        self.origin_y = np.asarray(self.origin_y, dtype=float)
        n = len(self.origin_ids)
        if self.origin_spread_m is not None:
            self.origin_spread_m = np.asarray(self.origin_spread_m, dtype=float)
            if len(self.origin_spread_m) != n or not np.all(self.origin_spread_m >= 0):
                raise ValidationError("origin_spread_m needs one non-negative distance per origin")
        if len(self.origin_x) != n or len(self.origin_y) != n:
            raise ValidationError("origin ids and coordinates must have the same length")
        if not (np.all(np.isfinite(self.origin_x)) and np.all(np.isfinite(self.origin_y))):
            raise ValidationError("every origin point needs finite Lambert-93 coordinates")
        if not 0 <= self.percentile <= 100:
            raise ValidationError(f"percentile must lie in [0, 100], not {self.percentile}")
        if self.max_journey_min is not None and not self.max_journey_min > 0:
            raise ValidationError("max_journey_min must be positive (or None for no limit)")
        self.departures  # noqa: B018 - validate the window now

    # ------------------------------------------------------------------ description
    @property
    def estimated(self) -> bool:
        """Whether the numbers are estimates.

        The timetable is real, but park-and-ride legs are straight-line drives at a fixed
        speed, so results with park-and-ride are labelled estimated.
        """
        return bool(self.access.park_and_ride)

    @cached_property
    def departures(self) -> np.ndarray:
        """Departure times of the window, seconds after midnight."""
        return departure_times(self.window, self.step_min)

    @property
    def statistic(self) -> str:
        """``"median"`` or ``"P<q>"``."""
        return "median" if self.percentile == 50 else f"P{self.percentile:g}"

    @property
    def label(self) -> str:
        """Feed, date and window, e.g. ``"GTFS sncf_ter_2025-01 on Tue 2025-02-04, …"``."""
        d = self.departures
        return (
            f"{self.timetable.label}, departures {format_clock(d[0])}-"
            f"{format_clock(d[-1])} every {self.step_min:g} min ({len(d)}), "
            f"{self.statistic} door-to-door; {self.access.describe()}"
        )

    @property
    def beyond_status(self) -> str:
        """Status of communes with no stop and no site within reach."""
        return "beyond_drive" if self.access.park_and_ride else "beyond_walk"

    # ------------------------------------------------------------------ legs
    @cached_property
    def footpaths(self) -> Footpaths:
        """Transfers between stops."""
        return build_footpaths(
            self.timetable,
            min_transfer_s=int(self.min_transfer_s),
            max_transfer_walk_m=self.max_transfer_walk_m,
            walk_speed_kmh=self.access.walk_speed_kmh,
            walk_circuity=self.access.walk_circuity,
        )

    @cached_property
    def origin_legs(self) -> Legs:
        """Legs from every origin to the stops within reach."""
        tt = self.timetable
        return access_legs(
            self.origin_x, self.origin_y, tt.stop_x, tt.stop_y, self.access,
            min_m=self.origin_spread_m,
        )  # fmt: skip

    def origin_access(self) -> pd.DataFrame:
        """Per commune: stops within reach and the quickest access leg.

        Returns
        -------
        pandas.DataFrame
            ``insee, n_stops, access_s, stop_id, stop_name`` (the stop of the quickest leg).
        """
        legs = self.origin_legs
        t, s = legs.min_per_point()
        has = s >= 0
        tt = self.timetable
        return pd.DataFrame(
            {
                "insee": self.origin_ids,
                "n_stops": legs.counts(),
                "access_s": t,
                "stop_id": np.where(has, tt.stop_id[np.maximum(s, 0)], None),
                "stop_name": np.where(has, tt.stop_name[np.maximum(s, 0)], None),
            }
        )

    @property
    def max_journey_s(self) -> float:
        """Longest usable journey in seconds (``inf`` if unlimited)."""
        return np.inf if self.max_journey_min is None else float(self.max_journey_min) * 60.0

    # ------------------------------------------------------------------ queries
    def site_legs(self, x_l93: np.ndarray, y_l93: np.ndarray) -> tuple[np.ndarray, ...]:
        """Compute the egress (per stop) and direct (per origin) walking legs to the sites.

        Returns
        -------
        egress_time, egress_site, direct_time, direct_site : numpy.ndarray
            Integer seconds (:data:`analysis.transit.router.INF` when none) and site
            positions (``-1`` when none).
        """
        x = np.asarray(x_l93, dtype=float)
        y = np.asarray(y_l93, dtype=float)
        if len(x) != len(y):
            raise ValidationError("site x and y must have the same length")
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            raise ValidationError("every site needs finite Lambert-93 coordinates")
        tt = self.timetable
        egress = walk_legs(tt.stop_x, tt.stop_y, x, y, self.access)
        eg_t, eg_s = egress.min_per_point()
        di_t, di_s = walk_legs(
            self.origin_x, self.origin_y, x, y, self.access, min_m=self.origin_spread_m
        ).min_per_point()
        near_stop = np.zeros(len(x), dtype=bool)
        near_stop[egress.target] = True
        if not near_stop.all():
            logger.info(
                "%d of %d site(s) have no stop within %.0f m of walking: transit reaches them "
                "only on foot from a commune nearby",
                int((~near_stop).sum()), len(x), self.access.max_walk_m,
            )  # fmt: skip
        return _as_int_times(eg_t), eg_s, _as_int_times(di_t), di_s

    def arrivals(self, x_l93: np.ndarray, y_l93: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Earliest arrival at the nearest site, per origin and departure.

        Parameters
        ----------
        x_l93, y_l93
            Site coordinates, Lambert-93 metres.

        Returns
        -------
        arrival : numpy.ndarray
            ``(n_origins, n_departures)`` integer seconds after midnight
            (:data:`~analysis.transit.router.INF` when no journey is found).
        site : numpy.ndarray
            Site reached, ``-1`` when none.
        """
        eg_t, eg_s, di_t, di_s = self.site_legs(x_l93, y_l93)
        dep = self.departures
        t_max = None if self.max_journey_min is None else int(dep[-1] + self.max_journey_s)
        prof = build_profiles(
            self.timetable, self.footpaths, eg_t, eg_s, t_min=int(dep[0]), t_max=t_max
        )
        n_stops_near_sites = int(np.count_nonzero(eg_s >= 0))
        logger.info(
            "transit pass: %d stop(s) within walking distance of a site; %d profile entries",
            n_stops_near_sites, int(prof.count.sum()),
        )  # fmt: skip
        return earliest_arrivals(prof, self.origin_legs, dep, di_t, di_s)

    def nearest(
        self, x_l93: np.ndarray, y_l93: np.ndarray, *, host_ids: np.ndarray | None = None
    ) -> TransitTimes:
        """Time from every origin commune to the nearest of the given sites.

        Parameters
        ----------
        x_l93, y_l93
            Coordinates of the eligible sites, Lambert-93 metres.

        Returns
        -------
        TransitTimes
            ``site`` refers to the positions in ``x_l93``/``y_l93``.

        Raises
        ------
        EmptyProfileError
            If no site is given.
        """
        if len(x_l93) == 0:
            raise EmptyProfileError("no eligible site: the profile's networks have no site")
        arrival, site = self.arrivals(x_l93, y_l93)
        dep = self.departures
        travel = np.where(arrival < INF, arrival - dep[None, :], np.inf).astype(float)
        travel[travel > self.max_journey_s] = np.inf
        site = np.where(np.isfinite(travel), site, -1)
        served = np.isfinite(travel).sum(axis=1)
        median = window_percentile(travel, 50.0)
        pct = median if self.percentile == 50 else window_percentile(travel, self.percentile)
        has_access = (self.origin_legs.counts() > 0) | (site >= 0).any(axis=1)
        status = np.full(len(self.origin_ids), "ok", dtype=object)
        status[~np.isfinite(pct)] = "sparse_service"
        status[(served == 0)] = "no_service"
        status[~has_access & (served == 0)] = self.beyond_status
        status = status.astype(str)
        counts = pd.Series(status).value_counts().to_dict()
        logger.info("transit %s: %s", self.statistic, counts)
        return TransitTimes(
            time_s=pct,
            site=_most_frequent(site, travel),
            status=status,
            median_s=median,
            percentile_s=pct,
            percentile=float(self.percentile),
            served=served,
            departures=dep.copy(),
            by_departure_s=travel,
        )


@dataclass(eq=False)
class BestOfModel:
    """Per commune, the quicker of a road model and a transit model.

    Parameters
    ----------
    road_model
        A road model (:class:`~analysis.road_model.RoadModel`).
    transit_model
        A :class:`TransitModel` built for the same communes, in the same order.
    """

    road_model: Any
    transit_model: TransitModel
    mode: str = "best"

    def __post_init__(self) -> None:
        a = getattr(self.road_model, "origin_ids", None)
        b = self.transit_model.origin_ids
        if a is not None and (len(a) != len(b) or not np.array_equal(np.asarray(a), b)):
            raise ValidationError(
                "the road and transit models were built for different communes; rebuild them "
                "from the same commune table"
            )

    @property
    def origin_ids(self) -> np.ndarray:
        """INSEE codes of the origins."""
        return self.transit_model.origin_ids

    @property
    def estimated(self) -> bool:
        """Estimated if either model is."""
        return bool(self.road_model.estimated or self.transit_model.estimated)

    @property
    def times_are(self) -> str:
        """The least trustworthy of the road and transit models' labels."""
        from ..access import times_are_label

        return times_are_label(self.road_model, self.transit_model)

    @property
    def label(self) -> str:
        """Both models' labels."""
        return f"best of road ({self.road_model.label}) and transit ({self.transit_model.label})"

    def nearest(
        self, x_l93: np.ndarray, y_l93: np.ndarray, *, host_ids: np.ndarray | None = None
    ) -> BestOfTimes:
        """Return the quicker of road and transit, per commune.

        Parameters
        ----------
        x_l93, y_l93
            Coordinates of the eligible sites, Lambert-93 metres.

        Returns
        -------
        BestOfTimes
            ``status`` is ``"ok"`` where either mode reaches a site, else the road status.
        """
        road = self.road_model.nearest(x_l93, y_l93, host_ids=host_ids)
        transit = self.transit_model.nearest(x_l93, y_l93, host_ids=host_ids)
        rt = np.asarray(road.time_s, dtype=float)
        tt = np.asarray(transit.time_s, dtype=float)
        use_transit = tt < rt
        time = np.where(use_transit, tt, rt)
        site = np.where(use_transit, transit.site, road.site)
        finite = np.isfinite(time)
        winner = np.where(finite, np.where(use_transit, "transit", "road"), "none")
        status = np.where(finite, "ok", np.asarray(road.status).astype(str))
        return BestOfTimes(
            time_s=time, site=site, status=status, winner=winner, road=road, transit=transit
        )


# ---------------------------------------------------------------------------------- factory
def default_date(
    gtfs_paths: Sequence[str | os.PathLike[str]], *, use_cache: bool = True
) -> dt.date:
    """Return the common day of feeds run on one date: the first term Tuesday a week in.

    Only for a run that wants one date for every feed; by default each feed runs on its
    own day (:func:`analysis.transit.service_days.choose_service_days`).

    Parameters
    ----------
    gtfs_paths
        The feeds.
    use_cache
        Use the cached calendar ranges.

    Returns
    -------
    datetime.date
        For the SNCF TER feed valid 2025-01-22 to 2025-04-22: Tuesday 2025-02-04.

    Raises
    ------
    ValidationError
        If the feeds' calendars do not overlap.
    """
    infos = [feed_calendar(p, use_cache=use_cache) for p in gtfs_paths]
    lo = max(dt.date.fromisoformat(i["start_date"]) for i in infos)
    hi = min(dt.date.fromisoformat(i["end_date"]) for i in infos)
    if hi < lo:
        raise ValidationError(
            "the feeds' calendars do not overlap: "
            + "; ".join(f"{i['name']} {i['start_date']}..{i['end_date']}" for i in infos)
        )
    from .service_days import reference_date

    return reference_date(lo, hi)


def region_clip(x_l93: np.ndarray, y_l93: np.ndarray, *, buffer_km: float = 30.0) -> Any:
    """Polygon around points (the convex hull of the communes) with a buffer, Lambert-93."""
    import shapely

    hull = shapely.convex_hull(shapely.multipoints(np.column_stack([x_l93, y_l93])))
    return shapely.buffer(hull, buffer_km * 1000.0)


def build_transit_model(
    communes: pd.DataFrame,
    *,
    gtfs_paths: Sequence[str | os.PathLike[str]] | None = None,
    date: str | dt.date | None = None,
    feed_dates: Mapping[str, str | dt.date] | None = None,
    window: tuple[str, str] = ("07:00", "09:00"),
    step_min: float = 10.0,
    percentile: float = 50.0,
    walk_speed_kmh: float = 4.5,
    max_walk_m: float = 1_500.0,
    park_and_ride: bool = False,
    max_journey_min: float | None = 240.0,
    min_transfer_min: float = 3.0,
    max_transfer_walk_m: float = 400.0,
    drive_speed_kmh: float = 50.0,
    max_drive_m: float = 20_000.0,
    clip_buffer_km: float = 30.0,
    use_cache: bool = True,
    verbose: bool = False,
) -> TransitModel:
    """Build the transit model of the communes from GTFS feeds for one day and window.

    Parameters
    ----------
    communes
        The communes (:func:`analysis.communes.load_communes`): ``insee``, and the origin
        point ``x_l93``, ``y_l93``.
    gtfs_paths
        GTFS feeds (zip or folder) to combine; default: every ``.zip`` in
        ``<shared data>/gtfs`` (the SNCF TER feed).
    date
        Service day (``YYYY-MM-DD``) for every feed, inside each feed's calendar; default
        ``None``: each feed on its own day, the same weekday as the first feed's reference
        Tuesday, in school term (zone A), inside its own calendar, nearest to that day
        (:mod:`analysis.transit.service_days`).
    feed_dates
        Explicit service day per feed name (or file stem), overriding ``date``.
    window
        Departure window, end excluded.
    step_min
        Minutes between departures.
    percentile
        Percentile of the window's times reported as ``time_s`` (50: median).
    walk_speed_kmh, max_walk_m
        Walking legs (access, egress, direct walk).
    park_and_ride
        Also allow driving to a stop (up to ``max_drive_m`` at ``drive_speed_kmh``).
    max_journey_min
        Longer journeys are not usable (``None``: no limit).
    min_transfer_min
        Minimum change time at one stop, minutes.
    max_transfer_walk_m
        Longest walk between stops while changing.
    drive_speed_kmh, max_drive_m
        Park-and-ride driving legs.
    clip_buffer_km
        The feeds are clipped to the communes' convex hull plus this buffer.
    use_cache
        Use the compiled-timetable cache in ``data/processed/transit``.
    verbose
        Show progress.

    Returns
    -------
    TransitModel

    Raises
    ------
    ValidationError
        Bad feed, window or option, or a date outside the feeds' calendar (the message
        names the valid range).
    DataMissingError
        No feed found.
    """
    missing = [c for c in ("insee", "x_l93", "y_l93") if c not in communes.columns]
    if missing:
        raise ValidationError(
            f"the commune table lacks column(s) {', '.join(missing)}; load it with "
            "analysis.communes.load_communes()"
        )
    ox = communes["x_l93"].to_numpy(float)
    oy = communes["y_l93"].to_numpy(float)
    paths = list(gtfs_paths) if gtfs_paths is not None else default_gtfs_paths()
    departure_times(window, step_min)  # validate before any heavy work
    access = AccessOptions(
        walk_speed_kmh=walk_speed_kmh,
        max_walk_m=max_walk_m,
        park_and_ride=park_and_ride,
        drive_speed_kmh=drive_speed_kmh,
        max_drive_m=max_drive_m,
    )
    if not np.isfinite(min_transfer_min) or min_transfer_min <= 0:
        raise ValidationError("min_transfer_min must be a positive number of minutes")
    with tqdm(total=3, desc="transit model", disable=not verbose) as bar:
        day = parse_gtfs_date(date) if date is not None else None  # type: ignore[arg-type]
        bar.update(1)
        clip = region_clip(ox, oy, buffer_km=clip_buffer_km) if len(ox) else None
        tt = load_timetable(paths, day, feed_dates=feed_dates, clip_l93=clip, use_cache=use_cache)
        bar.update(1)
        model = TransitModel(
            timetable=tt,
            origin_ids=communes["insee"].to_numpy(),
            origin_x=ox,
            origin_y=oy,
            origin_spread_m=(
                resident_spread_m(communes["surface_km2"].to_numpy(float))
                if "surface_km2" in communes.columns
                else None
            ),
            access=access,
            window=(str(window[0]), str(window[1])),
            step_min=float(step_min),
            percentile=float(percentile),
            max_journey_min=max_journey_min,
            min_transfer_s=max(1, round(min_transfer_min * 60)),
            max_transfer_walk_m=max_transfer_walk_m,
            meta={
                "feeds": tt.feeds,
                "date": tt.date.isoformat(),
                "feed_days": {
                    f["name"]: d.isoformat() for f, d in zip(tt.feeds, tt.feed_days, strict=True)
                },
                "service_warnings": list(tt.meta.get("warnings", [])),
                "window": list(window),
                "step_min": step_min,
                "percentile": percentile,
                "clip_buffer_km": clip_buffer_km,
            },
        )
        model.origin_legs  # noqa: B018 - build the access legs now
        model.footpaths  # noqa: B018
        bar.update(1)
    logger.info("transit model: %s", model.label)
    return model
