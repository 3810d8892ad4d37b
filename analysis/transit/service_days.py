"""One service day per feed.

Feeds of different vintages have disjoint calendars (the SNCF TER 2025 feed, the TAG 2023
feed…), so a run cannot ask every feed for the same date. Each feed gets its own day:

- an explicit per-feed day (``feed_dates={name: day}``, ``--feed-date NAME=YYYY-MM-DD``)
  wins; it must lie inside that feed's calendar;
- else an explicit ``date`` applies to the feed as it is, and a date outside the feed's
  calendar is an error naming the valid range;
- else (the default) the feed runs on the day of **the same weekday as the requested
  day, in school term (zone A: the academies of Lyon, Grenoble and Clermont-Ferrand),
  inside the feed's own calendar, nearest to the requested day** (ties: the earlier).

The requested day of the default is :func:`reference_date` of the *first* feed, so adding
an unrelated feed never moves the other feeds' days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from ..errors import ValidationError
from .gtfs import parse_gtfs_date

#: School-holiday zone of the region's academies (Lyon, Grenoble, Clermont-Ferrand).
SCHOOL_ZONE = "A"


@lru_cache(maxsize=1)
def _holidays() -> Any:
    from vacances_scolaires_france import SchoolHolidayDates

    return SchoolHolidayDates()


def is_school_term(day: dt.date, zone: str = SCHOOL_ZONE) -> bool:
    """Whether ``day`` is outside the school holidays of ``zone`` (``vacances-scolaires-france``).

    Days the package has no data for count as term days.
    """
    try:
        return not _holidays().is_holiday_for_zone(day, zone)
    except Exception:
        return True


def reference_date(start: dt.date, end: dt.date) -> dt.date:
    """Return the representative weekday of a calendar: the first term Tuesday a week in."""
    day = min(start + dt.timedelta(days=7), end)
    while (day.weekday() != 1 or not is_school_term(day)) and day < end:
        day += dt.timedelta(days=1)
    return day


def nearest_term_day(requested: dt.date, start: dt.date, end: dt.date) -> dt.date:
    """Return the day of ``requested``'s weekday, in term, inside ``[start, end]``, nearest it.

    Falls back to the nearest same weekday (holidays or not) when the calendar holds no
    term day of that weekday, and to the nearest day of the calendar when it holds no such
    weekday at all.
    """
    same = []
    d = start + dt.timedelta(days=(requested.weekday() - start.weekday()) % 7)
    while d <= end:
        same.append(d)
        d += dt.timedelta(days=7)
    if not same:
        return min(max(requested, start), end)
    term = [d for d in same if is_school_term(d)] or same
    return min(term, key=lambda d: (abs((d - requested).days), d))


def choose_service_days(
    infos: Sequence[Mapping[str, Any]],
    date: str | dt.date | None = None,
    feed_dates: Mapping[str, str | dt.date] | None = None,
) -> tuple[dt.date, list[dt.date]]:
    """Return the requested day and one service day per feed.

    Parameters
    ----------
    infos
        One dict per feed with ``name``, ``path``, ``start_date``, ``end_date``
        (see :func:`analysis.transit.timetable.feed_calendar`).
    date
        Explicit day for every feed (outside a feed's calendar: error); ``None`` for the
        default rule.
    feed_dates
        Explicit day per feed name (or file stem).

    Returns
    -------
    (requested, days)

    Raises
    ------
    ValidationError
        A date outside a feed's calendar, or a ``feed_dates`` name matching no feed.
    """
    if not infos:
        raise ValidationError("no GTFS feed given")
    explicit: dict[str, dt.date] = {}
    for name, d in (feed_dates or {}).items():
        explicit[str(name)] = parse_gtfs_date(d)  # type: ignore[arg-type]
    keys = [{str(i["name"]), _stem(i["path"])} for i in infos]
    unknown = sorted(n for n in explicit if not any(n in k for k in keys))
    if unknown:
        raise ValidationError(
            f"--feed-date names no feed in use: {', '.join(unknown)}; feeds: "
            + ", ".join(str(i["name"]) for i in infos)
        )
    ranges = [
        (dt.date.fromisoformat(str(i["start_date"])), dt.date.fromisoformat(str(i["end_date"])))
        for i in infos
    ]
    requested = (
        parse_gtfs_date(date)  # type: ignore[arg-type]
        if date is not None
        else reference_date(*ranges[0])
    )
    days: list[dt.date] = []
    for info, k, (lo, hi) in zip(infos, keys, ranges, strict=True):
        own = next((explicit[n] for n in explicit if n in k), None)
        if own is not None:
            day = own
        elif date is not None:
            day = requested
        else:
            day = nearest_term_day(requested, lo, hi)
        if not lo <= day <= hi:
            raise ValidationError(
                f"the date {day.isoformat()} is outside the calendar of feed "
                f"{info['name']!r}, valid from {lo.isoformat()} to {hi.isoformat()}; choose a "
                "date in that range (or set that feed's own day with --feed-date "
                f"{info['name']}=YYYY-MM-DD)",
                source=str(info["path"]),
            )
        days.append(day)
    return requested, days


def _stem(path: Any) -> str:
    from pathlib import Path

    p = Path(str(path))
    return p.stem if p.suffix.lower() == ".zip" else p.name


def parse_feed_dates(items: Sequence[str] | None) -> dict[str, dt.date]:
    """``["NAME=YYYY-MM-DD", ...]`` (``--feed-date``) to ``{name: day}``.

    Raises
    ------
    ValidationError
        An item without ``=`` or with a bad date.
    """
    out: dict[str, dt.date] = {}
    for item in items or ():
        name, sep, day = str(item).partition("=")
        if not sep or not name.strip():
            raise ValidationError(
                f"--feed-date {item!r}: expected FEED=YYYY-MM-DD (FEED: the feed's name or file "
                "stem, e.g. sncf_ter_2025-01=2025-02-04)"
            )
        out[name.strip()] = parse_gtfs_date(day.strip())
    return out
