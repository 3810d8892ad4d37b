"""A caravane season at collèges: the programme's dates and its candidate collèges.

The two inputs the CLI and the app give :func:`analysis.planning.caravane.plan_caravane`
when the caravane goes to collèges:

- :func:`season_dates` — the school days of a season window (zone A school holidays,
  public holidays and weekends left out; Wednesdays optional), optionally the first ``n``;
- :func:`college_stop_points` — the region's collèges as stops, optionally restricted to a
  user's list of UAI codes (:func:`read_college_list`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..errors import ValidationError
from ..io import decode_text
from ..schools import check_uai
from .caravane import college_stops
from .school_days import REGION_ZONE, default_season, parse_day, school_days

#: Where stops come from: the town halls (commune origin points) or the collèges.
STOP_KINDS = ("town-halls", "colleges")


def parse_season(text: str | None, *, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """Read a season window ``START:END`` (ISO dates); ``None`` gives the default season.

    Raises
    ------
    ValidationError
        If the text is not two ISO dates separated by a colon.
    """
    if text is None or not str(text).strip():
        return default_season(today)
    parts = str(text).replace("..", ":").split(":")
    if len(parts) != 2:
        raise ValidationError(
            f"the season {text!r} is not START:END; write e.g. 2027-01-04:2027-03-31"
        )
    return parse_day(parts[0], what="season start"), parse_day(parts[1], what="season end")


def season_dates(
    start: dt.date | str,
    end: dt.date | str,
    *,
    wednesdays: bool = False,
    zone: str = REGION_ZONE,
    days: int | None = None,
) -> list[dt.date]:
    """Return the school days of a season, or its first ``days`` of them.

    Parameters
    ----------
    start, end
        The season window (inclusive).
    wednesdays
        Count Wednesdays (half days at collège) as programme days.
    zone
        School-holiday zone (the region is zone A).
    days
        Keep only the first ``days`` school days.

    Returns
    -------
    list of datetime.date

    Raises
    ------
    ValidationError
        For a window with no school day (see :func:`school_days`), or fewer school days
        than ``days`` (the message gives how many there are).
    """
    all_days = school_days(start, end, zone=zone, wednesdays=wednesdays)
    if days is None:
        return all_days
    if isinstance(days, bool) or int(days) != days or days < 1:
        raise ValidationError(f"the number of days must be a positive whole number, not {days}")
    if days > len(all_days):
        raise ValidationError(
            f"the season {all_days[0]} → {all_days[-1]} has {len(all_days)} school day(s), "
            f"fewer than the {days} asked; widen the window"
            + ("" if wednesdays else " or count Wednesdays")
            + " or ask for fewer days"
        )
    return all_days[: int(days)]


def read_college_list(path: str | os.PathLike[str]) -> list[str]:
    """Read a user's list of collèges: a CSV with a ``uai`` column, or one code per line.

    Raises
    ------
    ValidationError
        If the file cannot be read, has no code, or a code is malformed (the rows named).
    """
    source = os.fspath(path)
    try:
        text = decode_text(Path(path).read_bytes(), source=source, legacy=False)
    except OSError as exc:
        raise ValidationError(
            f"cannot read the collège list (UTF-8 text expected): {exc}", source=source
        ) from None
    except ValidationError as exc:
        raise ValidationError(
            f"cannot read the collège list (UTF-8 text expected): {exc.detail}", source=source
        ) from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise ValidationError("the collège list is empty; give one UAI code per row", source=source)
    sep = ";" if lines[0].count(";") > lines[0].count(",") else ","
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=sep))
    header = [c.strip().lower() for c in rows[0]]
    if "uai" in header:
        col = header.index("uai")
        values = [r[col] if col < len(r) else "" for r in rows[1:]]
    elif len(header) == 1:
        values = [r[0] if r else "" for r in rows]
    else:
        raise ValidationError(
            f"the collège list has columns {', '.join(header)} but no 'uai' column; name the "
            "column of UAI codes 'uai'",
            source=source,
        )
    if not values:
        raise ValidationError("the collège list has a header but no code", source=source)
    codes = check_uai(values, source=source)
    if len(set(codes)) != len(codes):
        twice = sorted({c for c in codes if codes.count(c) > 1})
        raise ValidationError(f"UAI code(s) listed twice: {', '.join(twice)}", source=source)
    return codes


def college_stop_points(
    uai: Sequence[str] | None = None, *, source: str | os.PathLike[str] | None = None
) -> pd.DataFrame:
    """Return the region's collèges as caravane stops, optionally only those listed.

    Parameters
    ----------
    uai
        Keep only these collèges (UAI codes, e.g. from :func:`read_college_list`).
    source
        The list's file, for the error message.

    Raises
    ------
    ValidationError
        If a listed code is not a collège of the region with coordinates.
    """
    stops = college_stops()
    if uai is None:
        return stops
    known = set(stops["stop_id"])
    unknown = [(i, c) for i, c in enumerate(uai, start=1) if c not in known]
    if unknown:
        shown = ", ".join(f"row {i}: {c}" for i, c in unknown[:5])
        raise ValidationError(
            f"{len(unknown)} UAI code(s) are not collèges of the region with coordinates "
            f"({shown}); check them in the Éducation nationale directory",
            source=source,
            rows=[i for i, _ in unknown],
        )
    return stops.set_index("stop_id", drop=False).loc[list(uai)].reset_index(drop=True)
