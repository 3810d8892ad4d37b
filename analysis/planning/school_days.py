"""School days of a season: the calendar of a caravane that visits collèges.

School holidays come from ``vacances-scolaires-france`` (the Ministry's calendar; the
academies of Auvergne-Rhône-Alpes — Clermont-Ferrand, Grenoble, Lyon — are zone A), public
holidays from ``holidays`` (France). Collèges teach Monday, Tuesday, Thursday and Friday
all day; Wednesday is a half day, so it is optional.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import lru_cache
from typing import Any

from ..errors import ValidationError

logger = logging.getLogger(__name__)

#: School-holiday zone of the region's three academies.
REGION_ZONE = "A"

#: Default season of the caravane: the start of the calendar year, January to March.
DEFAULT_SEASON = ("01-04", "03-31")


@lru_cache(maxsize=1)
def _school_holidays() -> Any:
    from vacances_scolaires_france import SchoolHolidayDates

    return SchoolHolidayDates()


def parse_day(text: str | dt.date, *, what: str = "date") -> dt.date:
    """Parse ``YYYY-MM-DD`` (or pass a date through), with a clear error."""
    if isinstance(text, dt.date):
        return text
    try:
        return dt.date.fromisoformat(str(text).strip())
    except ValueError:
        raise ValidationError(
            f"the {what} {text!r} is not a date; write it YYYY-MM-DD (e.g. 2027-01-04)"
        ) from None


def school_days(
    start: str | dt.date,
    end: str | dt.date,
    *,
    zone: str = REGION_ZONE,
    wednesdays: bool = False,
) -> list[dt.date]:
    """Return the school days from ``start`` to ``end`` (both included).

    Parameters
    ----------
    start, end
        The season window (``YYYY-MM-DD`` or dates).
    zone
        School-holiday zone (``"A"``, ``"B"`` or ``"C"``).
    wednesdays
        Count Wednesdays (half days at collège) as days of the programme.

    Returns
    -------
    list of datetime.date
        Weekdays outside the zone's school holidays and France's public holidays.

    Raises
    ------
    ValidationError
        A date that cannot be read, an end before the start, a window outside the years
        the school calendar knows, an unknown zone, or a window with no school day.
    """
    import holidays

    a, b = parse_day(start, what="season start"), parse_day(end, what="season end")
    if b < a:
        raise ValidationError(f"the season ends ({b}) before it starts ({a}); swap the dates")
    if (b - a).days > 366:
        raise ValidationError(f"the season {a} → {b} is longer than a year; split it")
    cal = _school_holidays()
    if zone not in cal.SUPPORTED_ZONES:
        raise ValidationError(
            f"unknown school-holiday zone {zone!r}; valid zones are: "
            + ", ".join(cal.SUPPORTED_ZONES)
        )
    if a.year < cal.min_year or b.year > cal.max_year:
        raise ValidationError(
            f"the school calendar at hand covers {cal.min_year}-{cal.max_year}, not the season "
            f"{a} → {b}; update the package vacances-scolaires-france or choose another season"
        )
    public = holidays.France(years=range(a.year, b.year + 1))
    days = []
    d = a
    while d <= b:
        weekday = d.weekday()
        if weekday < 5 and (wednesdays or weekday != 2):
            if d not in public and not cal.is_holiday_for_zone(d, zone):
                days.append(d)
        d += dt.timedelta(days=1)
    if not days:
        raise ValidationError(
            f"the season {a} → {b} has no school day in zone {zone} (school holidays, public "
            "holidays and weekends"
            + ("" if wednesdays else ", Wednesdays left out")
            + "); widen the window"
        )
    return days


def default_season(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """Return the next January-March season (this year's if it has not ended)."""
    today = today or dt.date.today()
    year = today.year if today <= dt.date(today.year, 3, 31) else today.year + 1
    start, end = (dt.date.fromisoformat(f"{year}-{md}") for md in DEFAULT_SEASON)
    return start, end
